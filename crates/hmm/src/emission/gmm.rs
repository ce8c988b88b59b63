//! Gaussian-mixture emissions: one `mixture::GaussianMixture` per state.

use super::gaussian::{
    covariances_from_data, data_moments, draw_gaussian, mixture_err, mixture_options, sampling_factors,
};
use super::{Emission, EmissionDiagnostics, MergeStats, check_columns, check_states};
use crate::error::Table;
use crate::probability::{map_row, sample_index, validate_prior, validate_row};
use crate::simd::multiversion;
use crate::{HmmError, MStepOptions, Sequences};
use faer::{Mat, MatRef};
use linalg_kernels::fastexp;
use mixture::{CovarianceType, Covariances, GaussianMixture, MixtureError, SufficientStats};
use rand::Rng;
use rand_distr::StandardNormal;

/// Gaussian-mixture emissions: `b_j(x) = Σ_m w_jm N(x; μ_jm, Σ_jm)` with
/// `n_mix` components per state, all of one covariance type (full,
/// diagonal, spherical or tied — tied within each state).
///
/// E-step: with the within-state responsibilities
/// `r_tm(j) = w_jm N(x_t; μ_jm, Σ_jm) / b_j(x_t)`, the weights
/// `γ_t(j) r_tm(j)` are passed to [`SufficientStats::from_responsibilities`]
/// of state j's mixture; the M-step is that mixture's
/// [`m_step`](GaussianMixture::m_step) (exact EM: covariances are centred on
/// the *updated* means), with mixture weights `w_jm ∝ Σ_t γ_t(j) r_tm(j)`
/// (floored at `mixture::WEIGHT_FLOOR`), or their Dirichlet-MAP estimate
/// under [`MStepOptions::weight_prior`]. The within-state responsibilities
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

/// How [`GmmEmission::init_from_data`] initialises (hmmlearn's recipe): k-means
/// with K clusters on all rows assigns rows to states; k-means with `n_mix`
/// clusters on each state's rows gives its component means (a state with
/// fewer distinct rows than `n_mix` gets its centroid plus Gaussian jitter of
/// 0.1 data standard deviations); every covariance is the data covariance
/// plus `min_covar · I`; weights are uniform.
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
    /// Added to the diagonal of the data covariance (default 1e-3, as hmmlearn).
    pub min_covar: f64,
}

impl GmmInit {
    /// Everything from data, 100 Lloyd rounds, `min_covar = 1e-3`.
    #[must_use]
    pub fn new(n_mix: usize, covariance_type: CovarianceType) -> Self {
        Self {
            n_mix,
            covariance_type,
            weights: None,
            means: None,
            covariances: None,
            kmeans_rounds: 100,
            min_covar: 1e-3,
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

multiversion! {
    /// See [`exp_terms_body`].
    fn exp_terms(terms: &mut [f64], log_w: &[f64], max: &mut [f64], sum: &mut [f64]) -> Result<(), (usize, f64)> = exp_terms_body;
}

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
            *v = fastexp::exp(*v - s);
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

    fn log_likelihoods(&self, x: MatRef<'_, f64>) -> Result<Mat<f64>, HmmError> {
        let mut out = Mat::zeros(x.nrows(), self.n_states());
        for j in 0..self.n_states() {
            let st = self.state_terms(j, x)?;
            for (t, v) in out.col_mut(j).iter_mut().enumerate() {
                // A row where every component underflows has b_j(x_t) = 0.
                *v = if st.sum[t] > 0.0 {
                    st.max[t] + st.sum[t].ln()
                } else {
                    f64::NEG_INFINITY
                };
            }
        }
        Ok(out)
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
    ) -> Result<(Self, EmissionDiagnostics), HmmError> {
        let (k, n_mix) = (self.n_states(), self.n_mix());
        if stats.0.len() != k {
            return Err(HmmError::DimensionMismatch {
                what: "statistics states",
                expected: k,
                found: stats.0.len(),
            });
        }
        if let Some(prior) = &options.weight_prior {
            if prior.nrows() != k || prior.ncols() != n_mix {
                return Err(HmmError::DimensionMismatch {
                    what: "mixture weight prior (states x components)",
                    expected: k * n_mix,
                    found: prior.nrows() * prior.ncols(),
                });
            }
            for j in 0..k {
                let row: Vec<f64> = (0..n_mix).map(|m| prior[(j, m)]).collect();
                validate_prior(&row, Table::MixtureWeights, j)?;
            }
        }
        let map_weights = options.learn.weights && options.weight_prior.is_some();
        let opts = mixture_options(options, options.learn.weights && !map_weights);
        let mut diagnostics = EmissionDiagnostics::default();
        let mut mixtures = Vec::with_capacity(k);
        for (j, (mix, s)) in self.mixtures.iter().zip(&stats.0).enumerate() {
            let (mut new, d) = mix.m_step(s, &opts).map_err(mixture_err(Some(j)))?;
            let no_mass = !(s.total_mass() > 0.0);
            if no_mass {
                diagnostics.states_kept.push(j);
            } else {
                diagnostics.components_kept.extend(d.kept.iter().map(|&m| (j, m)));
            }
            diagnostics
                .degenerate_covariances
                .extend(d.degenerate.iter().map(|&m| (j, m)));
            diagnostics.tied_degenerate |= d.tied_degenerate;
            diagnostics
                .weights_floored
                .extend(d.weight_floored.iter().map(|&m| (j, m)));
            diagnostics.objective_decreased |= d.objective_decreased;
            diagnostics.objective_change += d.objective_change;
            if map_weights {
                let prior = options.weight_prior.as_ref().expect("checked above");
                let row: Vec<f64> = (0..n_mix).map(|m| prior[(j, m)]).collect();
                if let Some(w) = map_row(s.mass(), Some(&row), mix.weights()) {
                    new = GaussianMixture::new(w, new.means().to_owned(), new.covariances().clone())
                        .map_err(mixture_err(Some(j)))?;
                }
            }
            mixtures.push(new);
        }
        Ok((Self { mixtures }, diagnostics))
    }

    fn n_parameters(&self) -> usize {
        let (k, m, d) = (self.n_states(), self.n_mix(), self.n_features());
        k * ((m - 1) + m * d + self.covariance_type().n_parameters(m, d))
    }

    fn sample<R: Rng + ?Sized>(&self, states: &[usize], rng: &mut R) -> Result<Mat<f64>, HmmError> {
        check_states(states, self.n_states())?;
        let d = self.n_features();
        let factors: Vec<Vec<Mat<f64>>> = self
            .mixtures
            .iter()
            .enumerate()
            .map(|(j, mix)| sampling_factors(mix, j))
            .collect::<Result<_, _>>()?;
        let mut out = Mat::zeros(states.len(), d);
        let mut eps = vec![0.0; d];
        for (t, &j) in states.iter().enumerate() {
            let mix = &self.mixtures[j];
            let m = sample_index(mix.weights(), rng);
            draw_gaussian(
                mix.means().subrows(m, 1),
                &factors[j][m],
                rng,
                &mut eps,
                &mut out,
                t,
            );
        }
        Ok(out)
    }

    fn init_from_data<R: Rng + ?Sized>(
        data: &Sequences<'_>,
        n_states: usize,
        config: &Self::InitConfig,
        rng: &mut R,
    ) -> Result<Self, HmmError> {
        if n_states == 0 {
            return Err(HmmError::NoStates);
        }
        let n_mix = config.n_mix;
        if n_mix == 0 {
            return Err(HmmError::Mixture {
                state: None,
                source: MixtureError::NoComponents,
            });
        }
        let x = data.data();
        let d = x.ncols();
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
            None => {
                let km = mixture::kmeans::kmeans(x, n_states, config.kmeans_rounds, rng)
                    .map_err(mixture_err(None))?;
                let (_, cov) = data_moments(x);
                let sd: Vec<f64> = (0..d).map(|i| cov[(i, i)].sqrt()).collect();
                let mut means = Vec::with_capacity(n_states);
                for j in 0..n_states {
                    let rows: Vec<usize> = (0..x.nrows()).filter(|&i| km.labels()[i] == j).collect();
                    let xj = Mat::from_fn(rows.len(), d, |i, c| x[(rows[i], c)]);
                    let inner = if rows.len() >= n_mix {
                        mixture::kmeans::kmeans(xj.as_ref(), n_mix, config.kmeans_rounds, rng).ok()
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
                means
            }
        };
        let covariances = match &config.covariances {
            Some(c) => c.clone(),
            None => {
                let c = covariances_from_data(x, n_mix, config.covariance_type, config.min_covar)?;
                vec![c; n_states]
            }
        };
        let emission = Self::new(weights, means, covariances)?;
        if emission.n_states() != n_states || emission.n_mix() != n_mix {
            return Err(HmmError::DimensionMismatch {
                what: "given GMM parameters (states)",
                expected: n_states,
                found: emission.n_states(),
            });
        }
        emission.check_data(data)?;
        Ok(emission)
    }
}
