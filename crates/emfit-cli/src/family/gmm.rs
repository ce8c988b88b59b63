//! Gaussian mixtures (`emfit fit gmm`, and model files of kind `gmm`).

use em_driver::faer::MatRef;
use em_driver::mixture::{CovarianceType, Floor, GaussianMixture, InitConfig, LearnSet, MStepOptions, Param};
use em_driver::rand::rngs::StdRng;
use em_driver::{Parameter, Settings, Start};

use crate::apply::{Apply, Prediction, Score, Table};
use crate::args::FitArgs;
use crate::error::{CliError, model, usage};
use crate::fit::{Family, Flag, check_components, components, learn_set, reg_covar};
use crate::input::Loaded;
use crate::messages::on_data;
use crate::text::{features, row, table};
use crate::time_varying::TimeVaryingViews;

/// What `emfit fit gmm` asks for.
pub struct GmmRequest {
    /// `--components`, if given.
    components: Option<usize>,
    /// The start without `--init`.
    init: InitConfig,
    /// The blocks learned.
    learn: LearnSet,
    /// `--reg-covar`: an absolute covariance floor instead of the relative default.
    reg_covar: Option<f64>,
}

/// Covariance structure of `--covariance` (or `default`).
pub fn covariance_type(args: &FitArgs, default: CovarianceType) -> CovarianceType {
    use crate::args::CovarianceArg;
    match args.covariance {
        None => default,
        Some(CovarianceArg::Full) => CovarianceType::Full,
        Some(CovarianceArg::Diag) => CovarianceType::Diagonal,
        Some(CovarianceArg::Spherical) => CovarianceType::Spherical,
        Some(CovarianceArg::Tied) => CovarianceType::Tied,
    }
}

impl Family for GaussianMixture {
    const NAME: &'static str = "gmm";
    const FLAGS: &'static [Flag] = &[Flag::Components, Flag::Covariance, Flag::RegCovar];
    type Request = GmmRequest;
    type Input<'a> = MatRef<'a, f64>;

    fn request(args: &FitArgs, data: &Loaded) -> Result<GmmRequest, CliError> {
        let k = components(args, data, None)?;
        let aliases = [
            ("w", Param::Weights),
            ("m", Param::Means),
            ("c", Param::Covariances),
            ("covars", Param::Covariances),
        ];
        let reg_covar = reg_covar(args)?;
        let mut init = InitConfig::new(k, covariance_type(args, CovarianceType::Full));
        if let Some(x) = reg_covar {
            init = init.with_covariance_floor(Floor::Absolute(x));
        }
        Ok(GmmRequest {
            components: args.components,
            init,
            learn: learn_set(&args.learn, Self::NAME, Param::ALL, &aliases)?,
            reg_covar,
        })
    }

    fn input<'a>(data: &'a Loaded, _: &TimeVaryingViews<'_>) -> Result<MatRef<'a, f64>, CliError> {
        Ok(data.x())
    }

    fn view<'b>(input: &'b MatRef<'_, f64>) -> MatRef<'b, f64> {
        *input
    }

    fn options(request: &GmmRequest) -> MStepOptions {
        let options = MStepOptions::default().with_learn(request.learn);
        match request.reg_covar {
            Some(x) => options.with_reg_covar(x),
            None => options,
        }
    }

    fn start(request: &GmmRequest, _: MatRef<'_, f64>, _: &Settings) -> Result<Start<Self>, CliError> {
        Ok(Start::FromData(request.init.clone()))
    }

    fn check_warm(self, request: &GmmRequest, data: &Loaded) -> Result<Self, CliError> {
        data.check_columns(self.n_features())?;
        check_components(request.components, self.n_components())?;
        Ok(self)
    }

    fn describe(&self) -> String {
        let mut s = format!(
            "\nfitted gmm: {} components, {}, {} covariances\n",
            self.n_components(),
            features(self.n_features()),
            self.covariance_type()
        );
        let rows: Vec<Vec<String>> = (0..self.n_components())
            .map(|k| {
                vec![
                    format!("{}", k + 1),
                    format!("{:.4}", self.weights()[k]),
                    row(self.means(), k, 4),
                ]
            })
            .collect();
        s.push_str(&table(&["component", "weight", "mean"], &rows));
        s
    }

    fn criteria(&self, x: MatRef<'_, f64>) -> Result<Option<(f64, f64)>, CliError> {
        Ok(Some((self.bic(x).map_err(model)?, self.aic(x).map_err(model)?)))
    }

    #[cfg(feature = "mpi")]
    fn observations(&self, x: MatRef<'_, f64>) -> Result<usize, CliError> {
        Ok(x.nrows())
    }

    #[cfg(feature = "mpi")]
    fn n_parameters(&self) -> Option<usize> {
        Some(GaussianMixture::n_parameters(self))
    }
}

impl Apply for GaussianMixture {
    fn check_data(&self, data: &Loaded) -> Result<(), CliError> {
        data.check_columns(self.n_features())
    }

    fn predict(&self, data: &Loaded, proba: bool) -> Result<Prediction, CliError> {
        let table = if proba {
            let p = self
                .predict_proba(data.x())
                .map_err(|e| on_data(data, e.into()))?;
            Table::numbered(p, "component")
        } else {
            let labels = self.predict(data.x()).map_err(|e| on_data(data, e.into()))?;
            Table::labels(&labels, "component")
        };
        Ok(Prediction { table, viterbi: None })
    }

    fn score(&self, data: &Loaded) -> Result<Score, CliError> {
        Ok(Score {
            log_likelihood: self
                .total_log_likelihood(data.x())
                .map_err(|e| on_data(data, e.into()))?,
            parameters: self.n_parameters(),
            sequences: None,
        })
    }

    fn sample_widths(&self) -> (usize, usize) {
        (self.n_features(), 1)
    }

    fn sample(&self, n: usize, rng: &mut StdRng) -> Result<(Table, Table), CliError> {
        let (x, labels) = GaussianMixture::sample(self, n, rng);
        Ok((Table::numbered(x, "x"), Table::labels(&labels, "component")))
    }

    fn smooth(&self, _: &Loaded, _: bool) -> Result<(Table, Option<Vec<f64>>), CliError> {
        Err(usage!(
            "smooth needs a sequence model (hmm, gmmhmm, categorical-hmm, lgssm); for a gmm use `emfit predict --proba`"
        ))
    }
}
