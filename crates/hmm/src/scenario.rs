//! The crate's worked example (emfit's scenario 1, the GMM-HMM): a 2-state
//! HMM whose emission in each state is a 2-component, 1-D Gaussian mixture
//! with diagonal covariances, and a fit that must recover it (Viterbi with
//! the fitted model finds at least 98% of the true states of a fresh sample,
//! up to relabelling).
//!
//! | parameter | value |
//! |---|---|
//! | start probabilities | `[0.9, 0.1]` |
//! | transition matrix | `[[0.95, 0.05], [0.15, 0.85]]` |
//! | means (state, mix, dim) | `[[[5], [10]], [[-10], [-5]]]` |
//! | variances (state, mix, dim) | `[[[9], [4]], [[4], [9]]]` |
//! | mixture weights (state, mix) | `[[0.6, 0.4], [0.4, 0.6]]` |
//!
//! [`sample`] draws N = 1000 observations (one chain) from a seeded RNG and
//! cuts them into 50 sequences at 49 distinct random cut points in
//! `1..N−1`, sorted; [`fresh_model`] is the starting point of the fit (a
//! 2-state, 2-mix diagonal GMM-HMM initialised from the data by nested
//! k-means); [`m_step_options`] are the options of the fit, and
//! [`TOLERANCE`] / [`MAX_ITERATIONS`] its stopping rule. Used by
//! `examples/scenario1.rs`, the end-to-end test and `emfit demo`.

use em_core::EmModel;
use faer::{Mat, mat};
use mixture::{CovarianceType, Covariances};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::GmmHmm;
use crate::emission::gmm::{GmmEmission, GmmInit};
use crate::error::HmmError;
use crate::model::options::{InitConfig, MStepOptions};
use crate::sequences::Sequences;

/// Number of observations of one sample.
pub const N_POINTS: usize = 1000;
/// Number of sequences the sample is cut into.
pub const N_SEQUENCES: usize = 50;
/// Convergence tolerance of the fit (absolute log-likelihood gain).
pub const TOLERANCE: f64 = 1e-10;
/// Iteration cap of the fit.
pub const MAX_ITERATIONS: usize = 1000;
/// Number of hidden states.
pub const N_STATES: usize = 2;
/// Mixture components per state.
pub const N_MIX: usize = 2;

/// One sample of the scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioData {
    /// Observations, N x 1 (all sequences stacked).
    pub x: Mat<f64>,
    /// The true hidden state of every observation.
    pub states: Vec<usize>,
    /// The lengths of the sequences (sum N).
    pub lengths: Vec<usize>,
}

impl ScenarioData {
    /// The observations as validated [`Sequences`].
    ///
    /// # Errors
    /// Never for data made by [`sample`]; validation errors otherwise.
    pub fn sequences(&self) -> Result<Sequences<'_>, HmmError> {
        Sequences::new(self.x.as_ref(), &self.lengths)
    }
}

/// The true model of the table above.
#[must_use]
pub fn true_model() -> GmmHmm {
    let emission = GmmEmission::new(
        mat![[0.6, 0.4], [0.4, 0.6]],
        vec![mat![[5.0], [10.0]], mat![[-10.0], [-5.0]]],
        vec![
            Covariances::Diagonal(mat![[9.0], [4.0]]),
            Covariances::Diagonal(mat![[4.0], [9.0]]),
        ],
    )
    .expect("the scenario's emission parameters are valid");
    GmmHmm::new(
        vec![0.9, 0.1],
        mat![[0.95, 0.05], [0.15, 0.85]].as_ref(),
        emission,
    )
    .expect("the scenario's chain parameters are valid")
}

/// Samples one chain of `n` observations from the true model with
/// `StdRng::seed_from_u64(seed)` and cuts it into `n_sequences` sequences:
/// `n_sequences − 1` distinct cut points drawn without replacement from
/// `1..n−1` (as `numpy.arange(1, N-1)`), sorted; lengths are the gaps
/// (so a length may be 1). The same RNG draws the chain first, then the cuts.
///
/// # Errors
/// [`HmmError::InvalidOption`] unless `1 ≤ n_sequences ≤ n − 1` (and `n ≥ 2`,
/// or `n_sequences = 1`).
pub fn sample_with(seed: u64, n: usize, n_sequences: usize) -> Result<ScenarioData, HmmError> {
    let cuts_needed = n_sequences.saturating_sub(1);
    if n_sequences == 0 || n == 0 || (cuts_needed > 0 && cuts_needed > n.saturating_sub(2)) {
        return Err(HmmError::InvalidOption {
            what: "number of sequences",
            value: n_sequences as f64,
        });
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let (x, states) = true_model().sample(n, &mut rng)?;
    let mut cuts: Vec<usize> = if cuts_needed == 0 {
        Vec::new()
    } else {
        rand::seq::index::sample(&mut rng, n - 2, cuts_needed)
            .into_iter()
            .map(|c| c + 1)
            .collect()
    };
    cuts.sort_unstable();
    let mut lengths = Vec::with_capacity(n_sequences);
    let mut previous = 0;
    for c in cuts.into_iter().chain(std::iter::once(n)) {
        lengths.push(c - previous);
        previous = c;
    }
    Ok(ScenarioData { x, states, lengths })
}

/// The scenario's sample: [`N_POINTS`] observations in [`N_SEQUENCES`] sequences.
#[must_use]
pub fn sample(seed: u64) -> ScenarioData {
    sample_with(seed, N_POINTS, N_SEQUENCES).expect("the scenario's sizes are valid")
}

/// The initialisation of the fresh model: 2 states, 2 diagonal components
/// per state, uniform start and transitions, nested k-means means, data
/// variance plus 1e-3.
#[must_use]
pub fn init_config() -> InitConfig<GmmInit> {
    InitConfig::new(N_STATES, GmmInit::new(N_MIX, CovarianceType::Diagonal))
}

/// The fresh 2-state, 2-mix diagonal GMM-HMM the fit starts from, initialised
/// from `data` with `StdRng::seed_from_u64(seed)`.
///
/// # Errors
/// Initialisation errors (e.g. fewer distinct points than states).
pub fn fresh_model(data: &Sequences<'_>, seed: u64) -> Result<GmmHmm, HmmError> {
    let mut rng = StdRng::seed_from_u64(seed);
    GmmHmm::init_from_data(data, &init_config(), &mut rng)
}

/// M-step options of the fit: learn everything, no priors, and no
/// covariance floor (`reg_covar = 0`: exact EM, so the log-likelihood cannot
/// decrease beyond rounding; the mixture crate's collapse rule keeps
/// components with all their mass on one point).
#[must_use]
pub fn m_step_options() -> MStepOptions {
    MStepOptions {
        covariance_floor: mixture::Floor::Absolute(0.0),
        ..MStepOptions::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_have_the_stated_shape() {
        let d = sample(1);
        assert_eq!(d.x.nrows(), N_POINTS);
        assert_eq!(d.states.len(), N_POINTS);
        assert_eq!(d.lengths.len(), N_SEQUENCES);
        assert_eq!(d.lengths.iter().sum::<usize>(), N_POINTS);
        assert!(d.lengths.iter().all(|&l| l >= 1));
        assert_eq!(sample(1), d);
        assert_ne!(sample(2).x, d.x);
        assert!(d.sequences().is_ok());
    }

    #[test]
    fn bad_sizes_are_rejected() {
        assert!(sample_with(0, 10, 0).is_err());
        assert!(sample_with(0, 10, 10).is_err());
        assert_eq!(sample_with(0, 10, 9).unwrap().lengths.len(), 9);
        assert_eq!(sample_with(0, 1, 1).unwrap().lengths, vec![1]);
    }
}
