//! The samplers against the model they sample from, with statrs's tests:
//! Pearson chi-square tests of the first states (against π), of the
//! transition counts (against A, row by row) and of categorical symbols
//! (against B); Kolmogorov-Smirnov tests of the Gaussian emissions given the
//! states (whitened by the state's covariance, against N(0, 1)). Every
//! check also runs against a deliberately wrong model, which it must reject,
//! so each can fail. Seeds are fixed: the p-values are the same on every run.

use faer::{Mat, mat};
use hmm::rand::SeedableRng;
use hmm::rand::rngs::StdRng;
use hmm::{
    CategoricalEmission, CategoricalHmm, Covariances, GaussianEmission, GaussianHmm, HmmError, Sequences,
};
use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};
use statrs::stats_tests::NaNPolicy;
use statrs::stats_tests::ks_test::{KSOneSampleAlternativeMethod, ks_onesample};

/// A p-value below this rejects the model; above it the model passes.
const LEVEL: f64 = 1e-3;
/// The wrong models must be rejected far below the level.
const REJECTED: f64 = 1e-6;

fn three_state_gaussian(
    start: Vec<f64>,
    trans: Mat<f64>,
    means: Mat<f64>,
    covs: Vec<Mat<f64>>,
) -> GaussianHmm {
    GaussianHmm::new(
        start,
        trans.as_ref(),
        GaussianEmission::new(means, Covariances::Full(covs)).unwrap(),
    )
    .unwrap()
}

fn truth() -> GaussianHmm {
    three_state_gaussian(
        vec![0.5, 0.3, 0.2],
        mat![[0.8, 0.15, 0.05], [0.1, 0.7, 0.2], [0.25, 0.25, 0.5]],
        mat![[-2.0, 0.0], [1.0, 2.0], [3.0, -1.0]],
        vec![
            mat![[1.0, 0.3], [0.3, 0.5]],
            mat![[0.7, -0.2], [-0.2, 1.2]],
            mat![[0.4, 0.0], [0.0, 0.9]],
        ],
    )
}

/// Pearson's statistic of observed counts against expected counts, summed
/// over several groups, and its p-value with `Σ (categories − 1)` degrees
/// of freedom.
fn chi_square(groups: &[(Vec<usize>, Vec<f64>)]) -> f64 {
    let mut statistic = 0.0;
    let mut df = 0.0;
    for (observed, expected) in groups {
        assert_eq!(observed.len(), expected.len());
        statistic += observed
            .iter()
            .zip(expected)
            .map(|(&o, &e)| (o as f64 - e).powi(2) / e)
            .sum::<f64>();
        df += (observed.len() - 1) as f64;
    }
    ChiSquared::new(df).unwrap().sf(statistic)
}

/// The first state of every sequence against π.
fn start_p_value(start: &[f64], states: &[usize], starts: &[usize]) -> f64 {
    let mut counts = vec![0; start.len()];
    for &s in starts {
        counts[states[s]] += 1;
    }
    let n = starts.len() as f64;
    chi_square(&[(counts, start.iter().map(|p| n * p).collect())])
}

/// The transitions inside every sequence, row i against `n_i A_i·`.
fn transition_p_value(trans: &Mat<f64>, states: &[usize], lengths: &[usize]) -> f64 {
    let k = trans.nrows();
    let mut counts = vec![vec![0; k]; k];
    let mut first = 0;
    for &len in lengths {
        for w in states[first..first + len].windows(2) {
            counts[w[0]][w[1]] += 1;
        }
        first += len;
    }
    let groups: Vec<(Vec<usize>, Vec<f64>)> = counts
        .into_iter()
        .enumerate()
        .map(|(i, row)| {
            let n: usize = row.iter().sum();
            let expected = (0..k).map(|j| n as f64 * trans[(i, j)]).collect();
            (row, expected)
        })
        .collect();
    chi_square(&groups)
}

/// For every state j and coordinate c: the rows emitted in state j,
/// whitened with the model's `L_j⁻¹ (x − μ_j)` (2-D), against N(0, 1). The
/// smallest p-value.
fn emission_p_value(model: &GaussianHmm, x: &Mat<f64>, states: &[usize]) -> f64 {
    let e = model.emission();
    let mut smallest = 1.0f64;
    for j in 0..model.n_states() {
        let s = e.state_covariance(j).unwrap();
        let l00 = s[(0, 0)].sqrt();
        let l10 = s[(1, 0)] / l00;
        let l11 = (s[(1, 1)] - l10 * l10).sqrt();
        let mut white = [Vec::new(), Vec::new()];
        for (t, _) in states.iter().enumerate().filter(|&(_, &z)| z == j) {
            let r0 = x[(t, 0)] - e.means()[(j, 0)];
            let r1 = x[(t, 1)] - e.means()[(j, 1)];
            let u0 = r0 / l00;
            white[0].push(u0);
            white[1].push((r1 - l10 * u0) / l11);
        }
        for w in white {
            let (_, p) = ks_onesample(
                w,
                &Normal::standard(),
                KSOneSampleAlternativeMethod::TwoSidedAsymptotic,
                NaNPolicy::Error,
            )
            .unwrap();
            smallest = smallest.min(p);
        }
    }
    smallest
}

/// 3000 sequences of lengths 20..=39 from the true model.
fn sample() -> (Mat<f64>, Vec<usize>, Vec<usize>) {
    let lengths: Vec<usize> = (0..3000).map(|i| 20 + (i * 7) % 20).collect();
    let (x, states) = truth()
        .sample_sequences(&lengths, &mut StdRng::seed_from_u64(2024))
        .unwrap();
    (x, states, lengths)
}

#[test]
fn gaussian_samples_fit_the_model_and_reject_wrong_ones() {
    let (x, states, lengths) = sample();
    let data = Sequences::new(x.as_ref(), &lengths).unwrap();
    let model = truth();
    let trans = model.transitions().to_owned();
    let p_start = start_p_value(model.start_probs(), &states, data.starts());
    let p_trans = transition_p_value(&trans, &states, &lengths);
    let p_emit = emission_p_value(&model, &x, &states);
    assert!(
        p_start > LEVEL && p_trans > LEVEL && p_emit > LEVEL,
        "true model rejected: start {p_start:.2e}, transitions {p_trans:.2e}, emissions {p_emit:.2e}"
    );

    // The same tests against wrong models, one block at a time.
    let p = start_p_value(&[0.45, 0.3, 0.25], &states, data.starts());
    assert!(p < REJECTED, "wrong start probabilities accepted: {p:.2e}");
    let mut wrong_trans = trans.clone();
    wrong_trans[(1, 1)] = 0.65;
    wrong_trans[(1, 2)] = 0.25;
    let p = transition_p_value(&wrong_trans, &states, &lengths);
    assert!(p < REJECTED, "wrong transitions accepted: {p:.2e}");
    let e = model.emission();
    let covs: Vec<Mat<f64>> = (0..3).map(|j| e.state_covariance(j).unwrap()).collect();
    let mut shifted = e.means().to_owned();
    shifted[(1, 0)] += 0.1;
    let wrong = three_state_gaussian(model.start_probs().to_vec(), trans.clone(), shifted, covs.clone());
    let p = emission_p_value(&wrong, &x, &states);
    assert!(p < REJECTED, "wrong mean accepted: {p:.2e}");
    let mut widened = covs;
    widened[2] = &widened[2] * faer::Scale(1.3);
    let wrong = three_state_gaussian(model.start_probs().to_vec(), trans, e.means().to_owned(), widened);
    let p = emission_p_value(&wrong, &x, &states);
    assert!(p < REJECTED, "wrong covariance accepted: {p:.2e}");
}

#[test]
fn categorical_symbols_fit_the_emission_and_reject_a_wrong_one() {
    let b = mat![[0.6, 0.3, 0.1], [0.1, 0.2, 0.7]];
    let model = CategoricalHmm::new(
        vec![0.5, 0.5],
        mat![[0.9, 0.1], [0.2, 0.8]].as_ref(),
        CategoricalEmission::new(b.clone()).unwrap(),
    )
    .unwrap();
    let (x, states) = model
        .sample_sequences(&[5000, 3000, 2000], &mut StdRng::seed_from_u64(7))
        .unwrap();
    let symbol_p_value = |b: &Mat<f64>| {
        let groups: Vec<(Vec<usize>, Vec<f64>)> = (0..2)
            .map(|j| {
                let mut counts = vec![0; 3];
                for (t, _) in states.iter().enumerate().filter(|&(_, &z)| z == j) {
                    counts[x[(t, 0)] as usize] += 1;
                }
                let n: usize = counts.iter().sum();
                (counts, (0..3).map(|s| n as f64 * b[(j, s)]).collect())
            })
            .collect();
        chi_square(&groups)
    };
    let p = symbol_p_value(&b);
    assert!(p > LEVEL, "true emission rejected: {p:.2e}");
    let wrong = mat![[0.6, 0.3, 0.1], [0.1, 0.25, 0.65]];
    let p = symbol_p_value(&wrong);
    assert!(p < REJECTED, "wrong emission accepted: {p:.2e}");
}

#[test]
fn sample_sequences_stacks_sequences_drawn_from_the_start() {
    let model = truth();
    let lengths = [7, 1, 12];
    let (x, states) = model
        .sample_sequences(&lengths, &mut StdRng::seed_from_u64(3))
        .unwrap();
    assert_eq!((x.nrows(), x.ncols(), states.len()), (20, 2, 20));
    assert!(Sequences::new(x.as_ref(), &lengths).is_ok());
    // The draws of `sample` once per length, from the same generator: every
    // sequence starts afresh from π.
    let mut rng = StdRng::seed_from_u64(3);
    let mut first = 0;
    for &len in &lengths {
        let (xs, zs) = model.sample(len, &mut rng).unwrap();
        assert_eq!(&states[first..first + len], &zs[..]);
        assert_eq!(x.as_ref().subrows(first, len).to_owned(), xs);
        first += len;
    }
    // One length is `sample`.
    let one = model
        .sample_sequences(&[9], &mut StdRng::seed_from_u64(4))
        .unwrap();
    assert_eq!(one, model.sample(9, &mut StdRng::seed_from_u64(4)).unwrap());
    // Bad lengths are rejected before anything is drawn.
    let mut rng = StdRng::seed_from_u64(5);
    assert!(matches!(
        model.sample_sequences(&[], &mut rng),
        Err(HmmError::NoSequences)
    ));
    assert!(matches!(
        model.sample_sequences(&[3, 0, 2], &mut rng),
        Err(HmmError::EmptySequence { sequence: 1 })
    ));
    assert_eq!(
        model.sample(4, &mut rng).unwrap(),
        model.sample(4, &mut StdRng::seed_from_u64(5)).unwrap()
    );
}
