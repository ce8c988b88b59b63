//! The start of a variational fit: responsibilities (random, k-means or
//! given) and the posterior they give ([`VariationalInit`]).

use std::sync::Arc;

use faer::{Mat, MatRef};
use rand::Rng;

use super::estep::VariationalStats;
use super::posterior::{VariationalConfig, VariationalMixture};
use super::prior::PriorSettings;
use crate::data::{check_training_data, with_data};
use crate::init::random_responsibilities;
use crate::kmeans::cluster;
use crate::{CovarianceType, MixtureError, SufficientStats};

/// scikit-learn's default `reg_covar`.
pub const DEFAULT_REG_COVAR: f64 = 1e-6;

/// Where the responsibilities of the start come from.
#[derive(Debug, Clone, PartialEq)]
pub enum VariationalInitMethod {
    /// k-means (k-means++ seeding and at most `max_rounds` Lloyd rounds):
    /// each row wholly in its cluster's component.
    KMeans {
        /// Lloyd rounds after the seeding.
        max_rounds: usize,
    },
    /// Uniform draws per row divided by their sum (scikit-learn's
    /// `init_params="random"`).
    RandomResponsibilities,
    /// These responsibilities (n x K, finite and non-negative): the same
    /// start as another program's, e.g. scikit-learn's from its
    /// `_initialize` (rows should sum to 1; they are used as given).
    Responsibilities(Mat<f64>),
}

/// How to start a variational fit: K, the covariance type, the priors
/// (defaults from the data), `reg_covar` and the responsibilities.
#[derive(Debug, Clone, PartialEq)]
pub struct VariationalInit {
    /// K.
    pub n_components: usize,
    /// The covariance type.
    pub covariance_type: CovarianceType,
    /// The priors; `None` values take scikit-learn's defaults from the data.
    pub prior: PriorSettings,
    /// Added to every variance of the statistics ([`DEFAULT_REG_COVAR`]).
    pub reg_covar: f64,
    /// Where the first responsibilities come from.
    pub method: VariationalInitMethod,
}

impl VariationalInit {
    /// K components of type `covariance_type`, default priors (Dirichlet
    /// process), [`DEFAULT_REG_COVAR`], k-means with 300 rounds at most
    /// (scikit-learn's defaults).
    #[must_use]
    pub fn new(n_components: usize, covariance_type: CovarianceType) -> Self {
        Self {
            n_components,
            covariance_type,
            prior: PriorSettings::default(),
            reg_covar: DEFAULT_REG_COVAR,
            method: VariationalInitMethod::KMeans { max_rounds: 300 },
        }
    }

    /// With these priors.
    #[must_use]
    pub fn with_prior(mut self, prior: PriorSettings) -> Self {
        self.prior = prior;
        self
    }

    /// With this `reg_covar`.
    #[must_use]
    pub fn with_reg_covar(mut self, reg_covar: f64) -> Self {
        self.reg_covar = reg_covar;
        self
    }

    /// With these starting responsibilities.
    #[must_use]
    pub fn with_method(mut self, method: VariationalInitMethod) -> Self {
        self.method = method;
        self
    }

    /// The posterior of the starting responsibilities on `x`.
    pub(crate) fn start<R: Rng + ?Sized>(
        &self,
        x: MatRef<'_, f64>,
        rng: &mut R,
    ) -> Result<VariationalMixture, MixtureError> {
        let (n, k) = (x.nrows(), self.n_components);
        with_data(x, |data| check_training_data(data, n, k))?;
        let config = Arc::new(VariationalConfig {
            n_components: k,
            covariance_type: self.covariance_type,
            prior: self.prior.resolve(x, k, self.covariance_type)?,
            reg_covar: self.reg_covar,
        });
        config.check()?;
        let resp = match &self.method {
            VariationalInitMethod::KMeans { max_rounds } => {
                let km = with_data(x, |data| cluster(data, k, *max_rounds, rng))?;
                Mat::from_fn(n, k, |i, c| if km.labels()[i] == c { 1.0 } else { 0.0 })
            }
            VariationalInitMethod::RandomResponsibilities => random_responsibilities(n, k, rng),
            VariationalInitMethod::Responsibilities(resp) => {
                if resp.ncols() != k {
                    return Err(MixtureError::DimensionMismatch {
                        what: "columns (components) of the initial responsibilities",
                        expected: k,
                        found: resp.ncols(),
                    });
                }
                resp.clone()
            }
        };
        let stats = VariationalStats {
            mixture: SufficientStats::from_responsibilities(x, resp.as_ref(), self.covariance_type)?,
            entropy: entropy(resp.as_ref()),
        };
        VariationalMixture::from_statistics(config, &stats.mixture, stats.entropy)
    }
}

/// `−Σᵢₖ rᵢₖ ln rᵢₖ`, with `0 ln 0 = 0` (the values were checked by the
/// statistics).
fn entropy(resp: MatRef<'_, f64>) -> f64 {
    let mut h = 0.0;
    for i in 0..resp.nrows() {
        for c in 0..resp.ncols() {
            let r = resp[(i, c)];
            if r > 0.0 {
                h -= r * r.ln();
            }
        }
    }
    h
}
