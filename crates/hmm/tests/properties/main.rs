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
//!   moves), every emission.
//!
//! The cases are drawn from `PROPTEST_RNG_SEED` (set in the workspace's
//! `.cargo/config.toml`); a failure is saved next to the module that found it
//! (`tests/properties/<module>.proptest-regressions`) and replayed first on
//! every later run.

mod categorical;
mod flat;
mod gaussian;
mod map;

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
