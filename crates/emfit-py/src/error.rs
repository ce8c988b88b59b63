//! Rust errors as Python exceptions: emfit's message in a `ValueError`,
//! the exception scikit-learn, hmmlearn and pykalman raise for bad input and
//! failed fits.

use pyo3::PyErr;
use pyo3::exceptions::PyValueError;
use std::fmt::Display;

/// A `ValueError` with the error's message.
pub(crate) fn value_error(error: impl Display) -> PyErr {
    PyValueError::new_err(error.to_string())
}

/// `Result<T, E>` to `PyResult<T>` through [`value_error`].
pub(crate) trait OrValueError<T> {
    /// The value, or a `ValueError` with the error's message.
    fn or_value_error(self) -> Result<T, PyErr>;
}

impl<T, E: Display> OrValueError<T> for Result<T, E> {
    fn or_value_error(self) -> Result<T, PyErr> {
        self.map_err(value_error)
    }
}
