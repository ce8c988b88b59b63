//! The M-step of Gaussian blocks (the means and covariances of one
//! `mixture::GaussianMixture`: the states of a Gaussian emission, or the
//! components of one state of a GMM emission): an adapter to the mixture
//! crate's one Gaussian update, `mixture::gaussian_update`, which documents
//! the maths. The HMM's choices made here:
//!
//! - MAP under a conjugate [`NormalPrior`] (hmmlearn's `means_prior`,
//!   `means_weight`, `covars_prior`, `covars_weight`, converted by the
//!   Python classes), maximum likelihood without one;
//! - the covariance floor as a lower bound `Σ ⪰ diag(f)`
//!   (`FloorMode::LowerBound`), not added: the update is the maximiser of
//!   EM's objective over `{Σ : Σ ⪰ diag(f)}`. The floor is computed from the
//!   statistics pooled over every block of the emission, which are those of
//!   the whole data set whatever the parameters (the posteriors of every
//!   time step sum to 1): it is the same at every iteration. So the step is
//!   a true maximiser over a fixed set, and EM never lowers its objective; a
//!   floor added to the update instead (as scikit-learn's `reg_covar`) is
//!   not, and lowers the log-likelihood by more than rounding near
//!   convergence. A bound that binds is reported
//!   ([`Adjustment::VarianceFloored`]);
//! - a component the mixture crate's rule collapses
//!   (`mixture::mstep::collapsed_components` with its default thresholds:
//!   mass at most `10⁻¹²` of the total, or fewer than 1.5 effective points)
//!   keeps its mean and covariance (a generalised EM step,
//!   [`Adjustment::KeptWithoutMass`]); no re-seeding. A degenerate new
//!   covariance keeps the previous one ([`Adjustment::KeptDegenerate`]);
//! - events are placed on the state (Gaussian emission: the mixture's
//!   components are the states) or on the state and component (GMM).

use em_core::{Adjustment, Event, Floor};
use mixture::gaussian_update::{FloorMode, GaussianUpdate};
use mixture::{GaussianMixture, MixtureError, SufficientStats};

use super::gaussian::mixture_err;
use crate::error::HmmError;
use crate::model::options::MStepOptions;
use crate::param::{Param, StepDiagnostics};

/// The conjugate prior of the means and covariances of one mixture's
/// components: the mixture crate's, whose update is
/// `mixture::gaussian_update`'s.
pub use mixture::NormalPrior;

/// The error of a prior of `state` (the state of a GMM emission) in the
/// HMM's terms: [`HmmError::PriorShape`] and [`HmmError::InvalidPriorValue`]
/// naming the state, other mixture errors in [`HmmError::Mixture`].
fn prior_err(state: Option<usize>) -> impl Fn(MixtureError) -> HmmError {
    move |source| match source {
        MixtureError::PriorShape {
            parameter,
            expected,
            found,
        } => HmmError::PriorShape {
            parameter,
            state,
            expected,
            found,
        },
        MixtureError::InvalidPriorValue {
            parameter,
            index,
            value,
        } => HmmError::InvalidPriorValue {
            parameter,
            state,
            index,
            value,
        },
        source => HmmError::Mixture { state, source },
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
/// As [`NormalPrior::check`], in the HMM's errors.
pub(crate) fn log_prior(
    mixture: &GaussianMixture,
    prior: Option<&NormalPrior>,
    options: &MStepOptions,
    state: Option<usize>,
) -> Result<Option<f64>, HmmError> {
    let how = Update::new(options, &[], prior, state);
    match prior {
        Some(prior) if how.means || how.covariances => {
            prior.log_density(mixture).map(Some).map_err(prior_err(state))
        }
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

    /// An event of the mixture crate's update in the HMM's terms: its block
    /// named by the HMM's [`Param`], placed on its component (or on the whole
    /// mixture for the tied covariance).
    fn translate(&self, event: Event<mixture::Param>) -> Event<Param> {
        let block = event.parameter.map(|p| match p {
            mixture::Param::Weights => Param::Weights,
            mixture::Param::Means => Param::Means,
            mixture::Param::Covariances => Param::Covariances,
        });
        let translated = Event::new(block, event.adjustment);
        match (event.component, self.state) {
            (Some(c), _) => self.place(translated, c),
            (None, Some(j)) => translated.in_state(j),
            (None, None) => translated,
        }
    }
}

/// The new mixture: `weights`, and the means and covariances of
/// `mixture::gaussian_update` (under the prior, the floor a lower bound)
/// from `stats` (accumulated under `old`).
///
/// # Errors
/// An invalid prior ([`HmmError::PriorShape`],
/// [`HmmError::InvalidPriorValue`]); [`HmmError::Mixture`] when the
/// mixture cannot be built (never for statistics of `old`).
pub(crate) fn update(
    old: &GaussianMixture,
    stats: &SufficientStats,
    weights: Vec<f64>,
    how: &Update<'_>,
) -> Result<(GaussianMixture, StepDiagnostics), HmmError> {
    let (k, d) = (old.n_components(), old.n_features());
    if let Some(prior) = how.prior {
        prior
            .check(k, d, old.covariance_type())
            .map_err(prior_err(how.state))?;
    }
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
    let shared = GaussianUpdate {
        floors: how.floors,
        floor_mode: FloorMode::LowerBound,
        prior: how.prior,
        collapsed: &collapsed,
    };
    let means = if how.means {
        shared.means(old.means(), stats)
    } else {
        old.means().to_owned()
    };
    let covariances = if how.covariances {
        let mut events = mixture::StepDiagnostics::default();
        let no_reseeding = vec![false; k];
        let new = shared.covariances(
            old.covariances(),
            stats,
            means.as_ref(),
            &no_reseeding,
            &mut events,
        );
        for event in events.events {
            diag.push(how.translate(event));
        }
        new
    } else {
        old.covariances().clone()
    };
    let model = GaussianMixture::new(weights, means, covariances).map_err(mixture_err(how.state))?;
    Ok((model, diag))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::options::MStepOptions;
    use faer::{Mat, Side};
    use linalg_kernels::Cholesky;
    use mixture::{CovarianceType, Covariances};
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
        data + prior.log_density(m).unwrap()
    }

    /// A bad prior of a GMM state's mixture is an error naming the state,
    /// the parameter and the entry, in the HMM's error type.
    #[test]
    fn a_bad_prior_names_the_state() {
        let (k, d, t) = (2, 2, CovarianceType::Diagonal);
        let old = GaussianMixture::new(
            vec![0.5, 0.5],
            Mat::zeros(k, d),
            Covariances::Diagonal(Mat::ones(k, d)),
        )
        .unwrap();
        let stats = SufficientStats::empty(k, d, t).unwrap();
        let mut prior = NormalPrior::none(k, d, t);
        prior.extra_mass[(1, 0)] = f64::INFINITY;
        let how = Update::new(&MStepOptions::default(), &[0.0; 2], Some(&prior), Some(4));
        assert!(matches!(
            update(&old, &stats, vec![0.5, 0.5], &how),
            Err(HmmError::InvalidPriorValue {
                parameter: "covariance prior mass",
                state: Some(4),
                index: (1, 0),
                ..
            })
        ));
        prior.means_weight.push(1.0);
        assert!(matches!(
            log_prior(&old, Some(&prior), &MStepOptions::default(), Some(4)),
            Err(HmmError::PriorShape {
                parameter: "means weight",
                state: Some(4),
                expected: (2, 1),
                found: (3, 1)
            })
        ));
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
}
