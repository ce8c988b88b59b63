//! Linear Gaussian state-space models (`emfit fit lgssm`, and model files
//! of kind `lgssm`).

use em_driver::faer::{Mat, MatRef};
use em_driver::rand::SeedableRng;
use em_driver::rand::rngs::StdRng;
use em_driver::statespace::{InferenceOptions, InitConfig, LearnSet, LinearGaussianSsm, MStepOptions, Param};
use em_driver::{EmModel, Parameter, Settings, Start};

use crate::apply::{Apply, Score, Table, draw_size};
use crate::args::FitArgs;
use crate::error::{CliError, model, usage};
use crate::fit::{Family, Flag, learn_set};
use crate::input::Loaded;
use crate::text::{list, row};

/// Largest number of values of the per-step covariances of the filter and
/// smoother (T n^2).
const MAX_ENTRIES: usize = 250_000_000;

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
        let per_step = state.saturating_mul(state).max(d.saturating_mul(state));
        if n.saturating_mul(per_step) > MAX_ENTRIES {
            return Err(usage!(
                "a state dimension of {state} over {n} time steps needs too much memory \
                 (T n^2 = {} values; at most {MAX_ENTRIES})",
                n.saturating_mul(per_step)
            ));
        }
        // The inference options live in the model: one start from the data
        // (see `start`), not one per restart.
        if args.steady_state && args.init.is_none() && args.restarts > 1 {
            return Err(usage!(
                "--steady-state cannot be combined with --restarts (initialise once, or use --init)"
            ));
        }
        let aliases = [("m", Param::M0), ("p", Param::P0)];
        Ok(LgssmRequest {
            state_dim: args.state_dim,
            init: InitConfig::new(state),
            steady_state: args.steady_state,
            learn: learn_set(args, Self::NAME, Param::ALL, &aliases)?,
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
    fn predict(&self, data: &Loaded, proba: bool) -> Result<Table, CliError> {
        if proba {
            return Err(usage!(
                "--proba applies to mixtures and HMMs; an lgssm predicts filtered state means"
            ));
        }
        states(self, data, false)
    }

    fn score(&self, data: &Loaded) -> Result<Score, CliError> {
        Ok(Score {
            log_likelihood: self.log_likelihood(&sequences(data)?).map_err(model)?,
            parameters: self.n_parameters(),
            sequences: Some(data.lengths.len()),
        })
    }

    /// Observations and hidden states.
    fn sample(&self, n: usize, sequences: usize, rng: &mut StdRng) -> Result<(Table, Table), CliError> {
        let width = self.obs_dim().max(self.state_dim());
        let total = draw_size(n, sequences, width, 100_000_000)
            .ok_or_else(|| usage!("-n {n} x --sequences {sequences} is too many values to draw"))?;
        let lengths = vec![n; sequences];
        let mut y = Mat::zeros(total, self.obs_dim());
        let mut x = Mat::zeros(total, self.state_dim());
        for (s, (xs, ys)) in self
            .sample_sequences(&lengths, rng)
            .map_err(model)?
            .into_iter()
            .enumerate()
        {
            y.as_mut().subrows_mut(s * n, n).copy_from(ys.as_ref());
            x.as_mut().subrows_mut(s * n, n).copy_from(xs.as_ref());
        }
        Ok((Table::numbered(y, "x"), Table::numbered(x, "state")))
    }

    /// Smoothed means and standard deviations.
    fn smooth(&self, data: &Loaded) -> Result<Table, CliError> {
        states(self, data, true)
    }
}

/// Filtered (`smoothed = false`) means, or smoothed means and standard
/// deviations, of every sequence, stacked.
fn states(m: &LinearGaussianSsm, data: &Loaded, smoothed: bool) -> Result<Table, CliError> {
    let n = m.state_dim();
    let rows = data.x().nrows();
    if rows.saturating_mul(n).saturating_mul(n) > MAX_ENTRIES {
        return Err(usage!(
            "the filter of a state dimension of {n} over {rows} steps needs too much memory; split the data"
        ));
    }
    let cols = if smoothed { 2 * n } else { n };
    let mut out = Mat::zeros(rows, cols);
    let mut first = 0;
    for y in sequences(data)? {
        let t = y.nrows();
        let mut block = out.as_mut().subrows_mut(first, t);
        if smoothed {
            let s = m.smooth(y).map_err(model)?;
            block.as_mut().subcols_mut(0, n).copy_from(s.smoothed_means());
            for k in 0..t {
                if let Some(cov) = s.smoothed_cov(k) {
                    for i in 0..n {
                        block[(k, n + i)] = cov[(i, i)].max(0.0).sqrt();
                    }
                }
            }
        } else {
            block.copy_from(m.filter(y).map_err(model)?.filtered_means());
        }
        first += t;
    }
    let mut header: Vec<String> = (0..n).map(|i| format!("mean{i}")).collect();
    if smoothed {
        header.extend((0..n).map(|i| format!("sd{i}")));
    }
    Ok(Table { values: out, header })
}
