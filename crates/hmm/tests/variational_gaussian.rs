//! The variational Gaussian HMM: its emission's expectations and
//! divergence against Monte Carlo over the Normal-Gamma (d = 1, where the
//! Wishart is a Gamma), the bound never falls (all four covariance types),
//! errors.

use faer::Mat;
use hmm::variational::{
    NormalWishart, VariationalEmission, VariationalGaussian, VariationalGaussianHmm, VariationalGaussianInit,
    VariationalInit,
};
use hmm::{CovarianceType, Emission, HmmError, LearnSet, Sequences, Settings, Start, fit};
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Gamma, StandardNormal};
use statrs::function::gamma::ln_gamma;

fn one_state(m: f64, beta: f64, nu: f64, s: f64) -> NormalWishart {
    NormalWishart {
        means: Mat::from_fn(1, 1, |_, _| m),
        beta: vec![beta],
        dof: vec![nu],
        scale: vec![Mat::from_fn(1, 1, |_, _| s)],
    }
}

/// `ln N(μ | m, 1/(βλ)) + ln Gamma(λ | ν/2, rate S/2)`.
fn log_density(nw: &NormalWishart, mu: f64, lambda: f64) -> f64 {
    let (m, beta, nu, s) = (nw.means[(0, 0)], nw.beta[0], nw.dof[0], nw.scale[0][(0, 0)]);
    let (shape, rate) = (0.5 * nu, 0.5 * s);
    let ln_gamma_pdf = shape * rate.ln() - ln_gamma(shape) + (shape - 1.0) * lambda.ln() - rate * lambda;
    let prec = beta * lambda;
    ln_gamma_pdf + 0.5 * (prec / (2.0 * std::f64::consts::PI)).ln() - 0.5 * prec * (mu - m).powi(2)
}

/// Mean and standard error.
fn mean_se(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    (
        m,
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0) / n).sqrt(),
    )
}

#[test]
fn expectations_and_divergence_match_monte_carlo_in_one_dimension() {
    let (prior, posterior) = (one_state(0.5, 1.0, 1.0, 0.3), one_state(1.2, 7.0, 9.0, 4.0));
    let e = VariationalGaussian::new(CovarianceType::Full, prior.clone(), posterior.clone()).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(21);
    let gamma = Gamma::new(0.5 * 9.0, 2.0 / 4.0).unwrap();
    let x = 0.4;
    let (mut kl, mut loglik) = (Vec::new(), Vec::new());
    for _ in 0..200_000 {
        let lambda: f64 = gamma.sample(&mut rng);
        let z: f64 = StandardNormal.sample(&mut rng);
        let mu = 1.2 + z / (7.0 * lambda).sqrt();
        kl.push(log_density(&posterior, mu, lambda) - log_density(&prior, mu, lambda));
        loglik.push(0.5 * lambda.ln() - 0.5 * lambda * (x - mu).powi(2));
    }
    let (kl_mc, se) = mean_se(&kl);
    let exact = e.divergence().unwrap();
    assert!(
        (kl_mc - exact).abs() < 5.0 * se,
        "KL {kl_mc} vs {exact} (se {se})"
    );
    // E[ln N(x | μ, 1/λ)] + ½ ln 2π = ln b̃(x) + c.
    let (expected, offsets) = e.expected().unwrap();
    let logb = expected
        .log_likelihoods(Mat::from_fn(1, 1, |_, _| x).as_ref())
        .unwrap();
    let (ll_mc, se) = mean_se(&loglik);
    let ours = logb[(0, 0)] + offsets[0];
    assert!(
        (ll_mc - ours).abs() < 5.0 * se,
        "E ln N {ll_mc} vs {ours} (se {se})"
    );
}

/// Three well separated 2-D clusters visited by a sticky chain.
fn data(seed: u64, n: usize) -> Mat<f64> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let centres = [[0.0, 0.0], [5.0, 5.0], [-5.0, 4.0]];
    let mut state = 0;
    let mut x = Mat::zeros(n, 2);
    for t in 0..n {
        if rng.random::<f64>() < 0.1 {
            state = rng.random_range(0..3);
        }
        for c in 0..2 {
            let z: f64 = StandardNormal.sample(&mut rng);
            x[(t, c)] = centres[state][c] + z * (1.0 + c as f64 * 0.5);
        }
    }
    x
}

#[test]
fn the_bound_never_falls_for_every_covariance_type() {
    let x = data(3, 300);
    let sequences = Sequences::new(x.as_ref(), &[100, 120, 80]).unwrap();
    for kind in [
        CovarianceType::Full,
        CovarianceType::Diagonal,
        CovarianceType::Spherical,
        CovarianceType::Tied,
    ] {
        for (k, seed) in [(1, 1), (2, 2), (3, 3), (4, 4)] {
            let init = VariationalInit {
                emission: VariationalGaussianInit {
                    covariance_type: kind,
                    ..VariationalGaussianInit::default()
                },
                ..VariationalInit::new(k)
            };
            let settings = Settings::builder().max_iterations(60).seed(seed).build().unwrap();
            let fitted =
                fit::<VariationalGaussianHmm>(&sequences, Start::FromData(init), &LearnSet::all(), &settings)
                    .unwrap();
            let h = &fitted.report.history;
            assert!(fitted.report.falls.is_empty(), "{kind} K {k}: {}", fitted.report);
            for w in h.windows(2) {
                assert!(w[1] >= w[0] - 1e-12 * w[0].abs(), "{kind} K {k}: {h:?}");
            }
            // One state is fitted in one step; more climb a long way from the start.
            assert!(k == 1 || h.last().unwrap() > &(h[0] + 1.0), "{kind} K {k}: {h:?}");
            let q = fitted.model.emission().posterior();
            if matches!(kind, CovarianceType::Diagonal | CovarianceType::Spherical) {
                assert!(q.scale.iter().all(|s| s[(0, 1)] == 0.0 && s[(1, 0)] == 0.0));
            }
            if kind == CovarianceType::Spherical {
                assert!(q.scale.iter().all(|s| s[(0, 0)] == s[(1, 1)]));
            }
            // One Wishart shared by the states (tied), one per state otherwise;
            // its degrees of freedom count the rows it has seen.
            let w = if kind == CovarianceType::Tied { 1 } else { k };
            assert_eq!((q.dof.len(), q.scale.len(), q.beta.len()), (w, w, k));
            let prior = fitted.model.emission().prior();
            let mass: f64 = q.dof.iter().zip(&prior.dof).map(|(n, n0)| n - n0).sum();
            assert!((mass - 300.0).abs() < 1e-9, "{kind} K {k}: {mass}");
        }
    }
}

#[test]
fn bad_input_is_a_typed_error() {
    let good = one_state(0.0, 1.0, 2.0, 1.0);
    let mut bad = good.clone();
    bad.scale[0][(0, 0)] = -1.0;
    assert!(matches!(
        VariationalGaussian::new(CovarianceType::Full, good.clone(), bad).unwrap_err(),
        HmmError::Kernel { state: 0, .. }
    ));
    let mut bad = good.clone();
    bad.beta[0] = 0.0;
    let e = VariationalGaussian::new(CovarianceType::Full, bad, good.clone()).unwrap_err();
    assert!(
        matches!(
            e,
            HmmError::InvalidPriorValue {
                parameter: "beta_prior",
                state: Some(0),
                ..
            }
        ),
        "{e}"
    );
    // Tied: one Wishart for all the states.
    let two_states = NormalWishart {
        means: Mat::zeros(2, 1),
        beta: vec![1.0, 1.0],
        ..good.clone()
    };
    assert!(VariationalGaussian::new(CovarianceType::Tied, two_states.clone(), two_states.clone()).is_ok());
    let e = VariationalGaussian::new(CovarianceType::Full, two_states.clone(), two_states).unwrap_err();
    assert!(
        matches!(
            e,
            HmmError::PriorShape {
                parameter: "dof",
                expected: (2, 1),
                found: (1, 1),
                ..
            }
        ),
        "{e}"
    );
    // Spherical: a scale off `s I`, named by side, state and entry.
    let sphere = |s01: f64, s11: f64| NormalWishart {
        means: Mat::zeros(1, 2),
        beta: vec![1.0],
        dof: vec![3.0],
        scale: vec![Mat::from_fn(2, 2, |a, b| match (a, b) {
            (0, 0) => 1.0,
            (1, 1) => s11,
            _ => s01,
        })],
    };
    assert!(VariationalGaussian::new(CovarianceType::Spherical, sphere(0.0, 1.0), sphere(0.0, 1.0)).is_ok());
    for (bad, entry) in [(sphere(0.0, 2.0), 3), (sphere(0.5, 1.0), 1)] {
        let e = VariationalGaussian::new(CovarianceType::Spherical, sphere(0.0, 1.0), bad).unwrap_err();
        assert!(
            matches!(
                e,
                HmmError::InvalidPriorValue { parameter: "scale_posterior", state: Some(0), index: (0, i), .. } if i == entry
            ),
            "{e}"
        );
    }
    // A non-finite observation, named by sequence, time and column.
    let e = VariationalGaussian::new(CovarianceType::Full, good.clone(), good).unwrap();
    let two = Mat::from_fn(1, 1, |_, _| 1.0);
    let model = VariationalGaussianHmm::new(vec![1.0], vec![1.0], two.as_ref(), two.as_ref(), e).unwrap();
    let x = Mat::from_fn(4, 1, |i, _| if i == 2 { f64::NAN } else { 0.0 });
    let sequences = Sequences::new(x.as_ref(), &[2, 2]);
    let error = match sequences {
        Err(e) => e,
        Ok(s) => hmm::EmModel::e_step(&model, &s).unwrap_err(),
    };
    assert!(
        matches!(
            error,
            HmmError::NonFinite {
                sequence: 1,
                time: 0,
                row: 2,
                col: 0,
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn covariances_are_not_learned_without_the_means() {
    let x = data(5, 60);
    let sequences = Sequences::single(x.as_ref()).unwrap();
    let init = VariationalInit::<VariationalGaussianInit>::new(2);
    let settings = Settings::builder().max_iterations(5).seed(1).build().unwrap();
    let learn = LearnSet::all().without(hmm::Param::Means);
    let error = fit::<VariationalGaussianHmm>(&sequences, Start::FromData(init.clone()), &learn, &settings)
        .unwrap_err();
    assert!(
        error.to_string().contains("covariances need the means"),
        "{error}"
    );
    // The means alone are an exact block: the bound still never falls.
    let learn = LearnSet::all().without(hmm::Param::Covariances);
    let fitted = fit::<VariationalGaussianHmm>(&sequences, Start::FromData(init), &learn, &settings).unwrap();
    assert!(fitted.report.falls.is_empty(), "{}", fitted.report);
    for w in fitted.report.history.windows(2) {
        assert!(w[1] >= w[0] - 1e-12 * w[0].abs());
    }
}
