//! The test scenario of `mixture::scenario` end to end: generate, fit from
//! the naive start, check.

use mixture::{Covariances, MStepOptions, scenario};
use mixture::{EStep, EmModel, em_core::Adjustment};

fn spd_2x2(m: &faer::Mat<f64>) -> bool {
    m[(0, 1)] == m[(1, 0)] && m[(0, 0)] > 0.0 && m[(0, 0)] * m[(1, 1)] - m[(0, 1)] * m[(1, 0)] > 0.0
}

#[test]
fn fit_from_the_naive_start_converges_to_the_truth() {
    for seed in [1, 2, 3] {
        let data = scenario::two_component_2d(seed);
        assert_eq!(data.x.nrows(), scenario::N_POINTS);
        let frac0 = data.labels.iter().filter(|&&l| l == 0).count() as f64 / scenario::N_POINTS as f64;
        assert!((frac0 - 0.3).abs() < 0.05, "seed {seed}: {frac0}");

        let mut model = scenario::naive_start();
        let options = MStepOptions::default();
        let mut previous = f64::NEG_INFINITY;
        let mut converged = false;
        for _ in 0..500 {
            let EStep {
                log_likelihood: ll,
                stats,
            } = model.e_step(data.x.as_ref()).unwrap();
            assert!(
                ll >= previous - 1e-9 * ll.abs(),
                "seed {seed}: log-likelihood fell {previous} -> {ll}"
            );
            if ll - previous <= 1e-10 * ll.abs() {
                converged = true;
                break;
            }
            previous = ll;
            let (next, diag) = model.m_step(&stats, &options).unwrap();
            assert!(
                diag.components(Adjustment::Reseeded).is_empty()
                    && diag.components(Adjustment::KeptWithoutMass).is_empty(),
                "{diag}"
            );
            let Covariances::Full(covs) = next.covariances() else {
                panic!()
            };
            assert!(covs.iter().all(spd_2x2));
            model = next;
        }
        assert!(converged, "seed {seed} did not converge");
        // Label-switching aware comparison with the truth.
        let m = model.means();
        let t = data.truth.means();
        let d = |a: usize, b: usize| (m[(a, 0)] - t[(b, 0)]).hypot(m[(a, 1)] - t[(b, 1)]);
        let order = if d(0, 0) + d(1, 1) <= d(0, 1) + d(1, 0) {
            [0, 1]
        } else {
            [1, 0]
        };
        for (truth_k, &fit_k) in order.iter().enumerate() {
            assert!(
                (model.weights()[fit_k] - data.truth.weights()[truth_k]).abs() < 0.06,
                "seed {seed}"
            );
            assert!(
                d(fit_k, truth_k) < 0.3,
                "seed {seed}: mean error {}",
                d(fit_k, truth_k)
            );
            let cov = model.component_covariance(fit_k).unwrap();
            let true_cov = data.truth.component_covariance(truth_k).unwrap();
            assert!((cov - true_cov).norm_max() < 0.35, "seed {seed}");
        }
    }
}

#[test]
fn the_generator_is_deterministic() {
    assert_eq!(scenario::two_component_2d(7), scenario::two_component_2d(7));
    assert_ne!(scenario::two_component_2d(7).x, scenario::two_component_2d(8).x);
}

#[test]
fn the_wiring_bug_of_the_scenario_is_a_typed_error() {
    // The user's loop put a mean where a covariance belonged.
    let with_second = |second: faer::Mat<f64>| {
        mixture::GaussianMixture::new(
            vec![0.5, 0.5],
            faer::mat![[0.0, 1.0], [1.0, 0.0]],
            Covariances::Full(vec![faer::Mat::identity(2, 2), second]),
        )
        .unwrap_err()
    };
    let err = with_second(faer::mat![[0.3, 0.0], [2.5, 0.0]]);
    assert!(matches!(
        err,
        mixture::MixtureError::NotSymmetric {
            owner: mixture::CovarianceOwner::Component(1),
            row: 1,
            col: 0,
            ..
        }
    ));
    let err = with_second(faer::mat![[1.0, 2.0], [2.0, 1.0]]);
    assert!(matches!(
        err,
        mixture::MixtureError::NotPositiveDefinite {
            owner: mixture::CovarianceOwner::Component(1),
            source: linalg_kernels::KernelError::NotPositiveDefinite { pivot: 1, .. }
        }
    ));
    // The message names the component and the pivot, counted from 1.
    let msg = err.to_string();
    assert!(msg.contains("component 2") && msg.contains("pivot 2"), "{msg}");
}
