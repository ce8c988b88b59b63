//! The property tests of the crate (proptest), in the workspace's one
//! `properties` test target (`cargo test --workspace --test properties`).
//!
//! - `gaussian`: Baum-Welch with Gaussian and GMM emissions, every
//!   covariance type, and the equivariance of their fits to the units of
//!   the data;
//! - `categorical`: Baum-Welch with categorical emissions, merged statistics;
//! - `map`: MAP Baum-Welch under random priors never lowers the log
//!   posterior, every emission;
//! - `flat`: the flat view of the learned parameters (round trips, affine
//!   moves), every emission;
//! - `variational`: the variational Bayesian HMMs' lower bound never falls
//!   (categorical and Gaussian, full and diagonal).
//!
//! The cases are drawn from `PROPTEST_RNG_SEED` (set in the workspace's
//! `.cargo/config.toml`); a failure is saved next to the module that found it
//! (`tests/properties/<module>.proptest-regressions`) and replayed first on
//! every later run.

mod categorical;
mod flat;
mod gaussian;
mod map;
mod variational;

use hmm::{EmModel, Emission, Hmm, MStepOptions, Sequences};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};

/// `cases` cases per property, failures persisted next to the source file
/// of the property.
fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..Config::default()
    }
}

/// `v / Σ v`.
fn normalise(v: &[f64]) -> Vec<f64> {
    let s: f64 = v.iter().sum();
    v.iter().map(|x| x / s).collect()
}

/// Runs 20 EM steps under `options`: EM's objective, the log-likelihood
/// plus the log prior when `options` has priors (`EmModel::log_prior`), may
/// not fall beyond em-core's rounding, `10⁻¹²` of its value (of at least
/// 1: a log-likelihood near 0, of data the model predicts almost surely, is
/// a sum of terms each rounded by about ε); start and transition rows stay
/// on the simplex, and `valid`
/// holds for every emission. A run stops early after a step that left a
/// covariance with condition number above 1e8 (`condition`; with neither
/// a prior scale nor a floor a component can approach a singularity of
/// the likelihood, a component on ≤ d points, where the computed ℓ is
/// rounding noise).
pub(crate) fn check_em_run<E: Emission>(
    model: Hmm<E>,
    data: &Sequences<'_>,
    options: &MStepOptions,
    valid: impl Fn(&E) -> Result<(), TestCaseError>,
    condition: impl Fn(&E) -> f64,
) -> Result<(), TestCaseError> {
    let mut m = model;
    let mut previous = f64::NEG_INFINITY;
    let mut last = String::new();
    for step in 0..20 {
        let e = m.e_step(data).unwrap();
        let prior = m.log_prior(options).unwrap();
        let objective = e.log_likelihood + prior.unwrap_or(0.0);
        prop_assert!(
            objective.is_finite(),
            "step {}: {} {:?}",
            step,
            e.log_likelihood,
            prior
        );
        prop_assert!(
            objective >= previous - 1e-12 * objective.abs().max(1.0),
            "step {}: log posterior {} after {} (fell by {:e}; {})",
            step,
            objective,
            previous,
            previous - objective,
            last
        );
        previous = objective;
        let (next, diagnostics) = m.m_step(&e.stats, options).unwrap();
        last = diagnostics.to_string();
        m = next;
        if condition(m.emission()) > 1e8 {
            break;
        }
        let k = m.n_states();
        prop_assert!((m.start_probs().iter().sum::<f64>() - 1.0).abs() < 1e-12);
        prop_assert!(m.start_probs().iter().all(|&p| p >= 0.0));
        for i in 0..k {
            let row: Vec<f64> = (0..k).map(|j| m.transitions()[(i, j)]).collect();
            prop_assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12 && row.iter().all(|&p| p >= 0.0));
        }
        valid(m.emission())?;
    }
    Ok(())
}

/// Rows of `m` on the simplex.
pub(crate) fn rows_on_simplex(m: faer::MatRef<'_, f64>) -> Result<(), TestCaseError> {
    for i in 0..m.nrows() {
        let row: Vec<f64> = (0..m.ncols()).map(|j| m[(i, j)]).collect();
        prop_assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12, "{:?}", row);
        prop_assert!(row.iter().all(|&p| p >= 0.0), "{:?}", row);
    }
    Ok(())
}
