//! Matrices and vectors of model files: arrays of rows, checked.

use faer::{Mat, MatRef};

use crate::error::{Error, FieldPath};

/// A matrix as an array of rows.
#[must_use]
pub fn mat_to_rows(m: MatRef<'_, f64>) -> Vec<Vec<f64>> {
    (0..m.nrows())
        .map(|i| (0..m.ncols()).map(|j| m[(i, j)]).collect())
        .collect()
}

/// A matrix from an array of rows, all of the same length (and of `nrows`
/// rows and `ncols` columns when given).
///
/// # Errors
/// [`Error::EmptyField`] for no rows or empty rows; [`Error::Shape`] for a
/// row count or row length that differs from the expected one (the first
/// row's length when `ncols` is None), naming the row.
pub fn mat_from_rows(
    rows: &[Vec<f64>],
    field: &FieldPath,
    nrows: Option<usize>,
    ncols: Option<usize>,
) -> Result<Mat<f64>, Error> {
    if let Some(expected) = nrows
        && rows.len() != expected
    {
        return Err(Error::Shape {
            field: field.clone(),
            expected,
            found: rows.len(),
        });
    }
    let Some(first) = rows.first() else {
        return Err(Error::EmptyField { field: field.clone() });
    };
    let ncols = ncols.unwrap_or(first.len());
    if ncols == 0 {
        return Err(Error::EmptyField {
            field: field.with_index(0),
        });
    }
    for (i, row) in rows.iter().enumerate() {
        if row.len() != ncols {
            return Err(Error::Shape {
                field: field.with_index(i),
                expected: ncols,
                found: row.len(),
            });
        }
    }
    Ok(Mat::from_fn(rows.len(), ncols, |i, j| rows[i][j]))
}

/// Checks a vector's length (non-empty, and `len` when given) and returns it.
///
/// # Errors
/// [`Error::EmptyField`], [`Error::Shape`].
pub fn vec_checked(values: Vec<f64>, field: &FieldPath, len: Option<usize>) -> Result<Vec<f64>, Error> {
    if let Some(expected) = len
        && values.len() != expected
    {
        return Err(Error::Shape {
            field: field.clone(),
            expected,
            found: values.len(),
        });
    }
    if values.is_empty() {
        return Err(Error::EmptyField { field: field.clone() });
    }
    Ok(values)
}
