//! The flat view of the learned parameters (`hmm::flat`) on random models of
//! every emission (Gaussian and GMM with every covariance type, categorical
//! and Poisson, with random structural zeros) and random learn sets:
//! round trips are exact, and an affine move toward another model of the
//! same shape, `θ_a + t (θ_b − θ_a)` (what SQUAREM does), gives a valid
//! model with the same zeros and the fixed blocks kept, or `None`; never
//! `None` for `0 ≤ t ≤ 1` (the valid sets are convex).

use faer::Mat;
use hmm::em_core::Parameter;
use hmm::{
    CategoricalEmission, CovarianceType, Covariances, EmModel, Emission, GaussianEmission, GmmEmission, Hmm,
    LearnSet, MStepOptions, Param, PoissonEmission,
};
use proptest::collection::vec;
use proptest::prelude::*;

use super::{config, normalise};

/// The shape and zero pattern two models share.
#[derive(Debug, Clone)]
struct Shape {
    /// 0 Gaussian, 1 GMM, 2 categorical, 3 Poisson.
    kind: usize,
    k: usize,
    d: usize,
    t: CovarianceType,
    n_mix: usize,
    n_symbols: usize,
    zeros: Vec<bool>,
}

fn shape() -> impl Strategy<Value = Shape> {
    (
        0usize..4,
        1usize..=3,
        1usize..=2,
        0usize..4,
        1usize..=2,
        2usize..=4,
        vec(any::<bool>(), 32),
    )
        .prop_map(|(kind, k, d, t, n_mix, n_symbols, zeros)| Shape {
            kind,
            k,
            d,
            t: CovarianceType::ALL[t],
            n_mix,
            n_symbols,
            zeros,
        })
}

/// Values drawn in order from a random vector (cyclically).
struct Draw<'a> {
    values: &'a [f64],
    next: usize,
}

impl Draw<'_> {
    /// A value in [-1, 1].
    fn next(&mut self) -> f64 {
        let v = self.values[self.next % self.values.len()];
        self.next += 1;
        v
    }

    /// A probability row of `n` entries with zeros where `zero(i)`.
    fn row(&mut self, n: usize, zero: impl Fn(usize) -> bool) -> Vec<f64> {
        normalise(
            &(0..n)
                .map(|i| if zero(i) { 0.0 } else { 0.05 + self.next().abs() })
                .collect::<Vec<_>>(),
        )
    }

    /// `m` covariances of type `t` in dimension `d`: full = B Bᵀ / d + 0.3 I.
    fn covariances(&mut self, t: CovarianceType, m: usize, d: usize) -> Covariances {
        let mut full = || {
            let b = Mat::from_fn(d, d, |_, _| self.next());
            let mut s = &b * b.transpose() * faer::Scale(1.0 / d as f64);
            for i in 0..d {
                s[(i, i)] += 0.3;
            }
            // Exactly symmetric.
            Mat::from_fn(d, d, |i, j| if i >= j { s[(i, j)] } else { s[(j, i)] })
        };
        match t {
            CovarianceType::Full => Covariances::Full((0..m).map(|_| full()).collect()),
            CovarianceType::Tied => Covariances::Tied(full()),
            CovarianceType::Diagonal => {
                let v: Vec<f64> = (0..m * d).map(|_| 0.3 + self.next().abs()).collect();
                Covariances::Diagonal(Mat::from_fn(m, d, |c, i| v[c * d + i]))
            }
            CovarianceType::Spherical => {
                Covariances::Spherical((0..m).map(|_| 0.3 + self.next().abs()).collect())
            }
        }
    }

    fn matrix(&mut self, rows: usize, cols: usize, scale: f64) -> Mat<f64> {
        let v: Vec<f64> = (0..rows * cols).map(|_| scale * self.next()).collect();
        Mat::from_fn(rows, cols, |i, j| v[i * cols + j])
    }
}

/// A model of `s` from `values`: π_j (j > 0) and the off-diagonal A_ij are
/// zero where the pattern says so, as are categorical probabilities (one
/// per row kept) and Poisson rates.
fn chain<E: Emission>(s: &Shape, draw: &mut Draw<'_>, emission: E) -> Hmm<E> {
    let z = &s.zeros;
    let start = draw.row(s.k, |j| j > 0 && z[j]);
    let rows: Vec<Vec<f64>> = (0..s.k)
        .map(|i| draw.row(s.k, |j| i != j && z[3 + i * s.k + j]))
        .collect();
    let a = Mat::from_fn(s.k, s.k, |i, j| rows[i][j]);
    Hmm::new(start, a.as_ref(), emission).expect("valid by construction")
}

fn check_kind(s: &Shape, a: &[f64], b: &[f64], learn: LearnSet, t: f64) -> Result<(), TestCaseError> {
    let (k, d, z) = (s.k, s.d, &s.zeros);
    match s.kind {
        0 => {
            let make = |values: &[f64]| {
                let mut draw = Draw { values, next: 0 };
                let means = draw.matrix(k, d, 3.0);
                let covs = draw.covariances(s.t, k, d);
                chain(s, &mut draw, GaussianEmission::new(means, covs).expect("valid"))
            };
            check(&make(a), &make(b), learn, t)
        }
        1 => {
            let make = |values: &[f64]| {
                let mut draw = Draw { values, next: 0 };
                let rows: Vec<Vec<f64>> = (0..k).map(|_| draw.row(s.n_mix, |_| false)).collect();
                let weights = Mat::from_fn(k, s.n_mix, |j, m| rows[j][m]);
                let means = (0..k).map(|_| draw.matrix(s.n_mix, d, 3.0)).collect();
                let covs = (0..k).map(|_| draw.covariances(s.t, s.n_mix, d)).collect();
                chain(
                    s,
                    &mut draw,
                    GmmEmission::new(weights, means, covs).expect("valid"),
                )
            };
            check(&make(a), &make(b), learn, t)
        }
        2 => {
            let m = s.n_symbols;
            let make = |values: &[f64]| {
                let mut draw = Draw { values, next: 0 };
                let rows: Vec<Vec<f64>> = (0..k)
                    .map(|j| draw.row(m, |c| c != j % m && z[16 + j * m + c]))
                    .collect();
                let probs = Mat::from_fn(k, m, |j, c| rows[j][c]);
                chain(s, &mut draw, CategoricalEmission::new(probs).expect("valid"))
            };
            check(&make(a), &make(b), learn, t)
        }
        _ => {
            let make = |values: &[f64]| {
                let mut draw = Draw { values, next: 0 };
                let r = draw.matrix(k, d, 5.0);
                let rates = Mat::from_fn(k, d, |j, c| {
                    if z[20 + j * d + c] {
                        0.0
                    } else {
                        r[(j, c)].abs() + 0.01
                    }
                });
                chain(s, &mut draw, PoissonEmission::new(rates).expect("valid"))
            };
            check(&make(a), &make(b), learn, t)
        }
    }
}

/// The round trip of `a`, then the affine move from `a` toward `b`.
fn check<E: Emission>(a: &Hmm<E>, b: &Hmm<E>, learn: LearnSet, t: f64) -> Result<(), TestCaseError> {
    let o = MStepOptions::default().with_learn(learn);
    let fa = a.flat_parameters(&o).expect("a flat view");
    let back = a.with_flat_parameters(&fa, &o).expect("its own vector is valid");
    prop_assert_eq!(format!("{back:?}"), format!("{a:?}"));
    let fb = b.flat_parameters(&o).expect("a flat view");
    prop_assert_eq!(fa.len(), fb.len());
    let moved: Vec<f64> = fa.iter().zip(&fb).map(|(x, y)| x + t * (y - x)).collect();
    let Some(m) = a.with_flat_parameters(&moved, &o) else {
        prop_assert!(
            !(0.0..=1.0).contains(&t),
            "a convex combination (t = {}) is valid",
            t
        );
        return Ok(());
    };
    prop_assert!(Hmm::new(m.start_probs().to_vec(), m.transitions(), m.emission().clone()).is_ok());
    prop_assert_eq!(m.flat_parameters(&o).unwrap().len(), fa.len());
    let zeros = |v: &[f64]| v.iter().map(|&x| x == 0.0).collect::<Vec<_>>();
    prop_assert_eq!(zeros(m.start_probs()), zeros(a.start_probs()));
    let entries = |h: &Hmm<E>| {
        (0..h.n_states())
            .flat_map(|i| (0..h.n_states()).map(move |j| (i, j)))
            .map(|(i, j)| h.transitions()[(i, j)])
            .collect::<Vec<_>>()
    };
    prop_assert_eq!(zeros(&entries(&m)), zeros(&entries(a)));
    if !learn.contains(Param::Start) {
        prop_assert_eq!(m.start_probs(), a.start_probs());
    }
    if !learn.contains(Param::Transitions) {
        prop_assert_eq!(m.transitions(), a.transitions());
    }
    let emission_blocks = [
        Param::Means,
        Param::Covariances,
        Param::Weights,
        Param::Probabilities,
        Param::Rates,
    ];
    if !emission_blocks.iter().any(|&p| learn.contains(p)) {
        prop_assert_eq!(m.emission(), a.emission());
    }
    Ok(())
}

fn learn_set(bits: u32) -> LearnSet {
    Param::ALL
        .iter()
        .enumerate()
        .fold(LearnSet::none(), |set, (i, &p)| set.set(p, bits >> i & 1 == 1))
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn flat_parameters_round_trip_and_affine_moves_stay_valid_or_give_none(
        s in shape(),
        a in vec(-1.0f64..1.0, 96),
        b in vec(-1.0f64..1.0, 96),
        bits in 0u32..128,
        t in prop_oneof![0.0f64..=1.0, -2.0f64..3.0],
    ) {
        check_kind(&s, &a, &b, learn_set(bits), t)?;
    }
}
