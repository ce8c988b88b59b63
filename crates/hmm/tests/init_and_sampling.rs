//! Initialisation from data, sampling, Gaussian bad input.

mod common;

use common::with_threads;

use faer::{Mat, mat};
use hmm::{
    CategoricalEmission, CategoricalHmm, CategoricalInit, EmModel, Emission, GaussianEmission, GaussianHmm,
    GaussianInit, GmmEmission, GmmHmm, GmmInit, HmmError, InitConfig, Iteration, MStepOptions, Sequences,
    match_labels,
};
use mixture::{CovarianceType, Covariances, MixtureError};
use rand::{SeedableRng, rngs::StdRng};

fn two_state_gaussian() -> GaussianHmm {
    let emission = GaussianEmission::new(
        mat![[-3.0, 0.0], [3.0, 1.0]],
        Covariances::Full(vec![mat![[1.0, 0.3], [0.3, 0.5]], mat![[0.7, -0.2], [-0.2, 1.2]]]),
    )
    .unwrap();
    GaussianHmm::new(vec![0.5, 0.5], mat![[0.9, 0.1], [0.2, 0.8]].as_ref(), emission).unwrap()
}

#[test]
fn gaussian_sampling_has_the_model_moments() {
    let model = two_state_gaussian();
    let mut rng = StdRng::seed_from_u64(5);
    let (x, z) = model.sample(20_000, &mut rng).unwrap();
    for j in 0..2 {
        let rows: Vec<usize> = (0..x.nrows()).filter(|&t| z[t] == j).collect();
        let n = rows.len() as f64;
        let mean: Vec<f64> = (0..2)
            .map(|c| rows.iter().map(|&t| x[(t, c)]).sum::<f64>() / n)
            .collect();
        let cov = model.emission().state_covariance(j).unwrap();
        for c in 0..2 {
            assert!(
                (mean[c] - model.emission().means()[(j, c)]).abs() < 0.05,
                "state {j} mean"
            );
        }
        let c01 = rows
            .iter()
            .map(|&t| (x[(t, 0)] - mean[0]) * (x[(t, 1)] - mean[1]))
            .sum::<f64>()
            / n;
        assert!((c01 - cov[(0, 1)]).abs() < 0.05, "state {j} covariance");
    }
    // Transition frequencies.
    let stays = z.windows(2).filter(|w| w[0] == 0 && w[1] == 0).count() as f64;
    let from0 = z[..z.len() - 1].iter().filter(|&&s| s == 0).count() as f64;
    assert!((stays / from0 - 0.9).abs() < 0.02);
}

#[test]
fn gaussian_init_from_data_recovers_the_states() {
    let truth = two_state_gaussian();
    let mut rng = StdRng::seed_from_u64(6);
    let (x, z) = truth.sample(3000, &mut rng).unwrap();
    let lengths = vec![300; 10];
    let data = Sequences::new(x.as_ref(), &lengths).unwrap();
    for t in CovarianceType::ALL {
        let config = InitConfig::new(2, GaussianInit::new(t));
        let mut model = GaussianHmm::init_from_data(&data, &config, &mut StdRng::seed_from_u64(1)).unwrap();
        assert_eq!(model.emission().covariance_type(), t);
        assert_eq!(model.transitions()[(0, 1)], 0.5);
        let mut previous = f64::NEG_INFINITY;
        for _ in 0..30 {
            let e = model.e_step(&data).unwrap();
            assert!(e.log_likelihood >= previous - 1e-8 * previous.abs());
            previous = e.log_likelihood;
            model = model.m_step(&e.stats, &MStepOptions::default()).unwrap().0;
        }
        let m = match_labels(&model.predict(&data).unwrap(), &z, 2).unwrap();
        assert!(m.accuracy > 0.99, "{t:?}: {}", m.accuracy);
        // The same seed gives the same model.
        let again = GaussianHmm::init_from_data(&data, &config, &mut StdRng::seed_from_u64(1)).unwrap();
        let first = GaussianHmm::init_from_data(&data, &config, &mut StdRng::seed_from_u64(1)).unwrap();
        assert_eq!(again.emission(), first.emission());
    }
}

#[test]
fn init_errors_are_typed() {
    let x = mat![[1.0, 2.0], [1.0, 2.0], [1.0, 2.0], [3.0, 4.0]];
    let data = Sequences::new(x.as_ref(), &[4]).unwrap();
    let mut rng = StdRng::seed_from_u64(0);
    let config = |k| InitConfig::new(k, GaussianInit::new(CovarianceType::Diagonal));
    assert!(matches!(
        GaussianHmm::init_from_data(&data, &config(0), &mut rng),
        Err(HmmError::NoStates)
    ));
    assert!(matches!(
        GaussianHmm::init_from_data(&data, &config(3), &mut rng),
        Err(HmmError::Mixture {
            source: MixtureError::TooFewDistinctPoints { .. },
            ..
        })
    ));
    assert!(GaussianHmm::init_from_data(&data, &config(2), &mut rng).is_ok());
    let bad_start = config(2).with_start(vec![0.9, 0.2]);
    assert!(matches!(
        GaussianHmm::init_from_data(&data, &bad_start, &mut rng),
        Err(HmmError::RowSum { .. })
    ));
    let gmm = InitConfig::new(2, GmmInit::new(0, CovarianceType::Full));
    assert!(matches!(
        GmmHmm::init_from_data(&data, &gmm, &mut rng),
        Err(HmmError::Mixture {
            source: MixtureError::NoComponents,
            ..
        })
    ));
}

#[test]
fn gaussian_parameters_and_data_are_validated() {
    // Not positive definite: the mixture crate's error names the state.
    let err = GaussianEmission::new(
        mat![[0.0, 0.0], [1.0, 1.0]],
        Covariances::Full(vec![mat![[1.0, 0.0], [0.0, 1.0]], mat![[1.0, 2.0], [2.0, 1.0]]]),
    )
    .unwrap_err();
    assert!(matches!(
        err,
        HmmError::Mixture {
            source: MixtureError::NotPositiveDefinite { .. },
            ..
        }
    ));
    assert!(matches!(
        GaussianEmission::new(Mat::zeros(0, 2), Covariances::Spherical(vec![])),
        Err(HmmError::NoStates)
    ));
    let model = two_state_gaussian();
    let x = Mat::<f64>::zeros(5, 3);
    let data = Sequences::new(x.as_ref(), &[5]).unwrap();
    assert!(matches!(
        model.e_step(&data),
        Err(HmmError::DimensionMismatch {
            expected: 2,
            found: 3,
            ..
        })
    ));
    // GMM: weights validated per state.
    let err = GmmEmission::new(
        mat![[0.5, 0.6]],
        vec![mat![[0.0], [1.0]]],
        vec![Covariances::Spherical(vec![1.0, 1.0])],
    )
    .unwrap_err();
    assert!(matches!(err, HmmError::RowSum { row: 0, .. }));
    let err = GmmEmission::new(
        mat![[0.5, 0.5], [0.5, 0.5]],
        vec![mat![[0.0], [1.0]], mat![[0.0], [1.0]]],
        vec![
            Covariances::Spherical(vec![1.0, 1.0]),
            Covariances::Spherical(vec![1.0, -1.0]),
        ],
    )
    .unwrap_err();
    assert!(matches!(err, HmmError::Mixture { state: Some(1), .. }));
}

#[test]
fn gmm_sampling_and_thread_independence() {
    let truth = hmm::scenario::true_model();
    let mut rng = StdRng::seed_from_u64(9);
    let (x, z) = truth.sample(4000, &mut rng).unwrap();
    // State 0 emits around 5 and 10 (weights .6/.4): mean 7.
    let m0: Vec<f64> = (0..4000).filter(|&t| z[t] == 0).map(|t| x[(t, 0)]).collect();
    let mean0 = m0.iter().sum::<f64>() / m0.len() as f64;
    assert!((mean0 - 7.0).abs() < 0.3, "{mean0}");
    let lengths: Vec<usize> = (0..40).map(|_| 100).collect();
    let data = Sequences::new(x.as_ref(), &lengths).unwrap();
    let run = |threads: usize| {
        with_threads(threads, || {
            let e = truth.e_step(&data).unwrap();
            let (next, _) = truth.m_step(&e.stats, &MStepOptions::default()).unwrap();
            (
                e.log_likelihood,
                next.emission().clone(),
                truth.predict_proba(&data).unwrap(),
            )
        })
    };
    let (l1, e1, g1) = run(1);
    let (l2, e2, g2) = run(2);
    assert_eq!(l1.to_bits(), l2.to_bits());
    assert_eq!(e1, e2);
    assert_eq!(g1, g2);
    assert_eq!(truth.emission().n_parameters(), 2 * (1 + 2 + 2));
}

#[test]
fn categorical_init_from_data() {
    let x = mat![[0.0], [2.0], [1.0], [2.0]];
    let data = Sequences::new(x.as_ref(), &[2, 2]).unwrap();
    let config = InitConfig::new(3, CategoricalInit::default()).with_start(vec![1.0, 0.0, 0.0]);
    let model = CategoricalHmm::init_from_data(&data, &config, &mut StdRng::seed_from_u64(2)).unwrap();
    assert_eq!(model.emission().n_symbols(), 3);
    assert_eq!(model.start_probs(), &[1.0, 0.0, 0.0]);
    let mut bad = config.clone();
    bad.emission = CategoricalInit {
        n_symbols: Some(2),
        probabilities: None,
    };
    assert!(matches!(
        CategoricalHmm::init_from_data(&data, &bad, &mut StdRng::seed_from_u64(2)),
        Err(HmmError::SymbolOutOfRange {
            sequence: 0,
            time: 1,
            ..
        })
    ));
    let mut given = config;
    given.emission = CategoricalInit {
        n_symbols: None,
        probabilities: Some(Mat::from_fn(3, 3, |_, _| 1.0 / 3.0)),
    };
    let m = CategoricalHmm::init_from_data(&data, &given, &mut StdRng::seed_from_u64(2)).unwrap();
    assert_eq!(
        m.emission(),
        &CategoricalEmission::new(Mat::from_fn(3, 3, |_, _| 1.0 / 3.0)).unwrap()
    );
}

#[test]
fn dirichlet_priors_give_the_map_updates() {
    let truth = hmm::scenario::true_model();
    let mut rng = StdRng::seed_from_u64(10);
    let (x, _) = truth.sample(300, &mut rng).unwrap();
    let data = Sequences::new(x.as_ref(), &[100, 200]).unwrap();
    let e = truth.e_step(&data).unwrap();
    let options = MStepOptions {
        weight_prior: Some(Mat::from_fn(2, 2, |_, _| 3.0)),
        transition_prior: Some(mat![[2.0, 1.0], [1.0, 5.0]]),
        start_prior: Some(vec![1.0, 11.0]),
        ..MStepOptions::default()
    };
    let (next, _) = truth.m_step(&e.stats, &options).unwrap();
    for j in 0..2 {
        let mass = e.stats.emission().0[j].mass();
        let total: f64 = mass.iter().sum::<f64>() + 4.0;
        for m in 0..2 {
            assert!((next.emission().weights()[(j, m)] - (mass[m] + 2.0) / total).abs() < 1e-12);
        }
    }
    let counts = e.stats.transition_counts();
    let row0 = counts[(0, 0)] + counts[(0, 1)] + 1.0;
    assert!((next.transitions()[(0, 0)] - (counts[(0, 0)] + 1.0) / row0).abs() < 1e-12);
    let s = e.stats.start_counts();
    assert!((next.start_probs()[1] - (s[1] + 10.0) / (s[0] + s[1] + 10.0)).abs() < 1e-12);
    // Shapes of priors are checked.
    let bad = MStepOptions {
        weight_prior: Some(Mat::from_fn(2, 3, |_, _| 3.0)),
        ..MStepOptions::default()
    };
    assert!(matches!(
        truth.m_step(&e.stats, &bad),
        Err(HmmError::DimensionMismatch { .. })
    ));
    let bad = MStepOptions {
        weight_prior: Some(Mat::from_fn(2, 2, |_, _| 0.5)),
        ..MStepOptions::default()
    };
    assert!(matches!(
        truth.m_step(&e.stats, &bad),
        Err(HmmError::InvalidPrior { .. })
    ));
    // One full iteration equals E-step then M-step.
    let Iteration {
        model: a,
        log_likelihood: ll,
        ..
    } = truth.em_iteration(&data, &options).unwrap();
    assert_eq!(ll, e.log_likelihood);
    assert_eq!(a, next);
}

#[test]
fn categorical_emission_prior() {
    let model = CategoricalHmm::new(
        vec![1.0],
        mat![[1.0]].as_ref(),
        CategoricalEmission::new(mat![[0.5, 0.25, 0.25]]).unwrap(),
    )
    .unwrap();
    let x = mat![[0.0], [0.0], [1.0]];
    let data = Sequences::single(x.as_ref()).unwrap();
    let e = model.e_step(&data).unwrap();
    let options = MStepOptions {
        emission_prior: Some(mat![[1.0, 1.0, 3.0]]),
        ..MStepOptions::default()
    };
    let (next, _) = model.m_step(&e.stats, &options).unwrap();
    let p = next.emission().probabilities();
    assert!(
        (p[(0, 0)] - 0.4).abs() < 1e-15 && (p[(0, 1)] - 0.2).abs() < 1e-15 && (p[(0, 2)] - 0.4).abs() < 1e-15
    );
    assert_eq!(model.n_parameters(), 2);
}

#[test]
fn given_parameters_are_stored_bit_for_bit() {
    let p = vec![0.7, 0.2, 0.1]; // sums to 0.9999999999999999
    let a = mat![[0.7, 0.2, 0.1], [0.1, 0.7, 0.2], [0.2, 0.1, 0.7]];
    let b = mat![[0.7, 0.2, 0.1], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8]];
    let model = CategoricalHmm::new(
        p.clone(),
        a.as_ref(),
        CategoricalEmission::new(b.clone()).unwrap(),
    )
    .unwrap();
    assert_eq!(model.start_probs(), &p[..]);
    assert_eq!(model.transitions().to_owned(), a);
    assert_eq!(model.emission().probabilities().to_owned(), b);
    let w = mat![[0.7, 0.2, 0.1]];
    let gmm = GmmEmission::new(
        w.clone(),
        vec![mat![[0.0], [1.0], [2.0]]],
        vec![Covariances::Spherical(vec![1.0, 1.0, 1.0])],
    )
    .unwrap();
    assert_eq!(gmm.weights(), w);
}

#[test]
fn absurd_sizes_fail_fast() {
    let x = mat![[0.0], [1.0], [2.0], [3.0], [4.0], [5.0]];
    let data = Sequences::new(x.as_ref(), &[6]).unwrap();
    let gmm = InitConfig::new(2, GmmInit::new(100_000, CovarianceType::Diagonal));
    assert!(matches!(
        GmmHmm::init_from_data(&data, &gmm, &mut StdRng::seed_from_u64(0)),
        Err(HmmError::Mixture {
            source: MixtureError::TooFewSamples { .. },
            ..
        })
    ));
    let cat = InitConfig::new(
        2,
        CategoricalInit {
            n_symbols: Some(1_000_000_000),
            probabilities: None,
        },
    );
    assert!(matches!(
        CategoricalHmm::init_from_data(&data, &cat, &mut StdRng::seed_from_u64(0)),
        Err(HmmError::InvalidOption { .. })
    ));
    let huge = mat![[1e15]];
    let data = Sequences::new(huge.as_ref(), &[1]).unwrap();
    let cat = InitConfig::new(2, CategoricalInit::default());
    assert!(matches!(
        CategoricalHmm::init_from_data(&data, &cat, &mut StdRng::seed_from_u64(0)),
        Err(HmmError::InvalidOption { .. })
    ));
}
