//! The sufficient statistics of the Baum-Welch E-step.

use faer::MatRef;

use crate::emission::MergeStats;

/// Sufficient statistics of the Baum-Welch E-step, mergeable across sequences.
///
/// - `start[j] = Σ_sequences γ_0(j)`,
/// - `transitions[i * K + j] = Σ_sequences Σ_t ξ_t(i, j)`,
/// - the emission's statistics of `γ`.
#[derive(Debug, Clone, PartialEq)]
pub struct HmmStats<S> {
    pub(super) start: Vec<f64>,
    /// Row-major K x K.
    pub(super) transitions: Vec<f64>,
    pub(super) emission: S,
    pub(super) n_sequences: usize,
    pub(super) n_samples: usize,
}

impl<S: MergeStats> HmmStats<S> {
    /// `self += other` (statistics of the same model on more data).
    ///
    /// # Panics
    /// If the statistics come from models of different shapes (a
    /// programming error; the Gaussian statistics panic in the mixture crate).
    pub fn merge(&mut self, other: &Self) {
        assert_eq!(
            (self.start.len(), self.transitions.len()),
            (other.start.len(), other.transitions.len()),
            "statistics of models with different numbers of states"
        );
        for (a, b) in self.start.iter_mut().zip(&other.start) {
            *a += b;
        }
        for (a, b) in self.transitions.iter_mut().zip(&other.transitions) {
            *a += b;
        }
        self.emission.merge(&other.emission);
        self.n_sequences += other.n_sequences;
        self.n_samples += other.n_samples;
    }
}

impl<S> HmmStats<S> {
    /// The statistics of no data for K states (the identity of
    /// [`HmmStats::merge`]), with the emission's empty statistics.
    pub(super) fn zero(k: usize, emission: S) -> Self {
        Self {
            start: vec![0.0; k],
            transitions: vec![0.0; k * k],
            emission,
            n_sequences: 0,
            n_samples: 0,
        }
    }

    /// Expected number of sequences starting in each state.
    #[must_use]
    pub fn start_counts(&self) -> &[f64] {
        &self.start
    }

    /// Expected transition counts, row-major K x K.
    #[must_use]
    pub fn transition_counts(&self) -> MatRef<'_, f64> {
        let k = self.start.len();
        MatRef::from_row_major_slice(&self.transitions, k, k)
    }

    /// The emission statistics.
    #[must_use]
    pub fn emission(&self) -> &S {
        &self.emission
    }

    /// Number of sequences accumulated.
    #[must_use]
    pub fn n_sequences(&self) -> usize {
        self.n_sequences
    }

    /// Number of observations accumulated.
    #[must_use]
    pub fn n_samples(&self) -> usize {
        self.n_samples
    }
}
