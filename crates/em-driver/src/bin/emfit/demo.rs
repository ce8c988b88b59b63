//! `emfit demo`: the three scenarios of the project (`shared/SCENARIOS.md`) on
//! data generated here, fitted by the driver's EM loop, with a readable summary
//! and optional SVG plots.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use em_driver::faer::Mat;
use em_driver::hmm::{self, match_labels};
use em_driver::mixture::{self, Covariances, GaussianMixture};
use em_driver::models::{Gmm, GmmHmm, Lgssm};
use em_driver::{
    Control, Diagnostics, EmModel, FitReport, IterationEvent, Observer, RestartSummary, Settings, Start,
    StartEvent, Tolerance,
};

use crate::args::DemoArgs;
use crate::error::{CliError, usage};
use crate::figures::{self, Component2, Curve};
use crate::text::{duration, list, table};

/// Runs `emfit demo`.
pub fn run(args: &DemoArgs) -> Result<(), CliError> {
    let only = |n: u8| args.only.is_empty() || args.only.contains(&n);
    if let Some(bad) = args.only.iter().find(|&&n| !(1..=3).contains(&n)) {
        return Err(usage!(
            "--only: there is no scenario {bad} (scenarios are 1, 2, 3)"
        ));
    }
    if let Some(dir) = &args.plots {
        std::fs::create_dir_all(dir).map_err(|source| em_driver::io::DataError::Io {
            path: dir.clone(),
            source,
        })?;
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "emfit demo: three EM fits on data generated here (seed {}). Each prints its convergence log\n\
         (`iteration  log-likelihood  improvement`), then what was found next to the truth.",
        args.seed
    )?;
    drop(out);
    let total = Instant::now();
    let mut written = Vec::new();
    if only(1) {
        written.extend(scenario1(args)?);
    }
    if only(2) {
        written.extend(scenario2(args)?);
    }
    if only(3) {
        written.extend(scenario3(args)?);
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "\ndemo finished in {}.", duration(total.elapsed()))?;
    if !written.is_empty() {
        writeln!(out, "plots written:")?;
        for p in written {
            writeln!(out, "  {p}")?;
        }
    } else if args.plots.is_none() {
        writeln!(out, "(add --plots DIR to write SVG plots of each scenario)")?;
    }
    Ok(())
}

fn heading(title: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "\n== {title} ==")?;
    Ok(())
}

/// Writes one SVG file into the plots folder; returns its path for the summary.
fn write_plot(dir: &Path, name: &str, svg: &str) -> Result<String, CliError> {
    let path = dir.join(name);
    em_driver::io::write_atomically(&path, |w| w.write_all(svg.as_bytes()))?;
    Ok(path.display().to_string())
}

/// The convergence log of the demo, thinned so long fits stay readable (see
/// [`DemoLog::new`]); the last row is always printed.
struct DemoLog {
    every: usize,
    last: Option<(usize, f64, Option<f64>)>,
    last_printed: bool,
    min_gain: f64,
}

impl DemoLog {
    /// `every = 0`: thin the log automatically.
    fn new(every: usize) -> Self {
        Self {
            every,
            last: None,
            last_printed: false,
            min_gain: f64::INFINITY,
        }
    }

    fn row(k: usize, ll: f64, gain: Option<f64>) {
        let mut out = std::io::stdout().lock();
        let _ = match gain {
            None => writeln!(out, "{k:>10}  {ll:>20.6}"),
            Some(g) => writeln!(out, "{k:>10}  {ll:>20.6}  {g:>12.3e}"),
        };
    }
}

impl<M: EmModel> Observer<M> for DemoLog {
    fn on_start(&mut self, _event: &StartEvent) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "{:>10}  {:>20}  {:>12}",
            "iteration", "log-likelihood", "improvement"
        );
    }

    fn on_iteration(&mut self, e: &IterationEvent<'_, M>) -> Control {
        if let Some(g) = e.improvement {
            self.min_gain = self.min_gain.min(g);
        }
        let k = e.iteration;
        let print = match self.every {
            // Automatic: every row up to 10, every 10th up to 100, then every 100th.
            0 => k <= 10 || (k <= 100 && k.is_multiple_of(10)) || k.is_multiple_of(100),
            every => k.is_multiple_of(every),
        };
        if print {
            Self::row(k, e.log_likelihood, e.improvement);
        }
        if let Some(d) = e.diagnostics
            && !d.is_empty()
        {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{:>10}  M-step: {d}", "");
        }
        self.last = Some((e.iteration, e.log_likelihood, e.improvement));
        self.last_printed = print;
        Control::Continue
    }

    fn on_end(&mut self, _summary: &RestartSummary) {
        if !self.last_printed
            && let Some((k, ll, gain)) = self.last
        {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{:>10}", "...");
            drop(out);
            Self::row(k, ll, gain);
        }
    }
}

/// The one-line outcome of a fit.
fn outcome<D>(report: &FitReport<D>, log: &DemoLog) -> String {
    let first = report.history.first().copied().unwrap_or(f64::NAN);
    let monotone = if report.falls.is_empty() && log.min_gain >= 0.0 {
        "never decreased".to_string()
    } else {
        format!("{} fall(s) recorded", report.falls.len())
    };
    format!(
        "{} after {} iterations in {}: log-likelihood {:.3} -> {:.3} ({monotone})",
        report.termination,
        report.iterations,
        duration(report.elapsed),
        first,
        report.log_likelihood
    )
}

// ---------------------------------------------------------------- scenario 1

fn scenario1(args: &DemoArgs) -> Result<Vec<String>, CliError> {
    use hmm::scenario as s1;
    heading("Scenario 1: GMM-HMM, 2 hidden states, each a 2-component 1-D Gaussian mixture")?;
    let data = s1::sample(args.seed);
    let seqs = data.sequences().map_err(merr)?;
    let (lo, hi) = (
        data.lengths.iter().copied().min().unwrap_or(0),
        data.lengths.iter().copied().max().unwrap_or(0),
    );
    let fresh = s1::fresh_model(&seqs, args.seed).map_err(merr)?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "data:  {} observations sampled from the true model, cut into {} sequences (lengths {lo} to {hi})",
            data.x.nrows(),
            data.lengths.len()
        )?;
        writeln!(
            out,
            "start: a fresh 2-state x 2-component diagonal GMM-HMM initialised from the data by k-means"
        )?;
        writeln!(
            out,
            "stop:  gain <= {:e} or {} iterations\n",
            s1::TOLERANCE,
            s1::MAX_ITERATIONS
        )?;
    }
    let settings = Settings::builder()
        .max_iterations(s1::MAX_ITERATIONS)
        .tolerance(Tolerance::absolute(s1::TOLERANCE))
        .build()?;
    let mut log = DemoLog::new(args.log_every);
    let fit = em_driver::fit_observed::<GmmHmm, _>(
        &seqs,
        Start::Warm(fresh),
        &s1::m_step_options(),
        &settings,
        &mut log,
    )?;
    let model = &fit.model;

    // Accuracy up to relabelling: on the training data, and on a fresh sample.
    let train_path = model.predict(&seqs).map_err(model_err)?;
    let train = match_labels(&train_path, &data.states, s1::N_STATES);
    let fresh_data = s1::sample_with(args.seed.wrapping_add(1), s1::N_POINTS, 1).map_err(merr)?;
    let fresh_seqs = fresh_data.sequences().map_err(merr)?;
    let fresh_path = model.predict(&fresh_seqs).map_err(model_err)?;
    let fresh_match = match_labels(&fresh_path, &fresh_data.states, s1::N_STATES);

    // fitted state for each true state (identity if matching failed).
    let mapping = train
        .as_ref()
        .map_or_else(|| (0..s1::N_STATES).collect(), |m| m.mapping.clone());
    let mut fitted_of_true = [0; s1::N_STATES];
    for (p, &t) in mapping.iter().enumerate() {
        fitted_of_true[t] = p;
    }
    let truth = s1::true_model();
    let mut rows = Vec::new();
    let fmt = |v: &[f64]| list(v, 3);
    let start_fitted: Vec<f64> = fitted_of_true.iter().map(|&p| model.start_probs()[p]).collect();
    rows.push(vec![
        "start probabilities".into(),
        fmt(truth.start_probs()),
        fmt(&start_fitted),
    ]);
    for t in 0..s1::N_STATES {
        let p = fitted_of_true[t];
        let true_row: Vec<f64> = (0..s1::N_STATES).map(|j| truth.transitions()[(t, j)]).collect();
        let fit_row: Vec<f64> = fitted_of_true
            .iter()
            .map(|&q| model.transitions()[(p, q)])
            .collect();
        rows.push(vec![
            format!("transitions from state {}", t + 1),
            fmt(&true_row),
            fmt(&fit_row),
        ]);
    }
    for t in 0..s1::N_STATES {
        let (tw, tm, tv) = mixture_1d(&truth.emission().mixtures()[t]);
        let (fw, fm, fv) = mixture_1d(&model.emission().mixtures()[fitted_of_true[t]]);
        rows.push(vec![format!("state {} weights", t + 1), fmt(&tw), fmt(&fw)]);
        rows.push(vec![format!("state {} means", t + 1), fmt(&tm), fmt(&fm)]);
        rows.push(vec![format!("state {} variances", t + 1), fmt(&tv), fmt(&fv)]);
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "\nresult: {}", outcome(&fit.report, &log))?;
    writeln!(
        out,
        "(fitted states relabelled to match the true ones; components sorted by mean)"
    )?;
    write!(out, "{}", table(&["parameter", "true", "fitted"], &rows))?;
    if let Some(m) = &train {
        writeln!(
            out,
            "Viterbi accuracy on the training data: {:.1}%",
            100.0 * m.accuracy
        )?;
    }
    if let Some(m) = &fresh_match {
        writeln!(
            out,
            "Viterbi accuracy on a fresh sample of {} points: {:.1}% (up to relabelling)",
            s1::N_POINTS,
            100.0 * m.accuracy
        )?;
    }
    drop(out);

    let mut written = Vec::new();
    if let Some(dir) = &args.plots {
        let x: Vec<f64> = (0..data.x.nrows()).map(|i| data.x[(i, 0)]).collect();
        let (xmin, xmax) = x.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
        let pad = 0.05 * (xmax - xmin);
        let n = x.len() as f64;
        let curves: Vec<Curve> = (0..s1::N_STATES)
            .map(|j| {
                let share = train_path.iter().filter(|&&s| s == j).count() as f64 / n;
                let (w, m, v) = mixture_1d(&model.emission().mixtures()[j]);
                figures::curve(xmin - pad, xmax + pad, 300, |t| {
                    share
                        * (0..w.len())
                            .map(|c| w[c] * figures::normal_pdf(t, m[c], v[c]))
                            .sum::<f64>()
                })
            })
            .collect();
        let total: Curve = (
            curves[0].0.clone(),
            (0..curves[0].0.len())
                .map(|i| curves.iter().map(|c| c.1[i]).sum())
                .collect(),
        );
        let svg = figures::histogram_by_state(
            "Scenario 1: data per decoded hidden state, with the fitted densities",
            &x,
            &train_path,
            &curves,
            &total,
        );
        written.push(write_plot(dir, "scenario1_histogram.svg", &svg)?);
        // The true states are relabelled into the fitted labels for the colours to agree.
        let truth_in_fitted: Vec<usize> = data.states.iter().map(|&t| fitted_of_true[t]).collect();
        let svg = figures::series_by_state(&x, &train_path, Some(&truth_in_fitted), s1::N_STATES);
        written.push(write_plot(dir, "scenario1_series.svg", &svg)?);
    }
    Ok(written)
}

/// Weights, means and variances of a 1-D mixture, components sorted by mean.
fn mixture_1d(m: &GaussianMixture) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let k = m.n_components();
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| m.means()[(a, 0)].total_cmp(&m.means()[(b, 0)]));
    let var = |c: usize| m.component_covariance(c).map_or(f64::NAN, |s| s[(0, 0)]);
    (
        order.iter().map(|&c| m.weights()[c]).collect(),
        order.iter().map(|&c| m.means()[(c, 0)]).collect(),
        order.iter().map(|&c| var(c)).collect(),
    )
}

fn merr<E: Into<em_driver::ModelError>>(e: E) -> CliError {
    crate::error::model(e)
}

fn model_err(e: hmm::HmmError) -> CliError {
    merr(e)
}

// ---------------------------------------------------------------- scenario 2

/// Checks every iteration's covariances independently (2-D: positive
/// diagonal and determinant, i.e. SPD) while logging.
struct SpdWatch {
    log: DemoLog,
    checked: usize,
    failures: usize,
}

impl Observer<Gmm> for SpdWatch {
    fn on_start(&mut self, e: &StartEvent) {
        <DemoLog as Observer<Gmm>>::on_start(&mut self.log, e);
    }
    fn on_iteration(&mut self, e: &IterationEvent<'_, Gmm>) -> Control {
        self.checked += 1;
        for k in 0..e.model.n_components() {
            let spd = e.model.component_covariance(k).is_some_and(|c| {
                c[(0, 0)] > 0.0
                    && c[(0, 0)] * c[(1, 1)] - c[(0, 1)] * c[(1, 0)] > 0.0
                    && c[(0, 1)] == c[(1, 0)]
            });
            if !spd {
                self.failures += 1;
            }
        }
        self.log.on_iteration(e)
    }
    fn on_end(&mut self, s: &RestartSummary) {
        <DemoLog as Observer<Gmm>>::on_end(&mut self.log, s);
    }
}

fn component2(m: &GaussianMixture, k: usize) -> Component2 {
    let c = m.component_covariance(k).unwrap_or_else(|| Mat::identity(2, 2));
    Component2 {
        weight: m.weights()[k],
        mean: [m.means()[(k, 0)], m.means()[(k, 1)]],
        cov: [[c[(0, 0)], c[(0, 1)]], [c[(1, 0)], c[(1, 1)]]],
    }
}

fn scenario2(args: &DemoArgs) -> Result<Vec<String>, CliError> {
    use mixture::scenario as s2;
    heading(
        "Scenario 2: 2-D Gaussian mixture, 2 full-covariance components (the hand-written loop crashed)",
    )?;
    let data = s2::two_component_2d(args.seed);
    {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "data:  {} points, component 1 with probability {} (N([0, 0], [[1, 0.5], [0.5, 1]])),\n       \
             otherwise component 2 (N([2.5, 0], [[1, -0.5], [-0.5, 1]]))",
            data.x.nrows(),
            s2::P_FIRST
        )?;
        writeln!(
            out,
            "start: the user's start: means [0, 1] and [1, 0], identity covariances, equal weights\n"
        )?;
    }
    let settings = Settings::builder().max_iterations(500).build()?;
    let mut watch = SpdWatch {
        log: DemoLog::new(args.log_every),
        checked: 0,
        failures: 0,
    };
    let options = mixture::MStepOptions::default();
    let fit = em_driver::fit_observed::<Gmm, _>(
        data.x.as_ref(),
        Start::Warm(s2::naive_start()),
        &options,
        &settings,
        &mut watch,
    )?;
    let model = &fit.model;
    let labels = model.predict(data.x.as_ref()).map_err(merr)?;
    let matched = match_labels(&labels, &data.labels, 2);
    let mapping = matched.as_ref().map_or_else(|| vec![0, 1], |m| m.mapping.clone());
    let mut fitted_of_true = [0usize; 2];
    for (p, &t) in mapping.iter().enumerate() {
        fitted_of_true[t] = p;
    }
    let truth = &data.truth;
    let mut rows = Vec::new();
    for t in 0..2 {
        let (tc, fc) = (component2(truth, t), component2(model, fitted_of_true[t]));
        rows.push(vec![
            format!("component {} weight", t + 1),
            format!("{:.3}", tc.weight),
            format!("{:.3}", fc.weight),
        ]);
        rows.push(vec![
            format!("component {} mean", t + 1),
            list(&tc.mean, 3),
            list(&fc.mean, 3),
        ]);
        rows.push(vec![
            format!("component {} covariance", t + 1),
            format!("{} {}", list(&tc.cov[0], 3), list(&tc.cov[1], 3)),
            format!("{} {}", list(&fc.cov[0], 3), list(&fc.cov[1], 3)),
        ]);
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "\nresult: {}", outcome(&fit.report, &watch.log))?;
    write!(out, "{}", table(&["parameter", "true", "fitted"], &rows))?;
    if let Some(m) = &matched {
        writeln!(
            out,
            "points assigned to their true component: {:.1}% (up to relabelling)",
            100.0 * m.accuracy
        )?;
    }
    writeln!(
        out,
        "covariances symmetric positive definite after all {} iterations (checked independently): {}",
        watch.checked,
        if watch.failures == 0 { "yes" } else { "NO" }
    )?;
    // The original crash, now a clear error: a non-SPD covariance is rejected with its component named.
    let bad = GaussianMixture::new(
        vec![0.5, 0.5],
        em_driver::faer::mat![[0.0, 1.0], [1.0, 0.0]],
        Covariances::Full(vec![
            Mat::identity(2, 2),
            em_driver::faer::mat![[1.0, 2.0], [2.0, 1.0]],
        ]),
    );
    if let Err(e) = bad {
        writeln!(
            out,
            "a covariance that is not positive definite is refused up front:\n  {e}"
        )?;
    }
    drop(out);

    let mut written = Vec::new();
    if let Some(dir) = &args.plots {
        let xs: Vec<f64> = (0..data.x.nrows()).map(|i| data.x[(i, 0)]).collect();
        let ys: Vec<f64> = (0..data.x.nrows()).map(|i| data.x[(i, 1)]).collect();
        let fitted: Vec<Component2> = (0..model.n_components()).map(|k| component2(model, k)).collect();
        let true_components: Vec<Component2> = (0..2).map(|k| component2(truth, k)).collect();
        let svg = figures::mixture_2d(&xs, &ys, &labels, &fitted, &true_components);
        written.push(write_plot(dir, "scenario2_mixture.svg", &svg)?);
    }
    Ok(written)
}

// ---------------------------------------------------------------- scenario 3

fn scenario3(args: &DemoArgs) -> Result<Vec<String>, CliError> {
    use em_driver::statespace::InferenceOptions;
    use em_driver::statespace::scenario::{self as s3, Scenario3};
    heading("Scenario 3: linear Gaussian state-space model, EM with the Kalman filter and RTS smoother")?;
    let steps = args
        .steps
        .unwrap_or(if args.full { s3::FULL_LENGTH } else { 5_000 });
    if steps < 2 {
        return Err(usage!("--steps must be at least 2"));
    }
    let data = Scenario3::new(steps, args.seed).generate();
    let y = data.observations.as_ref();
    let (n, j) = (s3::STATE_DIM, s3::JOINTS);
    {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "data:  {steps} time steps x {n} observed values (position, velocity and acceleration of {j} joints),\n       \
             simulated from a robot-arm-like model: x_k = A x_(k-1) + w_k, y_k = x_k + v_k"
        )?;
        if !args.full && args.steps.is_none() {
            writeln!(
                out,
                "       (the original data set has {} steps: run with --full for that size)",
                s3::FULL_LENGTH
            )?;
        }
        writeln!(
            out,
            "start: A = 0, Q = 0.01 diag(uniform), H = I, R = kron(diag(0.01, 0.01, 1), I_7), m0 = y_0, P0 = R;\n       \
             EM learns A and Q for {} iterations (steady-state Kalman filter once the covariances settle)\n",
            args.iterations
        )?;
    }
    let start = s3::em_start(y, args.seed)
        .map_err(merr)?
        .with_inference(InferenceOptions::steady_state());
    let settings = Settings::builder()
        .max_iterations(args.iterations)
        .tolerance(Tolerance {
            absolute: 0.0,
            relative: 0.0,
        })
        .build()?;
    let seqs = [y];
    let mut log = DemoLog::new(args.log_every);
    let fit = em_driver::fit_observed::<Lgssm, _>(
        &seqs[..],
        Start::Warm(start),
        &s3::learn_options(),
        &settings,
        &mut log,
    )?;
    let model = &fit.model;
    let truth = &data.truth;
    let true_ll = truth
        .clone()
        .with_inference(InferenceOptions::steady_state())
        .log_likelihood(&seqs)
        .map_err(merr)?;

    // The per-joint 3 x 3 blocks of A (position, velocity, acceleration), averaged over joints.
    let block = |a: em_driver::faer::MatRef<'_, f64>, r: usize| -> Vec<f64> {
        (0..3)
            .map(|c| (0..j).map(|i| a[(r * j + i, c * j + i)]).sum::<f64>() / j as f64)
            .collect()
    };
    let q_group = |q: em_driver::faer::MatRef<'_, f64>| -> Vec<f64> {
        (0..3)
            .map(|g| (0..j).map(|i| q[(g * j + i, g * j + i)]).sum::<f64>() / j as f64)
            .collect()
    };
    let fro = |a: em_driver::faer::MatRef<'_, f64>, b: em_driver::faer::MatRef<'_, f64>| -> f64 {
        let mut s = 0.0;
        for c in 0..a.ncols() {
            for r in 0..a.nrows() {
                let d = a[(r, c)] - b[(r, c)];
                s += d * d;
            }
        }
        s.sqrt()
    };
    let zero = Mat::<f64>::zeros(n, n);
    let mut rows = Vec::new();
    for (r, name) in ["position", "velocity", "acceleration"].iter().enumerate() {
        rows.push(vec![
            format!("A block, {name} row"),
            list(&block(truth.a(), r), 3),
            list(&block(model.a(), r), 3),
        ]);
    }
    rows.push(vec![
        "diag Q by group (pos, vel, acc)".into(),
        sci(&q_group(truth.q())),
        sci(&q_group(model.q())),
    ]);
    let per_iteration = fit.report.elapsed.as_secs_f64() / (fit.report.iterations.max(1) as f64);
    let mut out = std::io::stdout().lock();
    writeln!(out, "\nresult: {}", outcome(&fit.report, &log))?;
    writeln!(
        out,
        "(A blocks and Q averaged over the {j} joints; A = kron(A3, I_7) plus a weak coupling)"
    )?;
    write!(out, "{}", table(&["parameter", "true", "fitted"], &rows))?;
    writeln!(
        out,
        "relative error of A: ||A_fit - A_true|| / ||A_true|| = {:.3} (start: 1.000)",
        fro(model.a(), truth.a()) / fro(zero.as_ref(), truth.a())
    )?;
    writeln!(
        out,
        "log-likelihood of the data: fitted {:.1}, true model {:.1}",
        fit.report.log_likelihood, true_ll
    )?;
    if !fit.report.converged()
        && let Some(gain) = fit.report.gains().last()
    {
        writeln!(
            out,
            "EM is still climbing (last gain {gain:.3e}): it is slow along the weakly identified couplings\n\
             of A; more iterations (--iterations 1000) bring A and the log-likelihood closer to the truth."
        )?;
    }
    writeln!(
        out,
        "speed: {:.1} ms per EM iteration (filter + smoother + M-step over {steps} x {n})",
        per_iteration * 1e3
    )?;
    drop(out);

    let mut written = Vec::new();
    if let Some(dir) = &args.plots {
        // Smooth the first steps only: enough to see, cheap to draw.
        let window = steps.min(120);
        let s = model.smooth(y.subrows(0, window)).map_err(merr)?;
        let panels: Vec<figures::SmoothedPanel> = [(0, "position"), (j, "velocity"), (2 * j, "acceleration")]
            .iter()
            .map(|&(i, name)| figures::SmoothedPanel {
                title: format!("Scenario 3: joint 1 {name}, smoothed state +-2 sd against the observations"),
                observed: (0..window).map(|k| y[(k, i)]).collect(),
                mean: (0..window).map(|k| s.smoothed_means()[(k, i)]).collect(),
                sd: (0..window)
                    .map(|k| s.smoothed_cov(k).map_or(f64::NAN, |c| c[(i, i)].max(0.0).sqrt()))
                    .collect(),
                truth: Some((0..window).map(|k| data.states[(k, i)]).collect()),
            })
            .collect();
        written.push(write_plot(
            dir,
            "scenario3_smoothed.svg",
            &figures::smoothed(&panels),
        )?);
    }
    Ok(written)
}

/// Numbers in scientific notation, `[1.0e-4, 1.0e-3]`.
fn sci(values: &[f64]) -> String {
    let parts: Vec<String> = values.iter().map(|v| format!("{v:.2e}")).collect();
    format!("[{}]", parts.join(", "))
}
