//! The log prior `ln p(θ)` of an HMM under the priors of its M-step
//! options ([`em_core::EmModel::log_prior`]): the term a MAP M-step adds to
//! EM's objective, so that the loop monitors the log posterior
//! `ℓ(θ) + ln p(θ)`, which such a step never lowers.
//!
//! Up to a constant, for the blocks `options.learn` learns (a prior of a
//! block that is not learned is not used by the M-step, and its term is a
//! constant):
//!
//! ```text
//! ln p(θ) = Σ_j (α_j − 1) ln π_j + Σ_ij (α_ij − 1) ln A_ij + ln p(emission)
//! ```
//!
//! with the emission's own term ([`Emission::log_prior`]).

use super::Hmm;
use super::options::MStepOptions;
use crate::emission::Emission;
use crate::error::{HmmError, Table};
use crate::param::Param;
use crate::probability::{dirichlet_log_density, prior_rows, validate_prior};

impl<E: Emission> Hmm<E> {
    /// `ln p(θ)` up to a constant (module docs); `None` when no prior of a
    /// learned block is set (the M-step is maximum likelihood).
    ///
    /// # Errors
    /// Priors of another shape or with invalid values, as the M-step.
    pub(crate) fn prior_log_density(&self, options: &MStepOptions) -> Result<Option<f64>, HmmError> {
        let k = self.n_states();
        let start = match self.start_prior(options)? {
            Some(alpha) if options.learn.contains(Param::Start) => {
                Some(dirichlet_log_density(&self.start, alpha))
            }
            _ => None,
        };
        let transitions = match self.transition_priors(options)? {
            Some(rows) if options.learn.contains(Param::Transitions) => Some(
                rows.iter()
                    .enumerate()
                    .map(|(i, alpha)| dirichlet_log_density(&self.trans[i * k..(i + 1) * k], alpha))
                    .sum(),
            ),
            _ => None,
        };
        Ok(total([start, transitions, self.emission.log_prior(options)?]))
    }

    /// The Dirichlet concentrations of the start probabilities, checked
    /// (K of them, each finite and `≥ 1`); `None` without.
    ///
    /// # Errors
    /// [`HmmError::DimensionMismatch`], [`HmmError::InvalidPrior`].
    pub(super) fn start_prior<'o>(&self, options: &'o MStepOptions) -> Result<Option<&'o [f64]>, HmmError> {
        let Some(prior) = &options.start_prior else {
            return Ok(None);
        };
        let k = self.n_states();
        if prior.len() != k {
            return Err(HmmError::DimensionMismatch {
                what: "start prior",
                expected: k,
                found: prior.len(),
            });
        }
        validate_prior(prior, Table::Start, 0)?;
        Ok(Some(prior))
    }

    /// The Dirichlet concentrations of each transition row, checked (K x K,
    /// each finite and `≥ 1`); `None` without.
    ///
    /// # Errors
    /// [`HmmError::DimensionMismatch`], [`HmmError::InvalidPrior`].
    pub(super) fn transition_priors(
        &self,
        options: &MStepOptions,
    ) -> Result<Option<Vec<Vec<f64>>>, HmmError> {
        let k = self.n_states();
        prior_rows(
            options.transition_prior.as_ref(),
            k,
            k,
            "transition prior (K x K entries)",
            Table::Transitions,
        )
    }
}

/// The sum of the terms that are there; `None` when none is.
pub(crate) fn total(terms: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    terms.into_iter().flatten().reduce(|a, b| a + b)
}
