//! The units of the data do not change the answer: a two-state Gaussian HMM
//! whose states emit well-separated values of small spread (returns with
//! standard deviation 1e-3 or 1e-4, or data scaled by 1e-150) is found with
//! two distinct states, where hmmlearn's absolute floors (`min_covar = 1e-3`
//! at the start, a covariance floor of 1e-6) put both states on one mean.

use faer::{Mat, mat};
use hmm::{
    CovarianceType, Covariances, Floor, GaussianEmission, GaussianHmm, GaussianInit, InitConfig,
    MStepOptions, Sequences, Settings, Start, fit,
};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// States at `∓5σ` (2 features, the second centred at 0), each coordinate
/// with standard deviation `σ`, sticky transitions.
fn truth(sigma: f64) -> GaussianHmm {
    let means = mat![[-5.0 * sigma, 0.0], [5.0 * sigma, 0.0]];
    let covariances = Covariances::Diagonal(Mat::from_fn(2, 2, |_, _| sigma * sigma));
    GaussianHmm::new(
        vec![0.5, 0.5],
        mat![[0.9, 0.1], [0.2, 0.8]].as_ref(),
        GaussianEmission::new(means, covariances).unwrap(),
    )
    .unwrap()
}

fn fitted(sigma: f64, kind: CovarianceType) -> GaussianHmm {
    let lengths = vec![100; 4];
    let (x, _) = truth(sigma)
        .sample_sequences(&lengths, &mut StdRng::seed_from_u64(11))
        .unwrap();
    let data = Sequences::new(x.as_ref(), &lengths).unwrap();
    let start = Start::FromData(InitConfig::new(2, GaussianInit::new(kind)));
    let settings = Settings::builder().max_iterations(300).seed(5).build().unwrap();
    fit(&data, start, &MStepOptions::default(), &settings)
        .unwrap_or_else(|e| panic!("σ = {sigma:e}, {kind:?}: {e}"))
        .model
}

#[test]
fn states_of_small_spread_stay_apart_in_every_covariance_type() {
    for sigma in [1e-3, 1e-4, 1e-150] {
        for kind in CovarianceType::ALL {
            let model = fitted(sigma, kind);
            let m = model.emission().means();
            let (lo, hi) = if m[(0, 0)] < m[(1, 0)] { (0, 1) } else { (1, 0) };
            assert!(
                (m[(lo, 0)] / sigma + 5.0).abs() < 0.5 && (m[(hi, 0)] / sigma - 5.0).abs() < 0.5,
                "σ = {sigma:e}, {kind:?}: means {m:?}"
            );
            for j in 0..2 {
                let cov = model.emission().state_covariance(j).unwrap();
                for f in 0..2 {
                    let v = cov[(f, f)] / (sigma * sigma);
                    assert!(
                        (0.6..1.5).contains(&v),
                        "σ = {sigma:e}, {kind:?}: variance {v} σ²"
                    );
                }
            }
            let a = model.transitions();
            assert!(
                a[(lo, lo)] > 0.7 && a[(hi, hi)] > 0.6,
                "σ = {sigma:e}, {kind:?}: {a:?}"
            );
        }
    }
}

#[test]
fn hmmlearns_absolute_floors_merge_the_states_and_the_relative_ones_do_not() {
    let sigma = 1e-4;
    let lengths = vec![100; 4];
    let (x, _) = truth(sigma)
        .sample_sequences(&lengths, &mut StdRng::seed_from_u64(11))
        .unwrap();
    let data = Sequences::new(x.as_ref(), &lengths).unwrap();
    let mut init = GaussianInit::new(CovarianceType::Diagonal);
    init.covariance_floor = Floor::Absolute(1e-3);
    let start = Start::FromData(InitConfig::new(2, init));
    let settings = Settings::builder().max_iterations(300).seed(5).build().unwrap();
    let options = MStepOptions::default().with_reg_covar(1e-6);
    let fitted = fit::<GaussianHmm>(&data, start, &options, &settings).unwrap();
    // The floor (1e-6) is 100 times the states' variance (1e-8): it binds,
    // and the report says so.
    let report = fitted.report.to_string();
    assert!(report.contains("floored on feature"), "{report}");
    let cov = fitted.model.emission().state_covariance(0).unwrap();
    assert!(cov[(0, 0)] >= 1e-6, "{cov:?}");
}
