//! Many observation sequences of different lengths, stacked row-wise.

use crate::error::HmmError;
use faer::MatRef;

/// Target number of rows of one E-step work unit (see [`Sequences::chunks`]).
pub const CHUNK_ROWS: usize = 1024;

/// A contiguous run of whole sequences processed as one unit of parallel work.
///
/// The E-step computes one set of statistics per chunk and merges them in
/// chunk order, so its result does not depend on the number of threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    /// First sequence of the chunk.
    pub first_sequence: usize,
    /// One past the last sequence of the chunk.
    pub end_sequence: usize,
    /// First row (of the stacked data) of the chunk.
    pub first_row: usize,
    /// Number of rows of the chunk.
    pub n_rows: usize,
}

/// Observation sequences: the rows of all sequences stacked into one n x d
/// matrix (one row per time step) plus the length of each sequence.
///
/// Validated at construction: at least one sequence, every length positive,
/// lengths summing to n, at least one column, every value finite. Categorical
/// observations are stored the same way: one column holding the symbol
/// indices as `f64` (see [`crate::CategoricalEmission`]).
///
/// # Examples
/// ```
/// let x = faer::Mat::<f64>::from_fn(5, 1, |i, _| i as f64);
/// let data = hmm::Sequences::new(x.as_ref(), &[2, 3]).unwrap();
/// assert_eq!(data.n_sequences(), 2);
/// assert_eq!(data.sequence(1).nrows(), 3);
/// ```
#[derive(Debug, Clone)]
pub struct Sequences<'a> {
    x: MatRef<'a, f64>,
    lengths: Vec<usize>,
    starts: Vec<usize>,
    chunks: Vec<Chunk>,
}

impl<'a> Sequences<'a> {
    /// Wraps stacked observations `x` (n x d) cut into sequences of the given lengths.
    ///
    /// # Errors
    /// [`HmmError::NoSequences`], [`HmmError::EmptySequence`],
    /// [`HmmError::LengthMismatch`], [`HmmError::NoFeatures`],
    /// [`HmmError::NonFinite`] (naming sequence, time, row and column).
    pub fn new(x: MatRef<'a, f64>, lengths: &[usize]) -> Result<Self, HmmError> {
        if lengths.is_empty() {
            return Err(HmmError::NoSequences);
        }
        if let Some(sequence) = lengths.iter().position(|&l| l == 0) {
            return Err(HmmError::EmptySequence { sequence });
        }
        let total = lengths
            .iter()
            .try_fold(0usize, |acc, &l| acc.checked_add(l))
            .unwrap_or(usize::MAX);
        if total != x.nrows() {
            return Err(HmmError::LengthMismatch {
                total,
                rows: x.nrows(),
            });
        }
        if x.ncols() == 0 {
            return Err(HmmError::NoFeatures);
        }
        let mut starts = Vec::with_capacity(lengths.len());
        let mut acc = 0;
        for &l in lengths {
            starts.push(acc);
            acc += l;
        }
        if let Some((row, col)) = linalg_kernels::finite::first_non_finite(x) {
            // Locate the sequence by binary search over the starts.
            let sequence = starts.partition_point(|&s| s <= row) - 1;
            return Err(HmmError::NonFinite {
                sequence,
                time: row - starts[sequence],
                row,
                col,
                value: x[(row, col)],
            });
        }
        let chunks = plan_chunks(lengths, &starts);
        Ok(Self {
            x,
            lengths: lengths.to_vec(),
            starts,
            chunks,
        })
    }

    /// One sequence holding all rows of `x`.
    ///
    /// # Errors
    /// As [`Sequences::new`] (an empty `x` is [`HmmError::EmptySequence`]).
    pub fn single(x: MatRef<'a, f64>) -> Result<Self, HmmError> {
        Self::new(x, &[x.nrows()])
    }

    /// The stacked observations (n x d).
    #[must_use]
    pub fn data(&self) -> MatRef<'a, f64> {
        self.x
    }

    /// Number of sequences.
    #[must_use]
    pub fn n_sequences(&self) -> usize {
        self.lengths.len()
    }

    /// Total number of observations n (rows).
    #[must_use]
    pub fn n_samples(&self) -> usize {
        self.x.nrows()
    }

    /// Number of features d (columns).
    #[must_use]
    pub fn n_features(&self) -> usize {
        self.x.ncols()
    }

    /// The sequence lengths.
    #[must_use]
    pub fn lengths(&self) -> &[usize] {
        &self.lengths
    }

    /// The first row of every sequence in the stacked data.
    #[must_use]
    pub fn starts(&self) -> &[usize] {
        &self.starts
    }

    /// The rows of sequence `i` (length_i x d).
    ///
    /// # Panics
    /// If `i >= n_sequences()`.
    #[must_use]
    pub fn sequence(&self, i: usize) -> MatRef<'a, f64> {
        self.x.subrows(self.starts[i], self.lengths[i])
    }

    /// The fixed partition of the sequences into work units of about
    /// [`CHUNK_ROWS`] rows (whole sequences only; a chunk holds one sequence
    /// at least). It depends only on the lengths, never on the thread count.
    ///
    /// A chunk that reaches [`CHUNK_ROWS`] rows closes once it holds an even
    /// number of sequences (or a single one, which then has that many rows
    /// alone): the recursions run two sequences of a chunk in lockstep
    /// (`forward_pair`, `viterbi_pair`), and an odd one out runs alone at
    /// nearly the cost of a pair. A chunk may so take one sequence more
    /// than its row count asks for, however long that sequence is.
    #[must_use]
    pub fn chunks(&self) -> &[Chunk] {
        &self.chunks
    }

    /// `(sequence, time, row)` of every row, in row order: the position an
    /// error about an observation names.
    pub(crate) fn positions(&self) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
        self.starts
            .iter()
            .zip(&self.lengths)
            .enumerate()
            .flat_map(|(sequence, (&start, &len))| (0..len).map(move |time| (sequence, time, start + time)))
    }
}

fn plan_chunks(lengths: &[usize], starts: &[usize]) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut first = 0;
    let mut rows = 0;
    for (i, &l) in lengths.iter().enumerate() {
        rows += l;
        let count = i + 1 - first;
        if (rows >= CHUNK_ROWS && (count % 2 == 0 || count == 1)) || i + 1 == lengths.len() {
            chunks.push(Chunk {
                first_sequence: first,
                end_sequence: i + 1,
                first_row: starts[first],
                n_rows: rows,
            });
            first = i + 1;
            rows = 0;
        }
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Mat;

    #[test]
    fn validates_lengths() {
        let x = Mat::<f64>::zeros(5, 2);
        assert!(matches!(
            Sequences::new(x.as_ref(), &[]),
            Err(HmmError::NoSequences)
        ));
        assert!(matches!(
            Sequences::new(x.as_ref(), &[2, 0, 3]),
            Err(HmmError::EmptySequence { sequence: 1 })
        ));
        assert!(matches!(
            Sequences::new(x.as_ref(), &[2, 2]),
            Err(HmmError::LengthMismatch { total: 4, rows: 5 })
        ));
        assert!(matches!(
            Sequences::new(x.as_ref(), &[usize::MAX, 2]),
            Err(HmmError::LengthMismatch { .. })
        ));
        let empty = Mat::<f64>::zeros(5, 0);
        assert!(matches!(
            Sequences::new(empty.as_ref(), &[5]),
            Err(HmmError::NoFeatures)
        ));
        let none = Mat::<f64>::zeros(0, 2);
        assert!(matches!(
            Sequences::single(none.as_ref()),
            Err(HmmError::EmptySequence { sequence: 0 })
        ));
    }

    #[test]
    fn names_the_sequence_and_row_of_a_nan() {
        let mut x = Mat::<f64>::zeros(6, 2);
        x[(4, 1)] = f64::NAN;
        let err = Sequences::new(x.as_ref(), &[1, 2, 3]).unwrap_err();
        assert!(matches!(
            err,
            HmmError::NonFinite {
                sequence: 2,
                time: 1,
                row: 4,
                col: 1,
                ..
            }
        ));
        x[(4, 1)] = 0.0;
        x[(0, 0)] = f64::INFINITY;
        assert!(matches!(
            Sequences::new(x.as_ref(), &[1, 2, 3]),
            Err(HmmError::NonFinite {
                sequence: 0,
                time: 0,
                ..
            })
        ));
    }

    #[test]
    fn chunks_cover_all_sequences_in_order() {
        let lengths: Vec<usize> = (0..300).map(|i| 1 + (i * 37) % 50).collect();
        let n: usize = lengths.iter().sum();
        let x = Mat::<f64>::zeros(n, 1);
        let data = Sequences::new(x.as_ref(), &lengths).unwrap();
        let mut next_seq = 0;
        let mut next_row = 0;
        for c in data.chunks() {
            assert_eq!(c.first_sequence, next_seq);
            assert_eq!(c.first_row, next_row);
            assert!(c.end_sequence > c.first_sequence);
            let rows: usize = lengths[c.first_sequence..c.end_sequence].iter().sum();
            assert_eq!(rows, c.n_rows);
            next_seq = c.end_sequence;
            next_row += rows;
        }
        assert_eq!(next_seq, 300);
        assert_eq!(next_row, n);
        // Every chunk but the last pairs its sequences, or is one sequence
        // of at least CHUNK_ROWS rows.
        let (last, rest) = data.chunks().split_last().unwrap();
        for c in rest {
            let count = c.end_sequence - c.first_sequence;
            assert!(c.n_rows >= CHUNK_ROWS, "{c:?}");
            assert!(
                count % 2 == 0 || (count == 1 && lengths[c.first_sequence] >= CHUNK_ROWS),
                "{c:?}"
            );
        }
        assert!(last.n_rows > 0);
        assert!(data.chunks().len() > 1);
        assert_eq!(data.sequence(2).nrows(), lengths[2]);
    }
}
