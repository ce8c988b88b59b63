//! The parameter blocks of a mixture, in the workspace's shared vocabulary.

/// A parameter block of a [`crate::GaussianMixture`]: what a [`LearnSet`]
/// selects for the M-step and what [`StepDiagnostics`] events name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Param {
    /// The mixture weights `wₖ` (`"weights"`).
    Weights,
    /// The component means `μₖ` (`"means"`).
    Means,
    /// The component covariances `Σₖ` (`"covariances"`).
    Covariances,
}

impl em_core::Parameter for Param {
    const ALL: &'static [Self] = &[Self::Weights, Self::Means, Self::Covariances];

    fn name(self) -> &'static str {
        match self {
            Self::Weights => "weights",
            Self::Means => "means",
            Self::Covariances => "covariances",
        }
    }
}

/// Which blocks an M-step updates (default: all).
pub type LearnSet = em_core::LearnSet<Param>;

/// What an M-step did beyond the closed-form update (see [`crate::mstep`]).
pub type StepDiagnostics = em_core::StepDiagnostics<Param>;
