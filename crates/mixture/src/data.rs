//! Data checks and the fixed chunking shared by every parallel pass.

use crate::MixtureError;
use crate::kernel::CHUNK_ROWS;
use faer::{Mat, MatMut, MatRef};
use linalg_kernels::finite::{Valid, first_invalid_in_columns, first_non_finite};
use rayon::prelude::*;

/// `(start, end)` of every chunk of `n` rows, in order. The chunk size is a
/// constant, so the partition (and every reduction over it) is the same for
/// any number of threads.
pub(crate) fn chunk_ranges(n: usize) -> Vec<(usize, usize)> {
    (0..n.div_ceil(CHUNK_ROWS))
        .map(|c| (c * CHUNK_ROWS, ((c + 1) * CHUNK_ROWS).min(n)))
        .collect()
}

/// Calls `f` with one slice per column of `x`; copies `x` once if its rows
/// are not contiguous within columns (e.g. a transposed view).
pub(crate) fn with_columns<T>(x: MatRef<'_, f64>, f: impl FnOnce(&[&[f64]]) -> T) -> T {
    if let Some(cols) = column_slices(x) {
        return f(&cols);
    }
    let owned: Mat<f64> = x.to_owned();
    let cols = column_slices(owned.as_ref()).expect("an owned matrix has contiguous columns");
    f(&cols)
}

/// A data matrix as the kernels read it, without copying the two common
/// layouts: column-major (faer's own, one slice per column) and row-major
/// (unit column stride, e.g. a C-ordered `.npy` array viewed as n x d).
pub(crate) enum Data<'a> {
    /// One contiguous slice per column.
    Cols(Vec<&'a [f64]>),
    /// Rows are contiguous (`col_stride == 1`).
    Rows(MatRef<'a, f64>),
}

impl Data<'_> {
    /// Number of features d.
    pub(crate) fn ncols(&self) -> usize {
        match self {
            Data::Cols(c) => c.len(),
            Data::Rows(x) => x.ncols(),
        }
    }

    /// Number of rows n (0 without columns).
    pub(crate) fn nrows(&self) -> usize {
        match self {
            Data::Cols(c) => c.first().map_or(0, |col| col.len()),
            Data::Rows(x) => x.nrows(),
        }
    }

    /// Entry `(i, j)`.
    #[inline]
    pub(crate) fn get(&self, i: usize, j: usize) -> f64 {
        match self {
            Data::Cols(c) => c[j][i],
            Data::Rows(x) => x[(i, j)],
        }
    }

    /// Row `i` as a vector.
    pub(crate) fn row(&self, i: usize) -> Vec<f64> {
        (0..self.ncols()).map(|j| self.get(i, j)).collect()
    }

    /// The first non-finite entry (smallest row, then smallest column) of
    /// the `n` rows, as an error; over the fixed chunks in parallel.
    pub(crate) fn check_finite(&self, n: usize) -> Result<(), MixtureError> {
        let parts: Vec<Result<(), MixtureError>> = chunk_ranges(n)
            .par_iter()
            .map(|&(s, e)| self.check_finite_rows(s, e))
            .collect();
        parts.into_iter().collect()
    }

    /// The first non-finite entry (smallest row, then smallest column) of
    /// rows `start..end`, as an error.
    pub(crate) fn check_finite_rows(&self, start: usize, end: usize) -> Result<(), MixtureError> {
        match self {
            Data::Cols(c) => check_finite_rows(c, start, end),
            Data::Rows(x) => match first_non_finite(x.subrows(start, end - start)) {
                None => Ok(()),
                Some((i, col)) => Err(MixtureError::NonFiniteData {
                    row: start + i,
                    col,
                    value: x[(start + i, col)],
                }),
            },
        }
    }
}

/// Calls `f` with `x` as [`Data`]; copies `x` once only if neither its
/// columns nor its rows are contiguous.
pub(crate) fn with_data<T>(x: MatRef<'_, f64>, f: impl FnOnce(&Data<'_>) -> T) -> T {
    if let Some(cols) = column_slices(x) {
        return f(&Data::Cols(cols));
    }
    if x.col_stride() == 1 {
        return f(&Data::Rows(x));
    }
    let owned: Mat<f64> = x.to_owned();
    let cols = column_slices(owned.as_ref()).expect("an owned matrix has contiguous columns");
    f(&Data::Cols(cols))
}

fn column_slices(x: MatRef<'_, f64>) -> Option<Vec<&[f64]>> {
    (0..x.ncols())
        .map(|j| x.col(j).try_as_col_major().map(|c| c.as_slice()))
        .collect()
}

/// The first non-finite entry (smallest row, then smallest column) of rows
/// `start..end`, as an error.
pub(crate) fn check_finite_rows(cols: &[&[f64]], start: usize, end: usize) -> Result<(), MixtureError> {
    match first_invalid_in_columns(cols, start..end, Valid::Finite) {
        None => Ok(()),
        Some((row, col)) => Err(MixtureError::NonFiniteData {
            row,
            col,
            value: cols[col][row],
        }),
    }
}

/// The checks of the data a model is initialised or clustered from: `k ≥ 1`
/// components, at least one row and one feature, at least `k` rows, and
/// every value finite (the first non-finite one named), in this order.
pub(crate) fn check_training_data(data: &Data<'_>, n: usize, k: usize) -> Result<(), MixtureError> {
    if k == 0 {
        return Err(MixtureError::NoComponents);
    }
    if n == 0 {
        return Err(MixtureError::EmptyData);
    }
    if data.ncols() == 0 {
        return Err(MixtureError::NoFeatures);
    }
    if n < k {
        return Err(MixtureError::TooFewSamples {
            n_samples: n,
            n_components: k,
        });
    }
    data.check_finite(n)
}

/// Checks the number of columns of the data.
pub(crate) fn check_columns(x: MatRef<'_, f64>, d: usize) -> Result<(), MixtureError> {
    if x.ncols() == d {
        Ok(())
    } else {
        Err(MixtureError::DimensionMismatch {
            what: "data columns (features)",
            expected: d,
            found: x.ncols(),
        })
    }
}

/// Checks optional per-sample weights: length `n`, finite, non-negative.
pub(crate) fn check_sample_weights(weights: Option<&[f64]>, n: usize) -> Result<(), MixtureError> {
    let Some(w) = weights else { return Ok(()) };
    if w.len() != n {
        return Err(MixtureError::DimensionMismatch {
            what: "sample weights",
            expected: n,
            found: w.len(),
        });
    }
    match w.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
        Some(row) => Err(MixtureError::InvalidSampleWeight { row, value: w[row] }),
        None => Ok(()),
    }
}

/// One mutable slice per column of `m`, or `None` if its columns are not
/// contiguous.
pub(crate) fn column_slices_mut(m: MatMut<'_, f64>) -> Option<Vec<&mut [f64]>> {
    let ncols = m.ncols();
    let mut out = Vec::with_capacity(ncols);
    let mut rest = m;
    for _ in 0..ncols {
        let (first, r) = rest.split_at_col_mut(1);
        rest = r;
        out.push(first.col_mut(0).try_as_col_major_mut()?.as_slice_mut());
    }
    Some(out)
}
