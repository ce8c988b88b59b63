//! Accelerated EM (SQUAREM) and the stopping rules, on the toy model of
//! `toy/mod.rs`.

use em_core::{
    Acceleration, Convergence, FitError, OnFall, Settings, SettingsError, Squarem, Start, Termination,
    Tolerance, fit,
};

mod toy;
use toy::*;

fn accelerated() -> em_core::SettingsBuilder {
    settings().acceleration(Acceleration::squarem())
}

#[test]
fn squarem_reaches_the_same_optimum_in_fewer_e_steps() {
    // Overlapping components: plain EM crawls.
    let x = data_with_means(11, 400, 0.0, 1.0);
    let tight = Tolerance::absolute(1e-9);
    let plain = fit(
        &x[..],
        Start::Warm(start()),
        &(),
        &settings().tolerance(tight).build().unwrap(),
    )
    .unwrap();
    let fast = fit(
        &x[..],
        Start::Warm(start()),
        &(),
        &accelerated().tolerance(tight).build().unwrap(),
    )
    .unwrap();
    assert!(
        plain.report.converged() && fast.report.converged(),
        "{}\n{}",
        plain.report,
        fast.report
    );
    let (a, b) = (plain.report.log_likelihood, fast.report.log_likelihood);
    assert!((a - b).abs() <= 1e-8 * a.abs(), "{a} vs {b}");
    for k in 0..2 {
        assert!((plain.model.mu[k] - fast.model.mu[k]).abs() < 1e-4);
    }
    let (w_plain, w_fast) = (plain.report.work, fast.report.work);
    assert_eq!(w_plain.e_steps, plain.report.iterations + 1);
    assert_eq!(w_plain.m_steps, plain.report.iterations);
    assert!(w_fast.accepted + w_fast.shortened > 0, "{w_fast}");
    assert!(
        2 * w_fast.e_steps < w_plain.e_steps,
        "SQUAREM {w_fast} against plain {w_plain}"
    );
    // Every E-step is a recorded iteration's, or one or two of a rejected
    // extrapolation (its own, and its stabilising step's), or the
    // stabilising step of an extrapolation accepted just before the stop.
    let recorded = fast.report.iterations + 1;
    assert!(
        w_fast.e_steps >= recorded + w_fast.rejected && w_fast.e_steps <= recorded + 2 * w_fast.rejected + 1,
        "{w_fast} for {recorded} recorded points"
    );
    assert!(fast.report.to_string().contains("extrapolations"));
}

#[test]
fn squarem_history_never_falls_and_parameters_stay_valid() {
    for seed in 0..20 {
        let x = data(seed, 150);
        let s = accelerated().max_iterations(300).build().unwrap();
        let f = fit(&x[..], Start::Warm(start()), &(), &s).unwrap();
        // Only rounding at the fixed point may lower the log-likelihood.
        let rounding = |w: &[f64]| w[1] - w[0] >= -1e-12 * w[0].abs();
        assert!(
            f.report.history.windows(2).all(rounding),
            "seed {seed}: {}",
            f.report
        );
        assert!(f.model.var.iter().all(|&v| v > 0.0) && f.model.w[0] > 0.0 && f.model.w[0] < 1.0);
    }
}

#[test]
fn models_without_flat_parameters_run_plain_em_when_accelerated() {
    let x = data(5, 200);
    let mut s = start();
    s.sabotage = Sabotage::NoFlat;
    let plain = fit(&x[..], Start::Warm(s.clone()), &(), &settings().build().unwrap()).unwrap();
    let fast = fit(&x[..], Start::Warm(s), &(), &accelerated().build().unwrap()).unwrap();
    assert_eq!(plain.report.history, fast.report.history);
    assert_eq!(fast.report.work.accepted + fast.report.work.rejected, 0);
}

#[test]
fn fixed_iterations_run_exactly_that_many() {
    let x = data(6, 200);
    let s = settings()
        .convergence(Convergence::FixedIterations)
        .on_fall(OnFall::Continue)
        .max_iterations(500)
        .build()
        .unwrap();
    let f = fit(&x[..], Start::Warm(start()), &(), &s).unwrap();
    assert_eq!(f.report.termination, Termination::IterationCap);
    assert_eq!(f.report.iterations, 500, "a zero gain is not convergence here");
}

#[test]
fn the_parameter_change_rule_stops_when_parameters_settle() {
    let x = data_with_means(7, 300, 0.0, 1.5);
    let rule = |relative| {
        settings()
            .convergence(Convergence::ParameterChange { relative })
            .on_fall(OnFall::Continue)
    };
    let loose = fit(&x[..], Start::Warm(start()), &(), &rule(1e-3).build().unwrap()).unwrap();
    let tight = fit(
        &x[..],
        Start::Warm(start()),
        &(),
        &rule(1e-5).max_iterations(20_000).build().unwrap(),
    )
    .unwrap();
    assert!(
        loose.report.converged() && tight.report.converged(),
        "{}\n{}",
        loose.report,
        tight.report
    );
    assert!(loose.report.iterations < tight.report.iterations);
    let mut s = start();
    s.sabotage = Sabotage::NoFlat;
    let e = fit(&x[..], Start::Warm(s), &(), &rule(1e-6).build().unwrap()).unwrap_err();
    assert!(matches!(e, FitError::NoFlatParameters { restart: 0 }), "{e:?}");
}

#[test]
fn keep_best_means_the_best_of_the_whole_history() {
    // An announced fall at iteration 2 (recorded, the fit goes on), then an
    // unannounced one at iteration 3, still below iteration 1: the fit stops
    // and keeps iteration 1, the best of the whole history, not iteration 2.
    let x = data(8, 300);
    let mut s = start();
    s.sabotage = Sabotage::FallsAt(2, 3);
    let f = fit(&x[..], Start::Warm(s), &(), &settings().build().unwrap()).unwrap();
    let r = &f.report;
    let h = &r.history;
    assert_eq!(h.len(), 4, "{r}");
    assert!(h[2] < h[1] && h[3] < h[2], "{h:?}");
    assert!(
        matches!(
            r.termination,
            Termination::LogLikelihoodFell {
                iteration: 3,
                kept: 1,
                ..
            }
        ),
        "{r}"
    );
    assert_eq!((r.returned_iteration, r.log_likelihood), (1, h[1]));
    assert_eq!(f.model.generation, 1);
}

#[test]
fn bad_acceleration_and_stopping_settings_are_refused() {
    let squarem = |max_step, step_growth| {
        Settings::builder().acceleration(Acceleration::Squarem(Squarem {
            max_step,
            step_growth,
        }))
    };
    let bad = [
        (squarem(0.5, 4.0), "squarem.max_step"),
        (squarem(-1.0, 4.0), "squarem.max_step"),
        (squarem(f64::NAN, 4.0), "squarem.max_step"),
        (squarem(1.0, 1.0), "squarem.step_growth"),
        (squarem(1.0, f64::INFINITY), "squarem.step_growth"),
        (
            Settings::builder()
                .tolerance(Tolerance::absolute(0.0))
                .max_iterations(usize::MAX),
            "max_iterations",
        ),
        (
            Settings::builder()
                .convergence(Convergence::FixedIterations)
                .max_iterations(usize::MAX),
            "max_iterations",
        ),
        (
            Settings::builder().convergence(Convergence::ParameterChange { relative: -1.0 }),
            "convergence.relative",
        ),
    ];
    for (builder, setting) in bad {
        let e: SettingsError = builder.clone().build().unwrap_err();
        assert_eq!(e.setting, setting, "{builder:?}");
        assert!(e.to_string().contains(setting));
    }
    assert!(
        Settings::builder()
            .tolerance(Tolerance::absolute(0.0))
            .max_iterations(10)
            .build()
            .is_ok()
    );
}

#[test]
fn the_remaining_gain_rule_does_not_stop_far_from_the_optimum() {
    // Overlapping components: EM crawls, and a small gain is no sign of the
    // answer. Same tolerance, the two rules; the optimum from a very long run.
    let x = data_with_means(12, 400, 0.0, 1.0);
    let run = |convergence| {
        let s = settings()
            .convergence(convergence)
            .max_iterations(30_000)
            .on_fall(OnFall::Continue)
            .build()
            .unwrap();
        fit(&x[..], Start::Warm(start()), &(), &s).unwrap()
    };
    let tolerance = Tolerance::relative(1e-7);
    let optimum = run(Convergence::FixedIterations).report.log_likelihood;
    let gain_rule = run(Convergence::LogLikelihood(tolerance));
    let remaining_rule = run(Convergence::Remaining(tolerance));
    assert!(gain_rule.report.converged() && remaining_rule.report.converged());
    let gap = |f: &em_core::Fit<Toy>| (optimum - f.report.log_likelihood) / optimum.abs();
    // The gain rule stops with more than its tolerance still to come; the
    // remaining-gain rule comes within it.
    assert!(gap(&gain_rule) > 1e-7, "gain rule gap {:e}", gap(&gain_rule));
    assert!(
        gap(&remaining_rule) <= 1e-7,
        "remaining rule gap {:e}",
        gap(&remaining_rule)
    );
    assert!(remaining_rule.report.iterations > gain_rule.report.iterations);
}

#[test]
fn squarem_under_the_remaining_gain_rule_stops_near_the_optimum() {
    // The gains between extrapolations shrink much faster than plain EM's:
    // the rule must use EM's own rate, or it stops far from the answer (with
    // the ratio of successive EM gains this stopped 16 tolerances away).
    for seed in [12, 13, 14] {
        let x = data_with_means(seed, 400, 0.0, 1.0);
        let optimum = fit(
            &x[..],
            Start::Warm(start()),
            &(),
            &settings()
                .convergence(Convergence::FixedIterations)
                .max_iterations(30_000)
                .on_fall(OnFall::Continue)
                .build()
                .unwrap(),
        )
        .unwrap()
        .report
        .log_likelihood;
        let s = accelerated()
            .convergence(Convergence::Remaining(Tolerance::relative(1e-9)))
            .max_iterations(30_000)
            .build()
            .unwrap();
        let f = fit(&x[..], Start::Warm(start()), &(), &s).unwrap();
        // Within a small multiple of the tolerance (the rate is estimated).
        let gap = (optimum - f.report.log_likelihood) / optimum.abs();
        assert!(gap <= 5e-9, "seed {seed}: gap {gap:e}\n{}", f.report);
    }
}

/// Two points and a variance floor in the toy's M-step: SQUAREM's
/// extrapolation overshoots to a variance below the floor, whose
/// likelihood no EM step can keep. It is rejected (the stabilising step
/// would fall), so the history never falls and the fit ends where plain EM
/// does.
#[test]
fn an_extrapolation_beyond_the_m_steps_floor_is_rejected() {
    let x = [0.0, 1.405_696_578_597_407_6];
    let start = Toy {
        w: [0.05, 0.95],
        mu: [1.914_730_854_916_578, 0.0],
        var: [2.549_706_124_015_576, 4.057_305_029_986_685],
        generation: 0,
        sabotage: Sabotage::None,
    };
    let run = |acceleration| {
        let s = settings()
            .max_iterations(40)
            .on_fall(OnFall::Continue)
            .acceleration(acceleration)
            .build()
            .unwrap();
        fit(&x[..], Start::Warm(start.clone()), &(), &s).unwrap()
    };
    let (plain, fast) = (run(Acceleration::None), run(Acceleration::squarem()));
    assert!(fast.report.falls.is_empty(), "{}", fast.report);
    assert!(fast.report.work.rejected > 0, "{}", fast.report.work);
    assert!(
        fast.report
            .history
            .windows(2)
            .all(|w| w[1] >= w[0] - 1e-12 * w[0].abs()),
        "{:?}",
        fast.report.history
    );
    let (a, b) = (plain.report.log_likelihood, fast.report.log_likelihood);
    assert!((a - b).abs() <= 1e-9 * a.abs(), "plain {a}, SQUAREM {b}");
}
