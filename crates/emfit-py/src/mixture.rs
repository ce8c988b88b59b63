//! Gaussian mixtures: the functions behind `emfit.mixture.GaussianMixture`.
//!
//! A mixture crosses the boundary as `(weights, means, covariances,
//! covariance_type)` in scikit-learn's shapes: `weights` (K,), `means`
//! (K, d) and `covariances` (K, d, d) for `"full"`, (K, d) for `"diag"`,
//! (K,) for `"spherical"` and (d, d) for `"tied"`.

use crate::array::{rows, to_array2, to_array3};
use crate::chunked::Callback;
use crate::covariance::{check_ndim, covariance_ndim, covariance_shape, covariances_array, covariances_at};
use crate::error::{OrValueError, value_error};
use crate::fit;
use mixture::faer::Mat;
use mixture::{
    CovarianceType, Covariances, GaussianMixture, GivenCovariances, GivenParameters, InitConfig, InitMethod,
    MStepOptions, Start, WeightedMixture, WeightedRows,
};
use numpy::{IntoPyArray, PyReadonlyArray1, PyReadonlyArray2, PyReadonlyArrayDyn};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Registers the mixture functions.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(gmm_fit, m)?)?;
    m.add_function(wrap_pyfunction!(gmm_score_samples, m)?)?;
    m.add_function(wrap_pyfunction!(gmm_predict_proba, m)?)?;
    m.add_function(wrap_pyfunction!(gmm_sample, m)?)?;
    m.add_function(wrap_pyfunction!(gmm_precisions, m)?)?;
    m.add_function(wrap_pyfunction!(gmm_bic, m)?)?;
    m.add_function(wrap_pyfunction!(gmm_aic, m)?)?;
    Ok(())
}

/// Covariances (or precisions) of the given type from their array, in
/// scikit-learn's shape for the type.
fn covariances(kind: CovarianceType, array: &Bound<'_, PyAny>) -> PyResult<Covariances> {
    let a = array
        .extract::<PyReadonlyArrayDyn<'_, f64>>()?
        .as_array()
        .to_owned();
    check_ndim(
        &a,
        covariance_ndim(kind),
        "covariances",
        covariance_shape(kind, false),
    )?;
    Ok(covariances_at(kind, &a, &[]))
}

/// A mixture from its parameters; `precisions` says whether the third
/// array holds precisions (scikit-learn's `precisions_init`) rather than
/// covariances.
pub(crate) fn model(
    weights: PyReadonlyArray1<'_, f64>,
    means: PyReadonlyArray2<'_, f64>,
    covariances_or_precisions: &Bound<'_, PyAny>,
    covariance_type: &str,
    precisions: bool,
) -> PyResult<GaussianMixture> {
    let kind = crate::covariance::covariance_type(covariance_type)?;
    let weights = weights.as_slice()?.to_vec();
    let means: Mat<f64> = rows(&means)?.to_owned();
    let third = covariances(kind, covariances_or_precisions)?;
    if precisions {
        GaussianMixture::from_precisions(weights, means, third).or_value_error()
    } else {
        GaussianMixture::new(weights, means, third).or_value_error()
    }
}

/// `(weights, means, covariances)` of a model.
pub(crate) type Parameters<'py> = (Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>);

/// A start given as `(weights, means, covariances or precisions, are
/// precisions)`.
type GivenStart<'py> = (
    PyReadonlyArray1<'py, f64>,
    PyReadonlyArray2<'py, f64>,
    Bound<'py, PyAny>,
    bool,
);

/// The parameters of a model as arrays.
pub(crate) fn parameters<'py>(py: Python<'py>, model: &GaussianMixture) -> Parameters<'py> {
    (
        model.weights().to_vec().into_pyarray(py).into_any(),
        to_array2(py, model.means()).into_any(),
        covariances_array(model.covariances(), model.n_features())
            .into_pyarray(py)
            .into_any(),
    )
}

/// The parameters of a fit and its report.
type FitResult<'py> = (
    Bound<'py, PyAny>,
    Bound<'py, PyAny>,
    Bound<'py, PyAny>,
    Bound<'py, PyDict>,
);

/// Fits a mixture to `x` (n, d), each row counted `sample_weight[i]` times
/// when given (weighted EM, [`WeightedMixture`]: the log-likelihood is
/// `Σᵢ wᵢ ln p(xᵢ)`; weights finite, ≥ 0, not all zero).
///
/// The start is `start = (weights, means, covariances_or_precisions,
/// are_precisions)` when given (a warm start, or all three of
/// scikit-learn's `*_init` arguments), else `init` chooses it from the
/// data: `"kmeans"` (k-means++ seeding and Lloyd rounds), `"k-means++"`
/// (the seeding only), `"random"` (random responsibilities),
/// `"random_from_data"` (random data points as means); `weights_init`,
/// `means_init` and `precisions_init` (those given) then replace the
/// method's parameters ([`GivenParameters`]). `reg_covar` is added to
/// every variance, as scikit-learn does. See [`fit::settings`] for the
/// loop's arguments.
///
/// With `e_steps` (the Dask driver, [`crate::chunked`]) the data are
/// elsewhere: every E-step is `e_steps((weights, means, covariances,
/// covariance_type), log_likelihood_only)`, and `x` is the seeded sample
/// that an initialisation from the data runs on.
///
/// Returns `(weights, means, covariances, report)`.
#[pyfunction]
#[pyo3(signature = (x, n_components, covariance_type, reg_covar, init, start, max_iter, tol, stopping, acceleration, n_init, seed, verbose, sample_weight=None, weights_init=None, means_init=None, precisions_init=None, e_steps=None))]
fn gmm_fit<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f64>,
    n_components: usize,
    covariance_type: &str,
    reg_covar: f64,
    init: &str,
    start: Option<GivenStart<'py>>,
    max_iter: usize,
    tol: f64,
    stopping: &str,
    acceleration: &str,
    n_init: usize,
    seed: u64,
    verbose: bool,
    sample_weight: Option<PyReadonlyArray1<'py, f64>>,
    weights_init: Option<PyReadonlyArray1<'py, f64>>,
    means_init: Option<PyReadonlyArray2<'py, f64>>,
    precisions_init: Option<Bound<'py, PyAny>>,
    e_steps: Option<Py<PyAny>>,
) -> PyResult<FitResult<'py>> {
    let kind = crate::covariance::covariance_type(covariance_type)?;
    if !(reg_covar >= 0.0 && reg_covar.is_finite()) {
        return Err(value_error(format!(
            "reg_covar must be finite and >= 0, got {reg_covar}"
        )));
    }
    let start = match start {
        Some((w, m, c, are_precisions)) => {
            Start::Warm(WeightedMixture(model(w, m, &c, covariance_type, are_precisions)?))
        }
        None => {
            let method = match init {
                "kmeans" => InitMethod::KMeans { max_rounds: 300 },
                "k-means++" => InitMethod::KMeans { max_rounds: 0 },
                "random" => InitMethod::RandomResponsibilities,
                "random_from_data" => InitMethod::RandomPoints,
                other => {
                    return Err(value_error(format!(
                        "init_params must be 'kmeans', 'k-means++', 'random' or 'random_from_data', got {other:?}"
                    )));
                }
            };
            let mut given = GivenParameters::new();
            if let Some(w) = weights_init {
                given = given.with_weights(w.as_slice()?.to_vec());
            }
            if let Some(m) = means_init {
                given = given.with_means(rows(&m)?.to_owned());
            }
            if let Some(p) = precisions_init {
                given = given.with_covariances(GivenCovariances::Precisions(covariances(kind, &p)?));
            }
            let config = InitConfig::new(n_components, kind)
                .with_method(method)
                .with_covariance_floor(mixture::Floor::Absolute(reg_covar))
                .with_given(given);
            Start::FromData(config)
        }
    };
    let weights = match &sample_weight {
        Some(w) => Some(w.as_slice()?),
        None => None,
    };
    // The weights first: the tolerance the caller derived from them is
    // meaningless when they are invalid.
    let data = WeightedRows::new(rows(&x)?, weights).or_value_error()?;
    let settings = fit::settings(max_iter, tol, stopping, acceleration, n_init, seed)?;
    let options = MStepOptions::default().with_reg_covar(reg_covar);
    let chunked = e_steps.map(|e_steps| {
        let arguments = |py: Python<'_>, model: &WeightedMixture| {
            let (w, m, c) = parameters(py, &model.0);
            Ok((w, m, c, covariance_type).into_pyobject(py)?.into_any().unbind())
        };
        Callback::new(e_steps, arguments, data)
    });
    let fitted = fit::run(py, verbose, |observer| match &chunked {
        None => mixture::em_core::fit_observed(data, start, &options, &settings, observer),
        Some(chunked) => em_core::fit_with(chunked, start, &options, &settings, observer),
    });
    if let Some(chunked) = &chunked {
        chunked.reraise()?;
    }
    let fitted = fitted?;
    let (w, m, c) = parameters(py, &fitted.model.0);
    Ok((w, m, c, crate::report::to_dict(py, &fitted.report)?))
}

/// `ln p(xᵢ)` for every row of `x` under the mixture.
#[pyfunction]
fn gmm_score_samples<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f64>,
    weights: PyReadonlyArray1<'py, f64>,
    means: PyReadonlyArray2<'py, f64>,
    covariances: Bound<'py, PyAny>,
    covariance_type: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let model = model(weights, means, &covariances, covariance_type, false)?;
    let x = rows(&x)?;
    let scores = py.detach(|| model.score_samples(x)).or_value_error()?;
    Ok(scores.into_pyarray(py).into_any())
}

/// The responsibilities `p(z = k | xᵢ)` (n, K).
#[pyfunction]
fn gmm_predict_proba<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f64>,
    weights: PyReadonlyArray1<'py, f64>,
    means: PyReadonlyArray2<'py, f64>,
    covariances: Bound<'py, PyAny>,
    covariance_type: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let model = model(weights, means, &covariances, covariance_type, false)?;
    let x = rows(&x)?;
    let resp = py.detach(|| model.predict_proba(x)).or_value_error()?;
    Ok(to_array2(py, resp.as_ref()).into_any())
}

/// `n` points drawn from the mixture with a generator seeded by `seed`:
/// `(x (n, d), components (n,))`.
#[pyfunction]
fn gmm_sample<'py>(
    py: Python<'py>,
    n: usize,
    seed: u64,
    weights: PyReadonlyArray1<'py, f64>,
    means: PyReadonlyArray2<'py, f64>,
    covariances: Bound<'py, PyAny>,
    covariance_type: &str,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let model = model(weights, means, &covariances, covariance_type, false)?;
    let (x, labels) = py.detach(|| model.sample(n, &mut StdRng::seed_from_u64(seed)));
    let labels: Vec<i64> = labels.into_iter().map(|l| l as i64).collect();
    Ok((
        to_array2(py, x.as_ref()).into_any(),
        labels.into_pyarray(py).into_any(),
    ))
}

/// `(precisions, precisions_cholesky)` of a mixture in scikit-learn's
/// shapes and conventions: `Σₖ⁻¹` and the upper-triangular `Uₖ` with
/// `Σₖ⁻¹ = Uₖ Uₖᵀ` (full: (K, d, d); tied: (d, d); diagonal: (K, d), the
/// diagonals; spherical: (K,), one value per component).
#[pyfunction]
fn gmm_precisions<'py>(
    py: Python<'py>,
    weights: PyReadonlyArray1<'py, f64>,
    means: PyReadonlyArray2<'py, f64>,
    covariances: Bound<'py, PyAny>,
    covariance_type: &str,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let model = model(weights, means, &covariances, covariance_type, false)?;
    let (k, d) = (model.n_components(), model.n_features());
    let precisions: Vec<Mat<f64>> = (0..k).filter_map(|c| model.component_precision(c)).collect();
    let cholesky: Vec<Mat<f64>> = (0..k).filter_map(|c| model.precision_cholesky(c)).collect();
    let diagonals = |ms: &[Mat<f64>]| Mat::from_fn(k, d, |c, j| ms[c][(j, j)]);
    let firsts = |ms: &[Mat<f64>]| ms.iter().map(|m| m[(0, 0)]).collect::<Vec<f64>>();
    Ok(match model.covariance_type() {
        CovarianceType::Full => (
            to_array3(py, &precisions, d, d).into_any(),
            to_array3(py, &cholesky, d, d).into_any(),
        ),
        CovarianceType::Tied => (
            to_array2(py, precisions[0].as_ref()).into_any(),
            to_array2(py, cholesky[0].as_ref()).into_any(),
        ),
        CovarianceType::Diagonal => (
            to_array2(py, diagonals(&precisions).as_ref()).into_any(),
            to_array2(py, diagonals(&cholesky).as_ref()).into_any(),
        ),
        CovarianceType::Spherical => (
            firsts(&precisions).into_pyarray(py).into_any(),
            firsts(&cholesky).into_pyarray(py).into_any(),
        ),
    })
}

/// The Bayesian information criterion `−2 ln L(x) + p ln n` of the mixture
/// on `x` (p free parameters, n rows).
#[pyfunction]
fn gmm_bic<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f64>,
    weights: PyReadonlyArray1<'py, f64>,
    means: PyReadonlyArray2<'py, f64>,
    covariances: Bound<'py, PyAny>,
    covariance_type: &str,
) -> PyResult<f64> {
    let model = model(weights, means, &covariances, covariance_type, false)?;
    let x = rows(&x)?;
    py.detach(|| model.bic(x)).or_value_error()
}

/// The Akaike information criterion `−2 ln L(x) + 2 p` of the mixture on
/// `x` (p free parameters).
#[pyfunction]
fn gmm_aic<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f64>,
    weights: PyReadonlyArray1<'py, f64>,
    means: PyReadonlyArray2<'py, f64>,
    covariances: Bound<'py, PyAny>,
    covariance_type: &str,
) -> PyResult<f64> {
    let model = model(weights, means, &covariances, covariance_type, false)?;
    let x = rows(&x)?;
    py.detach(|| model.aic(x)).or_value_error()
}
