//! Reading the data and lengths files named on the command line, and the
//! checks of the data every command shares.

use std::path::{Path, PathBuf};

use em_driver::ModelKind;
use em_driver::faer::{Mat, MatRef};
use em_driver::io::{self, ColumnSelector, Header, ReadOptions};

use crate::args::{DataArgs, HeaderArg};
use crate::error::{CliError, usage};
use crate::time_varying::TimeVaryingFiles;

/// The data of a command: rows = observations, plus sequence lengths. Under
/// mpirun, one rank's part of the data file ([`Place`] says where it lies).
pub struct Loaded {
    /// The data file (named in errors).
    pub path: PathBuf,
    /// The observations.
    pub data: Mat<f64>,
    /// Sequence lengths adding up to the number of rows (one sequence if no file).
    pub lengths: Vec<usize>,
    /// Where these rows lie in the data file.
    pub place: Place,
    /// `--inputs`: one row per row of the data (lgssm).
    pub inputs: Option<Mat<f64>>,
    /// `--transition-matrices` and the other time-varying matrices (lgssm).
    pub time_varying: TimeVaryingFiles,
}

/// Where the rows of a [`Loaded`] lie in the data file: all of it, or one
/// rank's rows (whole sequences) of a distributed fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// The rows of the whole file (what a request is checked against: e.g.
    /// no more components than observations).
    pub rows_in_file: usize,
    /// The file's row of the first row here, from 0.
    pub first_row: usize,
    /// The file's sequence of the first sequence here, from 0.
    pub first_sequence: usize,
}

impl Place {
    /// The whole file, of `rows` rows.
    pub fn whole(rows: usize) -> Self {
        Self {
            rows_in_file: rows,
            first_row: 0,
            first_sequence: 0,
        }
    }
}

impl Loaded {
    /// The rows of the whole data file (more than [`Loaded::x`]'s on one rank
    /// of a distributed fit).
    pub fn rows_in_file(&self) -> usize {
        self.place.rows_in_file
    }

    /// The observations.
    pub fn x(&self) -> MatRef<'_, f64> {
        self.data.as_ref()
    }

    /// Checks that the data have the `expected` number of columns.
    pub fn check_columns(&self, expected: usize) -> Result<(), CliError> {
        Ok(io::check_columns(&self.path, self.x(), expected)?)
    }

    /// The data as symbols `0, 1, 2, ...`: an error names the first value
    /// that is not one.
    pub fn symbols(&self) -> Result<Vec<usize>, CliError> {
        Ok(io::to_symbols(&self.path, self.x())?)
    }
}

/// The `--header` of the data as the readers take it.
fn header(args: &DataArgs) -> Header {
    match args.header {
        HeaderArg::Auto => Header::Auto,
        HeaderArg::Yes => Header::Present,
        HeaderArg::No => Header::Absent,
    }
}

/// Reads a file of known inputs (`--inputs`, `--future-inputs`: finite
/// values, every column, the data's `--header`) and checks that it has
/// `rows` rows, one per step (`what` says whose, for the message).
pub fn read_inputs(
    flag: &str,
    path: &Path,
    args: &DataArgs,
    rows: usize,
    what: &str,
) -> Result<Mat<f64>, CliError> {
    let options = ReadOptions {
        header: header(args),
        allow_missing: false,
        columns: None,
    };
    let inputs = io::read_matrix(path, &options)?;
    if inputs.nrows() != rows {
        return Err(usage!(
            "{flag} {} has {} rows, but {what} needs {rows}: one row of inputs per step",
            path.display(),
            inputs.nrows()
        ));
    }
    Ok(inputs)
}

/// How `--data` is read: `--header`, `--missing`, `--columns`.
pub fn read_options(args: &DataArgs) -> Result<ReadOptions, CliError> {
    Ok(ReadOptions {
        header: header(args),
        allow_missing: args.missing,
        columns: args
            .columns
            .as_deref()
            .map(ColumnSelector::parse_list)
            .transpose()
            .map_err(|e| CliError::Usage(format!("--columns: {e}")))?,
    })
}

/// Reads `--data`, `--lengths`, `--inputs` and the time-varying matrices,
/// checking that the lengths add up, that the inputs have a row per
/// observation and that there are as many matrices as the sequences need.
pub fn load(args: &DataArgs) -> Result<Loaded, CliError> {
    let data = io::read_matrix(&args.data, &read_options(args)?)?;
    let lengths = match &args.lengths {
        Some(path) => {
            let lengths = io::read_lengths(path)?;
            io::check_lengths(path, &lengths, data.nrows())?;
            lengths
        }
        None => vec![data.nrows()],
    };
    let inputs = match &args.inputs {
        Some(path) => {
            let what = format!("--data {}", args.data.display());
            Some(read_inputs("--inputs", path, args, data.nrows(), &what)?)
        }
        None => None,
    };
    let steps = format!("--data {}", args.data.display());
    let time_varying = TimeVaryingFiles::read(&args.matrices, &lengths, &steps)?;
    Ok(Loaded {
        path: args.data.clone(),
        place: Place::whole(data.nrows()),
        data,
        lengths,
        inputs,
        time_varying,
    })
}

/// Rejects the data flags a kind of model cannot use, before reading the
/// data: `--missing`, `--inputs` and the time-varying matrices (only a
/// state-space model takes missing values, inputs and matrices) and
/// `--lengths` (a mixture has no sequences). `name` is the model as the
/// command calls it.
pub fn check_flags(args: &DataArgs, kind: ModelKind, name: &str) -> Result<(), CliError> {
    if args.missing && kind != ModelKind::Lgssm {
        return Err(usage!("--missing is only supported by lgssm, not by {name}"));
    }
    if args.inputs.is_some() && kind != ModelKind::Lgssm {
        return Err(usage!("--inputs is only supported by lgssm, not by {name}"));
    }
    if let Some((flag, _)) = args.matrices.files().into_iter().find(|(_, path)| path.is_some())
        && kind != ModelKind::Lgssm
    {
        return Err(usage!("{flag} is only supported by lgssm, not by {name}"));
    }
    match &args.lengths {
        Some(p) if kind.is_mixture() => Err(usage!(
            "--lengths {} was given, but a {name} has no sequences",
            p.display()
        )),
        _ => Ok(()),
    }
}
