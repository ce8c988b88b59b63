//! The loop evaluates the last point of a capped fit by
//! `EmModel::log_likelihood`, the E-step's kernel without the statistics:
//! it must give the E-step's log-likelihood bit for bit (with and without
//! sample weights), so that the iteration cap only cuts a history and never
//! changes it.

use mixture::em_core::{Acceleration, Convergence, EmModel, Settings, Start, fit};
use mixture::{MStepOptions, WeightedMixture, WeightedRows, scenario};

#[test]
fn the_pass_without_statistics_gives_the_e_steps_log_likelihood_bit_for_bit() {
    let data = scenario::two_component_2d(3);
    let x = data.x.as_ref();
    let start = scenario::naive_start();
    let alone = EmModel::log_likelihood(&start, x).expect("log-likelihood");
    let e_step = start.e_step(x).expect("E-step").log_likelihood;
    assert_eq!(alone.to_bits(), e_step.to_bits(), "{alone} vs {e_step}");

    let weights: Vec<f64> = (0..x.nrows()).map(|i| (i % 5) as f64 * 0.5).collect();
    let weighted = WeightedRows::new(x, Some(&weights)).expect("weights");
    let start = WeightedMixture(start);
    let alone = EmModel::log_likelihood(&start, weighted).expect("log-likelihood");
    let e_step = start.e_step(weighted).expect("E-step").log_likelihood;
    assert_eq!(alone.to_bits(), e_step.to_bits(), "{alone} vs {e_step}");

    let history = |cap: usize| {
        let settings = Settings::builder()
            .max_iterations(cap)
            .convergence(Convergence::FixedIterations)
            .acceleration(Acceleration::None)
            .build()
            .expect("settings");
        fit(
            weighted,
            Start::Warm(start.clone()),
            &MStepOptions::default(),
            &settings,
        )
        .expect("fit")
        .report
        .history
    };
    assert_eq!(history(3)[..], history(5)[..4]);
}

#[test]
fn no_rows_is_the_e_steps_error() {
    let start = scenario::naive_start();
    let empty = faer::Mat::<f64>::zeros(0, 2);
    assert_eq!(
        EmModel::log_likelihood(&start, empty.as_ref()).unwrap_err(),
        start.e_step(empty.as_ref()).unwrap_err()
    );
}
