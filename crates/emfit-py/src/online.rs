//! Online (stepwise) EM: the functions behind the `partial_fit` of
//! `emfit.mixture.GaussianMixture` and of the HMMs of `emfit.hmm`.
//!
//! Stateless like the rest of the extension: each call takes the model's
//! parameters (as the other functions of its family do) and the online
//! state saved by the call before (`None` for the first chunk), runs one
//! [`StepwiseEm::partial_fit`] on the chunk and returns the new parameters
//! and the new state, a float64 array in `em_core::online`'s versioned
//! flat form. The Python layer keeps both on the estimator, so pickling it
//! saves the stream's state and an unpickled estimator goes on as the
//! uninterrupted one would, bit for bit. A refused chunk (its width, a NaN
//! naming its row and column, a model error) is a `ValueError` and nothing
//! is returned, so the estimator keeps what it had.

use crate::array::rows;
use crate::error::{OrValueError, value_error};
use crate::hmm::{export, m_step_options, model as hmm_model, sequences, spec, with_emission};
use crate::mixture::{Parameters, model as gmm_model, parameters};
use em_core::online::{ScaleStats, Schedule, StepwiseEm};
use em_core::{EmModel, OnlineStep};
use mixture::MStepOptions;
use numpy::{IntoPyArray, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Registers the online functions.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(gmm_partial_fit, m)?)?;
    m.add_function(wrap_pyfunction!(hmm_partial_fit, m)?)?;
    Ok(())
}

/// Online EM from `model` and the saved `state` (`None`: a new stream with
/// the schedule of `learning_decay` and `learning_offset`). A saved state
/// keeps its schedule: one the arguments no longer match is refused, so a
/// changed `learning_*` argument is not silently ignored mid-stream.
fn resume<M>(
    model: M,
    state: Option<PyReadonlyArray1<'_, f64>>,
    learning_decay: f64,
    learning_offset: f64,
) -> PyResult<StepwiseEm<M>>
where
    M: EmModel,
    M::Stats: ScaleStats,
{
    let schedule = Schedule::new(learning_decay, learning_offset).or_value_error()?;
    let Some(state) = state else {
        return Ok(StepwiseEm::new(model, schedule));
    };
    let online = StepwiseEm::resume(model, state.as_slice()?)
        .map_err(|e| value_error(format!("the saved online state is not valid: {e}")))?;
    if online.schedule() != schedule {
        let saved = online.schedule();
        return Err(value_error(format!(
            "learning_decay={learning_decay} and learning_offset={learning_offset} differ from the \
             stream's ({} and {}): a schedule cannot change within a stream (fit again, or start a \
             new estimator)",
            saved.decay(),
            saved.offset()
        )));
    }
    Ok(online)
}

/// What a step reports, as a dict: `log_likelihood` of the chunk under the
/// model before the step, the chunk's `observations`, the `step` ρ it was
/// given, and the stream's totals `observations_seen` and `chunks_seen`.
fn report<'py, M>(
    py: Python<'py>,
    online: &StepwiseEm<M>,
    step: &OnlineStep<M::Diagnostics>,
) -> PyResult<Bound<'py, PyDict>>
where
    M: EmModel,
    M::Stats: ScaleStats,
{
    let d = PyDict::new(py);
    d.set_item("log_likelihood", step.log_likelihood)?;
    d.set_item("observations", step.observations)?;
    d.set_item("step", step.step)?;
    d.set_item("observations_seen", online.observations())?;
    d.set_item("chunks_seen", online.chunks())?;
    Ok(d)
}

/// One step of online EM of a Gaussian mixture on the chunk `x` (n, d):
/// `(weights, means, covariances, state, report)`. The mixture is given as
/// to the other `gmm_*` functions, `reg_covar` as to `gmm_fit`.
#[pyfunction]
#[pyo3(signature = (x, weights, means, covariances, covariance_type, reg_covar, state, learning_decay, learning_offset))]
fn gmm_partial_fit<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f64>,
    weights: PyReadonlyArray1<'py, f64>,
    means: PyReadonlyArray2<'py, f64>,
    covariances: Bound<'py, PyAny>,
    covariance_type: &str,
    reg_covar: f64,
    state: Option<PyReadonlyArray1<'py, f64>>,
    learning_decay: f64,
    learning_offset: f64,
) -> PyResult<(Parameters<'py>, Bound<'py, PyAny>, Bound<'py, PyDict>)> {
    let model = gmm_model(weights, means, &covariances, covariance_type, false)?;
    if !(reg_covar >= 0.0 && reg_covar.is_finite()) {
        return Err(value_error(format!(
            "reg_covar must be finite and >= 0, got {reg_covar}"
        )));
    }
    let options = MStepOptions::default().with_reg_covar(reg_covar);
    let mut online = resume(model, state, learning_decay, learning_offset)?;
    let x = rows(&x)?;
    let step = py.detach(|| online.partial_fit(x, &options)).or_value_error()?;
    let report = report(py, &online, &step)?;
    Ok((
        parameters(py, online.model()),
        online.save().into_pyarray(py).into_any(),
        report,
    ))
}

/// One step of online EM of an HMM of the emission `family` on the
/// sequences of `x` (n, d) cut by `lengths`: `(parameters, state, report)`.
/// The model is the parameter dict of the other `hmm_*` functions;
/// `params`, `priors` and `reg_covar` are `hmm_fit`'s. The M-step weighs
/// the priors against the observations seen so far, as a batch fit of
/// them would (see `em_core::online`).
#[pyfunction]
#[pyo3(signature = (family, covariance_type, n_mix, model, x, lengths, params, priors, reg_covar, state, learning_decay, learning_offset))]
fn hmm_partial_fit<'py>(
    py: Python<'py>,
    family: &str,
    covariance_type: &str,
    n_mix: usize,
    model: Bound<'py, PyDict>,
    x: PyReadonlyArray2<'py, f64>,
    lengths: Vec<usize>,
    params: &str,
    priors: Bound<'py, PyDict>,
    reg_covar: Option<f64>,
    state: Option<PyReadonlyArray1<'py, f64>>,
    learning_decay: f64,
    learning_offset: f64,
) -> PyResult<(Bound<'py, PyDict>, Bound<'py, PyAny>, Bound<'py, PyDict>)> {
    let spec = spec(covariance_type, n_mix)?;
    let options = m_step_options(family, spec, params, &priors, reg_covar)?;
    let data = sequences(&x, &lengths)?;
    with_emission!(family, E => {
        let mut online = resume(hmm_model::<E>(spec, &model)?, state, learning_decay, learning_offset)?;
        let step = py.detach(|| online.partial_fit(&data, &options)).or_value_error()?;
        let report = report(py, &online, &step)?;
        Ok((export(py, online.model())?, online.save().into_pyarray(py).into_any(), report))
    })
}
