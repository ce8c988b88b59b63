//! Online EM's acceptance check: one pass of online (stepwise) EM over a
//! stream of points from `scenario::stream_truth` (1 000 000 by default,
//! in chunks of 10 000), started by k-means on the first chunk, against
//! the batch fit of all the points from the same kind of start. Prints
//! both log-likelihoods per point, their relative gap and the times, and
//! exits with an error when the gap exceeds 1%.
//!
//! Run: `cargo run --release -p mixture --example online_em [points] [chunk] [seed]`

use std::time::Instant;

use mixture::em_core::online::{Schedule, StepwiseEm};
use mixture::rand::SeedableRng;
use mixture::rand::rngs::StdRng;
use mixture::{
    CovarianceType, EmModel, GaussianMixture, InitConfig, MStepOptions, Settings, Start, fit, scenario,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = |i: usize, default: u64| {
        std::env::args()
            .nth(i)
            .and_then(|s| s.parse().ok())
            .unwrap_or(default)
    };
    let (n, chunk, seed) = (arg(1, 1_000_000) as usize, arg(2, 10_000) as usize, arg(3, 5));
    let (x, _) = scenario::stream_truth().sample(n, &mut StdRng::seed_from_u64(seed));
    let config = InitConfig::new(3, CovarianceType::Full);
    let options = MStepOptions::default();

    let clock = Instant::now();
    let first = x.as_ref().subrows(0, chunk.min(n));
    let start = GaussianMixture::init_from_data(first, &config, &mut StdRng::seed_from_u64(seed))?;
    let mut online = StepwiseEm::new(start, Schedule::default());
    for s in (0..n).step_by(chunk) {
        online.partial_fit(x.as_ref().subrows(s, chunk.min(n - s)), &options)?;
    }
    let online_time = clock.elapsed();

    let clock = Instant::now();
    let settings = Settings::builder().seed(seed).build()?;
    let batch = fit::<GaussianMixture>(x.as_ref(), Start::FromData(config), &options, &settings)?;
    let batch_time = clock.elapsed();

    let per_point = |m: &GaussianMixture| m.total_log_likelihood(x.as_ref()).map(|l| l / n as f64);
    let (online_ll, batch_ll) = (per_point(online.model())?, per_point(&batch.model)?);
    let gap = (batch_ll - online_ll) / batch_ll.abs();
    println!("points {n}, chunks of {chunk}, {} chunks", online.chunks());
    println!("online, one pass:  {online_ll:.6} per point  ({online_time:.2?})");
    println!(
        "batch, {} E-steps: {batch_ll:.6} per point  ({batch_time:.2?})",
        batch.report.work.e_steps
    );
    println!("relative gap: {:.4}%", 100.0 * gap);
    if gap.abs() > 0.01 {
        return Err(format!("online EM is {:.3}% from batch, more than 1%", 100.0 * gap).into());
    }
    Ok(())
}
