//! `emfit predict`, `score`, `sample` and `smooth`: a model file applied to
//! data. The kind of model is known only once the file is read, so the
//! per-family part is the object-safe [`Apply`] trait, implemented once per
//! family in the `family` module; each command dispatches once
//! ([`applied`]) and is then written once for every family.

use std::io::Write;
use std::path::Path;

use em_driver::ModelKind;
use em_driver::faer::Mat;
use em_driver::io;
use em_driver::model_file::AnyModel;
use em_driver::rand::SeedableRng;
use em_driver::rand::rngs::StdRng;

use crate::args::{DataArgs, PredictArgs, SampleArgs, ScoreArgs, SmoothArgs};
use crate::error::{CliError, in_model_file, usage};
use crate::input::{self, Loaded};

/// What a model of one family does for the commands that apply it.
pub trait Apply {
    /// Checks the data against the model: columns, or symbols it knows.
    fn check_data(&self, data: &Loaded) -> Result<(), CliError>;
    /// Most likely component or state of every observation, their
    /// probabilities with `proba`, or filtered state means.
    fn predict(&self, data: &Loaded, proba: bool) -> Result<Table, CliError>;
    /// Log-likelihood of the data and the number of free parameters.
    fn score(&self, data: &Loaded) -> Result<Score, CliError>;
    /// Draws `sequences` sequences of `n` observations: the observations and
    /// their hidden labels or states.
    fn sample(&self, n: usize, sequences: usize, rng: &mut StdRng) -> Result<(Table, Table), CliError>;
    /// Smoothed hidden states: posterior probabilities or means and
    /// standard deviations.
    fn smooth(&self, data: &Loaded) -> Result<Table, CliError>;
}

/// A matrix with a header: what the commands write.
pub struct Table {
    /// One row per observation.
    pub values: Mat<f64>,
    /// One name per column.
    pub header: Vec<String>,
}

impl Table {
    /// Columns named `{prefix}0`, `{prefix}1`, ...
    pub fn numbered(values: Mat<f64>, prefix: &str) -> Self {
        let header = (0..values.ncols()).map(|j| format!("{prefix}{j}")).collect();
        Self { values, header }
    }

    /// One column of labels.
    pub fn labels(labels: &[usize], name: &str) -> Self {
        Self {
            values: Mat::from_fn(labels.len(), 1, |i, _| labels[i] as f64),
            header: vec![name.to_string()],
        }
    }

    /// Writes the table to `out` (atomically, CSV or .npy by extension) or
    /// as CSV to standard output.
    fn emit(&self, out: Option<&Path>) -> Result<(), CliError> {
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
fn applied<'m>(model: &'m AnyModel, what: &str) -> Result<&'m dyn Apply, CliError> {
    match model {
        AnyModel::Gmm(m) => Ok(m),
        AnyModel::GaussianHmm(m) => Ok(m),
        AnyModel::GmmHmm(m) => Ok(m),
        AnyModel::CategoricalHmm(m) => Ok(m),
        AnyModel::Lgssm(m) => Ok(m),
        other => Err(usage!(
            "{what} is not available for a {} model in this build",
            other.kind()
        )),
    }
}

fn load_model(path: &Path) -> Result<AnyModel, CliError> {
    AnyModel::load(path).map_err(|e| in_model_file(path, e))
}

/// Reads the data of a command for a model, checked against it.
fn data_for(kind: ModelKind, model: &dyn Apply, args: &DataArgs) -> Result<Loaded, CliError> {
    input::check_flags(args, kind, kind.name())?;
    let data = input::load(args)?;
    model.check_data(&data)?;
    Ok(data)
}

/// Runs `emfit predict`.
pub fn predict(args: &PredictArgs) -> Result<(), CliError> {
    let file = load_model(&args.model.model)?;
    let model = applied(&file, "predict")?;
    let data = data_for(file.kind(), model, &args.data)?;
    model.predict(&data, args.proba)?.emit(args.out.as_deref())
}

/// Runs `emfit smooth`.
pub fn smooth(args: &SmoothArgs) -> Result<(), CliError> {
    let file = load_model(&args.model.model)?;
    let model = applied(&file, "smooth")?;
    let data = data_for(file.kind(), model, &args.data)?;
    model.smooth(&data)?.emit(args.out.as_deref())
}

/// Runs `emfit score`.
pub fn score(args: &ScoreArgs) -> Result<(), CliError> {
    let file = load_model(&args.model.model)?;
    let model = applied(&file, "score")?;
    let data = data_for(file.kind(), model, &args.data)?;
    let Score {
        log_likelihood: ll,
        parameters: p,
        sequences,
    } = model.score(&data)?;
    let n = data.x().nrows();
    let mut out = std::io::stdout().lock();
    writeln!(out, "model: {} ({})", file.kind(), args.model.model.display())?;
    let source = data.path.display();
    match sequences {
        Some(s) => writeln!(out, "data: {n} observations in {s} sequence(s) ({source})")?,
        None => writeln!(out, "data: {n} observations ({source})")?,
    }
    writeln!(out, "log-likelihood: {ll:.6}")?;
    writeln!(out, "per observation: {:.6}", ll / n as f64)?;
    writeln!(out, "free parameters: {p}")?;
    writeln!(out, "BIC: {:.3}", -2.0 * ll + p as f64 * (n as f64).ln())?;
    writeln!(out, "AIC: {:.3}", -2.0 * ll + 2.0 * p as f64)?;
    Ok(())
}

/// Runs `emfit sample`.
pub fn sample(args: &SampleArgs) -> Result<(), CliError> {
    if args.n == 0 {
        return Err(usage!("-n must be at least 1"));
    }
    if args.sequences == 0 {
        return Err(usage!("--sequences must be at least 1"));
    }
    let file = load_model(&args.model.model)?;
    let model = applied(&file, "sample")?;
    if file.kind() == ModelKind::Gmm && (args.sequences != 1 || args.lengths_out.is_some()) {
        return Err(usage!(
            "a gmm draws independent points: --sequences and --lengths-out do not apply"
        ));
    }
    let mut rng = StdRng::seed_from_u64(args.seed);
    let (x, hidden) = model.sample(args.n, args.sequences, &mut rng)?;
    x.emit(args.out.as_deref())?;
    if let Some(path) = &args.hidden_out {
        hidden.emit(Some(path))?;
    }
    if let Some(path) = &args.lengths_out {
        let lengths: String = (0..args.sequences).map(|_| format!("{}\n", args.n)).collect();
        io::write_atomically(path, |w| w.write_all(lengths.as_bytes()))?;
    }
    Ok(())
}

/// The total number of observations of `sequences` sequences of `n`, if at
/// most `max` values of `width` each.
pub fn draw_size(n: usize, sequences: usize, width: usize, max: usize) -> Option<usize> {
    n.checked_mul(sequences)
        .filter(|&t| t.saturating_mul(width) <= max)
}
