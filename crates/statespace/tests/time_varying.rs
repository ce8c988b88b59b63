//! Time-varying matrices: typed errors for bad matrices (checked before
//! anything runs), the EM combinations that are refused, and EM with
//! time-varying blocks never lowering the log-likelihood (proptest).
//! Agreement with dense conditioning is in `oracle.rs`.

mod common;

use common::{StepMatrices, assert_spd, learn_set, random_model, random_model_with_inputs, refs};
use faer::{Mat, MatRef};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use statespace::em::WithInputs;
use statespace::{
    EmModel, InputLearnSet, InputParam, LearnSet, LinearGaussianSsm, MStepOptions, Matrix, Param, Sequence,
    StateSpaceError, TimeVarying,
};

const T: usize = 6;

struct Fixture {
    model: LinearGaussianSsm,
    y: Mat<f64>,
    matrices: StepMatrices,
}

fn fixture() -> Fixture {
    let model = random_model(2, 2, 5);
    let (_, y) = model.sample(T, &mut StdRng::seed_from_u64(6)).unwrap();
    Fixture {
        model,
        y,
        matrices: StepMatrices::random(2, 2, T, 7),
    }
}

/// Every entry point that takes a sequence reports `want` for it (the
/// filter, the smoother, the log-likelihood as sequence 1 after a good
/// one, the innovations, the E-step, sampling).
fn assert_rejected(f: &Fixture, tv: TimeVarying<'_>, want: &StateSpaceError) {
    let model = &f.model;
    let sequence = Sequence::new(f.y.as_ref()).with_time_varying(tv);
    assert_eq!(&model.filter_sequence(sequence).unwrap_err(), want);
    assert_eq!(&model.smooth_sequence(sequence).unwrap_err(), want);
    assert_eq!(&model.innovations(sequence).unwrap_err(), want);
    assert_eq!(
        &WithInputs(model.clone()).e_step(&[sequence][..]).unwrap_err(),
        want
    );
    assert_eq!(
        &model
            .sample_time_varying(T, None, &tv, &mut StdRng::seed_from_u64(1))
            .unwrap_err(),
        want
    );
    let good = Sequence::new(f.y.as_ref());
    let in_second = match want.clone() {
        StateSpaceError::TimeVaryingSteps {
            matrix,
            expected,
            found,
            ..
        } => StateSpaceError::TimeVaryingSteps {
            sequence: 1,
            matrix,
            expected,
            found,
        },
        StateSpaceError::TimeVaryingMatrix { step, error, .. } => StateSpaceError::TimeVaryingMatrix {
            sequence: 1,
            step,
            error,
        },
        other => panic!("not a time-varying error: {other}"),
    };
    assert_eq!(model.log_likelihood_of(&[good, sequence]).unwrap_err(), in_second);
}

#[test]
fn wrong_number_of_matrices_is_a_typed_error() {
    let f = fixture();
    // A and Q need T − 1 matrices, H and R need T.
    let a_many: Vec<MatRef<'_, f64>> = (0..T).map(|_| f.model.a()).collect();
    let a_too_many = TimeVarying {
        a: Some(&a_many),
        ..TimeVarying::default()
    };
    assert_rejected(
        &f,
        a_too_many,
        &StateSpaceError::TimeVaryingSteps {
            sequence: 0,
            matrix: Param::A,
            expected: T - 1,
            found: T,
        },
    );
    let h = refs(&f.matrices.h);
    let short = TimeVarying {
        h: Some(&h[..T - 1]),
        ..TimeVarying::default()
    };
    let want = StateSpaceError::TimeVaryingSteps {
        sequence: 0,
        matrix: Param::H,
        expected: T,
        found: T - 1,
    };
    assert_rejected(&f, short, &want);
    assert_eq!(
        want.to_string(),
        format!("sequence 1 has {} time-varying H matrices, expected {T}", T - 1)
    );
}

/// Gives `f`'s matrices of `block` only, changed by `change`, and checks
/// that they are rejected with `error` at step `step`; returns the error.
fn assert_bad_step(
    f: &Fixture,
    block: Param,
    change: impl FnOnce(&mut Vec<Mat<f64>>),
    step: usize,
    error: StateSpaceError,
) -> StateSpaceError {
    let mut matrices = match block {
        Param::A => f.matrices.a.clone(),
        Param::Q => f.matrices.q.clone(),
        Param::H => f.matrices.h.clone(),
        _ => f.matrices.r.clone(),
    };
    change(&mut matrices);
    let views = refs(&matrices);
    let given = |b: Param| (b == block).then_some(&views[..]);
    let tv = TimeVarying {
        a: given(Param::A),
        q: given(Param::Q),
        h: given(Param::H),
        r: given(Param::R),
    };
    let want = StateSpaceError::TimeVaryingMatrix {
        sequence: 0,
        step,
        error: Box::new(error),
    };
    assert_rejected(f, tv, &want);
    want
}

#[test]
fn bad_matrix_at_one_step_names_the_step_and_the_block() {
    let f = fixture();
    // Q_3 (the transition into step 3, entry 2) not positive definite.
    let not_spd = Mat::from_fn(2, 2, |i, j| if i == j { [1.0, -0.5][i] } else { 0.0 });
    let error = StateSpaceError::NotPositiveDefinite {
        matrix: Matrix::Param(Param::Q),
        pivot: 1,
        value: -0.5,
    };
    let want = assert_bad_step(&f, Param::Q, |q| q[2] = not_spd, 3, error);
    assert!(
        want.to_string()
            .starts_with("sequence 1, step 4: time-varying matrix Q is not positive definite"),
        "{want}"
    );
    // R_4 not symmetric.
    let error = StateSpaceError::NotSymmetric {
        matrix: Matrix::Param(Param::R),
        row: 1,
        col: 0,
    };
    assert_bad_step(&f, Param::R, |r| r[4][(0, 1)] += 0.5, 4, error);
    // H_0 of the wrong shape.
    let error = StateSpaceError::Shape {
        matrix: Matrix::Param(Param::H),
        expected_rows: 2,
        expected_cols: 2,
        rows: 2,
        cols: 3,
    };
    assert_bad_step(&f, Param::H, |h| h[0] = Mat::zeros(2, 3), 0, error);
    // A_5 (the last transition) with an infinite entry.
    let error = StateSpaceError::NonFiniteParameter {
        matrix: Matrix::Param(Param::A),
        row: 1,
        col: 0,
        value: f64::INFINITY,
    };
    assert_bad_step(&f, Param::A, |a| a[4][(1, 0)] = f64::INFINITY, 5, error);
}

/// The M-step of `model` on statistics from a sequence with the blocks
/// `varying` given as time-varying, learning `learn` and `inputs`.
fn m_step_error(varying: &[Param], learn: &[Param], inputs: &[InputParam]) -> Option<StateSpaceError> {
    let model = random_model_with_inputs(2, 2, 1, 11);
    let matrices = StepMatrices::random(2, 2, T, 12);
    let views: Vec<Vec<MatRef<'_, f64>>> = [&matrices.a, &matrices.q, &matrices.h, &matrices.r]
        .into_iter()
        .map(|m| refs(m))
        .collect();
    let given = |param: Param, i: usize| varying.contains(&param).then_some(&views[i][..]);
    let tv = TimeVarying {
        a: given(Param::A, 0),
        q: given(Param::Q, 1),
        h: given(Param::H, 2),
        r: given(Param::R, 3),
    };
    let u = Mat::<f64>::from_fn(T, 1, |k, _| (k as f64).sin());
    let (_, y) = model
        .sample_time_varying(T, Some(u.as_ref()), &tv, &mut StdRng::seed_from_u64(13))
        .unwrap();
    let sequence = Sequence::with_inputs(y.as_ref(), u.as_ref()).with_time_varying(tv);
    let start = WithInputs(model);
    let e = start.e_step(&[sequence][..]).unwrap();
    let options = MStepOptions::new(LearnSet::only(learn)).with_learn_inputs(InputLearnSet::only(inputs));
    start.m_step(&e.stats, &options).err()
}

#[test]
fn em_refuses_learning_time_varying_blocks_and_partners_of_varying_covariances() {
    use StateSpaceError::{TimeVaryingCombination, TimeVaryingLearned};
    assert_eq!(
        m_step_error(&[Param::A], &[Param::A], &[]),
        Some(TimeVaryingLearned { matrix: Param::A })
    );
    assert_eq!(
        m_step_error(&[Param::R], &[Param::H, Param::R], &[]),
        Some(TimeVaryingLearned { matrix: Param::R })
    );
    assert_eq!(
        m_step_error(&[Param::A, Param::Q], &[Param::M0], &[InputParam::B]),
        Some(TimeVaryingCombination {
            learned: InputParam::B.into(),
            varying: Param::Q
        })
    );
    assert_eq!(
        m_step_error(&[Param::H, Param::R], &[], &[InputParam::ObservationOffset]),
        Some(TimeVaryingCombination {
            learned: InputParam::ObservationOffset.into(),
            varying: Param::R
        })
    );
    let message = m_step_error(&[Param::H, Param::R], &[], &[InputParam::D])
        .unwrap()
        .to_string();
    assert_eq!(
        message,
        "cannot learn D while R is time-varying together with the coefficient of its regression (a weighted regression of the residual, which is not supported)"
    );
    // With the covariance alone time-varying, the coefficient blocks learn
    // (generalised least squares).
    assert_eq!(m_step_error(&[Param::Q], &[Param::A], &[InputParam::B]), None);
    assert_eq!(
        m_step_error(&[Param::R], &[Param::H], &[InputParam::ObservationOffset]),
        None
    );
    // The other regression, and the initial state, learn; so do the
    // covariance and the input blocks of a regression whose coefficient is
    // time-varying.
    let observation = [Param::H, Param::R, Param::M0, Param::P0];
    let both_inputs = [InputParam::D, InputParam::ObservationOffset];
    assert_eq!(
        m_step_error(&[Param::A, Param::Q], &observation, &both_inputs),
        None
    );
    let transition = [Param::A, Param::Q, Param::M0, Param::P0];
    let both_inputs = [InputParam::B, InputParam::TransitionOffset];
    assert_eq!(
        m_step_error(&[Param::H, Param::R], &transition, &both_inputs),
        None
    );
    let all_inputs = [
        InputParam::B,
        InputParam::TransitionOffset,
        InputParam::D,
        InputParam::ObservationOffset,
    ];
    assert_eq!(
        m_step_error(&[Param::A, Param::H], &[Param::Q, Param::R], &all_inputs),
        None
    );
}

/// The learned blocks allowed with the time-varying blocks `varying`
/// (bit 0 A, 1 Q, 2 H, 3 R), restricted to the blocks of `mask`
/// (`learn_set`'s bits) and the input blocks of `input_mask`.
fn allowed(varying: u8, mask: u8, input_mask: u8) -> (LearnSet, InputLearnSet) {
    // A regression learns its blocks that do not vary unless both its
    // coefficient and its covariance vary.
    let transition_free = varying & 0b0011 != 0b0011;
    let observation_free = varying & 0b1100 != 0b1100;
    let learn = learn_set(mask)
        .set(Param::A, varying & 1 == 0 && mask & 1 != 0)
        .set(Param::Q, varying & 2 == 0 && mask & 2 != 0)
        .set(Param::H, varying & 4 == 0 && mask & 4 != 0)
        .set(Param::R, varying & 8 == 0 && mask & 8 != 0);
    let inputs = InputLearnSet::only(&[])
        .set(InputParam::B, transition_free && input_mask & 1 != 0)
        .set(
            InputParam::TransitionOffset,
            transition_free && input_mask & 2 != 0,
        )
        .set(InputParam::D, observation_free && input_mask & 4 != 0)
        .set(
            InputParam::ObservationOffset,
            observation_free && input_mask & 8 != 0,
        );
    (learn, inputs)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// EM on sequences with time-varying blocks (any non-empty subset),
    /// inputs, offsets and missing values, learning any subset of the
    /// blocks it may learn: the log-likelihood never falls (steps without
    /// a floor), Q, R and P0 stay symmetric positive definite.
    #[test]
    fn em_with_time_varying_blocks_is_monotone(
        seed in 0u64..1_000,
        n in 1usize..=3,
        p in 1usize..=3,
        t in 4usize..=9,
        varying in 1u8..16,
        mask in 0u8..64,
        input_mask in 0u8..16,
        missing in prop::collection::vec((0usize..9, 0usize..3), 0..4),
    ) {
        let model = random_model_with_inputs(n, p, 1, seed);
        let matrices = StepMatrices::random(n, p, t, seed + 1);
        let views: Vec<Vec<MatRef<'_, f64>>> = [&matrices.a, &matrices.q, &matrices.h, &matrices.r]
            .into_iter()
            .map(|m| refs(m))
            .collect();
        let given = |bit: u8| (varying & (1 << bit) != 0).then_some(&views[bit as usize][..]);
        let tv = TimeVarying { a: given(0), q: given(1), h: given(2), r: given(3) };
        let mut rng = StdRng::seed_from_u64(seed + 2);
        let u = Mat::<f64>::from_fn(t, 1, |k, _| ((k + 1) as f64 * 0.7).cos());
        let (_, mut y) = model.sample_time_varying(t, Some(u.as_ref()), &tv, &mut rng).unwrap();
        for &(k, j) in &missing {
            if k < t && j < p {
                y[(k, j)] = f64::NAN;
            }
        }
        let data = [Sequence::with_inputs(y.as_ref(), u.as_ref()).with_time_varying(tv)];
        let (learn, inputs) = allowed(varying, mask, input_mask);
        let options = MStepOptions::new(learn).with_learn_inputs(inputs);
        let mut current = WithInputs(model);
        let mut previous: Option<(f64, bool)> = None;
        for step in 0..15 {
            let e = current.e_step(&data[..]).unwrap();
            if let Some((ll, true)) = previous {
                prop_assert!(
                    e.log_likelihood >= ll - 1e-9 * (1.0 + ll.abs()),
                    "learn {learn} step {step}: {} < {ll}", e.log_likelihood
                );
            }
            let (next, diagnostics) = current.m_step(&e.stats, &options).unwrap();
            assert_spd(next.0.q(), "Q");
            assert_spd(next.0.r(), "R");
            assert_spd(next.0.p0(), "P0");
            previous = Some((e.log_likelihood, diagnostics.is_empty()));
            current = next;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// EM learning Q, B, b with `A_k` given and R, D, d with `H_k` given
    /// (on two sequences, one with the matrices and one without, missing
    /// values included): the log-likelihood never falls (steps without a
    /// floor) and Q, R stay symmetric positive definite.
    #[test]
    fn em_with_given_coefficients_is_monotone(
        seed in 0u64..1_000,
        n in 1usize..=3,
        p in 1usize..=3,
        t in 3usize..=9,
        varying in 1u8..4,
        missing in prop::collection::vec((0usize..9, 0usize..3), 0..4),
    ) {
        let model = random_model_with_inputs(n, p, 1, seed);
        let matrices = StepMatrices::random(n, p, t, seed + 1);
        let (a, h) = (refs(&matrices.a), refs(&matrices.h));
        let tv = TimeVarying {
            a: (varying & 1 != 0).then_some(&a[..]),
            h: (varying & 2 != 0).then_some(&h[..]),
            ..TimeVarying::default()
        };
        let mut rng = StdRng::seed_from_u64(seed + 2);
        let u = Mat::<f64>::from_fn(t, 1, |k, _| ((k + 1) as f64 * 0.7).cos());
        let (_, mut y) = model.sample_time_varying(t, Some(u.as_ref()), &tv, &mut rng).unwrap();
        let (_, y2) = model.sample_with_inputs(u.as_ref(), &mut rng).unwrap();
        for &(k, j) in &missing {
            if k < t && j < p {
                y[(k, j)] = f64::NAN;
            }
        }
        let data = [
            Sequence::with_inputs(y.as_ref(), u.as_ref()).with_time_varying(tv),
            Sequence::with_inputs(y2.as_ref(), u.as_ref()),
        ];
        let options = MStepOptions::new(LearnSet::only(&[Param::Q, Param::R, Param::M0]))
            .with_learn_inputs(InputLearnSet::all());
        let mut current = WithInputs(model);
        let mut previous: Option<(f64, bool)> = None;
        for step in 0..15 {
            let e = current.e_step(&data[..]).unwrap();
            if let Some((ll, true)) = previous {
                prop_assert!(
                    e.log_likelihood >= ll - 1e-9 * (1.0 + ll.abs()),
                    "step {step}: {} < {ll}", e.log_likelihood
                );
            }
            let (next, diagnostics) = current.m_step(&e.stats, &options).unwrap();
            assert_spd(next.0.q(), "Q");
            assert_spd(next.0.r(), "R");
            previous = Some((e.log_likelihood, diagnostics.is_empty()));
            current = next;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// EM learning A, B, b with `Q_k` given and H, D, d with `R_k` given
    /// (generalised least squares; on two sequences, one with the
    /// covariances and one without, missing values included) and m0: the
    /// log-likelihood never falls (steps without a floor).
    #[test]
    fn em_with_given_covariances_is_monotone(
        seed in 0u64..1_000,
        n in 1usize..=3,
        p in 1usize..=3,
        t in 3usize..=9,
        varying in 1u8..4,
        missing in prop::collection::vec((0usize..9, 0usize..3), 0..4),
    ) {
        let model = random_model_with_inputs(n, p, 1, seed);
        let matrices = StepMatrices::random(n, p, t, seed + 1);
        let (q, r) = (refs(&matrices.q), refs(&matrices.r));
        let tv = TimeVarying {
            q: (varying & 1 != 0).then_some(&q[..]),
            r: (varying & 2 != 0).then_some(&r[..]),
            ..TimeVarying::default()
        };
        let mut rng = StdRng::seed_from_u64(seed + 2);
        let u = Mat::<f64>::from_fn(t, 1, |k, _| ((k + 1) as f64 * 0.7).cos());
        let (_, mut y) = model.sample_time_varying(t, Some(u.as_ref()), &tv, &mut rng).unwrap();
        let (_, y2) = model.sample_with_inputs(u.as_ref(), &mut rng).unwrap();
        for &(k, j) in &missing {
            if k < t && j < p {
                y[(k, j)] = f64::NAN;
            }
        }
        let data = [
            Sequence::with_inputs(y.as_ref(), u.as_ref()).with_time_varying(tv),
            Sequence::with_inputs(y2.as_ref(), u.as_ref()),
        ];
        let options = MStepOptions::new(LearnSet::only(&[Param::A, Param::H, Param::M0]))
            .with_learn_inputs(InputLearnSet::all());
        let mut current = WithInputs(model);
        let mut previous: Option<(f64, bool)> = None;
        for step in 0..15 {
            let e = current.e_step(&data[..]).unwrap();
            if let Some((ll, true)) = previous {
                prop_assert!(
                    e.log_likelihood >= ll - 1e-9 * (1.0 + ll.abs()),
                    "step {step}: {} < {ll}", e.log_likelihood
                );
            }
            let (next, diagnostics) = current.m_step(&e.stats, &options).unwrap();
            previous = Some((e.log_likelihood, diagnostics.is_empty()));
            current = next;
        }
    }
}

/// The weighted sums are mergeable: the M-step on the statistics of
/// sequences run one by one, merged through their flat form, equals the
/// M-step on the E-step of all of them (sequences with `Q_k`, with `R_k`,
/// with both, with neither).
#[test]
fn given_covariances_merge_across_parts() {
    use statespace::em_core::FlatStats;
    let f = fixture();
    let (q, r) = (refs(&f.matrices.q), refs(&f.matrices.r));
    let given = |q_given: bool, r_given: bool| TimeVarying {
        q: q_given.then_some(&q[..]),
        r: r_given.then_some(&r[..]),
        ..TimeVarying::default()
    };
    let (_, y2) = f.model.sample(T, &mut StdRng::seed_from_u64(9)).unwrap();
    let sequences = [
        Sequence::new(f.y.as_ref()).with_time_varying(given(true, false)),
        Sequence::new(y2.as_ref()),
        Sequence::new(y2.as_ref()).with_time_varying(given(false, true)),
        Sequence::new(f.y.as_ref()).with_time_varying(given(true, true)),
    ];
    let model = WithInputs(f.model.clone());
    let options = MStepOptions::new(LearnSet::only(&[Param::A, Param::H]));
    let all = model.e_step(&sequences[..]).unwrap().stats;
    let mut merged = statespace::SufficientStats::zeros(2, 2);
    for sequence in &sequences {
        let part = model.e_step(&[*sequence][..]).unwrap().stats;
        merged.merge(&statespace::SufficientStats::from_flat(&part.to_flat()).unwrap());
    }
    let (from_all, _) = model.m_step(&all, &options).unwrap();
    let (from_parts, _) = model.m_step(&merged, &options).unwrap();
    for (got, want) in [
        (from_parts.0.a(), from_all.0.a()),
        (from_parts.0.h(), from_all.0.h()),
    ] {
        assert!(common::max_diff(got, want) < 1e-12, "{got:?} vs {want:?}");
    }
    // The per-step covariances matter: without them the update differs.
    let plain: Vec<Sequence<'_>> = [f.y.as_ref(), y2.as_ref(), y2.as_ref(), f.y.as_ref()]
        .into_iter()
        .map(Sequence::new)
        .collect();
    let (without, _) = model
        .m_step(&model.e_step(&plain[..]).unwrap().stats, &options)
        .unwrap();
    assert!(common::max_diff(without.0.a(), from_all.0.a()) > 1e-6);
    assert!(common::max_diff(without.0.h(), from_all.0.h()) > 1e-6);
}

/// The residual sums are mergeable: the M-step on the statistics of
/// sequences run one by one, merged through their flat form, equals the
/// M-step on the E-step of all of them (sequences with `A_k`, with `H_k`,
/// with both, with neither).
#[test]
fn given_coefficients_merge_across_parts() {
    use statespace::em_core::FlatStats;
    let f = fixture();
    let (a, h) = (refs(&f.matrices.a), refs(&f.matrices.h));
    let given = |a_given: bool, h_given: bool| TimeVarying {
        a: a_given.then_some(&a[..]),
        h: h_given.then_some(&h[..]),
        ..TimeVarying::default()
    };
    let (_, y2) = f.model.sample(T, &mut StdRng::seed_from_u64(9)).unwrap();
    let sequences = [
        Sequence::new(f.y.as_ref()).with_time_varying(given(true, false)),
        Sequence::new(y2.as_ref()),
        Sequence::new(y2.as_ref()).with_time_varying(given(false, true)),
        Sequence::new(f.y.as_ref()).with_time_varying(given(true, true)),
    ];
    let model = WithInputs(f.model.clone());
    let options = MStepOptions::new(LearnSet::only(&[Param::Q, Param::R]));
    let all = model.e_step(&sequences[..]).unwrap().stats;
    let mut merged = statespace::SufficientStats::zeros(2, 2);
    for sequence in &sequences {
        let part = model.e_step(&[*sequence][..]).unwrap().stats;
        merged.merge(&statespace::SufficientStats::from_flat(&part.to_flat()).unwrap());
    }
    let (from_all, _) = model.m_step(&all, &options).unwrap();
    let (from_parts, _) = model.m_step(&merged, &options).unwrap();
    for (got, want) in [
        (from_parts.0.q(), from_all.0.q()),
        (from_parts.0.r(), from_all.0.r()),
    ] {
        assert!(common::max_diff(got, want) < 1e-12, "{got:?} vs {want:?}");
    }
    // The per-step matrices matter: without them the update differs.
    let plain: Vec<Sequence<'_>> = [f.y.as_ref(), y2.as_ref(), y2.as_ref(), f.y.as_ref()]
        .into_iter()
        .map(Sequence::new)
        .collect();
    let (without, _) = model
        .m_step(&model.e_step(&plain[..]).unwrap().stats, &options)
        .unwrap();
    assert!(common::max_diff(without.0.q(), from_all.0.q()) > 1e-6);
}

/// Sequences with and without time-varying matrices together: the
/// log-likelihood and the E-step are the sums over the sequences run
/// alone, and the statistics record the union of the varying blocks.
#[test]
fn sequences_with_and_without_time_varying_matrices_add_up() {
    let f = fixture();
    let (a, r) = (refs(&f.matrices.a), refs(&f.matrices.r));
    let with_a = TimeVarying {
        a: Some(&a),
        ..TimeVarying::default()
    };
    let with_r = TimeVarying {
        r: Some(&r),
        ..TimeVarying::default()
    };
    let (_, y2) = f.model.sample(T, &mut StdRng::seed_from_u64(8)).unwrap();
    let sequences = [
        Sequence::new(f.y.as_ref()).with_time_varying(with_a),
        Sequence::new(y2.as_ref()),
        Sequence::new(y2.as_ref()).with_time_varying(with_r),
    ];
    let model = WithInputs(f.model.clone());
    let all = model.e_step(&sequences[..]).unwrap();
    let mut total = 0.0;
    for sequence in &sequences {
        let alone = model.e_step(&[*sequence][..]).unwrap();
        assert_eq!(
            alone.log_likelihood,
            f.model.log_likelihood_of(&[*sequence]).unwrap()
        );
        total += alone.log_likelihood;
    }
    assert!((all.log_likelihood - total).abs() < 1e-12 * total.abs());
    assert_eq!(all.log_likelihood, f.model.log_likelihood_of(&sequences).unwrap());
    // The matrices change the result: the same data without them differ.
    let plain = f.model.log_likelihood_of(&[Sequence::new(f.y.as_ref())]).unwrap();
    assert_ne!(plain, f.model.log_likelihood_of(&sequences[..1]).unwrap());
    assert_eq!(all.stats.time_varying(), LearnSet::only(&[Param::A, Param::R]));
}
