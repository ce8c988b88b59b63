//! The priors of the variational mixture: what the caller sets
//! ([`PriorSettings`], every value optional) and the values a fit uses
//! ([`VariationalPrior`]), with scikit-learn's defaults taken from the data.
//!
//! # The model
//! ```text
//! π        ~ Dirichlet(α₀, …, α₀)                     (Dirichlet distribution)
//!   or vₖ  ~ Beta(1, α₀), πₖ = vₖ Πⱼ<ₖ (1 − vⱼ)        (Dirichlet process, truncated at K)
//! Λₖ       ~ Wishart(W₀, ν₀),  W₀⁻¹ = Ψ               (the covariance prior Ψ)
//! μₖ | Λₖ  ~ N(m₀, (β₀ Λₖ)⁻¹)
//! zᵢ       ~ Categorical(π),  xᵢ | zᵢ = k ~ N(μₖ, Λₖ⁻¹)
//! ```
//!
//! For the diagonal and spherical types `Ψ` is diagonal (one value per
//! feature) or a multiple of the identity, and so are the posterior scales;
//! for the tied type every component shares one precision (see
//! [`crate::variational`]).
//!
//! # Defaults (scikit-learn's)
//! | parameter | default |
//! |---|---|
//! | `weight_concentration` α₀ | `1 / K` |
//! | `mean_precision` β₀ | `1` |
//! | `mean` m₀ | the data's mean |
//! | `degrees_of_freedom` ν₀ | `d` (must be `> d − 1`) |
//! | `covariance` Ψ | the data's covariance with `n − 1` in the denominator (full, tied), its diagonal (diagonal), the mean of that diagonal (spherical) |

use faer::{Mat, MatRef};
use linalg_kernels::Cholesky;
use linalg_kernels::tolerance::SYMMETRY;

use crate::{CovarianceType, MixtureError};

/// How the mixture weights are modelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WeightPrior {
    /// A symmetric Dirichlet distribution of concentration α₀ over the K
    /// weights (scikit-learn's `"dirichlet_distribution"`).
    DirichletDistribution,
    /// A Dirichlet process of concentration α₀ by its stick-breaking
    /// construction, truncated at K components (scikit-learn's
    /// `"dirichlet_process"`, its default).
    #[default]
    DirichletProcess,
}

impl WeightPrior {
    /// scikit-learn's name, `"dirichlet_distribution"` or `"dirichlet_process"`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::DirichletDistribution => "dirichlet_distribution",
            Self::DirichletProcess => "dirichlet_process",
        }
    }
}

/// The scale `Ψ` of the covariance prior, in the shape of the covariance type.
#[derive(Debug, Clone, PartialEq)]
pub enum CovariancePrior {
    /// A symmetric positive definite d x d matrix (full and tied types).
    Matrix(Mat<f64>),
    /// d positive variances (diagonal type).
    Diagonal(Vec<f64>),
    /// One positive variance (spherical type).
    Spherical(f64),
}

/// The priors as the caller sets them: `None` takes scikit-learn's default
/// from the data (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PriorSettings {
    /// Dirichlet distribution or Dirichlet process.
    pub weight_prior: WeightPrior,
    /// α₀ > 0.
    pub weight_concentration: Option<f64>,
    /// β₀ > 0.
    pub mean_precision: Option<f64>,
    /// m₀, d finite values.
    pub mean: Option<Vec<f64>>,
    /// ν₀ > d − 1.
    pub degrees_of_freedom: Option<f64>,
    /// Ψ, in the shape of the covariance type.
    pub covariance: Option<CovariancePrior>,
}

/// The priors of one fit, every value set and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct VariationalPrior {
    /// Dirichlet distribution or Dirichlet process.
    pub weight_prior: WeightPrior,
    /// α₀.
    pub weight_concentration: f64,
    /// β₀.
    pub mean_precision: f64,
    /// m₀.
    pub mean: Vec<f64>,
    /// ν₀.
    pub degrees_of_freedom: f64,
    /// Ψ.
    pub covariance: CovariancePrior,
}

impl PriorSettings {
    /// The priors for `k` components of type `covariance_type` on the data
    /// `x` (n x d, at least two rows when a default needs the data's
    /// covariance), checked.
    ///
    /// # Errors
    /// [`MixtureError::TooFewSamples`] for fewer than two rows when the
    /// covariance prior is the data's; [`MixtureError::DimensionMismatch`]
    /// for a mean or covariance of another dimension or type;
    /// [`MixtureError::InvalidVariationalPrior`] for a value out of range.
    pub fn resolve(
        &self,
        x: MatRef<'_, f64>,
        k: usize,
        covariance_type: CovarianceType,
    ) -> Result<VariationalPrior, MixtureError> {
        let (n, d) = (x.nrows(), x.ncols());
        let data_mean: Vec<f64> = (0..d).map(|j| x.col(j).iter().sum::<f64>() / n as f64).collect();
        let covariance = match &self.covariance {
            Some(c) => c.clone(),
            None => {
                if n < 2 {
                    return Err(MixtureError::TooFewSamples {
                        n_samples: n,
                        n_components: 2,
                    });
                }
                let cov = sample_covariance(x, &data_mean);
                match covariance_type {
                    CovarianceType::Full | CovarianceType::Tied => CovariancePrior::Matrix(cov),
                    CovarianceType::Diagonal => {
                        CovariancePrior::Diagonal((0..d).map(|j| cov[(j, j)]).collect())
                    }
                    CovarianceType::Spherical => {
                        CovariancePrior::Spherical((0..d).map(|j| cov[(j, j)]).sum::<f64>() / d as f64)
                    }
                }
            }
        };
        let prior = VariationalPrior {
            weight_prior: self.weight_prior,
            weight_concentration: self.weight_concentration.unwrap_or(1.0 / k as f64),
            mean_precision: self.mean_precision.unwrap_or(1.0),
            mean: self.mean.clone().unwrap_or(data_mean),
            degrees_of_freedom: self.degrees_of_freedom.unwrap_or(d as f64),
            covariance,
        };
        prior.check(d, covariance_type)?;
        Ok(prior)
    }
}

impl VariationalPrior {
    /// Checks the values for d features of type `covariance_type`: α₀, β₀
    /// positive and finite, m₀ of d finite values, ν₀ finite and above
    /// `d − 1`, Ψ of the type's shape (positive definite, positive
    /// variances).
    ///
    /// # Errors
    /// [`MixtureError::DimensionMismatch`], [`MixtureError::InvalidVariationalPrior`].
    pub fn check(&self, d: usize, covariance_type: CovarianceType) -> Result<(), MixtureError> {
        let invalid = |parameter: String, value: f64, requirement: &'static str| {
            Err(MixtureError::InvalidVariationalPrior {
                parameter,
                value,
                requirement,
            })
        };
        let positive = "must be finite and > 0";
        if !(self.weight_concentration.is_finite() && self.weight_concentration > 0.0) {
            return invalid("weight_concentration".into(), self.weight_concentration, positive);
        }
        if !(self.mean_precision.is_finite() && self.mean_precision > 0.0) {
            return invalid("mean_precision".into(), self.mean_precision, positive);
        }
        if self.mean.len() != d {
            return Err(MixtureError::DimensionMismatch {
                what: "values of the prior mean",
                expected: d,
                found: self.mean.len(),
            });
        }
        if let Some(j) = self.mean.iter().position(|v| !v.is_finite()) {
            return invalid(format!("mean[{}]", j + 1), self.mean[j], "must be finite");
        }
        let nu = self.degrees_of_freedom;
        if !(nu.is_finite() && nu > d as f64 - 1.0) {
            return invalid(
                "degrees_of_freedom".into(),
                nu,
                "must be finite and > d - 1 (d the number of features)",
            );
        }
        match (&self.covariance, covariance_type) {
            (CovariancePrior::Matrix(m), CovarianceType::Full | CovarianceType::Tied) => {
                if m.nrows() != d || m.ncols() != d {
                    return Err(MixtureError::DimensionMismatch {
                        what: "rows and columns of the covariance prior",
                        expected: d,
                        found: if m.nrows() != d { m.nrows() } else { m.ncols() },
                    });
                }
                for j in 0..d {
                    for i in 0..d {
                        let (v, t) = (m[(i, j)], m[(j, i)]);
                        let scale = m[(i, i)].abs().max(m[(j, j)].abs());
                        if !(v.is_finite() && (v - t).abs() <= SYMMETRY * scale) {
                            return invalid(
                                format!("covariance[{}, {}]", i + 1, j + 1),
                                v,
                                "must be finite and symmetric (within linalg_kernels::tolerance::SYMMETRY)",
                            );
                        }
                    }
                }
                if let Err(linalg_kernels::KernelError::NotPositiveDefinite { pivot, value }) =
                    Cholesky::new(m.as_ref())
                {
                    return invalid(
                        format!("covariance (Cholesky pivot {})", pivot + 1),
                        value,
                        "the matrix must be positive definite",
                    );
                }
            }
            (CovariancePrior::Diagonal(v), CovarianceType::Diagonal) => {
                if v.len() != d {
                    return Err(MixtureError::DimensionMismatch {
                        what: "variances of the covariance prior",
                        expected: d,
                        found: v.len(),
                    });
                }
                if let Some(j) = v.iter().position(|s| !(s.is_finite() && *s > 0.0)) {
                    return invalid(format!("covariance[{}]", j + 1), v[j], positive);
                }
            }
            (CovariancePrior::Spherical(s), CovarianceType::Spherical) => {
                if !(s.is_finite() && *s > 0.0) {
                    return invalid("covariance".into(), *s, positive);
                }
            }
            (given, _) => {
                let entries = match given {
                    CovariancePrior::Matrix(m) => m.nrows() * m.ncols(),
                    CovariancePrior::Diagonal(v) => v.len(),
                    CovariancePrior::Spherical(_) => 1,
                };
                return invalid(
                    "covariance".into(),
                    entries as f64,
                    "has the shape of another covariance type (entries given): a d x d matrix for full and tied, d variances for diag, one variance for spherical",
                );
            }
        }
        Ok(())
    }
}

/// The covariance of the rows of `x` about `mean`, with `n − 1` in the
/// denominator (numpy's `np.cov(x.T)`); two passes, centred.
fn sample_covariance(x: MatRef<'_, f64>, mean: &[f64]) -> Mat<f64> {
    let (n, d) = (x.nrows(), x.ncols());
    let mut cov = Mat::<f64>::zeros(d, d);
    for i in 0..n {
        for a in 0..d {
            let da = x[(i, a)] - mean[a];
            for b in 0..=a {
                cov[(a, b)] += da * (x[(i, b)] - mean[b]);
            }
        }
    }
    for a in 0..d {
        for b in 0..=a {
            let v = cov[(a, b)] / (n - 1) as f64;
            cov[(a, b)] = v;
            cov[(b, a)] = v;
        }
    }
    cov
}
