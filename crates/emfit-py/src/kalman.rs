//! Linear Gaussian state-space models: the functions behind
//! `emfit.kalman.KalmanFilter`.
//!
//! A model crosses the boundary as its six arrays in pykalman's shapes:
//! `a` (n, n) the transition matrix, `q` (n, n) its covariance, `h` (p, n)
//! the observation matrix, `r` (p, p) its covariance, `m0` (n,) and `p0`
//! (n, n) the initial state's mean and covariance:
//!
//! ```text
//! x_0 ~ N(m0, P0),  x_t = A x_{t-1} + w_t,  w_t ~ N(0, Q)
//! y_t = H x_t + v_t,  v_t ~ N(0, R)
//! ```
//!
//! Observations `y` are (T, p) with NaN for a missing value. pykalman's
//! offsets `b_t`, `d_t` (`x_t = A x_{t-1} + b_{t-1} + w_t`,
//! `y_t = H x_t + d_t + v_t`) cross as two more arrays where they are
//! parameters of the Rust model (constant offsets, [`kalman_em`]);
//! elsewhere, and when they vary in time, the Python layer removes them
//! exactly with the deterministic path of [`kalman_shift`].
//!
//! pykalman's time-varying (3-D) matrices cross as [`StepArrays`]: `A_t`,
//! `Q_t` for the T − 1 transitions (entry i maps `x_i` to `x_{i+1}`), `H_t`,
//! `R_t` for the T observations, each optional (the model's at every step
//! when not given), exactly as many as the data need (the Python layer cuts
//! pykalman's longer arrays). They are the statespace crate's
//! [`TimeVarying`] matrices of the one sequence.

use crate::array::{rows, to_array2};
use crate::error::{OrValueError, value_error};
use crate::fit;
use em_core::FitError;
use numpy::ndarray::Array3;
use numpy::{IntoPyArray, PyReadonlyArray1, PyReadonlyArray2, PyReadonlyArray3, PyUntypedArrayMethods};
use pyo3::exceptions::PyNotImplementedError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rand::SeedableRng;
use rand::rngs::StdRng;
use statespace::em::WithInputs;
use statespace::faer::{Mat, MatRef};
use statespace::{
    CovStructure, InputLearnSet, InputParam, InputParameters, LearnSet, LinearGaussianSsm, MStepOptions,
    Matrix, Param, Parameters, Sequence, Start, StateSpaceError, TimeVarying,
};

/// Registers the state-space functions.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(kalman_filter, m)?)?;
    m.add_function(wrap_pyfunction!(kalman_smooth, m)?)?;
    m.add_function(wrap_pyfunction!(kalman_loglikelihood, m)?)?;
    m.add_function(wrap_pyfunction!(kalman_em, m)?)?;
    m.add_function(wrap_pyfunction!(kalman_sample, m)?)?;
    m.add_function(wrap_pyfunction!(kalman_shift, m)?)?;
    Ok(())
}

/// pykalman's name of a parameter block (the input matrices B and D have
/// none: pykalman has no inputs).
fn pykalman_name(matrix: Matrix) -> Option<&'static str> {
    Some(match matrix {
        Matrix::Param(Param::A) => "transition_matrices",
        Matrix::Param(Param::Q) => "transition_covariance",
        Matrix::Param(Param::H) => "observation_matrices",
        Matrix::Param(Param::R) => "observation_covariance",
        Matrix::Param(Param::M0) => "initial_state_mean",
        Matrix::Param(Param::P0) => "initial_state_covariance",
        Matrix::Input(InputParam::TransitionOffset) => "transition_offsets",
        Matrix::Input(InputParam::ObservationOffset) => "observation_offsets",
        _ => return None,
    })
}

/// A `ValueError` for an error of the Rust side, prefixed with pykalman's
/// name of the parameter it is about, if any; for a bad time-varying
/// matrix, with the index of the matrix in pykalman's 3-D array (entry
/// t − 1 of `transition_*` acts at the transition into step t, entry t of
/// `observation_*` at step t; steps 0-based as the rows of the data).
fn model_error(e: StateSpaceError) -> PyErr {
    if let StateSpaceError::TimeVaryingMatrix { step, error, .. } = &e
        && let Some(matrix) = error_matrix(error)
        && let Some(name) = pykalman_name(matrix)
    {
        let at = if matches!(matrix, Matrix::Param(Param::A | Param::Q)) {
            format!("{}] (the transition into step {step})", step.saturating_sub(1))
        } else {
            format!("{step}] (step {step})")
        };
        return value_error(format!("{name}[{at}: {error}"));
    }
    match error_matrix(&e).and_then(pykalman_name) {
        Some(name) => value_error(format!("{name}: {e}")),
        None => value_error(e),
    }
}

/// The parameter block a check of the model's parameters failed on.
fn error_matrix(e: &StateSpaceError) -> Option<Matrix> {
    match e {
        StateSpaceError::Shape { matrix, .. }
        | StateSpaceError::NonFiniteParameter { matrix, .. }
        | StateSpaceError::NotSymmetric { matrix, .. }
        | StateSpaceError::NotPositiveDefinite { matrix, .. }
        | StateSpaceError::ZeroDimension { matrix } => Some(*matrix),
        _ => None,
    }
}

/// An error of EM about its time-varying matrices, with pykalman's names:
/// a `NotImplementedError` for EM asked to learn a block that is
/// time-varying, or whose M-step regression has a time-varying covariance
/// (pykalman learns them, emfit's exact M-step does not); a bad matrix as
/// [`model_error`]; `None` for any other error (reported with its
/// iteration).
fn time_varying_error(e: &StateSpaceError) -> Option<PyErr> {
    let name = |matrix: Matrix| pykalman_name(matrix).unwrap_or_else(|| matrix.name());
    let message = match e {
        StateSpaceError::TimeVaryingMatrix { .. } => return Some(model_error(e.clone())),
        StateSpaceError::TimeVaryingLearned { matrix } => {
            format!(
                "em_vars has {}, which is time-varying (a 3-D array): {e}",
                name((*matrix).into())
            )
        }
        StateSpaceError::TimeVaryingCombination { learned, varying } => format!(
            "em_vars has {} while {} is time-varying (a 3-D array): {e}",
            name(*learned),
            name((*varying).into())
        ),
        _ => return None,
    };
    Some(PyNotImplementedError::new_err(message))
}

/// The six parameters `(a, q, h, r, m0, p0)` as arrays.
type ModelArrays<'py> = (
    PyReadonlyArray2<'py, f64>,
    PyReadonlyArray2<'py, f64>,
    PyReadonlyArray2<'py, f64>,
    PyReadonlyArray2<'py, f64>,
    PyReadonlyArray1<'py, f64>,
    PyReadonlyArray2<'py, f64>,
);

/// pykalman's time-varying matrices `(a (T-1, n, n), q (T-1, n, n),
/// h (T, p, n), r (T, p, p))`, each optional, C-contiguous.
type StepArrays<'py> = (
    Option<PyReadonlyArray3<'py, f64>>,
    Option<PyReadonlyArray3<'py, f64>>,
    Option<PyReadonlyArray3<'py, f64>>,
    Option<PyReadonlyArray3<'py, f64>>,
);

/// The matrices of [`StepArrays`] as views, one per step (no copy).
struct StepViews<'a> {
    a: Option<Vec<MatRef<'a, f64>>>,
    q: Option<Vec<MatRef<'a, f64>>>,
    h: Option<Vec<MatRef<'a, f64>>>,
    r: Option<Vec<MatRef<'a, f64>>>,
}

impl<'a> StepViews<'a> {
    /// The views of `arrays` (the Rust side checks them: count, shapes,
    /// finiteness, symmetric positive definite covariances).
    fn new(arrays: &'a StepArrays<'_>) -> PyResult<Self> {
        let views = |array: &'a Option<PyReadonlyArray3<'_, f64>>| -> PyResult<Option<Vec<MatRef<'a, f64>>>> {
            let Some(array) = array else {
                return Ok(None);
            };
            let [steps, r, c] = [array.shape()[0], array.shape()[1], array.shape()[2]];
            let slice = array.as_slice()?;
            Ok(Some(
                (0..steps)
                    .map(|k| MatRef::from_row_major_slice(&slice[k * r * c..(k + 1) * r * c], r, c))
                    .collect(),
            ))
        };
        Ok(Self {
            a: views(&arrays.0)?,
            q: views(&arrays.1)?,
            h: views(&arrays.2)?,
            r: views(&arrays.3)?,
        })
    }

    /// The statespace crate's time-varying matrices of one sequence.
    fn matrices(&self) -> TimeVarying<'_> {
        TimeVarying {
            a: self.a.as_deref(),
            q: self.q.as_deref(),
            h: self.h.as_deref(),
            r: self.r.as_deref(),
        }
    }
}

/// The model of the six arrays, validated by the Rust side (shapes,
/// finiteness, Q, R and P0 symmetric positive definite).
fn model(arrays: &ModelArrays<'_>) -> PyResult<LinearGaussianSsm> {
    let (a, q, h, r, m0, p0) = arrays;
    LinearGaussianSsm::from_parameters(Parameters {
        a: rows(a)?.to_owned(),
        q: rows(q)?.to_owned(),
        h: rows(h)?.to_owned(),
        r: rows(r)?.to_owned(),
        m0: m0.as_slice()?.to_vec(),
        p0: rows(p0)?.to_owned(),
    })
    .map_err(model_error)
}

/// The six parameters of a model as arrays, in the order of [`ModelArrays`].
fn model_to_arrays<'py>(py: Python<'py>, model: &LinearGaussianSsm) -> Vec<Bound<'py, PyAny>> {
    vec![
        to_array2(py, model.a()).into_any(),
        to_array2(py, model.q()).into_any(),
        to_array2(py, model.h()).into_any(),
        to_array2(py, model.r()).into_any(),
        model.m0().to_vec().into_pyarray(py).into_any(),
        to_array2(py, model.p0()).into_any(),
    ]
}

/// Means (T, n), covariances (T, n, n) and the log-likelihood of a pass.
type Moments<'py> = (Bound<'py, PyAny>, Bound<'py, PyAny>, f64);

/// The Kalman filter over `y` (T, p): the filtered means `m_{t|t}` (T, n),
/// covariances `P_{t|t}` (T, n, n) and `ln p(y)`. The first step is an
/// update of the prior `(m0, P0)` (pykalman's convention); a row of NaN
/// skips its update, a partly NaN row updates with its observed values.
/// `varying` holds the time-varying matrices, if any.
#[pyfunction]
#[pyo3(signature = (y, params, varying=(None, None, None, None)))]
fn kalman_filter<'py>(
    py: Python<'py>,
    y: PyReadonlyArray2<'py, f64>,
    params: ModelArrays<'py>,
    varying: StepArrays<'py>,
) -> PyResult<Moments<'py>> {
    let steps = StepViews::new(&varying)?;
    let matrices = steps.matrices();
    moments(py, &y, &params, |model, y| {
        let f = model.filter_keeping_covariances(Sequence::new(y).with_time_varying(matrices))?;
        Ok((
            f.filtered_means().to_owned(),
            f.filtered_covs(),
            f.log_likelihood(),
        ))
    })
}

/// The Rauch-Tung-Striebel smoother over `y` (T, p): the smoothed means
/// `m_{t|T}` (T, n), covariances `P_{t|T}` (T, n, n) and `ln p(y)`, with
/// the time-varying matrices `varying`.
#[pyfunction]
#[pyo3(signature = (y, params, varying=(None, None, None, None)))]
fn kalman_smooth<'py>(
    py: Python<'py>,
    y: PyReadonlyArray2<'py, f64>,
    params: ModelArrays<'py>,
    varying: StepArrays<'py>,
) -> PyResult<Moments<'py>> {
    let steps = StepViews::new(&varying)?;
    let matrices = steps.matrices();
    moments(py, &y, &params, |model, y| {
        let s = model.smooth_sequence(Sequence::new(y).with_time_varying(matrices))?;
        Ok((
            s.smoothed_means().to_owned(),
            s.smoothed_covs(),
            s.log_likelihood(),
        ))
    })
}

/// Runs `pass` (a filter or a smoother, returning the means, every
/// covariance as one flat vector of T·n·n values, and `ln p(y)`) without
/// the GIL and hands its results to NumPy, the covariances without a copy.
fn moments<'py>(
    py: Python<'py>,
    y: &PyReadonlyArray2<'py, f64>,
    params: &ModelArrays<'py>,
    pass: impl FnOnce(&LinearGaussianSsm, MatRef<'_, f64>) -> Result<(Mat<f64>, Vec<f64>, f64), StateSpaceError>
    + Send,
) -> PyResult<Moments<'py>> {
    let model = model(params)?;
    let y = rows(y)?;
    let (means, covs, ll) = py.detach(|| pass(&model, y)).map_err(model_error)?;
    let n = model.state_dim();
    let steps = covs.len() / (n * n).max(1);
    let covs = Array3::from_shape_vec((steps, n, n), covs).map_err(value_error)?;
    Ok((
        to_array2(py, means.as_ref()).into_any(),
        covs.into_pyarray(py).into_any(),
        ll,
    ))
}

/// `ln p(y)`: the sum over steps of the log-density of each step's
/// observed values given the earlier ones (the filter's innovations),
/// with the time-varying matrices `varying`.
#[pyfunction]
#[pyo3(signature = (y, params, varying=(None, None, None, None)))]
fn kalman_loglikelihood(
    py: Python<'_>,
    y: PyReadonlyArray2<'_, f64>,
    params: ModelArrays<'_>,
    varying: StepArrays<'_>,
) -> PyResult<f64> {
    let model = model(&params)?;
    let y = rows(&y)?;
    let steps = StepViews::new(&varying)?;
    let sequence = Sequence::new(y).with_time_varying(steps.matrices());
    py.detach(|| model.log_likelihood_of(&[sequence]))
        .map_err(model_error)
}

/// The parameters of a fit and its report.
type FitResult<'py> = (Vec<Bound<'py, PyAny>>, Bound<'py, PyDict>);

/// EM from the given parameters over `y` (T, p), updating the blocks named
/// in `learn` (`"A"`, `"Q"`, `"H"`, `"R"`, `"m0"`, `"P0"`) and the offsets
/// named in `learn_offsets` (`"transition_offset"`, `"observation_offset"`)
/// of the model with the constant offsets `offsets = (b (n,), d (p,))`
/// (`x_t = A x_{t-1} + b + w_t`, `y_t = H x_t + d + v_t`) with the
/// closed-form M-step of the statespace crate (all learned blocks
/// maximised jointly); `q_structure` and `r_structure` (`"full"`,
/// `"diagonal"`, `"scalar"`) constrain the updated Q and R. See
/// [`fit::settings`] for the loop's arguments. With the time-varying
/// matrices `varying`, a block among them, or one whose regression has one
/// of them (`A`, `b` with `Q`; `H`, `d` with `R`), cannot be learned: a
/// `NotImplementedError`, raised at the first M-step.
///
/// Returns `([a, q, h, r, m0, p0, b, d], report)`.
#[pyfunction]
#[pyo3(signature = (y, params, offsets, learn, learn_offsets, q_structure, r_structure, max_iter, tol, stopping, acceleration, verbose, varying=(None, None, None, None)))]
fn kalman_em<'py>(
    py: Python<'py>,
    y: PyReadonlyArray2<'py, f64>,
    params: ModelArrays<'py>,
    offsets: (PyReadonlyArray1<'py, f64>, PyReadonlyArray1<'py, f64>),
    learn: &str,
    learn_offsets: &str,
    q_structure: &str,
    r_structure: &str,
    max_iter: usize,
    tol: f64,
    stopping: &str,
    acceleration: &str,
    verbose: bool,
    varying: StepArrays<'py>,
) -> PyResult<FitResult<'py>> {
    let start = model(&params)?;
    let (n, p) = (start.state_dim(), start.obs_dim());
    let mut inputs = InputParameters::zeros(n, p, 0);
    inputs.transition_offset = offsets.0.as_slice()?.to_vec();
    inputs.observation_offset = offsets.1.as_slice()?.to_vec();
    let start = WithInputs(start.with_inputs(inputs).map_err(model_error)?);
    let learn: LearnSet = learn.parse().or_value_error()?;
    let learn_offsets: InputLearnSet = learn_offsets.parse().or_value_error()?;
    let options = MStepOptions::new(learn)
        .with_learn_inputs(learn_offsets)
        .with_q_structure(CovStructure::parse(q_structure).or_value_error()?)
        .with_r_structure(CovStructure::parse(r_structure).or_value_error()?);
    let settings = fit::settings(max_iter, tol, stopping, acceleration, 1, 0)?;
    let y = rows(&y)?;
    let steps = StepViews::new(&varying)?;
    let sequences = [Sequence::new(y).with_time_varying(steps.matrices())];
    let mut typed = None;
    let fitted = fit::run(py, verbose, |observer| {
        let fitted =
            statespace::fit_observed(&sequences[..], Start::Warm(start), &options, &settings, observer);
        if let Err(FitError::Step { source, .. }) = &fitted {
            typed = time_varying_error(source);
        }
        fitted
    })
    .map_err(|e| typed.take().unwrap_or(e))?;
    let model = &fitted.model.0;
    let mut arrays = model_to_arrays(py, model);
    arrays.push(model.transition_offset().to_vec().into_pyarray(py).into_any());
    arrays.push(model.observation_offset().to_vec().into_pyarray(py).into_any());
    Ok((arrays, crate::report::to_dict(py, &fitted.report)?))
}

/// `t` steps drawn from the model with a generator seeded by `seed`, with
/// the time-varying matrices `varying`: `(states (t, n), observations (t, p))`.
#[pyfunction]
#[pyo3(signature = (t, seed, params, varying=(None, None, None, None)))]
fn kalman_sample<'py>(
    py: Python<'py>,
    t: usize,
    seed: u64,
    params: ModelArrays<'py>,
    varying: StepArrays<'py>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let model = model(&params)?;
    let steps = StepViews::new(&varying)?;
    let matrices = steps.matrices();
    let (x, y) = py
        .detach(|| model.sample_time_varying(t, None, &matrices, &mut StdRng::seed_from_u64(seed)))
        .map_err(model_error)?;
    Ok((
        to_array2(py, x.as_ref()).into_any(),
        to_array2(py, y.as_ref()).into_any(),
    ))
}

/// The deterministic path that pykalman's offsets add to a model:
/// `c_0` given, `c_t = A_t c_{t-1} + b_{t-1}` for t = 1..T-1, and
/// `e_t = H_t c_t + d_t`. Returns `(c (T, n), e (T, p))` for `b` (T-1, n)
/// and `d` (T, p); `A_t` is entry t − 1 of `a_steps` (T-1, n, n) when
/// given, else `a`, and `H_t` entry t of `h_steps` (T, p, n), else `h`.
///
/// By linearity, `x_t = z_t + c_t` and `y_t = u_t + e_t` where `(z, u)`
/// follows the model without offsets with `z_0 = x_0 − c_0`. So the filter,
/// the smoother and the likelihood of the model with offsets are those of
/// the model without them on `y − e` (with `c_0 = 0`), the means shifted by
/// `c` and the covariances unchanged; and a path of the model without
/// offsets plus `(c, e)` is a path of the model with them.
#[pyfunction]
#[pyo3(signature = (a, h, c0, b, d, a_steps=None, h_steps=None))]
fn kalman_shift<'py>(
    py: Python<'py>,
    a: PyReadonlyArray2<'py, f64>,
    h: PyReadonlyArray2<'py, f64>,
    c0: PyReadonlyArray1<'py, f64>,
    b: PyReadonlyArray2<'py, f64>,
    d: PyReadonlyArray2<'py, f64>,
    a_steps: Option<PyReadonlyArray3<'py, f64>>,
    h_steps: Option<PyReadonlyArray3<'py, f64>>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let (a, h, b, d) = (rows(&a)?, rows(&h)?, rows(&b)?, rows(&d)?);
    let c0 = c0.as_slice()?;
    let (n, p, t) = (a.nrows(), h.nrows(), d.nrows());
    if a.ncols() != n || h.ncols() != n || c0.len() != n || b.ncols() != n || d.ncols() != p {
        return Err(value_error("kalman_shift: inconsistent dimensions"));
    }
    if t == 0 || b.nrows() + 1 != t {
        return Err(value_error(format!(
            "kalman_shift: {} transition offsets for {t} steps, expected {}",
            b.nrows(),
            t - 1
        )));
    }
    let arrays = (a_steps, None, h_steps, None);
    let steps = StepViews::new(&arrays)?;
    for (name, views, shape) in [
        ("a_steps", &steps.a, [t - 1, n, n]),
        ("h_steps", &steps.h, [t, p, n]),
    ] {
        if let Some(views) = views
            && (views.len() != shape[0] || views.iter().any(|m| [m.nrows(), m.ncols()] != shape[1..]))
        {
            return Err(value_error(format!("kalman_shift: {name} is not {shape:?}")));
        }
    }
    let mut c = Mat::<f64>::zeros(t, n);
    let mut e = Mat::<f64>::zeros(t, p);
    for k in 0..t {
        if k == 0 {
            for i in 0..n {
                c[(0, i)] = c0[i];
            }
        } else {
            let a_k = steps.a.as_ref().map_or(a, |a| a[k - 1]);
            for i in 0..n {
                c[(k, i)] = b[(k - 1, i)] + (0..n).map(|j| a_k[(i, j)] * c[(k - 1, j)]).sum::<f64>();
            }
        }
        let h_k = steps.h.as_ref().map_or(h, |h| h[k]);
        for i in 0..p {
            e[(k, i)] = d[(k, i)] + (0..n).map(|j| h_k[(i, j)] * c[(k, j)]).sum::<f64>();
        }
    }
    Ok((
        to_array2(py, c.as_ref()).into_any(),
        to_array2(py, e.as_ref()).into_any(),
    ))
}
