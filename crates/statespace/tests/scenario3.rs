//! The robot-arm scenario end to end at reduced size.

use statespace::scenario::{FULL_LENGTH, STATE_DIM, Scenario3, em_start, learn_options};
use statespace::{Acceleration, EmModel, InferenceOptions, LinearGaussianSsm, OnFall, Settings, Start};

/// Largest |difference| over the block `rows x cols`.
fn block_error(
    a: faer::MatRef<'_, f64>,
    b: faer::MatRef<'_, f64>,
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
) -> f64 {
    let mut e = 0.0f64;
    for i in rows {
        for j in cols.clone() {
            e = e.max((a[(i, j)] - b[(i, j)]).abs());
        }
    }
    e
}

#[test]
fn the_scenario_is_the_documented_model() {
    let data = Scenario3::new(50, 1).generate();
    let t = &data.truth;
    assert_eq!(
        (t.state_dim(), t.obs_dim(), data.observations.nrows()),
        (STATE_DIM, STATE_DIM, 50)
    );
    assert!(t.h_is_identity());
    // Block upper-triangular A = kron(A3, I7) + coupling in the acceleration block.
    assert_eq!(t.a()[(0, 0)], 0.99);
    assert_eq!(t.a()[(0, 7)], 1.0);
    assert_eq!(t.a()[(0, 14)], 0.5);
    assert_eq!(t.a()[(7, 7)], 0.95);
    assert_eq!(t.a()[(7, 0)], 0.0);
    assert!((t.a()[(14, 14)] - 0.9).abs() < 0.05 && t.a()[(15, 14)] != 0.0);
    assert_eq!(t.r()[(0, 0)], 0.01);
    assert_eq!(t.r()[(20, 20)], 1.0);
    let uncoupled = Scenario3::new(10, 1).with_coupling(false).generate();
    assert_eq!(uncoupled.truth.a()[(15, 14)], 0.0);
    assert_eq!(FULL_LENGTH, 44_484);
    // Same seed, same data.
    assert_eq!(Scenario3::new(50, 1).generate().observations, data.observations);
}

#[test]
fn em_from_the_scenario_start_raises_the_likelihood_every_iteration() {
    let data = Scenario3::new(2_000, 7).generate();
    let y = data.observations.as_ref();
    let start = em_start(y, 5).unwrap();
    assert!(start.a().norm_max() == 0.0);
    assert_eq!(start.m0()[3], y[(0, 3)]);
    let model = start.with_inference(InferenceOptions::steady_state());
    // The em-core loop, run for exactly 30 iterations whatever happens.
    let settings = Settings::builder()
        .acceleration(Acceleration::None)
        .max_iterations(30)
        .tolerance(statespace::Tolerance::absolute(0.0))
        .on_fall(OnFall::Continue)
        .build()
        .unwrap();
    let fit = statespace::fit(&[y][..], Start::Warm(model), &learn_options(), &settings).unwrap();
    assert!(fit.report.diagnostics.is_empty(), "{:?}", fit.report.diagnostics);
    assert!(fit.report.falls.is_empty(), "{:?}", fit.report.falls);
    let (history, model) = (fit.report.history, fit.model);
    assert_eq!(history.len(), 31);
    for w in history.windows(2) {
        assert!(w[1] > w[0], "log-likelihood fell: {} -> {}", w[0], w[1]);
    }
    // The well-observed position/velocity dynamics are recovered quickly;
    // the accelerations (R = 1 against Q = 0.1) take EM many more iterations.
    let pv = block_error(model.a(), data.truth.a(), 0..14, 0..14);
    assert!(pv < 0.1, "position/velocity block of A off by {pv}");
    // The model fits: the learned parameters beat the start by far.
    assert!(history[29] - history[0] > 1e6);
    // One iteration by hand from the fitted model agrees with the loop's
    // last entry: the loop only sequences E- and M-steps.
    let step = model.em_iteration(&[y], &learn_options()).unwrap();
    assert!(step.diagnostics.is_empty());
    assert_eq!(step.log_likelihood.to_bits(), history[30].to_bits());
}

#[test]
fn the_maximum_likelihood_point_is_close_to_the_truth_on_long_data() {
    // EM started at the truth stays near it: the fixed point the scenario's
    // EM climbs to is the truth up to sampling error.
    let data = Scenario3::new(5_000, 7).generate();
    let y = data.observations.as_ref();
    let mut params = data.truth.parameters();
    params.m0 = (0..STATE_DIM).map(|j| y[(0, j)]).collect();
    params.p0 = params.r.clone();
    let mut model = LinearGaussianSsm::from_parameters(params)
        .unwrap()
        .with_inference(InferenceOptions::steady_state());
    let mut previous = f64::NEG_INFINITY;
    for _ in 0..10 {
        let it = model.em_iteration(&[y], &learn_options()).unwrap();
        assert!(it.log_likelihood >= previous);
        previous = it.log_likelihood;
        model = it.model;
    }
    let ea = block_error(model.a(), data.truth.a(), 0..STATE_DIM, 0..STATE_DIM);
    let eq = block_error(model.q(), data.truth.q(), 0..STATE_DIM, 0..STATE_DIM);
    assert!(ea < 0.03, "A off by {ea}");
    assert!(eq < 0.006, "Q off by {eq} (largest entry 0.1)");
}
