//! Hidden Markov models: the functions behind `emfit.hmm.GaussianHMM`,
//! `GMMHMM`, `CategoricalHMM` and `PoissonHMM`.
//!
//! A model crosses the boundary as a dict of arrays in hmmlearn's shapes
//! (K states, d features, M mixture components per state):
//!
//! | key            | family      | shape                                  |
//! |----------------|-------------|----------------------------------------|
//! | `startprob`    | all         | (K,)                                   |
//! | `transmat`     | all         | (K, K)                                 |
//! | `means`        | gaussian    | (K, d)                                 |
//! | `covars`       | gaussian    | (K, d, d) full, (K, d) diag, (K,) spherical, (d, d) tied |
//! | `weights`      | gmm         | (K, M)                                 |
//! | `means`        | gmm         | (K, M, d)                              |
//! | `covars`       | gmm         | (K, M, d, d) full, (K, M, d) diag, (K, M) spherical, (K, d, d) tied |
//! | `emissionprob` | categorical | (K, n_symbols)                         |
//! | `lambdas`      | poisson     | (K, d)                                 |
//!
//! Every function rebuilds the model with the `hmm` crate's validating
//! constructors (rows on the simplex, SPD covariances, non-negative rates),
//! so a bad parameter is a `ValueError` naming the table, row or state.
//! Observations are the stacked rows of all sequences plus their lengths
//! (`hmm::Sequences`), validated there (lengths summing to n, finite values,
//! naming the sequence and row of a bad value); categorical symbols are one
//! column of integer-valued floats.

use crate::array::{rows, to_array2};
use crate::chunked::Callback;
use crate::covariance::{
    check_ndim, covariance_ndim, covariance_shape, covariances_array, covariances_at, sub_matrix,
};
use crate::error::{OrValueError, value_error};
use crate::fit;
use ::hmm::faer::Mat;
use ::hmm::rand::SeedableRng;
use ::hmm::rand::rngs::StdRng;
use ::hmm::{
    CategoricalEmission, CategoricalInit, CovarianceType, Covariances, Emission, Floor, GammaPrior,
    GaussianEmission, GaussianInit, GmmEmission, GmmInit, Hmm, InitConfig, LearnSet, MStepOptions,
    NormalPrior, Param, PoissonEmission, PoissonInit, Sequences, Start,
};
use numpy::ndarray::{ArrayD, Axis, Dimension, IxDyn};
use numpy::{IntoPyArray, PyReadonlyArray2, PyReadonlyArrayDyn};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Registers the HMM functions.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(hmm_fit, m)?)?;
    m.add_function(wrap_pyfunction!(hmm_score, m)?)?;
    m.add_function(wrap_pyfunction!(hmm_posteriors, m)?)?;
    m.add_function(wrap_pyfunction!(hmm_viterbi, m)?)?;
    m.add_function(wrap_pyfunction!(hmm_sample, m)?)?;
    m.add_function(wrap_pyfunction!(hmm_n_parameters, m)?)?;
    Ok(())
}

/// What kind of HMM a call is about: the emission family (`"gaussian"`,
/// `"gmm"`, `"categorical"`, `"poisson"`), the covariance type of Gaussian
/// and GMM emissions and the components per state of GMM emissions.
#[derive(Clone, Copy)]
pub(crate) struct Spec {
    /// The covariance type (Gaussian and GMM emissions).
    covariance_type: CovarianceType,
    /// Components per state (GMM emissions).
    n_mix: usize,
}

/// Runs `$body` with `$E` the emission type of the family `$family`.
macro_rules! with_emission {
    ($family:expr, $E:ident => $body:expr) => {
        match $family {
            "gaussian" => {
                type $E = ::hmm::GaussianEmission;
                $body
            }
            "gmm" => {
                type $E = ::hmm::GmmEmission;
                $body
            }
            "categorical" => {
                type $E = ::hmm::CategoricalEmission;
                $body
            }
            "poisson" => {
                type $E = ::hmm::PoissonEmission;
                $body
            }
            other => Err($crate::error::value_error(format!(
                "the emission family must be 'gaussian', 'gmm', 'categorical' or 'poisson', got {other:?}"
            ))),
        }
    };
}
pub(crate) use with_emission;

/// The parameter `key` of a parameter dict, if present.
pub(crate) fn optional(params: &Bound<'_, PyDict>, key: &str) -> PyResult<Option<ArrayD<f64>>> {
    match params.get_item(key)? {
        None => Ok(None),
        Some(value) if value.is_none() => Ok(None),
        Some(value) => Ok(Some(
            value
                .extract::<PyReadonlyArrayDyn<'_, f64>>()?
                .as_array()
                .to_owned(),
        )),
    }
}

/// The parameter `key` of a parameter dict.
fn required(params: &Bound<'_, PyDict>, key: &str) -> PyResult<ArrayD<f64>> {
    optional(params, key)?.ok_or_else(|| value_error(format!("the parameter {key} is missing")))
}

/// A 2-D array as a matrix.
fn matrix(a: &ArrayD<f64>, what: &str, shape: &str) -> PyResult<Mat<f64>> {
    check_ndim(a, 2, what, shape)?;
    Ok(Mat::from_fn(a.shape()[0], a.shape()[1], |i, j| {
        a[[i, j].as_slice()]
    }))
}

/// The conjugate priors of Gaussian (`gmm` false: one, its components the
/// states) or GMM emissions (one per state) from the keys `means_prior`,
/// `means_weight`, `covars_scale` and `covars_mass` of `priors` (the `hmm`
/// crate's `NormalPrior`, the Python layer converts hmmlearn's
/// parameters); `None` without `means_prior`.
fn normal_priors(
    priors: &Bound<'_, PyDict>,
    kind: CovarianceType,
    gmm: bool,
) -> PyResult<Option<Vec<NormalPrior>>> {
    let Some(means) = optional(priors, "means_prior")? else {
        return Ok(None);
    };
    let (weight, scale, mass) = (
        required(priors, "means_weight")?,
        required(priors, "covars_scale")?,
        required(priors, "covars_mass")?,
    );
    let lead = usize::from(gmm);
    let (means_shape, weight_shape) = if gmm {
        ("(n_components, n_mix, n_features)", "(n_components, n_mix)")
    } else {
        ("(n_components, n_features)", "(n_components,)")
    };
    check_ndim(&means, lead + 2, "means_prior", means_shape)?;
    check_ndim(&weight, lead + 1, "means_weight", weight_shape)?;
    check_ndim(
        &scale,
        lead + covariance_ndim(kind),
        "covars_prior",
        covariance_shape(kind, gmm),
    )?;
    let mass_ndim = match kind {
        CovarianceType::Diagonal => 2,
        CovarianceType::Full | CovarianceType::Spherical => 1,
        CovarianceType::Tied => 0,
    };
    check_ndim(
        &mass,
        lead + mass_ndim,
        "covars_weight",
        "that of the covariance prior's weights",
    )?;
    let count = if gmm { means.shape()[0] } else { 1 };
    let at = |a: &ArrayD<f64>, j: usize| {
        if gmm {
            a.index_axis(Axis(0), j).to_owned()
        } else {
            a.clone()
        }
    };
    (0..count)
        .map(|j| {
            let index: &[usize] = if gmm { &[j] } else { &[] };
            let mass = at(&mass, j);
            let extra_mass = match mass.ndim() {
                2 => sub_matrix(&mass, &[]),
                1 => Mat::from_fn(mass.len(), 1, |c, _| mass[[c].as_slice()]),
                _ => Mat::from_fn(1, 1, |_, _| mass[IxDyn(&[])]),
            };
            Ok(NormalPrior {
                means: sub_matrix(&means, index),
                means_weight: at(&weight, j).iter().copied().collect(),
                scale: covariances_at(kind, &scale, index),
                extra_mass,
            })
        })
        .collect::<PyResult<Vec<_>>>()
        .map(Some)
}

/// The Gamma prior of Poisson rates from the keys `lambdas_shape` and
/// `lambdas_rate` (K, d) of `priors`; `None` without them.
fn gamma_prior(priors: &Bound<'_, PyDict>) -> PyResult<Option<GammaPrior>> {
    let Some(shape) = optional(priors, "lambdas_shape")? else {
        return Ok(None);
    };
    let rate = required(priors, "lambdas_rate")?;
    Ok(Some(GammaPrior {
        shape: matrix(&shape, "lambdas_prior", "(n_components, n_features)")?,
        rate: matrix(&rate, "lambdas_weight", "(n_components, n_features)")?,
    }))
}

/// An emission as the Python layer sees it: built from, and exported to,
/// the parameter dict; initialised from the given parameters and the data.
pub(crate) trait Binding: Emission {
    /// The emission from the parameter dict.
    fn from_params(spec: Spec, params: &Bound<'_, PyDict>) -> PyResult<Self>;

    /// Adds the emission's parameters to the dict.
    fn export(&self, py: Python<'_>, params: &Bound<'_, PyDict>) -> PyResult<()>;

    /// The initialisation: the emission parameters in `given` kept, the
    /// others from the data. `min_covar` is the floor added to the data
    /// covariance of Gaussian and GMM emissions; `n_features` the number of
    /// symbols of categorical emissions (`None`: from the data).
    fn init_config(
        spec: Spec,
        given: &Bound<'_, PyDict>,
        min_covar: f64,
        n_features: Option<usize>,
    ) -> PyResult<Self::InitConfig>;

    /// Whether `given` holds every emission parameter (a warm start).
    fn complete(given: &Bound<'_, PyDict>) -> PyResult<bool>;
}

/// Whether every key is present (and not None) in the dict.
fn all_present(given: &Bound<'_, PyDict>, keys: &[&str]) -> PyResult<bool> {
    for key in keys {
        if optional(given, key)?.is_none() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The absolute covariance floor `value` (the argument `what`).
fn floor(what: &str, value: f64) -> PyResult<Floor> {
    if value >= 0.0 && value.is_finite() {
        Ok(Floor::Absolute(value))
    } else {
        Err(value_error(format!(
            "{what} must be finite and >= 0, got {value}"
        )))
    }
}

impl Binding for GaussianEmission {
    fn from_params(spec: Spec, params: &Bound<'_, PyDict>) -> PyResult<Self> {
        let means = matrix(&required(params, "means")?, "means", "(n_components, n_features)")?;
        let kind = spec.covariance_type;
        let c = required(params, "covars")?;
        check_ndim(&c, covariance_ndim(kind), "covars", covariance_shape(kind, false))?;
        GaussianEmission::new(means, covariances_at(kind, &c, &[])).or_value_error()
    }

    fn export(&self, py: Python<'_>, params: &Bound<'_, PyDict>) -> PyResult<()> {
        params.set_item("means", to_array2(py, self.means()))?;
        params.set_item(
            "covars",
            covariances_array(self.covariances(), self.n_features()).into_pyarray(py),
        )
    }

    fn init_config(
        spec: Spec,
        given: &Bound<'_, PyDict>,
        min_covar: f64,
        _: Option<usize>,
    ) -> PyResult<GaussianInit> {
        let kind = spec.covariance_type;
        let mut init = GaussianInit::new(kind);
        init.covariance_floor = floor("min_covar", min_covar)?;
        if let Some(m) = optional(given, "means")? {
            init.means = Some(matrix(&m, "means", "(n_components, n_features)")?);
        }
        if let Some(c) = optional(given, "covars")? {
            check_ndim(&c, covariance_ndim(kind), "covars", covariance_shape(kind, false))?;
            init.covariances = Some(covariances_at(kind, &c, &[]));
        }
        Ok(init)
    }

    fn complete(given: &Bound<'_, PyDict>) -> PyResult<bool> {
        all_present(given, &["means", "covars"])
    }
}

/// The per-state covariances of a GMM emission from hmmlearn's array.
fn gmm_covariances(kind: CovarianceType, c: &ArrayD<f64>) -> PyResult<Vec<Covariances>> {
    check_ndim(
        c,
        covariance_ndim(kind) + 1,
        "covars",
        covariance_shape(kind, true),
    )?;
    Ok((0..c.shape()[0]).map(|j| covariances_at(kind, c, &[j])).collect())
}

/// The per-state means of a GMM emission from the (K, M, d) array.
fn gmm_means(m: &ArrayD<f64>) -> PyResult<Vec<Mat<f64>>> {
    check_ndim(m, 3, "means", "(n_components, n_mix, n_features)")?;
    Ok((0..m.shape()[0]).map(|j| sub_matrix(m, &[j])).collect())
}

impl Binding for GmmEmission {
    fn from_params(spec: Spec, params: &Bound<'_, PyDict>) -> PyResult<Self> {
        let weights = matrix(&required(params, "weights")?, "weights", "(n_components, n_mix)")?;
        let means = gmm_means(&required(params, "means")?)?;
        let covariances = gmm_covariances(spec.covariance_type, &required(params, "covars")?)?;
        GmmEmission::new(weights, means, covariances).or_value_error()
    }

    fn export(&self, py: Python<'_>, params: &Bound<'_, PyDict>) -> PyResult<()> {
        let (k, m, d) = (self.n_states(), self.n_mix(), self.n_features());
        params.set_item("weights", to_array2(py, self.weights().as_ref()))?;
        let means = ArrayD::from_shape_fn(IxDyn(&[k, m, d]), |i| self.means(i[0])[(i[1], i[2])]);
        params.set_item("means", means.into_pyarray(py))?;
        let per_state: Vec<ArrayD<f64>> = (0..k)
            .map(|j| covariances_array(self.covariances(j), d))
            .collect();
        let inner = per_state[0].shape().to_vec();
        let shape: Vec<usize> = std::iter::once(k).chain(inner).collect();
        let covars = ArrayD::from_shape_fn(IxDyn(&shape), |i| per_state[i[0]][IxDyn(&i.slice()[1..])]);
        params.set_item("covars", covars.into_pyarray(py))
    }

    fn init_config(
        spec: Spec,
        given: &Bound<'_, PyDict>,
        min_covar: f64,
        _: Option<usize>,
    ) -> PyResult<GmmInit> {
        let mut init = GmmInit::new(spec.n_mix, spec.covariance_type);
        init.covariance_floor = floor("min_covar", min_covar)?;
        if let Some(w) = optional(given, "weights")? {
            init.weights = Some(matrix(&w, "weights", "(n_components, n_mix)")?);
        }
        if let Some(m) = optional(given, "means")? {
            init.means = Some(gmm_means(&m)?);
        }
        if let Some(c) = optional(given, "covars")? {
            init.covariances = Some(gmm_covariances(spec.covariance_type, &c)?);
        }
        Ok(init)
    }

    fn complete(given: &Bound<'_, PyDict>) -> PyResult<bool> {
        all_present(given, &["weights", "means", "covars"])
    }
}

impl Binding for CategoricalEmission {
    fn from_params(_: Spec, params: &Bound<'_, PyDict>) -> PyResult<Self> {
        let b = required(params, "emissionprob")?;
        CategoricalEmission::new(matrix(&b, "emissionprob", "(n_components, n_features)")?).or_value_error()
    }

    fn export(&self, py: Python<'_>, params: &Bound<'_, PyDict>) -> PyResult<()> {
        params.set_item("emissionprob", to_array2(py, self.probabilities()))
    }

    fn init_config(
        _: Spec,
        given: &Bound<'_, PyDict>,
        _: f64,
        n_features: Option<usize>,
    ) -> PyResult<CategoricalInit> {
        let probabilities = optional(given, "emissionprob")?
            .map(|b| matrix(&b, "emissionprob", "(n_components, n_features)"))
            .transpose()?;
        Ok(CategoricalInit {
            n_symbols: n_features,
            probabilities,
        })
    }

    fn complete(given: &Bound<'_, PyDict>) -> PyResult<bool> {
        all_present(given, &["emissionprob"])
    }
}

impl Binding for PoissonEmission {
    fn from_params(_: Spec, params: &Bound<'_, PyDict>) -> PyResult<Self> {
        let rates = required(params, "lambdas")?;
        PoissonEmission::new(matrix(&rates, "lambdas", "(n_components, n_features)")?).or_value_error()
    }

    fn export(&self, py: Python<'_>, params: &Bound<'_, PyDict>) -> PyResult<()> {
        params.set_item("lambdas", to_array2(py, self.rates()))
    }

    fn init_config(_: Spec, given: &Bound<'_, PyDict>, _: f64, _: Option<usize>) -> PyResult<PoissonInit> {
        let rates = optional(given, "lambdas")?
            .map(|r| matrix(&r, "lambdas", "(n_components, n_features)"))
            .transpose()?;
        Ok(PoissonInit {
            rates,
            ..PoissonInit::default()
        })
    }

    fn complete(given: &Bound<'_, PyDict>) -> PyResult<bool> {
        all_present(given, &["lambdas"])
    }
}

/// The start probabilities, if given.
fn start_of(params: &Bound<'_, PyDict>) -> PyResult<Option<Vec<f64>>> {
    optional(params, "startprob")?
        .map(|s| {
            check_ndim(&s, 1, "startprob", "(n_components,)")?;
            Ok(s.iter().copied().collect())
        })
        .transpose()
}

/// The transition matrix, if given.
fn transitions_of(params: &Bound<'_, PyDict>) -> PyResult<Option<Mat<f64>>> {
    optional(params, "transmat")?
        .map(|a| matrix(&a, "transmat", "(n_components, n_components)"))
        .transpose()
}

/// The model of a complete parameter dict.
pub(crate) fn model<E: Binding>(spec: Spec, params: &Bound<'_, PyDict>) -> PyResult<Hmm<E>> {
    let start = start_of(params)?.ok_or_else(|| value_error("the parameter startprob is missing"))?;
    let transitions =
        transitions_of(params)?.ok_or_else(|| value_error("the parameter transmat is missing"))?;
    let emission = E::from_params(spec, params)?;
    Hmm::new(start, transitions.as_ref(), emission).or_value_error()
}

/// The parameters of a model as a dict.
pub(crate) fn export<'py, E: Binding>(py: Python<'py>, model: &Hmm<E>) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("startprob", model.start_probs().to_vec().into_pyarray(py))?;
    d.set_item("transmat", to_array2(py, model.transitions()))?;
    model.emission().export(py, &d)?;
    Ok(d)
}

/// hmmlearn's parameter letters as the blocks an M-step learns: `s` start,
/// `t` transitions, `m` means, `c` covariances, `w` mixture weights, `e`
/// emission probabilities, `l` Poisson rates.
pub(crate) fn learn_set(letters: &str) -> PyResult<LearnSet> {
    let mut learn = LearnSet::only(&[]);
    for letter in letters.chars() {
        let block = match letter {
            's' => Param::Start,
            't' => Param::Transitions,
            'm' => Param::Means,
            'c' => Param::Covariances,
            'w' => Param::Weights,
            'e' => Param::Probabilities,
            'l' => Param::Rates,
            other => {
                return Err(value_error(format!(
                    "params may only contain the letters 's', 't', 'm', 'c', 'w', 'e', 'l', got {other:?}"
                )));
            }
        };
        learn = learn.with(block);
    }
    Ok(learn)
}

/// The observations as sequences.
pub(crate) fn sequences<'a>(x: &'a PyReadonlyArray2<'_, f64>, lengths: &[usize]) -> PyResult<Sequences<'a>> {
    Sequences::new(rows(x)?, lengths).or_value_error()
}

/// The emission family, its covariance type and components per state.
pub(crate) fn spec(covariance_type: &str, n_mix: usize) -> PyResult<Spec> {
    Ok(Spec {
        covariance_type: crate::covariance::covariance_type(covariance_type)?,
        n_mix,
    })
}

/// The M-step options of an HMM of the emission `family`: hmmlearn's
/// `params` letters of the blocks learned, the `priors` and `reg_covar`
/// (see [`hmm_fit`]).
pub(crate) fn m_step_options(
    family: &str,
    spec: Spec,
    params: &str,
    priors: &Bound<'_, PyDict>,
    reg_covar: Option<f64>,
) -> PyResult<MStepOptions> {
    Ok(MStepOptions {
        learn: learn_set(params)?,
        start_prior: optional(priors, "startprob")?.map(|a| a.iter().copied().collect()),
        transition_prior: optional(priors, "transmat")?
            .map(|a| matrix(&a, "transmat_prior", "(n_components, n_components)"))
            .transpose()?,
        weight_prior: optional(priors, "weights")?
            .map(|a| matrix(&a, "weights_prior", "(n_components, n_mix)"))
            .transpose()?,
        emission_prior: optional(priors, "emissionprob")?
            .map(|a| matrix(&a, "emissionprob_prior", "(n_components, n_features)"))
            .transpose()?,
        normal_prior: normal_priors(priors, spec.covariance_type, family == "gmm")?,
        rate_prior: gamma_prior(priors)?,
        covariance_floor: match reg_covar {
            Some(value) => floor("reg_covar", value)?,
            None => MStepOptions::default().covariance_floor,
        },
    })
}

/// Fits an HMM of the emission `family` with `n_components` states to the
/// sequences of `x` (n, d) cut by `lengths` (Baum-Welch, by the `em-core`
/// loop).
///
/// - `given`: the parameters set by hand that the fit starts from (keys
///   of the module's table); every parameter missing is initialised from
///   the data by the `hmm` crate's recipe (uniform start and transition
///   probabilities; k-means means and the data covariance plus `min_covar`
///   for Gaussian emissions, nested k-means for GMM emissions, random rows
///   for categorical emissions, k-means rates for Poisson emissions). With
///   every parameter given the fit is a warm start (one run, `n_init` is
///   ignored).
/// - `params`: hmmlearn's letters of the blocks the M-step learns.
/// - `priors`: Dirichlet concentrations `startprob` (K,), `transmat`
///   (K, K), `weights` (K, M), `emissionprob` (K, n_symbols), each `≥ 1`,
///   turning the update of a probability row into its MAP estimate
///   `p_j ∝ n_j + α_j − 1`; the `hmm` crate's `NormalPrior` of Gaussian and
///   GMM emissions as `means_prior` (μ₀), `means_weight` (λ),
///   `covars_scale` (Ψ, in the covariances' shape) and `covars_mass` (a:
///   (K,) full and spherical, (K, d) diagonal, () tied; a leading state
///   axis for GMM emissions); its `GammaPrior` of Poisson rates as
///   `lambdas_shape` (α) and `lambdas_rate` (β), (K, d). Absent: maximum
///   likelihood.
/// - `min_covar`: added to the diagonal of the data covariance of the
///   initialisation (hmmlearn's use of it).
/// - `reg_covar`: the lower bound on every variance the M-step updates
///   (`0`: none); `None`: the `hmm` crate's default bound, `10⁻⁶` times the
///   variance of each feature of the data, which does not depend on the
///   units of the data.
/// - `n_features`: the number of symbols of a categorical emission (None:
///   one more than the largest symbol).
///
/// See [`fit::settings`] for the loop's arguments. Returns `(parameters,
/// report)`.
///
/// With `e_steps` (the Dask driver, [`crate::chunked`]) the data are
/// elsewhere: every E-step is `e_steps(parameters, log_likelihood_only)`,
/// and `x` cut by `lengths` is the seeded sample that the initialisation of
/// the parameters not given runs on.
#[pyfunction]
#[pyo3(signature = (family, x, lengths, n_components, covariance_type, n_mix, n_features, given, params, priors, min_covar, reg_covar, max_iter, tol, stopping, acceleration, n_init, seed, verbose, e_steps=None))]
fn hmm_fit<'py>(
    py: Python<'py>,
    family: &str,
    x: PyReadonlyArray2<'py, f64>,
    lengths: Vec<usize>,
    n_components: usize,
    covariance_type: &str,
    n_mix: usize,
    n_features: Option<usize>,
    given: Bound<'py, PyDict>,
    params: &str,
    priors: Bound<'py, PyDict>,
    min_covar: f64,
    reg_covar: Option<f64>,
    max_iter: usize,
    tol: f64,
    stopping: &str,
    acceleration: &str,
    n_init: usize,
    seed: u64,
    verbose: bool,
    e_steps: Option<Py<PyAny>>,
) -> PyResult<(Bound<'py, PyDict>, Bound<'py, PyDict>)> {
    let spec = spec(covariance_type, n_mix)?;
    let options = m_step_options(family, spec, params, &priors, reg_covar)?;
    let data = sequences(&x, &lengths)?;
    with_emission!(family, E => {
        let start_given = start_of(&given)?;
        let transitions_given = transitions_of(&given)?;
        let warm = start_given.is_some() && transitions_given.is_some() && E::complete(&given)?;
        let (start, restarts) = if warm {
            (Start::Warm(model::<E>(spec, &given)?), 1)
        } else {
            let mut config = InitConfig::new(n_components, E::init_config(spec, &given, min_covar, n_features)?);
            config.start = start_given;
            config.transitions = transitions_given;
            (Start::FromData(config), n_init)
        };
        if let Start::Warm(m) = &start && m.n_states() != n_components {
            return Err(value_error(format!(
                "the given parameters have {} states, n_components is {n_components}",
                m.n_states()
            )));
        }
        let settings = fit::settings(max_iter, tol, stopping, acceleration, restarts, seed)?;
        let chunked = e_steps.map(|e_steps| {
            let arguments = |py: Python<'_>, model: &Hmm<E>| Ok(export(py, model)?.into_any().unbind());
            Callback::new(e_steps, arguments, &data)
        });
        let fitted = fit::run(py, verbose, |observer| match &chunked {
            None => ::hmm::fit_observed(&data, start, &options, &settings, observer),
            Some(chunked) => em_core::fit_with(chunked, start, &options, &settings, observer),
        });
        if let Some(chunked) = &chunked {
            chunked.reraise()?;
        }
        let fitted = fitted?;
        Ok((export(py, &fitted.model)?, crate::report::to_dict(py, &fitted.report)?))
    })
}

/// `ln p(x_s | θ)` of every sequence (the forward algorithm), shape
/// (n_sequences,).
#[pyfunction]
fn hmm_score<'py>(
    py: Python<'py>,
    family: &str,
    covariance_type: &str,
    n_mix: usize,
    params: Bound<'py, PyDict>,
    x: PyReadonlyArray2<'py, f64>,
    lengths: Vec<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    let spec = spec(covariance_type, n_mix)?;
    let data = sequences(&x, &lengths)?;
    with_emission!(family, E => {
        let model = model::<E>(spec, &params)?;
        let scores = py.detach(|| model.score_sequences(&data)).or_value_error()?;
        Ok(scores.into_pyarray(py).into_any())
    })
}

/// Forward-backward: `(ln p(x_s | θ) of every sequence, the posteriors
/// γ_t(j) = p(z_t = j | x) (n, K))`.
#[pyfunction]
fn hmm_posteriors<'py>(
    py: Python<'py>,
    family: &str,
    covariance_type: &str,
    n_mix: usize,
    params: Bound<'py, PyDict>,
    x: PyReadonlyArray2<'py, f64>,
    lengths: Vec<usize>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let spec = spec(covariance_type, n_mix)?;
    let data = sequences(&x, &lengths)?;
    with_emission!(family, E => {
        let model = model::<E>(spec, &params)?;
        let fb = py.detach(|| model.forward_backward(&data)).or_value_error()?;
        Ok((
            fb.log_likelihoods.into_pyarray(py).into_any(),
            to_array2(py, fb.posteriors.as_ref()).into_any(),
        ))
    })
}

/// Viterbi decoding: `(ln p(x_s, z*_s) of every sequence's best path, the
/// paths of all sequences concatenated (n,))`; ties go to the lowest state.
#[pyfunction]
fn hmm_viterbi<'py>(
    py: Python<'py>,
    family: &str,
    covariance_type: &str,
    n_mix: usize,
    params: Bound<'py, PyDict>,
    x: PyReadonlyArray2<'py, f64>,
    lengths: Vec<usize>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let spec = spec(covariance_type, n_mix)?;
    let data = sequences(&x, &lengths)?;
    with_emission!(family, E => {
        let model = model::<E>(spec, &params)?;
        let decoding = py.detach(|| model.decode(&data)).or_value_error()?;
        // Collected in place: i64 and usize have one size, no second buffer.
        let states: Vec<i64> = decoding.states.into_iter().map(|s| s as i64).collect();
        Ok((
            decoding.log_probs.into_pyarray(py).into_any(),
            states.into_pyarray(py).into_any(),
        ))
    })
}

/// One sequence of `n` observations drawn from the model with a generator
/// seeded by `seed`: `(x (n, d), states (n,))`. With `currstate` the
/// sequence starts in that state instead of one drawn from the start
/// probabilities (hmmlearn's continuation of a sampled sequence).
#[pyfunction]
#[pyo3(signature = (family, covariance_type, n_mix, params, n, seed, currstate=None))]
#[allow(clippy::too_many_arguments)]
fn hmm_sample<'py>(
    py: Python<'py>,
    family: &str,
    covariance_type: &str,
    n_mix: usize,
    params: Bound<'py, PyDict>,
    n: usize,
    seed: u64,
    currstate: Option<usize>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let spec = spec(covariance_type, n_mix)?;
    with_emission!(family, E => {
        let mut model = model::<E>(spec, &params)?;
        if let Some(state) = currstate {
            let k = model.n_states();
            if state >= k {
                return Err(value_error(format!(
                    "currstate must be a state in 0..{k}, got {state}"
                )));
            }
            let start: Vec<f64> = (0..k).map(|j| if j == state { 1.0 } else { 0.0 }).collect();
            model = Hmm::new(start, model.transitions(), model.emission().clone()).or_value_error()?;
        }
        let (x, states) = py
            .detach(|| model.sample(n, &mut StdRng::seed_from_u64(seed)))
            .or_value_error()?;
        let states: Vec<i64> = states.into_iter().map(|s| s as i64).collect();
        Ok((
            to_array2(py, x.as_ref()).into_any(),
            states.into_pyarray(py).into_any(),
        ))
    })
}

/// The number of free parameters of the model (structural zeros of the
/// start and transition probabilities are not parameters), for the
/// information criteria `AIC = −2 ln L + 2p` and `BIC = −2 ln L + p ln n`.
#[pyfunction]
fn hmm_n_parameters(
    family: &str,
    covariance_type: &str,
    n_mix: usize,
    params: Bound<'_, PyDict>,
) -> PyResult<usize> {
    let spec = spec(covariance_type, n_mix)?;
    with_emission!(family, E => Ok(model::<E>(spec, &params)?.n_parameters()))
}
