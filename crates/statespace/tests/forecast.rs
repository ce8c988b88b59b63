//! Forecasts and innovations against dense Gaussian conditioning of the
//! joint distribution (`common::joint_with_inputs`), with inputs, offsets
//! and missing values, in exact and steady-state mode.

mod common;

use common::{block, condition, joint_with_inputs, max_diff, observed, random_model_with_inputs};
use faer::Mat;
use linalg_kernels::{Cholesky, LN_2PI};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use statespace::{InferenceOptions, Sequence, StateSpaceError};

const TOL: f64 = 1e-9;

#[test]
fn forecasts_match_dense_conditioning() {
    let (n, p, m, t, horizon) = (3, 2, 2, 6, 4);
    for options in [InferenceOptions::exact(), InferenceOptions::steady_state()] {
        let model = random_model_with_inputs(n, p, m, 101).with_inference(options);
        let mut rng = StdRng::seed_from_u64(102);
        let u = Mat::<f64>::from_fn(t + horizon, m, |_, _| rng.random_range(-1.0..1.0));
        let (_, mut y) = model.sample_with_inputs(u.subrows(0, t), &mut rng).unwrap();
        y[(2, 1)] = f64::NAN;
        let filtered = model.filter_with_inputs(y.as_ref(), u.subrows(0, t)).unwrap();
        let jt = joint_with_inputs(&model, Some(u.as_ref()), t + horizon);
        for origin in [1, 2, t - 1] {
            let future = u.subrows(origin + 1, horizon);
            let forecast = model.forecast(&filtered, origin, horizon, Some(future)).unwrap();
            assert_eq!((forecast.origin(), forecast.horizon()), (origin, horizon));
            let (idx, val) = observed(&jt, y.as_ref(), origin + 1);
            let (mean, cov) = condition(&jt, &idx, &val);
            for j in 1..=horizon {
                let k = origin + j;
                for i in 0..n {
                    let want = mean[jt.x(k, i)];
                    assert!((forecast.state_means()[(j - 1, i)] - want).abs() < TOL * (1.0 + want.abs()));
                }
                for i in 0..p {
                    let want = mean[jt.y(k, i)];
                    assert!(
                        (forecast.observation_means()[(j - 1, i)] - want).abs() < TOL * (1.0 + want.abs())
                    );
                    assert_eq!(
                        forecast.observation_variances()[(j - 1, i)],
                        forecast.observation_cov(j).unwrap()[(i, i)]
                    );
                }
                let want = block(&cov, |i| jt.x(k, i), |c| jt.x(k, c), n, n);
                assert!(
                    max_diff(forecast.state_cov(j).unwrap(), want.as_ref()) < TOL,
                    "state cov {j}"
                );
                let want = block(&cov, |i| jt.y(k, i), |c| jt.y(k, c), p, p);
                assert!(
                    max_diff(forecast.observation_cov(j).unwrap(), want.as_ref()) < TOL,
                    "obs cov {j}"
                );
            }
            assert!(forecast.state_cov(0).is_none() && forecast.observation_cov(horizon + 1).is_none());
        }
    }
}

#[test]
fn innovations_match_dense_conditioning() {
    let (n, p, m, t) = (2, 3, 1, 7);
    for options in [InferenceOptions::exact(), InferenceOptions::steady_state()] {
        let model = random_model_with_inputs(n, p, m, 111).with_inference(options);
        let mut rng = StdRng::seed_from_u64(112);
        let u = Mat::<f64>::from_fn(t, m, |_, _| rng.random_range(-1.0..1.0));
        let (_, mut y) = model.sample_with_inputs(u.as_ref(), &mut rng).unwrap();
        y[(1, 0)] = f64::NAN;
        (0..p).for_each(|j| y[(4, j)] = f64::NAN);
        let sequence = Sequence::with_inputs(y.as_ref(), u.as_ref());
        let innovations = model.innovations(sequence).unwrap();
        let jt = joint_with_inputs(&model, Some(u.as_ref()), t);
        let mut log_likelihood = 0.0;
        for k in 0..t {
            let (idx, val) = observed(&jt, y.as_ref(), k);
            let (mean, cov) = condition(&jt, &idx, &val);
            let s = block(&cov, |i| jt.y(k, i), |c| jt.y(k, c), p, p);
            assert!(
                max_diff(innovations.covariance(k).unwrap(), s.as_ref()) < TOL,
                "S {k}"
            );
            let seen: Vec<usize> = (0..p).filter(|&j| !y[(k, j)].is_nan()).collect();
            for j in 0..p {
                let (v, z) = (innovations.errors()[(k, j)], innovations.standardised()[(k, j)]);
                if seen.contains(&j) {
                    let want = y[(k, j)] - mean[jt.y(k, j)];
                    assert!((v - want).abs() < TOL * (1.0 + want.abs()), "v {k} {j}");
                } else {
                    assert!(v.is_nan() && z.is_nan());
                }
            }
            if seen.is_empty() {
                continue;
            }
            let s_oo = Mat::<f64>::from_fn(seen.len(), seen.len(), |a, b| s[(seen[a], seen[b])]);
            let chol = Cholesky::new(s_oo.as_ref()).unwrap();
            let v: Vec<f64> = seen.iter().map(|&j| innovations.errors()[(k, j)]).collect();
            let zz: f64 = seen
                .iter()
                .map(|&j| innovations.standardised()[(k, j)].powi(2))
                .sum();
            let want = chol.mahalanobis_squared(&v).unwrap();
            assert!((zz - want).abs() < 1e-8 * (1.0 + want), "‖z‖² {k}");
            let first = innovations.standardised()[(k, seen[0])];
            assert!((first - v[0] / s_oo[(0, 0)].sqrt()).abs() < 1e-9, "z {k}");
            log_likelihood += -0.5 * (seen.len() as f64 * LN_2PI + chol.log_det() + zz);
        }
        let filtered = model.filter_with_inputs(y.as_ref(), u.as_ref()).unwrap();
        assert!((log_likelihood - filtered.log_likelihood()).abs() < 1e-9 * (1.0 + log_likelihood.abs()));
        assert!(innovations.covariance(t).is_none());
    }
}

#[test]
fn bad_forecast_requests_are_typed_errors() {
    let model = random_model_with_inputs(2, 2, 1, 121);
    let mut rng = StdRng::seed_from_u64(122);
    let u = Mat::<f64>::from_fn(5, 1, |_, _| rng.random_range(-1.0..1.0));
    let (_, y) = model.sample_with_inputs(u.as_ref(), &mut rng).unwrap();
    let filtered = model.filter_with_inputs(y.as_ref(), u.as_ref()).unwrap();
    assert_eq!(
        model
            .forecast(&filtered, 5, 2, Some(u.subrows(0, 2)))
            .unwrap_err(),
        StateSpaceError::ForecastOrigin { origin: 5, steps: 5 }
    );
    assert!(matches!(
        model.forecast(&filtered, 4, 0, None).unwrap_err(),
        StateSpaceError::InvalidOption {
            option: "horizon",
            ..
        }
    ));
    assert_eq!(
        model
            .forecast(&filtered, 4, 3, Some(u.subrows(0, 2)))
            .unwrap_err(),
        StateSpaceError::InputSteps {
            sequence: 0,
            steps: 3,
            found: 2
        }
    );
    assert_eq!(
        model.forecast(&filtered, 4, 3, None).unwrap_err(),
        StateSpaceError::MissingInputs {
            sequence: 0,
            expected: 1
        }
    );
    let other = random_model_with_inputs(3, 2, 1, 123);
    assert!(matches!(
        other
            .forecast(&filtered, 4, 1, Some(u.subrows(0, 1)))
            .unwrap_err(),
        StateSpaceError::InvalidOption {
            option: "filter output",
            ..
        }
    ));
}
