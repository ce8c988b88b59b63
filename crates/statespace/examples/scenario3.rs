//! The robot-arm scenario: EM for the transition (A, Q) of the 21-dimensional
//! state-space model of a 7-joint arm, from A = 0 and Q = 0.01 diag(uniform).
//!
//! `cargo run --release -p emfit-statespace --example scenario3 -- [T] [iterations] [exact|steady] [seed]`
//! (defaults: T = 44,484, 100 iterations, steady, seed 7).
//!
//! Runs the em-core loop for exactly `iterations` iterations (no
//! convergence test, falls recorded but not stopping), printing its log
//! (`iteration  log-likelihood  improvement`), then how far the learned A
//! and Q are from the truth, and the time.

use std::time::Instant;

use statespace::scenario::{FULL_LENGTH, STATE_DIM, Scenario3, Scenario3Data, em_start, learn_options};
use statespace::{InferenceOptions, LinearGaussianSsm, LogObserver, OnFall, Settings, Start, Tolerance};

/// Largest `|a − b|` over the given rows.
fn max_abs_diff(a: faer::MatRef<'_, f64>, b: faer::MatRef<'_, f64>, rows: std::ops::Range<usize>) -> f64 {
    let mut e = 0.0f64;
    for i in rows {
        for j in 0..a.ncols() {
            e = e.max((a[(i, j)] - b[(i, j)]).abs());
        }
    }
    e
}

/// The command line: steps, iterations, inference options, seed.
fn arguments() -> (usize, usize, InferenceOptions, u64) {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let steps = args.first().and_then(|s| s.parse().ok()).unwrap_or(FULL_LENGTH);
    let iterations = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100);
    let inference = match args.get(2).map(String::as_str) {
        Some("exact") => InferenceOptions::exact(),
        _ => InferenceOptions::steady_state(),
    };
    let seed = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(7);
    (steps, iterations, inference, seed)
}

/// The learned model against the truth.
fn compare(model: &LinearGaussianSsm, data: &Scenario3Data, inference: InferenceOptions) {
    let y = data.observations.as_ref();
    let final_ll = model.log_likelihood(&[y]).expect("filter");
    let mut params = data.truth.parameters();
    params.m0 = model.m0().to_vec();
    params.p0 = model.p0().to_owned();
    let truth_ll = LinearGaussianSsm::from_parameters(params)
        .expect("valid")
        .with_inference(inference)
        .log_likelihood(&[y])
        .expect("filter");
    println!("log-likelihood: learned {final_ll:.3}, true parameters {truth_ll:.3}");
    let (a, q) = (model.a(), model.q());
    let (ta, tq) = (data.truth.a(), data.truth.q());
    println!(
        "max |A - A_true|: positions {:.4}, velocities {:.4}, accelerations {:.4}",
        max_abs_diff(a, ta, 0..7),
        max_abs_diff(a, ta, 7..14),
        max_abs_diff(a, ta, 14..21)
    );
    println!(
        "max |Q - Q_true|: {:.5} (largest true entry {:.4})",
        max_abs_diff(q, tq, 0..21),
        tq.norm_max()
    );
    let row = |m: faer::MatRef<'_, f64>, i: usize| -> String {
        [0, 7, 14]
            .iter()
            .map(|&j| format!("{:7.3}", m[(i, j)]))
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!("joint 1, A restricted to (pos, vel, acc):   learned | true");
    for (name, i) in [("pos", 0), ("vel", 7), ("acc", 14)] {
        println!("  {name}: {} | {}", row(a, i), row(ta, i));
    }
}

fn main() {
    let (steps, iterations, inference, seed) = arguments();
    let data = Scenario3::new(steps, seed).generate();
    let y = data.observations.as_ref();
    let model = em_start(y, seed).expect("valid start").with_inference(inference);
    let recursion = if inference.steady_state_tolerance().is_some() {
        "steady-state"
    } else {
        "exact"
    };
    println!("robot arm: T = {steps}, n = p = {STATE_DIM}, learning (A, Q), {recursion} recursion");
    let settings = Settings::builder()
        .max_iterations(iterations)
        .tolerance(Tolerance::absolute(0.0))
        .on_fall(OnFall::Continue)
        .build()
        .expect("valid settings");
    let start = Instant::now();
    let mut log = LogObserver::new(std::io::stdout());
    let fit = statespace::fit_observed(
        &[y][..],
        Start::Warm(model),
        &learn_options(),
        &settings,
        &mut log,
    )
    .expect("EM");
    let elapsed = start.elapsed().as_secs_f64();
    for (k, diagnostics) in &fit.report.diagnostics {
        println!("iteration {k}: {diagnostics}");
    }
    println!();
    println!(
        "{iterations} EM iterations in {elapsed:.2} s ({:.1} ms each); log-likelihood fell {} times",
        1e3 * elapsed / iterations.max(1) as f64,
        fit.report.falls.len()
    );
    compare(&fit.model, &data, inference);
}
