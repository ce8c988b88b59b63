//! `emfit filter`: the Kalman filter of an lgssm one line at a time
//! ([`StreamingFilter`]). Every line of standard input holds the p
//! observations of a step (empty, `nan` or `NA` when missing) followed by
//! its m inputs, separated as in a CSV file; it is answered at once (the
//! output is flushed) by one line of the filtered means `m_{k|k}` and
//! standard deviations `√diag P_{k|k}`, n of each. Blank lines and `#`
//! comments are skipped (an observation missing in full is written `nan`
//! or `NA`). `--save-state` writes the filter's
//! [`FilterState`] at the end of the input, or before a line that fails,
//! so that `--resume` goes on from there. With `--lag L` each answer also
//! holds the smoothed means and standard deviations of the step L lines
//! back ([`FixedLagSmoother`]; empty cells for the first L lines), and the
//! saved state is the smoother's ([`LaggedState`]), resumed with the same
//! `--lag`.

use std::fmt::Write as _;
use std::io::{BufRead, Write};
use std::path::Path;

use em_driver::faer::Mat;
use em_driver::io::{self, parse_record};
use em_driver::model_file::AnyModel;
use em_driver::statespace::{
    FilterState, FixedLagSmoother, InferenceOptions, LaggedState, LinearGaussianSsm, Smoothed,
    StreamingFilter,
};

use crate::apply::load_model;
use crate::args::FilterArgs;
use crate::error::{CliError, model, usage};
use crate::files::check_outputs;

/// What the errors call standard input.
const STDIN: &str = "standard input";

/// Runs `emfit filter`.
pub fn run(args: &FilterArgs) -> Result<(), CliError> {
    check_outputs(
        &[("--save-state", args.save_state.as_deref())],
        &[
            ("--model", Some(args.model.model.as_path())),
            ("--resume", args.resume.as_deref()),
        ],
    )?;
    let file = load_model(&args.model.model)?;
    let AnyModel::Lgssm(m) = file else {
        return Err(usage!(
            "filter applies to lgssm models, not to a {} model",
            file.kind()
        ));
    };
    let m = if args.steady_state {
        m.with_inference(InferenceOptions::steady_state())
    } else {
        m
    };
    let mut stream = match (&args.resume, args.lag) {
        (None, Some(lag)) => Stream::Lagged(FixedLagSmoother::new(&m, lag)),
        (None, None) => Stream::Filter(StreamingFilter::new(&m)),
        (Some(path), lag) => match (read_state(path)?, lag) {
            (SavedState::Filter(state), None) => {
                Stream::Filter(StreamingFilter::resume(&m, &state).map_err(|e| in_file(path, e))?)
            }
            (SavedState::Lagged(state), Some(lag)) if state.lag == lag => {
                Stream::Lagged(FixedLagSmoother::resume(&m, &state).map_err(|e| in_file(path, e))?)
            }
            (SavedState::Lagged(state), _) => {
                return Err(usage!(
                    "--resume {}: the state was saved with --lag {}: resume it with the same --lag",
                    path.display(),
                    state.lag
                ));
            }
            (SavedState::Filter(_), Some(_)) => {
                return Err(usage!(
                    "--resume {}: the state was saved without --lag: resume it without --lag",
                    path.display()
                ));
            }
        },
    };
    let result = filter_lines(&m, &mut stream);
    if let Some(path) = &args.save_state {
        let text = match &stream {
            Stream::Filter(f) => serde_json::to_string_pretty(&f.state()),
            Stream::Lagged(s) => serde_json::to_string_pretty(&s.state()),
        }
        .expect("a state serialises");
        io::write_atomically(path, |w| w.write_all(text.as_bytes()))?;
    }
    result
}

/// A state of file `path` that does not fit the model.
fn in_file(path: &Path, e: em_driver::statespace::StateSpaceError) -> CliError {
    CliError::Reworded(format!("{}: {e}", path.display()))
}

/// A state written by `--save-state`: the filter's, or with `--lag` the
/// fixed-lag smoother's (the filter's and its window).
enum SavedState {
    Lagged(LaggedState),
    Filter(FilterState),
}

/// The filter, alone or under a fixed-lag smoother.
enum Stream {
    Filter(StreamingFilter),
    Lagged(FixedLagSmoother),
}

impl Stream {
    fn filter(&self) -> &StreamingFilter {
        match self {
            Self::Filter(f) => f,
            Self::Lagged(s) => s.filter(),
        }
    }

    /// One step; the smoothed moments L steps back, if any.
    fn update(&mut self, y: &[f64], u: Option<&[f64]>) -> em_driver::statespace::Result<Option<Smoothed>> {
        match self {
            Self::Filter(f) => f.update(y, u).map(|_| None),
            Self::Lagged(s) => s.update(y, u),
        }
    }
}

/// Appends `,`-separated means and standard deviations (`√diag P`) to `line`.
fn push_moments(line: &mut String, mean: &[f64], cov: &Mat<f64>) {
    let sd = (0..cov.nrows()).map(|i| cov[(i, i)].max(0.0).sqrt());
    for v in mean.iter().copied().chain(sd) {
        if !line.is_empty() {
            line.push(',');
        }
        // `{:?}`: the shortest text that reads back to the same f64.
        write!(line, "{v:?}").expect("writing to a String");
    }
}

/// Reads a state written by `--save-state` (a smoother's has a `window`).
fn read_state(path: &Path) -> Result<SavedState, CliError> {
    let text = em_driver::model_file::read_limited(path).map_err(|e| CliError::File(Box::new(e)))?;
    let refused = |e: serde_json::Error| {
        CliError::Reworded(format!(
            "{}: not a filter state written by --save-state: {e}",
            path.display()
        ))
    };
    let value: serde_json::Value = serde_json::from_str(&text).map_err(refused)?;
    if value.get("window").is_some() {
        serde_json::from_value(value)
            .map(SavedState::Lagged)
            .map_err(refused)
    } else {
        serde_json::from_value(value)
            .map(SavedState::Filter)
            .map_err(refused)
    }
}

/// Filters every line of standard input, answering each at once.
fn filter_lines(m: &LinearGaussianSsm, stream: &mut Stream) -> Result<(), CliError> {
    let (n, p, inputs) = (m.state_dim(), m.obs_dim(), m.input_dim());
    let mut out = std::io::stdout().lock();
    let mut answer = String::new();
    for (index, line) in std::io::stdin().lock().lines().enumerate() {
        let number = index + 1;
        let on_line = |what: String| CliError::Reworded(format!("{STDIN}, line {number}: {what}"));
        let line = line.map_err(|e| on_line(e.to_string()))?;
        let Some(values) = parse_record(Path::new(STDIN), number, &line, true)? else {
            continue;
        };
        if values.len() != p + inputs {
            let with_inputs = if inputs > 0 {
                format!(" then {inputs} inputs")
            } else {
                String::new()
            };
            return Err(on_line(format!(
                "{} values, but a line holds the model's {p} observations{with_inputs}",
                values.len()
            )));
        }
        let (y, u) = values.split_at(p);
        if let Some(j) = u.iter().position(|v| v.is_nan()) {
            return Err(on_line(format!(
                "column {}: an input is missing (inputs are known values)",
                p + j + 1
            )));
        }
        let smoothed = stream
            .update(y, (inputs > 0).then_some(u))
            .map_err(|e| on_line(model(e).to_string()))?;
        answer.clear();
        let filter = stream.filter();
        push_moments(&mut answer, filter.mean(), &filter.covariance());
        match smoothed {
            Some(s) => push_moments(&mut answer, &s.mean, &s.covariance),
            None if matches!(stream, Stream::Lagged(_)) => answer.push_str(&",".repeat(2 * n)),
            None => {}
        }
        writeln!(out, "{answer}")?;
        out.flush()?;
    }
    Ok(())
}
