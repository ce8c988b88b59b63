//! The units of the data do not change the answer: two well-separated
//! clusters of small spread (returns with standard deviation 1e-3, 1e-4, or
//! data scaled by 1e-150) are found as two components, where an absolute
//! covariance floor of 1e-6 merges them, and a binding floor is reported.

use faer::Mat;
use mixture::em_core::Adjustment;
use mixture::{
    CovarianceType, Floor, GaussianMixture, InitConfig, MStepOptions, Settings, Start, fit, kmeans,
};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};

/// 200 points of 2 features: half around `(−5σ, 0)`, half around
/// `(+5σ, 0)`, each coordinate with standard deviation `σ`.
fn two_clusters(sigma: f64) -> Mat<f64> {
    let mut rng = StdRng::seed_from_u64(17);
    Mat::from_fn(200, 2, |i, j| {
        let z: f64 = StandardNormal.sample(&mut rng);
        let centre = if j == 0 {
            if i < 100 { -5.0 } else { 5.0 }
        } else {
            0.0
        };
        sigma * (centre + z)
    })
}

fn settings() -> Settings {
    Settings::builder().max_iterations(300).seed(3).build().unwrap()
}

/// The two means, sorted by their first coordinate.
fn sorted_means(model: &GaussianMixture) -> [[f64; 2]; 2] {
    let m = model.means();
    let mut means = [[m[(0, 0)], m[(0, 1)]], [m[(1, 0)], m[(1, 1)]]];
    means.sort_by(|a, b| a[0].total_cmp(&b[0]));
    means
}

#[test]
fn clusters_of_small_spread_are_two_components_in_every_covariance_type() {
    for sigma in [1e-3, 1e-4, 1e-150] {
        for kind in CovarianceType::ALL {
            let x = two_clusters(sigma);
            let start = Start::FromData(InitConfig::new(2, kind));
            let fitted = fit::<GaussianMixture>(x.as_ref(), start, &MStepOptions::default(), &settings())
                .unwrap_or_else(|e| panic!("σ = {sigma:e}, {kind:?}: {e}"));
            let [left, right] = sorted_means(&fitted.model);
            assert!(
                (left[0] / sigma + 5.0).abs() < 0.5 && (right[0] / sigma - 5.0).abs() < 0.5,
                "σ = {sigma:e}, {kind:?}: means {left:?} {right:?}"
            );
            for c in 0..2 {
                let cov = fitted.model.component_covariance(c).unwrap();
                for j in 0..2 {
                    let v = cov[(j, j)] / (sigma * sigma);
                    assert!(
                        (0.6..1.5).contains(&v),
                        "σ = {sigma:e}, {kind:?}: variance {v} σ²"
                    );
                }
            }
            let floored = fitted.report.diagnostics.iter().any(|(_, d)| {
                d.events
                    .iter()
                    .any(|e| matches!(e.adjustment, Adjustment::VarianceFloored { .. }))
            });
            assert!(
                !floored,
                "σ = {sigma:e}, {kind:?}: no floor binds on healthy clusters"
            );
        }
    }
}

#[test]
fn an_absolute_floor_larger_than_the_data_is_reported_where_it_binds() {
    let sigma = 1e-4;
    let x = two_clusters(sigma);
    // scikit-learn's reg_covar = 1e-6 is 100 times the clusters' variance.
    let options = MStepOptions::default().with_reg_covar(1e-6);
    let start = Start::FromData(InitConfig::new(2, CovarianceType::Diagonal));
    let fitted = fit::<GaussianMixture>(x.as_ref(), start, &options, &settings()).unwrap();
    let (k, last) = fitted
        .report
        .diagnostics
        .last()
        .expect("the floor binds on every step");
    assert_eq!(*k, fitted.report.iterations);
    let floored: Vec<_> = last
        .events
        .iter()
        .filter_map(|e| match e.adjustment {
            Adjustment::VarianceFloored { feature, floor } => Some((e.component, feature, floor)),
            _ => None,
        })
        .collect();
    for c in 0..2 {
        for j in 0..2 {
            assert!(
                floored.contains(&(Some(c), Some(j), 1e-6)),
                "component {c}, feature {j}: {floored:?}"
            );
        }
    }
    assert!(
        last.to_string()
            .contains("covariances of component 1 floored on feature 1"),
        "{last}"
    );
    // The relative floor of the same size on unit data behaves as the absolute one.
    let options = MStepOptions::default().with_covariance_floor(Floor::Relative(1e-6));
    let unit = two_clusters(1.0);
    let a = fit::<GaussianMixture>(
        unit.as_ref(),
        Start::FromData(InitConfig::new(2, CovarianceType::Full)),
        &options,
        &settings(),
    )
    .unwrap();
    let [left, right] = sorted_means(&a.model);
    assert!((left[0] + 5.0).abs() < 0.5 && (right[0] - 5.0).abs() < 0.5);
}

#[test]
fn kmeans_sees_distinct_points_at_any_scale() {
    for scale in [1e-300, 1e-160, 1.0, 1e150, 1e300] {
        let x = Mat::from_fn(6, 1, |i, _| scale * [1.0, 1.1, 1.2, 7.0, 7.1, 7.2][i]);
        let mut rng = StdRng::seed_from_u64(1);
        let km = kmeans(x.as_ref(), 2, 10, &mut rng).unwrap_or_else(|e| panic!("scale {scale:e}: {e}"));
        let labels = km.labels();
        assert!(
            labels[0] == labels[1] && labels[1] == labels[2],
            "scale {scale:e}: {labels:?}"
        );
        assert!(labels[3] == labels[4] && labels[4] == labels[5] && labels[0] != labels[3]);
        let mut c: Vec<f64> = km.centroids().col(0).iter().map(|v| v / scale).collect();
        c.sort_by(f64::total_cmp);
        assert!(
            (c[0] - 1.1).abs() < 1e-9 && (c[1] - 7.1).abs() < 1e-9,
            "scale {scale:e}: {c:?}"
        );
        // Σ‖x − c‖² = 0.04 scale², in the data's squared units (+∞ where
        // they overflow, 0 where they underflow).
        let inertia = km.inertia() / scale / scale;
        if (scale * scale).is_normal() {
            assert!((inertia - 0.04).abs() < 1e-9, "scale {scale:e}: {inertia}");
        } else if scale > 1.0 {
            assert_eq!(km.inertia(), f64::INFINITY);
        }
    }
}

#[test]
fn with_the_default_settings_fits_in_other_units_agree_to_the_tolerance() {
    // The default stopping rule's threshold moves with |ℓ| (which shifts by
    // n d ln a with the units), so the runs may stop at different
    // iterations; both stop near the same fixed point.
    let start = Start::FromData(InitConfig::new(2, CovarianceType::Full));
    let fits: Vec<_> = [1.0, 1e-150, 1e150]
        .into_iter()
        .map(|sigma| {
            let x = two_clusters(sigma);
            let f = fit::<GaussianMixture>(x.as_ref(), start.clone(), &MStepOptions::default(), &settings())
                .unwrap();
            assert!(f.report.converged(), "σ = {sigma:e}: {}", f.report);
            (sigma, f)
        })
        .collect();
    let (_, unit) = &fits[0];
    let [l0, r0] = sorted_means(&unit.model);
    for (sigma, f) in &fits[1..] {
        let [l, r] = sorted_means(&f.model);
        for (a, b) in l0.iter().chain(&r0).zip(l.iter().chain(&r)) {
            assert!(
                (a - b / sigma).abs() < 1e-6,
                "σ = {sigma:e}: {a} vs {}",
                b / sigma
            );
        }
        let shift = 400.0 * sigma.ln();
        let gap = (f.report.log_likelihood + shift - unit.report.log_likelihood).abs();
        assert!(
            gap < 1e-6 * shift.abs().max(1.0),
            "σ = {sigma:e}: log-likelihoods differ by {gap}"
        );
    }
}

#[test]
fn data_too_small_to_square_are_an_error_not_an_absolute_floor() {
    // σ = 1e-300: every variance underflows to 0 in floating point.
    let x = two_clusters(1e-300);
    let start = Start::FromData(InitConfig::new(2, CovarianceType::Diagonal));
    let err = fit::<GaussianMixture>(x.as_ref(), start, &MStepOptions::default(), &settings()).unwrap_err();
    assert!(
        matches!(
            err,
            mixture::FitError::Init {
                source: mixture::MixtureError::ScaleOutOfRange { feature: 0, .. },
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("rescale"), "{err}");
}
