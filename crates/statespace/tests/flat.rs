//! The flat parameter vector of the state-space model (what SQUAREM
//! extrapolates on): its layout, exact round trips for every learn subset
//! and covariance structure, fixed blocks that never change, and `None`
//! (never a panic) for vectors that are not a valid model.

mod common;

use common::{learn_set, random_spd};
use faer::{Mat, MatRef};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use statespace::em_core::Parameter;
use statespace::{
    CovStructure, EmModel, InferenceOptions, LearnSet, LinearGaussianSsm, MStepOptions, Param, Parameters,
};

const STRUCTURES: [CovStructure; 3] = [CovStructure::Full, CovStructure::Diagonal, CovStructure::Scalar];

/// `m` projected on a structure (the diagonal; the mean of the diagonal).
fn structured(m: Mat<f64>, structure: CovStructure) -> Mat<f64> {
    let n = m.nrows();
    let mean = (0..n).map(|i| m[(i, i)]).sum::<f64>() / n as f64;
    Mat::from_fn(n, n, |i, j| match structure {
        CovStructure::Full => m[(i, j)],
        _ if i != j => 0.0,
        CovStructure::Diagonal => m[(i, i)],
        _ => mean,
    })
}

/// A random model whose Q and R have the given structures, with
/// steady-state inference (which the flat view must keep).
fn model(n: usize, p: usize, q: CovStructure, r: CovStructure, seed: u64) -> LinearGaussianSsm {
    let mut rng = StdRng::seed_from_u64(seed);
    let parameters = Parameters {
        a: Mat::from_fn(n, n, |_, _| rng.random_range(-0.5..0.5)),
        q: structured(random_spd(n, 0.3, 0.1, &mut rng), q),
        h: Mat::from_fn(p, n, |_, _| rng.random_range(-1.0..1.0)),
        r: structured(random_spd(p, 0.3, 0.2, &mut rng), r),
        m0: (0..n).map(|_| rng.random_range(-1.0..1.0)).collect(),
        p0: random_spd(n, 0.5, 0.3, &mut rng),
    };
    LinearGaussianSsm::from_parameters(parameters)
        .unwrap()
        .with_inference(InferenceOptions::steady_state())
}

fn options(learn: LearnSet, q: CovStructure, r: CovStructure) -> MStepOptions {
    MStepOptions::new(learn).with_q_structure(q).with_r_structure(r)
}

fn bits(m: MatRef<'_, f64>) -> Vec<u64> {
    (0..m.ncols())
        .flat_map(|j| (0..m.nrows()).map(move |i| m[(i, j)].to_bits()))
        .collect()
}

/// Every parameter of the model, bit for bit, block by block.
fn blocks(model: &LinearGaussianSsm) -> [Vec<u64>; 6] {
    [
        bits(model.a()),
        bits(model.q()),
        bits(model.h()),
        bits(model.r()),
        model.m0().iter().map(|v| v.to_bits()).collect(),
        bits(model.p0()),
    ]
}

#[test]
fn the_layout_is_a_q_h_r_m0_p0_column_by_column() {
    let model = LinearGaussianSsm::from_parameters(Parameters {
        a: faer::mat![[1.0, 2.0], [3.0, 4.0]],
        q: faer::mat![[5.0, 0.5], [0.5, 7.0]],
        h: faer::mat![[8.0, 9.0]],
        r: faer::mat![[10.0]],
        m0: vec![11.0, 12.0],
        p0: faer::mat![[13.0, 1.5], [1.5, 15.0]],
    })
    .unwrap();
    let all = MStepOptions::default();
    let expected = [
        1.0, 3.0, 2.0, 4.0, 5.0, 0.5, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 1.5, 15.0,
    ];
    assert_eq!(model.flat_parameters(&all).unwrap(), expected);
    let some = options(
        "Q,m0".parse().unwrap(),
        CovStructure::Diagonal,
        CovStructure::Full,
    );
    assert_eq!(model.flat_parameters(&some).unwrap(), [5.0, 7.0, 11.0, 12.0]);
    // A scalar view: the mean of the diagonal.
    let scalar = options("Q".parse().unwrap(), CovStructure::Scalar, CovStructure::Full);
    assert_eq!(model.flat_parameters(&scalar).unwrap(), [6.0]);
}

#[test]
fn round_trips_are_exact_for_every_learn_subset_and_structure() {
    for mask in 0..64u8 {
        for (k, (&qs, &rs)) in STRUCTURES
            .iter()
            .flat_map(|q| STRUCTURES.iter().map(move |r| (q, r)))
            .enumerate()
        {
            let (n, p) = (2 + (k % 2), 3 - (k % 2));
            let model = model(n, p, qs, rs, u64::from(mask) * 16 + k as u64);
            let options = options(learn_set(mask), qs, rs);
            let flat = model.flat_parameters(&options).unwrap();
            assert_eq!(flat.len(), options.n_free_parameters(n, p), "mask {mask}");
            let back = model.with_flat_parameters(&flat, &options).unwrap();
            assert_eq!(blocks(&back), blocks(&model), "mask {mask}, {qs:?}/{rs:?}");
            assert_eq!(back.inference(), model.inference());
            let again = back.flat_parameters(&options).unwrap();
            let to_bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(to_bits(&again), to_bits(&flat), "mask {mask}, {qs:?}/{rs:?}");
        }
    }
}

#[test]
fn a_block_that_is_not_learned_never_changes() {
    for mask in 0..64u8 {
        let (qs, rs) = (
            STRUCTURES[usize::from(mask) % 3],
            STRUCTURES[usize::from(mask / 3) % 3],
        );
        let model = model(3, 2, qs, rs, u64::from(mask));
        let options = options(learn_set(mask), qs, rs);
        let flat = model.flat_parameters(&options).unwrap();
        // A small move of every learned value: stays a valid model.
        let moved: Vec<f64> = flat
            .iter()
            .enumerate()
            .map(|(i, v)| v + 1e-3 * (1.0 + (i % 3) as f64))
            .collect();
        let changed = model.with_flat_parameters(&moved, &options).unwrap();
        let (before, after) = (blocks(&model), blocks(&changed));
        for (i, block) in Param::ALL.iter().enumerate() {
            if options.learn.contains(*block) {
                assert_ne!(before[i], after[i], "mask {mask}: learned {block} did not move");
            } else {
                assert_eq!(before[i], after[i], "mask {mask}: fixed {block} changed");
            }
        }
        assert_eq!(changed.flat_parameters(&options).unwrap().len(), flat.len());
    }
}

#[test]
fn vectors_that_are_not_a_valid_model_give_none() {
    let model = model(2, 2, CovStructure::Full, CovStructure::Full, 7);
    let all = MStepOptions::default();
    let flat = model.flat_parameters(&all).unwrap();
    // Wrong lengths.
    assert!(model.with_flat_parameters(&flat[1..], &all).is_none());
    assert!(
        model
            .with_flat_parameters(&[flat.clone(), vec![0.0]].concat(), &all)
            .is_none()
    );
    assert!(model.with_flat_parameters(&[], &all).is_none());
    // Non-finite values anywhere.
    for i in 0..flat.len() {
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let mut v = flat.clone();
            v[i] = bad;
            assert!(
                model.with_flat_parameters(&v, &all).is_none(),
                "entry {i} = {bad}"
            );
        }
    }
    // Q (entries 4..7), R (11..14) and P0 (16..19) not positive definite:
    // a negative diagonal, or an off-diagonal entry larger than the diagonal.
    for (diagonal, off) in [(4, 5), (11, 12), (16, 17)] {
        let mut v = flat.clone();
        v[diagonal] = -1.0;
        assert!(
            model.with_flat_parameters(&v, &all).is_none(),
            "diagonal entry {diagonal}"
        );
        let mut v = flat.clone();
        v[off] = 1e3;
        assert!(
            model.with_flat_parameters(&v, &all).is_none(),
            "off-diagonal entry {off}"
        );
    }
    // Huge values: no panic, whatever the answer.
    let huge: Vec<f64> = flat.iter().map(|v| v * 1e307).collect();
    let _ = model.with_flat_parameters(&huge, &all);
    // Diagonal and scalar structures: a non-positive value.
    for structure in [CovStructure::Diagonal, CovStructure::Scalar] {
        let model = self::model(2, 2, structure, structure, 8);
        let options = options(LearnSet::all(), structure, structure);
        let flat = model.flat_parameters(&options).unwrap();
        let q_first = 4;
        for bad in [0.0, -1e-3] {
            let mut v = flat.clone();
            v[q_first] = bad;
            assert!(
                model.with_flat_parameters(&v, &options).is_none(),
                "{structure:?} Q = {bad}"
            );
        }
    }
}

#[test]
fn a_diagonal_or_scalar_view_of_another_matrix_is_its_projection() {
    // A start whose Q is full while the fit learns a diagonal or scalar Q.
    let model = model(3, 2, CovStructure::Full, CovStructure::Full, 9);
    let q = model.q().to_owned();
    let mean = (0..3).map(|i| q[(i, i)]).sum::<f64>() / 3.0;
    for (structure, expected) in [
        (CovStructure::Diagonal, vec![q[(0, 0)], q[(1, 1)], q[(2, 2)]]),
        (CovStructure::Scalar, vec![mean]),
    ] {
        let options = options("Q".parse().unwrap(), structure, CovStructure::Full);
        let flat = model.flat_parameters(&options).unwrap();
        assert_eq!(flat.len(), expected.len());
        for (f, e) in flat.iter().zip(&expected) {
            assert!((f - e).abs() <= 1e-15 * e.abs(), "{structure:?}: {f} vs {e}");
        }
        let projected = model.with_flat_parameters(&flat, &options).unwrap();
        let expected_q = structured(q.clone(), structure);
        assert!(common::max_diff(projected.q(), expected_q.as_ref()) <= 1e-15);
    }
}
