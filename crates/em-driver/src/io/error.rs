//! The one error type of the data readers and writers.

use std::path::PathBuf;

/// What was wrong with one CSV cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CellProblem {
    /// The cell is not a number.
    NotANumber,
    /// The cell is empty (or `nan` / `NA`) and missing values are not allowed here.
    Missing,
    /// The cell is `inf`, `-inf` or a number too large for an `f64`.
    Infinite,
    /// The value's magnitude is beyond [`crate::io::MAX_ABS_VALUE`]: its
    /// square would overflow in a covariance.
    TooLarge,
}

impl std::fmt::Display for CellProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::NotANumber => "is not a number",
            Self::Missing => "is missing (empty or NaN) and missing values are not allowed",
            Self::Infinite => "is infinite",
            Self::TooLarge => {
                "is too large: values beyond 1e150 in magnitude overflow when squared in a \
                 covariance (rescale the data)"
            }
        })
    }
}

/// Which field of a `.npy` header was malformed or missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NpyField {
    /// The magic string `\x93NUMPY` at the start of the file.
    Magic,
    /// The format version bytes (1.0, 2.0 and 3.0 are read).
    Version,
    /// The header length field, or a header that is not a Python dict literal.
    Header,
    /// The `descr` entry (the dtype).
    Descr,
    /// The `fortran_order` entry.
    FortranOrder,
    /// The `shape` entry.
    Shape,
}

/// What is wrong with the field, in a message.
impl std::fmt::Display for NpyField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Magic => "it does not start with the magic string \\x93NUMPY",
            Self::Version => "unsupported format version (1.0, 2.0 and 3.0 are read)",
            Self::Header => "the header length or the header's dict literal is malformed",
            Self::Descr => "bad or missing 'descr' in the header",
            Self::FortranOrder => "bad or missing 'fortran_order' in the header",
            Self::Shape => "bad or missing 'shape' in the header",
        })
    }
}

/// What is wrong with the column selection of [`crate::io::ReadOptions::columns`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ColumnProblem {
    /// The selection is empty.
    NoneSelected,
    /// A column is selected by name but the file has no header line (or is
    /// a `.npy` file).
    NoHeader {
        /// The name.
        name: CellText,
    },
    /// No column of the header has the name.
    UnknownName {
        /// The name.
        name: CellText,
        /// The header's line, from 1.
        line: usize,
    },
    /// Two columns of the header have the name.
    AmbiguousName {
        /// The name.
        name: CellText,
        /// The first and second columns with the name, from 1.
        columns: (usize, usize),
    },
    /// A column number beyond the file's columns.
    OutOfRange {
        /// The column selected, from 1.
        column: usize,
        /// The file's number of columns.
        available: usize,
        /// The first data line, from 1 (None for `.npy`).
        line: Option<usize>,
    },
    /// Columns of a `.npy` file read in chunks ([`crate::io::ChunkedFile`]),
    /// which reads every column of its rows.
    NpyInChunks,
}

impl std::fmt::Display for ColumnProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoneSelected => f.write_str("no column is selected"),
            Self::NoHeader { name } => {
                write!(
                    f,
                    "column '{name}' is selected by name but the file has no header line"
                )
            }
            Self::UnknownName { name, line } => {
                write!(f, "line {line}: no column of the header is named '{name}'")
            }
            Self::AmbiguousName { name, columns } => write!(
                f,
                "columns {} and {} of the header are both named '{name}'",
                columns.0, columns.1
            ),
            Self::OutOfRange {
                column,
                available,
                line: Some(line),
            } => write!(
                f,
                "column {column} is selected but line {line} has {available} columns"
            ),
            Self::OutOfRange {
                column,
                available,
                line: None,
            } => write!(
                f,
                "column {column} is selected but the array has {available} columns"
            ),
            Self::NpyInChunks => f.write_str(
                "columns of a .npy file read in chunks cannot be selected (save the columns wanted with numpy)",
            ),
        }
    }
}

/// What was wrong with a sequence-lengths file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LengthProblem {
    /// Not a non-negative integer.
    NotAnInteger,
    /// A sequence of length zero.
    Zero,
}

/// An error of the data readers and writers. Every variant names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The file could not be opened, read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// The file holds no data rows.
    #[error("{}: no data rows", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// A lengths file holds no sequence lengths.
    #[error("{}: empty lengths file (no sequence lengths)", path.display())]
    EmptyLengths {
        /// The file.
        path: PathBuf,
    },
    /// The column selection does not fit the file.
    #[error("{}: {problem}", path.display())]
    Column {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        problem: ColumnProblem,
    },
    /// A CSV cell could not be read as a finite number.
    #[error("{}: line {line}, column {col}: cell '{cell}' {problem}", path.display())]
    Cell {
        /// The file.
        path: PathBuf,
        /// Line number, from 1.
        line: usize,
        /// Column number, from 1.
        col: usize,
        /// The cell as written (cut to 32 characters).
        cell: CellText,
        /// What was wrong.
        problem: CellProblem,
    },
    /// A CSV line has a different number of cells than the first data line.
    #[error("{}: line {line} has {found} columns, expected {expected} (as on line {first_line})", path.display())]
    Ragged {
        /// The file.
        path: PathBuf,
        /// Line number, from 1.
        line: usize,
        /// Number of cells on this line.
        found: usize,
        /// Number of cells on the first data line.
        expected: usize,
        /// The first data line.
        first_line: usize,
    },
    /// A CSV line is not valid UTF-8.
    #[error("{}: line {line} is not valid UTF-8 text", path.display())]
    NotText {
        /// The file.
        path: PathBuf,
        /// Line number, from 1.
        line: usize,
    },
    /// A `.npy` header field is malformed or missing.
    #[error("{}: not a valid .npy file: {field}", path.display())]
    NpyHeader {
        /// The file.
        path: PathBuf,
        /// The field.
        field: NpyField,
    },
    /// The `.npy` dtype is not one of the supported ones.
    #[error(
        "{}: unsupported .npy dtype '{descr}' (supported: float64, float32, int64, int32, any byte order)",
        path.display()
    )]
    NpyDtype {
        /// The file.
        path: PathBuf,
        /// The dtype as written (cut to 32 characters).
        descr: CellText,
    },
    /// The `.npy` array has more than two dimensions.
    #[error("{}: .npy array has {ndim} dimensions, expected 1 or 2", path.display())]
    NpyDims {
        /// The file.
        path: PathBuf,
        /// Number of dimensions in `shape`.
        ndim: usize,
    },
    /// A `.npy` array of matrices ([`crate::io::read_npy_matrices`]) does
    /// not have three dimensions.
    #[error("{}: .npy array has {ndim} dimensions, expected 3 (matrices, rows, columns)", path.display())]
    NpyNotMatrices {
        /// The file.
        path: PathBuf,
        /// Number of dimensions in `shape`.
        ndim: usize,
    },
    /// A value of a `.npy` array of matrices is not finite or too large.
    #[error(
        "{}: matrix {matrix} of {matrices} (row {row}, column {col}): value {value} {problem}",
        path.display()
    )]
    NpyMatrixValue {
        /// The file.
        path: PathBuf,
        /// The matrix, from 1.
        matrix: usize,
        /// The number of matrices in the file.
        matrices: usize,
        /// Its row, from 1.
        row: usize,
        /// Its column, from 1.
        col: usize,
        /// The value.
        value: f64,
        /// What was wrong.
        problem: CellProblem,
    },
    /// The `.npy` shape does not match the size of the file.
    #[error(
        "{}: .npy 'shape' declares {declared} data bytes but the file holds {available}",
        path.display()
    )]
    NpySize {
        /// The file.
        path: PathBuf,
        /// Bytes implied by the shape and dtype (saturated on overflow).
        declared: u64,
        /// Bytes after the header.
        available: u64,
    },
    /// A range of rows reaches past the rows of the file.
    #[error("{}: rows {} to {} asked for, but the file has {rows} rows", path.display(), start + 1, end)]
    RowRange {
        /// The file.
        path: PathBuf,
        /// First row asked for, from 0.
        start: usize,
        /// End of the range asked for (excluded), from 0.
        end: usize,
        /// Rows in the file.
        rows: usize,
    },
    /// A file read in chunks ([`crate::io::ChunkedFile`]) has more rows
    /// than when it was opened: it changed during the fit (fewer rows are
    /// [`DataError::RowRange`]).
    #[error("{}: the file has more rows than the {expected} it had when it was opened (it changed during the fit)", path.display())]
    MoreRows {
        /// The file.
        path: PathBuf,
        /// Rows of the file when it was opened.
        expected: usize,
    },
    /// A `.npy` value could not be used (non-finite data, non-integral length).
    #[error("{}: element {element} (row {row}, column {col}): value {value} {problem}", path.display())]
    NpyValue {
        /// The file.
        path: PathBuf,
        /// The element's number in file order, from 1.
        element: usize,
        /// Its row, from 1.
        row: usize,
        /// Its column, from 1.
        col: usize,
        /// The value.
        value: f64,
        /// What was wrong.
        problem: CellProblem,
    },
    /// A sequence length is not a positive integer.
    #[error("{}: {} {entry}: {}", path.display(), entry_name(path), match problem {
        LengthProblem::NotAnInteger => "not a positive integer",
        LengthProblem::Zero => "a sequence of length 0",
    })]
    Length {
        /// The file.
        path: PathBuf,
        /// Line number (text) or element number from 1 (`.npy`).
        entry: usize,
        /// What was wrong.
        problem: LengthProblem,
    },
    /// The sequence lengths do not add up to the number of observations.
    #[error(
        "{}: the sequence lengths add up to {total} but the data has {rows} rows",
        path.display()
    )]
    LengthsSum {
        /// The lengths file.
        path: PathBuf,
        /// Sum of the lengths (saturated).
        total: usize,
        /// Number of data rows.
        rows: usize,
    },
    /// A value of the data cannot be a symbol of a categorical model.
    #[error("{}: row {row}: value {value} is not a non-negative integer symbol", path.display())]
    NotSymbol {
        /// The file.
        path: PathBuf,
        /// Row from 1.
        row: usize,
        /// The value.
        value: f64,
    },
    /// The data has a different number of columns than expected (by the model).
    #[error("{}: the data has {found} columns, expected {expected}", path.display())]
    Columns {
        /// The file.
        path: PathBuf,
        /// Columns in the file.
        found: usize,
        /// Columns expected.
        expected: usize,
    },
}

/// What an entry of a lengths file is: an element of a `.npy` array, a line
/// of text.
fn entry_name(path: &std::path::Path) -> &'static str {
    if crate::io::is_npy(path) {
        "element"
    } else {
        "line"
    }
}

/// A short piece of text copied from a bad file into an error (at most 32 characters,
/// so a hostile file cannot make an error message huge).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellText(Box<str>);

impl CellText {
    /// Keeps the first 32 characters of `text`, marking a cut with `...`.
    #[must_use]
    pub fn new(text: &str) -> Self {
        const MAX: usize = 32;
        let mut chars = text.chars();
        let head: String = chars.by_ref().take(MAX).collect();
        if chars.next().is_some() {
            Self(format!("{head}...").into())
        } else {
            Self(head.into())
        }
    }

    /// The text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for CellText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.escape_debug().to_string())
    }
}
