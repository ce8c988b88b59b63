//! Linear Gaussian state-space models (`emfit fit lgssm`, and model files
//! of kind `lgssm`).

use em_driver::faer::{Mat, MatRef};
use em_driver::rand::SeedableRng;
use em_driver::rand::rngs::StdRng;
use em_driver::statespace::{InferenceOptions, InitConfig, LearnSet, LinearGaussianSsm, MStepOptions, Param};
use em_driver::{EmModel, Parameter, Settings, Start};

use crate::apply::{Apply, Prediction, Score, Table};
use crate::args::FitArgs;
use crate::error::{CliError, model, usage};
use crate::fit::{Family, Flag, learn_set};
use crate::input::Loaded;
use crate::limits::{check_memory, f64_bytes};
use crate::messages::on_data;
use crate::text::{list, row};

/// The free parameters learned for state dimension `n` and observation
/// dimension `p`: `n²` for A, `n(n+1)/2` for Q and P0, `pn` for H,
/// `p(p+1)/2` for R, `n` for m0 (symmetric matrices count their upper
/// triangle), over the blocks of `learn`.
fn learned_parameters(n: usize, p: usize, learn: LearnSet) -> u128 {
    let (n, p) = (n as u128, p as u128);
    let sym = |k: u128| k.saturating_mul(k.saturating_add(1)) / 2;
    [
        (Param::A, n.saturating_mul(n)),
        (Param::Q, sym(n)),
        (Param::H, p.saturating_mul(n)),
        (Param::R, sym(p)),
        (Param::M0, n),
        (Param::P0, sym(n)),
    ]
    .into_iter()
    .filter(|(block, _)| learn.contains(*block))
    .fold(0u128, |acc, (_, count)| acc.saturating_add(count))
}

/// An explicit `--state-dim` whose learned parameters outnumber the values
/// of the data cannot be estimated (the likelihood has no unique maximum):
/// refused, with the largest state dimension the data allow.
fn check_identifiable(n: usize, data: &Loaded, learn: LearnSet) -> Result<(), CliError> {
    let (t, p) = (data.x().nrows(), data.x().ncols());
    let values = (t as u128).saturating_mul(p as u128);
    let needed = learned_parameters(n, p, learn);
    if needed <= values {
        return Ok(());
    }
    // The largest dimension within the data: the count grows with n.
    let (mut lo, mut hi) = (0usize, n);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if learned_parameters(mid, p, learn) <= values {
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
    learn: LearnSet,
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

/// The sequences of the data (rows split by the lengths).
fn sequences(data: &Loaded) -> Result<Vec<MatRef<'_, f64>>, CliError> {
    em_driver::statespace::split_sequences(data.x(), &data.lengths).map_err(model)
}

impl Family for LinearGaussianSsm {
    const NAME: &'static str = "lgssm";
    const FLAGS: &'static [Flag] = &[Flag::StateDim];
    type Request = LgssmRequest;
    type Input<'a> = Vec<MatRef<'a, f64>>;

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
        let learn = learn_set(
            args,
            Self::NAME,
            Param::ALL,
            &[("m", Param::M0), ("p", Param::P0)],
        )?;
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

    fn input(data: &Loaded) -> Result<Vec<MatRef<'_, f64>>, CliError> {
        sequences(data)
    }

    fn view<'b>(input: &'b Vec<MatRef<'_, f64>>) -> &'b [MatRef<'b, f64>] {
        input
    }

    fn options(request: &LgssmRequest) -> MStepOptions {
        MStepOptions::new(request.learn)
    }

    /// The inference options live in the model: with `--steady-state`, restart
    /// 0 is initialised here exactly as the loop would, then started from
    /// (`request` refuses `--restarts` with it).
    fn start(
        request: &LgssmRequest,
        data: &[MatRef<'_, f64>],
        settings: &Settings,
    ) -> Result<Start<Self>, CliError> {
        if !request.steady_state {
            return Ok(Start::FromData(request.init));
        }
        let mut rng = StdRng::seed_from_u64(settings.restart_seed(0));
        let m = LinearGaussianSsm::init_from_data(data, &request.init, &mut rng).map_err(model)?;
        Ok(Start::Warm(m.with_inference(request.inference())))
    }

    fn check_warm(self, request: &LgssmRequest, data: &Loaded) -> Result<Self, CliError> {
        data.check_columns(self.obs_dim())?;
        if let Some(n) = request.state_dim.filter(|&n| n != self.state_dim()) {
            return Err(usage!(
                "--state-dim {n} conflicts with the state dimension {} of the --init model",
                self.state_dim()
            ));
        }
        Ok(self.with_inference(request.inference()))
    }

    fn describe(&self) -> String {
        let (n, p) = (self.state_dim(), self.obs_dim());
        let diag = |x: MatRef<'_, f64>| -> Vec<f64> { (0..x.nrows().min(6)).map(|i| x[(i, i)]).collect() };
        let mut s = format!("\nfitted lgssm: state dimension {n}, observation dimension {p}\n");
        for i in 0..n.min(3) {
            s.push_str(&format!("  A row {}: {}\n", i + 1, row(self.a(), i, 4)));
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
        s.push_str(&format!("  diag Q: {}{}\n", list(&diag(self.q()), 4), more(n)));
        s.push_str(&format!("  diag R: {}{}\n", list(&diag(self.r()), 4), more(p)));
        s
    }

    fn criteria(&self, data: &[MatRef<'_, f64>]) -> Result<(f64, f64), CliError> {
        Ok((self.bic(data).map_err(model)?, self.aic(data).map_err(model)?))
    }
}

impl Apply for LinearGaussianSsm {
    fn check_data(&self, data: &Loaded) -> Result<(), CliError> {
        data.check_columns(self.obs_dim())
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
        Ok(Score {
            log_likelihood: self
                .log_likelihood(&sequences(data)?)
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
        let (x, y) = LinearGaussianSsm::sample(self, n, rng).map_err(model)?;
        Ok((Table::numbered(y, "x"), Table::numbered(x, "state")))
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
    for y in sequences(data)? {
        let t = y.nrows();
        let mut block = out.as_mut().subrows_mut(first, t);
        if smoothed {
            let s = m.smooth(y).map_err(|e| on_data(data, e.into()))?;
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
            block.copy_from(m.filter(y).map_err(|e| on_data(data, e.into()))?.filtered_means());
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
