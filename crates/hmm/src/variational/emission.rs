//! The one trait behind which a variational emission lives, so the
//! posterior of the chain, the E-step and the bound are written once.

use rand::Rng;

use crate::emission::Emission;
use crate::error::HmmError;
use crate::param::LearnSet;
use crate::sequences::Sequences;

/// The prior and variational posterior of the emission parameters of every
/// state, conjugate to the complete-data likelihood, so that the posterior
/// given expected statistics is the prior plus those statistics.
pub trait VariationalEmission: Clone + PartialEq + Send + Sync + std::fmt::Debug + Sized {
    /// The point emission the E-step runs with: its log-likelihoods are
    /// `E_q[ln b_j(x)] − c_j` (the offsets `c_j` of
    /// [`VariationalEmission::expected`]), and its statistics are the
    /// expected sufficient statistics of the update.
    type Expected: Emission;
    /// How a starting posterior is drawn from data.
    type InitConfig: Clone + std::fmt::Debug + Send + Sync;

    /// Number of hidden states K.
    fn n_states(&self) -> usize;

    /// The emission of the E-step and the per-state offsets `c_j`, so that
    /// `E_q[ln b_j(x)] = ln b̃_j(x) + c_j` with `b̃` the returned emission
    /// (the offsets are folded into the chain: every emission in state j is
    /// paired with entering state j).
    ///
    /// # Errors
    /// A posterior that cannot give one (e.g. a scale matrix that is not
    /// positive definite).
    fn expected(&self) -> Result<(Self::Expected, Vec<f64>), HmmError>;

    /// The posterior given the expected statistics: the prior plus the
    /// statistics for the blocks in `learn`, the current posterior for the
    /// others.
    ///
    /// # Errors
    /// Statistics of another shape, a posterior that is not valid.
    fn update(&self, stats: &<Self::Expected as Emission>::Stats, learn: LearnSet) -> Result<Self, HmmError>;

    /// `KL(q ‖ p)` of the emission parameters of all states.
    ///
    /// # Errors
    /// As [`VariationalEmission::expected`].
    fn divergence(&self) -> Result<f64, HmmError>;

    /// A starting posterior from data with `n_states` states, all
    /// randomness from `rng`.
    ///
    /// # Errors
    /// Invalid data or configuration.
    fn init_from_data<R: Rng + ?Sized>(
        data: &Sequences<'_>,
        n_states: usize,
        config: &Self::InitConfig,
        rng: &mut R,
    ) -> Result<Self, HmmError>;
}
