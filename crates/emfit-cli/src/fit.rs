//! `emfit fit`: the command line parsed once into a typed [`FitRequest`] of
//! one model family, then one generic path for every family: load the data
//! (and the `--init` model), start, fit with the progress display, report,
//! save.
//!
//! What differs between families is the small [`Family`] trait, implemented
//! once per family in the `family` module. Under mpirun (cargo feature
//! `mpi`), the same request runs distributed over the ranks (the
//! `distributed` module).

use std::io::Write;
use std::path::{Path, PathBuf};

use em_driver::hmm::variational::{VariationalCategoricalHmm, VariationalGaussianHmm};
use em_driver::hmm::{CategoricalHmm, GaussianHmm, GmmHmm};
use em_driver::mixture::GaussianMixture;
use em_driver::mixture::variational::VariationalMixture;
use em_driver::statespace::em::WithInputs;
use em_driver::{
    Acceleration, Convergence, EmModel, Fit, LearnSet, ModelFile, OnFall, Parameter, Settings, Start,
    Tolerance, UnknownParameter,
};

use crate::args::{self, AccelerationArg, DataArgs, EmissionArg, FamilyArg, FitArgs, OnFallArg, StopArg};
use crate::error::{CliError, in_model_file, usage};
use crate::files::check_outputs;
use crate::input::{self, Loaded};
use crate::json;
use crate::limits::{check_memory, f64_bytes};
use crate::messages::fit_error;
use crate::progress::Progress;
use crate::time_varying::TimeVaryingViews;

/// Runs `emfit fit`; with `as_json`, the report is one JSON object.
pub fn run(args: &FitArgs, as_json: bool) -> Result<(), CliError> {
    if let Some(chunk_rows) = args.chunk_rows {
        return crate::out_of_core::run(args, chunk_rows, as_json);
    }
    fn fit<F: Family>(args: &FitArgs, as_json: bool) -> Result<(), CliError> {
        #[cfg(feature = "mpi")]
        if crate::distributed::launched_by_mpirun() {
            return crate::distributed::run::<F>(args, as_json);
        }
        FitRequest::<F>::parse(args)?.run(as_json)
    }
    match args.family {
        FamilyArg::Gmm => fit::<GaussianMixture>(args, as_json),
        FamilyArg::Hmm => fit::<GaussianHmm>(args, as_json),
        FamilyArg::Gmmhmm => fit::<GmmHmm>(args, as_json),
        FamilyArg::CategoricalHmm => fit::<CategoricalHmm>(args, as_json),
        FamilyArg::Lgssm => fit::<WithInputs>(args, as_json),
        FamilyArg::Bgmm => fit::<VariationalMixture>(args, as_json),
        FamilyArg::Vhmm => match args.emission {
            Some(EmissionArg::Categorical) => fit::<VariationalCategoricalHmm>(args, as_json),
            Some(EmissionArg::Gaussian) => fit::<VariationalGaussianHmm>(args, as_json),
            None => Err(usage!("vhmm needs --emission categorical or --emission gaussian")),
        },
    }
}

/// The per-family part of `emfit fit`; everything else is [`FitRequest`]'s.
///
/// A family parses its own flags into a typed [`Family::Request`] (checked
/// against the data), turns the data into the form its fit borrows, says how
/// a fit starts from the data or from an `--init` model, and describes a
/// fitted model.
///
/// Every family's statistics have a flat form ([`em_driver::FlatStats`]),
/// which a fit under mpirun exchanges between the ranks.
pub trait Family:
    EmModel<Error: Into<em_driver::ModelError>, Stats: em_driver::FlatStats> + ModelFile
{
    /// The family's name on the command line and in messages (`gmm`, `hmm`, ...).
    const NAME: &'static str;
    /// The flags of [`Flag`] the family takes (the others are refused).
    const FLAGS: &'static [Flag];
    /// What the family's flags ask for (sizes, covariance type, `--learn`, ...).
    type Request;
    /// The data in the form a fit borrows ([`EmModel::Data`] borrows from it).
    type Input<'a>;

    /// Parses the family's flags and checks them against the data.
    fn request(args: &FitArgs, data: &Loaded) -> Result<Self::Request, CliError>;
    /// The data as the fit takes them (e.g. split into sequences, with
    /// their time-varying matrices `steps`, views of the data's).
    fn input<'a>(data: &'a Loaded, steps: &'a TimeVaryingViews<'a>) -> Result<Self::Input<'a>, CliError>;
    /// The borrowed view of [`Family::input`] that the fit runs on.
    fn view<'b>(input: &'b Self::Input<'_>) -> Self::Data<'b>;
    /// The M-step options of the request (which blocks are learned, ...).
    fn options(request: &Self::Request) -> Self::Options;
    /// The start of a fit without `--init`: usually an initialisation from
    /// the data by the loop (one per restart).
    fn start(
        request: &Self::Request,
        data: Self::Data<'_>,
        settings: &Settings,
    ) -> Result<Start<Self>, CliError>;
    /// An `--init` model checked against the request and the data (and set up
    /// as the request asks).
    fn check_warm(self, request: &Self::Request, data: &Loaded) -> Result<Self, CliError>;
    /// A short description of a fitted model (starting with an empty line).
    fn describe(&self) -> String;
    /// BIC and AIC of the model on the data; `None` where they are not
    /// defined (a variational posterior maximises a bound, not a
    /// likelihood).
    fn criteria(&self, data: Self::Data<'_>) -> Result<Option<(f64, f64)>, CliError>;
    /// The observations of the data that BIC counts (`N` of
    /// [`information_criteria`]), for a fit whose data are split over
    /// ranks.
    #[cfg(feature = "mpi")]
    fn observations(&self, data: Self::Data<'_>) -> Result<usize, CliError>;
    /// The free parameters of the model (`k` of [`information_criteria`]);
    /// `None` where BIC and AIC are not defined (see [`Family::criteria`]).
    #[cfg(feature = "mpi")]
    fn n_parameters(&self) -> Option<usize>;
}

/// BIC `−2 ln L + k ln N` and AIC `−2 ln L + 2k` of a model of `k` free
/// parameters whose log-likelihood on `N` observations is `ln L`.
pub fn information_criteria(log_likelihood: f64, k: usize, n: usize) -> (f64, f64) {
    let k = k as f64;
    (
        -2.0 * log_likelihood + k * (n as f64).ln(),
        -2.0 * log_likelihood + 2.0 * k,
    )
}

/// `emfit fit`, parsed and checked: the data, the loop's settings, the
/// `--init` model and the family's own request.
pub struct FitRequest<F: Family> {
    /// The data (under mpirun, this rank's part).
    pub data: Loaded,
    /// The loop's settings.
    pub settings: Settings,
    /// The `--init` model, checked.
    pub init: Option<F>,
    /// The family's own request.
    pub family: F::Request,
    /// `--out`.
    pub out: Option<PathBuf>,
    /// `--quiet`.
    pub quiet: bool,
}

impl<F: Family> FitRequest<F> {
    /// Parses the command line for family `F`, loading the data and the
    /// `--init` model: the usage errors are found here, before any fitting.
    pub fn parse(args: &FitArgs) -> Result<Self, CliError> {
        Self::parse_with(args, input::load)
    }

    /// [`FitRequest::parse`] with the data read by `read` (under mpirun,
    /// the rows of one rank).
    pub fn parse_with(
        args: &FitArgs,
        read: impl FnOnce(&DataArgs) -> Result<Loaded, CliError>,
    ) -> Result<Self, CliError> {
        check_flags::<F>(args)?;
        let settings = settings(args)?;
        let data = read(&args.data)?;
        let family = F::request(args, &data)?;
        let init = match args.init.as_deref() {
            Some(path) => Some(load::<F>(path)?.check_warm(&family, &data)?),
            None => None,
        };
        Ok(Self {
            data,
            settings,
            init,
            family,
            out: args.out.clone(),
            quiet: args.quiet,
        })
    }

    /// Fits, prints the report and the fitted model (or its JSON object),
    /// and saves it.
    pub fn run(self, as_json: bool) -> Result<(), CliError> {
        let steps = self.data.time_varying.views();
        let input = F::input(&self.data, &steps)?;
        let data = F::view(&input);
        let start = match self.init {
            Some(model) => Start::Warm(model),
            None => F::start(&self.family, data, &self.settings)?,
        };
        let mut progress = Progress::new(self.quiet || as_json);
        let options = F::options(&self.family);
        let fit = em_driver::fit_observed(data, start, &options, &self.settings, &mut progress)
            .map_err(|e| fit_error(&self.data, e))?;
        finish(
            &fit,
            || fit.model.criteria(data),
            self.out.as_deref(),
            self.quiet,
            as_json.then_some(&[]),
        )
    }
}

/// Prints the report of `fit` (or its JSON object, with the `extra` fields)
/// with its BIC and AIC (`criteria`, computed unless `quiet`), and saves
/// the model to `out`.
pub fn finish<F: Family>(
    fit: &Fit<F>,
    criteria: impl FnOnce() -> Result<Option<(f64, f64)>, CliError>,
    out: Option<&Path>,
    quiet: bool,
    extra: Option<&[(&str, json::Value)]>,
) -> Result<(), CliError> {
    if let Some(extra) = extra {
        if let Some(path) = out {
            fit.model.save(path)?;
        }
        let mut object = report_json(fit, criteria()?, out);
        for (key, value) in extra {
            object[*key] = value.clone();
        }
        return json::print(&object);
    }
    if !quiet {
        report(fit, criteria()?)?;
    }
    save(&fit.model, out, quiet)
}

/// A flag of `emfit fit` that only some families take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    /// `--mixtures`.
    Mixtures,
    /// `--symbols`.
    Symbols,
    /// `--state-dim`.
    StateDim,
    /// `--covariance`.
    Covariance,
    /// `--components`.
    Components,
    /// `--reg-covar`.
    RegCovar,
    /// `--weight-prior`.
    WeightPrior,
    /// `--weight-concentration`.
    WeightConcentration,
    /// `--emission`.
    Emission,
}

impl Flag {
    /// Every such flag, in the order they are checked.
    const ALL: [Self; 9] = [
        Self::Mixtures,
        Self::Symbols,
        Self::StateDim,
        Self::Covariance,
        Self::Components,
        Self::RegCovar,
        Self::WeightPrior,
        Self::WeightConcentration,
        Self::Emission,
    ];

    fn given(self, args: &FitArgs) -> bool {
        match self {
            Self::Mixtures => args.mixtures.is_some(),
            Self::Symbols => args.symbols.is_some(),
            Self::StateDim => args.state_dim.is_some(),
            Self::Covariance => args.covariance.is_some(),
            Self::Components => args.components.is_some(),
            Self::RegCovar => args.reg_covar.is_some(),
            Self::WeightPrior => args.weight_prior.is_some(),
            Self::WeightConcentration => args.weight_concentration.is_some(),
            Self::Emission => args.emission.is_some(),
        }
    }

    /// The flag and the families that take it.
    fn describe(self) -> (&'static str, &'static str) {
        match self {
            Self::Mixtures => ("--mixtures", "gmmhmm"),
            Self::Symbols => ("--symbols", "categorical-hmm and vhmm --emission categorical"),
            Self::StateDim => ("--state-dim", "lgssm"),
            Self::Covariance => (
                "--covariance",
                "gmm, bgmm, hmm, gmmhmm and vhmm --emission gaussian",
            ),
            Self::Components => ("--components", "gmm, bgmm and the HMMs"),
            Self::RegCovar => ("--reg-covar", "gmm, bgmm, hmm and gmmhmm"),
            Self::WeightPrior => ("--weight-prior", "bgmm"),
            Self::WeightConcentration => ("--weight-concentration", "bgmm"),
            Self::Emission => ("--emission", "vhmm"),
        }
    }
}

/// The flags family `F` does not take, and the combinations no fit takes.
fn check_flags<F: Family>(args: &FitArgs) -> Result<(), CliError> {
    if let Some(flag) = Flag::ALL
        .into_iter()
        .find(|f| f.given(args) && !F::FLAGS.contains(f))
    {
        let (flag, takers) = flag.describe();
        return Err(usage!("{flag} applies to {takers}, not to {}", F::NAME));
    }
    input::check_flags(&args.data, F::KIND, F::NAME)?;
    if args.init.is_some() && args.restarts > 1 {
        return Err(usage!(
            "--init starts one fit from the given parameters; it cannot be combined with --restarts"
        ));
    }
    if let (Some(init), Some(_)) = (&args.init, args.covariance) {
        return Err(usage!(
            "--covariance conflicts with --init: the covariance structure comes from the --init model {}",
            init.display()
        ));
    }
    let mut inputs = vec![
        ("--data", Some(args.data.data.as_path())),
        ("--lengths", args.data.lengths.as_deref()),
        ("--inputs", args.data.inputs.as_deref()),
    ];
    inputs.extend(args.data.matrices.files());
    check_outputs(&[("--out", args.out.as_deref())], &inputs)
}

/// The loop's settings from the flags (validated by [`Settings`]' builder).
fn settings(args: &FitArgs) -> Result<Settings, CliError> {
    let budget = args.time_budget.map(args::time_budget).transpose()?;
    let tolerance = Tolerance {
        absolute: args::non_negative("--tol", args.tol)?,
        relative: args::non_negative("--rel-tol", args.rel_tol)?,
    };
    let convergence = match args.stop {
        StopArg::Remaining => Convergence::Remaining(tolerance),
        StopArg::Gain => Convergence::LogLikelihood(tolerance),
        StopArg::Params => Convergence::ParameterChange {
            relative: args::non_negative("--param-tol", args.param_tol)?,
        },
        StopArg::Iterations => Convergence::FixedIterations,
    };
    let acceleration = match args.acceleration {
        AccelerationArg::Squarem => Acceleration::squarem(),
        AccelerationArg::None => Acceleration::None,
    };
    Ok(Settings::builder()
        .acceleration(acceleration)
        .max_iterations(args.max_iter)
        .convergence(convergence)
        .restarts(args.restarts)
        .seed(args::seed("--seed", args.seed)?)
        .time_budget(budget)
        .on_fall(match args.on_fall {
            OnFallArg::Stop => OnFall::StopKeepBest,
            OnFallArg::Continue => OnFall::Continue,
        })
        .build()?)
}

/// `--learn` (its `items`) for a family whose blocks are `blocks`: the
/// blocks named (case-insensitively, or by one of the old `aliases`), `all`
/// (every block of the family) or `none`; without the flag, every block.
pub fn learn_set<P: Parameter>(
    items: &[String],
    family: &str,
    blocks: &[P],
    aliases: &[(&str, P)],
) -> Result<LearnSet<P>, CliError> {
    let every = LearnSet::only(blocks);
    let unknown = |name: &str| {
        let valid: Vec<&str> = blocks.iter().map(|b| b.name()).collect();
        usage!(
            "--learn: unknown parameter '{name}' for {family} (valid: {}, all, none)",
            valid.join(", ")
        )
    };
    let mut names = Vec::new();
    let mut all = items.is_empty();
    for item in items.iter().map(|item| item.trim()) {
        if item.eq_ignore_ascii_case("all") {
            all = true;
        } else if !item.eq_ignore_ascii_case("none") {
            let alias = aliases.iter().find(|(alias, _)| alias.eq_ignore_ascii_case(item));
            names.push(alias.map_or(item, |&(_, block)| block.name()));
        }
    }
    let named: LearnSet<P> = names
        .join(",")
        .parse()
        .map_err(|e: UnknownParameter| unknown(&e.name))?;
    // A block of the model that this family's emission does not have.
    if let Some(other) = named.iter().find(|b| !blocks.contains(b)) {
        return Err(unknown(other.name()));
    }
    Ok(if all { every } else { named })
}

/// `--components` (default 2), checked against the observations of the
/// data file, for hidden states against `max_states`, and against the
/// memory of the `n x K` tables of an E-step over the `n` rows `data` holds
/// (one rank's under mpirun).
pub fn components(args: &FitArgs, data: &Loaded, max_states: Option<usize>) -> Result<usize, CliError> {
    let Some(k) = args.components else {
        return Ok(2);
    };
    let n = data.rows_in_file();
    if k == 0 {
        return Err(usage!("--components must be at least 1"));
    }
    if k > n {
        return Err(usage!(
            "--components {k} is more than the {n} observations of the data"
        ));
    }
    if let Some(max) = max_states.filter(|&max| k > max) {
        return Err(usage!(
            "--components {k} is more than the {max} hidden states accepted"
        ));
    }
    // Per observation and component: the log-density, the responsibility
    // (posterior) and a working copy.
    let rows = data.x().nrows();
    check_memory(
        &format!("--components {k} over {rows} observations"),
        f64_bytes(&[rows, k, 3]),
    )?;
    Ok(k)
}

/// An `--init` given with `--components` of another size.
pub fn check_components(given: Option<usize>, k: usize) -> Result<(), CliError> {
    match given {
        Some(given) if given != k => Err(usage!(
            "--components {given} conflicts with the {k} components/states of the --init model"
        )),
        _ => Ok(()),
    }
}

fn load<F: ModelFile>(path: &Path) -> Result<F, CliError> {
    F::load(path).map_err(|e| in_model_file(path, e))
}

/// The loop's report, the fitted model and its information criteria.
fn report<F: Family>(fit: &Fit<F>, criteria: Option<(f64, f64)>) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    writeln!(out)?;
    let report = fit.report.to_string();
    writeln!(out, "{}", report.trim_end())?;
    writeln!(
        out,
        "kernels: {} instruction set",
        em_driver::linalg_kernels::isa::Isa::detect()
    )?;
    write!(out, "{}", fit.model.describe())?;
    if let Some((bic, aic)) = criteria {
        writeln!(out, "BIC {bic:.3}  AIC {aic:.3}")?;
    }
    Ok(())
}

/// The JSON object of `emfit fit --json`: the loop's report (every
/// log-likelihood of the history at full precision), BIC and AIC, and where
/// the model was written (BIC and AIC `null` where they are not defined).
fn report_json<F: Family>(fit: &Fit<F>, criteria: Option<(f64, f64)>, out: Option<&Path>) -> json::Value {
    let r = &fit.report;
    json::json!({
        "command": "fit",
        "family": F::NAME,
        "termination": r.termination.to_string(),
        "converged": r.converged(),
        "iterations": r.iterations,
        "returned_iteration": r.returned_iteration,
        "log_likelihood": r.log_likelihood,
        "history": r.history,
        "e_steps": r.work.e_steps,
        "m_steps": r.work.m_steps,
        "extrapolations": {
            "accepted": r.work.accepted,
            "shortened": r.work.shortened,
            "rejected": r.work.rejected,
        },
        "falls": r.falls.len(),
        "best_restart": r.best_restart,
        "restarts": r.restarts.len(),
        "elapsed_seconds": r.elapsed.as_secs_f64(),
        "bic": criteria.map(|c| c.0),
        "aic": criteria.map(|c| c.1),
        "model_file": out.map(|p| p.display().to_string()),
    })
}

/// Saves the model (atomically) if `--out` was given and says so.
fn save<M: ModelFile>(model: &M, path: Option<&Path>, quiet: bool) -> Result<(), CliError> {
    if let Some(path) = path {
        model.save(path)?;
    }
    if !quiet {
        let mut out = std::io::stdout().lock();
        match path {
            Some(path) => writeln!(out, "model written to {}", path.display())?,
            None => writeln!(out, "(model not saved: pass --out FILE to write it)")?,
        }
    }
    Ok(())
}

/// `--reg-covar`, checked: the absolute covariance floor asked for, if any.
pub fn reg_covar(args: &FitArgs) -> Result<Option<f64>, CliError> {
    args.reg_covar
        .map(|x| args::non_negative("--reg-covar", x))
        .transpose()
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use em_driver::hmm::Param as Hmm;
    use em_driver::statespace::Param as Ssm;

    use super::*;
    use crate::args::{Cli, Command};

    fn fit_args(learn: &[&str]) -> FitArgs {
        let mut argv = vec!["emfit", "fit", "hmm", "--data", "x.csv"];
        for item in learn {
            argv.extend(["--learn", item]);
        }
        match Cli::try_parse_from(argv).expect("a valid command line").command {
            Command::Fit(args) => args,
            _ => unreachable!("a fit command"),
        }
    }

    const CHAIN_AND_MEANS: &[Hmm] = &[Hmm::Start, Hmm::Transitions, Hmm::Means];

    fn learn(items: &[&str]) -> Result<LearnSet<Hmm>, CliError> {
        learn_set(
            &fit_args(items).learn,
            "hmm",
            CHAIN_AND_MEANS,
            &[("t", Hmm::Transitions)],
        )
    }

    #[test]
    fn learn_takes_names_aliases_all_and_none() {
        let every = LearnSet::only(CHAIN_AND_MEANS);
        assert_eq!(learn(&[]).unwrap(), every);
        assert_eq!(learn(&["all"]).unwrap(), every);
        assert_eq!(learn(&["NONE"]).unwrap(), LearnSet::none());
        assert_eq!(
            learn(&["t,MEANS"]).unwrap(),
            LearnSet::only(&[Hmm::Transitions, Hmm::Means])
        );
        assert_eq!(learn(&["start", "means,all"]).unwrap(), every);
        let lgssm = learn_set(&fit_args(&["a,m,p0"]).learn, "lgssm", Ssm::ALL, &[("m", Ssm::M0)]);
        assert_eq!(lgssm.unwrap(), LearnSet::only(&[Ssm::A, Ssm::M0, Ssm::P0]));
    }

    #[test]
    fn learn_refuses_blocks_the_family_does_not_have() {
        for (items, name) in [(&["weights"][..], "'weights'"), (&["means,slope"], "'slope'")] {
            let message = learn(items).expect_err("an unknown block").to_string();
            assert!(message.contains(name), "{message}");
            assert!(
                message.contains("for hmm (valid: start, transitions, means, all, none)"),
                "{message}"
            );
        }
    }
}
