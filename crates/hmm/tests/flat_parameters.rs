//! The flat view of an HMM's learned parameters (`hmm::flat`): the layout
//! per emission and learn set, structural zeros left out and kept, exact
//! round trips, and `None` (never a panic) for vectors that are not a valid
//! model.

use faer::{Mat, mat};
use hmm::em_core::Parameter;
use hmm::{
    CategoricalEmission, CategoricalHmm, CovarianceType, Covariances, EmModel, Emission, GaussianEmission,
    GmmEmission, Hmm, LearnSet, MStepOptions, Param, PoissonEmission, PoissonHmm,
};

/// All 128 subsets of the seven blocks.
fn learn_sets() -> impl Iterator<Item = LearnSet> {
    (0u32..1 << Param::ALL.len()).map(|bits| {
        Param::ALL
            .iter()
            .enumerate()
            .fold(LearnSet::none(), |set, (i, &p)| set.set(p, bits >> i & 1 == 1))
    })
}

fn options(learn: LearnSet) -> MStepOptions {
    MStepOptions::default().with_learn(learn)
}

/// Three states; π₁ = 0, A₀₂ = A₁₀ = 0 are structural zeros. `alt` gives
/// other values with the same zeros (dyadic, so rows sum to 1 exactly).
fn chain<E: Emission>(emission: E, alt: bool) -> Hmm<E> {
    let (start, a) = if alt {
        (
            vec![0.75, 0.0, 0.25],
            mat![[0.5, 0.5, 0.0], [0.0, 0.25, 0.75], [0.25, 0.25, 0.5]],
        )
    } else {
        (
            vec![0.6, 0.0, 0.4],
            mat![[0.7, 0.3, 0.0], [0.0, 0.5, 0.5], [0.2, 0.3, 0.5]],
        )
    };
    Hmm::new(start, a.as_ref(), emission).expect("valid chain")
}

/// `m` 2-D covariances of type `t`, scaled by `s`.
fn covariances(t: CovarianceType, m: usize, s: f64) -> Covariances {
    let full = |c: usize| {
        let v = s * (1.0 + c as f64);
        mat![[v, 0.25 * v], [0.25 * v, 2.0 * v]]
    };
    match t {
        CovarianceType::Full => Covariances::Full((0..m).map(full).collect()),
        CovarianceType::Tied => Covariances::Tied(full(0)),
        CovarianceType::Diagonal => {
            Covariances::Diagonal(Mat::from_fn(m, 2, |c, j| s * (1.0 + c as f64 + j as f64)))
        }
        CovarianceType::Spherical => Covariances::Spherical((0..m).map(|c| s * (1.5 + c as f64)).collect()),
    }
}

fn gaussian(t: CovarianceType, alt: bool) -> Hmm<GaussianEmission> {
    let s = if alt { 0.5 } else { 1.0 };
    let means = Mat::from_fn(3, 2, |j, i| s * (10.0 * j as f64 + i as f64));
    chain(
        GaussianEmission::new(means, covariances(t, 3, s)).expect("valid"),
        alt,
    )
}

fn gmm(t: CovarianceType, alt: bool) -> Hmm<GmmEmission> {
    let s = if alt { 0.5 } else { 1.0 };
    let weights = if alt {
        mat![[0.5, 0.5], [0.25, 0.75], [0.125, 0.875]]
    } else {
        mat![[0.3, 0.7], [0.6, 0.4], [0.5, 0.5]]
    };
    let means = (0..3)
        .map(|j| Mat::from_fn(2, 2, |m, i| s * (j as f64 + 0.1 * m as f64 - i as f64)))
        .collect();
    let covs = (0..3).map(|j| covariances(t, 2, s * (1.0 + j as f64))).collect();
    chain(GmmEmission::new(weights, means, covs).expect("valid"), alt)
}

fn categorical(alt: bool) -> CategoricalHmm {
    // B₀₃ = B₂₀ = 0 are structural zeros.
    let b = if alt {
        mat![
            [0.5, 0.25, 0.25, 0.0],
            [0.25, 0.25, 0.25, 0.25],
            [0.0, 0.5, 0.25, 0.25]
        ]
    } else {
        mat![[0.2, 0.3, 0.5, 0.0], [0.1, 0.2, 0.3, 0.4], [0.0, 0.6, 0.2, 0.2]]
    };
    chain(CategoricalEmission::new(b).expect("valid"), alt)
}

fn poisson(alt: bool) -> PoissonHmm {
    let rates = if alt {
        mat![[0.5, 2.0], [3.0, 0.0], [1.0, 4.0]]
    } else {
        mat![[1.5, 2.5], [3.5, 0.0], [4.5, 5.5]]
    };
    chain(PoissonEmission::new(rates).expect("valid"), alt)
}

/// Equal bit for bit, caches included (`{:?}` of an `f64` round-trips).
fn same_bits<T: std::fmt::Debug>(a: &T, b: &T) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

/// For every learn set: the round trip of `a` is exact, and `a` given the
/// vector of `b` (same shape and zeros) takes `b`'s learned blocks and keeps
/// its own others (`block(m, p)` renders block `p` of `m`; blocks the
/// emission does not have render alike).
fn check_model<E: Emission>(a: &Hmm<E>, b: &Hmm<E>, block: impl Fn(&Hmm<E>, Param) -> String) {
    for learn in learn_sets() {
        let o = options(learn);
        let flat = a.flat_parameters(&o).expect("a flat view");
        let back = a
            .with_flat_parameters(&flat, &o)
            .expect("its own vector is valid");
        assert!(same_bits(&back, a), "{learn}: round trip\n{back:?}\n{a:?}");
        let other = b.flat_parameters(&o).expect("a flat view");
        assert_eq!(other.len(), flat.len(), "{learn}: one layout");
        let mixed = a.with_flat_parameters(&other, &o).expect("b's vector is valid");
        for &p in Param::ALL {
            let source = if learn.contains(p) { b } else { a };
            assert_eq!(block(&mixed, p), block(source, p), "{learn}: block {}", p.name());
        }
    }
}

fn chain_block<E: Emission>(m: &Hmm<E>, p: Param) -> Option<String> {
    match p {
        Param::Start => Some(format!("{:?}", m.start_probs())),
        Param::Transitions => Some(format!("{:?}", m.transitions())),
        _ => None,
    }
}

#[test]
fn gaussian_round_trips_and_learned_blocks() {
    for t in CovarianceType::ALL {
        check_model(&gaussian(t, false), &gaussian(t, true), |m, p| {
            chain_block(m, p).unwrap_or_else(|| match p {
                Param::Means => format!("{:?}", m.emission().means()),
                Param::Covariances => format!("{:?}", m.emission().covariances()),
                _ => format!("{:?}", m.emission().mixture().weights()),
            })
        });
    }
}

#[test]
fn gmm_round_trips_and_learned_blocks() {
    for t in CovarianceType::ALL {
        check_model(&gmm(t, false), &gmm(t, true), |m, p| {
            let e = m.emission();
            chain_block(m, p).unwrap_or_else(|| match p {
                Param::Means => format!("{:?}", (0..3).map(|j| e.means(j)).collect::<Vec<_>>()),
                Param::Covariances => format!("{:?}", (0..3).map(|j| e.covariances(j)).collect::<Vec<_>>()),
                Param::Weights => format!("{:?}", e.weights()),
                _ => String::new(),
            })
        });
    }
}

#[test]
fn categorical_and_poisson_round_trips_and_learned_blocks() {
    check_model(&categorical(false), &categorical(true), |m, p| {
        chain_block(m, p).unwrap_or_else(|| match p {
            Param::Probabilities => format!("{:?}", m.emission().probabilities()),
            _ => String::new(),
        })
    });
    check_model(&poisson(false), &poisson(true), |m, p| {
        chain_block(m, p).unwrap_or_else(|| match p {
            Param::Rates => format!("{:?}", m.emission().rates()),
            _ => String::new(),
        })
    });
}

#[test]
fn the_layout_leaves_structural_zeros_out() {
    let all = options(LearnSet::all());
    let chain_part = [0.6, 0.4, 0.7, 0.3, 0.5, 0.5, 0.2, 0.3, 0.5];
    let flat = categorical(false).flat_parameters(&all).unwrap();
    let probabilities = [0.2, 0.3, 0.5, 0.1, 0.2, 0.3, 0.4, 0.6, 0.2, 0.2];
    assert_eq!(flat, [&chain_part[..], &probabilities[..]].concat());
    let flat = poisson(false).flat_parameters(&all).unwrap();
    assert_eq!(flat, [&chain_part[..], &[1.5, 2.5, 3.5, 0.0, 4.5, 5.5]].concat());
    let flat = gaussian(CovarianceType::Full, false)
        .flat_parameters(&all)
        .unwrap();
    let means = [0.0, 1.0, 10.0, 11.0, 20.0, 21.0];
    let lower = [1.0, 0.25, 2.0, 2.0, 0.5, 4.0, 3.0, 0.75, 6.0];
    assert_eq!(flat, [&chain_part[..], &means, &lower].concat());
    let learn: LearnSet = "transitions,weights,covariances".parse().unwrap();
    let flat = gmm(CovarianceType::Spherical, false)
        .flat_parameters(&options(learn))
        .unwrap();
    // State by state: weights, then the two spherical variances.
    let states = [0.3, 0.7, 1.5, 2.5, 0.6, 0.4, 3.0, 5.0, 0.5, 0.5, 4.5, 7.5];
    assert_eq!(flat, [&chain_part[2..], &states].concat());
}

/// `flat` with entry `i` set to `v`.
fn with(flat: &[f64], changes: &[(usize, f64)]) -> Vec<f64> {
    let mut f = flat.to_vec();
    for &(i, v) in changes {
        f[i] = v;
    }
    f
}

/// `None` for every vector of `bad`, and for a wrong length, NaN and ∞.
fn assert_all_none<E: Emission>(m: &Hmm<E>, bad: &[(&str, Vec<(usize, f64)>)]) {
    let all = options(LearnSet::all());
    let flat = m.flat_parameters(&all).unwrap();
    let n = flat.len();
    let mut vectors = vec![
        ("too short".to_string(), flat[..n - 1].to_vec()),
        ("too long".to_string(), [flat.clone(), vec![0.5]].concat()),
        ("empty".to_string(), Vec::new()),
    ];
    for i in [0, 4, n - 1] {
        vectors.push((format!("NaN at {i}"), with(&flat, &[(i, f64::NAN)])));
        vectors.push((format!("inf at {i}"), with(&flat, &[(i, f64::INFINITY)])));
    }
    vectors.extend(
        bad.iter()
            .map(|(what, changes)| (what.to_string(), with(&flat, changes))),
    );
    for (what, f) in vectors {
        assert!(m.with_flat_parameters(&f, &all).is_none(), "{what}: {f:?}");
    }
}

#[test]
fn invalid_vectors_give_none() {
    // Chain: [π₀, π₂ | A₀₀, A₀₁, A₁₁, A₁₂, A₂₀, A₂₁, A₂₂ | emission ...]
    let chain_bad = vec![
        ("negative start probability", vec![(0, -0.1), (1, 1.1)]),
        ("start not summing to 1", vec![(0, 0.7)]),
        ("a start probability put at 0", vec![(0, 0.0), (1, 1.0)]),
        ("negative transition", vec![(2, 1.2), (3, -0.2)]),
        ("transition row not summing to 1", vec![(4, 0.6)]),
        ("a transition put at 0", vec![(4, 0.0), (5, 1.0)]),
    ];
    let c = 9; // first emission entry
    let mut categorical_bad = chain_bad.clone();
    categorical_bad.push(("negative symbol probability", vec![(c, -0.2), (c + 1, 0.7)]));
    categorical_bad.push(("emission row not summing to 1", vec![(c, 0.25)]));
    categorical_bad.push(("a symbol probability put at 0", vec![(c, 0.0), (c + 1, 0.5)]));
    assert_all_none(&categorical(false), &categorical_bad);
    let mut poisson_bad = chain_bad.clone();
    poisson_bad.push(("negative rate", vec![(c, -1.0)]));
    poisson_bad.push(("a positive rate put at 0", vec![(c, 0.0)]));
    assert_all_none(&poisson(false), &poisson_bad);
    // Gaussian, full: [chain | means (6) | Σ₀ lower (3) ...]
    let mut gaussian_bad = chain_bad.clone();
    gaussian_bad.push(("negative variance", vec![(c + 6, -1.0)]));
    gaussian_bad.push(("not SPD", vec![(c + 7, 1.5)]));
    assert_all_none(&gaussian(CovarianceType::Full, false), &gaussian_bad);
    let mut diagonal_bad = chain_bad.clone();
    diagonal_bad.push(("zero variance", vec![(c + 6, 0.0)]));
    assert_all_none(&gaussian(CovarianceType::Diagonal, false), &diagonal_bad);
    // GMM, tied: per state [w₀, w₁ | means (4) | Σ lower (3)]
    let mut gmm_bad = chain_bad;
    gmm_bad.push(("negative mixture weight", vec![(c, -0.3), (c + 1, 1.3)]));
    gmm_bad.push(("mixture weights not summing to 1", vec![(c + 9, 0.9)]));
    gmm_bad.push(("not SPD", vec![(c + 7, 1.5)]));
    gmm_bad.push(("negative variance", vec![(c + 8, -2.0)]));
    assert_all_none(&gmm(CovarianceType::Tied, false), &gmm_bad);
}

#[test]
fn rebuilt_models_keep_structural_zeros() {
    let m = categorical(false);
    let all = options(LearnSet::all());
    let flat = m.flat_parameters(&all).unwrap();
    let moved = m
        .with_flat_parameters(&with(&flat, &[(0, 0.5), (1, 0.5), (2, 0.75), (3, 0.25)]), &all)
        .expect("valid");
    assert_eq!(moved.start_probs(), [0.5, 0.0, 0.5]);
    assert_eq!(moved.transitions()[(0, 2)], 0.0);
    assert_eq!(moved.transitions()[(1, 0)], 0.0);
    assert_eq!(moved.emission().probabilities()[(0, 3)], 0.0);
    assert_eq!(moved.emission().probabilities()[(2, 0)], 0.0);
    assert_eq!(moved.flat_parameters(&all).unwrap().len(), flat.len());
}
