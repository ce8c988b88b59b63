//! Gaussian emissions with a Normal-Wishart prior on each state's mean and
//! precision: hmmlearn's `VariationalGaussianHMM` (all four covariance
//! types).
//!
//! With `S = W⁻¹` the inverse scale (hmmlearn's `scale_*_`):
//!
//! ```text
//! p(μ_j, Λ_j) = N(μ_j | m0_j, (β0_j Λ_j)⁻¹) W(Λ_j | S0_j⁻¹, ν0_j)
//! q(μ_j, Λ_j) = N(μ_j | m_j,  (β_j Λ_j)⁻¹)  W(Λ_j | S_j⁻¹,  ν_j)
//! ```
//!
//! The diagonal type keeps `S0` and `S` diagonal and the spherical type
//! multiples of the identity `s I` (hmmlearn's: a Wishart with such a
//! scale, its expectations and divergence those of the Wishart). The tied
//! type has one Wishart `W(Λ | S⁻¹, ν)` shared by all states (and so one
//! `S`, one `ν`), each state keeping its own `m_j`, `β_j`. For the E-step
//! (`ψ` the digamma function, d features; `S_j`, `ν_j` the state's
//! Wishart):
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
//! (diagonal: the diagonal; spherical: `s_j = s0_j + tr(S_j − S0_j)/d`;
//! tied: `ν = ν0 + Σ_j N_j`, `S = S0 + Σ_j (S_j − S0)`): hmmlearn's
//! `S0 + Σγxxᵀ + β0 m0 m0ᵀ − β m mᵀ`, written as a sum of positive
//! semi-definite terms. The means' block alone
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
//! (`ln B` the Wishart log normaliser, `mixture::variational::bound`'s;
//! tied: `KL_N` of every state with the shared `S`, `ν`, and `KL_W` once).

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
    /// Degrees of freedom `ν` (K; one for the tied type).
    pub dof: Vec<f64>,
    /// Inverse scales `S` (K matrices d x d, one for the tied type;
    /// diagonal for the diagonal type, `s I` for the spherical type).
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
    /// The covariance type.
    pub covariance_type: CovarianceType,
    /// Prior means (default: the data mean for every state).
    pub means_prior: Option<Mat<f64>>,
    /// Prior mean precision of every state (default 1).
    pub beta_prior: Option<f64>,
    /// Prior degrees of freedom of every state's (the tied) Wishart (default d).
    pub dof_prior: Option<f64>,
    /// Prior inverse scale of every state's (the tied) Wishart (default `10⁻³ I`).
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

/// The number of Wisharts of `k` states: one shared by all for the tied
/// type, one per state otherwise.
fn n_wisharts(kind: CovarianceType, k: usize) -> usize {
    if kind == CovarianceType::Tied { 1 } else { k }
}

/// The Wishart of state `j` (index into `dof` and `scale`).
fn wishart_of(kind: CovarianceType, j: usize) -> usize {
    if kind == CovarianceType::Tied { 0 } else { j }
}

/// hmmlearn's names of the prior's means, `β`, `ν` and `S`: the
/// `parameter` of a [`HmmError::InvalidPriorValue`] of the prior.
pub const PRIOR_FIELDS: [&str; 4] = ["means_prior", "beta_prior", "dof_prior", "scale_prior"];

/// hmmlearn's names of the posterior's means, `β`, `ν` and `S`, as
/// [`PRIOR_FIELDS`].
pub const POSTERIOR_FIELDS: [&str; 4] = [
    "means_posterior",
    "beta_posterior",
    "dof_posterior",
    "scale_posterior",
];

impl NormalWishart {
    /// Shapes (K states, d features; K Wisharts, one for the tied type)
    /// and values: finite means, `β > 0`, `ν > d − 1`, `S` symmetric
    /// positive definite (diagonal for the diagonal type, `s I` for the
    /// spherical type). A bad value is an [`HmmError::InvalidPriorValue`]
    /// whose parameter is its field's name in `names` (means, β, ν, S) and
    /// whose index is (state, column) for a mean, (state, 0) for `β`,
    /// (Wishart, 0) for `ν` and (Wishart, `a d + b`) for `S[a, b]`.
    fn check(&self, kind: CovarianceType, names: [&'static str; 4]) -> Result<(usize, usize), HmmError> {
        let (k, d) = (self.means.nrows(), self.means.ncols());
        if k == 0 {
            return Err(HmmError::NoStates);
        }
        if d == 0 {
            return Err(HmmError::NoFeatures);
        }
        let w = n_wisharts(kind, k);
        for (parameter, expected, found) in [
            ("beta", k, self.beta.len()),
            ("dof", w, self.dof.len()),
            ("scale", w, self.scale.len()),
        ] {
            if found != expected {
                return Err(HmmError::PriorShape {
                    parameter,
                    state: None,
                    expected: (expected, 1),
                    found: (found, 1),
                });
            }
        }
        for j in 0..k {
            if let Some(c) = (0..d).find(|&c| !self.means[(j, c)].is_finite()) {
                return Err(invalid(names[0], j, c, self.means[(j, c)]));
            }
            if !(self.beta[j] > 0.0 && self.beta[j].is_finite()) {
                return Err(invalid(names[1], j, 0, self.beta[j]));
            }
        }
        for j in 0..w {
            if !(self.dof[j] > d as f64 - 1.0 && self.dof[j].is_finite()) {
                return Err(invalid(names[2], j, 0, self.dof[j]));
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
                    let off_structure = match kind {
                        CovarianceType::Diagonal => a != b && s[(a, b)] != 0.0,
                        CovarianceType::Spherical => s[(a, b)] != if a == b { s[(0, 0)] } else { 0.0 },
                        _ => false,
                    };
                    if !s[(a, b)].is_finite() || s[(a, b)] != s[(b, a)] || off_structure {
                        return Err(invalid(names[3], j, a * d + b, s[(a, b)]));
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
    /// [`HmmError::PriorShape`], [`HmmError::DimensionMismatch`] for shapes
    /// that differ; [`HmmError::InvalidPriorValue`] (parameter the field's
    /// name in [`PRIOR_FIELDS`] or [`POSTERIOR_FIELDS`], the state or
    /// Wishart, the entry) for a value out of range or a scale off
    /// the covariance type's structure, [`HmmError::Kernel`] for a scale
    /// that is not positive definite.
    pub fn new(
        covariance_type: CovarianceType,
        prior: NormalWishart,
        posterior: NormalWishart,
    ) -> Result<Self, HmmError> {
        let shape = prior.check(covariance_type, PRIOR_FIELDS)?;
        let found = posterior.check(covariance_type, POSTERIOR_FIELDS)?;
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

    /// The expected covariances `S_j / ν_j` of every state (hmmlearn's
    /// `covars_`; for the tied type K copies of the shared one).
    #[must_use]
    pub fn covariances(&self) -> Vec<Mat<f64>> {
        let q = &self.posterior;
        (0..self.n_states())
            .map(|j| {
                let w = wishart_of(self.covariance_type, j);
                &q.scale[w] * faer::Scale(1.0 / q.dof[w])
            })
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
        let covariances = Covariances::from_matrices(self.covariance_type, self.covariances());
        let offsets = q
            .beta
            .iter()
            .enumerate()
            .map(|(j, &beta)| {
                let nu = q.dof[wishart_of(self.covariance_type, j)];
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
        let (p, q, kind) = (&self.prior, &self.posterior, self.covariance_type);
        let mut next = q.clone();
        // The tied Wishart: the prior plus the pooled scatter, then every
        // state's spread about its new mean.
        let mut shared = match s.scatter() {
            Scatter::Pooled(pooled) => &p.scale[0] + pooled,
            _ => p.scale[0].clone(),
        };
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
            let m = next.means.row(j);
            let scatter = |a: usize, b: usize| match s.scatter() {
                Scatter::Full(ms) => ms[j][(a, b)],
                Scatter::Diagonal(diag) if a == b => diag[(j, a)],
                _ => 0.0,
            };
            // S_j − S0_j at (a, b), a ≤ b (symmetric).
            let spread = |a: usize, b: usize| {
                scatter(a, b)
                    + n * (xbar[a] - m[a]) * (xbar[b] - m[b])
                    + p.beta[j] * (p.means[(j, a)] - m[a]) * (p.means[(j, b)] - m[b])
            };
            let upper = |a: usize, b: usize| if a <= b { spread(a, b) } else { spread(b, a) };
            let prior_scale = &p.scale[wishart_of(kind, j)];
            match kind {
                CovarianceType::Full => {
                    next.scale[j] = Mat::from_fn(d, d, |a, b| prior_scale[(a, b)] + upper(a, b));
                }
                CovarianceType::Diagonal => {
                    next.scale[j] = Mat::from_fn(d, d, |a, b| {
                        if a == b {
                            prior_scale[(a, a)] + spread(a, a)
                        } else {
                            0.0
                        }
                    });
                }
                CovarianceType::Spherical => {
                    let v = prior_scale[(0, 0)] + (0..d).map(|c| spread(c, c)).sum::<f64>() / d as f64;
                    next.scale[j] = Mat::from_fn(d, d, |a, b| if a == b { v } else { 0.0 });
                }
                CovarianceType::Tied => shared += Mat::from_fn(d, d, upper),
            }
            if kind != CovarianceType::Tied {
                next.dof[j] = p.dof[j] + n;
            }
        }
        if learn_covariances && kind == CovarianceType::Tied {
            next.dof[0] = p.dof[0] + s.mass().iter().sum::<f64>();
            next.scale[0] = shared;
        }
        Self::new(kind, p.clone(), next)
    }

    fn divergence(&self) -> Result<f64, HmmError> {
        let (p, q, d) = (&self.prior, &self.posterior, self.n_features());
        let df = d as f64;
        let chols = (0..q.scale.len())
            .map(|w| Ok((Self::cholesky(&q.scale[w], w)?, Self::cholesky(&p.scale[w], w)?)))
            .collect::<Result<Vec<_>, HmmError>>()?;
        let mut total = 0.0;
        for j in 0..self.n_states() {
            let w = wishart_of(self.covariance_type, j);
            let (nu, beta, beta0) = (q.dof[w], q.beta[j], p.beta[j]);
            let diff: Vec<f64> = (0..d).map(|c| q.means[(j, c)] - p.means[(j, c)]).collect();
            let maha = chols[w]
                .0
                .mahalanobis_squared(&diff)
                .map_err(|source| HmmError::Kernel { state: j, source })?;
            total += 0.5 * (df * (beta / beta0).ln() + df * beta0 / beta - df + beta0 * nu * maha);
        }
        for (j, (chol, chol0)) in chols.iter().enumerate() {
            let (nu, nu0) = (q.dof[j], p.dof[j]);
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
            total += kl_wishart;
        }
        Ok(total)
    }

    /// hmmlearn's start: k-means (the best of [`DEFAULT_KMEANS_RUNS`]) on
    /// all rows; `m` the centroids, `β` and `ν` the cluster sizes (tied:
    /// `ν` the number of rows), `S` the data covariance plus `10⁻³ I` times
    /// `ν` (diagonal: its diagonal; spherical: the mean of its diagonal
    /// times `I`, where hmmlearn takes the mean of all its entries); priors
    /// as [`VariationalGaussianInit`] says.
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
        let average_variance = (0..d).map(|c| cov[(c, c)]).sum::<f64>() / d as f64;
        match config.covariance_type {
            CovarianceType::Diagonal => {
                cov = Mat::from_fn(d, d, |a, b| if a == b { cov[(a, a)] } else { 0.0 })
            }
            CovarianceType::Spherical => {
                cov = Mat::from_fn(d, d, |a, b| if a == b { average_variance } else { 0.0 });
            }
            CovarianceType::Full | CovarianceType::Tied => {}
        }
        let w = n_wisharts(config.covariance_type, n_states);
        let dof = if w == n_states {
            counts.clone()
        } else {
            vec![counts.iter().sum()]
        };
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
            dof: vec![config.dof_prior.unwrap_or(d as f64); w],
            scale: vec![scale0; w],
        };
        let posterior = NormalWishart {
            means: kmeans.centroids().to_owned(),
            beta: counts,
            scale: dof.iter().map(|&n| &cov * faer::Scale(n)).collect(),
            dof,
        };
        let emission = Self::new(config.covariance_type, prior, posterior)?;
        emission.expected()?.0.check_data(data)?;
        Ok(emission)
    }
}
