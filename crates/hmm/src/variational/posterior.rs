//! [`VariationalHmm`]: the Dirichlet prior and posterior of the start and
//! transition rows with a [`VariationalEmission`], the expected-log chain
//! of the E-step and the update (the M-step).

use faer::{Mat, MatRef};

use super::dirichlet;
use super::emission::VariationalEmission;
use crate::emission::Emission;
use crate::error::{HmmError, Table};
use crate::model::Hmm;
use crate::model::stats::HmmStats;
use crate::param::{LearnSet, Param};

/// A variational Bayesian HMM with K states:
///
/// ```text
/// p(π) = Dir(a)        q(π) = Dir(ã)
/// p(A_i·) = Dir(b_i·)  q(A_i·) = Dir(b̃_i·)
/// p(θ_j), q(θ_j)       the emission's conjugate pair (VariationalEmission)
/// ```
///
/// The state is the posterior `q(π) q(A) q(θ)` (with its prior), never a
/// point estimate; [`VariationalHmm::start_probs`] and
/// [`VariationalHmm::transitions`] give the posterior means.
#[derive(Debug, Clone, PartialEq)]
pub struct VariationalHmm<E> {
    start_prior: Vec<f64>,
    start: Vec<f64>,
    /// Row-major K x K.
    trans_prior: Vec<f64>,
    /// Row-major K x K.
    trans: Vec<f64>,
    emission: E,
}

fn row_major(a: MatRef<'_, f64>) -> Vec<f64> {
    (0..a.nrows())
        .flat_map(|i| (0..a.ncols()).map(move |j| a[(i, j)]))
        .collect()
}

impl<E: VariationalEmission> VariationalHmm<E> {
    /// The model from the prior and posterior concentrations of the start
    /// (K) and transition rows (K x K), K = `emission.n_states()`.
    ///
    /// # Errors
    /// [`HmmError::NoStates`], [`HmmError::DimensionMismatch`],
    /// [`HmmError::InvalidConcentration`] for an entry that is not finite
    /// and positive.
    pub fn new(
        start_prior: Vec<f64>,
        start: Vec<f64>,
        transition_prior: MatRef<'_, f64>,
        transitions: MatRef<'_, f64>,
        emission: E,
    ) -> Result<Self, HmmError> {
        let k = emission.n_states();
        if k == 0 {
            return Err(HmmError::NoStates);
        }
        for (what, found) in [
            ("start prior", start_prior.len()),
            ("start posterior", start.len()),
            ("transition prior rows", transition_prior.nrows()),
            ("transition prior columns", transition_prior.ncols()),
            ("transition posterior rows", transitions.nrows()),
            ("transition posterior columns", transitions.ncols()),
        ] {
            if found != k {
                return Err(HmmError::DimensionMismatch {
                    what,
                    expected: k,
                    found,
                });
            }
        }
        let model = Self {
            start_prior,
            start,
            trans_prior: row_major(transition_prior),
            trans: row_major(transitions),
            emission,
        };
        model.check()?;
        Ok(model)
    }

    /// Every concentration finite and positive.
    fn check(&self) -> Result<(), HmmError> {
        let k = self.n_states();
        dirichlet::check_row(&self.start_prior, Table::Start, 0, false)?;
        dirichlet::check_row(&self.start, Table::Start, 0, true)?;
        for i in 0..k {
            dirichlet::check_row(
                &self.trans_prior[i * k..(i + 1) * k],
                Table::Transitions,
                i,
                false,
            )?;
            dirichlet::check_row(&self.trans[i * k..(i + 1) * k], Table::Transitions, i, true)?;
        }
        Ok(())
    }

    /// Number of hidden states K.
    #[must_use]
    pub fn n_states(&self) -> usize {
        self.start.len()
    }

    /// The prior concentrations `a` of the start probabilities.
    #[must_use]
    pub fn start_prior(&self) -> &[f64] {
        &self.start_prior
    }

    /// The posterior concentrations `ã` of the start probabilities.
    #[must_use]
    pub fn start_posterior(&self) -> &[f64] {
        &self.start
    }

    /// The prior concentrations `b` of the transition rows (K x K).
    #[must_use]
    pub fn transition_prior(&self) -> MatRef<'_, f64> {
        let k = self.n_states();
        MatRef::from_row_major_slice(&self.trans_prior, k, k)
    }

    /// The posterior concentrations `b̃` of the transition rows (K x K).
    #[must_use]
    pub fn transition_posterior(&self) -> MatRef<'_, f64> {
        let k = self.n_states();
        MatRef::from_row_major_slice(&self.trans, k, k)
    }

    /// The emission's prior and posterior.
    #[must_use]
    pub fn emission(&self) -> &E {
        &self.emission
    }

    /// The posterior mean of the start probabilities, `ã / Σ ã`.
    #[must_use]
    pub fn start_probs(&self) -> Vec<f64> {
        dirichlet::mean(&self.start)
    }

    /// The posterior mean of the transition matrix, `b̃_ij / Σ_j b̃_ij`.
    #[must_use]
    pub fn transitions(&self) -> Mat<f64> {
        let k = self.n_states();
        let mut out = Mat::zeros(k, k);
        for i in 0..k {
            for (j, p) in dirichlet::mean(&self.trans[i * k..(i + 1) * k])
                .into_iter()
                .enumerate()
            {
                out[(i, j)] = p;
            }
        }
        out
    }

    /// The chain of the E-step: `ln π̃_j = E_q[ln π_j] + c_j`,
    /// `ln Ã_ij = E_q[ln A_ij] + c_j`, with the emission of
    /// [`VariationalEmission::expected`] and its offsets `c_j`. Forward-
    /// backward on it gives the optimal `q(z) ∝ π̃_{z_0} b̃_{z_0}(x_0)
    /// Π Ã_{z_{t−1} z_t} b̃_{z_t}(x_t)`, its statistics, and `ln Z` (the sum
    /// over all paths of that product) as the log-likelihood.
    ///
    /// # Errors
    /// The emission's ([`VariationalEmission::expected`]).
    pub(crate) fn expected_chain(&self) -> Result<Hmm<E::Expected>, HmmError> {
        let k = self.n_states();
        let (emission, offsets) = self.emission.expected()?;
        let log_start = dirichlet::expected_log(&self.start)
            .into_iter()
            .zip(&offsets)
            .map(|(v, c)| v + c)
            .collect();
        let log_trans = (0..k)
            .flat_map(|i| {
                dirichlet::expected_log(&self.trans[i * k..(i + 1) * k])
                    .into_iter()
                    .zip(&offsets)
                    .map(|(v, c)| v + c)
                    .collect::<Vec<_>>()
            })
            .collect();
        Ok(Hmm::from_logs(log_start, log_trans, emission))
    }

    /// The update of `q(π) q(A) q(θ)` given `q(z)`'s statistics (the blocks
    /// of `learn`; the others are kept): `ã = a + Σ_s γ_0`,
    /// `b̃_ij = b_ij + Σ_s Σ_t ξ_t(i, j)`, the emission's
    /// [`VariationalEmission::update`]. It maximises the bound over
    /// `q(π, A, θ)` for that `q(z)`.
    ///
    /// # Errors
    /// Statistics of another number of states
    /// ([`HmmError::DimensionMismatch`]), the emission's.
    pub(crate) fn update(
        &self,
        stats: &HmmStats<<E::Expected as Emission>::Stats>,
        learn: LearnSet,
    ) -> Result<Self, HmmError> {
        let k = self.n_states();
        if stats.start.len() != k {
            return Err(HmmError::DimensionMismatch {
                what: "statistics' number of states",
                expected: k,
                found: stats.start.len(),
            });
        }
        let add = |prior: &[f64], counts: &[f64]| prior.iter().zip(counts).map(|(a, n)| a + n).collect();
        let next = Self {
            start: if learn.contains(Param::Start) {
                add(&self.start_prior, &stats.start)
            } else {
                self.start.clone()
            },
            trans: if learn.contains(Param::Transitions) {
                add(&self.trans_prior, &stats.transitions)
            } else {
                self.trans.clone()
            },
            emission: self.emission.update(&stats.emission, learn)?,
            ..self.clone()
        };
        next.check()?;
        Ok(next)
    }
}
