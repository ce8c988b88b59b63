//! The Python extension of emfit: the compiled module `emfit._emfit` behind
//! the Python package `emfit` (`python/emfit`), whose classes are drop-in
//! replacements for scikit-learn's `GaussianMixture`, hmmlearn's HMMs and
//! pykalman's `KalmanFilter`.
//!
//! # Why the split is what it is
//! The crate sits at the top of the stack, a peer of the `emfit` program:
//! it depends on the model crates and nothing depends on it, so the Rust
//! crates stay free of Python. It is deliberately thin and stateless: every
//! function takes NumPy arrays of parameters and data, rebuilds the Rust
//! model (which validates it: SPD covariances, rows on the simplex), runs
//! one operation and returns NumPy arrays. The estimator classes, their
//! constructor arguments, attributes and Python conventions
//! (`get_params`, `NotFittedError`, `ConvergenceWarning`, masked arrays)
//! live in the pure-Python layer, where scikit-learn's own validation
//! helpers and estimator checks apply to them.
//!
//! # Conventions of every function here
//! - A fit runs on a worker thread without the GIL (module `fit`), so other
//!   Python threads run meanwhile; the calling thread checks for signals
//!   every 50 ms and on Ctrl-C stops the fit at its next iteration and
//!   raises `KeyboardInterrupt`. The Python layer assigns fitted attributes
//!   only after a fit returns, so an interrupted or failed fit leaves the
//!   estimator as it was.
//! - Every error of the Rust side becomes a `ValueError` carrying emfit's
//!   message (module `error`).
//! - Online EM (module `online`, behind `partial_fit`): the stream's
//!   state crosses the boundary as a flat float64 array that the Python
//!   layer keeps on the estimator (and so pickles with it).
//! - Data held by Dask (module `chunked`, behind `emfit._dask`): the fit
//!   runs here, on the client, and every E-step calls back into Python,
//!   which maps the compiled chunk E-steps over the Dask workers and
//!   reduces their flat statistics; the data never come to the client.
//! - Arrays come in as C-contiguous, aligned float64 (the Python layer
//!   converts) and are read without copying where the Rust side accepts
//!   the layout (module `array`).

mod array;
mod bayesian;
mod chunked;
mod covariance;
mod error;
mod fit;
mod hmm;
mod kalman;
mod mixture;
mod online;
mod report;
mod variational_hmm;

use pyo3::prelude::*;

/// The module `emfit._emfit`.
#[pymodule]
fn _emfit(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(fit::restart_seed, m)?)?;
    mixture::register(m)?;
    bayesian::register(m)?;
    hmm::register(m)?;
    variational_hmm::register(m)?;
    kalman::register(m)?;
    chunked::register(m)?;
    online::register(m)?;
    Ok(())
}
