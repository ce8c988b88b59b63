//! A reader and writer for NumPy `.npy` files (format versions 1.0, 2.0 and 3.0).
//!
//! Layout: the magic `\x93NUMPY`, two version bytes, the header length (`u16` in
//! version 1, `u32` in 2 and 3, little-endian), then a Python dict literal such as
//! `{'descr': '<f8', 'fortran_order': False, 'shape': (1000, 2), }` padded with
//! blanks, then the raw data. Read dtypes: `f8`, `f4`, `i8`, `i4` in either byte
//! order; 1-D arrays are read as one column, 2-D arrays in C or Fortran order,
//! 3-D arrays as a sequence of equal-shaped matrices ([`read_npy_matrices`]).
//!
//! Hostile files: the header length is checked against the file size (and capped at
//! 1 MiB) before the header is read, and the byte count implied by `shape` and the
//! dtype is computed with overflow checks and must equal the bytes left in the file
//! before anything is allocated for the data.

use std::io::Read;
use std::path::Path;

use faer::Mat;

mod header;
mod matrices;
mod rows;
mod shard;
#[cfg(test)]
pub(crate) mod tests;
mod write;

use super::MAX_ABS_VALUE;
use super::error::{CellProblem, CellText, DataError, NpyField};
use header::{parse_descr, parse_header};
pub use matrices::{NpyMatrices, read_npy_matrices};
pub(crate) use rows::NpyRows;
pub use shard::{npy_shape, read_npy_rows};
pub use write::{write_npy, write_npy_f64, write_npy_f64_header, write_npy_i64};

/// The largest header accepted (NumPy itself writes a few hundred bytes).
const MAX_HEADER: u64 = 1 << 20;
const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// The element types that can be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Float,
    Int,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Dtype {
    kind: Kind,
    size: usize,
    little_endian: bool,
}

/// A decoded `.npy` array: its shape and values as `f64`, in file order.
#[derive(Debug, Clone)]
pub(crate) struct NpyArray {
    /// The declared shape.
    pub shape: Vec<usize>,
    /// Whether the values are in Fortran (column-major) order.
    pub fortran_order: bool,
    /// The values in file order.
    pub values: Vec<f64>,
}

/// Reads a 1-D (`n` -> `n x 1`) or 2-D (`n x d`) `.npy` array as an `n x d` matrix.
///
/// Non-finite values and values beyond [`MAX_ABS_VALUE`] in magnitude are
/// rejected, except `NaN` when `allow_missing` is set; the error names the
/// element, its row and its column from 1.
///
/// # Errors
/// [`DataError::Io`], [`DataError::NpyHeader`] (naming the bad header field),
/// [`DataError::NpyDtype`], [`DataError::NpyDims`], [`DataError::NpySize`] (the shape
/// does not match the file size), [`DataError::NpyValue`], [`DataError::Empty`].
pub fn read_npy(path: &Path, allow_missing: bool) -> Result<Mat<f64>, DataError> {
    let array = read_npy_array(path)?;
    array_to_matrix(array, path, allow_missing)
}

/// Reads and decodes a `.npy` file of any supported dtype and rank.
pub(crate) fn read_npy_array(path: &Path) -> Result<NpyArray, DataError> {
    let io = |source| DataError::Io {
        path: path.into(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    parse_npy(std::io::BufReader::new(file), len, path)
}

/// Turns a decoded array into an `n x d` matrix, checking its values.
pub(crate) fn array_to_matrix(
    array: NpyArray,
    path: &Path,
    allow_missing: bool,
) -> Result<Mat<f64>, DataError> {
    let (rows, cols) = matrix_shape(&array.shape, path)?;
    if rows == 0 || cols == 0 {
        return Err(DataError::Empty { path: path.into() });
    }
    for (index, &value) in array.values.iter().enumerate() {
        if let Some(problem) = value_problem(value, allow_missing) {
            let (row, col) = if array.fortran_order {
                (index % rows, index / rows)
            } else {
                (index / cols, index % cols)
            };
            return Err(DataError::NpyValue {
                path: path.into(),
                element: index + 1,
                row: row + 1,
                col: col + 1,
                value,
                problem,
            });
        }
    }
    let v = &array.values;
    Ok(if array.fortran_order {
        Mat::from_fn(rows, cols, |i, j| v[j * rows + i])
    } else {
        Mat::from_fn(rows, cols, |i, j| v[i * cols + j])
    })
}

/// What makes `value` unusable as data: NaN unless `allow_missing`, an
/// infinity, a magnitude beyond [`MAX_ABS_VALUE`].
fn value_problem(value: f64, allow_missing: bool) -> Option<CellProblem> {
    if value.is_nan() && !allow_missing {
        Some(CellProblem::Missing)
    } else if value.is_infinite() {
        Some(CellProblem::Infinite)
    } else if value.abs() > MAX_ABS_VALUE {
        Some(CellProblem::TooLarge)
    } else {
        None
    }
}

/// `(rows, columns)` of a 1-D (`n` -> `n x 1`) or 2-D shape.
fn matrix_shape(shape: &[usize], path: &Path) -> Result<(usize, usize), DataError> {
    match shape {
        [n] => Ok((*n, 1)),
        [n, d] => Ok((*n, *d)),
        other => Err(DataError::NpyDims {
            path: path.into(),
            ndim: other.len(),
        }),
    }
}

/// Parses a `.npy` stream of `len` bytes in total; `path` is only used in errors.
pub(crate) fn parse_npy<R: Read>(mut reader: R, len: u64, path: &Path) -> Result<NpyArray, DataError> {
    let layout = parse_layout(&mut reader, len, path)?;
    let count = layout.shape.iter().product::<usize>();
    let values = read_values(&mut reader, layout.dtype, count, path)?;
    Ok(NpyArray {
        shape: layout.shape,
        fortran_order: layout.fortran_order,
        values,
    })
}

/// What a `.npy` header declares, checked against the file's size.
struct Layout {
    dtype: Dtype,
    shape: Vec<usize>,
    fortran_order: bool,
    /// Where the data start, in bytes from the start of the file.
    data_start: u64,
}

/// Reads and checks the header of a `.npy` stream of `len` bytes, leaving
/// `reader` at the first data byte.
fn parse_layout<R: Read>(reader: &mut R, len: u64, path: &Path) -> Result<Layout, DataError> {
    let bad = |field| DataError::NpyHeader {
        path: path.into(),
        field,
    };
    let io = |source| DataError::Io {
        path: path.into(),
        source,
    };
    let mut prefix = [0u8; 8];
    if len < 8 {
        return Err(bad(NpyField::Magic));
    }
    reader.read_exact(&mut prefix).map_err(io)?;
    if &prefix[..6] != MAGIC {
        return Err(bad(NpyField::Magic));
    }
    let (header_len, prefix_len) = match prefix[6] {
        1 => {
            let mut b = [0u8; 2];
            reader.read_exact(&mut b).map_err(|_| bad(NpyField::Header))?;
            (u64::from(u16::from_le_bytes(b)), 10u64)
        }
        2 | 3 => {
            let mut b = [0u8; 4];
            reader.read_exact(&mut b).map_err(|_| bad(NpyField::Header))?;
            (u64::from(u32::from_le_bytes(b)), 12u64)
        }
        _ => return Err(bad(NpyField::Version)),
    };
    if header_len > MAX_HEADER || prefix_len + header_len > len {
        return Err(bad(NpyField::Header));
    }
    let mut header = vec![0u8; header_len as usize];
    reader.read_exact(&mut header).map_err(io)?;
    let header = std::str::from_utf8(&header).map_err(|_| bad(NpyField::Header))?;
    let fields = parse_header(header).map_err(bad)?;
    let dtype = parse_descr(&fields.descr).ok_or_else(|| DataError::NpyDtype {
        path: path.into(),
        descr: CellText::new(&fields.descr),
    })?;

    let available = len - prefix_len - header_len;
    let declared = fields
        .shape
        .iter()
        .try_fold(dtype.size as u64, |acc, &n| acc.checked_mul(n))
        .unwrap_or(u64::MAX);
    if declared != available {
        return Err(DataError::NpySize {
            path: path.into(),
            declared,
            available,
        });
    }
    let shape: Vec<usize> = fields
        .shape
        .iter()
        .map(|&n| usize::try_from(n).map_err(|_| bad(NpyField::Shape)))
        .collect::<Result<_, _>>()?;
    // The data bytes fit in memory (the check above bounds them by the file).
    usize::try_from(declared).map_err(|_| bad(NpyField::Shape))?;
    Ok(Layout {
        dtype,
        shape,
        fortran_order: fields.fortran_order,
        data_start: prefix_len + header_len,
    })
}

/// Reads and decodes `count` values of `dtype` (the caller checked that
/// the file holds them).
fn read_values<R: Read>(
    reader: &mut R,
    dtype: Dtype,
    count: usize,
    path: &Path,
) -> Result<Vec<f64>, DataError> {
    let mut data = vec![0u8; count * dtype.size];
    reader.read_exact(&mut data).map_err(|source| DataError::Io {
        path: path.into(),
        source,
    })?;
    Ok(data.chunks_exact(dtype.size).map(|b| decode(dtype, b)).collect())
}

/// The value of one element's bytes `b` (`dtype.size` of them: 4 or 8).
#[inline]
fn decode(dtype: Dtype, b: &[u8]) -> f64 {
    let le = dtype.little_endian;
    if dtype.size == 8 {
        let w: [u8; 8] = b.try_into().expect("8 bytes");
        match (dtype.kind, le) {
            (Kind::Float, true) => f64::from_le_bytes(w),
            (Kind::Float, false) => f64::from_be_bytes(w),
            (Kind::Int, true) => i64::from_le_bytes(w) as f64,
            (Kind::Int, false) => i64::from_be_bytes(w) as f64,
        }
    } else {
        let w: [u8; 4] = b.try_into().expect("4 bytes");
        match (dtype.kind, le) {
            (Kind::Float, true) => f64::from(f32::from_le_bytes(w)),
            (Kind::Float, false) => f64::from(f32::from_be_bytes(w)),
            (Kind::Int, true) => f64::from(i32::from_le_bytes(w)),
            (Kind::Int, false) => f64::from(i32::from_be_bytes(w)),
        }
    }
}
