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
//!   which is `Mₖ` unless means are frozen), plus the floor `reg_covar · I`:
//!   full `Sₖ / Nₖ`, diagonal `diag(Sₖ) / Nₖ`, spherical `tr(Sₖ) / (d Nₖ)`,
//!   tied `Σₖ Sₖ / N`.
//!
//! # Collapsed components
//! Component k is *collapsed* when its mass is at most
//! `min_relative_mass · N` (empty), or when its effective number of points
//! `Nₖ² / Σᵢ ρᵢₖ²` is below `min_effective_points` (all its mass on a single
//! point: the maximum-likelihood covariance would be singular). A collapsed
//! component never produces NaN or a singular covariance:
//! - if `reseed_collapsed` is set, means are updated and the statistics carry
//!   re-seeding candidates (statistics from [`crate::GaussianMixture::e_step`]
//!   do; [`crate::SufficientStats::from_responsibilities`] does not), it is
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
//! numerically singular pivot ([`DEGENERATE_PIVOT_RATIO`]; in practice only
//! with `reg_covar = 0` and a component spanning fewer than d + 1 points),
//! keeps its previous value (`degenerate` in the diagnostics; the mean is
//! still updated, which is again a generalised EM step). Diagonal and
//! spherical variances are degenerate when not strictly positive.
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

use crate::covariance::{Whitening, build_factors, check_count};
use crate::stats::Scatter;
use crate::{CovarianceType, Covariances, GaussianMixture, MixtureError, SufficientStats};
use faer::Mat;
use linalg_kernels::{Cholesky, LN_2PI};
use std::fmt;

/// Default covariance floor added to the diagonal (scikit-learn's default).
pub const DEFAULT_REG_COVAR: f64 = 1e-6;

/// Smallest weight after an M-step (before renormalisation): `10 · ε`.
pub const WEIGHT_FLOOR: f64 = 10.0 * f64::EPSILON;

/// A new full (or tied) covariance is *degenerate* — numerically singular —
/// when a Cholesky pivot satisfies `L_jj² < DEGENERATE_PIVOT_RATIO · Σ_jj`,
/// i.e. feature j is, to 12 digits, a linear combination of the features
/// before it within that component. The previous covariance is then kept.
/// With the default `reg_covar = 1e-6` this only happens for variances above
/// ~10⁶ in a collinear direction; it is meant to catch `reg_covar = 0` fits
/// where a component spans fewer than d + 1 points.
pub const DEGENERATE_PIVOT_RATIO: f64 = 1e-12;

/// Relative tolerance of the objective check: a change of
/// `Q` below `−OBJECTIVE_TOLERANCE · max(1, |Q_old|)` is reported.
pub const OBJECTIVE_TOLERANCE: f64 = 1e-10;

/// Options of [`GaussianMixture::m_step`]. Build with [`Default`] and
/// adjust fields or use the `with_*` methods.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MStepOptions {
    /// Added to the diagonal of every new covariance (≥ 0, finite; default
    /// [`DEFAULT_REG_COVAR`]). For spherical and diagonal types it is added
    /// to each variance.
    pub reg_covar: f64,
    /// Update the weights (default true).
    pub update_weights: bool,
    /// Update the means (default true).
    pub update_means: bool,
    /// Update the covariances (default true).
    pub update_covariances: bool,
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
            reg_covar: DEFAULT_REG_COVAR,
            update_weights: true,
            update_means: true,
            update_covariances: true,
            min_relative_mass: 1e-12,
            min_effective_points: 1.5,
            reseed_collapsed: true,
        }
    }
}

impl MStepOptions {
    /// Sets [`reg_covar`](Self::reg_covar).
    #[must_use]
    pub fn with_reg_covar(mut self, reg_covar: f64) -> Self {
        self.reg_covar = reg_covar;
        self
    }

    /// Sets which parameters are updated.
    #[must_use]
    pub fn with_updates(mut self, weights: bool, means: bool, covariances: bool) -> Self {
        self.update_weights = weights;
        self.update_means = means;
        self.update_covariances = covariances;
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
        if !(self.reg_covar.is_finite() && self.reg_covar >= 0.0) {
            return bad("reg_covar", self.reg_covar);
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

/// What an M-step did beyond the plain update.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct MStepDiagnostics {
    /// Collapsed components re-seeded on a data point.
    pub reseeded: Vec<usize>,
    /// Collapsed components that kept their previous mean and covariance.
    pub kept: Vec<usize>,
    /// Components whose new covariance was degenerate (see
    /// [`DEGENERATE_PIVOT_RATIO`]) and that kept the previous one.
    pub degenerate: Vec<usize>,
    /// The tied covariance did not factor and was kept.
    pub tied_degenerate: bool,
    /// Components whose weight was raised to [`WEIGHT_FLOOR`].
    pub weight_floored: Vec<usize>,
    /// `Q(θ_new) − Q(θ_old)` (see the module docs); a lower bound on the
    /// log-likelihood gain when the statistics come from the old model.
    pub objective_change: f64,
    /// `objective_change` is below `−OBJECTIVE_TOLERANCE · max(1, |Q_old|)`:
    /// this step may lower the log-likelihood (floor or re-seeding).
    pub objective_decreased: bool,
}

impl MStepDiagnostics {
    /// True when there is nothing to report (no collapse, no degenerate
    /// covariance, no floored weight, no objective decrease).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.reseeded.is_empty()
            && self.kept.is_empty()
            && self.degenerate.is_empty()
            && !self.tied_degenerate
            && self.weight_floored.is_empty()
            && !self.objective_decreased
    }
}

impl fmt::Display for MStepDiagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return write!(
                f,
                "m-step: nothing to report (objective change {:.3e})",
                self.objective_change
            );
        }
        let mut parts = Vec::new();
        if !self.reseeded.is_empty() {
            parts.push(format!("re-seeded components {:?}", self.reseeded));
        }
        if !self.kept.is_empty() {
            parts.push(format!("collapsed components kept {:?}", self.kept));
        }
        if !self.degenerate.is_empty() {
            parts.push(format!("degenerate covariances kept {:?}", self.degenerate));
        }
        if self.tied_degenerate {
            parts.push("degenerate tied covariance kept".to_string());
        }
        if !self.weight_floored.is_empty() {
            parts.push(format!("weights floored {:?}", self.weight_floored));
        }
        if self.objective_decreased {
            parts.push(format!("objective decreased by {:.3e}", -self.objective_change));
        } else {
            parts.push(format!("objective change {:.3e}", self.objective_change));
        }
        write!(f, "m-step: {}", parts.join("; "))
    }
}

impl GaussianMixture {
    /// One M-step: a NEW model from `stats` (see the module docs for the
    /// formulas, the collapse policy and the objective check). `self` is
    /// unchanged; on error no model is produced.
    ///
    /// `stats` should come from this model's [`e_step`](Self::e_step) (or,
    /// for other weights, from [`SufficientStats::from_responsibilities`]);
    /// the objective check compares this model with the new one.
    ///
    /// # Errors
    /// [`MixtureError::InvalidOption`]; [`MixtureError::CovarianceTypeMismatch`]
    /// or [`MixtureError::DimensionMismatch`] if the statistics do not fit the model.
    pub fn m_step(
        &self,
        stats: &SufficientStats,
        options: &MStepOptions,
    ) -> Result<(GaussianMixture, MStepDiagnostics), MixtureError> {
        options.validate()?;
        let (k, d) = (self.n_components(), self.n_features());
        let cov_type = self.covariance_type();
        if stats.covariance_type() != cov_type {
            return Err(MixtureError::CovarianceTypeMismatch {
                expected: cov_type,
                found: stats.covariance_type(),
            });
        }
        check_count("components of the statistics", k, stats.n_components())?;
        check_count("features of the statistics", d, stats.n_features())?;

        let mut diag = MStepDiagnostics::default();
        let mass = stats.mass();
        let total = stats.total_mass();
        let ess = stats.effective_points();
        let collapsed: Vec<bool> = (0..k)
            .map(|c| {
                !(mass[c] > 0.0 && mass[c] > options.min_relative_mass * total)
                    || ess[c] < options.min_effective_points
            })
            .collect();

        // Means.
        let mut means = self.means().to_owned();
        if options.update_means {
            for c in (0..k).filter(|&c| !collapsed[c]) {
                for j in 0..d {
                    means[(c, j)] = stats.means()[(c, j)];
                }
            }
        }
        // Re-seeding targets (means only; covariances below).
        let mut reseeded = vec![false; k];
        if options.reseed_collapsed && options.update_means {
            let mut next = stats.candidates().iter();
            for c in (0..k).filter(|&c| collapsed[c]) {
                let Some(cand) = next.next() else { break };
                for j in 0..d {
                    means[(c, j)] = cand.point[j];
                }
                reseeded[c] = true;
            }
        }

        // Covariances about the chosen means.
        let covariances = if options.update_covariances {
            self.new_covariances(stats, &means, &collapsed, &reseeded, options.reg_covar, &mut diag)
        } else {
            self.covariances().clone()
        };

        // Weights.
        let mut weights = self.weights().to_vec();
        if options.update_weights && total > 0.0 {
            let n_reseeded = reseeded.iter().filter(|&&r| r).count();
            for c in (0..k).filter(|&c| !reseeded[c]) {
                weights[c] = mass[c] / total;
                if !(weights[c] >= WEIGHT_FLOOR) {
                    weights[c] = WEIGHT_FLOOR;
                    diag.weight_floored.push(c);
                }
            }
            // Re-seeded components get 1/K each; the others share the rest.
            let share = 1.0 - n_reseeded as f64 / k as f64;
            let sum: f64 = (0..k).filter(|&c| !reseeded[c]).map(|c| weights[c]).sum();
            for c in 0..k {
                weights[c] = if reseeded[c] {
                    1.0 / k as f64
                } else {
                    weights[c] * share / sum
                };
            }
        }

        for c in 0..k {
            if reseeded[c] {
                diag.reseeded.push(c);
            } else if collapsed[c] && (options.update_means || options.update_covariances) {
                diag.kept.push(c);
            }
        }

        let factors = build_factors(&covariances, k, d)?;
        let model = GaussianMixture::assemble(weights, means, covariances, factors);
        let q_old = expected_log_likelihood(self, stats);
        let q_new = expected_log_likelihood(&model, stats);
        diag.objective_change = q_new - q_old;
        diag.objective_decreased = diag.objective_change < -OBJECTIVE_TOLERANCE * q_old.abs().max(1.0)
            || (q_old.is_finite() && !q_new.is_finite());
        Ok((model, diag))
    }

    fn new_covariances(
        &self,
        stats: &SufficientStats,
        means: &Mat<f64>,
        collapsed: &[bool],
        reseeded: &[bool],
        reg: f64,
        diag: &mut MStepDiagnostics,
    ) -> Covariances {
        let (k, d) = (self.n_components(), self.n_features());
        let mass = stats.mass();
        let m = stats.means();
        let delta = |c: usize, j: usize| m[(c, j)] - means[(c, j)];
        match (self.covariances(), stats.scatter()) {
            (Covariances::Full(old), Scatter::Full(scatter)) => {
                let mut new: Vec<Mat<f64>> = old.clone();
                let mut healthy: Vec<usize> = Vec::new();
                for c in (0..k).filter(|&c| !collapsed[c]) {
                    let n_c = mass[c];
                    let cand = Mat::from_fn(d, d, |i, j| {
                        let v = (scatter[c][(i, j)] + n_c * delta(c, i) * delta(c, j)) / n_c;
                        if i == j { v + reg } else { v }
                    });
                    let cand = symmetric_copy(&cand);
                    if factors_well(&cand) {
                        new[c] = cand;
                        healthy.push(c);
                    } else {
                        diag.degenerate.push(c);
                    }
                }
                let n_h: f64 = healthy.iter().map(|&c| mass[c]).sum();
                for c in (0..k).filter(|&c| reseeded[c]) {
                    if n_h > 0.0 {
                        let avg = Mat::from_fn(d, d, |i, j| {
                            healthy.iter().map(|&h| mass[h] * new[h][(i, j)]).sum::<f64>() / n_h
                        });
                        new[c] = symmetric_copy(&avg);
                    }
                }
                Covariances::Full(new)
            }
            (Covariances::Diagonal(old), Scatter::Diagonal(scatter)) => {
                let mut new = old.clone();
                let mut healthy = Vec::new();
                for c in (0..k).filter(|&c| !collapsed[c]) {
                    let n_c = mass[c];
                    let row: Vec<f64> = (0..d)
                        .map(|j| (scatter[(c, j)] + n_c * delta(c, j) * delta(c, j)) / n_c + reg)
                        .collect();
                    if row.iter().all(|v| *v > 0.0 && v.is_finite()) {
                        for j in 0..d {
                            new[(c, j)] = row[j];
                        }
                        healthy.push(c);
                    } else {
                        diag.degenerate.push(c);
                    }
                }
                let n_h: f64 = healthy.iter().map(|&c| mass[c]).sum();
                for c in (0..k).filter(|&c| reseeded[c]) {
                    if n_h > 0.0 {
                        for j in 0..d {
                            new[(c, j)] = healthy.iter().map(|&h| mass[h] * new[(h, j)]).sum::<f64>() / n_h;
                        }
                    }
                }
                Covariances::Diagonal(new)
            }
            (Covariances::Spherical(old), Scatter::Diagonal(scatter)) => {
                let mut new = old.clone();
                let mut healthy = Vec::new();
                for c in (0..k).filter(|&c| !collapsed[c]) {
                    let n_c = mass[c];
                    let tr: f64 = (0..d)
                        .map(|j| scatter[(c, j)] + n_c * delta(c, j) * delta(c, j))
                        .sum();
                    let v = tr / (d as f64 * n_c) + reg;
                    if v > 0.0 && v.is_finite() {
                        new[c] = v;
                        healthy.push(c);
                    } else {
                        diag.degenerate.push(c);
                    }
                }
                let n_h: f64 = healthy.iter().map(|&c| mass[c]).sum();
                for c in (0..k).filter(|&c| reseeded[c]) {
                    if n_h > 0.0 {
                        new[c] = healthy.iter().map(|&h| mass[h] * new[h]).sum::<f64>() / n_h;
                    }
                }
                Covariances::Spherical(new)
            }
            (Covariances::Tied(old), Scatter::Pooled(pooled)) => {
                let total = stats.total_mass();
                if !(total > 0.0) {
                    return Covariances::Tied(old.clone());
                }
                let cand = Mat::from_fn(d, d, |i, j| {
                    let extra: f64 = (0..k)
                        .filter(|&c| mass[c] > 0.0)
                        .map(|c| mass[c] * delta(c, i) * delta(c, j))
                        .sum();
                    let v = (pooled[(i, j)] + extra) / total;
                    if i == j { v + reg } else { v }
                });
                let cand = symmetric_copy(&cand);
                if factors_well(&cand) {
                    Covariances::Tied(cand)
                } else {
                    diag.tied_degenerate = true;
                    Covariances::Tied(old.clone())
                }
            }
            _ => unreachable!("statistics type checked against the model"),
        }
    }
}

/// True when `a` factors and no pivot is numerically singular:
/// `L_jj² ≥ DEGENERATE_PIVOT_RATIO · a_jj` for every j (`L_jj²` is the part
/// of the variance of feature j not explained by the features before it, so
/// the test does not depend on the units of the features).
fn factors_well(a: &Mat<f64>) -> bool {
    match Cholesky::new(a.as_ref()) {
        Ok(chol) => {
            let l = chol.factor();
            (0..a.nrows()).all(|j| l[(j, j)] * l[(j, j)] >= DEGENERATE_PIVOT_RATIO * a[(j, j)])
        }
        Err(_) => false,
    }
}

/// Exactly symmetric copy `(A + Aᵀ) / 2`.
fn symmetric_copy(a: &Mat<f64>) -> Mat<f64> {
    let d = a.nrows();
    Mat::from_fn(d, d, |i, j| {
        if i == j {
            a[(i, i)]
        } else {
            0.5 * (a[(i, j)] + a[(j, i)])
        }
    })
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
