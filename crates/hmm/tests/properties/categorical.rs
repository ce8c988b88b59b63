//! Baum-Welch with categorical emissions: the log-likelihood never falls,
//! rows sum to 1, statistics merge.

use faer::Mat;
use hmm::{CategoricalEmission, CategoricalHmm, EmModel, MStepOptions, Sequences};
use proptest::prelude::*;

use super::{check_em_run, config, normalise, rows_on_simplex};

prop_compose! {
    fn model_and_data()(k in 1usize..=3, m in 2usize..=4)
        (start in prop::collection::vec(0.05f64..1.0, k),
         trans in prop::collection::vec(0.05f64..1.0, k * k),
         emis in prop::collection::vec(0.05f64..1.0, k * m),
         lengths in prop::collection::vec(1usize..=12, 1..=4),
         symbols in prop::collection::vec(0usize..m, 48),
         k in Just(k), m in Just(m))
        -> (CategoricalHmm, Mat<f64>, Vec<usize>) {
        let mut a = Mat::zeros(k, k);
        for i in 0..k {
            let row = normalise(&trans[i * k..(i + 1) * k]);
            for j in 0..k { a[(i, j)] = row[j]; }
        }
        let mut b = Mat::zeros(k, m);
        for i in 0..k {
            let row = normalise(&emis[i * m..(i + 1) * m]);
            for s in 0..m { b[(i, s)] = row[s]; }
        }
        let model = CategoricalHmm::new(normalise(&start), a.as_ref(), CategoricalEmission::new(b).unwrap()).unwrap();
        let n: usize = lengths.iter().sum();
        let x = Mat::from_fn(n, 1, |i, _| symbols[i % symbols.len()] as f64);
        (model, x, lengths)
    }
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn baum_welch_never_lowers_the_likelihood((model, x, lengths) in model_and_data()) {
        let data = Sequences::new(x.as_ref(), &lengths).unwrap();
        check_em_run(model, &data, &MStepOptions::default(), |e: &CategoricalEmission| {
            rows_on_simplex(e.probabilities())
        }, |_| 1.0)?;
    }

    #[test]
    fn merged_statistics_equal_the_statistics_of_the_whole((model, x, lengths) in model_and_data()) {
        let data = Sequences::new(x.as_ref(), &lengths).unwrap();
        let whole = model.e_step(&data).unwrap();
        let mut merged: Option<hmm::HmmStats<hmm::CategoricalStats>> = None;
        let mut ll = 0.0;
        for s in 0..data.n_sequences() {
            let one = Sequences::single(data.sequence(s)).unwrap();
            let e = model.e_step(&one).unwrap();
            ll += e.log_likelihood;
            match merged.as_mut() {
                None => merged = Some(e.stats),
                Some(m) => m.merge(&e.stats),
            }
        }
        let merged = merged.unwrap();
        prop_assert!((ll - whole.log_likelihood).abs() < 1e-10 * ll.abs().max(1.0));
        let k = model.n_states();
        for i in 0..k {
            prop_assert!((merged.start_counts()[i] - whole.stats.start_counts()[i]).abs() < 1e-12);
            for j in 0..k {
                prop_assert!((merged.transition_counts()[(i, j)] - whole.stats.transition_counts()[(i, j)]).abs() < 1e-10);
            }
        }
        prop_assert_eq!(merged.n_samples(), x.nrows());
        prop_assert_eq!(merged.n_sequences(), lengths.len());
    }
}
