//! The variational Bayesian mixture: the lower bound never falls (property
//! test), the posterior is valid (weights on the simplex, SPD covariances),
//! the statistics add up over parts, acceleration falls back to plain steps,
//! the effective components, and bad input errors.

use em_core::flat::FlatStats;
use em_core::testing::{assert_flat_rejections, assert_flat_round_trip};
use em_core::{Acceleration, Convergence, FitError, Objective, Parts, Tolerance, fit_with};
use faer::Mat;
use linalg_kernels::Cholesky;
use mixture::variational::{
    CovariancePrior, PriorSettings, VariationalInit, VariationalInitMethod, VariationalMixture, WeightPrior,
};
use mixture::{CovarianceType, EmModel, MixtureError, Settings, Start, fit};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

/// `per_cluster` points around each of `centres` (d = centres[0].len()),
/// standard deviation `spread`, from `seed`.
fn clusters(centres: &[Vec<f64>], per_cluster: usize, spread: f64, seed: u64) -> Mat<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let d = centres[0].len();
    let n = centres.len() * per_cluster;
    let mut x = Mat::zeros(n, d);
    for i in 0..n {
        for j in 0..d {
            let z: f64 = rng.sample(StandardNormal);
            x[(i, j)] = centres[i / per_cluster][j] + spread * z;
        }
    }
    x
}

fn three_clusters(seed: u64) -> Mat<f64> {
    clusters(&[vec![0.0, 0.0], vec![6.0, 1.0], vec![-2.0, 7.0]], 100, 1.0, seed)
}

fn init(k: usize, t: CovarianceType, prior: WeightPrior) -> VariationalInit {
    VariationalInit::new(k, t)
        .with_prior(PriorSettings {
            weight_prior: prior,
            ..PriorSettings::default()
        })
        .with_method(VariationalInitMethod::RandomResponsibilities)
}

fn settings(max_iterations: usize, seed: u64) -> Settings {
    Settings::builder()
        .max_iterations(max_iterations)
        .convergence(Convergence::FixedIterations)
        .seed(seed)
        .build()
        .unwrap()
}

/// Every dense covariance of the posterior factors (SPD) and every variance is positive.
fn assert_valid(model: &VariationalMixture) {
    let w = model.weights();
    assert!(w.iter().all(|&v| v >= 0.0 && v.is_finite()), "weights {w:?}");
    assert!(
        (w.iter().sum::<f64>() - 1.0).abs() < 1e-12,
        "weights sum {}",
        w.iter().sum::<f64>()
    );
    let gm = model.expected_mixture();
    for k in 0..model.n_components() {
        let c = gm.component_covariance(k).unwrap();
        assert!(Cholesky::new(c.as_ref()).is_ok(), "covariance {k} not SPD: {c:?}");
    }
    let d = model.n_features() as f64;
    assert!(model.degrees_of_freedom().iter().all(|&nu| nu > d - 1.0));
    assert!(model.mean_precision().iter().all(|&b| b > 0.0));
}

const TYPES: [CovarianceType; 4] = CovarianceType::ALL;
const PRIORS: [WeightPrior; 2] = [WeightPrior::DirichletProcess, WeightPrior::DirichletDistribution];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The recorded bound never falls by more than rounding, for every
    /// covariance type, both weight priors, any K and data, and the
    /// posterior stays valid.
    #[test]
    fn the_lower_bound_never_falls(
        seed in 0u64..1_000_000,
        k in 1usize..6,
        d in 1usize..4,
        t in 0usize..4,
        p in 0usize..2,
        spread in 0.2f64..3.0,
    ) {
        let centres: Vec<Vec<f64>> = (0..3).map(|c| (0..d).map(|j| (c * 3 + j) as f64).collect()).collect();
        let x = clusters(&centres, 20, spread, seed);
        let fitted = fit::<VariationalMixture>(
            x.as_ref(),
            Start::FromData(init(k, TYPES[t], PRIORS[p])),
            &(),
            &settings(60, seed),
        )
        .unwrap();
        let h = &fitted.report.history;
        prop_assert_eq!(h.len(), 61);
        for i in 1..h.len() {
            prop_assert!(h[i] >= h[i - 1] - 1e-10 * h[i].abs().max(1.0), "fall at {}: {} -> {}", i, h[i - 1], h[i]);
        }
        prop_assert!(fitted.report.falls.is_empty());
        assert_valid(&fitted.model);
    }
}

#[test]
fn the_report_monitors_the_lower_bound_of_the_returned_posterior() {
    let x = three_clusters(1);
    let fitted = fit::<VariationalMixture>(
        x.as_ref(),
        Start::FromData(init(4, CovarianceType::Full, WeightPrior::DirichletProcess)),
        &(),
        &settings(20, 2),
    )
    .unwrap();
    assert_eq!(fitted.report.objective, Objective::LowerBound);
    assert_eq!(fitted.report.log_likelihood, fitted.model.lower_bound());
    assert!(fitted.report.to_string().contains("lower bound"));
}

#[test]
fn three_clusters_keep_three_effective_components_of_eight() {
    let x = three_clusters(3);
    for t in TYPES {
        for p in PRIORS {
            let settings = Settings::builder()
                .max_iterations(2000)
                .convergence(Convergence::LogLikelihood(Tolerance::absolute(1e-3)))
                .seed(5)
                .build()
                .unwrap();
            let start = Start::FromData(VariationalInit::new(8, t).with_prior(PriorSettings {
                weight_prior: p,
                ..PriorSettings::default()
            }));
            let fitted = fit::<VariationalMixture>(x.as_ref(), start, &(), &settings).unwrap();
            assert!(fitted.report.converged(), "{t} {p:?}");
            assert_eq!(
                fitted.model.n_effective_components(),
                3,
                "{t} {p:?}: {:?}",
                fitted.model.weights()
            );
            assert_valid(&fitted.model);
        }
    }
}

/// SQUAREM needs a flat view of the parameters, which the variational
/// model does not give: an accelerated fit runs the plain steps (same
/// history, no extrapolation), and the parameter-change rule is refused.
#[test]
fn acceleration_falls_back_to_plain_steps() {
    let x = three_clusters(4);
    let run = |acceleration| {
        let settings = Settings::builder()
            .max_iterations(40)
            .convergence(Convergence::FixedIterations)
            .acceleration(acceleration)
            .seed(9)
            .build()
            .unwrap();
        let start = Start::FromData(init(3, CovarianceType::Diagonal, WeightPrior::DirichletProcess));
        fit::<VariationalMixture>(x.as_ref(), start, &(), &settings).unwrap()
    };
    let plain = run(Acceleration::None);
    let accelerated = run(Acceleration::squarem());
    assert_eq!(plain.report.history, accelerated.report.history);
    assert_eq!(accelerated.report.work.accepted, 0);
    assert_eq!(plain.model, accelerated.model);
    let settings = Settings::builder()
        .convergence(Convergence::ParameterChange { relative: 1e-6 })
        .build()
        .unwrap();
    let start = Start::FromData(init(3, CovarianceType::Diagonal, WeightPrior::DirichletProcess));
    let refused = fit::<VariationalMixture>(x.as_ref(), start, &(), &settings).unwrap_err();
    assert!(matches!(refused, FitError::NoFlatParameters { .. }), "{refused}");
}

/// The statistics round-trip through their flat form bit for bit and a
/// corrupted flat form is refused; the statistics of two halves, merged,
/// are those of the whole to rounding, entropy included; a fit over parts
/// follows the fit of the whole.
#[test]
fn statistics_add_up_over_parts() {
    let x = three_clusters(6);
    let model = VariationalMixture::init_from_data(
        x.as_ref(),
        &init(4, CovarianceType::Tied, WeightPrior::DirichletDistribution),
        &mut StdRng::seed_from_u64(1),
    )
    .unwrap();
    let whole = model.e_step(x.as_ref()).unwrap();
    let (a, b) = (x.as_ref().subrows(0, 120), x.as_ref().subrows(120, 180));
    let mut merged = model.e_step(a).unwrap();
    let second = model.e_step(b).unwrap();
    let second =
        em_core::EStep::<mixture::variational::VariationalStats>::from_flat(&second.to_flat()).unwrap();
    assert_eq!(second.stats.to_flat(), model.e_step(b).unwrap().stats.to_flat());
    assert_flat_round_trip(&second.stats);
    assert_flat_rejections::<mixture::variational::VariationalStats>(&second.stats.to_flat());
    merged.merge(&second);
    let close = |u: f64, v: f64| (u - v).abs() <= 1e-10 * u.abs().max(1.0);
    assert!(close(merged.log_likelihood, whole.log_likelihood));
    assert!(close(merged.stats.entropy, whole.stats.entropy));
    assert!(whole.stats.entropy > 0.0);
    let next_whole = model.m_step(&whole.stats, &()).unwrap().0;
    let next_parts = model.m_step(&merged.stats, &()).unwrap().0;
    assert!(close(next_whole.lower_bound(), next_parts.lower_bound()));

    let parts = Parts::new(vec![a, b]).unwrap();
    let settings = settings(15, 3);
    let start = || Start::Warm(model.clone());
    let by_parts = fit_with(&parts, start(), &(), &settings, &mut em_core::NoopObserver).unwrap();
    let local = fit::<VariationalMixture>(x.as_ref(), start(), &(), &settings).unwrap();
    for (u, v) in by_parts.report.history.iter().zip(&local.report.history) {
        assert!(close(*u, *v), "{u} vs {v}");
    }
}

/// The entropy of the E-step (from the statistics, without the
/// responsibilities) is `−Σ r ln r` of the responsibilities computed
/// directly.
#[test]
fn the_entropy_is_that_of_the_responsibilities() {
    let x = three_clusters(8);
    for t in TYPES {
        let model = VariationalMixture::init_from_data(
            x.as_ref(),
            &init(5, t, WeightPrior::DirichletProcess),
            &mut StdRng::seed_from_u64(2),
        )
        .unwrap();
        let resp = model.predict_proba(x.as_ref()).unwrap();
        let mut direct = 0.0;
        for i in 0..resp.nrows() {
            for c in 0..resp.ncols() {
                let r = resp[(i, c)];
                if r > 0.0 {
                    direct -= r * r.ln();
                }
            }
        }
        let e = model.e_step(x.as_ref()).unwrap();
        assert!(
            (e.stats.entropy - direct).abs() < 1e-9 * direct.max(1.0),
            "{t}: {} vs {direct}",
            e.stats.entropy
        );
        let scores: f64 = model.score_samples(x.as_ref()).unwrap().iter().sum();
        assert!((e.log_likelihood - scores).abs() < 1e-9 * scores.abs());
    }
}

#[test]
fn bad_input_gets_typed_errors() {
    let x = three_clusters(10);
    let start = |config: VariationalInit, x: &Mat<f64>| {
        VariationalMixture::init_from_data(x.as_ref(), &config, &mut StdRng::seed_from_u64(0))
    };
    let base = || VariationalInit::new(3, CovarianceType::Full);

    let mut bad = x.clone();
    bad[(17, 1)] = f64::NAN;
    assert!(matches!(
        start(base(), &bad),
        Err(MixtureError::NonFiniteData { row: 17, col: 1, .. })
    ));

    let model = start(base(), &x).unwrap();
    assert!(matches!(
        model.e_step(bad.as_ref()),
        Err(MixtureError::NonFiniteData { row: 17, col: 1, .. })
    ));
    let wide = Mat::<f64>::zeros(4, 3);
    assert!(matches!(
        model.e_step(wide.as_ref()),
        Err(MixtureError::DimensionMismatch { .. })
    ));

    let prior = |p: PriorSettings| base().with_prior(p);
    let invalid = |r: Result<VariationalMixture, MixtureError>, name: &str| match r {
        Err(MixtureError::InvalidVariationalPrior { parameter, .. }) => {
            assert!(parameter.starts_with(name), "{parameter}")
        }
        other => panic!("{name}: {other:?}"),
    };
    invalid(
        start(
            prior(PriorSettings {
                degrees_of_freedom: Some(0.5),
                ..PriorSettings::default()
            }),
            &x,
        ),
        "degrees_of_freedom",
    );
    invalid(
        start(
            prior(PriorSettings {
                weight_concentration: Some(0.0),
                ..PriorSettings::default()
            }),
            &x,
        ),
        "weight_concentration",
    );
    invalid(
        start(
            prior(PriorSettings {
                mean_precision: Some(f64::INFINITY),
                ..PriorSettings::default()
            }),
            &x,
        ),
        "mean_precision",
    );
    invalid(
        start(
            prior(PriorSettings {
                covariance: Some(CovariancePrior::Matrix(faer::mat![[1.0, 2.0], [2.0, 1.0]])),
                ..PriorSettings::default()
            }),
            &x,
        ),
        "covariance",
    );
    invalid(
        start(
            prior(PriorSettings {
                covariance: Some(CovariancePrior::Spherical(1.0)),
                ..PriorSettings::default()
            }),
            &x,
        ),
        "covariance",
    );
    assert!(matches!(
        start(
            prior(PriorSettings {
                mean: Some(vec![0.0]),
                ..PriorSettings::default()
            }),
            &x
        ),
        Err(MixtureError::DimensionMismatch {
            expected: 2,
            found: 1,
            ..
        })
    ));
    assert!(matches!(
        start(base().with_reg_covar(-1.0), &x),
        Err(MixtureError::InvalidOption {
            name: "reg_covar",
            ..
        })
    ));
    assert!(matches!(
        start(VariationalInit::new(301, CovarianceType::Full), &x),
        Err(MixtureError::TooFewSamples { .. })
    ));
    let mut resp = Mat::from_fn(300, 3, |_, _| 1.0 / 3.0);
    resp[(4, 2)] = -0.5;
    assert!(matches!(
        start(
            base().with_method(VariationalInitMethod::Responsibilities(resp)),
            &x
        ),
        Err(MixtureError::InvalidResponsibility {
            row: 4,
            component: 2,
            ..
        })
    ));
    let narrow = Mat::from_fn(300, 2, |_, _| 0.5);
    assert!(matches!(
        start(
            base().with_method(VariationalInitMethod::Responsibilities(narrow)),
            &x
        ),
        Err(MixtureError::DimensionMismatch {
            expected: 3,
            found: 2,
            ..
        })
    ));
    // Statistics of another shape are refused by the M-step.
    let other = start(VariationalInit::new(2, CovarianceType::Full), &x).unwrap();
    let e = other.e_step(x.as_ref()).unwrap();
    assert!(matches!(
        model.m_step(&e.stats, &()),
        Err(MixtureError::DimensionMismatch { .. })
    ));
}
