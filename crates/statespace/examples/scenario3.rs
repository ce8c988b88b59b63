//! Scenario 3 (`../shared/SCENARIOS.md`): EM for (A, Q) of the 21-dimensional
//! robot-arm-like state-space model, from A = 0 and Q = 0.01 diag(uniform).
//!
//! `cargo run --release -p statespace --example scenario3 -- [T] [iterations] [exact|steady] [seed]`
//! (defaults: T = 44,484, 100 iterations, steady, seed 7).
//!
//! Prints the convergence log (`iteration  log-likelihood  improvement`),
//! then how far the learned A and Q are from the truth, and the time. A plain
//! loop of EM steps: the em-driver crate owns convergence policy.

use statespace::InferenceOptions;
use statespace::scenario::{FULL_LENGTH, STATE_DIM, Scenario3, em_start, learn_options};
use std::time::Instant;

fn max_abs_diff(a: faer::MatRef<'_, f64>, b: faer::MatRef<'_, f64>, rows: std::ops::Range<usize>) -> f64 {
    let mut e = 0.0f64;
    for i in rows {
        for j in 0..a.ncols() {
            e = e.max((a[(i, j)] - b[(i, j)]).abs());
        }
    }
    e
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let steps: usize = args.first().and_then(|s| s.parse().ok()).unwrap_or(FULL_LENGTH);
    let iterations: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100);
    let inference = match args.get(2).map(String::as_str) {
        Some("exact") => InferenceOptions::exact(),
        _ => InferenceOptions::steady_state(),
    };
    let seed: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(7);

    let data = Scenario3::new(steps, seed).generate();
    let y = data.observations.as_ref();
    let mut model = em_start(y, seed).expect("valid start").with_inference(inference);
    println!(
        "scenario 3: T = {steps}, n = p = {STATE_DIM}, learning (A, Q), {} recursion",
        if inference.steady_state_tolerance().is_some() {
            "steady-state"
        } else {
            "exact"
        }
    );
    println!(
        "{:>9} {:>22} {:>14}",
        "iteration", "log-likelihood", "improvement"
    );
    let start = Instant::now();
    let mut previous: Option<f64> = None;
    let mut falls = 0;
    for iteration in 0..iterations {
        let step = model.em_iteration(&[y], &learn_options()).expect("EM iteration");
        let ll = step.log_likelihood;
        match previous {
            Some(p) => {
                if ll < p {
                    falls += 1;
                }
                println!("{iteration:>9} {ll:>22.6} {:>14.6e}", ll - p);
            }
            None => println!("{iteration:>9} {ll:>22.6} {:>14}", "-"),
        }
        if !step.diagnostics.is_empty() {
            println!("          {}", step.diagnostics);
        }
        previous = Some(ll);
        model = step.model;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let final_ll = model.log_likelihood(&[y]).expect("filter");
    let truth_ll = {
        let mut params = data.truth.parameters();
        params.m0 = model.m0().to_vec();
        params.p0 = model.p0().to_owned();
        statespace::LinearGaussianSsm::from_parameters(params)
            .expect("valid")
            .with_inference(inference)
            .log_likelihood(&[y])
            .expect("filter")
    };
    println!();
    println!(
        "{iterations} EM iterations in {elapsed:.2} s ({:.1} ms each); log-likelihood fell {falls} times",
        1e3 * elapsed / iterations.max(1) as f64
    );
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
