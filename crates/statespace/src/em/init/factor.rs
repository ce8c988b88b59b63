//! The start for n ≠ p: principal components for H and a VAR(1) on the
//! factor scores (the dynamic-factor recipe of the [parent module](super)).

use faer::{Mat, MatRef, Side};
use linalg_kernels::Cholesky;
use rand::Rng;
use rand_distr::StandardNormal;

use super::linalg::{all_finite, diag, lagged_moment, nearest_spd_scaled, shrink_toward, solve_spd_right};
use super::{RELATIVE_FLOOR, RHO_MAX};
use crate::model::Parameters;

/// The smallest share of a coordinate's second moment left to R.
const NOISE_SHARE: f64 = 1e-2;

/// The n ≠ p start (see the [parent module](super)).
pub(super) fn start<G: Rng + ?Sized>(sequences: &[MatRef<'_, f64>], n: usize, rng: &mut G) -> Parameters {
    let p = sequences[0].ncols();
    let k = n.min(p);
    let (s, _) = lagged_moment(sequences, 0, 0, 0);
    let second: Vec<f64> = (0..p)
        .map(|i| {
            let v = s[(i, i)];
            if v > 0.0 && v.is_finite() { v } else { 1.0 }
        })
        .collect();
    let (u, d) = components(s.as_ref(), &second, k);
    let mut h = Mat::<f64>::zeros(p, n);
    for c in 0..k {
        for i in 0..p {
            h[(i, c)] = u[(i, c)] * d[c].sqrt();
        }
    }
    for c in k..n {
        for i in 0..p {
            let xi: f64 = rng.sample(StandardNormal);
            h[(i, c)] = 0.1 * second[i].sqrt() * xi / (n as f64).sqrt();
        }
    }
    let r: Vec<f64> = (0..p)
        .map(|i| {
            let explained: f64 = (0..k).map(|c| d[c] * u[(i, c)] * u[(i, c)]).sum();
            (second[i] - explained).max(NOISE_SHARE * second[i])
        })
        .collect();
    let hk = h.subcols(0, k);
    let (projection, full_noise) = score_projection(hk, &r);
    let mut noise = NoiseSum::new(k);
    let scores: Vec<Mat<f64>> = sequences
        .iter()
        .map(|y| factor_scores(*y, hk, &r, (projection.as_ref(), full_noise.as_ref()), &mut noise))
        .collect();
    let views: Vec<MatRef<'_, f64>> = scores.iter().map(Mat::as_ref).collect();
    let (ak, qk) = factor_var(&views, noise.mean().as_ref());
    let mut a = Mat::<f64>::identity(n, n) * faer::Scale(0.9);
    let mut q = Mat::<f64>::identity(n, n) * faer::Scale(0.19);
    a.submatrix_mut(0, 0, k, k).copy_from(&ak);
    q.submatrix_mut(0, 0, k, k).copy_from(&qk);
    let mut m0 = vec![0.0; n];
    if scores[0].nrows() > 0 && !scores[0][(0, 0)].is_nan() {
        for c in 0..k {
            m0[c] = scores[0][(0, c)];
        }
    }
    Parameters {
        a,
        q,
        h,
        r: diag(&r, 1.0),
        m0,
        p0: Mat::identity(n, n),
    }
}

/// The top k eigenvectors of S (p x k) and `d_c = max(λ_c − s², 0.1 λ_c)`
/// with s² the mean of the other eigenvalues; the k coordinates with the
/// largest second moments when the eigendecomposition fails.
fn components(s: MatRef<'_, f64>, second: &[f64], k: usize) -> (Mat<f64>, Vec<f64>) {
    let p = s.nrows();
    let eigen = all_finite(s)
        .then(|| s.self_adjoint_eigen(Side::Lower).ok())
        .flatten();
    if let Some(eigen) = eigen.filter(|e| all_finite(e.U())) {
        let raw = eigen.S().column_vector();
        let values: Vec<f64> = raw.iter().map(|v| v.max(0.0)).collect();
        if raw.iter().all(|v| v.is_finite()) {
            // Ascending order: the top k are the last k, largest first.
            let order: Vec<usize> = (0..p).rev().collect();
            let rest = &order[k..];
            let noise = if rest.is_empty() {
                0.0
            } else {
                rest.iter().map(|&c| values[c]).sum::<f64>() / rest.len() as f64
            };
            // Every component keeps a positive variance.
            let floor = 1e-6 * values.iter().copied().fold(0.0, f64::max) + f64::MIN_POSITIVE;
            let d = order[..k]
                .iter()
                .map(|&c| {
                    let lambda = values[c].max(floor);
                    (lambda - noise).max(0.1 * lambda)
                })
                .collect();
            let u = Mat::from_fn(p, k, |i, c| eigen.U()[(i, order[c])]);
            return (u, d);
        }
    }
    let mut order: Vec<usize> = (0..p).collect();
    order.sort_by(|&i, &j| second[j].total_cmp(&second[i]));
    let u = Mat::from_fn(p, k, |i, c| if i == order[c] { 1.0 } else { 0.0 });
    (u, order[..k].iter().map(|&i| second[i]).collect())
}

/// `G = (Hᵀ R⁻¹ H)⁻¹ Hᵀ R⁻¹` (k x p) and the covariance of its error on a
/// fully observed row, `(Hᵀ R⁻¹ H)⁻¹`.
fn score_projection(h: MatRef<'_, f64>, r: &[f64]) -> (Mat<f64>, Mat<f64>) {
    let (p, k) = (h.nrows(), h.ncols());
    let weighted = Mat::from_fn(p, k, |i, c| h[(i, c)] / r[i]);
    let info = weighted.transpose() * h;
    match Cholesky::new(info.as_ref()) {
        Ok(chol) => {
            let mut g = weighted.transpose().to_owned();
            let solved = chol.solve_in_place(g.as_mut());
            let noise = chol.inverse();
            if solved.is_ok() {
                return (g, noise);
            }
            (Mat::zeros(k, p), Mat::zeros(k, k))
        }
        Err(_) => (Mat::zeros(k, p), Mat::zeros(k, k)),
    }
}

/// The sum of the error covariances of the scores, for their mean N.
struct NoiseSum {
    sum: Mat<f64>,
    rows: usize,
}

impl NoiseSum {
    fn new(k: usize) -> Self {
        Self {
            sum: Mat::zeros(k, k),
            rows: 0,
        }
    }

    fn add(&mut self, cov: MatRef<'_, f64>) {
        self.sum += cov;
        self.rows += 1;
    }

    /// The mean error covariance over the scored rows.
    fn mean(&self) -> Mat<f64> {
        &self.sum * faer::Scale(1.0 / self.rows.max(1) as f64)
    }
}

/// The factor scores of one sequence (T x k): `G y_k` on fully observed
/// rows, the generalised least-squares fit over the observed coordinates on
/// rows where its error variances are at most `max(2 ×` those of a full
/// row`, ½)` (the scores have about unit variance), NaN on the others; the
/// error covariance of every score goes into `noise` (`full.1` for a fully
/// observed row).
fn factor_scores(
    y: MatRef<'_, f64>,
    h: MatRef<'_, f64>,
    r: &[f64],
    full: (MatRef<'_, f64>, MatRef<'_, f64>),
    noise: &mut NoiseSum,
) -> Mat<f64> {
    let (t, k) = (y.nrows(), h.ncols());
    let mut scores = y * full.0.transpose();
    for step in 0..t {
        let observed: Vec<usize> = (0..y.ncols()).filter(|&i| !y[(step, i)].is_nan()).collect();
        if observed.len() == y.ncols() {
            noise.add(full.1);
            continue;
        }
        let fit = (observed.len() >= k)
            .then(|| partial_score(y.row(step), h, r, &observed))
            .flatten()
            .filter(|(_, cov)| (0..k).all(|c| cov[(c, c)] <= (2.0 * full.1[(c, c)]).max(0.5)));
        if let Some((_, cov)) = &fit {
            noise.add(cov.as_ref());
        }
        for c in 0..k {
            scores[(step, c)] = fit.as_ref().map_or(f64::NAN, |(f, _)| f[c]);
        }
    }
    scores
}

/// `(H_Oᵀ R_O⁻¹ H_O)⁻¹ H_Oᵀ R_O⁻¹ y_O` over the observed coordinates O,
/// and its error covariance `(H_Oᵀ R_O⁻¹ H_O)⁻¹`.
fn partial_score(
    y: faer::RowRef<'_, f64>,
    h: MatRef<'_, f64>,
    r: &[f64],
    observed: &[usize],
) -> Option<(Vec<f64>, Mat<f64>)> {
    let k = h.ncols();
    let info = Mat::from_fn(k, k, |a, b| {
        observed.iter().map(|&i| h[(i, a)] * h[(i, b)] / r[i]).sum()
    });
    let rhs: Vec<f64> = (0..k)
        .map(|a| observed.iter().map(|&i| h[(i, a)] * y[i] / r[i]).sum())
        .collect();
    let chol = Cholesky::new(info.as_ref()).ok()?;
    let f = chol.solve(&rhs).ok()?;
    f.iter().all(|v| v.is_finite()).then(|| (f, chol.inverse()))
}

/// The VAR(1) of the scores corrected for their error covariance N, and
/// its residual covariance less the part of N (see the
/// [parent module](super)); `0.9 I` and `0.19 I` with fewer than 2k pairs.
fn factor_var(scores: &[MatRef<'_, f64>], noise: MatRef<'_, f64>) -> (Mat<f64>, Mat<f64>) {
    let k = noise.nrows();
    let fallback = || {
        (
            Mat::<f64>::identity(k, k) * faer::Scale(0.9),
            Mat::<f64>::identity(k, k) * faer::Scale(0.19),
        )
    };
    let (c00, count) = lagged_moment(scores, 0, 0, 1);
    let (c01, _) = lagged_moment(scores, 0, 1, 1);
    let (c11, _) = lagged_moment(scores, 1, 1, 1);
    if count < (2 * k) as f64 {
        return fallback();
    }
    let scale: Vec<f64> = (0..k).map(|c| c11[(c, c)].max(f64::MIN_POSITIVE)).collect();
    let trace = scale.iter().sum::<f64>() / k as f64;
    let ridge = Mat::<f64>::identity(k, k) * faer::Scale(1e-8 * trace + f64::MIN_POSITIVE);
    let Some(least_squares) = solve_spd_right(c01.as_ref(), (&c11 + &ridge).as_ref()) else {
        return fallback();
    };
    let corrected = &c11 - noise;
    let margin = &corrected - diag(&scale, 0.1);
    let a = Cholesky::new(margin.as_ref())
        .ok()
        .and_then(|_| solve_spd_right(c01.as_ref(), corrected.as_ref()))
        .unwrap_or_else(|| least_squares.clone());
    // An unstable estimate moves toward the (stabilised) least-squares one.
    let a = shrink_toward(&a, &least_squares, RHO_MAX);
    let mut q = c00.clone();
    q -= &a * c01.transpose();
    q -= &c01 * a.transpose();
    q += &a * &c11 * a.transpose();
    q -= noise;
    q -= &a * noise * a.transpose();
    let residual_scale: Vec<f64> = (0..k).map(|c| c00[(c, c)].max(f64::MIN_POSITIVE)).collect();
    let q = nearest_spd_scaled(q.as_ref(), &residual_scale, RELATIVE_FLOOR);
    (a, q)
}
