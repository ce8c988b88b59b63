//! Scenario 1 end to end: sample the GMM-HMM, fit a fresh 2-state 2-mix
//! diagonal GMM-HMM on 50 sequences (tolerance 1e-10, at most 1000
//! iterations), the log-likelihood never decreases, and Viterbi on a fresh
//! sample of 1000 matches the true states at least 98% of the time after
//! matching labels.

use hmm::{EmModel, Emission, match_labels, scenario};

#[test]
fn gmm_hmm_fit_is_monotone_and_decodes_fresh_data() {
    for seed in [42u64, 7] {
        let train = scenario::sample(seed);
        let data = train.sequences().unwrap();
        assert_eq!(data.n_sequences(), 50);
        let mut model = scenario::fresh_model(&data, seed).unwrap();
        let options = scenario::m_step_options();
        let mut history = Vec::new();
        for _ in 0..=scenario::MAX_ITERATIONS {
            let e = model.e_step(&data).unwrap();
            let ll = e.log_likelihood;
            if let Some(&previous) = history.last() {
                let gain: f64 = ll - previous;
                // Never decreases (beyond rounding of a sum of 1000 terms).
                assert!(
                    gain >= -1e-9,
                    "seed {seed}: log-likelihood fell by {} at iteration {}",
                    -gain,
                    history.len()
                );
                if gain <= scenario::TOLERANCE {
                    history.push(ll);
                    break;
                }
            }
            history.push(ll);
            model = model.m_step(&e.stats, &options).unwrap().0;
        }
        assert!(history.len() > 10);
        assert!(
            history.last().unwrap() - history[0] > 100.0,
            "the fit improved: {:?}",
            &history[..3]
        );
        let test = scenario::sample(seed + 1000);
        let path = model.predict(&test.sequences().unwrap()).unwrap();
        let m = match_labels(&path, &test.states, model.emission().n_states()).unwrap();
        assert!(m.accuracy >= 0.98, "seed {seed}: accuracy {}", m.accuracy);
    }
}
