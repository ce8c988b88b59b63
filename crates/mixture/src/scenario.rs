//! The crate's test scenario: a 2-D, two-component mixture that a
//! hand-written EM loop crashed on (it passed a mean where a covariance
//! belonged; this crate rejects such a model with a typed error naming the
//! component).
//!
//! With probability 0.3 a point comes from `N([0, 0], [[1, 0.5], [0.5, 1]])`
//! (component 0), otherwise from `N([2.5, 0], [[1, −0.5], [−0.5, 1]])`
//! (component 1). The fit starts from [`naive_start`]: means `[0, 1]` and
//! `[1, 0]`, identity covariances, equal weights.

use crate::{Covariances, GaussianMixture};
use faer::{Mat, mat};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

/// Number of points of the scenario.
pub const N_POINTS: usize = 1000;

/// Probability of component 0.
pub const P_FIRST: f64 = 0.3;

/// Generated data and the truth behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioData {
    /// The points, [`N_POINTS`] x 2.
    pub x: Mat<f64>,
    /// The true component of each point (0 with probability 0.3).
    pub labels: Vec<usize>,
    /// The generating mixture (weights 0.3 / 0.7).
    pub truth: GaussianMixture,
}

/// The true mixture: weights `[0.3, 0.7]`, means `[0, 0]` and `[2.5, 0]`,
/// covariances `[[1, 0.5], [0.5, 1]]` and `[[1, −0.5], [−0.5, 1]]`.
#[must_use]
pub fn truth() -> GaussianMixture {
    GaussianMixture::new(
        vec![P_FIRST, 1.0 - P_FIRST],
        mat![[0.0, 0.0], [2.5, 0.0]],
        Covariances::Full(vec![mat![[1.0, 0.5], [0.5, 1.0]], mat![[1.0, -0.5], [-0.5, 1.0]]]),
    )
    .expect("the scenario's parameters are valid")
}

/// The user's starting point: means `[0, 1]` and `[1, 0]`, identity
/// covariances, equal weights (full covariance type).
#[must_use]
pub fn naive_start() -> GaussianMixture {
    GaussianMixture::new(
        vec![0.5, 0.5],
        mat![[0.0, 1.0], [1.0, 0.0]],
        Covariances::Full(vec![Mat::identity(2, 2), Mat::identity(2, 2)]),
    )
    .expect("the scenario's start is valid")
}

/// Generates the scenario's 1000 points from `StdRng::seed_from_u64(seed)`,
/// following the original recipe: first all Bernoulli(0.3) draws `b`, then
/// 1000 draws `x₁` of component 0, then 1000 draws `x₂` of component 1, and
/// `x = b x₁ + (1 − b) x₂` (each normal draw is `μ + L ε` with the Cholesky
/// factor `L`, two standard normals per point).
#[must_use]
pub fn two_component_2d(seed: u64) -> ScenarioData {
    let mut rng = StdRng::seed_from_u64(seed);
    let truth = truth();
    let b: Vec<bool> = (0..N_POINTS).map(|_| rng.random::<f64>() < P_FIRST).collect();
    let draw = |rng: &mut StdRng, c: usize| -> Vec<[f64; 2]> {
        let l = truth.cholesky(c).expect("full model").factor().to_owned();
        let mu = [truth.means()[(c, 0)], truth.means()[(c, 1)]];
        (0..N_POINTS)
            .map(|_| {
                let e0: f64 = rng.sample(StandardNormal);
                let e1: f64 = rng.sample(StandardNormal);
                [mu[0] + l[(0, 0)] * e0, mu[1] + l[(1, 0)] * e0 + l[(1, 1)] * e1]
            })
            .collect()
    };
    let x1 = draw(&mut rng, 0);
    let x2 = draw(&mut rng, 1);
    let x = Mat::from_fn(N_POINTS, 2, |i, j| if b[i] { x1[i][j] } else { x2[i][j] });
    let labels = b.iter().map(|&first| if first { 0 } else { 1 }).collect();
    ScenarioData { x, labels, truth }
}

/// The stream of online EM's acceptance check (the test
/// `one_pass_over_100k_points_is_within_one_percent_of_batch` and the
/// example `online_em`): three overlapping 2-D components, weights
/// `[0.5, 0.3, 0.2]`, means `[0, 0]`, `[4, 1]`, `[−2, 5]`, full covariances.
#[must_use]
pub fn stream_truth() -> GaussianMixture {
    GaussianMixture::new(
        vec![0.5, 0.3, 0.2],
        mat![[0.0, 0.0], [4.0, 1.0], [-2.0, 5.0]],
        Covariances::Full(vec![
            mat![[1.0, 0.3], [0.3, 0.8]],
            mat![[0.6, -0.2], [-0.2, 1.2]],
            mat![[1.5, 0.0], [0.0, 0.5]],
        ]),
    )
    .expect("the stream's parameters are valid")
}
