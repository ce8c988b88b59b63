//! The data-driven start of EM (documented on the [`em_core::EmModel`]
//! implementation).

use faer::{Mat, MatRef};
use linalg_kernels::Cholesky;
use rand::Rng;
use rand_distr::StandardNormal;

use super::options::InitConfig;
use crate::data::validate_all;
use crate::error::{Matrix, Result, StateSpaceError};
use crate::model::{LinearGaussianSsm, Parameters};
use crate::param::Param;

/// A seeded starting model for `config.state_dim` from the sequences.
pub(super) fn init_from_data<G: Rng + ?Sized>(
    sequences: &[MatRef<'_, f64>],
    config: &InitConfig,
    rng: &mut G,
) -> Result<LinearGaussianSsm> {
    let n = config.state_dim;
    check_config(config)?;
    let first = sequences.first().ok_or(StateSpaceError::NoSequences)?;
    let p = first.ncols();
    if p == 0 {
        return Err(StateSpaceError::ZeroDimension {
            matrix: Matrix::Param(Param::H),
        });
    }
    let summaries = validate_all(sequences, p)?;
    if summaries.iter().all(|s| s.observed_values == 0) {
        return Err(StateSpaceError::NoObservedValues);
    }
    let (mean, var) = observed_moments(sequences, p);
    let mut start = if n == p {
        autoregressive_start(sequences, *first, &mean, &var)
    } else {
        random_observation_start(n, &var, rng)
    };
    if config.a_jitter > 0.0 {
        for j in 0..n {
            for i in 0..n {
                let xi: f64 = rng.sample(StandardNormal);
                start.a[(i, j)] += config.a_jitter * xi;
            }
        }
    }
    LinearGaussianSsm::from_parameters(start)
}

fn check_config(config: &InitConfig) -> Result<()> {
    if config.state_dim == 0 {
        return Err(StateSpaceError::ZeroDimension {
            matrix: Matrix::Param(Param::A),
        });
    }
    if config.state_dim > InitConfig::MAX_STATE_DIM {
        return Err(StateSpaceError::InvalidOption {
            option: "state_dim",
            requirement: "must be at most InitConfig::MAX_STATE_DIM (4096)",
        });
    }
    if !(config.a_jitter >= 0.0 && config.a_jitter.is_finite()) {
        return Err(StateSpaceError::InvalidOption {
            option: "a_jitter",
            requirement: "must be finite and non-negative",
        });
    }
    Ok(())
}

/// The mean and variance of the observed values of every coordinate (the
/// variance is 1 when it is not positive and finite, or nothing is observed).
fn observed_moments(sequences: &[MatRef<'_, f64>], p: usize) -> (Vec<f64>, Vec<f64>) {
    let mut mean = vec![0.0; p];
    let mut var = vec![0.0; p];
    for i in 0..p {
        let values = sequences
            .iter()
            .flat_map(|y| (0..y.nrows()).map(move |k| y[(k, i)]))
            .filter(|v| !v.is_nan());
        let (mut count, mut sum, mut sum_sq) = (0.0f64, 0.0f64, 0.0f64);
        for v in values {
            count += 1.0;
            sum += v;
            sum_sq += v * v;
        }
        if count > 0.0 {
            mean[i] = sum / count;
            let v = sum_sq / count - mean[i] * mean[i];
            var[i] = if v > 0.0 && v.is_finite() { v } else { 1.0 };
        } else {
            var[i] = 1.0;
        }
    }
    (mean, var)
}

/// `scale · diag(values)`.
fn diag(values: &[f64], scale: f64) -> Mat<f64> {
    Mat::<f64>::from_fn(values.len(), values.len(), |i, j| {
        if i == j { scale * values[i] } else { 0.0 }
    })
}

/// Whether rows `k − 1` and `k` of `y` are fully observed.
fn full_pair(y: MatRef<'_, f64>, k: usize) -> bool {
    (0..y.ncols()).all(|j| !y[(k, j)].is_nan() && !y[(k - 1, j)].is_nan())
}

/// The start for n = p: `H = I`, the AR(1) fit of A with half the residual
/// variances in Q and R (or `A = 0.9 I`, `Q = 0.1 diag(σ²)`,
/// `R = 0.5 diag(σ²)` without enough fully observed pairs), `m0` the first
/// row (missing entries replaced by the mean), `P0 = diag(σ²)`.
fn autoregressive_start(
    sequences: &[MatRef<'_, f64>],
    first: MatRef<'_, f64>,
    mean: &[f64],
    var: &[f64],
) -> Parameters {
    let p = mean.len();
    let (a, q, r) = match least_squares_ar1(sequences, p) {
        Some((fit, pairs)) => {
            let res = residual_variances(sequences, fit.as_ref(), pairs, var);
            (fit, diag(&res, 0.5), diag(&res, 0.5))
        }
        None => (
            Mat::<f64>::identity(p, p) * faer::Scale(0.9),
            diag(var, 0.1),
            diag(var, 0.5),
        ),
    };
    let m0 = (0..p)
        .map(|i| {
            let v = first[(0, i)];
            if v.is_nan() { mean[i] } else { v }
        })
        .collect();
    Parameters {
        a,
        q,
        h: Mat::<f64>::identity(p, p),
        r,
        m0,
        p0: diag(var, 1.0),
    }
}

/// The least-squares fit `y_k ≈ A y_{k-1}` over the fully observed pairs of
/// consecutive rows (ridge `1e-8 · tr/p`), and the number of pairs; `None`
/// with fewer than 2p pairs or a fit that is not finite.
fn least_squares_ar1(sequences: &[MatRef<'_, f64>], p: usize) -> Option<(Mat<f64>, usize)> {
    let mut sxx = Mat::<f64>::zeros(p, p);
    let mut syx = Mat::<f64>::zeros(p, p);
    let mut pairs = 0usize;
    for y in sequences {
        for k in (1..y.nrows()).filter(|&k| full_pair(*y, k)) {
            pairs += 1;
            for j in 0..p {
                for i in 0..p {
                    sxx[(i, j)] += y[(k - 1, i)] * y[(k - 1, j)];
                    syx[(i, j)] += y[(k, i)] * y[(k - 1, j)];
                }
            }
        }
    }
    let trace = (0..p).map(|i| sxx[(i, i)]).sum::<f64>() / p as f64;
    for i in 0..p {
        sxx[(i, i)] += 1e-8 * trace + f64::MIN_POSITIVE;
    }
    if pairs < 2 * p {
        return None;
    }
    let chol = Cholesky::new(sxx.as_ref()).ok()?;
    let mut at = syx.transpose().to_owned();
    chol.solve_in_place(at.as_mut()).ok();
    let fit = at.transpose().to_owned();
    (0..p)
        .all(|j| (0..p).all(|i| fit[(i, j)].is_finite()))
        .then_some((fit, pairs))
}

/// The mean squared residual of every coordinate of the AR(1) fit over the
/// `pairs` fully observed pairs, at least `1e-8 σ²`.
fn residual_variances(
    sequences: &[MatRef<'_, f64>],
    fit: MatRef<'_, f64>,
    pairs: usize,
    var: &[f64],
) -> Vec<f64> {
    let p = var.len();
    let mut res = vec![0.0; p];
    for y in sequences {
        for k in (1..y.nrows()).filter(|&k| full_pair(*y, k)) {
            for i in 0..p {
                let pred: f64 = (0..p).map(|j| fit[(i, j)] * y[(k - 1, j)]).sum();
                res[i] += (y[(k, i)] - pred).powi(2);
            }
        }
    }
    for i in 0..p {
        let v = res[i] / pairs as f64;
        res[i] = if v > 1e-8 * var[i] { v } else { 1e-8 * var[i] };
    }
    res
}

/// The start for n ≠ p: `H_ij = σ_i ξ_ij / √n` (ξ standard normal from
/// `rng`, column by column), `A = 0.9 I`, `Q = 0.095 I` (stationary state
/// variance ½), `R = 0.5 diag(σ²)`, `m0 = 0`, `P0 = 0.5 I`.
fn random_observation_start<G: Rng + ?Sized>(n: usize, var: &[f64], rng: &mut G) -> Parameters {
    let p = var.len();
    let mut h = Mat::<f64>::zeros(p, n);
    for j in 0..n {
        for i in 0..p {
            let xi: f64 = rng.sample(StandardNormal);
            h[(i, j)] = var[i].sqrt() * xi / (n as f64).sqrt();
        }
    }
    Parameters {
        a: Mat::<f64>::identity(n, n) * faer::Scale(0.9),
        q: Mat::<f64>::identity(n, n) * faer::Scale(0.095),
        h,
        r: diag(var, 0.5),
        m0: vec![0.0; n],
        p0: Mat::<f64>::identity(n, n) * faer::Scale(0.5),
    }
}
