//! The Gaussian mixture of the `mixture` crate as an [`EmModel`].

use faer::MatRef;
use mixture::{
    CovarianceType, GaussianMixture, InitMethod, MStepDiagnostics, MStepOptions, MixtureError,
    SufficientStats,
};
use rand::Rng;

use crate::driver::model::{Diagnostics, EStepOutput, EmModel};

/// A Gaussian mixture model ([`mixture::GaussianMixture`]).
pub type Gmm = GaussianMixture;

/// How [`Gmm`] is initialised from data by [`crate::Start::FromData`]: the
/// arguments of [`GaussianMixture::init_from_data`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GmmInit {
    /// Number of components K.
    pub n_components: usize,
    /// Covariance type.
    pub covariance_type: CovarianceType,
    /// Initialisation method (default: k-means++ seeding and 10 Lloyd
    /// rounds, see [`InitMethod`]).
    pub method: InitMethod,
}

impl GmmInit {
    /// K components of the given covariance type, default method.
    #[must_use]
    pub fn new(n_components: usize, covariance_type: CovarianceType) -> Self {
        Self {
            n_components,
            covariance_type,
            method: InitMethod::default(),
        }
    }

    /// The same with another initialisation method.
    #[must_use]
    pub fn with_method(mut self, method: InitMethod) -> Self {
        self.method = method;
        self
    }
}

impl Diagnostics for MStepDiagnostics {
    fn is_empty(&self) -> bool {
        MStepDiagnostics::is_empty(self)
    }

    /// A re-seeded component, or an M-step whose objective decreased (a
    /// floor), may lower the log-likelihood.
    fn expects_fall(&self) -> bool {
        !self.reseeded.is_empty() || self.objective_decreased
    }
}

impl EmModel for GaussianMixture {
    type Data<'a> = MatRef<'a, f64>;
    type Stats = SufficientStats;
    type Options = MStepOptions;
    type InitConfig = GmmInit;
    type Diagnostics = MStepDiagnostics;
    type Error = MixtureError;

    fn e_step(&self, x: MatRef<'_, f64>) -> Result<EStepOutput<SufficientStats>, MixtureError> {
        let (log_likelihood, stats) = GaussianMixture::e_step(self, x, None)?.into_parts();
        Ok(EStepOutput {
            log_likelihood,
            stats,
        })
    }

    fn m_step(
        &self,
        stats: &SufficientStats,
        options: &MStepOptions,
    ) -> Result<(Self, MStepDiagnostics), MixtureError> {
        GaussianMixture::m_step(self, stats, options)
    }

    fn init_from_data<R: Rng + ?Sized>(
        x: MatRef<'_, f64>,
        config: &GmmInit,
        rng: &mut R,
    ) -> Result<Self, MixtureError> {
        GaussianMixture::init_from_data(
            x,
            config.n_components,
            config.covariance_type,
            config.method.clone(),
            rng,
        )
    }
}
