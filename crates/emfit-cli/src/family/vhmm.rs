//! Variational Bayesian HMMs (`emfit fit vhmm --emission categorical|gaussian`,
//! and model files of kind `vhmm`).
//!
//! The fit keeps a posterior over the start probabilities, the transition
//! rows and the emission parameters and maximises the evidence lower bound
//! (hmmlearn's `VariationalCategoricalHMM` and `VariationalGaussianHMM`).
//!
//! - `emfit predict` (Viterbi states, or `--proba` the state posteriors),
//!   `emfit smooth` and `emfit sample` use the posterior-mean HMM: the
//!   posterior means of the start probabilities, the transition rows and
//!   the symbol probabilities, or the means `m` and covariances `S / ν`
//!   (hmmlearn's `startprob_`, `transmat_`, `emissionprob_`, `means_`,
//!   `covars_`, which its `predict` and `sample` use);
//! - `emfit score` is refused: the fit maximises a lower bound of the
//!   evidence, not a likelihood (`emfit fit vhmm` prints the bound).

use em_driver::ModelFile;
use em_driver::hmm::variational::{
    VariationalCategorical, VariationalCategoricalInit, VariationalEmission, VariationalGaussian,
    VariationalGaussianInit, VariationalHmm, VariationalInit,
};
use em_driver::hmm::{
    CategoricalEmission, CovarianceType, Emission, FlatEmissionStats, GaussianEmission, Hmm, LearnSet,
    Sequences,
};
use em_driver::model_file::VhmmEmission;
use em_driver::rand::rngs::StdRng;
use em_driver::{Settings, Start};

use super::emission::CategoricalRequest;
use super::gmm::covariance_type;
use super::hmm::{EmissionFamily, MAX_STATES, chain, sequences};
use crate::apply::{Apply, Prediction, Score, Table};
use crate::args::FitArgs;
use crate::error::{CliError, model, usage};
use crate::fit::{Family, Flag, check_components, components};
use crate::input::Loaded;
use crate::time_varying::TimeVaryingViews;

/// The part of `emfit fit vhmm` that depends on the emission.
pub trait VhmmFamily: VhmmEmission<Expected: Emission<Stats: FlatEmissionStats>> {
    /// The emission of the posterior-mean HMM.
    type Point: EmissionFamily;
    /// The flags the emission takes besides `--components` and `--emission`.
    const FLAGS: &'static [Flag];
    /// What the emission's flags ask for.
    type Request;

    /// Parses the emission's flags for `states` hidden states.
    fn request(args: &FitArgs, data: &Loaded, states: usize) -> Result<Self::Request, CliError>;
    /// How the emission starts from the data.
    fn init(request: &Self::Request) -> Self::InitConfig;
    /// The posterior-mean emission.
    fn point(&self) -> Result<Self::Point, CliError>;
    /// Checks the emission of an `--init` model against the request and the data.
    fn check_warm(&self, request: &Self::Request, data: &Loaded) -> Result<(), CliError>;
    /// Number of data columns (1 for symbols).
    fn n_features(&self) -> usize;
}

impl VhmmFamily for VariationalCategorical {
    type Point = CategoricalEmission;
    const FLAGS: &'static [Flag] = &[Flag::Components, Flag::Emission, Flag::Symbols];
    /// As `categorical-hmm`'s: `--symbols` and the data's largest symbol.
    type Request = CategoricalRequest;

    fn request(args: &FitArgs, data: &Loaded, states: usize) -> Result<CategoricalRequest, CliError> {
        <CategoricalEmission as EmissionFamily>::request(args, data, states)
    }

    fn init(request: &CategoricalRequest) -> VariationalCategoricalInit {
        VariationalCategoricalInit {
            n_symbols: request.symbols,
            prior: None,
        }
    }

    /// The posterior-mean symbol probabilities.
    fn point(&self) -> Result<CategoricalEmission, CliError> {
        CategoricalEmission::new(self.probabilities()).map_err(model)
    }

    fn check_warm(&self, request: &CategoricalRequest, data: &Loaded) -> Result<(), CliError> {
        self.point()?.check_warm(request, data)
    }

    fn n_features(&self) -> usize {
        1
    }
}

impl VhmmFamily for VariationalGaussian {
    type Point = GaussianEmission;
    const FLAGS: &'static [Flag] = &[Flag::Components, Flag::Emission, Flag::Covariance];
    /// `--covariance` (full, diag, spherical or tied; default full).
    type Request = CovarianceType;

    fn request(args: &FitArgs, _: &Loaded, _: usize) -> Result<CovarianceType, CliError> {
        Ok(covariance_type(args, CovarianceType::Full))
    }

    fn init(covariance: &CovarianceType) -> VariationalGaussianInit {
        VariationalGaussianInit {
            covariance_type: *covariance,
            ..VariationalGaussianInit::default()
        }
    }

    /// The means `m` and the covariances `S / ν` (the E-step's emission).
    fn point(&self) -> Result<GaussianEmission, CliError> {
        Ok(self.expected().map_err(model)?.0)
    }

    fn check_warm(&self, _: &CovarianceType, data: &Loaded) -> Result<(), CliError> {
        data.check_columns(VhmmFamily::n_features(self))
    }

    fn n_features(&self) -> usize {
        self.posterior().means.ncols()
    }
}

/// What `emfit fit vhmm` asks for.
pub struct VhmmRequest<E: VhmmFamily> {
    /// `--components`, if given.
    components: Option<usize>,
    /// Number of hidden states without `--init`.
    states: usize,
    /// The emission's part.
    emission: E::Request,
}

/// The posterior-mean HMM of a variational one.
fn posterior_mean<E: VhmmFamily>(m: &VariationalHmm<E>) -> Result<Hmm<E::Point>, CliError> {
    Hmm::new(m.start_probs(), m.transitions().as_ref(), m.emission().point()?).map_err(model)
}

impl<E: VhmmFamily> Family for VariationalHmm<E>
where
    VariationalHmm<E>: ModelFile,
{
    const NAME: &'static str = "vhmm";
    const FLAGS: &'static [Flag] = E::FLAGS;
    type Request = VhmmRequest<E>;
    type Input<'a> = Sequences<'a>;

    fn request(args: &FitArgs, data: &Loaded) -> Result<VhmmRequest<E>, CliError> {
        if !args.learn.is_empty() {
            return Err(usage!(
                "--learn does not apply to vhmm: every step updates the whole posterior"
            ));
        }
        let states = components(args, data, Some(MAX_STATES))?;
        Ok(VhmmRequest {
            components: args.components,
            states,
            emission: E::request(args, data, states)?,
        })
    }

    fn input<'a>(data: &'a Loaded, _: &TimeVaryingViews<'_>) -> Result<Sequences<'a>, CliError> {
        sequences(data)
    }

    fn view<'b>(input: &'b Sequences<'_>) -> &'b Sequences<'b> {
        input
    }

    fn options(_: &VhmmRequest<E>) -> LearnSet {
        LearnSet::all()
    }

    fn start(request: &VhmmRequest<E>, _: &Sequences<'_>, _: &Settings) -> Result<Start<Self>, CliError> {
        Ok(Start::FromData(VariationalInit {
            n_states: request.states,
            start_prior: None,
            transition_prior: None,
            emission: E::init(&request.emission),
        }))
    }

    fn check_warm(self, request: &VhmmRequest<E>, data: &Loaded) -> Result<Self, CliError> {
        self.emission().check_warm(&request.emission, data)?;
        check_components(request.components, self.n_states())?;
        Ok(self)
    }

    fn describe(&self) -> String {
        match posterior_mean(self) {
            Ok(point) => {
                let mut s = format!(
                    "\nfitted vhmm ({} emissions; posterior means): {} states{}\n",
                    E::NAME,
                    self.n_states(),
                    point.emission().headline(point.n_features())
                );
                chain(&mut s, &point);
                s.push_str(&point.emission().table());
                s
            }
            Err(e) => format!(
                "\nfitted vhmm: {} states (no posterior means: {e})\n",
                self.n_states()
            ),
        }
    }

    fn criteria(&self, _: &Sequences<'_>) -> Result<Option<(f64, f64)>, CliError> {
        Ok(None)
    }

    #[cfg(feature = "mpi")]
    fn observations(&self, data: &Sequences<'_>) -> Result<usize, CliError> {
        Ok(data.n_samples())
    }

    #[cfg(feature = "mpi")]
    fn n_parameters(&self) -> Option<usize> {
        None
    }
}

/// Prediction, smoothing and sampling are the posterior-mean HMM's.
impl<E: VhmmFamily> Apply for VariationalHmm<E> {
    fn check_data(&self, data: &Loaded) -> Result<(), CliError> {
        posterior_mean(self)?.check_data(data)
    }

    fn predict(&self, data: &Loaded, proba: bool) -> Result<Prediction, CliError> {
        Apply::predict(&posterior_mean(self)?, data, proba)
    }

    fn score(&self, _: &Loaded) -> Result<Score, CliError> {
        Err(usage!(
            "score is not defined for a vhmm: its fit maximises a lower bound of the evidence, not a likelihood (emfit fit vhmm prints the bound; emfit predict --proba gives the state posteriors)"
        ))
    }

    fn sample_widths(&self) -> (usize, usize) {
        (self.emission().n_features(), 1)
    }

    fn sample(&self, n: usize, rng: &mut StdRng) -> Result<(Table, Table), CliError> {
        Apply::sample(&posterior_mean(self)?, n, rng)
    }

    fn smooth(&self, data: &Loaded, filter: bool) -> Result<(Table, Option<Vec<f64>>), CliError> {
        Apply::smooth(&posterior_mean(self)?, data, filter)
    }
}
