//! A `.npy` file's rows read a chunk at a time, pass after pass
//! ([`NpyRows`]): what an out-of-core fit streams at every E-step
//! ([`crate::io::ChunkedFile`]).
//!
//! A C-ordered file of 8-byte elements (`f8` or `i8`, either byte order)
//! is read straight into a row-major buffer: one read of the chunk's bytes
//! into the buffer's memory, then each value decoded in place (nothing to
//! do for little-endian `f8` on a little-endian machine). Its values are
//! checked only when asked (the first pass, or a file that changed): one
//! sweep of the test `|x| ≤ MAX_ABS_VALUE` (false for NaN and infinities),
//! and only if it fails a second one in file order naming the first bad
//! value. Other files (Fortran order, 4-byte elements) are decoded into a
//! column-major buffer by the shard reader ([`super::read_npy_rows`])
//! and checked at every read.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use faer::{MatMut, MatRef};

use super::shard::{check_range, decode_rows, open, value_error};
use super::{Kind, Layout, decode, matrix_shape};
use crate::io::MAX_ABS_VALUE;
use crate::io::error::DataError;

/// How a chunk's values lie in its buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    /// Row after row (C order).
    Rows,
    /// Column after column.
    Columns,
}

/// A 1-D or 2-D `.npy` file opened, its header read and checked against its
/// size, for reads of runs of its rows (see the module documentation).
pub(crate) struct NpyRows<'p> {
    path: &'p Path,
    file: File,
    layout: Layout,
    shape: (usize, usize),
}

impl<'p> NpyRows<'p> {
    /// Opens `path` and reads its header.
    ///
    /// # Errors
    /// As [`super::npy_shape`].
    pub(crate) fn open(path: &'p Path) -> Result<Self, DataError> {
        let (reader, layout) = open(path)?;
        let shape = matrix_shape(&layout.shape, path)?;
        Ok(Self {
            path,
            file: reader.into_inner(),
            layout,
            shape,
        })
    }

    /// The file's rows and columns.
    pub(crate) fn shape(&self) -> (usize, usize) {
        self.shape
    }

    /// The open file (for its metadata).
    pub(crate) fn file(&self) -> &File {
        &self.file
    }

    /// The order [`NpyRows::read_into`] leaves a chunk's values in.
    pub(crate) fn order(&self) -> Order {
        if !self.layout.fortran_order && self.layout.dtype.size == 8 {
            Order::Rows
        } else {
            Order::Columns
        }
    }

    /// Rows `first_row..first_row + rows` of the file into `out` (their
    /// `rows · d` values, in [`NpyRows::order`]), their values checked as
    /// [`super::read_npy`] checks them when `check` (in
    /// [`Order::Columns`], always).
    ///
    /// # Errors
    /// [`DataError::RowRange`] for rows past the file's; [`DataError::Io`];
    /// [`DataError::NpyValue`] for the first bad value in file order (its
    /// element, row and column in the file, from 1).
    pub(crate) fn read_into(
        &self,
        first_row: usize,
        rows: usize,
        out: &mut [f64],
        allow_missing: bool,
        check: bool,
    ) -> Result<(), DataError> {
        let (total, cols) = check_range(
            &self.layout,
            self.path,
            &(first_row..first_row.saturating_add(rows)),
        )?;
        debug_assert_eq!(out.len(), rows * cols);
        let (path, layout) = (self.path, &self.layout);
        if self.order() == Order::Columns {
            let out = MatMut::from_column_major_slice_mut(out, rows, cols);
            return decode_rows(
                BufReader::new(&self.file),
                layout,
                path,
                allow_missing,
                (first_row, total),
                out,
            );
        }
        let io = |source| DataError::Io {
            path: path.into(),
            source,
        };
        let mut file = &self.file;
        // Within the file: the header's shape matches its size.
        let at = layout.data_start + (first_row * cols * layout.dtype.size) as u64;
        file.seek(SeekFrom::Start(at)).map_err(io)?;
        file.read_exact(bytemuck::cast_slice_mut(out)).map_err(io)?;
        let dtype = layout.dtype;
        let native = dtype.kind == Kind::Float && dtype.little_endian == cfg!(target_endian = "little");
        if !native {
            for v in out.iter_mut() {
                *v = decode(dtype, &v.to_ne_bytes());
            }
        }
        if check && !all_within_range(out) {
            let first_bad = out.iter().enumerate().find_map(|(k, &value)| {
                let place = (first_row + k / cols, k % cols);
                value_error(path, layout, (total, cols), allow_missing, place, value)
            });
            if let Some(e) = first_bad {
                return Err(e);
            }
        }
        Ok(())
    }

    /// `values` (of `rows` rows, from [`NpyRows::read_into`]) as a matrix.
    pub(crate) fn view<'v>(&self, values: &'v [f64], rows: usize) -> MatRef<'v, f64> {
        let cols = self.shape.1;
        match self.order() {
            Order::Rows => MatRef::from_row_major_slice(&values[..rows * cols], rows, cols),
            Order::Columns => MatRef::from_column_major_slice(&values[..rows * cols], rows, cols),
        }
    }
}

/// Whether every value is at most [`MAX_ABS_VALUE`] in magnitude (false
/// for NaN and infinities), tested in lanes without a branch per value (a
/// loop the compiler vectorises).
fn all_within_range(values: &[f64]) -> bool {
    const LANES: usize = 8;
    let mut within = [true; LANES];
    let mut runs = values.chunks_exact(LANES);
    for run in &mut runs {
        for (w, v) in within.iter_mut().zip(run) {
            *w &= v.abs() <= MAX_ABS_VALUE;
        }
    }
    within.iter().all(|&w| w) && runs.remainder().iter().all(|v| v.abs() <= MAX_ABS_VALUE)
}

#[cfg(test)]
mod tests {
    use super::super::read_npy;
    use super::super::tests::write_file;
    use super::*;
    use crate::io::error::CellProblem;

    /// A 9 x 2 array with `value(i, j) = 10 i + j − 40`, written in `order`
    /// with dtype `descr`, `bad` (row, column, value) in place of one.
    fn file(dir: &Path, fortran: bool, descr: &str, bad: Option<(usize, usize, f64)>) -> std::path::PathBuf {
        write_file(dir, (9, 2), fortran, descr, |i, j| match bad {
            Some((r, c, v)) if (r, c) == (i, j) => v,
            _ => (10 * i + j) as f64 - 40.0,
        })
    }

    #[test]
    fn chunks_are_the_rows_of_the_whole_file_in_every_order_and_dtype() {
        let dir = tempfile::tempdir().unwrap();
        for fortran in [false, true] {
            for descr in ["<f8", ">f8", "<i8", ">i8", "<f4"] {
                let path = file(dir.path(), fortran, descr, None);
                let whole = read_npy(&path, false).unwrap();
                let npy = NpyRows::open(&path).unwrap();
                assert_eq!(npy.shape(), (9, 2));
                let by_rows = !fortran && descr.ends_with('8');
                assert_eq!(npy.order() == Order::Rows, by_rows, "{descr}");
                let mut buffer = vec![f64::NAN; 8];
                for (first, rows) in [(0, 4), (4, 4), (8, 1), (2, 3)] {
                    npy.read_into(first, rows, &mut buffer[..2 * rows], false, true)
                        .unwrap();
                    let chunk = npy.view(&buffer, rows);
                    assert_eq!(chunk.row_stride(), if by_rows { 2 } else { 1 });
                    for i in 0..rows {
                        for j in 0..2 {
                            assert_eq!(chunk[(i, j)].to_bits(), whole[(first + i, j)].to_bits());
                        }
                    }
                }
                assert!(matches!(
                    npy.read_into(8, 2, &mut buffer[..4], false, true),
                    Err(DataError::RowRange {
                        start: 8,
                        end: 10,
                        rows: 9,
                        ..
                    })
                ));
            }
        }
    }

    #[test]
    fn a_checked_read_names_the_first_bad_value_in_the_file_and_an_unchecked_one_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        for (value, problem) in [
            (f64::NAN, CellProblem::Missing),
            (f64::NEG_INFINITY, CellProblem::Infinite),
            (2e150, CellProblem::TooLarge),
        ] {
            let path = file(dir.path(), false, ">f8", Some((6, 1, value)));
            let npy = NpyRows::open(&path).unwrap();
            let mut buffer = vec![0.0; 8];
            // Rows 5 to 8 (from 1): the bad value is the chunk's row 2.
            let err = npy.read_into(4, 4, &mut buffer, false, true).unwrap_err();
            assert_eq!(err.to_string(), read_npy(&path, false).unwrap_err().to_string());
            let DataError::NpyValue {
                element,
                row,
                col,
                problem: found,
                ..
            } = err
            else {
                panic!("{err}")
            };
            assert_eq!((element, row, col, found), (14, 7, 2, problem));
            // Rows without it, and the values unchecked.
            assert!(npy.read_into(0, 4, &mut buffer, false, true).is_ok());
            npy.read_into(4, 4, &mut buffer, false, false).unwrap();
            assert_eq!(buffer[2 * 2 + 1].to_bits(), value.to_bits());
        }
        // A missing value allowed.
        let path = file(dir.path(), false, "<f8", Some((6, 1, f64::NAN)));
        let mut buffer = vec![0.0; 8];
        NpyRows::open(&path)
            .unwrap()
            .read_into(4, 4, &mut buffer, true, true)
            .unwrap();
        assert!(buffer[5].is_nan());
    }
}
