//! The data-driven start of EM (the recipes are in the documentation of
//! [`crate::em`], *Data-driven start*): `init_from_data` of
//! [`em_core::EmModel`], used by [`em_core::Start::FromData`].

mod autoregressive;
mod factor;
mod linalg;

use faer::MatRef;
use rand::Rng;
use rand_distr::StandardNormal;

use super::options::InitConfig;
use crate::data::validate_all;
use crate::error::{Matrix, Result, StateSpaceError};
use crate::model::LinearGaussianSsm;
use crate::param::Param;

/// The largest spectral radius of a starting A.
const RHO_MAX: f64 = 0.999;

/// The smallest eigenvalue of a starting covariance in correlation scale.
const RELATIVE_FLOOR: f64 = 1e-3;

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
        autoregressive::start(sequences, &mean, &var)
    } else {
        factor::start(sequences, n, rng)
    };
    if config.a_jitter > 0.0 {
        let mut jittered = start.a.clone();
        for j in 0..n {
            for i in 0..n {
                let xi: f64 = rng.sample(StandardNormal);
                jittered[(i, j)] += config.a_jitter * xi;
            }
        }
        start.a = linalg::shrink_toward(&jittered, &start.a, RHO_MAX);
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
    let mut var = vec![1.0; p];
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
            if v > 0.0 && v.is_finite() {
                var[i] = v;
            }
        }
    }
    (mean, var)
}
