//! The flat form of the mixture's statistics (bit-exact round trip, typed
//! errors for bad input) and fits on parts of the data ([`em_core::Parts`]).

mod common;

use common::{test_model, wiggly_data};
use em_core::flat::{FlatError, FlatStats};
use em_core::testing::{
    assert_flat_rejections, assert_flat_round_trip, assert_parts_fit, fixed_iterations, with_entry,
};
use em_core::{Local, NoopObserver, Parts, fit_with};
use faer::{Mat, MatRef};
use mixture::{
    CovarianceType, FitError, GaussianMixture, MStepOptions, MixtureError, Settings, Start, SufficientStats,
    WeightedMixture, WeightedRows,
};
use proptest::prelude::*;

const TYPES: [CovarianceType; 4] = [
    CovarianceType::Full,
    CovarianceType::Diagonal,
    CovarianceType::Spherical,
    CovarianceType::Tied,
];

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

#[test]
fn e_step_statistics_round_trip_bit_for_bit_for_every_covariance_type() {
    for t in TYPES {
        let s = e_step_stats(t);
        assert_eq!(s.candidates().len(), 3);
        assert_flat_round_trip(&s);
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
        assert_flat_round_trip(&s);
    }
}

#[test]
fn bad_flat_statistics_get_their_typed_errors() {
    for t in TYPES {
        assert_flat_rejections::<SufficientStats>(&e_step_stats(t).to_flat());
    }
    let good = e_step_stats(CovarianceType::Full).to_flat();
    let read = |f: &[f64]| SufficientStats::from_flat(f).unwrap_err();
    let field_of = |e: FlatError| match e {
        FlatError::Shape { field, .. } | FlatError::BadCount { field, .. } => field,
        other => panic!("{other:?}"),
    };
    // Header: tag, version, covariance kind, K, d, rows, candidates.
    assert_eq!(field_of(read(&with_entry(&good, 2, 4.0))), "covariance kind");
    assert_eq!(field_of(read(&with_entry(&good, 3, 0.0))), "components");
    assert_eq!(field_of(read(&with_entry(&good, 4, 0.0))), "features");
    assert!(matches!(
        read(&with_entry(&good, 5, -2.0)),
        FlatError::BadCount {
            field: "rows",
            index: 5,
            ..
        }
    ));
    assert!(matches!(
        read(&with_entry(&good, 6, 0.5)),
        FlatError::BadCount {
            field: "candidates",
            ..
        }
    ));
    assert!(matches!(
        read(&with_entry(&good, 6, 4.0)),
        FlatError::Shape {
            field: "candidates",
            ..
        }
    ));
    assert!(matches!(
        read(&good[..good.len() - 1]),
        FlatError::Truncated {
            what: "candidates",
            ..
        }
    ));
    // Candidates out of order (the first one's log-likelihood raised above the others).
    let first_candidate = good.len() - 3 * 4;
    assert_eq!(
        field_of(read(&with_entry(&good, first_candidate, 1e9))),
        "candidates"
    );
    // A header announcing 2⁵³ components of 2⁵³ features: refused by
    // length before anything is allocated.
    let big = 9_007_199_254_740_992.0;
    let huge = with_entry(&with_entry(&good, 3, big), 4, big);
    assert!(matches!(read(&huge), FlatError::Truncated { what: "masses", .. }));
    // A diagonal layout labelled full runs out of values.
    let diagonal = e_step_stats(CovarianceType::Diagonal).to_flat();
    assert!(matches!(
        read(&with_entry(&diagonal, 2, 0.0)),
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

const SPLITS: [&[usize]; 4] = [&[301], &[1, 300], &[120, 1, 37, 143], &[150, 151]];

/// The rows of `x` in consecutive parts of `sizes` rows, with their first row.
fn split_rows<'a>(x: MatRef<'a, f64>, sizes: &[usize]) -> Vec<(usize, MatRef<'a, f64>)> {
    assert_eq!(sizes.iter().sum::<usize>(), x.nrows());
    let mut first = 0;
    sizes
        .iter()
        .map(|&n| {
            first += n;
            (first - n, x.subrows(first - n, n))
        })
        .collect()
}

fn row_parts<'a>(x: MatRef<'a, f64>, sizes: &[usize]) -> Vec<MatRef<'a, f64>> {
    split_rows(x, sizes).into_iter().map(|(_, p)| p).collect()
}

#[test]
fn parts_give_the_one_piece_fit_for_every_covariance_type() {
    let x = wiggly_data(301, 3);
    let splits: Vec<_> = SPLITS.iter().map(|sizes| row_parts(x.as_ref(), sizes)).collect();
    for t in TYPES {
        assert_parts_fit(
            x.as_ref(),
            &splits,
            &test_model(t, 3),
            &MStepOptions::default(),
            &fixed_iterations(10),
        );
    }
}

#[test]
fn weighted_parts_give_the_one_piece_weighted_fit() {
    let x = wiggly_data(301, 2);
    let w = weights(301);
    let splits: Vec<Vec<WeightedRows<'_>>> = SPLITS
        .iter()
        .map(|sizes| {
            split_rows(x.as_ref(), sizes)
                .into_iter()
                .map(|(first, p)| WeightedRows::new(p, Some(&w[first..first + p.nrows()])).unwrap())
                .collect()
        })
        .collect();
    let whole = WeightedRows::new(x.as_ref(), Some(&w)).unwrap();
    let start = WeightedMixture(test_model(CovarianceType::Full, 2));
    assert_parts_fit(
        whole,
        &splits,
        &start,
        &MStepOptions::default(),
        &fixed_iterations(10),
    );
}

#[test]
fn parts_of_many_chunks_give_the_one_piece_fit() {
    // Enough rows for several of the E-step's own chunks per part, and the
    // default settings (SQUAREM).
    let x = wiggly_data(40_000, 2);
    let splits = [row_parts(x.as_ref(), &[1, 25_000, 14_999])];
    let settings = Settings::builder().max_iterations(4).build().unwrap();
    let start = test_model(CovarianceType::Full, 2);
    assert_parts_fit(x.as_ref(), &splits, &start, &MStepOptions::default(), &settings);
}

#[test]
fn non_finite_data_in_one_part_is_reported_with_the_part_and_its_row() {
    let mut x = wiggly_data(100, 2);
    x[(64, 1)] = f64::NAN;
    let executor = Parts::<GaussianMixture>::new(row_parts(x.as_ref(), &[30, 30, 40])).unwrap();
    let start = Start::Warm(test_model(CovarianceType::Diagonal, 2));
    let settings = fixed_iterations(10);
    let err = fit_with(
        &executor,
        start,
        &MStepOptions::default(),
        &settings,
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
        &settings,
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
        &settings,
        &mut NoopObserver,
    );
    assert!(local.is_ok(), "{local:?}");
}
