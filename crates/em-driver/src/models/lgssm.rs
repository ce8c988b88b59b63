//! The linear Gaussian state-space model of the `statespace` crate as an
//! [`EmModel`].

use faer::MatRef;
use rand::Rng;
use statespace::{
    InitConfig, LinearGaussianSsm, MStepDiagnostics, MStepOptions, StateSpaceError, SufficientStats,
};

use crate::driver::model::{Diagnostics, EStepOutput, EmModel};

/// A linear Gaussian state-space model ([`statespace::LinearGaussianSsm`]).
///
/// Its data are sequences `&[MatRef<'_, f64>]` (T x p each; one sequence:
/// `&[y.as_ref()]`; stacked rows plus lengths:
/// [`statespace::split_sequences`]). The model's own
/// [`statespace::InferenceOptions`] (exact or steady-state recursions) are
/// used by every E-step and passed on by the M-step.
pub type Lgssm = LinearGaussianSsm;

impl Diagnostics for MStepDiagnostics {
    fn is_empty(&self) -> bool {
        MStepDiagnostics::is_empty(self)
    }

    /// A floored covariance is not the exact M-step: it may lower the
    /// log-likelihood.
    fn expects_fall(&self) -> bool {
        !self.floors.is_empty()
    }
}

impl EmModel for LinearGaussianSsm {
    type Data<'a> = &'a [MatRef<'a, f64>];
    type Stats = SufficientStats;
    type Options = MStepOptions;
    type InitConfig = InitConfig;
    type Diagnostics = MStepDiagnostics;
    type Error = StateSpaceError;

    fn e_step(&self, data: &[MatRef<'_, f64>]) -> Result<EStepOutput<SufficientStats>, StateSpaceError> {
        let e = LinearGaussianSsm::e_step(self, data)?;
        Ok(EStepOutput {
            log_likelihood: e.log_likelihood,
            stats: e.stats,
        })
    }

    fn m_step(
        &self,
        stats: &SufficientStats,
        options: &MStepOptions,
    ) -> Result<(Self, MStepDiagnostics), StateSpaceError> {
        LinearGaussianSsm::m_step(self, stats, options)
    }

    fn init_from_data<R: Rng + ?Sized>(
        data: &[MatRef<'_, f64>],
        config: &InitConfig,
        rng: &mut R,
    ) -> Result<Self, StateSpaceError> {
        LinearGaussianSsm::init_from_data(data, config, rng)
    }
}
