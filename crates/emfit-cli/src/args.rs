//! The command line, declared with clap's derive API.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::error::{CliError, usage};

/// Fit Gaussian mixtures, hidden Markov models and linear Gaussian state-space
/// models by EM.
#[derive(Debug, Parser)]
#[command(name = "emfit", version, propagate_version = true)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
    /// Number of worker threads (default: all cores; at most 4 per core).
    #[arg(long, global = true, value_name = "N")]
    pub threads: Option<usize>,
    /// Print one JSON object on standard output instead of text, with every
    /// number in its shortest form that reads back to the same f64 (full
    /// precision); tables go into it unless --out names a file.
    #[arg(long, global = true)]
    pub json: bool,
}

/// The numbers of the command line are parsed as given, negative ones
/// included (`allow_negative_numbers`), and range-checked by the commands
/// with these functions, so that a message says what is wrong with the
/// value rather than that the parser saw an unknown flag.
///
/// `flag` as a finite number ≥ 0 (a tolerance).
pub fn non_negative(flag: &str, x: f64) -> Result<f64, CliError> {
    if x >= 0.0 && x.is_finite() {
        Ok(x)
    } else {
        Err(usage!("{flag} must be a finite number ≥ 0, got {x}"))
    }
}

/// `flag` as a seed, an integer from 0 to 2^64 − 1.
pub fn seed(flag: &str, x: i128) -> Result<u64, CliError> {
    u64::try_from(x).map_err(|_| usage!("{flag} must be an integer from 0 to {}, got {x}", u64::MAX))
}

/// `flag` as a count of at least 1.
pub fn positive(flag: &str, x: i128) -> Result<usize, CliError> {
    match usize::try_from(x) {
        Ok(n) if n > 0 => Ok(n),
        _ if x > 0 => Err(usage!(
            "{flag} {x} is more than this machine can count ({})",
            usize::MAX
        )),
        _ => Err(usage!("{flag} must be at least 1, got {x}")),
    }
}

/// `--time-budget` as a duration: a positive number of seconds below 10^9.
pub fn time_budget(x: f64) -> Result<std::time::Duration, CliError> {
    if x.is_finite() && x > 0.0 && x < 1e9 {
        Ok(std::time::Duration::from_secs_f64(x))
    } else {
        Err(usage!(
            "--time-budget must be a positive number of seconds (below 10^9), got {x}"
        ))
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the three example scenarios on generated data and print what EM found.
    Demo(DemoArgs),
    /// Fit a model to data and save it as a JSON model file.
    Fit(FitArgs),
    /// Most likely component or hidden state of every observation (Viterbi for HMMs),
    /// or with --proba their posterior probabilities; filtered state means for lgssm.
    Predict(PredictArgs),
    /// Log-likelihood of data under a model, with BIC and AIC.
    Score(ScoreArgs),
    /// Draw observations (and their hidden labels) from a model.
    Sample(SampleArgs),
    /// Smoothed hidden states: posterior state probabilities (HMMs) or
    /// Rauch-Tung-Striebel means and standard deviations (lgssm).
    Smooth(SmoothArgs),
    /// k-step-ahead forecasts of an lgssm's observations (means and standard
    /// deviations) past the end of the data or any step of it.
    Forecast(ForecastArgs),
    /// One-step prediction errors (innovations) of an lgssm on data, their standard
    /// deviations and standardised residuals, with a summary for checking the model.
    Innovations(InnovationsArgs),
    /// Kalman filter of an lgssm one line at a time: each line of standard input
    /// (the p observations, empty or NaN when missing, then the m inputs) is
    /// answered at once by a line of the filtered state means and standard deviations.
    Filter(FilterArgs),
}

/// Options of `emfit demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Write SVG plots of each scenario into this folder (created if missing).
    #[arg(long, value_name = "DIR")]
    pub plots: Option<PathBuf>,
    /// Seed of the generated data and of the fits.
    #[arg(long, default_value_t = 42, allow_negative_numbers = true)]
    pub seed: i128,
    /// Run scenario 3 at the full size of the robot-arm data set (T = 44,484, d = 21).
    #[arg(long)]
    pub full: bool,
    /// Number of time steps of scenario 3 (default 5,000; 44,484 with --full).
    #[arg(long, value_name = "T")]
    pub steps: Option<usize>,
    /// Iteration cap of scenario 3 (its fits stop when converged).
    #[arg(long, default_value_t = 5000, value_name = "N")]
    pub iterations: usize,
    /// Run only these scenarios (1, 2, 3; default all).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub only: Vec<u8>,
    /// Print every n-th row of the convergence logs (0: every row up to 10, every
    /// 10th up to 100, then every 100th; the last row is always printed).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub log_every: usize,
}

impl DemoArgs {
    /// `--seed`, checked (see [`seed`]).
    pub fn seed(&self) -> Result<u64, CliError> {
        seed("--seed", self.seed)
    }
}

/// The model families of `emfit fit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FamilyArg {
    /// Gaussian mixture model.
    Gmm,
    /// Hidden Markov model with Gaussian emissions.
    Hmm,
    /// Hidden Markov model with Gaussian-mixture emissions.
    Gmmhmm,
    /// Hidden Markov model with categorical emissions (data: one column of symbols 0, 1, 2, ...).
    CategoricalHmm,
    /// Linear Gaussian state-space model (Kalman filter / RTS smoother).
    Lgssm,
    /// Variational Bayesian Gaussian mixture (scikit-learn's BayesianGaussianMixture):
    /// --components is an upper bound, components the data do not need get weights near 0.
    Bgmm,
    /// Variational Bayesian hidden Markov model (hmmlearn's VariationalCategoricalHMM and
    /// VariationalGaussianHMM): needs --emission.
    Vhmm,
}

/// The emissions of a vhmm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EmissionArg {
    /// Symbols 0, 1, 2, ... (one data column), Dirichlet posterior rows.
    Categorical,
    /// Gaussian (any --covariance), Normal-Wishart posterior per state (tied: one shared Wishart).
    Gaussian,
}

/// The prior of the mixture weights of a bgmm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WeightPriorArg {
    /// A Dirichlet process (stick-breaking, truncated at --components): the default.
    DirichletProcess,
    /// A symmetric Dirichlet distribution over the --components weights.
    DirichletDistribution,
}

/// Covariance structure of Gaussian components.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CovarianceArg {
    /// A full covariance matrix per component.
    Full,
    /// A diagonal covariance per component.
    Diag,
    /// One variance per component.
    Spherical,
    /// One full covariance shared by all components.
    Tied,
}

/// Header handling of CSV data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HeaderArg {
    /// The first line is a header if it has words and no numbers.
    Auto,
    /// The first line is a header.
    Yes,
    /// There is no header.
    No,
}

/// What to do when the log-likelihood falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnFallArg {
    /// Stop and keep the parameters with the best log-likelihood.
    Stop,
    /// Record the fall and go on.
    Continue,
}

/// How EM is accelerated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AccelerationArg {
    /// SQUAREM extrapolation: the same answer in a fraction of the E-steps.
    Squarem,
    /// Plain EM: one E-step and one M-step per iteration (the trajectories of
    /// scikit-learn, hmmlearn and pykalman).
    None,
}

/// When a fit stops (besides --max-iter, --time-budget and a fall).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StopArg {
    /// The gain still to come, estimated from the last two EM steps, is within
    /// --tol / --rel-tol (so a slowly crawling fit is not stopped far from
    /// the answer).
    Remaining,
    /// The log-likelihood gain of an EM step is within --tol / --rel-tol (the
    /// rule of scikit-learn and hmmlearn).
    Gain,
    /// The parameters of an EM step moved by at most --param-tol of their size.
    Params,
    /// Exactly --max-iter iterations, whatever the gains. An iteration is
    /// one recorded update of the parameters: a plain EM step; with SQUAREM
    /// a cycle records two, its first EM step, then its extrapolation when
    /// accepted or else its second EM step (so N iterations cost N to 1.5 N
    /// E-steps besides the start's; --acceleration none for N EM steps).
    Iterations,
}

/// Where the data come from.
#[derive(Debug, Args)]
pub struct DataArgs {
    /// Data file: CSV/whitespace text (one row per observation) or NumPy .npy.
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,
    /// Sequence lengths (text, one per line, or .npy); default: one sequence.
    #[arg(long, value_name = "FILE")]
    pub lengths: Option<PathBuf>,
    /// Whether the CSV data start with a header line.
    #[arg(long, value_enum, default_value_t = HeaderArg::Auto)]
    pub header: HeaderArg,
    /// The columns to read, comma-separated, by number from 1 or by header name
    /// (e.g. 2,4 or price,volume), in the order given; default: every column.
    #[arg(long, value_name = "LIST")]
    pub columns: Option<String>,
    /// Accept missing values (empty cells, NaN, NA) as missing observations (lgssm only).
    #[arg(long)]
    pub missing: bool,
    /// Known inputs u_k of an lgssm (x_k = A x_{k-1} + B u_k + b + w_k,
    /// y_k = H x_k + D u_k + d + v_k): one row per row of --data, m columns
    /// (CSV/whitespace text with the same --header, or .npy; no missing values).
    #[arg(long, value_name = "FILE")]
    pub inputs: Option<PathBuf>,
    /// Time-varying matrices of an lgssm.
    #[command(flatten)]
    pub matrices: TimeVaryingArgs,
}

/// The time-varying matrices `A_k`, `Q_k`, `H_k`, `R_k` of an lgssm, as 3-D
/// `.npy` files, laid out over the rows of the data (or the steps drawn by
/// `emfit sample`).
#[derive(Debug, Args, Default)]
pub struct TimeVaryingArgs {
    /// Time-varying transition matrices A_k of an lgssm (replacing the model's A):
    /// a .npy array (steps, n, n) holding, sequence after sequence, the T_s - 1
    /// transitions of each (matrix i maps x_i to x_{i+1}, pykalman's convention),
    /// or one matrix per row of --data or step of sample (the last of each sequence unused).
    #[arg(long, value_name = "FILE.npy")]
    pub transition_matrices: Option<PathBuf>,
    /// Time-varying transition covariances Q_k of an lgssm: (steps, n, n), laid out
    /// as --transition-matrices.
    #[arg(long, value_name = "FILE.npy")]
    pub transition_covariances: Option<PathBuf>,
    /// Time-varying observation matrices H_k of an lgssm: a .npy array (T, p, n),
    /// one per row of --data or step of sample.
    #[arg(long, value_name = "FILE.npy")]
    pub observation_matrices: Option<PathBuf>,
    /// Time-varying observation covariances R_k of an lgssm: (T, p, p), one per
    /// row of --data or step of sample.
    #[arg(long, value_name = "FILE.npy")]
    pub observation_covariances: Option<PathBuf>,
}

impl TimeVaryingArgs {
    /// The files with their flags, in the order A, Q, H, R.
    pub fn files(&self) -> [(&'static str, Option<&std::path::Path>); 4] {
        [
            ("--transition-matrices", self.transition_matrices.as_deref()),
            ("--transition-covariances", self.transition_covariances.as_deref()),
            ("--observation-matrices", self.observation_matrices.as_deref()),
            (
                "--observation-covariances",
                self.observation_covariances.as_deref(),
            ),
        ]
    }

    /// Whether any file is given.
    pub fn any(&self) -> bool {
        self.files().iter().any(|(_, path)| path.is_some())
    }
}

/// Options of `emfit fit`.
#[derive(Debug, Args)]
pub struct FitArgs {
    /// The model family.
    #[arg(value_enum)]
    pub family: FamilyArg,
    /// The data.
    #[command(flatten)]
    pub data: DataArgs,
    /// Number of mixture components (gmm; at most, for bgmm) or hidden states (HMMs).
    #[arg(short = 'k', long, visible_alias = "states", value_name = "K")]
    pub components: Option<usize>,
    /// Mixture components per hidden state (gmmhmm).
    #[arg(short = 'm', long, value_name = "M")]
    pub mixtures: Option<usize>,
    /// Covariance structure (default: full; diag for gmmhmm; not with --init,
    /// whose model fixes it).
    #[arg(long, value_enum)]
    pub covariance: Option<CovarianceArg>,
    /// Number of symbols (categorical-hmm; default: largest symbol + 1).
    #[arg(long, value_name = "N")]
    pub symbols: Option<usize>,
    /// Dimension of the hidden state (lgssm; default: number of data columns).
    #[arg(long, value_name = "N")]
    pub state_dim: Option<usize>,
    /// Use the steady-state Kalman filter once the covariances settle (lgssm; much
    /// faster on long sequences, equal to the exact filter to about 1e-12).
    #[arg(long)]
    pub steady_state: bool,
    /// Maximum number of EM iterations.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub max_iter: usize,
    /// Add X to the diagonal of every covariance, in the data's units (scikit-learn's
    /// reg_covar, hmmlearn's min_covar: use it to reproduce their fits). Default: a floor of
    /// 1e-6 of each feature's variance, so that a fit does not depend on the data's units
    /// (gmm, hmm, gmmhmm).
    /// bgmm: an absolute floor as scikit-learn's, default 1e-6.
    #[arg(long, value_name = "X", allow_hyphen_values = true)]
    pub reg_covar: Option<f64>,
    /// Emission of a vhmm (required for vhmm).
    #[arg(long, value_enum)]
    pub emission: Option<EmissionArg>,
    /// Prior of the mixture weights (bgmm; default: dirichlet-process).
    #[arg(long, value_enum, value_name = "PRIOR")]
    pub weight_prior: Option<WeightPriorArg>,
    /// Concentration of the weight prior, > 0 (bgmm; default 1/K): small values
    /// leave fewer effective components.
    #[arg(long, value_name = "X", allow_hyphen_values = true)]
    pub weight_concentration: Option<f64>,
    /// Absolute tolerance on the log-likelihood gain (see --stop).
    #[arg(long, default_value_t = 1e-8, value_name = "X", allow_negative_numbers = true)]
    pub tol: f64,
    /// Tolerance relative to |log-likelihood| (the larger threshold applies).
    #[arg(long, default_value_t = 1e-8, value_name = "X", allow_negative_numbers = true)]
    pub rel_tol: f64,
    /// Number of restarts from different random initialisations (the best wins).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub restarts: usize,
    /// Master seed (restart i uses a seed derived from it).
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub seed: i128,
    /// Stop after this many seconds (the best parameters so far are kept).
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub time_budget: Option<f64>,
    /// What to do when the log-likelihood falls.
    #[arg(long, value_enum, default_value_t = OnFallArg::Stop)]
    pub on_fall: OnFallArg,
    /// How EM is accelerated.
    #[arg(long, value_enum, default_value_t = AccelerationArg::Squarem, value_name = "HOW")]
    pub acceleration: AccelerationArg,
    /// The stopping rule.
    #[arg(long, value_enum, default_value_t = StopArg::Remaining)]
    pub stop: StopArg,
    /// Relative parameter change below which --stop params stops.
    #[arg(long, default_value_t = 1e-6, value_name = "X", allow_negative_numbers = true)]
    pub param_tol: f64,
    /// Start from the parameters of this model file instead of a random initialisation.
    #[arg(long, value_name = "FILE")]
    pub init: Option<PathBuf>,
    /// Under mpirun or with --chunk-rows, without --init: the fit initialises on a seeded
    /// sample of about this many rows of the data (whole sequences for an HMM or lgssm),
    /// the same whatever the number of ranks or chunks; with at least the data's rows it
    /// is all of them, and the start is the in-memory fit's.
    #[arg(long, default_value_t = 100_000, value_name = "ROWS")]
    pub init_sample: usize,
    /// Out-of-core (gmm, bgmm, hmm, gmmhmm, categorical-hmm): read the data file (.npy or
    /// CSV) N rows at a time at every E-step instead of loading it, so that memory is
    /// bounded by two chunks of N rows; the same fit as in memory. An HMM's chunks are
    /// whole sequences of --lengths, as many as fit in N rows (a longer sequence alone).
    #[arg(long, value_name = "N")]
    pub chunk_rows: Option<std::num::NonZeroUsize>,
    /// Parameters to learn, comma-separated, or all / none (default: all). gmm: weights,
    /// means, covariances. hmm: start, transitions, means, covariances; gmmhmm: these and
    /// weights; categorical-hmm: start, transitions, probabilities. lgssm: A, Q, H, R, m0, P0,
    /// and B, D (with --inputs; learned by default), transition_offset, observation_offset.
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub learn: Vec<String>,
    /// Write the fitted model to this JSON file (atomically).
    #[arg(short, long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
}

/// A model file argument.
#[derive(Debug, Args)]
pub struct ModelArg {
    /// A model file written by `emfit fit`.
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
}

/// Options of `emfit predict`.
#[derive(Debug, Args)]
pub struct PredictArgs {
    /// The model.
    #[command(flatten)]
    pub model: ModelArg,
    /// The data.
    #[command(flatten)]
    pub data: DataArgs,
    /// Posterior probabilities of every component/state instead of the most likely one.
    #[arg(long)]
    pub proba: bool,
    /// Output file (CSV, or .npy by extension); default: standard output.
    #[arg(short, long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Options of `emfit score`.
#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// The model.
    #[command(flatten)]
    pub model: ModelArg,
    /// The data.
    #[command(flatten)]
    pub data: DataArgs,
}

/// Options of `emfit sample`.
#[derive(Debug, Args)]
pub struct SampleArgs {
    /// The model.
    #[command(flatten)]
    pub model: ModelArg,
    /// Number of observations (time steps per sequence for sequence models).
    /// Written as they are drawn, one sequence (or 65,536 points) at a time.
    #[arg(
        short = 'n',
        long = "samples",
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub n: i128,
    /// Number of independent sequences of length N (sequence models).
    #[arg(long, default_value_t = 1, value_name = "K", allow_negative_numbers = true)]
    pub sequences: i128,
    /// Write the sequence lengths to this file (one per line).
    #[arg(long, value_name = "FILE")]
    pub lengths_out: Option<PathBuf>,
    /// Seed of the random draws.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub seed: i128,
    /// Output file for the observations (CSV, or .npy by extension); default: standard output.
    #[arg(short, long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Also write the hidden labels (components/states) or states (lgssm) to this file.
    #[arg(long, value_name = "FILE")]
    pub hidden_out: Option<PathBuf>,
    /// Time-varying matrices of an lgssm, for the --sequences x -n steps drawn.
    #[command(flatten)]
    pub matrices: TimeVaryingArgs,
}

/// Options of `emfit smooth`.
#[derive(Debug, Args)]
pub struct SmoothArgs {
    /// The model.
    #[command(flatten)]
    pub model: ModelArg,
    /// The data.
    #[command(flatten)]
    pub data: DataArgs,
    /// Output file (CSV, or .npy by extension); default: standard output.
    #[arg(short, long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// lgssm: also write the full smoothed state covariances Cov(x_t | y_1..y_T)
    /// to this .npy file, shape T x n x n (all sequences stacked, as the rows of --out).
    #[arg(long, value_name = "FILE.npy")]
    pub covariances_out: Option<PathBuf>,
}

/// Options of `emfit innovations`.
#[derive(Debug, Args)]
pub struct InnovationsArgs {
    /// The model (an lgssm).
    #[command(flatten)]
    pub model: ModelArg,
    /// The data.
    #[command(flatten)]
    pub data: DataArgs,
    /// Output file (CSV, or .npy by extension); default: standard output.
    #[arg(short, long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Options of `emfit forecast`.
#[derive(Debug, Args)]
pub struct ForecastArgs {
    /// The model (an lgssm).
    #[command(flatten)]
    pub model: ModelArg,
    /// The data filtered before the forecast (with --lengths, the last sequence is
    /// forecast).
    #[command(flatten)]
    pub data: DataArgs,
    /// Number of steps ahead.
    #[arg(long, value_name = "K", allow_negative_numbers = true)]
    pub horizon: i128,
    /// Forecast from this step of the (last) sequence, counted from 1 (default: its
    /// last step).
    #[arg(long, value_name = "STEP", allow_negative_numbers = true)]
    pub origin: Option<i128>,
    /// The inputs of the K forecast steps (K rows, m columns), for a model with inputs.
    #[arg(long, value_name = "FILE")]
    pub future_inputs: Option<PathBuf>,
    /// Output file (CSV, or .npy by extension); default: standard output.
    #[arg(short, long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Write an SVG plot of the data and the forecast with its 95% prediction bands
    /// (one panel per observed column, up to 6) into this folder (created if missing).
    #[arg(long, value_name = "DIR")]
    pub plots: Option<PathBuf>,
}

/// Options of `emfit filter`.
#[derive(Debug, Args)]
pub struct FilterArgs {
    /// The model (an lgssm).
    #[command(flatten)]
    pub model: ModelArg,
    /// Start from this filter state (written by --save-state) instead of before the
    /// first observation.
    #[arg(long, value_name = "FILE")]
    pub resume: Option<PathBuf>,
    /// Write the filter's state (JSON) to this file at the end of the input, or before
    /// a line that fails, to go on later with --resume.
    #[arg(long, value_name = "FILE")]
    pub save_state: Option<PathBuf>,
    /// Use the steady-state filter once the covariances settle (O(n²) per line).
    #[arg(long)]
    pub steady_state: bool,
    /// Also answer each line with the smoothed means and standard deviations of the
    /// step L lines back (fixed-lag smoothing; empty cells for the first L lines).
    #[arg(long, value_name = "L")]
    pub lag: Option<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_range_checked_with_the_value() {
        assert_eq!(non_negative("--tol", 0.0).unwrap(), 0.0);
        let e = non_negative("--tol", -1.0).unwrap_err().to_string();
        assert_eq!(e, "--tol must be a finite number ≥ 0, got -1");
        assert!(non_negative("--tol", f64::INFINITY).is_err());
        assert_eq!(seed("--seed", 7).unwrap(), 7);
        assert!(seed("--seed", -1).unwrap_err().to_string().ends_with("got -1"));
        assert!(seed("--seed", 1 << 64).is_err());
        assert_eq!(positive("-n", 3).unwrap(), 3);
        assert_eq!(
            positive("-n", 0).unwrap_err().to_string(),
            "-n must be at least 1, got 0"
        );
        let e = positive("-n", 1 << 100).unwrap_err().to_string();
        assert!(e.contains("more than this machine can count"), "{e}");
        assert!(time_budget(2.5).is_ok());
        assert!(time_budget(f64::NAN).is_err());
    }
}
