//! The variational Bayesian mixture: the function behind
//! `emfit.mixture.BayesianGaussianMixture`.
//!
//! The fit returns the posterior in scikit-learn's shapes; inference
//! (`predict_proba`, `score_samples`) goes through the mixture functions
//! with the expected mixture's weights (`expected_weights`) plus
//! `log_weight_normaliser` per row (see
//! `mixture::variational::posterior`).

use crate::array::rows;
use crate::covariance::covariances_array;
use crate::error::value_error;
use crate::fit;
use mixture::CovarianceType;
use mixture::Start;
use mixture::faer::Mat;
use mixture::variational::{
    CovariancePrior, PriorSettings, VariationalInit, VariationalInitMethod, VariationalMixture,
    WeightConcentration, WeightPrior,
};
use numpy::{IntoPyArray, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Registers the function.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(bgmm_fit, m)?)?;
    Ok(())
}

/// The covariance prior of type `kind` from its values, row-major: d x d
/// (full, tied), d (diag) or one value (spherical).
fn scale_prior(kind: CovarianceType, values: &[f64], d: usize) -> PyResult<CovariancePrior> {
    let expected = match kind {
        CovarianceType::Full | CovarianceType::Tied => d * d,
        CovarianceType::Diagonal => d,
        CovarianceType::Spherical => 1,
    };
    if values.len() != expected {
        return Err(value_error(format!(
            "covariance_prior must hold {expected} values for covariance_type {kind}, got {}",
            values.len()
        )));
    }
    Ok(match kind {
        CovarianceType::Full | CovarianceType::Tied => {
            CovariancePrior::Matrix(Mat::from_fn(d, d, |i, j| values[i * d + j]))
        }
        CovarianceType::Diagonal => CovariancePrior::Diagonal(values.to_vec()),
        CovarianceType::Spherical => CovariancePrior::Spherical(values[0]),
    })
}

/// Fits the variational mixture to `x` (n, d) and returns its posterior,
/// priors and report as a dict (keys: `weights`, `means`, `covariances`,
/// `weight_concentration` (a pair of arrays for the Dirichlet process),
/// `mean_precision`, `degrees_of_freedom` (one value for tied),
/// `lower_bound`, `expected_weights`, `log_weight_normaliser`,
/// `n_effective_components`, the resolved priors `weight_concentration_prior`,
/// `mean_precision_prior`, `mean_prior`, `degrees_of_freedom_prior`,
/// `covariance_prior` (flat), and `report`).
///
/// Priors left `None` take scikit-learn's defaults from the data;
/// `covariance_prior` is flat (see [`scale_prior`]). The start is
/// `resp_init` (n, K) when given, else `init`: `"kmeans"` or `"random"`.
/// The loop's arguments are [`fit::settings`]'s (plain steps: the model
/// takes no acceleration).
#[pyfunction]
#[pyo3(signature = (x, n_components, covariance_type, weight_concentration_prior_type, weight_concentration_prior, mean_precision_prior, mean_prior, degrees_of_freedom_prior, covariance_prior, reg_covar, init, resp_init, max_iter, tol, stopping, n_init, seed, verbose))]
fn bgmm_fit<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f64>,
    n_components: usize,
    covariance_type: &str,
    weight_concentration_prior_type: &str,
    weight_concentration_prior: Option<f64>,
    mean_precision_prior: Option<f64>,
    mean_prior: Option<PyReadonlyArray1<'py, f64>>,
    degrees_of_freedom_prior: Option<f64>,
    covariance_prior: Option<PyReadonlyArray1<'py, f64>>,
    reg_covar: f64,
    init: &str,
    resp_init: Option<PyReadonlyArray2<'py, f64>>,
    max_iter: usize,
    tol: f64,
    stopping: &str,
    n_init: usize,
    seed: u64,
    verbose: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let kind = crate::covariance::covariance_type(covariance_type)?;
    let x = rows(&x)?;
    let weight_prior = match weight_concentration_prior_type {
        "dirichlet_process" => WeightPrior::DirichletProcess,
        "dirichlet_distribution" => WeightPrior::DirichletDistribution,
        other => {
            return Err(value_error(format!(
                "weight_concentration_prior_type must be 'dirichlet_process' or 'dirichlet_distribution', got {other:?}"
            )));
        }
    };
    let prior = PriorSettings {
        weight_prior,
        weight_concentration: weight_concentration_prior,
        mean_precision: mean_precision_prior,
        mean: mean_prior.map(|m| m.as_array().to_vec()),
        degrees_of_freedom: degrees_of_freedom_prior,
        covariance: covariance_prior
            .map(|c| scale_prior(kind, &c.as_array().to_vec(), x.ncols()))
            .transpose()?,
    };
    let method = match (resp_init, init) {
        (Some(resp), _) => VariationalInitMethod::Responsibilities(rows(&resp)?.to_owned()),
        (None, "kmeans") => VariationalInitMethod::KMeans { max_rounds: 300 },
        (None, "random") => VariationalInitMethod::RandomResponsibilities,
        (None, other) => {
            return Err(value_error(format!(
                "init_params must be 'kmeans' or 'random', got {other:?}"
            )));
        }
    };
    let config = VariationalInit::new(n_components, kind)
        .with_prior(prior)
        .with_reg_covar(reg_covar)
        .with_method(method);
    let settings = fit::settings(max_iter, tol, stopping, "none", n_init, seed)?;
    let fitted = fit::run(py, verbose, |observer| {
        mixture::em_core::fit_observed::<VariationalMixture, _>(
            x,
            Start::FromData(config),
            &(),
            &settings,
            observer,
        )
    })?;
    let model = &fitted.model;
    let d = model.n_features();
    let out = PyDict::new(py);
    out.set_item("weights", model.weights().into_pyarray(py))?;
    out.set_item("means", crate::array::to_array2(py, model.means()))?;
    out.set_item(
        "covariances",
        covariances_array(model.covariances(), d).into_pyarray(py),
    )?;
    match model.weight_concentration() {
        WeightConcentration::Dirichlet(alpha) => {
            out.set_item("weight_concentration", alpha.clone().into_pyarray(py))?;
        }
        WeightConcentration::StickBreaking { a, b } => out.set_item(
            "weight_concentration",
            (a.clone().into_pyarray(py), b.clone().into_pyarray(py)),
        )?,
    }
    out.set_item("mean_precision", model.mean_precision().to_vec().into_pyarray(py))?;
    if kind == CovarianceType::Tied {
        out.set_item("degrees_of_freedom", model.degrees_of_freedom()[0])?;
    } else {
        out.set_item(
            "degrees_of_freedom",
            model.degrees_of_freedom().to_vec().into_pyarray(py),
        )?;
    }
    out.set_item("lower_bound", model.lower_bound())?;
    out.set_item(
        "expected_weights",
        model.expected_mixture().weights().to_vec().into_pyarray(py),
    )?;
    out.set_item("log_weight_normaliser", model.log_weight_normaliser())?;
    out.set_item("n_effective_components", model.n_effective_components())?;
    let prior = &model.config().prior;
    out.set_item("weight_concentration_prior", prior.weight_concentration)?;
    out.set_item("mean_precision_prior", prior.mean_precision)?;
    out.set_item("mean_prior", prior.mean.clone().into_pyarray(py))?;
    out.set_item("degrees_of_freedom_prior", prior.degrees_of_freedom)?;
    let flat_prior: Vec<f64> = match prior.covariance.clone() {
        CovariancePrior::Matrix(m) => (0..d * d).map(|i| m[(i / d, i % d)]).collect(),
        CovariancePrior::Diagonal(v) => v,
        CovariancePrior::Spherical(v) => vec![v],
    };
    out.set_item("covariance_prior", flat_prior.into_pyarray(py))?;
    out.set_item("report", crate::report::to_dict(py, &fitted.report)?)?;
    Ok(out)
}
