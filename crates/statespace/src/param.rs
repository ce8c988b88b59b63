//! The parameter blocks of a state-space model, in the workspace's shared
//! vocabulary.

use std::fmt;

/// A parameter block of a [`crate::LinearGaussianSsm`]: what a [`LearnSet`]
/// selects for the M-step, what [`StepDiagnostics`] events name, and what
/// [`crate::LinearGaussianSsmBuilder`] asks for.
///
/// The names (`"A"`, `"Q"`, `"H"`, `"R"`, `"m0"`, `"P0"`) parse
/// case-insensitively in a learn list (`"a,Q".parse::<LearnSet>()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Param {
    /// The transition matrix `A` (n x n) of `x_k = A x_{k-1} + w_k`.
    A,
    /// The process-noise covariance `Q` (n x n), `w_k ~ N(0, Q)`.
    Q,
    /// The observation matrix `H` (p x n) of `y_k = H x_k + v_k`.
    H,
    /// The observation-noise covariance `R` (p x p), `v_k ~ N(0, R)`.
    R,
    /// The initial state mean `m0` (n), `x_0 ~ N(m0, P0)`.
    M0,
    /// The initial state covariance `P0` (n x n).
    P0,
}

impl em_core::Parameter for Param {
    const ALL: &'static [Self] = &[Self::A, Self::Q, Self::H, Self::R, Self::M0, Self::P0];

    fn name(self) -> &'static str {
        match self {
            Self::A => "A",
            Self::Q => "Q",
            Self::H => "H",
            Self::R => "R",
            Self::M0 => "m0",
            Self::P0 => "P0",
        }
    }
}

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(em_core::Parameter::name(*self))
    }
}

/// Which blocks an M-step updates (default: all; the others keep their
/// values).
pub type LearnSet = em_core::LearnSet<Param>;

/// What an M-step did beyond the closed-form update: a
/// [`Floored`](em_core::Adjustment::Floored) event per covariance (or Gram
/// matrix) that needed a floor (see [`crate::em`], *Floors*).
pub type StepDiagnostics = em_core::StepDiagnostics<Param>;

/// A block of the input part of a [`crate::LinearGaussianSsm`]
///
/// ```text
/// x_k = A x_{k-1} + B u_k + b + w_k,   y_k = H x_k + D u_k + d + v_k
/// ```
///
/// with known inputs `u_k` (m values per step) and constant offsets `b`, `d`
/// (pykalman's transition and observation offsets). What
/// [`crate::MStepOptions::learn_inputs`] selects. The offsets are the
/// coefficients of a constant input 1, so the recursions and the M-step
/// treat `[B b]` and `[D d]` as one coefficient each.
///
/// The names (`"B"`, `"D"`, `"transition_offset"`, `"observation_offset"`)
/// parse case-insensitively in a learn list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputParam {
    /// The input matrix `B` (n x m) of the transition.
    B,
    /// The input matrix `D` (p x m) of the observation.
    D,
    /// The transition offset `b` (n).
    TransitionOffset,
    /// The observation offset `d` (p).
    ObservationOffset,
}

impl em_core::Parameter for InputParam {
    const ALL: &'static [Self] = &[Self::B, Self::D, Self::TransitionOffset, Self::ObservationOffset];

    fn name(self) -> &'static str {
        match self {
            Self::B => "B",
            Self::D => "D",
            Self::TransitionOffset => "transition_offset",
            Self::ObservationOffset => "observation_offset",
        }
    }
}

impl fmt::Display for InputParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(em_core::Parameter::name(*self))
    }
}

/// Which input blocks an M-step updates (see [`InputParam`]).
pub type InputLearnSet = em_core::LearnSet<InputParam>;
