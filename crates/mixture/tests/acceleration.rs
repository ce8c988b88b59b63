//! Accelerated EM (SQUAREM, on the flat parameters of `mixture::flat`) end
//! to end: the same log-likelihood as plain EM (to 1e-8 relative) in clearly
//! fewer E-steps, a history that never falls beyond rounding, and a valid
//! model at every recorded iteration.

use faer::Mat;
use mixture::em_core::{Acceleration, Control, FnObserver, IterationEvent};
use mixture::{
    CovarianceType, Covariances, Fit, GaussianMixture, InitConfig, MStepOptions, OnFall, Settings, Start,
    Tolerance, fit, fit_observed, scenario,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

/// Whether `m` passes the constructor again and its covariances factor.
fn is_valid(m: &GaussianMixture) -> bool {
    let rebuilt = GaussianMixture::new(
        m.weights().to_vec(),
        m.means().to_owned(),
        m.covariances().clone(),
    );
    let factors = (0..m.n_components()).all(|c| {
        let s = m.component_covariance(c).expect("component in range");
        linalg_kernels::Cholesky::new(s.as_ref()).is_ok()
    });
    rebuilt.as_ref() == Ok(m) && factors && m.weights().iter().all(|&w| w >= 0.0)
}

/// Plain and accelerated fits from the same start; the accelerated one
/// watched by an observer that checks every model and the history.
///
/// At the optimum the gain of an EM step is rounding noise of either sign,
/// so both fits go on after a fall (recorded, never convergence) until a
/// gain lands in `[0, tolerance]`.
fn plain_and_accelerated(
    x: &Mat<f64>,
    start: &Start<GaussianMixture>,
    options: &MStepOptions,
    tolerance: Tolerance,
) -> (Fit<GaussianMixture>, Fit<GaussianMixture>) {
    let settings = |acceleration| {
        Settings::builder()
            .max_iterations(100_000)
            .tolerance(tolerance)
            .acceleration(acceleration)
            .on_fall(OnFall::Continue)
            .build()
            .expect("valid settings")
    };
    let plain = fit(x.as_ref(), start.clone(), options, &settings(Acceleration::None)).expect("plain fit");
    let mut history: Vec<f64> = Vec::new();
    let mut invalid = Vec::new();
    let mut observer = FnObserver(|e: &IterationEvent<'_, GaussianMixture>| {
        history.push(e.log_likelihood);
        if !is_valid(e.model) {
            invalid.push(e.iteration);
        }
        Control::Continue
    });
    let fast = fit_observed(
        x.as_ref(),
        start.clone(),
        options,
        &settings(Acceleration::squarem()),
        &mut observer,
    )
    .expect("accelerated fit");
    assert!(invalid.is_empty(), "invalid models at iterations {invalid:?}");
    assert_eq!(history, fast.report.history);
    for (k, w) in history.windows(2).enumerate() {
        assert!(
            w[1] - w[0] >= -1e-12 * w[0].abs(),
            "the accelerated history fell at iteration {}: {} -> {}",
            k + 1,
            w[0],
            w[1]
        );
    }
    (plain, fast)
}

/// Same optimum (1e-8 relative), at most `ratio` of plain EM's E-steps.
fn assert_faster(name: &str, plain: &Fit<GaussianMixture>, fast: &Fit<GaussianMixture>, ratio: f64) {
    let (p, f) = (&plain.report, &fast.report);
    println!(
        "{name}: plain {} E-steps ({:?}), SQUAREM {} E-steps ({:?}; {}), ln L {:.10} vs {:.10}",
        p.work.e_steps, p.elapsed, f.work.e_steps, f.elapsed, f.work, p.log_likelihood, f.log_likelihood
    );
    assert!(p.converged() && f.converged(), "{p}\n{f}");
    let (a, b) = (p.log_likelihood, f.log_likelihood);
    assert!((a - b).abs() <= 1e-8 * a.abs(), "{name}: ln L {a} vs {b}");
    assert!(f.work.accepted + f.work.shortened > 0, "{name}: {}", f.work);
    assert!(
        (f.work.e_steps as f64) <= ratio * p.work.e_steps as f64,
        "{name}: SQUAREM {} against plain {}",
        f.work,
        p.work
    );
}

#[test]
fn scenario_2_reaches_the_same_optimum_in_fewer_e_steps() {
    let data = scenario::two_component_2d(7);
    let start = Start::Warm(scenario::naive_start());
    let options = MStepOptions::default();
    let (plain, fast) = plain_and_accelerated(&data.x, &start, &options, Tolerance::absolute(1e-10));
    assert_faster("scenario 2", &plain, &fast, 0.5);
}

/// `n` points from five overlapping 2-D Gaussians (unit-scale covariances,
/// means less than two standard deviations apart).
fn overlapping(n: usize, seed: u64) -> Mat<f64> {
    let means = [[0.0, 0.0], [1.5, 0.0], [0.0, 1.5], [1.5, 1.5], [0.75, 0.75]];
    let mut rng = StdRng::seed_from_u64(seed);
    let mut x = Mat::zeros(n, 2);
    for i in 0..n {
        let c = rng.random_range(0..means.len());
        let e0: f64 = rng.sample(StandardNormal);
        let e1: f64 = rng.sample(StandardNormal);
        x[(i, 0)] = means[c][0] + 0.6 * e0;
        x[(i, 1)] = means[c][1] + 0.6 * (0.5 * e0 + 0.866 * e1);
    }
    x
}

#[test]
fn overlapping_components_reach_the_same_optimum_in_far_fewer_e_steps() {
    let x = overlapping(3000, 11);
    // Exact EM (no covariance floor): the log-likelihood of an EM step
    // cannot fall beyond rounding.
    let exact = MStepOptions::default().with_reg_covar(0.0);
    for cov in [
        CovarianceType::Full,
        CovarianceType::Diagonal,
        CovarianceType::Spherical,
    ] {
        let mut rng = StdRng::seed_from_u64(3);
        let start = mixture::EmModel::init_from_data(x.as_ref(), &InitConfig::new(5, cov), &mut rng)
            .expect("k-means start");
        let (plain, fast) = plain_and_accelerated(&x, &Start::Warm(start), &exact, Tolerance::absolute(1e-9));
        assert_faster(&format!("5 overlapping, {cov}"), &plain, &fast, 0.35);
    }
}

#[test]
fn fixed_blocks_are_never_moved_by_the_extrapolation() {
    let data = scenario::two_component_2d(3);
    let start = scenario::naive_start();
    let options = MStepOptions::default().with_learn("means".parse().expect("a block"));
    let settings = Settings::builder()
        .max_iterations(10_000)
        .tolerance(Tolerance::absolute(1e-10))
        .acceleration(Acceleration::squarem())
        .build()
        .expect("valid settings");
    let fitted = fit(data.x.as_ref(), Start::Warm(start.clone()), &options, &settings).expect("fit");
    assert!(fitted.report.converged(), "{}", fitted.report);
    assert_eq!(fitted.model.weights(), start.weights());
    assert_eq!(fitted.model.covariances(), start.covariances());
    let Covariances::Full(_) = fitted.model.covariances() else {
        panic!("the type is kept")
    };
}
