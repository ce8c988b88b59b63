//! Validity checks of fitted models shared by the tests: SPD covariances,
//! probability vectors on the simplex.

#![allow(dead_code)] // each test binary uses its own subset

use em_driver::faer::MatRef;
use em_driver::hmm::{CategoricalHmm, GaussianHmm, GmmHmm, Hmm};
use em_driver::linalg_kernels::Cholesky;
use em_driver::mixture::{CovarianceType, Covariances, GaussianMixture};
use em_driver::statespace::LinearGaussianSsm as Lgssm;

/// Symmetric, finite and Cholesky-factorable.
pub fn check_spd(m: MatRef<'_, f64>, what: &str) -> Result<(), String> {
    let n = m.nrows();
    for i in 0..n {
        for j in 0..n {
            if !m[(i, j)].is_finite()
                || m[(i, j)] != m[(j, i)]
                    && (m[(i, j)] - m[(j, i)]).abs() > 1e-12 * m[(i, i)].abs().max(m[(j, j)].abs())
            {
                return Err(format!("{what}: not symmetric/finite at ({i}, {j})"));
            }
        }
    }
    Cholesky::new(m).map(|_| ()).map_err(|e| format!("{what}: {e}"))
}

pub fn check_gmm(m: &GaussianMixture, what: &str) -> Result<(), String> {
    for k in 0..m.n_components() {
        check_spd(
            m.component_covariance(k).unwrap().as_ref(),
            &format!("{what} component {k}"),
        )?;
    }
    check_row(m.weights(), what)
}

pub fn check_row(p: &[f64], what: &str) -> Result<(), String> {
    let sum: f64 = p.iter().sum();
    if p.iter().all(|&v| (0.0..=1.0).contains(&v)) && (sum - 1.0).abs() < 1e-9 {
        Ok(())
    } else {
        Err(format!("{what}: not a probability row {p:?}"))
    }
}

pub fn check_chain<E: em_driver::hmm::Emission>(m: &Hmm<E>) -> Result<(), String> {
    check_row(m.start_probs(), "start")?;
    let t = m.transitions();
    for i in 0..t.nrows() {
        let row: Vec<f64> = (0..t.ncols()).map(|j| t[(i, j)]).collect();
        check_row(&row, &format!("transition row {i}"))?;
    }
    Ok(())
}

pub fn check_gaussian_hmm(m: &GaussianHmm) -> Result<(), String> {
    check_chain(m)?;
    for j in 0..m.n_states() {
        check_spd(
            m.emission().state_covariance(j).unwrap().as_ref(),
            &format!("state {j}"),
        )?;
    }
    Ok(())
}

pub fn check_gmm_hmm(m: &GmmHmm) -> Result<(), String> {
    check_chain(m)?;
    for (j, mix) in m.emission().mixtures().iter().enumerate() {
        check_gmm(mix, &format!("state {j}"))?;
    }
    Ok(())
}

pub fn check_categorical_hmm(m: &CategoricalHmm) -> Result<(), String> {
    check_chain(m)?;
    let p = m.emission().probabilities();
    for j in 0..p.nrows() {
        let row: Vec<f64> = (0..p.ncols()).map(|s| p[(j, s)]).collect();
        check_row(&row, &format!("emission row {j}"))?;
    }
    Ok(())
}

pub fn check_lgssm(m: &Lgssm) -> Result<(), String> {
    check_spd(m.q(), "Q")?;
    check_spd(m.r(), "R")?;
    check_spd(m.p0(), "P0")?;
    let finite = |x: MatRef<'_, f64>| (0..x.nrows()).all(|i| (0..x.ncols()).all(|j| x[(i, j)].is_finite()));
    if finite(m.a()) && finite(m.h()) && m.m0().iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err("non-finite A, H or m0".into())
    }
}

// ------------------------------------------------------------ model files

/// A valid model file.
pub const GOOD_GMM: &str = r#"{
  "format_version": 1,
  "kind": "gmm",
  "parameters": {
    "weights": [0.3, 0.7],
    "means": [[0.0, 0.0], [2.5, 0.0]],
    "covariances": {"type": "full", "values": [[[1.0, 0.5], [0.5, 1.0]], [[1.0, -0.5], [-0.5, 1.0]]]}
  }
}"#;

pub fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

pub fn mat_bits(m: em_driver::faer::MatRef<'_, f64>) -> Vec<u64> {
    (0..m.nrows())
        .flat_map(|i| (0..m.ncols()).map(move |j| m[(i, j)].to_bits()))
        .collect()
}

pub fn cov_bits(c: &Covariances) -> Vec<u64> {
    match c {
        Covariances::Full(ms) => ms.iter().flat_map(|m| mat_bits(m.as_ref())).collect(),
        Covariances::Diagonal(m) | Covariances::Tied(m) => mat_bits(m.as_ref()),
        Covariances::Spherical(v) => bits(v),
    }
}

pub fn gmm_bits(m: &GaussianMixture) -> (Vec<u64>, Vec<u64>, Vec<u64>, CovarianceType) {
    (
        bits(m.weights()),
        mat_bits(m.means()),
        cov_bits(m.covariances()),
        m.covariance_type(),
    )
}
