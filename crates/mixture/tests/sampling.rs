//! Goodness of fit of `GaussianMixture::sample`: the sampled components
//! follow the weights, and the points of each component, whitened with the
//! model's own mean and covariance, are i.i.d. standard normal.
//!
//! The component counts of n draws are tested against `n wₖ` by Pearson's
//! chi-square test. For a point `x` of component k and `Σₖ = L Lᵀ`,
//! `z = L⁻¹ (x − μₖ)` is `N(0, I)`: every coordinate of `z` is N(0, 1) and
//! `‖z‖²` is χ² with d degrees of freedom (which also checks the
//! correlations), both by Kolmogorov-Smirnov tests. Every test is at level
//! 1e-3 with a fixed seed, for every covariance type; the same tests on a
//! sampler with deliberately wrong weights or covariances must reject.

use faer::Mat;
use linalg_kernels::Cholesky;
use mixture::{CovarianceType, Covariances, GaussianMixture};
use rand::SeedableRng;
use rand::rngs::StdRng;
use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};
use statrs::stats_tests::NaNPolicy;
use statrs::stats_tests::chisquare::chisquare;
use statrs::stats_tests::ks_test::{KSOneSampleAlternativeMethod, ks_onesample};

/// Significance level of every test.
const ALPHA: f64 = 1e-3;

/// Points drawn per test.
const N: usize = 20_000;

/// The weights of the models under test.
const WEIGHTS: [f64; 3] = [0.2, 0.5, 0.3];

/// A mixture of 3 components in 3 dimensions of type `t`, with the given
/// weights and every covariance multiplied by `scale`.
fn mixture(t: CovarianceType, weights: [f64; 3], scale: f64) -> GaussianMixture {
    let means = faer::mat![[0.0, 0.0, 0.0], [3.0, -1.0, 0.5], [-2.0, 2.0, 1.0]];
    let full =
        |a: f64, b: f64, c: f64| faer::mat![[1.0, a, b], [a, 2.0, c], [b, c, 0.5]] * faer::Scale(scale);
    let covariances = match t {
        CovarianceType::Full => Covariances::Full(vec![
            full(0.6, 0.2, -0.3),
            full(-0.4, 0.1, 0.5),
            full(0.0, -0.3, 0.2),
        ]),
        CovarianceType::Tied => Covariances::Tied(full(0.6, 0.2, -0.3)),
        CovarianceType::Diagonal => Covariances::Diagonal(
            faer::mat![[1.0, 2.0, 0.5], [0.3, 1.5, 2.5], [4.0, 0.7, 1.0]] * faer::Scale(scale),
        ),
        CovarianceType::Spherical => Covariances::Spherical(vec![scale, 2.0 * scale, 0.5 * scale]),
    };
    GaussianMixture::new(weights.to_vec(), means, covariances).unwrap()
}

/// The p-value of the two-sided Kolmogorov-Smirnov test of `data` against
/// `distribution`.
fn ks<D: ContinuousCDF<f64, f64>>(data: &[f64], distribution: &D) -> f64 {
    let method = KSOneSampleAlternativeMethod::TwoSidedAsymptotic;
    ks_onesample(data.to_vec(), distribution, method, NaNPolicy::Error)
        .unwrap()
        .1
}

/// The p-values of [`N`] points drawn from `sampler` under `model`: the
/// chi-square test of the component counts against the weights, and the
/// smallest p-value of the Kolmogorov-Smirnov tests of the whitened points
/// (coordinates and squared norms, per component).
fn p_values(model: &GaussianMixture, sampler: &GaussianMixture) -> (f64, f64) {
    let (x, labels) = sampler.sample(N, &mut StdRng::seed_from_u64(2025));
    let (k, d) = (model.n_components(), model.n_features());
    let mut counts = vec![0usize; k];
    for &z in &labels {
        counts[z] += 1;
    }
    let expected: Vec<f64> = model.weights().iter().map(|w| w * N as f64).collect();
    let labels_p = chisquare(&counts, Some(&expected), None).unwrap().1;
    let (normal, chi2) = (Normal::standard(), ChiSquared::new(d as f64).unwrap());
    let mut whitened_p: f64 = 1.0;
    for c in 0..k {
        let cov: Mat<f64> = model.component_covariance(c).unwrap();
        let chol = Cholesky::new(cov.as_ref()).unwrap();
        let l = chol.factor();
        let (mut coordinates, mut squared_norms) = (Vec::new(), Vec::new());
        for i in (0..N).filter(|&i| labels[i] == c) {
            // Forward substitution: z = L⁻¹ (x − μ).
            let mut z = vec![0.0; d];
            for r in 0..d {
                let partial: f64 = (0..r).map(|j| l[(r, j)] * z[j]).sum();
                z[r] = (x[(i, r)] - model.means()[(c, r)] - partial) / l[(r, r)];
            }
            squared_norms.push(z.iter().map(|v| v * v).sum());
            coordinates.extend(z);
        }
        whitened_p = whitened_p
            .min(ks(&coordinates, &normal))
            .min(ks(&squared_norms, &chi2));
    }
    (labels_p, whitened_p)
}

#[test]
fn samples_follow_the_model() {
    for t in CovarianceType::ALL {
        let model = mixture(t, WEIGHTS, 1.0);
        let (labels, whitened) = p_values(&model, &model);
        assert!(labels > ALPHA, "{t}: component counts, p = {labels}");
        assert!(whitened > ALPHA, "{t}: whitened points, p = {whitened}");
    }
}

/// The tests have power: a sampler with other weights, or with every
/// covariance 25% too large, is rejected.
#[test]
fn a_sampler_with_wrong_parameters_is_rejected() {
    for t in CovarianceType::ALL {
        let model = mixture(t, WEIGHTS, 1.0);
        let wrong_weights = mixture(t, [0.25, 0.45, 0.3], 1.0);
        let (labels, _) = p_values(&model, &wrong_weights);
        assert!(labels < ALPHA, "{t}: wrong weights accepted, p = {labels}");
        let wrong_covariances = mixture(t, WEIGHTS, 1.25);
        let (_, whitened) = p_values(&model, &wrong_covariances);
        assert!(
            whitened < ALPHA,
            "{t}: wrong covariances accepted, p = {whitened}"
        );
    }
}
