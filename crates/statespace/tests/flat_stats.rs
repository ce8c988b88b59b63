//! The flat form of the state-space statistics (bit-exact round trip with
//! inputs, missing values and time-varying blocks; typed errors for bad
//! input) and fits on parts of the series ([`em_core::Parts`]): a part is a
//! set of whole series.

mod common;

use common::{random_model, random_model_with_inputs};
use em_core::flat::{FlatError, FlatStats};
use em_core::testing::{
    assert_flat_rejections, assert_flat_round_trip, assert_parts_fit, fixed_iterations, split, with_entry,
};
use em_core::{NoopObserver, Parts, fit_with};
use faer::{Mat, MatRef};
use rand::SeedableRng;
use rand::rngs::StdRng;
use statespace::em::{SufficientStats, WithInputs};
use statespace::{
    EmModel, FitError, LinearGaussianSsm, MStepOptions, Sequence, Settings, Start, StateSpaceError,
    TimeVarying,
};

const LENGTHS: [usize; 6] = [30, 1, 12, 45, 2, 20];

/// Series of `LENGTHS` from `model` with inputs `u` (a few values missing).
fn series(model: &LinearGaussianSsm, m: usize) -> Vec<(Mat<f64>, Mat<f64>)> {
    let mut rng = StdRng::seed_from_u64(3);
    LENGTHS
        .iter()
        .enumerate()
        .map(|(s, &t)| {
            let u = Mat::from_fn(t, m, |k, i| ((k + 3 * s) as f64 * 0.3 + i as f64).sin());
            let (_, mut y) = if m == 0 {
                model.sample(t, &mut rng).unwrap()
            } else {
                model.sample_with_inputs(u.as_ref(), &mut rng).unwrap()
            };
            if t > 5 {
                y[(4, 0)] = f64::NAN;
            }
            (y, u)
        })
        .collect()
}

fn sequences(data: &[(Mat<f64>, Mat<f64>)]) -> Vec<Sequence<'_>> {
    data.iter()
        .map(|(y, u)| Sequence::with_inputs(y.as_ref(), u.as_ref()))
        .collect()
}

#[test]
fn statistics_round_trip_bit_for_bit_with_inputs_and_time_varying_blocks() {
    for (n, p, m) in [(1, 1, 0), (2, 3, 0), (3, 2, 2)] {
        let model = WithInputs(random_model_with_inputs(n, p, m, 7));
        let data = series(&model.0, m);
        let stats = model.e_step(&sequences(&data)).unwrap().stats;
        assert_flat_round_trip(&stats);
        let u = m + 1;
        let len = 2 + 7 + 6 + n + 5 * n * n + p * n + p * p + 3 * n * u + p * u + 2 * u * u;
        assert_eq!(stats.to_flat().len(), len);
    }
    // A sequence with time-varying R: its flag travels too.
    let model = random_model(1, 1, 4);
    let y = Mat::from_fn(5, 1, |k, _| k as f64 * 0.1);
    let r: Vec<Mat<f64>> = (0..5).map(|k| faer::mat![[0.2 + 0.1 * k as f64]]).collect();
    let r: Vec<MatRef<'_, f64>> = r.iter().map(Mat::as_ref).collect();
    let tv = TimeVarying {
        r: Some(&r),
        ..TimeVarying::default()
    };
    let data = [Sequence::new(y.as_ref()).with_time_varying(tv)];
    let stats = WithInputs(model).e_step(&data).unwrap().stats;
    assert!(!stats.time_varying().is_empty());
    assert_flat_round_trip(&stats);
    // Sequences with A_k and H_k: the residual sums of each regression
    // travel too (seven matrices each), after the usual ones.
    let (n, p, m) = (2, 3, 1);
    let model = WithInputs(random_model_with_inputs(n, p, m, 8));
    let data = series(&model.0, m);
    let a: Vec<Vec<Mat<f64>>> = data
        .iter()
        .map(|(y, _)| {
            (1..y.nrows())
                .map(|k| Mat::from_fn(n, n, |i, j| 0.1 * (i + j + k) as f64))
                .collect()
        })
        .collect();
    let h: Vec<Vec<Mat<f64>>> = data
        .iter()
        .map(|(y, _)| {
            (0..y.nrows())
                .map(|k| Mat::from_fn(p, n, |i, j| 0.2 * (i * j + k) as f64))
                .collect()
        })
        .collect();
    let a: Vec<Vec<MatRef<'_, f64>>> = a.iter().map(|a| a.iter().map(Mat::as_ref).collect()).collect();
    let h: Vec<Vec<MatRef<'_, f64>>> = h.iter().map(|h| h.iter().map(Mat::as_ref).collect()).collect();
    let mut with_both = sequences(&data);
    for (s, sequence) in with_both.iter_mut().enumerate() {
        let tv = TimeVarying {
            a: (s % 2 == 0).then_some(&a[s][..]),
            h: (s % 3 == 0).then_some(&h[s][..]),
            ..TimeVarying::default()
        };
        *sequence = sequence.with_time_varying(tv);
    }
    let stats = model.e_step(&with_both).unwrap().stats;
    assert_flat_round_trip(&stats);
    let u = m + 1;
    let plain = 2 + 7 + 6 + n + 5 * n * n + p * n + p * p + 3 * n * u + p * u + 2 * u * u;
    let transition = 4 * n * n + 3 * n * u;
    let observation = 2 * p * p + 2 * p * u + p * n + n * n + n * u;
    assert_eq!(stats.to_flat().len(), plain + transition + observation);
    let flat = stats.to_flat();
    let cut = SufficientStats::from_flat(&flat[..flat.len() - 1]).unwrap_err();
    assert!(
        matches!(
            cut,
            FlatError::Truncated {
                what: "sum of E[x_k] u_k' over sequences with H_k",
                ..
            }
        ),
        "{cut:?}"
    );
}

#[test]
fn bad_flat_statistics_get_their_typed_errors() {
    let model = WithInputs(random_model_with_inputs(2, 2, 1, 9));
    let data = series(&model.0, 1);
    let good = model.e_step(&sequences(&data)).unwrap().stats.to_flat();
    assert_flat_rejections::<SufficientStats>(&good);
    let read = |f: &[f64]| SufficientStats::from_flat(f).unwrap_err();
    let field_of = |e: FlatError| match e {
        FlatError::Shape { field, .. } | FlatError::BadCount { field, .. } => field,
        other => panic!("{other:?}"),
    };
    // Header: tag, version, n, p, m, J, steps, observed steps, transitions;
    // then the six time-varying flags.
    assert_eq!(field_of(read(&with_entry(&good, 2, 0.0))), "state dimension");
    assert_eq!(
        field_of(read(&with_entry(&good, 3, 0.0))),
        "observation dimension"
    );
    assert_eq!(field_of(read(&with_entry(&good, 4, -1.0))), "input dimension");
    assert_eq!(field_of(read(&with_entry(&good, 5, 0.25))), "sequences");
    assert_eq!(field_of(read(&with_entry(&good, 9, 2.0))), "time-varying flag");
    let last = read(&good[..good.len() - 1]);
    assert!(matches!(
        last,
        FlatError::Truncated {
            what: "sum of u_k u_k' over observed steps",
            ..
        }
    ));
    // A header of 2⁵³ states: refused by length, nothing allocated.
    let huge = read(&with_entry(&good, 2, 9_007_199_254_740_992.0));
    assert!(matches!(
        huge,
        FlatError::Truncated {
            what: "sum of E[x_0]",
            ..
        }
    ));
    // Statistics with inputs do not merge into statistics without.
    let mut without = SufficientStats::zeros(2, 2);
    let err = without
        .checked_merge(&SufficientStats::from_flat(&good).unwrap())
        .unwrap_err();
    assert_eq!(
        err,
        FlatError::ShapeMismatch {
            expected: vec![2, 2, 0],
            found: vec![2, 2, 1]
        }
    );
}

const GROUPS: [&[usize]; 4] = [&[6], &[1, 5], &[2, 1, 3], &[1, 1, 1, 1, 1, 1]];

#[test]
fn parts_give_the_one_piece_fit_with_and_without_inputs() {
    let options = MStepOptions::default();
    let settings = fixed_iterations(8);
    // Without inputs: the plain model on observation matrices.
    let data = series(&random_model(2, 2, 11), 0);
    let ys: Vec<MatRef<'_, f64>> = data.iter().map(|(y, _)| y.as_ref()).collect();
    let splits: Vec<_> = GROUPS.iter().map(|g| split(&ys, g)).collect();
    assert_parts_fit(&ys[..], &splits, &random_model(2, 2, 12), &options, &settings);
    // With inputs and offsets.
    let data = series(&random_model_with_inputs(2, 2, 1, 13), 1);
    let all = sequences(&data);
    let splits: Vec<_> = GROUPS.iter().map(|g| split(&all, g)).collect();
    let start = WithInputs(random_model_with_inputs(2, 2, 1, 14));
    assert_parts_fit(&all[..], &splits, &start, &options, &settings);
    // With SQUAREM (the default settings).
    let settings = Settings::builder().max_iterations(6).build().unwrap();
    assert_parts_fit(&all[..], &splits, &start, &options, &settings);
}

#[test]
fn a_non_finite_input_in_one_part_is_reported_with_the_part_and_its_series() {
    let truth = WithInputs(random_model_with_inputs(2, 2, 1, 16));
    let mut data = series(&truth.0, 1);
    // Series 3 is series 0 of part 1 (series 3..5).
    data[3].1[(7, 0)] = f64::NAN;
    let all = sequences(&data);
    let executor = Parts::<WithInputs>::new(split(&all, &[3, 2, 1])).unwrap();
    let err = fit_with(
        &executor,
        Start::Warm(truth.clone()),
        &MStepOptions::default(),
        &fixed_iterations(8),
        &mut NoopObserver,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            FitError::Part {
                part: 1,
                iteration: 0,
                source: StateSpaceError::NonFiniteInput {
                    sequence: 0,
                    step: 7,
                    input: 0,
                    ..
                },
                ..
            }
        ),
        "{err:?}"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 16, ..Default::default() })]

    /// Statistics of any dimensions round-trip bit for bit.
    #[test]
    fn statistics_of_any_shape_round_trip(n in 1usize..4, p in 1usize..4, m in 0usize..3, seed in 0u64..1000) {
        let model = WithInputs(random_model_with_inputs(n, p, m, seed));
        let data = series(&model.0, m);
        let stats = model.e_step(&sequences(&data)).unwrap().stats;
        assert_flat_round_trip(&stats);
    }
}
