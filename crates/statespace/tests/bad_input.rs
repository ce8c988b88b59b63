//! Bad input: typed errors or documented behaviour, never a panic or NaN.

mod common;

use common::random_model;
use faer::{Mat, mat};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use statespace::em_core::{Adjustment, Diagnostics};
use statespace::{
    EmModel, InferenceOptions, InitConfig, LearnSet, LinearGaussianSsm, MStepOptions, Matrix, Param,
    Parameters, StateSpaceError, SufficientStats, split_sequences,
};

fn base() -> Parameters {
    Parameters {
        a: mat![[0.9, 0.1], [0.0, 0.8]],
        q: mat![[0.2, 0.05], [0.05, 0.1]],
        h: mat![[1.0, 0.0]],
        r: mat![[0.5]],
        m0: vec![0.0, 0.0],
        p0: mat![[1.0, 0.0], [0.0, 1.0]],
    }
}

fn build(p: Parameters) -> Result<LinearGaussianSsm, StateSpaceError> {
    LinearGaussianSsm::from_parameters(p)
}

#[test]
fn mismatched_shapes_name_the_matrix() {
    assert!(build(base()).is_ok());
    let err = build(Parameters {
        q: mat![[1.0]],
        ..base()
    })
    .unwrap_err();
    assert!(matches!(
        err,
        StateSpaceError::Shape {
            matrix: Matrix::Param(Param::Q),
            expected_rows: 2,
            rows: 1,
            ..
        }
    ));
    let err = build(Parameters {
        h: mat![[1.0, 0.0, 0.0]],
        ..base()
    })
    .unwrap_err();
    assert!(matches!(
        err,
        StateSpaceError::Shape {
            matrix: Matrix::Param(Param::H),
            ..
        }
    ));
    let err = build(Parameters {
        m0: vec![0.0],
        ..base()
    })
    .unwrap_err();
    assert!(matches!(
        err,
        StateSpaceError::Shape {
            matrix: Matrix::Param(Param::M0),
            ..
        }
    ));
    let err = build(Parameters {
        r: mat![[1.0, 0.0], [0.0, 1.0]],
        ..base()
    })
    .unwrap_err();
    assert!(matches!(
        err,
        StateSpaceError::Shape {
            matrix: Matrix::Param(Param::R),
            ..
        }
    ));
    let err = build(Parameters {
        a: Mat::zeros(0, 0),
        ..base()
    })
    .unwrap_err();
    assert!(matches!(
        err,
        StateSpaceError::ZeroDimension {
            matrix: Matrix::Param(Param::A)
        }
    ));
    let err = build(Parameters {
        h: Mat::zeros(0, 2),
        r: Mat::zeros(0, 0),
        ..base()
    })
    .unwrap_err();
    assert!(matches!(
        err,
        StateSpaceError::ZeroDimension {
            matrix: Matrix::Param(Param::H)
        }
    ));
}

#[test]
fn non_spd_covariances_name_the_matrix_and_pivot() {
    let err = build(Parameters {
        q: mat![[1.0, 2.0], [2.0, 1.0]],
        ..base()
    })
    .unwrap_err();
    assert!(matches!(
        err,
        StateSpaceError::NotPositiveDefinite {
            matrix: Matrix::Param(Param::Q),
            pivot: 1,
            ..
        }
    ));
    let err = build(Parameters {
        r: mat![[0.0]],
        ..base()
    })
    .unwrap_err();
    assert!(matches!(
        err,
        StateSpaceError::NotPositiveDefinite {
            matrix: Matrix::Param(Param::R),
            pivot: 0,
            ..
        }
    ));
    let err = build(Parameters {
        p0: mat![[1.0, 0.0], [0.0, -1.0]],
        ..base()
    })
    .unwrap_err();
    assert!(matches!(
        err,
        StateSpaceError::NotPositiveDefinite {
            matrix: Matrix::Param(Param::P0),
            pivot: 1,
            ..
        }
    ));
}

#[test]
fn asymmetric_or_non_finite_parameters_name_the_entry() {
    let err = build(Parameters {
        q: mat![[1.0, 0.5], [0.4, 1.0]],
        ..base()
    })
    .unwrap_err();
    assert!(matches!(
        err,
        StateSpaceError::NotSymmetric {
            matrix: Matrix::Param(Param::Q),
            row: 1,
            col: 0
        }
    ));
    let err = build(Parameters {
        a: mat![[f64::NAN, 0.0], [0.0, 1.0]],
        ..base()
    })
    .unwrap_err();
    assert!(matches!(
        err,
        StateSpaceError::NonFiniteParameter {
            matrix: Matrix::Param(Param::A),
            row: 0,
            col: 0,
            ..
        }
    ));
    let err = build(Parameters {
        m0: vec![0.0, f64::INFINITY],
        ..base()
    })
    .unwrap_err();
    assert!(matches!(
        err,
        StateSpaceError::NonFiniteParameter {
            matrix: Matrix::Param(Param::M0),
            col: 1,
            ..
        }
    ));
    // Within the symmetry tolerance (1e-8 of the diagonal): accepted and
    // stored exactly symmetric; beyond it, rejected.
    for relative in [1e-14, 1e-9] {
        let q = mat![[0.2, 0.05], [0.05 + relative * 0.2, 0.1]];
        let model = build(Parameters { q, ..base() }).unwrap();
        assert_eq!(model.q()[(0, 1)], model.q()[(1, 0)]);
    }
    let q = mat![[0.2, 0.05], [0.05 + 1e-7 * 0.2, 0.1]];
    assert!(matches!(
        build(Parameters { q, ..base() }),
        Err(StateSpaceError::NotSymmetric {
            matrix: Matrix::Param(Param::Q),
            ..
        })
    ));
}

#[test]
fn the_builder_names_a_missing_matrix() {
    let p = base();
    let full = LinearGaussianSsm::builder()
        .a(p.a.as_ref())
        .q(p.q.as_ref())
        .h(p.h.as_ref())
        .r(p.r.as_ref())
        .m0(&p.m0)
        .p0(p.p0.as_ref());
    assert_eq!(full.build().unwrap(), build(base()).unwrap());
    let without_r = LinearGaussianSsm::builder()
        .a(p.a.as_ref())
        .q(p.q.as_ref())
        .h(p.h.as_ref())
        .m0(&p.m0)
        .p0(p.p0.as_ref());
    let err = without_r.build().unwrap_err();
    assert_eq!(err, StateSpaceError::MissingParameter { parameter: Param::R });
    assert_eq!(err.to_string(), "the model builder was not given R");
    assert!(matches!(
        LinearGaussianSsm::builder().build(),
        Err(StateSpaceError::MissingParameter { parameter: Param::A })
    ));
    // The builder validates as `from_parameters` does.
    let err = full.q(mat![[1.0]].as_ref()).build().unwrap_err();
    assert!(matches!(
        err,
        StateSpaceError::Shape {
            matrix: Matrix::Param(Param::Q),
            ..
        }
    ));
}

#[test]
fn bad_data_is_reported_with_sequence_and_position() {
    let model = random_model(2, 2, 1);
    let empty = Mat::<f64>::zeros(0, 2);
    assert!(matches!(
        model.filter(empty.as_ref()),
        Err(StateSpaceError::EmptySequence { sequence: 0 })
    ));
    let good = Mat::<f64>::zeros(3, 2);
    assert!(matches!(
        model.e_step(&[good.as_ref(), empty.as_ref()]),
        Err(StateSpaceError::EmptySequence { sequence: 1 })
    ));
    let wide = Mat::<f64>::zeros(3, 3);
    assert!(matches!(
        model.log_likelihood(&[wide.as_ref()]),
        Err(StateSpaceError::ObservationDimension {
            sequence: 0,
            expected: 2,
            found: 3
        })
    ));
    let mut inf = Mat::<f64>::zeros(4, 2);
    inf[(2, 1)] = f64::NEG_INFINITY;
    assert!(matches!(
        model.smooth(inf.as_ref()),
        Err(StateSpaceError::InfiniteObservation {
            sequence: 0,
            step: 2,
            coordinate: 1,
            ..
        })
    ));
    assert!(matches!(model.e_step(&[]), Err(StateSpaceError::NoSequences)));
    assert!(matches!(
        model.log_likelihood(&[]),
        Err(StateSpaceError::NoSequences)
    ));
}

#[test]
fn all_missing_data_filters_to_the_prior_but_cannot_be_learned_from() {
    let model = random_model(2, 2, 2);
    let y = Mat::<f64>::from_fn(5, 2, |_, _| f64::NAN);
    let f = model.filter(y.as_ref()).unwrap();
    assert_eq!(f.log_likelihood(), 0.0);
    // Filtered = predicted = prior propagation.
    for k in 0..5 {
        for i in 0..2 {
            assert_eq!(f.filtered_means()[(k, i)], f.predicted_means()[(k, i)]);
        }
    }
    let s = model.smooth(y.as_ref()).unwrap();
    assert!((0..5).all(|k| (0..2).all(|i| s.smoothed_means()[(k, i)].is_finite())));
    assert!(matches!(
        model.e_step(&[y.as_ref()]),
        Err(StateSpaceError::NoObservedValues)
    ));
    let mut rng = StdRng::seed_from_u64(1);
    assert!(matches!(
        LinearGaussianSsm::init_from_data(&[y.as_ref()], &InitConfig::new(2), &mut rng),
        Err(StateSpaceError::NoObservedValues)
    ));
}

#[test]
fn an_exploding_transition_is_reported_not_propagated() {
    // |A| = 1e30 per step: the covariance overflows within a few unobserved steps.
    let model = build(Parameters {
        a: mat![[1e30, 0.0], [0.0, 1e30]],
        ..base()
    })
    .unwrap();
    let mut y = Mat::<f64>::from_fn(40, 1, |_, _| f64::NAN);
    y[(0, 0)] = 1.0;
    for options in [InferenceOptions::exact(), InferenceOptions::steady_state()] {
        let m = model.clone().with_inference(options);
        let err = m.filter(y.as_ref()).unwrap_err();
        assert!(
            matches!(
                err,
                StateSpaceError::Diverged { sequence: 0, .. }
                    | StateSpaceError::InnovationNotPositiveDefinite { .. }
            ),
            "{err:?}"
        );
        assert!(m.e_step(&[y.as_ref()]).is_err());
        assert!(m.log_likelihood(&[y.as_ref()]).is_err());
    }
}

#[test]
fn m_step_rejects_foreign_or_broken_statistics_and_leaves_the_model_alone() {
    let model = random_model(2, 2, 3);
    let before = model.clone();
    let foreign = SufficientStats::zeros(3, 2);
    assert!(matches!(
        model.m_step(&foreign, &MStepOptions::default()),
        Err(StateSpaceError::StatisticsDimension { .. })
    ));
    // Only sequences of length 1: no transition to learn A or Q from.
    let mut rng = StdRng::seed_from_u64(4);
    let singles: Vec<Mat<f64>> = (0..3).map(|_| model.sample(1, &mut rng).unwrap().1).collect();
    let views: Vec<_> = singles.iter().map(|m| m.as_ref()).collect();
    let e = model.e_step(&views).unwrap();
    assert_eq!(e.stats.n_transitions(), 0);
    assert!(matches!(
        model.m_step(
            &e.stats,
            &MStepOptions::new(LearnSet::only(&[Param::A, Param::Q]))
        ),
        Err(StateSpaceError::NoTransitions)
    ));
    // ...but the initial state and the observation model can be learned.
    let options = MStepOptions::new(LearnSet::only(&[Param::H, Param::R, Param::M0, Param::P0]));
    let (next, _) = model.m_step(&e.stats, &options).unwrap();
    assert_eq!(next.a(), model.a());
    assert_eq!(model, before);
    let mut merged = SufficientStats::zeros(2, 2);
    assert!(merged.try_merge(&foreign).is_err());
}

#[test]
fn learning_nothing_returns_the_same_parameters() {
    let model = random_model(2, 3, 5);
    let mut rng = StdRng::seed_from_u64(6);
    let (_, y) = model.sample(20, &mut rng).unwrap();
    let e = model.e_step(&[y.as_ref()]).unwrap();
    let (same, diagnostics) = model
        .m_step(&e.stats, &MStepOptions::new(LearnSet::none()))
        .unwrap();
    assert_eq!(same, model);
    assert!(diagnostics.is_empty());
    assert_eq!(diagnostics.to_string(), "exact M-step");
}

#[test]
fn a_singular_update_is_floored_and_reported() {
    // Q learned from a model whose second state never moves and is observed
    // exactly (tiny R, P0): the transition residual of that state is ~0.
    let a = mat![[0.9, 0.0], [0.0, 1.0]];
    let q = mat![[0.1, 0.0], [0.0, 1e-300]];
    let h = mat![[1.0, 0.0], [0.0, 1.0]];
    let r = mat![[0.1, 0.0], [0.0, 0.1]];
    let p0 = mat![[1.0, 0.0], [0.0, 1e-300]];
    let model = LinearGaussianSsm::builder()
        .a(a.as_ref())
        .q(q.as_ref())
        .h(h.as_ref())
        .r(r.as_ref())
        .m0(&[0.0, 1.0])
        .p0(p0.as_ref())
        .build()
        .unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    let (_, y) = model.sample(50, &mut rng).unwrap();
    let e = model.e_step(&[y.as_ref()]).unwrap();
    let (next, diagnostics) = model
        .m_step(
            &e.stats,
            &MStepOptions::new(LearnSet::only(&[Param::A, Param::Q])),
        )
        .unwrap();
    assert!(!diagnostics.is_empty(), "expected a floor");
    assert!(diagnostics.events.iter().any(|e| e.parameter == Some(Param::Q)
        && matches!(e.adjustment, Adjustment::Floored { jitter, attempts } if jitter > 0.0 && attempts > 0)));
    // A floor may lower the likelihood: the fit loop must expect a fall.
    assert!(diagnostics.expects_fall());
    assert!(diagnostics.to_string().starts_with("Q floored"), "{diagnostics}");
    assert!((0..2).all(|i| (0..2).all(|j| next.q()[(i, j)].is_finite() && next.a()[(i, j)].is_finite())));
}

#[test]
fn split_sequences_checks_lengths() {
    let data = Mat::<f64>::zeros(5, 2);
    assert_eq!(split_sequences(data.as_ref(), &[2, 3]).unwrap().len(), 2);
    assert!(matches!(
        split_sequences(data.as_ref(), &[2, 2]),
        Err(StateSpaceError::LengthsMismatch { total: 4, rows: 5 })
    ));
    assert!(matches!(
        split_sequences(data.as_ref(), &[5, 0]),
        Err(StateSpaceError::EmptySequence { sequence: 1 })
    ));
    assert!(matches!(
        split_sequences(data.as_ref(), &[usize::MAX, 6]),
        Err(StateSpaceError::LengthsMismatch { .. })
    ));
}

#[test]
fn options_parse_and_reject_nonsense() {
    assert_eq!(
        "A, q,M0".parse::<LearnSet>().unwrap(),
        LearnSet::only(&[Param::A, Param::Q, Param::M0])
    );
    assert_eq!("p0,h".parse::<LearnSet>().unwrap().to_string(), "H,P0");
    assert_eq!("all".parse::<LearnSet>().unwrap(), LearnSet::all());
    assert_eq!("none".parse::<LearnSet>().unwrap(), LearnSet::none());
    assert_eq!(LearnSet::all().to_string(), "A,Q,H,R,m0,P0");
    assert_eq!(LearnSet::only(&[Param::Q, Param::A]).to_string(), "A,Q");
    let err = "A,B".parse::<LearnSet>().unwrap_err();
    assert_eq!(err.name, "B");
    assert!(err.to_string().contains("A, Q, H, R, m0, P0"), "{err}");
    assert!(statespace::CovStructure::parse("diag").is_ok());
    assert!(statespace::CovStructure::parse("banded").is_err());
    let mut rng = StdRng::seed_from_u64(8);
    let y = Mat::<f64>::zeros(3, 2);
    assert!(matches!(
        LinearGaussianSsm::init_from_data(&[y.as_ref()], &InitConfig::new(0), &mut rng),
        Err(StateSpaceError::ZeroDimension { .. })
    ));
    assert!(matches!(
        LinearGaussianSsm::init_from_data(&[y.as_ref()], &InitConfig::new(2).with_a_jitter(-1.0), &mut rng),
        Err(StateSpaceError::InvalidOption { .. })
    ));
    // A hostile state dimension fails fast instead of exhausting memory.
    assert!(matches!(
        LinearGaussianSsm::init_from_data(&[y.as_ref()], &InitConfig::new(100_000), &mut rng),
        Err(StateSpaceError::InvalidOption {
            option: "state_dim",
            ..
        })
    ));
}

/// The local-level model `x_k = x_{k-1} + w`, `y_k = x_k + v`, with
/// transition `a` and initial mean `m0`.
fn local_level(a: f64, m0: f64) -> LinearGaussianSsm {
    build(Parameters {
        a: mat![[a]],
        q: mat![[1.0]],
        h: mat![[1.0]],
        r: mat![[1.0]],
        m0: vec![m0],
        p0: mat![[1.0]],
    })
    .unwrap()
}

#[test]
fn an_overflowing_log_likelihood_is_an_error_naming_sequence_and_step() {
    let model = local_level(0.5, 0.0);
    let fine = mat![[0.0], [1.0], [2.0]];
    let huge = mat![[0.0], [1e308], [2.0]];
    let err = model.log_likelihood(&[fine.as_ref(), huge.as_ref()]).unwrap_err();
    assert!(
        matches!(
            err,
            StateSpaceError::LogLikelihoodOverflow { sequence: 1, step: 1 }
        ),
        "{err:?}"
    );
    // The message counts from 1: the second sequence, its second step.
    assert!(err.to_string().contains("sequence 2, step 2"), "{err}");
    // The E-step and the filter say the same, for each of their paths.
    let e = model.e_step(&[huge.as_ref()][..]).unwrap_err();
    assert!(
        matches!(e, StateSpaceError::LogLikelihoodOverflow { sequence: 0, step: 1 }),
        "{e:?}"
    );
    for inference in [InferenceOptions::default(), InferenceOptions::steady_state()] {
        let model = local_level(0.5, 0.0).with_inference(inference);
        let e = model.filter(huge.as_ref()).unwrap_err();
        assert!(
            matches!(e, StateSpaceError::LogLikelihoodOverflow { step: 1, .. }),
            "{e:?}"
        );
    }
    // An initial mean near the largest float: the first step overflows.
    let far = local_level(0.5, 1e308);
    let err = far.log_likelihood(&[fine.as_ref()]).unwrap_err();
    assert!(
        matches!(
            err,
            StateSpaceError::LogLikelihoodOverflow { sequence: 0, step: 0 }
        ),
        "{err:?}"
    );
}

#[test]
fn sampling_an_unstable_model_that_overflows_is_an_error_naming_the_step() {
    // x_k = 2 x_{k-1} + w: |x_k| ~ 2^k overflows near k = 1024.
    let model = local_level(2.0, 0.0);
    let mut rng = StdRng::seed_from_u64(1);
    let err = model.sample(1200, &mut rng).unwrap_err();
    match err {
        StateSpaceError::SampleOverflow {
            sequence: 0,
            step,
            what,
        } => {
            assert!((1000..1100).contains(&step), "step {step}");
            assert!(what == "state" || what == "observation");
        }
        other => panic!("{other:?}"),
    }
    let err = model.sample_sequences(&[10, 1200], &mut rng).unwrap_err();
    assert!(
        matches!(err, StateSpaceError::SampleOverflow { sequence: 1, .. }),
        "{err:?}"
    );
    // A short stretch of the same model is finite and returned.
    let (x, y) = model.sample(100, &mut rng).unwrap();
    assert!(x.col(0).iter().chain(y.col(0).iter()).all(|v| v.is_finite()));
}

/// Inputs whose length or width does not match, non-finite inputs, a model
/// with inputs given none, and input blocks of the wrong shape: typed
/// errors that name the sequence, step and input (or the block), never a
/// panic; the model is left as it was.
#[test]
fn bad_inputs_are_typed_errors() {
    use statespace::em::WithInputs;
    use statespace::{InputParam, InputParameters, Sequence};
    let model = common::random_model_with_inputs(2, 2, 3, 91);
    let before = model.clone();
    let mut rng = StdRng::seed_from_u64(92);
    let u = Mat::<f64>::from_fn(6, 3, |_, _| rng.random_range(-1.0..1.0));
    let (_, y) = model.sample_with_inputs(u.as_ref(), &mut rng).unwrap();
    let short = u.subrows(0, 5);
    assert_eq!(
        model.filter_with_inputs(y.as_ref(), short).unwrap_err(),
        StateSpaceError::InputSteps {
            sequence: 0,
            steps: 6,
            found: 5
        }
    );
    assert_eq!(
        model.smooth_with_inputs(y.as_ref(), u.subcols(0, 2)).unwrap_err(),
        StateSpaceError::InputDimension {
            sequence: 0,
            expected: 3,
            found: 2
        }
    );
    let mut nan = u.clone();
    nan[(4, 1)] = f64::NAN;
    assert!(matches!(
        model.filter_with_inputs(y.as_ref(), nan.as_ref()).unwrap_err(),
        StateSpaceError::NonFiniteInput { sequence: 0, step: 4, input: 1, value } if value.is_nan()
    ));
    assert_eq!(
        model.filter(y.as_ref()).unwrap_err(),
        StateSpaceError::MissingInputs {
            sequence: 0,
            expected: 3
        }
    );
    assert_eq!(
        model.sample(4, &mut rng).unwrap_err(),
        StateSpaceError::MissingInputs {
            sequence: 0,
            expected: 3
        }
    );
    let data = [
        Sequence::with_inputs(y.as_ref(), u.as_ref()),
        Sequence::with_inputs(y.as_ref(), short),
    ];
    assert_eq!(
        WithInputs(model.clone()).e_step(&data[..]).unwrap_err(),
        StateSpaceError::InputSteps {
            sequence: 1,
            steps: 6,
            found: 5
        }
    );
    assert_eq!(
        model.log_likelihood_of(&data).unwrap_err(),
        StateSpaceError::InputSteps {
            sequence: 1,
            steps: 6,
            found: 5
        }
    );
    // Statistics of another input dimension.
    let foreign = SufficientStats::zeros_with_inputs(2, 2, 1);
    assert_eq!(
        WithInputs(model.clone())
            .m_step(&foreign, &MStepOptions::default())
            .unwrap_err(),
        StateSpaceError::StatisticsInputs {
            stats_inputs: 1,
            inputs: 3
        }
    );
    // Blocks of the wrong shape or with a non-finite entry.
    let good = model.input_parameters();
    let cases = [
        (
            InputParameters {
                b: Mat::zeros(3, 3),
                ..good.clone()
            },
            InputParam::B,
        ),
        (
            InputParameters {
                d: Mat::zeros(2, 2),
                ..good.clone()
            },
            InputParam::D,
        ),
        (
            InputParameters {
                transition_offset: vec![0.0; 3],
                ..good.clone()
            },
            InputParam::TransitionOffset,
        ),
        (
            InputParameters {
                observation_offset: vec![f64::INFINITY, 0.0],
                ..good.clone()
            },
            InputParam::ObservationOffset,
        ),
    ];
    for (inputs, block) in cases {
        let err = model.clone().with_inputs(inputs).unwrap_err();
        let named = match err {
            StateSpaceError::Shape { matrix, .. } | StateSpaceError::NonFiniteParameter { matrix, .. } => {
                matrix
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(named, Matrix::Input(block));
    }
    assert_eq!(model, before);
}
