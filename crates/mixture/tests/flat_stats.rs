//! The flat form of the mixture's statistics (bit-exact round trip, typed
//! errors for bad input) and fits on parts of the data ([`em_core::Parts`]).

mod common;

use common::{test_model, wiggly_data};
use em_core::flat::{FlatError, FlatStats};
use em_core::{Local, NoopObserver, Parts, fit_with};
use faer::{Mat, MatRef};
use mixture::{
    Acceleration, CovarianceType, EmModel, FitError, GaussianMixture, MStepOptions, MixtureError, Settings,
    Start, SufficientStats, Tolerance, WeightedMixture, WeightedRows, fit,
};
use proptest::prelude::*;

const TYPES: [CovarianceType; 4] = [
    CovarianceType::Full,
    CovarianceType::Diagonal,
    CovarianceType::Spherical,
    CovarianceType::Tied,
];

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn weights(n: usize) -> Vec<f64> {
    (0..n).map(|i| 0.25 + (i % 7) as f64 * 0.5).collect()
}

/// E-step statistics with sample weights and K = 3 re-seeding candidates.
fn e_step_stats(t: CovarianceType) -> SufficientStats {
    let x = wiggly_data(40, 3);
    test_model(t, 3)
        .e_step_weighted(x.as_ref(), &weights(40))
        .unwrap()
        .stats
}

fn assert_round_trip(s: &SufficientStats) {
    let flat = s.to_flat();
    let back = SufficientStats::from_flat(&flat).unwrap();
    assert_eq!(&back, s);
    assert_eq!(bits(&back.to_flat()), bits(&flat));
}

#[test]
fn e_step_statistics_round_trip_bit_for_bit_for_every_covariance_type() {
    for t in TYPES {
        let s = e_step_stats(t);
        assert_eq!(s.candidates().len(), 3);
        assert_round_trip(&s);
        let (k, d) = (3, 3);
        let scatter = match t {
            CovarianceType::Full => k * d * d,
            CovarianceType::Diagonal | CovarianceType::Spherical => k * d,
            CovarianceType::Tied => d * d,
        };
        assert_eq!(
            s.to_flat().len(),
            7 + 2 * k + k * d + scatter + 3 * (d + 1),
            "{t:?}"
        );
    }
}

proptest! {
    #[test]
    fn statistics_of_any_shape_round_trip(
        k in 1usize..5, d in 1usize..5, n in 0usize..20, t in 0usize..4,
        seed in proptest::collection::vec(-3.0f64..3.0, 200),
    ) {
        let x = Mat::from_fn(n, d, |i, j| seed[(i * d + j) % 200] * (1.0 + j as f64));
        let resp = Mat::from_fn(n, k, |i, c| (seed[(7 * i + c + 3) % 200]).abs());
        let s = SufficientStats::from_responsibilities(x.as_ref(), resp.as_ref(), TYPES[t]).unwrap();
        let flat = s.to_flat();
        let back = SufficientStats::from_flat(&flat).unwrap();
        prop_assert_eq!(&back, &s);
        prop_assert_eq!(bits(&back.to_flat()), bits(&flat));
    }
}

/// `flat` with entry `i` set to `v`.
fn with(flat: &[f64], i: usize, v: f64) -> Vec<f64> {
    let mut f = flat.to_vec();
    f[i] = v;
    f
}

#[test]
fn bad_flat_statistics_get_their_typed_errors() {
    let good = e_step_stats(CovarianceType::Full).to_flat();
    let read = |f: &[f64]| SufficientStats::from_flat(f).unwrap_err();
    assert!(matches!(
        read(&with(&good, 0, 1.0)),
        FlatError::Kind { found: 1.0, .. }
    ));
    assert!(matches!(
        read(&with(&good, 1, 9.0)),
        FlatError::Version {
            expected: 1,
            found: 9.0,
            ..
        }
    ));
    assert!(matches!(
        read(&with(&good, 2, 4.0)),
        FlatError::Shape {
            field: "covariance kind",
            ..
        }
    ));
    assert!(matches!(
        read(&with(&good, 3, 0.0)),
        FlatError::Shape {
            field: "components",
            ..
        }
    ));
    assert!(matches!(
        read(&with(&good, 4, 0.0)),
        FlatError::Shape {
            field: "features",
            ..
        }
    ));
    assert!(matches!(
        read(&with(&good, 5, -2.0)),
        FlatError::BadCount {
            field: "rows",
            index: 5,
            ..
        }
    ));
    assert!(matches!(
        read(&with(&good, 6, 0.5)),
        FlatError::BadCount {
            field: "candidates",
            ..
        }
    ));
    assert!(matches!(
        read(&with(&good, 6, 4.0)),
        FlatError::Shape {
            field: "candidates",
            ..
        }
    ));
    assert!(matches!(
        read(&with(&good, 9, f64::NAN)),
        FlatError::NonFinite { index: 9, .. }
    ));
    assert!(matches!(
        read(&with(&good, 20, f64::NEG_INFINITY)),
        FlatError::NonFinite { index: 20, .. }
    ));
    assert!(matches!(
        read(&good[..good.len() - 1]),
        FlatError::Truncated {
            what: "candidates",
            ..
        }
    ));
    let mut long = good.clone();
    long.push(1.0);
    assert_eq!(
        read(&long),
        FlatError::Length {
            expected: good.len(),
            found: good.len() + 1
        }
    );
    // Candidates out of order (the first one's log-likelihood raised above the others).
    let first_candidate = good.len() - 3 * 4;
    assert!(matches!(
        read(&with(&good, first_candidate, 1e9)),
        FlatError::Shape {
            field: "candidates",
            ..
        }
    ));
    // A header announcing 2⁵³ components of 2⁵³ features: refused by
    // length before anything is allocated.
    let huge = with(
        &with(&good, 3, 9_007_199_254_740_992.0),
        4,
        9_007_199_254_740_992.0,
    );
    assert!(matches!(read(&huge), FlatError::Truncated { what: "masses", .. }));
    // Another kind of statistics inside the right tag is read by its header:
    // a diagonal layout labelled full runs out of values.
    let diagonal = e_step_stats(CovarianceType::Diagonal).to_flat();
    assert!(matches!(
        read(&with(&diagonal, 2, 0.0)),
        FlatError::Truncated { .. }
    ));
}

#[test]
fn checked_merge_refuses_statistics_of_another_shape() {
    let mut a = e_step_stats(CovarianceType::Full);
    let before = a.clone();
    let err = a.checked_merge(&e_step_stats(CovarianceType::Tied)).unwrap_err();
    assert_eq!(
        err,
        FlatError::ShapeMismatch {
            expected: vec![0, 3, 3],
            found: vec![3, 3, 3]
        }
    );
    assert_eq!(a, before);
}

/// Ten plain EM iterations, no early stop (both fits do the same steps).
fn settings() -> Settings {
    Settings::builder()
        .acceleration(Acceleration::None)
        .max_iterations(10)
        .tolerance(Tolerance::absolute(0.0))
        .build()
        .unwrap()
}

/// The rows of `x` in consecutive parts of `sizes` rows.
fn split<'a>(x: MatRef<'a, f64>, sizes: &[usize]) -> Vec<(usize, MatRef<'a, f64>)> {
    assert_eq!(sizes.iter().sum::<usize>(), x.nrows());
    let mut start = 0;
    sizes
        .iter()
        .map(|&n| {
            start += n;
            (start - n, x.subrows(start - n, n))
        })
        .collect()
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

const SPLITS: [&[usize]; 4] = [&[301], &[1, 300], &[120, 1, 37, 143], &[150, 151]];

#[test]
fn parts_give_the_one_piece_fit_for_every_covariance_type() {
    let x = wiggly_data(301, 3);
    let s = settings();
    for t in TYPES {
        let whole = fit(
            x.as_ref(),
            Start::Warm(test_model(t, 3)),
            &MStepOptions::default(),
            &s,
        )
        .unwrap();
        assert_eq!(whole.report.history.len(), 11);
        for sizes in SPLITS {
            let parts = || split(x.as_ref(), sizes).into_iter().map(|(_, p)| p).collect();
            let run = |executor: Parts<'_, GaussianMixture>| {
                let start = Start::Warm(test_model(t, 3));
                fit_with(&executor, start, &MStepOptions::default(), &s, &mut NoopObserver).unwrap()
            };
            let plain = parameters_and_history(&run(Parts::new(parts()).unwrap()));
            assert_close(&plain, &parameters_and_history(&whole));
            let flat = parameters_and_history(&run(Parts::new(parts()).unwrap().with_flat_round_trip()));
            assert_eq!(bits(&plain), bits(&flat), "{t:?} {sizes:?}");
        }
    }
}

#[test]
fn weighted_parts_give_the_one_piece_weighted_fit() {
    let x = wiggly_data(301, 2);
    let w = weights(301);
    let s = settings();
    let start = || Start::Warm(WeightedMixture(test_model(CovarianceType::Full, 2)));
    let rows = WeightedRows::new(x.as_ref(), Some(&w)).unwrap();
    let whole = fit(rows, start(), &MStepOptions::default(), &s).unwrap();
    for sizes in SPLITS {
        let parts: Vec<WeightedRows<'_>> = split(x.as_ref(), sizes)
            .into_iter()
            .map(|(first, p)| WeightedRows::new(p, Some(&w[first..first + p.nrows()])).unwrap())
            .collect();
        let executor = Parts::<WeightedMixture>::new(parts)
            .unwrap()
            .with_flat_round_trip();
        let f = fit_with(
            &executor,
            start(),
            &MStepOptions::default(),
            &s,
            &mut NoopObserver,
        )
        .unwrap();
        assert_close(&parameters_and_history(&f), &parameters_and_history(&whole));
    }
}

#[test]
fn the_same_split_gives_the_same_bits_on_any_number_of_threads() {
    // Enough rows for several of the E-step's own chunks per part.
    let x = wiggly_data(40_000, 2);
    let sizes = [1, 25_000, 14_999];
    let on = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let parts = split(x.as_ref(), &sizes).into_iter().map(|(_, p)| p).collect();
            let executor = Parts::<GaussianMixture>::new(parts).unwrap();
            let start = Start::Warm(test_model(CovarianceType::Full, 2));
            let s = Settings::builder().max_iterations(4).build().unwrap();
            let f = fit_with(&executor, start, &MStepOptions::default(), &s, &mut NoopObserver).unwrap();
            bits(&parameters_and_history(&f))
        })
    };
    assert_eq!(on(1), on(2));
    assert_eq!(on(2), on(3));
}

#[test]
fn non_finite_data_in_one_part_is_reported_with_the_part_and_its_row() {
    let mut x = wiggly_data(100, 2);
    x[(64, 1)] = f64::NAN;
    let parts = split(x.as_ref(), &[30, 30, 40])
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    let executor = Parts::<GaussianMixture>::new(parts).unwrap();
    let start = Start::Warm(test_model(CovarianceType::Diagonal, 2));
    let err = fit_with(
        &executor,
        start,
        &MStepOptions::default(),
        &settings(),
        &mut NoopObserver,
    )
    .unwrap_err();
    // Row 4 of part 2 is global row 30 + 30 + 4.
    assert!(
        matches!(
            err,
            FitError::Part {
                part: 2,
                iteration: 0,
                source: MixtureError::NonFiniteData { row: 4, col: 1, .. },
                ..
            }
        ),
        "{err:?}"
    );
    // Parts need a warm start; the data in one piece initialise.
    let executor = Parts::<GaussianMixture>::new(vec![x.subrows(0, 60)]).unwrap();
    let init = Start::FromData(mixture::InitConfig::new(2, CovarianceType::Full));
    let err = fit_with(
        &executor,
        init.clone(),
        &MStepOptions::default(),
        &settings(),
        &mut NoopObserver,
    );
    assert!(
        matches!(err, Err(FitError::NoInitialisation { restart: 0 })),
        "{err:?}"
    );
    let local = fit_with(
        &Local::new(x.subrows(0, 60)),
        init,
        &MStepOptions::default(),
        &settings(),
        &mut NoopObserver,
    );
    assert!(local.is_ok(), "{local:?}");
}
