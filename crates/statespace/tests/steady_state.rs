//! The steady-state option against the full recursion.
//!
//! Stated tolerance (see `InferenceOptions`): the detection stops when the
//! estimated distance of the predicted covariance to the Riccati fixed point
//! is at most `tol · max|P|`. Covariances then agree with the full recursion
//! to a few `tol` relative to their largest entry (checked at `10 tol`), the
//! log-likelihood to `tol` relative per step, and means to `tol` relative to
//! the scale of the data times the smoother's memory (checked at `1e3 tol`).

mod common;

use common::{max_diff, random_model};
use faer::{Mat, MatRef};
use rand::SeedableRng;
use rand::rngs::StdRng;
use statespace::scenario::Scenario3;
use statespace::{EmModel, InferenceOptions, LinearGaussianSsm};

const TOL: f64 = 1e-12;

fn scale(m: MatRef<'_, f64>) -> f64 {
    let mut s = 0.0f64;
    for j in 0..m.ncols() {
        for i in 0..m.nrows() {
            s = s.max(m[(i, j)].abs());
        }
    }
    s
}

fn compare(model: &LinearGaussianSsm, y: &Mat<f64>) -> (usize, usize) {
    let exact = model.clone().with_inference(InferenceOptions::exact());
    let steady = model
        .clone()
        .with_inference(InferenceOptions::steady_state_with_tolerance(TOL).unwrap());
    let se = exact.smooth(y.as_ref()).unwrap();
    let ss = steady.smooth(y.as_ref()).unwrap();
    let (fe, fs) = (se.filter(), ss.filter());
    let t = y.nrows();
    let ll = fe.log_likelihood();
    assert!(
        (fs.log_likelihood() - ll).abs() <= TOL * t as f64 * (1.0 + ll.abs() / t as f64),
        "loglik {} vs {ll}",
        fs.log_likelihood()
    );
    let data_scale = 1.0 + scale(y.as_ref());
    for (a, b) in [
        (fs.filtered_means(), fe.filtered_means()),
        (fs.predicted_means(), fe.predicted_means()),
        (ss.smoothed_means(), se.smoothed_means()),
    ] {
        assert!(
            max_diff(a, b) <= 1e3 * TOL * data_scale,
            "means differ by {}",
            max_diff(a, b)
        );
    }
    for k in 0..t {
        for (a, b) in [
            (fs.filtered_cov(k).unwrap(), fe.filtered_cov(k).unwrap()),
            (fs.predicted_cov(k).unwrap(), fe.predicted_cov(k).unwrap()),
            (ss.smoothed_cov(k).unwrap(), se.smoothed_cov(k).unwrap()),
        ] {
            let d = max_diff(a.as_ref(), b.as_ref());
            assert!(
                d <= 10.0 * TOL * scale(b.as_ref()),
                "step {k}: covariances differ by {d}"
            );
        }
        if k + 1 < t {
            let d = max_diff(
                ss.cross_cov(k).unwrap().as_ref(),
                se.cross_cov(k).unwrap().as_ref(),
            );
            assert!(
                d <= 1e2 * TOL * scale(se.cross_cov(k).unwrap().as_ref()),
                "cross {k}: {d}"
            );
            let d = max_diff(ss.gain(k).unwrap().as_ref(), se.gain(k).unwrap().as_ref());
            assert!(
                d <= 1e2 * TOL * (1.0 + scale(se.gain(k).unwrap().as_ref())),
                "gain {k}: {d}"
            );
        }
    }
    // The E-step statistics.
    let ee = exact.e_step(&[y.as_ref()]).unwrap();
    let es = steady.e_step(&[y.as_ref()]).unwrap();
    assert!((ee.log_likelihood - es.log_likelihood).abs() <= TOL * t as f64 * (1.0 + ll.abs() / t as f64));
    for (a, b) in [
        (es.stats.sum_xx(), ee.stats.sum_xx()),
        (es.stats.sum_cross(), ee.stats.sum_cross()),
        (es.stats.sum_yx(), ee.stats.sum_yx()),
        (es.stats.sum_yy(), ee.stats.sum_yy()),
    ] {
        let d = max_diff(a, b);
        assert!(
            d <= 1e3 * TOL * scale(b),
            "statistics differ by {d} (scale {})",
            scale(b)
        );
    }
    assert_eq!(fe.steady_state_steps(), 0);
    assert_eq!(fe.distinct_covariances(), t);
    (fs.steady_state_steps(), ss.steady_state_steps())
}

#[test]
fn steady_state_matches_the_full_recursion() {
    let model = random_model(3, 2, 5);
    let mut rng = StdRng::seed_from_u64(6);
    let (_, y) = model.sample(400, &mut rng).unwrap();
    let (filter_steps, smoother_steps) = compare(&model, &y);
    assert!(filter_steps > 300, "the filter converged late: {filter_steps}");
    assert!(
        smoother_steps > 300,
        "the smoother converged late: {smoother_steps}"
    );
}

#[test]
fn missing_values_interrupt_the_steady_state_and_it_resumes() {
    let model = random_model(3, 3, 7);
    let mut rng = StdRng::seed_from_u64(8);
    let (_, mut y) = model.sample(500, &mut rng).unwrap();
    for j in 0..3 {
        y[(200, j)] = f64::NAN;
    }
    y[(320, 1)] = f64::NAN;
    let exact = model.clone().with_inference(InferenceOptions::exact());
    let steady = model.clone().with_inference(InferenceOptions::steady_state());
    let (filter_steps, _) = compare(&model, &y);
    // Three stretches (before 200, between, after 320), each converged.
    let stored = steady.filter(y.as_ref()).unwrap().distinct_covariances();
    assert!(
        filter_steps > 400 && stored < 100,
        "steady steps {filter_steps}, stored {stored}"
    );
    // The step after a missing row is recomputed, not reused.
    let fs = steady.filter(y.as_ref()).unwrap();
    let fe = exact.filter(y.as_ref()).unwrap();
    let d = max_diff(
        fs.filtered_cov(200).unwrap().as_ref(),
        fe.filtered_cov(200).unwrap().as_ref(),
    );
    assert!(d < 1e-10);
}

#[test]
fn scenario_model_steady_state_matches() {
    let data = Scenario3::new(400, 3).generate();
    let (filter_steps, _) = compare(&data.truth, &data.observations);
    assert!(filter_steps > 200, "{filter_steps}");
}

#[test]
fn tolerance_is_validated() {
    assert!(InferenceOptions::steady_state_with_tolerance(0.0).is_err());
    assert!(InferenceOptions::steady_state_with_tolerance(f64::NAN).is_err());
    assert!(InferenceOptions::steady_state_with_tolerance(0.1).is_err());
    assert_eq!(
        InferenceOptions::steady_state().steady_state_tolerance(),
        Some(statespace::DEFAULT_STEADY_STATE_TOLERANCE)
    );
    assert_eq!(InferenceOptions::default(), InferenceOptions::exact());
}

/// The exact filter keeps every 16th filtered covariance and replays the
/// others: they must be the very matrices the smoother's filter pass stored,
/// also across missing rows and entries.
#[test]
fn exact_filter_checkpoints_replay_the_stored_covariances() {
    use statespace::FILTER_CHECKPOINT_INTERVAL;
    let model = random_model(4, 3, 11).with_inference(InferenceOptions::exact());
    let t = 3 * FILTER_CHECKPOINT_INTERVAL + 5;
    let mut rng = StdRng::seed_from_u64(5);
    let (_, mut y) = model.sample(t, &mut rng).unwrap();
    for j in 0..3 {
        y[(FILTER_CHECKPOINT_INTERVAL + 2, j)] = f64::NAN;
    }
    y[(2 * FILTER_CHECKPOINT_INTERVAL - 1, 1)] = f64::NAN;
    y[(2 * FILTER_CHECKPOINT_INTERVAL, 0)] = f64::NAN;
    let filtered = model.filter(y.as_ref()).unwrap();
    let smoothed = model.smooth(y.as_ref()).unwrap();
    let stored = smoothed.filter();
    assert_eq!(
        filtered.distinct_covariances(),
        t.div_ceil(FILTER_CHECKPOINT_INTERVAL)
    );
    assert_eq!(stored.distinct_covariances(), t);
    // Kept rather than replayed: the same matrices, unpacked.
    let kept = model
        .filter_keeping_covariances(statespace::Sequence::new(y.as_ref()))
        .unwrap();
    assert_eq!(kept.distinct_covariances(), t);
    assert_eq!(kept.filtered_covs(), filtered.filtered_covs());
    assert_eq!(filtered.log_likelihood(), stored.log_likelihood());
    for k in 0..t {
        assert_eq!(
            filtered.filtered_cov(k),
            stored.filtered_cov(k),
            "filtered, step {k}"
        );
        assert_eq!(
            filtered.predicted_cov(k),
            stored.predicted_cov(k),
            "predicted, step {k}"
        );
    }
    assert_eq!(filtered.filtered_cov(t), None);
    assert_eq!(filtered.predicted_cov(t), None);
    assert_eq!(filtered.filtered_variances(), stored.filtered_variances());
    assert_eq!(filtered.filtered_means(), stored.filtered_means());
}
