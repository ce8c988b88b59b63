//! How a fit shows its progress: a progress bar per restart on a terminal, the
//! plain `iteration  log-likelihood  improvement` log otherwise (the
//! objective's name in the second column), or nothing.

use std::collections::BTreeMap;
use std::io::IsTerminal;

use em_driver::{
    Control, Diagnostics, EmModel, IterationEvent, LogObserver, Observer, RestartSummary, StartEvent,
};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The observer of `emfit fit`.
pub enum Progress {
    /// Print nothing.
    Quiet,
    /// The plain convergence log on standard output.
    Log(LogObserver<std::io::Stdout>),
    /// Progress bars on the terminal (standard error).
    Bars {
        /// The bars' common display.
        multi: MultiProgress,
        /// One bar per running restart.
        bars: BTreeMap<usize, ProgressBar>,
    },
}

impl Progress {
    /// Bars when standard output is a terminal, the log otherwise, nothing when quiet.
    pub fn new(quiet: bool) -> Self {
        if quiet {
            Self::Quiet
        } else if std::io::stdout().is_terminal() {
            Self::Bars {
                // At most 10 redraws a second, however fast the iterations are.
                multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10)),
                bars: BTreeMap::new(),
            }
        } else {
            Self::Log(LogObserver::new(std::io::stdout()))
        }
    }
}

fn style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix} [{bar:30.cyan/blue}] {pos:>5}/{len} {msg}  {elapsed}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

impl<M: EmModel> Observer<M> for Progress {
    fn on_start(&mut self, event: &StartEvent) {
        match self {
            Self::Quiet => {}
            Self::Log(log) => <LogObserver<_> as Observer<M>>::on_start(log, event),
            Self::Bars { multi, bars } => {
                let bar = multi.add(ProgressBar::new(event.max_iterations as u64));
                bar.set_style(style());
                let prefix = if event.n_restarts > 1 {
                    format!("restart {} of {}", event.restart, event.n_restarts)
                } else {
                    "EM".to_string()
                };
                bar.set_prefix(prefix);
                bars.insert(event.restart, bar);
            }
        }
    }

    fn on_iteration(&mut self, event: &IterationEvent<'_, M>) -> Control {
        match self {
            Self::Quiet => {}
            Self::Log(log) => {
                let _ = log.on_iteration(event);
            }
            Self::Bars { multi, bars } => {
                if let Some(bar) = bars.get(&event.restart) {
                    bar.set_position(event.iteration as u64);
                    let gain = event
                        .improvement
                        .map(|g| format!("  gain {g:.3e}"))
                        .unwrap_or_default();
                    bar.set_message(format!("{} {:.6}{gain}", event.objective, event.log_likelihood));
                }
                if let Some(d) = event.diagnostics
                    && !d.is_empty()
                {
                    let _ = multi.println(format!("iteration {}: M-step: {d}", event.iteration));
                }
            }
        }
        Control::Continue
    }

    fn on_end(&mut self, summary: &RestartSummary<M::Error>) {
        match self {
            Self::Quiet => {}
            Self::Log(log) => <LogObserver<_> as Observer<M>>::on_end(log, summary),
            Self::Bars { multi, bars } => {
                if let Some(bar) = bars.remove(&summary.index) {
                    bar.finish_and_clear();
                }
                let _ = multi.println(summary.to_string());
            }
        }
    }
}
