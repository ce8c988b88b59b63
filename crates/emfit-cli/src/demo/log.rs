//! The convergence log of the demo, thinned so long fits stay readable, and
//! the one-line outcome of a fit.

use std::io::Write;

use em_driver::{
    Control, Diagnostics, EmModel, FitReport, IterationEvent, Observer, RestartSummary, StartEvent,
};

use crate::text::duration;

/// The convergence log of the demo (see [`DemoLog::new`]); the last row is
/// always printed.
pub struct DemoLog {
    every: usize,
    last: Option<(usize, f64, Option<f64>)>,
    last_printed: bool,
    min_gain: f64,
}

impl DemoLog {
    /// Every `every`-th row; `every = 0`: every row up to 10, every 10th up
    /// to 100, then every 100th.
    pub fn new(every: usize) -> Self {
        Self {
            every,
            last: None,
            last_printed: false,
            min_gain: f64::INFINITY,
        }
    }

    fn row(k: usize, ll: f64, gain: Option<f64>) {
        let mut out = std::io::stdout().lock();
        let _ = match gain {
            None => writeln!(out, "{k:>10}  {ll:>20.6}"),
            Some(g) => writeln!(out, "{k:>10}  {ll:>20.6}  {g:>12.3e}"),
        };
    }

    /// The one-line outcome of a fit logged here.
    pub fn outcome<D, E>(&self, report: &FitReport<D, E>) -> String {
        let first = report.history.first().copied().unwrap_or(f64::NAN);
        let monotone = if report.falls.is_empty() && self.min_gain >= 0.0 {
            "never decreased".to_string()
        } else {
            format!("{} fall(s) recorded", report.falls.len())
        };
        format!(
            "{} after {} iterations in {}: log-likelihood {:.3} -> {:.3} ({monotone})",
            report.termination,
            report.iterations,
            duration(report.elapsed),
            first,
            report.log_likelihood
        )
    }
}

impl<M: EmModel> Observer<M> for DemoLog {
    fn on_start(&mut self, _event: &StartEvent) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "{:>10}  {:>20}  {:>12}",
            "iteration", "log-likelihood", "improvement"
        );
    }

    fn on_iteration(&mut self, e: &IterationEvent<'_, M>) -> Control {
        if let Some(g) = e.improvement {
            self.min_gain = self.min_gain.min(g);
        }
        let k = e.iteration;
        let print = match self.every {
            0 => k <= 10 || (k <= 100 && k.is_multiple_of(10)) || k.is_multiple_of(100),
            every => k.is_multiple_of(every),
        };
        if print {
            Self::row(k, e.log_likelihood, e.improvement);
        }
        if let Some(d) = e.diagnostics
            && !d.is_empty()
        {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{:>10}  M-step: {d}", "");
        }
        self.last = Some((e.iteration, e.log_likelihood, e.improvement));
        self.last_printed = print;
        Control::Continue
    }

    fn on_end(&mut self, _summary: &RestartSummary<M::Error>) {
        if !self.last_printed
            && let Some((k, ll, gain)) = self.last
        {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{:>10}", "...");
            drop(out);
            Self::row(k, ll, gain);
        }
    }
}
