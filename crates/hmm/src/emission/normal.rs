//! The M-step of Gaussian blocks (the means and covariances of one
//! `mixture::GaussianMixture`: the states of a Gaussian emission, or the
//! components of one state of a GMM emission): maximum a posteriori under a
//! conjugate [`NormalPrior`], with the covariance floor as a lower bound.
//!
//! The maths is documented on [`NormalPrior`].

use em_core::{Adjustment, Event, Floor};
use faer::{Mat, MatRef, Side};
use linalg_kernels::Cholesky;
use mixture::floor::feature_scale;
use mixture::{CovarianceType, Covariances, GaussianMixture, MixtureError, Scatter, SufficientStats};

use super::gaussian::mixture_err;
use crate::error::HmmError;
use crate::model::options::MStepOptions;
use crate::param::{Param, StepDiagnostics};

/// A component with at most this fraction of the total mass is collapsed.
const MIN_RELATIVE_MASS: f64 = 1e-12;
/// A component with fewer effective points `N² / Σρ²` is collapsed.
const MIN_EFFECTIVE_POINTS: f64 = 1.5;

/// The conjugate prior of the means and covariances of one mixture's
/// components. Shapes, for K components of d features: `means` K x d; `means_weight` K; `scale` the
/// covariances' own shape and type (full: K symmetric positive
/// semi-definite d x d; diagonal: K x d, non-negative; spherical: K,
/// non-negative; tied: one d x d); `extra_mass` K x 1 (full, spherical),
/// K x d (diagonal), 1 x 1 (tied), non-negative.
///
/// # The update
/// Component c has mass `N = Σ_t ρ_t`, weighted mean `x̄` and centred
/// scatter `M = Σ_t ρ_t (x_t − x̄)(x_t − x̄)ᵀ` (the mixture crate's
/// [`SufficientStats`]). With the prior's `μ₀`, `λ ≥ 0`, `Ψ` and `a ≥ 0`:
///
/// ```text
/// μ = (N x̄ + λ μ₀) / (N + λ)
/// B = M + N (x̄ − μ)(x̄ − μ)ᵀ + λ (μ − μ₀)(μ − μ₀)ᵀ + Ψ
/// Σ = B / (N + a)                  full (one a per component)
/// σ²_f = B_ff / (N + a_f)          diagonal (one a per component and feature)
/// σ² = tr B / (d N + a)            spherical
/// Σ = Σ_c B_c / (Σ_c N_c + a)      tied (B_c without Ψ; one Ψ and one a)
/// ```
///
/// This is the exact maximiser of EM's expected complete-data
/// log-likelihood plus the log prior
/// `Σ_c [−½ a ln det Σ − ½ tr(Σ⁻¹ (Ψ + λ (μ − μ₀)(μ − μ₀)ᵀ))]` (per feature
/// for the diagonal type, one Σ for the tied type): the mean does not
/// depend on Σ, and for a fixed mean the covariance term is
/// `−½ (N + a) ln det Σ − ½ tr(Σ⁻¹ B)`. The defaults `λ = 0, Ψ = 0, a = 0`
/// are maximum likelihood. hmmlearn's conventions (normal-inverse-gamma
/// and normal-inverse-Wishart with its own offsets) are values of `a`, `Ψ`:
/// the Python classes convert them.
///
/// # The floor, a lower bound
/// The covariance floor `diag(f)` (one value per feature,
/// `MStepOptions::covariance_floor`) bounds the covariance from below: the
/// update is the maximiser of the same objective over `{Σ : Σ ⪰ diag(f)}`
/// (diagonal: `max(σ²_f, f_f)`; spherical: `max(σ², mean f)`; full and tied:
/// in the coordinates `D^{-1/2} Σ D^{-1/2}`, `D = diag(f)`, the bound reads
/// `⪰ I`, and the constrained maximiser is the unconstrained one with its
/// eigenvalues below 1 raised to 1).
/// The floor is computed from the statistics pooled over every block of the
/// emission, which are those of the whole data set whatever the parameters
/// (the posteriors of every time step sum to 1): it is the same at every
/// iteration. So the step is a true maximiser over a fixed set, and EM
/// never lowers its objective; a floor added to the update instead (as
/// scikit-learn's `reg_covar`) is not, and lowers the log-likelihood by
/// more than rounding near convergence. A bound that binds is reported
/// ([`Adjustment::VarianceFloored`]).
///
/// # Collapsed components and degenerate covariances
/// A component whose mass is at most `10⁻¹²` of the total, or whose mass
/// sits on fewer than 1.5 effective points, keeps its mean and covariance
/// (a generalised EM step, [`Adjustment::KeptWithoutMass`]); a new
/// covariance that does not factor keeps the previous one
/// ([`Adjustment::KeptDegenerate`]).
#[derive(Debug, Clone, PartialEq)]
pub struct NormalPrior {
    /// The prior means `μ₀`.
    pub means: Mat<f64>,
    /// The prior weight `λ ≥ 0` of each mean, in observations.
    pub means_weight: Vec<f64>,
    /// The scale `Ψ` added to each scatter.
    pub scale: Covariances,
    /// The mass `a ≥ 0` added to each denominator.
    pub extra_mass: Mat<f64>,
}

impl NormalPrior {
    /// Maximum likelihood for `k` components of `d` features of this type:
    /// every value 0.
    #[must_use]
    pub fn none(k: usize, d: usize, covariance_type: CovarianceType) -> Self {
        let (scale, rows, cols) = match covariance_type {
            CovarianceType::Full => (Covariances::Full(vec![Mat::zeros(d, d); k]), k, 1),
            CovarianceType::Diagonal => (Covariances::Diagonal(Mat::zeros(k, d)), k, d),
            CovarianceType::Spherical => (Covariances::Spherical(vec![0.0; k]), k, 1),
            CovarianceType::Tied => (Covariances::Tied(Mat::zeros(d, d)), 1, 1),
        };
        Self {
            means: Mat::zeros(k, d),
            means_weight: vec![0.0; k],
            scale,
            extra_mass: Mat::zeros(rows, cols),
        }
    }

    /// Checks the shapes against `k` components of `d` features of type
    /// `covariance_type` and the values (finite; weights, masses and scales
    /// non-negative; full and tied scales symmetric positive semi-definite).
    ///
    /// # Errors
    /// [`HmmError::PriorShape`] or [`HmmError::InvalidPriorValue`] naming the
    /// parameter, `state` (the state of a GMM emission) and the entry.
    pub fn check(
        &self,
        k: usize,
        d: usize,
        covariance_type: CovarianceType,
        state: Option<usize>,
    ) -> Result<(), HmmError> {
        let shape = |parameter: &'static str, expected: (usize, usize), found: (usize, usize)| {
            if expected == found {
                Ok(())
            } else {
                Err(HmmError::PriorShape {
                    parameter,
                    state,
                    expected,
                    found,
                })
            }
        };
        let value = |parameter: &'static str, index: (usize, usize), value: f64, ok: bool| {
            if ok && value.is_finite() {
                Ok(())
            } else {
                Err(HmmError::InvalidPriorValue {
                    parameter,
                    state,
                    index,
                    value,
                })
            }
        };
        shape("means prior", (k, d), (self.means.nrows(), self.means.ncols()))?;
        shape("means weight", (k, 1), (self.means_weight.len(), 1))?;
        let mass_shape = match covariance_type {
            CovarianceType::Diagonal => (k, d),
            CovarianceType::Tied => (1, 1),
            CovarianceType::Full | CovarianceType::Spherical => (k, 1),
        };
        let extra = &self.extra_mass;
        shape(
            "covariance prior mass",
            mass_shape,
            (extra.nrows(), extra.ncols()),
        )?;
        if self.scale.covariance_type() != covariance_type {
            return Err(HmmError::Mixture {
                state,
                source: MixtureError::CovarianceTypeMismatch {
                    expected: covariance_type,
                    found: self.scale.covariance_type(),
                },
            });
        }
        for c in 0..k {
            for f in 0..d {
                value("means prior", (c, f), self.means[(c, f)], true)?;
            }
            value(
                "means weight",
                (c, 0),
                self.means_weight[c],
                self.means_weight[c] >= 0.0,
            )?;
        }
        for r in 0..extra.nrows() {
            for f in 0..extra.ncols() {
                value(
                    "covariance prior mass",
                    (r, f),
                    extra[(r, f)],
                    extra[(r, f)] >= 0.0,
                )?;
            }
        }
        let psd = |m: &Mat<f64>, c: usize| {
            shape("covariance prior scale", (d, d), (m.nrows(), m.ncols()))?;
            for i in 0..d {
                for j in 0..d {
                    value(
                        "covariance prior scale",
                        (c, i * d + j),
                        m[(i, j)],
                        m[(i, j)] == m[(j, i)],
                    )?;
                }
            }
            // Ψ ⪰ 0 iff Ψ + δI factors for every δ > 0; δ at the rounding of Ψ.
            let size = (0..d)
                .map(|i| m[(i, i)].abs())
                .fold(0.0, f64::max)
                .max(f64::MIN_POSITIVE);
            let shifted = Mat::from_fn(d, d, |i, j| m[(i, j)] + if i == j { 1e-12 * size } else { 0.0 });
            let ok = Cholesky::new(shifted.as_ref()).is_ok();
            value(
                "covariance prior scale",
                (c, 0),
                if ok { 0.0 } else { f64::NAN },
                ok,
            )
        };
        match &self.scale {
            Covariances::Full(scales) => {
                shape("covariance prior scale", (k, 1), (scales.len(), 1))?;
                for (c, m) in scales.iter().enumerate() {
                    psd(m, c)?;
                }
            }
            Covariances::Tied(m) => psd(m, 0)?,
            Covariances::Diagonal(m) => {
                shape("covariance prior scale", (k, d), (m.nrows(), m.ncols()))?;
                for c in 0..k {
                    for f in 0..d {
                        value("covariance prior scale", (c, f), m[(c, f)], m[(c, f)] >= 0.0)?;
                    }
                }
            }
            Covariances::Spherical(v) => {
                shape("covariance prior scale", (k, 1), (v.len(), 1))?;
                for (c, &s) in v.iter().enumerate() {
                    value("covariance prior scale", (c, 0), s, s >= 0.0)?;
                }
            }
        }
        Ok(())
    }
}

/// The floor of every feature (see [`NormalPrior`]): `floor` at the scale
/// of feature f of the data behind `stats` pooled over all its blocks,
/// `max(s_f², ε m̄_f²)` (`mixture::floor::feature_scale`), for a relative
/// floor; the value itself for an absolute one.
///
/// # Errors
/// [`MixtureError::ScaleOutOfRange`] (in [`HmmError::Mixture`]) when a
/// positive relative floor is not a normal number (data too small or too
/// large to square).
pub(crate) fn feature_floors<'a>(
    stats: impl Iterator<Item = &'a SufficientStats> + Clone,
    d: usize,
    floor: Floor,
) -> Result<Vec<f64>, HmmError> {
    if !floor.is_valid() {
        return Err(HmmError::InvalidOption {
            what: "covariance floor",
            value: floor.value(),
        });
    }
    if let Floor::Absolute(value) = floor {
        return Ok(vec![value; d]);
    }
    let blocks = || {
        stats.clone().flat_map(|s| {
            (0..s.n_components())
                .filter(|&c| s.mass()[c] > 0.0)
                .map(move |c| (s, c))
        })
    };
    let total: f64 = blocks().map(|(s, c)| s.mass()[c]).sum();
    if !(total > 0.0) {
        return Ok(vec![floor.value(); d]);
    }
    (0..d)
        .map(|f| {
            let mean: f64 = blocks()
                .map(|(s, c)| s.mass()[c] / total * s.means()[(c, f)])
                .sum();
            let spread: f64 = blocks()
                .map(|(s, c)| {
                    let delta = s.means()[(c, f)] - mean;
                    s.mass()[c] * delta * delta
                })
                .sum();
            let within: f64 = stats.clone().map(|s| within_variance(s, f)).sum();
            let variance = (within + spread) / total;
            let value = floor.at_scale(feature_scale(variance, mean));
            if floor.value() == 0.0 || value.is_normal() {
                Ok(value)
            } else {
                Err(HmmError::Mixture {
                    state: None,
                    source: MixtureError::ScaleOutOfRange { feature: f, variance },
                })
            }
        })
        .collect()
}

/// `Σ_c M_c,ff`: the within-component scatter of feature f.
fn within_variance(stats: &SufficientStats, f: usize) -> f64 {
    match stats.scatter() {
        Scatter::Full(s) => s.iter().map(|m| m[(f, f)]).sum(),
        Scatter::Diagonal(s) => (0..s.nrows()).map(|c| s[(c, f)]).sum(),
        Scatter::Pooled(s) => s[(f, f)],
    }
}

/// The priors of `options` for an emission of `count` mixtures (1 for
/// Gaussian emissions, K for GMM emissions); `None` without.
///
/// # Errors
/// [`HmmError::PriorShape`] for another number of priors.
pub(crate) fn priors(options: &MStepOptions, count: usize) -> Result<Option<&[NormalPrior]>, HmmError> {
    match &options.normal_prior {
        Some(p) if p.len() != count => Err(HmmError::PriorShape {
            parameter: "normal priors (one per mixture: 1 for Gaussian emissions, K for GMM ones)",
            state: None,
            expected: (count, 1),
            found: (p.len(), 1),
        }),
        p => Ok(p.as_deref()),
    }
}

/// The M-step of the means and covariances of `old` (weights kept) from
/// `stats`, under `prior`, with the floor of `options` computed from
/// `stats`: the whole data for a Gaussian emission.
///
/// # Errors
/// Statistics of another shape ([`HmmError::DimensionMismatch`],
/// [`HmmError::Mixture`]), an invalid prior or floor.
pub(crate) fn step(
    old: &GaussianMixture,
    stats: &SufficientStats,
    options: &MStepOptions,
    prior: Option<&NormalPrior>,
    state: Option<usize>,
) -> Result<(GaussianMixture, StepDiagnostics), HmmError> {
    let floors = feature_floors(std::iter::once(stats), old.n_features(), options.covariance_floor)?;
    check_stats(old, stats, state)?;
    update(
        old,
        stats,
        old.weights().to_vec(),
        &Update::new(options, &floors, prior, state),
    )
}

/// `stats` have the type, components and features of `old`.
///
/// # Errors
/// [`HmmError::Mixture`] (`CovarianceTypeMismatch`) or
/// [`HmmError::DimensionMismatch`].
pub(crate) fn check_stats(
    old: &GaussianMixture,
    stats: &SufficientStats,
    state: Option<usize>,
) -> Result<(), HmmError> {
    if stats.covariance_type() != old.covariance_type() {
        return Err(HmmError::Mixture {
            state,
            source: MixtureError::CovarianceTypeMismatch {
                expected: old.covariance_type(),
                found: stats.covariance_type(),
            },
        });
    }
    for (what, expected, found) in [
        (
            "components of the statistics",
            old.n_components(),
            stats.n_components(),
        ),
        ("features of the statistics", old.n_features(), stats.n_features()),
    ] {
        if expected != found {
            return Err(HmmError::DimensionMismatch {
                what,
                expected,
                found,
            });
        }
    }
    Ok(())
}

/// What [`update`] learns and how.
pub(crate) struct Update<'a> {
    /// Update the means.
    pub means: bool,
    /// Update the covariances.
    pub covariances: bool,
    /// The floor of every feature (lower bound on the variances).
    pub floors: &'a [f64],
    /// The prior; `None`: maximum likelihood.
    pub prior: Option<&'a NormalPrior>,
    /// The state of a GMM emission (its components are components); `None`
    /// for a Gaussian emission (its components are the states).
    pub state: Option<usize>,
}

impl<'a> Update<'a> {
    /// The blocks `options.learn` names, with these floors, prior and state.
    pub(crate) fn new(
        options: &MStepOptions,
        floors: &'a [f64],
        prior: Option<&'a NormalPrior>,
        state: Option<usize>,
    ) -> Self {
        Self {
            means: options.learn.contains(Param::Means),
            covariances: options.learn.contains(Param::Covariances),
            floors,
            prior,
            state,
        }
    }

    /// `event` placed on component `c`.
    fn place(&self, event: Event<Param>, c: usize) -> Event<Param> {
        match self.state {
            Some(j) => event.in_state(j).in_component(c),
            None => event.in_state(c),
        }
    }

    /// `event` placed on the whole mixture (tied covariance).
    fn place_all(&self, event: Event<Param>) -> Event<Param> {
        match self.state {
            Some(j) => event.in_state(j),
            None => event,
        }
    }
}

/// The new mixture: `weights`, and the means and covariances of the module
/// docs from `stats` (accumulated under `old`).
///
/// # Errors
/// [`HmmError::Mixture`] when the mixture cannot be built (never for
/// statistics of `old`).
pub(crate) fn update(
    old: &GaussianMixture,
    stats: &SufficientStats,
    weights: Vec<f64>,
    how: &Update<'_>,
) -> Result<(GaussianMixture, StepDiagnostics), HmmError> {
    let (k, d) = (old.n_components(), old.n_features());
    let none = NormalPrior::none(k, d, old.covariance_type());
    let prior = how.prior.unwrap_or(&none);
    prior.check(k, d, old.covariance_type(), how.state)?;
    let mut diag = StepDiagnostics::default();
    let total = stats.total_mass();
    let collapsed: Vec<bool> = stats
        .effective_points()
        .iter()
        .zip(stats.mass())
        .map(|(&ess, &n)| !(n > 0.0 && n > MIN_RELATIVE_MASS * total) || ess < MIN_EFFECTIVE_POINTS)
        .collect();
    for c in (0..k).filter(|&c| collapsed[c]) {
        for (block, learned) in [(Param::Means, how.means), (Param::Covariances, how.covariances)] {
            if learned {
                diag.push(how.place(Event::new(Some(block), Adjustment::KeptWithoutMass), c));
            }
        }
    }
    let mut means = old.means().to_owned();
    if how.means {
        for c in (0..k).filter(|&c| !collapsed[c]) {
            let (n, lambda) = (stats.mass()[c], prior.means_weight[c]);
            for f in 0..d {
                means[(c, f)] = (n * stats.means()[(c, f)] + lambda * prior.means[(c, f)]) / (n + lambda);
            }
        }
    }
    let covariances = if how.covariances {
        Scatters {
            stats,
            means: means.as_ref(),
            prior,
            collapsed: &collapsed,
        }
        .covariances(old, how, &mut diag)
    } else {
        old.covariances().clone()
    };
    let model = GaussianMixture::new(weights, means, covariances).map_err(mixture_err(how.state))?;
    Ok((model, diag))
}

/// The scatters `B` of [`NormalPrior`].
struct Scatters<'a> {
    stats: &'a SufficientStats,
    means: MatRef<'a, f64>,
    prior: &'a NormalPrior,
    collapsed: &'a [bool],
}

impl Scatters<'_> {
    /// `B_c` without `Ψ` (full), entry (i, j).
    fn entry(&self, c: usize, i: usize, j: usize, within: f64) -> f64 {
        let (s, p) = (self.stats, self.prior);
        let n = s.mass()[c];
        let dx = |f: usize| s.means()[(c, f)] - self.means[(c, f)];
        let dp = |f: usize| self.means[(c, f)] - p.means[(c, f)];
        let data = if n > 0.0 { within + n * dx(i) * dx(j) } else { 0.0 };
        data + p.means_weight[c] * dp(i) * dp(j)
    }

    /// The new covariances ([`NormalPrior`]), bounded by the floors.
    fn covariances(
        &self,
        old: &GaussianMixture,
        how: &Update<'_>,
        diag: &mut StepDiagnostics,
    ) -> Covariances {
        let (s, p, floors) = (self.stats, self.prior, how.floors);
        let d = floors.len();
        let mass = s.mass();
        let floored = |feature: Option<usize>, floor: f64| {
            Event::new(
                Some(Param::Covariances),
                Adjustment::VarianceFloored { feature, floor },
            )
        };
        let degenerate = Event::new(Some(Param::Covariances), Adjustment::KeptDegenerate);
        match (old.covariances(), s.scatter(), &p.scale) {
            (Covariances::Full(old), Scatter::Full(m), Covariances::Full(psi)) => Covariances::Full(
                (0..old.len())
                    .map(|c| {
                        if self.collapsed[c] {
                            return old[c].clone();
                        }
                        let denom = mass[c] + p.extra_mass[(c, 0)];
                        let b = Mat::from_fn(d, d, |i, j| {
                            (self.entry(c, i, j, m[c][(i, j)]) + psi[c][(i, j)]) / denom
                        });
                        match bounded(b, floors) {
                            Some((sigma, clipped)) => {
                                if clipped {
                                    diag.push(how.place(floored(None, max(floors)), c));
                                }
                                sigma
                            }
                            None => {
                                diag.push(how.place(degenerate, c));
                                old[c].clone()
                            }
                        }
                    })
                    .collect(),
            ),
            (Covariances::Diagonal(old), Scatter::Diagonal(m), Covariances::Diagonal(psi)) => {
                Covariances::Diagonal(Mat::from_fn(old.nrows(), d, |c, f| {
                    if self.collapsed[c] {
                        return old[(c, f)];
                    }
                    let v = (self.entry(c, f, f, m[(c, f)]) + psi[(c, f)]) / (mass[c] + p.extra_mass[(c, f)]);
                    if floors[f] > 0.0 && v <= floors[f] {
                        diag.push(how.place(floored(Some(f), floors[f]), c));
                        floors[f]
                    } else if v > 0.0 && v.is_finite() {
                        v
                    } else {
                        diag.push(how.place(degenerate, c));
                        old[(c, f)]
                    }
                }))
            }
            (Covariances::Spherical(old), Scatter::Diagonal(m), Covariances::Spherical(psi)) => {
                let floor = floors.iter().sum::<f64>() / d as f64;
                Covariances::Spherical(
                    (0..old.len())
                        .map(|c| {
                            if self.collapsed[c] {
                                return old[c];
                            }
                            let tr: f64 = (0..d).map(|f| self.entry(c, f, f, m[(c, f)])).sum();
                            let v = (tr + psi[c]) / (d as f64 * mass[c] + p.extra_mass[(c, 0)]);
                            if floor > 0.0 && v <= floor {
                                diag.push(how.place(floored(None, floor), c));
                                floor
                            } else if v > 0.0 && v.is_finite() {
                                v
                            } else {
                                diag.push(how.place(degenerate, c));
                                old[c]
                            }
                        })
                        .collect(),
                )
            }
            (Covariances::Tied(old), Scatter::Pooled(m), Covariances::Tied(psi)) => {
                let denom = s.total_mass() + p.extra_mass[(0, 0)];
                let b = Mat::from_fn(d, d, |i, j| {
                    let blocks: f64 = (0..mass.len()).map(|c| self.entry(c, i, j, 0.0)).sum();
                    (m[(i, j)] + blocks + psi[(i, j)]) / denom
                });
                Covariances::Tied(match bounded(b, floors) {
                    Some((sigma, clipped)) => {
                        if clipped {
                            diag.push(how.place_all(floored(None, max(floors))));
                        }
                        sigma
                    }
                    None => {
                        diag.push(how.place_all(degenerate));
                        old.clone()
                    }
                })
            }
            _ => unreachable!("statistics and prior types checked against the model"),
        }
    }
}

/// The largest floor.
fn max(floors: &[f64]) -> f64 {
    floors.iter().copied().fold(0.0, f64::max)
}

/// The maximiser of `−½ n ln det Σ − ½ tr(Σ⁻¹ n b)` over `Σ ⪰ diag(f)`
/// (module docs), symmetrised, and whether the bound changed it; `None`
/// when the result does not factor (or is not finite).
fn bounded(b: Mat<f64>, floors: &[f64]) -> Option<(Mat<f64>, bool)> {
    let d = floors.len();
    let b = Mat::from_fn(d, d, |i, j| 0.5 * (b[(i, j)] + b[(j, i)]));
    if floors.iter().all(|&f| f > 0.0) {
        let root: Vec<f64> = floors.iter().map(|f| f.sqrt()).collect();
        let whitened = Mat::from_fn(d, d, |i, j| b[(i, j)] / (root[i] * root[j]));
        let excess = Mat::from_fn(d, d, |i, j| whitened[(i, j)] - if i == j { 1.0 } else { 0.0 });
        if Cholesky::new(excess.as_ref()).is_err() {
            let eigen = whitened.self_adjoint_eigen(Side::Lower).ok()?;
            let (u, s) = (eigen.U(), eigen.S().column_vector());
            let raised: Vec<f64> = (0..d).map(|i| s[i].max(1.0)).collect();
            let sigma = Mat::from_fn(d, d, |i, j| {
                let v: f64 = (0..d).map(|l| u[(i, l)] * raised[l] * u[(j, l)]).sum();
                v * root[i] * root[j]
            });
            let sigma = Mat::from_fn(d, d, |i, j| 0.5 * (sigma[(i, j)] + sigma[(j, i)]));
            return Cholesky::new(sigma.as_ref()).is_ok().then_some((sigma, true));
        }
    }
    Cholesky::new(b.as_ref()).is_ok().then_some((b, false))
}

#[cfg(test)]
mod tests {
    use super::*;

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
