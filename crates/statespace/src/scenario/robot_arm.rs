//! The robot-arm scenario (described in the [parent module](super)).

use crate::em::MStepOptions;
use crate::error::Result;
use crate::model::{LinearGaussianSsm, Parameters};
use crate::param::{LearnSet, Param};
use faer::{Mat, MatRef};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

/// Number of joints.
pub const JOINTS: usize = 7;
/// State (and observation) dimension, 3 x [`JOINTS`].
pub const STATE_DIM: usize = 3 * JOINTS;
/// Length of the original data set (44,484 steps).
pub const FULL_LENGTH: usize = 44_484;
/// The per-joint transition block (position, velocity, acceleration).
pub const A3: [[f64; 3]; 3] = [[0.99, 1.0, 0.5], [0.0, 0.95, 1.0], [0.0, 0.0, 0.90]];
/// Observation-noise variances of position, velocity, acceleration.
pub const R_DIAG: [f64; 3] = [0.01, 0.01, 1.0];
/// Process-noise variances of position, velocity, acceleration (before the
/// random full-rank part).
pub const Q_DIAG: [f64; 3] = [1e-4, 1e-3, 1e-1];
/// Spectral norm of the joint coupling added to the acceleration block.
pub const COUPLING_NORM: f64 = 0.05;

/// How to generate the robot-arm scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Scenario3 {
    /// Number of time steps T.
    pub steps: usize,
    /// Seed of the model's random parts and of the simulation.
    pub seed: u64,
    /// Whether A has the weak joint coupling.
    pub coupling: bool,
}

impl Scenario3 {
    /// `steps` steps from `seed`, with coupling.
    #[must_use]
    pub fn new(steps: usize, seed: u64) -> Self {
        Self {
            steps,
            seed,
            coupling: true,
        }
    }

    /// With or without the joint coupling.
    #[must_use]
    pub fn with_coupling(mut self, coupling: bool) -> Self {
        self.coupling = coupling;
        self
    }

    /// Draws the true model and simulates it.
    #[must_use]
    pub fn generate(&self) -> Scenario3Data {
        let mut rng = StdRng::seed_from_u64(self.seed);
        let truth = true_model(self.coupling, &mut rng);
        let (states, observations) = truth
            .sample(self.steps, &mut rng)
            .expect("the robot-arm truth is stable: its samples stay finite");
        Scenario3Data {
            truth,
            states,
            observations,
        }
    }
}

/// A simulated robot-arm data set.
#[derive(Debug, Clone)]
pub struct Scenario3Data {
    /// The model the data were drawn from.
    pub truth: LinearGaussianSsm,
    /// True states, T x 21.
    pub states: Mat<f64>,
    /// Observations, T x 21.
    pub observations: Mat<f64>,
}

/// `kron(diag(d), I₇)` as a 21 x 21 matrix.
fn kron_diag(d: [f64; 3]) -> Mat<f64> {
    Mat::from_fn(
        STATE_DIM,
        STATE_DIM,
        |i, j| if i == j { d[i / JOINTS] } else { 0.0 },
    )
}

/// `R = kron(diag(0.01, 0.01, 1.0), I₇)`.
#[must_use]
pub fn observation_covariance() -> Mat<f64> {
    kron_diag(R_DIAG)
}

/// `A = kron(A3, I₇)` (no coupling).
#[must_use]
pub fn transition_without_coupling() -> Mat<f64> {
    Mat::from_fn(STATE_DIM, STATE_DIM, |i, j| {
        if i % JOINTS == j % JOINTS {
            A3[i / JOINTS][j / JOINTS]
        } else {
            0.0
        }
    })
}

/// Largest singular value by power iteration on `CᵀC` (deterministic).
fn spectral_norm(c: &Mat<f64>) -> f64 {
    let n = c.ncols();
    let mut v = vec![1.0 / (n as f64).sqrt(); n];
    let mut norm = 0.0;
    for _ in 0..500 {
        let cv: Vec<f64> = (0..c.nrows())
            .map(|i| (0..n).map(|j| c[(i, j)] * v[j]).sum())
            .collect();
        let mut w: Vec<f64> = (0..n)
            .map(|j| (0..c.nrows()).map(|i| c[(i, j)] * cv[i]).sum())
            .collect();
        let len = w.iter().map(|x| x * x).sum::<f64>().sqrt();
        if len == 0.0 {
            return 0.0;
        }
        w.iter_mut().for_each(|x| *x /= len);
        norm = len.sqrt();
        v = w;
    }
    norm
}

/// Draws the true robot-arm model (C if `coupling`, then W, from `rng`).
pub fn true_model<G: Rng + ?Sized>(coupling: bool, rng: &mut G) -> LinearGaussianSsm {
    let mut a = transition_without_coupling();
    if coupling {
        let c = Mat::<f64>::from_fn(JOINTS, JOINTS, |_, _| rng.sample(StandardNormal));
        let scale = COUPLING_NORM / spectral_norm(&c);
        for j in 0..JOINTS {
            for i in 0..JOINTS {
                a[(2 * JOINTS + i, 2 * JOINTS + j)] += scale * c[(i, j)];
            }
        }
    }
    let w = Mat::<f64>::from_fn(STATE_DIM, STATE_DIM, |_, _| rng.sample(StandardNormal));
    let mut q = kron_diag(Q_DIAG);
    let wwt = &w * w.transpose();
    for j in 0..STATE_DIM {
        for i in 0..STATE_DIM {
            q[(i, j)] += 1e-3 * 0.5 * (wwt[(i, j)] + wwt[(j, i)]) / STATE_DIM as f64;
        }
    }
    LinearGaussianSsm::from_parameters(Parameters {
        a,
        q: q.clone(),
        h: Mat::identity(STATE_DIM, STATE_DIM),
        r: observation_covariance(),
        m0: vec![0.0; STATE_DIM],
        p0: q,
    })
    .expect("the scenario's parameters are valid by construction")
}

/// The scenario's EM start for observations `y` (T x 21): `A = 0`,
/// `Q = 0.01 diag(u)` with `u` uniform in (0, 1] from `seed`, `H = I`,
/// `R = kron(diag(0.01, 0.01, 1), I₇)`, `m0 = y_0` (missing entries → 0),
/// `P0 = R`.
///
/// # Errors
/// [`crate::StateSpaceError::ObservationDimension`] if `y` does not have 21
/// columns, [`crate::StateSpaceError::EmptySequence`] if it has no row.
pub fn em_start(y: MatRef<'_, f64>, seed: u64) -> Result<LinearGaussianSsm> {
    crate::data::validate_sequence(0, y, STATE_DIM)?;
    let mut rng = StdRng::seed_from_u64(seed);
    let q = Mat::<f64>::from_fn(STATE_DIM, STATE_DIM, |i, j| {
        if i == j {
            0.01 * (1.0 - rng.random::<f64>())
        } else {
            0.0
        }
    });
    let r = observation_covariance();
    let m0 = (0..STATE_DIM)
        .map(|i| if y[(0, i)].is_nan() { 0.0 } else { y[(0, i)] })
        .collect();
    LinearGaussianSsm::from_parameters(Parameters {
        a: Mat::zeros(STATE_DIM, STATE_DIM),
        q,
        h: Mat::identity(STATE_DIM, STATE_DIM),
        r: r.clone(),
        m0,
        p0: r,
    })
}

/// M-step options of the scenario: learn the transition (A, Q), full Q.
#[must_use]
pub fn learn_options() -> MStepOptions {
    MStepOptions::new(LearnSet::only(&[Param::A, Param::Q]))
}
