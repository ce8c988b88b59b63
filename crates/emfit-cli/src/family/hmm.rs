//! Hidden Markov models (`emfit fit hmm`, `gmmhmm`, `categorical-hmm`):
//! [`Family`] and [`Apply`] once for every emission; what depends on the
//! emission is the [`EmissionFamily`] trait (in `emission.rs`).

use std::fmt::Write as _;

use em_driver::hmm::{Emission, Hmm, InitConfig, LearnSet, MStepOptions, Param, Sequences};
use em_driver::rand::rngs::StdRng;
use em_driver::{ModelFile, Settings, Start};

use crate::apply::{Apply, Prediction, Score, Table};
use crate::args::FitArgs;
use crate::error::{CliError, model};
use crate::fit::{Family, Flag, check_components, components, learn_set, reg_covar};
use crate::input::Loaded;
use crate::messages::on_data;
use crate::text::{features, list, table};
use crate::time_varying::TimeVaryingViews;

/// Largest number of hidden states (the transition matrix has K^2 entries).
pub const MAX_STATES: usize = 2_000;

/// The blocks of the Markov chain, learned by every HMM family.
pub const CHAIN: [Param; 2] = [Param::Start, Param::Transitions];

/// Old names of the chain's blocks that `--learn` still accepts.
const CHAIN_ALIASES: &[(&str, Param)] = &[
    ("s", Param::Start),
    ("startprob", Param::Start),
    ("t", Param::Transitions),
    ("transmat", Param::Transitions),
];

/// The part of an HMM family that depends on its emission.
pub trait EmissionFamily: Emission<Stats: em_driver::hmm::FlatEmissionStats> {
    /// The family's name on the command line (`hmm`, `gmmhmm`, ...).
    const NAME: &'static str;
    /// The flags the family takes besides `--components`.
    const FLAGS: &'static [Flag];
    /// The emission's blocks (learned besides [`CHAIN`]).
    const BLOCKS: &'static [Param];
    /// Old names of the emission's blocks that `--learn` still accepts.
    const ALIASES: &'static [(&'static str, Param)];
    /// What the emission's flags ask for.
    type Request;

    /// Parses the emission's flags for `states` hidden states and checks
    /// them against the data.
    fn request(args: &FitArgs, data: &Loaded, states: usize) -> Result<Self::Request, CliError>;
    /// How the emission is initialised from the data (without `--init`),
    /// with the absolute covariance floor of `--reg-covar` if given (only
    /// families with [`Flag::RegCovar`] get one).
    fn init(request: &Self::Request, reg_covar: Option<f64>) -> Self::InitConfig;
    /// Checks the emission of an `--init` model against the request and the data.
    fn check_warm(&self, request: &Self::Request, data: &Loaded) -> Result<(), CliError>;
    /// Checks data against the emission: columns, or symbols it knows.
    fn check_observations(&self, data: &Loaded) -> Result<(), CliError>;
    /// What follows `{K} states` in the first line of a description.
    fn headline(&self, n_features: usize) -> String;
    /// The table of the emission's parameters, one row per state (or per
    /// state and component).
    fn table(&self) -> String;
}

/// What `emfit fit hmm|gmmhmm|categorical-hmm` asks for.
pub struct HmmRequest<E: EmissionFamily> {
    /// `--components`, if given.
    components: Option<usize>,
    /// Number of hidden states without `--init`.
    states: usize,
    /// The blocks learned.
    learn: LearnSet,
    /// The emission's part.
    emission: E::Request,
    /// `--reg-covar`: an absolute covariance floor instead of the relative default.
    reg_covar: Option<f64>,
}

pub fn sequences(data: &Loaded) -> Result<Sequences<'_>, CliError> {
    Sequences::new(data.x(), &data.lengths).map_err(model)
}

impl<E: EmissionFamily> Family for Hmm<E>
where
    Hmm<E>: ModelFile,
{
    const NAME: &'static str = E::NAME;
    const FLAGS: &'static [Flag] = E::FLAGS;
    type Request = HmmRequest<E>;
    type Input<'a> = Sequences<'a>;

    fn request(args: &FitArgs, data: &Loaded) -> Result<HmmRequest<E>, CliError> {
        let states = components(args, data, Some(MAX_STATES))?;
        let emission = E::request(args, data, states)?;
        let blocks = [&CHAIN[..], E::BLOCKS].concat();
        let aliases = [CHAIN_ALIASES, E::ALIASES].concat();
        Ok(HmmRequest {
            components: args.components,
            states,
            learn: learn_set(&args.learn, E::NAME, &blocks, &aliases)?,
            emission,
            reg_covar: reg_covar(args)?,
        })
    }

    fn input<'a>(data: &'a Loaded, _: &TimeVaryingViews<'_>) -> Result<Sequences<'a>, CliError> {
        sequences(data)
    }

    fn view<'b>(input: &'b Sequences<'_>) -> &'b Sequences<'b> {
        input
    }

    fn options(request: &HmmRequest<E>) -> MStepOptions {
        let options = MStepOptions::default().with_learn(request.learn);
        match request.reg_covar {
            Some(x) => options.with_reg_covar(x),
            None => options,
        }
    }

    fn start(request: &HmmRequest<E>, _: &Sequences<'_>, _: &Settings) -> Result<Start<Self>, CliError> {
        let emission = E::init(&request.emission, request.reg_covar);
        Ok(Start::FromData(InitConfig::new(request.states, emission)))
    }

    fn check_warm(self, request: &HmmRequest<E>, data: &Loaded) -> Result<Self, CliError> {
        self.emission().check_warm(&request.emission, data)?;
        check_components(request.components, self.n_states())?;
        Ok(self)
    }

    fn describe(&self) -> String {
        let mut s = format!(
            "\nfitted {}: {} states{}\n",
            E::NAME,
            self.n_states(),
            self.emission().headline(self.n_features())
        );
        chain(&mut s, self);
        s.push_str(&self.emission().table());
        s
    }

    fn criteria(&self, data: &Sequences<'_>) -> Result<Option<(f64, f64)>, CliError> {
        Ok(Some((
            self.bic(data).map_err(model)?,
            self.aic(data).map_err(model)?,
        )))
    }

    #[cfg(feature = "mpi")]
    fn observations(&self, data: &Sequences<'_>) -> Result<usize, CliError> {
        Ok(data.n_samples())
    }

    #[cfg(feature = "mpi")]
    fn n_parameters(&self) -> Option<usize> {
        Some(Hmm::n_parameters(self))
    }
}

/// Start probabilities and the transition matrix.
pub fn chain<E: Emission>(s: &mut String, model: &Hmm<E>) {
    let _ = writeln!(s, "start probabilities {}", list(model.start_probs(), 4));
    let k = model.n_states();
    let mut header = vec!["transitions".to_string()];
    header.extend((0..k).map(|j| format!("to {}", j + 1)));
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let a = model.transitions();
    let rows: Vec<Vec<String>> = (0..k)
        .map(|i| {
            let mut r = vec![format!("from {}", i + 1)];
            r.extend((0..k).map(|j| format!("{:.4}", a[(i, j)])));
            r
        })
        .collect();
    s.push_str(&table(&header, &rows));
}

/// One row per state: its number and a description of its emission.
pub fn state_table(name: &str, rows: impl Iterator<Item = String>) -> String {
    let rows: Vec<Vec<String>> = rows
        .enumerate()
        .map(|(j, r)| vec![format!("{}", j + 1), r])
        .collect();
    table(&["state", name], &rows)
}

/// `, 2 features, full covariances`.
pub fn gaussian_headline(n_features: usize, covariance: impl std::fmt::Display) -> String {
    format!(", {}, {covariance} covariances", features(n_features))
}

impl<E: EmissionFamily> Apply for Hmm<E> {
    fn check_data(&self, data: &Loaded) -> Result<(), CliError> {
        self.emission().check_observations(data)
    }

    fn predict(&self, data: &Loaded, proba: bool) -> Result<Prediction, CliError> {
        if proba {
            let (table, _) = self.smooth(data, false)?;
            return Ok(Prediction { table, viterbi: None });
        }
        let decoding = self
            .decode(&sequences(data)?)
            .map_err(|e| on_data(data, e.into()))?;
        Ok(Prediction {
            table: Table::labels(&decoding.states, "state"),
            viterbi: Some(decoding.log_probs),
        })
    }

    /// An impossible sequence (log-likelihood −∞) is an error naming it and
    /// its first impossible observation (found by Viterbi, whose paths die
    /// at the same time step as the forward pass's).
    fn score(&self, data: &Loaded) -> Result<Score, CliError> {
        let seqs = sequences(data)?;
        let per_sequence = self.score_sequences(&seqs).map_err(|e| on_data(data, e.into()))?;
        if per_sequence.contains(&f64::NEG_INFINITY) {
            self.decode(&seqs).map_err(|e| on_data(data, e.into()))?;
        }
        Ok(Score {
            log_likelihood: per_sequence.iter().sum(),
            parameters: self.n_parameters(),
            sequences: Some(data.lengths.len()),
        })
    }

    fn sample_widths(&self) -> (usize, usize) {
        (self.n_features(), 1)
    }

    fn sample(&self, n: usize, rng: &mut StdRng) -> Result<(Table, Table), CliError> {
        let (x, states) = Hmm::sample(self, n, rng).map_err(model)?;
        Ok((Table::numbered(x, "x"), Table::labels(&states, "state")))
    }

    fn smooth(&self, data: &Loaded, _: bool) -> Result<(Table, Option<Vec<f64>>), CliError> {
        let p = self
            .predict_proba(&sequences(data)?)
            .map_err(|e| on_data(data, e.into()))?;
        Ok((Table::numbered(p, "state"), None))
    }
}
