//! Independent dense reference computations for the tests (plain formulas:
//! Gauss-Jordan inverse and determinant, no Cholesky, no shared code with the crate).
#![allow(dead_code)]

use faer::Mat;
use mixture::{CovarianceType, Covariances, GaussianMixture};

pub const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// Inverse and determinant by Gauss-Jordan elimination with partial pivoting.
pub fn inverse_and_det(a: &[Vec<f64>]) -> (Vec<Vec<f64>>, f64) {
    let n = a.len();
    let mut m: Vec<Vec<f64>> = a.to_vec();
    let mut inv: Vec<Vec<f64>> = (0..n)
        .map(|i| (0..n).map(|j| if i == j { 1.0 } else { 0.0 }).collect())
        .collect();
    let mut det = 1.0;
    for col in 0..n {
        let piv = (col..n)
            .max_by(|&i, &j| m[i][col].abs().total_cmp(&m[j][col].abs()))
            .unwrap();
        if piv != col {
            m.swap(piv, col);
            inv.swap(piv, col);
            det = -det;
        }
        let p = m[col][col];
        det *= p;
        for j in 0..n {
            m[col][j] /= p;
            inv[col][j] /= p;
        }
        for i in 0..n {
            if i != col {
                let f = m[i][col];
                for j in 0..n {
                    m[i][j] -= f * m[col][j];
                    inv[i][j] -= f * inv[col][j];
                }
            }
        }
    }
    (inv, det)
}

pub fn dense_cov(model: &GaussianMixture, k: usize) -> Vec<Vec<f64>> {
    let d = model.n_features();
    match model.covariances() {
        Covariances::Full(m) => (0..d).map(|i| (0..d).map(|j| m[k][(i, j)]).collect()).collect(),
        Covariances::Tied(m) => (0..d).map(|i| (0..d).map(|j| m[(i, j)]).collect()).collect(),
        Covariances::Diagonal(v) => (0..d)
            .map(|i| (0..d).map(|j| if i == j { v[(k, i)] } else { 0.0 }).collect())
            .collect(),
        Covariances::Spherical(v) => (0..d)
            .map(|i| (0..d).map(|j| if i == j { v[k] } else { 0.0 }).collect())
            .collect(),
    }
}

/// ln N(x; mu_k, Sigma_k) by the textbook formula.
pub fn log_normal(model: &GaussianMixture, k: usize, x: &[f64]) -> f64 {
    let d = x.len();
    let (inv, det) = inverse_and_det(&dense_cov(model, k));
    let r: Vec<f64> = (0..d).map(|j| x[j] - model.means()[(k, j)]).collect();
    let mut q = 0.0;
    for i in 0..d {
        for j in 0..d {
            q += r[i] * inv[i][j] * r[j];
        }
    }
    -0.5 * (d as f64 * LN_2PI + det.ln() + q)
}

pub fn row(x: &Mat<f64>, i: usize) -> Vec<f64> {
    (0..x.ncols()).map(|j| x[(i, j)]).collect()
}

/// Per-point reference: (log p(x_i), responsibilities).
pub fn reference_point(model: &GaussianMixture, x: &[f64]) -> (f64, Vec<f64>) {
    let k = model.n_components();
    let joint: Vec<f64> = (0..k)
        .map(|c| model.weights()[c].ln() + log_normal(model, c, x))
        .collect();
    let m = joint.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let s: f64 = joint.iter().map(|v| (v - m).exp()).sum();
    let lse = m + s.ln();
    (lse, joint.iter().map(|v| (v - lse).exp()).collect())
}

/// (weights, means, covariances) of the reference M-step.
pub type RefParams = (Vec<f64>, Vec<Vec<f64>>, Vec<Vec<Vec<f64>>>);

/// Reference M-step (no collapse handling): weights, means, covariances.
pub fn reference_m_step(x: &Mat<f64>, resp: &[Vec<f64>], cov_type: CovarianceType, reg: f64) -> RefParams {
    let (n, d) = (x.nrows(), x.ncols());
    let k = resp[0].len();
    let nk: Vec<f64> = (0..k).map(|c| (0..n).map(|i| resp[i][c]).sum()).collect();
    let total: f64 = nk.iter().sum();
    let weights: Vec<f64> = nk.iter().map(|v| v / total).collect();
    let means: Vec<Vec<f64>> = (0..k)
        .map(|c| {
            (0..d)
                .map(|j| (0..n).map(|i| resp[i][c] * x[(i, j)]).sum::<f64>() / nk[c])
                .collect()
        })
        .collect();
    let scatter = |c: usize| -> Vec<Vec<f64>> {
        (0..d)
            .map(|a| {
                (0..d)
                    .map(|b| {
                        (0..n)
                            .map(|i| resp[i][c] * (x[(i, a)] - means[c][a]) * (x[(i, b)] - means[c][b]))
                            .sum()
                    })
                    .collect()
            })
            .collect()
    };
    let delta = |a: usize, b: usize| if a == b { 1.0 } else { 0.0 };
    let matrix = |f: &dyn Fn(usize, usize) -> f64| -> Vec<Vec<f64>> {
        (0..d).map(|a| (0..d).map(|b| f(a, b)).collect()).collect()
    };
    let component = |c: usize| -> Vec<Vec<f64>> {
        let s = scatter(c);
        match cov_type {
            CovarianceType::Full => matrix(&|a, b| s[a][b] / nk[c] + reg * delta(a, b)),
            CovarianceType::Diagonal => matrix(&|a, b| (s[a][a] / nk[c] + reg) * delta(a, b)),
            CovarianceType::Spherical => {
                let v = (0..d).map(|a| s[a][a]).sum::<f64>() / (d as f64 * nk[c]) + reg;
                matrix(&|a, b| v * delta(a, b))
            }
            CovarianceType::Tied => unreachable!("the tied covariance pools the components"),
        }
    };
    let covs: Vec<Vec<Vec<f64>>> = if cov_type == CovarianceType::Tied {
        let scatters: Vec<Vec<Vec<f64>>> = (0..k).map(scatter).collect();
        let pooled =
            matrix(&|a, b| scatters.iter().map(|s| s[a][b]).sum::<f64>() / total + reg * delta(a, b));
        vec![pooled; k]
    } else {
        (0..k).map(component).collect()
    };
    (weights, means, covs)
}

/// A fixed, irregular test data set (deterministic, no RNG).
pub fn wiggly_data(n: usize, d: usize) -> Mat<f64> {
    Mat::from_fn(n, d, |i, j| {
        let t = i as f64 * 0.37 + j as f64 * 1.3;
        let cluster = (i % 3) as f64 * 2.0;
        cluster + t.sin() * 1.5 + (t * 0.7).cos() * 0.5 * (j as f64 + 1.0)
    })
}

/// A model of each covariance type with 3 components in d dimensions.
pub fn test_model(cov_type: CovarianceType, d: usize) -> GaussianMixture {
    let k = 3;
    let means = Mat::from_fn(k, d, |c, j| c as f64 * 2.0 + 0.1 * j as f64);
    let full = |c: usize| {
        Mat::from_fn(d, d, |i, j| {
            if i == j {
                1.0 + 0.3 * c as f64 + 0.1 * i as f64
            } else {
                0.2 / (1.0 + (i as f64 - j as f64).abs()) * if c == 1 { -1.0 } else { 1.0 }
            }
        })
    };
    let covs = match cov_type {
        CovarianceType::Full => Covariances::Full((0..k).map(full).collect()),
        CovarianceType::Tied => Covariances::Tied(full(0)),
        CovarianceType::Diagonal => {
            Covariances::Diagonal(Mat::from_fn(k, d, |c, j| 0.5 + 0.4 * c as f64 + 0.2 * j as f64))
        }
        CovarianceType::Spherical => Covariances::Spherical(vec![0.7, 1.1, 1.6]),
    };
    GaussianMixture::new(vec![0.2, 0.5, 0.3], means, covs).unwrap()
}
