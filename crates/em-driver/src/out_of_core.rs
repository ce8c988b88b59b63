//! Out-of-core EM: the [`Executor`] of a fit whose data stay on disk and
//! are read a chunk of rows at a time at every E-step ([`OutOfCore`]).
//!
//! The E-step is a sum over the rows: for a model with statistics `S(x)`
//! per row, `E-step(x₁..xₙ) = Σ_c Σ_{i ∈ chunk c} S(xᵢ)` and the
//! log-likelihood is `Σ_c Σ_{i ∈ chunk c} ln p(xᵢ)`. So the E-step of each
//! chunk `c` (rows `c·r .. (c + 1)·r` of the file, read into buffers
//! reused from chunk to chunk, [`ChunkedFile`]: the next chunk of a `.npy`
//! file is read while this one's E-step runs) is merged into the running
//! statistics in chunk order ([`EStep::merge`]): exactly [`crate::Parts`]
//! over the same chunks, bit for bit, with the memory of two chunks (their
//! `r × d` values, and one E-step's tables)
//! whatever the number of rows. A different `r` gives the in-memory fit up
//! to rounding (the sums associated differently).
//!
//! # Initialisation
//! The model's own initialisation ([`EmModel::init_from_data`], one per
//! restart) runs on a seeded sample of rows drawn across the chunks as the
//! file is opened ([`crate::em_core::sample`]: the rows of smallest key,
//! the same for any chunk size, and the whole file in order when the sample
//! is at least as large, which gives the in-memory start). Or a warm start.
//!
//! # Errors
//! The file is read once in full when opened, so that a bad value (NaN in
//! the middle of the file, a short row of a CSV file) or a truncated file
//! is refused before the fit starts, naming the file and the row and column
//! (from 1). Should a later pass fail to read (the file changed or the disk
//! failed), the E-step fails with [`PartError::Remote`] carrying the
//! reader's message for the chunk, and the typed error is kept
//! ([`OutOfCore::take_read_error`]). A model error of chunk `c` is
//! [`PartError::Part`]: its rows count from the chunk's first row, `c·r`.

use std::marker::PhantomData;
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use em_core::rand::rngs::StdRng;
use em_core::sample::Candidates;
use em_core::{EStep, EmModel, Executor, FlatStats, PartError};
use faer::{Mat, MatRef};

use crate::io::{ChunkBuffers, ChunkedFile, DataError, ReadOptions};

/// The seeded sample an [`OutOfCore`] executor initialises on: about
/// `size` rows, drawn with `seed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleSpec {
    /// Rows of the sample (the whole file if it has no more).
    pub size: usize,
    /// The seed of the rows' keys.
    pub seed: u64,
}

/// The E-steps of a model of rows (its [`EmModel::Data`] a matrix of one
/// observation per row) on a data file read a chunk at a time (see the
/// module documentation).
pub struct OutOfCore<M> {
    file: ChunkedFile,
    buffers: Mutex<ChunkBuffers>,
    sample: Option<Mat<f64>>,
    read_error: Mutex<Option<DataError>>,
    model: PhantomData<fn() -> M>,
}

/// Why a pass stopped: the reader's error or the model's on a chunk.
enum Stop<E> {
    Read(DataError),
    Model { chunk: usize, source: E },
}

impl<E> From<DataError> for Stop<E> {
    fn from(e: DataError) -> Self {
        Self::Read(e)
    }
}

impl<M> OutOfCore<M>
where
    M: for<'a> EmModel<Data<'a> = MatRef<'a, f64>>,
    M::Stats: FlatStats,
{
    /// Opens `path` (`.npy` by its extension, else CSV read with
    /// `options`) for chunks of `chunk_rows` rows, reading it once in full
    /// to check it, count its rows and draw the `sample` (none: warm starts
    /// only).
    ///
    /// # Errors
    /// The readers' errors, naming the file and the row or line (see
    /// [`ChunkedFile::open`]).
    pub fn open(
        path: &Path,
        options: &ReadOptions,
        chunk_rows: NonZeroUsize,
        sample: Option<SampleSpec>,
    ) -> Result<Self, DataError> {
        let mut candidates: Option<Candidates> = None;
        let (file, buffers) = ChunkedFile::open(path, options, chunk_rows, |first_row, x| {
            let Some(spec) = sample else { return };
            let chunk = Candidates::of_part(
                x.nrows(),
                x.ncols(),
                |i, j| x[(i, j)],
                first_row as u64,
                spec.size,
                spec.seed,
            );
            candidates = Some(match candidates.take() {
                Some(before) => {
                    (before.merge(&chunk, spec.size)).expect("every chunk of a file has the file's width")
                }
                None => chunk,
            });
        })?;
        let sample = candidates.map(|c| {
            let width = c.width();
            let (rows, values) = c.into_rows();
            Mat::from_fn(rows, width, |i, j| values[i * width + j])
        });
        Ok(Self {
            file,
            buffers: Mutex::new(buffers),
            sample,
            read_error: Mutex::new(None),
            model: PhantomData,
        })
    }

    /// The file, its rows and columns.
    #[must_use]
    pub fn file(&self) -> &ChunkedFile {
        &self.file
    }

    /// The sample drawn when the file was opened, if one was asked for.
    #[must_use]
    pub fn sample(&self) -> Option<MatRef<'_, f64>> {
        self.sample.as_ref().map(Mat::as_ref)
    }

    /// The typed error of a pass that could not read the file (the
    /// E-step's [`PartError::Remote`] carries its message), once.
    pub fn take_read_error(&self) -> Option<DataError> {
        self.read_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// `eval` on every chunk in order, each result folded into the running
    /// total by `merge` (the first chunk's result is the start).
    fn fold<T>(
        &self,
        eval: impl Fn(MatRef<'_, f64>) -> Result<T, M::Error>,
        mut merge: impl FnMut(&mut T, T),
    ) -> Result<T, PartError<M::Error>> {
        let mut buffers = self.buffers.lock().unwrap_or_else(PoisonError::into_inner);
        let mut total: Option<T> = None;
        let mut reached = 0;
        let pass = self.file.pass(&mut buffers, |chunk, _, x| {
            reached = chunk;
            let value = eval(x).map_err(|source| Stop::Model { chunk, source })?;
            match &mut total {
                Some(total) => merge(total, value),
                None => total = Some(value),
            }
            Ok(())
        });
        match pass {
            Ok(()) => Ok(total.expect("a file of at least one row has a chunk")),
            Err(Stop::Model { chunk, source }) => Err(PartError::Part { part: chunk, source }),
            Err(Stop::Read(e)) => {
                let message = e.to_string();
                *self.read_error.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
                Err(PartError::Remote {
                    part: reached,
                    message,
                })
            }
        }
    }
}

impl<M> Executor<M> for OutOfCore<M>
where
    M: for<'a> EmModel<Data<'a> = MatRef<'a, f64>>,
    M::Stats: FlatStats,
{
    fn e_step(&self, model: &M) -> Result<EStep<M::Stats>, PartError<M::Error>> {
        self.fold(|x| model.e_step(x), |total, e| total.merge(&e))
    }

    fn log_likelihood(&self, model: &M) -> Result<f64, PartError<M::Error>> {
        self.fold(|x| model.log_likelihood(x), |total, ll| *total += ll)
    }

    fn init_from_data(&self, config: &M::InitConfig, rng: &mut StdRng) -> Option<Result<M, M::Error>> {
        self.sample
            .as_ref()
            .map(|x| M::init_from_data(x.as_ref(), config, rng))
    }

    /// `false`: the restarts share the chunk buffers.
    fn parallel_restarts(&self) -> bool {
        false
    }
}
