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

use crate::array::{rows, to_array2};
use crate::error::{OrValueError, value_error};
use crate::fit;
use numpy::ndarray::Array3;
use numpy::{IntoPyArray, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rand::SeedableRng;
use rand::rngs::StdRng;
use statespace::em::WithInputs;
use statespace::faer::{Mat, MatRef};
use statespace::{
    CovStructure, InputLearnSet, InputParam, InputParameters, LearnSet, LinearGaussianSsm, MStepOptions,
    Matrix, Param, Parameters, Sequence, Start, StateSpaceError,
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
/// name of the parameter it is about, if any.
fn model_error(e: StateSpaceError) -> PyErr {
    let matrix = match &e {
        StateSpaceError::Shape { matrix, .. }
        | StateSpaceError::NonFiniteParameter { matrix, .. }
        | StateSpaceError::NotSymmetric { matrix, .. }
        | StateSpaceError::NotPositiveDefinite { matrix, .. }
        | StateSpaceError::ZeroDimension { matrix } => Some(*matrix),
        _ => None,
    };
    match matrix.and_then(pykalman_name) {
        Some(name) => value_error(format!("{name}: {e}")),
        None => value_error(e),
    }
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
#[pyfunction]
fn kalman_filter<'py>(
    py: Python<'py>,
    y: PyReadonlyArray2<'py, f64>,
    params: ModelArrays<'py>,
) -> PyResult<Moments<'py>> {
    moments(py, &y, &params, |model, y| {
        let f = model.filter_keeping_covariances(Sequence::new(y))?;
        Ok((
            f.filtered_means().to_owned(),
            f.filtered_covs(),
            f.log_likelihood(),
        ))
    })
}

/// The Rauch-Tung-Striebel smoother over `y` (T, p): the smoothed means
/// `m_{t|T}` (T, n), covariances `P_{t|T}` (T, n, n) and `ln p(y)`.
#[pyfunction]
fn kalman_smooth<'py>(
    py: Python<'py>,
    y: PyReadonlyArray2<'py, f64>,
    params: ModelArrays<'py>,
) -> PyResult<Moments<'py>> {
    moments(py, &y, &params, |model, y| {
        let s = model.smooth(y)?;
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
/// observed values given the earlier ones (the filter's innovations).
#[pyfunction]
fn kalman_loglikelihood(
    py: Python<'_>,
    y: PyReadonlyArray2<'_, f64>,
    params: ModelArrays<'_>,
) -> PyResult<f64> {
    let model = model(&params)?;
    let y = rows(&y)?;
    py.detach(|| model.log_likelihood(&[y][..])).map_err(model_error)
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
/// [`fit::settings`] for the loop's arguments.
///
/// Returns `([a, q, h, r, m0, p0, b, d], report)`.
#[pyfunction]
#[pyo3(signature = (y, params, offsets, learn, learn_offsets, q_structure, r_structure, max_iter, tol, stopping, acceleration, verbose))]
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
    let sequences = [Sequence::new(y)];
    let fitted = fit::run(py, verbose, |observer| {
        statespace::fit_observed(&sequences[..], Start::Warm(start), &options, &settings, observer)
    })?;
    let model = &fitted.model.0;
    let mut arrays = model_to_arrays(py, model);
    arrays.push(model.transition_offset().to_vec().into_pyarray(py).into_any());
    arrays.push(model.observation_offset().to_vec().into_pyarray(py).into_any());
    Ok((arrays, crate::report::to_dict(py, &fitted.report)?))
}

/// `t` steps drawn from the model with a generator seeded by `seed`:
/// `(states (t, n), observations (t, p))`.
#[pyfunction]
fn kalman_sample<'py>(
    py: Python<'py>,
    t: usize,
    seed: u64,
    params: ModelArrays<'py>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let model = model(&params)?;
    let (x, y) = py
        .detach(|| model.sample(t, &mut StdRng::seed_from_u64(seed)))
        .map_err(model_error)?;
    Ok((
        to_array2(py, x.as_ref()).into_any(),
        to_array2(py, y.as_ref()).into_any(),
    ))
}

/// The deterministic path that pykalman's offsets add to a model:
/// `c_0` given, `c_t = A c_{t-1} + b_{t-1}` for t = 1..T-1, and
/// `e_t = H c_t + d_t`. Returns `(c (T, n), e (T, p))` for `b` (T-1, n)
/// and `d` (T, p).
///
/// By linearity, `x_t = z_t + c_t` and `y_t = u_t + e_t` where `(z, u)`
/// follows the model without offsets with `z_0 = x_0 − c_0`. So the filter,
/// the smoother and the likelihood of the model with offsets are those of
/// the model without them on `y − e` (with `c_0 = 0`), the means shifted by
/// `c` and the covariances unchanged; and a path of the model without
/// offsets plus `(c, e)` is a path of the model with them.
#[pyfunction]
fn kalman_shift<'py>(
    py: Python<'py>,
    a: PyReadonlyArray2<'py, f64>,
    h: PyReadonlyArray2<'py, f64>,
    c0: PyReadonlyArray1<'py, f64>,
    b: PyReadonlyArray2<'py, f64>,
    d: PyReadonlyArray2<'py, f64>,
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
            t.saturating_sub(1)
        )));
    }
    let mut c = Mat::<f64>::zeros(t, n);
    for i in 0..n {
        c[(0, i)] = c0[i];
    }
    for k in 1..t {
        for i in 0..n {
            c[(k, i)] = b[(k - 1, i)] + (0..n).map(|j| a[(i, j)] * c[(k - 1, j)]).sum::<f64>();
        }
    }
    // e_t = H c_t + d_t for every step at once: E = C Hᵀ + D.
    let e = &c * h.transpose() + d;
    Ok((
        to_array2(py, c.as_ref()).into_any(),
        to_array2(py, e.as_ref()).into_any(),
    ))
}
