//! [`VariationalHmm`] as an [`EmModel`]: forward-backward on the
//! expected-log chain as the E-step, the conjugate update as the M-step,
//! the bound of [`super::bound`] as the loop's objective.
//!
//! # The loop's objective
//! Point k of the history is the bound of state k: `ln Z` of its E-step
//! (the E-step's `log_likelihood`) minus its divergence from the prior,
//! hmmlearn's `monitor_.history[k]` from the same start.
//!
//! # No acceleration
//! As for the variational mixture, [`EmModel::flat_parameters`] is `None`:
//! accelerated fits run plain steps (SQUAREM falls back to EM, the
//! parameter-change rule is refused). An extrapolated set of
//! concentrations is not the update of any `q(z)`, and SQUAREM's safeguard
//! would compare bounds of states the coordinate ascent never visits.

use em_core::{EStep, EmModel, NoDiagnostics};
use rand::Rng;

use super::dirichlet;
use super::emission::VariationalEmission;
use super::posterior::VariationalHmm;
use crate::emission::Emission;
use crate::error::HmmError;
use crate::model::stats::HmmStats;
use crate::param::LearnSet;
use crate::sequences::Sequences;

/// How [`VariationalHmm`] starts from data (hmmlearn's `_init`): priors
/// `a_j = b_ij = start_prior`/`transition_prior` (default `1/K`); the start
/// posterior a `Dir(1/K)` draw scaled to the number of sequences, each
/// transition row a `Dir(1/K)` draw scaled to `n / K` (n observations);
/// the emission by its own [`VariationalEmission::init_from_data`].
#[derive(Debug, Clone, PartialEq)]
pub struct VariationalInit<C> {
    /// Number of hidden states K.
    pub n_states: usize,
    /// Prior concentration of every start entry (default `1/K`).
    pub start_prior: Option<f64>,
    /// Prior concentration of every transition entry (default `1/K`).
    pub transition_prior: Option<f64>,
    /// The emission's start.
    pub emission: C,
}

impl<C: Default> VariationalInit<C> {
    /// K states, default priors and emission start.
    #[must_use]
    pub fn new(n_states: usize) -> Self {
        Self {
            n_states,
            start_prior: None,
            transition_prior: None,
            emission: C::default(),
        }
    }
}

impl<E: VariationalEmission> EmModel for VariationalHmm<E> {
    /// The observation sequences.
    type Data<'a> = &'a Sequences<'a>;
    type Stats = HmmStats<<E::Expected as Emission>::Stats>;
    /// The blocks the update learns (default all).
    type Options = LearnSet;
    type InitConfig = VariationalInit<E::InitConfig>;
    type Diagnostics = NoDiagnostics;
    type Error = HmmError;

    /// Forward-backward on every sequence with the expected-log chain
    /// (see [`super::posterior`]; the kernels and parallel
    /// chunks of [`crate::Hmm`]'s E-step): the statistics of the optimal
    /// `q(z)`, and `ln Z` as `log_likelihood`.
    ///
    /// # Errors
    /// As [`crate::Hmm`]'s E-step (data errors naming sequence and row,
    /// [`HmmError::ZeroLikelihood`], [`HmmError::NumericalFailure`]).
    fn e_step(&self, data: &Sequences<'_>) -> Result<EStep<Self::Stats>, HmmError> {
        self.expected_chain()?.expectation(data)
    }

    /// `ln Z` by the forward pass alone, bit for bit the E-step's.
    ///
    /// # Errors
    /// As [`EmModel::e_step`].
    fn log_likelihood(&self, data: &Sequences<'_>) -> Result<f64, HmmError> {
        self.expected_chain()?.forward_log_likelihood(data)
    }

    /// The conjugate update of [`super::posterior`]: the prior plus the
    /// statistics for the blocks of `learn`.
    ///
    /// # Errors
    /// Statistics of another shape.
    fn m_step(&self, stats: &Self::Stats, learn: &LearnSet) -> Result<(Self, NoDiagnostics), HmmError> {
        Ok((self.update(stats, *learn)?, NoDiagnostics))
    }

    /// See [`VariationalInit`].
    ///
    /// # Errors
    /// [`HmmError::NoStates`], [`HmmError::InvalidConcentration`] for an
    /// invalid prior, the emission's errors.
    fn init_from_data<R: Rng + ?Sized>(
        data: &Sequences<'_>,
        config: &Self::InitConfig,
        rng: &mut R,
    ) -> Result<Self, HmmError> {
        let k = config.n_states;
        if k == 0 {
            return Err(HmmError::NoStates);
        }
        let uniform = 1.0 / k as f64;
        let a = config.start_prior.unwrap_or(uniform);
        let b = config.transition_prior.unwrap_or(uniform);
        let start = dirichlet::random_row(&vec![uniform; k], data.n_sequences() as f64, rng);
        let per_state = data.n_samples() as f64 / k as f64;
        let mut trans = faer::Mat::zeros(k, k);
        for i in 0..k {
            for (j, v) in dirichlet::random_row(&vec![uniform; k], per_state, rng)
                .into_iter()
                .enumerate()
            {
                trans[(i, j)] = v;
            }
        }
        let emission = E::init_from_data(data, k, &config.emission, rng)?;
        Self::new(
            vec![a; k],
            start,
            faer::Mat::from_fn(k, k, |_, _| b).as_ref(),
            trans.as_ref(),
            emission,
        )
    }

    /// `ln Z − KL` ([`VariationalHmm::lower_bound`]) with `ln Z` the
    /// E-step's `log_likelihood`.
    fn lower_bound(&self, log_likelihood: f64, _: &LearnSet) -> Result<Option<f64>, HmmError> {
        self.lower_bound(log_likelihood).map(Some)
    }
}
