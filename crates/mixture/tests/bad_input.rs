//! Bad input: typed errors naming the place, or documented behaviour; never a
//! panic, never NaN parameters.

mod common;

use common::*;
use faer::{Mat, mat};
use mixture::Iteration;
use mixture::{
    CovarianceOwner, CovarianceType, Covariances, GaussianMixture, InitMethod, KernelError, MStepOptions,
    MixtureError, SufficientStats, kmeans,
};
use mixture::{EmModel, InitConfig, em_core::Adjustment};
use rand::SeedableRng;
use rand::rngs::StdRng;

fn rng() -> StdRng {
    StdRng::seed_from_u64(11)
}

fn two_comp() -> GaussianMixture {
    GaussianMixture::new(
        vec![0.5, 0.5],
        mat![[0.0, 0.0], [3.0, 0.0]],
        Covariances::Full(vec![Mat::identity(2, 2), Mat::identity(2, 2)]),
    )
    .unwrap()
}

#[test]
fn non_finite_data_names_the_row_and_column() {
    let model = two_comp();
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut x = wiggly_data(5000, 2); // second chunk
        x[(4500, 1)] = bad;
        x[(4700, 0)] = bad;
        let check = |e: MixtureError| {
            assert!(
                matches!(
                    e,
                    MixtureError::NonFiniteData {
                        row: 4500,
                        col: 1,
                        ..
                    }
                ),
                "{e:?}"
            );
        };
        check(model.e_step(x.as_ref()).unwrap_err());
        check(model.score_samples(x.as_ref()).unwrap_err());
        check(model.total_log_likelihood(x.as_ref()).unwrap_err());
        check(model.log_prob_per_component(x.as_ref()).unwrap_err());
        check(model.predict_proba(x.as_ref()).unwrap_err());
        check(kmeans(x.as_ref(), 2, 5, &mut rng()).unwrap_err());
        check(
            GaussianMixture::init_from_data(
                x.as_ref(),
                &InitConfig::new(2, CovarianceType::Full),
                &mut rng(),
            )
            .unwrap_err(),
        );
        let resp = Mat::from_fn(5000, 2, |_, _| 0.5);
        check(
            SufficientStats::from_responsibilities(x.as_ref(), resp.as_ref(), CovarianceType::Diagonal)
                .unwrap_err(),
        );
    }
}

#[test]
fn wrong_dimensions_are_reported() {
    let model = two_comp();
    let x = wiggly_data(10, 3);
    assert!(matches!(
        model.e_step(x.as_ref()),
        Err(MixtureError::DimensionMismatch {
            expected: 2,
            found: 3,
            ..
        })
    ));
    assert!(matches!(
        model.score_samples(x.as_ref()),
        Err(MixtureError::DimensionMismatch { .. })
    ));
    for rows in [10, 0] {
        assert!(matches!(
            model.total_log_likelihood(wiggly_data(rows, 3).as_ref()),
            Err(MixtureError::DimensionMismatch {
                expected: 2,
                found: 3,
                ..
            })
        ));
    }
    let x = wiggly_data(10, 2);
    assert!(matches!(
        model.e_step_weighted(x.as_ref(), &[1.0; 9]),
        Err(MixtureError::DimensionMismatch {
            expected: 10,
            found: 9,
            ..
        })
    ));
    let mut w = vec![1.0; 10];
    w[3] = -1.0;
    assert!(matches!(
        model.e_step_weighted(x.as_ref(), &w),
        Err(MixtureError::InvalidSampleWeight { row: 3, .. })
    ));
    w[3] = f64::NAN;
    assert!(matches!(
        model.e_step_weighted(x.as_ref(), &w),
        Err(MixtureError::InvalidSampleWeight { row: 3, .. })
    ));
    // Statistics of another shape or type.
    let stats = SufficientStats::empty(3, 2, CovarianceType::Full).unwrap();
    assert!(matches!(
        model.m_step(&stats, &MStepOptions::default()),
        Err(MixtureError::DimensionMismatch { .. })
    ));
    let stats = SufficientStats::empty(2, 2, CovarianceType::Diagonal).unwrap();
    assert!(matches!(
        model.m_step(&stats, &MStepOptions::default()),
        Err(MixtureError::CovarianceTypeMismatch {
            expected: CovarianceType::Full,
            found: CovarianceType::Diagonal
        })
    ));
    let resp = Mat::<f64>::zeros(9, 2);
    assert!(matches!(
        SufficientStats::from_responsibilities(x.as_ref(), resp.as_ref(), CovarianceType::Full),
        Err(MixtureError::DimensionMismatch { .. })
    ));
    // Negative or not finite, in the vectorised part (rows 0-7) or the tail.
    for (row, bad) in [
        (7, -0.1),
        (3, f64::NAN),
        (5, f64::INFINITY),
        (9, f64::NEG_INFINITY),
        (8, f64::NAN),
    ] {
        let mut resp = Mat::<f64>::zeros(10, 2);
        resp[(row, 1)] = bad;
        let got = SufficientStats::from_responsibilities(x.as_ref(), resp.as_ref(), CovarianceType::Full);
        assert!(
            matches!(got, Err(MixtureError::InvalidResponsibility { row: r, component: 1, .. }) if r == row),
            "{bad} at row {row}: {got:?}"
        );
    }
}

#[test]
fn empty_data_zero_components_zero_features() {
    let model = two_comp();
    let empty = Mat::<f64>::zeros(0, 2);
    assert!(matches!(
        model.e_step(empty.as_ref()),
        Err(MixtureError::EmptyData)
    ));
    assert!(matches!(
        model.score(empty.as_ref()),
        Err(MixtureError::EmptyData)
    ));
    assert!(matches!(model.bic(empty.as_ref()), Err(MixtureError::EmptyData)));
    // Documented: inference on no rows gives empty results.
    assert!(model.score_samples(empty.as_ref()).unwrap().is_empty());
    assert_eq!(model.total_log_likelihood(empty.as_ref()).unwrap(), 0.0);
    assert_eq!(model.log_prob_per_component(empty.as_ref()).unwrap().nrows(), 0);
    assert!(matches!(
        kmeans(empty.as_ref(), 2, 3, &mut rng()),
        Err(MixtureError::EmptyData)
    ));
    let x = wiggly_data(10, 2);
    assert!(matches!(
        kmeans(x.as_ref(), 0, 3, &mut rng()),
        Err(MixtureError::NoComponents)
    ));
    assert!(matches!(
        GaussianMixture::init_from_data(x.as_ref(), &InitConfig::new(0, CovarianceType::Full), &mut rng()),
        Err(MixtureError::NoComponents)
    ));
    let no_features = Mat::<f64>::zeros(10, 0);
    assert!(matches!(
        kmeans(no_features.as_ref(), 2, 3, &mut rng()),
        Err(MixtureError::NoFeatures)
    ));
    assert!(matches!(
        GaussianMixture::new(vec![1.0], Mat::zeros(1, 0), Covariances::Spherical(vec![1.0])),
        Err(MixtureError::NoFeatures)
    ));
    assert!(matches!(
        GaussianMixture::new(vec![], Mat::zeros(0, 2), Covariances::Spherical(vec![])),
        Err(MixtureError::NoComponents)
    ));
    assert!(matches!(
        SufficientStats::empty(0, 2, CovarianceType::Full),
        Err(MixtureError::NoComponents)
    ));
}

#[test]
fn fewer_samples_than_components() {
    let x = wiggly_data(3, 2);
    assert!(matches!(
        kmeans(x.as_ref(), 4, 3, &mut rng()),
        Err(MixtureError::TooFewSamples {
            n_samples: 3,
            n_components: 4
        })
    ));
    for method in [
        InitMethod::default(),
        InitMethod::RandomPoints,
        InitMethod::RandomResponsibilities,
    ] {
        assert!(matches!(
            GaussianMixture::init_from_data(
                x.as_ref(),
                &InitConfig::new(4, CovarianceType::Diagonal).with_method(method),
                &mut rng()
            ),
            Err(MixtureError::TooFewSamples { .. })
        ));
    }
}

#[test]
fn duplicate_points() {
    // 10 copies of one point and 2 of another: only 2 distinct rows.
    let x = Mat::from_fn(12, 2, |i, j| if i < 10 { 1.0 + j as f64 } else { -1.0 });
    assert!(matches!(
        kmeans(x.as_ref(), 3, 5, &mut rng()),
        Err(MixtureError::TooFewDistinctPoints {
            distinct: 2,
            requested: 3
        })
    ));
    assert!(matches!(
        GaussianMixture::init_from_data(
            x.as_ref(),
            &InitConfig::new(3, CovarianceType::Full).with_method(InitMethod::RandomPoints),
            &mut rng()
        ),
        Err(MixtureError::TooFewDistinctPoints {
            distinct: 2,
            requested: 3
        })
    ));
    // Two clusters from two distinct values is fine.
    let km = kmeans(x.as_ref(), 2, 5, &mut rng()).unwrap();
    assert_eq!(km.inertia(), 0.0);
    // Random responsibilities on duplicates: EM runs, stays finite and SPD.
    for t in CovarianceType::ALL {
        let model = GaussianMixture::init_from_data(
            x.as_ref(),
            &InitConfig::new(3, t).with_method(InitMethod::RandomResponsibilities),
            &mut rng(),
        )
        .unwrap();
        run_em_finite(model, &x, 5);
    }
}

#[test]
fn zero_variance_columns_are_floored_not_fatal() {
    let mut x = wiggly_data(300, 3);
    for i in 0..300 {
        x[(i, 1)] = 4.0;
    }
    for t in CovarianceType::ALL {
        let model = GaussianMixture::init_from_data(x.as_ref(), &InitConfig::new(2, t), &mut rng()).unwrap();
        let model = run_em_finite(model, &x, 10);
        if t != CovarianceType::Spherical {
            // The constant column has no spread: its variance is the
            // relative floor at the scale of its value, 1e-6 · ε · 4².
            let v = model.component_covariance(0).unwrap()[(1, 1)];
            let want = 1e-6 * f64::EPSILON * 16.0;
            assert!((v - want).abs() < 1e-6 * want, "{t}: {v}");
        }
    }
}

/// The means of the parameter tests.
fn means() -> Mat<f64> {
    mat![[0.0, 0.0], [1.0, 1.0]]
}

fn eye() -> Mat<f64> {
    Mat::identity(2, 2)
}

/// Full covariances: the identity, then `a`.
fn full(a: Mat<f64>) -> Covariances {
    Covariances::Full(vec![eye(), a])
}

/// The error of a mixture of [`means`] with these weights and covariances.
fn new_err(weights: Vec<f64>, covariances: Covariances) -> MixtureError {
    GaussianMixture::new(weights, means(), covariances).unwrap_err()
}

#[test]
fn invalid_weights_name_the_component() {
    assert!(matches!(
        new_err(vec![1.5, -0.5], full(eye())),
        MixtureError::InvalidWeight { component: 1, .. }
    ));
    assert!(matches!(
        new_err(vec![0.5, f64::NAN], full(eye())),
        MixtureError::InvalidWeight { component: 1, .. }
    ));
    assert!(matches!(
        new_err(vec![0.5, 0.6], full(eye())),
        MixtureError::WeightsDoNotSumToOne { .. }
    ));
    // Within tolerance is accepted and stored as given.
    let ok = GaussianMixture::new(vec![0.5, 0.5 + 1e-10], means(), full(eye())).unwrap();
    assert_eq!(ok.weights()[1], 0.5 + 1e-10);
    // A zero weight is allowed.
    GaussianMixture::new(vec![1.0, 0.0], means(), full(eye())).unwrap();
}

#[test]
fn invalid_covariances_and_means_name_the_component() {
    assert!(matches!(
        new_err(vec![0.5, 0.5], full(mat![[1.0, 0.0], [0.0, f64::INFINITY]])),
        MixtureError::NonFiniteCovariance {
            owner: CovarianceOwner::Component(1),
            row: 1,
            col: 1,
            ..
        }
    ));
    assert!(matches!(
        new_err(vec![0.5, 0.5], full(mat![[1.0, 0.0], [0.0, -1.0]])),
        MixtureError::NotPositiveDefinite {
            owner: CovarianceOwner::Component(1),
            source: KernelError::NotPositiveDefinite { pivot: 1, .. }
        }
    ));
    assert!(matches!(
        new_err(vec![0.5, 0.5], Covariances::Full(vec![eye()])),
        MixtureError::DimensionMismatch {
            expected: 2,
            found: 1,
            ..
        }
    ));
    assert!(matches!(
        new_err(
            vec![0.5, 0.5],
            Covariances::Full(vec![eye(), Mat::identity(3, 3)])
        ),
        MixtureError::DimensionMismatch {
            expected: 2,
            found: 3,
            ..
        }
    ));
    assert!(matches!(
        new_err(vec![0.5, 0.5], Covariances::Tied(mat![[1.0, 2.0], [2.0, 1.0]])),
        MixtureError::NotPositiveDefinite {
            owner: CovarianceOwner::Tied,
            ..
        }
    ));
    assert!(matches!(
        new_err(
            vec![0.5, 0.5],
            Covariances::Diagonal(mat![[1.0, 1.0], [1.0, 0.0]])
        ),
        MixtureError::NonPositiveVariance {
            owner: CovarianceOwner::Component(1),
            feature: 1,
            ..
        }
    ));
    assert!(matches!(
        new_err(vec![0.5, 0.5], Covariances::Spherical(vec![1.0, -2.0])),
        MixtureError::NonPositiveVariance {
            owner: CovarianceOwner::Component(1),
            ..
        }
    ));
    assert!(matches!(
        GaussianMixture::new(vec![0.5, 0.5], mat![[0.0, f64::NAN], [1.0, 1.0]], full(eye())),
        Err(MixtureError::NonFiniteMean {
            component: 0,
            feature: 1,
            ..
        })
    ));
    assert!(matches!(
        GaussianMixture::from_precisions(vec![0.5, 0.5], means(), full(mat![[1.0, 3.0], [3.0, 1.0]])),
        Err(MixtureError::NotPositiveDefinite {
            owner: CovarianceOwner::Component(1),
            ..
        })
    ));
}

#[test]
fn invalid_options_and_far_away_points() {
    let model = two_comp();
    let stats = SufficientStats::empty(2, 2, CovarianceType::Full).unwrap();
    for opts in [
        MStepOptions::default().with_reg_covar(-1.0),
        MStepOptions::default().with_reg_covar(f64::NAN),
        MStepOptions::default().with_collapse_thresholds(1.0, 1.5),
        MStepOptions::default().with_collapse_thresholds(0.0, -1.0),
    ] {
        assert!(matches!(
            model.m_step(&stats, &opts),
            Err(MixtureError::InvalidOption { .. })
        ));
    }
    // A point whose squared Mahalanobis distance overflows has zero likelihood.
    let x = mat![[0.0, 0.0], [1e200, 0.0]];
    assert!(matches!(
        model.score_samples(x.as_ref()),
        Err(MixtureError::ZeroLikelihood { row: 1 })
    ));
    assert!(matches!(
        model.e_step(x.as_ref()),
        Err(MixtureError::ZeroLikelihood { row: 1 })
    ));
    assert!(matches!(
        model.total_log_likelihood(x.as_ref()),
        Err(MixtureError::ZeroLikelihood { row: 1 })
    ));
    assert!(matches!(
        model.log_prob_per_component(x.as_ref()),
        Err(MixtureError::ZeroLikelihood { row: 1 })
    ));
    // Far but representable: finite log-likelihood, no NaN.
    let x = mat![[1e100, 0.0]];
    let s = model.score_samples(x.as_ref()).unwrap();
    assert!(s[0].is_finite() && s[0] < -1e199);
    let total = model.total_log_likelihood(x.as_ref()).unwrap();
    assert!((total - s[0]).abs() <= 1e-15 * s[0].abs(), "{total} vs {}", s[0]);
}

#[test]
fn m_step_on_empty_statistics_keeps_everything() {
    let model = two_comp();
    let stats = SufficientStats::empty(2, 2, CovarianceType::Full).unwrap();
    let (new, diag) = model.m_step(&stats, &MStepOptions::default()).unwrap();
    assert_eq!(new, model);
    assert_eq!(diag.components(Adjustment::KeptWithoutMass), vec![0, 1]);
    assert!(!diag.is_empty());
}

fn assert_all_finite(m: &GaussianMixture) {
    assert!(m.weights().iter().all(|w| w.is_finite()));
    for k in 0..m.n_components() {
        let c = m.component_covariance(k).unwrap();
        for i in 0..c.nrows() {
            assert!(m.means()[(k, i)].is_finite());
            for j in 0..c.ncols() {
                assert!(c[(i, j)].is_finite());
            }
        }
    }
}

/// `steps` EM iterations with the default options, each giving a finite
/// log-likelihood and finite parameters; returns the last model.
fn run_em_finite(mut model: GaussianMixture, x: &Mat<f64>, steps: usize) -> GaussianMixture {
    for _ in 0..steps {
        let Iteration {
            model: next,
            log_likelihood: ll,
            ..
        } = model.em_iteration(x.as_ref(), &MStepOptions::default()).unwrap();
        assert!(ll.is_finite());
        assert_all_finite(&next);
        model = next;
    }
    model
}
