//! NumPy arrays in and out.
//!
//! The Python layer hands over C-contiguous, aligned float64 arrays
//! (`emfit._arrays.c_array`), so a 2-D array is viewed as
//! a row-major faer matrix without a copy ([`rows`]); results go back as
//! new arrays owned by Python.

use mixture::faer::{Mat, MatRef};
use numpy::ndarray::{Array2, Array3};
use numpy::{IntoPyArray, PyArray2, PyArray3, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// A C-contiguous n x d array as an n x d matrix, without copying.
pub(crate) fn rows<'a>(x: &'a PyReadonlyArray2<'_, f64>) -> PyResult<MatRef<'a, f64>> {
    let [n, d] = [x.shape()[0], x.shape()[1]];
    let expected = || PyValueError::new_err("expected a C-contiguous, aligned float64 array");
    // `as_slice` also takes a Fortran-ordered array, whose values are not rows.
    if !x.is_c_contiguous() {
        return Err(expected());
    }
    let slice = x.as_slice().map_err(|_| expected())?;
    Ok(MatRef::from_row_major_slice(slice, n, d))
}

/// A matrix as a new 2-D array.
pub(crate) fn to_array2<'py>(py: Python<'py>, m: MatRef<'_, f64>) -> Bound<'py, PyArray2<f64>> {
    Array2::from_shape_fn((m.nrows(), m.ncols()), |(i, j)| m[(i, j)]).into_pyarray(py)
}

/// Equal-shaped matrices as a new K x r x c array.
pub(crate) fn to_array3<'py>(
    py: Python<'py>,
    ms: &[Mat<f64>],
    rows: usize,
    cols: usize,
) -> Bound<'py, PyArray3<f64>> {
    Array3::from_shape_fn((ms.len(), rows, cols), |(k, i, j)| ms[k][(i, j)]).into_pyarray(py)
}
