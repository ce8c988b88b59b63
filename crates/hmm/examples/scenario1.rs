//! Scenario 1: fit a fresh 2-state, 2-mix diagonal GMM-HMM to 50 sequences
//! sampled from the scenario's GMM-HMM with the EM loop of `em-core`
//! ([`hmm::fit_observed`], printing the convergence log), then decode a fresh
//! sample with Viterbi and report the accuracy up to relabelling.
//!
//! `cargo run --release -p emfit-hmm --example scenario1 [seed]`

use hmm::{Emission, LogObserver, OnFall, Settings, Start, Tolerance, fit_observed, match_labels, scenario};

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
    // Stop at a gain of at most 1e-10, after 1000 iterations, or at a fall
    // (keeping the parameters before it).
    let settings = Settings::builder()
        .max_iterations(scenario::MAX_ITERATIONS)
        .tolerance(Tolerance::absolute(scenario::TOLERANCE))
        .on_fall(OnFall::StopKeepBest)
        .build()?;
    let start = Start::Warm(scenario::fresh_model(&data, seed)?);
    let mut log = LogObserver::new(std::io::stdout());
    let fitted = fit_observed(&data, start, &scenario::m_step_options(), &settings, &mut log)?;
    let (model, report) = (fitted.model, fitted.report);
    println!(
        "fit: {} iterations in {:.3} ms ({:?})",
        report.iterations,
        report.elapsed.as_secs_f64() * 1e3,
        report.termination
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
