//! A data file read a chunk of rows at a time, into buffers reused from
//! chunk to chunk: what an out-of-core fit streams at every E-step
//! ([`crate::OutOfCore`]).
//!
//! The chunks ([`ChunkPlan`]) are rows `c·r .. min((c + 1)·r, n)` of the
//! file's `n` rows for `c = 0, 1, ...` and `r` rows per chunk, or runs of
//! whole sequences: rows `e_{c-1} .. e_c` for the chunks' ends `e_c`, the
//! last being `n` (a sequence model's chunks, which no boundary cuts). A `.npy` file's chunk is read by
//! rows (only its bytes): a C-ordered file of 8-byte elements straight into
//! a row-major buffer, the layout the E-step kernels read as they find it,
//! with one read of the chunk's bytes and no decoding of little-endian
//! `f8`; other `.npy` files are decoded into a column-major buffer. A CSV
//! file is read line by line by the CSV reader ([`super::CsvRows`]), a
//! chunk's rows at a time, into a row-major buffer. Every error names the
//! file and the place in it (a `.npy` element's row and column, a CSV line
//! and column, from 1), never the chunk's.
//!
//! Values are checked as the readers check them when reading a whole file
//! on the first pass ([`ChunkedFile::open`]). A later pass of a C-ordered
//! `.npy` file of 8-byte elements checks them again only if the file's
//! length or modification time is not the first pass's (other files are
//! checked at every pass); a file whose header now declares fewer rows or
//! other columns, more rows, or a size that does not match its header is
//! refused. (A value made bad in place within the same length and time is
//! left to the model's own check: the mixtures refuse a non-finite value,
//! naming its row in the chunk.)
//!
//! A `.npy` file's next chunk is read on a thread of its own while the
//! caller works on the current one, into the other of two buffers
//! ([`ChunkBuffers`]), when chunks have at least 64 Ki values; a CSV
//! file's chunks are read in turn into one.
//!
//! Memory: the two buffers of `r × d` values, `r` the rows of the largest
//! chunk (and the CSV reader's line), whatever the size of the file.

use std::fs::File;
use std::io::BufReader;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use faer::MatRef;

use super::csv::CsvRows;
use super::error::{ColumnProblem, DataError};
use super::npy::NpyRows;
use super::{ReadOptions, is_npy};

/// The values of a chunk from which the next chunk of a `.npy` file is
/// read on a thread of its own (64 Ki values, 512 KiB: below, a thread per
/// chunk costs more than it saves).
const READ_AHEAD_VALUES: usize = 1 << 16;

/// The buffers a [`ChunkedFile`] reads its chunks into (each chunk's
/// values, row after row or column after column), reused from pass to
/// pass.
pub type ChunkBuffers = [Vec<f64>; 2];

/// How a [`ChunkedFile`] is cut into chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkPlan {
    /// `r` rows per chunk (the last may have fewer).
    Rows(NonZeroUsize),
    /// Chunks of whole sequences: chunk `c` ends before row `ends[c]`
    /// (increasing, each chunk at least one row), the last end being the
    /// rows of the file; the sequence lengths come from the file `lengths`,
    /// named when they do not add up to the data's rows.
    Ends {
        /// The lengths file.
        lengths: PathBuf,
        /// The end (excluded) of every chunk.
        ends: Vec<usize>,
    },
}

impl ChunkPlan {
    /// Groups of consecutive sequences of `lengths` rows, each as many
    /// sequences as fit in `target` rows (greedily, in file order): at most
    /// `target` rows per chunk, except that a sequence longer than `target`
    /// is a chunk of its own. (The lengths, read from the file `path`, are
    /// positive.)
    #[must_use]
    pub fn sequences(path: &Path, lengths: &[usize], target: NonZeroUsize) -> Self {
        let mut ends = Vec::new();
        let (mut end, mut filled) = (0usize, 0usize);
        for &len in lengths {
            if filled > 0 && filled.saturating_add(len) > target.get() {
                ends.push(end);
                filled = 0;
            }
            end = end.saturating_add(len);
            filled = filled.saturating_add(len);
        }
        if filled > 0 {
            ends.push(end);
        }
        Self::Ends {
            lengths: path.into(),
            ends,
        }
    }

    /// Rows of chunk `chunk` (of a file of `rows` rows), 0 past the last.
    fn len(&self, chunk: usize, rows: usize) -> usize {
        match self {
            Self::Rows(r) => r.get().min(rows.saturating_sub(chunk.saturating_mul(r.get()))),
            Self::Ends { ends, .. } => match chunk {
                0 => ends.first().copied().unwrap_or(0).min(rows),
                c => ends
                    .get(c)
                    .map_or(0, |&end| end.min(rows).saturating_sub(ends[c - 1])),
            },
        }
    }

    /// The first row of every chunk of a file of `rows` rows.
    fn starts(&self, rows: usize) -> Vec<usize> {
        match self {
            Self::Rows(r) => (0..rows).step_by(r.get()).collect(),
            Self::Ends { ends, .. } => std::iter::once(0)
                .chain(ends.iter().copied())
                .take_while(|&start| start < rows)
                .collect(),
        }
    }

    /// Rows of the largest chunk of a file of `rows` rows.
    fn largest(&self, rows: usize) -> usize {
        match self {
            Self::Rows(r) => r.get().min(rows),
            Self::Ends { ends, .. } => ends
                .iter()
                .scan(0, |start, &end| {
                    Some(end.saturating_sub(std::mem::replace(start, end)))
                })
                .max()
                .unwrap_or(0)
                .min(rows),
        }
    }

    /// On the first pass: [`DataError::LengthsSum`] unless chunks of whole
    /// sequences end at the file's `rows`.
    fn check_rows(&self, rows: usize) -> Result<(), DataError> {
        match self {
            Self::Ends { lengths, ends } if ends.last().copied().unwrap_or(0) != rows => {
                Err(DataError::LengthsSum {
                    path: lengths.clone(),
                    total: ends.last().copied().unwrap_or(0),
                    rows,
                })
            }
            _ => Ok(()),
        }
    }
}

/// A file's length and modification time: a pass of a file with the first
/// pass's stamp does not check its values again.
type Stamp = (u64, SystemTime);

/// The stamp of an open file (None if the file system has no times).
fn stamp(file: &File) -> Option<Stamp> {
    let metadata = file.metadata().ok()?;
    Some((metadata.len(), metadata.modified().ok()?))
}

/// What a pass found: the rows and columns, and the stamp of a `.npy` file
/// when the pass began.
struct Found {
    rows: usize,
    cols: usize,
    stamp: Option<Stamp>,
}

/// A data file of `rows × cols` values read in chunks (see the module
/// documentation). [`ChunkedFile::open`] reads it once in full, checking
/// every value and counting the rows; every later pass
/// ([`ChunkedFile::pass`]) must find the same rows and columns.
#[derive(Debug, Clone)]
pub struct ChunkedFile {
    path: PathBuf,
    options: ReadOptions,
    plan: ChunkPlan,
    rows: usize,
    cols: usize,
    /// The stamp of a `.npy` file when its values were checked (None:
    /// check at every pass).
    checked: Option<Stamp>,
}

impl ChunkedFile {
    /// Opens `path` (`.npy` by its extension, else CSV, read with `options`)
    /// for the chunks of `plan`, with a first pass over it that
    /// hands every chunk to `visit` (its first row in the file, its rows)
    /// and checks every value. Returns the file and the chunk buffers for
    /// the later passes.
    ///
    /// # Errors
    /// The readers' errors ([`super::read_npy_rows`], [`super::read_csv`]);
    /// [`DataError::Column`] for `options.columns` on a `.npy` file (which
    /// is read whole by rows); [`DataError::LengthsSum`] when the chunks of
    /// whole sequences do not end at the file's rows.
    pub fn open(
        path: &Path,
        options: &ReadOptions,
        plan: ChunkPlan,
        mut visit: impl FnMut(usize, MatRef<'_, f64>),
    ) -> Result<(Self, ChunkBuffers), DataError> {
        let mut file = Self {
            path: path.into(),
            options: options.clone(),
            plan,
            rows: 0,
            cols: 0,
            checked: None,
        };
        let mut buffers = [Vec::new(), Vec::new()];
        let found = file.read(None, &mut buffers, |_, first_row, x| {
            visit(first_row, x);
            Ok::<_, DataError>(())
        })?;
        if found.rows == 0 {
            return Err(DataError::Empty { path: path.into() });
        }
        (file.rows, file.cols, file.checked) = (found.rows, found.cols, found.stamp);
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

    /// How the file is cut into chunks.
    #[must_use]
    pub fn plan(&self) -> &ChunkPlan {
        &self.plan
    }

    /// Number of chunks.
    #[must_use]
    pub fn n_chunks(&self) -> usize {
        match &self.plan {
            ChunkPlan::Rows(r) => self.rows.div_ceil(r.get()),
            // Opened: the last end is the file's rows.
            ChunkPlan::Ends { ends, .. } => ends.len(),
        }
    }

    /// The first row of chunk `chunk` (the rows of the file past the last).
    #[must_use]
    pub fn first_row(&self, chunk: usize) -> usize {
        let first = match &self.plan {
            ChunkPlan::Rows(r) => chunk.saturating_mul(r.get()),
            ChunkPlan::Ends { ends, .. } => chunk
                .checked_sub(1)
                .map_or(0, |c| ends.get(c).copied().unwrap_or(self.rows)),
        };
        first.min(self.rows)
    }

    /// One pass over the file: `f(chunk, first row, its rows)` for every
    /// chunk in order, each read into one of `buffers` (the ones
    /// [`ChunkedFile::open`] returned, reused). The first error, the reader's or `f`'s, ends the
    /// pass.
    ///
    /// # Errors
    /// The readers' errors; [`DataError::RowRange`],
    /// [`DataError::MoreRows`] or [`DataError::Columns`] when the file no
    /// longer has the rows and columns of the first pass; `f`'s error.
    pub fn pass<E: From<DataError>>(
        &self,
        buffers: &mut ChunkBuffers,
        f: impl FnMut(usize, usize, MatRef<'_, f64>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.read(Some((self.rows, self.cols)), buffers, f).map(|_| ())
    }

    /// A pass, expecting `shape` (the first pass's) if known.
    fn read<E: From<DataError>>(
        &self,
        shape: Option<(usize, usize)>,
        buffers: &mut ChunkBuffers,
        mut f: impl FnMut(usize, usize, MatRef<'_, f64>) -> Result<(), E>,
    ) -> Result<Found, E> {
        let [current, ahead] = buffers;
        let path = self.path.as_path();
        let plan = &self.plan;
        let check_cols = |cols: usize| match shape {
            Some((_, expected)) if cols != expected => Err(DataError::Columns {
                path: path.into(),
                found: cols,
                expected,
            }),
            _ => Ok(()),
        };
        let other_rows = |rows: usize, expected: usize| {
            if rows < expected {
                DataError::RowRange {
                    path: path.into(),
                    start: rows,
                    end: expected,
                    rows,
                }
            } else {
                DataError::MoreRows {
                    path: path.into(),
                    expected,
                }
            }
        };
        if is_npy(path) {
            if self.options.columns.is_some() {
                return Err(DataError::Column {
                    path: path.into(),
                    problem: ColumnProblem::NpyInChunks,
                }
                .into());
            }
            let npy = NpyRows::open(path)?;
            let stamp = stamp(npy.file());
            let (rows, cols) = npy.shape();
            check_cols(cols)?;
            if let Some((expected, _)) = shape.filter(|&(expected, _)| rows != expected) {
                return Err(other_rows(rows, expected).into());
            }
            plan.check_rows(rows)?;
            // The first pass checks, and a pass of a file that changed since.
            let check = shape.is_none() || self.checked.is_none() || stamp != self.checked;
            let largest = plan.largest(rows);
            for buffer in [&mut *current, &mut *ahead] {
                if buffer.len() < largest * cols {
                    buffer.resize(largest * cols, 0.0);
                }
            }
            let allow_missing = self.options.allow_missing;
            let starts = plan.starts(rows);
            let npy = &npy;
            let read = |chunk: usize, buffer: &mut Vec<f64>| {
                let n = plan.len(chunk, rows);
                let first_row = starts.get(chunk).copied().unwrap_or(0);
                npy.read_into(first_row, n, &mut buffer[..n * cols], allow_missing, check)
            };
            let read = &read;
            read(0, current)?;
            // Chunk c + 1 is read on a thread of its own while f runs on
            // chunk c (the buffer goes to the thread and comes back), or
            // after it for chunks too small to be worth a thread.
            let on_thread = largest.saturating_mul(cols) >= READ_AHEAD_VALUES;
            std::thread::scope(|scope| {
                for (chunk, &first_row) in starts.iter().enumerate() {
                    let next = (chunk + 1 < starts.len()).then_some(chunk + 1);
                    let reader = next.filter(|_| on_thread).map(|next| {
                        let mut buffer = std::mem::take(&mut *ahead);
                        scope.spawn(move || {
                            let done = read(next, &mut buffer);
                            (buffer, done)
                        })
                    });
                    let done = f(chunk, first_row, npy.view(current, plan.len(chunk, rows)));
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
            return Ok(Found { rows, cols, stamp });
        }
        let file = File::open(path).map_err(|source| DataError::Io {
            path: path.into(),
            source,
        })?;
        let mut lines = CsvRows::new(BufReader::new(file), path, &self.options);
        let buffer = current;
        buffer.clear();
        let mut row: Vec<f64> = Vec::new();
        // Rows read, and how many of them are in the buffer (chunk `chunk`).
        let (mut rows, mut filled, mut chunk) = (0, 0, 0);
        loop {
            row.clear();
            if !lines.next_into(&mut row)? {
                break;
            }
            if let Some((expected, _)) = shape.filter(|&(expected, _)| rows == expected) {
                return Err(other_rows(rows + 1, expected).into());
            }
            if rows == 0 {
                check_cols(row.len())?;
            }
            if filled > 0 && filled == plan.len(chunk, usize::MAX) {
                f(chunk, rows - filled, chunk_of(buffer, filled, row.len()))?;
                (filled, chunk) = (0, chunk + 1);
                buffer.clear();
            }
            let room = plan.len(chunk, usize::MAX) - filled;
            if room == 0 {
                // Past the sequences' rows: counted for the error below.
                rows += 1;
                continue;
            }
            if buffer.len() == buffer.capacity() {
                // Twice the rows, at most a chunk's: a short file does not
                // cost a buffer of a whole chunk.
                buffer.reserve_exact(filled.max(64).min(room) * row.len());
            }
            buffer.extend_from_slice(&row);
            (rows, filled) = (rows + 1, filled + 1);
        }
        if let Some((expected, _)) = shape.filter(|&(expected, _)| rows < expected) {
            return Err(other_rows(rows, expected).into());
        }
        plan.check_rows(rows)?;
        let cols = lines.width();
        if filled > 0 {
            f(chunk, rows - filled, chunk_of(buffer, filled, cols))?;
        }
        Ok(Found {
            rows,
            cols,
            stamp: None,
        })
    }
}

/// The first `rows` rows of `cols` values of a row-major buffer.
fn chunk_of(buffer: &[f64], rows: usize, cols: usize) -> MatRef<'_, f64> {
    MatRef::from_row_major_slice(&buffer[..rows * cols], rows, cols)
}
