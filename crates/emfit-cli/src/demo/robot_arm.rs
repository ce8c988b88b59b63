//! Scenario 3 of the demo: a linear Gaussian state-space model of a 7-joint
//! robot arm (21-D state, H = I), EM for A and Q from A = 0 with the
//! steady-state Kalman filter and RTS smoother.

use std::io::Write;
use std::path::Path;

use em_driver::faer::{Mat, MatRef};
use em_driver::statespace::scenario::{self as s3, Scenario3, Scenario3Data};
use em_driver::statespace::{InferenceOptions, LinearGaussianSsm};
use em_driver::{Fit, Settings, Start, Tolerance};

use super::figures::{self, SmoothedPanel};
use super::log::DemoLog;
use super::output::{heading, print_comparison, write_plot};
use crate::args::DemoArgs;
use crate::error::{CliError, model, usage};
use crate::text::list;

const N: usize = s3::STATE_DIM;
const J: usize = s3::JOINTS;

/// Runs scenario 3; returns the plots written.
pub fn run(args: &DemoArgs) -> Result<Vec<String>, CliError> {
    heading("Scenario 3: linear Gaussian state-space model, EM with the Kalman filter and RTS smoother")?;
    let steps = args
        .steps
        .unwrap_or(if args.full { s3::FULL_LENGTH } else { 5_000 });
    if steps < 2 {
        return Err(usage!("--steps must be at least 2"));
    }
    let data = Scenario3::new(steps, args.seed).generate();
    let y = data.observations.as_ref();
    intro(args, steps)?;
    let start = s3::em_start(y, args.seed)
        .map_err(model)?
        .with_inference(InferenceOptions::steady_state());
    let settings = Settings::builder()
        .max_iterations(args.iterations)
        .tolerance(Tolerance {
            absolute: 0.0,
            relative: 0.0,
        })
        .build()?;
    let mut log = DemoLog::new(args.log_every);
    let fit = em_driver::fit_observed::<LinearGaussianSsm, _>(
        &[y][..],
        Start::Warm(start),
        &s3::learn_options(),
        &settings,
        &mut log,
    )?;
    let true_ll = data
        .truth
        .clone()
        .with_inference(InferenceOptions::steady_state())
        .log_likelihood(&[y])
        .map_err(model)?;
    print_comparison(
        &log.outcome(&fit.report),
        Some(&format!(
            "(A blocks and Q averaged over the {J} joints; A = kron(A3, I_7) plus a weak coupling)"
        )),
        &comparison(&data.truth, &fit.model),
    )?;
    print_quality(&fit, &data.truth, true_ll, steps)?;
    match &args.plots {
        Some(dir) => plots(dir, &data, &fit.model, steps),
        None => Ok(Vec::new()),
    }
}

/// What the data are and how the fit starts.
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
         EM learns A and Q for {} iterations (steady-state Kalman filter once the covariances settle)\n",
        args.iterations
    )?;
    Ok(())
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

/// How close the fit came to the truth, and how fast it ran.
fn print_quality(
    fit: &Fit<LinearGaussianSsm>,
    truth: &LinearGaussianSsm,
    true_ll: f64,
    steps: usize,
) -> Result<(), CliError> {
    let fro = |a: MatRef<'_, f64>, b: MatRef<'_, f64>| -> f64 {
        let mut s = 0.0;
        for c in 0..a.ncols() {
            for r in 0..a.nrows() {
                let d = a[(r, c)] - b[(r, c)];
                s += d * d;
            }
        }
        s.sqrt()
    };
    let zero = Mat::<f64>::zeros(N, N);
    let report = &fit.report;
    let per_iteration = report.elapsed.as_secs_f64() / (report.iterations.max(1) as f64);
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "relative error of A: ||A_fit - A_true|| / ||A_true|| = {:.3} (start: 1.000)",
        fro(fit.model.a(), truth.a()) / fro(zero.as_ref(), truth.a())
    )?;
    writeln!(
        out,
        "log-likelihood of the data: fitted {:.1}, true model {:.1}",
        report.log_likelihood, true_ll
    )?;
    if !report.converged()
        && let Some(gain) = report.gains().last()
    {
        writeln!(
            out,
            "EM is still climbing (last gain {gain:.3e}): it is slow along the weakly identified couplings\n\
             of A; more iterations (--iterations 1000) bring A and the log-likelihood closer to the truth."
        )?;
    }
    writeln!(
        out,
        "speed: {:.1} ms per EM iteration (filter + smoother + M-step over {steps} x {N})",
        per_iteration * 1e3
    )?;
    Ok(())
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
