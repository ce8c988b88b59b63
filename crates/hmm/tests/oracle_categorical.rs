//! Forward-backward and Viterbi against brute-force enumeration, categorical emissions.

mod common;

use common::{Brute, brute_force, max_abs_diff, random_row, random_transitions};
use faer::Mat;
use hmm::{
    CategoricalEmission, CategoricalHmm, CategoricalStats, Decoding, EStep, EmModel, Emission, HmmStats,
    Sequences,
};
use rand::{Rng, SeedableRng, rngs::StdRng};

fn random_model(k: usize, m: usize, rng: &mut StdRng) -> CategoricalHmm {
    let mut b = Mat::zeros(k, m);
    for j in 0..k {
        let row = random_row(m, rng);
        for s in 0..m {
            b[(j, s)] = row[s];
        }
    }
    let emission = CategoricalEmission::new(b).unwrap();
    CategoricalHmm::new(random_row(k, rng), random_transitions(k, rng).as_ref(), emission).unwrap()
}

/// Random symbols in `0..m` for sequences of the given lengths (n x 1).
fn random_symbols(lengths: &[usize], m: usize, rng: &mut StdRng) -> Mat<f64> {
    let n: usize = lengths.iter().sum();
    Mat::<f64>::from_fn(n, 1, |_, _| rng.random_range(0..m) as f64)
}

/// A reference computation on one sequence: `(π, A, ln b)` to its results.
type Reference = fn(&[f64], &Mat<f64>, &Mat<f64>) -> Brute;

/// The model's inference on all of `data` at once, and `reference` run on
/// each sequence with independently computed emission log-probabilities.
struct Compared {
    gamma: Mat<f64>,
    scores: Vec<f64>,
    decoding: Decoding,
    e: EStep<HmmStats<CategoricalStats>>,
    /// `(first row, length, reference result)` of every sequence.
    sequences: Vec<(usize, usize, Brute)>,
}

fn compare(model: &CategoricalHmm, data: &Sequences<'_>, reference: Reference) -> Compared {
    let (k, trans) = (model.n_states(), model.transitions().to_owned());
    let sequences = (0..data.n_sequences())
        .map(|s| {
            let (start, len, seq) = (data.starts()[s], data.lengths()[s], data.sequence(s));
            let log_b = Mat::from_fn(len, k, |i, j| {
                model.emission().probabilities()[(j, seq[(i, 0)] as usize)].ln()
            });
            (start, len, reference(model.start_probs(), &trans, &log_b))
        })
        .collect();
    Compared {
        gamma: model.predict_proba(data).unwrap(),
        scores: model.score_sequences(data).unwrap(),
        decoding: model.decode(data).unwrap(),
        e: model.e_step(data).unwrap(),
        sequences,
    }
}

#[test]
fn forward_backward_and_viterbi_match_enumeration() {
    let mut rng = StdRng::seed_from_u64(7);
    for k in 1..=3 {
        for t in 1..=6 {
            let m = 3;
            let model = random_model(k, m, &mut rng);
            // Two sequences: the brute force runs on each, the model on both at once.
            let lengths = [t, 7 - t];
            let n: usize = lengths.iter().sum();
            let x = random_symbols(&lengths, m, &mut rng);
            let data = Sequences::new(x.as_ref(), &lengths).unwrap();
            let c = compare(&model, &data, brute_force);
            let (gamma, e) = (&c.gamma, &c.e);
            let mut xi_total = Mat::<f64>::zeros(k, k);
            let mut start_total = vec![0.0; k];
            let mut ll_total = 0.0;
            for (s, (start, len, brute)) in c.sequences.iter().enumerate() {
                let (start, len) = (*start, *len);
                assert!((c.scores[s] - brute.loglik).abs() < 1e-12, "K={k} T={len}");
                let g = gamma.as_ref().subrows(start, len).to_owned();
                assert!(max_abs_diff(&g, &brute.gamma) < 1e-12);
                assert_eq!(&c.decoding.states[start..start + len], &brute.best_path[..]);
                assert!((c.decoding.log_probs[s] - brute.best_logp).abs() < 1e-12);
                xi_total += &brute.xi;
                for j in 0..k {
                    start_total[j] += brute.gamma[(0, j)];
                }
                ll_total += brute.loglik;
            }
            assert!((e.log_likelihood - ll_total).abs() < 1e-11);
            // Posterior decoding: the argmax of each row of the posteriors.
            let post = model.predict_posterior(&data).unwrap();
            for (t, &z) in post.iter().enumerate() {
                assert!((0..k).all(|j| gamma[(t, j)] <= gamma[(t, z)]));
            }
            assert!(max_abs_diff(&e.stats.transition_counts().to_owned(), &xi_total) < 1e-12);
            for j in 0..k {
                assert!((e.stats.start_counts()[j] - start_total[j]).abs() < 1e-12);
            }
            // Emission statistics: Σ_t γ_t(j) [x_t = m].
            for j in 0..k {
                for sym in 0..m {
                    let expected: f64 = (0..n)
                        .filter(|&i| x[(i, 0)] as usize == sym)
                        .map(|i| gamma[(i, j)])
                        .sum();
                    assert!((e.stats.emission().count(j, sym) - expected).abs() < 1e-12);
                }
            }
            assert_eq!(model.emission().n_states(), k);
        }
    }
}

/// K = 4..=10 (the specialised sizes up to 8 and the generic path above) and
/// longer sequences, against the textbook log-space recursions.
#[test]
fn every_state_count_matches_the_log_space_reference() {
    let mut rng = StdRng::seed_from_u64(8);
    for k in 4..=10 {
        let m = 5;
        let model = random_model(k, m, &mut rng);
        let lengths = [60, 1, 37];
        let x = random_symbols(&lengths, m, &mut rng);
        let data = Sequences::new(x.as_ref(), &lengths).unwrap();
        let c = compare(&model, &data, common::log_space_reference);
        let mut xi_total = Mat::<f64>::zeros(k, k);
        for (s, (start, len, reference)) in c.sequences.iter().enumerate() {
            let (start, len) = (*start, *len);
            assert!(
                (c.scores[s] - reference.loglik).abs() < 1e-10 * reference.loglik.abs(),
                "K={k}"
            );
            let g = c.gamma.as_ref().subrows(start, len).to_owned();
            assert!(max_abs_diff(&g, &reference.gamma) < 1e-10);
            assert_eq!(
                &c.decoding.states[start..start + len],
                &reference.best_path[..],
                "K={k}"
            );
            assert!(
                (c.decoding.log_probs[s] - reference.best_logp).abs() < 1e-10 * reference.best_logp.abs()
            );
            xi_total += &reference.xi;
        }
        assert!(max_abs_diff(&c.e.stats.transition_counts().to_owned(), &xi_total) < 1e-9);
    }
}
