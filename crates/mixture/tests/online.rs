//! Online (stepwise) EM of a mixture (`em_core::online`): the first chunk
//! is one EM step, the running statistics stay valid, a refused chunk
//! changes nothing, a resumed state continues bit for bit, and one pass
//! over 100 000 points comes within 1% of the batch fit's log-likelihood
//! per point.

mod common;

use common::*;
use em_core::online::{OnlineError, ScaleStats, Schedule, StepwiseEm};
use em_core::{FlatStats, Settings, Start};
use faer::{Mat, MatRef};
use mixture::{CovarianceType, EmModel, GaussianMixture, InitConfig, MStepOptions, MixtureError, fit};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

const TYPES: [CovarianceType; 4] = [
    CovarianceType::Full,
    CovarianceType::Diagonal,
    CovarianceType::Spherical,
    CovarianceType::Tied,
];

/// Rows `start..end` of `x`.
fn rows(x: &Mat<f64>, start: usize, end: usize) -> MatRef<'_, f64> {
    x.as_ref().subrows(start, end - start)
}

/// Whether `a` and `b` agree entry by entry within `tol` relative.
fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= tol * x.abs().max(y.abs()).max(1.0))
}

fn flat(model: &GaussianMixture) -> Vec<f64> {
    model.flat_parameters(&MStepOptions::default()).unwrap()
}

#[test]
fn the_first_chunk_is_one_em_step_on_it() {
    for t in TYPES {
        let model = test_model(t, 3);
        let x = wiggly_data(700, 3);
        let mut online = StepwiseEm::new(model.clone(), Schedule::default());
        let step = online.partial_fit(x.as_ref(), &MStepOptions::default()).unwrap();
        let batch = model.em_iteration(x.as_ref(), &MStepOptions::default()).unwrap();
        assert_eq!(step.step, 1.0);
        assert_eq!(step.observations, 700);
        assert_eq!(step.log_likelihood, batch.log_likelihood, "{t:?}");
        assert!(close(&flat(online.model()), &flat(&batch.model), 1e-12), "{t:?}");
        let s = online.statistics().unwrap();
        assert!(
            (s.total_mass() - 1.0).abs() < 1e-12,
            "per point: {}",
            s.total_mass()
        );
    }
}

#[test]
fn scaling_keeps_the_means_and_effective_points() {
    let model = test_model(CovarianceType::Full, 2);
    let x = wiggly_data(300, 2);
    let stats = model.e_step(x.as_ref()).unwrap().stats;
    let mut scaled = stats.clone();
    scaled.scale(0.25);
    assert_eq!(scaled.observations(), 300);
    assert_eq!(scaled.means(), stats.means());
    assert!(close(
        &scaled.effective_points(),
        &stats.effective_points(),
        1e-14
    ));
    assert!(close(
        scaled.mass(),
        &stats.mass().iter().map(|m| m / 4.0).collect::<Vec<_>>(),
        1e-15
    ));
    // The M-step of maximum likelihood does not see the scale.
    let (a, _) = model.m_step(&stats, &MStepOptions::default()).unwrap();
    let (b, _) = model.m_step(&scaled, &MStepOptions::default()).unwrap();
    assert!(close(&flat(&a), &flat(&b), 1e-12));
    assert!(!close(&flat(&a), &flat(&model), 1e-3), "the step moved the model");
}

/// A chunk whose width differs, or with a NaN, is refused naming where,
/// and the model, statistics and counts are those from before.
#[test]
fn a_refused_chunk_changes_nothing() {
    let x = wiggly_data(900, 2);
    let mut online = StepwiseEm::new(test_model(CovarianceType::Full, 2), Schedule::default());
    online
        .partial_fit(rows(&x, 0, 300), &MStepOptions::default())
        .unwrap();
    let before = (online.model().clone(), online.save());

    let wide = wiggly_data(50, 3);
    match online.partial_fit(wide.as_ref(), &MStepOptions::default()) {
        Err(OnlineError::Model {
            chunk: 2,
            source:
                MixtureError::DimensionMismatch {
                    expected: 2,
                    found: 3,
                    ..
                },
        }) => {}
        other => panic!("{other:?}"),
    }
    let mut bad = rows(&x, 300, 600).to_owned();
    bad[(41, 1)] = f64::NAN;
    let err = online
        .partial_fit(bad.as_ref(), &MStepOptions::default())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "chunk 2: data value at row 42, column 2 is not finite (NaN)"
    );
    let empty = Mat::<f64>::zeros(0, 2);
    assert!(
        online
            .partial_fit(empty.as_ref(), &MStepOptions::default())
            .is_err()
    );
    assert_eq!((online.model().clone(), online.save()), before);
    assert_eq!((online.chunks(), online.observations()), (1, 300));

    // And the stream goes on as if the bad chunks had not come.
    let mut clean = StepwiseEm::new(test_model(CovarianceType::Full, 2), Schedule::default());
    for o in [&mut online, &mut clean] {
        if o.chunks() == 0 {
            o.partial_fit(rows(&x, 0, 300), &MStepOptions::default()).unwrap();
        }
        o.partial_fit(rows(&x, 300, 900), &MStepOptions::default())
            .unwrap();
    }
    assert_eq!(online.save(), clean.save());
}

#[test]
fn a_resumed_state_continues_bit_for_bit() {
    for t in TYPES {
        let x = wiggly_data(2000, 3);
        let cuts = [0, 400, 650, 1300, 1700, 2000];
        let options = MStepOptions::default();
        let mut whole = StepwiseEm::new(test_model(t, 3), Schedule::default());
        let mut half = StepwiseEm::new(test_model(t, 3), Schedule::default());
        for w in cuts[..3].windows(2) {
            whole.partial_fit(rows(&x, w[0], w[1]), &options).unwrap();
            half.partial_fit(rows(&x, w[0], w[1]), &options).unwrap();
        }
        // The model travels by its own parameters, the rest by `save`.
        let model = GaussianMixture::new(
            half.model().weights().to_vec(),
            half.model().means().to_owned(),
            half.model().covariances().clone(),
        )
        .unwrap();
        let mut resumed = StepwiseEm::resume(model, &half.save()).unwrap();
        for w in cuts[2..].windows(2) {
            whole.partial_fit(rows(&x, w[0], w[1]), &options).unwrap();
            resumed.partial_fit(rows(&x, w[0], w[1]), &options).unwrap();
        }
        assert_eq!(
            em_core::testing::bits(&flat(whole.model())),
            em_core::testing::bits(&flat(resumed.model())),
            "{t:?}"
        );
        assert_eq!(
            em_core::testing::bits(&whole.save()),
            em_core::testing::bits(&resumed.save()),
            "{t:?}"
        );
    }
}

#[test]
fn a_state_of_another_shape_is_refused_at_the_next_chunk() {
    let x = wiggly_data(600, 2);
    let mut three = StepwiseEm::new(test_model(CovarianceType::Diagonal, 3), Schedule::default());
    three
        .partial_fit(wiggly_data(300, 3).as_ref(), &MStepOptions::default())
        .unwrap();
    let mut two = StepwiseEm::resume(test_model(CovarianceType::Diagonal, 2), &three.save()).unwrap();
    let before = two.save();
    let err = two.partial_fit(x.as_ref(), &MStepOptions::default()).unwrap_err();
    assert!(matches!(err, OnlineError::Statistics { chunk: 2, .. }), "{err}");
    assert_eq!(two.save(), before);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Whatever the chunk sizes and the schedule, the running statistics
    /// are those of non-negative weights summing to one per observation,
    /// and every model on the way is a valid mixture (weights on the
    /// simplex, SPD covariances: `GaussianMixture::new` accepts it).
    #[test]
    fn the_running_statistics_stay_valid(
        type_index in 0usize..4,
        sizes in prop::collection::vec(1usize..400, 1..8),
        decay in 0.51f64..=1.0,
        offset in 0.0f64..50.0,
        seed in 0u64..1000,
    ) {
        let t = TYPES[type_index];
        let truth = test_model(t, 2);
        let total: usize = sizes.iter().sum::<usize>() + 10;
        let (x, _) = truth.sample(total, &mut StdRng::seed_from_u64(seed));
        let mut online = StepwiseEm::new(test_model(t, 2), Schedule::new(decay, offset).unwrap());
        let mut start = 0;
        for (i, &n) in [10].iter().chain(&sizes).enumerate() {
            let step = online.partial_fit(rows(&x, start, start + n), &MStepOptions::default()).unwrap();
            start += n;
            prop_assert!(step.step > 0.0 && step.step <= 1.0);
            let s = online.statistics().unwrap();
            prop_assert!((s.total_mass() - 1.0).abs() < 1e-12, "chunk {i}: mass {}", s.total_mass());
            prop_assert!(s.mass().iter().all(|&m| m >= 0.0));
            prop_assert_eq!(s.observations(), start);
            let m = online.model();
            prop_assert!((m.weights().iter().sum::<f64>() - 1.0).abs() < 1e-12);
            prop_assert!(m.weights().iter().all(|&w| w > 0.0));
            let rebuilt = GaussianMixture::new(m.weights().to_vec(), m.means().to_owned(), m.covariances().clone());
            prop_assert!(rebuilt.is_ok(), "{:?}", rebuilt.err());
            let flat_stats = FlatStats::to_flat(s);
            prop_assert!(flat_stats.iter().all(|v| v.is_finite()));
        }
    }
}

/// The acceptance property at 100 000 points (the million-point version is
/// the example `online_em`): one pass in chunks of 5 000 from the k-means
/// start on the first chunk reaches the batch fit's log-likelihood per
/// point within 1%.
#[test]
fn one_pass_over_100k_points_is_within_one_percent_of_batch() {
    let n = 100_000;
    let (x, _) = mixture::scenario::stream_truth().sample(n, &mut StdRng::seed_from_u64(5));
    let config = InitConfig::new(3, CovarianceType::Full);
    let first = rows(&x, 0, 5000);
    let start = GaussianMixture::init_from_data(first, &config, &mut StdRng::seed_from_u64(1)).unwrap();
    let mut online = StepwiseEm::new(start, Schedule::default());
    for s in (0..n).step_by(5000) {
        online
            .partial_fit(rows(&x, s, s + 5000), &MStepOptions::default())
            .unwrap();
    }
    let settings = Settings::builder().seed(1).build().unwrap();
    let batch = fit::<GaussianMixture>(
        x.as_ref(),
        Start::FromData(config),
        &MStepOptions::default(),
        &settings,
    )
    .unwrap();
    let per_point = |m: &GaussianMixture| m.total_log_likelihood(x.as_ref()).unwrap() / n as f64;
    let (online_ll, batch_ll) = (per_point(online.model()), per_point(&batch.model));
    let gap = (batch_ll - online_ll) / batch_ll.abs();
    assert!(
        gap.abs() < 0.01,
        "online {online_ll}, batch {batch_ll}: gap {gap}"
    );
    // Not the start's: the pass did move the model.
    let start_ll = per_point(
        &GaussianMixture::init_from_data(
            first,
            &InitConfig::new(3, CovarianceType::Full),
            &mut StdRng::seed_from_u64(1),
        )
        .unwrap(),
    );
    assert!(online_ll > start_ll, "{online_ll} <= start {start_ll}");
}
