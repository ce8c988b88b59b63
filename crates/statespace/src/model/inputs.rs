//! The input part of the model: `B`, `D` and the offsets `b`, `d` of
//!
//! ```text
//! x_k = A x_{k-1} + B u_k + b + w_k,   y_k = H x_k + D u_k + d + v_k
//! ```
//!
//! The offsets are the coefficients of a constant input 1: with the
//! augmented input `ũ_k = [u_k; 1]` and the augmented coefficients
//! `B̃ = [B b]`, `D̃ = [D d]` the inputs add the known drift `B̃ ũ_k` to the
//! predicted state and `D̃ ũ_k` to the predicted observation. The
//! recursions, the sampler and the M-step use that one form.

use faer::{Mat, MatRef, RowRef};

use super::LinearGaussianSsm;
use super::validate::{check_finite, check_shape};
use crate::error::{Matrix, Result, StateSpaceError};
use crate::param::InputParam;

/// The input blocks of a [`LinearGaussianSsm`], by name (validated by
/// [`LinearGaussianSsm::with_inputs`]).
#[derive(Debug, Clone, PartialEq)]
pub struct InputParameters {
    /// Input matrix B of the transition (n x m).
    pub b: Mat<f64>,
    /// Input matrix D of the observation (p x m).
    pub d: Mat<f64>,
    /// Transition offset b (n).
    pub transition_offset: Vec<f64>,
    /// Observation offset d (p).
    pub observation_offset: Vec<f64>,
}

impl InputParameters {
    /// No inputs and zero offsets for state dimension n and observation
    /// dimension p, with m input columns (all coefficients zero).
    #[must_use]
    pub fn zeros(n: usize, p: usize, m: usize) -> Self {
        Self {
            b: Mat::zeros(n, m),
            d: Mat::zeros(p, m),
            transition_offset: vec![0.0; n],
            observation_offset: vec![0.0; p],
        }
    }

    /// Input dimension m.
    #[must_use]
    pub fn input_dim(&self) -> usize {
        self.b.ncols()
    }

    /// Checks the shapes against n and p (m is read from B) and that every
    /// entry is finite.
    pub(crate) fn validate(&self, n: usize, p: usize) -> Result<()> {
        let m = self.input_dim();
        check_shape(Matrix::Input(InputParam::B), self.b.as_ref(), n, m)?;
        check_shape(Matrix::Input(InputParam::D), self.d.as_ref(), p, m)?;
        let offsets = [
            (InputParam::TransitionOffset, &self.transition_offset, n),
            (InputParam::ObservationOffset, &self.observation_offset, p),
        ];
        for (which, offset, len) in offsets {
            let column = MatRef::from_column_major_slice(offset, offset.len(), 1);
            check_shape(Matrix::Input(which), column, len, 1)?;
            check_finite(Matrix::Input(which), column)?;
        }
        check_finite(Matrix::Input(InputParam::B), self.b.as_ref())?;
        check_finite(Matrix::Input(InputParam::D), self.d.as_ref())
    }

    /// `[B b]` (n x (m+1)) and `[D d]` (p x (m+1)): the coefficients of the
    /// augmented input `[u; 1]`.
    pub(crate) fn augmented(&self) -> (Mat<f64>, Mat<f64>) {
        let join = |coefficient: &Mat<f64>, offset: &[f64]| {
            let m = coefficient.ncols();
            Mat::from_fn(coefficient.nrows(), m + 1, |i, j| {
                if j < m { coefficient[(i, j)] } else { offset[i] }
            })
        };
        (
            join(&self.b, &self.transition_offset),
            join(&self.d, &self.observation_offset),
        )
    }

    /// The blocks from augmented coefficients `[B b]`, `[D d]` (the inverse
    /// of [`Self::augmented`]).
    pub(crate) fn from_augmented(b: MatRef<'_, f64>, d: MatRef<'_, f64>) -> Self {
        let m = b.ncols() - 1;
        Self {
            b: b.subcols(0, m).to_owned(),
            d: d.subcols(0, m).to_owned(),
            transition_offset: (0..b.nrows()).map(|i| b[(i, m)]).collect(),
            observation_offset: (0..d.nrows()).map(|i| d[(i, m)]).collect(),
        }
    }
}

impl LinearGaussianSsm {
    /// The same model with these inputs and offsets (replacing any it had).
    ///
    /// # Errors
    /// [`StateSpaceError::Shape`] naming the block ([`Matrix::Input`]) when
    /// B is not n x m, D not p x m (m is the number of columns of B) or an
    /// offset has the wrong length; [`StateSpaceError::NonFiniteParameter`]
    /// for a NaN or infinite entry.
    pub fn with_inputs(mut self, inputs: InputParameters) -> Result<Self> {
        inputs.validate(self.state_dim(), self.obs_dim())?;
        self.inputs = Box::new(inputs);
        Ok(self)
    }

    /// Input dimension m (0 without inputs; offsets need none).
    #[must_use]
    pub fn input_dim(&self) -> usize {
        self.inputs.input_dim()
    }

    /// Input matrix `B` (n x m).
    #[must_use]
    pub fn b(&self) -> MatRef<'_, f64> {
        self.inputs.b.as_ref()
    }

    /// Input matrix `D` (p x m).
    #[must_use]
    pub fn d(&self) -> MatRef<'_, f64> {
        self.inputs.d.as_ref()
    }

    /// Transition offset `b` (n).
    #[must_use]
    pub fn transition_offset(&self) -> &[f64] {
        &self.inputs.transition_offset
    }

    /// Observation offset `d` (p).
    #[must_use]
    pub fn observation_offset(&self) -> &[f64] {
        &self.inputs.observation_offset
    }

    /// A copy of the input blocks, by name.
    #[must_use]
    pub fn input_parameters(&self) -> InputParameters {
        InputParameters::clone(&self.inputs)
    }

    /// True when the model has inputs or a non-zero offset: the recursions
    /// then add the drift of the inputs.
    #[must_use]
    pub fn has_inputs(&self) -> bool {
        self.input_dim() > 0
            || self.inputs.transition_offset.iter().any(|&v| v != 0.0)
            || self.inputs.observation_offset.iter().any(|&v| v != 0.0)
    }

    pub(crate) fn inputs_ref(&self) -> &InputParameters {
        &self.inputs
    }
}

/// Checks that `u` gives the `m` inputs of each of the `steps` steps of
/// sequence `sequence` (finite values); `None` is right only for m = 0.
pub(crate) fn validate_inputs(
    sequence: usize,
    steps: usize,
    m: usize,
    u: Option<MatRef<'_, f64>>,
) -> Result<()> {
    let Some(u) = u else {
        return if m == 0 {
            Ok(())
        } else {
            Err(StateSpaceError::MissingInputs {
                sequence,
                expected: m,
            })
        };
    };
    if u.ncols() != m {
        return Err(StateSpaceError::InputDimension {
            sequence,
            expected: m,
            found: u.ncols(),
        });
    }
    if u.nrows() != steps {
        return Err(StateSpaceError::InputSteps {
            sequence,
            steps,
            found: u.nrows(),
        });
    }
    for step in 0..steps {
        for input in 0..m {
            let value = u[(step, input)];
            if !value.is_finite() {
                return Err(StateSpaceError::NonFiniteInput {
                    sequence,
                    step,
                    input,
                    value,
                });
            }
        }
    }
    Ok(())
}

/// The known part `C ũ` of one step into `out`: `out_i = Σ_j C_ij ũ_j`, for
/// the augmented coefficients `C` (`[B b]`: the drift of the inputs, or
/// `[D d]`: the known part of the observation) and the step's augmented
/// inputs `ũ = [u; 1]`. The one place that forms it (the batch recursions,
/// the streaming filter and forecasts), so all three add the same values.
pub(crate) fn known_part(coefficients: MatRef<'_, f64>, u: RowRef<'_, f64>, out: &mut [f64]) {
    for (i, o) in out.iter_mut().enumerate() {
        *o = (0..u.ncols()).map(|j| coefficients[(i, j)] * u[j]).sum();
    }
}

/// The known parts `C ũ_k` ([`known_part`]) of every step, one row per
/// step, for the augmented inputs `inputs` (T x (m+1)).
pub(crate) fn known_parts(coefficients: MatRef<'_, f64>, inputs: MatRef<'_, f64>) -> Mat<f64> {
    let mut row = vec![0.0; coefficients.nrows()];
    let mut out = Mat::zeros(inputs.nrows(), coefficients.nrows());
    for k in 0..inputs.nrows() {
        known_part(coefficients, inputs.row(k), &mut row);
        for (i, &v) in row.iter().enumerate() {
            out[(k, i)] = v;
        }
    }
    out
}

/// The augmented inputs `ũ_k = [u_k; 1]` of `steps` steps, one row per step
/// (T x (m+1)).
pub(crate) fn augmented_inputs(u: Option<MatRef<'_, f64>>, steps: usize) -> Mat<f64> {
    let m = u.map_or(0, |u| u.ncols());
    Mat::from_fn(steps, m + 1, |k, j| match u {
        Some(u) if j < m => u[(k, j)],
        _ => 1.0,
    })
}
