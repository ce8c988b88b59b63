//! EM with inputs and offsets: every subset of learned input blocks (with
//! the transition and observation blocks around them) never lowers the
//! log-likelihood and keeps Q and R symmetric positive definite (proptest,
//! so failures shrink); the M-step recovers B, D and the offsets; the flat
//! view of the input blocks round-trips.

mod common;

use common::{assert_spd, learn_set, random_model, random_model_with_inputs};
use faer::Mat;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use statespace::em::WithInputs;
use statespace::em_core::Parameter;
use statespace::{
    EmModel, InputLearnSet, InputParam, InputParameters, MStepOptions, Sequence, Settings, Start,
};

const EM_STEPS: usize = 12;

/// The input learn set whose bit i is set in `mask` for `InputParam::ALL[i]`.
fn input_set(mask: u8) -> InputLearnSet {
    InputParam::ALL
        .iter()
        .enumerate()
        .fold(InputLearnSet::none(), |set, (i, &block)| {
            set.set(block, mask & (1 << i) != 0)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// Data from one model with inputs, EM from another (zero input blocks
    /// or random ones), every one of the 16 input subsets with A, Q, H, R
    /// learned or not (a few masks of the 64), with missing values.
    #[test]
    fn em_with_inputs_is_monotone_and_keeps_covariances_spd(
        n in 1usize..=3,
        p in 1usize..=3,
        m in 0usize..=2,
        t in 5usize..=12,
        seed in 0u64..1000,
        param_mask in prop::sample::select(vec![0u8, 3, 12, 15, 63]),
        zero_start in any::<bool>(),
        missing in 0.0f64..0.2,
    ) {
        let truth = random_model_with_inputs(n, p, m, seed);
        let mut rng = StdRng::seed_from_u64(seed + 7);
        let u = Mat::<f64>::from_fn(t, m, |_, _| rng.random_range(-2.0..2.0));
        let (_, mut y) = truth.sample_with_inputs(u.as_ref(), &mut rng).unwrap();
        for k in 0..t {
            for j in 0..p {
                if rng.random_bool(missing) {
                    y[(k, j)] = f64::NAN;
                }
            }
        }
        prop_assume!((0..t).any(|k| (0..p).any(|j| !y[(k, j)].is_nan())));
        let base = random_model(n, p, seed + 1);
        let start = if zero_start {
            base.with_inputs(InputParameters::zeros(n, p, m)).unwrap()
        } else {
            base.with_inputs(random_model_with_inputs(n, p, m, seed + 2).input_parameters()).unwrap()
        };
        let data = [Sequence::with_inputs(y.as_ref(), u.as_ref())];
        for input_mask in 0u8..16 {
            let options = MStepOptions::new(learn_set(param_mask)).with_learn_inputs(input_set(input_mask));
            let mut model = WithInputs(start.clone());
            let mut previous: Option<(f64, bool)> = None;
            for step in 0..EM_STEPS {
                let e = model.e_step(&data[..]).unwrap();
                if let Some((ll, true)) = previous {
                    prop_assert!(
                        e.log_likelihood >= ll - 1e-9 * (1.0 + ll.abs()),
                        "learn {} + {} step {step}: {} < {ll}",
                        learn_set(param_mask), input_set(input_mask), e.log_likelihood
                    );
                }
                let (next, diagnostics) = model.m_step(&e.stats, &options).unwrap();
                assert_spd(next.0.q(), "Q");
                assert_spd(next.0.r(), "R");
                for (block, learned) in [
                    (InputParam::B, next.0.b() != model.0.b()),
                    (InputParam::D, next.0.d() != model.0.d()),
                ] {
                    if !options.learn_inputs.contains(block) {
                        prop_assert!(!learned, "{block} changed without being learned");
                    }
                }
                previous = Some((e.log_likelihood, diagnostics.is_empty()));
                model = next;
            }
        }
    }
}

/// From zero input blocks, EM on a long simulated sequence recovers B, D
/// and an offset (A, Q, H, R, m0, P0 fixed at the truth). The two offsets
/// are not learned together: they are confounded (`y` has the stationary
/// mean `H (I − A)⁻¹ b + d`) but for the first steps.
#[test]
fn em_recovers_the_input_blocks() {
    use faer::mat;
    let truth = statespace::LinearGaussianSsm::builder()
        .a(mat![[0.9, 0.1], [0.0, 0.6]].as_ref())
        .q(mat![[0.05, 0.0], [0.0, 0.05]].as_ref())
        .h(mat![[1.0, 0.0], [0.5, 1.0]].as_ref())
        .r(mat![[0.05, 0.01], [0.01, 0.05]].as_ref())
        .m0(&[0.0, 0.0])
        .p0(mat![[0.1, 0.0], [0.0, 0.1]].as_ref())
        .b(mat![[0.5, -0.3], [0.2, 0.8]].as_ref())
        .d(mat![[0.0, 0.4], [-0.6, 0.1]].as_ref())
        .transition_offset(&[0.3, -0.2])
        .observation_offset(&[1.0, -0.5])
        .build()
        .unwrap();
    let mut rng = StdRng::seed_from_u64(72);
    let u = Mat::<f64>::from_fn(3000, 2, |_, _| rng.random_range(-1.0..1.0));
    let (_, y) = truth.sample_with_inputs(u.as_ref(), &mut rng).unwrap();
    let data = [Sequence::with_inputs(y.as_ref(), u.as_ref())];
    let settings = Settings::builder()
        .max_iterations(2000)
        .acceleration(statespace::Acceleration::squarem())
        .build()
        .unwrap();
    for (offset, fixed) in [
        (InputParam::ObservationOffset, InputParam::TransitionOffset),
        (InputParam::TransitionOffset, InputParam::ObservationOffset),
    ] {
        let mut inputs = InputParameters::zeros(2, 2, 2);
        match fixed {
            InputParam::TransitionOffset => inputs.transition_offset = truth.transition_offset().to_vec(),
            _ => inputs.observation_offset = truth.observation_offset().to_vec(),
        }
        let start = truth.clone().with_inputs(inputs).unwrap();
        let learn = InputLearnSet::only(&[InputParam::B, InputParam::D, offset]);
        let options = MStepOptions::new(statespace::LearnSet::none()).with_learn_inputs(learn);
        let fitted = statespace::fit(&data[..], Start::Warm(WithInputs(start)), &options, &settings).unwrap();
        let got = fitted.model.0;
        let close = |a: f64, b: f64, what: &str| {
            assert!((a - b).abs() < 0.1, "{what}: {a} vs {b} ({offset} learned)")
        };
        for i in 0..2 {
            for j in 0..2 {
                close(got.b()[(i, j)], truth.b()[(i, j)], "B");
                close(got.d()[(i, j)], truth.d()[(i, j)], "D");
            }
            close(got.transition_offset()[i], truth.transition_offset()[i], "b");
            close(got.observation_offset()[i], truth.observation_offset()[i], "d");
        }
    }
}

/// The flat view of the input blocks, in the order B, D, b, d after the
/// other blocks, reads back bit for bit, and a wrong length gives `None`.
#[test]
fn flat_input_blocks_round_trip() {
    let model = WithInputs(random_model_with_inputs(3, 2, 2, 81));
    let options = MStepOptions::new(learn_set(1)).with_learn_inputs(InputLearnSet::all());
    let flat = model.flat_parameters(&options).unwrap();
    assert_eq!(flat.len(), options.n_free_parameters_with_inputs(3, 2, 2));
    assert_eq!(flat.len(), 9 + 6 + 4 + 3 + 2);
    assert_eq!(flat[9], model.0.b()[(0, 0)]);
    assert_eq!(flat[flat.len() - 1], model.0.observation_offset()[1]);
    let back = model.with_flat_parameters(&flat, &options).unwrap();
    assert_eq!(back, model);
    let mut moved = flat.clone();
    moved[9] += 1.0;
    assert_eq!(
        model.with_flat_parameters(&moved, &options).unwrap().0.b()[(0, 0)],
        model.0.b()[(0, 0)] + 1.0
    );
    assert!(model.with_flat_parameters(&flat[1..], &options).is_none());
}
