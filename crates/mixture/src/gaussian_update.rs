//! The means and covariances of one Gaussian M-step, shared by the mixture's
//! M-step ([`crate::mstep`]) and the HMM crate's Gaussian and GMM emissions:
//! weighted sufficient statistics ([`SufficientStats`]) in, the new mean and
//! covariance of every component out, for the four covariance types, with an
//! optional conjugate prior ([`NormalPrior`]) and a covariance floor that is
//! either added to the update or a lower bound on it ([`FloorMode`]).
//!
//! # Why one update
//! The two models need the same maths, statistics to Gaussian parameters
//! per covariance type; they differ in three choices, which are the
//! parameters of [`GaussianUpdate`]: how the floor enters (scikit-learn's
//! estimator adds it, the HMM's bounds by it), whether there is a prior
//! (hmmlearn's estimators have one), and which components are collapsed or
//! re-seeded (the caller's policy). Everything else (the formulas, the
//! degenerate test, the re-seeded average, the reports) is written once.
//! Without a prior and with the additive floor the arithmetic is that of
//! the mixture's former M-step, bit for bit.
//!
//! # The update
//! Component c has mass `N = Σ_t ρ_t`, weighted mean `x̄` and centred
//! scatter `M = Σ_t ρ_t (x_t − x̄)(x_t − x̄)ᵀ`. With the prior's `μ₀`,
//! `λ ≥ 0`, `Ψ` and `a ≥ 0` (all 0 without a prior):
//!
//! ```text
//! μ = (N x̄ + λ μ₀) / (N + λ)         (μ = x̄ without a prior)
//! B = M + N (x̄ − μ)(x̄ − μ)ᵀ + λ (μ − μ₀)(μ − μ₀)ᵀ + Ψ
//! Σ = B / (N + a)                  full (one a per component)
//! σ²_f = B_ff / (N + a_f)          diagonal (one a per component and feature)
//! σ² = tr B / (d N + a)            spherical
//! Σ = Σ_c B_c / (Σ_c N_c + a)      tied (B_c without Ψ; one Ψ and one a)
//! ```
//!
//! This is the exact maximiser of EM's expected complete-data
//! log-likelihood plus the log prior ([`NormalPrior::log_density`])
//! `Σ_c [−½ a ln det Σ − ½ tr(Σ⁻¹ (Ψ + λ (μ − μ₀)(μ − μ₀)ᵀ))]` (per feature
//! for the diagonal type, one Σ for the tied type): the mean does not
//! depend on Σ, and for a fixed mean the covariance term is
//! `−½ (N + a) ln det Σ − ½ tr(Σ⁻¹ B)`. Without a prior it is maximum
//! likelihood, `Σ = S / N` with `S` the scatter about the new mean (which
//! is `M` unless the means are frozen). Covariances are always centred on
//! the means of this step (the previous ones when means are not learned).
//!
//! # The floor: added or a lower bound
//! The floor `diag(f)` (one value per feature, [`crate::floor`]) enters in
//! one of two ways, [`FloorMode`]:
//! - [`FloorMode::Additive`] (scikit-learn's `reg_covar`, which the
//!   mixture's drop-in estimator must reproduce): `Σ = B / (N + a) + diag(f)`
//!   (diagonal: `σ²_f + f_f`; spherical: `σ² + mean f`). Simple and always
//!   positive definite, but not a maximiser: against the unfloored update
//!   it costs EM's objective `¼ N tr((Σ⁻¹ diag(f))²)` to second order in f,
//!   which the mixture's objective check reports when it exceeds rounding.
//! - [`FloorMode::LowerBound`] (the HMM emissions'): the maximiser of the
//!   same objective over `{Σ : Σ ⪰ diag(f)}`. Diagonal: `max(σ²_f, f_f)`;
//!   spherical: `max(σ², mean f)`; full and tied: in the coordinates
//!   `D^{-1/2} Σ D^{-1/2}`, `D = diag(f)`, the bound reads `⪰ I`, and the
//!   constrained maximiser is the unconstrained one with its eigenvalues
//!   below 1 raised to 1. When the floors are the same at every iteration
//!   (computed from statistics of the whole data set) the step is a true
//!   maximiser over a fixed set, and EM never lowers its objective.
//!
//! A floor *binds* when `f_f` is at least the unfloored variance of feature
//! f (`σ² ≤ mean f` for the spherical type); a binding floor is reported,
//! [`Adjustment::VarianceFloored`]: per feature in the additive mode, and
//! for a full or tied covariance in the lower-bound mode once, with the
//! largest floor (the bound acts on eigen-directions, not features).
//!
//! # Collapsed, re-seeded and degenerate components
//! A collapsed component (the caller's rule, e.g.
//! [`crate::mstep::collapsed_components`]) keeps its mean and covariance:
//! a generalised EM step. A re-seeded one (the mixture's policy, see
//! [`crate::mstep`]) takes the mass-weighted average of the new covariances
//! of the components that took their update. A new covariance that does
//! not factor, or factors with a numerically singular pivot
//! (`L_jj² < DEGENERATE_PIVOT · Σ_jj`, see
//! [`linalg_kernels::tolerance::DEGENERATE_PIVOT`]), or a variance that is
//! not strictly positive and finite, is degenerate: the component keeps its
//! whole previous covariance ([`Adjustment::KeptDegenerate`]).
//!
//! Cost: `O(K d²)` per step, plus an eigen-decomposition of `d x d` per
//! full covariance whose lower bound binds; no pass over the data.

use crate::stats::Scatter;
use crate::{Covariances, NormalPrior, Param, StepDiagnostics, SufficientStats};
use em_core::{Adjustment, Event};
use faer::{Mat, MatRef, Side};
use linalg_kernels::Cholesky;
use linalg_kernels::tolerance::DEGENERATE_PIVOT;

/// How the covariance floor `diag(f)` enters the update (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloorMode {
    /// `Σ = B / (N + a) + diag(f)`: scikit-learn's `reg_covar`.
    Additive,
    /// The maximiser over `Σ ⪰ diag(f)`: the unconstrained update with its
    /// variances (diagonal, spherical) or relative eigenvalues (full, tied)
    /// raised to the floor.
    LowerBound,
}

/// One Gaussian M-step of the means and covariances of a mixture's
/// components (module docs).
#[derive(Debug, Clone, Copy)]
pub struct GaussianUpdate<'a> {
    /// The floor `f` of every feature (d values, each `≥ 0`); only read by
    /// [`GaussianUpdate::covariances`].
    pub floors: &'a [f64],
    /// How the floor enters.
    pub floor_mode: FloorMode,
    /// The conjugate prior, checked against the mixture's shape
    /// ([`NormalPrior::check`]); `None`: maximum likelihood.
    pub prior: Option<&'a NormalPrior>,
    /// The collapsed components (K), which keep their means and covariances.
    pub collapsed: &'a [bool],
}

impl GaussianUpdate<'_> {
    /// The new means: `(N x̄ + λ μ₀) / (N + λ)` (`x̄` without a prior) for
    /// every component that is not collapsed, the row of `old` otherwise.
    #[must_use]
    pub fn means(&self, old: MatRef<'_, f64>, stats: &SufficientStats) -> Mat<f64> {
        let mut means = old.to_owned();
        let (mass, m) = (stats.mass(), stats.means());
        for c in (0..means.nrows()).filter(|&c| !self.collapsed[c]) {
            for f in 0..means.ncols() {
                means[(c, f)] = match self.prior {
                    None => m[(c, f)],
                    Some(p) => {
                        let (n, lambda) = (mass[c], p.means_weight[c]);
                        (n * m[(c, f)] + lambda * p.means[(c, f)]) / (n + lambda)
                    }
                };
            }
        }
        means
    }

    /// The new covariances about `means` (module docs): every component
    /// neither collapsed nor degenerate takes its update, every component
    /// of `reseeded` (K flags) the mass-weighted average of those; the
    /// others keep their block of `old`. Without mass the tied covariance is
    /// kept. Events (binding floors, kept degenerate covariances) are pushed
    /// on `diag`, in component order, placed on their component (none for
    /// the tied type).
    ///
    /// `old`, `stats` and the prior have one covariance type, K components
    /// and d features (checked by the callers).
    pub fn covariances(
        &self,
        old: &Covariances,
        stats: &SufficientStats,
        means: MatRef<'_, f64>,
        reseeded: &[bool],
        diag: &mut StepDiagnostics,
    ) -> Covariances {
        let (k, d) = (means.nrows(), means.ncols());
        let flat;
        let prior = match self.prior {
            Some(p) => p,
            None => {
                flat = NormalPrior::none(k, d, old.covariance_type());
                &flat
            }
        };
        let b = Scatters { stats, means, prior };
        let blocks = ComponentBlocks {
            mass: stats.mass(),
            collapsed: self.collapsed,
            reseeded,
        };
        let mass = stats.mass();
        match (old, stats.scatter(), &prior.scale) {
            (Covariances::Full(old), Scatter::Full(m), Covariances::Full(psi)) => {
                let old = old.iter().map(|o| flatten(o.as_ref())).collect();
                let new = blocks.update(old, diag, |c, diag| {
                    let denom = mass[c] + prior.extra_mass[(c, 0)];
                    let raw = Mat::from_fn(d, d, |i, j| {
                        (b.entry(c, i, j, m[c][(i, j)]) + psi[c][(i, j)]) / denom
                    });
                    self.floored_matrix(raw, Some(c), diag)
                        .map(|sigma| flatten(sigma.as_ref()))
                });
                Covariances::Full(
                    new.iter()
                        .map(|v| Mat::from_fn(d, d, |i, j| v[j * d + i]))
                        .collect(),
                )
            }
            (Covariances::Diagonal(old), Scatter::Diagonal(m), Covariances::Diagonal(psi)) => {
                let old = (0..k).map(|c| (0..d).map(|f| old[(c, f)]).collect()).collect();
                let new = blocks.update(old, diag, |c, diag| {
                    let raw = (0..d)
                        .map(|f| {
                            (b.entry(c, f, f, m[(c, f)]) + psi[(c, f)]) / (mass[c] + prior.extra_mass[(c, f)])
                        })
                        .collect();
                    self.floored_variances(raw, self.floors, Some, c, diag)
                });
                Covariances::Diagonal(Mat::from_fn(k, d, |c, f| new[c][f]))
            }
            (Covariances::Spherical(old), Scatter::Diagonal(m), Covariances::Spherical(psi)) => {
                let floor = [self.floors.iter().sum::<f64>() / d as f64];
                let old = old.iter().map(|&v| vec![v]).collect();
                let new = blocks.update(old, diag, |c, diag| {
                    let tr: f64 = (0..d).map(|f| b.entry(c, f, f, m[(c, f)])).sum();
                    let raw = vec![(tr + psi[c]) / (d as f64 * mass[c] + prior.extra_mass[(c, 0)])];
                    self.floored_variances(raw, &floor, |_| None, c, diag)
                });
                Covariances::Spherical(new.iter().map(|v| v[0]).collect())
            }
            (Covariances::Tied(old), Scatter::Pooled(m), Covariances::Tied(psi)) => {
                if !(stats.total_mass() > 0.0) {
                    return Covariances::Tied(old.clone());
                }
                let denom = stats.total_mass() + prior.extra_mass[(0, 0)];
                let raw = Mat::from_fn(d, d, |i, j| {
                    let blocks: f64 = (0..k).map(|c| b.entry(c, i, j, 0.0)).sum();
                    (m[(i, j)] + blocks + psi[(i, j)]) / denom
                });
                Covariances::Tied(self.floored_matrix(raw, None, diag).unwrap_or_else(|| {
                    diag.push(Event::new(Some(Param::Covariances), Adjustment::KeptDegenerate));
                    old.clone()
                }))
            }
            _ => unreachable!("statistics and prior types checked against the model"),
        }
    }

    /// The full or tied covariance from its unfloored update `raw`, floored
    /// by the mode; `None` when degenerate. Binding floors are reported on
    /// `component` when the result is kept.
    fn floored_matrix(
        &self,
        mut raw: Mat<f64>,
        component: Option<usize>,
        diag: &mut StepDiagnostics,
    ) -> Option<Mat<f64>> {
        let floors = self.floors;
        let (sigma, binding) = match self.floor_mode {
            FloorMode::Additive => {
                let binding: Vec<(Option<usize>, f64)> = (0..floors.len())
                    .filter(|&j| floors[j] > 0.0 && floors[j] >= raw[(j, j)])
                    .map(|j| (Some(j), floors[j]))
                    .collect();
                for (j, f) in floors.iter().enumerate() {
                    raw[(j, j)] += f;
                }
                linalg_kernels::symmetrize(raw.as_mut()).ok()?;
                (factors_well(&raw).then_some(raw)?, binding)
            }
            FloorMode::LowerBound => {
                let (sigma, clipped) = bounded(raw, floors)?;
                let largest = floors.iter().copied().fold(0.0, f64::max);
                (
                    sigma,
                    if clipped {
                        vec![(None, largest)]
                    } else {
                        Vec::new()
                    },
                )
            }
        };
        for (feature, floor) in binding {
            diag.push(placed(floored(feature, floor), component));
        }
        Some(sigma)
    }

    /// Diagonal or spherical variances of component `c` from their
    /// unfloored updates `raw` and their floors, floored by the mode;
    /// `None` when one is not strictly positive and finite. Binding floors
    /// are reported (feature `feature(j)` of entry j) when the result is kept.
    fn floored_variances(
        &self,
        raw: Vec<f64>,
        floors: &[f64],
        feature: impl Fn(usize) -> Option<usize>,
        c: usize,
        diag: &mut StepDiagnostics,
    ) -> Option<Vec<f64>> {
        let binds = |j: usize| floors[j] > 0.0 && floors[j] >= raw[j];
        let new: Vec<f64> = (0..raw.len())
            .map(|j| match self.floor_mode {
                FloorMode::Additive => raw[j] + floors[j],
                FloorMode::LowerBound if binds(j) => floors[j],
                FloorMode::LowerBound => raw[j],
            })
            .collect();
        if !new.iter().all(|v| *v > 0.0 && v.is_finite()) {
            return None;
        }
        for j in (0..raw.len()).filter(|&j| binds(j)) {
            diag.push(floored(feature(j), floors[j]).in_component(c));
        }
        Some(new)
    }
}

/// A binding floor `floor` of `feature` (`None`: not one feature).
fn floored(feature: Option<usize>, floor: f64) -> Event<Param> {
    Event::new(
        Some(Param::Covariances),
        Adjustment::VarianceFloored { feature, floor },
    )
}

/// `event` on `component` (`None`: the tied covariance of all of them).
fn placed(event: Event<Param>, component: Option<usize>) -> Event<Param> {
    match component {
        Some(c) => event.in_component(c),
        None => event,
    }
}

/// The scatters `B` of the module docs, without `Ψ`.
struct Scatters<'a> {
    stats: &'a SufficientStats,
    means: MatRef<'a, f64>,
    prior: &'a NormalPrior,
}

impl Scatters<'_> {
    /// Entry (i, j) of `B_c` without `Ψ`, `within` the entry of the centred
    /// scatter `M_c` (0 for the tied type, whose `Σ_c M_c` is added once):
    /// `M + N (x̄ − μ)(x̄ − μ)ᵀ + λ (μ − μ₀)(μ − μ₀)ᵀ`, the data part only
    /// when `N > 0`.
    fn entry(&self, c: usize, i: usize, j: usize, within: f64) -> f64 {
        let (s, p) = (self.stats, self.prior);
        let n = s.mass()[c];
        let dx = |f: usize| s.means()[(c, f)] - self.means[(c, f)];
        let dp = |f: usize| self.means[(c, f)] - p.means[(c, f)];
        let data = if n > 0.0 { within + n * dx(i) * dx(j) } else { 0.0 };
        data + p.means_weight[c] * dp(i) * dp(j)
    }
}

/// The maximiser of `−½ n ln det Σ − ½ tr(Σ⁻¹ n b)` over `Σ ⪰ diag(f)`
/// (module docs), symmetrised, and whether the bound changed it; `None`
/// when the result is degenerate ([`factors_well`] fails).
fn bounded(mut b: Mat<f64>, floors: &[f64]) -> Option<(Mat<f64>, bool)> {
    let d = floors.len();
    linalg_kernels::symmetrize(b.as_mut()).ok()?;
    if floors.iter().all(|&f| f > 0.0) {
        let root: Vec<f64> = floors.iter().map(|f| f.sqrt()).collect();
        let whitened = Mat::from_fn(d, d, |i, j| b[(i, j)] / (root[i] * root[j]));
        let excess = Mat::from_fn(d, d, |i, j| whitened[(i, j)] - if i == j { 1.0 } else { 0.0 });
        if Cholesky::new(excess.as_ref()).is_err() {
            let eigen = whitened.self_adjoint_eigen(Side::Lower).ok()?;
            let (u, s) = (eigen.U(), eigen.S().column_vector());
            let raised: Vec<f64> = (0..d).map(|i| s[i].max(1.0)).collect();
            let mut sigma = Mat::from_fn(d, d, |i, j| {
                let v: f64 = (0..d).map(|l| u[(i, l)] * raised[l] * u[(j, l)]).sum();
                v * root[i] * root[j]
            });
            linalg_kernels::symmetrize(sigma.as_mut()).ok()?;
            return factors_well(&sigma).then_some((sigma, true));
        }
    }
    factors_well(&b).then_some((b, false))
}

/// The covariance update of the per-component types (full, diagonal,
/// spherical), on each component's covariance block flattened to a vector.
struct ComponentBlocks<'a> {
    mass: &'a [f64],
    collapsed: &'a [bool],
    reseeded: &'a [bool],
}

impl ComponentBlocks<'_> {
    /// Every healthy (not collapsed) component takes `candidate(c)`, or
    /// keeps its block when the candidate is degenerate (`None`, reported as
    /// `KeptDegenerate`); the components that took their candidate are the
    /// healthy ones. Then every re-seeded component takes the mass-weighted
    /// average of the healthy components' new blocks, `Σₕ Nₕ Bₕ / Σₕ Nₕ`
    /// (and keeps its block when there are none).
    ///
    /// For the full type the average of exactly symmetric blocks is exactly
    /// symmetric: entries `(i, j)` and `(j, i)` are the same sums in the
    /// same order.
    fn update(
        &self,
        mut blocks: Vec<Vec<f64>>,
        diag: &mut StepDiagnostics,
        mut candidate: impl FnMut(usize, &mut StepDiagnostics) -> Option<Vec<f64>>,
    ) -> Vec<Vec<f64>> {
        let k = blocks.len();
        let mut healthy: Vec<usize> = Vec::new();
        for c in (0..k).filter(|&c| !self.collapsed[c]) {
            match candidate(c, diag) {
                Some(block) => {
                    blocks[c] = block;
                    healthy.push(c);
                }
                None => diag
                    .push(Event::new(Some(Param::Covariances), Adjustment::KeptDegenerate).in_component(c)),
            }
        }
        let n_h: f64 = healthy.iter().map(|&c| self.mass[c]).sum();
        if n_h > 0.0 && self.reseeded.contains(&true) {
            let len = blocks.first().map_or(0, Vec::len);
            let average: Vec<f64> = (0..len)
                .map(|e| healthy.iter().map(|&h| self.mass[h] * blocks[h][e]).sum::<f64>() / n_h)
                .collect();
            for c in (0..k).filter(|&c| self.reseeded[c]) {
                blocks[c].clone_from(&average);
            }
        }
        blocks
    }
}

/// The entries of a matrix, column after column.
fn flatten(a: MatRef<'_, f64>) -> Vec<f64> {
    (0..a.ncols())
        .flat_map(|j| (0..a.nrows()).map(move |i| a[(i, j)]))
        .collect()
}

/// True when `a` factors and no pivot is numerically singular:
/// `L_jj² ≥ DEGENERATE_PIVOT · a_jj` for every j (`L_jj²` is the part
/// of the variance of feature j not explained by the features before it, so
/// the test does not depend on the units of the features).
fn factors_well(a: &Mat<f64>) -> bool {
    match Cholesky::new(a.as_ref()) {
        Ok(chol) => {
            let l = chol.factor();
            (0..a.nrows()).all(|j| l[(j, j)] * l[(j, j)] >= DEGENERATE_PIVOT * a[(j, j)])
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CovarianceType;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use rand_distr::StandardNormal;

    const K: usize = 3;
    const D: usize = 3;

    /// Statistics of 60 random points whose features have spreads 1, 0.1
    /// and 3, with random responsibilities over K components.
    fn stats(t: CovarianceType, seed: u64) -> SufficientStats {
        let mut rng = StdRng::seed_from_u64(seed);
        let x = Mat::from_fn(60, D, |_, f| {
            [1.0, 0.1, 3.0][f] * rng.sample::<f64, _>(StandardNormal)
        });
        let resp = Mat::from_fn(60, K, |_, _| rng.random_range(0.05..1.0));
        SufficientStats::from_responsibilities(x.as_ref(), resp.as_ref(), t).unwrap()
    }

    /// A valid prior with every part non-zero.
    fn prior(t: CovarianceType) -> NormalPrior {
        let mut p = NormalPrior::none(K, D, t);
        p.means = Mat::from_fn(K, D, |c, f| 0.5 * (c + f) as f64 - 1.0);
        p.means_weight = vec![2.0, 0.5, 1.0];
        p.extra_mass.fill(1.5);
        let dense = |c: usize| Mat::from_fn(D, D, |i, j| if i == j { 0.05 * (c + 1) as f64 } else { 0.01 });
        p.scale = match t {
            CovarianceType::Full => Covariances::Full((0..K).map(dense).collect()),
            CovarianceType::Tied => Covariances::Tied(dense(0)),
            CovarianceType::Diagonal => {
                Covariances::Diagonal(Mat::from_fn(K, D, |c, _| 0.05 * (c + 1) as f64))
            }
            CovarianceType::Spherical => Covariances::Spherical(vec![0.02, 0.04, 0.06]),
        };
        p
    }

    /// The new covariances under `prior` with these floors and mode, and
    /// the events.
    fn run(
        t: CovarianceType,
        prior: Option<&NormalPrior>,
        floors: &[f64],
        floor_mode: FloorMode,
    ) -> (Covariances, StepDiagnostics) {
        let s = stats(t, 3);
        let old = NormalPrior::none(K, D, t).scale;
        let collapsed = [false; K];
        let update = GaussianUpdate {
            floors,
            floor_mode,
            prior,
            collapsed: &collapsed,
        };
        let means = update.means(Mat::<f64>::zeros(K, D).as_ref(), &s);
        let mut diag = StepDiagnostics::default();
        let new = update.covariances(&old, &s, means.as_ref(), &[false; K], &mut diag);
        (new, diag)
    }

    /// The two floor modes against the unconstrained MAP update `U` (no
    /// floor, where both modes agree exactly): the additive one is exactly
    /// `U + diag(f)` (spherical: `+ mean f`) with every feature whose floor
    /// is at least `U`'s variance reported; the lower bound is `⪰ diag(f)`,
    /// is `U` itself where `U ⪰ diag(f)` already, and `max(U, f)` for the
    /// diagonal and spherical types. Every type; the second feature's
    /// floor binds.
    #[test]
    fn the_floor_modes_add_the_floor_or_bound_the_map_update_by_it() {
        let floors = [0.3, 0.05, 1e-3];
        for t in CovarianceType::ALL {
            let p = prior(t);
            let (free, none) = run(t, Some(&p), &[0.0; D], FloorMode::Additive);
            assert!(none.events.is_empty(), "{t:?}: {none}");
            let (same, _) = run(t, Some(&p), &[0.0; D], FloorMode::LowerBound);
            assert_eq!(free, same, "{t:?}: without a floor the modes agree");
            let shift = |j: usize| match t {
                CovarianceType::Spherical => floors.iter().sum::<f64>() / D as f64,
                _ => floors[j],
            };
            let (added, events) = run(t, Some(&p), &floors, FloorMode::Additive);
            let (bounded, bound_events) = run(t, Some(&p), &floors, FloorMode::LowerBound);
            let (free, added, bounded) = (free.matrices(D), added.matrices(D), bounded.matrices(D));
            for c in 0..free.len() {
                let u = &free[c];
                for i in 0..D {
                    for j in 0..D {
                        let want = u[(i, j)] + if i == j { shift(i) } else { 0.0 };
                        assert_eq!(added[c][(i, j)].to_bits(), want.to_bits(), "{t:?} {c} ({i}, {j})");
                    }
                }
                let root: Vec<f64> = (0..D).map(|j| shift(j).sqrt()).collect();
                let whitened = |m: &Mat<f64>| Mat::from_fn(D, D, |i, j| m[(i, j)] / (root[i] * root[j]));
                let lowest = whitened(&bounded[c])
                    .self_adjoint_eigenvalues(Side::Lower)
                    .unwrap()[0];
                assert!(lowest >= 1.0 - 1e-10, "{t:?} {c}: Σ ⪰ diag(f) ({lowest})");
                let excess = Mat::from_fn(D, D, |i, j| u[(i, j)] - if i == j { shift(i) } else { 0.0 });
                if Cholesky::new(excess.as_ref()).is_ok() {
                    assert_eq!(bounded[c], *u, "{t:?} {c}: a feasible update is kept");
                }
                if matches!(t, CovarianceType::Diagonal | CovarianceType::Spherical) {
                    for j in 0..D {
                        assert_eq!(bounded[c][(j, j)], u[(j, j)].max(shift(j)), "{t:?} {c} {j}");
                    }
                }
            }
            // Feature 1 (spread 0.1, variance about 0.01 < 0.05) binds, but
            // not the spherical type's mean floor (0.117 < about 3.3).
            let binds = t != CovarianceType::Spherical;
            assert_eq!(!bound_events.events.is_empty(), binds, "{t:?}: {bound_events}");
            assert_eq!(!events.events.is_empty(), binds, "{t:?}: {events}");
            for e in &bound_events.events {
                let Adjustment::VarianceFloored { feature, floor } = e.adjustment else {
                    panic!("{t:?}: {e:?}");
                };
                match feature {
                    // Full and tied: once, with the largest floor.
                    None => assert_eq!(floor, 0.3, "{t:?}: {e:?}"),
                    Some(j) => {
                        let c = e.component.unwrap_or(0);
                        assert!(floor == floors[j] && floor >= free[c][(j, j)], "{t:?}: {e:?}");
                    }
                }
            }
            for e in &events.events {
                let Adjustment::VarianceFloored { feature, floor } = e.adjustment else {
                    panic!("{t:?}: {e:?}");
                };
                let c = e.component.unwrap_or(0);
                let j = feature.unwrap_or(0);
                assert!(floor >= free[c][(j, j)] && floor == shift(j), "{t:?}: {e:?}");
            }
        }
    }

    /// Without a prior the update is maximum likelihood, the flat prior's
    /// (`λ = 0`, `Ψ = 0`, `a = 0`) up to the rounding of `(N x̄) / N`: means
    /// to a few ulps, covariances to `1e-13` relative.
    #[test]
    fn no_prior_is_the_flat_prior() {
        for t in CovarianceType::ALL {
            for mode in [FloorMode::Additive, FloorMode::LowerBound] {
                let floors = [1e-3; D];
                let flat = NormalPrior::none(K, D, t);
                let (ml, _) = run(t, None, &floors, mode);
                let (map, _) = run(t, Some(&flat), &floors, mode);
                for (a, b) in ml.matrices(D).iter().zip(map.matrices(D)) {
                    for i in 0..D {
                        for j in 0..D {
                            assert!(
                                (a[(i, j)] - b[(i, j)]).abs() <= 1e-13 * a[(i, i)].max(a[(j, j)]),
                                "{t:?} {mode:?}: {a:?} {b:?}"
                            );
                        }
                    }
                }
                let s = stats(t, 3);
                let collapsed = [false; K];
                let means = |prior| {
                    GaussianUpdate {
                        floors: &floors,
                        floor_mode: mode,
                        prior,
                        collapsed: &collapsed,
                    }
                    .means(Mat::<f64>::zeros(K, D).as_ref(), &s)
                };
                let (a, b) = (means(None), means(Some(&flat)));
                assert_eq!(a, s.means().to_owned(), "the weighted means");
                for c in 0..K {
                    for f in 0..D {
                        assert!((a[(c, f)] - b[(c, f)]).abs() <= 4.0 * f64::EPSILON * a[(c, f)].abs());
                    }
                }
            }
        }
    }

    /// The bound keeps a covariance above the floor and leaves one above it alone.
    #[test]
    fn the_bound_raises_only_eigenvalues_below_the_floor() {
        let b = Mat::from_fn(2, 2, |i, j| [[4.0, 1.999], [1.999, 1.0]][i][j]);
        let (sigma, clipped) = bounded(b.clone(), &[1e-3, 1e-3]).unwrap();
        assert!(clipped);
        let eig = sigma.self_adjoint_eigenvalues(Side::Lower).unwrap();
        assert!((eig[0] - 1e-3).abs() < 1e-12, "{eig:?}");
        let original = b.self_adjoint_eigenvalues(Side::Lower).unwrap();
        assert!(
            (eig[1] - original[1]).abs() < 1e-12,
            "the other eigenvalue is kept"
        );
        let (same, clipped) = bounded(b.clone(), &[1e-6, 1e-6]).unwrap();
        assert!(!clipped);
        assert_eq!(same, b);
    }
}
