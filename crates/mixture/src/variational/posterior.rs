//! [`VariationalMixture`]: the variational posterior `q(π) Πₖ q(μₖ, Λₖ)`,
//! its update from the statistics of the responsibilities (the M-step),
//! and inference under it.
//!
//! # The update
//! With the statistics of the responsibilities `r` ([`SufficientStats`]:
//! masses, weighted means `x̄ₖ`, centred scatters `Mₖ`), scikit-learn's
//! `Nₖ = Σᵢ rᵢₖ + 10ε` (so that no mass is exactly 0), `xₖ = x̄ₖ Σᵢ rᵢₖ / Nₖ`
//! and the covariance floor `reg_covar` added to every variance as in
//! `Sₖ = Mₖ / Nₖ + reg I` (diagonal: the diagonal; spherical: its mean;
//! tied: `Σₖ Mₖ / Σₖ Nₖ + reg I`), `dₖ = xₖ − m₀`:
//!
//! ```text
//! βₖ = β₀ + Nₖ
//! mₖ = (β₀ m₀ + Nₖ xₖ) / βₖ
//! νₖ = ν₀ + Nₖ                   (tied: ν₀ + Σⱼ Nⱼ / K, shared)
//! Wₖ⁻¹ = Ψ + Nₖ Sₖ + (β₀ Nₖ / βₖ) dₖ dₖᵀ
//!        (diagonal: per feature; spherical: Ψ + Nₖ (Sₖ + β₀/βₖ mean_j dₖⱼ²);
//!         tied: Ψ + S Σⱼ Nⱼ / K + (β₀ / K) Σₖ (Nₖ / βₖ) dₖ dₖᵀ)
//! Cₖ = Wₖ⁻¹ / νₖ                 (the normalised covariance, E[Λₖ]⁻¹)
//! ```
//!
//! and the weights' posterior of [`super::weights`]. This is Bishop's
//! (10.58)-(10.63) with scikit-learn's conventions (the normalised `Cₖ`, the
//! tied type's shared `ν` and K-fold prior).
//!
//! # The expected log density (the E-step's)
//! ```text
//! ln ρᵢₖ = E[ln πₖ] + E[ln N(xᵢ; μₖ, Λₖ⁻¹)]
//!        = ln N(xᵢ; mₖ, Cₖ) + cₖ,
//! cₖ     = E[ln πₖ] − (d/2) ln νₖ + ½ (Σⱼ ψ((νₖ − j)/2) + d ln 2 − d / βₖ)
//! ```
//!
//! so the E-step is a Gaussian mixture's with means `mₖ`, covariances `Cₖ`
//! and weights `softmax(c)` ([`VariationalMixture::expected_mixture`]), plus
//! `ln Σₖ e^{cₖ}` per row; responsibilities `rᵢₖ = ρᵢₖ / Σⱼ ρᵢⱼ`.

use std::sync::Arc;

use faer::{Mat, MatRef};

use super::bound::{expected_log_det_offset, lower_bound};
use super::prior::{CovariancePrior, VariationalPrior, WeightPrior};
use super::weights::WeightConcentration;
use crate::stats::Scatter;
use crate::{CovarianceType, Covariances, GaussianMixture, MixtureError, PosteriorParam, SufficientStats};

/// A weight above which a component counts as effective
/// ([`VariationalMixture::n_effective_components`]): 1%.
pub const EFFECTIVE_WEIGHT: f64 = 1e-2;

/// What a fit of the variational mixture keeps fixed: the shape, the
/// priors and the covariance floor.
#[derive(Debug, Clone, PartialEq)]
pub struct VariationalConfig {
    /// K.
    pub n_components: usize,
    /// The covariance type.
    pub covariance_type: CovarianceType,
    /// The priors, resolved and checked.
    pub prior: VariationalPrior,
    /// `reg_covar ≥ 0`, added to every variance of the statistics.
    pub reg_covar: f64,
}

impl VariationalConfig {
    /// Checks K ≥ 1, `reg_covar` finite and ≥ 0, and the prior against the
    /// covariance type ([`VariationalPrior::check`]).
    ///
    /// # Errors
    /// [`MixtureError::NoComponents`], [`MixtureError::InvalidOption`], and
    /// those of [`VariationalPrior::check`].
    pub fn check(&self) -> Result<(), MixtureError> {
        if self.n_components == 0 {
            return Err(MixtureError::NoComponents);
        }
        if !(self.reg_covar.is_finite() && self.reg_covar >= 0.0) {
            return Err(MixtureError::InvalidOption {
                name: "reg_covar",
                value: self.reg_covar,
            });
        }
        self.prior.check(self.prior.mean.len(), self.covariance_type)
    }
}

/// The variational posterior of a Bayesian Gaussian mixture (see the
/// [module docs](self)): scikit-learn's `BayesianGaussianMixture` after a
/// fit. Built by [`crate::EmModel::init_from_data`] and the M-step; never
/// changed afterwards.
#[derive(Debug, Clone, PartialEq)]
pub struct VariationalMixture {
    config: Arc<VariationalConfig>,
    weight_concentration: WeightConcentration,
    mean_precision: Vec<f64>,
    degrees_of_freedom: Vec<f64>,
    log_weight_normaliser: f64,
    expected: GaussianMixture,
    lower_bound: f64,
}

impl VariationalMixture {
    /// The posterior for the statistics `stats` of responsibilities whose
    /// entropy is `entropy = −Σᵢₖ rᵢₖ ln rᵢₖ` (see the [module docs](self)),
    /// with its lower bound ([`super::bound`]).
    ///
    /// # Errors
    /// [`MixtureError::DimensionMismatch`] or
    /// [`MixtureError::CovarianceTypeMismatch`] for statistics of another
    /// shape; [`MixtureError::NotPositiveDefinite`] (or another error of
    /// [`GaussianMixture::new`]) if a posterior covariance is not a valid
    /// covariance in floating point.
    pub fn from_statistics(
        config: Arc<VariationalConfig>,
        stats: &SufficientStats,
        entropy: f64,
    ) -> Result<Self, MixtureError> {
        let (k, d) = (config.n_components, config.prior.mean.len());
        config.check()?;
        check_shape(&config, stats)?;
        let prior = &config.prior;
        let (beta0, m0, nu0) = (prior.mean_precision, &prior.mean, prior.degrees_of_freedom);
        let reg = config.reg_covar;
        let mass = stats.mass();
        let nk: Vec<f64> = mass.iter().map(|n| n + 10.0 * f64::EPSILON).collect();
        let xk = Mat::from_fn(k, d, |c, j| stats.means()[(c, j)] * mass[c] / nk[c]);
        let beta: Vec<f64> = nk.iter().map(|n| beta0 + n).collect();
        let means = Mat::from_fn(k, d, |c, j| (beta0 * m0[j] + nk[c] * xk[(c, j)]) / beta[c]);
        let diff = |c: usize, j: usize| xk[(c, j)] - m0[j];
        let floor = |i: usize, j: usize| if i == j { reg } else { 0.0 };
        let per_component_nu = || nk.iter().map(|n| nu0 + n).collect::<Vec<f64>>();
        let (nu, covariances) = match (stats.scatter(), &prior.covariance, config.covariance_type) {
            (Scatter::Full(m), CovariancePrior::Matrix(psi), _) => {
                let nu = per_component_nu();
                let covs = (0..k)
                    .map(|c| {
                        Mat::from_fn(d, d, |i, j| {
                            let s = m[c][(i, j)] / nk[c] + floor(i, j);
                            (psi[(i, j)] + nk[c] * s + nk[c] * beta0 / beta[c] * diff(c, i) * diff(c, j))
                                / nu[c]
                        })
                    })
                    .collect();
                (nu, Covariances::Full(covs))
            }
            (Scatter::Pooled(m), CovariancePrior::Matrix(psi), _) => {
                let total: f64 = nk.iter().sum();
                let kf = k as f64;
                let nu = nu0 + total / kf;
                let cov = Mat::from_fn(d, d, |i, j| {
                    let s = m[(i, j)] / total + floor(i, j);
                    let spread: f64 = (0..k).map(|c| nk[c] / beta[c] * diff(c, i) * diff(c, j)).sum();
                    (psi[(i, j)] + s * total / kf + beta0 / kf * spread) / nu
                });
                (vec![nu; k], Covariances::Tied(cov))
            }
            (Scatter::Diagonal(m), CovariancePrior::Diagonal(psi), CovarianceType::Diagonal) => {
                let nu = per_component_nu();
                let vars = Mat::from_fn(k, d, |c, j| {
                    let s = m[(c, j)] / nk[c] + reg;
                    (psi[j] + nk[c] * (s + beta0 / beta[c] * diff(c, j) * diff(c, j))) / nu[c]
                });
                (nu, Covariances::Diagonal(vars))
            }
            (Scatter::Diagonal(m), CovariancePrior::Spherical(psi), CovarianceType::Spherical) => {
                let nu = per_component_nu();
                let vars = (0..k)
                    .map(|c| {
                        let s = (0..d).map(|j| m[(c, j)] / nk[c] + reg).sum::<f64>() / d as f64;
                        let spread = (0..d).map(|j| diff(c, j) * diff(c, j)).sum::<f64>() / d as f64;
                        (psi + nk[c] * (s + beta0 / beta[c] * spread)) / nu[c]
                    })
                    .collect();
                (nu, Covariances::Spherical(vars))
            }
            _ => unreachable!("the prior was checked against the type, and the statistics just above"),
        };
        let weight_concentration = WeightConcentration::update(prior, &nk);
        Self::assemble(
            config,
            weight_concentration,
            beta,
            nu,
            means,
            covariances,
            Bound::FromEntropy(entropy),
        )
    }

    /// The posterior of a saved fit: the values of
    /// [`VariationalMixture::weight_concentration`],
    /// [`VariationalMixture::mean_precision`], [`VariationalMixture::means`],
    /// [`VariationalMixture::degrees_of_freedom`],
    /// [`VariationalMixture::covariances`] and
    /// [`VariationalMixture::lower_bound`] of a fit with this `config`. The
    /// expected mixture is rebuilt from them as in the update, so a saved
    /// and rebuilt posterior equals the fitted one bit for bit.
    ///
    /// # Errors
    /// Those of [`VariationalConfig::check`];
    /// [`MixtureError::DimensionMismatch`] for values of another K or d;
    /// [`MixtureError::CovarianceTypeMismatch`] for covariances or a weight
    /// posterior of another type than the config's;
    /// [`MixtureError::InvalidPosterior`] naming the parameter and component
    /// of a concentration or `βₖ` that is not finite and positive, a `νₖ`
    /// not finite and above `d − 1` (or, tied, unlike the others);
    /// [`MixtureError::InvalidOption`] for a non-finite bound; and those of
    /// [`GaussianMixture::new`] for the means and covariances.
    pub fn from_posterior(
        config: VariationalConfig,
        weight_concentration: WeightConcentration,
        mean_precision: Vec<f64>,
        degrees_of_freedom: Vec<f64>,
        means: Mat<f64>,
        covariances: Covariances,
        lower_bound: f64,
    ) -> Result<Self, MixtureError> {
        config.check()?;
        let (k, d) = (config.n_components, config.prior.mean.len());
        check_posterior_shape(&config, &weight_concentration, &covariances, means.ncols())?;
        let positive = "must be finite and > 0";
        let check = |parameter, values: &[f64], ok: &dyn Fn(f64) -> bool, requirement| {
            if values.len() != k {
                return Err(MixtureError::DimensionMismatch {
                    what: "components of the variational posterior",
                    expected: k,
                    found: values.len(),
                });
            }
            match values.iter().enumerate().find(|&(_, &v)| !ok(v)) {
                Some((component, &value)) => Err(MixtureError::InvalidPosterior {
                    parameter,
                    component,
                    value,
                    requirement,
                }),
                None => Ok(()),
            }
        };
        let is_positive = |v: f64| v.is_finite() && v > 0.0;
        match &weight_concentration {
            WeightConcentration::Dirichlet(alpha) => {
                check(
                    PosteriorParam::DirichletConcentration,
                    alpha,
                    &is_positive,
                    positive,
                )?;
            }
            WeightConcentration::StickBreaking { a, b } => {
                check(PosteriorParam::StickBreakingA, a, &is_positive, positive)?;
                check(PosteriorParam::StickBreakingB, b, &is_positive, positive)?;
            }
        }
        check(
            PosteriorParam::MeanPrecision,
            &mean_precision,
            &is_positive,
            positive,
        )?;
        let tied = config.covariance_type == CovarianceType::Tied;
        let above = |nu: f64| {
            nu.is_finite()
                && nu > d as f64 - 1.0
                && !(tied && nu.to_bits() != degrees_of_freedom[0].to_bits())
        };
        check(
            PosteriorParam::DegreesOfFreedom,
            &degrees_of_freedom,
            &above,
            "must be finite and > d - 1 (d the number of features), and the same for every component of tied covariances",
        )?;
        if !lower_bound.is_finite() {
            return Err(MixtureError::InvalidOption {
                name: "lower_bound",
                value: lower_bound,
            });
        }
        Self::assemble(
            Arc::new(config),
            weight_concentration,
            mean_precision,
            degrees_of_freedom,
            means,
            covariances,
            Bound::Known(lower_bound),
        )
    }

    /// The posterior of its parts: the offsets `cₖ`, the expected mixture
    /// and the bound (see the [module docs](self)).
    fn assemble(
        config: Arc<VariationalConfig>,
        weight_concentration: WeightConcentration,
        beta: Vec<f64>,
        nu: Vec<f64>,
        means: Mat<f64>,
        covariances: Covariances,
        bound: Bound,
    ) -> Result<Self, MixtureError> {
        let d = config.prior.mean.len();
        let offsets: Vec<f64> = weight_concentration
            .expected_log_weights()
            .iter()
            .zip(nu.iter().zip(&beta))
            .map(|(e_log_pi, (&nu, &beta))| {
                e_log_pi - 0.5 * d as f64 * nu.ln() + 0.5 * (expected_log_det_offset(nu, d) - d as f64 / beta)
            })
            .collect();
        let top = offsets.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = offsets.iter().map(|c| (c - top).exp()).sum();
        let log_weight_normaliser = top + sum.ln();
        let weights = offsets
            .iter()
            .map(|c| (c - log_weight_normaliser).exp())
            .collect();
        let expected = GaussianMixture::new(weights, means, covariances)?;
        let bound = match bound {
            Bound::Known(value) => value,
            Bound::FromEntropy(entropy) => lower_bound(
                entropy,
                &nu,
                expected.log_det_covariances(),
                weight_concentration.log_normaliser(),
                &beta,
                d,
            ),
        };
        Ok(Self {
            config,
            weight_concentration,
            mean_precision: beta,
            degrees_of_freedom: nu,
            log_weight_normaliser,
            expected,
            lower_bound: bound,
        })
    }

    /// The shape, priors and floor of the fit.
    #[must_use]
    pub fn config(&self) -> &VariationalConfig {
        &self.config
    }

    pub(crate) fn shared_config(&self) -> &Arc<VariationalConfig> {
        &self.config
    }

    /// K.
    #[must_use]
    pub fn n_components(&self) -> usize {
        self.config.n_components
    }

    /// d.
    #[must_use]
    pub fn n_features(&self) -> usize {
        self.expected.n_features()
    }

    /// The posterior mean weights (scikit-learn's `weights_`).
    #[must_use]
    pub fn weights(&self) -> Vec<f64> {
        self.weight_concentration.weights()
    }

    /// The number of components of weight above [`EFFECTIVE_WEIGHT`]: the
    /// components the data kept.
    #[must_use]
    pub fn n_effective_components(&self) -> usize {
        self.weights().iter().filter(|&&w| w > EFFECTIVE_WEIGHT).count()
    }

    /// The posterior of the weights (scikit-learn's `weight_concentration_`).
    #[must_use]
    pub fn weight_concentration(&self) -> &WeightConcentration {
        &self.weight_concentration
    }

    /// `βₖ` (scikit-learn's `mean_precision_`).
    #[must_use]
    pub fn mean_precision(&self) -> &[f64] {
        &self.mean_precision
    }

    /// `νₖ` (scikit-learn's `degrees_of_freedom_`; K equal values for the
    /// tied type, where scikit-learn has one).
    #[must_use]
    pub fn degrees_of_freedom(&self) -> &[f64] {
        &self.degrees_of_freedom
    }

    /// The posterior means `mₖ` (K x d, scikit-learn's `means_`).
    #[must_use]
    pub fn means(&self) -> MatRef<'_, f64> {
        self.expected.means()
    }

    /// The normalised covariances `Cₖ = (νₖ Wₖ)⁻¹` (scikit-learn's
    /// `covariances_`).
    #[must_use]
    pub fn covariances(&self) -> &Covariances {
        self.expected.covariances()
    }

    /// The lower bound `L` of this posterior and the responsibilities it
    /// was updated from ([`super::bound`]; scikit-learn's `lower_bound_`).
    #[must_use]
    pub fn lower_bound(&self) -> f64 {
        self.lower_bound
    }

    /// The Gaussian mixture of the E-step: means `mₖ`, covariances `Cₖ`,
    /// weights `softmax(c)` (see the [module docs](self)); its
    /// responsibilities are the variational ones, and its
    /// [`GaussianMixture::precision_cholesky`] is scikit-learn's
    /// `precisions_cholesky_`.
    #[must_use]
    pub fn expected_mixture(&self) -> &GaussianMixture {
        &self.expected
    }

    /// `ln Σₖ e^{cₖ}`: what [`VariationalMixture::score_samples`] adds to the
    /// expected mixture's log density.
    #[must_use]
    pub fn log_weight_normaliser(&self) -> f64 {
        self.log_weight_normaliser
    }

    /// `ln Σₖ ρᵢₖ` per row (scikit-learn's `score_samples`).
    ///
    /// # Errors
    /// As [`GaussianMixture::score_samples`].
    pub fn score_samples(&self, x: MatRef<'_, f64>) -> Result<Vec<f64>, MixtureError> {
        let mut scores = self.expected.score_samples(x)?;
        scores.iter_mut().for_each(|s| *s += self.log_weight_normaliser);
        Ok(scores)
    }

    /// The responsibilities `rᵢₖ` (n x K).
    ///
    /// # Errors
    /// As [`GaussianMixture::predict_proba`].
    pub fn predict_proba(&self, x: MatRef<'_, f64>) -> Result<Mat<f64>, MixtureError> {
        self.expected.predict_proba(x)
    }

    /// The component of largest responsibility per row.
    ///
    /// # Errors
    /// As [`GaussianMixture::predict`].
    pub fn predict(&self, x: MatRef<'_, f64>) -> Result<Vec<usize>, MixtureError> {
        self.expected.predict(x)
    }
}

/// Where the bound of [`VariationalMixture::assemble`] comes from.
enum Bound {
    /// Computed, from the entropy of the responsibilities of the update.
    FromEntropy(f64),
    /// Saved with the posterior.
    Known(f64),
}

/// A saved posterior's weights and covariances of the configuration's
/// types, and means of its d.
fn check_posterior_shape(
    config: &VariationalConfig,
    weights: &WeightConcentration,
    covariances: &Covariances,
    features: usize,
) -> Result<(), MixtureError> {
    let d = config.prior.mean.len();
    if features != d {
        return Err(MixtureError::DimensionMismatch {
            what: "features of the posterior means",
            expected: d,
            found: features,
        });
    }
    if covariances.covariance_type() != config.covariance_type {
        return Err(MixtureError::CovarianceTypeMismatch {
            expected: config.covariance_type,
            found: covariances.covariance_type(),
        });
    }
    let stick = matches!(weights, WeightConcentration::StickBreaking { .. });
    if stick != (config.prior.weight_prior == WeightPrior::DirichletProcess) {
        return Err(MixtureError::InvalidOption {
            name: "weight posterior (stick-breaking for a Dirichlet process prior, Dirichlet otherwise)",
            value: f64::from(u8::from(stick)),
        });
    }
    Ok(())
}

/// Statistics of the configuration's K, d and covariance type.
fn check_shape(config: &VariationalConfig, stats: &SufficientStats) -> Result<(), MixtureError> {
    let d = config.prior.mean.len();
    if stats.n_components() != config.n_components {
        return Err(MixtureError::DimensionMismatch {
            what: "components of the statistics",
            expected: config.n_components,
            found: stats.n_components(),
        });
    }
    if stats.n_features() != d {
        return Err(MixtureError::DimensionMismatch {
            what: "features of the statistics",
            expected: d,
            found: stats.n_features(),
        });
    }
    if stats.covariance_type() != config.covariance_type {
        return Err(MixtureError::CovarianceTypeMismatch {
            expected: config.covariance_type,
            found: stats.covariance_type(),
        });
    }
    Ok(())
}
