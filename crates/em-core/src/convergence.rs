//! When a fit has converged: the stopping rules of [`crate::Settings`].

/// Tolerance on the log-likelihood gain `Δₖ = ℓ(θₖ) − ℓ(θₖ₋₁)` (ℓ summed
/// over all observations).
///
/// The fit has converged at iteration k iff `0 ≤ Δₖ ≤ max(absolute,
/// relative · |ℓ(θₖ)|)`. The test is signed: a negative gain (a fall) is
/// never convergence.
///
/// Units of the data: multiplying continuous data by `a` shifts every
/// log-likelihood by `−N d ln a` (N observations of d values) and leaves
/// the gains `Δₖ` unchanged. So the absolute part is unit-free, but the
/// relative part (and the rounding level `10⁻¹² max(|ℓ|, 1)` of the loop) moves
/// with `|ℓ|`: the same fit of the same data in other units can stop at a
/// different iteration (the fixed point is the same; the parameters agree
/// to the tolerance, not to rounding). For a stopping point that does not
/// depend on the units use [`Tolerance::absolute`], or a fixed number of
/// iterations ([`Convergence::FixedIterations`]), as the model crates'
/// equivariance properties do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    /// Absolute tolerance on the gain (default `1e-8`).
    pub absolute: f64,
    /// Tolerance relative to `|ℓ|` (default `1e-8`). Set it to 0 for a
    /// purely absolute test.
    pub relative: f64,
}

impl Default for Tolerance {
    fn default() -> Self {
        Self {
            absolute: 1e-8,
            relative: 1e-8,
        }
    }
}

impl Tolerance {
    /// A purely absolute tolerance (`relative = 0`).
    #[must_use]
    pub fn absolute(absolute: f64) -> Self {
        Self {
            absolute,
            relative: 0.0,
        }
    }

    /// A purely relative tolerance (`absolute = 0`).
    #[must_use]
    pub fn relative(relative: f64) -> Self {
        Self {
            absolute: 0.0,
            relative,
        }
    }

    /// The threshold `max(absolute, relative · |ℓ|)` at log-likelihood `ℓ`.
    #[must_use]
    pub fn threshold(&self, log_likelihood: f64) -> f64 {
        self.absolute.max(self.relative * log_likelihood.abs())
    }

    /// True iff `0 ≤ gain ≤ threshold(log_likelihood)`.
    #[must_use]
    pub fn is_converged(&self, gain: f64, log_likelihood: f64) -> bool {
        gain >= 0.0 && gain <= self.threshold(log_likelihood)
    }
}

/// The stopping rule of a fit (besides the iteration cap, the time budget and
/// an observer's stop).
///
/// Whatever the rule, a negative gain is never convergence, and with
/// acceleration only plain EM steps are tested (an extrapolation's gain says
/// little about the distance to the optimum).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Convergence {
    /// The gain still to come is within the [`Tolerance`]: EM converges
    /// linearly, so with `r = Δₖ / Δₖ₋₁` the gains left after an EM step
    /// sum to about `Δₖ r / (1 − r)`, and the fit has converged when
    /// `0 ≤ Δₖ · max(1, r / (1 − r)) ≤ max(absolute, relative · |ℓ|)` (never
    /// while the gains do not shrink, `r ≥ 1`, nor at the first EM step).
    /// A gain at the rounding level of ℓ (`Δₖ ≤ 10⁻¹² max(|ℓ|, 1)`) is taken as all
    /// that is left: there, the ratio of two gains is rounding noise.
    /// With acceleration, `r` is estimated from the two EM steps of a cycle
    /// (see [`crate::acceleration`]). On a
    /// flat likelihood, where EM crawls (`r` near 1), this waits for the
    /// answer instead of stopping on a small gain far from it. Default.
    Remaining(Tolerance),
    /// The log-likelihood gain of an EM step is within the [`Tolerance`]:
    /// `0 ≤ Δₖ ≤ max(absolute, relative · |ℓ|)`, the rule of scikit-learn and
    /// hmmlearn (use it to reproduce their stopping points).
    LogLikelihood(Tolerance),
    /// The learned parameters of an EM step moved by at most this fraction
    /// of their size, `‖θₖ − θₖ₋₁‖₂ ≤ relative · ‖θₖ‖₂` (over the flat
    /// parameter vector of [`crate::EmModel::flat_parameters`]), with a
    /// non-negative gain. A fit whose model has no flat parameters fails with
    /// [`crate::FitError::NoFlatParameters`].
    ParameterChange {
        /// The relative step size below which the fit has converged.
        relative: f64,
    },
    /// No convergence test: exactly `max_iterations` iterations run (unless
    /// the time budget, an observer or a fall stops the fit first).
    FixedIterations,
}

impl Default for Convergence {
    /// [`Convergence::Remaining`] with the default [`Tolerance`].
    fn default() -> Self {
        Self::Remaining(Tolerance::default())
    }
}

/// The size of rounding in a log-likelihood `ℓ` summed over many terms:
/// `10⁻¹² · |ℓ|`, about 4500 ulps of ℓ (`ε = 2.2·10⁻¹⁶`). ℓ is a sum of n
/// terms (observations, time steps), each computed through exponentials,
/// logarithms and a recursion with a relative error of a few ulps, and the
/// sum adds up to about `n ε |ℓ|` more; two evaluations of ℓ at parameters
/// equal to working precision differ by that much. A gain this small says
/// nothing about how fast EM converges: it estimates no rate, and
/// [`Convergence::Remaining`] takes it as the whole gain still to come. A
/// drop this small is no fall: the loop counts it as a zero gain (EM is at
/// its fixed point to working precision), so it satisfies every gain-based
/// stopping rule, and records it (`FitReport::rounding_drops`). A larger
/// drop is a fall: exact EM cannot produce it. The scale is at least 1
/// (`10⁻¹² · max(|ℓ|, 1)`): an ℓ near 0 is a sum of terms that cancel, whose
/// rounding is that of the terms, not of their sum.
pub(crate) fn rounding(log_likelihood: f64) -> f64 {
    1e-12 * log_likelihood.abs().max(1.0)
}

/// What an iteration offers the stopping rule.
pub(crate) struct Step<'a> {
    /// `ℓ(θₖ) − ℓ(θₖ₋₁)`.
    pub gain: f64,
    /// How fast the gains of plain EM shrink here (`Δₖ₊₁ / Δₖ`), if known.
    pub rate: Option<f64>,
    /// `ℓ(θₖ)`.
    pub log_likelihood: f64,
    /// The flat parameters `(θₖ₋₁, θₖ)`, when the rule needs them.
    pub parameters: Option<(&'a [f64], &'a [f64])>,
}

impl Convergence {
    /// Whether the rule needs the flat parameters of every iteration.
    pub(crate) fn needs_parameters(&self) -> bool {
        matches!(self, Self::ParameterChange { .. })
    }

    /// Whether the rule holds for an EM step.
    pub(crate) fn holds(&self, step: &Step<'_>) -> bool {
        match *self {
            Self::Remaining(tolerance) => {
                let remaining = match step.rate {
                    _ if step.gain <= rounding(step.log_likelihood) => step.gain,
                    Some(r) if (0.0..1.0).contains(&r) => step.gain * (r / (1.0 - r)).max(1.0),
                    _ => f64::INFINITY,
                };
                step.gain >= 0.0 && remaining <= tolerance.threshold(step.log_likelihood)
            }
            Self::LogLikelihood(tolerance) => tolerance.is_converged(step.gain, step.log_likelihood),
            Self::ParameterChange { relative } => {
                step.gain >= 0.0
                    && step.parameters.is_some_and(|(before, after)| {
                        let moved: f64 = before.iter().zip(after).map(|(a, b)| (b - a) * (b - a)).sum();
                        let size: f64 = after.iter().map(|b| b * b).sum();
                        moved.sqrt() <= relative * size.sqrt()
                    })
            }
            Self::FixedIterations => false,
        }
    }
}
