//! The loop evaluates the last point of a capped fit by
//! `EmModel::log_likelihood`, the forward pass alone: it must give the
//! E-step's log-likelihood bit for bit, so that the iteration cap only cuts
//! a history and never changes it.

use hmm::em_core::{Convergence, EmModel, Settings, Start};
use hmm::{fit, scenario};

#[test]
fn the_forward_pass_alone_gives_the_e_steps_log_likelihood_bit_for_bit() {
    let data = scenario::sample_with(7, 3000, 40).expect("scenario data");
    let sequences = data.sequences().expect("sequences");
    let model = scenario::fresh_model(&sequences, 1).expect("start");
    let forward = EmModel::log_likelihood(&model, &sequences).expect("forward pass");
    let e_step = model.e_step(&sequences).expect("E-step").log_likelihood;
    assert_eq!(forward.to_bits(), e_step.to_bits(), "{forward} vs {e_step}");

    let history = |cap: usize| {
        let settings = Settings::builder()
            .max_iterations(cap)
            .convergence(Convergence::FixedIterations)
            .build()
            .expect("settings");
        fit(
            &sequences,
            Start::Warm(model.clone()),
            &scenario::m_step_options(),
            &settings,
        )
        .expect("fit")
        .report
        .history
    };
    assert_eq!(history(3)[..], history(5)[..4]);
}
