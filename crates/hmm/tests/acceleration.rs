//! Accelerated EM (SQUAREM, on the flat parameters of `hmm::flat`) end to
//! end: the same log-likelihood as plain Baum-Welch (to 1e-8 relative) in
//! clearly fewer E-steps, a history that never falls beyond rounding, and a
//! valid model at every recorded iteration.

mod common;

use common::full_gaussian_truth;
use faer::mat;
use hmm::em_core::{Acceleration, Control, FnObserver, IterationEvent};
use hmm::{
    CategoricalEmission, CategoricalHmm, CovarianceType, Emission, Fit, GaussianEmission, GaussianHmm,
    GaussianInit, GmmEmission, GmmHmm, Hmm, InitConfig, MStepOptions, OnFall, Sequences, Settings, Start,
    Tolerance, fit, fit_observed, scenario,
};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// The chain of `m` passes [`Hmm::new`] again, its rows sum to 1 within the
/// constructors' tolerance, and `emission_ok` accepts its emission.
fn chain_is_valid<E: Emission>(m: &Hmm<E>, emission_ok: impl Fn(&E) -> bool) -> bool {
    let rebuilt = Hmm::new(m.start_probs().to_vec(), m.transitions(), m.emission().clone());
    rebuilt.as_ref() == Ok(m) && emission_ok(m.emission())
}

fn gaussian_is_valid(e: &GaussianEmission) -> bool {
    GaussianEmission::new(e.means().to_owned(), e.covariances().clone()).is_ok()
}

fn gmm_is_valid(e: &GmmEmission) -> bool {
    let k = e.n_states();
    let means = (0..k).map(|j| e.means(j).to_owned()).collect();
    let covariances = (0..k).map(|j| e.covariances(j).clone()).collect();
    GmmEmission::new(e.weights(), means, covariances).as_ref() == Ok(e)
}

/// Plain and accelerated fits from `start`; the accelerated one watched by
/// an observer that checks every model and the history. At the optimum the
/// gain of an EM step is rounding noise of either sign, so both fits go on
/// after a fall (recorded, never convergence) until a gain lands in
/// `[0, tolerance]`.
fn plain_and_accelerated<E: Emission>(
    data: &Sequences<'_>,
    start: &Hmm<E>,
    options: &MStepOptions,
    tolerance: f64,
    emission_ok: impl Fn(&E) -> bool + Sync,
) -> (Fit<Hmm<E>>, Fit<Hmm<E>>) {
    let settings = |acceleration| {
        Settings::builder()
            .max_iterations(100_000)
            .tolerance(Tolerance::absolute(tolerance))
            .acceleration(acceleration)
            .on_fall(OnFall::Continue)
            .build()
            .expect("valid settings")
    };
    let warm = || Start::Warm(start.clone());
    let plain = fit(data, warm(), options, &settings(Acceleration::None)).expect("plain fit");
    let (mut history, mut invalid) = (Vec::new(), Vec::new());
    let mut observer = FnObserver(|e: &IterationEvent<'_, Hmm<E>>| {
        history.push(e.log_likelihood);
        if !chain_is_valid(e.model, &emission_ok) {
            invalid.push(e.iteration);
        }
        Control::Continue
    });
    let fast = fit_observed(
        data,
        warm(),
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
fn assert_faster<E: Emission>(name: &str, plain: &Fit<Hmm<E>>, fast: &Fit<Hmm<E>>, ratio: f64) {
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
fn scenario_1_reaches_the_same_optimum_in_fewer_e_steps() {
    for seed in [42u64, 7] {
        let train = scenario::sample(seed);
        let data = train.sequences().expect("valid sequences");
        let start: GmmHmm = scenario::fresh_model(&data, seed).expect("fresh model");
        let options = scenario::m_step_options();
        let (plain, fast) = plain_and_accelerated(&data, &start, &options, scenario::TOLERANCE, gmm_is_valid);
        assert_faster(&format!("scenario 1, seed {seed}"), &plain, &fast, 0.5);
    }
}

#[test]
fn a_full_covariance_gaussian_hmm_reaches_the_same_optimum_in_far_fewer_e_steps() {
    let truth = full_gaussian_truth();
    let mut rng = StdRng::seed_from_u64(5);
    let lengths = vec![100; 20];
    let (x, _) = truth.sample_sequences(&lengths, &mut rng).expect("sample");
    let data = Sequences::new(x.as_ref(), &lengths).expect("valid sequences");
    let config = InitConfig::new(3, GaussianInit::new(CovarianceType::Full));
    let start: GaussianHmm =
        hmm::EmModel::init_from_data(&data, &config, &mut StdRng::seed_from_u64(1)).expect("k-means start");
    let exact = MStepOptions {
        covariance_floor: hmm::Floor::Absolute(0.0),
        ..MStepOptions::default()
    };
    let (plain, fast) = plain_and_accelerated(&data, &start, &exact, 1e-9, gaussian_is_valid);
    assert_faster("Gaussian HMM, full", &plain, &fast, 0.35);
}

#[test]
fn fixed_blocks_are_never_moved_by_the_extrapolation() {
    let train = scenario::sample(3);
    let data = train.sequences().expect("valid sequences");
    let start = scenario::fresh_model(&data, 3).expect("fresh model");
    let options = scenario::m_step_options().with_learn("transitions,means".parse().expect("blocks"));
    let settings = Settings::builder()
        .max_iterations(10_000)
        .tolerance(Tolerance::absolute(1e-10))
        .acceleration(Acceleration::squarem())
        .on_fall(OnFall::Continue)
        .build()
        .expect("valid settings");
    let fitted = fit(&data, Start::Warm(start.clone()), &options, &settings).expect("fit");
    assert!(fitted.report.converged(), "{}", fitted.report);
    let (m, s) = (&fitted.model, &start);
    assert_eq!(m.start_probs(), s.start_probs());
    assert_eq!(m.emission().weights(), s.emission().weights());
    for j in 0..2 {
        assert_eq!(m.emission().covariances(j), s.emission().covariances(j));
    }
    assert_ne!(m.transitions(), s.transitions());
}

/// A symbol that never occurs gets probability exactly 0 at the first
/// M-step, a new structural zero: the flat layout shrinks between the first
/// iterates of a SQUAREM cycle. The fit still reaches plain EM's optimum.
#[test]
fn a_structural_zero_appearing_mid_fit_is_harmless() {
    let truth = CategoricalHmm::new(
        vec![0.6, 0.4],
        mat![[0.9, 0.1], [0.2, 0.8]].as_ref(),
        CategoricalEmission::new(mat![[0.7, 0.2, 0.1, 0.0], [0.1, 0.3, 0.6, 0.0]]).expect("valid"),
    )
    .expect("valid chain");
    let lengths = vec![50; 20];
    let (x, _) = truth
        .sample_sequences(&lengths, &mut StdRng::seed_from_u64(9))
        .expect("sample");
    let data = Sequences::new(x.as_ref(), &lengths).expect("valid sequences");
    let start = CategoricalHmm::new(
        vec![0.5, 0.5],
        mat![[0.6, 0.4], [0.3, 0.7]].as_ref(),
        CategoricalEmission::new(mat![[0.3, 0.3, 0.2, 0.2], [0.2, 0.2, 0.3, 0.3]]).expect("valid"),
    )
    .expect("valid start");
    let (plain, fast) = plain_and_accelerated(&data, &start, &MStepOptions::default(), 1e-10, |_| true);
    assert_eq!(fast.model.emission().probabilities()[(0, 3)], 0.0);
    assert_faster("categorical HMM, new zero", &plain, &fast, 0.5);
}
