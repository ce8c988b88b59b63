//! Gaussian emissions (one Gaussian per state), built on `mixture::GaussianMixture`.

use faer::{Mat, MatMut, MatRef};
use linalg_kernels::Cholesky;
use mixture::floor::feature_scale;
use mixture::{CovarianceType, Covariances, Floor, GaussianMixture, MixtureError, SufficientStats};
use rand::Rng;
use rand_distr::StandardNormal;

use super::kmeans::{DEFAULT_KMEANS_RUNS, best_kmeans};
use super::{Emission, MergeStats, check_columns, check_states, init_checked, normal};
use crate::error::HmmError;
use crate::model::options::MStepOptions;
use crate::model::stats::FlatEmissionStats;
use crate::param::{Param, StepDiagnostics};
use crate::sequences::Sequences;
use em_core::ScaleStats;
use em_core::flat::{FlatError, FlatReader, FlatStats};

/// Gaussian emissions `b_j(x) = N(x; μ_j, Σ_j)` with full, diagonal,
/// spherical or tied covariances.
///
/// Stored as one [`GaussianMixture`] whose K components are the K states
/// (its weights are uniform and unused): its
/// [`log_prob_per_component`](GaussianMixture::log_prob_per_component) gives
/// the emission log-densities, and
/// [`SufficientStats::from_responsibilities`] with the posteriors `γ` give
/// the statistics of the update:
/// `μ_j = Σ_t γ_t(j) x_t / Σ_t γ_t(j)`,
/// `Σ_j = Σ_t γ_t(j) (x_t − μ_j)(x_t − μ_j)ᵀ / Σ_t γ_t(j)` bounded below by
/// `diag(f)`, `f` the covariance floor ([`MStepOptions::covariance_floor`],
/// by default `10⁻⁶` times the data's variance of each feature)
/// (diagonal: its diagonal; spherical: its mean variance; tied: pooled over
/// states), or their MAP estimates under a [`crate::NormalPrior`]
/// ([`MStepOptions::normal_prior`]; see there for the maths). A state with
/// no posterior mass (or all of it on one point) keeps its mean and
/// covariance.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianEmission {
    mixture: GaussianMixture,
}

/// Sufficient statistics of Gaussian emissions (the mixture crate's, with
/// states as components).
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianStats(pub SufficientStats);

impl MergeStats for GaussianStats {
    fn merge(&mut self, other: &Self) {
        self.0.merge(&other.0);
    }
}

/// The mixture statistics' flat form (see [`crate::HmmStats`]' module docs).
impl FlatStats for GaussianStats {
    fn write_flat(&self, out: &mut Vec<f64>) {
        self.0.write_flat(out);
    }

    fn read_flat(reader: &mut FlatReader<'_>) -> Result<Self, FlatError> {
        SufficientStats::read_flat(reader).map(Self)
    }

    fn shape(&self) -> Vec<usize> {
        self.0.shape()
    }

    fn merge(&mut self, other: &Self) {
        self.0.merge(&other.0);
    }
}

impl FlatEmissionStats for GaussianStats {
    fn n_states(&self) -> usize {
        self.0.n_components()
    }

    fn scale(&mut self, factor: f64) {
        ScaleStats::scale(&mut self.0, factor);
    }
}

/// How [`GaussianEmission::init_from_data`] initialises (hmmlearn's recipe).
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianInit {
    /// The covariance type of the emission.
    pub covariance_type: CovarianceType,
    /// Given means (K x d); `None`: k-means++ / Lloyd centroids of all rows.
    pub means: Option<Mat<f64>>,
    /// Given covariances; `None`: the data covariance (`n − 1` denominator)
    /// plus the floor `diag(f)` of `covariance_floor`, in the type's shape,
    /// for every state.
    pub covariances: Option<Covariances>,
    /// Lloyd rounds of the k-means initialisation.
    pub kmeans_rounds: usize,
    /// k-means runs (`≥ 1`; default [`DEFAULT_KMEANS_RUNS`]): the clustering
    /// with the lowest inertia is used.
    pub kmeans_runs: usize,
    /// Added to the diagonal of the data covariance (value > 0; default
    /// [`Floor::Relative`]`(1e-3)`: `10⁻³` times the data's variance of each
    /// feature; hmmlearn's `min_covar` is [`Floor::Absolute`]`(1e-3)`).
    pub covariance_floor: Floor,
}

impl GaussianInit {
    /// Means from k-means (the best of [`DEFAULT_KMEANS_RUNS`] runs of 100
    /// Lloyd rounds), covariances from the data, the
    /// initial floor [`DEFAULT_INIT_FLOOR`] relative to the data's variances.
    #[must_use]
    pub fn new(covariance_type: CovarianceType) -> Self {
        Self {
            covariance_type,
            means: None,
            covariances: None,
            kmeans_rounds: 100,
            kmeans_runs: DEFAULT_KMEANS_RUNS,
            covariance_floor: Floor::Relative(DEFAULT_INIT_FLOOR),
        }
    }
}

/// The default coefficient of the initial covariance floor of the Gaussian
/// and GMM emissions, `10⁻³` (hmmlearn's `min_covar`, here relative to the
/// data's variance of each feature).
pub const DEFAULT_INIT_FLOOR: f64 = 1e-3;

pub(crate) fn mixture_err(state: Option<usize>) -> impl Fn(MixtureError) -> HmmError {
    move |source| HmmError::Mixture { state, source }
}

/// The mixture blocks an HMM emission learns: means and covariances as
/// `options.learn` says, weights when `weights` is set.
pub(crate) fn mixture_learn(options: &MStepOptions, weights: bool) -> mixture::LearnSet {
    mixture::LearnSet::none()
        .set(mixture::Param::Weights, weights)
        .set(mixture::Param::Means, options.learn.contains(Param::Means))
        .set(
            mixture::Param::Covariances,
            options.learn.contains(Param::Covariances),
        )
}

/// Lower Cholesky factors of every component's covariance (for sampling).
pub(crate) fn sampling_factors(mixture: &GaussianMixture, state: usize) -> Result<Vec<Mat<f64>>, HmmError> {
    (0..mixture.n_components())
        .map(|c| {
            let cov = mixture.component_covariance(c).expect("component index in range");
            Cholesky::new(cov.as_ref())
                .map(|ch| ch.factor().to_owned())
                .map_err(|source| HmmError::Kernel { state, source })
        })
        .collect()
}

/// One row per entry of `states`: row t is `μ + L ε` (ε standard normal)
/// for the mean row and lower Cholesky factor `pick(states[t], rng)` gives
/// (`pick` may draw, e.g. a mixture component, before ε is drawn).
pub(crate) fn draw_rows<'m, R: Rng + ?Sized>(
    states: &[usize],
    d: usize,
    rng: &mut R,
    mut pick: impl FnMut(usize, &mut R) -> (MatRef<'m, f64>, &'m Mat<f64>),
) -> Mat<f64> {
    let mut out = Mat::zeros(states.len(), d);
    let mut eps = vec![0.0; d];
    for (t, &j) in states.iter().enumerate() {
        let (mean, l) = pick(j, rng);
        for e in eps.iter_mut() {
            *e = rng.sample(StandardNormal);
        }
        for r in 0..d {
            let mut v = mean[(0, r)];
            for c in 0..=r {
                v += l[(r, c)] * eps[c];
            }
            out[(t, r)] = v;
        }
    }
    out
}

/// Mean and covariance (`n − 1` denominator, `n` when n = 1) of the rows of `x`.
pub(crate) fn data_moments(x: MatRef<'_, f64>) -> (Vec<f64>, Mat<f64>) {
    let (n, d) = (x.nrows(), x.ncols());
    let mean: Vec<f64> = (0..d).map(|j| x.col(j).iter().sum::<f64>() / n as f64).collect();
    let denom = if n > 1 { (n - 1) as f64 } else { 1.0 };
    let mut cov = Mat::zeros(d, d);
    for a in 0..d {
        for b in 0..=a {
            let s: f64 = (0..n)
                .map(|i| (x[(i, a)] - mean[a]) * (x[(i, b)] - mean[b]))
                .sum();
            cov[(a, b)] = s / denom;
            cov[(b, a)] = s / denom;
        }
    }
    (mean, cov)
}

/// The data covariance plus the floor `diag(f)`, in the shape of `cov_type`
/// for `k` components: `f_j = c · s_j²` for [`Floor::Relative`]`(c)` (`s_j²`
/// the data's variance of feature j, at least `ε` times its mean squared, 1
/// for a column of zeros: `mixture::floor::feature_scale`), the
/// value itself for [`Floor::Absolute`].
pub(crate) fn covariances_from_data(
    x: MatRef<'_, f64>,
    k: usize,
    cov_type: CovarianceType,
    floor: Floor,
) -> Result<Covariances, HmmError> {
    if !(floor.is_valid() && floor.value() > 0.0) {
        return Err(HmmError::InvalidOption {
            what: "initial covariance floor",
            value: floor.value(),
        });
    }
    let d = x.ncols();
    let (mean, mut cov) = data_moments(x);
    for i in 0..d {
        let f = floor.at_scale(feature_scale(cov[(i, i)], mean[i]));
        if !f.is_normal() {
            return Err(HmmError::Mixture {
                state: None,
                source: MixtureError::ScaleOutOfRange {
                    feature: i,
                    variance: cov[(i, i)],
                },
            });
        }
        cov[(i, i)] += f;
    }
    Ok(match cov_type {
        CovarianceType::Full => Covariances::Full(vec![cov; k]),
        CovarianceType::Tied => Covariances::Tied(cov),
        CovarianceType::Diagonal => Covariances::Diagonal(Mat::from_fn(k, d, |_, j| cov[(j, j)])),
        CovarianceType::Spherical => {
            Covariances::Spherical(vec![(0..d).map(|j| cov[(j, j)]).sum::<f64>() / d as f64; k])
        }
    })
}

impl GaussianEmission {
    /// Validating constructor: means (K x d) and covariances of any type
    /// (K matrices, K x d variances, K variances or one shared matrix).
    ///
    /// # Errors
    /// [`HmmError::Mixture`] with the mixture crate's error naming the state
    /// (as its `component`): shapes, non-finite values, asymmetric or non-SPD
    /// covariances, non-positive variances; [`HmmError::NoStates`] for K = 0.
    pub fn new(means: Mat<f64>, covariances: Covariances) -> Result<Self, HmmError> {
        let k = means.nrows();
        if k == 0 {
            return Err(HmmError::NoStates);
        }
        let mixture =
            GaussianMixture::new(vec![1.0 / k as f64; k], means, covariances).map_err(mixture_err(None))?;
        Ok(Self { mixture })
    }

    /// Wraps a mixture whose components are the states (its weights are ignored).
    #[must_use]
    pub fn from_mixture(mixture: GaussianMixture) -> Self {
        Self { mixture }
    }

    /// The state means μ_j (K x d).
    #[must_use]
    pub fn means(&self) -> MatRef<'_, f64> {
        self.mixture.means()
    }

    /// The covariances, in the shape of their type.
    #[must_use]
    pub fn covariances(&self) -> &Covariances {
        self.mixture.covariances()
    }

    /// The covariance type.
    #[must_use]
    pub fn covariance_type(&self) -> CovarianceType {
        self.mixture.covariance_type()
    }

    /// The full d x d covariance of state `j` (`None` if `j ≥ K`).
    #[must_use]
    pub fn state_covariance(&self, j: usize) -> Option<Mat<f64>> {
        self.mixture.component_covariance(j)
    }

    /// The underlying mixture (components = states, uniform weights).
    #[must_use]
    pub fn mixture(&self) -> &GaussianMixture {
        &self.mixture
    }
}

impl Emission for GaussianEmission {
    type Stats = GaussianStats;
    type InitConfig = GaussianInit;

    fn n_states(&self) -> usize {
        self.mixture.n_components()
    }

    fn n_features(&self) -> usize {
        self.mixture.n_features()
    }

    fn check_data(&self, data: &Sequences<'_>) -> Result<(), HmmError> {
        check_columns(data, self.n_features())
    }

    fn log_likelihoods_into(&self, x: MatRef<'_, f64>, out: MatMut<'_, f64>) -> Result<(), HmmError> {
        self.mixture
            .log_prob_per_component_into(x, out)
            .map_err(mixture_err(None))
    }

    fn zero_stats(&self) -> Self::Stats {
        GaussianStats(
            SufficientStats::empty(self.n_states(), self.n_features(), self.covariance_type())
                .expect("K and d are positive in a valid model"),
        )
    }

    fn accumulate(
        &self,
        x: MatRef<'_, f64>,
        gamma: MatRef<'_, f64>,
        stats: &mut Self::Stats,
    ) -> Result<(), HmmError> {
        // One pass, centred on the current means (close to the weighted
        // means, so the centring correction loses little precision).
        let s =
            SufficientStats::from_responsibilities_centred(x, gamma, self.covariance_type(), self.means())
                .map_err(mixture_err(None))?;
        stats.0.try_merge(&s).map_err(mixture_err(None))
    }

    fn m_step(
        &self,
        stats: &Self::Stats,
        options: &MStepOptions,
    ) -> Result<(Self, StepDiagnostics), HmmError> {
        let prior = normal::priors(options, 1)?.map(|p| &p[0]);
        let (mixture, diagnostics) = normal::step(&self.mixture, &stats.0, options, prior, None)?;
        Ok((Self { mixture }, diagnostics))
    }

    /// The normal prior's log density ([`normal::NormalPrior`]) at the
    /// states' means and covariances.
    fn log_prior(&self, options: &MStepOptions) -> Result<Option<f64>, HmmError> {
        let prior = normal::priors(options, 1)?.map(|p| &p[0]);
        normal::log_prior(&self.mixture, prior, options, None)
    }

    fn n_parameters(&self) -> usize {
        let (k, d) = (self.n_states(), self.n_features());
        k * d + self.covariance_type().n_parameters(k, d)
    }

    /// Means then covariances of the states (as `options.learn` says), in
    /// the mixture crate's layout; the mixture's weights are not a parameter.
    fn flat_parameters(&self, options: &MStepOptions) -> Option<Vec<f64>> {
        let mut out = Vec::new();
        self.mixture
            .push_flat_parameters(mixture_learn(options, false), &mut out);
        Some(out)
    }

    /// Rebuilt by `GaussianMixture::new` (the weights kept).
    fn with_flat_parameters(&self, flat: &[f64], options: &MStepOptions) -> Option<Self> {
        self.mixture
            .with_flat_parameters_of(flat, mixture_learn(options, false))
            .map(Self::from_mixture)
    }

    fn sample<R: Rng + ?Sized>(&self, states: &[usize], rng: &mut R) -> Result<Mat<f64>, HmmError> {
        check_states(states, self.n_states())?;
        let factors = sampling_factors(&self.mixture, 0)?;
        let means = self.means();
        Ok(draw_rows(states, self.n_features(), rng, |j, _| {
            (means.subrows(j, 1), &factors[j])
        }))
    }

    fn init_from_data<R: Rng + ?Sized>(
        data: &Sequences<'_>,
        n_states: usize,
        config: &Self::InitConfig,
        rng: &mut R,
    ) -> Result<Self, HmmError> {
        init_checked(data, n_states, "rows of the given means (states)", || {
            let x = data.data();
            let means = match &config.means {
                Some(m) => m.clone(),
                None => best_kmeans(x, n_states, config.kmeans_rounds, config.kmeans_runs, rng)?
                    .centroids()
                    .to_owned(),
            };
            let covariances = match &config.covariances {
                Some(c) => c.clone(),
                None => covariances_from_data(x, n_states, config.covariance_type, config.covariance_floor)?,
            };
            Self::new(means, covariances)
        })
    }
}
