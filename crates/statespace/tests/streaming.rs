//! The streaming filter against the batch filter: fed a sequence step by
//! step (missing entries, inputs and offsets, exact and steady-state
//! recursions, saved and resumed through JSON) it gives the batch filter's
//! means, covariances and log-likelihood; bad input is a typed error naming
//! the step that leaves the filter as it was.

mod common;

use common::{random_model, random_model_with_inputs};
use faer::{Mat, MatRef};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use statespace::scenario;
use statespace::{
    FilterOutput, FilterState, FixedLagSmoother, InferenceOptions, LaggedState, LinearGaussianSsm,
    StateSpaceError, StreamingFilter,
};

/// `y` with some entries missing: a whole row every 7 steps, one
/// coordinate every 5.
fn with_gaps(mut y: Mat<f64>) -> Mat<f64> {
    for k in 0..y.nrows() {
        if k % 7 == 3 {
            y.row_mut(k).fill(f64::NAN);
        } else if k % 5 == 1 {
            let p = y.ncols();
            y[(k, k % p)] = f64::NAN;
        }
    }
    y
}

fn row(x: MatRef<'_, f64>, k: usize) -> Vec<f64> {
    (0..x.ncols()).map(|j| x[(k, j)]).collect()
}

fn bits(x: &[f64]) -> Vec<u64> {
    x.iter().map(|v| v.to_bits()).collect()
}

fn mat_bits(x: MatRef<'_, f64>) -> Vec<u64> {
    (0..x.ncols())
        .flat_map(|j| (0..x.nrows()).map(move |i| x[(i, j)].to_bits()))
        .collect()
}

/// Feeds `y` (with inputs `u`) step by step and checks every step against
/// the batch output, within `tol` relative (0: bit for bit).
fn check_against_batch(
    model: &LinearGaussianSsm,
    y: MatRef<'_, f64>,
    u: Option<MatRef<'_, f64>>,
    batch: &FilterOutput,
    tol: f64,
) -> StreamingFilter {
    let mut filter = StreamingFilter::new(model);
    let close = |a: f64, b: f64| {
        if tol == 0.0 {
            a.to_bits() == b.to_bits()
        } else {
            (a - b).abs() <= tol * (1.0 + b.abs())
        }
    };
    for k in 0..y.nrows() {
        let inputs = u.map(|u| row(u, k));
        let mean = filter.update(&row(y, k), inputs.as_deref()).unwrap().to_vec();
        let want = row(batch.filtered_means(), k);
        assert!(
            mean.iter().zip(&want).all(|(&a, &b)| close(a, b)),
            "step {k}: {mean:?} vs {want:?}"
        );
        let cov = filter.covariance();
        let want = batch.filtered_cov(k).unwrap();
        for j in 0..cov.ncols() {
            for i in 0..cov.nrows() {
                assert!(
                    close(cov[(i, j)], want[(i, j)]),
                    "step {k}, covariance ({i}, {j})"
                );
            }
        }
        assert_eq!(filter.step(), k + 1);
    }
    assert!(close(filter.log_likelihood(), batch.log_likelihood()));
    filter
}

#[test]
fn stepwise_equals_batch_bit_for_bit_with_missing_entries() {
    let mut rng = StdRng::seed_from_u64(3);
    // A general H and R (the panel update) and the robot arm's H = I with
    // diagonal R (the coordinatewise update), n = 21.
    let models = [random_model(4, 3, 11), scenario::true_model(true, &mut rng)];
    for model in models {
        let (_, y) = model.sample(120, &mut rng).unwrap();
        let y = with_gaps(y);
        let batch = model.filter(y.as_ref()).unwrap();
        let filter = check_against_batch(&model, y.as_ref(), None, &batch, 0.0);
        assert_eq!(filter.steady_state_steps(), 0);
    }
}

#[test]
fn steady_state_stepwise_equals_batch_bit_for_bit() {
    let mut rng = StdRng::seed_from_u64(4);
    let model = scenario::true_model(true, &mut rng).with_inference(InferenceOptions::steady_state());
    let (_, mut y) = model.sample(400, &mut rng).unwrap();
    // Missing values late in the sequence leave and re-enter the steady state.
    y[(300, 2)] = f64::NAN;
    y.row_mut(301).fill(f64::NAN);
    let batch = model.filter(y.as_ref()).unwrap();
    let filter = check_against_batch(&model, y.as_ref(), None, &batch, 0.0);
    assert!(
        filter.steady_state_steps() > 100,
        "{}",
        filter.steady_state_steps()
    );
    assert_eq!(filter.steady_state_steps(), batch.steady_state_steps());
}

#[test]
fn stepwise_equals_batch_with_inputs_and_offsets() {
    for options in [InferenceOptions::exact(), InferenceOptions::steady_state()] {
        let model = random_model_with_inputs(3, 2, 2, 21).with_inference(options);
        let mut rng = StdRng::seed_from_u64(22);
        let u = Mat::<f64>::from_fn(80, 2, |_, _| rng.random_range(-1.0..1.0));
        let (_, y) = model.sample_with_inputs(u.as_ref(), &mut rng).unwrap();
        let y = with_gaps(y);
        let batch = model.filter_with_inputs(y.as_ref(), u.as_ref()).unwrap();
        check_against_batch(&model, y.as_ref(), Some(u.as_ref()), &batch, 1e-12);
    }
}

#[test]
fn saved_state_resumes_bit_for_bit_through_json() {
    let model = random_model_with_inputs(3, 2, 0, 31);
    let mut rng = StdRng::seed_from_u64(32);
    let (_, y) = model.sample(60, &mut rng).unwrap();
    let y = with_gaps(y);
    let mut whole = StreamingFilter::new(&model);
    let mut first = StreamingFilter::new(&model);
    for k in 0..25 {
        whole.update(&row(y.as_ref(), k), None).unwrap();
        first.update(&row(y.as_ref(), k), None).unwrap();
    }
    let json = serde_json::to_string(&first.state()).unwrap();
    drop(first);
    let state: FilterState = serde_json::from_str(&json).unwrap();
    assert_eq!(state.step, 25);
    let mut resumed = StreamingFilter::resume(&model, &state).unwrap();
    assert_eq!(resumed.state(), whole.state());
    for k in 25..60 {
        let a = whole.update(&row(y.as_ref(), k), None).unwrap().to_vec();
        let b = resumed.update(&row(y.as_ref(), k), None).unwrap().to_vec();
        assert_eq!(bits(&a), bits(&b), "step {k}");
        assert_eq!(
            mat_bits(whole.covariance().as_ref()),
            mat_bits(resumed.covariance().as_ref())
        );
    }
    assert_eq!(
        whole.log_likelihood().to_bits(),
        resumed.log_likelihood().to_bits()
    );
    // The batch filter agrees with both.
    let batch = model.filter(y.as_ref()).unwrap();
    assert_eq!(
        resumed.log_likelihood().to_bits(),
        batch.log_likelihood().to_bits()
    );
}

#[test]
fn before_the_first_step_the_state_is_the_prior() {
    let model = random_model(3, 2, 41);
    let filter = StreamingFilter::new(&model);
    assert_eq!(filter.step(), 0);
    assert_eq!(filter.mean(), model.m0());
    assert_eq!(filter.covariance(), model.p0().to_owned());
    assert_eq!(filter.log_likelihood(), 0.0);
}

/// An observation, its inputs, and the error they are.
type BadUpdate = (&'static [f64], Option<&'static [f64]>, StateSpaceError);

#[test]
fn bad_input_names_the_step_and_changes_nothing() {
    let model = random_model_with_inputs(2, 2, 1, 51);
    let mut filter = StreamingFilter::new(&model);
    filter.update(&[0.1, 0.2], Some(&[1.0])).unwrap();
    filter.update(&[f64::NAN, 0.3], Some(&[0.5])).unwrap();
    let before = filter.state();
    let cases: [BadUpdate; 5] = [
        (
            &[0.1],
            Some(&[1.0]),
            StateSpaceError::ObservationLength {
                step: 2,
                expected: 2,
                found: 1,
            },
        ),
        (
            &[0.1, f64::INFINITY],
            Some(&[1.0]),
            StateSpaceError::InfiniteObservation {
                sequence: 0,
                step: 2,
                coordinate: 1,
                value: f64::INFINITY,
            },
        ),
        (
            &[0.1, 0.2],
            None,
            StateSpaceError::InputLength {
                step: 2,
                expected: 1,
                found: 0,
            },
        ),
        (
            &[0.1, 0.2],
            Some(&[1.0, 2.0]),
            StateSpaceError::InputLength {
                step: 2,
                expected: 1,
                found: 2,
            },
        ),
        (
            &[0.1, 0.2],
            Some(&[f64::NEG_INFINITY]),
            StateSpaceError::NonFiniteInput {
                sequence: 0,
                step: 2,
                input: 0,
                value: f64::NEG_INFINITY,
            },
        ),
    ];
    for (y, u, expected) in cases {
        assert_eq!(filter.update(y, u).unwrap_err(), expected);
        assert!(expected.to_string().contains("step 3"), "{expected}");
        assert_eq!(filter.state(), before);
    }
    // A numerical failure (an innovation whose square overflows) is undone
    // too, after the step changed the moments.
    let e = filter.update(&[1e300, 1e300], Some(&[0.0])).unwrap_err();
    assert!(
        matches!(
            e,
            StateSpaceError::LogLikelihoodOverflow { step: 2, .. }
                | StateSpaceError::Diverged { step: 2, .. }
        ),
        "{e:?}"
    );
    assert_eq!(filter.state(), before);
    // And the filter goes on as if the bad calls had not been made.
    let mut clean = StreamingFilter::resume(&model, &before).unwrap();
    let a = filter.update(&[0.4, 0.1], Some(&[0.2])).unwrap().to_vec();
    let b = clean.update(&[0.4, 0.1], Some(&[0.2])).unwrap().to_vec();
    assert_eq!(bits(&a), bits(&b));
}

#[test]
fn a_state_that_does_not_fit_is_refused() {
    let model = random_model(2, 1, 61);
    let good = StreamingFilter::new(&model).state();
    let field = |state: &FilterState| match StreamingFilter::resume(&model, state) {
        Err(StateSpaceError::FilterState { field, .. }) => field,
        other => panic!("{:?}", other.map(|f| f.state())),
    };
    let mut s = good.clone();
    s.mean.push(0.0);
    assert_eq!(field(&s), "mean");
    let mut s = good.clone();
    s.covariance[1].pop();
    assert_eq!(field(&s), "covariance");
    let mut s = good.clone();
    s.covariance[0][1] += 1.0;
    assert_eq!(field(&s), "covariance");
    let mut s = good.clone();
    s.mean[0] = f64::NAN;
    assert_eq!(field(&s), "mean");
    let mut s = good.clone();
    s.log_likelihood = f64::NEG_INFINITY;
    assert_eq!(field(&s), "log_likelihood");
    let mut s = good.clone();
    s.step = usize::MAX;
    assert_eq!(field(&s), "step");
    // Before the first step, only the model's prior.
    let mut s = good.clone();
    s.mean[0] += 1.0;
    assert_eq!(field(&s), "mean");
    s.step = 1;
    assert!(StreamingFilter::resume(&model, &s).is_ok());
}

/// The fixed-lag smoother's estimate of step k − L after observation k is
/// the full smoother's on the observations up to k (missing entries,
/// inputs and offsets, lags 0 to 4).
#[test]
fn fixed_lag_smoothing_equals_the_smoother_of_the_prefix() {
    let model = random_model_with_inputs(3, 2, 1, 71);
    let mut rng = StdRng::seed_from_u64(72);
    let u = Mat::<f64>::from_fn(30, 1, |_, _| rng.random_range(-1.0..1.0));
    let (_, y) = model.sample_with_inputs(u.as_ref(), &mut rng).unwrap();
    let y = with_gaps(y);
    for lag in 0..5 {
        let mut smoother = FixedLagSmoother::new(&model, lag);
        assert_eq!(smoother.lag(), lag);
        for k in 0..y.nrows() {
            let got = smoother
                .update(&row(y.as_ref(), k), Some(&row(u.as_ref(), k)))
                .unwrap();
            assert_eq!(smoother.filter().step(), k + 1);
            let Some(got) = got else {
                assert!(k < lag, "lag {lag}, step {k}");
                continue;
            };
            assert_eq!(got.step, k - lag);
            let full = model
                .smooth_with_inputs(y.subrows(0, k + 1), u.subrows(0, k + 1))
                .unwrap();
            let want = row(full.smoothed_means(), k - lag);
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-10 * (1.0 + b.abs());
            assert!(
                got.mean.iter().zip(&want).all(|(&a, &b)| close(a, b)),
                "lag {lag}, step {k}"
            );
            let want = full.smoothed_cov(k - lag).unwrap();
            for j in 0..3 {
                for i in 0..3 {
                    assert!(close(got.covariance[(i, j)], want[(i, j)]), "lag {lag}, step {k}");
                }
            }
        }
    }
}

/// A fixed-lag smoother saved through JSON and resumed, at any step of a
/// stream with inputs and missing entries and for lags 0 to 3, goes on as
/// the uninterrupted one, bit for bit; states that do not fit are refused.
#[test]
fn fixed_lag_state_resumes_bit_for_bit_through_json() {
    let model = random_model_with_inputs(3, 2, 1, 91);
    let mut rng = StdRng::seed_from_u64(92);
    let u = Mat::<f64>::from_fn(20, 1, |_, _| rng.random_range(-1.0..1.0));
    let (_, y) = model.sample_with_inputs(u.as_ref(), &mut rng).unwrap();
    let y = with_gaps(y);
    let step = |s: &mut FixedLagSmoother, k: usize| {
        s.update(&row(y.as_ref(), k), Some(&row(u.as_ref(), k)))
            .unwrap()
            .map(|m| (m.step, bits(&m.mean), mat_bits(m.covariance.as_ref())))
    };
    for lag in 0..4 {
        let mut whole = FixedLagSmoother::new(&model, lag);
        let want: Vec<_> = (0..20).map(|k| step(&mut whole, k)).collect();
        for stop in [1, 2, 5, 13] {
            let mut first = FixedLagSmoother::new(&model, lag);
            for k in 0..stop {
                step(&mut first, k);
            }
            let json = serde_json::to_string(&first.state()).unwrap();
            let state: LaggedState = serde_json::from_str(&json).unwrap();
            assert_eq!(state.window.len(), stop.min(lag + 1));
            let mut resumed = FixedLagSmoother::resume(&model, &state).unwrap();
            for k in stop..20 {
                assert_eq!(
                    step(&mut resumed, k),
                    want[k],
                    "lag {lag}, stopped at {stop}, step {k}"
                );
            }
        }
    }
    let mut smoother = FixedLagSmoother::new(&model, 2);
    for k in 0..4 {
        step(&mut smoother, k);
    }
    let state = smoother.state();
    let refused = |state: &LaggedState| match FixedLagSmoother::resume(&model, state) {
        Err(StateSpaceError::FilterState { field, .. }) => field,
        Err(other) => panic!("{other:?}"),
        Ok(_) => panic!("resumed from a state that does not fit"),
    };
    let mut long = state.clone();
    long.lag = 1;
    assert_eq!(refused(&long), "window");
    let mut moved = state.clone();
    moved.window[2].mean[0] += 1.0;
    assert_eq!(refused(&moved), "window");
    let mut short = state.clone();
    short.window[0].covariance[1].pop();
    assert_eq!(refused(&short), "window.covariance");
    let mut undriven = state;
    undriven.window[1].drift = None;
    assert_eq!(refused(&undriven), "window.drift");
}

#[test]
fn fixed_lag_smoother_refuses_bad_input_like_the_filter() {
    let model = random_model(2, 2, 81);
    let mut smoother = FixedLagSmoother::new(&model, 1);
    smoother.update(&[0.1, 0.2], None).unwrap();
    let e = smoother.update(&[0.1], None).unwrap_err();
    assert_eq!(
        e,
        StateSpaceError::ObservationLength {
            step: 1,
            expected: 2,
            found: 1
        }
    );
    assert_eq!(smoother.filter().step(), 1);
    let first = smoother.update(&[0.3, f64::NAN], None).unwrap().unwrap();
    assert_eq!(first.step, 0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Any small model (general H and R, or H = I with diagonal R), any
    /// pattern of missing entries, exact or steady-state recursions: step by
    /// step equals the batch filter bit for bit.
    #[test]
    fn stepwise_equals_batch_for_any_model_and_gaps(
        n in 1usize..5,
        p in 1usize..5,
        seed in any::<u64>(),
        missing in 0.0f64..0.6,
        steady in any::<bool>(),
        identity in any::<bool>(),
    ) {
        let p = if identity { n } else { p };
        let mut model = random_model(n, p, seed);
        if identity {
            let mut parameters = model.parameters();
            parameters.h = Mat::identity(n, n);
            parameters.r = Mat::from_fn(n, n, |i, j| if i == j { 0.5 + i as f64 } else { 0.0 });
            model = LinearGaussianSsm::from_parameters(parameters).unwrap();
        }
        if steady {
            model = model.with_inference(InferenceOptions::steady_state());
        }
        let mut rng = StdRng::seed_from_u64(seed ^ 1);
        let (_, mut y) = model.sample(60, &mut rng).unwrap();
        for k in 0..y.nrows() {
            for j in 0..p {
                if rng.random::<f64>() < missing {
                    y[(k, j)] = f64::NAN;
                }
            }
        }
        let batch = model.filter(y.as_ref()).unwrap();
        check_against_batch(&model, y.as_ref(), None, &batch, 0.0);
    }
}
