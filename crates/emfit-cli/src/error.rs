//! The program's error: one readable line each.

use std::path::{Path, PathBuf};

use em_driver::io::DataError;
use em_driver::{FitError, SettingsError};

/// Why a command failed. Large library errors are boxed so results stay small.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A data file could not be read or an output file written.
    #[error(transparent)]
    Data(Box<DataError>),
    /// A model file could not be written, or read where its own error names it.
    #[error(transparent)]
    File(Box<em_driver::Error>),
    /// A model file could not be read or validated (the library's error does
    /// not name the file).
    #[error("{}: {source}", path.display())]
    ModelFile {
        /// The model file.
        path: PathBuf,
        /// What was wrong.
        source: Box<em_driver::Error>,
    },
    /// The fit failed (every restart), with the model's error inside.
    #[error(transparent)]
    Fit(Box<dyn std::error::Error + Send + Sync>),
    /// A setting of the fit is out of range.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// A model operation failed.
    #[error(transparent)]
    Model(Box<em_driver::ModelError>),
    /// A model error said in the program's words (1-based positions, the
    /// data file named; see the `messages` module).
    #[error("{0}")]
    Reworded(String),
    /// Options that do not fit together or do not fit the model/data.
    #[error("{0}")]
    Usage(String),
    /// A fit under mpirun failed, and rank 0 has said why: every rank
    /// exits with status 1, silently.
    #[cfg(feature = "mpi")]
    #[error("the distributed fit failed (rank 0 said why)")]
    Reported,
    /// Writing to standard output failed.
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
}

impl From<DataError> for CliError {
    fn from(e: DataError) -> Self {
        Self::Data(Box::new(e))
    }
}

impl From<em_driver::Error> for CliError {
    fn from(e: em_driver::Error) -> Self {
        Self::File(Box::new(e))
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<FitError<E>> for CliError {
    fn from(e: FitError<E>) -> Self {
        Self::Fit(Box::new(e))
    }
}

/// A model crate's error as a program error, in the crate's words (which
/// count from 1; [`crate::messages::on_data`] adds the data file's name).
pub fn model<E: Into<em_driver::ModelError>>(e: E) -> CliError {
    CliError::Model(Box::new(e.into()))
}

/// Names the model file in an error of loading it, unless the error already does.
pub fn in_model_file(path: &Path, error: em_driver::Error) -> CliError {
    match error {
        e @ (em_driver::Error::Io { .. }
        | em_driver::Error::FileTooLarge { .. }
        | em_driver::Error::InFile { .. }) => CliError::from(e),
        source => CliError::ModelFile {
            path: path.to_path_buf(),
            source: Box::new(source),
        },
    }
}

/// Prints `error` as the program's one line on standard error (`emfit:
/// ...`), in one write, so that the line stays whole when mpirun forwards
/// it.
pub fn print(error: &CliError) {
    use std::io::Write;
    let _ = std::io::stderr().write_all(format!("emfit: {error}\n").as_bytes());
}

/// A usage error with a formatted message.
macro_rules! usage {
    ($($arg:tt)*) => { $crate::error::CliError::Usage(format!($($arg)*)) };
}
pub(crate) use usage;
