//! The options of the M-step and of the data-driven start.

use linalg_kernels::FloorSchedule;

use crate::error::{Result, StateSpaceError};
use crate::param::{InputLearnSet, InputParam, LearnSet, Param};

/// Structure imposed on an updated covariance (Q or R).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum CovStructure {
    /// Any symmetric positive definite matrix.
    #[default]
    Full,
    /// Diagonal.
    Diagonal,
    /// A positive multiple of the identity.
    Scalar,
}

impl CovStructure {
    /// Parses `full`, `diagonal` / `diag`, `scalar` / `spherical`.
    ///
    /// # Errors
    /// [`StateSpaceError::InvalidOption`] for anything else.
    pub fn parse(text: &str) -> Result<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "full" => Ok(Self::Full),
            "diagonal" | "diag" => Ok(Self::Diagonal),
            "scalar" | "spherical" => Ok(Self::Scalar),
            _ => Err(StateSpaceError::InvalidOption {
                option: "covariance structure",
                requirement: "one of full, diagonal, scalar",
            }),
        }
    }

    fn free_parameters(self, dim: usize) -> usize {
        match self {
            Self::Full => dim.saturating_mul(dim.saturating_add(1)) / 2,
            Self::Diagonal => dim,
            Self::Scalar => 1,
        }
    }
}

/// Options of the M-step.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct MStepOptions {
    /// Which parameter blocks to update (default: all).
    pub learn: LearnSet,
    /// Which input blocks to update (default: B and D; the offsets are
    /// fixed unless named here).
    pub learn_inputs: InputLearnSet,
    /// Structure of the updated Q.
    pub q_structure: CovStructure,
    /// Structure of the updated R.
    pub r_structure: CovStructure,
    /// The floor applied to an updated covariance that is not positive
    /// definite or too ill-conditioned (see [`crate::em`], *Floors*).
    pub floor: FloorSchedule,
}

impl Default for MStepOptions {
    /// Learn everything, full covariances, default floor.
    fn default() -> Self {
        Self::new(LearnSet::all())
    }
}

impl MStepOptions {
    /// Learns `learn` (and B and D) with full covariances and the default
    /// floor.
    #[must_use]
    pub fn new(learn: LearnSet) -> Self {
        Self {
            learn,
            learn_inputs: InputLearnSet::only(&[InputParam::B, InputParam::D]),
            q_structure: CovStructure::Full,
            r_structure: CovStructure::Full,
            floor: FloorSchedule::default(),
        }
    }

    /// With another set of learned blocks.
    #[must_use]
    pub fn with_learn(mut self, learn: LearnSet) -> Self {
        self.learn = learn;
        self
    }

    /// With another set of learned input blocks.
    #[must_use]
    pub fn with_learn_inputs(mut self, learn_inputs: InputLearnSet) -> Self {
        self.learn_inputs = learn_inputs;
        self
    }

    /// With a structure for Q.
    #[must_use]
    pub fn with_q_structure(mut self, structure: CovStructure) -> Self {
        self.q_structure = structure;
        self
    }

    /// With a structure for R.
    #[must_use]
    pub fn with_r_structure(mut self, structure: CovStructure) -> Self {
        self.r_structure = structure;
        self
    }

    /// With another floor schedule.
    #[must_use]
    pub fn with_floor(mut self, floor: FloorSchedule) -> Self {
        self.floor = floor;
        self
    }

    /// Number of free parameters learned with these options for state
    /// dimension n and observation dimension p, without inputs (for BIC/AIC
    /// of a fit).
    #[must_use]
    pub fn n_free_parameters(&self, n: usize, p: usize) -> usize {
        self.n_free_parameters_with_inputs(n, p, 0)
    }

    /// Number of free parameters learned with these options for state
    /// dimension n, observation dimension p and input dimension m
    /// (saturating at `usize::MAX`: dimensions from untrusted input are
    /// compared with it before anything is allocated).
    #[must_use]
    pub fn n_free_parameters_with_inputs(&self, n: usize, p: usize, m: usize) -> usize {
        let inputs = self.learn_inputs.iter().map(|block| match block {
            InputParam::B => n.saturating_mul(m),
            InputParam::D => p.saturating_mul(m),
            InputParam::TransitionOffset => n,
            InputParam::ObservationOffset => p,
        });
        let model = self.learn.iter().map(|block| match block {
            Param::A => n.saturating_mul(n),
            Param::Q => self.q_structure.free_parameters(n),
            Param::H => p.saturating_mul(n),
            Param::R => self.r_structure.free_parameters(p),
            Param::M0 => n,
            Param::P0 => CovStructure::Full.free_parameters(n),
        });
        inputs.chain(model).fold(0, usize::saturating_add)
    }
}

/// Configuration of the data-driven start (`init_from_data` of
/// [`em_core::EmModel`], see [`crate::em`]).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct InitConfig {
    /// State dimension n (at least 1).
    pub state_dim: usize,
    /// Standard deviation of the Gaussian jitter added to every entry of
    /// the initial A (makes restarts differ; 0 for none). A jitter that
    /// would make A unstable is scaled back until A is stable.
    pub a_jitter: f64,
}

impl InitConfig {
    /// Largest state dimension `init_from_data` accepts
    /// (a 4096 x 4096 matrix is 128 MB and a filter step ~10¹¹ flops; larger
    /// requests are almost surely a mistake and would exhaust memory).
    pub const MAX_STATE_DIM: usize = 4096;

    /// State dimension `state_dim`, A jitter 0.01.
    #[must_use]
    pub fn new(state_dim: usize) -> Self {
        Self {
            state_dim,
            a_jitter: 0.01,
        }
    }

    /// With another A jitter.
    #[must_use]
    pub fn with_a_jitter(mut self, a_jitter: f64) -> Self {
        self.a_jitter = a_jitter;
        self
    }
}
