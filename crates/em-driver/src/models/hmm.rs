//! The hidden Markov models of the `hmm` crate as an [`EmModel`].

use hmm::{Emission, Hmm, HmmError, HmmInit, HmmStats, MStepOptions, Sequences, StepDiagnostics};
use rand::Rng;

use crate::driver::model::{Diagnostics, EStepOutput, EmModel};

/// A hidden Markov model with Gaussian emissions (any covariance type).
pub type GaussianHmm = hmm::GaussianHmm;
/// A hidden Markov model with Gaussian-mixture emissions.
pub type GmmHmm = hmm::GmmHmm;
/// A hidden Markov model with categorical emissions.
pub type CategoricalHmm = hmm::CategoricalHmm;

impl Diagnostics for StepDiagnostics {
    fn is_empty(&self) -> bool {
        StepDiagnostics::is_empty(self)
    }

    /// An emission M-step whose objective decreased (a covariance floor) may
    /// lower the log-likelihood.
    fn expects_fall(&self) -> bool {
        self.emission.objective_decreased
    }
}

impl<E> EmModel for Hmm<E>
where
    E: Emission,
    E::InitConfig: Sync,
{
    type Data<'a> = &'a Sequences<'a>;
    type Stats = HmmStats<E::Stats>;
    type Options = MStepOptions;
    type InitConfig = HmmInit<E::InitConfig>;
    type Diagnostics = StepDiagnostics;
    type Error = HmmError;

    fn e_step(&self, data: &Sequences<'_>) -> Result<EStepOutput<Self::Stats>, HmmError> {
        let e = Hmm::e_step(self, data)?;
        Ok(EStepOutput {
            log_likelihood: e.log_likelihood,
            stats: e.stats,
        })
    }

    fn m_step(
        &self,
        stats: &Self::Stats,
        options: &MStepOptions,
    ) -> Result<(Self, StepDiagnostics), HmmError> {
        Hmm::m_step(self, stats, options)
    }

    fn init_from_data<R: Rng + ?Sized>(
        data: &Sequences<'_>,
        config: &Self::InitConfig,
        rng: &mut R,
    ) -> Result<Self, HmmError> {
        Hmm::init_from_data(data, config, rng)
    }
}
