//! A data file read a chunk of rows at a time, into one buffer reused from
//! chunk to chunk: what an out-of-core fit streams at every E-step
//! ([`crate::OutOfCore`]).
//!
//! The chunks are rows `c·r .. min((c + 1)·r, n)` of the file's `n` rows for
//! `c = 0, 1, ...` and `r` rows per chunk. A `.npy` file's chunk is read by
//! rows ([`super::read_npy_rows_into`]: only its bytes); a CSV file is read
//! line by line by the CSV reader ([`super::CsvRows`]), a chunk's rows at a
//! time. Values are checked as the readers check them when reading a whole
//! file, and every error names the file and the place in it (a `.npy`
//! element's row and column, a CSV line and column, from 1), never the
//! chunk's.
//!
//! Memory: the buffer of `r × d` values (and the readers' runs of a few
//! thousand values), whatever the size of the file.

use std::io::BufReader;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use faer::{Mat, MatRef};

use super::csv::CsvRows;
use super::error::{ColumnProblem, DataError};
use super::{ReadOptions, is_npy, npy_shape, read_npy_rows_into};

/// A data file of `rows × cols` values read in chunks (see the module
/// documentation). [`ChunkedFile::open`] reads it once in full, checking
/// every value and counting the rows; every later pass
/// ([`ChunkedFile::pass`]) must find the same rows and columns.
#[derive(Debug, Clone)]
pub struct ChunkedFile {
    path: PathBuf,
    options: ReadOptions,
    chunk_rows: usize,
    rows: usize,
    cols: usize,
}

impl ChunkedFile {
    /// Opens `path` (`.npy` by its extension, else CSV, read with `options`)
    /// for chunks of `chunk_rows` rows, with a first pass over it that
    /// hands every chunk to `visit` (its first row in the file, its rows)
    /// and checks every value. Returns the file and the chunk buffer for
    /// the later passes.
    ///
    /// # Errors
    /// The readers' errors ([`super::read_npy_rows`], [`super::read_csv`]);
    /// [`DataError::Column`] for `options.columns` on a `.npy` file (which
    /// is read whole by rows).
    pub fn open(
        path: &Path,
        options: &ReadOptions,
        chunk_rows: NonZeroUsize,
        mut visit: impl FnMut(usize, MatRef<'_, f64>),
    ) -> Result<(Self, Mat<f64>), DataError> {
        let mut file = Self {
            path: path.into(),
            options: options.clone(),
            chunk_rows: chunk_rows.get(),
            rows: 0,
            cols: 0,
        };
        let mut buffer = Mat::new();
        let (rows, cols) = file.read(None, &mut buffer, |_, first_row, x| {
            visit(first_row, x);
            Ok::<_, DataError>(())
        })?;
        if rows == 0 {
            return Err(DataError::Empty { path: path.into() });
        }
        (file.rows, file.cols) = (rows, cols);
        Ok((file, buffer))
    }

    /// The file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Rows of the file.
    #[must_use]
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Values per row.
    #[must_use]
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Rows per chunk (the last chunk may have fewer).
    #[must_use]
    pub fn chunk_rows(&self) -> usize {
        self.chunk_rows
    }

    /// Number of chunks.
    #[must_use]
    pub fn n_chunks(&self) -> usize {
        self.rows.div_ceil(self.chunk_rows)
    }

    /// One pass over the file: `f(chunk, first row, its rows)` for every
    /// chunk in order, each read into `buffer` (the one [`ChunkedFile::open`]
    /// returned, reused). The first error, the reader's or `f`'s, ends the
    /// pass.
    ///
    /// # Errors
    /// The readers' errors; [`DataError::RowRange`] or
    /// [`DataError::Columns`] when the file no longer has the rows and
    /// columns of the first pass; `f`'s error.
    pub fn pass<E: From<DataError>>(
        &self,
        buffer: &mut Mat<f64>,
        f: impl FnMut(usize, usize, MatRef<'_, f64>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.read(Some((self.rows, self.cols)), buffer, f).map(|_| ())
    }

    /// A pass, expecting `shape` (the first pass's) if known; returns the
    /// rows and columns read.
    fn read<E: From<DataError>>(
        &self,
        shape: Option<(usize, usize)>,
        buffer: &mut Mat<f64>,
        mut f: impl FnMut(usize, usize, MatRef<'_, f64>) -> Result<(), E>,
    ) -> Result<(usize, usize), E> {
        let path = self.path.as_path();
        let r = self.chunk_rows;
        let check_cols = |cols: usize| match shape {
            Some((_, expected)) if cols != expected => Err(DataError::Columns {
                path: path.into(),
                found: cols,
                expected,
            }),
            _ => Ok(()),
        };
        let too_few = |rows: usize, expected: usize| DataError::RowRange {
            path: path.into(),
            start: rows,
            end: expected,
            rows,
        };
        if is_npy(path) {
            if self.options.columns.is_some() {
                return Err(DataError::Column {
                    path: path.into(),
                    problem: ColumnProblem::NpyInChunks,
                }
                .into());
            }
            let (found, cols) = npy_shape(path)?;
            check_cols(cols)?;
            let rows = match shape {
                Some((expected, _)) if found < expected => return Err(too_few(found, expected).into()),
                Some((expected, _)) => expected,
                None => found,
            };
            if buffer.nrows() < rows.min(r) || buffer.ncols() != cols {
                *buffer = Mat::zeros(rows.min(r), cols);
            }
            for (chunk, first_row) in (0..rows).step_by(r).enumerate() {
                let len = r.min(rows - first_row);
                let x = buffer.as_mut().subrows_mut(0, len);
                read_npy_rows_into(path, self.options.allow_missing, first_row, x)?;
                f(chunk, first_row, buffer.as_ref().subrows(0, len))?;
            }
            return Ok((rows, cols));
        }
        let file = std::fs::File::open(path).map_err(|source| DataError::Io {
            path: path.into(),
            source,
        })?;
        let mut lines = CsvRows::new(BufReader::new(file), path, &self.options);
        let mut row: Vec<f64> = Vec::new();
        // Rows read, and how many of them are in the buffer (chunk `chunk`).
        let (mut rows, mut filled, mut chunk) = (0, 0, 0);
        // Never a row past the first pass's.
        while shape.is_none_or(|(expected, _)| rows < expected) {
            row.clear();
            if !lines.next_into(&mut row)? {
                break;
            }
            if rows == 0 {
                check_cols(row.len())?;
            }
            if filled == r {
                f(chunk, rows - filled, buffer.as_ref())?;
                (filled, chunk) = (0, chunk + 1);
            }
            if filled == buffer.nrows() || buffer.ncols() != row.len() {
                grow(buffer, filled, r, row.len());
            }
            for (j, &value) in row.iter().enumerate() {
                buffer[(filled, j)] = value;
            }
            (rows, filled) = (rows + 1, filled + 1);
        }
        if let Some((expected, _)) = shape.filter(|&(expected, _)| rows < expected) {
            return Err(too_few(rows, expected).into());
        }
        if filled > 0 {
            f(chunk, rows - filled, buffer.as_ref().subrows(0, filled))?;
        }
        Ok((rows, lines.width()))
    }
}

/// Room in `buffer` for one row more of `cols` values, keeping its first
/// `filled` rows: twice the rows (at most `max`), so that a short file
/// does not cost a buffer of a whole chunk.
fn grow(buffer: &mut Mat<f64>, filled: usize, max: usize, cols: usize) {
    let rows = (2 * buffer.nrows()).clamp(filled + 1, max).max(64.min(max));
    let old = std::mem::replace(buffer, Mat::zeros(rows, cols));
    if old.ncols() == cols {
        buffer
            .as_mut()
            .subrows_mut(0, filled)
            .copy_from(old.as_ref().subrows(0, filled));
    }
}
