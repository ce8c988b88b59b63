//! Gaussian-mixture emissions: one `mixture::GaussianMixture` per state.

use em_core::{Adjustment, Event};
use faer::{Mat, MatMut, MatRef};
use linalg_kernels::fastexp;
use mixture::{
    CovarianceType, Covariances, Floor, GaussianMixture, MixtureError, SufficientStats, WEIGHT_FLOOR,
};
use rand::Rng;
use rand_distr::StandardNormal;

use super::gaussian::{
    DEFAULT_INIT_FLOOR, covariances_from_data, data_moments, draw_rows, mixture_err, mixture_learn,
    sampling_factors,
};
use super::kmeans::{DEFAULT_KMEANS_RUNS, best_kmeans};
use super::{Emission, MergeStats, check_columns, check_states, init_checked, normal};
use crate::error::{HmmError, Table};
use crate::model::options::MStepOptions;
use crate::model::prior::total;
use crate::model::stats::FlatEmissionStats;
use crate::param::{Param, StepDiagnostics};
use crate::probability::{dirichlet_log_density, map_row, prior_rows, sample_index, validate_row};
use crate::sequences::Sequences;
use em_core::ScaleStats;
use em_core::flat::{FlatError, FlatReader, FlatStats, tag, write_count, write_header};

/// Gaussian-mixture emissions: `b_j(x) = Σ_m w_jm N(x; μ_jm, Σ_jm)` with
/// `n_mix` components per state, all of one covariance type (full,
/// diagonal, spherical or tied — tied within each state).
///
/// E-step: with the within-state responsibilities
/// `r_tm(j) = w_jm N(x_t; μ_jm, Σ_jm) / b_j(x_t)`, the weights
/// `γ_t(j) r_tm(j)` are passed to [`SufficientStats::from_responsibilities`]
/// of state j's mixture; the M-step updates its means and covariances as
/// [`mixture::gaussian_update`] documents (maximum likelihood, or MAP under
/// [`MStepOptions::normal_prior`]; covariances centred on the *updated*
/// means; the floor a lower bound computed from the statistics of all
/// states, i.e. the whole data), with mixture weights
/// `w_jm ∝ Σ_t γ_t(j) r_tm(j)` (floored at `mixture::WEIGHT_FLOOR`), or their
/// Dirichlet-MAP estimate under [`MStepOptions::weight_prior`]. The within-state responsibilities
/// are recomputed in [`Emission::accumulate`] (one more density evaluation
/// per E-step, which keeps the emission trait free of caches).
#[derive(Debug, Clone, PartialEq)]
pub struct GmmEmission {
    mixtures: Vec<GaussianMixture>,
}

/// Per-state mixture statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct GmmStats(pub Vec<SufficientStats>);

impl MergeStats for GmmStats {
    fn merge(&mut self, other: &Self) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            a.merge(b);
        }
    }
}

const FLAT_TAG: u32 = tag(*b"HGMM");

/// `"HGMM"`, 1, K, then each state's mixture statistics (see
/// [`crate::HmmStats`]' module docs).
impl FlatStats for GmmStats {
    fn write_flat(&self, out: &mut Vec<f64>) {
        write_header(out, FLAT_TAG, 1);
        write_count(out, self.0.len());
        for s in &self.0 {
            s.write_flat(out);
        }
    }

    fn read_flat(reader: &mut FlatReader<'_>) -> Result<Self, FlatError> {
        reader.header("GMM emission statistics", FLAT_TAG, 1)?;
        let k = reader.count("states")?;
        // Each state's statistics take at least their header: K is bounded
        // by what the slice holds before anything is allocated for it.
        let mut states = Vec::new();
        for _ in 0..k {
            let s = SufficientStats::read_flat(reader)?;
            if let Some(first) = states.first().map(FlatStats::shape)
                && s.shape() != first
            {
                return Err(FlatError::Shape {
                    field: "state mixtures",
                    value: states.len() as f64,
                    requirement: format!("every state's mixture must have the shape {first:?}"),
                });
            }
            states.push(s);
        }
        Ok(Self(states))
    }

    /// K, then the states' mixture shape.
    fn shape(&self) -> Vec<usize> {
        let mut shape = vec![self.0.len()];
        shape.extend(self.0.first().map(FlatStats::shape).unwrap_or_default());
        shape
    }

    fn merge(&mut self, other: &Self) {
        MergeStats::merge(self, other);
    }
}

impl FlatEmissionStats for GmmStats {
    fn n_states(&self) -> usize {
        self.0.len()
    }

    /// Each state's mixture statistics scaled ([`ScaleStats::scale`]).
    fn scale(&mut self, factor: f64) {
        self.0.iter_mut().for_each(|s| s.scale(factor));
    }
}

/// How [`GmmEmission::init_from_data`] initialises (hmmlearn's recipe): k-means
/// with K clusters on all rows assigns rows to states; k-means with `n_mix`
/// clusters on each state's rows gives its component means (a state with
/// fewer distinct rows than `n_mix` gets its centroid plus Gaussian jitter of
/// 0.1 data standard deviations); every covariance is the data covariance
/// plus the initial floor (`covariance_floor`); weights are uniform.
#[derive(Debug, Clone, PartialEq)]
pub struct GmmInit {
    /// Components per state.
    pub n_mix: usize,
    /// The covariance type of every component.
    pub covariance_type: CovarianceType,
    /// Given weights (K x n_mix); `None`: uniform.
    pub weights: Option<Mat<f64>>,
    /// Given means (K matrices of n_mix x d); `None`: nested k-means.
    pub means: Option<Vec<Mat<f64>>>,
    /// Given covariances (one per state); `None`: from the data.
    pub covariances: Option<Vec<Covariances>>,
    /// Lloyd rounds of each k-means.
    pub kmeans_rounds: usize,
    /// Runs of each k-means (`≥ 1`; default [`DEFAULT_KMEANS_RUNS`]): the
    /// clustering with the lowest inertia is used.
    pub kmeans_runs: usize,
    /// Added to the diagonal of the data covariance (value > 0; default
    /// [`Floor::Relative`]`(`[`DEFAULT_INIT_FLOOR`]`)`: `10⁻³` times the data's
    /// variance of each feature; hmmlearn's `min_covar` is
    /// [`Floor::Absolute`]`(1e-3)`).
    pub covariance_floor: Floor,
}

impl GmmInit {
    /// Everything from data (each k-means the best of
    /// [`DEFAULT_KMEANS_RUNS`] runs of 100 Lloyd rounds), the relative initial floor
    /// [`DEFAULT_INIT_FLOOR`].
    #[must_use]
    pub fn new(n_mix: usize, covariance_type: CovarianceType) -> Self {
        Self {
            n_mix,
            covariance_type,
            weights: None,
            means: None,
            covariances: None,
            kmeans_rounds: 100,
            kmeans_runs: DEFAULT_KMEANS_RUNS,
            covariance_floor: Floor::Relative(DEFAULT_INIT_FLOOR),
        }
    }
}

impl GmmEmission {
    /// Validating constructor from the parameters: `weights` (K x n_mix, rows
    /// summing to 1), `means` (K matrices n_mix x d) and `covariances` (K,
    /// one per state, all of one type).
    ///
    /// # Errors
    /// [`HmmError::NoStates`]; [`HmmError::DimensionMismatch`];
    /// [`HmmError::InvalidProbability`] / [`HmmError::RowSum`] for the
    /// weights; [`HmmError::Mixture`] naming the state for invalid means or
    /// covariances.
    pub fn new(
        weights: Mat<f64>,
        means: Vec<Mat<f64>>,
        covariances: Vec<Covariances>,
    ) -> Result<Self, HmmError> {
        let k = weights.nrows();
        if k == 0 {
            return Err(HmmError::NoStates);
        }
        for (what, found) in [
            ("state means", means.len()),
            ("state covariances", covariances.len()),
        ] {
            if found != k {
                return Err(HmmError::DimensionMismatch {
                    what,
                    expected: k,
                    found,
                });
            }
        }
        let mut mixtures = Vec::with_capacity(k);
        for (j, (m, c)) in means.into_iter().zip(covariances).enumerate() {
            let row: Vec<f64> = (0..weights.ncols()).map(|c| weights[(j, c)]).collect();
            let row = validate_row(&row, Table::MixtureWeights, j)?;
            mixtures.push(GaussianMixture::new(row, m, c).map_err(mixture_err(Some(j)))?);
        }
        Self::from_mixtures(mixtures)
    }

    /// Wraps one mixture per state; all must share n_mix, d and the covariance type.
    ///
    /// # Errors
    /// [`HmmError::NoStates`] for an empty vector; [`HmmError::DimensionMismatch`]
    /// or [`HmmError::Mixture`] (`CovarianceTypeMismatch`) naming the state that differs.
    pub fn from_mixtures(mixtures: Vec<GaussianMixture>) -> Result<Self, HmmError> {
        let Some(first) = mixtures.first() else {
            return Err(HmmError::NoStates);
        };
        let (m, d, t) = (first.n_components(), first.n_features(), first.covariance_type());
        for (j, mix) in mixtures.iter().enumerate() {
            if mix.n_components() != m {
                return Err(HmmError::DimensionMismatch {
                    what: "mixture components of a state",
                    expected: m,
                    found: mix.n_components(),
                });
            }
            if mix.n_features() != d {
                return Err(HmmError::DimensionMismatch {
                    what: "features of a state's mixture",
                    expected: d,
                    found: mix.n_features(),
                });
            }
            if mix.covariance_type() != t {
                return Err(HmmError::Mixture {
                    state: Some(j),
                    source: MixtureError::CovarianceTypeMismatch {
                        expected: t,
                        found: mix.covariance_type(),
                    },
                });
            }
        }
        Ok(Self { mixtures })
    }

    /// The mixture of every state.
    #[must_use]
    pub fn mixtures(&self) -> &[GaussianMixture] {
        &self.mixtures
    }

    /// Components per state.
    #[must_use]
    pub fn n_mix(&self) -> usize {
        self.mixtures[0].n_components()
    }

    /// The covariance type.
    #[must_use]
    pub fn covariance_type(&self) -> CovarianceType {
        self.mixtures[0].covariance_type()
    }

    /// The mixture weights (K x n_mix).
    #[must_use]
    pub fn weights(&self) -> Mat<f64> {
        Mat::from_fn(self.mixtures.len(), self.n_mix(), |j, m| {
            self.mixtures[j].weights()[m]
        })
    }

    /// The component means of state `j` (n_mix x d). Panics if `j ≥ K`.
    #[must_use]
    pub fn means(&self, j: usize) -> MatRef<'_, f64> {
        self.mixtures[j].means()
    }

    /// The covariances of state `j`. Panics if `j ≥ K`.
    #[must_use]
    pub fn covariances(&self, j: usize) -> &Covariances {
        self.mixtures[j].covariances()
    }

    /// The weighted component terms of state `j` for the rows of `x`:
    /// `terms[(t, m)] = exp(ln(w_jm N(x_t; μ_jm, Σ_jm)) − s_t)` with the row
    /// maximum `s_t`, and the row sums `Σ_m terms[(t, m)]`, so that
    /// `ln b_j(x_t) = s_t + ln(sum_t)` and the within-state responsibilities
    /// are `terms / sum`. Exponentials through `linalg_kernels::fastexp`,
    /// vectorised over rows.
    fn state_terms(&self, j: usize, x: MatRef<'_, f64>) -> Result<StateTerms, HmmError> {
        let mix = &self.mixtures[j];
        let n = x.nrows();
        let lp = mix.log_prob_per_component(x).map_err(mixture_err(Some(j)))?;
        let mut terms = Vec::with_capacity(n * lp.ncols());
        for m in 0..lp.ncols() {
            terms.extend(lp.col(m).iter());
        }
        let mut max = vec![f64::NEG_INFINITY; n];
        let mut sum = vec![0.0; n];
        if let Err((t, value)) = exp_terms(&mut terms, mix.log_weights(), &mut max, &mut sum) {
            return Err(HmmError::InvalidLogLikelihood {
                row: t,
                state: j,
                value,
            });
        }
        Ok(StateTerms { terms, max, sum })
    }
}

/// See [`exp_terms_body`]; compiled for every instruction set of
/// `linalg_kernels::for_each_isa!`, chosen at run time (same bits on all).
fn exp_terms(terms: &mut [f64], log_w: &[f64], max: &mut [f64], sum: &mut [f64]) -> Result<(), (usize, f64)> {
    linalg_kernels::isa_dispatch!(exp_terms(terms, log_w, max, sum))
}

/// One module per instruction set: [`exp_terms_body`] compiled with that
/// set's target features (no fused multiply-adds: `$fma` unused).
macro_rules! isa_kernels {
    ($name:ident, $fma:literal $(, $features:literal)?) => {
        mod $name {
            use super::exp_terms_body;

            $(#[target_feature(enable = $features)])*
            pub(super) fn exp_terms(
                terms: &mut [f64],
                log_w: &[f64],
                max: &mut [f64],
                sum: &mut [f64],
            ) -> Result<(), (usize, f64)> {
                exp_terms_body(terms, log_w, max, sum)
            }
        }
    };
}

linalg_kernels::for_each_isa!(isa_kernels);

/// `terms` holds n x M log-densities column-major: adds `log_w[m]` to column
/// m, writes the row maxima into `max` and replaces every term by
/// `exp(term − max)` (fastexp), summing the rows into `sum`. Contiguous
/// column loops, vectorised. A NaN term is reported as `(row, value)`.
#[inline(always)]
fn exp_terms_body(
    terms: &mut [f64],
    log_w: &[f64],
    max: &mut [f64],
    sum: &mut [f64],
) -> Result<(), (usize, f64)> {
    let n = max.len();
    if n == 0 {
        return Ok(());
    }
    for (col, &lw) in terms.chunks_exact_mut(n).zip(log_w) {
        let mut bad = false;
        for (v, mx) in col.iter_mut().zip(max.iter_mut()) {
            *v += lw;
            bad |= v.is_nan();
            *mx = if *v > *mx { *v } else { *mx };
        }
        if bad {
            let t = col.iter().position(|v| v.is_nan()).unwrap_or(0);
            return Err((t, col[t]));
        }
    }
    for col in terms.chunks_exact_mut(n) {
        for ((v, &mx), acc) in col.iter_mut().zip(max.iter()).zip(sum.iter_mut()) {
            let s = if mx == f64::NEG_INFINITY { 0.0 } else { mx };
            *v = fastexp::exp_non_positive(*v - s);
            *acc += *v;
        }
    }
    Ok(())
}

/// See [`GmmEmission::state_terms`].
struct StateTerms {
    /// n x n_mix, column-major.
    terms: Vec<f64>,
    max: Vec<f64>,
    sum: Vec<f64>,
}

impl GmmEmission {
    /// The Dirichlet concentrations of each state's mixture weights, checked
    /// (states x components, each finite and `≥ 1`); `None` without.
    ///
    /// # Errors
    /// [`HmmError::DimensionMismatch`], [`HmmError::InvalidPrior`].
    fn weight_priors(&self, options: &MStepOptions) -> Result<Option<Vec<Vec<f64>>>, HmmError> {
        prior_rows(
            options.weight_prior.as_ref(),
            self.n_states(),
            self.n_mix(),
            "mixture weight prior (states x components)",
            Table::MixtureWeights,
        )
    }
}

impl Emission for GmmEmission {
    type Stats = GmmStats;
    type InitConfig = GmmInit;

    fn n_states(&self) -> usize {
        self.mixtures.len()
    }

    fn n_features(&self) -> usize {
        self.mixtures[0].n_features()
    }

    fn check_data(&self, data: &Sequences<'_>) -> Result<(), HmmError> {
        check_columns(data, self.n_features())
    }

    fn log_likelihoods_into(&self, x: MatRef<'_, f64>, mut out: MatMut<'_, f64>) -> Result<(), HmmError> {
        for j in 0..self.n_states() {
            let st = self.state_terms(j, x)?;
            for (t, v) in out.as_mut().col_mut(j).iter_mut().enumerate() {
                // A row where every component underflows has b_j(x_t) = 0.
                *v = if st.sum[t] > 0.0 {
                    st.max[t] + st.sum[t].ln()
                } else {
                    f64::NEG_INFINITY
                };
            }
        }
        Ok(())
    }

    fn zero_stats(&self) -> Self::Stats {
        GmmStats(
            (0..self.n_states())
                .map(|_| {
                    SufficientStats::empty(self.n_mix(), self.n_features(), self.covariance_type())
                        .expect("n_mix and d are positive in a valid model")
                })
                .collect(),
        )
    }

    fn accumulate(
        &self,
        x: MatRef<'_, f64>,
        gamma: MatRef<'_, f64>,
        stats: &mut Self::Stats,
    ) -> Result<(), HmmError> {
        let n = x.nrows();
        for j in 0..self.n_states() {
            let StateTerms { mut terms, sum, .. } = self.state_terms(j, x)?;
            // γ_t(j) r_tm(j) = γ_t(j) terms / Σ_m terms; a row with b_j(x_t) = 0
            // has no within-state weight.
            let scale: Vec<f64> = (0..n)
                .map(|t| if sum[t] > 0.0 { gamma[(t, j)] / sum[t] } else { 0.0 })
                .collect();
            if n > 0 {
                for col in terms.chunks_exact_mut(n) {
                    for (v, &f) in col.iter_mut().zip(&scale) {
                        *v *= f;
                    }
                }
            }
            let resp = MatRef::from_column_major_slice(&terms, n, self.n_mix());
            let s = SufficientStats::from_responsibilities(x, resp, self.covariance_type())
                .map_err(mixture_err(Some(j)))?;
            stats.0[j].try_merge(&s).map_err(mixture_err(Some(j)))?;
        }
        Ok(())
    }

    fn m_step(
        &self,
        stats: &Self::Stats,
        options: &MStepOptions,
    ) -> Result<(Self, StepDiagnostics), HmmError> {
        let k = self.n_states();
        if stats.0.len() != k {
            return Err(HmmError::DimensionMismatch {
                what: "statistics states",
                expected: k,
                found: stats.0.len(),
            });
        }
        let weight_priors = self.weight_priors(options)?;
        let normal_priors = normal::priors(options, k)?;
        let floors = normal::feature_floors(stats.0.iter(), self.n_features(), options.covariance_floor)?;
        let learn_weights = options.learn.contains(Param::Weights);
        let mut diagnostics = StepDiagnostics::default();
        let mut mixtures = Vec::with_capacity(k);
        for (j, (mix, s)) in self.mixtures.iter().zip(&stats.0).enumerate() {
            normal::check_stats(mix, s, Some(j))?;
            if !(s.total_mass() > 0.0) {
                diagnostics.push(Event::new(None, Adjustment::KeptWithoutMass).in_state(j));
                mixtures.push(mix.clone());
                continue;
            }
            let weights = if learn_weights {
                let prior = weight_priors.as_ref().map(|p| p[j].as_slice());
                new_weights(s.mass(), prior, mix.weights(), j, &mut diagnostics)
            } else {
                mix.weights().to_vec()
            };
            let prior = normal_priors.map(|p| &p[j]);
            let how = normal::Update::new(options, &floors, prior, Some(j));
            let (new, d) = normal::update(mix, s, weights, &how)?;
            diagnostics.absorb(d);
            mixtures.push(new);
        }
        Ok((Self { mixtures }, diagnostics))
    }

    /// For each state, the Dirichlet log density of its weights
    /// (`MStepOptions::weight_prior`) and the normal prior's log density
    /// ([`normal::NormalPrior`]) at its components.
    fn log_prior(&self, options: &MStepOptions) -> Result<Option<f64>, HmmError> {
        let weight_priors = self
            .weight_priors(options)?
            .filter(|_| options.learn.contains(Param::Weights));
        let normal_priors = normal::priors(options, self.n_states())?;
        let mut terms = Vec::with_capacity(2 * self.n_states());
        for (j, mix) in self.mixtures.iter().enumerate() {
            terms.push(
                weight_priors
                    .as_ref()
                    .map(|p| dirichlet_log_density(mix.weights(), &p[j])),
            );
            terms.push(normal::log_prior(
                mix,
                normal_priors.map(|p| &p[j]),
                options,
                Some(j),
            )?);
        }
        Ok(total(terms))
    }

    fn n_parameters(&self) -> usize {
        let (k, m, d) = (self.n_states(), self.n_mix(), self.n_features());
        k * ((m - 1) + m * d + self.covariance_type().n_parameters(m, d))
    }

    /// State by state, the state's mixture in the mixture crate's layout:
    /// weights, means, covariances (as `options.learn` says).
    fn flat_parameters(&self, options: &MStepOptions) -> Option<Vec<f64>> {
        let learn = mixture_learn(options, options.learn.contains(Param::Weights));
        let mut out = Vec::with_capacity(self.n_states() * self.mixtures[0].flat_len(learn));
        for mix in &self.mixtures {
            mix.push_flat_parameters(learn, &mut out);
        }
        Some(out)
    }

    /// Each state's mixture rebuilt by `GaussianMixture::new`, the emission
    /// by [`GmmEmission::from_mixtures`].
    fn with_flat_parameters(&self, flat: &[f64], options: &MStepOptions) -> Option<Self> {
        let learn = mixture_learn(options, options.learn.contains(Param::Weights));
        let per_state = self.mixtures[0].flat_len(learn);
        if flat.len() != self.n_states() * per_state {
            return None;
        }
        let mixtures = if per_state == 0 {
            self.mixtures.clone()
        } else {
            self.mixtures
                .iter()
                .zip(flat.chunks_exact(per_state))
                .map(|(mix, values)| mix.with_flat_parameters_of(values, learn))
                .collect::<Option<Vec<_>>>()?
        };
        Self::from_mixtures(mixtures).ok()
    }

    fn sample<R: Rng + ?Sized>(&self, states: &[usize], rng: &mut R) -> Result<Mat<f64>, HmmError> {
        check_states(states, self.n_states())?;
        let factors: Vec<Vec<Mat<f64>>> = self
            .mixtures
            .iter()
            .enumerate()
            .map(|(j, mix)| sampling_factors(mix, j))
            .collect::<Result<_, _>>()?;
        Ok(draw_rows(states, self.n_features(), rng, |j, rng| {
            let mix = &self.mixtures[j];
            let m = sample_index(mix.weights(), rng);
            (mix.means().subrows(m, 1), &factors[j][m])
        }))
    }

    fn init_from_data<R: Rng + ?Sized>(
        data: &Sequences<'_>,
        n_states: usize,
        config: &Self::InitConfig,
        rng: &mut R,
    ) -> Result<Self, HmmError> {
        init_checked(data, n_states, "given GMM parameters (states)", || {
            let n_mix = config.n_mix;
            if n_mix == 0 {
                return Err(HmmError::Mixture {
                    state: None,
                    source: MixtureError::NoComponents,
                });
            }
            let x = data.data();
            if n_mix > x.nrows() {
                // Fail fast: more components per state than observations.
                return Err(HmmError::Mixture {
                    state: None,
                    source: MixtureError::TooFewSamples {
                        n_samples: x.nrows(),
                        n_components: n_mix,
                    },
                });
            }
            let weights = config
                .weights
                .clone()
                .unwrap_or_else(|| Mat::from_fn(n_states, n_mix, |_, _| 1.0 / n_mix as f64));
            let means = match &config.means {
                Some(m) => m.clone(),
                None => nested_kmeans_means(x, n_states, n_mix, config, rng)?,
            };
            let covariances = match &config.covariances {
                Some(c) => c.clone(),
                None => {
                    let c = covariances_from_data(x, n_mix, config.covariance_type, config.covariance_floor)?;
                    vec![c; n_states]
                }
            };
            let emission = Self::new(weights, means, covariances)?;
            if emission.n_states() == n_states && emission.n_mix() != n_mix {
                return Err(HmmError::DimensionMismatch {
                    what: "components per state of the given GMM parameters",
                    expected: n_mix,
                    found: emission.n_mix(),
                });
            }
            Ok(emission)
        })
    }
}

/// The mixture weights of state `j` from the component masses: the
/// Dirichlet-MAP (or maximum-likelihood) row, each entry that was positive
/// raised to at least `mixture::WEIGHT_FLOOR` (reported) and the row
/// renormalised, so that no component gets weight exactly 0; the previous
/// row when the update has no mass.
fn new_weights(
    mass: &[f64],
    prior: Option<&[f64]>,
    previous: &[f64],
    j: usize,
    diagnostics: &mut StepDiagnostics,
) -> Vec<f64> {
    let Some(mut row) = map_row(mass, prior, previous) else {
        return previous.to_vec();
    };
    let mut floored = false;
    for (c, w) in row.iter_mut().enumerate() {
        if previous[c] > 0.0 && *w < WEIGHT_FLOOR {
            *w = WEIGHT_FLOOR;
            floored = true;
            let event = Event::new(Some(Param::Weights), Adjustment::ProbabilityFloored);
            diagnostics.push(event.in_state(j).in_component(c));
        }
    }
    if floored {
        let total: f64 = row.iter().sum();
        row.iter_mut().for_each(|w| *w /= total);
    }
    row
}

/// hmmlearn's component means: k-means with `n_states` clusters on all rows
/// assigns rows to states, k-means with `n_mix` clusters on each state's
/// rows gives its means; a state with fewer rows than `n_mix` (or whose
/// k-means fails) gets its centroid plus Gaussian jitter of 0.1 data
/// standard deviations.
fn nested_kmeans_means<R: Rng + ?Sized>(
    x: MatRef<'_, f64>,
    n_states: usize,
    n_mix: usize,
    config: &GmmInit,
    rng: &mut R,
) -> Result<Vec<Mat<f64>>, HmmError> {
    let d = x.ncols();
    let (rounds, runs) = (config.kmeans_rounds, config.kmeans_runs);
    let km = best_kmeans(x, n_states, rounds, runs, rng)?;
    let (_, cov) = data_moments(x);
    let sd: Vec<f64> = (0..d).map(|i| cov[(i, i)].sqrt()).collect();
    let mut means = Vec::with_capacity(n_states);
    for j in 0..n_states {
        let rows: Vec<usize> = (0..x.nrows()).filter(|&i| km.labels()[i] == j).collect();
        let xj = Mat::from_fn(rows.len(), d, |i, c| x[(rows[i], c)]);
        let inner = if rows.len() >= n_mix {
            best_kmeans(xj.as_ref(), n_mix, rounds, runs, rng).ok()
        } else {
            None
        };
        means.push(match inner {
            Some(inner) => inner.centroids().to_owned(),
            None => {
                let centroid = km.centroids();
                Mat::from_fn(n_mix, d, |_, c| {
                    let e: f64 = rng.sample(StandardNormal);
                    centroid[(j, c)] + 0.1 * sd[c] * e
                })
            }
        });
    }
    Ok(means)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Terms, maxima and sums of one variant on a fixed input.
    type Terms = (Vec<u64>, Vec<u64>, Vec<u64>);

    fn bits(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// n x 3 log-densities with `−∞` entries and a row of `−∞`, weights.
    fn input(n: usize) -> (Vec<f64>, Vec<f64>) {
        let terms = (0..3 * n)
            .map(|i| match i % 11 {
                0 => f64::NEG_INFINITY,
                r => -0.37 * (i % 97) as f64 - 40.0 * f64::from(r as u8 % 3),
            })
            .collect();
        (terms, vec![0.2f64.ln(), 0.3f64.ln(), 0.5f64.ln()])
    }

    fn run(f: impl Fn(&mut [f64], &[f64], &mut [f64], &mut [f64]) -> Result<(), (usize, f64)>) -> Terms {
        let n = 157;
        let (mut terms, log_w) = input(n);
        for t in [3, 50] {
            for m in 0..3 {
                terms[m * n + t] = f64::NEG_INFINITY;
            }
        }
        let (mut max, mut sum) = (vec![f64::NEG_INFINITY; n], vec![0.0; n]);
        f(&mut terms, &log_w, &mut max, &mut sum).unwrap();
        (bits(&terms), bits(&max), bits(&sum))
    }

    /// Every instruction-set variant this CPU can run gives the bits of the
    /// body compiled for the baseline target.
    #[test]
    fn every_instruction_set_gives_identical_terms() {
        let reference = run(exp_terms_body);
        assert_eq!(run(exp_terms), reference, "dispatched");
        assert_eq!(run(baseline::exp_terms), reference, "baseline");
        #[cfg(target_arch = "x86_64")]
        {
            let isa = linalg_kernels::isa::Isa::supported();
            if isa.has_avx2() {
                // SAFETY: the CPU has AVX2 and FMA (checked just above).
                assert_eq!(
                    run(|a, b, c, d| unsafe { avx2::exp_terms(a, b, c, d) }),
                    reference,
                    "AVX2"
                );
            }
            if isa.has_avx512() {
                // SAFETY: the CPU has AVX-512 F, VL and DQ (checked just above).
                assert_eq!(
                    run(|a, b, c, d| unsafe { avx512::exp_terms(a, b, c, d) }),
                    reference,
                    "AVX-512"
                );
            }
        }
        // A NaN term is located.
        let (mut terms, log_w) = input(4);
        terms[4 + 2] = f64::NAN;
        let (mut max, mut sum) = (vec![f64::NEG_INFINITY; 4], vec![0.0; 4]);
        assert!(matches!(exp_terms(&mut terms, &log_w, &mut max, &mut sum), Err((2, v)) if v.is_nan()));
    }
}
