//! Accelerated EM: SQUAREM (Varadhan & Roland 2008, "Simple and globally
//! convergent methods for accelerating the convergence of any EM
//! algorithm", Scand. J. Statist. 35:335), as the loop runs it.
//!
//! # One cycle
//! With `F` the EM map (an E-step and an M-step) and `θ₀` the current
//! parameters, whose E-step is done:
//!
//! ```text
//! θ₁ = F(θ₀),  θ₂ = F(θ₁)                       two EM steps (θ₁ is recorded)
//! r = θ₁ − θ₀,  v = θ₂ − 2θ₁ + θ₀
//! α = clamp(‖r‖ / ‖v‖, 1, α_max)                 the S3 step length
//! θ' = θ₀ + 2α r + α² v                           (α = 1 gives θ₂)
//! ```
//!
//! on the flat vectors of the learned parameters
//! ([`crate::EmModel::flat_parameters`]). The E-step of `θ'` gives `ℓ(θ')`;
//! the next cycle's first EM step from `θ'` is SQUAREM's stabilising step.
//! So a cycle costs two E-steps and two M-steps, as two plain EM iterations.
//!
//! # Safeguards
//! - Feasibility: when `θ'` is not a valid model (a covariance not positive
//!   definite, a probability negative), the step is shortened toward the EM
//!   iterate, `θ₂ + t (θ' − θ₂)` with `t` halved up to
//!   [`MAX_SHORTENINGS`] times. The simplex and the SPD cone are convex and
//!   `θ₂` lies inside them, so a short enough step is always feasible.
//! - Monotonicity: `θ'` is accepted only when `ℓ(θ') ≥ ℓ(θ₁)`, the best
//!   log-likelihood so far, and its stabilising step `F(θ')` (the next
//!   cycle's first EM step, computed before `θ'` is recorded) keeps `ℓ(θ')`
//!   up to rounding. Exact EM always does; an M-step with a constraint (a
//!   covariance floor) does not when `θ'` lies outside the set it maps into,
//!   and such a `θ'` would be followed by a fall. Otherwise (or when `θ'`
//!   stays infeasible, or an E- or M-step of it fails) the cycle falls back
//!   to the plain EM iterate `θ₂`, at the cost of one or two more E-steps.
//!   The recorded history never falls.
//! - Convergence: the stopping rule is tested on the EM step `θ₀ → θ₁` (and
//!   on `θ₁ → θ₂` when the cycle falls back), never on an extrapolation. For
//!   [`crate::Convergence::Remaining`], the rate at which plain EM's gains
//!   shrink, which the gains between extrapolations do not show, comes from
//!   the two EM steps of the cycle (see `em_gain_rate`).
//! - The step cap `α_max` adapts as in the R package SQUAREM: it starts at
//!   [`Squarem::max_step`], grows by [`Squarem::step_growth`] each time an
//!   accepted step used the whole cap, and shrinks by the same factor (not
//!   below its start) when a capped step is rejected.
//!
//! # Units
//! The step length `‖r‖ / ‖v‖` is a norm over the whole flat vector, whose
//! blocks have different units (mixture weights none, means those of the
//! data, covariances their square). Data in other units weigh the blocks
//! differently, so the accelerated path (not the fixed point it converges
//! to) depends on the units of the data; plain EM ([`Acceleration::None`])
//! does not, which is what the model crates' equivariance properties use.

/// How the loop accelerates EM.
///
/// The default is SQUAREM: on the README's time-to-answer table (`cargo
/// xtask converge`) it comes within 1e-8 of the best log-likelihood in 6-8
/// times fewer E-steps where EM crawls (the GMM-HMM of scenario 1, the Nile
/// local-level model, the robot arm), at most one more where plain EM needs
/// only 5 or 6 (the E-step that checks an extrapolation can be kept), and
/// it never ends at a worse point.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Acceleration {
    /// Plain EM: one E-step and one M-step per iteration. The trajectories of
    /// scikit-learn, hmmlearn and pykalman: use it to reproduce them.
    None,
    /// SQUAREM extrapolation (see the [module docs](self)); plain EM for
    /// models without flat parameters.
    Squarem(Squarem),
}

impl Acceleration {
    /// SQUAREM with its default step cap.
    #[must_use]
    pub fn squarem() -> Self {
        Self::Squarem(Squarem::default())
    }
}

/// The step-length policy of SQUAREM.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Squarem {
    /// The initial cap `α_max` of the step length (≥ 1; default 1, as the R
    /// package: the first cycles are cautious, the cap grows when it binds).
    pub max_step: f64,
    /// The factor by which the cap grows after an accepted capped step and
    /// shrinks after a rejected one (> 1; default 4).
    pub step_growth: f64,
}

impl Default for Acceleration {
    /// [`Acceleration::squarem`].
    fn default() -> Self {
        Self::squarem()
    }
}

impl Default for Squarem {
    fn default() -> Self {
        Self {
            max_step: 1.0,
            step_growth: 4.0,
        }
    }
}

/// How many times an infeasible extrapolation is halved toward the EM
/// iterate before the cycle falls back to it.
pub const MAX_SHORTENINGS: u32 = 10;

/// The extrapolation of one cycle, before its E-step.
pub(crate) struct Extrapolation {
    /// The step length used.
    pub alpha: f64,
    /// `θ'` (possibly shortened), flat.
    pub point: Vec<f64>,
}

/// The S3 extrapolation from three flat iterates, or `None` when the
/// iterates do not move (`v = 0`: nothing to extrapolate) or do not share a
/// layout (an M-step made a new structural zero, which leaves its vector).
pub(crate) fn extrapolate(p0: &[f64], p1: &[f64], p2: &[f64], max_step: f64) -> Option<Extrapolation> {
    if p0.len() != p1.len() || p1.len() != p2.len() {
        return None;
    }
    let (mut rr, mut vv) = (0.0, 0.0);
    for ((a, b), c) in p0.iter().zip(p1).zip(p2) {
        let r = b - a;
        let v = c - 2.0 * b + a;
        rr += r * r;
        vv += v * v;
    }
    if !(vv > 0.0 && rr.is_finite() && vv.is_finite()) {
        return None;
    }
    let alpha = (rr / vv).sqrt().clamp(1.0, max_step);
    let point = p0
        .iter()
        .zip(p1)
        .zip(p2)
        .map(|((a, b), c)| {
            let (r, v) = (b - a, c - 2.0 * b + a);
            a + 2.0 * alpha * r + alpha * alpha * v
        })
        .collect();
    Some(Extrapolation { alpha, point })
}

/// The rate at which the log-likelihood gains of plain EM shrink, estimated
/// from the two EM steps of a cycle: EM converges linearly, `θₖ₊₁ − θ* ≈
/// J (θₖ − θ*)`, so the steps shrink by `ρ = ‖θ₂ − θ₁‖ / ‖θ₁ − θ₀‖` and the
/// log-likelihood gains, quadratic in the distance, by `ρ²`. Each coordinate
/// is measured against its size, `|θ₁ᵢ| + mean |θ₁|`, so that no block's
/// units dominate. `None` without a step or with layouts that differ.
pub(crate) fn em_gain_rate(p0: &[f64], p1: &[f64], p2: &[f64]) -> Option<f64> {
    if p0.len() != p1.len() || p1.len() != p2.len() || p1.is_empty() {
        return None;
    }
    let typical = p1.iter().map(|x| x.abs()).sum::<f64>() / p1.len() as f64;
    let (mut first, mut second) = (0.0, 0.0);
    for ((a, b), c) in p0.iter().zip(p1).zip(p2) {
        let scale = b.abs() + typical;
        if scale > 0.0 {
            first += ((b - a) / scale).powi(2);
            second += ((c - b) / scale).powi(2);
        }
    }
    (first > 0.0 && second.is_finite()).then(|| second / first)
}

/// `θ₂ + (θ' − θ₂) / 2`: one shortening toward the EM iterate.
pub(crate) fn shorten(point: &mut [f64], em_iterate: &[f64]) {
    for (p, q) in point.iter_mut().zip(em_iterate) {
        *p = q + 0.5 * (*p - q);
    }
}

/// The adaptive step cap of one restart.
pub(crate) struct StepCap {
    policy: Squarem,
    current: f64,
}

impl StepCap {
    pub(crate) fn new(policy: Squarem) -> Self {
        Self {
            policy,
            current: policy.max_step,
        }
    }

    pub(crate) fn get(&self) -> f64 {
        self.current
    }

    /// After a cycle whose step length was `alpha`: grow the cap when an
    /// accepted step used all of it, shrink it when a capped step failed.
    pub(crate) fn update(&mut self, alpha: f64, accepted: bool) {
        if alpha < self.current {
            return;
        }
        self.current = if accepted {
            self.current * self.policy.step_growth
        } else {
            (self.current / self.policy.step_growth).max(self.policy.max_step)
        };
    }
}
