//! Linear Gaussian state-space models (`emfit fit lgssm`, with `--inputs`
//! or without, and model files of kind `lgssm`).

use em_driver::faer::{Mat, MatRef};
use em_driver::rand::SeedableRng;
use em_driver::rand::rngs::StdRng;
use em_driver::statespace::em::WithInputs;
use em_driver::statespace::{
    InferenceOptions, InitConfig, InputLearnSet, InputParam, LearnSet, LinearGaussianSsm, MStepOptions,
    Param, Sequence, StateSpaceError, TimeVarying,
};
use em_driver::{EmModel, Parameter, Settings, Start};

use crate::apply::{Apply, Prediction, Score, Table};
use crate::args::FitArgs;
use crate::error::{CliError, model, usage};
use crate::fit::{Family, Flag, information_criteria, learn_set};
use crate::input::Loaded;
use crate::limits::{check_memory, f64_bytes};
use crate::messages::on_data;
use crate::text::{list, row};
use crate::time_varying::{TimeVaryingViews, in_sequence};

/// The blocks learned: those of the model and those of its inputs.
#[derive(Debug, Clone, Copy)]
struct Learned {
    model: LearnSet,
    inputs: InputLearnSet,
}

impl Learned {
    /// The M-step's options learning these blocks.
    fn options(self) -> MStepOptions {
        MStepOptions::new(self.model).with_learn_inputs(self.inputs)
    }
}

/// `--learn` for an lgssm: the model's blocks (`A`, `Q`, `H`, `R`, `m0`,
/// `P0`, `all`, `none`) and the input blocks (`B`, `D`,
/// `transition_offset`, `observation_offset`). Without the flag or with
/// `all`, every block of the model and B and D; an input block named alone
/// learns no block of the model.
fn learned(args: &FitArgs, m: usize) -> Result<Learned, CliError> {
    let input_block = |item: &str| {
        InputParam::ALL
            .iter()
            .copied()
            .find(|b| b.name().eq_ignore_ascii_case(item.trim()))
    };
    let (named_inputs, items): (Vec<String>, Vec<String>) = args
        .learn
        .iter()
        .cloned()
        .partition(|item| input_block(item).is_some());
    let model = if items.is_empty() && !named_inputs.is_empty() {
        LearnSet::none()
    } else {
        learn_set(
            &items,
            WithInputs::NAME,
            Param::ALL,
            &[("m", Param::M0), ("p", Param::P0)],
        )?
    };
    let all = args.learn.is_empty() || items.iter().any(|i| i.trim().eq_ignore_ascii_case("all"));
    let mut inputs = if all {
        MStepOptions::default().learn_inputs
    } else {
        InputLearnSet::none()
    };
    for block in named_inputs.iter().filter_map(|item| input_block(item)) {
        if m == 0 && matches!(block, InputParam::B | InputParam::D) {
            return Err(usage!(
                "--learn {block}: the model has no inputs (give them with --inputs FILE)"
            ));
        }
        inputs = inputs.set(block, true);
    }
    Ok(Learned { model, inputs })
}

/// An explicit `--state-dim` whose learned parameters outnumber the values
/// of the data cannot be estimated (the likelihood has no unique maximum):
/// refused, with the largest state dimension the data allow.
fn check_identifiable(n: usize, data: &Loaded, learn: Learned) -> Result<(), CliError> {
    let (t, p) = (data.rows_in_file(), data.x().ncols());
    let m = input_dim(data);
    let values = (t as u128).saturating_mul(p as u128);
    let options = learn.options();
    let learned_parameters = |n| options.n_free_parameters_with_inputs(n, p, m) as u128;
    let needed = learned_parameters(n);
    if needed <= values {
        return Ok(());
    }
    // The largest dimension within the data: the count grows with n.
    let (mut lo, mut hi) = (0usize, n);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if learned_parameters(mid) <= values {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    Err(usage!(
        "--state-dim {n}: the model has {needed} free parameters to learn, more than the {values} values of the data ({t} rows x {p} columns), so they cannot be estimated; the data allow a state dimension of at most {lo}"
    ))
}

/// What `emfit fit lgssm` asks for.
pub struct LgssmRequest {
    /// `--state-dim`, if given.
    state_dim: Option<usize>,
    /// The start without `--init`.
    init: InitConfig,
    /// `--steady-state`.
    steady_state: bool,
    /// The blocks learned.
    learn: Learned,
}

impl LgssmRequest {
    /// The inference options of `--steady-state`.
    fn inference(&self) -> InferenceOptions {
        if self.steady_state {
            InferenceOptions::steady_state()
        } else {
            InferenceOptions::exact()
        }
    }
}

/// The number of input columns of the data (0 without `--inputs`).
fn input_dim(data: &Loaded) -> usize {
    data.inputs.as_ref().map_or(0, Mat::ncols)
}

/// The sequences of the data (rows of the observations and of the inputs
/// split by the lengths), with their time-varying matrices from `steps`
/// (views of the data's).
pub fn sequences<'a>(
    data: &'a Loaded,
    steps: &'a TimeVaryingViews<'a>,
) -> Result<Vec<Sequence<'a>>, CliError> {
    let split = |x| em_driver::statespace::split_sequences(x, &data.lengths).map_err(model);
    let observations = split(data.x())?;
    let inputs = match &data.inputs {
        Some(u) => split(u.as_ref())?.into_iter().map(Some).collect(),
        None => vec![None; observations.len()],
    };
    let mut first_row = 0;
    Ok(observations
        .into_iter()
        .zip(inputs)
        .enumerate()
        .map(|(s, (y, u))| {
            let t = y.nrows();
            let sequence = match u {
                Some(u) => Sequence::with_inputs(y, u),
                None => Sequence::new(y),
            };
            first_row += t;
            sequence.with_time_varying(steps.sequence(s, first_row - t, t))
        })
        .collect())
}

/// The observations of the data's sequences (the inputs are not used).
fn observations<'a>(sequences: &[Sequence<'a>]) -> Vec<MatRef<'a, f64>> {
    sequences.iter().map(Sequence::observations).collect()
}

/// Fitted on sequences with their inputs (none without `--inputs`).
impl Family for WithInputs {
    const NAME: &'static str = "lgssm";
    const FLAGS: &'static [Flag] = &[Flag::StateDim];
    type Request = LgssmRequest;
    type Input<'a> = Vec<Sequence<'a>>;

    fn request(args: &FitArgs, data: &Loaded) -> Result<LgssmRequest, CliError> {
        let (n, d) = (data.x().nrows(), data.x().ncols());
        let state = args.state_dim.unwrap_or(d);
        if state == 0 {
            return Err(usage!("--state-dim must be at least 1"));
        }
        // The filter's and smoother's per-step covariances (n x n) or gains
        // (p x n), with a copy: about 1.25 T n² values measured.
        let per_step = state.saturating_mul(state).max(d.saturating_mul(state));
        check_memory(
            &format!("a state dimension of {state} over {n} time steps"),
            f64_bytes(&[n, per_step, 2]),
        )?;
        let learn = learned(args, input_dim(data))?;
        if args.state_dim.is_some() {
            check_identifiable(state, data, learn)?;
        }
        // The inference options live in the model: one start from the data
        // (see `start`), not one per restart.
        if args.steady_state && args.init.is_none() && args.restarts > 1 {
            return Err(usage!(
                "--steady-state cannot be combined with --restarts (initialise once, or use --init)"
            ));
        }
        Ok(LgssmRequest {
            state_dim: args.state_dim,
            init: InitConfig::new(state),
            steady_state: args.steady_state,
            learn,
        })
    }

    fn input<'a>(data: &'a Loaded, steps: &'a TimeVaryingViews<'a>) -> Result<Vec<Sequence<'a>>, CliError> {
        sequences(data, steps)
    }

    fn view<'b>(input: &'b Vec<Sequence<'_>>) -> &'b [Sequence<'b>] {
        input
    }

    fn options(request: &LgssmRequest) -> MStepOptions {
        request.learn.options()
    }

    /// The inference options live in the model: with `--steady-state`, restart
    /// 0 is initialised here exactly as the loop would, then started from
    /// (`request` refuses `--restarts` with it).
    fn start(
        request: &LgssmRequest,
        data: &[Sequence<'_>],
        settings: &Settings,
    ) -> Result<Start<Self>, CliError> {
        if !request.steady_state {
            return Ok(Start::FromData(request.init));
        }
        let mut rng = StdRng::seed_from_u64(settings.restart_seed(0));
        let m = WithInputs::init_from_data(data, &request.init, &mut rng).map_err(model)?;
        Ok(Start::Warm(Self(m.0.with_inference(request.inference()))))
    }

    fn check_warm(self, request: &LgssmRequest, data: &Loaded) -> Result<Self, CliError> {
        let m = self.0;
        data.check_columns(m.obs_dim())?;
        if let Some(n) = request.state_dim.filter(|&n| n != m.state_dim()) {
            return Err(usage!(
                "--state-dim {n} conflicts with the state dimension {} of the --init model",
                m.state_dim()
            ));
        }
        check_inputs(&m, data)?;
        Ok(Self(m.with_inference(request.inference())))
    }

    fn describe(&self) -> String {
        let m = &self.0;
        let (n, p) = (m.state_dim(), m.obs_dim());
        let diag = |x: MatRef<'_, f64>| -> Vec<f64> { (0..x.nrows().min(6)).map(|i| x[(i, i)]).collect() };
        let mut s = format!("\nfitted lgssm: state dimension {n}, observation dimension {p}\n");
        for i in 0..n.min(3) {
            s.push_str(&format!("  A row {}: {}\n", i + 1, row(m.a(), i, 4)));
        }
        if n > 3 {
            s.push_str(&format!("  ... ({n} rows)\n"));
        }
        let more = |k: usize| {
            if k > 6 {
                format!(" ... ({k} values)")
            } else {
                String::new()
            }
        };
        s.push_str(&format!("  diag Q: {}{}\n", list(&diag(m.q()), 4), more(n)));
        s.push_str(&format!("  diag R: {}{}\n", list(&diag(m.r()), 4), more(p)));
        if m.input_dim() > 0 {
            s.push_str(&format!("  B row 1: {}\n", row(m.b(), 0, 4)));
            s.push_str(&format!("  D row 1: {}\n", row(m.d(), 0, 4)));
        }
        if m.has_inputs() {
            let head = |v: &[f64]| list(&v[..v.len().min(6)], 4);
            s.push_str(&format!(
                "  transition offset: {}{}\n",
                head(m.transition_offset()),
                more(n)
            ));
            s.push_str(&format!(
                "  observation offset: {}{}\n",
                head(m.observation_offset()),
                more(p)
            ));
        }
        s
    }

    /// `−2 ln L + k ln N` and `−2 ln L + 2k` with k =
    /// [`LinearGaussianSsm::n_parameters`] and N the observed steps.
    fn criteria(&self, data: &[Sequence<'_>]) -> Result<Option<(f64, f64)>, CliError> {
        let m = &self.0;
        let ll = m.log_likelihood_of(data).map_err(model)?;
        let steps = m.n_observed_steps(&observations(data)).map_err(model)?.max(1);
        Ok(Some(information_criteria(ll, m.n_parameters(), steps)))
    }

    /// The observed steps (every step with at least one observed value).
    #[cfg(feature = "mpi")]
    fn observations(&self, data: &[Sequence<'_>]) -> Result<usize, CliError> {
        self.0.n_observed_steps(&observations(data)).map_err(model)
    }

    #[cfg(feature = "mpi")]
    fn n_parameters(&self) -> Option<usize> {
        Some(self.0.n_parameters())
    }
}

/// A model with inputs needs `--inputs` of its width; a model without takes
/// none.
fn check_inputs(m: &LinearGaussianSsm, data: &Loaded) -> Result<(), CliError> {
    match (m.input_dim(), input_dim(data), &data.inputs) {
        (0, _, Some(_)) => Err(usage!(
            "--inputs was given, but the model has no inputs (fit one with --inputs to learn B and D)"
        )),
        (m, _, None) if m > 0 => Err(usage!(
            "the model has {m} inputs: give them with --inputs FILE (one row per observation)"
        )),
        (m, found, _) if m != found => Err(usage!(
            "--inputs has {found} columns, but the model has {m} inputs"
        )),
        _ => Ok(()),
    }
}

impl Apply for LinearGaussianSsm {
    fn check_data(&self, data: &Loaded) -> Result<(), CliError> {
        data.check_columns(self.obs_dim())?;
        check_inputs(self, data)
    }

    /// Filtered state means.
    fn predict(&self, data: &Loaded, proba: bool) -> Result<Prediction, CliError> {
        if proba {
            return Err(usage!(
                "--proba applies to mixtures and HMMs; an lgssm predicts filtered state means"
            ));
        }
        let (table, _) = states(self, data, Output::Filtered)?;
        Ok(Prediction { table, viterbi: None })
    }

    fn score(&self, data: &Loaded) -> Result<Score, CliError> {
        let steps = data.time_varying.views();
        Ok(Score {
            log_likelihood: self
                .log_likelihood_of(&sequences(data, &steps)?)
                .map_err(|e| on_data(data, e.into()))?,
            parameters: self.n_parameters(),
            sequences: Some(data.lengths.len()),
        })
    }

    fn sample_widths(&self) -> (usize, usize) {
        (self.obs_dim(), self.state_dim())
    }

    /// Observations and hidden states.
    fn sample(&self, n: usize, rng: &mut StdRng) -> Result<(Table, Table), CliError> {
        sample_time_varying(self, n, &TimeVarying::default(), rng, model)
    }

    /// Smoothed means and standard deviations, and with `covariances` the
    /// full smoothed covariances.
    fn smooth(&self, data: &Loaded, covariances: bool) -> Result<(Table, Option<Vec<f64>>), CliError> {
        states(
            self,
            data,
            if covariances {
                Output::SmoothedWithCovariances
            } else {
                Output::Smoothed
            },
        )
    }
}

/// What [`states`] computes.
#[derive(Clone, Copy, PartialEq)]
enum Output {
    /// Filtered means `E[x_t | y_1..y_t]`.
    Filtered,
    /// Smoothed means `E[x_t | y_1..y_T]` and standard deviations (the
    /// square roots of the diagonal of `Cov(x_t | y_1..y_T)`).
    Smoothed,
    /// As `Smoothed`, and every `Cov(x_t | y_1..y_T)` in full.
    SmoothedWithCovariances,
}

/// Filtered means, or smoothed means and standard deviations (and the full
/// smoothed covariances, `T x n x n` row-major), of every sequence, stacked.
fn states(
    m: &LinearGaussianSsm,
    data: &Loaded,
    output: Output,
) -> Result<(Table, Option<Vec<f64>>), CliError> {
    let n = m.state_dim();
    let rows = data.x().nrows();
    let smoothed = output != Output::Filtered;
    // The filter's and smoother's per-step covariances, and the output copy.
    let copies = if output == Output::SmoothedWithCovariances {
        3
    } else {
        2
    };
    check_memory(
        &format!("the smoother of a state dimension of {n} over {rows} steps"),
        f64_bytes(&[rows, n, n, copies]),
    )?;
    let cols = if smoothed { 2 * n } else { n };
    let mut out = Mat::zeros(rows, cols);
    let mut full = (output == Output::SmoothedWithCovariances).then(|| Vec::with_capacity(rows * n * n));
    let mut first = 0;
    let steps = data.time_varying.views();
    for (s, sequence) in sequences(data, &steps)?.into_iter().enumerate() {
        let t = sequence.observations().nrows();
        let located = |e| on_data(data, in_sequence(e, s).into());
        let mut block = out.as_mut().subrows_mut(first, t);
        if smoothed {
            let s = m.smooth_sequence(sequence).map_err(located)?;
            block.as_mut().subcols_mut(0, n).copy_from(s.smoothed_means());
            for k in 0..t {
                let cov = s.smoothed_cov(k).ok_or_else(|| {
                    usage!(
                        "the smoother kept no covariance for step {} of the data",
                        first + k + 1
                    )
                })?;
                for i in 0..n {
                    block[(k, n + i)] = cov[(i, i)].max(0.0).sqrt();
                }
                if let Some(full) = full.as_mut() {
                    full.extend((0..n * n).map(|ij| cov[(ij / n, ij % n)]));
                }
            }
        } else {
            let f = m.filter_sequence(sequence).map_err(located)?;
            block.copy_from(f.filtered_means());
        }
        first += t;
    }
    let mut header: Vec<String> = (0..n).map(|i| format!("mean{i}")).collect();
    if smoothed {
        header.extend((0..n).map(|i| format!("sd{i}")));
    }
    Ok((
        Table {
            values: out,
            header,
            labels: false,
        },
        full,
    ))
}

/// One sequence of `t` steps drawn with the time-varying `matrices` (the
/// model's where none are given): the observations and the hidden states.
///
/// # Errors
/// A model with inputs (`emfit sample` takes none); the model's errors as
/// `on_error` says them (bad time-varying matrices name sequence 0).
pub fn sample_time_varying(
    m: &LinearGaussianSsm,
    t: usize,
    matrices: &TimeVarying<'_>,
    rng: &mut StdRng,
    on_error: impl FnOnce(StateSpaceError) -> CliError,
) -> Result<(Table, Table), CliError> {
    if m.input_dim() > 0 {
        return Err(usage!(
            "the model has {} inputs, and emfit sample takes none: draw from a model with inputs through the library (LinearGaussianSsm::sample_with_inputs)",
            m.input_dim()
        ));
    }
    let (x, y) = m.sample_time_varying(t, None, matrices, rng).map_err(on_error)?;
    Ok((Table::numbered(y, "x"), Table::numbered(x, "state")))
}
