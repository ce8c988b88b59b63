//! The M-step maximises the expected complete-data log-likelihood: no small
//! perturbation of a learned parameter (within its structure) does better.

mod common;

use common::{learn_set, random_model};
use faer::{Mat, MatRef};
use linalg_kernels::Cholesky;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use statespace::{CovStructure, EmModel, LearnSet, LinearGaussianSsm, MStepOptions, Param, SufficientStats};

/// `−½ (N ln|S| + tr(S⁻¹ M))`.
fn gaussian_term(count: f64, cov: MatRef<'_, f64>, m: &Mat<f64>) -> f64 {
    let chol = Cholesky::new(cov).unwrap();
    let mut x = m.clone();
    chol.solve_in_place(x.as_mut()).unwrap();
    let trace: f64 = (0..x.nrows()).map(|i| x[(i, i)]).sum();
    -0.5 * (count * chol.log_det() + trace)
}

/// `S − X Cᵀ − C Xᵀ + X G Xᵀ`.
fn residual(s: MatRef<'_, f64>, x: MatRef<'_, f64>, c: MatRef<'_, f64>, g: MatRef<'_, f64>) -> Mat<f64> {
    s.to_owned() - x * c.transpose() - c * x.transpose() + x * g * x.transpose()
}

/// The expected complete-data log-likelihood (without constants).
fn q_function(model: &LinearGaussianSsm, s: &SufficientStats) -> f64 {
    let n = model.state_dim();
    let j = s.n_sequences() as f64;
    let m0 = model.m0();
    let s0 = s.sum_x0();
    let init = Mat::<f64>::from_fn(n, n, |a, b| {
        s.sum_x0x0()[(a, b)] - m0[a] * s0[b] - s0[a] * m0[b] + j * m0[a] * m0[b]
    });
    let trans = residual(s.sigma().as_ref(), model.a(), s.sum_cross(), s.phi().as_ref());
    let obs = residual(s.sum_yy(), model.h(), s.sum_yx(), s.sum_xx());
    gaussian_term(j, model.p0(), &init)
        + gaussian_term(s.n_transitions() as f64, model.q(), &trans)
        + gaussian_term(s.n_steps() as f64, model.r(), &obs)
}

fn perturb_cov<G: Rng>(m: MatRef<'_, f64>, structure: CovStructure, eps: f64, rng: &mut G) -> Mat<f64> {
    let n = m.nrows();
    let d = Mat::<f64>::from_fn(n, n, |_, _| rng.random_range(-eps..eps));
    let s = rng.random_range(-eps..eps);
    Mat::from_fn(n, n, |i, j| {
        m[(i, j)]
            + match structure {
                CovStructure::Full => d[(i, j)] + d[(j, i)],
                CovStructure::Diagonal if i == j => d[(i, i)],
                CovStructure::Scalar if i == j => s,
                _ => 0.0,
            }
    })
}

/// `model` with every learned block moved by up to `eps` per entry, within
/// its structure.
fn perturb<G: Rng>(
    model: &LinearGaussianSsm,
    learn: LearnSet,
    (q_structure, r_structure): (CovStructure, CovStructure),
    eps: f64,
    rng: &mut G,
) -> LinearGaussianSsm {
    let (n, p) = (model.state_dim(), model.obs_dim());
    let mut params = model.parameters();
    if learn.contains(Param::A) {
        params.a += Mat::<f64>::from_fn(n, n, |_, _| rng.random_range(-eps..eps));
    }
    if learn.contains(Param::Q) {
        params.q = perturb_cov(params.q.as_ref(), q_structure, eps, rng);
    }
    if learn.contains(Param::H) {
        params.h += Mat::<f64>::from_fn(p, n, |_, _| rng.random_range(-eps..eps));
    }
    if learn.contains(Param::R) {
        params.r = perturb_cov(params.r.as_ref(), r_structure, eps, rng);
    }
    if learn.contains(Param::M0) {
        params
            .m0
            .iter_mut()
            .for_each(|v| *v += rng.random_range(-eps..eps));
    }
    if learn.contains(Param::P0) {
        params.p0 = perturb_cov(params.p0.as_ref(), CovStructure::Full, eps, rng);
    }
    LinearGaussianSsm::from_parameters(params).unwrap()
}

#[test]
fn no_perturbation_of_a_learned_parameter_beats_the_m_step() {
    let mut rng = StdRng::seed_from_u64(1);
    for (seed, n, p) in [(11u64, 2, 2), (12, 3, 2), (13, 2, 3)] {
        let model = random_model(n, p, seed);
        let mut seqs: Vec<Mat<f64>> = (0..2).map(|_| model.sample(8, &mut rng).unwrap().1).collect();
        seqs[0][(2, 0)] = f64::NAN;
        seqs[1][(5, p - 1)] = f64::NAN;
        let views: Vec<_> = seqs.iter().map(|m| m.as_ref()).collect();
        let stats = model.e_step(&views).unwrap().stats;
        for (mask, q_structure, r_structure) in [
            (63u8, CovStructure::Full, CovStructure::Full),
            (3, CovStructure::Diagonal, CovStructure::Full),
            (12, CovStructure::Full, CovStructure::Scalar),
            (2, CovStructure::Scalar, CovStructure::Diagonal),
            (8, CovStructure::Full, CovStructure::Diagonal),
            (48, CovStructure::Full, CovStructure::Full),
            (5, CovStructure::Full, CovStructure::Full),
        ] {
            let learn = learn_set(mask);
            let options = MStepOptions::new(learn)
                .with_q_structure(q_structure)
                .with_r_structure(r_structure);
            let (next, diagnostics) = model.m_step(&stats, &options).unwrap();
            assert!(diagnostics.is_empty());
            let best = q_function(&next, &stats);
            // The start has full Q and R: a structured update need not beat it.
            let structured = (learn.contains(Param::Q) && q_structure != CovStructure::Full)
                || (learn.contains(Param::R) && r_structure != CovStructure::Full);
            if !structured {
                assert!(best >= q_function(&model, &stats) - 1e-9 * best.abs());
            }
            for _ in 0..20 {
                let other = perturb(&next, learn, (q_structure, r_structure), 1e-4, &mut rng);
                let value = q_function(&other, &stats);
                assert!(
                    value <= best + 1e-9 * best.abs(),
                    "learn {learn}: {value} > {best}"
                );
            }
        }
    }
}
