//! The loop on every model of the model crates: restarts that do not depend
//! on the number of threads, observers, and the scenarios end to end.

use em_driver::faer::Mat;
use em_driver::hmm::{
    CategoricalHmm, CategoricalInit, GaussianHmm, GaussianInit, GmmHmm, InitConfig, Sequences,
};
use em_driver::mixture::CovarianceType;
use em_driver::mixture::{GaussianMixture as Gmm, InitConfig as GmmInit};
use em_driver::statespace::{self, LinearGaussianSsm as Lgssm};
use em_driver::{
    Control, EmModel, Fit, FnObserver, IterationEvent, ModelFile, Settings, Start, Termination, Tolerance,
    fit, fit_observed,
};

mod common;
use common::{check_gmm, check_lgssm};

// -------------------------------------------------------------- restarts

fn with_threads<T: Send>(n: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build()
        .unwrap()
        .install(f)
}

fn same_fit<M: EmModel + ModelFile>(a: &Fit<M>, b: &Fit<M>) {
    assert_eq!(a.model.to_json(), b.model.to_json());
    assert_eq!(a.report.history, b.report.history);
    assert_eq!(a.report.best_restart, b.report.best_restart);
    assert_eq!(a.report.termination, b.report.termination);
    let lls = |f: &Fit<M>| {
        f.report
            .restarts
            .iter()
            .map(|r| (r.seed, r.log_likelihood()))
            .collect::<Vec<_>>()
    };
    assert_eq!(lls(a), lls(b));
}

fn restart_settings() -> Settings {
    Settings::builder()
        .max_iterations(30)
        .restarts(4)
        .seed(2024)
        .build()
        .unwrap()
}

#[test]
fn gmm_restarts_do_not_depend_on_threads() {
    let data = em_driver::mixture::scenario::two_component_2d(5);
    let run = || {
        fit::<Gmm>(
            data.x.as_ref(),
            Start::FromData(GmmInit::new(2, CovarianceType::Full)),
            &Default::default(),
            &restart_settings(),
        )
        .unwrap()
    };
    let one = with_threads(1, run);
    let two = with_threads(2, run);
    same_fit(&one, &two);
    assert_eq!(one.report.restarts.len(), 4);
    // The winner replays alone.
    let best = one.report.best_restart;
    let alone = fit::<Gmm>(
        data.x.as_ref(),
        Start::FromData(GmmInit::new(2, CovarianceType::Full)),
        &Default::default(),
        &restart_settings()
            .to_builder()
            .restarts(1)
            .first_restart(best)
            .build()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(alone.model, one.model);
    assert_eq!(alone.report.history, one.report.history);
}

#[test]
fn hmm_restarts_do_not_depend_on_threads() {
    let data = em_driver::hmm::scenario::sample_with(3, 300, 6).unwrap();
    let seqs = data.sequences().unwrap();
    let gaussian = InitConfig::new(2, GaussianInit::new(CovarianceType::Diagonal));
    let run = || {
        fit::<GaussianHmm>(
            &seqs,
            Start::FromData(gaussian.clone()),
            &Default::default(),
            &restart_settings(),
        )
        .unwrap()
    };
    same_fit(&with_threads(1, run), &with_threads(2, run));

    let run = || {
        fit::<GmmHmm>(
            &seqs,
            Start::FromData(em_driver::hmm::scenario::init_config()),
            &em_driver::hmm::scenario::m_step_options(),
            &restart_settings(),
        )
        .unwrap()
    };
    same_fit(&with_threads(1, run), &with_threads(2, run));

    let symbols = Mat::from_fn(200, 1, |i, _| ((i * 7 + i / 13) % 3) as f64);
    let seqs = Sequences::new(symbols.as_ref(), &[50, 150]).unwrap();
    let init = InitConfig::new(2, CategoricalInit::default());
    let run = || {
        fit::<CategoricalHmm>(
            &seqs,
            Start::FromData(init.clone()),
            &Default::default(),
            &restart_settings(),
        )
        .unwrap()
    };
    same_fit(&with_threads(1, run), &with_threads(2, run));
}

#[test]
fn lgssm_restarts_do_not_depend_on_threads() {
    let d = statespace::scenario::Scenario3::new(200, 4).generate();
    let y = d.observations.as_ref().subcols(0, 3).to_owned();
    let seqs = [y.as_ref()];
    let run = || {
        fit::<Lgssm>(
            &seqs[..],
            Start::FromData(statespace::InitConfig::new(3)),
            &statespace::MStepOptions::default(),
            &restart_settings()
                .to_builder()
                .max_iterations(10)
                .build()
                .unwrap(),
        )
        .unwrap()
    };
    let one = with_threads(1, run);
    same_fit(&one, &with_threads(2, run));
    // The restarts really differ (jittered A).
    let lls: Vec<_> = one
        .report
        .restarts
        .iter()
        .map(|r| r.log_likelihood().unwrap().to_bits())
        .collect();
    assert!(lls.windows(2).any(|w| w[0] != w[1]));
}

// ------------------------------------------------------------- scenarios

/// Scenario 3 through the driver at a reduced size: EM on (A, Q) from A = 0
/// rises every iteration, Q stays SPD.
#[test]
fn scenario3_lgssm_end_to_end() {
    use statespace::scenario;
    let d = scenario::Scenario3::new(600, 3).generate();
    let start = scenario::em_start(d.observations.as_ref(), 3).unwrap();
    let seqs = [d.observations.as_ref()];
    let settings = Settings::builder()
        .max_iterations(25)
        .tolerance(Tolerance::absolute(0.0))
        .build()
        .unwrap();
    let mut ok = true;
    let mut obs = FnObserver(|e: &IterationEvent<'_, Lgssm>| {
        ok &= check_lgssm(e.model).is_ok();
        Control::Continue
    });
    let f = fit_observed(
        &seqs[..],
        Start::Warm(start),
        &scenario::learn_options(),
        &settings,
        &mut obs,
    )
    .unwrap();
    assert!(ok);
    assert_eq!(f.report.termination, Termination::IterationCap, "{}", f.report);
    for w in f.report.history.windows(2) {
        assert!(w[1] > w[0], "{} -> {}", w[0], w[1]);
    }
}

/// Scenario 2 through the driver: from the naive start, converges to the
/// two true components with weights near 0.3 / 0.7, SPD throughout.
#[test]
fn scenario2_gmm_from_the_naive_start() {
    let data = em_driver::mixture::scenario::two_component_2d(7);
    let settings = Settings::builder()
        .max_iterations(500)
        .tolerance(Tolerance::absolute(1e-8))
        .build()
        .unwrap();
    let mut spd_ok = true;
    let mut obs = FnObserver(|e: &IterationEvent<'_, Gmm>| {
        spd_ok &= check_gmm(e.model, "gmm").is_ok();
        Control::Continue
    });
    let f = fit_observed(
        data.x.as_ref(),
        Start::Warm(em_driver::mixture::scenario::naive_start()),
        &Default::default(),
        &settings,
        &mut obs,
    )
    .unwrap();
    assert!(spd_ok);
    assert_eq!(f.report.termination, Termination::Converged, "{}", f.report);
    let mut w = f.model.weights().to_vec();
    w.sort_by(f64::total_cmp);
    assert!((w[0] - 0.3).abs() < 0.05 && (w[1] - 0.7).abs() < 0.05, "{w:?}");
}

/// Scenario 1 through the driver: the log-likelihood rises monotonically
/// to convergence and Viterbi on a fresh sample recovers the states.
#[test]
fn scenario1_gmm_hmm_end_to_end() {
    use em_driver::hmm::scenario;
    let data = scenario::sample(1);
    let seqs = data.sequences().unwrap();
    let settings = Settings::builder()
        .max_iterations(scenario::MAX_ITERATIONS)
        .tolerance(Tolerance::absolute(scenario::TOLERANCE))
        .seed(1)
        .build()
        .unwrap();
    let f = fit::<GmmHmm>(
        &seqs,
        Start::FromData(scenario::init_config()),
        &scenario::m_step_options(),
        &settings,
    )
    .unwrap();
    let r = &f.report;
    // Converged, or still creeping up at the cap (a flat ridge): never a fall
    // beyond rounding.
    assert!(
        matches!(
            r.termination,
            Termination::Converged | Termination::IterationCap | Termination::LogLikelihoodFell { .. }
        ),
        "{r}"
    );
    for w in r.history.windows(2) {
        assert!(w[1] - w[0] >= -1e-10 * w[0].abs(), "{} -> {}", w[0], w[1]);
    }
    assert!(r.log_likelihood > r.history[0]);
    let fresh = scenario::sample(2);
    let fresh_seqs = Sequences::single(fresh.x.as_ref()).unwrap();
    let states = f.model.predict(&fresh_seqs).unwrap();
    let m = em_driver::hmm::match_labels(&states, &fresh.states, 2).unwrap();
    assert!(m.accuracy >= 0.98, "accuracy {}", m.accuracy);
}
