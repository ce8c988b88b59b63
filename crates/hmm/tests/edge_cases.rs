//! Bad input, impossible sequences, underflow, structural zeros, determinism.

mod common;

use common::{brute_force, with_threads};
use faer::{Mat, mat};
use hmm::em_core::{Adjustment, Event};
use hmm::{
    CategoricalEmission, CategoricalHmm, EmModel, HmmError, LearnSet, MStepOptions, Param, Sequences, Table,
};

fn two_state(start: Vec<f64>, a: Mat<f64>, b: Mat<f64>) -> Result<CategoricalHmm, HmmError> {
    CategoricalHmm::new(start, a.as_ref(), CategoricalEmission::new(b)?)
}

#[test]
fn invalid_parameters_are_typed_errors() {
    let b = mat![[0.5, 0.5], [0.5, 0.5]];
    assert!(matches!(
        two_state(vec![0.5, 0.5], mat![[0.9, 0.2], [0.5, 0.5]], b.clone()),
        Err(HmmError::RowSum {
            table: Table::Transitions,
            row: 0,
            ..
        })
    ));
    assert!(matches!(
        two_state(vec![0.5, 0.5], mat![[1.1, -0.1], [0.5, 0.5]], b.clone()),
        Err(HmmError::InvalidProbability {
            table: Table::Transitions,
            row: 0,
            col: 1,
            ..
        })
    ));
    assert!(matches!(
        two_state(vec![0.7, 0.5], mat![[0.5, 0.5], [0.5, 0.5]], b.clone()),
        Err(HmmError::RowSum {
            table: Table::Start,
            ..
        })
    ));
    assert!(matches!(
        two_state(vec![f64::NAN, 0.5], mat![[0.5, 0.5], [0.5, 0.5]], b.clone()),
        Err(HmmError::InvalidProbability {
            table: Table::Start,
            ..
        })
    ));
    assert!(matches!(
        two_state(vec![1.0], mat![[0.5, 0.5], [0.5, 0.5]], b.clone()),
        Err(HmmError::DimensionMismatch { .. })
    ));
    assert!(matches!(
        two_state(vec![0.5, 0.5], mat![[1.0]], b.clone()),
        Err(HmmError::DimensionMismatch { .. })
    ));
    assert!(matches!(
        CategoricalEmission::new(Mat::zeros(0, 3)),
        Err(HmmError::NoStates)
    ));
    assert!(matches!(
        two_state(
            vec![0.5, 0.5],
            mat![[0.5, 0.5], [0.5, 0.5]],
            mat![[0.5, 0.6], [0.5, 0.5]]
        ),
        Err(HmmError::RowSum {
            table: Table::EmissionProbabilities,
            ..
        })
    ));
}

#[test]
fn wrong_dimensions_and_symbols_are_errors_everywhere() {
    let model = two_state(
        vec![0.5, 0.5],
        mat![[0.5, 0.5], [0.5, 0.5]],
        mat![[0.5, 0.5], [0.5, 0.5]],
    )
    .unwrap();
    let x2 = Mat::<f64>::zeros(4, 2);
    let data = Sequences::new(x2.as_ref(), &[4]).unwrap();
    assert!(matches!(
        model.e_step(&data),
        Err(HmmError::DimensionMismatch { .. })
    ));
    assert!(matches!(
        model.score(&data),
        Err(HmmError::DimensionMismatch { .. })
    ));
    assert!(matches!(
        model.predict(&data),
        Err(HmmError::DimensionMismatch { .. })
    ));
    let x = mat![[0.0], [1.0], [0.5]];
    let data = Sequences::new(x.as_ref(), &[3]).unwrap();
    for err in [
        model.e_step(&data).err(),
        model.score(&data).err(),
        model.predict(&data).err(),
        model.predict_proba(&data).err(),
    ] {
        assert!(matches!(err, Some(HmmError::SymbolOutOfRange { time: 2, .. })));
    }
}

#[test]
fn impossible_sequences_are_reported_not_nan() {
    // State 0 emits only symbol 0, state 1 only symbol 1, and 0 never moves to 1.
    let model = two_state(
        vec![1.0, 0.0],
        mat![[1.0, 0.0], [0.5, 0.5]],
        mat![[1.0, 0.0], [0.0, 1.0]],
    )
    .unwrap();
    let x = mat![[0.0], [0.0], [0.0], [1.0]];
    let data = Sequences::new(x.as_ref(), &[2, 2]).unwrap();
    // Scoring locates the impossible observation instead of returning −∞.
    let possible = Sequences::new(x.as_ref().subrows(0, 2), &[2]).unwrap();
    assert_eq!(model.score_sequences(&possible).unwrap(), vec![0.0]);
    for err in [model.score_sequences(&data).err(), model.score(&data).err()] {
        assert!(
            matches!(err, Some(HmmError::ZeroLikelihood { sequence: 1, time: 1 })),
            "{err:?}"
        );
    }
    assert!(matches!(
        model.e_step(&data),
        Err(HmmError::ZeroLikelihood { sequence: 1, time: 1 })
    ));
    assert!(matches!(
        model.decode(&data),
        Err(HmmError::ZeroLikelihood { sequence: 1, time: 1 })
    ));
    assert!(matches!(
        model.predict_proba(&data),
        Err(HmmError::ZeroLikelihood { sequence: 1, .. })
    ));
}

#[test]
fn rescaling_survives_tiny_scale_factors() {
    // State 0 explains symbol 1 with probability 1e-300 and state 1 (unreachable
    // from state 0) with probability ~1: the first scale factor underflows the
    // threshold and the step is rescaled over the reachable states.
    let tiny = 1e-300;
    let model = two_state(
        vec![1.0, 0.0],
        mat![[1.0, 0.0], [0.5, 0.5]],
        mat![[1.0 - tiny, tiny], [tiny, 1.0 - tiny]],
    )
    .unwrap();
    let x = mat![[0.0], [1.0], [1.0], [0.0]];
    let data = Sequences::new(x.as_ref(), &[4]).unwrap();
    let ll = model.score(&data).unwrap();
    let expected = 2.0 * tiny.ln() + 2.0 * (1.0 - tiny).ln();
    assert!(
        (ll - expected).abs() < 1e-9 * expected.abs(),
        "{ll} vs {expected}"
    );
    let g = model.predict_proba(&data).unwrap();
    for t in 0..4 {
        assert_eq!(g[(t, 0)], 1.0);
        assert_eq!(g[(t, 1)], 0.0);
    }
    let e = model.e_step(&data).unwrap();
    assert!((e.log_likelihood - expected).abs() < 1e-9 * expected.abs());
    assert_eq!(e.stats.transition_counts()[(0, 1)], 0.0);
    assert!((e.stats.transition_counts()[(0, 0)] - 3.0).abs() < 1e-12);
}

#[test]
fn long_sequences_do_not_underflow() {
    // 20,000 steps: the probability of the sequence is far below f64's range.
    let model = two_state(
        vec![0.6, 0.4],
        mat![[0.9, 0.1], [0.2, 0.8]],
        mat![[0.7, 0.3], [0.1, 0.9]],
    )
    .unwrap();
    let x = Mat::<f64>::from_fn(20_000, 1, |i, _| ((i * 7919) % 3 == 0) as u8 as f64);
    let data = Sequences::single(x.as_ref()).unwrap();
    let ll = model.score(&data).unwrap();
    assert!(ll.is_finite() && ll < -5000.0);
    let e = model.e_step(&data).unwrap();
    assert_eq!(e.log_likelihood, ll);
    let total: f64 = (0..2)
        .map(|i| (0..2).map(|j| e.stats.transition_counts()[(i, j)]).sum::<f64>())
        .sum();
    assert!((total - 19_999.0).abs() < 1e-6);
    let g = model.predict_proba(&data).unwrap();
    for t in (0..20_000).step_by(997) {
        assert!((g[(t, 0)] + g[(t, 1)] - 1.0).abs() < 1e-12);
    }
}

#[test]
fn structural_zeros_stay_zero_under_em_and_priors() {
    let model = two_state(
        vec![1.0, 0.0],
        mat![[0.8, 0.2], [0.0, 1.0]],
        mat![[0.6, 0.3, 0.1], [0.1, 0.3, 0.6]],
    )
    .unwrap();
    let x = mat![[0.0], [1.0], [2.0], [2.0], [0.0], [0.0], [2.0]];
    let data = Sequences::new(x.as_ref(), &[4, 3]).unwrap();
    let options = MStepOptions {
        transition_prior: Some(Mat::from_fn(2, 2, |_, _| 3.0)),
        start_prior: Some(vec![2.0, 2.0]),
        ..MStepOptions::default()
    };
    let mut m = model;
    for _ in 0..10 {
        let e = m.e_step(&data).unwrap();
        m = m.m_step(&e.stats, &options).unwrap().0;
        assert_eq!(m.transitions()[(1, 0)], 0.0);
        assert_eq!(m.start_probs()[1], 0.0);
    }
}

#[test]
fn invalid_priors_and_options_are_rejected() {
    let model = two_state(
        vec![0.5, 0.5],
        mat![[0.5, 0.5], [0.5, 0.5]],
        mat![[0.5, 0.5], [0.5, 0.5]],
    )
    .unwrap();
    let x = mat![[0.0], [1.0]];
    let data = Sequences::single(x.as_ref()).unwrap();
    let e = model.e_step(&data).unwrap();
    let bad = MStepOptions {
        transition_prior: Some(mat![[1.0, 0.5], [1.0, 1.0]]),
        ..MStepOptions::default()
    };
    assert!(matches!(
        model.m_step(&e.stats, &bad),
        Err(HmmError::InvalidPrior {
            table: Table::Transitions,
            row: 0,
            col: 1,
            ..
        })
    ));
    let bad = MStepOptions {
        start_prior: Some(vec![1.0]),
        ..MStepOptions::default()
    };
    assert!(matches!(
        model.m_step(&e.stats, &bad),
        Err(HmmError::DimensionMismatch { .. })
    ));
    let bad = MStepOptions {
        covariance_floor: hmm::Floor::Absolute(f64::NAN),
        ..MStepOptions::default()
    };
    assert!(matches!(
        model.m_step(&e.stats, &bad),
        Err(HmmError::InvalidOption { .. })
    ));
}

#[test]
fn learn_flags_hold_parameters_fixed() {
    let model = two_state(
        vec![0.5, 0.5],
        mat![[0.6, 0.4], [0.3, 0.7]],
        mat![[0.8, 0.2], [0.3, 0.7]],
    )
    .unwrap();
    let x = mat![[0.0], [1.0], [1.0], [1.0], [0.0]];
    let data = Sequences::single(x.as_ref()).unwrap();
    let e = model.e_step(&data).unwrap();
    let options = MStepOptions::default().with_learn(
        LearnSet::all()
            .without(Param::Transitions)
            .without(Param::Probabilities),
    );
    let (next, diagnostics) = model.m_step(&e.stats, &options).unwrap();
    assert!(diagnostics.is_empty());
    assert_eq!(next.transitions().to_owned(), model.transitions().to_owned());
    assert_eq!(
        next.emission().probabilities().to_owned(),
        model.emission().probabilities().to_owned()
    );
    assert_ne!(next.start_probs(), model.start_probs());
    let none = MStepOptions::default().with_learn(LearnSet::none());
    let (same, _) = model.m_step(&e.stats, &none).unwrap();
    assert_eq!(same.start_probs(), model.start_probs());
}

#[test]
fn a_state_never_left_keeps_its_row_and_is_reported() {
    // State 1 is unreachable: no posterior mass, its rows are kept.
    let model = two_state(
        vec![1.0, 0.0],
        mat![[1.0, 0.0], [0.3, 0.7]],
        mat![[0.5, 0.5], [0.9, 0.1]],
    )
    .unwrap();
    let x = mat![[0.0], [1.0], [1.0]];
    let data = Sequences::single(x.as_ref()).unwrap();
    let e = model.e_step(&data).unwrap();
    let (next, diagnostics) = model.m_step(&e.stats, &MStepOptions::default()).unwrap();
    // Exactly two events: state 1's transition row and emission row kept.
    assert_eq!(
        diagnostics.events,
        vec![
            Event::new(Some(Param::Transitions), Adjustment::KeptWithoutMass).in_state(1),
            Event::new(Some(Param::Probabilities), Adjustment::KeptWithoutMass).in_state(1),
        ]
    );
    assert_eq!(diagnostics.states(Adjustment::KeptWithoutMass), vec![1]);
    assert!(!diagnostics.is_empty());
    assert!(diagnostics.to_string().contains("state 2"), "{diagnostics}");
    assert_eq!(next.transitions()[(1, 0)], 0.3);
    assert_eq!(next.emission().probabilities()[(1, 0)], 0.9);
    assert!((next.emission().probabilities()[(0, 1)] - 2.0 / 3.0).abs() < 1e-15);
}

#[test]
fn e_step_does_not_depend_on_the_thread_count() {
    let model = two_state(
        vec![0.6, 0.4],
        mat![[0.9, 0.1], [0.2, 0.8]],
        mat![[0.7, 0.3], [0.1, 0.9]],
    )
    .unwrap();
    let lengths: Vec<usize> = (0..400).map(|i| 5 + (i * 31) % 40).collect();
    let n: usize = lengths.iter().sum();
    let x = Mat::<f64>::from_fn(n, 1, |i, _| ((i * 7919 + i / 3) % 5 < 2) as u8 as f64);
    let data = Sequences::new(x.as_ref(), &lengths).unwrap();
    assert!(data.chunks().len() > 2);
    let run = |threads: usize| {
        with_threads(threads, || {
            let e = model.e_step(&data).unwrap();
            let path = model.predict(&data).unwrap();
            (e.log_likelihood, e.stats, path)
        })
    };
    let (l1, s1, p1) = run(1);
    let (l3, s3, p3) = run(3);
    assert_eq!(l1.to_bits(), l3.to_bits());
    assert_eq!(s1, s3);
    assert_eq!(p1, p3);
}

#[test]
fn sampling_and_information_criteria() {
    use rand::SeedableRng;
    let model = two_state(
        vec![0.6, 0.4],
        mat![[0.9, 0.1], [0.0, 1.0]],
        mat![[0.7, 0.3], [0.1, 0.9]],
    )
    .unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    assert!(matches!(model.sample(0, &mut rng), Err(HmmError::ZeroLength)));
    let (x, z) = model.sample(500, &mut rng).unwrap();
    assert_eq!((x.nrows(), x.ncols(), z.len()), (500, 1, 500));
    // Structural zero: once in state 1, never back to 0.
    let first_one = z.iter().position(|&s| s == 1).unwrap_or(500);
    assert!(z[first_one..].iter().all(|&s| s == 1));
    // start 1 + transitions (1 + 0) + emissions 2 x 1.
    assert_eq!(model.n_parameters(), 4);
    let data = Sequences::single(x.as_ref()).unwrap();
    let ll = model.score(&data).unwrap();
    assert!((model.aic(&data).unwrap() - (-2.0 * ll + 8.0)).abs() < 1e-9);
    assert!((model.bic(&data).unwrap() - (-2.0 * ll + 4.0 * 500f64.ln())).abs() < 1e-9);
    // Viterbi on the exact small case agrees with the brute force.
    let short = x.as_ref().subrows(0, 6).to_owned();
    let data = Sequences::single(short.as_ref()).unwrap();
    let log_b = Mat::from_fn(6, 2, |t, j| {
        model.emission().probabilities()[(j, short[(t, 0)] as usize)].ln()
    });
    let brute = brute_force(model.start_probs(), &model.transitions().to_owned(), &log_b);
    let d = model.decode(&data).unwrap();
    assert_eq!(d.states, brute.best_path);
    assert!((d.log_prob() - brute.best_logp).abs() < 1e-12);
}
