//! The test scenario of `mixture::scenario`: the 2-D two-component mixture
//! whose hand-written EM crashed. Generates the 1000 points, starts from
//! means [0, 1] and [1, 0], identity covariances and equal weights, and runs
//! plain EM steps until the log-likelihood gain is below 1e-10 (relative) —
//! printing the convergence log — then compares with the truth
//! (label-switching aware).
//!
//! Run: `cargo run --release -p mixture --example scenario2 [seed]`

use mixture::{EStep, EmModel};
use mixture::{MStepOptions, scenario};

fn main() -> Result<(), mixture::MixtureError> {
    let seed: u64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(2);
    let data = scenario::two_component_2d(seed);
    let mut model = scenario::naive_start();
    let options = MStepOptions::default();
    println!("iteration, log-likelihood, improvement");
    let mut previous = f64::NEG_INFINITY;
    for iteration in 0..1000 {
        let EStep {
            log_likelihood: ll,
            stats,
        } = model.e_step(data.x.as_ref())?;
        let gain = ll - previous;
        println!("{iteration:4}, {ll:.10}, {gain:.3e}");
        if gain.abs() <= 1e-10 * ll.abs() {
            break;
        }
        previous = ll;
        let (next, diagnostics) = model.m_step(&stats, &options)?;
        if !diagnostics.is_empty() {
            println!("      {diagnostics}");
        }
        model = next;
    }
    // Match components to the truth by the closer mean.
    let m = model.means();
    let t = data.truth.means();
    let dist = |a: usize, b: usize| (m[(a, 0)] - t[(b, 0)]).hypot(m[(a, 1)] - t[(b, 1)]);
    let order = if dist(0, 0) + dist(1, 1) <= dist(0, 1) + dist(1, 0) {
        [0, 1]
    } else {
        [1, 0]
    };
    for (truth_k, &fit_k) in order.iter().enumerate() {
        let cov = model.component_covariance(fit_k).expect("k < K");
        println!(
            "component {truth_k}: weight {:.3} (true {:.1}), mean [{:.3}, {:.3}] (true [{}, {}]), covariance [[{:.3}, {:.3}], [{:.3}, {:.3}]]",
            model.weights()[fit_k],
            data.truth.weights()[truth_k],
            m[(fit_k, 0)],
            m[(fit_k, 1)],
            t[(truth_k, 0)],
            t[(truth_k, 1)],
            cov[(0, 0)],
            cov[(0, 1)],
            cov[(1, 0)],
            cov[(1, 1)],
        );
    }
    let labels = model.predict(data.x.as_ref())?;
    let agree = labels
        .iter()
        .zip(&data.labels)
        .filter(|(a, b)| order[**b] == **a)
        .count();
    println!(
        "labels agreeing with the truth: {:.1}%",
        100.0 * agree as f64 / labels.len() as f64
    );
    Ok(())
}
