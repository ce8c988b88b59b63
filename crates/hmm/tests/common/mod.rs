//! Shared test helpers: brute-force reference computations for tiny models
//! (enumerating all K^T state paths), a runner on a pool of given size, and
//! a 3-state Gaussian HMM.
#![allow(dead_code)]

use faer::{Mat, mat};
use hmm::{GaussianEmission, GaussianHmm};
use mixture::Covariances;

/// Everything the brute force gives for one sequence.
pub struct Brute {
    /// ln p(x).
    pub loglik: f64,
    /// p(z_t = j | x), T x K.
    pub gamma: Mat<f64>,
    /// Σ_t p(z_t = i, z_{t+1} = j | x), K x K.
    pub xi: Mat<f64>,
    /// The most probable path and ln p(x, z*).
    pub best_path: Vec<usize>,
    /// ln p(x, z*).
    pub best_logp: f64,
}

/// Enumerates every path of length `t` over `k` states with log-joint
/// `ln π_{z0} + ln b_{z0}(x0) + Σ ln A + ln b`.
pub fn brute_force(start: &[f64], trans: &Mat<f64>, log_b: &Mat<f64>) -> Brute {
    let k = start.len();
    let t = log_b.nrows();
    let n_paths = k.pow(t as u32);
    let mut logps = Vec::with_capacity(n_paths);
    let mut paths = Vec::with_capacity(n_paths);
    for code in 0..n_paths {
        let mut z = vec![0usize; t];
        let mut c = code;
        // Most significant digit first, so that the first path in enumeration
        // order is lexicographically smallest.
        for s in (0..t).rev() {
            z[s] = c % k;
            c /= k;
        }
        let mut lp = start[z[0]].ln() + log_b[(0, z[0])];
        for s in 1..t {
            lp += trans[(z[s - 1], z[s])].ln() + log_b[(s, z[s])];
        }
        logps.push(lp);
        paths.push(z);
    }
    let max = logps.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let total: f64 = logps.iter().map(|&l| (l - max).exp()).sum();
    let loglik = max + total.ln();
    let mut gamma = Mat::zeros(t, k);
    let mut xi = Mat::zeros(k, k);
    let mut best = 0;
    for (p, z) in paths.iter().enumerate() {
        let w = (logps[p] - loglik).exp();
        for s in 0..t {
            gamma[(s, z[s])] += w;
            if s + 1 < t {
                xi[(z[s], z[s + 1])] += w;
            }
        }
        if logps[p] > logps[best] {
            best = p;
        }
    }
    Brute {
        loglik,
        gamma,
        xi,
        best_path: paths[best].clone(),
        best_logp: logps[best],
    }
}

/// A random probability row with entries bounded away from zero.
pub fn random_row<R: rand::Rng>(k: usize, rng: &mut R) -> Vec<f64> {
    let row: Vec<f64> = (0..k).map(|_| 0.2 + rng.random::<f64>()).collect();
    let s: f64 = row.iter().sum();
    row.into_iter().map(|v| v / s).collect()
}

/// A random K x K transition matrix.
pub fn random_transitions<R: rand::Rng>(k: usize, rng: &mut R) -> Mat<f64> {
    let mut a = Mat::zeros(k, k);
    for i in 0..k {
        let row = random_row(k, rng);
        for j in 0..k {
            a[(i, j)] = row[j];
        }
    }
    a
}

/// Largest absolute difference of two matrices.
pub fn max_abs_diff(a: &Mat<f64>, b: &Mat<f64>) -> f64 {
    assert_eq!((a.nrows(), a.ncols()), (b.nrows(), b.ncols()));
    let mut m = 0.0f64;
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            m = m.max((a[(i, j)] - b[(i, j)]).abs());
        }
    }
    m
}

/// log-sum-exp of a slice (reference).
fn lse(v: &[f64]) -> f64 {
    let m = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

/// Textbook log-space forward-backward and Viterbi (O(T K²), any K): an
/// independent reference for sizes the brute force cannot enumerate.
pub fn log_space_reference(start: &[f64], trans: &Mat<f64>, log_b: &Mat<f64>) -> Brute {
    let k = start.len();
    let t_len = log_b.nrows();
    let la = |i: usize, j: usize| trans[(i, j)].ln();
    let mut fwd = Mat::<f64>::zeros(t_len, k);
    for j in 0..k {
        fwd[(0, j)] = start[j].ln() + log_b[(0, j)];
    }
    for t in 1..t_len {
        for j in 0..k {
            let terms: Vec<f64> = (0..k).map(|i| fwd[(t - 1, i)] + la(i, j)).collect();
            fwd[(t, j)] = lse(&terms) + log_b[(t, j)];
        }
    }
    let mut bwd = Mat::<f64>::zeros(t_len, k);
    for t in (0..t_len - 1).rev() {
        for i in 0..k {
            let terms: Vec<f64> = (0..k)
                .map(|j| la(i, j) + log_b[(t + 1, j)] + bwd[(t + 1, j)])
                .collect();
            bwd[(t, i)] = lse(&terms);
        }
    }
    let last: Vec<f64> = (0..k).map(|j| fwd[(t_len - 1, j)]).collect();
    let loglik = lse(&last);
    let gamma = Mat::from_fn(t_len, k, |t, j| (fwd[(t, j)] + bwd[(t, j)] - loglik).exp());
    let mut xi = Mat::<f64>::zeros(k, k);
    for t in 0..t_len.saturating_sub(1) {
        for i in 0..k {
            for j in 0..k {
                xi[(i, j)] += (fwd[(t, i)] + la(i, j) + log_b[(t + 1, j)] + bwd[(t + 1, j)] - loglik).exp();
            }
        }
    }
    // Viterbi with back-pointers (first maximiser on ties).
    let mut delta: Vec<f64> = (0..k).map(|j| start[j].ln() + log_b[(0, j)]).collect();
    let mut back = vec![vec![0usize; k]; t_len];
    for t in 1..t_len {
        let mut next = vec![f64::NEG_INFINITY; k];
        for j in 0..k {
            for i in 0..k {
                let v = delta[i] + la(i, j);
                if v > next[j] {
                    next[j] = v;
                    back[t][j] = i;
                }
            }
            next[j] += log_b[(t, j)];
        }
        delta = next;
    }
    let mut z = 0;
    for j in 1..k {
        if delta[j] > delta[z] {
            z = j;
        }
    }
    let best_logp = delta[z];
    let mut best_path = vec![0; t_len];
    best_path[t_len - 1] = z;
    for t in (1..t_len).rev() {
        z = back[t][z];
        best_path[t - 1] = z;
    }
    Brute {
        loglik,
        gamma,
        xi,
        best_path,
        best_logp,
    }
}

/// Runs `f` on a rayon pool of `threads` threads.
pub fn with_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

/// A 3-state HMM with 2-D Gaussian emissions (full, correlated, overlapping
/// covariances) and sticky transitions.
pub fn full_gaussian_truth() -> GaussianHmm {
    let emission = GaussianEmission::new(
        mat![[0.0, 0.0], [1.0, 0.3], [0.3, 1.0]],
        Covariances::Full(vec![
            mat![[1.0, 0.4], [0.4, 0.8]],
            mat![[0.7, -0.3], [-0.3, 1.0]],
            mat![[0.9, 0.0], [0.0, 0.6]],
        ]),
    )
    .expect("valid emission");
    GaussianHmm::new(
        vec![0.5, 0.3, 0.2],
        mat![[0.90, 0.05, 0.05], [0.10, 0.85, 0.05], [0.05, 0.10, 0.85]].as_ref(),
        emission,
    )
    .expect("valid chain")
}
