//! Goodness of fit of the sampler: the noise it draws, recovered from the
//! sampled states and observations and whitened with the model's own
//! covariances, is i.i.d. standard normal.
//!
//! From `(x, y) = model.sample(..)`, `x_0 − m0`, `x_k − A x_{k-1}` and
//! `y_k − H x_k` are `N(0, P0)`, `N(0, Q)` and `N(0, R)`; with `C = L Lᵀ`
//! their whitened versions `z = L⁻¹ r` are `N(0, I)`, so every coordinate of
//! `z` is N(0, 1) and `‖z‖²` is χ² with dim degrees of freedom (which also
//! checks the correlations). Kolmogorov-Smirnov tests at level 1e-3 with a
//! fixed seed; the same tests on a sampler with a deliberately wrong
//! variance must reject.

use faer::{Mat, MatRef, mat};
use linalg_kernels::Cholesky;
use rand::SeedableRng;
use rand::rngs::StdRng;
use statespace::{LinearGaussianSsm, Parameters};
use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};
use statrs::stats_tests::NaNPolicy;
use statrs::stats_tests::ks_test::{KSOneSampleAlternativeMethod, ks_onesample};

/// Significance level of every test.
const ALPHA: f64 = 1e-3;

fn parameters() -> Parameters {
    Parameters {
        a: mat![[0.8, 0.3], [-0.2, 0.7]],
        q: mat![[0.5, 0.2], [0.2, 0.3]],
        h: mat![[1.0, 0.5], [0.0, 1.0]],
        r: mat![[0.4, -0.1], [-0.1, 0.2]],
        m0: vec![1.0, -2.0],
        p0: mat![[2.0, 0.5], [0.5, 1.0]],
    }
}

/// The whitened residuals of one kind: every coordinate, and every squared
/// norm.
#[derive(Default)]
struct Whitened {
    coordinates: Vec<f64>,
    squared_norms: Vec<f64>,
}

impl Whitened {
    /// Adds `L⁻¹ r` for the Cholesky factor `L` of the covariance.
    fn push(&mut self, factor: MatRef<'_, f64>, r: &[f64]) {
        let mut z = vec![0.0; r.len()];
        for i in 0..r.len() {
            let partial: f64 = (0..i).map(|j| factor[(i, j)] * z[j]).sum();
            z[i] = (r[i] - partial) / factor[(i, i)];
        }
        self.squared_norms.push(z.iter().map(|v| v * v).sum());
        self.coordinates.extend(z);
    }

    /// The smaller p-value of the two KS tests (coordinates against
    /// N(0, 1), squared norms against χ²(dim)).
    fn p_value(&self, dim: usize) -> f64 {
        let normal = Normal::standard();
        let chi2 = ChiSquared::new(dim as f64).unwrap();
        ks(&self.coordinates, &normal).min(ks(&self.squared_norms, &chi2))
    }
}

/// The p-value of the two-sided Kolmogorov-Smirnov test of `data` against
/// `distribution`.
fn ks<D: ContinuousCDF<f64, f64>>(data: &[f64], distribution: &D) -> f64 {
    let method = KSOneSampleAlternativeMethod::TwoSidedAsymptotic;
    ks_onesample(data.to_vec(), distribution, method, NaNPolicy::Error)
        .unwrap()
        .1
}

fn factor(m: &Mat<f64>) -> Mat<f64> {
    Cholesky::new(m.as_ref()).unwrap().factor().to_owned()
}

/// The p-values of the initial state, transition and observation noise of
/// `sequences` draws of `steps` steps from `sampler`, whitened with `model`.
fn p_values(
    model: &LinearGaussianSsm,
    sampler: &LinearGaussianSsm,
    sequences: usize,
    steps: usize,
) -> [f64; 3] {
    let (a, h) = (model.a(), model.h());
    let (l0, lq, lr) = (
        factor(&model.p0().to_owned()),
        factor(&model.q().to_owned()),
        factor(&model.r().to_owned()),
    );
    let [mut initial, mut transition, mut observation] = [(); 3].map(|()| Whitened::default());
    let mut rng = StdRng::seed_from_u64(2024);
    for (x, y) in sampler
        .sample_sequences(&vec![steps; sequences], &mut rng)
        .unwrap()
    {
        let (n, p) = (x.ncols(), y.ncols());
        let r0: Vec<f64> = (0..n).map(|i| x[(0, i)] - model.m0()[i]).collect();
        initial.push(l0.as_ref(), &r0);
        for k in 0..steps {
            if k > 0 {
                let w: Vec<f64> = (0..n)
                    .map(|i| x[(k, i)] - (0..n).map(|j| a[(i, j)] * x[(k - 1, j)]).sum::<f64>())
                    .collect();
                transition.push(lq.as_ref(), &w);
            }
            let v: Vec<f64> = (0..p)
                .map(|i| y[(k, i)] - (0..n).map(|j| h[(i, j)] * x[(k, j)]).sum::<f64>())
                .collect();
            observation.push(lr.as_ref(), &v);
        }
    }
    let (n, p) = (model.state_dim(), model.obs_dim());
    [initial.p_value(n), transition.p_value(n), observation.p_value(p)]
}

#[test]
fn sampled_noise_is_standard_normal_after_whitening() {
    let model = LinearGaussianSsm::from_parameters(parameters()).unwrap();
    let [initial, transition, observation] = p_values(&model, &model, 3000, 8);
    assert!(initial > ALPHA, "x_0: p = {initial}");
    assert!(transition > ALPHA, "transitions: p = {transition}");
    assert!(observation > ALPHA, "observations: p = {observation}");
}

/// The tests have power: a sampler whose Q, R or P0 is 25% too large (or
/// whose R has its correlation of the wrong sign) is rejected.
#[test]
fn a_sampler_with_a_wrong_variance_is_rejected() {
    let model = LinearGaussianSsm::from_parameters(parameters()).unwrap();
    let scaled = |edit: fn(&mut Parameters)| {
        let mut wrong = parameters();
        edit(&mut wrong);
        LinearGaussianSsm::from_parameters(wrong).unwrap()
    };
    let wrong_p0 = scaled(|w| w.p0 *= faer::Scale(1.25));
    let wrong_q = scaled(|w| w.q *= faer::Scale(1.25));
    let wrong_r = scaled(|w| w.r *= faer::Scale(1.25));
    let wrong_correlation = scaled(|w| w.r = mat![[0.4, 0.1], [0.1, 0.2]]);
    assert!(p_values(&model, &wrong_p0, 3000, 8)[0] < ALPHA);
    assert!(p_values(&model, &wrong_q, 3000, 8)[1] < ALPHA);
    assert!(p_values(&model, &wrong_r, 3000, 8)[2] < ALPHA);
    assert!(p_values(&model, &wrong_correlation, 3000, 8)[2] < ALPHA);
}
