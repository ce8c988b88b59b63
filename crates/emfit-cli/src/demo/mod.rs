//! `emfit demo`: three typical jobs of the library on data generated here,
//! each fitted by the EM loop with its convergence log, then what EM found
//! next to the truth, and optional SVG plots (`--plots DIR`):
//!
//! 1. `gmm_hmm`: a 2-state hidden Markov model whose emissions are 2-component
//!    1-D Gaussian mixtures, fitted from a fresh k-means start; Viterbi decodes
//!    a fresh sample up to relabelling of the states.
//! 2. `mixture`: a 2-D mixture of two Gaussians from the naive start that
//!    crashed a hand-written EM loop; the covariances stay symmetric positive
//!    definite throughout (checked independently).
//! 3. `robot_arm`: a 21-dimensional state-space model of a 7-joint robot arm,
//!    EM for A and Q with the steady-state Kalman filter and RTS smoother,
//!    SQUAREM-accelerated, from A = 0 and from the data-driven start.
//!
//! `log` holds the thinned convergence log and the one-line outcome of a fit,
//! `output` what every scenario prints and writes, `figures` the plots.

mod figures;
mod gmm_hmm;
mod log;
mod mixture;
mod output;
mod robot_arm;

use std::io::Write;
use std::time::Instant;

use crate::args::DemoArgs;
use crate::error::{CliError, usage};
use crate::text::duration;

/// Runs `emfit demo`.
pub fn run(args: &DemoArgs) -> Result<(), CliError> {
    let only = |n: u8| args.only.is_empty() || args.only.contains(&n);
    if let Some(bad) = args.only.iter().find(|&&n| !(1..=3).contains(&n)) {
        return Err(usage!(
            "--only: there is no scenario {bad} (scenarios are 1, 2, 3)"
        ));
    }
    args.seed()?;
    if only(3) {
        robot_arm::steps(args)?;
    }
    if let Some(dir) = &args.plots {
        crate::files::create_plots_dir(dir)?;
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "emfit demo: three EM fits on data generated here (seed {}). Each prints its convergence log\n\
         (`iteration  log-likelihood  improvement`), then what was found next to the truth.",
        args.seed
    )?;
    drop(out);
    let total = Instant::now();
    let mut written = Vec::new();
    if only(1) {
        written.extend(gmm_hmm::run(args)?);
    }
    if only(2) {
        written.extend(mixture::run(args)?);
    }
    if only(3) {
        written.extend(robot_arm::run(args)?);
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "\ndemo finished in {}.", duration(total.elapsed()))?;
    if !written.is_empty() {
        writeln!(out, "plots written:")?;
        for p in written {
            writeln!(out, "  {p}")?;
        }
    } else if args.plots.is_none() {
        writeln!(out, "(add --plots DIR to write SVG plots of each scenario)")?;
    }
    Ok(())
}
