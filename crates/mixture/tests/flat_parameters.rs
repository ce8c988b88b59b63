//! The flat view of a mixture's learned parameters (`mixture::flat`): the
//! layout per covariance type and learn set, exact round trips, and `None`
//! (never a panic) for vectors that are not a valid mixture.

use faer::mat;
use mixture::{CovarianceType, Covariances, EmModel, GaussianMixture, LearnSet, MStepOptions, Param};

/// Every subset of the three blocks.
fn learn_sets() -> Vec<LearnSet> {
    [
        "none",
        "weights",
        "means",
        "covariances",
        "weights,means",
        "weights,covariances",
        "means,covariances",
        "all",
    ]
    .iter()
    .map(|s| s.parse().expect("a learn set"))
    .collect()
}

fn options(learn: LearnSet) -> MStepOptions {
    MStepOptions::default().with_learn(learn)
}

/// A 2-component, 2-D model of each type whose entries are all distinct, so
/// that a value in the flat vector tells which block it came from.
fn model(t: CovarianceType) -> GaussianMixture {
    let covariances = match t {
        CovarianceType::Full => Covariances::Full(vec![
            mat![[2.0, 0.3], [0.3, 1.5]],
            mat![[1.25, -0.4], [-0.4, 0.75]],
        ]),
        CovarianceType::Tied => Covariances::Tied(mat![[2.0, 0.3], [0.3, 1.5]]),
        CovarianceType::Diagonal => Covariances::Diagonal(mat![[2.0, 1.5], [1.25, 0.75]]),
        CovarianceType::Spherical => Covariances::Spherical(vec![2.0, 1.25]),
    };
    GaussianMixture::new(vec![0.375, 0.625], mat![[10.0, 11.0], [12.0, 13.0]], covariances).expect("valid")
}

/// The blocks of [`model`] in the documented layout.
fn expected_blocks(t: CovarianceType) -> [Vec<f64>; 3] {
    let covariances = match t {
        CovarianceType::Full => vec![2.0, 0.3, 1.5, 1.25, -0.4, 0.75],
        CovarianceType::Tied => vec![2.0, 0.3, 1.5],
        CovarianceType::Diagonal => vec![2.0, 1.5, 1.25, 0.75],
        CovarianceType::Spherical => vec![2.0, 1.25],
    };
    [vec![0.375, 0.625], vec![10.0, 11.0, 12.0, 13.0], covariances]
}

/// Equal bit for bit, caches included (`{:?}` of an `f64` round-trips).
fn same_bits(a: &GaussianMixture, b: &GaussianMixture) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

#[test]
fn the_layout_is_the_learned_blocks_in_order() {
    for t in CovarianceType::ALL {
        let m = model(t);
        for learn in learn_sets() {
            let flat = m.flat_parameters(&options(learn)).expect("a flat view");
            let expected: Vec<f64> = [Param::Weights, Param::Means, Param::Covariances]
                .into_iter()
                .zip(expected_blocks(t))
                .filter(|&(block, _)| learn.contains(block))
                .flat_map(|(_, values)| values)
                .collect();
            assert_eq!(flat, expected, "{t}, {learn}");
            assert_eq!(flat.len(), m.flat_len(learn), "{t}, {learn}");
        }
    }
}

#[test]
fn round_trips_are_exact_for_every_type_and_learn_set() {
    let odd = GaussianMixture::new(
        vec![0.7, 0.2, 0.1], // sums to 1 − 2⁻⁵³
        mat![[0.1, -0.2], [1.0 / 3.0, 2.0], [-7.5, 1e-300]],
        // Symmetric only within the constructor's tolerance.
        Covariances::Full(vec![
            mat![[1.0, 0.3], [0.3 + 1e-12, 1.0]],
            mat![[1e-6, 0.0], [0.0, 1e6]],
            mat![[0.1, 0.05], [0.05, 0.1]],
        ]),
    )
    .expect("valid");
    let models: Vec<GaussianMixture> = CovarianceType::ALL.into_iter().map(model).chain([odd]).collect();
    for m in &models {
        for learn in learn_sets() {
            let o = options(learn);
            let flat = m.flat_parameters(&o).expect("a flat view");
            let back = m
                .with_flat_parameters(&flat, &o)
                .expect("its own vector is valid");
            assert!(same_bits(&back, m), "{learn}: {back:?} vs {m:?}");
        }
    }
}

#[test]
fn fixed_blocks_never_change() {
    for t in CovarianceType::ALL {
        let m = model(t);
        for learn in learn_sets() {
            let o = options(learn);
            let mut flat = m.flat_parameters(&o).expect("a flat view");
            // Move every learned value a little, keeping it valid: weights
            // shift mass, the rest scales by 1.01.
            let mut i = 0;
            if learn.contains(Param::Weights) {
                flat[0] += 0.125;
                flat[1] -= 0.125;
                i = 2;
            }
            for v in &mut flat[i..] {
                *v *= 1.01;
            }
            let moved = m.with_flat_parameters(&flat, &o).expect("still valid");
            let learned = |b| learn.contains(b);
            assert_eq!(
                learned(Param::Weights),
                moved.weights() != m.weights(),
                "{t}, {learn}"
            );
            assert_eq!(learned(Param::Means), moved.means() != m.means(), "{t}, {learn}");
            assert_eq!(
                learned(Param::Covariances),
                moved.covariances() != m.covariances(),
                "{t}, {learn}"
            );
            assert_eq!(moved.flat_parameters(&o).unwrap().len(), flat.len());
        }
    }
}

#[test]
fn changed_weights_are_renormalised() {
    let m = model(CovarianceType::Diagonal);
    let o = options("weights".parse().unwrap());
    let back = m
        .with_flat_parameters(&[0.375 + 4e-9, 0.625], &o)
        .expect("within the tolerance");
    let sum: f64 = back.weights().iter().sum();
    assert!((sum - 1.0).abs() <= f64::EPSILON, "{sum}");
    assert!(back.weights()[0] > 0.375);
    assert!(m.with_flat_parameters(&[0.375 + 4e-8, 0.625], &o).is_none());
}

#[test]
fn invalid_vectors_give_none() {
    let all = options(LearnSet::all());
    for t in CovarianceType::ALL {
        let m = model(t);
        let flat = m.flat_parameters(&all).unwrap();
        let n = flat.len();
        let with = |i: usize, v: f64| {
            let mut f = flat.clone();
            f[i] = v;
            f
        };
        let mut bad = vec![
            ("too short", flat[..n - 1].to_vec()),
            ("too long", [flat.clone(), vec![1.0]].concat()),
            ("empty", Vec::new()),
            ("NaN mean", with(2, f64::NAN)),
            ("infinite covariance", with(6, f64::INFINITY)),
            ("NaN weight", with(0, f64::NAN)),
            ("weights not summing to 1", with(0, 0.5)),
            ({
                let mut f = flat.clone();
                f[0] = -0.125;
                f[1] = 1.125;
                ("negative weight", f)
            }),
            ("zero variance", with(6, 0.0)),
            ("negative variance", with(6, -1.0)),
        ];
        if matches!(t, CovarianceType::Full | CovarianceType::Tied) {
            // |Σ₁₀| > sqrt(Σ₀₀ Σ₁₁): symmetric, not positive definite.
            bad.push(("not SPD", with(7, 1.9)));
        }
        for (what, f) in bad {
            assert!(m.with_flat_parameters(&f, &all).is_none(), "{t}: {what}: {f:?}");
        }
    }
}

#[test]
fn an_infeasible_step_is_feasible_when_shortened_toward_a_valid_point() {
    // The loop halves θ' toward θ₂; the valid sets are convex.
    let m = model(CovarianceType::Full);
    let all = options(LearnSet::all());
    let p2 = m.flat_parameters(&all).unwrap();
    let mut p = p2.clone();
    p[7] = 5.0; // Σ₀'s off-diagonal entry, far outside the SPD cone
    assert!(m.with_flat_parameters(&p, &all).is_none());
    let mut steps = 0;
    while m.with_flat_parameters(&p, &all).is_none() {
        for (a, b) in p.iter_mut().zip(&p2) {
            *a = b + 0.5 * (*a - b);
        }
        steps += 1;
    }
    assert!((1..10).contains(&steps), "{steps}");
}
