//! A data file read a chunk of rows at a time, into buffers reused from
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
//! A `.npy` file's next chunk is read on a thread of its own while the
//! caller works on the current one, into the other of two buffers
//! ([`ChunkBuffers`]), when chunks have at least 64 Ki values; a CSV
//! file's chunks are read in turn into one.
//!
//! Memory: the two buffers of `r × d` values (and the readers' runs of a
//! few thousand values), whatever the size of the file.

use std::io::BufReader;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use faer::{Mat, MatRef};

use super::csv::CsvRows;
use super::error::{ColumnProblem, DataError};
use super::{ReadOptions, is_npy, npy_shape, read_npy_rows_into};

/// The values of a chunk from which the next chunk of a `.npy` file is
/// read on a thread of its own (64 Ki values, 512 KiB: below, a thread per
/// chunk costs more than it saves).
const READ_AHEAD_VALUES: usize = 1 << 16;

/// The buffers a [`ChunkedFile`] reads its chunks into, reused from pass
/// to pass.
pub type ChunkBuffers = [Mat<f64>; 2];

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
    /// and checks every value. Returns the file and the chunk buffers for
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
    ) -> Result<(Self, ChunkBuffers), DataError> {
        let mut file = Self {
            path: path.into(),
            options: options.clone(),
            chunk_rows: chunk_rows.get(),
            rows: 0,
            cols: 0,
        };
        let mut buffers = [Mat::new(), Mat::new()];
        let (rows, cols) = file.read(None, &mut buffers, |_, first_row, x| {
            visit(first_row, x);
            Ok::<_, DataError>(())
        })?;
        if rows == 0 {
            return Err(DataError::Empty { path: path.into() });
        }
        (file.rows, file.cols) = (rows, cols);
        Ok((file, buffers))
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
    /// chunk in order, each read into one of `buffers` (the ones
    /// [`ChunkedFile::open`] returned, reused). The first error, the reader's or `f`'s, ends the
    /// pass.
    ///
    /// # Errors
    /// The readers' errors; [`DataError::RowRange`] or
    /// [`DataError::Columns`] when the file no longer has the rows and
    /// columns of the first pass; `f`'s error.
    pub fn pass<E: From<DataError>>(
        &self,
        buffers: &mut ChunkBuffers,
        f: impl FnMut(usize, usize, MatRef<'_, f64>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.read(Some((self.rows, self.cols)), buffers, f).map(|_| ())
    }

    /// A pass, expecting `shape` (the first pass's) if known; returns the
    /// rows and columns read.
    fn read<E: From<DataError>>(
        &self,
        shape: Option<(usize, usize)>,
        buffers: &mut ChunkBuffers,
        mut f: impl FnMut(usize, usize, MatRef<'_, f64>) -> Result<(), E>,
    ) -> Result<(usize, usize), E> {
        let [current, ahead] = buffers;
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
            for buffer in [&mut *current, &mut *ahead] {
                if buffer.nrows() < rows.min(r) || buffer.ncols() != cols {
                    *buffer = Mat::zeros(rows.min(r), cols);
                }
            }
            let allow_missing = self.options.allow_missing;
            let len = |first_row: usize| r.min(rows - first_row);
            let read = |first_row: usize, buffer: &mut Mat<f64>| {
                let x = buffer.as_mut().subrows_mut(0, len(first_row));
                read_npy_rows_into(path, allow_missing, first_row, x)
            };
            let read = &read;
            let starts: Vec<usize> = (0..rows).step_by(r).collect();
            read(0, current)?;
            // Chunk c + 1 is read on a thread of its own while f runs on
            // chunk c (the buffer goes to the thread and comes back), or
            // after it for chunks too small to be worth a thread.
            let on_thread = r.saturating_mul(cols) >= READ_AHEAD_VALUES;
            std::thread::scope(|scope| {
                for (chunk, &first_row) in starts.iter().enumerate() {
                    let next = starts.get(chunk + 1).copied();
                    let reader = next.filter(|_| on_thread).map(|next| {
                        let mut buffer = std::mem::replace(&mut *ahead, Mat::new());
                        scope.spawn(move || {
                            let done = read(next, &mut buffer);
                            (buffer, done)
                        })
                    });
                    let done = f(chunk, first_row, current.as_ref().subrows(0, len(first_row)));
                    let read_ahead = reader.map(|reader| {
                        let (buffer, done) = reader.join().expect("a chunk reader does not panic");
                        *ahead = buffer;
                        done
                    });
                    done?;
                    match (read_ahead, next) {
                        (Some(done), _) => done?,
                        (None, Some(next)) => read(next, ahead)?,
                        (None, None) => {}
                    }
                    std::mem::swap(current, ahead);
                }
                Ok::<_, E>(())
            })?;
            return Ok((rows, cols));
        }
        let file = std::fs::File::open(path).map_err(|source| DataError::Io {
            path: path.into(),
            source,
        })?;
        let mut lines = CsvRows::new(BufReader::new(file), path, &self.options);
        let buffer = current;
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
                f(chunk, rows - filled, buffer.as_ref().subrows(0, filled))?;
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
