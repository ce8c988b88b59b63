//! What every fit of the extension shares: the loop's [`Settings`] from the
//! estimators' arguments, and [`run`], which runs the fit without the GIL
//! and stops it between iterations on Ctrl-C.

use crate::error::OrValueError;
use em_core::{
    Acceleration, Control, Convergence, EmModel, Fit, FitError, IterationEvent, Observer, Settings, Tolerance,
};
use pyo3::prelude::*;
use pyo3::types::PyAnyMethods;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The loop's settings from the estimators' arguments.
///
/// - `tol` is an absolute tolerance on the gain of the total log-likelihood
///   (the Python layer scales the per-sample tolerances of scikit-learn by
///   the number of samples);
/// - `stopping` is `"remaining"` (emfit's rule: the gain still to come,
///   estimated from the rate of EM, is within `tol`) or `"gain"` (the last
///   gain is within `tol`: scikit-learn's and hmmlearn's rule) or `"fixed"`
///   (exactly `max_iter` iterations);
/// - `acceleration` is `"squarem"` (default) or `"none"` (plain EM, the
///   trajectories of the Python libraries).
pub(crate) fn settings(
    max_iter: usize,
    tol: f64,
    stopping: &str,
    acceleration: &str,
    n_init: usize,
    seed: u64,
) -> PyResult<Settings> {
    let tolerance = Tolerance::absolute(tol);
    let convergence = match stopping {
        "remaining" => Convergence::Remaining(tolerance),
        "gain" => Convergence::LogLikelihood(tolerance),
        "fixed" => Convergence::FixedIterations,
        other => {
            return Err(crate::error::value_error(format!(
                "stopping must be 'remaining', 'gain' or 'fixed', got {other:?}"
            )));
        }
    };
    let acceleration = match acceleration {
        "squarem" => Acceleration::squarem(),
        "none" => Acceleration::None,
        other => {
            return Err(crate::error::value_error(format!(
                "acceleration must be 'squarem' or 'none', got {other:?}"
            )));
        }
    };
    Settings::builder()
        .max_iterations(max_iter)
        .convergence(convergence)
        .acceleration(acceleration)
        .restarts(n_init)
        .seed(seed)
        .build()
        .or_value_error()
}

/// The seed of restart `index` of a fit with master seed `master`, as the
/// Rust side derives it (so Python can say which seed won).
#[pyfunction]
pub(crate) fn restart_seed(master: u64, index: usize) -> u64 {
    em_core::restart_seed(master, index)
}

/// Stops the fit at the next iteration once `stop` is set (by [`run`],
/// on a signal); with `verbose`, prints the iteration log through Python's
/// `print`.
struct Interrupt<'a> {
    /// Set when the fit must stop.
    stop: &'a AtomicBool,
    /// Print every iteration.
    verbose: bool,
}

impl<M: EmModel> Observer<M> for Interrupt<'_> {
    fn on_iteration(&mut self, event: &IterationEvent<'_, M>) -> Control {
        if self.verbose {
            let gain = event
                .improvement
                .map_or(String::new(), |g| format!("  gain {g:.3e}"));
            let line = format!(
                "restart {} iteration {:>4}  log-likelihood {:.10e}{gain}",
                event.restart, event.iteration, event.log_likelihood
            );
            Python::attach(|py| {
                // A failing print (a closed stdout) must not stop the fit.
                let _ = py
                    .import("builtins")
                    .and_then(|b| b.getattr("print"))
                    .and_then(|print| print.call1((line,)));
            });
        }
        if self.stop.load(Ordering::Relaxed) {
            Control::Stop
        } else {
            Control::Continue
        }
    }
}

/// How often the calling thread checks for signals during a fit.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// Runs `fit` (a call of `em_core::fit_observed` with the given observer)
/// on a worker thread, without the GIL. Python runs signal handlers only on
/// its main thread, so the calling thread waits for the fit and checks for
/// signals every [`SIGNAL_POLL`]; on a signal (Ctrl-C) it tells the fit to
/// stop at its next iteration, waits for it, and raises the handler's
/// exception (`KeyboardInterrupt`) instead of returning the stopped fit. A
/// fit error becomes a `ValueError` with emfit's message.
pub(crate) fn run<M, F>(py: Python<'_>, verbose: bool, fit: F) -> PyResult<Fit<M>>
where
    M: EmModel + Send,
    M::Error: std::fmt::Display + Send,
    F: FnOnce(&mut (dyn Observer<M> + Send)) -> Result<Fit<M>, FitError<M::Error>> + Send,
{
    let stop = AtomicBool::new(false);
    let done = AtomicBool::new(false);
    let mut raised = None;
    let caller = std::thread::current();
    let (stop_ref, done_ref, caller_ref) = (&stop, &done, &caller);
    let result = std::thread::scope(|scope| {
        let worker = scope.spawn(move || {
            let mut observer = Interrupt {
                stop: stop_ref,
                verbose,
            };
            let result = fit(&mut observer);
            // Set before the wake-up: the thread itself is still running
            // when the caller wakes, so its handle cannot tell.
            done_ref.store(true, Ordering::Release);
            caller_ref.unpark();
            result
        });
        loop {
            py.detach(|| std::thread::park_timeout(SIGNAL_POLL));
            // A panicking fit never sets `done`; its thread finishes.
            if done.load(Ordering::Acquire) || worker.is_finished() {
                break;
            }
            if raised.is_none()
                && let Err(e) = py.check_signals()
            {
                raised = Some(e);
                stop.store(true, Ordering::Relaxed);
            }
        }
        py.detach(|| worker.join())
    });
    if let Some(e) = raised {
        return Err(e);
    }
    match result {
        Ok(result) => result.or_value_error(),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}
