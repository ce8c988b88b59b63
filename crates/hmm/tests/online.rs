//! Online (stepwise) EM of an HMM over a stream of chunks of sequences
//! (`em_core::online`): the first chunk is one Baum-Welch step (priors
//! included), a refused chunk changes nothing, a resumed state continues
//! bit for bit, and one pass comes within 1% of the batch fit's
//! log-likelihood per observation.

use em_core::online::{OnlineError, ScaleStats, Schedule, StepwiseEm};
use em_core::{EmModel, Settings};
use faer::{Mat, mat};
use hmm::{
    CategoricalEmission, CovarianceType, Covariances, GaussianEmission, GaussianInit, Hmm, HmmError,
    InitConfig, MStepOptions, Sequences, Start, fit,
};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Two well-separated 2-D states that stay put.
fn truth() -> Hmm<GaussianEmission> {
    let emission = GaussianEmission::new(
        mat![[0.0, 0.0], [3.0, 1.0]],
        Covariances::Full(vec![mat![[1.0, 0.2], [0.2, 0.7]], mat![[0.8, -0.1], [-0.1, 1.1]]]),
    )
    .unwrap();
    Hmm::new(vec![0.6, 0.4], mat![[0.9, 0.1], [0.2, 0.8]].as_ref(), emission).unwrap()
}

/// A rough start of the truth's shape.
fn start() -> Hmm<GaussianEmission> {
    let emission = GaussianEmission::new(
        mat![[0.5, 0.5], [2.0, 0.0]],
        Covariances::Full(vec![Mat::identity(2, 2), Mat::identity(2, 2)]),
    )
    .unwrap();
    Hmm::new(vec![0.5, 0.5], mat![[0.5, 0.5], [0.5, 0.5]].as_ref(), emission).unwrap()
}

/// `n` sequences of length `t` drawn from the truth.
fn stream(n: usize, t: usize, seed: u64) -> (Mat<f64>, Vec<usize>) {
    let lengths = vec![t; n];
    let (x, _) = truth()
        .sample_sequences(&lengths, &mut StdRng::seed_from_u64(seed))
        .unwrap();
    (x, lengths)
}

/// Sequences `first..first + count` of equal length `t`.
fn chunk<'a>(x: &'a Mat<f64>, lengths: &[usize], first: usize, count: usize) -> Sequences<'a> {
    let t = lengths[0];
    Sequences::new(
        x.as_ref().subrows(first * t, count * t),
        &lengths[first..first + count],
    )
    .unwrap()
}

fn flat(model: &Hmm<GaussianEmission>) -> Vec<f64> {
    model.flat_parameters(&MStepOptions::default()).unwrap()
}

fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= tol * x.abs().max(y.abs()).max(1.0))
}

#[test]
fn the_first_chunk_is_one_baum_welch_step_priors_included() {
    let (x, lengths) = stream(6, 50, 1);
    let data = chunk(&x, &lengths, 0, 6);
    let options = MStepOptions {
        transition_prior: Some(mat![[3.0, 2.0], [2.0, 3.0]]),
        ..MStepOptions::default()
    };
    let mut online = StepwiseEm::new(start(), Schedule::default());
    let step = online.partial_fit(&data, &options).unwrap();
    let batch = start().em_iteration(&data, &options).unwrap();
    assert_eq!((step.step, step.observations), (1.0, 300));
    assert_eq!(step.log_likelihood, batch.log_likelihood);
    assert!(close(&flat(online.model()), &flat(&batch.model), 1e-12));
    let plain = start().em_iteration(&data, &MStepOptions::default()).unwrap();
    assert!(
        !close(&flat(&plain.model), &flat(&batch.model), 1e-6),
        "the prior matters here"
    );
}

#[test]
fn scaled_statistics_give_the_same_maximum_likelihood_step() {
    let (x, lengths) = stream(4, 40, 2);
    let stats = start().e_step(&chunk(&x, &lengths, 0, 4)).unwrap().stats;
    let mut scaled = stats.clone();
    scaled.scale(1.0 / 160.0);
    assert_eq!(scaled.observations(), 160);
    assert!((scaled.start_counts().iter().sum::<f64>() - 4.0 / 160.0).abs() < 1e-15);
    let (a, _) = start().m_step(&stats, &MStepOptions::default()).unwrap();
    let (b, _) = start().m_step(&scaled, &MStepOptions::default()).unwrap();
    assert!(close(&flat(&a), &flat(&b), 1e-12));
}

#[test]
fn a_refused_chunk_changes_nothing() {
    let (x, lengths) = stream(10, 30, 3);
    let mut online = StepwiseEm::new(start(), Schedule::default());
    online
        .partial_fit(&chunk(&x, &lengths, 0, 5), &MStepOptions::default())
        .unwrap();
    let before = (online.model().clone(), online.save());
    let wide = Mat::<f64>::zeros(30, 3);
    let err = online
        .partial_fit(
            &Sequences::single(wide.as_ref()).unwrap(),
            &MStepOptions::default(),
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            OnlineError::Model {
                chunk: 2,
                source: HmmError::DimensionMismatch {
                    expected: 2,
                    found: 3,
                    ..
                }
            }
        ),
        "{err}"
    );
    assert_eq!((online.model().clone(), online.save()), before);
    // A NaN is refused where the chunk is built, naming sequence and row.
    let mut bad = x.as_ref().subrows(150, 60).to_owned();
    bad[(35, 0)] = f64::NAN;
    let err = Sequences::new(bad.as_ref(), &[30, 30]).unwrap_err();
    assert!(
        matches!(
            err,
            HmmError::NonFinite {
                sequence: 1,
                time: 5,
                row: 35,
                col: 0,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_resumed_state_continues_bit_for_bit() {
    let (x, lengths) = stream(12, 40, 4);
    let options = MStepOptions::default();
    let mut whole = StepwiseEm::new(start(), Schedule::default());
    let mut half = StepwiseEm::new(start(), Schedule::default());
    for (first, count) in [(0, 3), (3, 2)] {
        whole
            .partial_fit(&chunk(&x, &lengths, first, count), &options)
            .unwrap();
        half.partial_fit(&chunk(&x, &lengths, first, count), &options)
            .unwrap();
    }
    let m = half.model();
    let rebuilt = Hmm::new(m.start_probs().to_vec(), m.transitions(), m.emission().clone()).unwrap();
    let mut resumed = StepwiseEm::resume(rebuilt, &half.save()).unwrap();
    for (first, count) in [(5, 4), (9, 3)] {
        whole
            .partial_fit(&chunk(&x, &lengths, first, count), &options)
            .unwrap();
        resumed
            .partial_fit(&chunk(&x, &lengths, first, count), &options)
            .unwrap();
    }
    assert_eq!(
        em_core::testing::bits(&flat(whole.model())),
        em_core::testing::bits(&flat(resumed.model()))
    );
    assert_eq!(
        em_core::testing::bits(&whole.save()),
        em_core::testing::bits(&resumed.save())
    );
}

/// The running statistics of a categorical HMM stay those of
/// non-negative weights, one per observation, over chunks of any size.
#[test]
fn categorical_statistics_stay_per_observation() {
    let b = mat![[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]];
    let model = Hmm::new(
        vec![0.5, 0.5],
        mat![[0.8, 0.2], [0.3, 0.7]].as_ref(),
        CategoricalEmission::new(b).unwrap(),
    )
    .unwrap();
    let lengths = [7, 13, 1, 25, 4];
    let (x, _) = model
        .sample_sequences(&lengths, &mut StdRng::seed_from_u64(9))
        .unwrap();
    let mut online = StepwiseEm::new(model, Schedule::new(0.6, 0.0).unwrap());
    let mut row = 0;
    for &t in &lengths {
        let seq = Sequences::single(x.as_ref().subrows(row, t)).unwrap();
        row += t;
        online.partial_fit(&seq, &MStepOptions::default()).unwrap();
        let s = online.statistics().unwrap();
        let counts: f64 = (0..2)
            .flat_map(|j| (0..3).map(move |m| (j, m)))
            .map(|(j, m)| s.emission().count(j, m))
            .sum();
        assert!((counts - 1.0).abs() < 1e-12, "{counts}");
        let transitions = s.transition_counts();
        assert!((0..2).all(|i| (0..2).all(|j| transitions[(i, j)] >= 0.0)));
        let p = online.model().transitions();
        assert!((0..2).all(|i| ((0..2).map(|j| p[(i, j)]).sum::<f64>() - 1.0).abs() < 1e-12));
    }
    assert_eq!(online.observations(), 50);
}

/// One pass over 400 sequences of 50 (20 000 observations) in chunks of
/// 20 sequences reaches the batch fit's log-likelihood per observation
/// within 1%.
#[test]
fn one_pass_is_within_one_percent_of_batch() {
    let (x, lengths) = stream(400, 50, 5);
    let all = Sequences::new(x.as_ref(), &lengths).unwrap();
    let mut online = StepwiseEm::new(start(), Schedule::default());
    for first in (0..400).step_by(20) {
        online
            .partial_fit(&chunk(&x, &lengths, first, 20), &MStepOptions::default())
            .unwrap();
    }
    let config = InitConfig::new(2, GaussianInit::new(CovarianceType::Full));
    let settings = Settings::builder().seed(1).build().unwrap();
    let batch =
        fit::<Hmm<GaussianEmission>>(&all, Start::FromData(config), &MStepOptions::default(), &settings)
            .unwrap();
    let n = all.n_samples() as f64;
    let online_ll = online.model().log_likelihood(&all).unwrap() / n;
    let batch_ll = batch.model.log_likelihood(&all).unwrap() / n;
    let start_ll = start().log_likelihood(&all).unwrap() / n;
    let gap = (batch_ll - online_ll) / batch_ll.abs();
    assert!(
        gap.abs() < 0.01,
        "online {online_ll}, batch {batch_ll}, gap {gap}"
    );
    assert!(
        (batch_ll - start_ll) / batch_ll.abs() > 0.05,
        "the start is far: {start_ll} vs {batch_ll}"
    );
}
