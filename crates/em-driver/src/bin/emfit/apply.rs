//! `emfit predict`, `score`, `sample` and `smooth`: a model file applied to data.

use std::io::Write;
use std::path::Path;

use em_driver::ModelKind;
use em_driver::faer::{Mat, MatRef};
use em_driver::hmm::{self, Sequences};
use em_driver::io;
use em_driver::model_file::AnyModel;
use em_driver::rand::SeedableRng;
use em_driver::rand::rngs::StdRng;

use crate::args::{DataArgs, PredictArgs, SampleArgs, ScoreArgs, SmoothArgs};
use crate::error::{CliError, model, usage};
use crate::input::{self, Loaded};
use crate::lgssm;

/// Writes a matrix to `out` (atomically, CSV or .npy by extension) or as CSV to stdout.
fn emit(out: Option<&Path>, data: MatRef<'_, f64>, header: &[String]) -> Result<(), CliError> {
    match out {
        Some(path) => Ok(io::write_matrix(path, data, Some(header))?),
        None => Ok(io::write_csv(
            std::io::BufWriter::new(std::io::stdout().lock()),
            data,
            Some(header),
        )?),
    }
}

fn labels_matrix(labels: &[usize]) -> Mat<f64> {
    Mat::from_fn(labels.len(), 1, |i, _| labels[i] as f64)
}

fn names(prefix: &str, k: usize) -> Vec<String> {
    (0..k).map(|j| format!("{prefix}{j}")).collect()
}

/// Reads the data of a command for a model: checks columns, lengths and symbols.
fn data_for(model: &AnyModel, args: &DataArgs) -> Result<Loaded, CliError> {
    if model.kind() != ModelKind::Lgssm {
        input::no_missing(args, model.kind().name())?;
    }
    if model.kind() == ModelKind::Gmm {
        input::no_lengths(args, "gmm")?;
    }
    let loaded = input::load(args)?;
    let path = &args.data;
    let x = loaded.data.as_ref();
    match model {
        AnyModel::Gmm(m) => io::check_columns(path, x, m.n_features())?,
        AnyModel::GaussianHmm(m) => io::check_columns(path, x, m.n_features())?,
        AnyModel::GmmHmm(m) => io::check_columns(path, x, m.n_features())?,
        AnyModel::Lgssm(m) => io::check_columns(path, x, m.obs_dim())?,
        AnyModel::CategoricalHmm(m) => {
            let symbols = io::to_symbols(path, x)?;
            let n_symbols = m.emission().n_symbols();
            if let Some(row) = symbols.iter().position(|&s| s >= n_symbols) {
                return Err(usage!(
                    "{}: row {}: symbol {} is out of range for the model's {n_symbols} symbols (0..{})",
                    path.display(),
                    row + 1,
                    symbols[row],
                    n_symbols - 1
                ));
            }
        }
        _ => {}
    }
    Ok(loaded)
}

fn sequences(loaded: &Loaded) -> Result<Sequences<'_>, CliError> {
    Sequences::new(loaded.data.as_ref(), &loaded.lengths).map_err(model)
}

fn load_model(path: &Path) -> Result<AnyModel, CliError> {
    AnyModel::load(path).map_err(|e| crate::error::in_model_file(path, e))
}

fn unsupported(kind: ModelKind, what: &str) -> CliError {
    usage!("{what} is not available for a {kind} model in this build")
}

/// Runs `emfit predict`.
pub fn predict(args: &PredictArgs) -> Result<(), CliError> {
    let m = load_model(&args.model.model)?;
    let loaded = data_for(&m, &args.data)?;
    let x = loaded.data.as_ref();
    let out = args.out.as_deref();
    fn hmm_predict<E: hmm::Emission>(
        model: &hmm::Hmm<E>,
        loaded: &Loaded,
        proba: bool,
        out: Option<&Path>,
    ) -> Result<(), CliError> {
        let seqs = sequences(loaded)?;
        if proba {
            let p = model.predict_proba(&seqs).map_err(model_err)?;
            emit(out, p.as_ref(), &names("state", model.n_states()))
        } else {
            let states = model.predict(&seqs).map_err(model_err)?;
            emit(out, labels_matrix(&states).as_ref(), &["state".to_string()])
        }
    }
    match &m {
        AnyModel::Gmm(g) => {
            if args.proba {
                let p = g.predict_proba(x).map_err(model)?;
                emit(out, p.as_ref(), &names("component", g.n_components()))
            } else {
                let labels = g.predict(x).map_err(model)?;
                emit(out, labels_matrix(&labels).as_ref(), &["component".to_string()])
            }
        }
        AnyModel::GaussianHmm(h) => hmm_predict(h, &loaded, args.proba, out),
        AnyModel::GmmHmm(h) => hmm_predict(h, &loaded, args.proba, out),
        AnyModel::CategoricalHmm(h) => hmm_predict(h, &loaded, args.proba, out),
        AnyModel::Lgssm(m) => {
            if args.proba {
                return Err(usage!(
                    "--proba applies to mixtures and HMMs; an lgssm predicts filtered state means"
                ));
            }
            let (means, header) = lgssm::states(m, &loaded, false)?;
            emit(out, means.as_ref(), &header)
        }
        other => Err(unsupported(other.kind(), "predict")),
    }
}

fn model_err(e: hmm::HmmError) -> CliError {
    model(e)
}

/// Runs `emfit score`.
pub fn score(args: &ScoreArgs) -> Result<(), CliError> {
    let m = load_model(&args.model.model)?;
    let loaded = data_for(&m, &args.data)?;
    let x = loaded.data.as_ref();
    let n = x.nrows();
    let (ll, p, sequences_line) = match &m {
        AnyModel::Gmm(g) => (g.total_log_likelihood(x).map_err(model)?, g.n_parameters(), None),
        AnyModel::GaussianHmm(h) => (
            h.score(&sequences(&loaded)?).map_err(model)?,
            h.n_parameters(),
            Some(loaded.lengths.len()),
        ),
        AnyModel::GmmHmm(h) => (
            h.score(&sequences(&loaded)?).map_err(model)?,
            h.n_parameters(),
            Some(loaded.lengths.len()),
        ),
        AnyModel::CategoricalHmm(h) => (
            h.score(&sequences(&loaded)?).map_err(model)?,
            h.n_parameters(),
            Some(loaded.lengths.len()),
        ),
        AnyModel::Lgssm(m) => {
            let (ll, p) = lgssm::score(m, &loaded)?;
            (ll, p, Some(loaded.lengths.len()))
        }
        other => return Err(unsupported(other.kind(), "score")),
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "model: {} ({})", m.kind(), args.model.model.display())?;
    match sequences_line {
        Some(s) => writeln!(
            out,
            "data: {n} observations in {s} sequence(s) ({})",
            args.data.data.display()
        )?,
        None => writeln!(out, "data: {n} observations ({})", args.data.data.display())?,
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
    let m = load_model(&args.model.model)?;
    let mut rng = StdRng::seed_from_u64(args.seed);
    let (x, hidden) = match &m {
        AnyModel::Gmm(g) => {
            if args.sequences != 1 || args.lengths_out.is_some() {
                return Err(usage!(
                    "a gmm draws independent points: --sequences and --lengths-out do not apply"
                ));
            }
            if args.n.saturating_mul(g.n_features()) > 100_000_000 {
                return Err(usage!(
                    "-n {} is too many points to draw (at most 10^8 values)",
                    args.n
                ));
            }
            let (x, labels) = g.sample(args.n, &mut rng);
            (x, Hidden::Labels(labels))
        }
        AnyModel::GaussianHmm(h) => labelled(sample_hmm(h, args, &mut rng)?),
        AnyModel::GmmHmm(h) => labelled(sample_hmm(h, args, &mut rng)?),
        AnyModel::CategoricalHmm(h) => labelled(sample_hmm(h, args, &mut rng)?),
        AnyModel::Lgssm(model) => {
            let (y, states) = lgssm::sample(model, args, &mut rng)?;
            (y, Hidden::States(states))
        }
        other => return Err(unsupported(other.kind(), "sample")),
    };
    let header = names("x", x.ncols());
    emit(args.out.as_deref(), x.as_ref(), &header)?;
    if let Some(path) = &args.hidden_out {
        match hidden {
            Hidden::Labels(labels) => {
                let name = if m.kind() == ModelKind::Gmm {
                    "component"
                } else {
                    "state"
                };
                io::write_matrix(path, labels_matrix(&labels).as_ref(), Some(&[name.to_string()]))?;
            }
            Hidden::States(states) => {
                io::write_matrix(path, states.as_ref(), Some(&names("state", states.ncols())))?;
            }
        }
    }
    if let Some(path) = &args.lengths_out {
        let lengths: String = (0..args.sequences).map(|_| format!("{}\n", args.n)).collect();
        io::write_atomically(path, |w| w.write_all(lengths.as_bytes()))?;
    }
    Ok(())
}

/// The hidden part of a sample: labels (mixtures, HMMs) or continuous states (lgssm).
enum Hidden {
    Labels(Vec<usize>),
    States(Mat<f64>),
}

fn labelled((x, labels): (Mat<f64>, Vec<usize>)) -> (Mat<f64>, Hidden) {
    (x, Hidden::Labels(labels))
}

fn sample_hmm<E: hmm::Emission>(
    model: &hmm::Hmm<E>,
    args: &SampleArgs,
    rng: &mut StdRng,
) -> Result<(Mat<f64>, Vec<usize>), CliError> {
    let total = args
        .n
        .checked_mul(args.sequences)
        .filter(|&t| t <= 100_000_000)
        .ok_or_else(|| {
            usage!(
                "-n {} x --sequences {} is too many observations (at most 10^8)",
                args.n,
                args.sequences
            )
        })?;
    let mut x = Mat::zeros(total, model.n_features());
    let mut states = Vec::with_capacity(total);
    for s in 0..args.sequences {
        let (xs, zs) = model.sample(args.n, rng).map_err(model_err)?;
        x.as_mut().subrows_mut(s * args.n, args.n).copy_from(xs.as_ref());
        states.extend(zs);
    }
    Ok((x, states))
}

/// Runs `emfit smooth`.
pub fn smooth(args: &SmoothArgs) -> Result<(), CliError> {
    let m = load_model(&args.model.model)?;
    let loaded = data_for(&m, &args.data)?;
    let out = args.out.as_deref();
    fn posteriors<E: hmm::Emission>(
        model: &hmm::Hmm<E>,
        loaded: &Loaded,
        out: Option<&Path>,
    ) -> Result<(), CliError> {
        let p = model.predict_proba(&sequences(loaded)?).map_err(model_err)?;
        emit(out, p.as_ref(), &names("state", model.n_states()))
    }
    match &m {
        AnyModel::Gmm(_) => Err(usage!(
            "smooth needs a sequence model (hmm, gmmhmm, categorical-hmm, lgssm); for a gmm use `emfit predict --proba`"
        )),
        AnyModel::GaussianHmm(h) => posteriors(h, &loaded, out),
        AnyModel::GmmHmm(h) => posteriors(h, &loaded, out),
        AnyModel::CategoricalHmm(h) => posteriors(h, &loaded, out),
        AnyModel::Lgssm(m) => {
            let (states, header) = lgssm::states(m, &loaded, true)?;
            emit(out, states.as_ref(), &header)
        }
        other => Err(unsupported(other.kind(), "smooth")),
    }
}
