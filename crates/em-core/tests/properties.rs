//! Property tests of the loop on the toy model of `toy/mod.rs`.

use em_core::{Acceleration, Control, FnObserver, IterationEvent, OnFall, Start, fit_observed};
use proptest::prelude::*;

mod toy;
use toy::*;

prop_compose! {
    fn toy_start()(w0 in 0.05f64..0.95, mu0 in -5.0f64..5.0, mu1 in -5.0f64..5.0,
                   v0 in 0.05f64..10.0, v1 in 0.05f64..10.0) -> Toy {
        Toy { w: [w0, 1.0 - w0], mu: [mu0, mu1], var: [v0, v1], generation: 0, sabotage: Sabotage::None }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Random data and a random valid start, plain or accelerated EM: the
    /// history never decreases (beyond rounding) and variances stay positive
    /// after every iteration.
    #[test]
    fn toy_history_never_decreases(
        x in prop::collection::vec(-10.0f64..10.0, 2..60),
        s in toy_start(),
        accelerated in any::<bool>(),
    ) {
        let mut ok = true;
        let mut obs = FnObserver(|e: &IterationEvent<'_, Toy>| {
            ok &= e.model.var.iter().all(|&v| v > 0.0 && v.is_finite());
            Control::Continue
        });
        let acceleration = if accelerated { Acceleration::squarem() } else { Acceleration::None };
        let settings = settings()
            .max_iterations(40)
            .on_fall(OnFall::Continue)
            .acceleration(acceleration)
            .build()
            .unwrap();
        let f = fit_observed(&x[..], Start::Warm(s), &(), &settings, &mut obs).unwrap();
        prop_assert!(ok);
        for w in f.report.history.windows(2) {
            prop_assert!(w[1] - w[0] >= -1e-10 * w[0].abs().max(1.0), "{} -> {}", w[0], w[1]);
        }
    }
}
