//! The EM loop of emfit and the vocabulary every model crate speaks.
//!
//! # Why the loop lives here, low in the stack
//! emfit's crates are layered: `linalg-kernels` < `em-core` < `mixture` <
//! `hmm` < `statespace` < `em-driver` < `emfit-cli`. The loop and its
//! vocabulary sit under the model crates so that each model crate implements
//! [`EmModel`] for its models directly and re-exports [`fit()`]: a program that
//! needs only Gaussian mixtures depends on `mixture` alone and gets the whole
//! loop (restarts, convergence report, fall handling) without compiling the
//! other model families, the model files or the `emfit` program. This crate
//! depends on nothing numerical (`rand` for seeding, `rayon` for parallel
//! restarts, `thiserror`), so it costs a model crate almost nothing.
//!
//! # What is here
//! - [`EmModel`]: one E-step ([`EStep`]: log-likelihood of the current
//!   parameters plus sufficient statistics), one M-step (a new model plus
//!   diagnostics), a seeded initialisation; [`EmModel::em_iteration`] gives
//!   one [`Iteration`] without the loop.
//! - [`fit()`] / [`fit_observed`]: the only EM loop (signed convergence,
//!   restarts with derived seeds run in parallel with a thread-count
//!   independent result, time budget, fall policy) returning a [`Fit`]: the
//!   model plus a [`FitReport`]. [`Settings`] are validated by
//!   [`SettingsBuilder::build`].
//! - [`fit_with`]: the same loop with its E-steps run by an [`Executor`]
//!   ([`executor`]): the data in one piece ([`Local`], what [`fit()`] runs) or
//!   in parts ([`Parts`], reduced in part order) or across processes
//!   ([`Ranks`], over any [`Collective`]: MPI's in the `emfit-mpi` crate;
//!   the Python package's Dask driver is another); with the statistics'
//!   flat, versioned form and exact merge ([`flat`], [`FlatStats`]) they
//!   move between processes, and a distributed fit initialises on a seeded
//!   sample of rows that does not depend on the split ([`sample`]).
//! - [`Observer`]s, with [`LogObserver`] writing the
//!   `iteration  log-likelihood  improvement` log (the library never prints
//!   by itself).
//! - The shared vocabulary of the model crates: [`LearnSet`] over a model's
//!   [`Parameter`] blocks (which blocks an M-step updates) and
//!   [`StepDiagnostics`] (what an M-step had to do: [`Event`]s of
//!   [`Adjustment`]s, and the change of EM's objective), and [`Floor`]
//!   (a variance or rate floor relative to the data's scale, or absolute).
//! - [`online`]: online (stepwise) EM over a stream of chunks
//!   ([`StepwiseEm::partial_fit`]) for statistics that can be weighted
//!   ([`ScaleStats`]), with the step sizes of a [`Schedule`] and a state
//!   that is saved and resumed.
//!
//! # Example
//! A model written here (a 1-D Gaussian with unknown mean, whose M-step
//! needs no statistics beyond the sum) fitted by the loop:
//!
//! ```
//! use em_core::{EStep, EmModel, NoDiagnostics, Settings, Start, fit};
//! use rand::Rng;
//!
//! #[derive(Debug, Clone, PartialEq)]
//! struct Mean(f64);
//!
//! impl EmModel for Mean {
//!     type Data<'a> = &'a [f64];
//!     type Stats = f64;
//!     type Options = ();
//!     type InitConfig = ();
//!     type Diagnostics = NoDiagnostics;
//!     type Error = std::convert::Infallible;
//!
//!     fn e_step(&self, x: &[f64]) -> Result<EStep<f64>, Self::Error> {
//!         let ll = x.iter().map(|v| -0.5 * (v - self.0).powi(2)).sum();
//!         Ok(EStep { log_likelihood: ll, stats: x.iter().sum::<f64>() / x.len() as f64 })
//!     }
//!     fn m_step(&self, mean: &f64, _: &()) -> Result<(Self, NoDiagnostics), Self::Error> {
//!         Ok((Mean(*mean), NoDiagnostics))
//!     }
//!     fn init_from_data<R: Rng + ?Sized>(x: &[f64], _: &(), rng: &mut R) -> Result<Self, Self::Error> {
//!         Ok(Mean(x[rng.random_range(0..x.len())]))
//!     }
//! }
//!
//! let x = [1.0, 2.0, 6.0];
//! let fitted = fit(&x[..], Start::Warm(Mean(0.0)), &(), &Settings::default())?;
//! assert_eq!(fitted.model, Mean(3.0));
//! assert!(fitted.report.converged());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod acceleration;
mod convergence;
mod diagnostics;
mod error;
pub mod executor;
mod fit;
pub mod flat;
mod floor;
mod learn;
mod model;
mod observer;
pub mod online;
pub mod ranks;
mod report;
mod run;
pub mod sample;
mod settings;
#[cfg(feature = "testing")]
pub mod testing;

pub use acceleration::{Acceleration, Squarem};
pub use convergence::{Convergence, Tolerance};
pub use diagnostics::{Adjustment, Diagnostics, Event, NoDiagnostics, StepDiagnostics};
pub use error::{FitError, SettingsError, Step};
pub use executor::{Executor, Local, PartError, Parts};
pub use fit::{Fit, Start, fit, fit_observed, fit_with};
pub use flat::{FlatError, FlatReader, FlatStats};
pub use floor::Floor;
pub use learn::{LearnSet, Parameter, UnknownParameter};
pub use model::{EStep, EmModel, Iteration, Objective};
pub use observer::{Control, FnObserver, IterationEvent, LogObserver, NoopObserver, Observer, StartEvent};
pub use online::{OnlineError, OnlineStep, ScaleStats, Schedule, StepwiseEm};
pub use ranks::{Collective, Ranks};
pub use report::{Fall, FitReport, RestartOutcome, RestartSummary, Termination, Work};
pub use settings::{MAX_RESTARTS, OnFall, Settings, SettingsBuilder, restart_seed};

pub use rand;
