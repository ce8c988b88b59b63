//! Scenario 3 of the demo: a linear Gaussian state-space model of a 7-joint
//! robot arm (21-D state, H = I), EM for A and Q with the steady-state
//! Kalman filter and RTS smoother, accelerated by SQUAREM, from two starts:
//! A = 0 (the start a person would write, `scenario::em_start`) and the
//! data-driven start of the dynamics (A and Q from `init_from_data`, the
//! observation model as known). Both stop when converged; the demo compares
//! them with the truth: the relative error of A and the log-likelihood
//! against that of the true parameters.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use em_driver::faer::MatRef;
use em_driver::rand::SeedableRng;
use em_driver::rand::rngs::StdRng;
use em_driver::statespace::scenario::{self as s3, Scenario3, Scenario3Data};
use em_driver::statespace::{InferenceOptions, InitConfig, LinearGaussianSsm, Parameters, StateSpaceError};
use em_driver::{
    Control, EmModel, Fit, IterationEvent, NoopObserver, Observer, RestartSummary, Settings, Start,
    StartEvent, Termination,
};

use super::figures::{self, SmoothedPanel};
use super::log::DemoLog;
use super::output::{heading, print_comparison, write_plot};
use crate::args::DemoArgs;
use crate::error::{CliError, model, usage};
use crate::limits::{check_memory, f64_bytes};
use crate::text::{duration, list, table};

const N: usize = s3::STATE_DIM;
const J: usize = s3::JOINTS;

/// Values of `n` numbers kept per time step by the scenario: the data and
/// the true states, and the steady-state filter's and smoother's per-step
/// means and innovations during EM (a measured peak of about 6.4 n values
/// per step for the filter and smoother alone).
const VALUES_PER_STEP: usize = 8;

/// The number of time steps of the scenario (`--steps`, or the default of
/// `--full` or not), checked: at least 2, and a memory estimate of
/// `8 bytes x VALUES_PER_STEP x n x T` within the program's limit.
pub fn steps(args: &DemoArgs) -> Result<usize, CliError> {
    let steps = args
        .steps
        .unwrap_or(if args.full { s3::FULL_LENGTH } else { 5_000 });
    if steps < 2 {
        return Err(usage!("--steps must be at least 2"));
    }
    check_memory(
        &format!("scenario 3 with --steps {steps} ({N} values per step)"),
        f64_bytes(&[steps, N, VALUES_PER_STEP]),
    )?;
    Ok(steps)
}

/// Runs scenario 3; returns the plots written.
pub fn run(args: &DemoArgs) -> Result<Vec<String>, CliError> {
    heading("Scenario 3: linear Gaussian state-space model, EM with the Kalman filter and RTS smoother")?;
    let steps = steps(args)?;
    let data = Scenario3::new(steps, args.seed()?).generate();
    let y = data.observations.as_ref();
    intro(args, steps)?;
    let own = s3::em_start(y, args.seed()?)
        .map_err(model)?
        .with_inference(InferenceOptions::steady_state());
    // The library's defaults (SQUAREM, the remaining-gain rule) but for the cap.
    let settings = Settings::builder().max_iterations(args.iterations).build()?;
    let mut log = Reaches::new(DemoLog::new(args.log_every), data.truth.a());
    let from_zero = em_driver::fit_observed::<LinearGaussianSsm, _>(
        &[y][..],
        Start::Warm(own.clone()),
        &s3::learn_options(),
        &settings,
        &mut log,
    )?;
    let (log, zero_reached) = (log.inner, log.first);
    print_comparison(
        &log.outcome(&from_zero.report),
        Some(&format!(
            "(from A = 0; A blocks and Q averaged over the {J} joints; A = kron(A3, I_7) plus a weak coupling)"
        )),
        &comparison(&data.truth, &from_zero.model),
    )?;
    let start = data_driven_start(y, &own)?;
    let mut watch = Reaches::new(NoopObserver, data.truth.a());
    let from_data = em_driver::fit_observed::<LinearGaussianSsm, _>(
        &[y][..],
        Start::Warm(start.clone()),
        &s3::learn_options(),
        &settings,
        &mut watch,
    )?;
    let true_ll = data
        .truth
        .clone()
        .with_inference(InferenceOptions::steady_state())
        .log_likelihood(&[y])
        .map_err(model)?;
    let starts = [
        (&own, &from_zero, zero_reached),
        (&start, &from_data, watch.first),
    ];
    print_quality(&starts, &data.truth, true_ll, steps)?;
    match &args.plots {
        Some(dir) => plots(dir, &data, &from_zero.model, steps),
        None => Ok(Vec::new()),
    }
}

/// What the data are and how the fits start and stop.
fn intro(args: &DemoArgs, steps: usize) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "data:  {steps} time steps x {N} observed values (position, velocity and acceleration of {J} joints),\n       \
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
         then again from the data-driven start of A and Q (autoregression of the observations)\n\
         fit:   EM for A and Q, SQUAREM-accelerated, until the log-likelihood gain still to come\n       \
         (estimated from the last two EM gains) is within 1e-8 of |log-likelihood| (at most {}\n       \
         iterations; steady-state Kalman filter once the covariances settle)\n",
        args.iterations
    )?;
    Ok(())
}

/// The data-driven start of the dynamics: A and Q from `init_from_data`
/// (n = p: an autoregression of the observations), the observation model
/// (H, R) and the initial state of the person's own start.
fn data_driven_start(y: MatRef<'_, f64>, own: &LinearGaussianSsm) -> Result<LinearGaussianSsm, CliError> {
    let config = InitConfig::new(N).with_a_jitter(0.0);
    let dynamics = LinearGaussianSsm::init_from_data(&[y][..], &config, &mut StdRng::seed_from_u64(0))
        .map_err(model)?
        .into_parameters();
    let start = LinearGaussianSsm::from_parameters(Parameters {
        a: dynamics.a,
        q: dynamics.q,
        ..own.parameters()
    })
    .map_err(model)?;
    Ok(start.with_inference(own.inference()))
}

/// The per-joint 3 x 3 blocks of A (position, velocity, acceleration) and
/// the diagonal of Q by group, averaged over the joints.
fn comparison(truth: &LinearGaussianSsm, model: &LinearGaussianSsm) -> Vec<Vec<String>> {
    let block = |a: MatRef<'_, f64>, r: usize| -> Vec<f64> {
        (0..3)
            .map(|c| (0..J).map(|i| a[(r * J + i, c * J + i)]).sum::<f64>() / J as f64)
            .collect()
    };
    let q_group = |q: MatRef<'_, f64>| -> Vec<f64> {
        (0..3)
            .map(|g| (0..J).map(|i| q[(g * J + i, g * J + i)]).sum::<f64>() / J as f64)
            .collect()
    };
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
    rows
}

/// `‖A − A_true‖_F / ‖A_true‖_F`.
fn relative_error(a: MatRef<'_, f64>, truth: MatRef<'_, f64>) -> f64 {
    let (mut diff, mut size) = (0.0, 0.0);
    for c in 0..a.ncols() {
        for r in 0..a.nrows() {
            diff += (a[(r, c)] - truth[(r, c)]).powi(2);
            size += truth[(r, c)].powi(2);
        }
    }
    (diff / size).sqrt()
}

/// A start, the fit from it, and the iteration and time at which A first
/// came within 5% of the truth.
type StartAndFit<'a> = (
    &'a LinearGaussianSsm,
    &'a Fit<LinearGaussianSsm>,
    Option<(usize, Duration)>,
);

/// How close each fit came to the truth, and what it cost: one column per
/// start, then the truth.
fn print_quality(
    fits: &[StartAndFit<'_>; 2],
    truth: &LinearGaussianSsm,
    true_ll: f64,
    steps: usize,
) -> Result<(), CliError> {
    let column = |f: &dyn Fn(&LinearGaussianSsm, &Fit<LinearGaussianSsm>) -> String| -> Vec<String> {
        fits.iter().map(|(start, fit, _)| f(start, fit)).collect()
    };
    let row = |name: &str, values: Vec<String>, truth: &str| -> Vec<String> {
        let mut row = vec![name.to_string()];
        row.extend(values);
        row.push(truth.to_string());
        row
    };
    let rows = vec![
        row(
            "relative error of A at the start",
            column(&|start, _| format!("{:.3}", relative_error(start.a(), truth.a()))),
            "0",
        ),
        row(
            "relative error of A, fitted",
            column(&|_, fit| format!("{:.3}", relative_error(fit.model.a(), truth.a()))),
            "0",
        ),
        row(
            "log-likelihood",
            column(&|_, fit| format!("{:.1}", fit.report.log_likelihood)),
            &format!("{true_ll:.1}"),
        ),
        row("outcome", column(&|_, fit| outcome(fit.report.termination)), ""),
        row(
            "E-steps",
            column(&|_, fit| fit.report.work.e_steps.to_string()),
            "",
        ),
        row("time", column(&|_, fit| duration(fit.report.elapsed)), ""),
        row(
            "A within 5% of the truth at",
            fits.iter()
                .map(|(_, _, reached)| match reached {
                    Some((k, t)) => format!("iteration {k}, {}", duration(*t)),
                    None => "never".to_string(),
                })
                .collect(),
            "",
        ),
    ];
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "\nboth fits against the truth (relative error of A: ||A - A_true||_F / ||A_true||_F):"
    )?;
    write!(
        out,
        "{}",
        table(&["", "from A = 0", "from the data", "true parameters"], &rows)
    )?;
    if fits.iter().all(|(_, fit, _)| fit.report.log_likelihood > true_ll) {
        writeln!(
            out,
            "(the fits beat the true parameters' log-likelihood: they fit {} free parameters to this sample)",
            s3::learn_options().n_free_parameters(N, N)
        )?;
    }
    let (_, fit, _) = fits[0];
    let per_step = fit.report.elapsed.as_secs_f64() / fit.report.work.e_steps.max(1) as f64;
    writeln!(
        out,
        "speed: {:.1} ms per EM iteration (an E-step, filter + smoother over {steps} x {N}, and an M-step)",
        per_step * 1e3
    )?;
    if fits.iter().any(|(_, fit, _)| !fit.report.converged()) {
        writeln!(
            out,
            "a fit reached the iteration cap before converging: EM is slow along the weakly identified\n\
             couplings of A; a larger --iterations (say 5000) lets it finish."
        )?;
    }
    Ok(())
}

/// An observer that passes every event on to `inner` and notes the first
/// iteration (and its time) whose A is within 5% of the truth.
struct Reaches<'a, O> {
    inner: O,
    truth: MatRef<'a, f64>,
    first: Option<(usize, Duration)>,
}

impl<'a, O> Reaches<'a, O> {
    fn new(inner: O, truth: MatRef<'a, f64>) -> Self {
        Self {
            inner,
            truth,
            first: None,
        }
    }
}

impl<O: Observer<LinearGaussianSsm>> Observer<LinearGaussianSsm> for Reaches<'_, O> {
    fn on_start(&mut self, event: &StartEvent) {
        self.inner.on_start(event);
    }

    fn on_iteration(&mut self, event: &IterationEvent<'_, LinearGaussianSsm>) -> Control {
        if self.first.is_none() && relative_error(event.model.a(), self.truth) <= 0.05 {
            self.first = Some((event.iteration, event.elapsed));
        }
        self.inner.on_iteration(event)
    }

    fn on_end(&mut self, summary: &RestartSummary<StateSpaceError>) {
        self.inner.on_end(summary);
    }
}

/// A short name of how a fit ended, for the table.
fn outcome(termination: Termination) -> String {
    match termination {
        Termination::Converged => "converged".into(),
        Termination::IterationCap => "iteration cap".into(),
        Termination::TimeBudget => "time budget".into(),
        other => other.to_string(),
    }
}

/// Joint 1's position, velocity and acceleration over the first steps:
/// smoothed state +-2 sd against the observations and the true state.
fn plots(
    dir: &Path,
    data: &Scenario3Data,
    fitted: &LinearGaussianSsm,
    steps: usize,
) -> Result<Vec<String>, CliError> {
    // Smooth the first steps only: enough to see, cheap to draw.
    let window = steps.min(120);
    let y = data.observations.as_ref();
    let s = fitted.smooth(y.subrows(0, window)).map_err(model)?;
    let panels: Vec<SmoothedPanel> = [(0, "position"), (J, "velocity"), (2 * J, "acceleration")]
        .iter()
        .map(|&(i, name)| SmoothedPanel {
            title: format!("Scenario 3: joint 1 {name}, smoothed state +-2 sd against the observations"),
            observed: (0..window).map(|k| y[(k, i)]).collect(),
            mean: (0..window).map(|k| s.smoothed_means()[(k, i)]).collect(),
            sd: (0..window)
                .map(|k| s.smoothed_cov(k).map_or(f64::NAN, |c| c[(i, i)].max(0.0).sqrt()))
                .collect(),
            truth: Some((0..window).map(|k| data.states[(k, i)]).collect()),
        })
        .collect();
    Ok(vec![write_plot(
        dir,
        "scenario3_smoothed.svg",
        &figures::smoothed(&panels),
    )?])
}

/// Numbers in scientific notation, `[1.0e-4, 1.0e-3]`.
fn sci(values: &[f64]) -> String {
    let parts: Vec<String> = values.iter().map(|v| format!("{v:.2e}")).collect();
    format!("[{}]", parts.join(", "))
}
