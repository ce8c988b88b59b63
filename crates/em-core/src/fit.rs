//! The one EM loop: convergence, restarts, time budget, observers, reports
//! (the loop itself is documented on [`fit_observed`]).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use rayon::prelude::*;

use crate::error::FitError;
use crate::executor::{Executor, Local};
use crate::model::EmModel;
use crate::observer::{NoopObserver, Observer, StartEvent};
use crate::report::{FitReport, RestartOutcome, RestartSummary};
use crate::run::Run;
use crate::settings::{Settings, restart_seed};

/// Where a fit starts.
#[derive(Debug, Clone)]
pub enum Start<M: EmModel> {
    /// From the given parameters (warm start). Runs exactly one fit: it is an
    /// error to combine it with several restarts.
    Warm(M),
    /// From [`EmModel::init_from_data`] with this configuration, once per
    /// restart, each with the restart's seed.
    FromData(M::InitConfig),
}

/// A fitted model and its report.
#[derive(Debug)]
#[non_exhaustive]
pub struct Fit<M: EmModel> {
    /// The parameters of the winning restart (see [`FitReport`] for which
    /// iteration they are).
    pub model: M,
    /// What happened.
    pub report: FitReport<M::Diagnostics, M::Error>,
}

/// Fits a model by EM (the loop is documented on [`fit_observed`]), without
/// an observer.
///
/// # Errors
/// See [`fit_observed`].
pub fn fit<M: EmModel>(
    data: M::Data<'_>,
    start: Start<M>,
    options: &M::Options,
    settings: &Settings,
) -> Result<Fit<M>, FitError<M::Error>> {
    fit_observed(data, start, options, settings, &mut NoopObserver)
}

/// Fits a model by EM, calling `observer` at the start of every restart,
/// after every iteration and at the end of every restart.
///
/// # The loop of one restart
///
/// ```text
/// θ₀ = start (warm parameters, or init_from_data with the restart's seed)
/// for k = 0, 1, 2, ...
///     (ℓₖ, S) = e_step(θₖ)                    ℓₖ = ln p(data | θₖ)
///                                              (+ ln p(θₖ) with a prior)
///     Δₖ = ℓₖ − ℓₖ₋₁                           (k ≥ 1)
///     observer.on_iteration(k, ℓₖ, Δₖ, θₖ)   -> Continue | Stop
///     stop if  Δₖ < 0 and OnFall::StopKeepBest   -> return θₖ₋₁ (LogLikelihoodFell)
///              (unless the M-step announced it: Diagnostics::expects_fall)
///              0 ≤ Δₖ ≤ tol(ℓₖ)                  -> return θₖ   (Converged)
///              k = max_iterations                -> return θₖ   (IterationCap)
///              time budget spent                 -> return θₖ   (TimeBudget)
///              observer said Stop                -> return θₖ   (StoppedByObserver)
///     θₖ₊₁ = m_step(θₖ, S)
/// ```
///
/// For a model with a prior ([`EmModel::log_prior`] is `Some`), `ℓₖ` here
/// and everywhere in the loop and its report is the log posterior
/// `ln p(data | θₖ) + ln p(θₖ)` (up to a constant), the objective a MAP
/// M-step never lowers ([`crate::Objective`], [`FitReport::objective`]).
///
/// Under [`OnFall::StopKeepBest`](crate::OnFall::StopKeepBest) the returned
/// model is the best of the whole history, the start included, however the
/// run ended: falls the M-step announced do not stop the run, so it can end
/// (converged, at the iteration cap, ...) below an earlier point, and then
/// that earlier point is returned ([`FitReport::returned_iteration`] says
/// which; a point below the best by no more than the rounding of ℓ counts as
/// as good). Under [`OnFall::Continue`](crate::OnFall::Continue) the last
/// point is returned.
///
/// So every returned model has an exactly evaluated log-likelihood (the
/// model after the last M-step is evaluated by one more E-step), `history`
/// has `iterations + 1` entries, and a negative gain is recorded as a
/// [`Fall`](crate::Fall) and never counted as convergence (but for a drop
/// within the rounding of ℓ, `10⁻¹² max(|ℓ|, 1)`, which counts as a zero gain).
///
/// # Restarts
///
/// Restart `i` seeds its `StdRng` with [`restart_seed`]`(seed, i)`; restarts
/// run on the rayon pool when [`Settings::parallel_restarts`] is set and are
/// collected in index order, so the result does not depend on the number of
/// threads (the model crates' E-steps reduce in a fixed order too). The
/// restart with the highest final log-likelihood wins (lowest index among
/// ties). A restart that fails is reported in its [`RestartSummary`]; the fit
/// fails only when every restart failed (with the error of the first).
///
/// A failed step never leaves a half-updated model: M-steps build new models,
/// and the loop only ever returns a model whose log-likelihood it
/// evaluated.
///
/// # Errors
/// - [`FitError::WarmStartWithRestarts`] for a warm start with `restarts > 1`;
/// - when every restart failed, the error of the first one:
///   [`FitError::Init`], [`FitError::Step`] (the model rejected the data, or
///   a step failed numerically), [`FitError::NonFiniteLogLikelihood`] or
///   [`FitError::NonFiniteLogPrior`].
pub fn fit_observed<M, O>(
    data: M::Data<'_>,
    start: Start<M>,
    options: &M::Options,
    settings: &Settings,
    observer: &mut O,
) -> Result<Fit<M>, FitError<M::Error>>
where
    M: EmModel,
    O: Observer<M> + Send + ?Sized,
{
    fit_with(&Local::new(data), start, options, settings, observer)
}

/// [`fit_observed`] with the E-steps run by `executor` (see
/// [`crate::executor`]): the data in one piece ([`Local`], which is
/// [`fit_observed`]), in parts ([`crate::Parts`]), or elsewhere. The loop
/// (M-step, convergence, acceleration, restarts, report) is the same.
///
/// [`Start::FromData`] initialises through [`Executor::init_from_data`];
/// an executor that cannot ([`crate::Parts`]) needs a warm start.
///
/// # Errors
/// As [`fit_observed`]; an E-step that failed in one part is
/// [`FitError::Part`] (naming the part), and `Start::FromData` with an
/// executor that cannot initialise is [`FitError::NoInitialisation`].
pub fn fit_with<M, X, O>(
    executor: &X,
    start: Start<M>,
    options: &M::Options,
    settings: &Settings,
    observer: &mut O,
) -> Result<Fit<M>, FitError<M::Error>>
where
    M: EmModel,
    X: Executor<M> + ?Sized,
    O: Observer<M> + Send + ?Sized,
{
    let t0 = Instant::now();
    let n = settings.restarts();
    let first = settings.first_restart();
    let (warm, init) = match start {
        Start::Warm(model) => {
            if n > 1 {
                return Err(FitError::WarmStartWithRestarts { restarts: n });
            }
            (Some(model), None)
        }
        Start::FromData(config) => (None, Some(config)),
    };
    let observer = Mutex::new(observer);
    let ctx = Context {
        executor,
        options,
        settings,
        observer: &observer,
        t0,
    };

    // Each restart yields its summary and, if it succeeded, its run; only the
    // best run is kept while reducing (memory O(threads), not O(restarts)).
    // "Better" is a total order (higher log-likelihood, then lower index), so
    // the parallel reduction picks the same winner whatever the splits.
    let one = |i: usize, warm: Option<M>| {
        let (summary, run) = ctx.restart(i, warm, init.as_ref());
        Outcome {
            summaries: vec![summary],
            best: run.map(|r| (i, r)),
        }
    };
    let outcome = if let Some(model) = warm {
        one(first, Some(model))
    } else if settings.parallel_restarts() && executor.parallel_restarts() && n > 1 {
        (first..first + n)
            .into_par_iter()
            .map(|i| one(i, None))
            .reduce(Outcome::empty, Outcome::combine)
    } else {
        (first..first + n)
            .map(|i| one(i, None))
            .fold(Outcome::empty(), Outcome::combine)
    };
    let mut summaries = outcome.summaries;
    summaries.sort_by_key(|s| s.index);
    let Some((best_restart, run)) = outcome.best else {
        // Every restart failed: hand back the first error.
        let summary = summaries.into_iter().next().expect("at least one restart");
        return Err(match summary.outcome {
            RestartOutcome::Failed(e) => e,
            RestartOutcome::Finished { .. } => unreachable!("a finished restart has a run"),
        });
    };
    Ok(Fit {
        model: run.model,
        report: FitReport {
            termination: run.termination,
            iterations: run.iterations,
            objective: run.objective,
            log_likelihood: run.log_likelihood,
            returned_iteration: run.returned_iteration,
            history: run.history,
            falls: run.falls,
            rounding_drops: run.rounding_drops,
            work: run.work,
            diagnostics: run.diagnostics,
            best_restart,
            restarts: summaries,
            elapsed: t0.elapsed(),
        },
    })
}

/// Restart results being reduced: all summaries, the best run so far.
struct Outcome<M: EmModel> {
    summaries: Vec<RestartSummary<M::Error>>,
    best: Option<(usize, Run<M>)>,
}

impl<M: EmModel> Outcome<M> {
    fn empty() -> Self {
        Self {
            summaries: Vec::new(),
            best: None,
        }
    }

    /// Merges two partial results; the better run is the one with the
    /// higher log-likelihood, the lower restart index among ties.
    fn combine(mut self, other: Self) -> Self {
        self.summaries.extend(other.summaries);
        self.best = match (self.best, other.best) {
            (None, b) | (b, None) => b,
            (Some(a), Some(b)) => {
                let b_better = b.1.log_likelihood > a.1.log_likelihood
                    || (b.1.log_likelihood == a.1.log_likelihood && b.0 < a.0);
                Some(if b_better { b } else { a })
            }
        };
        self
    }
}

pub(crate) struct Context<'c, 'o, M: EmModel, X: ?Sized, O: ?Sized> {
    pub(crate) executor: &'c X,
    pub(crate) options: &'c M::Options,
    pub(crate) settings: &'c Settings,
    pub(crate) observer: &'c Mutex<&'o mut O>,
    pub(crate) t0: Instant,
}

impl<M, X, O> Context<'_, '_, M, X, O>
where
    M: EmModel,
    X: Executor<M> + ?Sized,
    O: Observer<M> + Send + ?Sized,
{
    pub(crate) fn notify<T>(&self, f: impl FnOnce(&mut O) -> T) -> T {
        // A panic inside an observer poisons the lock; keep going with the
        // observer as it is (it is only ever called, never inspected).
        let mut guard = self
            .observer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut **guard)
    }

    pub(crate) fn budget_spent(&self) -> bool {
        self.settings
            .time_budget()
            .is_some_and(|b| self.t0.elapsed() >= b)
    }

    /// Runs restart `index` and summarises it; never panics on model errors.
    fn restart(
        &self,
        index: usize,
        warm: Option<M>,
        config: Option<&M::InitConfig>,
    ) -> (RestartSummary<M::Error>, Option<Run<M>>) {
        let seed = restart_seed(self.settings.seed(), index);
        let started = Instant::now();
        self.notify(|o| {
            o.on_start(&StartEvent {
                restart: index,
                seed,
                n_restarts: self.settings.restarts(),
                max_iterations: self.settings.max_iterations(),
            });
        });
        let result = self.run(index, seed, warm, config);
        let elapsed: Duration = started.elapsed();
        let (outcome, run) = match result {
            Ok(run) => (
                RestartOutcome::Finished {
                    termination: run.termination,
                    iterations: run.iterations,
                    initial_log_likelihood: run.history[0],
                    log_likelihood: run.log_likelihood,
                    objective: run.objective,
                    falls: run.falls.len(),
                    work: run.work,
                },
                Some(run),
            ),
            Err(e) => (RestartOutcome::Failed(e), None),
        };
        let summary = RestartSummary {
            index,
            seed,
            outcome,
            elapsed,
        };
        self.notify(|o| o.on_end(&summary));
        (summary, run)
    }

    /// The start of restart `restart` (the warm model, or an initialisation
    /// from the data with its seed), then the loop.
    fn run(
        &self,
        restart: usize,
        seed: u64,
        warm: Option<M>,
        config: Option<&M::InitConfig>,
    ) -> Result<Run<M>, FitError<M::Error>> {
        let model = match (warm, config) {
            (Some(model), _) => model,
            (None, Some(config)) => {
                let mut rng = StdRng::seed_from_u64(seed);
                self.executor
                    .init_from_data(config, &mut rng)
                    .ok_or(FitError::NoInitialisation { restart })?
                    .map_err(|source| FitError::Init {
                        restart,
                        seed,
                        source,
                    })?
            }
            (None, None) => unreachable!("fit_with passes a warm model or an init config"),
        };
        self.run_from(restart, model)
    }
}
