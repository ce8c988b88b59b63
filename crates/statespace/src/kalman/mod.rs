//! The forward (Kalman filter) and backward (Rauch-Tung-Striebel) recursions.
//!
//! Everything here works on padded column-major buffers (see [`crate::dense`])
//! allocated once per sequence; no time step allocates. Covariances are kept
//! in a [`MatSeq`]: a pool of distinct matrices plus, for every step, the
//! index of its matrix, so a steady-state stretch stores one matrix.
//!
//! - [`padded`]: the model's parameters in padded buffers and the
//!   covariance prediction `P_p = A (P_f Aᵀ) + Q` (lower triangle mirrored:
//!   exactly symmetric);
//! - [`update`]: the measurement update of one step (the numerical choices
//!   of the update are documented there);
//! - [`filter`]: the forward pass (step by step for the streaming filter)
//!   and the replay of its covariances from checkpoints;
//! - [`smoother`]: the backward pass (gain, smoothed moments, lag-one
//!   cross-covariances);
//! - [`steady`]: the steady-state detection both passes use;
//! - [`matseq`]: the packed storage of covariance sequences.

mod filter;
mod matseq;
mod padded;
mod smoother;
mod steady;
mod update;

pub(crate) use filter::{CovStore, Forward, ForwardPass, ForwardStore, forward, replay_filtered};
pub(crate) use matseq::MatSeq;
pub(crate) use padded::{Padded, PerStep, StepModels};
pub(crate) use smoother::{Backward, GainWork, backward, gain_into};
pub(crate) use update::innovation_error;
