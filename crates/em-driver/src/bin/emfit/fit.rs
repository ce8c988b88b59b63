//! `emfit fit`: one model family fitted to a data file by the driver's EM loop.

use std::io::Write;
use std::time::Duration;

use em_driver::hmm::{self, Sequences};
use em_driver::io;
use em_driver::mixture::{self, CovarianceType};
use em_driver::models::{CategoricalHmm, GaussianHmm, Gmm, GmmHmm, GmmInit};
use em_driver::{EmModel, Fit, ModelFile, OnFall, Settings, Start, Tolerance};

use crate::args::{CovarianceArg, Family, FitArgs, OnFallArg};
use crate::error::{CliError, usage};
use crate::input::{self, Loaded};
use crate::progress::Progress;
use crate::summary;

/// Runs `emfit fit`.
pub fn run(args: &FitArgs) -> Result<(), CliError> {
    check_flags(args)?;
    let settings = settings(args)?;
    let loaded = input::load(&args.data)?;
    check_sizes(args, &loaded)?;
    match args.family {
        Family::Gmm => fit_gmm(args, &loaded, &settings),
        Family::Hmm => fit_gaussian_hmm(args, &loaded, &settings),
        Family::Gmmhmm => fit_gmm_hmm(args, &loaded, &settings),
        Family::CategoricalHmm => fit_categorical_hmm(args, &loaded, &settings),
        Family::Lgssm => crate::lgssm::fit(args, &loaded, &settings),
    }
}

/// The flags that only some families take.
fn check_flags(args: &FitArgs) -> Result<(), CliError> {
    let family = family_name(args.family);
    let reject = |given: bool, flag: &str, who: &str| {
        if given {
            Err(usage!("{flag} applies to {who}, not to {family}"))
        } else {
            Ok(())
        }
    };
    reject(
        args.mixtures.is_some() && args.family != Family::Gmmhmm,
        "--mixtures",
        "gmmhmm",
    )?;
    reject(
        args.symbols.is_some() && args.family != Family::CategoricalHmm,
        "--symbols",
        "categorical-hmm",
    )?;
    reject(
        args.state_dim.is_some() && args.family != Family::Lgssm,
        "--state-dim",
        "lgssm",
    )?;
    reject(
        args.covariance.is_some() && matches!(args.family, Family::CategoricalHmm | Family::Lgssm),
        "--covariance",
        "gmm, hmm and gmmhmm",
    )?;
    reject(
        args.components.is_some() && args.family == Family::Lgssm,
        "--components",
        "gmm and the HMMs",
    )?;
    if args.family != Family::Lgssm {
        input::no_missing(&args.data, family)?;
    }
    if args.family == Family::Gmm {
        input::no_lengths(&args.data, family)?;
    }
    if args.init.is_some() && args.restarts > 1 {
        return Err(usage!(
            "--init starts one fit from the given parameters; it cannot be combined with --restarts"
        ));
    }
    Ok(())
}

/// Largest number of hidden states (the transition matrix has K^2 entries).
const MAX_STATES: usize = 2_000;
/// Largest number of entries of a model's parameter tables (e.g. K x M emission
/// probabilities, K M d^2 covariances).
const MAX_TABLE: usize = 10_000_000;
/// Largest number of values of the per-step covariances of an lgssm (T n^2).
const MAX_ENTRIES: usize = 250_000_000;

/// Size flags against the data, before any allocation depends on them: a
/// hostile or mistyped number is a clear error, never an out-of-memory abort.
/// (`--restarts` is bounded by the driver's own `Settings` validation.)
fn check_sizes(args: &FitArgs, loaded: &Loaded) -> Result<(), CliError> {
    let (n, d) = (loaded.data.nrows(), loaded.data.ncols());
    if let Some(k) = args.components {
        if k == 0 {
            return Err(usage!("--components must be at least 1"));
        }
        if k > n {
            return Err(usage!(
                "--components {k} is more than the {n} observations of the data"
            ));
        }
        if args.family != Family::Gmm && k > MAX_STATES {
            return Err(usage!(
                "--components {k} is more than the {MAX_STATES} hidden states accepted"
            ));
        }
    }
    let k = args.components.unwrap_or(2);
    if let Some(m) = args.mixtures {
        if m == 0 || m > n {
            return Err(usage!(
                "--mixtures must be between 1 and the {n} observations of the data, got {m}"
            ));
        }
        if k.saturating_mul(m).saturating_mul(d).saturating_mul(d) > MAX_TABLE {
            return Err(usage!(
                "{k} states x {m} mixture components in {d} dimensions are too many parameters"
            ));
        }
    }
    if let Some(symbols) = args.symbols
        && (symbols == 0 || k.saturating_mul(symbols) > MAX_TABLE)
    {
        return Err(usage!(
            "--symbols must be between 1 and {} for {k} states, got {symbols}",
            MAX_TABLE / k
        ));
    }
    if args.family == Family::Lgssm {
        let state = args.state_dim.unwrap_or(d);
        if state == 0 {
            return Err(usage!("--state-dim must be at least 1"));
        }
        let per_step = state.saturating_mul(state).max(d.saturating_mul(state));
        if n.saturating_mul(per_step) > MAX_ENTRIES {
            return Err(usage!(
                "a state dimension of {state} over {n} time steps needs too much memory \
                 (T n^2 = {} values; at most {MAX_ENTRIES})",
                n.saturating_mul(per_step)
            ));
        }
    }
    Ok(())
}

fn family_name(family: Family) -> &'static str {
    match family {
        Family::Gmm => "gmm",
        Family::Hmm => "hmm",
        Family::Gmmhmm => "gmmhmm",
        Family::CategoricalHmm => "categorical-hmm",
        Family::Lgssm => "lgssm",
    }
}

/// The driver settings from the flags (validated by the driver).
fn settings(args: &FitArgs) -> Result<Settings, CliError> {
    let budget = match args.time_budget {
        None => None,
        Some(s) if s.is_finite() && s > 0.0 && s < 1e9 => Some(Duration::from_secs_f64(s)),
        Some(s) => {
            return Err(usage!(
                "--time-budget must be a positive number of seconds, got {s}"
            ));
        }
    };
    Ok(Settings::builder()
        .max_iterations(args.max_iter)
        .tolerance(Tolerance {
            absolute: args.tol,
            relative: args.rel_tol,
        })
        .restarts(args.restarts)
        .seed(args.seed)
        .time_budget(budget)
        .on_fall(match args.on_fall {
            OnFallArg::Stop => OnFall::StopKeepBest,
            OnFallArg::Continue => OnFall::Continue,
        })
        .build()?)
}

fn covariance_type(arg: Option<CovarianceArg>, default: CovarianceType) -> CovarianceType {
    match arg {
        None => default,
        Some(CovarianceArg::Full) => CovarianceType::Full,
        Some(CovarianceArg::Diag) => CovarianceType::Diagonal,
        Some(CovarianceArg::Spherical) => CovarianceType::Spherical,
        Some(CovarianceArg::Tied) => CovarianceType::Tied,
    }
}

/// The parameters to learn, by canonical name.
pub struct LearnFlags(Vec<String>);

impl LearnFlags {
    /// Parses `--learn` against the canonical names (and their aliases) of a family.
    pub fn parse(args: &FitArgs, names: &[(&'static str, &[&str])]) -> Result<Self, CliError> {
        if args.learn.is_empty() {
            return Ok(Self(names.iter().map(|(n, _)| n.to_string()).collect()));
        }
        let mut chosen = Vec::new();
        for item in &args.learn {
            let item = item.trim();
            if item.eq_ignore_ascii_case("all") {
                chosen.extend(names.iter().map(|(n, _)| n.to_string()));
                continue;
            }
            let hit = names.iter().find(|(n, aliases)| {
                n.eq_ignore_ascii_case(item) || aliases.iter().any(|a| a.eq_ignore_ascii_case(item))
            });
            match hit {
                Some((n, _)) => chosen.push(n.to_string()),
                None => {
                    let valid: Vec<&str> = names.iter().map(|(n, _)| *n).collect();
                    return Err(usage!(
                        "--learn: unknown parameter '{item}' for {} (valid: {}, all)",
                        family_name(args.family),
                        valid.join(", ")
                    ));
                }
            }
        }
        Ok(Self(chosen))
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|n| n == name)
    }
}

/// Runs the driver with the progress display and prints the report.
pub fn run_driver<M>(
    data: M::Data<'_>,
    start: Start<M>,
    options: &M::Options,
    settings: &Settings,
    args: &FitArgs,
) -> Result<Fit<M>, CliError>
where
    M: EmModel + ModelFile,
{
    let mut progress = Progress::new(args.quiet);
    let fit = em_driver::fit_observed(data, start, options, settings, &mut progress)?;
    if !args.quiet {
        let mut out = std::io::stdout().lock();
        writeln!(out)?;
        let report = fit.report.to_string();
        writeln!(out, "{}", report.trim_end())?;
    }
    Ok(fit)
}

/// Saves the model (atomically) if `--out` was given and says so.
pub fn save<M: ModelFile>(model: &M, args: &FitArgs) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match &args.out {
        Some(path) => {
            model.save(path)?;
            if !args.quiet {
                writeln!(out, "model written to {}", path.display())?;
            }
        }
        None => {
            if !args.quiet {
                writeln!(out, "(model not saved: pass --out FILE to write it)")?;
            }
        }
    }
    Ok(())
}

fn warm<M: ModelFile>(args: &FitArgs) -> Result<Option<M>, CliError> {
    args.init
        .as_deref()
        .map(|path| M::load(path).map_err(|e| crate::error::in_model_file(path, e)))
        .transpose()
}

fn fit_gmm(args: &FitArgs, loaded: &Loaded, settings: &Settings) -> Result<(), CliError> {
    let x = loaded.data.as_ref();
    let learn = LearnFlags::parse(
        args,
        &[
            ("weights", &["w"]),
            ("means", &["m"]),
            ("covariances", &["c", "covars"]),
        ],
    )?;
    let options = mixture::MStepOptions::default().with_updates(
        learn.has("weights"),
        learn.has("means"),
        learn.has("covariances"),
    );
    let start = match warm::<Gmm>(args)? {
        Some(model) => {
            io::check_columns(&args.data.data, x, model.n_features())?;
            check_k(args, model.n_components())?;
            Start::Warm(model)
        }
        None => Start::FromData(GmmInit::new(
            args.components.unwrap_or(2),
            covariance_type(args.covariance, CovarianceType::Full),
        )),
    };
    let fit = run_driver::<Gmm>(x, start, &options, settings, args)?;
    if !args.quiet {
        let mut out = std::io::stdout().lock();
        write!(out, "{}", summary::gmm(&fit.model))?;
        writeln!(
            out,
            "BIC {:.3}  AIC {:.3}",
            fit.model.bic(x).map_err(em_driver::ModelError::from)?,
            fit.model.aic(x).map_err(em_driver::ModelError::from)?
        )?;
    }
    save(&fit.model, args)
}

fn check_k(args: &FitArgs, k: usize) -> Result<(), CliError> {
    match args.components {
        Some(given) if given != k => Err(usage!(
            "--components {given} conflicts with the {k} components/states of the --init model"
        )),
        _ => Ok(()),
    }
}

fn hmm_learn(
    args: &FitArgs,
    emission: &[(&'static str, &'static [&'static str])],
) -> Result<hmm::Learn, CliError> {
    let mut names: Vec<(&'static str, &[&str])> = vec![
        ("start", &["s", "startprob"]),
        ("transitions", &["t", "transmat"]),
    ];
    names.extend_from_slice(emission);
    let flags = LearnFlags::parse(args, &names)?;
    let mut learn = hmm::Learn::none();
    learn.start = flags.has("start");
    learn.transitions = flags.has("transitions");
    learn.means = flags.has("means");
    learn.covariances = flags.has("covariances");
    learn.weights = flags.has("weights");
    learn.emission_probabilities = flags.has("emissions");
    Ok(learn)
}

fn sequences<'a>(loaded: &'a Loaded) -> Result<Sequences<'a>, CliError> {
    Sequences::new(loaded.data.as_ref(), &loaded.lengths).map_err(crate::error::model)
}

fn hmm_options(learn: hmm::Learn) -> hmm::MStepOptions {
    hmm::MStepOptions {
        learn,
        ..hmm::MStepOptions::default()
    }
}

fn fit_gaussian_hmm(args: &FitArgs, loaded: &Loaded, settings: &Settings) -> Result<(), CliError> {
    let learn = hmm_learn(args, &[("means", &["m"]), ("covariances", &["c", "covars"])])?;
    let seqs = sequences(loaded)?;
    let start = match warm::<GaussianHmm>(args)? {
        Some(model) => {
            io::check_columns(&args.data.data, loaded.data.as_ref(), model.n_features())?;
            check_k(args, model.n_states())?;
            Start::Warm(model)
        }
        None => Start::FromData(hmm::HmmInit {
            n_states: args.components.unwrap_or(2),
            start: None,
            transitions: None,
            emission: hmm::GaussianInit::new(covariance_type(args.covariance, CovarianceType::Full)),
        }),
    };
    let fit = run_driver::<GaussianHmm>(&seqs, start, &hmm_options(learn), settings, args)?;
    finish_hmm(&fit.model, &seqs, args, summary::gaussian_hmm(&fit.model))
}

fn fit_gmm_hmm(args: &FitArgs, loaded: &Loaded, settings: &Settings) -> Result<(), CliError> {
    let learn = hmm_learn(
        args,
        &[
            ("weights", &["w"]),
            ("means", &["m"]),
            ("covariances", &["c", "covars"]),
        ],
    )?;
    let seqs = sequences(loaded)?;
    let start = match warm::<GmmHmm>(args)? {
        Some(model) => {
            io::check_columns(&args.data.data, loaded.data.as_ref(), model.n_features())?;
            check_k(args, model.n_states())?;
            if let Some(m) = args.mixtures.filter(|&m| m != model.emission().n_mix()) {
                return Err(usage!(
                    "--mixtures {m} conflicts with the {} mixture components of the --init model",
                    model.emission().n_mix()
                ));
            }
            Start::Warm(model)
        }
        None => Start::FromData(hmm::HmmInit {
            n_states: args.components.unwrap_or(2),
            start: None,
            transitions: None,
            emission: hmm::GmmInit::new(
                args.mixtures.unwrap_or(2),
                covariance_type(args.covariance, CovarianceType::Diagonal),
            ),
        }),
    };
    let fit = run_driver::<GmmHmm>(&seqs, start, &hmm_options(learn), settings, args)?;
    finish_hmm(&fit.model, &seqs, args, summary::gmm_hmm(&fit.model))
}

fn fit_categorical_hmm(args: &FitArgs, loaded: &Loaded, settings: &Settings) -> Result<(), CliError> {
    let learn = hmm_learn(args, &[("emissions", &["e", "emissionprob"])])?;
    let symbols = io::to_symbols(&args.data.data, loaded.data.as_ref())?;
    let largest = symbols.iter().copied().max().unwrap_or(0);
    let seqs = sequences(loaded)?;
    let start = match warm::<CategoricalHmm>(args)? {
        Some(model) => {
            check_k(args, model.n_states())?;
            check_symbols(args, largest, model.emission().n_symbols())?;
            Start::Warm(model)
        }
        None => {
            if let Some(m) = args.symbols {
                check_symbols(args, largest, m)?;
            }
            Start::FromData(hmm::HmmInit {
                n_states: args.components.unwrap_or(2),
                start: None,
                transitions: None,
                emission: hmm::CategoricalInit {
                    n_symbols: args.symbols,
                    probabilities: None,
                },
            })
        }
    };
    let fit = run_driver::<CategoricalHmm>(&seqs, start, &hmm_options(learn), settings, args)?;
    finish_hmm(&fit.model, &seqs, args, summary::categorical_hmm(&fit.model))
}

fn check_symbols(args: &FitArgs, largest: usize, n_symbols: usize) -> Result<(), CliError> {
    if largest >= n_symbols {
        Err(usage!(
            "{}: symbol {largest} is out of range for a model with {n_symbols} symbols (0..{})",
            args.data.data.display(),
            n_symbols - 1
        ))
    } else {
        Ok(())
    }
}

fn finish_hmm<E: hmm::Emission>(
    model: &hmm::Hmm<E>,
    seqs: &Sequences<'_>,
    args: &FitArgs,
    description: String,
) -> Result<(), CliError>
where
    hmm::Hmm<E>: ModelFile,
{
    if !args.quiet {
        let mut out = std::io::stdout().lock();
        write!(out, "{description}")?;
        let bic = model.bic(seqs).map_err(em_driver::ModelError::from)?;
        let aic = model.aic(seqs).map_err(em_driver::ModelError::from)?;
        writeln!(out, "BIC {bic:.3}  AIC {aic:.3}")?;
    }
    save(model, args)
}
