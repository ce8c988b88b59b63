//! What a fit returns besides the model: why it stopped, the log-likelihood
//! history, what the M-steps reported, every restart's summary.

use std::fmt;
use std::time::Duration;

use crate::error::FitError;
use crate::model::Objective;

/// Why a restart stopped. Not converging is a result, not an error.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Termination {
    /// The gain was non-negative and within tolerance:
    /// `0 ≤ ℓ(θₖ) − ℓ(θₖ₋₁) ≤ tol`. Like every termination but
    /// [`Termination::LogLikelihoodFell`], under
    /// [`crate::OnFall::StopKeepBest`] the returned parameters are still the
    /// best of the whole history ([`FitReport::returned_iteration`]), which
    /// is not the last point when announced falls came before.
    Converged,
    /// The maximum number of iterations was done without convergence.
    IterationCap,
    /// The time budget was spent.
    TimeBudget,
    /// An observer asked to stop.
    StoppedByObserver,
    /// The log-likelihood fell at `iteration` under [`crate::OnFall::StopKeepBest`];
    /// the best parameters of the history were kept.
    LogLikelihoodFell {
        /// The iteration whose log-likelihood was lower than the previous one.
        iteration: usize,
        /// `ℓ(θₖ₋₁) − ℓ(θₖ) > 0`.
        drop: f64,
        /// The iteration whose parameters were kept: the best of the whole
        /// history, the start included.
        kept: usize,
    },
}

impl Termination {
    /// True for [`Termination::Converged`].
    #[must_use]
    pub fn is_converged(&self) -> bool {
        matches!(self, Self::Converged)
    }
}

impl fmt::Display for Termination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Converged => f.write_str("converged"),
            Self::IterationCap => f.write_str("iteration cap reached (not converged)"),
            Self::TimeBudget => f.write_str("time budget spent (not converged)"),
            Self::StoppedByObserver => f.write_str("stopped by observer"),
            Self::LogLikelihoodFell {
                iteration,
                drop,
                kept,
            } => write!(
                f,
                "log-likelihood fell by {drop:.3e} at iteration {iteration}; kept iteration {kept}, the best"
            ),
        }
    }
}

/// A fall of the log-likelihood (negative gain), recorded whatever the
/// [`crate::OnFall`] policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fall {
    /// The iteration k with `ℓ(θₖ) < ℓ(θₖ₋₁)`.
    pub iteration: usize,
    /// `ℓ(θₖ₋₁) − ℓ(θₖ) > 0`.
    pub drop: f64,
    /// True when the M-step producing θₖ announced it
    /// ([`crate::Diagnostics::expects_fall`], e.g. a re-seeded component);
    /// such a fall never stops the fit.
    pub expected: bool,
}

/// What a restart spent: E-steps and M-steps, and what became of its
/// extrapolations (accelerated EM, [`crate::Acceleration::Squarem`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Work {
    /// E-steps run (each a pass over the data).
    pub e_steps: usize,
    /// M-steps run.
    pub m_steps: usize,
    /// Extrapolations used as they were.
    pub accepted: usize,
    /// Extrapolations used after shortening toward the EM iterate (they were
    /// not valid parameters at full length).
    pub shortened: usize,
    /// Extrapolations discarded for the plain EM iterate (the log-likelihood
    /// would have fallen, or no shortening gave valid parameters).
    pub rejected: usize,
}

impl fmt::Display for Work {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} E-steps, {} M-steps", self.e_steps, self.m_steps)?;
        let extrapolations = self.accepted + self.shortened + self.rejected;
        if extrapolations > 0 {
            write!(
                f,
                "; {extrapolations} extrapolations: {} accepted, {} shortened, {} rejected",
                self.accepted, self.shortened, self.rejected
            )?;
        }
        Ok(())
    }
}

/// How one restart ended.
#[derive(Debug)]
#[non_exhaustive]
pub enum RestartOutcome<E> {
    /// The restart ran (whether or not it converged).
    Finished {
        /// Why it stopped.
        termination: Termination,
        /// Number of iterations done (recorded parameters after the start).
        iterations: usize,
        /// Log-likelihood of the starting parameters.
        initial_log_likelihood: f64,
        /// Log-likelihood of the parameters the restart returned.
        log_likelihood: f64,
        /// Which objective the two log-likelihoods are (the loop's).
        objective: Objective,
        /// Number of falls of the log-likelihood.
        falls: usize,
        /// What it spent.
        work: Work,
    },
    /// The restart failed (its initialisation or a step returned an error);
    /// other restarts may still have succeeded.
    Failed(FitError<E>),
}

/// Summary of one restart.
#[derive(Debug)]
#[non_exhaustive]
pub struct RestartSummary<E> {
    /// The restart's index (restart `i` of the master seed).
    pub index: usize,
    /// Its seed, [`crate::restart_seed`]`(master, index)` (unused by a warm
    /// start).
    pub seed: u64,
    /// How it ended.
    pub outcome: RestartOutcome<E>,
    /// Its wall-clock time.
    pub elapsed: Duration,
}

impl<E> RestartSummary<E> {
    /// The final log-likelihood, or `None` if the restart failed.
    #[must_use]
    pub fn log_likelihood(&self) -> Option<f64> {
        match &self.outcome {
            RestartOutcome::Finished { log_likelihood, .. } => Some(*log_likelihood),
            RestartOutcome::Failed(_) => None,
        }
    }
}

impl<E: fmt::Display> fmt::Display for RestartSummary<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "restart {} (seed {:#018x}): ", self.index, self.seed)?;
        match &self.outcome {
            RestartOutcome::Finished {
                termination,
                iterations,
                log_likelihood,
                objective,
                ..
            } => write!(
                f,
                "{objective} {log_likelihood:.6} after {iterations} iterations, {termination}"
            ),
            RestartOutcome::Failed(error) => write!(f, "failed: {error}"),
        }
    }
}

/// The report of a fit: everything about the winning restart, and a summary
/// of every restart.
#[derive(Debug)]
#[non_exhaustive]
pub struct FitReport<D, E> {
    /// Why the winning restart stopped.
    pub termination: Termination,
    /// Number of iterations of the winning restart: parameters recorded
    /// after the start (each an EM step, or with acceleration an accepted
    /// extrapolation); [`FitReport::work`] counts the steps behind them.
    pub iterations: usize,
    /// What the loop monitored: the log-likelihood `ℓ(θ)`, or for a model
    /// with a prior ([`crate::EmModel::log_prior`]) the log posterior
    /// `ℓ(θ) + ln p(θ)` up to a constant. [`FitReport::log_likelihood`],
    /// [`FitReport::history`], the falls, the rounding drops and the
    /// restarts' values are of it (so are the `ℓ` of their docs).
    pub objective: Objective,
    /// The objective ([`FitReport::objective`]) at the returned parameters:
    /// their log-likelihood, or log posterior under a prior.
    pub log_likelihood: f64,
    /// Index into [`FitReport::history`] of the returned parameters: the
    /// last entry, or under [`crate::OnFall::StopKeepBest`] the best of the
    /// whole history (the start included) when the last entry is below it
    /// by more than rounding, whatever the [`Termination`] (after falls the
    /// M-step announced, a run can converge or reach the iteration cap below
    /// an earlier point).
    pub returned_iteration: usize,
    /// `history[k] = ℓ(θₖ)`: the log-likelihood of the k-th recorded
    /// parameters (`history[0]` is the start); `iterations + 1` entries.
    pub history: Vec<f64>,
    /// Every fall of the log-likelihood of the winning restart.
    pub falls: Vec<Fall>,
    /// Every drop of the winning restart within the rounding of ℓ
    /// (`0 < ℓ(θₖ₋₁) − ℓ(θₖ) ≤ 10⁻¹² max(|ℓ(θₖ)|, 1)`, see [`crate::Convergence`]):
    /// not a fall but a zero gain, EM at its fixed point to working
    /// precision. Such a step satisfies every gain-based stopping rule, so a
    /// fit that ends [`Termination::Converged`] on one converged at the
    /// rounding level of ℓ (the report's text says so). `expected` is false.
    pub rounding_drops: Vec<Fall>,
    /// What the winning restart spent (E-steps, M-steps, extrapolations).
    pub work: Work,
    /// The non-empty diagnostics of the winning restart's M-steps:
    /// `(k, d)` is what the M-step that produced θₖ reported.
    pub diagnostics: Vec<(usize, D)>,
    /// Index of the winning restart (best final log-likelihood; the lowest
    /// index among ties).
    pub best_restart: usize,
    /// Summary of every restart, in index order.
    pub restarts: Vec<RestartSummary<E>>,
    /// Wall-clock time of the whole fit.
    pub elapsed: Duration,
}

impl<D, E> FitReport<D, E> {
    /// True iff the winning restart converged.
    #[must_use]
    pub fn converged(&self) -> bool {
        self.termination.is_converged()
    }

    /// The summary of the winning restart.
    #[must_use]
    pub fn best(&self) -> &RestartSummary<E> {
        self.restarts
            .iter()
            .find(|r| r.index == self.best_restart)
            .unwrap_or(&self.restarts[0])
    }

    /// The gains `ℓ(θₖ) − ℓ(θₖ₋₁)` for k = 1..=iterations.
    #[must_use]
    pub fn gains(&self) -> Vec<f64> {
        self.history.windows(2).map(|w| w[1] - w[0]).collect()
    }
}

impl<D: fmt::Display, E: fmt::Display> fmt::Display for FitReport<D, E> {
    /// A short multi-line summary a person can read.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "termination: {}", self.termination)?;
        writeln!(f, "iterations: {} ({})", self.iterations, self.work)?;
        if let (Some(first), Some(_)) = (self.history.first(), self.history.last()) {
            writeln!(
                f,
                "{}: {:.6} (start {first:.6})",
                self.objective, self.log_likelihood
            )?;
        }
        if self.returned_iteration != self.iterations {
            writeln!(
                f,
                "returned: iteration {}, the best of the history (the last is {:.6})",
                self.returned_iteration,
                self.history.last().copied().unwrap_or(f64::NAN)
            )?;
        }
        if let Some(last) = self.rounding_drops.last() {
            let at_end = last.iteration == self.iterations && self.termination.is_converged();
            writeln!(
                f,
                "{} dipped within its rounding {} time(s) (counted as zero gains){}",
                self.objective,
                self.rounding_drops.len(),
                if at_end {
                    format!(
                        ": converged at the rounding level, the last step fell by {:.3e}",
                        last.drop
                    )
                } else {
                    String::new()
                }
            )?;
        }
        if !self.falls.is_empty() {
            let worst = self.falls.iter().map(|x| x.drop).fold(0.0, f64::max);
            writeln!(
                f,
                "{} fell {} time(s), largest drop {worst:.3e}",
                self.objective,
                self.falls.len()
            )?;
        }
        for (k, d) in &self.diagnostics {
            writeln!(f, "iteration {k}: {d}")?;
        }
        if self.restarts.len() > 1 {
            writeln!(f, "restarts (best: {}):", self.best_restart)?;
            for r in &self.restarts {
                writeln!(f, "  {r}")?;
            }
        }
        write!(f, "elapsed: {:.3} s", self.elapsed.as_secs_f64())
    }
}
