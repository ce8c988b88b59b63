//! EM for the state-space model does not depend on the units of the
//! observations: with H fixed, observations multiplied by `a` give the same
//! A, and Q, R, P0 times `a²`, m0 times `a`, a log-likelihood shifted by
//! `−N p ln a`.

mod common;

use common::random_model;
use faer::Mat;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use rand::SeedableRng;
use rand::rngs::StdRng;
use statespace::{
    Acceleration, Convergence, LearnSet, LinearGaussianSsm, MStepOptions, OnFall, Param, Parameters,
    Settings, Start, fit,
};

/// The model of the observations times `a` (H fixed): the state times `a`.
fn scaled(model: &LinearGaussianSsm, a: f64) -> LinearGaussianSsm {
    let p = model.parameters();
    let a2 = faer::Scale(a * a);
    LinearGaussianSsm::from_parameters(Parameters {
        q: &p.q * a2,
        r: &p.r * a2,
        p0: &p.p0 * a2,
        m0: p.m0.iter().map(|v| v * a).collect(),
        ..p
    })
    .unwrap()
}

/// `max |x − y| ≤ tol (1 + max |x|)`.
fn close(x: &Mat<f64>, y: &Mat<f64>, tol: f64) -> bool {
    (x - y).norm_max() <= tol * (1.0 + x.norm_max())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 16,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    })]

    /// Two sequences of 40 steps from a random stable model, fitted from
    /// another random model with 8 plain EM iterations learning A, Q, R, m0
    /// and P0 (H fixed); the same with observations and start scaled by
    /// `a = 10^k`, k in -150..150. Tolerance relative `1e-7` of the
    /// parameters' size: the runs differ by the rounding of the scaling
    /// amplified by 8 EM maps (see the mixture crate's property for why the
    /// iterations are fixed).
    #[test]
    fn lgssm_fits_are_equivariant_to_the_units_of_the_observations(
        n in 1usize..=2,
        p in 1usize..=2,
        seed in 0u64..1000,
        k in -150i32..150,
    ) {
        let a = 10f64.powi(k);
        let truth = random_model(n, p, seed);
        let mut rng = StdRng::seed_from_u64(seed);
        let ys: Vec<Mat<f64>> = truth
            .sample_sequences(&[40, 40], &mut rng)
            .unwrap()
            .into_iter()
            .map(|(_, y)| y)
            .collect();
        let ys_scaled: Vec<Mat<f64>> = ys.iter().map(|y| y * faer::Scale(a)).collect();
        let start = random_model(n, p, seed + 1);
        let options = MStepOptions::new(LearnSet::only(&[Param::A, Param::Q, Param::R, Param::M0, Param::P0]));
        let settings = Settings::builder()
            .acceleration(Acceleration::None)
            .convergence(Convergence::FixedIterations)
            .on_fall(OnFall::Continue)
            .max_iterations(8)
            .build()
            .unwrap();
        let refs: Vec<_> = ys.iter().map(Mat::as_ref).collect();
        let refs_scaled: Vec<_> = ys_scaled.iter().map(Mat::as_ref).collect();
        let plain = fit(&refs[..], Start::Warm(start.clone()), &options, &settings).unwrap();
        let units = fit(&refs_scaled[..], Start::Warm(scaled(&start, a)), &options, &settings).unwrap();
        let (m, s) = (plain.model.parameters(), scaled(&units.model, 1.0 / a).parameters());
        let tol = 1e-7;
        prop_assert!(close(&m.a, &s.a, tol), "A at 10^{}: {:?} vs {:?}", k, m.a, s.a);
        prop_assert!(close(&m.q, &s.q, tol), "Q at 10^{}: {:?} vs {:?}", k, m.q, s.q);
        prop_assert!(close(&m.r, &s.r, tol), "R at 10^{}: {:?} vs {:?}", k, m.r, s.r);
        prop_assert!(close(&m.p0, &s.p0, tol), "P0 at 10^{}", k);
        let m0 = Mat::from_fn(n, 1, |i, _| m.m0[i]);
        let s0 = Mat::from_fn(n, 1, |i, _| s.m0[i]);
        prop_assert!(close(&m0, &s0, tol), "m0 at 10^{}: {:?} vs {:?}", k, m.m0, s.m0);
        prop_assert_eq!(&m.h, &s.h);
        let shift = (80 * p) as f64 * a.ln();
        let (l0, l1) = (plain.report.log_likelihood, units.report.log_likelihood);
        prop_assert!(
            (l1 + shift - l0).abs() <= tol * (l0.abs() + shift.abs()),
            "log-likelihood {} vs {} shifted by {}", l0, l1, shift
        );
    }
}
