//! The M-step: new parameters from sufficient statistics, with a documented
//! policy for collapsed components and an honest report of what happened.
//!
//! # The update (maximum likelihood given the statistics)
//! With masses `Nₖ`, weighted means `mₖ`, centred scatters `Mₖ` and total
//! mass `N = Σₖ Nₖ`:
//! - weights `wₖ = Nₖ / N`, then floored at [`WEIGHT_FLOOR`] and renormalised
//!   (as scikit-learn's `+10 eps`, so that no component gets weight exactly 0);
//! - means `μₖ = mₖ`;
//! - covariances about the new means (`Sₖ = Mₖ + Nₖ (mₖ − μₖ)(mₖ − μₖ)ᵀ`,
//!   which is `Mₖ` unless means are frozen), plus the floor `diag(f)`:
//!   full `Sₖ / Nₖ`, diagonal `diag(Sₖ) / Nₖ`, spherical `tr(Sₖ) / (d Nₖ)`,
//!   tied `Σₖ Sₖ / N`. The floor of feature j is by default `10⁻⁶` times
//!   the data's variance of feature j, computed from the statistics, so the
//!   fit does not depend on the units of the data (see [`crate::floor`]);
//!   [`MStepOptions::with_reg_covar`] gives scikit-learn's absolute
//!   `reg_covar · I` instead. The spherical type adds the mean of the `f_j`.
//!
//! The means and covariances are [`crate::gaussian_update`]'s, the one
//! Gaussian update of the workspace (the HMM emissions use it too), in its
//! additive floor mode ([`FloorMode::Additive`]) and without a prior; this
//! module adds the weights, the collapse and re-seeding policy and the
//! objective check.
//!
//! # When the floor binds
//! When the floor of a feature is at least the variance the data gave it
//! (`f_j ≥ Sₖ,jj / Nₖ`: the fitted variance is mostly floor), the M-step
//! reports `Adjustment::VarianceFloored` naming the component (none for the
//! tied type) and the feature (none for the spherical type's one variance),
//! so a floor that shapes the answer is never silent.
//!
//! # Collapsed components
//! Component k is *collapsed* when its mass is at most
//! `min_relative_mass · N` (empty), or when its effective number of points
//! `Nₖ² / Σᵢ ρᵢₖ²` is below `min_effective_points` (all its mass on a single
//! point: the maximum-likelihood covariance would be singular). A collapsed
//! component never produces NaN or a singular covariance:
//! - if `reseed_collapsed` is set, means are updated and the statistics carry
//!   re-seeding candidates (statistics from the E-step do; [`crate::SufficientStats::from_responsibilities`] does not), it is
//!   **re-seeded** on the next unused candidate, the data point of lowest
//!   likelihood under the current model: mean = that point, covariance = the
//!   mass-weighted average of the new covariances of the healthy components
//!   (its previous covariance if there are none; unchanged for the tied type),
//!   weight `1/K` (the other weights are scaled to share `1 − r/K`, r the
//!   number of re-seeded components). Collapsed
//!   components are served in index order, worst point first; one point per
//!   component. A re-seed can lower the log-likelihood: it is reported.
//! - otherwise it **keeps its previous mean and covariance**; its weight is
//!   updated (and floored) like the others. This is a generalised EM step:
//!   the log-likelihood still cannot decrease. (The HMM crate relies on this
//!   for states without posterior mass.)
//!
//! A new full or tied covariance that does not factor, or factors with a
//! numerically singular pivot ([`linalg_kernels::tolerance::DEGENERATE_PIVOT`]; in practice only
//! with a zero floor and a component spanning fewer than d + 1 points),
//! keeps its previous value (`degenerate` in the diagnostics; the mean is
//! still updated, which is again a generalised EM step). Diagonal and
//! spherical variances are degenerate when one is not strictly positive
//! (the component keeps its whole previous covariance).
//!
//! # The objective check
//! The diagnostics carry `Q(θ_new) − Q(θ_old)` where
//! `Q(θ) = Σₖ [Nₖ ln wₖ − ½ Nₖ (d ln 2π + ln det Σₖ) − ½ tr(Σₖ⁻¹ Sₖ(μₖ))]`
//! is EM's expected complete-data log-likelihood, computed from the
//! statistics. When the statistics were produced by the model the M-step is
//! called on, the EM inequality gives `ln L(θ_new) − ln L(θ_old) ≥ Q(θ_new) − Q(θ_old)`:
//! a non-negative change guarantees the log-likelihood does not fall. Without
//! a floor and without re-seeding it is ≥ 0 up to rounding; a floor that
//! costs more than rounding (relative 1e-10) is reported as
//! `objective_decreased`, never hidden.
//!
//! Every adjustment is an event of the [`StepDiagnostics`]: a re-seeded
//! component (`Adjustment::Reseeded`, no parameter: the whole component), a
//! collapsed component's kept means or covariances (`KeptWithoutMass`), a
//! degenerate covariance kept (`KeptDegenerate`, no component for the tied
//! type), a binding variance floor (`VarianceFloored`) and a floored weight
//! (`ProbabilityFloored`).

use crate::covariance::{Whitening, build_factors, check_count};
use crate::floor::{DEFAULT_RELATIVE_FLOOR, Floor, feature_floors};
use crate::gaussian_update::{FloorMode, GaussianUpdate};
use crate::stats::Scatter;
use crate::{
    CovarianceType, GaussianMixture, LearnSet, MixtureError, Param, StepDiagnostics, SufficientStats,
};
use em_core::{Adjustment, Event};
use faer::Mat;
use linalg_kernels::LN_2PI;
use linalg_kernels::tolerance::OBJECTIVE;

/// Smallest weight after an M-step (before renormalisation): `10 · ε`.
pub const WEIGHT_FLOOR: f64 = 10.0 * f64::EPSILON;

/// Options of the M-step ([`em_core::EmModel::m_step`]). Build with
/// [`Default`] and adjust fields or use the `with_*` methods.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MStepOptions {
    /// The floor added to the diagonal of every new covariance (value ≥ 0,
    /// finite; default [`Floor::Relative`]`(`[`DEFAULT_RELATIVE_FLOOR`]`)`:
    /// `10⁻⁶` times the data's variance of each feature, see
    /// [`crate::floor`]). [`Floor::Absolute`] is scikit-learn's `reg_covar`.
    pub covariance_floor: Floor,
    /// The blocks updated (default: all); the others keep their values.
    pub learn: LearnSet,
    /// A component whose mass is at most this fraction of the total mass is
    /// collapsed (default `1e-12`; in `[0, 1)`).
    pub min_relative_mass: f64,
    /// A component with fewer effective points `Nₖ² / Σρ²` is collapsed
    /// (default 1.5: all the mass on one point; ≥ 0; 0 disables the test).
    pub min_effective_points: f64,
    /// Re-seed collapsed components on the worst-likelihood points carried by
    /// the statistics (default true; see the module docs).
    pub reseed_collapsed: bool,
}

impl Default for MStepOptions {
    fn default() -> Self {
        Self {
            covariance_floor: Floor::Relative(DEFAULT_RELATIVE_FLOOR),
            learn: LearnSet::all(),
            min_relative_mass: 1e-12,
            min_effective_points: 1.5,
            reseed_collapsed: true,
        }
    }
}

impl MStepOptions {
    /// An absolute floor, scikit-learn's `reg_covar`: `reg_covar` added to
    /// every variance whatever the data's units (`0`: exact EM).
    #[must_use]
    pub fn with_reg_covar(self, reg_covar: f64) -> Self {
        self.with_covariance_floor(Floor::Absolute(reg_covar))
    }

    /// Sets [`covariance_floor`](Self::covariance_floor).
    #[must_use]
    pub fn with_covariance_floor(mut self, floor: Floor) -> Self {
        self.covariance_floor = floor;
        self
    }

    /// Sets which blocks are updated.
    #[must_use]
    pub fn with_learn(mut self, learn: LearnSet) -> Self {
        self.learn = learn;
        self
    }

    /// Sets [`reseed_collapsed`](Self::reseed_collapsed).
    #[must_use]
    pub fn with_reseed(mut self, reseed: bool) -> Self {
        self.reseed_collapsed = reseed;
        self
    }

    /// Sets the collapse thresholds.
    #[must_use]
    pub fn with_collapse_thresholds(mut self, min_relative_mass: f64, min_effective_points: f64) -> Self {
        self.min_relative_mass = min_relative_mass;
        self.min_effective_points = min_effective_points;
        self
    }

    /// Checks the documented ranges.
    ///
    /// # Errors
    /// [`MixtureError::InvalidOption`] naming the option.
    pub fn validate(&self) -> Result<(), MixtureError> {
        let bad = |name, value| Err(MixtureError::InvalidOption { name, value });
        if !self.covariance_floor.is_valid() {
            let name = match self.covariance_floor {
                Floor::Relative(_) => "relative covariance floor",
                Floor::Absolute(_) => "reg_covar",
            };
            return bad(name, self.covariance_floor.value());
        }
        if !(self.min_relative_mass.is_finite() && (0.0..1.0).contains(&self.min_relative_mass)) {
            return bad("min_relative_mass", self.min_relative_mass);
        }
        if !(self.min_effective_points.is_finite() && self.min_effective_points >= 0.0) {
            return bad("min_effective_points", self.min_effective_points);
        }
        Ok(())
    }
}

impl GaussianMixture {
    /// The M-step of [`em_core::EmModel::m_step`] (see the module docs).
    pub(crate) fn maximise(
        &self,
        stats: &SufficientStats,
        options: &MStepOptions,
    ) -> Result<(GaussianMixture, StepDiagnostics), MixtureError> {
        options.validate()?;
        self.check_statistics(stats)?;
        let (k, d) = (self.n_components(), self.n_features());
        let learn = options.learn;
        let mut diag = StepDiagnostics::default();
        let collapsed = collapsed_components(stats, options);
        let floors = if learn.contains(Param::Covariances) {
            feature_floors(stats, options.covariance_floor)?
        } else {
            Vec::new()
        };
        let update = GaussianUpdate {
            floors: &floors,
            floor_mode: FloorMode::Additive,
            prior: None,
            collapsed: &collapsed,
        };
        let (means, reseeded) = self.new_means(stats, &update, options);
        let covariances = if learn.contains(Param::Covariances) {
            update.covariances(self.covariances(), stats, means.as_ref(), &reseeded, &mut diag)
        } else {
            self.covariances().clone()
        };
        let weights = if learn.contains(Param::Weights) {
            self.new_weights(stats, &reseeded, &mut diag)
        } else {
            self.weights().to_vec()
        };
        for c in 0..k {
            if reseeded[c] {
                diag.push(Event::new(None, Adjustment::Reseeded).in_component(c));
            } else if collapsed[c] {
                for block in [Param::Means, Param::Covariances]
                    .into_iter()
                    .filter(|&b| learn.contains(b))
                {
                    diag.push(Event::new(Some(block), Adjustment::KeptWithoutMass).in_component(c));
                }
            }
        }
        let factors = build_factors(&covariances, k, d)?;
        let model = GaussianMixture::assemble(weights, means, covariances, factors);
        let q_old = expected_log_likelihood(self, stats);
        let q_new = expected_log_likelihood(&model, stats);
        let change = q_new - q_old;
        diag.objective_change = Some(change);
        // Rounding of Q is relative to its terms, at least of the order of
        // the mass (the trace term is ½ N d at the optimum): `max(|Q|, N)`
        // is a scale that does not depend on the units of the data.
        diag.objective_decreased = change < -OBJECTIVE * q_old.abs().max(stats.total_mass())
            || (q_old.is_finite() && !q_new.is_finite());
        Ok((model, diag))
    }

    /// The statistics have this model's covariance type, K and d.
    fn check_statistics(&self, stats: &SufficientStats) -> Result<(), MixtureError> {
        if stats.covariance_type() != self.covariance_type() {
            return Err(MixtureError::CovarianceTypeMismatch {
                expected: self.covariance_type(),
                found: stats.covariance_type(),
            });
        }
        check_count(
            "components of the statistics",
            self.n_components(),
            stats.n_components(),
        )?;
        check_count(
            "features of the statistics",
            self.n_features(),
            stats.n_features(),
        )
    }

    /// The new means (weighted means of the healthy components, previous
    /// means of the collapsed ones, a candidate point for each re-seeded
    /// one) and which components are re-seeded.
    fn new_means(
        &self,
        stats: &SufficientStats,
        update: &GaussianUpdate<'_>,
        options: &MStepOptions,
    ) -> (Mat<f64>, Vec<bool>) {
        let (k, d) = (self.n_components(), self.n_features());
        let mut reseeded = vec![false; k];
        if !options.learn.contains(Param::Means) {
            return (self.means().to_owned(), reseeded);
        }
        let mut means = update.means(self.means(), stats);
        if options.reseed_collapsed {
            let mut next = stats.candidates().iter();
            for c in (0..k).filter(|&c| update.collapsed[c]) {
                let Some(cand) = next.next() else { break };
                for j in 0..d {
                    means[(c, j)] = cand.point[j];
                }
                reseeded[c] = true;
            }
        }
        (means, reseeded)
    }

    /// The new weights `Nₖ / N`, floored at [`WEIGHT_FLOOR`] (reported);
    /// re-seeded components get `1/K` each and the others share the rest.
    /// Without mass the weights are kept.
    fn new_weights(
        &self,
        stats: &SufficientStats,
        reseeded: &[bool],
        diag: &mut StepDiagnostics,
    ) -> Vec<f64> {
        let k = self.n_components();
        let (mass, total) = (stats.mass(), stats.total_mass());
        let mut weights = self.weights().to_vec();
        if !(total > 0.0) {
            return weights;
        }
        let n_reseeded = reseeded.iter().filter(|&&r| r).count();
        for c in (0..k).filter(|&c| !reseeded[c]) {
            weights[c] = mass[c] / total;
            if !(weights[c] >= WEIGHT_FLOOR) {
                weights[c] = WEIGHT_FLOOR;
                diag.push(Event::new(Some(Param::Weights), Adjustment::ProbabilityFloored).in_component(c));
            }
        }
        let share = 1.0 - n_reseeded as f64 / k as f64;
        let sum: f64 = (0..k).filter(|&c| !reseeded[c]).map(|c| weights[c]).sum();
        for c in 0..k {
            weights[c] = if reseeded[c] {
                1.0 / k as f64
            } else {
                weights[c] * share / sum
            };
        }
        weights
    }
}

/// Which components are collapsed (see the module docs): mass at most
/// `options.min_relative_mass` of the total, or fewer effective points
/// `N² / Σρ²` than `options.min_effective_points`.
pub fn collapsed_components(stats: &SufficientStats, options: &MStepOptions) -> Vec<bool> {
    let mass = stats.mass();
    let total = stats.total_mass();
    stats
        .effective_points()
        .iter()
        .zip(mass)
        .map(|(&ess, &m)| {
            !(m > 0.0 && m > options.min_relative_mass * total) || ess < options.min_effective_points
        })
        .collect()
}

/// `Q(θ) = Σₖ [Nₖ ln wₖ − ½ Nₖ (d ln 2π + ln det Σₖ) − ½ tr(Σₖ⁻¹ Sₖ(μₖ))]`
/// from the statistics, with `Sₖ(μ) = Mₖ + Nₖ (mₖ − μ)(mₖ − μ)ᵀ`.
pub(crate) fn expected_log_likelihood(model: &GaussianMixture, stats: &SufficientStats) -> f64 {
    let (k, d) = (model.n_components(), model.n_features());
    let mass = stats.mass();
    let m = stats.means();
    let mu = model.means();
    let log_det = model.log_det_covariances();
    let dl = d as f64 * LN_2PI;
    let mut q = 0.0;
    let mut pooled_extra: Option<Mat<f64>> = None;
    for c in 0..k {
        let n_c = mass[c];
        if !(n_c > 0.0) {
            continue;
        }
        q += n_c * model.log_weights()[c] - 0.5 * n_c * (dl + log_det[c]);
        let delta: Vec<f64> = (0..d).map(|j| m[(c, j)] - mu[(c, j)]).collect();
        match (&model.factors().whitening, stats.scatter()) {
            (Whitening::Full(_), Scatter::Full(scatter)) => {
                let w = model.whitening_matrix(c);
                let s = Mat::from_fn(d, d, |i, j| scatter[c][(i, j)] + n_c * delta[i] * delta[j]);
                q -= 0.5 * trace_wswt(&w, &s);
            }
            (Whitening::Diagonal(inv), Scatter::Diagonal(scatter)) => {
                let tr: f64 = (0..d)
                    .map(|j| {
                        let s = inv[c * d + j];
                        (scatter[(c, j)] + n_c * delta[j] * delta[j]) * s * s
                    })
                    .sum();
                q -= 0.5 * tr;
            }
            (Whitening::Spherical(inv), Scatter::Diagonal(scatter)) => {
                let s = inv[c];
                let tr: f64 = (0..d).map(|j| scatter[(c, j)] + n_c * delta[j] * delta[j]).sum();
                q -= 0.5 * tr * s * s;
            }
            (Whitening::Tied(_), Scatter::Pooled(_)) => {
                let extra = pooled_extra.get_or_insert_with(|| Mat::zeros(d, d));
                for j in 0..d {
                    for i in 0..d {
                        extra[(i, j)] += n_c * delta[i] * delta[j];
                    }
                }
            }
            _ => unreachable!("statistics type checked against the model"),
        }
    }
    if let (Scatter::Pooled(pooled), CovarianceType::Tied) = (stats.scatter(), model.covariance_type()) {
        let w = model.whitening_matrix(0);
        let s = match pooled_extra {
            Some(extra) => Mat::from_fn(d, d, |i, j| pooled[(i, j)] + extra[(i, j)]),
            None => pooled.clone(),
        };
        q -= 0.5 * trace_wswt(&w, &s);
    }
    q
}

/// `tr(W S Wᵀ) = tr(Σ⁻¹ S)` for lower-triangular `W`.
fn trace_wswt(w: &Mat<f64>, s: &Mat<f64>) -> f64 {
    let d = w.nrows();
    let mut tr = 0.0;
    for r in 0..d {
        for i in 0..=r {
            let wri = w[(r, i)];
            if wri == 0.0 {
                continue;
            }
            let mut acc = 0.0;
            for j in 0..=r {
                acc += s[(i, j)] * w[(r, j)];
            }
            tr += wri * acc;
        }
    }
    tr
}
