//! emfit: Expectation-Maximization for Gaussian mixtures, hidden Markov
//! models and linear Gaussian state-space models, with one EM loop.
//!
//! This crate is the top of the emfit stack. It re-exports the model crates
//! ([`mixture`], [`hmm`], [`statespace`], [`linalg_kernels`]) plus [`faer`]
//! and [`rand`], so one dependency gives the whole library, and adds:
//!
//! - [`EmModel`]: the one trait every model implements (an E-step giving the
//!   log-likelihood of the current parameters and statistics, an M-step
//!   giving a new model and diagnostics, a seeded initialisation);
//!   implemented for every model of the model crates in [`models`];
//! - [`fit`] / [`fit_observed`]: the only EM loop (signed convergence,
//!   restarts with derived seeds run in parallel with a thread-count
//!   independent result, time budget, fall policy) returning a [`Fit`]: the
//!   model plus a [`FitReport`];
//! - [`Observer`]s, with [`LogObserver`] printing the
//!   `iteration  log-likelihood  improvement` log (the library never prints
//!   by itself);
//! - [`model_file`]: JSON model files with a format version and a kind,
//!   validated on load, bit-exact round trips, atomic writes;
//! - [`io`] (CSV and `.npy` readers) and [`plot`] (SVG) for the `emfit`
//!   program.
//!
//! # Example
//! Scenario 2 of the project (a 2-D mixture of two Gaussians), from the
//! naive start, with the convergence log written to a buffer:
//!
//! ```
//! use em_driver::mixture::{self, MStepOptions};
//! use em_driver::models::Gmm;
//! use em_driver::{fit_observed, LogObserver, ModelFile, Settings, Start, Tolerance};
//!
//! let data = mixture::scenario::two_component_2d(42);
//! let settings = Settings::builder()
//!     .max_iterations(200)
//!     .tolerance(Tolerance::absolute(1e-6))
//!     .build()?;
//! let mut log = LogObserver::new(Vec::new());
//! let fit = fit_observed(
//!     data.x.as_ref(),
//!     Start::Warm(mixture::scenario::naive_start()),
//!     &MStepOptions::default(),
//!     &settings,
//!     &mut log,
//! )?;
//! assert!(fit.report.converged());
//! let mut w = fit.model.weights().to_vec();
//! w.sort_by(f64::total_cmp);
//! assert!((w[0] - 0.3).abs() < 0.05);
//! // Save and reload: bit-identical parameters.
//! let back = Gmm::from_json(&fit.model.to_json())?;
//! assert_eq!(back, fit.model);
//! # Ok::<(), em_driver::Error>(())
//! ```
//!
//! With random initialisations and restarts instead of a warm start:
//! `fit::<Gmm>(x, Start::FromData(GmmInit::new(2, CovarianceType::Full)), &options,
//! &Settings::builder().restarts(8).seed(7).build()?)`. Any other model
//! gets the same loop by implementing [`EmModel`] (the `tests/driver_loop.rs`
//! file fits a small model written in the test itself).

pub mod driver;
mod error;
pub mod io;
pub mod model_file;
pub mod models;
pub mod plot;

pub use driver::model::{Diagnostics, EStepOutput, EmModel, NoDiagnostics};
pub use driver::observer::{
    Control, FnObserver, IterationEvent, LogObserver, NoopObserver, Observer, StartEvent,
};
pub use driver::report::{Fall, FitReport, RestartOutcome, RestartSummary, Termination};
pub use driver::settings::{MAX_RESTARTS, OnFall, Settings, SettingsBuilder, Tolerance, restart_seed};
pub use driver::{Fit, Start, fit, fit_observed};
pub use error::{Error, FieldPath, ModelError, PathSegment, Step};
pub use model_file::{AnyModel, FORMAT_VERSION, ModelFile, ModelKind};

pub use faer;
pub use hmm;
pub use linalg_kernels;
pub use mixture;
pub use rand;
pub use statespace;

/// The Rust examples of the workspace README, compiled and run as doctests
/// so that they cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
