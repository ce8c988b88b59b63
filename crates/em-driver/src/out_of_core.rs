//! Out-of-core EM: the [`Executor`] of a fit whose data stay on disk and
//! are read a chunk of rows at a time at every E-step ([`OutOfCore`]).
//!
//! The rows of a chunk become the model's data by [`ChunkData`]: the rows
//! themselves for a mixture, or the chunk's whole sequences for an HMM
//! (the chunks are then groups of consecutive sequences, as many as fit in
//! `r` rows, [`ChunkPlan::sequences`], so that no chunk cuts a sequence and
//! every forward-backward pass runs on one chunk; a sequence longer than
//! `r` is a chunk of its own).
//!
//! The E-step is a sum over the rows (over the sequences for an HMM): for
//! a model with statistics `S(x)` per row, `E-step(x₁..xₙ) = Σ_c Σ_{i ∈
//! chunk c} S(xᵢ)` and the log-likelihood is `Σ_c Σ_{i ∈ chunk c} ln
//! p(xᵢ)`. So the E-step of each chunk `c` (rows `c·r .. (c + 1)·r` of the
//! file, or its group of sequences, read into buffers reused from chunk to
//! chunk, [`ChunkedFile`]: the next chunk of a `.npy` file is read while
//! this one's E-step runs) is merged into the running statistics in chunk
//! order ([`EStep::merge`]): exactly [`crate::Parts`] over the same chunks,
//! bit for bit, with the memory of two chunks (the `r × d` values of the
//! largest, and one E-step's tables) whatever the number of rows. A different `r` gives the in-memory fit up
//! to rounding (the sums associated differently).
//!
//! # Initialisation
//! The model's own initialisation ([`EmModel::init_from_data`], one per
//! restart) runs on a seeded sample of rows drawn across the chunks as the
//! file is opened ([`crate::em_core::sample`]: the rows of smallest key,
//! the same for any chunk size, and the whole file in order when the sample
//! is at least as large, which gives the in-memory start). A sequence
//! model's sample is of whole sequences
//! ([`em_core::sample::smallest_key_sequences`]: those of smallest key
//! until they hold the sample's rows; every sequence when they are fewer).
//! Or a warm start.
//!
//! # Errors
//! The file is read once in full when opened, so that a bad value (NaN in
//! the middle of the file, a short row of a CSV file) or a truncated file
//! is refused before the fit starts, naming the file and the row and column
//! (from 1); later passes of a `.npy` file whose length and modification
//! time have not changed do not check the values again (see
//! [`ChunkedFile`]). Should a later pass fail to read (the file changed:
//! other rows or columns, or a bad value in a file of a new time; or the
//! disk failed), the E-step fails with [`PartError::Remote`] carrying the
//! reader's message for the chunk, and the typed error is kept
//! ([`OutOfCore::take_read_error`]). A model error of chunk `c` is
//! [`PartError::Part`]: its rows (and sequences) count from the chunk's
//! first ([`OutOfCore::chunk_start`]).

use std::marker::PhantomData;
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use em_core::rand::rngs::StdRng;
use em_core::sample::{Candidates, sequence_starts, smallest_key_sequences};
use em_core::{EStep, EmModel, Executor, FlatStats, PartError};
use faer::{Mat, MatRef};
use hmm::{Emission, Hmm, Sequences};
use mixture::GaussianMixture;
use mixture::variational::VariationalMixture;

use crate::io::{ChunkBuffers, ChunkPlan, ChunkedFile, DataError, ReadOptions};

/// A model whose data a chunk of a file's rows can be made into.
pub trait ChunkData: EmModel {
    /// `f` on the model's data made of the rows `x`, cut into sequences of
    /// `lengths` rows (empty for a file of independent rows).
    ///
    /// # Errors
    /// The model's error on rows that are not its data; `f`'s error.
    fn with_rows<T>(
        x: MatRef<'_, f64>,
        lengths: &[usize],
        f: impl for<'d> FnOnce(Self::Data<'d>) -> Result<T, Self::Error>,
    ) -> Result<T, Self::Error>;
}

impl ChunkData for GaussianMixture {
    fn with_rows<T>(
        x: MatRef<'_, f64>,
        _: &[usize],
        f: impl for<'d> FnOnce(MatRef<'d, f64>) -> Result<T, Self::Error>,
    ) -> Result<T, Self::Error> {
        f(x)
    }
}

impl ChunkData for VariationalMixture {
    fn with_rows<T>(
        x: MatRef<'_, f64>,
        _: &[usize],
        f: impl for<'d> FnOnce(MatRef<'d, f64>) -> Result<T, Self::Error>,
    ) -> Result<T, Self::Error> {
        f(x)
    }
}

impl<E: Emission> ChunkData for Hmm<E> {
    /// The chunk's whole sequences ([`Sequences::new`], which checks them).
    fn with_rows<T>(
        x: MatRef<'_, f64>,
        lengths: &[usize],
        f: impl for<'d> FnOnce(&'d Sequences<'d>) -> Result<T, Self::Error>,
    ) -> Result<T, Self::Error> {
        f(&Sequences::new(x, lengths)?)
    }
}

/// How the rows of a file are the data of a model: independent rows read
/// `r` at a time, or sequences of the lengths of a lengths file read in
/// groups of whole sequences of about `r` rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout<'a> {
    /// Independent rows, `r` per chunk.
    Rows(NonZeroUsize),
    /// Sequences of `lengths` rows (read from the file `path`), in chunks of
    /// about `target` rows ([`ChunkPlan::sequences`]).
    Sequences {
        /// The lengths file.
        path: &'a Path,
        /// The sequences' lengths, in file order.
        lengths: &'a [usize],
        /// Rows per chunk aimed at.
        target: NonZeroUsize,
    },
}

/// The seeded sample an [`OutOfCore`] executor initialises on: about
/// `size` rows, drawn with `seed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleSpec {
    /// Rows of the sample (the whole file if it has no more).
    pub size: usize,
    /// The seed of the rows' keys.
    pub seed: u64,
}

/// The E-steps of a model on a data file read a chunk at a time (see the
/// module documentation).
pub struct OutOfCore<M> {
    file: ChunkedFile,
    buffers: Mutex<ChunkBuffers>,
    /// The sequence lengths (empty: independent rows).
    lengths: Vec<usize>,
    /// The first sequence of every chunk, and the sequences' count last
    /// (empty: independent rows).
    sequence_starts: Vec<usize>,
    /// The sample's rows and sequence lengths (empty: independent rows).
    sample: Option<(Mat<f64>, Vec<usize>)>,
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
    M: ChunkData,
    M::Stats: FlatStats,
{
    /// Opens `path` (`.npy` by its extension, else CSV read with
    /// `options`) for the chunks of `layout`, reading it once in full to
    /// check it, count its rows and draw the `sample` (none: warm starts
    /// only).
    ///
    /// # Errors
    /// The readers' errors, naming the file and the row or line (see
    /// [`ChunkedFile::open`]); [`DataError::LengthsSum`] when the lengths
    /// do not add up to the file's rows.
    pub fn open(
        path: &Path,
        options: &ReadOptions,
        layout: Layout<'_>,
        sample: Option<SampleSpec>,
    ) -> Result<Self, DataError> {
        match layout {
            Layout::Rows(r) => Self::open_rows(path, options, r, sample),
            Layout::Sequences {
                path: lengths_path,
                lengths,
                target,
            } => Self::open_sequences(path, options, (lengths_path, lengths), target, sample),
        }
    }

    /// [`OutOfCore::open`] of independent rows, `r` per chunk: the sample
    /// is the rows of smallest key.
    fn open_rows(
        path: &Path,
        options: &ReadOptions,
        r: NonZeroUsize,
        sample: Option<SampleSpec>,
    ) -> Result<Self, DataError> {
        let mut candidates: Option<Candidates> = None;
        let (file, buffers) = ChunkedFile::open(path, options, ChunkPlan::Rows(r), |first_row, x| {
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
            (
                Mat::from_fn(rows, width, |i, j| values[i * width + j]),
                Vec::new(),
            )
        });
        Ok(Self {
            file,
            buffers: Mutex::new(buffers),
            lengths: Vec::new(),
            sequence_starts: Vec::new(),
            sample,
            read_error: Mutex::new(None),
            model: PhantomData,
        })
    }

    /// [`OutOfCore::open`] of the sequences of `lengths` (read from the
    /// file `lengths_path`) in chunks of about `target` rows: the sample is
    /// the whole sequences of smallest key, their rows copied from the
    /// chunks that hold them on the first pass.
    fn open_sequences(
        path: &Path,
        options: &ReadOptions,
        (lengths_path, lengths): (&Path, &[usize]),
        target: NonZeroUsize,
        sample: Option<SampleSpec>,
    ) -> Result<Self, DataError> {
        let plan = ChunkPlan::sequences(lengths_path, lengths, target);
        let starts = sequence_starts(lengths);
        let taken = sample.map(|spec| smallest_key_sequences(lengths, spec.size, spec.seed));
        // The sample's values row after row, and the next sequence to take.
        let (mut values, mut next) = (Vec::new(), 0);
        let (file, buffers) = ChunkedFile::open(path, options, plan, |first_row, x| {
            let Some(taken) = &taken else { return };
            while let Some(&s) = taken.get(next)
                && starts[s] < first_row + x.nrows()
            {
                let rows = x.subrows(starts[s] - first_row, lengths[s]);
                values.extend((0..rows.nrows()).flat_map(|i| (0..rows.ncols()).map(move |j| rows[(i, j)])));
                next += 1;
            }
        })?;
        let sample = taken.map(|taken| {
            let width = file.cols();
            let lengths: Vec<usize> = taken.iter().map(|&s| lengths[s]).collect();
            let rows = values.len() / width;
            (Mat::from_fn(rows, width, |i, j| values[i * width + j]), lengths)
        });
        let mut sequence_starts: Vec<usize> = (0..file.n_chunks())
            .map(|c| starts.partition_point(|&start| start < file.first_row(c)))
            .collect();
        sequence_starts.push(lengths.len());
        Ok(Self {
            file,
            buffers: Mutex::new(buffers),
            lengths: lengths.to_vec(),
            sequence_starts,
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

    /// The sample drawn when the file was opened, if one was asked for:
    /// its rows, and its sequences' lengths (empty for independent rows).
    #[must_use]
    pub fn sample(&self) -> Option<(MatRef<'_, f64>, &[usize])> {
        self.sample
            .as_ref()
            .map(|(x, lengths)| (x.as_ref(), lengths.as_slice()))
    }

    /// Where chunk `chunk` starts: its first row and its first sequence
    /// (0 for independent rows), from 0.
    #[must_use]
    pub fn chunk_start(&self, chunk: usize) -> (usize, usize) {
        let sequence = self.sequence_starts.get(chunk).copied().unwrap_or(0);
        (self.file.first_row(chunk), sequence)
    }

    /// The lengths of chunk `chunk`'s sequences (empty for independent rows).
    #[must_use]
    pub fn chunk_lengths(&self, chunk: usize) -> &[usize] {
        match self.sequence_starts.get(chunk..=chunk + 1) {
            Some(&[first, end]) => &self.lengths[first..end],
            _ => &[],
        }
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
        eval: impl Fn(M::Data<'_>) -> Result<T, M::Error>,
        mut merge: impl FnMut(&mut T, T),
    ) -> Result<T, PartError<M::Error>> {
        let mut buffers = self.buffers.lock().unwrap_or_else(PoisonError::into_inner);
        let mut total: Option<T> = None;
        let mut reached = 0;
        let pass = self.file.pass(&mut buffers, |chunk, _, x| {
            reached = chunk;
            let value = M::with_rows(x, self.chunk_lengths(chunk), |data| eval(data))
                .map_err(|source| Stop::Model { chunk, source })?;
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
    M: ChunkData,
    M::Stats: FlatStats,
{
    fn e_step(&self, model: &M) -> Result<EStep<M::Stats>, PartError<M::Error>> {
        self.fold(|x| model.e_step(x), |total, e| total.merge(&e))
    }

    fn log_likelihood(&self, model: &M) -> Result<f64, PartError<M::Error>> {
        self.fold(|x| model.log_likelihood(x), |total, ll| *total += ll)
    }

    fn init_from_data(&self, config: &M::InitConfig, rng: &mut StdRng) -> Option<Result<M, M::Error>> {
        self.sample.as_ref().map(|(x, lengths)| {
            M::with_rows(x.as_ref(), lengths, |data| M::init_from_data(data, config, rng))
        })
    }

    /// `false`: the restarts share the chunk buffers.
    fn parallel_restarts(&self) -> bool {
        false
    }
}
