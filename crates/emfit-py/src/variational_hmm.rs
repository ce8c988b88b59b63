//! The variational Bayesian HMMs: the functions behind
//! `emfit.hmm.VariationalCategoricalHMM` and
//! `emfit.hmm.VariationalGaussianHMM`.
//!
//! The fit takes the priors (hmmlearn's `*_prior_` shapes) and, for the
//! blocks not initialised from the data, the starting posteriors
//! (`*_posterior_`), and returns the fitted posteriors with the report.

use crate::array::{rows, to_array2, to_array3};
use crate::error::{OrValueError, value_error};
use crate::fit;
use crate::hmm::{learn_set, optional};
use hmm::em_core::fit_observed;
use hmm::faer::{Mat, MatRef};
use hmm::rand::SeedableRng;
use hmm::variational::{
    NormalWishart, VariationalCategorical, VariationalCategoricalHmm, VariationalCategoricalInit,
    VariationalGaussian, VariationalGaussianHmm, VariationalGaussianInit, VariationalInit,
};
use hmm::{EmModel, Sequences, Start};
use numpy::ndarray::ArrayD;
use numpy::{IntoPyArray, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Registers the functions.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(vhmm_categorical_fit, m)?)?;
    m.add_function(wrap_pyfunction!(vhmm_gaussian_fit, m)?)?;
    Ok(())
}

/// A Python array as an owned matrix.
fn owned(a: &PyReadonlyArray2<'_, f64>) -> PyResult<Mat<f64>> {
    Ok(rows(a)?.to_owned())
}

/// Fits a variational categorical HMM to the symbols `x` (n, 1) in
/// sequences of `lengths` and returns a dict: `startprob_prior`,
/// `startprob_posterior`, `transmat_prior`, `transmat_posterior`,
/// `emissionprob_prior`, `emissionprob_posterior`, the posterior means
/// `startprob`, `transmat`, `emissionprob`, and `report`.
///
/// Priors: `startprob_prior` (K,), `transmat_prior` (K, K),
/// `emissionprob_prior` (K, M), each `None` for hmmlearn's defaults (`1/K`,
/// `1/K`, `1/M`). Starting posteriors (`start`: a dict with any of
/// `startprob_posterior`, `transmat_posterior`, `emissionprob_posterior`)
/// replace the random ones of the start; the priors then come from the
/// arguments or the defaults. `params` names the learned blocks (`s`, `t`,
/// `e`). The loop's arguments are [`fit::settings`]'s, without
/// acceleration (the model runs plain steps) or restarts; `seed` seeds
/// the random start.
#[pyfunction]
#[pyo3(signature = (x, lengths, n_components, n_symbols, startprob_prior, transmat_prior, emissionprob_prior, start, params, max_iter, tol, stopping, seed, verbose))]
fn vhmm_categorical_fit<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f64>,
    lengths: Vec<usize>,
    n_components: usize,
    n_symbols: Option<usize>,
    startprob_prior: Option<PyReadonlyArray1<'py, f64>>,
    transmat_prior: Option<PyReadonlyArray2<'py, f64>>,
    emissionprob_prior: Option<PyReadonlyArray2<'py, f64>>,
    start: &Bound<'py, PyDict>,
    params: &str,
    max_iter: usize,
    tol: f64,
    stopping: &str,
    seed: u64,
    verbose: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let x = rows(&x)?;
    let data = Sequences::new(x, &lengths).or_value_error()?;
    let learn = learn_set(params)?;
    let settings = fit::settings(max_iter, tol, stopping, "none", 1, seed)?;
    let given = |key: &str| -> PyResult<Option<Mat<f64>>> {
        match start.get_item(key)? {
            Some(v) => Ok(Some(owned(&v.extract::<PyReadonlyArray2<'py, f64>>()?)?)),
            None => Ok(None),
        }
    };
    let start_posterior = given("startprob_posterior")?;
    let trans_posterior = given("transmat_posterior")?;
    let emission_posterior = given("emissionprob_posterior")?;
    let start_prior = startprob_prior.map(|a| a.as_array().to_vec());
    let trans_prior = transmat_prior.as_ref().map(owned).transpose()?;
    let emission_prior = emissionprob_prior.as_ref().map(owned).transpose()?;
    let k = n_components;
    // The random start (hmmlearn's recipe), then the given blocks in its place.
    let init = VariationalInit {
        emission: VariationalCategoricalInit {
            n_symbols: n_symbols.or(emission_posterior.as_ref().map(Mat::ncols)),
            prior: None,
        },
        ..VariationalInit::new(k)
    };
    let mut rng = hmm::rand::rngs::StdRng::seed_from_u64(seed);
    let random = VariationalCategoricalHmm::init_from_data(&data, &init, &mut rng).or_value_error()?;
    let m = random.emission().n_symbols();
    let pick =
        |given: Option<Mat<f64>>, default: MatRef<'_, f64>| given.unwrap_or_else(|| default.to_owned());
    let emission_prior = emission_prior.unwrap_or_else(|| Mat::from_fn(k, m, |_, _| 1.0 / m as f64));
    let emission = VariationalCategorical::new(
        emission_prior.as_ref(),
        pick(emission_posterior, random.emission().posterior()).as_ref(),
    )
    .or_value_error()?;
    let row = |m: &Mat<f64>| (0..m.ncols()).map(|j| m[(0, j)]).collect::<Vec<f64>>();
    let model = VariationalCategoricalHmm::new(
        start_prior.unwrap_or_else(|| vec![1.0 / k as f64; k]),
        start_posterior
            .as_ref()
            .map_or_else(|| random.start_posterior().to_vec(), row),
        pick(trans_prior, Mat::from_fn(k, k, |_, _| 1.0 / k as f64).as_ref()).as_ref(),
        pick(trans_posterior, random.transition_posterior()).as_ref(),
        emission,
    )
    .or_value_error()?;
    let fitted = fit::run(py, verbose, |observer| {
        fit_observed::<VariationalCategoricalHmm, _>(&data, Start::Warm(model), &learn, &settings, observer)
    })?;
    let model = &fitted.model;
    let out = PyDict::new(py);
    out.set_item("startprob_prior", model.start_prior().to_vec().into_pyarray(py))?;
    out.set_item(
        "startprob_posterior",
        model.start_posterior().to_vec().into_pyarray(py),
    )?;
    out.set_item("transmat_prior", to_array2(py, model.transition_prior()))?;
    out.set_item("transmat_posterior", to_array2(py, model.transition_posterior()))?;
    out.set_item("emissionprob_prior", to_array2(py, model.emission().prior()))?;
    out.set_item(
        "emissionprob_posterior",
        to_array2(py, model.emission().posterior()),
    )?;
    out.set_item("startprob", model.start_probs().into_pyarray(py))?;
    out.set_item("transmat", to_array2(py, model.transitions().as_ref()))?;
    out.set_item(
        "emissionprob",
        to_array2(py, model.emission().probabilities().as_ref()),
    )?;
    out.set_item("report", crate::report::to_dict(py, &fitted.report)?)?;
    Ok(out)
}

/// `a` (the parameter `key`) with the shape `shape`, its entries in
/// row-major order.
fn shaped(a: &ArrayD<f64>, key: &str, shape: &[usize]) -> PyResult<Vec<f64>> {
    if a.shape() != shape {
        return Err(value_error(format!(
            "{key} must have shape {shape:?}, got {:?}",
            a.shape()
        )));
    }
    Ok(a.iter().copied().collect())
}

/// One side of the Normal-Wishart with the given arrays of `given` (keys
/// `means_{side}` (K, d), `beta_{side}` (K,), `dof_{side}` (W,),
/// `scale_{side}` (W, d, d), W the number of Wisharts of `default`: K, or
/// 1 for the tied type) in place of those of `default`.
fn normal_wishart(given: &Bound<'_, PyDict>, side: &str, default: &NormalWishart) -> PyResult<NormalWishart> {
    let (k, d, w) = (default.means.nrows(), default.means.ncols(), default.dof.len());
    let mut out = default.clone();
    if let Some(a) = optional(given, &format!("means_{side}"))? {
        let v = shaped(&a, &format!("means_{side}"), &[k, d])?;
        out.means = Mat::from_fn(k, d, |j, c| v[j * d + c]);
    }
    for (name, target, n) in [("beta", &mut out.beta, k), ("dof", &mut out.dof, w)] {
        if let Some(a) = optional(given, &format!("{name}_{side}"))? {
            *target = shaped(&a, &format!("{name}_{side}"), &[n])?;
        }
    }
    if let Some(a) = optional(given, &format!("scale_{side}"))? {
        let v = shaped(&a, &format!("scale_{side}"), &[w, d, d])?;
        out.scale = (0..w)
            .map(|j| Mat::from_fn(d, d, |a, b| v[(j * d + a) * d + b]))
            .collect();
    }
    Ok(out)
}

/// A vector of K values of `given[key]`, or `default`.
fn vector(given: &Bound<'_, PyDict>, key: &str, default: &[f64]) -> PyResult<Vec<f64>> {
    optional(given, key)?.map_or_else(|| Ok(default.to_vec()), |a| shaped(&a, key, &[default.len()]))
}

/// A K x K matrix of `given[key]`, or `default`.
fn square(given: &Bound<'_, PyDict>, key: &str, default: MatRef<'_, f64>) -> PyResult<Mat<f64>> {
    let k = default.nrows();
    match optional(given, key)? {
        Some(a) => {
            let v = shaped(&a, key, &[k, k])?;
            Ok(Mat::from_fn(k, k, |i, j| v[i * k + j]))
        }
        None => Ok(default.to_owned()),
    }
}

/// Fits a variational Gaussian HMM (`covariance_type` `"full"`, `"diag"`,
/// `"spherical"` or `"tied"`) to `x` (n, d) in sequences of `lengths` and
/// returns a dict: `startprob_{prior,posterior}` (K,),
/// `transmat_{prior,posterior}` (K, K), `means_{prior,posterior}` (K, d),
/// `beta_*` (K,), `dof_*` (W,), `scale_*` (W, d, d; diagonal matrices for
/// `"diag"`, multiples of the identity for `"spherical"`), W = K Wisharts,
/// 1 for `"tied"`, the posterior
/// means `startprob`, `transmat`, the expected covariances `covars` (K, d,
/// d), and `report`.
///
/// The start is hmmlearn's recipe (random start and transition rows,
/// k-means means, the data covariance; priors: `1/K`, the data mean, `β₀ =
/// 1`, `ν₀ = d`, `S₀ = 10⁻³ I`) with every array of `given` (the keys
/// above, priors and posteriors) in place of the start's. `params` names
/// the learned blocks (`s`, `t`, `m`, `c`). The loop's arguments are
/// [`fit::settings`]'s, without acceleration or restarts; `seed` seeds
/// the start.
#[pyfunction]
#[pyo3(signature = (x, lengths, n_components, covariance_type, given, params, max_iter, tol, stopping, seed, verbose))]
fn vhmm_gaussian_fit<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f64>,
    lengths: Vec<usize>,
    n_components: usize,
    covariance_type: &str,
    given: &Bound<'py, PyDict>,
    params: &str,
    max_iter: usize,
    tol: f64,
    stopping: &str,
    seed: u64,
    verbose: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let kind = crate::covariance::covariance_type(covariance_type)?;
    let x = rows(&x)?;
    let data = Sequences::new(x, &lengths).or_value_error()?;
    let learn = learn_set(params)?;
    let settings = fit::settings(max_iter, tol, stopping, "none", 1, seed)?;
    let init = VariationalInit {
        emission: VariationalGaussianInit {
            covariance_type: kind,
            ..VariationalGaussianInit::default()
        },
        ..VariationalInit::new(n_components)
    };
    let mut rng = hmm::rand::rngs::StdRng::seed_from_u64(seed);
    let random = VariationalGaussianHmm::init_from_data(&data, &init, &mut rng).or_value_error()?;
    let e = random.emission();
    let emission = VariationalGaussian::new(
        kind,
        normal_wishart(given, "prior", e.prior())?,
        normal_wishart(given, "posterior", e.posterior())?,
    )
    .or_value_error()?;
    let model = VariationalGaussianHmm::new(
        vector(given, "startprob_prior", random.start_prior())?,
        vector(given, "startprob_posterior", random.start_posterior())?,
        square(given, "transmat_prior", random.transition_prior())?.as_ref(),
        square(given, "transmat_posterior", random.transition_posterior())?.as_ref(),
        emission,
    )
    .or_value_error()?;
    let fitted = fit::run(py, verbose, |observer| {
        fit_observed::<VariationalGaussianHmm, _>(&data, Start::Warm(model), &learn, &settings, observer)
    })?;
    let model = &fitted.model;
    let d = x.ncols();
    let out = PyDict::new(py);
    out.set_item("startprob_prior", model.start_prior().to_vec().into_pyarray(py))?;
    out.set_item(
        "startprob_posterior",
        model.start_posterior().to_vec().into_pyarray(py),
    )?;
    out.set_item("transmat_prior", to_array2(py, model.transition_prior()))?;
    out.set_item("transmat_posterior", to_array2(py, model.transition_posterior()))?;
    for (side, nw) in [
        ("prior", model.emission().prior()),
        ("posterior", model.emission().posterior()),
    ] {
        out.set_item(format!("means_{side}"), to_array2(py, nw.means.as_ref()))?;
        out.set_item(format!("beta_{side}"), nw.beta.clone().into_pyarray(py))?;
        out.set_item(format!("dof_{side}"), nw.dof.clone().into_pyarray(py))?;
        out.set_item(format!("scale_{side}"), to_array3(py, &nw.scale, d, d))?;
    }
    out.set_item("startprob", model.start_probs().into_pyarray(py))?;
    out.set_item("transmat", to_array2(py, model.transitions().as_ref()))?;
    out.set_item("covars", to_array3(py, &model.emission().covariances(), d, d))?;
    out.set_item("report", crate::report::to_dict(py, &fitted.report)?)?;
    Ok(out)
}
