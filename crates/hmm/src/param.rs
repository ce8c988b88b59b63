//! The parameter blocks of an HMM, in the workspace's shared vocabulary.

/// A parameter block of an [`crate::Hmm`]: what a [`LearnSet`] selects for
/// the M-step and what [`StepDiagnostics`] events name. Each emission reads
/// the blocks it has (a categorical emission ignores `Means`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Param {
    /// The start probabilities `π` (`"start"`).
    Start,
    /// The transition matrix `A` (`"transitions"`).
    Transitions,
    /// The Gaussian means `μ` of Gaussian and GMM emissions (`"means"`).
    Means,
    /// The Gaussian covariances `Σ` of Gaussian and GMM emissions
    /// (`"covariances"`).
    Covariances,
    /// The mixture weights of GMM emissions (`"weights"`).
    Weights,
    /// The symbol probabilities `B` of categorical emissions
    /// (`"probabilities"`).
    Probabilities,
    /// The rates `λ` of Poisson emissions (`"rates"`).
    Rates,
}

impl em_core::Parameter for Param {
    const ALL: &'static [Self] = &[
        Self::Start,
        Self::Transitions,
        Self::Means,
        Self::Covariances,
        Self::Weights,
        Self::Probabilities,
        Self::Rates,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Transitions => "transitions",
            Self::Means => "means",
            Self::Covariances => "covariances",
            Self::Weights => "weights",
            Self::Probabilities => "probabilities",
            Self::Rates => "rates",
        }
    }
}

/// Which blocks an M-step updates (default: all).
pub type LearnSet = em_core::LearnSet<Param>;

/// What an M-step did beyond the closed-form update.
pub type StepDiagnostics = em_core::StepDiagnostics<Param>;

impl From<mixture::Param> for Param {
    /// The mixture block of the same name (a Gaussian or GMM emission is a
    /// mixture per state, or one mixture whose components are the states).
    fn from(block: mixture::Param) -> Self {
        match block {
            mixture::Param::Weights => Self::Weights,
            mixture::Param::Means => Self::Means,
            mixture::Param::Covariances => Self::Covariances,
        }
    }
}
