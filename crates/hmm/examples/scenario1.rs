//! Scenario 1: fit a fresh 2-state, 2-mix diagonal GMM-HMM to 50 sequences
//! sampled from the scenario's GMM-HMM, print the convergence log, then decode
//! a fresh sample with Viterbi and report the accuracy up to relabelling.
//!
//! `cargo run --release -p hmm --example scenario1 [seed]`

use hmm::{Emission, match_labels, scenario};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seed: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(42);
    let train = scenario::sample(seed);
    let data = train.sequences()?;
    println!(
        "{} observations in {} sequences (lengths {}..={})",
        data.n_samples(),
        data.n_sequences(),
        train.lengths.iter().min().unwrap_or(&0),
        train.lengths.iter().max().unwrap_or(&0)
    );
    let start = Instant::now();
    let mut model = scenario::fresh_model(&data, seed)?;
    let options = scenario::m_step_options();
    println!(
        "{:>9} {:>20} {:>14}",
        "iteration", "log-likelihood", "improvement"
    );
    let mut previous: Option<f64> = None;
    let mut iterations = 0;
    for iteration in 0..=scenario::MAX_ITERATIONS {
        let e = model.e_step(&data)?;
        let ll = e.log_likelihood;
        let gain = previous.map(|p| ll - p);
        match gain {
            None => println!("{iteration:>9} {ll:>20.6} {:>14}", "-"),
            Some(g) => println!("{iteration:>9} {ll:>20.6} {g:>14.6e}"),
        }
        iterations = iteration;
        if let Some(g) = gain {
            if g < 0.0 {
                println!("log-likelihood fell by {:.3e}: stopping", -g);
                break;
            }
            if g <= scenario::TOLERANCE {
                break;
            }
        }
        if iteration == scenario::MAX_ITERATIONS {
            break;
        }
        let (next, diagnostics) = model.m_step(&e.stats, &options)?;
        if !diagnostics.is_empty() {
            println!("          M-step: {diagnostics}");
        }
        model = next;
        previous = Some(ll);
    }
    let elapsed = start.elapsed();
    println!(
        "fit: {iterations} iterations in {:.3} ms",
        elapsed.as_secs_f64() * 1e3
    );
    println!("start probabilities {:?}", model.start_probs());
    println!("transitions {:?}", model.transitions());
    let em = model.emission();
    for j in 0..model.n_states() {
        println!(
            "state {j}: weights {:?} means {:?} covariances {:?}",
            em.mixtures()[j].weights(),
            em.means(j),
            em.covariances(j)
        );
    }
    let test = scenario::sample(seed.wrapping_add(1));
    let test_data = test.sequences()?;
    let path = model.predict(&test_data)?;
    let m = match_labels(&path, &test.states, model.emission().n_states()).ok_or("label matching failed")?;
    println!(
        "Viterbi on a fresh sample of {}: {:.1}% of states correct (mapping {:?})",
        test.states.len(),
        100.0 * m.accuracy,
        m.mapping
    );
    Ok(())
}
