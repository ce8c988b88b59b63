//! Reading the data and lengths files named on the command line.

use em_driver::faer::Mat;
use em_driver::io::{self, Header, ReadOptions};

use crate::args::{DataArgs, HeaderArg};
use crate::error::CliError;

/// The data of a command: rows = observations, plus sequence lengths.
pub struct Loaded {
    /// The observations.
    pub data: Mat<f64>,
    /// Sequence lengths adding up to the number of rows (one sequence if no file).
    pub lengths: Vec<usize>,
}

/// Reads `--data` and `--lengths`, checking that the lengths add up.
pub fn load(args: &DataArgs) -> Result<Loaded, CliError> {
    let options = ReadOptions {
        header: match args.header {
            HeaderArg::Auto => Header::Auto,
            HeaderArg::Yes => Header::Present,
            HeaderArg::No => Header::Absent,
        },
        allow_missing: args.missing,
    };
    let data = io::read_matrix(&args.data, &options)?;
    let lengths = match &args.lengths {
        Some(path) => {
            let lengths = io::read_lengths(path)?;
            io::check_lengths(path, &lengths, data.nrows())?;
            lengths
        }
        None => vec![data.nrows()],
    };
    Ok(Loaded { data, lengths })
}

/// Rejects `--missing` for models that cannot use missing values.
pub fn no_missing(args: &DataArgs, family: &str) -> Result<(), CliError> {
    if args.missing {
        Err(crate::error::usage!(
            "--missing is only supported by lgssm, not by {family}"
        ))
    } else {
        Ok(())
    }
}

/// Rejects a lengths file for models without sequences.
pub fn no_lengths(args: &DataArgs, family: &str) -> Result<(), CliError> {
    match &args.lengths {
        Some(p) => Err(crate::error::usage!(
            "--lengths {} was given, but a {family} has no sequences",
            p.display()
        )),
        None => Ok(()),
    }
}
