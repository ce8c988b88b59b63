//! `emfit`: fit Gaussian mixtures, hidden Markov models and linear Gaussian
//! state-space models by EM from the command line.
//!
//! ```text
//! emfit demo [--plots DIR] [--seed N] [--full]
//! emfit fit gmm|hmm|gmmhmm|categorical-hmm|lgssm --data FILE [--lengths FILE] [options] [--out model.json]
//! emfit predict|score|smooth --model model.json --data FILE [--lengths FILE]
//!       [--inputs FILE] [--transition-matrices FILE.npy] [--observation-covariances FILE.npy] ...
//! emfit sample --model model.json -n N [--sequences K] [--transition-matrices FILE.npy] ... [--out FILE]
//! emfit filter --model model.json [--lag L] [--resume STATE] [--save-state STATE] < observations
//! emfit forecast --model model.json --data FILE [--inputs FILE] --horizon K [--future-inputs FILE] [--plots DIR]
//! emfit innovations --model model.json --data FILE [--lengths FILE] [--inputs FILE] [--out FILE]
//! ```
//!
//! Errors are one line on stderr (`emfit: ...`) and a non-zero exit code:
//! 2 for a usage error (clap), 1 for anything else. Output files are written
//! atomically. `--threads N` sets the number of worker threads; the
//! environment variable `EMFIT_ISA` (`avx512`, `avx2`, `baseline`) caps the
//! instruction set of the numerical kernels, for testing and measurement.
//!
//! # Why a crate of its own
//! The program is the only place that parses arguments (clap), draws progress
//! bars (indicatif) and writes plots: keeping it out of the libraries keeps
//! `em-driver` and the model crates free of these dependencies for the
//! programs that embed them. Everything numerical, the model files and the
//! data readers come from `em-driver`.
//!
//! # Layout
//! - `args`: the command line (clap's derive API); `main`: dispatch, errors
//!   as one line, exit codes.
//! - `fit`: `emfit fit` as one generic path (parse a typed request, load,
//!   start, fit, report, save) over the `Family` trait.
//! - `apply`: `emfit predict`, `score`, `sample` and `smooth`, written once
//!   over the object-safe `Apply` trait; `forecast`: `emfit forecast`,
//!   `innovations`: `emfit innovations` and `stream`: `emfit filter` (lgssm).
//! - `family`: the per-family parts, one file per family (`gmm`, `hmm` with
//!   its `emission`s, `lgssm`), each implementing `Family` and `Apply`.
//! - `input` (data files), `time_varying` (the time-varying matrices of
//!   an lgssm, `.npy` files split by sequence), `files` (output paths that must not collide),
//!   `limits` (sizes against the memory they imply), `json` (`--json`),
//!   `messages` (model errors in the program's 1-based wording),
//!   `progress` (bars or the convergence log), `text` (numbers, lists,
//!   tables), `error`.
//! - `out_of_core`: `emfit fit --chunk-rows N`, the data file streamed a
//!   chunk of rows at a time at every E-step.
//! - `distributed` (cargo feature `mpi`): `emfit fit` under mpirun, each
//!   rank reading and evaluating its own rows.
//! - `demo`: `emfit demo`, one file per scenario, with its plots, drawn
//!   with `plot`, a small SVG writer (the crate's library target, so that the
//!   benchmark tools draw with it too).

mod apply;
mod args;
mod demo;
#[cfg(feature = "mpi")]
mod distributed;
mod error;
mod family;
mod files;
mod fit;
mod forecast;
mod innovations;
mod input;
mod json;
mod limits;
mod messages;
mod out_of_core;
mod progress;
mod sample;
mod stream;
mod text;
mod time_varying;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};
use crate::error::CliError;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with success; usage errors to stderr.
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    // A panic is a bug of emfit: report it in one line instead of a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(ToString::to_string)
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("emfit: internal error (please report it): {message}{place}");
    }));
    let result = std::panic::catch_unwind(|| run(cli));
    match result {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(CliError::Output(e))) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        #[cfg(feature = "mpi")]
        Ok(Err(CliError::Reported)) => ExitCode::FAILURE,
        Ok(Err(e)) => {
            error::print(&e);
            ExitCode::FAILURE
        }
        Err(_) => ExitCode::from(101),
    }
}

fn run(cli: Cli) -> Result<(), CliError> {
    // The kernels ignore a cap they cannot read; the program refuses it.
    em_driver::linalg_kernels::isa::Isa::requested().map_err(|e| CliError::Usage(e.to_string()))?;
    if let Some(threads) = cli.threads {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        limits::check_threads(threads, cores)?;
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
            .map_err(|e| CliError::Usage(format!("cannot start {threads} threads: {e}")))?;
    }
    match cli.command {
        Command::Demo(_) if cli.json => Err(CliError::Usage(
            "--json applies to fit, predict, score, sample and smooth; demo prints a report for reading"
                .into(),
        )),
        Command::Filter(_) if cli.json => Err(CliError::Usage(
            "--json does not apply to filter, which writes one line of numbers per line read".into(),
        )),
        Command::Demo(a) => demo::run(&a),
        Command::Fit(a) => fit::run(&a, cli.json),
        Command::Predict(a) => apply::predict(&a, cli.json),
        Command::Score(a) => apply::score(&a, cli.json),
        Command::Sample(a) => sample::sample(&a, cli.json),
        Command::Smooth(a) => apply::smooth(&a, cli.json),
        Command::Forecast(a) => forecast::run(&a, cli.json),
        Command::Innovations(a) => innovations::run(&a, cli.json),
        Command::Filter(a) => stream::run(&a),
    }
}
