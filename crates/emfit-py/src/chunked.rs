//! Fits whose E-steps run elsewhere: what the Python package's Dask driver
//! (`emfit._dask`) is made of.
//!
//! ```text
//! client: em-core's loop (Rust)                  workers (Dask tasks)
//!   e_step(θ) -> Callback calls e_steps(θ) ---->   chunk c: (ℓ_c, S_c) = E-step of θ on chunk c
//!                                                    (gmm_chunk_e_step / hmm_chunk_e_step, no GIL)
//!                                                  pairwise tree in chunk order: merge_e_steps
//!   (ℓ, S) = EStep::from_flat(flat)  <---------    the reduced flat statistics
//!   M-step, convergence, SQUAREM, report: on the client, as for data in memory
//! ```
//!
//! The chunk functions take the model in its compact form (the parameter
//! arrays of the `mixture` and `hmm` modules) and return the E-step as its
//! flat statistics ([`EStep::to_flat`], a 1-D float64 array: the
//! log-likelihood first), so only parameters and statistics cross the
//! network, never the data. [`Callback`] is the loop's [`Executor`]: it
//! calls a Python callable with the model's parameters, which maps the
//! chunk E-steps over the workers and reduces them, and reads the result
//! back ([`EStep::from_flat`]).
//!
//! Initialisation: the model's own initialisation on a seeded sample of
//! rows drawn across the chunks ([`em_core::sample`]: `sample_candidates`
//! per chunk, `merge_sample_candidates` in the tree, `sample_rows` at the
//! end), the same sample for the same seed and data whatever the chunking.

use crate::array::{rows, to_array2};
use crate::error::{OrValueError, value_error};
use em_core::sample::Candidates;
use em_core::{EStep, EmModel, Executor, FlatStats, PartError};
use mixture::{SufficientStats, WeightedMixture, WeightedRows};
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::{Mutex, PoisonError};

/// Registers the chunk functions.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(gmm_chunk_e_step, m)?)?;
    m.add_function(wrap_pyfunction!(hmm_chunk_e_step, m)?)?;
    m.add_function(wrap_pyfunction!(merge_e_steps, m)?)?;
    m.add_function(wrap_pyfunction!(sample_candidates, m)?)?;
    m.add_function(wrap_pyfunction!(merge_sample_candidates, m)?)?;
    m.add_function(wrap_pyfunction!(sample_rows, m)?)?;
    Ok(())
}

/// The E-step of a chunk: its flat form as an array, or the log-likelihood
/// alone (a float) when `log_likelihood_only`.
fn chunk_result<S: FlatStats>(
    py: Python<'_>,
    log_likelihood_only: bool,
    log_likelihood: impl FnOnce() -> Result<f64, String> + Send,
    e_step: impl FnOnce() -> Result<EStep<S>, String> + Send,
) -> PyResult<Py<PyAny>> {
    if log_likelihood_only {
        let ll = py.detach(log_likelihood).map_err(value_error)?;
        Ok(ll.into_pyobject(py)?.into_any().unbind())
    } else {
        let flat = py.detach(|| e_step().map(|e| e.to_flat())).map_err(value_error)?;
        Ok(flat.into_pyarray(py).into_any().unbind())
    }
}

/// The E-step of a mixture (`weights`, `means`, `covariances`,
/// `covariance_type`, as `gmm_fit` returns them) on one chunk `x` (n, d):
/// `[ℓ, statistics...]` as a 1-D array ([`EStep::to_flat`]), or `ℓ` alone
/// with `log_likelihood_only`. Runs without the GIL; a bad value is a
/// `ValueError` naming its row and column in the chunk (from 1).
#[pyfunction]
fn gmm_chunk_e_step(
    py: Python<'_>,
    x: PyReadonlyArray2<'_, f64>,
    weights: PyReadonlyArray1<'_, f64>,
    means: PyReadonlyArray2<'_, f64>,
    covariances: Bound<'_, PyAny>,
    covariance_type: &str,
    log_likelihood_only: bool,
) -> PyResult<Py<PyAny>> {
    let model = WeightedMixture(crate::mixture::model(
        weights,
        means,
        &covariances,
        covariance_type,
        false,
    )?);
    let data = WeightedRows::new(rows(&x)?, None).or_value_error()?;
    chunk_result(
        py,
        log_likelihood_only,
        || model.log_likelihood(data).map_err(|e| e.to_string()),
        || model.e_step(data).map_err(|e| e.to_string()),
    )
}

/// The E-step of an HMM (`family`, `covariance_type`, `n_mix` and the
/// parameter dict `params` of the `hmm` module) on one chunk: the whole
/// sequences of `x` cut by `lengths`. As [`gmm_chunk_e_step`]; errors name
/// the sequence and row in the chunk (from 1).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn hmm_chunk_e_step(
    py: Python<'_>,
    family: &str,
    covariance_type: &str,
    n_mix: usize,
    params: Bound<'_, PyDict>,
    x: PyReadonlyArray2<'_, f64>,
    lengths: Vec<usize>,
    log_likelihood_only: bool,
) -> PyResult<Py<PyAny>> {
    let spec = crate::hmm::spec(covariance_type, n_mix)?;
    let data = crate::hmm::sequences(&x, &lengths)?;
    crate::hmm::with_emission!(family, E => {
        let model = crate::hmm::model::<E>(spec, &params)?;
        chunk_result(
            py,
            log_likelihood_only,
            || model.log_likelihood(&data).map_err(|e| e.to_string()),
            || model.e_step(&data).map_err(|e| e.to_string()),
        )
    })
}

/// `a` merged with `b` ([`EStep::merge`]: `a` first), both in the flat
/// form of the chunk E-steps of `kind`: `"gmm"` or `"hmm-FAMILY"` (FAMILY
/// one of `gaussian`, `gmm`, `categorical`, `poisson`).
#[pyfunction]
fn merge_e_steps<'py>(
    py: Python<'py>,
    kind: &str,
    a: PyReadonlyArray1<'py, f64>,
    b: PyReadonlyArray1<'py, f64>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let (a, b) = (a.as_slice()?, b.as_slice()?);
    let merged = match kind.strip_prefix("hmm-") {
        None if kind == "gmm" => merge_flat::<SufficientStats>(a, b),
        None => Err(format!(
            "the kind of statistics must be 'gmm' or 'hmm-FAMILY', got {kind:?}"
        )),
        Some(family) => crate::hmm::with_emission!(family, E => {
            Ok(merge_flat::<<::hmm::Hmm<E> as EmModel>::Stats>(a, b))
        })?,
    }
    .map_err(value_error)?;
    Ok(merged.into_pyarray(py))
}

/// Two flat E-steps of statistics `S` merged, in flat form.
fn merge_flat<S: FlatStats>(a: &[f64], b: &[f64]) -> Result<Vec<f64>, String> {
    let read = |flat: &[f64]| EStep::<S>::from_flat(flat).map_err(|e| e.to_string());
    let (mut a, b) = (read(a)?, read(b)?);
    a.checked_merge(&b).map_err(|e| e.to_string())?;
    Ok(a.to_flat())
}

/// Candidates of a seeded sample as they cross to Python: `(width, keys,
/// rows, values)`, the keys and rows as `uint64` arrays, the values of the
/// rows one after another.
type PyCandidates<'py> = (usize, Vec<u64>, Vec<u64>, Bound<'py, PyArray1<f64>>);

/// Candidates from their Python form.
fn candidates(c: (usize, Vec<u64>, Vec<u64>, PyReadonlyArray1<'_, f64>)) -> PyResult<Candidates> {
    let (width, keys, rows, values) = c;
    Candidates::from_parts(width, keys, rows, values.as_slice()?.to_vec())
        .ok_or_else(|| value_error("sample candidates whose lengths or order disagree"))
}

/// Candidates in their Python form.
fn to_python(py: Python<'_>, c: Candidates) -> PyCandidates<'_> {
    let values = c.values().to_vec().into_pyarray(py);
    (c.width(), c.keys().to_vec(), c.rows().to_vec(), values)
}

/// The `size` rows of smallest key of a chunk `x` whose first row is row
/// `first_row` of the whole data (see [`em_core::sample`]); a non-finite
/// value is a `ValueError` naming its row and column in the chunk (from 1).
#[pyfunction]
fn sample_candidates<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f64>,
    first_row: u64,
    size: usize,
    seed: u64,
) -> PyResult<PyCandidates<'py>> {
    let x = rows(&x)?;
    let (n, d) = (x.nrows(), x.ncols());
    let found = py.detach(|| {
        (0..n)
            .flat_map(|i| (0..d).map(move |j| (i, j)))
            .find(|&(i, j)| !x[(i, j)].is_finite())
            .map(|(i, j)| (i, j, x[(i, j)]))
    });
    if let Some((i, j, v)) = found {
        return Err(value_error(format!(
            "data value at row {}, column {} is not finite ({v})",
            i + 1,
            j + 1
        )));
    }
    let c = py.detach(|| Candidates::of_part(n, d, |i, j| x[(i, j)], first_row, size, seed));
    Ok(to_python(py, c))
}

/// The `size` smallest candidates of `a` and `b`; a `ValueError` when
/// their rows have different widths.
#[pyfunction]
fn merge_sample_candidates<'py>(
    py: Python<'py>,
    a: (usize, Vec<u64>, Vec<u64>, PyReadonlyArray1<'py, f64>),
    b: (usize, Vec<u64>, Vec<u64>, PyReadonlyArray1<'py, f64>),
    size: usize,
) -> PyResult<PyCandidates<'py>> {
    let merged = candidates(a)?.merge(&candidates(b)?, size).or_value_error()?;
    Ok(to_python(py, merged))
}

/// The sample of the candidates `c`: their rows in data order, (n, d).
#[pyfunction]
fn sample_rows<'py>(
    py: Python<'py>,
    c: (usize, Vec<u64>, Vec<u64>, PyReadonlyArray1<'py, f64>),
) -> PyResult<Bound<'py, PyAny>> {
    let c = candidates(c)?;
    let d = c.width();
    let (n, values) = c.into_rows();
    let m = mixture::faer::Mat::from_fn(n, d, |i, j| values[i * d + j]);
    Ok(to_array2(py, m.as_ref()).into_any())
}

/// The loop's [`Executor`] over a Python callable `e_steps(parameters,
/// log_likelihood_only)` that returns the E-step of the model `parameters`
/// on all the data, reduced (a flat array), or its log-likelihood alone (a
/// float); `arguments` turns a model into `parameters`. The model
/// initialises on `sample` (the model's own initialisation).
///
/// A chunk's error is an exception with an attribute `chunk` (its index):
/// it becomes [`PartError::Remote`] naming that part, so the fit fails
/// with a `ValueError` saying the iteration, the chunk and the model's
/// message. Any other exception (an interrupt, a lost cluster) stops the
/// fit and is raised as it is ([`Callback::reraise`]).
pub(crate) struct Callback<'d, M: EmModel, F> {
    e_steps: Py<PyAny>,
    arguments: F,
    sample: M::Data<'d>,
    raised: Mutex<Option<PyErr>>,
}

impl<'d, M: EmModel, F> Callback<'d, M, F>
where
    F: Fn(Python<'_>, &M) -> PyResult<Py<PyAny>> + Sync,
{
    /// An executor calling `e_steps`, initialising on `sample`.
    pub(crate) fn new(e_steps: Py<PyAny>, arguments: F, sample: M::Data<'d>) -> Self {
        Self {
            e_steps,
            arguments,
            sample,
            raised: Mutex::new(None),
        }
    }

    /// The exception that stopped the fit, if any: raise it instead of
    /// the fit's error.
    pub(crate) fn reraise(&self) -> PyResult<()> {
        match self.raised.lock().unwrap_or_else(PoisonError::into_inner).take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// `e_steps(arguments(model), log_likelihood_only)`, read by `read`.
    fn call<T>(
        &self,
        model: &M,
        log_likelihood_only: bool,
        read: impl FnOnce(&Bound<'_, PyAny>) -> Result<T, String>,
    ) -> Result<T, PartError<M::Error>> {
        Python::attach(|py| {
            let result = (self.arguments)(py, model)
                .and_then(|args| self.e_steps.bind(py).call1((args, log_likelihood_only)));
            match result {
                Ok(value) => read(&value).map_err(|message| PartError::Remote { part: 0, message }),
                Err(e) => {
                    let message = e.value(py).to_string();
                    let chunk = e.value(py).getattr("chunk").and_then(|c| c.extract::<usize>());
                    if let Ok(part) = chunk {
                        return Err(PartError::Remote { part, message });
                    }
                    let mut raised = self.raised.lock().unwrap_or_else(PoisonError::into_inner);
                    raised.get_or_insert(e);
                    Err(PartError::Remote { part: 0, message })
                }
            }
        })
    }
}

impl<M: EmModel, F> Executor<M> for Callback<'_, M, F>
where
    M::Stats: FlatStats,
    F: Fn(Python<'_>, &M) -> PyResult<Py<PyAny>> + Sync,
{
    fn e_step(&self, model: &M) -> Result<EStep<M::Stats>, PartError<M::Error>> {
        self.call(model, false, |value| {
            let flat = value
                .extract::<PyReadonlyArray1<'_, f64>>()
                .map_err(|e| format!("the reduced E-step is not a float64 array: {e}"))?;
            let flat = flat.as_slice().map_err(|e| e.to_string())?;
            EStep::from_flat(flat).map_err(|e| format!("the reduced E-step: {e}"))
        })
    }

    fn log_likelihood(&self, model: &M) -> Result<f64, PartError<M::Error>> {
        self.call(model, true, |value| {
            value
                .extract::<f64>()
                .map_err(|e| format!("the reduced log-likelihood is not a float: {e}"))
        })
    }

    fn init_from_data(
        &self,
        config: &M::InitConfig,
        rng: &mut rand::rngs::StdRng,
    ) -> Option<Result<M, M::Error>> {
        Some(M::init_from_data(self.sample, config, rng))
    }

    /// The E-steps go through one Python callable, one at a time.
    fn parallel_restarts(&self) -> bool {
        false
    }
}
