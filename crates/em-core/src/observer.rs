//! Observers: called at the start of every restart, after every iteration
//! (they may stop the restart) and at its end. The library never prints; the
//! ready-made [`LogObserver`] prints the familiar convergence log.
//!
//! With parallel restarts the driver serialises observer calls (one call at a
//! time, behind a lock it owns), so an observer is a plain `&mut self` type;
//! calls of different restarts may interleave. Events carry the restart index.

use std::fmt;
use std::io::Write;
use std::time::Duration;

use crate::diagnostics::Diagnostics;
use crate::model::EmModel;
use crate::report::RestartSummary;

/// Whether the fit goes on after an iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Control {
    /// Keep iterating (default).
    #[default]
    Continue,
    /// Stop this restart now, returning the parameters of this iteration
    /// ([`crate::Termination::StoppedByObserver`]), unless another stopping
    /// rule fires at the same iteration.
    Stop,
}

/// Sent when a restart starts.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct StartEvent {
    /// Index of the restart.
    pub restart: usize,
    /// Its seed.
    pub seed: u64,
    /// Number of restarts of the fit.
    pub n_restarts: usize,
    /// The iteration cap.
    pub max_iterations: usize,
}

/// Sent after every evaluation of the log-likelihood: iteration 0 is the
/// starting parameters, iteration k the parameters after k M-steps.
#[non_exhaustive]
pub struct IterationEvent<'a, M: EmModel> {
    /// Index of the restart.
    pub restart: usize,
    /// k: number of M-steps done.
    pub iteration: usize,
    /// `ℓ(θₖ)`: the objective the loop monitors, the log-likelihood, or
    /// for a model with a prior the log posterior `ℓ(θₖ) + ln p(θₖ)`
    /// ([`crate::Objective`]).
    pub log_likelihood: f64,
    /// Which objective `log_likelihood` is.
    pub objective: crate::Objective,
    /// `ℓ(θₖ) − ℓ(θₖ₋₁)` of that objective (None at iteration 0).
    pub improvement: Option<f64>,
    /// What the M-step producing θₖ reported, if anything.
    pub diagnostics: Option<&'a M::Diagnostics>,
    /// The parameters θₖ.
    pub model: &'a M,
    /// Time since the fit started.
    pub elapsed: Duration,
}

impl<M: EmModel> fmt::Debug for IterationEvent<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IterationEvent")
            .field("restart", &self.restart)
            .field("iteration", &self.iteration)
            .field("log_likelihood", &self.log_likelihood)
            .field("objective", &self.objective)
            .field("improvement", &self.improvement)
            .field("diagnostics", &self.diagnostics)
            .field("elapsed", &self.elapsed)
            .finish_non_exhaustive()
    }
}

/// Watches a fit. Every method has a no-op default.
pub trait Observer<M: EmModel> {
    /// A restart starts.
    fn on_start(&mut self, event: &StartEvent) {
        let _ = event;
    }

    /// The log-likelihood of iteration `event.iteration` was evaluated.
    /// Returning [`Control::Stop`] stops the restart.
    fn on_iteration(&mut self, event: &IterationEvent<'_, M>) -> Control {
        let _ = event;
        Control::Continue
    }

    /// A restart ended (finished or failed).
    fn on_end(&mut self, summary: &RestartSummary<M::Error>) {
        let _ = summary;
    }
}

/// The observer that does nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopObserver;

impl<M: EmModel> Observer<M> for NoopObserver {}

/// An observer made of a closure called after every iteration.
///
/// ```
/// # use em_core::{Control, FnObserver, IterationEvent};
/// # fn demo<M: em_core::EmModel>() {
/// let mut lls = Vec::new();
/// let observer = FnObserver(|event: &IterationEvent<'_, M>| {
///     lls.push(event.log_likelihood);
///     if event.iteration >= 10 { Control::Stop } else { Control::Continue }
/// });
/// # drop(observer);
/// # }
/// ```
pub struct FnObserver<F>(pub F);

impl<F> fmt::Debug for FnObserver<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnObserver")
    }
}

impl<M: EmModel, F: FnMut(&IterationEvent<'_, M>) -> Control> Observer<M> for FnObserver<F> {
    fn on_iteration(&mut self, event: &IterationEvent<'_, M>) -> Control {
        (self.0)(event)
    }
}

/// Prints the convergence log to a writer:
///
/// ```text
///  iteration        log-likelihood   improvement
///          0      -3505.123456789
///          1      -3101.000000000     4.041e+02
///             M-step: re-seeded components [1]; objective change 1.2e+00
///        ...
/// restart 0 (seed 0x...): log-likelihood -2942.600000000 after 57 iterations, converged
/// ```
///
/// The header is written once, before the first row; its second column
/// names the objective (`log posterior` with a prior, `lower bound` for a
/// variational model). With several restarts every row starts
/// with a `restart` column (rows of parallel restarts interleave) and every
/// restart ends with its summary line. Write errors do not stop the fit; the
/// first one is kept ([`LogObserver::io_error`]).
#[derive(Debug)]
pub struct LogObserver<W: Write> {
    writer: W,
    every: usize,
    error: Option<std::io::Error>,
    header_written: bool,
    several_restarts: bool,
}

impl<W: Write> LogObserver<W> {
    /// Logs every iteration to `writer`.
    pub fn new(writer: W) -> Self {
        Self {
            writer,
            every: 1,
            error: None,
            header_written: false,
            several_restarts: false,
        }
    }

    /// Logs only iterations that are multiples of `every` (0 is treated as
    /// 1); the end-of-restart summary line is always written.
    #[must_use]
    pub fn every(mut self, every: usize) -> Self {
        self.every = every.max(1);
        self
    }

    /// The first write error, if any.
    #[must_use]
    pub fn io_error(&self) -> Option<&std::io::Error> {
        self.error.as_ref()
    }

    /// The writer back.
    pub fn into_inner(self) -> W {
        self.writer
    }

    fn write(&mut self, args: fmt::Arguments<'_>) {
        if self.error.is_none()
            && let Err(e) = self.writer.write_fmt(args)
        {
            self.error = Some(e);
        }
    }
}

impl<M: EmModel, W: Write> Observer<M> for LogObserver<W> {
    fn on_start(&mut self, event: &StartEvent) {
        self.several_restarts = event.n_restarts > 1;
    }

    fn on_iteration(&mut self, event: &IterationEvent<'_, M>) -> Control {
        if !std::mem::replace(&mut self.header_written, true) {
            if self.several_restarts {
                self.write(format_args!("{:>8}  ", "restart"));
            }
            self.write(format_args!(
                "{:>10}  {:>20}  {:>12}\n",
                "iteration",
                event.objective.to_string(),
                "improvement"
            ));
        }
        let indent = if self.several_restarts { 10 } else { 0 };
        if event.iteration.is_multiple_of(self.every) {
            if self.several_restarts {
                self.write(format_args!("{:>8}  ", event.restart));
            }
            match event.improvement {
                None => self.write(format_args!(
                    "{:>10}  {:>20.9}\n",
                    event.iteration, event.log_likelihood
                )),
                Some(gain) => self.write(format_args!(
                    "{:>10}  {:>20.9}  {:>12.3e}\n",
                    event.iteration, event.log_likelihood, gain
                )),
            }
        }
        if let Some(d) = event.diagnostics
            && !d.is_empty()
        {
            self.write(format_args!("{:>w$}M-step: {d}\n", "", w = indent + 12));
        }
        Control::Continue
    }

    fn on_end(&mut self, summary: &RestartSummary<M::Error>) {
        self.write(format_args!("{summary}\n"));
        if self.error.is_none()
            && let Err(e) = self.writer.flush()
        {
            self.error = Some(e);
        }
    }
}
