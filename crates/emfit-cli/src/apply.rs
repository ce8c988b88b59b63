//! `emfit predict`, `score` and `smooth` (and the trait behind `sample`): a
//! model file applied to data. The kind of model is known only once the file is read, so the
//! per-family part is the object-safe [`Apply`] trait, implemented once per
//! family in the `family` module; each command dispatches once
//! ([`applied`]) and is then written once for every family.

use std::io::Write;
use std::path::Path;

use em_driver::ModelKind;
use em_driver::faer::Mat;
use em_driver::io;
use em_driver::model_file::AnyModel;
use em_driver::rand::rngs::StdRng;

use crate::args::{DataArgs, PredictArgs, ScoreArgs, SmoothArgs};
use crate::error::{CliError, in_model_file, usage};
use crate::files::check_outputs;
use crate::input::{self, Loaded};
use crate::json;

/// What a model of one family does for the commands that apply it.
pub trait Apply {
    /// Checks the data against the model: columns, or symbols it knows.
    fn check_data(&self, data: &Loaded) -> Result<(), CliError>;
    /// Most likely component or state of every observation (with the
    /// Viterbi log-probabilities for HMMs), their probabilities with
    /// `proba`, or filtered state means.
    fn predict(&self, data: &Loaded, proba: bool) -> Result<Prediction, CliError>;
    /// Log-likelihood of the data and the number of free parameters; an
    /// error naming the first impossible observation when it is −∞.
    fn score(&self, data: &Loaded) -> Result<Score, CliError>;
    /// Values per draw of the observations and of the hidden labels or
    /// states, for the memory estimate of `emfit sample`.
    fn sample_widths(&self) -> (usize, usize);
    /// Draws one sequence of `n` observations (`n` independent points for a
    /// mixture): the observations and their hidden labels or states.
    fn sample(&self, n: usize, rng: &mut StdRng) -> Result<(Table, Table), CliError>;
    /// Smoothed hidden states: posterior probabilities or means and
    /// standard deviations, and for `covariances` the full smoothed state
    /// covariances (T x n x n, row-major) where the model has them.
    fn smooth(&self, data: &Loaded, covariances: bool) -> Result<(Table, Option<Vec<f64>>), CliError>;
}

/// A matrix with a header: what the commands write.
pub struct Table {
    /// One row per observation.
    pub values: Mat<f64>,
    /// One name per column.
    pub header: Vec<String>,
    /// True when the values are labels (integers in JSON).
    pub labels: bool,
}

impl Table {
    /// Columns named `{prefix}0`, `{prefix}1`, ...
    pub fn numbered(values: Mat<f64>, prefix: &str) -> Self {
        let header = (0..values.ncols()).map(|j| format!("{prefix}{j}")).collect();
        Self {
            values,
            header,
            labels: false,
        }
    }

    /// One column of labels.
    pub fn labels(labels: &[usize], name: &str) -> Self {
        Self {
            values: Mat::from_fn(labels.len(), 1, |i, _| labels[i] as f64),
            header: vec![name.to_string()],
            labels: true,
        }
    }

    /// Writes the table to `out` (atomically, CSV or .npy by extension) or
    /// as CSV to standard output.
    pub fn emit(&self, out: Option<&Path>) -> Result<(), CliError> {
        let data = self.values.as_ref();
        match out {
            Some(path) => Ok(io::write_matrix(path, data, Some(&self.header))?),
            None => Ok(io::write_csv(
                std::io::BufWriter::new(std::io::stdout().lock()),
                data,
                Some(&self.header),
            )?),
        }
    }

    /// `--json`: writes the table to `out` if given, and prints the
    /// command's JSON `object` with, under `key`, the table's values when
    /// there is no `out`, else the file and the table's size.
    pub fn print_json(&self, out: Option<&Path>, key: &str, mut object: json::Value) -> Result<(), CliError> {
        object[key] = match out {
            Some(path) => {
                self.emit(Some(path))?;
                json::json!({
                    "out": path.display().to_string(),
                    "rows": self.values.nrows(),
                    "columns": self.header,
                })
            }
            None => json::table(self),
        };
        json::print(&object)
    }
}

/// What `emfit predict` computes.
pub struct Prediction {
    /// The labels, probabilities or means.
    pub table: Table,
    /// `ln p(x, z*)` of the Viterbi path of every sequence (HMMs without `--proba`).
    pub viterbi: Option<Vec<f64>>,
}

/// What `emfit score` reports besides the data's size.
pub struct Score {
    /// `ln p(data | model)`.
    pub log_likelihood: f64,
    /// Free parameters of the model.
    pub parameters: usize,
    /// Number of sequences, for sequence models.
    pub sequences: Option<usize>,
}

/// The family's part of a model read from a file, for command `what`.
pub fn applied<'m>(model: &'m AnyModel, what: &str) -> Result<&'m dyn Apply, CliError> {
    match model {
        AnyModel::Gmm(m) => Ok(m),
        AnyModel::GaussianHmm(m) => Ok(m),
        AnyModel::GmmHmm(m) => Ok(m),
        AnyModel::CategoricalHmm(m) => Ok(m),
        AnyModel::Lgssm(m) => Ok(m),
        AnyModel::Bgmm(m) => Ok(m),
        AnyModel::VariationalCategoricalHmm(m) => Ok(m),
        AnyModel::VariationalGaussianHmm(m) => Ok(m),
        other => Err(usage!(
            "{what} is not available for a {} model in this build",
            other.kind()
        )),
    }
}

pub fn load_model(path: &Path) -> Result<AnyModel, CliError> {
    AnyModel::load(path).map_err(|e| in_model_file(path, e))
}

/// Reads the data of a command for a model, checked against it.
pub fn data_for(kind: ModelKind, model: &dyn Apply, args: &DataArgs) -> Result<Loaded, CliError> {
    input::check_flags(args, kind, kind.name())?;
    let data = input::load(args)?;
    model.check_data(&data)?;
    Ok(data)
}

/// The model and data files of a command: what an output must not overwrite.
pub fn inputs<'a>(model: &'a Path, data: &'a DataArgs) -> Vec<(&'static str, Option<&'a Path>)> {
    let mut files = vec![
        ("--model", Some(model)),
        ("--data", Some(data.data.as_path())),
        ("--lengths", data.lengths.as_deref()),
        ("--inputs", data.inputs.as_deref()),
    ];
    files.extend(data.matrices.files());
    files
}

/// Runs `emfit predict`.
pub fn predict(args: &PredictArgs, as_json: bool) -> Result<(), CliError> {
    check_outputs(
        &[("--out", args.out.as_deref())],
        &inputs(&args.model.model, &args.data),
    )?;
    let file = load_model(&args.model.model)?;
    let model = applied(&file, "predict")?;
    let data = data_for(file.kind(), model, &args.data)?;
    let Prediction { table, viterbi } = model.predict(&data, args.proba)?;
    let total = viterbi.as_ref().map(|v| v.iter().sum::<f64>());
    if as_json {
        let object = json::json!({
            "command": "predict",
            "model": file.kind().name(),
            "viterbi_log_probability": total,
            "viterbi_log_probability_per_sequence": viterbi,
        });
        return table.print_json(args.out.as_deref(), "predictions", object);
    }
    table.emit(args.out.as_deref())?;
    if let Some(total) = total {
        // On standard output only when the table went to a file.
        let line = format!(
            "Viterbi log-probability ln p(x, z*): {total} ({} sequence(s))",
            data.lengths.len()
        );
        match &args.out {
            Some(path) => writeln!(
                std::io::stdout().lock(),
                "{line}; states written to {}",
                path.display()
            )?,
            None => eprintln!("emfit: {line}"),
        }
    }
    Ok(())
}

/// Runs `emfit smooth`.
pub fn smooth(args: &SmoothArgs, as_json: bool) -> Result<(), CliError> {
    check_outputs(
        &[
            ("--out", args.out.as_deref()),
            ("--covariances-out", args.covariances_out.as_deref()),
        ],
        &inputs(&args.model.model, &args.data),
    )?;
    if let Some(path) = args.covariances_out.as_deref().filter(|p| !io::is_npy(p)) {
        return Err(usage!(
            "--covariances-out {}: the covariances are a T x n x n array, written as .npy only (name the file *.npy)",
            path.display()
        ));
    }
    let file = load_model(&args.model.model)?;
    let model = applied(&file, "smooth")?;
    let data = data_for(file.kind(), model, &args.data)?;
    let (table, covariances) = model.smooth(&data, args.covariances_out.is_some())?;
    if let (Some(path), Some(values)) = (&args.covariances_out, &covariances) {
        let n = table.values.ncols() / 2;
        let shape = [table.values.nrows(), n, n];
        io::write_atomically(path, |w| io::write_npy_f64(w, &shape, values))?;
    }
    if as_json {
        let object = json::json!({
            "command": "smooth",
            "model": file.kind().name(),
            "covariances_out": args.covariances_out.as_ref().map(|p| p.display().to_string()),
        });
        return table.print_json(args.out.as_deref(), "smoothed", object);
    }
    table.emit(args.out.as_deref())
}

/// Runs `emfit score`. Every number is printed in full (the shortest
/// decimal form that reads back to the same `f64`).
pub fn score(args: &ScoreArgs, as_json: bool) -> Result<(), CliError> {
    let file = load_model(&args.model.model)?;
    let model = applied(&file, "score")?;
    let data = data_for(file.kind(), model, &args.data)?;
    let Score {
        log_likelihood: ll,
        parameters: p,
        sequences,
    } = model.score(&data)?;
    if !ll.is_finite() {
        return Err(CliError::Reworded(format!(
            "{}: the log-likelihood is {ll}: the data are impossible under the model (or its numerics failed)",
            data.path.display()
        )));
    }
    let n = data.x().nrows();
    let bic = -2.0 * ll + p as f64 * (n as f64).ln();
    let aic = -2.0 * ll + 2.0 * p as f64;
    if as_json {
        return json::print(&json::json!({
            "command": "score",
            "model": file.kind().name(),
            "model_file": args.model.model.display().to_string(),
            "data": data.path.display().to_string(),
            "observations": n,
            "sequences": sequences,
            "log_likelihood": ll,
            "log_likelihood_per_observation": ll / n as f64,
            "free_parameters": p,
            "bic": bic,
            "aic": aic,
        }));
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "model: {} ({})", file.kind(), args.model.model.display())?;
    let source = data.path.display();
    match sequences {
        Some(s) => writeln!(out, "data: {n} observations in {s} sequence(s) ({source})")?,
        None => writeln!(out, "data: {n} observations ({source})")?,
    }
    // `{:?}`: the shortest text that reads back to the same f64, in
    // exponent form beyond 1e16 (so 1e300 is not 300 digits).
    writeln!(out, "log-likelihood: {ll:?}")?;
    writeln!(out, "per observation: {:?}", ll / n as f64)?;
    writeln!(out, "free parameters: {p}")?;
    writeln!(out, "BIC: {bic:?}")?;
    writeln!(out, "AIC: {aic:?}")?;
    Ok(())
}
