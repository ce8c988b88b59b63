//! Poisson emissions: forward-backward and Viterbi against brute force, a
//! monotone Baum-Welch run, bad counts.

mod common;

use common::{brute_force, max_abs_diff, random_row, random_transitions};
use faer::{Mat, mat};
use hmm::{
    EmModel, HmmError, InitConfig, MStepOptions, PoissonEmission, PoissonHmm, PoissonInit, Sequences,
    match_labels,
};
use rand::{Rng, SeedableRng, rngs::StdRng};

fn log_pmf(x: f64, lambda: f64) -> f64 {
    let lf: f64 = (2..=x as u64).map(|k| (k as f64).ln()).sum();
    if x == 0.0 {
        -lambda
    } else {
        x * lambda.ln() - lambda - lf
    }
}

#[test]
fn poisson_matches_enumeration() {
    let mut rng = StdRng::seed_from_u64(21);
    for k in 1..=3 {
        let d = 2;
        let rates = Mat::from_fn(k, d, |_, _| 0.5 + 4.0 * rng.random::<f64>());
        let model = PoissonHmm::new(
            random_row(k, &mut rng),
            random_transitions(k, &mut rng).as_ref(),
            PoissonEmission::new(rates.clone()).unwrap(),
        )
        .unwrap();
        let x = Mat::from_fn(6, d, |_, _| rng.random_range(0..8) as f64);
        let data = Sequences::single(x.as_ref()).unwrap();
        let log_b = Mat::from_fn(6, k, |t, j| {
            (0..d).map(|c| log_pmf(x[(t, c)], rates[(j, c)])).sum()
        });
        let brute = brute_force(model.start_probs(), &model.transitions().to_owned(), &log_b);
        assert!((model.score(&data).unwrap() - brute.loglik).abs() < 1e-11 * brute.loglik.abs());
        assert!(max_abs_diff(&model.predict_proba(&data).unwrap(), &brute.gamma) < 1e-11);
        let dec = model.decode(&data).unwrap();
        assert_eq!(dec.states, brute.best_path);
        // M-step: rates are posterior-weighted means.
        let e = model.e_step(&data).unwrap();
        let (next, _) = model.m_step(&e.stats, &MStepOptions::default()).unwrap();
        for j in 0..k {
            let mass: f64 = (0..6).map(|t| brute.gamma[(t, j)]).sum();
            for c in 0..d {
                let s: f64 = (0..6).map(|t| brute.gamma[(t, j)] * x[(t, c)]).sum();
                assert!((next.emission().rates()[(j, c)] - s / mass).abs() < 1e-11);
            }
        }
    }
}

#[test]
fn poisson_fit_is_monotone_and_recovers_states() {
    let truth = PoissonHmm::new(
        vec![0.5, 0.5],
        mat![[0.95, 0.05], [0.1, 0.9]].as_ref(),
        PoissonEmission::new(mat![[1.0, 8.0], [6.0, 0.5]]).unwrap(),
    )
    .unwrap();
    let mut rng = StdRng::seed_from_u64(22);
    let (x, z) = truth.sample(2000, &mut rng).unwrap();
    let data = Sequences::new(x.as_ref(), &[500, 500, 1000]).unwrap();
    let config = InitConfig::new(2, PoissonInit::default());
    let mut model = PoissonHmm::init_from_data(&data, &config, &mut StdRng::seed_from_u64(1)).unwrap();
    let mut previous = f64::NEG_INFINITY;
    for _ in 0..50 {
        let e = model.e_step(&data).unwrap();
        assert!(e.log_likelihood >= previous - 1e-9 * previous.abs());
        previous = e.log_likelihood;
        model = model.m_step(&e.stats, &MStepOptions::default()).unwrap().0;
    }
    let m = match_labels(&model.predict(&data).unwrap(), &z, 2).unwrap();
    assert!(m.accuracy > 0.97, "{}", m.accuracy);
    assert_eq!(model.n_parameters(), 1 + 2 + 4);
    let bad = mat![[1.0, 2.0], [0.5, 1.0]];
    let data = Sequences::new(bad.as_ref(), &[2]).unwrap();
    assert!(matches!(
        model.score(&data),
        Err(HmmError::InvalidCount { time: 1, col: 0, .. })
    ));
}
