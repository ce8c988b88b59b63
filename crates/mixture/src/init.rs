//! Initialisation of a mixture from data, seeded by the caller's RNG.

use crate::covariance::build_factors;
use crate::data::{check_training_data, with_data};
use crate::floor::{DEFAULT_RELATIVE_FLOOR, Floor, feature_floors};
use crate::kmeans::cluster;
use crate::mstep::WEIGHT_FLOOR;
use crate::stats::Scatter;
use crate::{CovarianceType, Covariances, GaussianMixture, MixtureError, SufficientStats};
use faer::{Mat, MatRef};
use linalg_kernels::Cholesky;
use rand::Rng;

/// How a mixture is initialised from data ([`em_core::EmModel::init_from_data`],
/// used by [`em_core::Start::FromData`]): K, the covariance type and the
/// method.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct InitConfig {
    /// Number of components K.
    pub n_components: usize,
    /// Covariance type.
    pub covariance_type: CovarianceType,
    /// Initialisation method (default: k-means++ seeding and 10 Lloyd
    /// rounds, see [`InitMethod`]).
    pub method: InitMethod,
    /// The floor added to the initial variances (default
    /// [`Floor::Relative`]`(`[`DEFAULT_RELATIVE_FLOOR`]`)`, as the M-step's;
    /// see [`crate::floor`]). Set [`Floor::Absolute`] with the same value as
    /// the M-step's `reg_covar` to reproduce scikit-learn's start.
    pub covariance_floor: Floor,
    /// Parameters that replace the method's (default: none), see
    /// [`GivenParameters`].
    pub given: GivenParameters,
}

/// Initial parameters given by the caller that replace those the
/// [`InitMethod`] computes, the others still coming from the method
/// (scikit-learn's `weights_init`, `means_init` and `precisions_init` when
/// not all three are given). The covariances the method computes are those
/// of its responsibilities about its own means, also when the means are
/// given. The assembled start is validated as a [`GaussianMixture`].
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct GivenParameters {
    /// The weights (K, on the simplex).
    pub weights: Option<Vec<f64>>,
    /// The means (K x d).
    pub means: Option<Mat<f64>>,
    /// The covariances or the precisions, of the configured type.
    pub covariances: Option<GivenCovariances>,
}

/// Given covariances, or their inverses.
#[derive(Debug, Clone, PartialEq)]
pub enum GivenCovariances {
    /// Covariances.
    Covariances(Covariances),
    /// Precisions (inverse covariances), as [`GaussianMixture::from_precisions`] takes them.
    Precisions(Covariances),
}

impl GivenParameters {
    /// Nothing given.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The same with the weights given.
    #[must_use]
    pub fn with_weights(mut self, weights: Vec<f64>) -> Self {
        self.weights = Some(weights);
        self
    }

    /// The same with the means given.
    #[must_use]
    pub fn with_means(mut self, means: Mat<f64>) -> Self {
        self.means = Some(means);
        self
    }

    /// The same with the covariances (or precisions) given.
    #[must_use]
    pub fn with_covariances(mut self, covariances: GivenCovariances) -> Self {
        self.covariances = Some(covariances);
        self
    }

    /// `model` with the given parameters in place of its own.
    ///
    /// # Errors
    /// As [`GaussianMixture::new`] and [`GaussianMixture::from_precisions`]
    /// (shapes, simplex, SPD); [`MixtureError::CovarianceTypeMismatch`] for
    /// covariances of another type than `model`'s.
    fn apply(&self, model: GaussianMixture) -> Result<GaussianMixture, MixtureError> {
        if *self == Self::default() {
            return Ok(model);
        }
        let weights = self.weights.clone().unwrap_or_else(|| model.weights().to_vec());
        let means = self.means.clone().unwrap_or_else(|| model.means().to_owned());
        let assembled = match &self.covariances {
            None => GaussianMixture::new(weights, means, model.covariances().clone()),
            Some(GivenCovariances::Covariances(c)) => GaussianMixture::new(weights, means, c.clone()),
            Some(GivenCovariances::Precisions(p)) => {
                GaussianMixture::from_precisions(weights, means, p.clone())
            }
        }?;
        if assembled.covariance_type() != model.covariance_type() {
            return Err(MixtureError::CovarianceTypeMismatch {
                expected: model.covariance_type(),
                found: assembled.covariance_type(),
            });
        }
        Ok(assembled)
    }
}

impl InitConfig {
    /// K components of the given covariance type, default method.
    #[must_use]
    pub fn new(n_components: usize, covariance_type: CovarianceType) -> Self {
        Self {
            n_components,
            covariance_type,
            method: InitMethod::default(),
            covariance_floor: Floor::Relative(DEFAULT_RELATIVE_FLOOR),
            given: GivenParameters::default(),
        }
    }

    /// The same with parameters that replace the method's.
    #[must_use]
    pub fn with_given(mut self, given: GivenParameters) -> Self {
        self.given = given;
        self
    }

    /// The same with another covariance floor.
    #[must_use]
    pub fn with_covariance_floor(mut self, floor: Floor) -> Self {
        self.covariance_floor = floor;
        self
    }

    /// The same with another initialisation method.
    #[must_use]
    pub fn with_method(mut self, method: InitMethod) -> Self {
        self.method = method;
        self
    }
}

/// How [`InitConfig`] chooses the first parameters.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum InitMethod {
    /// k-means++ seeding and up to `max_rounds` Lloyd rounds
    /// ([`crate::kmeans::kmeans`]); each cluster gives one component
    /// (hard responsibilities).
    KMeans {
        /// Lloyd rounds after the seeding.
        max_rounds: usize,
    },
    /// Responsibilities drawn uniformly in [0, 1) and normalised per row
    /// (scikit-learn's `"random"`).
    RandomResponsibilities,
    /// Means = K distinct data rows chosen at random; every covariance = the
    /// covariance of the whole data set (of the model's type); equal weights.
    RandomPoints,
    /// These parameters, checked against the data's dimension and the
    /// requested K and covariance type.
    Explicit(Box<GaussianMixture>),
}

impl Default for InitMethod {
    /// k-means with 10 Lloyd rounds.
    fn default() -> Self {
        Self::KMeans { max_rounds: 10 }
    }
}

impl GaussianMixture {
    /// The initialisation of [`em_core::EmModel::init_from_data`]: a first
    /// model for the rows of `x` (n x d) with `config.n_components`
    /// components of `config.covariance_type`.
    ///
    /// From responsibilities (k-means labels or random ones) the parameters
    /// are the M-step estimates: weights `Nₖ / N` (floored at
    /// [`WEIGHT_FLOOR`]), means `mₖ`, covariances `Sₖ / Nₖ + diag(f)` with
    /// the floor `f` of [`InitConfig::covariance_floor`] (by default `10⁻⁶`
    /// times the data's variance of each feature). A component with fewer
    /// than two effective points (a singleton cluster), or whose covariance
    /// is not positive definite (identical points and a zero floor), gets
    /// the covariance of the whole data set (plus the floor) instead of the
    /// singular one.
    ///
    /// All randomness comes from `rng`: the same seed gives the same model.
    /// Finally [`InitConfig::given`] replaces the parameters it holds.
    ///
    /// # Errors
    /// [`MixtureError::NoComponents`], [`MixtureError::EmptyData`],
    /// [`MixtureError::NoFeatures`], [`MixtureError::TooFewSamples`] (n < K),
    /// [`MixtureError::NonFiniteData`], [`MixtureError::TooFewDistinctPoints`]
    /// (k-means and random points); for `Explicit`,
    /// [`MixtureError::DimensionMismatch`] or [`MixtureError::CovarianceTypeMismatch`].
    pub(crate) fn initialise<R: Rng + ?Sized>(
        x: MatRef<'_, f64>,
        config: &InitConfig,
        rng: &mut R,
    ) -> Result<Self, MixtureError> {
        let model = Self::initialise_by_method(x, config, rng)?;
        config.given.apply(model)
    }

    /// [`initialise`](Self::initialise) without the given parameters.
    fn initialise_by_method<R: Rng + ?Sized>(
        x: MatRef<'_, f64>,
        config: &InitConfig,
        rng: &mut R,
    ) -> Result<Self, MixtureError> {
        let (covariance_type, floor) = (config.covariance_type, config.covariance_floor);
        if !floor.is_valid() {
            return Err(MixtureError::InvalidOption {
                name: "initial covariance floor",
                value: floor.value(),
            });
        }
        let (n, d, k) = (x.nrows(), x.ncols(), config.n_components);
        with_data(x, |data| check_training_data(data, n, k))?;
        match &config.method {
            &InitMethod::KMeans { max_rounds } => {
                let km = with_data(x, |data| cluster(data, k, max_rounds, rng))?;
                let resp = Mat::from_fn(n, k, |i, c| if km.labels()[i] == c { 1.0 } else { 0.0 });
                from_responsibilities(x, resp.as_ref(), covariance_type, floor)
            }
            InitMethod::RandomResponsibilities => {
                let resp = random_responsibilities(n, k, rng);
                from_responsibilities(x, resp.as_ref(), covariance_type, floor)
            }
            InitMethod::RandomPoints => random_points(x, k, covariance_type, floor, rng),
            InitMethod::Explicit(model) => {
                if model.n_features() != d {
                    return Err(MixtureError::DimensionMismatch {
                        what: "features of the explicit initial model",
                        expected: d,
                        found: model.n_features(),
                    });
                }
                if model.n_components() != k {
                    return Err(MixtureError::DimensionMismatch {
                        what: "components of the explicit initial model",
                        expected: k,
                        found: model.n_components(),
                    });
                }
                if model.covariance_type() != covariance_type {
                    return Err(MixtureError::CovarianceTypeMismatch {
                        expected: covariance_type,
                        found: model.covariance_type(),
                    });
                }
                Ok((**model).clone())
            }
        }
    }
}

/// `n x k` responsibilities, each row `k` uniform draws divided by their sum
/// (scikit-learn's `init_params="random"`; a row of zeros, impossible in
/// practice, gets `1/k` each).
pub(crate) fn random_responsibilities<R: Rng + ?Sized>(n: usize, k: usize, rng: &mut R) -> Mat<f64> {
    let mut resp = Mat::<f64>::zeros(n, k);
    for i in 0..n {
        let mut sum = 0.0;
        for c in 0..k {
            let v: f64 = rng.random();
            resp[(i, c)] = v;
            sum += v;
        }
        for c in 0..k {
            resp[(i, c)] = if sum > 0.0 {
                resp[(i, c)] / sum
            } else {
                1.0 / k as f64
            };
        }
    }
    resp
}

/// M-step estimates from responsibilities, with the data covariance for
/// components of fewer than two effective points or whose covariance is
/// singular (a cluster of identical points under a zero floor).
fn from_responsibilities(
    x: MatRef<'_, f64>,
    resp: MatRef<'_, f64>,
    covariance_type: CovarianceType,
    floor: Floor,
) -> Result<GaussianMixture, MixtureError> {
    let (d, k) = (x.ncols(), resp.ncols());
    let stats = SufficientStats::from_responsibilities(x, resp, covariance_type)?;
    let data_cov = data_covariance(x, floor)?;
    let floors = feature_floors(&stats, floor)?;
    let total = stats.total_mass();
    let mass = stats.mass();
    let ess = stats.effective_points();
    let weak = |c: usize| !(mass[c] > 0.0) || ess[c] < 2.0;
    let global_mean: Vec<f64> = (0..d)
        .map(|j| x.col(j).iter().sum::<f64>() / x.nrows() as f64)
        .collect();
    let means = Mat::from_fn(k, d, |c, j| {
        if mass[c] > 0.0 {
            stats.means()[(c, j)]
        } else {
            global_mean[j]
        }
    });
    let covariances = match stats.scatter() {
        Scatter::Full(s) => Covariances::Full(
            (0..k)
                .map(|c| {
                    let cov = Mat::from_fn(d, d, |i, j| {
                        s[c][(i, j)] / mass[c] + if i == j { floors[i] } else { 0.0 }
                    });
                    if weak(c) || Cholesky::new(cov.as_ref()).is_err() {
                        data_cov.clone()
                    } else {
                        cov
                    }
                })
                .collect(),
        ),
        Scatter::Diagonal(s) if covariance_type == CovarianceType::Diagonal => {
            let singular = |c: usize| (0..d).any(|j| !(s[(c, j)] / mass[c] + floors[j] > 0.0));
            Covariances::Diagonal(Mat::from_fn(k, d, |c, j| {
                if weak(c) || singular(c) {
                    data_cov[(j, j)]
                } else {
                    s[(c, j)] / mass[c] + floors[j]
                }
            }))
        }
        Scatter::Diagonal(s) => Covariances::Spherical(
            (0..k)
                .map(|c| {
                    let variance = (0..d).map(|j| s[(c, j)] / mass[c] + floors[j]).sum::<f64>() / d as f64;
                    if weak(c) || !(variance > 0.0) {
                        (0..d).map(|j| data_cov[(j, j)]).sum::<f64>() / d as f64
                    } else {
                        variance
                    }
                })
                .collect(),
        ),
        Scatter::Pooled(p) => Covariances::Tied(Mat::from_fn(d, d, |i, j| {
            p[(i, j)] / total + if i == j { floors[i] } else { 0.0 }
        })),
    };
    let mut weights: Vec<f64> = mass.iter().map(|m| (m / total).max(WEIGHT_FLOOR)).collect();
    let sum: f64 = weights.iter().sum();
    for w in &mut weights {
        *w /= sum;
    }
    let factors = build_factors(&covariances, k, d)?;
    Ok(GaussianMixture::assemble(weights, means, covariances, factors))
}

/// The maximum-likelihood covariance of all rows plus the floor `diag(f)`.
fn data_covariance(x: MatRef<'_, f64>, floor: Floor) -> Result<Mat<f64>, MixtureError> {
    let n = x.nrows();
    let ones = Mat::from_fn(n, 1, |_, _| 1.0);
    let stats = SufficientStats::from_responsibilities(x, ones.as_ref(), CovarianceType::Full)?;
    let Scatter::Full(s) = stats.scatter() else {
        unreachable!("full statistics have a full scatter")
    };
    let (d, floors) = (x.ncols(), feature_floors(&stats, floor)?);
    Ok(Mat::from_fn(d, d, |i, j| {
        s[0][(i, j)] / n as f64 + if i == j { floors[i] } else { 0.0 }
    }))
}

fn random_points<R: Rng + ?Sized>(
    x: MatRef<'_, f64>,
    k: usize,
    covariance_type: CovarianceType,
    floor: Floor,
    rng: &mut R,
) -> Result<GaussianMixture, MixtureError> {
    let (n, d) = (x.nrows(), x.ncols());
    // Random order of the rows (Fisher-Yates), then the first k distinct ones.
    let mut order: Vec<usize> = (0..n).collect();
    let mut chosen: Vec<usize> = Vec::with_capacity(k);
    for i in 0..n {
        let j = rng.random_range(i..n);
        order.swap(i, j);
        let cand = order[i];
        let distinct = chosen
            .iter()
            .all(|&c| (0..d).any(|col| x[(c, col)] != x[(cand, col)]));
        if distinct {
            chosen.push(cand);
            if chosen.len() == k {
                break;
            }
        }
    }
    if chosen.len() < k {
        return Err(MixtureError::TooFewDistinctPoints {
            distinct: chosen.len(),
            requested: k,
        });
    }
    let means = Mat::from_fn(k, d, |c, j| x[(chosen[c], j)]);
    let cov = data_covariance(x, floor)?;
    let covariances = match covariance_type {
        CovarianceType::Full => Covariances::Full(vec![cov; k]),
        CovarianceType::Tied => Covariances::Tied(cov),
        CovarianceType::Diagonal => Covariances::Diagonal(Mat::from_fn(k, d, |_, j| cov[(j, j)])),
        CovarianceType::Spherical => {
            Covariances::Spherical(vec![(0..d).map(|j| cov[(j, j)]).sum::<f64>() / d as f64; k])
        }
    };
    let factors = build_factors(&covariances, k, d)?;
    Ok(GaussianMixture::assemble(
        vec![1.0 / k as f64; k],
        means,
        covariances,
        factors,
    ))
}
