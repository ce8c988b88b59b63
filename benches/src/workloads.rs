//! The model workloads of the benches and of `cargo xtask compare`, built from
//! fixed seeds with the recipes of the standard peer workloads:
//!
//! - [`gmm_big`]: N = 200,000 points, d = 8, K = 8 full covariances; weights
//!   ~ Dirichlet(5·1), means 3·N(0, I), covariances `W Wᵀ/8 + 0.5 I`; the
//!   start perturbs the truth: weights `(w + 0.05)/Σ`, means `+ N(0, 0.5²)`,
//!   covariances ×1.5.
//! - [`hmm_big`]: a Gaussian HMM with 8 states, 4-D full covariances, 200
//!   sequences of 500; start probabilities ~ Dirichlet(1), transitions
//!   `0.9 I + 0.1 Dirichlet(1)` rows, means 3·N(0, I), covariances
//!   `W Wᵀ/4 + 0.3 I`; the start is uniform, `0.7 I + 0.3/8`, means
//!   `+ N(0, 0.5²)`, covariances ×1.5.
//! - [`with_dense_transition`]: a state-space model with `A + 1e-4` in every
//!   entry of A, the cost of a transition without structural zeros.

use faer::Mat;
use hmm::{GaussianEmission, GaussianHmm, Sequences};
use mixture::{Covariances, GaussianMixture};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Gamma, StandardNormal};
use statespace::LinearGaussianSsm;

/// A mixture workload: data, the generating model and the start of the fit.
pub struct GmmWorkload {
    /// The points (n x d).
    pub x: Mat<f64>,
    /// The generating mixture.
    pub truth: GaussianMixture,
    /// The perturbed starting point (full covariances).
    pub start: GaussianMixture,
}

/// An HMM workload: stacked sequences, their lengths, truth and start.
pub struct HmmWorkload {
    /// All sequences stacked (n x d).
    pub x: Mat<f64>,
    /// Length of each sequence.
    pub lengths: Vec<usize>,
    /// The generating model.
    pub truth: GaussianHmm,
    /// The perturbed starting point.
    pub start: GaussianHmm,
}

impl HmmWorkload {
    /// The sequences as the hmm crate's container.
    ///
    /// # Panics
    /// Never for a workload built here (lengths match the data by construction).
    #[must_use]
    pub fn sequences(&self) -> Sequences<'_> {
        Sequences::new(self.x.as_ref(), &self.lengths).expect("lengths match by construction")
    }
}

fn dirichlet<R: Rng + ?Sized>(rng: &mut R, alpha: f64, k: usize) -> Vec<f64> {
    let gamma = Gamma::new(alpha, 1.0).expect("positive shape");
    let draws: Vec<f64> = (0..k).map(|_| rng.sample(gamma)).collect();
    let total: f64 = draws.iter().sum();
    draws.iter().map(|g| g / total).collect()
}

fn normal_matrix<R: Rng + ?Sized>(rng: &mut R, rows: usize, cols: usize, scale: f64) -> Mat<f64> {
    Mat::from_fn(rows, cols, |_, _| scale * rng.sample::<f64, _>(StandardNormal))
}

fn random_spd<R: Rng + ?Sized>(rng: &mut R, d: usize, jitter: f64) -> Mat<f64> {
    let w = normal_matrix(rng, d, d, 1.0);
    let mut a = &w * w.transpose() * (1.0 / d as f64);
    for i in 0..d {
        a[(i, i)] += jitter;
    }
    a
}

/// A mixture of `k` components in `d` dimensions with `n` points (the
/// standard workload is `gmm_big(200_000, 8, 8)`).
///
/// # Panics
/// Never: the generated parameters are valid by construction.
#[must_use]
pub fn gmm_big(n: usize, d: usize, k: usize) -> GmmWorkload {
    let mut rng = StdRng::seed_from_u64(20_240_101);
    let weights = dirichlet(&mut rng, 5.0, k);
    let means = normal_matrix(&mut rng, k, d, 3.0);
    let covs: Vec<Mat<f64>> = (0..k).map(|_| random_spd(&mut rng, d, 0.5)).collect();
    let truth = GaussianMixture::new(weights.clone(), means.clone(), Covariances::Full(covs.clone()))
        .expect("valid truth");
    let (x, _) = truth.sample(n, &mut rng);
    let mut init_rng = StdRng::seed_from_u64(7);
    let total: f64 = weights.iter().map(|w| w + 0.05).sum();
    let start_weights = weights.iter().map(|w| (w + 0.05) / total).collect();
    let start_means = &means + normal_matrix(&mut init_rng, k, d, 0.5);
    let start_covs = covs.iter().map(|c| c * 1.5).collect();
    let start =
        GaussianMixture::new(start_weights, start_means, Covariances::Full(start_covs)).expect("valid start");
    GmmWorkload { x, truth, start }
}

/// The diagonal-covariance start of a mixture workload: the diagonals of its
/// full start.
///
/// # Panics
/// Never for a start built by [`gmm_big`].
#[must_use]
pub fn diagonal_start(full: &GaussianMixture) -> GaussianMixture {
    let (k, d) = (full.n_components(), full.n_features());
    let variances = Mat::from_fn(k, d, |c, j| {
        full.component_covariance(c).expect("component exists")[(j, j)]
    });
    GaussianMixture::new(
        full.weights().to_vec(),
        full.means().to_owned(),
        Covariances::Diagonal(variances),
    )
    .expect("valid diagonal start")
}

/// A Gaussian HMM with `k` states in `d` dimensions, `n_sequences` sequences
/// of length `length` (the standard workload is `hmm_big(8, 4, 200, 500)`).
///
/// # Panics
/// Never: the generated parameters are valid by construction.
#[must_use]
pub fn hmm_big(k: usize, d: usize, n_sequences: usize, length: usize) -> HmmWorkload {
    let mut rng = StdRng::seed_from_u64(777);
    let start_probs = dirichlet(&mut rng, 1.0, k);
    let mut transitions = Mat::<f64>::zeros(k, k);
    for i in 0..k {
        let row = dirichlet(&mut rng, 1.0, k);
        for j in 0..k {
            transitions[(i, j)] = 0.1 * row[j] + if i == j { 0.9 } else { 0.0 };
        }
    }
    let means = normal_matrix(&mut rng, k, d, 3.0);
    let covs: Vec<Mat<f64>> = (0..k).map(|_| random_spd(&mut rng, d, 0.3)).collect();
    let emission =
        GaussianEmission::new(means.clone(), Covariances::Full(covs.clone())).expect("valid emission");
    let truth = GaussianHmm::new(start_probs, transitions.as_ref(), emission).expect("valid truth");
    let mut x = Mat::<f64>::zeros(n_sequences * length, d);
    for s in 0..n_sequences {
        let (xs, _) = truth.sample(length, &mut rng).expect("valid model samples");
        for t in 0..length {
            for j in 0..d {
                x[(s * length + t, j)] = xs[(t, j)];
            }
        }
    }
    let mut init_rng = StdRng::seed_from_u64(11);
    let start_means = &means + normal_matrix(&mut init_rng, k, d, 0.5);
    let start_covs = covs.iter().map(|c| c * 1.5).collect();
    let start_transitions = Mat::<f64>::from_fn(k, k, |i, j| 0.3 / k as f64 + if i == j { 0.7 } else { 0.0 });
    let start_emission =
        GaussianEmission::new(start_means, Covariances::Full(start_covs)).expect("valid emission");
    let start = GaussianHmm::new(
        vec![1.0 / k as f64; k],
        start_transitions.as_ref(),
        start_emission,
    )
    .expect("valid start");
    HmmWorkload {
        x,
        lengths: vec![length; n_sequences],
        truth,
        start,
    }
}

/// `model` with `A + 1e-4` in every entry of A: what the exact filter costs
/// for a transition without structural zeros (scenario 3's A is 80% zeros,
/// which the filter skips).
///
/// # Panics
/// If the shifted model is invalid (it is not: only A changes).
#[must_use]
pub fn with_dense_transition(model: LinearGaussianSsm) -> LinearGaussianSsm {
    let mut parameters = model.into_parameters();
    let a = &parameters.a;
    parameters.a = Mat::from_fn(a.nrows(), a.ncols(), |i, j| a[(i, j)] + 1e-4);
    LinearGaussianSsm::from_parameters(parameters).expect("only A changed")
}
