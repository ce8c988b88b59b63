//! The linear Gaussian state-space model in `emfit fit`, `predict`, `score`,
//! `sample` and `smooth`.

use std::io::Write;

use em_driver::faer::{Mat, MatRef};
use em_driver::models::Lgssm;
use em_driver::rand::SeedableRng;
use em_driver::rand::rngs::StdRng;
use em_driver::statespace::{self, InferenceOptions, LearnSet, LinearGaussianSsm};
use em_driver::{ModelFile, Settings, Start};

use crate::args::{FitArgs, SampleArgs};
use crate::error::{CliError, model, usage};
use crate::input::Loaded;
use crate::summary::row;
use crate::text::list;

/// The sequences of the data (rows split by the lengths).
pub fn sequences(loaded: &Loaded) -> Result<Vec<MatRef<'_, f64>>, CliError> {
    statespace::split_sequences(loaded.data.as_ref(), &loaded.lengths).map_err(model)
}

/// The inference options of `--steady-state`.
fn inference(steady_state: bool) -> InferenceOptions {
    if steady_state {
        InferenceOptions::steady_state()
    } else {
        InferenceOptions::exact()
    }
}

/// Runs `emfit fit lgssm`.
pub fn fit(args: &FitArgs, loaded: &Loaded, settings: &Settings) -> Result<(), CliError> {
    let flags = crate::fit::LearnFlags::parse(
        args,
        &[
            ("A", &["a"]),
            ("Q", &["q"]),
            ("H", &["h"]),
            ("R", &["r"]),
            ("m0", &["m"]),
            ("P0", &["p0", "p"]),
        ],
    )?;
    let mut learn = LearnSet::none();
    learn.a = flags.has("A");
    learn.q = flags.has("Q");
    learn.h = flags.has("H");
    learn.r = flags.has("R");
    learn.m0 = flags.has("m0");
    learn.p0 = flags.has("P0");
    let options = statespace::MStepOptions::new(learn);
    let seqs = sequences(loaded)?;
    let p = loaded.data.ncols();
    let start = match args.init.as_deref() {
        Some(path) => {
            let m = LinearGaussianSsm::load(path).map_err(|e| crate::error::in_model_file(path, e))?;
            em_driver::io::check_columns(&args.data.data, loaded.data.as_ref(), m.obs_dim())?;
            if let Some(n) = args.state_dim.filter(|&n| n != m.state_dim()) {
                return Err(usage!(
                    "--state-dim {n} conflicts with the state dimension {} of the --init model",
                    m.state_dim()
                ));
            }
            Start::Warm(m.with_inference(inference(args.steady_state)))
        }
        None => {
            let config = statespace::InitConfig::new(args.state_dim.unwrap_or(p));
            if args.steady_state {
                // The inference options live in the model: initialise restart 0 here
                // exactly as the driver would, then start from it.
                if settings.restarts() > 1 {
                    return Err(usage!(
                        "--steady-state cannot be combined with --restarts (initialise once, or use --init)"
                    ));
                }
                let mut rng = StdRng::seed_from_u64(settings.restart_seed(0));
                let m = LinearGaussianSsm::init_from_data(&seqs, &config, &mut rng).map_err(model)?;
                Start::Warm(m.with_inference(InferenceOptions::steady_state()))
            } else {
                Start::FromData(config)
            }
        }
    };
    let fit = crate::fit::run_driver::<Lgssm>(&seqs, start, &options, settings, args)?;
    if !args.quiet {
        let mut out = std::io::stdout().lock();
        write!(out, "{}", describe(&fit.model))?;
        let bic = fit.model.bic(&seqs).map_err(model)?;
        let aic = fit.model.aic(&seqs).map_err(model)?;
        writeln!(out, "BIC {bic:.3}  AIC {aic:.3}")?;
    }
    crate::fit::save(&fit.model, args)
}

/// A short description of a state-space model.
pub fn describe(m: &LinearGaussianSsm) -> String {
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
    s
}

/// Filtered (`smoothed = false`) means, or smoothed means and standard
/// deviations, of every sequence, stacked.
pub fn states(
    m: &LinearGaussianSsm,
    loaded: &Loaded,
    smoothed: bool,
) -> Result<(Mat<f64>, Vec<String>), CliError> {
    let n = m.state_dim();
    let rows = loaded.data.nrows();
    if rows.saturating_mul(n).saturating_mul(n) > 250_000_000 {
        return Err(usage!(
            "the filter of a state dimension of {n} over {rows} steps needs too much memory; split the data"
        ));
    }
    let cols = if smoothed { 2 * n } else { n };
    let mut out = Mat::zeros(rows, cols);
    let mut first = 0;
    for y in sequences(loaded)? {
        let t = y.nrows();
        if smoothed {
            let s = m.smooth(y).map_err(model)?;
            out.as_mut()
                .subrows_mut(first, t)
                .subcols_mut(0, n)
                .copy_from(s.smoothed_means());
            for k in 0..t {
                if let Some(cov) = s.smoothed_cov(k) {
                    for i in 0..n {
                        out[(first + k, n + i)] = cov[(i, i)].max(0.0).sqrt();
                    }
                }
            }
        } else {
            let f = m.filter(y).map_err(model)?;
            out.as_mut().subrows_mut(first, t).copy_from(f.filtered_means());
        }
        first += t;
    }
    let mut names: Vec<String> = (0..n).map(|i| format!("mean{i}")).collect();
    if smoothed {
        names.extend((0..n).map(|i| format!("sd{i}")));
    }
    Ok((out, names))
}

/// Log-likelihood, free parameters and observed steps of the data.
pub fn score(m: &LinearGaussianSsm, loaded: &Loaded) -> Result<(f64, usize), CliError> {
    let seqs = sequences(loaded)?;
    Ok((m.log_likelihood(&seqs).map_err(model)?, m.n_parameters()))
}

/// Draws `--sequences` sequences of `-n` steps: (observations, states).
pub fn sample(
    m: &LinearGaussianSsm,
    args: &SampleArgs,
    rng: &mut StdRng,
) -> Result<(Mat<f64>, Mat<f64>), CliError> {
    let total = args
        .n
        .checked_mul(args.sequences)
        .filter(|&t| t.saturating_mul(m.obs_dim().max(m.state_dim())) <= 100_000_000)
        .ok_or_else(|| {
            usage!(
                "-n {} x --sequences {} is too many values to draw",
                args.n,
                args.sequences
            )
        })?;
    let lengths = vec![args.n; args.sequences];
    let mut y = Mat::zeros(total, m.obs_dim());
    let mut x = Mat::zeros(total, m.state_dim());
    for (s, (xs, ys)) in m.sample_sequences(&lengths, rng).into_iter().enumerate() {
        y.as_mut().subrows_mut(s * args.n, args.n).copy_from(ys.as_ref());
        x.as_mut().subrows_mut(s * args.n, args.n).copy_from(xs.as_ref());
    }
    Ok((y, x))
}
