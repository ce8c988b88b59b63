//! Checks that a model's statistics and E-step work on parts of the data,
//! for the tests of the model crates (cargo feature `testing`, enabled by
//! their dev-dependencies only).
//!
//! [`assert_parts_fit`] fits the same start on the data in one piece and on
//! each given split ([`Parts`]), and asserts what an executor over parts
//! promises: the one-piece fit up to `10⁻¹²` relative (parameters and
//! log-likelihood history), the same bits through the flat form
//! ([`Parts::with_flat_round_trip`]), and the same bits on 1, 2 and 3
//! threads. [`assert_flat_rejections`] corrupts a flat form every generic
//! way (non-finite entries, header, length) and asserts the typed errors.
//! Each failure panics with what differed.

use crate::acceleration::Acceleration;
use crate::convergence::Tolerance;
use crate::executor::{Executor, Local, Parts};
use crate::fit::{Fit, Start, fit_with};
use crate::flat::{FlatError, FlatStats};
use crate::model::EmModel;
use crate::observer::NoopObserver;
use crate::settings::Settings;

/// Plain EM for exactly `iterations` iterations (no convergence test that
/// rounding could trigger earlier in one fit than in another).
///
/// # Panics
/// Never for `iterations ≥ 1`.
#[must_use]
pub fn fixed_iterations(iterations: usize) -> Settings {
    Settings::builder()
        .acceleration(Acceleration::None)
        .max_iterations(iterations)
        .tolerance(Tolerance::absolute(0.0))
        .build()
        .expect("valid settings")
}

/// The bits of `values`, to compare them exactly.
#[must_use]
pub fn bits(values: &[f64]) -> Vec<u64> {
    values.iter().map(|v| v.to_bits()).collect()
}

/// `values` with entry `index` replaced by `value` (a corrupted flat form).
#[must_use]
pub fn with_entry(values: &[f64], index: usize, value: f64) -> Vec<f64> {
    let mut out = values.to_vec();
    out[index] = value;
    out
}

/// Consecutive parts of `items` of `sizes` items each.
///
/// # Panics
/// If the sizes do not add up to `items.len()`.
#[must_use]
pub fn split<'a, T>(items: &'a [T], sizes: &[usize]) -> Vec<&'a [T]> {
    assert_eq!(sizes.iter().sum::<usize>(), items.len(), "sizes of the parts");
    let mut rest = items;
    sizes
        .iter()
        .map(|&n| {
            let (part, tail) = rest.split_at(n);
            rest = tail;
            part
        })
        .collect()
}

/// The learned parameters of `fit` ([`EmModel::flat_parameters`])
/// followed by its log-likelihood history.
fn parameters_and_history<M: EmModel>(fit: &Fit<M>, options: &M::Options) -> Vec<f64> {
    let mut out = fit
        .model
        .flat_parameters(options)
        .expect("the model has flat parameters");
    out.extend(&fit.report.history);
    out
}

/// Asserts that `splits` (each a list of parts of `whole`, in order) fit
/// `start` like `whole` (see the module documentation).
///
/// # Panics
/// When a fit fails or a promise does not hold.
pub fn assert_parts_fit<'d, M>(
    whole: M::Data<'d>,
    splits: &[Vec<M::Data<'d>>],
    start: &M,
    options: &M::Options,
    settings: &Settings,
) where
    M: EmModel + Clone,
    M::Stats: FlatStats,
{
    let fit_on = |executor: &dyn Executor<M>| {
        let fit = fit_with(
            executor,
            Start::Warm(start.clone()),
            options,
            settings,
            &mut NoopObserver,
        );
        parameters_and_history(&fit.expect("the fit succeeds"), options)
    };
    let reference = fit_on(&Local::new(whole));
    for (s, parts) in splits.iter().enumerate() {
        let plain = fit_on(&Parts::<M>::new(parts.clone()).expect("at least one part"));
        assert_eq!(plain.len(), reference.len(), "split {s}: parameters and history");
        for (i, (a, b)) in plain.iter().zip(&reference).enumerate() {
            assert!(
                (a - b).abs() <= 1e-12 * a.abs().max(b.abs()),
                "split {s}, entry {i} of the parameters and history: {a} by parts, {b} in one piece"
            );
        }
        let flat = Parts::<M>::new(parts.clone())
            .expect("at least one part")
            .with_flat_round_trip();
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("a thread pool");
            let through_flat = pool.install(|| fit_on(&flat));
            assert_eq!(
                bits(&through_flat),
                bits(&plain),
                "split {s}: through the flat form on {threads} threads"
            );
        }
    }
}

/// Asserts that reading corrupted copies of `good` (the flat form of some
/// `S`) fails with the typed error of each corruption, never a panic: every
/// entry NaN or infinite ([`FlatError::NonFinite`] naming it), another kind
/// tag and another version in the header ([`FlatError::Kind`],
/// [`FlatError::Version`]), every shorter prefix (an error), and one more
/// value ([`FlatError::Length`]).
///
/// # Panics
/// When `good` does not read, or a corruption is not refused as it should be.
pub fn assert_flat_rejections<S: FlatStats>(good: &[f64]) {
    assert!(S::from_flat(good).is_ok(), "the uncorrupted flat form reads");
    for index in 0..good.len() {
        for value in [f64::NAN, f64::INFINITY] {
            let got = S::from_flat(&with_entry(good, index, value)).err();
            assert!(
                matches!(got, Some(FlatError::NonFinite { index: i, .. }) if i == index),
                "{value} at entry {index}: {got:?}"
            );
        }
    }
    let got = S::from_flat(&with_entry(good, 0, good[0] + 1.0)).err();
    assert!(
        matches!(got, Some(FlatError::Kind { .. })),
        "another kind: {got:?}"
    );
    let got = S::from_flat(&with_entry(good, 1, good[1] + 1.0)).err();
    assert!(
        matches!(got, Some(FlatError::Version { .. })),
        "another version: {got:?}"
    );
    for len in 0..good.len() {
        assert!(S::from_flat(&good[..len]).is_err(), "the first {len} values read");
    }
    let mut long = good.to_vec();
    long.push(0.0);
    let got = S::from_flat(&long).err();
    let expected = FlatError::Length {
        expected: good.len(),
        found: good.len() + 1,
    };
    assert_eq!(got, Some(expected), "one value more");
}

/// Asserts that `stats` come back from their flat form equal, and give the
/// same bits again.
///
/// # Panics
/// When they do not.
pub fn assert_flat_round_trip<S: FlatStats + PartialEq + std::fmt::Debug>(stats: &S) {
    let flat = stats.to_flat();
    let back = S::from_flat(&flat).expect("the flat form reads");
    assert_eq!(&back, stats);
    assert_eq!(bits(&back.to_flat()), bits(&flat));
}
