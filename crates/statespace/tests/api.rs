//! Initialisation, scores, sampling of many sequences, thread-count
//! independence.

mod common;

use common::random_model;
use faer::Mat;
use rand::SeedableRng;
use rand::rngs::StdRng;
use statespace::{EmModel, InitConfig, LearnSet, LinearGaussianSsm, MStepOptions, Param, Parameters};

fn sequences(model: &LinearGaussianSsm, lengths: &[usize], seed: u64) -> Vec<Mat<f64>> {
    let mut rng = StdRng::seed_from_u64(seed);
    model
        .sample_sequences(lengths, &mut rng)
        .unwrap()
        .into_iter()
        .map(|(_, y)| y)
        .collect()
}

#[test]
fn sampling_is_seeded_and_shaped() {
    let model = random_model(3, 2, 1);
    let a = sequences(&model, &[5, 0, 7], 2);
    let b = sequences(&model, &[5, 0, 7], 2);
    assert_eq!(a, b);
    assert_eq!(
        (a[0].nrows(), a[0].ncols(), a[1].nrows(), a[2].nrows()),
        (5, 2, 0, 7)
    );
    let mut rng = StdRng::seed_from_u64(3);
    let (x, y) = model.sample(4, &mut rng).unwrap();
    assert_eq!((x.nrows(), x.ncols(), y.nrows(), y.ncols()), (4, 3, 4, 2));
    assert!((0..4).all(|k| (0..3).all(|i| x[(k, i)].is_finite())));
}

#[test]
fn init_from_data_gives_a_valid_start_that_em_improves() {
    let truth = random_model(3, 3, 4);
    let mut data = sequences(&truth, &[60, 40], 5);
    data[0][(3, 1)] = f64::NAN;
    data[1][(0, 0)] = f64::NAN;
    let views: Vec<_> = data.iter().map(|m| m.as_ref()).collect();
    for state_dim in [3, 2] {
        let mut rng = StdRng::seed_from_u64(6);
        let start = LinearGaussianSsm::init_from_data(&views, &InitConfig::new(state_dim), &mut rng).unwrap();
        assert_eq!((start.state_dim(), start.obs_dim()), (state_dim, 3));
        assert_eq!(start.h_is_identity(), state_dim == 3);
        // Same seed, same start; another seed, another start.
        let mut rng = StdRng::seed_from_u64(6);
        let again = LinearGaussianSsm::init_from_data(&views, &InitConfig::new(state_dim), &mut rng).unwrap();
        assert_eq!(start, again);
        let mut rng = StdRng::seed_from_u64(7);
        let other = LinearGaussianSsm::init_from_data(&views, &InitConfig::new(state_dim), &mut rng).unwrap();
        assert_ne!(start, other);
        let mut model = start;
        let mut previous = f64::NEG_INFINITY;
        for _ in 0..10 {
            let it = model
                .em_iteration(&views, &MStepOptions::new(LearnSet::all()))
                .unwrap();
            assert!(it.log_likelihood >= previous - 1e-9 * previous.abs());
            previous = it.log_likelihood;
            model = it.model;
        }
    }
}

/// The em-core loop drives the model's trait implementation: restarts from
/// `init_from_data` with derived seeds, the best one returned, the same
/// result when run again.
#[test]
fn fit_from_data_runs_restarts_of_the_em_core_loop() {
    let truth = random_model(2, 2, 13);
    let data = sequences(&truth, &[80, 50], 14);
    let views: Vec<_> = data.iter().map(|m| m.as_ref()).collect();
    let settings = statespace::Settings::builder()
        .max_iterations(15)
        .restarts(3)
        .seed(5)
        .build()
        .unwrap();
    let options = MStepOptions::default();
    let start = || statespace::Start::<LinearGaussianSsm>::FromData(InitConfig::new(2));
    let fit = statespace::fit(&views[..], start(), &options, &settings).unwrap();
    assert_eq!(fit.report.restarts.len(), 3);
    assert!(fit.report.falls.is_empty(), "{}", fit.report);
    assert!(fit.report.history.windows(2).all(|w| w[1] >= w[0]));
    let again = statespace::fit(&views[..], start(), &options, &settings).unwrap();
    assert_eq!(again.model, fit.model);
    // The returned model is the one the report describes.
    let ll = fit.model.log_likelihood(&views).unwrap();
    let best = fit.report.history[fit.report.returned_iteration];
    assert!((ll - best).abs() <= 1e-9 * best.abs(), "{ll} vs {best}");
    // Restart 0 is `init_from_data` with its seed, then EM.
    let mut rng = StdRng::seed_from_u64(settings.restart_seed(0));
    let first = LinearGaussianSsm::init_from_data(&views, &InitConfig::new(2), &mut rng).unwrap();
    let first_ll = first.log_likelihood(&views).unwrap();
    let restart0 = fit.report.restarts.iter().find(|r| r.index == 0).unwrap();
    assert_eq!(restart0.seed, settings.restart_seed(0));
    assert!(first_ll <= best);
}

#[test]
fn scores_count_parameters_and_observed_steps() {
    let model = random_model(2, 3, 8);
    let mut data = sequences(&model, &[10, 5], 9);
    for j in 0..3 {
        data[1][(2, j)] = f64::NAN;
    }
    data[0][(4, 1)] = f64::NAN;
    let views: Vec<_> = data.iter().map(|m| m.as_ref()).collect();
    assert_eq!(model.n_observed_steps(&views).unwrap(), 14);
    let k = 4 + 3 + 6 + 6 + 2 + 3;
    assert_eq!(model.n_parameters(), k);
    assert_eq!(MStepOptions::new(LearnSet::all()).n_free_parameters(2, 3), k);
    let ll = model.log_likelihood(&views).unwrap();
    assert!((model.bic(&views).unwrap() - (-2.0 * ll + k as f64 * 14f64.ln())).abs() < 1e-9);
    assert!((model.aic(&views).unwrap() - (-2.0 * ll + 2.0 * k as f64)).abs() < 1e-9);
    let options = MStepOptions::new(LearnSet::only(&[Param::A, Param::Q]))
        .with_q_structure(statespace::CovStructure::Diagonal);
    assert_eq!(options.n_free_parameters(2, 3), 4 + 2);
    let options = options
        .with_r_structure(statespace::CovStructure::Scalar)
        .with_learn(LearnSet::only(&[Param::R, Param::M0]));
    assert_eq!(options.learn.to_string(), "R,m0");
    assert_eq!(options.n_free_parameters(2, 3), 1 + 2);
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let model = random_model(3, 2, 10);
    let lengths: Vec<usize> = (0..12).map(|i| 5 + 3 * i).collect();
    let data = sequences(&model, &lengths, 11);
    let views: Vec<_> = data.iter().map(|m| m.as_ref()).collect();
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                (
                    model.e_step(&views).unwrap(),
                    model.log_likelihood(&views).unwrap(),
                )
            })
    };
    let (one, ll_one) = run(1);
    let (two, ll_two) = run(2);
    assert_eq!(one, two);
    assert_eq!(ll_one.to_bits(), ll_two.to_bits());
}

#[test]
fn parameters_round_trip_by_name() {
    let model = random_model(2, 2, 12);
    let params = model.parameters();
    let rebuilt = LinearGaussianSsm::from_parameters(params.clone()).unwrap();
    assert_eq!(rebuilt, model);
    let changed = LinearGaussianSsm::from_parameters(Parameters {
        m0: vec![1.0, -1.0],
        ..params
    })
    .unwrap();
    assert_eq!(changed.m0(), &[1.0, -1.0]);
    assert_eq!(changed.a(), model.a());
}

/// Dropped filter and smoother outputs leave their buffers to the next pass
/// on the thread (larger, with stale values): the results stay bit for bit
/// those of passes on fresh buffers, for the joint and the coordinatewise
/// update.
#[test]
fn reused_buffers_do_not_change_results() {
    let general = random_model(3, 2, 4);
    let coordinatewise = common::model(Parameters {
        h: Mat::identity(3, 3),
        r: Mat::from_fn(3, 3, |i, j| if i == j { 0.1 + 0.2 * i as f64 } else { 0.0 }),
        ..general.parameters()
    });
    for model in [general, coordinatewise] {
        let long = &sequences(&model, &[60_000], 5)[0];
        let y = &sequences(&model, &[50_000], 6)[0];
        statespace::release_buffers();
        let fresh_filter = model.filter(y.as_ref()).unwrap();
        let fresh_smoother = model.smooth(y.as_ref()).unwrap();
        let (want_means, want_ll) = (
            fresh_filter.filtered_means().to_owned(),
            fresh_filter.log_likelihood(),
        );
        let want_smoothed = fresh_smoother.smoothed_means().to_owned();
        let want_cov = fresh_smoother.smoothed_cov(49_999).unwrap();
        drop((fresh_filter, fresh_smoother));
        drop(model.smooth(long.as_ref()).unwrap());
        let filter = model.filter(y.as_ref()).unwrap();
        let smoother = model.smooth(y.as_ref()).unwrap();
        assert_eq!(filter.log_likelihood().to_bits(), want_ll.to_bits());
        assert_eq!(filter.filtered_means(), want_means);
        assert_eq!(smoother.smoothed_means(), want_smoothed);
        assert_eq!(smoother.smoothed_cov(49_999).unwrap(), want_cov);
    }
    statespace::release_buffers();
}

#[test]
fn all_filtered_covariances_at_once_equal_those_of_each_step() {
    // 40 steps span three checkpoints of the exact filter; the gaps make
    // the replay follow the missing values.
    let model = random_model(3, 2, 41);
    let mut y = sequences(&model, &[40], 42).remove(0);
    y[(0, 0)] = f64::NAN;
    y[(0, 1)] = f64::NAN;
    y[(17, 1)] = f64::NAN;
    let filtered = model.filter(y.as_ref()).unwrap();
    let all = filtered.filtered_covs();
    assert_eq!(all.len(), 40 * 3 * 3);
    for (k, flat) in all.chunks_exact(9).enumerate() {
        let cov = Mat::from_fn(3, 3, |i, j| flat[i * 3 + j]);
        assert_eq!(Some(cov), filtered.filtered_cov(k), "step {k}");
    }
}

#[test]
fn all_smoothed_covariances_at_once_equal_those_of_each_step() {
    let model = random_model(3, 2, 43);
    let mut y = sequences(&model, &[25], 44).remove(0);
    y[(4, 0)] = f64::NAN;
    let smoothed = model.smooth(y.as_ref()).unwrap();
    let all = smoothed.smoothed_covs();
    assert_eq!(all.len(), 25 * 3 * 3);
    for (k, flat) in all.chunks_exact(9).enumerate() {
        let cov = Mat::from_fn(3, 3, |i, j| flat[i * 3 + j]);
        assert_eq!(Some(cov), smoothed.smoothed_cov(k), "step {k}");
    }
}
