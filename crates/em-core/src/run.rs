//! One restart of the loop: plain EM iterations, or SQUAREM cycles
//! ([`crate::acceleration`]), recorded by a [`Record`] that applies the
//! stopping rules after every evaluated point.

use crate::acceleration::{Acceleration, MAX_SHORTENINGS, StepCap, em_gain_rate, extrapolate, shorten};
use crate::convergence::{self, Convergence};
use crate::diagnostics::Diagnostics;
use crate::error::{FitError, Step};
use crate::executor::{Executor, PartError};
use crate::fit::Context;
use crate::model::{EmModel, Objective};
use crate::observer::{Control, IterationEvent, Observer};
use crate::report::{Fall, Termination, Work};
use crate::settings::OnFall;

/// How many observations of EM's rate the remaining-gain rule keeps. Their
/// largest is its estimate: right after an extrapolation the fast modes
/// make one observation too small, and the slow tail is what is left.
const RATES_KEPT: usize = 8;

/// The largest of `rates` (the slowest), `None` for none.
fn slowest(rates: &[f64]) -> Option<f64> {
    rates.iter().copied().reduce(f64::max)
}

/// The complete result of one successful restart.
pub(crate) struct Run<M: EmModel> {
    pub model: M,
    pub termination: Termination,
    pub iterations: usize,
    pub objective: Objective,
    pub log_likelihood: f64,
    pub returned_iteration: usize,
    pub history: Vec<f64>,
    pub falls: Vec<Fall>,
    pub rounding_drops: Vec<Fall>,
    pub diagnostics: Vec<(usize, M::Diagnostics)>,
    pub work: Work,
}

/// What produced a recorded point.
#[derive(Clone, Copy)]
enum Kind {
    /// An EM step; `rate` is an estimate of how fast plain EM's gains shrink
    /// here, when the loop has one (else the ratio of the last two EM gains).
    Em { rate: Option<f64> },
    /// An accepted extrapolation (not tested for convergence).
    Extrapolation,
}

/// Parameters evaluated for the loop: the objective it monitors there
/// (`ℓ`, or `ℓ + ln p(θ)` for a model with a prior, see [`Objective`]) and
/// the statistics of their E-step, `None` for the last point at the
/// iteration cap (evaluated by [`EmModel::log_likelihood`]: no M-step
/// follows it).
struct Evaluated<S> {
    objective: f64,
    kind: Objective,
    stats: Option<S>,
}

impl<S> Evaluated<S> {
    /// The statistics of a point an M-step starts from.
    fn stats(&self) -> &S {
        self.stats
            .as_ref()
            .expect("no M-step starts from the last point at the iteration cap")
    }
}

/// Parameters whose E-step is done.
struct Point<M: EmModel> {
    model: M,
    e: Evaluated<M::Stats>,
    /// Their flat parameters, when the stopping rule needs them.
    flat: Option<Vec<f64>>,
}

/// The history of one restart: every recorded point goes through
/// [`Context::push`], which applies the fall policy and the stopping rules.
struct Record<M: EmModel> {
    restart: usize,
    current: Point<M>,
    history: Vec<f64>,
    falls: Vec<Fall>,
    /// Drops within the rounding of ℓ, counted as zero gains.
    rounding_drops: Vec<Fall>,
    diagnostics: Vec<(usize, M::Diagnostics)>,
    /// The best point of the history when it is not `current` (after a fall).
    best: Option<(usize, M)>,
    best_log_likelihood: f64,
    /// The gain of the last EM step (for [`Convergence::Remaining`]).
    last_em_gain: Option<f64>,
    /// The last [`RATES_KEPT`] observations of how fast EM's gains shrink.
    rates: Vec<f64>,
    /// The EM step `F(θ')` from the last accepted extrapolation `θ'`, with
    /// its E-step: computed to accept `θ'`, it is the next cycle's first step.
    next_em: Option<EmStep<M>>,
    work: Work,
}

/// An EM step whose E-step is done: the model, its E-step, and what its
/// M-step reported.
type EmStep<M> = (M, Evaluated<<M as EmModel>::Stats>, <M as EmModel>::Diagnostics);

impl<M: EmModel> Record<M> {
    fn iteration(&self) -> usize {
        self.history.len() - 1
    }

    /// The run, ending with `termination`. Under [`OnFall::StopKeepBest`]
    /// (`keep_best`) it returns the best point of the whole history, the
    /// start included: the point before a fall that stopped the run, and
    /// also when the run ended another way (converged, iteration cap, time
    /// budget, observer) below an earlier point after falls the M-step
    /// announced ([`Diagnostics::expects_fall`]). A current point below the
    /// best by no more than the rounding of ℓ (`10⁻¹² max(|ℓ|, 1)`, a zero gain) is
    /// returned itself. Otherwise the current point.
    fn finish(self, termination: Termination, keep_best: bool) -> Run<M> {
        let iterations = self.iteration();
        let (current_ll, objective) = (self.current.e.objective, self.current.e.kind);
        let below_best =
            self.best_log_likelihood - current_ll > convergence::rounding(self.best_log_likelihood);
        let (returned_iteration, model) = match (termination, self.best) {
            (Termination::LogLikelihoodFell { kept, .. }, Some((_, best))) => (kept, best),
            (_, Some((kept, best))) if keep_best && below_best => (kept, best),
            (_, _) => (iterations, self.current.model),
        };
        Run {
            model,
            termination,
            iterations,
            objective,
            log_likelihood: self.history[returned_iteration],
            returned_iteration,
            history: self.history,
            falls: self.falls,
            rounding_drops: self.rounding_drops,
            diagnostics: self.diagnostics,
            work: self.work,
        }
    }
}

impl<M, X, O> Context<'_, '_, M, X, O>
where
    M: EmModel,
    X: Executor<M> + ?Sized,
    O: Observer<M> + Send + ?Sized,
{
    /// Runs one restart from `model`.
    pub(crate) fn run_from(&self, restart: usize, model: M) -> Result<Run<M>, FitError<M::Error>> {
        let mut work = Work::default();
        let e = self.evaluate(&model, restart, 0, &mut work)?;
        let flat = self.flat_for_rule(&model, restart)?;
        let mut record = Record {
            restart,
            history: Vec::with_capacity(self.settings.max_iterations().min(4096) + 1),
            current: Point { model, e, flat },
            falls: Vec::new(),
            rounding_drops: Vec::new(),
            diagnostics: Vec::new(),
            best: None,
            best_log_likelihood: f64::NEG_INFINITY,
            last_em_gain: None,
            rates: Vec::with_capacity(RATES_KEPT),
            next_em: None,
            work,
        };
        let keep_best = self.settings.on_fall() == OnFall::StopKeepBest;
        if let Some(termination) = self.start(&mut record) {
            return Ok(record.finish(termination, keep_best));
        }
        let mut cap = match self.settings.acceleration() {
            Acceleration::Squarem(policy) => Some(StepCap::new(policy)),
            Acceleration::None => None,
        };
        loop {
            let termination = match cap.as_mut() {
                Some(cap) => self.squarem_cycle(&mut record, cap)?,
                None => self.em_iteration(&mut record)?,
            };
            if let Some(termination) = termination {
                return Ok(record.finish(termination, keep_best));
            }
        }
    }

    /// The point `model` recorded as iteration `iteration`: its E-step, or
    /// at the iteration cap, where no M-step follows, only its
    /// log-likelihood ([`EmModel::log_likelihood`], a cheaper pass).
    fn evaluate(
        &self,
        model: &M,
        restart: usize,
        iteration: usize,
        work: &mut Work,
    ) -> Result<Evaluated<M::Stats>, FitError<M::Error>> {
        let with_stats = iteration < self.settings.max_iterations();
        self.evaluate_with(model, restart, iteration, work, with_stats)
    }

    /// The E-step of `model` as iteration `iteration`, with its statistics.
    fn e_step(
        &self,
        model: &M,
        restart: usize,
        iteration: usize,
        work: &mut Work,
    ) -> Result<Evaluated<M::Stats>, FitError<M::Error>> {
        self.evaluate_with(model, restart, iteration, work, true)
    }

    /// The E-step of `model` as iteration `iteration` (statistics only when
    /// `with_stats`), counted, and the objective at `model`: `ℓ`, plus its
    /// log prior when it has one.
    fn evaluate_with(
        &self,
        model: &M,
        restart: usize,
        iteration: usize,
        work: &mut Work,
        with_stats: bool,
    ) -> Result<Evaluated<M::Stats>, FitError<M::Error>> {
        work.e_steps += 1;
        let step_error = |step| {
            move |source| FitError::Step {
                restart,
                iteration,
                step,
                source,
            }
        };
        let e_step_error = |e: PartError<M::Error>| match e {
            PartError::Whole(source) => step_error(Step::EStep)(source),
            PartError::Part { part, source } => FitError::Part {
                restart,
                iteration,
                step: Step::EStep,
                part,
                source,
            },
            PartError::Remote { part, message } => FitError::RemotePart {
                restart,
                iteration,
                step: Step::EStep,
                part,
                message,
            },
        };
        let (log_likelihood, stats) = if with_stats {
            let e = self.executor.e_step(model).map_err(e_step_error)?;
            (e.log_likelihood, Some(e.stats))
        } else {
            let ll = self.executor.log_likelihood(model).map_err(e_step_error)?;
            (ll, None)
        };
        if !log_likelihood.is_finite() {
            return Err(FitError::NonFiniteLogLikelihood {
                restart,
                iteration,
                value: log_likelihood,
            });
        }
        if let Some(bound) = model
            .lower_bound(log_likelihood, self.options)
            .map_err(step_error(Step::LowerBound))?
        {
            if !bound.is_finite() {
                return Err(FitError::NonFiniteLogLikelihood {
                    restart,
                    iteration,
                    value: bound,
                });
            }
            return Ok(Evaluated {
                objective: bound,
                kind: Objective::LowerBound,
                stats,
            });
        }
        let log_prior = model
            .log_prior(self.options)
            .map_err(step_error(Step::LogPrior))?;
        match log_prior {
            Some(value) if !value.is_finite() => Err(FitError::NonFiniteLogPrior {
                restart,
                iteration,
                value,
            }),
            _ => {
                let (kind, objective) = Objective::of(log_likelihood, log_prior);
                Ok(Evaluated {
                    objective,
                    kind,
                    stats,
                })
            }
        }
    }

    /// The M-step from the current point, counted.
    fn m_step(&self, record: &mut Record<M>) -> Result<(M, M::Diagnostics), FitError<M::Error>> {
        record.work.m_steps += 1;
        let current = &record.current;
        current
            .model
            .m_step(current.e.stats(), self.options)
            .map_err(|source| FitError::Step {
                restart: record.restart,
                iteration: record.iteration(),
                step: Step::MStep,
                source,
            })
    }

    /// The flat parameters the stopping rule needs (none for the other rules).
    fn flat_for_rule(&self, model: &M, restart: usize) -> Result<Option<Vec<f64>>, FitError<M::Error>> {
        if !self.settings.convergence().needs_parameters() {
            return Ok(None);
        }
        model
            .flat_parameters(self.options)
            .map(Some)
            .ok_or(FitError::NoFlatParameters { restart })
    }

    /// One plain EM iteration.
    fn em_iteration(&self, record: &mut Record<M>) -> Result<Option<Termination>, FitError<M::Error>> {
        let (next, diagnostics) = self.m_step(record)?;
        let e = self.evaluate(&next, record.restart, record.iteration() + 1, &mut record.work)?;
        self.push(record, next, e, Some(diagnostics), Kind::Em { rate: None })
    }

    /// One SQUAREM cycle (see [`crate::acceleration`]): two EM steps, then
    /// the extrapolation, accepted when its log-likelihood does not fall.
    fn squarem_cycle(
        &self,
        record: &mut Record<M>,
        cap: &mut StepCap,
    ) -> Result<Option<Termination>, FitError<M::Error>> {
        let p0 = record.current.model.flat_parameters(self.options);
        let k1 = record.iteration() + 1;
        let (theta1, e1, d1) = match record.next_em.take() {
            Some(step) => step,
            None => {
                let (theta1, d1) = self.m_step(record)?;
                let e1 = self.evaluate(&theta1, record.restart, k1, &mut record.work)?;
                (theta1, e1, d1)
            }
        };
        if e1.stats.is_none() {
            // θ₁ is the last point (the iteration cap): recorded, the run ends.
            return self.push(record, theta1, e1, Some(d1), Kind::Em { rate: None });
        }
        // θ₂ = F(θ₁) before θ₁ is recorded: the two steps give EM's rate.
        record.work.m_steps += 1;
        let second = theta1
            .m_step(e1.stats(), self.options)
            .map_err(|source| FitError::Step {
                restart: record.restart,
                iteration: k1,
                step: Step::MStep,
                source,
            });
        let p1 = theta1.flat_parameters(self.options);
        let p2 = second
            .as_ref()
            .ok()
            .and_then(|(t, _)| t.flat_parameters(self.options));
        let rate = match (&p0, &p1, &p2) {
            (Some(p0), Some(p1), Some(p2)) => em_gain_rate(p0, p1, p2),
            _ => None,
        };
        if let Some(termination) = self.push(record, theta1, e1, Some(d1), Kind::Em { rate })? {
            return Ok(Some(termination));
        }
        let (theta2, d2) = second?;
        let extrapolation = match (&p0, &p1, &p2) {
            (Some(p0), Some(p1), Some(p2)) => extrapolate(p0, p1, p2, cap.get()),
            _ => None,
        };
        let moved = extrapolation.is_some();
        let Some(mut extrapolation) = extrapolation.filter(|x| x.alpha > 1.0) else {
            // A step length of 1 (or nothing to extrapolate) is θ₂: a plain
            // EM step, after which a cap of 1 grows as a used-up cap does.
            if moved {
                cap.update(1.0, true);
            }
            let e = self.evaluate(&theta2, record.restart, record.iteration() + 1, &mut record.work)?;
            return self.push(record, theta2, e, Some(d2), Kind::Em { rate: None });
        };
        let p2 = p2.expect("an extrapolation implies flat parameters");
        let mut shortened = false;
        let mut candidate = theta2.with_flat_parameters(&extrapolation.point, self.options);
        for _ in 0..MAX_SHORTENINGS {
            if candidate.is_some() {
                break;
            }
            shorten(&mut extrapolation.point, &p2);
            shortened = true;
            candidate = theta2.with_flat_parameters(&extrapolation.point, self.options);
        }
        let best = record.current.e.objective;
        let evaluated = candidate.and_then(|model| {
            // A failed or non-finite E-step of an extrapolation is a
            // rejection, not the end of the fit: θ₂ is still there.
            let mut work = Work::default();
            let e = self
                .e_step(&model, record.restart, record.iteration() + 1, &mut work)
                .ok();
            record.work.e_steps += work.e_steps;
            e.filter(|e| e.objective >= best).map(|e| (model, e))
        });
        let evaluated = evaluated.and_then(|(model, e)| {
            let next = self.stabilising_step(record, &model, &e)?;
            Some((model, e, next))
        });
        cap.update(extrapolation.alpha, evaluated.is_some());
        match evaluated {
            Some((model, e, next)) => {
                if shortened {
                    record.work.shortened += 1;
                } else {
                    record.work.accepted += 1;
                }
                record.next_em = Some(next);
                self.push(record, model, e, Some(d2), Kind::Extrapolation)
            }
            None => {
                record.work.rejected += 1;
                let e = self.evaluate(&theta2, record.restart, record.iteration() + 1, &mut record.work)?;
                self.push(record, theta2, e, Some(d2), Kind::Em { rate: None })
            }
        }
    }

    /// SQUAREM's stabilising step `F(θ')` from an extrapolated point `θ'`
    /// (evaluated, `e`), when it keeps `θ'`'s log-likelihood up to rounding.
    /// Exact EM always does; an M-step with constraints (a covariance floor)
    /// does not when `θ'` lies outside the set it maps into (a variance below
    /// the floor), and then `θ'` is rejected: no recorded point is ever
    /// followed by a fall that the EM map forced. A failed step is a
    /// rejection too.
    fn stabilising_step(
        &self,
        record: &mut Record<M>,
        model: &M,
        e: &Evaluated<M::Stats>,
    ) -> Option<EmStep<M>> {
        record.work.m_steps += 1;
        let (next, diagnostics) = model.m_step(e.stats(), self.options).ok()?;
        let mut work = Work::default();
        let next_e = self
            .e_step(&next, record.restart, record.iteration() + 2, &mut work)
            .ok();
        record.work.e_steps += work.e_steps;
        let floor = e.objective - convergence::rounding(e.objective);
        next_e
            .filter(|n| n.objective >= floor)
            .map(|n| (next, n, diagnostics))
    }

    /// Records the start (iteration 0): the observer sees it, and the
    /// iteration cap, the time budget or the observer may end the run.
    fn start(&self, record: &mut Record<M>) -> Option<Termination> {
        record.history.push(record.current.e.objective);
        record.best_log_likelihood = record.current.e.objective;
        let control = self.observe(record, None, None);
        self.stop_anyway(record, control)
    }

    /// Records `model` (its E-step `e`, produced with `diagnostics`) as the
    /// next iteration and applies the fall policy and the stopping rules
    /// (the convergence test only for EM steps).
    fn push(
        &self,
        record: &mut Record<M>,
        model: M,
        e: Evaluated<M::Stats>,
        diagnostics: Option<M::Diagnostics>,
        kind: Kind,
    ) -> Result<Option<Termination>, FitError<M::Error>> {
        let k = record.iteration() + 1;
        let flat = self.flat_for_rule(&model, record.restart)?;
        let ll = e.objective;
        // A drop within the rounding of ℓ is no fall: EM is at its fixed
        // point to working precision, and the step counts as a zero gain
        // (recorded, so that the report can say so).
        let gain = match ll - record.current.e.objective {
            g if g < 0.0 && -g <= convergence::rounding(ll) => {
                record.rounding_drops.push(Fall {
                    iteration: k,
                    drop: -g,
                    expected: false,
                });
                0.0
            }
            g => g,
        };
        let previous = std::mem::replace(&mut record.current, Point { model, e, flat });
        if ll >= record.best_log_likelihood {
            record.best_log_likelihood = ll;
            record.best = None;
        } else if record.best.is_none() {
            // The previous point was the best: keep it for StopKeepBest.
            record.best = Some((k - 1, previous.model));
        }
        record.history.push(ll);
        let diagnostics = diagnostics.filter(|d| !d.is_empty());
        let control = self.observe(record, Some(gain), diagnostics.as_ref());
        let expected = diagnostics.as_ref().is_some_and(Diagnostics::expects_fall);
        if let Some(d) = diagnostics {
            record.diagnostics.push((k, d));
        }
        if gain < 0.0 {
            record.falls.push(Fall {
                iteration: k,
                drop: -gain,
                expected,
            });
            if self.settings.on_fall() == OnFall::StopKeepBest && !expected {
                let kept = record.best.as_ref().map_or(k, |(i, _)| *i);
                return Ok(Some(Termination::LogLikelihoodFell {
                    iteration: k,
                    drop: -gain,
                    kept,
                }));
            }
        } else if let Kind::Em { rate } = kind {
            let observed = rate.or_else(|| record.last_em_gain.filter(|&g| g > 0.0).map(|g| gain / g));
            let measurable = gain > convergence::rounding(ll);
            if let Some(r) = observed.filter(|r| r.is_finite() && measurable) {
                if record.rates.len() == RATES_KEPT {
                    record.rates.remove(0);
                }
                record.rates.push(r);
            }
            if self.converged(record, &previous.flat, gain, slowest(&record.rates)) {
                return Ok(Some(Termination::Converged));
            }
        }
        if let Kind::Em { .. } = kind {
            record.last_em_gain = Some(gain);
        }
        Ok(self.stop_anyway(record, control))
    }

    /// The stopping rule on an EM step from `before` to the current point,
    /// whose gains shrink at `rate` (if known).
    fn converged(&self, record: &Record<M>, before: &Option<Vec<f64>>, gain: f64, rate: Option<f64>) -> bool {
        let convergence: Convergence = self.settings.convergence();
        let parameters = match (before, &record.current.flat) {
            (Some(a), Some(b)) => Some((a.as_slice(), b.as_slice())),
            _ => None,
        };
        convergence.holds(&convergence::Step {
            gain,
            rate,
            log_likelihood: record.current.e.objective,
            parameters,
        })
    }

    /// The iteration cap, the time budget and the observer's stop.
    fn stop_anyway(&self, record: &Record<M>, control: Control) -> Option<Termination> {
        const BUDGET: u8 = 1;
        const OBSERVER: u8 = 2;
        if record.iteration() >= self.settings.max_iterations() {
            return Some(Termination::IterationCap);
        }
        // Every process of a distributed fit stops where any one would.
        let local = u8::from(self.budget_spent()) * BUDGET + u8::from(control == Control::Stop) * OBSERVER;
        let flags = self.executor.any_process(local);
        if flags & BUDGET != 0 {
            Some(Termination::TimeBudget)
        } else if flags & OBSERVER != 0 {
            Some(Termination::StoppedByObserver)
        } else {
            None
        }
    }

    /// Tells the observer about the current point.
    fn observe(
        &self,
        record: &Record<M>,
        gain: Option<f64>,
        diagnostics: Option<&M::Diagnostics>,
    ) -> Control {
        self.notify(|o| {
            o.on_iteration(&IterationEvent {
                restart: record.restart,
                iteration: record.iteration(),
                log_likelihood: record.current.e.objective,
                objective: record.current.e.kind,
                improvement: gain,
                diagnostics,
                model: &record.current.model,
                elapsed: self.t0.elapsed(),
            })
        })
    }
}
