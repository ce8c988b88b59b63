//! Settings of a fit: iteration cap, stopping rule, acceleration, restarts,
//! seed, time budget, and what to do when the log-likelihood falls.
//!
//! [`SettingsBuilder`] holds unchecked values; [`SettingsBuilder::build`]
//! validates them into [`Settings`], the only type the driver accepts.

use std::time::Duration;

use crate::acceleration::{Acceleration, Squarem};
use crate::convergence::{Convergence, Tolerance};
use crate::error::SettingsError;

/// The largest number of restarts [`SettingsBuilder::build`] accepts.
pub const MAX_RESTARTS: usize = 1 << 16;

/// What the driver does when the log-likelihood of an iteration is lower
/// than that of the previous one (a *fall*, i.e. a negative gain).
///
/// Exact EM never lowers the log-likelihood; a fall comes from rounding at a
/// fixed point, from a floor or a re-seeded component (see the iteration's
/// diagnostics), or from a bug. A fall is always recorded in the report and is
/// never taken for convergence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OnFall {
    /// Stop this restart on a fall and return the best parameters of the
    /// whole history, the start included. A fall the model announced (see
    /// [`crate::Diagnostics::expects_fall`]) does not stop the run; however
    /// the run then ends (a later unannounced fall, convergence, the
    /// iteration cap, ...), the parameters returned are still the best of
    /// the whole history. Default.
    #[default]
    StopKeepBest,
    /// Record the fall and keep iterating; the fit returns the parameters of
    /// its last iteration.
    Continue,
}

/// Unchecked settings of a fit, with documented defaults.
///
/// Fields are public for struct-update syntax; [`SettingsBuilder::build`]
/// checks them.
///
/// ```
/// use em_core::{OnFall, Settings, Tolerance};
/// let settings = Settings::builder()
///     .max_iterations(1000)
///     .tolerance(Tolerance::absolute(1e-10))
///     .restarts(4)
///     .seed(42)
///     .on_fall(OnFall::Continue)
///     .build()
///     .unwrap();
/// assert_eq!(settings.restarts(), 4);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct SettingsBuilder {
    /// Maximum number of iterations per restart; default 100. 0 only
    /// evaluates the starting parameters; `usize::MAX` is no cap (then the
    /// stopping rule must be able to stop the fit).
    pub max_iterations: usize,
    /// The stopping rule; default [`Convergence::default`] (the estimated
    /// gain still to come within `max(1e-8, 1e-8·|ℓ|)`).
    pub convergence: Convergence,
    /// Acceleration of EM; default [`Acceleration::squarem`] (see
    /// [`Acceleration`] for why; [`Acceleration::None`] is plain EM).
    pub acceleration: Acceleration,
    /// Number of restarts (independent initialisations); default 1, must be
    /// in `1..=`[`MAX_RESTARTS`].
    pub restarts: usize,
    /// Index of the first restart; default 0. Restart `i` uses the seed
    /// [`restart_seed`]`(seed, i)`, so `restarts = 1, first_restart = i`
    /// replays restart `i` of a larger run alone.
    pub first_restart: usize,
    /// Master seed from which every restart's seed is derived; default 0.
    pub seed: u64,
    /// Wall-clock budget for the whole fit (all restarts); default none.
    /// Checked after every iteration: a restart that sees the budget spent
    /// stops with [`crate::Termination::TimeBudget`] (each restart evaluates
    /// at least its starting parameters).
    pub time_budget: Option<Duration>,
    /// What to do when the log-likelihood falls; default
    /// [`OnFall::StopKeepBest`].
    pub on_fall: OnFall,
    /// Run restarts in parallel on the rayon pool; default true. The result
    /// is identical either way (only the order of observer calls differs).
    pub parallel_restarts: bool,
}

impl Default for SettingsBuilder {
    fn default() -> Self {
        Self {
            max_iterations: 100,
            convergence: Convergence::default(),
            acceleration: Acceleration::default(),
            restarts: 1,
            first_restart: 0,
            seed: 0,
            time_budget: None,
            on_fall: OnFall::StopKeepBest,
            parallel_restarts: true,
        }
    }
}

impl SettingsBuilder {
    /// Sets [`SettingsBuilder::max_iterations`].
    pub fn max_iterations(mut self, max_iterations: usize) -> Self {
        self.max_iterations = max_iterations;
        self
    }

    /// Sets [`SettingsBuilder::convergence`].
    pub fn convergence(mut self, convergence: Convergence) -> Self {
        self.convergence = convergence;
        self
    }

    /// Sets [`SettingsBuilder::convergence`] to the plain log-likelihood gain
    /// rule with this tolerance ([`Convergence::LogLikelihood`], the rule of
    /// scikit-learn and hmmlearn).
    pub fn tolerance(mut self, tolerance: Tolerance) -> Self {
        self.convergence = Convergence::LogLikelihood(tolerance);
        self
    }

    /// Sets [`SettingsBuilder::acceleration`].
    pub fn acceleration(mut self, acceleration: Acceleration) -> Self {
        self.acceleration = acceleration;
        self
    }

    /// Sets [`SettingsBuilder::restarts`].
    pub fn restarts(mut self, restarts: usize) -> Self {
        self.restarts = restarts;
        self
    }

    /// Sets [`SettingsBuilder::first_restart`].
    pub fn first_restart(mut self, first_restart: usize) -> Self {
        self.first_restart = first_restart;
        self
    }

    /// Sets [`SettingsBuilder::seed`].
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets [`SettingsBuilder::time_budget`].
    pub fn time_budget(mut self, time_budget: Option<Duration>) -> Self {
        self.time_budget = time_budget;
        self
    }

    /// Sets [`SettingsBuilder::on_fall`].
    pub fn on_fall(mut self, on_fall: OnFall) -> Self {
        self.on_fall = on_fall;
        self
    }

    /// Sets [`SettingsBuilder::parallel_restarts`].
    pub fn parallel_restarts(mut self, parallel_restarts: bool) -> Self {
        self.parallel_restarts = parallel_restarts;
        self
    }

    /// Validates the settings.
    ///
    /// # Errors
    /// [`SettingsError`] when a tolerance is NaN, infinite or negative, a
    /// fit could never stop (no iteration cap with a zero tolerance or a
    /// fixed number of iterations), a SQUAREM step cap is below 1 or its
    /// growth not above 1, `restarts` is 0 or above [`MAX_RESTARTS`],
    /// `first_restart + restarts` overflows, or the time budget is zero.
    pub fn build(self) -> Result<Settings, SettingsError> {
        self.check_stopping()?;
        if let Acceleration::Squarem(squarem) = self.acceleration {
            check_squarem(squarem)?;
        }
        if self.restarts == 0 {
            return Err(SettingsError {
                setting: "restarts",
                value: 0.0,
                requirement: "must be at least 1",
            });
        }
        if self.restarts > MAX_RESTARTS {
            return Err(SettingsError {
                setting: "restarts",
                value: self.restarts as f64,
                requirement: "must be at most 65536 (MAX_RESTARTS)",
            });
        }
        if self.first_restart.checked_add(self.restarts).is_none() {
            return Err(SettingsError {
                setting: "first_restart",
                value: self.first_restart as f64,
                requirement: "first_restart + restarts must fit in usize",
            });
        }
        if let Some(budget) = self.time_budget
            && budget.is_zero()
        {
            return Err(SettingsError {
                setting: "time_budget",
                value: 0.0,
                requirement: "must be positive (use None for no budget)",
            });
        }
        Ok(Settings { inner: self })
    }
}

impl SettingsBuilder {
    /// The stopping rule's values, and that the fit can stop.
    fn check_stopping(&self) -> Result<(), SettingsError> {
        let non_negative = |setting: &'static str, value: f64| {
            if value.is_finite() && value >= 0.0 {
                Ok(())
            } else {
                Err(SettingsError {
                    setting,
                    value,
                    requirement: "must be finite and >= 0",
                })
            }
        };
        let never_stops = match self.convergence {
            Convergence::LogLikelihood(tolerance) | Convergence::Remaining(tolerance) => {
                non_negative("tolerance.absolute", tolerance.absolute)?;
                non_negative("tolerance.relative", tolerance.relative)?;
                tolerance.absolute == 0.0 && tolerance.relative == 0.0
            }
            Convergence::ParameterChange { relative } => {
                non_negative("convergence.relative", relative)?;
                relative == 0.0
            }
            Convergence::FixedIterations => true,
        };
        if never_stops && self.max_iterations == usize::MAX {
            return Err(SettingsError {
                setting: "max_iterations",
                value: self.max_iterations as f64,
                requirement: "an iteration cap is needed when the stopping rule cannot stop the fit (zero tolerance or fixed iterations)",
            });
        }
        Ok(())
    }
}

/// The SQUAREM step policy: a cap of at least 1, a growth above 1.
fn check_squarem(squarem: Squarem) -> Result<(), SettingsError> {
    if !(squarem.max_step.is_finite() && squarem.max_step >= 1.0) {
        return Err(SettingsError {
            setting: "squarem.max_step",
            value: squarem.max_step,
            requirement: "must be finite and >= 1 (1 is a plain EM step)",
        });
    }
    if !(squarem.step_growth.is_finite() && squarem.step_growth > 1.0) {
        return Err(SettingsError {
            setting: "squarem.step_growth",
            value: squarem.step_growth,
            requirement: "must be finite and > 1",
        });
    }
    Ok(())
}

/// Validated settings of a fit (see [`SettingsBuilder`] for the meaning and
/// default of each one).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    inner: SettingsBuilder,
}

impl Default for Settings {
    /// The defaults of [`SettingsBuilder`]: 100 iterations, the estimated
    /// remaining gain within `max(1e-8, 1e-8·|ℓ|)`, plain EM, one restart, seed 0, no time budget, stop and
    /// keep the best parameters on a fall, parallel restarts.
    fn default() -> Self {
        Self {
            inner: SettingsBuilder::default(),
        }
    }
}

impl Settings {
    /// Starts from the defaults.
    pub fn builder() -> SettingsBuilder {
        SettingsBuilder::default()
    }

    /// These settings as a builder, to change some of them.
    pub fn to_builder(&self) -> SettingsBuilder {
        self.inner.clone()
    }

    /// Maximum number of EM iterations (M-steps) per restart.
    #[must_use]
    pub fn max_iterations(&self) -> usize {
        self.inner.max_iterations
    }

    /// The stopping rule.
    #[must_use]
    pub fn convergence(&self) -> Convergence {
        self.inner.convergence
    }

    /// The acceleration of EM.
    #[must_use]
    pub fn acceleration(&self) -> Acceleration {
        self.inner.acceleration
    }

    /// Number of restarts.
    #[must_use]
    pub fn restarts(&self) -> usize {
        self.inner.restarts
    }

    /// Index of the first restart.
    #[must_use]
    pub fn first_restart(&self) -> usize {
        self.inner.first_restart
    }

    /// Master seed.
    #[must_use]
    pub fn seed(&self) -> u64 {
        self.inner.seed
    }

    /// Wall-clock budget of the whole fit.
    #[must_use]
    pub fn time_budget(&self) -> Option<Duration> {
        self.inner.time_budget
    }

    /// Policy when the log-likelihood falls.
    #[must_use]
    pub fn on_fall(&self) -> OnFall {
        self.inner.on_fall
    }

    /// Whether restarts run in parallel.
    #[must_use]
    pub fn parallel_restarts(&self) -> bool {
        self.inner.parallel_restarts
    }

    /// The seed of restart `index` (see [`restart_seed`]).
    #[must_use]
    pub fn restart_seed(&self, index: usize) -> u64 {
        restart_seed(self.inner.seed, index)
    }
}

/// The seed of restart `index` derived from the master seed: the
/// `(index + 1)`-th output of the SplitMix64 generator started at `master`,
///
/// ```text
/// z = master + (index + 1) · 0x9E3779B97F4A7C15   (mod 2⁶⁴)
/// z = (z ⊕ (z >> 30)) · 0xBF58476D1CE4E5B9
/// z = (z ⊕ (z >> 27)) · 0x94D049BB133111EB
/// seed = z ⊕ (z >> 31)
/// ```
///
/// The restart's random generator is `StdRng::seed_from_u64(seed)`. Seeds of
/// different restarts are distinct (the map is a bijection of `index` for a
/// fixed master) and a restart is replayed alone by
/// `SettingsBuilder { restarts: 1, first_restart: index, .. }`.
#[must_use]
pub fn restart_seed(master: u64, index: usize) -> u64 {
    let mut z = master.wrapping_add((index as u64).wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
