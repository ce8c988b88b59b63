//! Poisson emissions: independent Poisson counts per feature.

use em_core::{Adjustment, Event, Floor};
use faer::{Mat, MatMut, MatRef};
use rand::Rng;
use rand_distr::{Distribution, Poisson};
use statrs::function::factorial::{self, MAX_FACTORIAL};
use statrs::function::gamma;

use super::kmeans::{DEFAULT_KMEANS_RUNS, best_kmeans};
use super::{Emission, MergeStats, check_columns, check_states, init_checked};
use crate::error::HmmError;
use crate::model::options::MStepOptions;
use crate::model::stats::FlatEmissionStats;
use crate::param::{Param, StepDiagnostics};
use crate::sequences::Sequences;
use em_core::flat::{FlatError, FlatReader, FlatStats, tag, write_count, write_header};

/// Poisson emissions: in state j each feature c is an independent count
/// `x_c ~ Poisson(λ_jc)`:
/// `ln b_j(x) = Σ_c (x_c ln λ_jc − λ_jc − ln x_c!)` (with `0 · ln 0 = 0`, so a
/// rate of 0 emits only zeros).
///
/// Observations must be non-negative integers stored as `f64`
/// ([`HmmError::InvalidCount`] otherwise). M-step:
/// `λ_jc = Σ_t γ_t(j) x_tc / Σ_t γ_t(j)` (learned with [`crate::Param::Rates`],
/// as the rates are the state means), or its MAP estimate under a
/// [`GammaPrior`] (`MStepOptions::rate_prior`); a state without posterior
/// mass keeps its rates.
#[derive(Debug, Clone, PartialEq)]
pub struct PoissonEmission {
    rates: Mat<f64>,
    log_rates: Mat<f64>,
}

/// The conjugate prior of the rates: `p(λ_jc) ∝ λ_jc^{α_jc} e^{−β_jc λ_jc}`
/// (a Gamma density of shape `α + 1` and rate `β`), independent over states
/// and features. The MAP update maximises
/// `Σ_t γ_t(j) ln Poisson(x_tc; λ) + α ln λ − β λ`:
/// `λ_jc = (α_jc + Σ_t γ_t(j) x_tc) / (β_jc + Σ_t γ_t(j))`, so `α` acts as
/// prior counts over `β` prior observations; `α = β = 0` (the default,
/// [`GammaPrior::none`]) is maximum likelihood. (hmmlearn's PoissonHMM
/// divides by `β` plus the mass of *all* states and scales the state's mean
/// by that total, which is not the MAP estimate of its prior unless there
/// is one state.)
#[derive(Debug, Clone, PartialEq)]
pub struct GammaPrior {
    /// `α ≥ 0` (K x d).
    pub shape: Mat<f64>,
    /// `β ≥ 0` (K x d).
    pub rate: Mat<f64>,
}

impl GammaPrior {
    /// Maximum likelihood for `k` states and `d` features: `α = β = 0`.
    #[must_use]
    pub fn none(k: usize, d: usize) -> Self {
        Self {
            shape: Mat::zeros(k, d),
            rate: Mat::zeros(k, d),
        }
    }

    /// `Σ_jc α_jc ln λ_jc − β_jc λ_jc`: the log density of the prior at
    /// `rates`, up to its normalising constant (a rate of 0 with `α = 0`
    /// adds nothing).
    fn log_density(&self, rates: &Mat<f64>) -> f64 {
        let (k, d) = (rates.nrows(), rates.ncols());
        (0..k)
            .flat_map(|j| (0..d).map(move |c| (j, c)))
            .map(|(j, c)| {
                let (alpha, beta, rate) = (self.shape[(j, c)], self.rate[(j, c)], rates[(j, c)]);
                let log_term = if alpha > 0.0 { alpha * rate.ln() } else { 0.0 };
                log_term - beta * rate
            })
            .sum()
    }

    /// Checks the shapes (K x d) and values (finite, `≥ 0`).
    ///
    /// # Errors
    /// [`HmmError::PriorShape`] or [`HmmError::InvalidPriorValue`] naming
    /// the parameter and the entry.
    pub fn check(&self, k: usize, d: usize) -> Result<(), HmmError> {
        for (parameter, m) in [("rate prior shape", &self.shape), ("rate prior rate", &self.rate)] {
            if (m.nrows(), m.ncols()) != (k, d) {
                return Err(HmmError::PriorShape {
                    parameter,
                    state: None,
                    expected: (k, d),
                    found: (m.nrows(), m.ncols()),
                });
            }
            for j in 0..k {
                for c in 0..d {
                    let value = m[(j, c)];
                    if !(value >= 0.0 && value.is_finite()) {
                        return Err(HmmError::InvalidPriorValue {
                            parameter,
                            state: None,
                            index: (j, c),
                            value,
                        });
                    }
                }
            }
        }
        Ok(())
    }
}

/// Sufficient statistics: `Σ_t γ_t(j)` and `Σ_t γ_t(j) x_t` per state.
#[derive(Debug, Clone, PartialEq)]
pub struct PoissonStats {
    mass: Vec<f64>,
    /// K x d.
    sums: Mat<f64>,
}

impl PoissonStats {
    /// `Σ_t γ_t(j)` per state.
    #[must_use]
    pub fn mass(&self) -> &[f64] {
        &self.mass
    }

    /// `Σ_t γ_t(j) x_t` (K x d).
    #[must_use]
    pub fn sums(&self) -> MatRef<'_, f64> {
        self.sums.as_ref()
    }
}

impl MergeStats for PoissonStats {
    fn merge(&mut self, other: &Self) {
        for (a, b) in self.mass.iter_mut().zip(&other.mass) {
            *a += b;
        }
        self.sums += &other.sums;
    }
}

const FLAT_TAG: u32 = tag(*b"HPOI");

/// `"HPOI"`, 1, K, d, then the masses and the sums (see
/// [`crate::HmmStats`]' module docs).
impl FlatStats for PoissonStats {
    fn write_flat(&self, out: &mut Vec<f64>) {
        let (k, d) = (self.sums.nrows(), self.sums.ncols());
        write_header(out, FLAT_TAG, 1);
        write_count(out, k);
        write_count(out, d);
        out.extend(&self.mass);
        out.extend((0..k * d).map(|i| self.sums[(i / d, i % d)]));
    }

    fn read_flat(reader: &mut FlatReader<'_>) -> Result<Self, FlatError> {
        reader.header("Poisson emission statistics", FLAT_TAG, 1)?;
        let k = reader.count("states")?;
        let d = reader.count("features")?;
        let mass = reader.take("state masses", &[k])?.to_vec();
        let sums = reader.take("weighted sums", &[k, d])?;
        Ok(Self {
            mass,
            sums: Mat::from_fn(k, d, |j, c| sums[j * d + c]),
        })
    }

    fn shape(&self) -> Vec<usize> {
        vec![self.sums.nrows(), self.sums.ncols()]
    }

    fn merge(&mut self, other: &Self) {
        MergeStats::merge(self, other);
    }
}

impl FlatEmissionStats for PoissonStats {
    fn n_states(&self) -> usize {
        self.mass.len()
    }

    fn scale(&mut self, factor: f64) {
        self.mass.iter_mut().for_each(|m| *m *= factor);
        self.sums *= faer::Scale(factor);
    }
}

/// How [`PoissonEmission::init_from_data`] initialises: given rates, or the
/// k-means centroids of the counts (each rate of feature c at least
/// `min_rate`, by default `10⁻³` times the mean count of feature c, so that
/// rare events, means far below 1, are not floored above their rate).
#[derive(Debug, Clone, PartialEq)]
pub struct PoissonInit {
    /// Given rates (K x d); `None`: k-means centroids.
    pub rates: Option<Mat<f64>>,
    /// Lloyd rounds of the k-means initialisation.
    pub kmeans_rounds: usize,
    /// k-means runs (`≥ 1`; default [`DEFAULT_KMEANS_RUNS`]): the clustering
    /// with the lowest inertia is used.
    pub kmeans_runs: usize,
    /// Smallest initial rate (a centroid of zeros would otherwise start at 0
    /// and stay there; value > 0): [`Floor::Relative`]`(c)` is `c` times the
    /// feature's mean count (`c` itself for a feature that is always 0),
    /// [`Floor::Absolute`] a fixed rate.
    pub min_rate: Floor,
}

impl Default for PoissonInit {
    /// k-means (the best of [`DEFAULT_KMEANS_RUNS`] runs of 100 rounds),
    /// `min_rate` `10⁻³` times the mean count.
    fn default() -> Self {
        Self {
            rates: None,
            kmeans_rounds: 100,
            kmeans_runs: DEFAULT_KMEANS_RUNS,
            min_rate: Floor::Relative(1e-3),
        }
    }
}

/// `ln x!` for a non-negative integer `x`: statrs's table of factorials up
/// to 170!, `ln Γ(x + 1)` above (counts beyond `u64` included).
pub(crate) fn ln_factorial(x: f64) -> f64 {
    if x <= MAX_FACTORIAL as f64 {
        factorial::ln_factorial(x as u64)
    } else {
        gamma::ln_gamma(x + 1.0)
    }
}

fn is_count(v: f64) -> bool {
    v >= 0.0 && v.fract() == 0.0 && v.is_finite()
}

impl PoissonEmission {
    /// Validating constructor from the K x d rates (finite, `≥ 0`).
    ///
    /// # Errors
    /// [`HmmError::NoStates`], [`HmmError::NoFeatures`],
    /// [`HmmError::InvalidRate`] naming the state and feature.
    pub fn new(rates: Mat<f64>) -> Result<Self, HmmError> {
        if rates.nrows() == 0 {
            return Err(HmmError::NoStates);
        }
        if rates.ncols() == 0 {
            return Err(HmmError::NoFeatures);
        }
        for j in 0..rates.nrows() {
            for c in 0..rates.ncols() {
                let value = rates[(j, c)];
                if !(value >= 0.0 && value.is_finite()) {
                    return Err(HmmError::InvalidRate {
                        state: j,
                        feature: c,
                        value,
                    });
                }
            }
        }
        let log_rates = Mat::from_fn(rates.nrows(), rates.ncols(), |j, c| rates[(j, c)].ln());
        Ok(Self { rates, log_rates })
    }

    /// The rates λ (K x d).
    #[must_use]
    pub fn rates(&self) -> MatRef<'_, f64> {
        self.rates.as_ref()
    }
}

impl Emission for PoissonEmission {
    type Stats = PoissonStats;
    type InitConfig = PoissonInit;

    fn n_states(&self) -> usize {
        self.rates.nrows()
    }

    fn n_features(&self) -> usize {
        self.rates.ncols()
    }

    fn check_data(&self, data: &Sequences<'_>) -> Result<(), HmmError> {
        check_columns(data, self.n_features())?;
        let x = data.data();
        for (sequence, time, row) in data.positions() {
            for col in 0..x.ncols() {
                let value = x[(row, col)];
                if !is_count(value) {
                    return Err(HmmError::InvalidCount {
                        sequence,
                        time,
                        row,
                        col,
                        value,
                    });
                }
            }
        }
        Ok(())
    }

    fn log_likelihoods_into(&self, x: MatRef<'_, f64>, mut out: MatMut<'_, f64>) -> Result<(), HmmError> {
        let (n, k, d) = (x.nrows(), self.n_states(), self.n_features());
        if x.ncols() != d {
            return Err(HmmError::DimensionMismatch {
                what: "observation columns",
                expected: d,
                found: x.ncols(),
            });
        }
        out.fill(0.0);
        for c in 0..d {
            for t in 0..n {
                let v = x[(t, c)];
                if !is_count(v) {
                    return Err(HmmError::InvalidCount {
                        sequence: 0,
                        time: t,
                        row: t,
                        col: c,
                        value: v,
                    });
                }
                let lf = ln_factorial(v);
                for j in 0..k {
                    let term = if v == 0.0 { 0.0 } else { v * self.log_rates[(j, c)] };
                    out[(t, j)] += term - self.rates[(j, c)] - lf;
                }
            }
        }
        Ok(())
    }

    fn zero_stats(&self) -> Self::Stats {
        PoissonStats {
            mass: vec![0.0; self.n_states()],
            sums: Mat::zeros(self.n_states(), self.n_features()),
        }
    }

    fn accumulate(
        &self,
        x: MatRef<'_, f64>,
        gamma: MatRef<'_, f64>,
        stats: &mut Self::Stats,
    ) -> Result<(), HmmError> {
        for j in 0..self.n_states() {
            let g = gamma.col(j);
            stats.mass[j] += g.iter().sum::<f64>();
            for c in 0..self.n_features() {
                stats.sums[(j, c)] += g.iter().zip(x.col(c).iter()).map(|(a, b)| a * b).sum::<f64>();
            }
        }
        Ok(())
    }

    fn m_step(
        &self,
        stats: &Self::Stats,
        options: &MStepOptions,
    ) -> Result<(Self, StepDiagnostics), HmmError> {
        let (k, d) = (self.n_states(), self.n_features());
        if stats.mass.len() != k || stats.sums.ncols() != d {
            return Err(HmmError::DimensionMismatch {
                what: "Poisson statistics (states)",
                expected: k,
                found: stats.mass.len(),
            });
        }
        let mut diagnostics = StepDiagnostics::default();
        if !options.learn.contains(Param::Rates) {
            return Ok((self.clone(), diagnostics));
        }
        let none = GammaPrior::none(k, d);
        let prior = options.rate_prior.as_ref().unwrap_or(&none);
        prior.check(k, d)?;
        let mut rates = self.rates.clone();
        for j in 0..k {
            if stats.mass[j] > 0.0 {
                for c in 0..d {
                    let (alpha, beta) = (prior.shape[(j, c)], prior.rate[(j, c)]);
                    rates[(j, c)] = ((alpha + stats.sums[(j, c)]) / (beta + stats.mass[j])).max(0.0);
                }
            } else {
                diagnostics.push(Event::new(Some(Param::Rates), Adjustment::KeptWithoutMass).in_state(j));
            }
        }
        Ok((Self::new(rates)?, diagnostics))
    }

    /// The Gamma prior's log density ([`GammaPrior`]) at the rates.
    fn log_prior(&self, options: &MStepOptions) -> Result<Option<f64>, HmmError> {
        match &options.rate_prior {
            Some(prior) if options.learn.contains(Param::Rates) => {
                prior.check(self.n_states(), self.n_features())?;
                Ok(Some(prior.log_density(&self.rates)))
            }
            _ => Ok(None),
        }
    }

    fn n_parameters(&self) -> usize {
        self.n_states() * self.n_features()
    }

    /// The rates `λ_jc`, state-major, when `options.learn` has
    /// [`Param::Rates`].
    fn flat_parameters(&self, options: &MStepOptions) -> Option<Vec<f64>> {
        let (k, d) = (self.n_states(), self.n_features());
        if !options.learn.contains(Param::Rates) {
            return Some(Vec::new());
        }
        Some(
            (0..k)
                .flat_map(|j| (0..d).map(move |c| self.rates[(j, c)]))
                .collect(),
        )
    }

    /// Rebuilt by [`PoissonEmission::new`] (rates finite and `≥ 0`). A rate
    /// that is positive in `self` must stay positive: a rate of 0 emits only
    /// zeros, so EM would never move it again.
    fn with_flat_parameters(&self, flat: &[f64], options: &MStepOptions) -> Option<Self> {
        let (k, d) = (self.n_states(), self.n_features());
        if !options.learn.contains(Param::Rates) {
            return flat.is_empty().then(|| self.clone());
        }
        if flat.len() != k * d {
            return None;
        }
        let rates = Mat::from_fn(k, d, |j, c| flat[j * d + c]);
        let absorbed = (0..k).any(|j| (0..d).any(|c| self.rates[(j, c)] > 0.0 && rates[(j, c)] == 0.0));
        if absorbed {
            return None;
        }
        Self::new(rates).ok()
    }

    fn sample<R: Rng + ?Sized>(&self, states: &[usize], rng: &mut R) -> Result<Mat<f64>, HmmError> {
        check_states(states, self.n_states())?;
        let mut out = Mat::zeros(states.len(), self.n_features());
        for (t, &j) in states.iter().enumerate() {
            for c in 0..self.n_features() {
                let lambda = self.rates[(j, c)];
                out[(t, c)] = if lambda == 0.0 {
                    0.0
                } else {
                    Poisson::new(lambda)
                        .map_err(|_| HmmError::InvalidRate {
                            state: j,
                            feature: c,
                            value: lambda,
                        })?
                        .sample(rng)
                };
            }
        }
        Ok(out)
    }

    fn init_from_data<R: Rng + ?Sized>(
        data: &Sequences<'_>,
        n_states: usize,
        config: &Self::InitConfig,
        rng: &mut R,
    ) -> Result<Self, HmmError> {
        init_checked(data, n_states, "rows of the given rates (states)", || {
            let rates = match &config.rates {
                Some(r) => r.clone(),
                None => {
                    if !(config.min_rate.is_valid() && config.min_rate.value() > 0.0) {
                        return Err(HmmError::InvalidOption {
                            what: "min_rate",
                            value: config.min_rate.value(),
                        });
                    }
                    let x = data.data();
                    let km = best_kmeans(x, n_states, config.kmeans_rounds, config.kmeans_runs, rng)?;
                    let c = km.centroids();
                    let floors: Vec<f64> = (0..x.ncols())
                        .map(|f| {
                            let mean = x.col(f).iter().sum::<f64>() / x.nrows() as f64;
                            config.min_rate.at_scale(if mean > 0.0 { mean } else { 1.0 })
                        })
                        .collect();
                    Mat::from_fn(c.nrows(), c.ncols(), |j, f| c[(j, f)].max(floors[f]))
                }
            };
            Self::new(rates)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_factorial_is_accurate() {
        let mut exact = 0.0f64;
        for n in 1..=400u32 {
            exact += f64::from(n).ln();
            let got = ln_factorial(f64::from(n));
            assert!(
                (got - exact).abs() <= 1e-13 * exact.max(1.0),
                "{n}: {got} vs {exact}"
            );
        }
        assert_eq!(ln_factorial(0.0), 0.0);
        assert_eq!(ln_factorial(1.0), 0.0);
        // Beyond u64: Stirling's leading terms agree to far better than 1e-13.
        let n = 1e25f64;
        let stirling = (n + 0.5) * n.ln() - n + 0.5 * linalg_kernels::LN_2PI + 1.0 / (12.0 * n);
        assert!((ln_factorial(n) - stirling).abs() <= 1e-13 * stirling);
    }

    #[test]
    fn the_initial_rate_floor_is_relative_to_the_mean_count() {
        use rand::SeedableRng;
        // A rare event: one count in 2000 steps (mean 5e-4), and a feature
        // that is always 0.
        let x = Mat::from_fn(2000, 2, |i, f| if i == 7 && f == 0 { 1.0 } else { 0.0 });
        let data = Sequences::new(x.as_ref(), &[2000]).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let init = |min_rate| PoissonInit {
            min_rate,
            ..PoissonInit::default()
        };
        let e = PoissonEmission::init_from_data(&data, 2, &init(Floor::Relative(1e-3)), &mut rng).unwrap();
        let rates = e.rates();
        let smallest = (0..2).map(|j| rates[(j, 0)]).fold(f64::INFINITY, f64::min);
        assert!((smallest - 1e-3 * 5e-4).abs() < 1e-15, "{rates:?}");
        // A feature of zeros takes the coefficient itself.
        assert_eq!((rates[(0, 1)], rates[(1, 1)]), (1e-3, 1e-3));
        // hmmlearn's absolute floor is twice the event's own rate.
        let e = PoissonEmission::init_from_data(&data, 2, &init(Floor::Absolute(1e-3)), &mut rng).unwrap();
        assert!((0..2).all(|j| e.rates()[(j, 0)] >= 1e-3), "{:?}", e.rates());
        let bad = PoissonEmission::init_from_data(&data, 2, &init(Floor::Relative(0.0)), &mut rng);
        assert!(matches!(
            bad,
            Err(HmmError::InvalidOption { what: "min_rate", .. })
        ));
    }

    #[test]
    fn log_likelihood_matches_the_formula() {
        let e = PoissonEmission::new(faer::mat![[2.0, 0.0], [0.5, 3.0]]).unwrap();
        let x = faer::mat![[3.0, 0.0], [0.0, 2.0]];
        let lb = e.log_likelihoods(x.as_ref()).unwrap();
        let expected = 3.0 * 2f64.ln() - 2.0 - 6f64.ln();
        assert!((lb[(0, 0)] - expected).abs() < 1e-14);
        assert_eq!(lb[(1, 0)], f64::NEG_INFINITY); // rate 0 cannot emit 2
        let expected = -0.5 + 2.0 * 3f64.ln() - 3.0 - 2f64.ln();
        assert!((lb[(1, 1)] - expected).abs() < 1e-14);
        assert!(matches!(
            PoissonEmission::new(faer::mat![[-1.0]]),
            Err(HmmError::InvalidRate {
                state: 0,
                feature: 0,
                ..
            })
        ));
    }
}
