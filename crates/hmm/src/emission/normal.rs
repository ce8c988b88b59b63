//! The M-step of Gaussian blocks (the means and covariances of one
//! `mixture::GaussianMixture`: the states of a Gaussian emission, or the
//! components of one state of a GMM emission): maximum a posteriori under a
//! conjugate [`NormalPrior`], with the covariance floor as a lower bound.
//!
//! The maths is documented on [`NormalPrior`].

use em_core::{Adjustment, Event, Floor};
use faer::{Mat, MatRef, Side};
use linalg_kernels::Cholesky;
use mixture::{CovarianceType, Covariances, GaussianMixture, MixtureError, Scatter, SufficientStats};

use super::gaussian::mixture_err;
use crate::error::HmmError;
use crate::model::options::MStepOptions;
use crate::param::{Param, StepDiagnostics};

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
/// A component the mixture crate's rule collapses
/// (`mixture::mstep::collapsed_components` with its default thresholds: mass
/// at most `10⁻¹²` of the total, or fewer than 1.5 effective points) keeps
/// its mean and covariance
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

impl NormalPrior {
    /// `ln p(μ, Σ)` up to a constant at the means and covariances of
    /// `mixture`, the log prior whose sum with EM's expected complete-data
    /// log-likelihood the update maximises:
    ///
    /// ```text
    /// Σ_c [−½ a_c ln det Σ_c − ½ tr(Σ_c⁻¹ (Ψ_c + λ_c δ_c δ_cᵀ))]       full, δ_c = μ_c − μ₀_c
    /// Σ_c Σ_f [−½ a_cf ln σ²_cf − ½ (ψ_cf + λ_c δ_cf²) / σ²_cf]        diagonal
    /// Σ_c [−½ a_c ln σ²_c − ½ (ψ_c + λ_c ‖δ_c‖²) / σ²_c]              spherical
    /// −½ a ln det Σ − ½ tr(Σ⁻¹ (Ψ + Σ_c λ_c δ_c δ_cᵀ))                 tied
    /// ```
    ///
    /// # Errors
    /// As [`NormalPrior::check`] against the mixture's shape.
    pub(crate) fn log_density(
        &self,
        mixture: &GaussianMixture,
        state: Option<usize>,
    ) -> Result<f64, HmmError> {
        let (k, d) = (mixture.n_components(), mixture.n_features());
        self.check(k, d, mixture.covariance_type(), state)?;
        let delta = |c: usize, f: usize| mixture.means()[(c, f)] - self.means[(c, f)];
        // −½ tr(Σ⁻¹ (Ψ + Σ_c∈cs λ_c δ_c δ_cᵀ)) with the precision of component `of`.
        let quadratic = |of: usize, psi: &Mat<f64>, cs: std::ops::Range<usize>| {
            let precision = mixture
                .component_precision(of)
                .expect("a component of the mixture");
            let mut sum = 0.0;
            for i in 0..d {
                for j in 0..d {
                    let spread: f64 = cs
                        .clone()
                        .map(|c| self.means_weight[c] * delta(c, i) * delta(c, j))
                        .sum();
                    sum += precision[(i, j)] * (psi[(i, j)] + spread);
                }
            }
            -0.5 * sum
        };
        let log_det = mixture.log_det_covariances();
        Ok(match (mixture.covariances(), &self.scale) {
            (Covariances::Full(_), Covariances::Full(psi)) => (0..k)
                .map(|c| -0.5 * self.extra_mass[(c, 0)] * log_det[c] + quadratic(c, &psi[c], c..c + 1))
                .sum(),
            (Covariances::Tied(_), Covariances::Tied(psi)) => {
                -0.5 * self.extra_mass[(0, 0)] * log_det[0] + quadratic(0, psi, 0..k)
            }
            (Covariances::Diagonal(sigma), Covariances::Diagonal(psi)) => (0..k)
                .flat_map(|c| (0..d).map(move |f| (c, f)))
                .map(|(c, f)| {
                    let v = sigma[(c, f)];
                    let spread = self.means_weight[c] * delta(c, f) * delta(c, f);
                    -0.5 * self.extra_mass[(c, f)] * v.ln() - 0.5 * (psi[(c, f)] + spread) / v
                })
                .sum(),
            (Covariances::Spherical(sigma), Covariances::Spherical(psi)) => (0..k)
                .map(|c| {
                    let v = sigma[c];
                    let spread: f64 = (0..d)
                        .map(|f| self.means_weight[c] * delta(c, f) * delta(c, f))
                        .sum();
                    -0.5 * self.extra_mass[(c, 0)] * v.ln() - 0.5 * (psi[c] + spread) / v
                })
                .sum(),
            _ => unreachable!("the prior's type is checked against the mixture"),
        })
    }
}

/// The floor of every feature (see [`NormalPrior`]): `floor` at the scale
/// of feature f of the data behind `stats` pooled over all its blocks,
/// `max(s_f², ε m̄_f²)` (`mixture::floor::feature_scale`), for a relative
/// floor; the value itself for an absolute one. The blocks are merged into
/// one set of statistics (an exact pooling: the variance of the union of
/// the blocks' points is the same however they are grouped into
/// components), floored by `mixture::floor::feature_floors`.
///
/// # Errors
/// Statistics of other shapes, and [`MixtureError::ScaleOutOfRange`] when
/// a positive relative floor is not a normal number (data too small or too
/// large to square), in [`HmmError::Mixture`].
pub(crate) fn feature_floors<'a>(
    mut stats: impl Iterator<Item = &'a SufficientStats>,
    d: usize,
    floor: Floor,
) -> Result<Vec<f64>, HmmError> {
    if !floor.is_valid() {
        return Err(HmmError::InvalidOption {
            what: "covariance floor",
            value: floor.value(),
        });
    }
    let Floor::Relative(_) = floor else {
        return Ok(vec![floor.value(); d]);
    };
    let Some(mut pooled) = stats.next().cloned() else {
        return Ok(vec![floor.value(); d]);
    };
    for s in stats {
        pooled.try_merge(s).map_err(mixture_err(None))?;
    }
    mixture::floor::feature_floors(&pooled, floor).map_err(mixture_err(None))
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

/// [`NormalPrior::log_density`] of `mixture` under `prior` when
/// `options.learn` learns its means or covariances; `None` otherwise (no
/// prior, or one the M-step does not use).
///
/// # Errors
/// As [`NormalPrior::check`].
pub(crate) fn log_prior(
    mixture: &GaussianMixture,
    prior: Option<&NormalPrior>,
    options: &MStepOptions,
    state: Option<usize>,
) -> Result<Option<f64>, HmmError> {
    let how = Update::new(options, &[], prior, state);
    match prior {
        Some(prior) if how.means || how.covariances => prior.log_density(mixture, state).map(Some),
        _ => Ok(None),
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
    // A given prior is checked; the flat one (maximum likelihood) is valid
    // by construction.
    if let Some(prior) = how.prior {
        prior.check(k, d, old.covariance_type(), how.state)?;
    }
    let none = NormalPrior::none(k, d, old.covariance_type());
    let prior = how.prior.unwrap_or(&none);
    let mut diag = StepDiagnostics::default();
    // The mixture crate's rule, with its default thresholds.
    let collapsed = mixture::mstep::collapsed_components(stats, &mixture::MStepOptions::default());
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
            return Cholesky::new(sigma.as_ref()).is_ok().then_some((sigma, true));
        }
    }
    Cholesky::new(b.as_ref()).is_ok().then_some((b, false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::options::MStepOptions;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use rand_distr::StandardNormal;

    /// EM's objective for the means and covariances of `m` given the
    /// responsibilities `resp` of the rows of `x`, from its definition:
    /// `Σ_t Σ_c r_tc [−½ ln det Σ_c − ½ (x_t − μ_c)ᵀ Σ_c⁻¹ (x_t − μ_c)]`
    /// (constants dropped) plus the prior's log density.
    fn objective(m: &GaussianMixture, x: &Mat<f64>, resp: &Mat<f64>, prior: &NormalPrior) -> f64 {
        let (k, d) = (m.n_components(), m.n_features());
        let data: f64 = (0..k)
            .map(|c| {
                let chol = Cholesky::new(m.component_covariance(c).unwrap().as_ref()).unwrap();
                (0..x.nrows())
                    .map(|t| {
                        let dx: Vec<f64> = (0..d).map(|f| x[(t, f)] - m.means()[(c, f)]).collect();
                        resp[(t, c)] * (-0.5 * chol.log_det() - 0.5 * chol.mahalanobis_squared(&dx).unwrap())
                    })
                    .sum::<f64>()
            })
            .sum();
        data + prior.log_density(m, None).unwrap()
    }

    /// A random feasible point `Σ' ⪰ diag(f)` near `sigma` (`scale` the size
    /// of the move): in the whitened coordinates `D^{-1/2} Σ D^{-1/2}` a
    /// random symmetric move, its eigenvalues below 1 raised to 1.
    fn feasible_near(sigma: &Mat<f64>, floors: &[f64], scale: f64, rng: &mut StdRng) -> Mat<f64> {
        let d = floors.len();
        let root: Vec<f64> = floors.iter().map(|f| f.sqrt()).collect();
        let e = Mat::from_fn(d, d, |_, _| scale * rng.sample::<f64, _>(StandardNormal));
        let w = Mat::from_fn(d, d, |i, j| {
            sigma[(i, j)] / (root[i] * root[j]) + 0.5 * (e[(i, j)] + e[(j, i)])
        });
        let eigen = w.self_adjoint_eigen(Side::Lower).unwrap();
        let (u, s) = (eigen.U(), eigen.S().column_vector());
        Mat::from_fn(d, d, |i, j| {
            let v: f64 = (0..d).map(|l| u[(i, l)] * s[l].max(1.0) * u[(j, l)]).sum();
            v * root[i] * root[j]
        })
    }

    /// The covariances of type `like` with component c's dense covariance
    /// replaced by `dense(c)` (diagonal and spherical: its diagonal and the
    /// mean of it; tied: component 0's).
    fn of_type(like: &Covariances, k: usize, dense: impl Fn(usize) -> Mat<f64>) -> Covariances {
        match like {
            Covariances::Full(_) => Covariances::Full((0..k).map(dense).collect()),
            Covariances::Tied(_) => Covariances::Tied(dense(0)),
            Covariances::Diagonal(m) => {
                let all: Vec<Mat<f64>> = (0..k).map(dense).collect();
                Covariances::Diagonal(Mat::from_fn(k, m.ncols(), |c, f| all[c][(f, f)]))
            }
            Covariances::Spherical(_) => Covariances::Spherical(
                (0..k)
                    .map(|c| {
                        let m = dense(c);
                        (0..m.nrows()).map(|f| m[(f, f)]).sum::<f64>() / m.nrows() as f64
                    })
                    .collect(),
            ),
        }
    }

    /// The update with a binding floor is the maximiser of EM's objective
    /// (plus the log prior) over `Σ ⪰ diag(f)`: no random feasible point
    /// (means moved too) scores higher, every covariance type. The data
    /// have a second feature of tiny spread in one component, so the floor
    /// binds there. (An additive floor, `Σ = B/n + diag(f)`, fails this.)
    #[test]
    fn the_floored_update_is_the_constrained_maximiser() {
        let mut rng = StdRng::seed_from_u64(11);
        let (n, k, d) = (80, 2, 2);
        let x = Mat::from_fn(n, d, |t, f| {
            let z: f64 = rng.sample(StandardNormal);
            match (t % 2, f) {
                (0, 0) => 3.0 + z,
                (0, _) => 0.01 * z,
                (_, 0) => -1.0 + 0.8 * z,
                (_, _) => 2.0 + 1.5 * z,
            }
        });
        let resp = Mat::from_fn(n, k, |t, c| {
            let p = if t % 2 == 0 { 0.98 } else { 0.02 };
            if c == 0 { p } else { 1.0 - p }
        });
        let floors = [0.2, 1.6];
        let options = MStepOptions::default().with_reg_covar(0.0);
        for t in CovarianceType::ALL {
            let old = GaussianMixture::new(
                vec![0.5, 0.5],
                Mat::from_fn(k, d, |c, f| c as f64 + f as f64),
                of_type(&NormalPrior::none(k, d, t).scale, k, |_| Mat::identity(d, d)),
            )
            .unwrap();
            let mut prior = NormalPrior::none(k, d, t);
            prior.means = Mat::from_fn(k, d, |c, f| 0.5 * (c + f) as f64);
            prior.means_weight = vec![2.0, 0.5];
            prior.scale = of_type(&prior.scale, k, |c| {
                Mat::from_fn(d, d, |i, j| if i == j { 0.05 * (c + 1) as f64 } else { 0.01 })
            });
            prior.extra_mass.fill(1.5);
            let stats = SufficientStats::from_responsibilities(x.as_ref(), resp.as_ref(), t).unwrap();
            let how = Update::new(&options, &floors, Some(&prior), None);
            let (best, diag) = update(&old, &stats, vec![0.5, 0.5], &how).unwrap();
            assert!(
                diag.to_string().contains("floor"),
                "{t:?}: the floor binds ({diag})"
            );
            let at_best = objective(&best, &x, &resp, &prior);
            for trial in 0..200 {
                let scale = [1e-4, 1e-2, 0.3][trial % 3];
                let means = Mat::from_fn(k, d, |c, f| {
                    best.means()[(c, f)] + scale * rng.sample::<f64, _>(StandardNormal)
                });
                // Feasible for every type: the diagonal of a matrix ⪰ diag(f)
                // is ≥ f, and so is the mean of it.
                let moved: Vec<Mat<f64>> = (0..k)
                    .map(|c| feasible_near(&best.component_covariance(c).unwrap(), &floors, scale, &mut rng))
                    .collect();
                let covs = of_type(best.covariances(), k, |c| moved[c].clone());
                let other = GaussianMixture::new(vec![0.5, 0.5], means, covs).unwrap();
                let at_other = objective(&other, &x, &resp, &prior);
                assert!(
                    at_best >= at_other - 1e-10 * at_best.abs(),
                    "{t:?}, trial {trial}: {at_best} at the update < {at_other} at a feasible point"
                );
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
