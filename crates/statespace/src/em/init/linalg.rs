//! The small dense computations of the starts: lagged moments with missing
//! values, solves, the spectral radius and the projection onto the
//! positive definite matrices.

use faer::linalg::solvers::Solve;
use faer::{Mat, MatRef, Side};
use linalg_kernels::Cholesky;

/// The mean of `z_{k−l1} z_{k−l2}ᵀ` over the steps `k ≥ span` of every
/// sequence (`span ≥ l1, l2`), entry by entry over the steps where both
/// values are observed (NaN = missing): with `z⁰` the data with missing
/// values set to 0 and `o` the indicator of observed values,
/// `M_ij = Σ z⁰_{k−l1,i} z⁰_{k−l2,j} / Σ o_{k−l1,i} o_{k−l2,j}` (0 where
/// the count is 0). Also returns the smallest count.
pub(super) fn lagged_moment(
    sequences: &[MatRef<'_, f64>],
    l1: usize,
    l2: usize,
    span: usize,
) -> (Mat<f64>, f64) {
    let p = sequences.first().map_or(0, |y| y.ncols());
    let mut sum = Mat::<f64>::zeros(p, p);
    let mut count = Mat::<f64>::zeros(p, p);
    for y in sequences.iter().filter(|y| y.nrows() > span) {
        let t = y.nrows();
        let filled = Mat::from_fn(t, p, |k, i| if y[(k, i)].is_nan() { 0.0 } else { y[(k, i)] });
        let observed = Mat::from_fn(t, p, |k, i| if y[(k, i)].is_nan() { 0.0 } else { 1.0 });
        let terms = t - span;
        let (a, b) = (span - l1, span - l2);
        sum += filled.subrows(a, terms).transpose() * filled.subrows(b, terms);
        count += observed.subrows(a, terms).transpose() * observed.subrows(b, terms);
    }
    let min_count = (0..p)
        .flat_map(|j| (0..p).map(move |i| (i, j)))
        .map(|(i, j)| count[(i, j)])
        .fold(f64::INFINITY, f64::min);
    let mean = Mat::from_fn(p, p, |i, j| {
        let c = count[(i, j)];
        if c > 0.0 { sum[(i, j)] / c } else { 0.0 }
    });
    (mean, if p == 0 { 0.0 } else { min_count })
}

/// `C G⁻¹` for a symmetric positive definite `G`, or `None` when `G` does
/// not factor or the result is not finite.
pub(super) fn solve_spd_right(c: MatRef<'_, f64>, g: MatRef<'_, f64>) -> Option<Mat<f64>> {
    let chol = Cholesky::new(g).ok()?;
    let mut xt = c.transpose().to_owned();
    chol.solve_in_place(xt.as_mut()).ok()?;
    finite(xt.transpose().to_owned())
}

/// `C W⁻¹` for a square `W` (LU with partial pivoting), or `None` when the
/// result is not finite.
pub(super) fn solve_right(c: MatRef<'_, f64>, w: MatRef<'_, f64>) -> Option<Mat<f64>> {
    if !all_finite(w) {
        return None;
    }
    let lu = w.partial_piv_lu();
    let xt = lu.solve_transpose(c.transpose());
    finite(xt.transpose().to_owned())
}

/// Whether every entry is finite.
pub(super) fn all_finite(m: MatRef<'_, f64>) -> bool {
    linalg_kernels::finite::first_non_finite(m).is_none()
}

fn finite(m: Mat<f64>) -> Option<Mat<f64>> {
    all_finite(m.as_ref()).then_some(m)
}

/// The spectral radius `max |λᵢ(A)|` from the eigenvalues of A, or the
/// Frobenius norm (an upper bound) when they cannot be computed.
pub(super) fn spectral_radius(a: MatRef<'_, f64>) -> f64 {
    let frobenius = a.norm_l2();
    if !all_finite(a) {
        return f64::INFINITY;
    }
    match a.eigenvalues() {
        Ok(values) if values.iter().all(|v| v.re.is_finite() && v.im.is_finite()) => {
            values.iter().map(|v| v.re.hypot(v.im)).fold(0.0, f64::max)
        }
        _ => frobenius,
    }
}

/// Scales `a` by `rho_max / ρ(A)` when its spectral radius ρ(A) exceeds
/// `rho_max`; returns the factor applied (1 when none).
pub(super) fn stabilise(a: &mut Mat<f64>, rho_max: f64) -> f64 {
    let rho = spectral_radius(a.as_ref());
    if rho > rho_max && rho.is_finite() {
        let factor = rho_max / rho;
        *a *= faer::Scale(factor);
        factor
    } else {
        1.0
    }
}

/// The first of `(1 − t) A + t B`, t = 0, 1/16, …, 1, with spectral radius
/// at most `rho_max`: A moved toward the stable B just as far as needed
/// (B is scaled to `rho_max` first if it is not stable). Moving toward
/// another estimate keeps the structure of A, where scaling all of A would
/// not (an integrator with 0.97 in place of 0.99 drifts).
pub(super) fn shrink_toward(a: &Mat<f64>, b: &Mat<f64>, rho_max: f64) -> Mat<f64> {
    let mut b = b.clone();
    stabilise(&mut b, rho_max);
    const STEPS: usize = 16;
    for step in 0..STEPS {
        let t = step as f64 / STEPS as f64;
        let blend = a * faer::Scale(1.0 - t) + &b * faer::Scale(t);
        if spectral_radius(blend.as_ref()) <= rho_max {
            return blend;
        }
    }
    b
}

/// `(M + Mᵀ)/2` with its eigenvalues raised to at least `floor` (> 0):
/// the nearest symmetric matrix with spectrum ≥ `floor` in the Frobenius
/// norm. Falls back to the diagonal (each entry at least `floor`) when the
/// eigendecomposition fails or the result does not factor.
pub(super) fn nearest_spd(m: MatRef<'_, f64>, floor: f64) -> Mat<f64> {
    let dim = m.nrows();
    let sym = Mat::from_fn(dim, dim, |i, j| 0.5 * (m[(i, j)] + m[(j, i)]));
    let diagonal = || {
        Mat::from_fn(dim, dim, |i, j| {
            let d = sym[(i, i)];
            if i != j {
                0.0
            } else if d > floor && d.is_finite() {
                d
            } else {
                floor
            }
        })
    };
    if !all_finite(sym.as_ref()) {
        return diagonal();
    }
    let Ok(eigen) = sym.self_adjoint_eigen(Side::Lower) else {
        return diagonal();
    };
    let (u, s) = (eigen.U(), eigen.S().column_vector());
    let scaled = Mat::from_fn(dim, dim, |i, c| u[(i, c)] * s[c].max(floor));
    let mut out = scaled * u.transpose();
    for j in 0..dim {
        for i in (j + 1)..dim {
            let v = 0.5 * (out[(i, j)] + out[(j, i)]);
            out[(i, j)] = v;
            out[(j, i)] = v;
        }
    }
    if Cholesky::new(out.as_ref()).is_ok() {
        out
    } else {
        diagonal()
    }
}

/// `scale · diag(values)`.
pub(super) fn diag(values: &[f64], scale: f64) -> Mat<f64> {
    Mat::from_fn(values.len(), values.len(), |i, j| {
        if i == j { scale * values[i] } else { 0.0 }
    })
}

/// [`nearest_spd`] in the coordinates scaled by `scale` (positive): with
/// `D = diag(scale)`, `D^{1/2} N(D^{-1/2} M D^{-1/2}) D^{1/2}` where N raises
/// the eigenvalues to at least `relative_floor`. Scale-free: a coordinate
/// measured in other units gets the same relative floor.
pub(super) fn nearest_spd_scaled(m: MatRef<'_, f64>, scale: &[f64], relative_floor: f64) -> Mat<f64> {
    let dim = m.nrows();
    let root: Vec<f64> = scale.iter().map(|s| s.sqrt()).collect();
    let scaled = Mat::from_fn(dim, dim, |i, j| m[(i, j)] / (root[i] * root[j]));
    let projected = nearest_spd(scaled.as_ref(), relative_floor);
    Mat::from_fn(dim, dim, |i, j| projected[(i, j)] * (root[i] * root[j]))
}
