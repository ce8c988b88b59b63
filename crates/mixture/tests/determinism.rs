//! Same seed, same result; same result for any number of threads.

use faer::Mat;
use mixture::Iteration;
use mixture::{CovarianceType, GaussianMixture, InitMethod, MStepOptions, kmeans};
use mixture::{EmModel, InitConfig};
use rand::SeedableRng;
use rand::rngs::StdRng;

fn data() -> Mat<f64> {
    // Three blobs, 9000 rows: more than two chunks of CHUNK_ROWS.
    let truth = GaussianMixture::new(
        vec![0.2, 0.3, 0.5],
        faer::mat![[0.0, 0.0, 0.0], [4.0, 0.0, 1.0], [0.0, 5.0, -1.0]],
        mixture::Covariances::Spherical(vec![1.0, 0.5, 2.0]),
    )
    .unwrap();
    truth.sample(9000, &mut StdRng::seed_from_u64(5)).0
}

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let x = data();
    for t in CovarianceType::ALL {
        let run = || {
            let mut rng = StdRng::seed_from_u64(3);
            let mut model =
                GaussianMixture::init_from_data(x.as_ref(), &InitConfig::new(3, t), &mut rng).unwrap();
            let mut lls = Vec::new();
            for _ in 0..5 {
                let Iteration {
                    model: next,
                    log_likelihood: ll,
                    ..
                } = model.em_iteration(x.as_ref(), &MStepOptions::default()).unwrap();
                lls.push(ll);
                model = next;
            }
            (
                model,
                lls,
                kmeans(x.as_ref(), 3, 10, &mut StdRng::seed_from_u64(9)).unwrap(),
            )
        };
        let one = in_pool(1, run);
        let two = in_pool(2, run);
        let three = in_pool(3, run);
        assert_eq!(one, two, "{t}");
        assert_eq!(one, three, "{t}");
    }
}

#[test]
fn the_same_seed_gives_the_same_model() {
    let x = data();
    for method in [
        InitMethod::KMeans { max_rounds: 5 },
        InitMethod::RandomResponsibilities,
        InitMethod::RandomPoints,
    ] {
        let a = GaussianMixture::init_from_data(
            x.as_ref(),
            &InitConfig::new(3, CovarianceType::Full).with_method(method.clone()),
            &mut StdRng::seed_from_u64(1),
        )
        .unwrap();
        let b = GaussianMixture::init_from_data(
            x.as_ref(),
            &InitConfig::new(3, CovarianceType::Full).with_method(method.clone()),
            &mut StdRng::seed_from_u64(1),
        )
        .unwrap();
        let c = GaussianMixture::init_from_data(
            x.as_ref(),
            &InitConfig::new(3, CovarianceType::Full).with_method(method),
            &mut StdRng::seed_from_u64(2),
        )
        .unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
    let m = GaussianMixture::init_from_data(
        x.as_ref(),
        &InitConfig::new(3, CovarianceType::Diagonal),
        &mut StdRng::seed_from_u64(1),
    )
    .unwrap();
    assert_eq!(
        m.sample(50, &mut StdRng::seed_from_u64(4)),
        m.sample(50, &mut StdRng::seed_from_u64(4))
    );
}
