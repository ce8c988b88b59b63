//! Sequences with their inputs, and what the recursions make of them.
//!
//! With the augmented inputs `ũ_k = [u_k; 1]` and coefficients `B̃ = [B b]`,
//! `D̃ = [D d]` (see `model::inputs`), a sequence enters the recursions as
//! the observations less their known part, `y_k − D̃ ũ_k` (NaN kept), and
//! the drift `B̃ ũ_k` added to every predicted mean `A m_{k-1|k-1}`; the
//! covariances do not depend on the inputs. A sequence with time-varying
//! matrices ([`TimeVarying`]) runs the recursions with the parameters of
//! each step (see [`crate::time_varying`]).

use faer::{Mat, MatRef};

use crate::error::Result;
use crate::kalman::{Backward, Forward, ForwardStore, Padded, PerStep, backward, forward};
use crate::model::LinearGaussianSsm;
use crate::model::inputs::{augmented_inputs, known_parts, validate_inputs};
use crate::time_varying::{StepMatrices, TimeVarying};

/// One sequence: its observations (T x p, NaN = missing), for a model
/// with inputs its inputs (T x m, row k is `u_k`, all finite), and
/// optionally time-varying matrices ([`Self::with_time_varying`]).
#[derive(Debug, Clone, Copy)]
pub struct Sequence<'a> {
    observations: MatRef<'a, f64>,
    inputs: Option<MatRef<'a, f64>>,
    time_varying: TimeVarying<'a>,
}

impl<'a> Sequence<'a> {
    /// A sequence without inputs (for a model with m = 0).
    #[must_use]
    pub fn new(observations: MatRef<'a, f64>) -> Self {
        Self {
            observations,
            inputs: None,
            time_varying: TimeVarying::default(),
        }
    }

    /// A sequence with its inputs (one row per step).
    #[must_use]
    pub fn with_inputs(observations: MatRef<'a, f64>, inputs: MatRef<'a, f64>) -> Self {
        Self {
            observations,
            inputs: Some(inputs),
            time_varying: TimeVarying::default(),
        }
    }

    /// This sequence with the time-varying matrices `matrices` (checked by
    /// whatever runs on it; see [`TimeVarying`] for the conventions).
    #[must_use]
    pub fn with_time_varying(mut self, matrices: TimeVarying<'a>) -> Self {
        self.time_varying = matrices;
        self
    }

    /// The observations, T x p.
    #[must_use]
    pub fn observations(&self) -> MatRef<'a, f64> {
        self.observations
    }

    /// The inputs, T x m, if given.
    #[must_use]
    pub fn inputs(&self) -> Option<MatRef<'a, f64>> {
        self.inputs
    }

    /// The time-varying matrices (no block given by default).
    #[must_use]
    pub fn time_varying(&self) -> TimeVarying<'a> {
        self.time_varying
    }
}

impl<'a> From<MatRef<'a, f64>> for Sequence<'a> {
    fn from(observations: MatRef<'a, f64>) -> Self {
        Self::new(observations)
    }
}

/// A sequence as the recursions see it.
pub(crate) struct Driven<'a> {
    /// The observations as given.
    pub y: MatRef<'a, f64>,
    /// `ũ_k = [u_k; 1]`, T x (m+1).
    pub inputs: Mat<f64>,
    /// `D̃ ũ_k`, T x p (`None` when D̃ = 0).
    pub offsets: Option<Mat<f64>>,
    /// `y_k − D̃ ũ_k` (`None` when D̃ = 0: then `y`).
    shifted: Option<Mat<f64>>,
    /// `B̃ ũ_k`, T x n (`None` when B̃ = 0).
    drift: Option<Mat<f64>>,
    /// The checked time-varying matrices and the parameters of every step
    /// (`None` without time-varying matrices).
    varying: Option<(StepMatrices, PerStep)>,
}

/// `c` unless every entry is zero (then the inputs add nothing: the
/// recursions skip the product).
pub(crate) fn nonzero(c: Mat<f64>) -> Option<Mat<f64>> {
    let any = (0..c.ncols()).any(|j| (0..c.nrows()).any(|i| c[(i, j)] != 0.0));
    any.then_some(c)
}

impl<'a> Driven<'a> {
    /// Checks the inputs and the time-varying matrices of sequence `index`
    /// against the model (the observations are checked by the caller) and
    /// forms the drift, the shifted observations and the parameters of
    /// every step.
    pub fn new(model: &LinearGaussianSsm, sequence: Sequence<'a>, index: usize) -> Result<Self> {
        let y = sequence.observations;
        let t = y.nrows();
        validate_inputs(index, t, model.input_dim(), sequence.inputs)?;
        let varying = StepMatrices::new(model, &sequence.time_varying, index, t)?.map(|matrices| {
            let models = matrices.padded(model, t);
            (matrices, models)
        });
        let inputs = augmented_inputs(sequence.inputs, t);
        let (b, d) = model.inputs_ref().augmented();
        let times = |coefficient: Mat<f64>| {
            nonzero(coefficient).map(|coefficient| known_parts(coefficient.as_ref(), inputs.as_ref()))
        };
        let drift = times(b);
        let offsets = times(d);
        let shifted = offsets
            .as_ref()
            .map(|e| Mat::from_fn(t, y.ncols(), |k, j| y[(k, j)] - e[(k, j)]));
        Ok(Self {
            y,
            inputs,
            offsets,
            shifted,
            drift,
            varying,
        })
    }

    /// The observations the recursions condition on: `y_k − D̃ ũ_k`.
    pub fn conditioned(&self) -> MatRef<'_, f64> {
        self.shifted.as_ref().map_or(self.y, |s| s.as_ref())
    }

    /// The drift `B̃ ũ_k` of every step (row 0 is not used: step 0 has no
    /// transition).
    pub fn drift(&self) -> Option<MatRef<'_, f64>> {
        self.drift.as_ref().map(|d| d.as_ref())
    }

    /// The checked time-varying matrices, if any.
    pub fn matrices(&self) -> Option<&StepMatrices> {
        self.varying.as_ref().map(|(matrices, _)| matrices)
    }

    /// The parameters of every step, if the matrices vary (taken out).
    pub fn take_models(&mut self) -> Option<PerStep> {
        self.varying.take().map(|(_, models)| models)
    }

    /// The forward pass over this sequence with the model's parameters `pm`
    /// (or this sequence's per-step ones, without steady state: see
    /// [`crate::time_varying`]), as sequence `sequence`.
    pub fn forward(
        &self,
        pm: &Padded,
        sequence: usize,
        tol: Option<f64>,
        store: ForwardStore,
    ) -> Result<Forward> {
        let (y, drift) = (self.conditioned(), self.drift());
        match &self.varying {
            None => forward(pm, y, drift, sequence, tol, store),
            Some((_, models)) => forward(models, y, drift, sequence, None, store),
        }
    }

    /// The backward pass over this sequence's forward pass `fwd` (see
    /// [`crate::kalman::backward`] for `visit_mask` and `visit`).
    pub fn backward(
        &self,
        pm: &Padded,
        fwd: &Forward,
        sequence: usize,
        tol: Option<f64>,
        store_covs: bool,
        visit_mask: &[bool],
        visit: impl FnMut(usize, &[f64], &[f64], Option<&[f64]>) -> Result<()>,
    ) -> Result<Backward> {
        match &self.varying {
            None => backward(pm, fwd, sequence, tol, store_covs, visit_mask, visit),
            Some((_, models)) => backward(models, fwd, sequence, None, store_covs, visit_mask, visit),
        }
    }
}
