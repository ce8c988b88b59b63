//! Gaussian emissions with a Normal-Wishart prior on each state's mean and
//! precision: hmmlearn's `VariationalGaussianHMM` (full and diagonal
//! covariance types).
//!
//! With `S = W⁻¹` the inverse scale (hmmlearn's `scale_*_`):
//!
//! ```text
//! p(μ_j, Λ_j) = N(μ_j | m0_j, (β0_j Λ_j)⁻¹) W(Λ_j | S0_j⁻¹, ν0_j)
//! q(μ_j, Λ_j) = N(μ_j | m_j,  (β_j Λ_j)⁻¹)  W(Λ_j | S_j⁻¹,  ν_j)
//! ```
//!
//! The diagonal type keeps `S0` and `S` diagonal (hmmlearn's: a Wishart
//! with diagonal scale, its expectations and divergence those of the
//! Wishart). For the E-step (`ψ` the digamma function, d features):
//!
//! ```text
//! E[ln|Λ_j|]       = Σ_{i<d} ψ((ν_j − i)/2) + d ln 2 − ln|S_j|
//! E[ln N(x | μ_j, Λ_j⁻¹)] + (d/2) ln 2π
//!                  = ½ E[ln|Λ_j|] − ½ (d/β_j + ν_j (x − m_j)ᵀ S_j⁻¹ (x − m_j))
//!                  = ln N(x | m_j, S_j/ν_j) + c_j
//! c_j              = ½ (Σ_{i<d} ψ((ν_j − i)/2) + d ln 2 − d ln ν_j) − d/(2β_j) + (d/2) ln 2π
//! ```
//!
//! (the `(d/2) ln 2π` left out as hmmlearn does, so `ln Z` and the bound
//! are hmmlearn's). The update from the state posteriors' masses `N_j`,
//! weighted means `x̄_j` and centred scatters `M_j`:
//!
//! ```text
//! β_j = β0_j + N_j                 m_j = (β0_j m0_j + N_j x̄_j) / β_j
//! ν_j = ν0_j + N_j
//! S_j = S0_j + M_j + N_j (x̄_j − m_j)(x̄_j − m_j)ᵀ + β0_j (m0_j − m_j)(m0_j − m_j)ᵀ
//! ```
//!
//! (diagonal: the diagonal): hmmlearn's `S0 + Σγxxᵀ + β0 m0 m0ᵀ − β m mᵀ`,
//! written as a sum of positive semi-definite terms. The means' block alone
//! (`β`, `m`) is the exact update of `q(μ | Λ)` for the kept `q(Λ)`; the
//! covariances' alone is the update of no factor (`q(μ | Λ)` depends on
//! `Λ`), so learning the covariances without the means is refused
//! (hmmlearn expands its formula with the kept `m`, `β`, which can leave
//! `S` not positive definite). The divergence per state:
//!
//! ```text
//! KL_N = ½ (d ln(β/β0) + d β0/β − d + β0 ν (m − m0)ᵀ S⁻¹ (m − m0))
//! KL_W = ln B(S⁻¹, ν) − ln B(S0⁻¹, ν0) + (ν − ν0)/2 E[ln|Λ|] − ν d/2 + ν/2 tr(S0 S⁻¹)
//! ```
//!
//! (`ln B` the Wishart log normaliser, `mixture::variational::bound`'s).

use faer::Mat;
use linalg_kernels::Cholesky;
use mixture::Scatter;
use mixture::variational::bound::{expected_log_det_offset, log_wishart_norm};
use mixture::{CovarianceType, Covariances};
use rand::Rng;

use super::emission::VariationalEmission;
use crate::emission::Emission;
use crate::emission::gaussian::{GaussianEmission, GaussianStats, data_moments};
use crate::emission::kmeans::{DEFAULT_KMEANS_RUNS, best_kmeans};
use crate::error::HmmError;
use crate::param::{LearnSet, Param};
use crate::sequences::Sequences;

/// One side (prior or posterior) of the Normal-Wishart of every state.
#[derive(Debug, Clone, PartialEq)]
pub struct NormalWishart {
    /// Means `m` (K x d).
    pub means: Mat<f64>,
    /// Mean precisions `β` (K).
    pub beta: Vec<f64>,
    /// Degrees of freedom `ν` (K).
    pub dof: Vec<f64>,
    /// Inverse scales `S` (K matrices d x d; diagonal for the diagonal type).
    pub scale: Vec<Mat<f64>>,
}

/// The prior and posterior of Gaussian emissions (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq)]
pub struct VariationalGaussian {
    covariance_type: CovarianceType,
    prior: NormalWishart,
    posterior: NormalWishart,
}

/// How [`VariationalGaussian::init_from_data`] starts (hmmlearn's `_init`).
#[derive(Debug, Clone, PartialEq)]
pub struct VariationalGaussianInit {
    /// Full or diagonal.
    pub covariance_type: CovarianceType,
    /// Prior means (default: the data mean for every state).
    pub means_prior: Option<Mat<f64>>,
    /// Prior mean precision of every state (default 1).
    pub beta_prior: Option<f64>,
    /// Prior degrees of freedom of every state (default d).
    pub dof_prior: Option<f64>,
    /// Prior inverse scale of every state (default `10⁻³ I`).
    pub scale_prior: Option<Mat<f64>>,
}

impl Default for VariationalGaussianInit {
    fn default() -> Self {
        Self {
            covariance_type: CovarianceType::Full,
            means_prior: None,
            beta_prior: None,
            dof_prior: None,
            scale_prior: None,
        }
    }
}

/// The error of a prior or posterior value out of range.
fn invalid(parameter: &'static str, state: usize, col: usize, value: f64) -> HmmError {
    HmmError::InvalidPriorValue {
        parameter,
        state: Some(state),
        index: (state, col),
        value,
    }
}

impl NormalWishart {
    /// Shapes (K states, d features) and values: finite means, `β > 0`,
    /// `ν > d − 1`, `S` symmetric positive definite (diagonal for the
    /// diagonal type).
    fn check(&self, kind: CovarianceType, side: &'static str) -> Result<(usize, usize), HmmError> {
        let (k, d) = (self.means.nrows(), self.means.ncols());
        if k == 0 {
            return Err(HmmError::NoStates);
        }
        if d == 0 {
            return Err(HmmError::NoFeatures);
        }
        for (parameter, found) in [
            ("beta", self.beta.len()),
            ("dof", self.dof.len()),
            ("scale", self.scale.len()),
        ] {
            if found != k {
                return Err(HmmError::PriorShape {
                    parameter,
                    state: None,
                    expected: (k, 1),
                    found: (found, 1),
                });
            }
        }
        for j in 0..k {
            if let Some(c) = (0..d).find(|&c| !self.means[(j, c)].is_finite()) {
                return Err(invalid(side, j, c, self.means[(j, c)]));
            }
            if !(self.beta[j] > 0.0 && self.beta[j].is_finite()) {
                return Err(invalid(side, j, 0, self.beta[j]));
            }
            if !(self.dof[j] > d as f64 - 1.0 && self.dof[j].is_finite()) {
                return Err(invalid(side, j, 0, self.dof[j]));
            }
            let s = &self.scale[j];
            if (s.nrows(), s.ncols()) != (d, d) {
                return Err(HmmError::PriorShape {
                    parameter: "scale",
                    state: Some(j),
                    expected: (d, d),
                    found: (s.nrows(), s.ncols()),
                });
            }
            for a in 0..d {
                for b in 0..d {
                    let off_diagonal_of_diag = kind == CovarianceType::Diagonal && a != b && s[(a, b)] != 0.0;
                    if !s[(a, b)].is_finite() || s[(a, b)] != s[(b, a)] || off_diagonal_of_diag {
                        return Err(invalid(side, j, a * d + b, s[(a, b)]));
                    }
                }
            }
            Cholesky::new(s.as_ref()).map_err(|source| HmmError::Kernel { state: j, source })?;
        }
        Ok((k, d))
    }
}

impl VariationalGaussian {
    /// The emission from its prior and posterior.
    ///
    /// # Errors
    /// [`HmmError::InvalidOption`] for a covariance type other than full or
    /// diagonal; [`HmmError::PriorShape`], [`HmmError::DimensionMismatch`]
    /// for shapes that differ; [`HmmError::InvalidPriorValue`] (parameter
    /// `"prior"` or `"posterior"`, the state) for a value out of range,
    /// [`HmmError::Kernel`] for a scale that is not positive definite.
    pub fn new(
        covariance_type: CovarianceType,
        prior: NormalWishart,
        posterior: NormalWishart,
    ) -> Result<Self, HmmError> {
        if !matches!(covariance_type, CovarianceType::Full | CovarianceType::Diagonal) {
            return Err(HmmError::InvalidOption {
                what: "covariance type of a variational Gaussian HMM (full or diag)",
                value: f64::NAN,
            });
        }
        let shape = prior.check(covariance_type, "prior")?;
        let found = posterior.check(covariance_type, "posterior")?;
        if found != shape {
            return Err(HmmError::DimensionMismatch {
                what: "posterior entries (states x features)",
                expected: shape.0 * shape.1,
                found: found.0 * found.1,
            });
        }
        Ok(Self {
            covariance_type,
            prior,
            posterior,
        })
    }

    /// The covariance type.
    #[must_use]
    pub fn covariance_type(&self) -> CovarianceType {
        self.covariance_type
    }

    /// The prior.
    #[must_use]
    pub fn prior(&self) -> &NormalWishart {
        &self.prior
    }

    /// The posterior.
    #[must_use]
    pub fn posterior(&self) -> &NormalWishart {
        &self.posterior
    }

    /// The expected covariances `S_j / ν_j` (hmmlearn's `covars_`).
    #[must_use]
    pub fn covariances(&self) -> Vec<Mat<f64>> {
        let q = &self.posterior;
        q.scale
            .iter()
            .zip(&q.dof)
            .map(|(s, &nu)| s * faer::Scale(1.0 / nu))
            .collect()
    }

    fn n_features(&self) -> usize {
        self.posterior.means.ncols()
    }

    fn cholesky(s: &Mat<f64>, state: usize) -> Result<Cholesky, HmmError> {
        Cholesky::new(s.as_ref()).map_err(|source| HmmError::Kernel { state, source })
    }
}

impl VariationalEmission for VariationalGaussian {
    type Expected = GaussianEmission;
    type InitConfig = VariationalGaussianInit;

    fn n_states(&self) -> usize {
        self.posterior.means.nrows()
    }

    /// Means `m_j`, covariances `S_j / ν_j`, offsets `c_j`.
    fn expected(&self) -> Result<(GaussianEmission, Vec<f64>), HmmError> {
        let (q, d) = (&self.posterior, self.n_features());
        let df = d as f64;
        let covariances = self.covariances();
        let covariances = match self.covariance_type {
            CovarianceType::Diagonal => {
                Covariances::Diagonal(Mat::from_fn(self.n_states(), d, |j, c| covariances[j][(c, c)]))
            }
            _ => Covariances::Full(covariances),
        };
        let offsets = q
            .dof
            .iter()
            .zip(&q.beta)
            .map(|(&nu, &beta)| {
                0.5 * (expected_log_det_offset(nu, d) - df * nu.ln()) - 0.5 * df / beta
                    + 0.5 * df * (2.0 * std::f64::consts::PI).ln()
            })
            .collect();
        Ok((GaussianEmission::new(q.means.clone(), covariances)?, offsets))
    }

    fn update(&self, stats: &GaussianStats, learn: LearnSet) -> Result<Self, HmmError> {
        let (k, d) = (self.n_states(), self.n_features());
        let s = &stats.0;
        if s.mass().len() != k || s.means().ncols() != d {
            return Err(HmmError::DimensionMismatch {
                what: "Gaussian statistics (states x features)",
                expected: k * d,
                found: s.mass().len() * s.means().ncols(),
            });
        }
        let (learn_means, learn_covariances) =
            (learn.contains(Param::Means), learn.contains(Param::Covariances));
        if learn_covariances && !learn_means {
            return Err(HmmError::InvalidOption {
                what: "learned blocks of a variational Gaussian HMM (covariances need the means)",
                value: f64::NAN,
            });
        }
        if !learn_means {
            return Ok(self.clone());
        }
        let (p, q) = (&self.prior, &self.posterior);
        let mut next = q.clone();
        for j in 0..k {
            let n = s.mass()[j];
            let xbar = s.means().row(j);
            next.beta[j] = p.beta[j] + n;
            for c in 0..d {
                next.means[(j, c)] = (p.beta[j] * p.means[(j, c)] + n * xbar[c]) / next.beta[j];
            }
            if !learn_covariances {
                continue;
            }
            next.dof[j] = p.dof[j] + n;
            let m = next.means.row(j);
            let scatter = |a: usize, b: usize| match s.scatter() {
                Scatter::Full(ms) => ms[j][(a, b)],
                Scatter::Diagonal(diag) if a == b => diag[(j, a)],
                _ => 0.0,
            };
            let entry = |a: usize, b: usize| {
                p.scale[j][(a, b)]
                    + scatter(a, b)
                    + n * (xbar[a] - m[a]) * (xbar[b] - m[b])
                    + p.beta[j] * (p.means[(j, a)] - m[a]) * (p.means[(j, b)] - m[b])
            };
            next.scale[j] = match self.covariance_type {
                CovarianceType::Diagonal => Mat::from_fn(d, d, |a, b| if a == b { entry(a, a) } else { 0.0 }),
                _ => Mat::from_fn(d, d, |a, b| if a <= b { entry(a, b) } else { entry(b, a) }),
            };
        }
        Self::new(self.covariance_type, p.clone(), next)
    }

    fn divergence(&self) -> Result<f64, HmmError> {
        let (p, q, d) = (&self.prior, &self.posterior, self.n_features());
        let df = d as f64;
        let mut total = 0.0;
        for j in 0..self.n_states() {
            let chol = Self::cholesky(&q.scale[j], j)?;
            let chol0 = Self::cholesky(&p.scale[j], j)?;
            let (nu, nu0, beta, beta0) = (q.dof[j], p.dof[j], q.beta[j], p.beta[j]);
            let diff: Vec<f64> = (0..d).map(|c| q.means[(j, c)] - p.means[(j, c)]).collect();
            let maha = chol
                .mahalanobis_squared(&diff)
                .map_err(|source| HmmError::Kernel { state: j, source })?;
            let kl_normal = 0.5 * (df * (beta / beta0).ln() + df * beta0 / beta - df + beta0 * nu * maha);
            let s_inv = chol.inverse();
            let trace: f64 = (0..d)
                .map(|a| (0..d).map(|b| p.scale[j][(a, b)] * s_inv[(b, a)]).sum::<f64>())
                .sum();
            let expected_log_det = expected_log_det_offset(nu, d) - chol.log_det();
            let kl_wishart = log_wishart_norm(nu, -0.5 * chol.log_det(), d)
                - log_wishart_norm(nu0, -0.5 * chol0.log_det(), d)
                + 0.5 * (nu - nu0) * expected_log_det
                - 0.5 * nu * df
                + 0.5 * nu * trace;
            total += kl_normal + kl_wishart;
        }
        Ok(total)
    }

    /// hmmlearn's start: k-means (the best of [`DEFAULT_KMEANS_RUNS`]) on
    /// all rows; `m` the centroids, `β` and `ν` the cluster sizes, `S` the
    /// data covariance plus `10⁻³ I` times `ν` (diagonal: its diagonal);
    /// priors as [`VariationalGaussianInit`] says.
    ///
    /// # Errors
    /// [`HmmError::NoStates`], the k-means errors (e.g. fewer distinct
    /// rows than states), invalid priors, a cluster of fewer than d points
    /// (degrees of freedom `≤ d − 1`: [`HmmError::InvalidPriorValue`]).
    fn init_from_data<R: Rng + ?Sized>(
        data: &Sequences<'_>,
        n_states: usize,
        config: &VariationalGaussianInit,
        rng: &mut R,
    ) -> Result<Self, HmmError> {
        if n_states == 0 {
            return Err(HmmError::NoStates);
        }
        let (x, d) = (data.data(), data.n_features());
        let kmeans = best_kmeans(x, n_states, 300, DEFAULT_KMEANS_RUNS, rng)?;
        let mut counts = vec![0.0; n_states];
        for &label in kmeans.labels() {
            counts[label] += 1.0;
        }
        let (mean, mut cov) = data_moments(x);
        for c in 0..d {
            cov[(c, c)] += 1e-3;
        }
        if config.covariance_type == CovarianceType::Diagonal {
            cov = Mat::from_fn(d, d, |a, b| if a == b { cov[(a, a)] } else { 0.0 });
        }
        let scale0 = config
            .scale_prior
            .clone()
            .unwrap_or_else(|| Mat::from_fn(d, d, |a, b| if a == b { 1e-3 } else { 0.0 }));
        let prior = NormalWishart {
            means: config
                .means_prior
                .clone()
                .unwrap_or_else(|| Mat::from_fn(n_states, d, |_, c| mean[c])),
            beta: vec![config.beta_prior.unwrap_or(1.0); n_states],
            dof: vec![config.dof_prior.unwrap_or(d as f64); n_states],
            scale: vec![scale0; n_states],
        };
        let posterior = NormalWishart {
            means: kmeans.centroids().to_owned(),
            beta: counts.clone(),
            dof: counts.clone(),
            scale: counts.iter().map(|&n| &cov * faer::Scale(n)).collect(),
        };
        let emission = Self::new(config.covariance_type, prior, posterior)?;
        emission.expected()?.0.check_data(data)?;
        Ok(emission)
    }
}
