//! What every scenario of the demo prints and writes: its heading, the table
//! of true against fitted parameters, the plot files.

use std::io::Write;

use em_driver::hmm::LabelMatch;

use crate::error::CliError;
pub use crate::files::write_plot;
use crate::text::table;

/// The heading of a scenario.
pub fn heading(title: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "\n== {title} ==")?;
    Ok(())
}

/// The fitted label of each true label (`k` labels) from a matching of the
/// fitted labels onto the true ones (the identity when matching failed).
pub fn fitted_of_true(matched: Option<&LabelMatch>, k: usize) -> Vec<usize> {
    let mut fitted = (0..k).collect::<Vec<_>>();
    if let Some(m) = matched {
        for (p, &t) in m.mapping.iter().enumerate() {
            fitted[t] = p;
        }
    }
    fitted
}

/// Prints the result line of a fit and the table of true against fitted
/// parameters.
pub fn print_comparison(outcome: &str, note: Option<&str>, rows: &[Vec<String>]) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "\nresult: {outcome}")?;
    if let Some(note) = note {
        writeln!(out, "{note}")?;
    }
    write!(out, "{}", table(&["parameter", "true", "fitted"], rows))?;
    Ok(())
}
