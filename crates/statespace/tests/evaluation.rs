//! The loop evaluates the last point of a capped fit by
//! `EmModel::log_likelihood`, the filter alone: it must give the E-step's
//! (filter and smoother) log-likelihood bit for bit, so that the iteration
//! cap only cuts a history and never changes it.

use statespace::em::WithInputs;
use statespace::scenario::{Scenario3, em_start, learn_options};
use statespace::{Convergence, EmModel, InputParameters, Sequence, Settings, Start, fit};

#[test]
fn the_filter_alone_gives_the_e_steps_log_likelihood_bit_for_bit() {
    let data = Scenario3::new(400, 5).generate();
    let y = data.observations.as_ref();
    // Two sequences, one with a missing value: the sums run over both.
    let mut gappy = y.subrows(200, 200).to_owned();
    gappy[(3, 4)] = f64::NAN;
    let sequences = [y.subrows(0, 200), gappy.as_ref()];
    let start = em_start(y, 1).expect("start");
    let filter = EmModel::log_likelihood(&start, &sequences[..]).expect("filter");
    let e_step = start.e_step(&sequences[..]).expect("E-step").log_likelihood;
    assert_eq!(filter.to_bits(), e_step.to_bits(), "{filter} vs {e_step}");

    let history = |cap: usize| {
        let settings = Settings::builder()
            .max_iterations(cap)
            .convergence(Convergence::FixedIterations)
            .build()
            .expect("settings");
        fit(
            &sequences[..],
            Start::Warm(start.clone()),
            &learn_options(),
            &settings,
        )
        .expect("fit")
        .report
        .history
    };
    assert_eq!(history(2)[..], history(4)[..3]);
}

#[test]
fn with_inputs_too() {
    let data = Scenario3::new(150, 6).generate();
    let y = data.observations.as_ref();
    let u = faer::Mat::from_fn(y.nrows(), 2, |t, j| ((t * (j + 1)) as f64 * 0.1).sin());
    let mut inputs = InputParameters::zeros(y.ncols(), y.ncols(), 2);
    inputs.b[(0, 1)] = 0.3;
    inputs.d[(2, 0)] = -0.2;
    let start = WithInputs(
        em_start(y, 2)
            .expect("start")
            .with_inputs(inputs)
            .expect("inputs"),
    );
    let sequences = [Sequence::with_inputs(y, u.as_ref())];
    let filter = EmModel::log_likelihood(&start, &sequences[..]).expect("filter");
    let e_step = start.e_step(&sequences[..]).expect("E-step").log_likelihood;
    assert_eq!(filter.to_bits(), e_step.to_bits(), "{filter} vs {e_step}");
}
