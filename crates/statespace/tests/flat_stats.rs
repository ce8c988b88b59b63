//! The flat form of the state-space statistics (bit-exact round trip with
//! inputs, missing values and time-varying blocks; typed errors for bad
//! input) and fits on parts of the series ([`em_core::Parts`]): a part is a
//! set of whole series.

mod common;

use common::{random_model, random_model_with_inputs};
use em_core::flat::{FlatError, FlatStats};
use em_core::{NoopObserver, Parts, fit_with};
use faer::{Mat, MatRef};
use rand::SeedableRng;
use rand::rngs::StdRng;
use statespace::em::{SufficientStats, WithInputs};
use statespace::{
    Acceleration, EmModel, FitError, LinearGaussianSsm, MStepOptions, Sequence, Settings, Start,
    StateSpaceError, TimeVarying, Tolerance, fit,
};

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

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

fn assert_round_trip(s: &SufficientStats) {
    let flat = s.to_flat();
    let back = SufficientStats::from_flat(&flat).unwrap();
    assert_eq!(&back, s);
    assert_eq!(bits(&back.to_flat()), bits(&flat));
}

#[test]
fn statistics_round_trip_bit_for_bit_with_inputs_and_time_varying_blocks() {
    for (n, p, m) in [(1, 1, 0), (2, 3, 0), (3, 2, 2)] {
        let model = WithInputs(random_model_with_inputs(n, p, m, 7));
        let data = series(&model.0, m);
        let stats = model.e_step(&sequences(&data)).unwrap().stats;
        assert_round_trip(&stats);
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
    assert_round_trip(&stats);
}

fn with(flat: &[f64], i: usize, v: f64) -> Vec<f64> {
    let mut f = flat.to_vec();
    f[i] = v;
    f
}

#[test]
fn bad_flat_statistics_get_their_typed_errors() {
    let model = WithInputs(random_model_with_inputs(2, 2, 1, 9));
    let data = series(&model.0, 1);
    let good = model.e_step(&sequences(&data)).unwrap().stats.to_flat();
    let read = |f: &[f64]| SufficientStats::from_flat(f).unwrap_err();
    assert!(matches!(read(&with(&good, 0, 0.0)), FlatError::Kind { .. }));
    assert!(matches!(
        read(&with(&good, 1, 0.0)),
        FlatError::Version { found: 0.0, .. }
    ));
    assert!(matches!(
        read(&with(&good, 2, 0.0)),
        FlatError::Shape {
            field: "state dimension",
            ..
        }
    ));
    assert!(matches!(
        read(&with(&good, 3, 0.0)),
        FlatError::Shape {
            field: "observation dimension",
            ..
        }
    ));
    assert!(matches!(
        read(&with(&good, 4, -1.0)),
        FlatError::BadCount {
            field: "input dimension",
            ..
        }
    ));
    assert!(matches!(
        read(&with(&good, 5, 0.25)),
        FlatError::BadCount {
            field: "sequences",
            ..
        }
    ));
    assert!(matches!(
        read(&with(&good, 9, 2.0)),
        FlatError::Shape {
            field: "time-varying flag",
            ..
        }
    ));
    assert!(matches!(
        read(&with(&good, 20, f64::INFINITY)),
        FlatError::NonFinite { index: 20, .. }
    ));
    assert!(matches!(
        read(&good[..good.len() - 1]),
        FlatError::Truncated {
            what: "sum of u_k u_k' over observed steps",
            ..
        }
    ));
    let mut long = good.clone();
    long.push(0.0);
    assert_eq!(
        read(&long),
        FlatError::Length {
            expected: good.len(),
            found: good.len() + 1
        }
    );
    // A header of 2⁵³ states: refused by length, nothing allocated.
    assert!(matches!(
        read(&with(&good, 2, 9_007_199_254_740_992.0)),
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

/// Eight plain EM iterations, no early stop (both fits do the same steps).
fn settings() -> Settings {
    Settings::builder()
        .acceleration(Acceleration::None)
        .max_iterations(8)
        .tolerance(Tolerance::absolute(0.0))
        .build()
        .unwrap()
}

fn parameters_and_history<M: EmModel<Options = MStepOptions>>(f: &em_core::Fit<M>) -> Vec<f64> {
    let mut v = f.model.flat_parameters(&MStepOptions::default()).unwrap();
    v.extend(&f.report.history);
    v
}

fn assert_close(a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert!(
            (x - y).abs() <= 1e-12 * x.abs().max(y.abs()).max(1e-300),
            "{x} vs {y}"
        );
    }
}

/// Consecutive parts of `groups` whole series each.
fn parts<'s, 'a>(all: &'s [Sequence<'a>], groups: &[usize]) -> Vec<&'s [Sequence<'a>]> {
    let mut rest = all;
    groups
        .iter()
        .map(|&g| {
            let (a, b) = rest.split_at(g);
            rest = b;
            a
        })
        .collect()
}

const GROUPS: [&[usize]; 4] = [&[6], &[1, 5], &[2, 1, 3], &[1, 1, 1, 1, 1, 1]];

#[test]
fn parts_give_the_one_piece_fit_with_and_without_inputs() {
    // Without inputs: the plain model on observation matrices.
    let truth = random_model(2, 2, 11);
    let data = series(&truth, 0);
    let ys: Vec<MatRef<'_, f64>> = data.iter().map(|(y, _)| y.as_ref()).collect();
    let start = random_model(2, 2, 12);
    let s = settings();
    let whole = fit(&ys[..], Start::Warm(start.clone()), &MStepOptions::default(), &s).unwrap();
    assert_eq!(whole.report.history.len(), 9);
    for groups in GROUPS {
        let mut rest = &ys[..];
        let split: Vec<&[MatRef<'_, f64>]> = groups
            .iter()
            .map(|&g| {
                let (a, b) = rest.split_at(g);
                rest = b;
                a
            })
            .collect();
        let run = |executor: Parts<'_, LinearGaussianSsm>| {
            let f = fit_with(
                &executor,
                Start::Warm(start.clone()),
                &MStepOptions::default(),
                &s,
                &mut NoopObserver,
            );
            parameters_and_history(&f.unwrap())
        };
        let plain = run(Parts::new(split.clone()).unwrap());
        assert_close(&plain, &parameters_and_history(&whole));
        assert_eq!(
            bits(&plain),
            bits(&run(Parts::new(split).unwrap().with_flat_round_trip())),
            "{groups:?}"
        );
    }
    // With inputs and offsets.
    let truth = WithInputs(random_model_with_inputs(2, 2, 1, 13));
    let data = series(&truth.0, 1);
    let all = sequences(&data);
    let start = WithInputs(random_model_with_inputs(2, 2, 1, 14));
    let whole = fit(&all[..], Start::Warm(start.clone()), &MStepOptions::default(), &s).unwrap();
    for groups in GROUPS {
        let run = |round_trip: bool| {
            let mut executor = Parts::<WithInputs>::new(parts(&all, groups)).unwrap();
            if round_trip {
                executor = executor.with_flat_round_trip();
            }
            let f = fit_with(
                &executor,
                Start::Warm(start.clone()),
                &MStepOptions::default(),
                &s,
                &mut NoopObserver,
            );
            parameters_and_history(&f.unwrap())
        };
        let plain = run(false);
        assert_close(&plain, &parameters_and_history(&whole));
        assert_eq!(bits(&plain), bits(&run(true)), "{groups:?}");
    }
}

#[test]
fn the_same_split_gives_the_same_bits_on_any_number_of_threads() {
    let truth = WithInputs(random_model_with_inputs(2, 2, 1, 15));
    let data = series(&truth.0, 1);
    let all = sequences(&data);
    let on = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let executor = Parts::<WithInputs>::new(parts(&all, &[2, 1, 3]))
                .unwrap()
                .with_flat_round_trip();
            let s = Settings::builder().max_iterations(6).build().unwrap();
            let f = fit_with(
                &executor,
                Start::Warm(truth.clone()),
                &MStepOptions::default(),
                &s,
                &mut NoopObserver,
            );
            bits(&parameters_and_history(&f.unwrap()))
        })
    };
    assert_eq!(on(1), on(2));
    assert_eq!(on(2), on(3));
}

#[test]
fn a_non_finite_input_in_one_part_is_reported_with_the_part_and_its_series() {
    let truth = WithInputs(random_model_with_inputs(2, 2, 1, 16));
    let mut data = series(&truth.0, 1);
    // Series 3 is series 0 of part 1 (series 3..5).
    data[3].1[(7, 0)] = f64::NAN;
    let all = sequences(&data);
    let executor = Parts::<WithInputs>::new(parts(&all, &[3, 2, 1])).unwrap();
    let err = fit_with(
        &executor,
        Start::Warm(truth.clone()),
        &MStepOptions::default(),
        &settings(),
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
        let back = SufficientStats::from_flat(&stats.to_flat()).unwrap();
        proptest::prop_assert_eq!(bits(&back.to_flat()), bits(&stats.to_flat()));
        proptest::prop_assert_eq!(back, stats);
    }
}
