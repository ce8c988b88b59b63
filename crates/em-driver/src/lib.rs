//! emfit as one library: every model family, the EM loop, model files and
//! data readers behind one dependency.
//!
//! The emfit crates are layered: `linalg-kernels` (numerics) < `em-core`
//! (the EM loop and the shared vocabulary) < `mixture` < `hmm` <
//! `statespace` (the model crates, each implementing [`EmModel`] for its
//! models) < `em-driver` (this crate) < `emfit-cli` (the `emfit` program).
//! A program that needs one model family depends on that model crate alone;
//! this crate is for programs that use several, or that read and write
//! emfit's files. It adds:
//!
//! - re-exports of the model crates ([`mixture`], [`hmm`], [`statespace`],
//!   [`linalg_kernels`]), of [`faer`] and [`rand`], and of the loop of
//!   [`em_core`] ([`fit`], [`fit_observed`], [`Settings`], [`FitReport`],
//!   observers, [`LearnSet`], [`StepDiagnostics`], ...);
//! - [`model_file`]: JSON model files with a format version and a kind,
//!   validated on load, bit-exact on round trips, written atomically;
//! - [`io`]: CSV and `.npy` readers and writers, sequence-lengths files,
//!   every error naming the file, line and column;
//! - [`out_of_core`]: the executor of a fit that streams its data file a
//!   chunk of rows at a time at every E-step ([`OutOfCore`]).
//!
//! It has no command-line, progress-bar or plotting code: those are the
//! `emfit-cli` crate's.
//!
//! # Example
//! Scenario 2 of the project (a 2-D mixture of two Gaussians), from the
//! naive start, with the convergence log written to a buffer, saved and
//! loaded back:
//!
//! ```
//! use em_driver::mixture::{self, GaussianMixture, MStepOptions};
//! use em_driver::{LogObserver, ModelFile, Settings, Start, Tolerance, fit_observed};
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
//! let back = GaussianMixture::from_json(&fit.model.to_json())?;
//! assert_eq!(back, fit.model);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
pub mod io;
pub mod model_file;
pub mod out_of_core;

pub use error::{Error, FieldPath, ModelError, PathSegment};
pub use model_file::{AnyModel, FORMAT_VERSION, ModelFile, ModelKind};
pub use out_of_core::{ChunkData, Layout, OutOfCore, SampleSpec};

/// The EM loop and the shared vocabulary, re-exported whole.
pub use em_core::{self, *};
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
