//! The Nile local-level model: the built-in series, and EM reaching the
//! published maximum-likelihood estimates (Durbin & Koopman, ch. 2:
//! σ²_ε ≈ 15099, σ²_η ≈ 1469.1) within 1%, with plain EM and with SQUAREM.

use statespace::em_core::Acceleration;
use statespace::scenario::{
    NILE_FIRST_YEAR, NILE_FLOW, NILE_MLE_LEVEL_VARIANCE, NILE_MLE_OBSERVATION_VARIANCE, NILE_P0, nile,
    nile_learn_options,
};
use statespace::{LinearGaussianSsm, Settings, Start};

#[test]
fn the_series_is_the_classic_one() {
    assert_eq!(NILE_FLOW.len(), 100);
    assert_eq!(NILE_FIRST_YEAR, 1871);
    assert_eq!(
        (NILE_FLOW[0], NILE_FLOW[1], NILE_FLOW[99]),
        (1120.0, 1160.0, 740.0)
    );
    // The driest year, 1913, and the wettest, 1879.
    assert_eq!(NILE_FLOW[1913 - 1871], 456.0);
    assert_eq!(NILE_FLOW[1879 - 1871], 1370.0);
    assert_eq!(NILE_FLOW.iter().sum::<f64>(), 91_935.0);
    let data = nile();
    assert_eq!((data.flow.nrows(), data.flow.ncols()), (100, 1));
    assert!((0..100).all(|k| data.flow[(k, 0)] == NILE_FLOW[k]));
    let start = &data.start;
    assert_eq!((start.a()[(0, 0)], start.h()[(0, 0)]), (1.0, 1.0));
    assert_eq!((start.m0()[0], start.p0()[(0, 0)]), (1120.0, NILE_P0));
    assert!((start.q()[(0, 0)] - 0.5 * 28_637.947).abs() < 0.01);
    assert_eq!(start.q()[(0, 0)], start.r()[(0, 0)]);
}

/// The fit from the scenario's start with the default settings, plain or
/// accelerated.
fn fit(acceleration: Acceleration) -> statespace::Fit<LinearGaussianSsm> {
    let data = nile();
    let settings = Settings::builder()
        .max_iterations(10_000)
        .acceleration(acceleration)
        .build()
        .unwrap();
    statespace::fit(
        &[data.flow.as_ref()][..],
        Start::Warm(data.start),
        &nile_learn_options(),
        &settings,
    )
    .unwrap()
}

/// The relative errors of the fitted R and Q against the published values.
fn errors(model: &LinearGaussianSsm) -> (f64, f64) {
    (
        model.r()[(0, 0)] / NILE_MLE_OBSERVATION_VARIANCE - 1.0,
        model.q()[(0, 0)] / NILE_MLE_LEVEL_VARIANCE - 1.0,
    )
}

#[test]
fn em_reaches_the_published_estimates_within_one_percent() {
    let accelerated = fit(Acceleration::squarem());
    let plain = fit(Acceleration::None);
    for (name, fitted) in [("SQUAREM", &accelerated), ("plain EM", &plain)] {
        assert!(fitted.report.converged(), "{name}: {}", fitted.report.termination);
        let (r, q) = errors(&fitted.model);
        assert!(
            r.abs() < 0.01 && q.abs() < 0.01,
            "{name}: R off by {r:+.4}, Q by {q:+.4}"
        );
        // A, H and the near-diffuse P0 are fixed.
        let m = &fitted.model;
        assert_eq!(
            (m.a()[(0, 0)], m.h()[(0, 0)], m.p0()[(0, 0)]),
            (1.0, 1.0, NILE_P0)
        );
        // The maximum of this likelihood (computed independently):
        // ℓ = −641.5238130278 at R = 15098.58, Q = 1469.10, m0 = 1111.67.
        let gap = -641.523_813_027_8 - fitted.report.log_likelihood;
        assert!((0.0..1e-4).contains(&gap), "{name}: {gap} below the maximum");
    }
    // Measured: 32 E-steps with SQUAREM, 223 with plain EM.
    let (fast, slow) = (accelerated.report.work.e_steps, plain.report.work.e_steps);
    assert!(3 * fast < slow, "SQUAREM {fast} E-steps, plain EM {slow}");
}
