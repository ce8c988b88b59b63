//! `--transition-matrices`, `--transition-covariances`,
//! `--observation-matrices`, `--observation-covariances`: the time-varying
//! matrices `A_k`, `Q_k`, `H_k`, `R_k` of an lgssm, read from 3-D `.npy`
//! files and split by sequence as the observations are.
//!
//! Layout (T rows of `--data` in S sequences of T_s rows):
//! - `H_k`, `R_k`: one matrix per row of the data (T in all), row k's for
//!   observation k;
//! - `A_k`, `Q_k`: pykalman's convention, the T_s − 1 transitions of each
//!   sequence in turn (T − S in all; matrix i of a sequence maps `x_i` to
//!   `x_{i+1}`), or one matrix per row of the data (T in all), the last of
//!   each sequence unused (as pykalman ignores the last of T matrices).
//!
//! The files are checked when read (their count against the data, finite
//! values); the shapes and the covariances' positive definiteness by the
//! statespace crate before anything runs, its error reworded here to name
//! the file and the matrix in it ([`TimeVaryingFiles::reword`]).

use std::path::PathBuf;

use em_driver::faer::MatRef;
use em_driver::io::{self, DataError, NpyMatrices};
use em_driver::statespace::{Param, StateSpaceError, TimeVarying};

use crate::args::TimeVaryingArgs;
use crate::error::{CliError, usage};
use crate::limits::{check_memory, f64_bytes};

/// The blocks in the order of [`TimeVaryingArgs::files`].
const BLOCKS: [Param; 4] = [Param::A, Param::Q, Param::H, Param::R];

/// Whether `block` acts on the transitions (`A`, `Q`: step k's matrix maps
/// `x_{k-1}` to `x_k`, k ≥ 1), else on the observations (`H`, `R`).
fn transition(block: Param) -> bool {
    matches!(block, Param::A | Param::Q)
}

/// How a file's matrices are laid out over the sequences.
#[derive(Debug, Clone, Copy)]
struct Layout {
    /// A transition block ([`transition`]).
    transition: bool,
    /// One matrix per row of the data (else a transition block in
    /// pykalman's T_s − 1 per sequence).
    per_row: bool,
}

impl Layout {
    /// The layout of a file of `count` matrices of `block` over `t` rows of
    /// data (`count` is T or T − S).
    fn new(block: Param, count: usize, t: usize) -> Self {
        Self {
            transition: transition(block),
            per_row: count == t,
        }
    }

    /// The index in the file of the first matrix of sequence `s` (its
    /// first row of data `first_row`).
    fn first(self, s: usize, first_row: usize) -> usize {
        if self.per_row { first_row } else { first_row - s }
    }

    /// The matrices a sequence of `t` steps uses (T_s − 1 transitions, T_s
    /// observations).
    fn used(self, t: usize) -> usize {
        if self.transition { t - 1 } else { t }
    }

    /// The index in the file of the matrix of step `k` (from 0) of sequence
    /// `s`.
    fn index(self, s: usize, k: usize, lengths: &[usize]) -> usize {
        let first_row: usize = lengths[..s].iter().sum();
        self.first(s, first_row) + k - usize::from(self.transition)
    }

    /// Where matrix `index` (from 0) acts: `(sequence, step)` from 0 (`None`
    /// for the unused last matrix of a sequence given per row).
    fn place(self, index: usize, lengths: &[usize]) -> Option<(usize, usize)> {
        let mut first_row = 0;
        for (s, &t) in lengths.iter().enumerate() {
            let first = self.first(s, first_row);
            let held = if self.per_row { t } else { t - 1 };
            if index < first + held {
                let i = index - first;
                return (i < self.used(t)).then_some((s, i + usize::from(self.transition)));
            }
            first_row += t;
        }
        None
    }
}

/// One file of time-varying matrices.
struct StepFile {
    /// Its flag.
    flag: &'static str,
    /// The file.
    path: PathBuf,
    /// The block (`A`, `Q`, `H` or `R`).
    block: Param,
    /// The matrices.
    matrices: NpyMatrices,
    /// Their layout.
    layout: Layout,
}

/// The time-varying matrix files of a command (none, some or all four).
#[derive(Default)]
pub struct TimeVaryingFiles {
    files: Vec<StepFile>,
}

impl TimeVaryingFiles {
    /// Reads the files given in `args` and checks their number of matrices
    /// against the `lengths` (T in all) of the sequences of `steps` (the
    /// data, or the draws of `emfit sample`, as messages name them).
    pub fn read(args: &TimeVaryingArgs, lengths: &[usize], steps: &str) -> Result<Self, CliError> {
        let t: usize = lengths.iter().sum();
        let transitions = t - lengths.len();
        let mut files = Vec::new();
        for ((flag, path), block) in args.files().into_iter().zip(BLOCKS) {
            let Some(path) = path else { continue };
            let counts: &[usize] = if transition(block) {
                &[transitions, t]
            } else {
                &[t]
            };
            let matrices = io::read_npy_matrices(path).map_err(|e| match e {
                DataError::NpyMatrixValue { matrix, matrices, .. } if counts.contains(&matrices) => {
                    let place = Layout::new(block, matrices, t).place(matrix - 1, lengths);
                    CliError::Reworded(format!("{flag} {e}{}", where_(place, lengths)))
                }
                other => CliError::from(other),
            })?;
            if !counts.contains(&matrices.len()) {
                let need = if transition(block) {
                    format!(
                        "{transitions} (T_s - 1 per sequence over {} sequence(s)) or {t} (one per row)",
                        lengths.len()
                    )
                } else {
                    format!("{t} (one per row)")
                };
                return Err(usage!(
                    "{flag} {} holds {} matrices, but {steps} needs {need}",
                    path.display(),
                    matrices.len()
                ));
            }
            // The recursions keep a checked copy of every matrix (with its
            // factor) and the padded parameters of every step.
            let (rows, cols) = matrices.shape();
            check_memory(
                &format!(
                    "{flag} {} ({} matrices of {rows} x {cols})",
                    path.display(),
                    matrices.len()
                ),
                f64_bytes(&[matrices.len(), rows, cols, 4]),
            )?;
            files.push(StepFile {
                flag,
                path: path.to_path_buf(),
                block,
                layout: Layout::new(block, matrices.len(), t),
                matrices,
            });
        }
        Ok(Self { files })
    }

    /// Views of every matrix, for [`TimeVaryingViews::sequence`].
    pub fn views(&self) -> TimeVaryingViews<'_> {
        TimeVaryingViews {
            files: self,
            views: self.files.iter().map(|f| f.matrices.matrices()).collect(),
        }
    }

    /// A statespace error about a time-varying matrix in the program's
    /// words: the flag, the file and the matrix in it (from 1), the
    /// sequence and step (from 1; `lengths` of the data); `None` for any
    /// other error.
    pub fn reword(&self, error: &StateSpaceError, lengths: &[usize]) -> Option<String> {
        let StateSpaceError::TimeVaryingMatrix {
            sequence,
            step,
            error,
        } = error
        else {
            return None;
        };
        let block = match **error {
            StateSpaceError::Shape { matrix, .. }
            | StateSpaceError::NonFiniteParameter { matrix, .. }
            | StateSpaceError::NotSymmetric { matrix, .. }
            | StateSpaceError::NotPositiveDefinite { matrix, .. } => matrix,
            _ => return None,
        };
        let file = self.files.iter().find(|f| block == f.block.into())?;
        let index = file.layout.index(*sequence, *step, lengths);
        Some(format!(
            "{} {}: matrix {} of {}{}: {error}",
            file.flag,
            file.path.display(),
            index + 1,
            file.matrices.len(),
            where_(Some((*sequence, *step)), lengths)
        ))
    }
}

/// An error of a recursion run on sequence `s` alone (which calls it
/// sequence 0) as an error of sequence `s` of the data.
pub fn in_sequence(error: StateSpaceError, s: usize) -> StateSpaceError {
    match error {
        StateSpaceError::TimeVaryingMatrix { step, error, .. } => StateSpaceError::TimeVaryingMatrix {
            sequence: s,
            step,
            error,
        },
        other => other,
    }
}

/// Where a matrix acts, for a message: `(sequence, step)` from 0, or `None`
/// for the unused last matrix of a sequence.
fn where_(place: Option<(usize, usize)>, lengths: &[usize]) -> String {
    match place {
        Some((s, k)) => {
            let row: usize = lengths[..s].iter().sum::<usize>() + k + 1;
            format!(" (step {} of sequence {}, row {row} of the data)", k + 1, s + 1)
        }
        None => " (the unused last matrix of a sequence)".to_string(),
    }
}

/// Views of the matrices of [`TimeVaryingFiles`].
pub struct TimeVaryingViews<'a> {
    files: &'a TimeVaryingFiles,
    views: Vec<Vec<MatRef<'a, f64>>>,
}

impl TimeVaryingViews<'_> {
    /// The time-varying matrices of sequence `s` (its first row of data
    /// `first_row`, `t` steps).
    pub fn sequence(&self, s: usize, first_row: usize, t: usize) -> TimeVarying<'_> {
        let mut matrices = TimeVarying::default();
        for (file, views) in self.files.files.iter().zip(&self.views) {
            let first = file.layout.first(s, first_row);
            let slice = Some(&views[first..first + file.layout.used(t)]);
            match file.block {
                Param::A => matrices.a = slice,
                Param::Q => matrices.q = slice,
                Param::H => matrices.h = slice,
                _ => matrices.r = slice,
            }
        }
        matrices
    }
}
