//! [`Hmm`] as an [`EmModel`]: one Baum-Welch E-step and M-step, the
//! initialisation ([`InitConfig`]) and the flat view of the learned
//! parameters ([`crate::flat`], for SQUAREM and the parameter-change rule)
//! that the loop of `em-core` ([`em_core::fit`], re-exported as
//! [`crate::fit`]) drives.

use em_core::{EStep, EmModel};
use rand::Rng;

use crate::emission::Emission;
use crate::error::HmmError;
use crate::model::Hmm;
use crate::model::options::{InitConfig, MStepOptions};
use crate::model::stats::HmmStats;
use crate::param::StepDiagnostics;
use crate::sequences::Sequences;

impl<E: Emission> EmModel for Hmm<E> {
    /// The observation sequences.
    type Data<'a> = &'a Sequences<'a>;
    type Stats = HmmStats<E::Stats>;
    type Options = MStepOptions;
    type InitConfig = InitConfig<E::InitConfig>;
    type Diagnostics = StepDiagnostics;
    type Error = HmmError;

    /// The Baum-Welch E-step: forward-backward on every sequence (in parallel
    /// over the fixed chunks of [`Sequences::chunks`], merged in chunk order,
    /// so the result does not depend on the number of threads).
    ///
    /// # Errors
    /// Data errors ([`Emission::check_data`]); [`HmmError::ZeroLikelihood`]
    /// for a sequence the model cannot produce; [`HmmError::NumericalFailure`].
    fn e_step(&self, data: &Sequences<'_>) -> Result<EStep<Self::Stats>, HmmError> {
        self.expectation(data)
    }

    /// `Σ_s ln p(x_s | θ)` by the forward recursion alone (no backward
    /// pass, no statistics), equal bit for bit to the E-step's.
    ///
    /// # Errors
    /// As [`EmModel::e_step`].
    fn log_likelihood(&self, data: &Sequences<'_>) -> Result<f64, HmmError> {
        self.forward_log_likelihood(data)
    }

    /// The Baum-Welch M-step: a new model maximising the expected
    /// complete-data log-likelihood (or its MAP version under priors):
    ///
    /// - `π_j ∝ Σ_seq γ_0(j) + α_j − 1`,
    /// - `A_ij ∝ Σ_seq Σ_t ξ_t(i, j) + α_ij − 1`,
    /// - the emission's own update ([`Emission::m_step`]).
    ///
    /// Only the blocks in `options.learn` change. A transition row without
    /// expected counts (a state never left) is kept and reported. The step
    /// never lowers EM's objective: the log-likelihood without priors, the
    /// log posterior ([`EmModel::log_prior`]) with them, whatever the
    /// covariance floor (a lower bound, see [`mixture::gaussian_update`]); only a
    /// GMM weight raised to `mixture::WEIGHT_FLOOR` (`10 ε`, reported) can
    /// move it by rounding.
    ///
    /// # Errors
    /// Statistics from a model of another shape, invalid priors or options,
    /// emission failures. `self` is never modified.
    fn m_step(
        &self,
        stats: &Self::Stats,
        options: &MStepOptions,
    ) -> Result<(Self, StepDiagnostics), HmmError> {
        self.maximise(stats, options)
    }

    /// `ln p(θ)` up to a constant under the priors of `options` on the
    /// learned blocks: Dirichlet terms `Σ (α − 1) ln p` of the start,
    /// transition, mixture-weight and categorical rows, the conjugate
    /// normal prior of Gaussian and GMM emissions
    /// ([`crate::NormalPrior`]), the Gamma prior of Poisson rates
    /// ([`crate::GammaPrior`]); `None` without any (maximum likelihood, and
    /// the loop monitors `ℓ` exactly).
    ///
    /// # Errors
    /// Priors of another shape or with invalid values.
    fn log_prior(&self, options: &MStepOptions) -> Result<Option<f64>, HmmError> {
        self.prior_log_density(options)
    }

    /// The learned blocks of `options.learn` as one flat vector: the start
    /// and transition probabilities that are not structural zeros, then the
    /// emission's blocks ([`Emission::flat_parameters`]); the layout is in
    /// [`crate::flat`]. `None` when the emission has no flat view.
    fn flat_parameters(&self, options: &MStepOptions) -> Option<Vec<f64>> {
        self.flat_view(options)
    }

    /// `self` with its learned blocks replaced by `flat` (the layout of
    /// [`crate::flat`]), rebuilt by [`Hmm::new`] and the emission's
    /// constructor: `None` for a wrong length, a non-finite value, a
    /// negative (or, where `self` is positive, zero) probability, a row off
    /// the simplex or invalid emission parameters.
    fn with_flat_parameters(&self, flat: &[f64], options: &MStepOptions) -> Option<Self> {
        self.with_flat(flat, options)
    }

    /// Start and transitions given or uniform, the emission by its own
    /// [`Emission::init_from_data`] (e.g. k-means means), all randomness from
    /// `rng`.
    ///
    /// # Errors
    /// [`HmmError::NoStates`], validation errors of given parameters, the
    /// emission's errors (e.g. fewer distinct points than states).
    fn init_from_data<R: Rng + ?Sized>(
        data: &Sequences<'_>,
        config: &Self::InitConfig,
        rng: &mut R,
    ) -> Result<Self, HmmError> {
        Self::initialise(data, config, rng)
    }
}
