//! The EM loop on the toy model of `toy/mod.rs`: convergence, falls,
//! failures, settings, restarts, observers and the time budget.

use std::time::Duration;

use em_core::{
    Acceleration, Control, Convergence, Diagnostics, FitError as Error, FnObserver, IterationEvent,
    LogObserver, NoopObserver, Observer, OnFall, RestartOutcome, RestartSummary, Settings, Start, StartEvent,
    Step, Termination, Tolerance, fit, fit_observed, restart_seed,
};

mod toy;
use toy::*;

#[test]
fn converges_with_monotone_history() {
    let x = data(1, 400);
    let f = fit(&x[..], Start::Warm(start()), &(), &settings().build().unwrap()).unwrap();
    let r = &f.report;
    assert_eq!(r.termination, Termination::Converged);
    assert!(r.converged());
    assert_eq!(r.history.len(), r.iterations + 1);
    assert_eq!(r.returned_iteration, r.iterations);
    assert_eq!(f.model.generation, r.iterations);
    assert_eq!(r.log_likelihood, *r.history.last().unwrap());
    assert!(r.falls.is_empty());
    let gains = r.gains();
    assert!(gains.iter().all(|&g| g >= 0.0), "{gains:?}");
    let last = *gains.last().unwrap();
    assert!((0.0..=1e-9).contains(&last));
    assert!(gains[..gains.len() - 1].iter().all(|&g| g > 1e-9));
    // The fitted model is the truth, up to labels.
    let (lo, hi) = if f.model.mu[0] < f.model.mu[1] {
        (0, 1)
    } else {
        (1, 0)
    };
    assert!((f.model.mu[lo] + 2.0).abs() < 0.3 && (f.model.mu[hi] - 3.0).abs() < 0.2);
    assert!((f.model.w[lo] - 0.3).abs() < 0.08);
    assert_eq!(r.restarts.len(), 1);
    assert_eq!(r.best_restart, 0);
    assert!(r.diagnostics.is_empty());
    // Human report mentions the termination.
    assert!(r.to_string().contains("converged"));
}

#[test]
fn iteration_cap_is_a_result_and_zero_iterations_evaluates_the_start() {
    let x = data(2, 200);
    let f = fit(
        &x[..],
        Start::Warm(start()),
        &(),
        &settings().max_iterations(3).build().unwrap(),
    )
    .unwrap();
    assert_eq!(f.report.termination, Termination::IterationCap);
    assert_eq!(f.report.iterations, 3);
    assert_eq!(f.report.history.len(), 4);
    assert_eq!(f.model.generation, 3);

    let f0 = fit(
        &x[..],
        Start::Warm(start()),
        &(),
        &settings().max_iterations(0).build().unwrap(),
    )
    .unwrap();
    assert_eq!(f0.report.termination, Termination::IterationCap);
    assert_eq!(f0.report.history.len(), 1);
    assert_eq!(f0.model, start());
    assert_eq!(f0.report.history[0], f.report.history[0]);
}

#[test]
fn a_fall_stops_and_keeps_the_best_by_default() {
    let x = data(3, 300);
    let mut s = start();
    s.sabotage = Sabotage::FallAt(4);
    let f = fit(&x[..], Start::Warm(s.clone()), &(), &settings().build().unwrap()).unwrap();
    let r = &f.report;
    assert!(
        matches!(r.termination, Termination::LogLikelihoodFell { iteration: 4, drop, kept: 3 } if drop > 0.0)
    );
    assert!(!r.converged());
    assert_eq!(r.iterations, 4);
    assert_eq!(r.history.len(), 5);
    assert_eq!(r.returned_iteration, 3);
    assert_eq!(f.model.generation, 3);
    assert_eq!(r.log_likelihood, r.history[3]);
    assert!(r.history[4] < r.history[3]);
    assert_eq!(r.falls.len(), 1);
    assert_eq!(r.falls[0].iteration, 4);
    assert!(!r.falls[0].expected);

    // With OnFall::Continue the fall is recorded and the fit goes on.
    let f = fit(
        &x[..],
        Start::Warm(s),
        &(),
        &settings().on_fall(OnFall::Continue).build().unwrap(),
    )
    .unwrap();
    assert_eq!(f.report.termination, Termination::Converged);
    assert_eq!(f.report.falls.len(), 1);
    assert_eq!(f.report.falls[0].iteration, 4);
    assert!(f.report.iterations > 4);
    assert_eq!(f.model.generation, f.report.iterations);
}

#[test]
fn an_announced_fall_is_recorded_but_does_not_stop() {
    let x = data(3, 300);
    let mut s = start();
    s.sabotage = Sabotage::AnnouncedFallAt(4);
    let f = fit(&x[..], Start::Warm(s), &(), &settings().build().unwrap()).unwrap();
    let r = &f.report;
    assert_eq!(r.termination, Termination::Converged);
    assert_eq!(r.falls.len(), 1);
    assert!(r.falls[0].expected && r.falls[0].iteration == 4);
    assert!(r.diagnostics.iter().any(|(k, d)| *k == 4 && d.moved));
    assert_eq!(f.model.generation, r.iterations);
    assert!(r.to_string().contains("fell 1 time"));
}

#[test]
fn keep_best_returns_the_best_of_the_whole_history_however_the_run_ends() {
    let x = data(3, 300);
    // Start at the maximum: every later (sabotaged) point is below it.
    let s = fit(&x[..], Start::Warm(start()), &(), &settings().build().unwrap())
        .unwrap()
        .model;
    let s = Toy {
        generation: 0,
        sabotage: Sabotage::AnnouncedFallsFrom(1),
        ..s
    };
    let settings = settings().max_iterations(12);
    let f = fit(
        &x[..],
        Start::Warm(s.clone()),
        &(),
        &settings.clone().build().unwrap(),
    )
    .unwrap();
    let r = &f.report;
    assert!(
        !matches!(r.termination, Termination::LogLikelihoodFell { .. }),
        "announced falls do not stop the run: {}",
        r.termination
    );
    assert!(!r.falls.is_empty() && r.falls.iter().all(|fall| fall.expected));
    let last = *r.history.last().unwrap();
    assert!(
        last < r.history[0],
        "the run ends below its start: {:?}",
        r.history
    );
    let best = (0..r.history.len())
        .max_by(|&a, &b| r.history[a].total_cmp(&r.history[b]).then(b.cmp(&a)))
        .unwrap();
    assert_eq!(r.returned_iteration, best);
    assert_eq!(
        f.model.generation, best,
        "the returned model is that of the best iteration"
    );
    assert_eq!(r.log_likelihood, r.history[best]);
    assert!(r.history.iter().all(|&l| l <= r.log_likelihood));
    assert!(
        r.to_string()
            .contains(&format!("returned: iteration {best}, the best of the history")),
        "{r}"
    );

    // Under OnFall::Continue the last point is returned.
    let f = fit(
        &x[..],
        Start::Warm(s),
        &(),
        &settings.on_fall(OnFall::Continue).build().unwrap(),
    )
    .unwrap();
    assert_eq!(f.report.returned_iteration, f.report.iterations);
    assert_eq!(f.model.generation, f.report.iterations);
    assert_eq!(f.report.log_likelihood, last);
}

#[test]
fn failed_steps_are_errors_naming_restart_iteration_and_step() {
    let x = data(4, 100);
    let mut s = start();
    s.sabotage = Sabotage::FailAt(2);
    let e = fit(&x[..], Start::Warm(s), &(), &settings().build().unwrap()).unwrap_err();
    assert!(
        matches!(
            &e,
            Error::Step {
                restart: 0,
                iteration: 1,
                step: Step::MStep,
                source: ToyError::MStepFailed
            }
        ),
        "{e:?}"
    );

    let mut s = start();
    s.sabotage = Sabotage::NanAt(2);
    let e = fit(&x[..], Start::Warm(s), &(), &settings().build().unwrap()).unwrap_err();
    assert!(matches!(e, Error::NonFiniteLogLikelihood { iteration: 2, value, .. } if value.is_nan()));

    let e = fit(&[][..], Start::Warm(start()), &(), &settings().build().unwrap()).unwrap_err();
    assert!(matches!(
        e,
        Error::Step {
            iteration: 0,
            step: Step::EStep,
            ..
        }
    ));
    assert!(e.to_string().contains("E-step of iteration 0"));
}

#[test]
fn settings_are_validated() {
    let bad = [
        Settings::builder().tolerance(Tolerance::absolute(f64::NAN)),
        Settings::builder().tolerance(Tolerance::absolute(-1.0)),
        Settings::builder().tolerance(Tolerance {
            absolute: 0.0,
            relative: f64::INFINITY,
        }),
        Settings::builder().restarts(0),
        Settings::builder().restarts(em_core::MAX_RESTARTS + 1),
        Settings::builder().restarts(1_000_000_000),
        Settings::builder().first_restart(usize::MAX).restarts(2),
        Settings::builder().time_budget(Some(Duration::ZERO)),
    ];
    for b in bad {
        assert!(
            matches!(b.clone().build(), Err(em_core::SettingsError { .. })),
            "{b:?}"
        );
    }
    let d = Settings::default();
    assert_eq!(d.max_iterations(), 100);
    assert_eq!(d.restarts(), 1);
    assert_eq!(d.on_fall(), OnFall::StopKeepBest);
    assert_eq!(d.convergence(), Convergence::Remaining(Tolerance::default()));
    assert_eq!(d.acceleration(), Acceleration::squarem());
    assert_eq!(d.to_builder().build().unwrap(), d);

    let x = data(5, 50);
    let e = fit(
        &x[..],
        Start::Warm(start()),
        &(),
        &settings().restarts(2).build().unwrap(),
    )
    .unwrap_err();
    assert!(matches!(e, Error::WarmStartWithRestarts { restarts: 2 }));
}

#[test]
fn convergence_is_signed() {
    let t = Tolerance {
        absolute: 1e-6,
        relative: 1e-3,
    };
    assert!(t.is_converged(0.0, -10.0));
    assert!(t.is_converged(1e-6, -10.0));
    assert!(t.is_converged(0.5, -1000.0));
    assert!(!t.is_converged(2.0, -1000.0));
    assert!(!t.is_converged(-1e-300, -10.0));
    assert!(!t.is_converged(f64::NAN, -10.0));
}

fn restart_fit(x: &[f64], threads: usize, parallel: bool, config: Sabotage) -> em_core::Fit<Toy> {
    let settings = settings()
        .restarts(5)
        .seed(99)
        .parallel_restarts(parallel)
        .build()
        .unwrap();
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(|| fit::<Toy>(x, Start::FromData(config), &(), &settings))
        .unwrap()
}

#[test]
fn restarts_are_deterministic_across_thread_counts() {
    let x = data(6, 300);
    let a = restart_fit(&x, 1, true, Sabotage::None);
    let b = restart_fit(&x, 2, true, Sabotage::None);
    let c = restart_fit(&x, 2, false, Sabotage::None);
    for other in [&b, &c] {
        assert_eq!(a.model, other.model);
        assert_eq!(a.report.history, other.report.history);
        assert_eq!(a.report.best_restart, other.report.best_restart);
        let lls = |f: &em_core::Fit<Toy>| {
            f.report
                .restarts
                .iter()
                .map(|r| r.log_likelihood())
                .collect::<Vec<_>>()
        };
        assert_eq!(lls(&a), lls(other));
    }
    let r = &a.report;
    assert_eq!(r.restarts.len(), 5);
    for (i, s) in r.restarts.iter().enumerate() {
        assert_eq!(s.index, i);
        assert_eq!(s.seed, restart_seed(99, i));
    }
    // The winner has the best final log-likelihood.
    let best = r
        .restarts
        .iter()
        .filter_map(|s| s.log_likelihood())
        .fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(r.log_likelihood, best);
    assert_eq!(r.best().log_likelihood(), Some(best));
    // Seeds are distinct.
    let mut seeds: Vec<u64> = r.restarts.iter().map(|s| s.seed).collect();
    seeds.sort_unstable();
    seeds.dedup();
    assert_eq!(seeds.len(), 5);
}

#[test]
fn many_parallel_restarts_pick_the_same_winner() {
    let x = data(13, 60);
    let run = |threads: usize| {
        let settings = settings()
            .max_iterations(20)
            .restarts(64)
            .seed(5)
            .build()
            .unwrap();
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| fit::<Toy>(&x[..], Start::FromData(Sabotage::None), &(), &settings))
            .unwrap()
    };
    let (a, b) = (run(1), run(2));
    assert_eq!(a.model, b.model);
    assert_eq!(a.report.best_restart, b.report.best_restart);
    let idx: Vec<usize> = b.report.restarts.iter().map(|s| s.index).collect();
    assert_eq!(idx, (0..64).collect::<Vec<_>>());
    // Ties go to the lowest index.
    let best = a.report.log_likelihood;
    let first_best = a
        .report
        .restarts
        .iter()
        .find(|s| s.log_likelihood() == Some(best))
        .unwrap()
        .index;
    assert_eq!(a.report.best_restart, first_best);
}

#[test]
fn any_restart_replays_alone() {
    let x = data(7, 200);
    let all = restart_fit(&x, 2, true, Sabotage::None);
    for i in [0usize, 3] {
        let settings = settings().restarts(1).first_restart(i).seed(99).build().unwrap();
        let one = fit::<Toy>(&x[..], Start::FromData(Sabotage::None), &(), &settings).unwrap();
        assert_eq!(one.report.restarts[0].index, i);
        assert_eq!(one.report.restarts[0].seed, restart_seed(99, i));
        assert_eq!(
            one.report.restarts[0].log_likelihood(),
            all.report.restarts[i].log_likelihood()
        );
        if i == all.report.best_restart {
            assert_eq!(one.model, all.model);
            assert_eq!(one.report.history, all.report.history);
        }
    }
}

#[test]
fn failed_restarts_are_reported_and_all_failed_is_an_error() {
    let x = data(8, 100);
    let f = restart_fit(&x, 2, true, Sabotage::FlakyInit);
    let failed = f
        .report
        .restarts
        .iter()
        .filter(|s| matches!(&s.outcome, RestartOutcome::Failed(Error::Init { restart, .. }) if *restart == s.index))
        .count();
    let finished = f
        .report
        .restarts
        .iter()
        .filter(|s| s.log_likelihood().is_some())
        .count();
    assert_eq!(failed + finished, 5);
    assert!(finished >= 1);
    assert!(
        f.report.restarts[f.report.best_restart]
            .log_likelihood()
            .is_some()
    );

    let settings = settings().restarts(3).build().unwrap();
    let e = fit::<Toy>(&[][..], Start::FromData(Sabotage::None), &(), &settings).unwrap_err();
    assert!(matches!(e, Error::Init { restart: 0, .. }), "{e:?}");
}

#[test]
fn observers_see_every_iteration_and_can_stop() {
    let x = data(9, 200);
    let mut seen = Vec::new();
    let mut obs = FnObserver(|e: &IterationEvent<'_, Toy>| {
        seen.push((e.iteration, e.log_likelihood, e.improvement, e.model.generation));
        if e.iteration == 5 {
            Control::Stop
        } else {
            Control::Continue
        }
    });
    let f = fit_observed(
        &x[..],
        Start::Warm(start()),
        &(),
        &settings().build().unwrap(),
        &mut obs,
    )
    .unwrap();
    assert_eq!(f.report.termination, Termination::StoppedByObserver);
    assert_eq!(f.report.iterations, 5);
    assert_eq!(f.model.generation, 5);
    assert_eq!(seen.len(), 6);
    for (k, (it, ll, gain, generation)) in seen.iter().enumerate() {
        assert_eq!((*it, *generation), (k, k));
        assert_eq!(*ll, f.report.history[k]);
        assert_eq!(
            *gain,
            (k > 0).then(|| f.report.history[k] - f.report.history[k - 1])
        );
    }
}

#[derive(Default)]
struct Recorder {
    events: Vec<String>,
}

impl Observer<Toy> for Recorder {
    fn on_start(&mut self, e: &StartEvent) {
        self.events
            .push(format!("start {} of {}", e.restart, e.n_restarts));
    }
    fn on_iteration(&mut self, e: &IterationEvent<'_, Toy>) -> Control {
        if let Some(d) = e.diagnostics {
            self.events.push(format!("diag {} {d}", e.iteration));
        }
        Control::Continue
    }
    fn on_end(&mut self, s: &RestartSummary<ToyError>) {
        self.events.push(format!("end {}", s.index));
    }
}

#[test]
fn observers_get_start_and_end_of_every_restart_and_diagnostics() {
    // A point mass component: its variance is floored and reported.
    let mut x = vec![5.0; 50];
    x.extend(data(10, 100));
    let s = Toy {
        w: [0.3, 0.7],
        mu: [5.0, 0.0],
        var: [1e-3, 4.0],
        generation: 0,
        sabotage: Sabotage::None,
    };
    let mut rec = Recorder::default();
    let f = fit_observed(
        &x[..],
        Start::Warm(s),
        &(),
        &settings().build().unwrap(),
        &mut rec,
    )
    .unwrap();
    assert_eq!(rec.events.first().unwrap(), "start 0 of 1");
    assert_eq!(rec.events.last().unwrap(), "end 0");
    assert!(!f.report.diagnostics.is_empty());
    for (k, d) in &f.report.diagnostics {
        assert!(!d.is_empty());
        assert!(rec.events.contains(&format!("diag {k} {d}")));
    }
    assert!(f.model.var.iter().all(|&v| v >= VAR_FLOOR));

    let mut rec = Recorder::default();
    let settings = settings().restarts(3).parallel_restarts(true).build().unwrap();
    fit_observed::<Toy, _>(&x[..], Start::FromData(Sabotage::None), &(), &settings, &mut rec).unwrap();
    for i in 0..3 {
        assert!(rec.events.contains(&format!("start {i} of 3")));
        assert!(rec.events.contains(&format!("end {i}")));
    }
}

#[test]
fn log_observer_prints_the_familiar_log() {
    let x = data(11, 200);
    let mut log = LogObserver::new(Vec::new());
    let f = fit_observed(
        &x[..],
        Start::Warm(start()),
        &(),
        &settings().build().unwrap(),
        &mut log,
    )
    .unwrap();
    assert!(log.io_error().is_none());
    let text = String::from_utf8(log.into_inner()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(header, ["iteration", "log-likelihood", "improvement"]);
    assert_eq!(lines.len(), 1 + f.report.history.len() + 1);
    let row0: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(row0.len(), 2);
    assert_eq!(row0[0], "0");
    for (k, line) in lines[2..lines.len() - 1].iter().enumerate() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cols.len(), 3, "{line}");
        assert_eq!(cols[0].parse::<usize>().unwrap(), k + 1);
        let ll: f64 = cols[1].parse().unwrap();
        assert!((ll - f.report.history[k + 1]).abs() < 1e-8);
        let gain: f64 = cols[2].parse().unwrap();
        assert!(gain >= 0.0);
    }
    assert!(lines.last().unwrap().contains("converged"));

    // Several restarts: one header with a restart column, a summary per restart.
    let mut log = LogObserver::new(Vec::new());
    let settings3 = settings().restarts(3).build().unwrap();
    let f3 =
        fit_observed::<Toy, _>(&x[..], Start::FromData(Sabotage::None), &(), &settings3, &mut log).unwrap();
    let text = String::from_utf8(log.into_inner()).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["restart", "iteration", "log-likelihood", "improvement"]);
    assert_eq!(text.matches("log-likelihood").count(), 1 + 3);
    let rows = text
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|w| w.parse::<usize>().is_ok())
        })
        .count();
    let expected_rows: usize = f3
        .report
        .restarts
        .iter()
        .map(|r| match r.outcome {
            RestartOutcome::Finished { iterations, .. } => iterations + 1,
            _ => 0,
        })
        .sum();
    assert_eq!(rows, expected_rows);

    let mut log = LogObserver::new(Vec::new()).every(10);
    let f = fit_observed(
        &x[..],
        Start::Warm(start()),
        &(),
        &settings().build().unwrap(),
        &mut log,
    )
    .unwrap();
    let text = String::from_utf8(log.into_inner()).unwrap();
    assert_eq!(text.lines().count(), 1 + f.report.iterations / 10 + 1 + 1);
}

#[test]
fn a_spent_time_budget_stops_after_evaluating_the_start() {
    let x = data(12, 100);
    let settings = settings()
        .time_budget(Some(Duration::from_nanos(1)))
        .build()
        .unwrap();
    let f = fit(&x[..], Start::Warm(start()), &(), &settings).unwrap();
    assert_eq!(f.report.termination, Termination::TimeBudget);
    assert_eq!(f.report.iterations, 0);
    assert_eq!(f.model, start());
    let _ = fit_observed(&x[..], Start::Warm(start()), &(), &settings, &mut NoopObserver).unwrap();
}
