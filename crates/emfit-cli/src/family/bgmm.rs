//! Variational Bayesian Gaussian mixtures (`emfit fit bgmm`, and model
//! files of kind `bgmm`).
//!
//! `--components` is an upper bound K: the fit keeps a posterior over K
//! components and the data leave the ones they do not need with weights
//! near 0; the report counts the effective ones (weight above 1%).
//!
//! - `emfit predict` gives the variational responsibilities (scikit-learn's
//!   `predict` and `predict_proba`);
//! - `emfit sample` draws from the posterior-mean mixture (weights, means
//!   and covariances `Cₖ` of the posterior, as scikit-learn's `sample`);
//! - `emfit score` is refused: the fit maximises a lower bound of the
//!   evidence, not a likelihood, so there is no log-likelihood with BIC and
//!   AIC to report; `emfit fit bgmm` prints the bound.

use em_driver::faer::MatRef;
use em_driver::mixture::CovarianceType;
use em_driver::mixture::GaussianMixture;
use em_driver::mixture::variational::{
    DEFAULT_REG_COVAR, EFFECTIVE_WEIGHT, PriorSettings, VariationalInit, VariationalMixture, WeightPrior,
};
use em_driver::rand::rngs::StdRng;
use em_driver::{Settings, Start};

use super::gmm::covariance_type;
use crate::apply::{Apply, Prediction, Score, Table};
use crate::args::{FitArgs, WeightPriorArg};
use crate::error::{CliError, model, usage};
use crate::fit::{Family, Flag, check_components, components, reg_covar};
use crate::input::Loaded;
use crate::text::{features, row, table};
use crate::time_varying::TimeVaryingViews;

/// What `emfit fit bgmm` asks for.
pub struct BgmmRequest {
    /// `--components`, if given.
    components: Option<usize>,
    /// The start: K, the covariance type, the priors and `reg_covar`.
    init: VariationalInit,
}

impl Family for VariationalMixture {
    const NAME: &'static str = "bgmm";
    const FLAGS: &'static [Flag] = &[
        Flag::Components,
        Flag::Covariance,
        Flag::RegCovar,
        Flag::WeightPrior,
        Flag::WeightConcentration,
    ];
    type Request = BgmmRequest;
    type Input<'a> = MatRef<'a, f64>;

    fn request(args: &FitArgs, data: &Loaded) -> Result<BgmmRequest, CliError> {
        if !args.learn.is_empty() {
            return Err(usage!(
                "--learn does not apply to bgmm: every step updates the whole posterior"
            ));
        }
        if let Some(init) = &args.init {
            let given = [
                ("--weight-prior", args.weight_prior.is_some()),
                ("--weight-concentration", args.weight_concentration.is_some()),
                ("--reg-covar", args.reg_covar.is_some()),
            ];
            if let Some((flag, _)) = given.iter().find(|(_, given)| *given) {
                return Err(usage!(
                    "{flag} conflicts with --init: the priors and the floor come from the --init model {}",
                    init.display()
                ));
            }
        }
        let weight_concentration = match args.weight_concentration {
            Some(x) if !(x.is_finite() && x > 0.0) => {
                return Err(usage!("--weight-concentration must be finite and > 0, not {x}"));
            }
            other => other,
        };
        let prior = PriorSettings {
            weight_prior: match args.weight_prior {
                None | Some(WeightPriorArg::DirichletProcess) => WeightPrior::DirichletProcess,
                Some(WeightPriorArg::DirichletDistribution) => WeightPrior::DirichletDistribution,
            },
            weight_concentration,
            ..PriorSettings::default()
        };
        let init = VariationalInit::new(
            components(args, data, None)?,
            covariance_type(args, CovarianceType::Full),
        )
        .with_prior(prior)
        .with_reg_covar(reg_covar(args)?.unwrap_or(DEFAULT_REG_COVAR));
        Ok(BgmmRequest {
            components: args.components,
            init,
        })
    }

    fn input<'a>(data: &'a Loaded, _: &TimeVaryingViews<'_>) -> Result<MatRef<'a, f64>, CliError> {
        Ok(data.x())
    }

    fn view<'b>(input: &'b MatRef<'_, f64>) -> MatRef<'b, f64> {
        *input
    }

    fn options(_: &BgmmRequest) {}

    fn start(request: &BgmmRequest, _: MatRef<'_, f64>, _: &Settings) -> Result<Start<Self>, CliError> {
        Ok(Start::FromData(request.init.clone()))
    }

    fn check_warm(self, request: &BgmmRequest, data: &Loaded) -> Result<Self, CliError> {
        data.check_columns(self.n_features())?;
        check_components(request.components, self.n_components())?;
        Ok(self)
    }

    fn describe(&self) -> String {
        let config = self.config();
        let weights = self.weights();
        let mut s = format!(
            "\nfitted bgmm: {} effective components (weight > {}%) of {}, {}, {} covariances, {} weight prior\n",
            self.n_effective_components(),
            EFFECTIVE_WEIGHT * 100.0,
            self.n_components(),
            features(self.n_features()),
            config.covariance_type,
            config.prior.weight_prior.name(),
        );
        let rows: Vec<Vec<String>> = (0..self.n_components())
            .filter(|&k| weights[k] > EFFECTIVE_WEIGHT)
            .map(|k| {
                vec![
                    format!("{}", k + 1),
                    format!("{:.4}", weights[k]),
                    row(self.means(), k, 4),
                ]
            })
            .collect();
        s.push_str(&table(&["component", "weight", "mean"], &rows));
        s
    }

    fn criteria(&self, _: MatRef<'_, f64>) -> Result<Option<(f64, f64)>, CliError> {
        Ok(None)
    }

    #[cfg(feature = "mpi")]
    fn observations(&self, x: MatRef<'_, f64>) -> Result<usize, CliError> {
        Ok(x.nrows())
    }

    #[cfg(feature = "mpi")]
    fn n_parameters(&self) -> Option<usize> {
        None
    }
}

/// The posterior-mean mixture: the posterior mean weights, the means `mₖ`
/// and the covariances `Cₖ` (scikit-learn's `weights_`, `means_`,
/// `covariances_`).
fn posterior_mean_mixture(m: &VariationalMixture) -> Result<GaussianMixture, CliError> {
    GaussianMixture::new(m.weights(), m.means().to_owned(), m.covariances().clone()).map_err(model)
}

/// Prediction and sampling are those of Gaussian mixtures: of the expected
/// mixture, whose responsibilities are the variational ones, and of the
/// posterior-mean mixture.
impl Apply for VariationalMixture {
    fn check_data(&self, data: &Loaded) -> Result<(), CliError> {
        self.expected_mixture().check_data(data)
    }

    fn predict(&self, data: &Loaded, proba: bool) -> Result<Prediction, CliError> {
        Apply::predict(self.expected_mixture(), data, proba)
    }

    fn score(&self, _: &Loaded) -> Result<Score, CliError> {
        Err(usage!(
            "score is not defined for a bgmm: its fit maximises a lower bound of the evidence, not a likelihood (emfit fit bgmm prints the bound; emfit predict --proba gives the responsibilities)"
        ))
    }

    fn sample_widths(&self) -> (usize, usize) {
        (self.n_features(), 1)
    }

    fn sample(&self, n: usize, rng: &mut StdRng) -> Result<(Table, Table), CliError> {
        Apply::sample(&posterior_mean_mixture(self)?, n, rng)
    }

    fn smooth(&self, _: &Loaded, _: bool) -> Result<(Table, Option<Vec<f64>>), CliError> {
        Err(usage!(
            "smooth needs a sequence model (hmm, gmmhmm, categorical-hmm, lgssm); for a bgmm use `emfit predict --proba`"
        ))
    }
}
