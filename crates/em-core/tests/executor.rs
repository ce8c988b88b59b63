//! The loop on an executor: [`Parts`] gives the one-piece fit up to
//! rounding, the flat round trip changes no bit, the thread count changes
//! no bit, a failing part is named, and `FromData` needs an executor that
//! can initialise.

mod toy;

use em_core::flat::{FlatError, FlatReader, FlatStats};
use em_core::{
    EStep, EmModel, Fit, FitError, Local, NoopObserver, Parts, Settings, Start, Step, fit, fit_with,
};
use toy::{Toy, ToyError, ToyStats, data, settings, start};

/// 12 plain EM iterations, before EM reaches its fixed point to rounding
/// (then a stop would depend on the rounding): both fits do the same steps.
fn fixed_iterations() -> Settings {
    settings()
        .max_iterations(12)
        .tolerance(em_core::Tolerance::absolute(0.0))
        .build()
        .unwrap()
}

fn split<'a>(x: &'a [f64], sizes: &[usize]) -> Vec<&'a [f64]> {
    assert_eq!(sizes.iter().sum::<usize>(), x.len());
    let mut rest = x;
    sizes
        .iter()
        .map(|&n| {
            let (a, b) = rest.split_at(n);
            rest = b;
            a
        })
        .collect()
}

fn fit_parts(parts: Vec<&[f64]>, round_trip: bool, settings: &Settings) -> Fit<Toy> {
    let mut executor = Parts::<Toy>::new(parts).unwrap();
    if round_trip {
        executor = executor.with_flat_round_trip();
    }
    fit_with(&executor, Start::Warm(start()), &(), settings, &mut NoopObserver).unwrap()
}

fn bits(fit: &Fit<Toy>) -> Vec<u64> {
    let m = &fit.model;
    m.w.iter()
        .chain(&m.mu)
        .chain(&m.var)
        .chain(&fit.report.history)
        .map(|v| v.to_bits())
        .collect()
}

fn assert_close(a: &Fit<Toy>, b: &Fit<Toy>) {
    let (m, n) = (&a.model, &b.model);
    let pairs =
        m.w.iter()
            .chain(&m.mu)
            .chain(&m.var)
            .zip(n.w.iter().chain(&n.mu).chain(&n.var));
    let history = a.report.history.iter().zip(&b.report.history);
    assert_eq!(a.report.history.len(), 13);
    assert_eq!(b.report.history.len(), 13);
    for (x, y) in pairs.chain(history) {
        assert!((x - y).abs() <= 1e-12 * x.abs().max(1.0), "{x} vs {y}");
    }
}

#[test]
fn parts_give_the_one_piece_fit_and_the_flat_round_trip_changes_no_bit() {
    let x = data(7, 501);
    let settings = fixed_iterations();
    let whole = fit(&x[..], Start::Warm(start()), &(), &settings).unwrap();
    let local = fit_with(
        &Local::new(&x[..]),
        Start::Warm(start()),
        &(),
        &settings,
        &mut NoopObserver,
    )
    .unwrap();
    assert_eq!(bits(&whole), bits(&local));
    for sizes in [vec![501], vec![1, 500], vec![250, 1, 3, 247], vec![100, 401]] {
        let plain = fit_parts(split(&x, &sizes), false, &settings);
        assert_close(&plain, &whole);
        let round_trip = fit_parts(split(&x, &sizes), true, &settings);
        assert_eq!(bits(&plain), bits(&round_trip), "split {sizes:?}");
    }
    // One part is the model's own E-step: the same bits.
    assert_eq!(bits(&fit_parts(vec![&x[..]], false, &settings)), bits(&whole));
}

#[test]
fn the_same_split_gives_the_same_bits_on_any_number_of_threads() {
    let x = data(8, 300);
    let settings = fixed_iterations();
    let sizes = [40, 1, 200, 59];
    let on = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| bits(&fit_parts(split(&x, &sizes), true, &settings)))
    };
    assert_eq!(on(1), on(3));
}

#[test]
fn a_failing_part_is_named_and_no_model_is_returned() {
    let x = data(9, 50);
    let executor = Parts::<Toy>::new(vec![&x[..20], &x[20..], &[]]).unwrap();
    let err = fit_with(
        &executor,
        Start::Warm(start()),
        &(),
        &fixed_iterations(),
        &mut NoopObserver,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            FitError::Part {
                part: 2,
                iteration: 0,
                step: Step::EStep,
                source: ToyError::NoData,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("in part 2"), "{err}");
    // The data in one piece: no part to name.
    let empty: &[f64] = &[];
    let err = fit(empty, Start::Warm(start()), &(), &fixed_iterations()).unwrap_err();
    assert!(
        matches!(
            err,
            FitError::Step {
                source: ToyError::NoData,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn parts_need_a_warm_start_and_local_initialises() {
    let x = data(10, 50);
    let settings = settings().restarts(2).build().unwrap();
    let executor = Parts::<Toy>::new(vec![&x[..20], &x[20..]]).unwrap();
    let err = fit_with(
        &executor,
        Start::FromData(Default::default()),
        &(),
        &settings,
        &mut NoopObserver,
    )
    .unwrap_err();
    assert!(
        matches!(err, FitError::NoInitialisation { restart: 0 }),
        "{err:?}"
    );
    let a = fit_with(
        &Local::new(&x[..]),
        Start::FromData(Default::default()),
        &(),
        &settings,
        &mut NoopObserver,
    )
    .unwrap();
    let b = fit(&x[..], Start::FromData(Default::default()), &(), &settings).unwrap();
    assert_eq!(bits(&a), bits(&b));
    assert!(Parts::<Toy>::new(Vec::new()).is_none());
}

fn toy_e_step() -> EStep<ToyStats> {
    start().e_step(&data(11, 40)).unwrap()
}

#[test]
fn an_e_step_round_trips_bit_for_bit_and_merges_in_order() {
    let e = toy_e_step();
    let flat = e.to_flat();
    let back = EStep::<ToyStats>::from_flat(&flat).unwrap();
    assert_eq!(back, e);
    assert_eq!(
        back.to_flat().iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        flat.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
    let mut merged = e.clone();
    merged.merge(&back);
    assert_eq!(merged.log_likelihood, 2.0 * e.log_likelihood);
    assert_eq!(merged.stats.n[1], 2.0 * e.stats.n[1]);
}

#[test]
fn bad_flat_statistics_get_their_typed_errors() {
    let good = toy_e_step().stats.to_flat();
    let with = |i: usize, v: f64| {
        let mut f = good.clone();
        f[i] = v;
        f
    };
    assert!(matches!(
        ToyStats::from_flat(&with(3, f64::NAN)),
        Err(FlatError::NonFinite { index: 3, .. })
    ));
    assert!(matches!(
        ToyStats::from_flat(&with(5, f64::INFINITY)),
        Err(FlatError::NonFinite { index: 5, .. })
    ));
    assert!(matches!(
        ToyStats::from_flat(&with(0, 1.0)),
        Err(FlatError::Kind { found: 1.0, .. })
    ));
    assert!(matches!(
        ToyStats::from_flat(&with(1, 2.0)),
        Err(FlatError::Version {
            found: 2.0,
            expected: 1,
            ..
        })
    ));
    assert!(matches!(
        ToyStats::from_flat(&good[..7]),
        Err(FlatError::Truncated {
            needed: 6,
            available: 5,
            index: 2,
            ..
        })
    ));
    assert!(matches!(
        ToyStats::from_flat(&good[..1]),
        Err(FlatError::Truncated {
            needed: 2,
            available: 1,
            ..
        })
    ));
    let mut long = good.clone();
    long.push(0.0);
    assert_eq!(
        ToyStats::from_flat(&long).unwrap_err(),
        FlatError::Length {
            expected: 8,
            found: 9
        }
    );
    assert!(matches!(
        EStep::<ToyStats>::from_flat(&[]),
        Err(FlatError::Truncated {
            needed: 1,
            available: 0,
            ..
        })
    ));
}

#[test]
fn header_counts_and_codes_are_checked_before_any_allocation() {
    for (value, ok) in [
        (3.0, true),
        (-1.0, false),
        (2.5, false),
        (1e300, false),
        (9_007_199_254_740_992.0, true),
        (18_014_398_509_481_984.0, false),
    ] {
        let flat = [value];
        let got = FlatReader::new(&flat).unwrap().count("K");
        assert_eq!(got.is_ok(), ok, "{value}: {got:?}");
        if !ok {
            assert!(matches!(
                got,
                Err(FlatError::BadCount {
                    field: "K",
                    index: 0,
                    ..
                })
            ));
        }
    }
    let flat = [4.0];
    assert!(matches!(
        FlatReader::new(&flat).unwrap().code("covariance kind", 4),
        Err(FlatError::Shape { .. })
    ));
    // A header announcing 2⁵³ x 2⁵³ x 2⁵³ values: refused by length, not allocated.
    let huge = 9_007_199_254_740_992usize;
    let flat = [1.0; 4];
    let err = FlatReader::new(&flat)
        .unwrap()
        .take("scatter", &[huge, huge, huge])
        .unwrap_err();
    assert_eq!(
        err,
        FlatError::Truncated {
            what: "scatter",
            index: 0,
            needed: usize::MAX,
            available: 4
        }
    );
}

#[test]
fn checked_merge_refuses_another_shape_and_keeps_self() {
    #[derive(Debug, Clone, PartialEq)]
    struct Sized(Vec<f64>);
    impl FlatStats for Sized {
        fn write_flat(&self, out: &mut Vec<f64>) {
            out.extend(&self.0);
        }
        fn read_flat(reader: &mut FlatReader<'_>) -> Result<Self, FlatError> {
            Ok(Self(reader.take("values", &[1])?.to_vec()))
        }
        fn shape(&self) -> Vec<usize> {
            vec![self.0.len()]
        }
        fn merge(&mut self, other: &Self) {
            for (a, b) in self.0.iter_mut().zip(&other.0) {
                *a += b;
            }
        }
    }
    let mut a = Sized(vec![1.0, 2.0]);
    let err = a.checked_merge(&Sized(vec![1.0])).unwrap_err();
    assert_eq!(
        err,
        FlatError::ShapeMismatch {
            expected: vec![2],
            found: vec![1]
        }
    );
    assert_eq!(a, Sized(vec![1.0, 2.0]));
    a.checked_merge(&Sized(vec![0.5, 0.5])).unwrap();
    assert_eq!(a, Sized(vec![1.5, 2.5]));
}
