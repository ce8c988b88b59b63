//! The sufficient statistics of the Baum-Welch E-step.
//!
//! # Flat form
//! [`em_core::FlatStats`] (for E-steps on parts of the data, see
//! [`em_core::executor`]), layout version 1, every number as it is:
//!
//! ```text
//! header       "HMMS" tag, 1, K, J (sequences), n (observations)
//! start        K values, Σ_sequences γ_0(j)
//! transitions  K x K row-major, Σ_sequences Σ_t ξ_t(i, j)
//! emission     the emission statistics' own flat form, header included:
//!   Gaussian     the mixture statistics' (states as components, see
//!                mixture's `SufficientStats`)
//!   GMM          "HGMM" tag, 1, K, then K mixture statistics (state j's
//!                components), all of one shape
//!   categorical  "HCAT" tag, 1, K, M, then K x M row-major,
//!                Σ_t γ_t(j) [x_t = m]
//!   Poisson      "HPOI" tag, 1, K, d, then K values Σ_t γ_t(j) and
//!                K x d row-major Σ_t γ_t(j) x_t
//! ```
//!
//! The emission's number of states must be the header's K. The merge adds
//! every sum (the Gaussian ones by Chan's merge of the mixture crate), so
//! merging parts in a fixed order gives the same bits every time.

use em_core::ScaleStats;
use em_core::flat::{FlatError, FlatReader, FlatStats, tag, write_count, write_header};
use faer::MatRef;

use crate::emission::MergeStats;

/// Emission statistics with a flat form ([`FlatStats`]), which an HMM's
/// flat statistics nest (see the module documentation).
pub trait FlatEmissionStats: FlatStats + MergeStats {
    /// The number of hidden states K the statistics are of.
    fn n_states(&self) -> usize;

    /// The statistics of the same observations with every posterior
    /// weight times `factor` (online EM, [`em_core::online`]): every sum
    /// times `factor`, weighted means unchanged (see
    /// [`em_core::ScaleStats::scale`]).
    fn scale(&mut self, factor: f64);
}

/// Online EM's weighting ([`em_core::online`]): start and transition
/// counts and the emission statistics times `factor`
/// ([`FlatEmissionStats::scale`]); the counts of sequences and
/// observations are kept.
impl<S: FlatEmissionStats + Clone> ScaleStats for HmmStats<S> {
    fn scale(&mut self, factor: f64) {
        for v in self.start.iter_mut().chain(&mut self.transitions) {
            *v *= factor;
        }
        self.emission.scale(factor);
    }

    fn observations(&self) -> usize {
        self.n_samples
    }
}

const FLAT_TAG: u32 = tag(*b"HMMS");
const FLAT_VERSION: u32 = 1;

impl<S: FlatEmissionStats> FlatStats for HmmStats<S> {
    fn write_flat(&self, out: &mut Vec<f64>) {
        write_header(out, FLAT_TAG, FLAT_VERSION);
        for n in [self.start.len(), self.n_sequences, self.n_samples] {
            write_count(out, n);
        }
        out.extend(self.start.iter().chain(&self.transitions));
        self.emission.write_flat(out);
    }

    fn read_flat(reader: &mut FlatReader<'_>) -> Result<Self, FlatError> {
        reader.header("HMM statistics", FLAT_TAG, FLAT_VERSION)?;
        let k = reader.count("states")?;
        let n_sequences = reader.count("sequences")?;
        let n_samples = reader.count("observations")?;
        let start = reader.take("start counts", &[k])?.to_vec();
        let transitions = reader.take("transition counts", &[k, k])?.to_vec();
        let emission = S::read_flat(reader)?;
        if emission.n_states() != k {
            return Err(FlatError::Shape {
                field: "emission states",
                value: emission.n_states() as f64,
                requirement: format!("must be the HMM's {k} states"),
            });
        }
        Ok(Self {
            start,
            transitions,
            emission,
            n_sequences,
            n_samples,
        })
    }

    /// K, then the emission statistics' shape.
    fn shape(&self) -> Vec<usize> {
        let mut shape = vec![self.start.len()];
        shape.extend(self.emission.shape());
        shape
    }

    fn merge(&mut self, other: &Self) {
        Self::merge(self, other);
    }
}

/// Sufficient statistics of the Baum-Welch E-step, mergeable across sequences.
///
/// - `start[j] = Σ_sequences γ_0(j)`,
/// - `transitions[i * K + j] = Σ_sequences Σ_t ξ_t(i, j)`,
/// - the emission's statistics of `γ`.
#[derive(Debug, Clone, PartialEq)]
pub struct HmmStats<S> {
    pub(crate) start: Vec<f64>,
    /// Row-major K x K.
    pub(crate) transitions: Vec<f64>,
    pub(crate) emission: S,
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
