//! Property tests of the kernels. Every input comes from proptest strategies,
//! so failures shrink and replay.
//!
//! SPD matrices are built as `Q diag(λ) Qᵀ` with `Q` a product of Householder
//! reflections and `λ` log-uniform in `[s, s · κ]` for a stated condition
//! number `κ`: `ln det = Σ ln λ` is then an exact oracle.

use faer::Mat;
use linalg_kernels::{
    Cholesky, FloorSchedule, KernelError, LN_2PI, gaussian_log_density, log_sum_exp, row_log_sum_exp,
};
use proptest::prelude::*;

/// An SPD matrix together with its exact eigenvalues.
#[derive(Debug, Clone)]
struct Spd {
    a: Mat<f64>,
    eigenvalues: Vec<f64>,
}

fn householder_product(n: usize, vectors: &[Vec<f64>]) -> Mat<f64> {
    let mut q = Mat::<f64>::identity(n, n);
    for v in vectors {
        let norm2: f64 = v.iter().map(|x| x * x).sum();
        if norm2 < 1e-6 {
            continue;
        }
        let h = Mat::<f64>::from_fn(n, n, |i, j| {
            f64::from(u8::from(i == j)) - 2.0 * v[i] * v[j] / norm2
        });
        q = &q * &h;
    }
    q
}

/// SPD matrices of dimension 1..=max_n with condition number at most `cond`.
fn spd(max_n: usize, cond: f64) -> impl Strategy<Value = Spd> {
    (1..=max_n).prop_flat_map(move |n| {
        (
            prop::collection::vec(prop::collection::vec(-1.0..1.0f64, n), 3),
            prop::collection::vec(0.0..=cond.log10(), n),
            -3.0..3.0f64,
        )
            .prop_map(move |(vectors, log_lambda, log_scale)| {
                let q = householder_product(n, &vectors);
                let eigenvalues: Vec<f64> = log_lambda.iter().map(|l| 10f64.powf(l + log_scale)).collect();
                let d = Mat::<f64>::from_fn(n, n, |i, j| if i == j { eigenvalues[i] } else { 0.0 });
                let mut a = &q * &d * q.transpose();
                linalg_kernels::symmetrize(a.as_mut()).unwrap();
                Spd { a, eigenvalues }
            })
    })
}

fn max_abs(m: &Mat<f64>) -> f64 {
    m.norm_max()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn factor_reconstructs_the_matrix(s in spd(24, 1e6)) {
        let chol = Cholesky::new(s.a.as_ref()).unwrap();
        let n = s.a.nrows() as f64;
        let residual = max_abs(&(chol.reconstruct() - &s.a));
        prop_assert!(residual <= 1e-13 * n * max_abs(&s.a), "residual {residual}");
    }

    #[test]
    fn log_det_matches_the_eigenvalues(s in spd(24, 1e8)) {
        let chol = Cholesky::new(s.a.as_ref()).unwrap();
        let exact: f64 = s.eigenvalues.iter().map(|l| l.ln()).sum();
        let n = s.a.nrows() as f64;
        prop_assert!((chol.log_det() - exact).abs() <= 1e-9 * n * (1.0 + exact.abs()),
            "{} vs {exact}", chol.log_det());
    }

    #[test]
    fn solve_has_a_small_residual(s in spd(24, 1e6), seed in prop::collection::vec(-1.0..1.0f64, 24)) {
        let n = s.a.nrows();
        let b = &seed[..n];
        let chol = Cholesky::new(s.a.as_ref()).unwrap();
        let x = chol.solve(b).unwrap();
        let x_norm = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for i in 0..n {
            let ax: f64 = (0..n).map(|j| s.a[(i, j)] * x[j]).sum();
            prop_assert!((ax - b[i]).abs() <= 1e-12 * n as f64 * max_abs(&s.a) * x_norm + 1e-14);
        }
    }

    #[test]
    fn inverse_is_an_inverse(s in spd(16, 1e4)) {
        let n = s.a.nrows();
        let inv = Cholesky::new(s.a.as_ref()).unwrap().inverse();
        let err = max_abs(&(&s.a * &inv - Mat::<f64>::identity(n, n)));
        prop_assert!(err <= 1e-10 * n as f64, "{err}");
    }

    #[test]
    fn rank_deficient_and_indefinite_inputs_never_panic_or_give_nan(
        n in 1usize..10,
        rank in 0usize..10,
        entries in prop::collection::vec(-3.0..3.0f64, 100),
        shift in -1.0..0.1f64,
    ) {
        // A = W Wᵀ + shift·I with W of rank ≤ `rank`: singular, or indefinite.
        let r = rank.min(n);
        let w = Mat::<f64>::from_fn(n, r.max(1), |i, j| if j < r { entries[i * 10 + j] } else { 0.0 });
        let mut a = &w * w.transpose();
        for i in 0..n { a[(i, i)] += shift; }
        match Cholesky::new(a.as_ref()) {
            Ok(chol) => prop_assert!(chol.log_det().is_finite() || chol.log_det() == f64::NEG_INFINITY),
            Err(e) => {
                let named_pivot = matches!(e, KernelError::NotPositiveDefinite { pivot, .. } if pivot < n);
                prop_assert!(named_pivot, "unexpected error {:?}", e);
            }
        }
        match Cholesky::with_floor(a.as_ref(), &FloorSchedule::default()) {
            Ok((chol, info)) => {
                prop_assert!(chol.log_det().is_finite());
                prop_assert!(info.jitter.is_finite() && info.jitter >= 0.0);
                prop_assert!(chol.condition_estimate() <= FloorSchedule::default().max_condition);
            }
            Err(e) => {
                let exhausted = matches!(e, KernelError::FloorExhausted { .. });
                prop_assert!(exhausted, "unexpected error {:?}", e);
            }
        }
    }

    #[test]
    fn ill_conditioned_matrices_get_a_reported_floor(s in spd(12, 1e15)) {
        let (chol, info) = Cholesky::with_floor(s.a.as_ref(), &FloorSchedule::default()).unwrap();
        prop_assert!(chol.condition_estimate() <= 1e12);
        let exact_cond = s.eigenvalues.iter().cloned().fold(0.0, f64::max)
            / s.eigenvalues.iter().cloned().fold(f64::INFINITY, f64::min);
        if exact_cond < 1e11 {
            prop_assert!(!info.was_applied());
        }
    }

    #[test]
    fn log_sum_exp_is_shift_invariant_and_bounded(
        v in prop::collection::vec(-700.0..700.0f64, 1..20),
        c in -100.0..100.0f64,
    ) {
        let lse = log_sum_exp(&v).unwrap();
        let max = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        prop_assert!(max <= lse && lse <= max + (v.len() as f64).ln() + 1e-12);
        let shifted: Vec<f64> = v.iter().map(|x| x + c).collect();
        prop_assert!((log_sum_exp(&shifted).unwrap() - (lse + c)).abs() <= 1e-12 * (1.0 + lse.abs()));
    }

    #[test]
    fn row_log_sum_exp_agrees_with_the_slice_version(
        rows in 1usize..20, cols in 1usize..6,
        entries in prop::collection::vec(prop_oneof![9 => -50.0..50.0f64, 1 => Just(f64::NEG_INFINITY)], 120),
    ) {
        let m = Mat::<f64>::from_fn(rows, cols, |i, j| entries[i * 6 + j]);
        let mut out = vec![0.0; rows];
        row_log_sum_exp(m.as_ref(), &mut out).unwrap();
        for i in 0..rows {
            let row: Vec<f64> = (0..cols).map(|j| m[(i, j)]).collect();
            let expected = log_sum_exp(&row).unwrap();
            prop_assert!(!out[i].is_nan());
            prop_assert!(out[i] == expected || (out[i] - expected).abs() < 1e-12);
        }
    }

    #[test]
    fn batched_log_density_equals_per_point_formula(
        s in spd(10, 1e4),
        points in prop::collection::vec(-5.0..5.0f64, 10 * 40),
        mean in prop::collection::vec(-2.0..2.0f64, 10),
    ) {
        let d = s.a.nrows();
        let n = 40;
        let x = Mat::<f64>::from_fn(n, d, |i, j| points[i * 10 + j]);
        let chol = Cholesky::new(s.a.as_ref()).unwrap();
        let mut out = vec![0.0; n];
        gaussian_log_density(x.as_ref(), &mean[..d], &chol, &mut out).unwrap();
        for i in 0..n {
            let r: Vec<f64> = (0..d).map(|j| x[(i, j)] - mean[j]).collect();
            // Independent oracle: the quadratic form through the explicit solve.
            let sol = chol.solve(&r).unwrap();
            let q: f64 = r.iter().zip(&sol).map(|(a, b)| a * b).sum();
            let expected = -0.5 * (d as f64 * LN_2PI + chol.log_det() + q);
            prop_assert!((out[i] - expected).abs() <= 1e-9 * (1.0 + expected.abs()), "{} vs {expected}", out[i]);
        }
    }
}
