//! EM never lowers the log-likelihood (without floors), for every subset of
//! learned parameters, and keeps Q, R, P0 symmetric positive definite.
//! Everything is drawn from proptest strategies, so failures shrink.

mod common;

use common::{assert_spd, learn_set};
use faer::Mat;
use proptest::prelude::*;
use statespace::{CovStructure, EmModel, LinearGaussianSsm, MStepOptions, Parameters};

const EM_STEPS: usize = 20;

#[derive(Debug, Clone)]
struct Case {
    n: usize,
    p: usize,
    a: Vec<f64>,
    q: Vec<f64>,
    h: Vec<f64>,
    r: Vec<f64>,
    m0: Vec<f64>,
    p0: Vec<f64>,
    /// Values in [-3, 3]; `None` is a missing value.
    data: Vec<Vec<Option<f64>>>,
    lengths: Vec<usize>,
    q_structure: usize,
    r_structure: usize,
}

/// `L Lᵀ / 2 + 0.2 I` from a square of entries in [-1, 1] (condition ≤ ~50).
fn spd(entries: &[f64], n: usize) -> Mat<f64> {
    let l = Mat::<f64>::from_fn(n, n, |i, j| entries[j * n + i]);
    let mut m = &l * l.transpose() * faer::Scale(0.5);
    for i in 0..n {
        m[(i, i)] += 0.2;
    }
    for j in 0..n {
        for i in 0..j {
            m[(i, j)] = m[(j, i)];
        }
    }
    m
}

fn structured(m: Mat<f64>, structure: CovStructure) -> Mat<f64> {
    let n = m.nrows();
    match structure {
        CovStructure::Full => m,
        CovStructure::Diagonal => Mat::from_fn(n, n, |i, j| if i == j { m[(i, i)] } else { 0.0 }),
        _ => {
            let s = (0..n).map(|i| m[(i, i)]).sum::<f64>() / n as f64;
            Mat::from_fn(n, n, |i, j| if i == j { s } else { 0.0 })
        }
    }
}

fn structure(code: usize) -> CovStructure {
    [CovStructure::Full, CovStructure::Diagonal, CovStructure::Scalar][code % 3]
}

fn unit() -> impl Strategy<Value = f64> {
    -1.0f64..1.0
}

fn case() -> impl Strategy<Value = Case> {
    (
        1usize..=3,
        1usize..=3,
        prop::collection::vec(4usize..=9, 1..=2),
        0usize..3,
        0usize..3,
    )
        .prop_flat_map(|(n, p, lengths, q_structure, r_structure)| {
            let total: usize = lengths.iter().sum();
            (
                prop::collection::vec(unit(), n * n),
                prop::collection::vec(unit(), n * n),
                prop::collection::vec(unit(), p * n),
                prop::collection::vec(unit(), p * p),
                prop::collection::vec(unit(), n),
                prop::collection::vec(unit(), n * n),
                prop::collection::vec(
                    prop::collection::vec(prop::option::weighted(0.9, -3.0f64..3.0), p),
                    total,
                ),
            )
                .prop_map(move |(a, q, h, r, m0, p0, data)| Case {
                    n,
                    p,
                    a,
                    q,
                    h,
                    r,
                    m0,
                    p0,
                    data,
                    lengths: lengths.clone(),
                    q_structure,
                    r_structure,
                })
        })
}

impl Case {
    fn model(&self) -> LinearGaussianSsm {
        let (n, p) = (self.n, self.p);
        let mut a = Mat::<f64>::from_fn(n, n, |i, j| self.a[j * n + i]);
        let norm = a.norm_l2();
        if norm > 0.95 {
            a *= faer::Scale(0.95 / norm);
        }
        let q = structured(spd(&self.q, n), structure(self.q_structure));
        let r = structured(spd(&self.r, p), structure(self.r_structure));
        let h = Mat::<f64>::from_fn(p, n, |i, j| self.h[j * p + i]);
        common::model(Parameters {
            a,
            q,
            h,
            r,
            m0: self.m0.clone(),
            p0: spd(&self.p0, n),
        })
    }

    fn sequences(&self) -> Vec<Mat<f64>> {
        let mut start = 0;
        self.lengths
            .iter()
            .map(|&len| {
                let m = Mat::<f64>::from_fn(len, self.p, |k, j| self.data[start + k][j].unwrap_or(f64::NAN));
                start += len;
                m
            })
            .collect()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn em_is_monotone_for_every_learned_subset(case in case()) {
        let start = case.model();
        let data = case.sequences();
        let views: Vec<_> = data.iter().map(|m| m.as_ref()).collect();
        prop_assume!(views.iter().any(|y| (0..y.nrows()).any(|k| (0..y.ncols()).any(|j| !y[(k, j)].is_nan()))));
        for mask in 0u8..64 {
            let options = MStepOptions::new(learn_set(mask))
                .with_q_structure(structure(case.q_structure))
                .with_r_structure(structure(case.r_structure));
            let mut model = start.clone();
            let mut previous: Option<(f64, bool)> = None;
            for step in 0..EM_STEPS {
                let e = model.e_step(&views).unwrap();
                if let Some((ll, true)) = previous {
                    prop_assert!(
                        e.log_likelihood >= ll - 1e-9 * (1.0 + ll.abs()),
                        "learn {} step {step}: {} < {ll}", learn_set(mask), e.log_likelihood
                    );
                }
                let (next, diagnostics) = model.m_step(&e.stats, &options).unwrap();
                assert_spd(next.q(), "Q");
                assert_spd(next.r(), "R");
                assert_spd(next.p0(), "P0");
                previous = Some((e.log_likelihood, diagnostics.is_empty()));
                model = next;
            }
        }
    }
}
