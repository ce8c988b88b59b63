//! The emission-specific part of the HMM families ([`EmissionFamily`]):
//! Gaussian (`hmm`), Gaussian-mixture (`gmmhmm`) and categorical
//! (`categorical-hmm`) emissions.

use std::path::Path;

use em_driver::hmm::{
    CategoricalEmission, CategoricalInit, CovarianceType, Emission, Floor, GaussianEmission, GaussianInit,
    GmmEmission, GmmInit, Param,
};

use super::gmm::covariance_type;
use super::hmm::{EmissionFamily, gaussian_headline, state_table};
use crate::args::FitArgs;
use crate::error::{CliError, usage};
use crate::fit::Flag;
use crate::input::Loaded;
use crate::text::{row, table};

/// Largest number of entries of a model's parameter tables (e.g. K x M emission
/// probabilities, K M d^2 covariances).
const MAX_TABLE: usize = 10_000_000;

impl EmissionFamily for GaussianEmission {
    const NAME: &'static str = "hmm";
    const FLAGS: &'static [Flag] = &[Flag::Components, Flag::Covariance, Flag::RegCovar];
    const BLOCKS: &'static [Param] = &[Param::Means, Param::Covariances];
    const ALIASES: &'static [(&'static str, Param)] = &[
        ("m", Param::Means),
        ("c", Param::Covariances),
        ("covars", Param::Covariances),
    ];
    /// `--covariance` (default: full).
    type Request = CovarianceType;

    fn request(args: &FitArgs, _: &Loaded, _: usize) -> Result<CovarianceType, CliError> {
        Ok(covariance_type(args, CovarianceType::Full))
    }

    fn init(covariance: &CovarianceType, reg_covar: Option<f64>) -> GaussianInit {
        let mut init = GaussianInit::new(*covariance);
        if let Some(x) = reg_covar {
            init.covariance_floor = Floor::Absolute(x);
        }
        init
    }

    fn check_warm(&self, _: &CovarianceType, data: &Loaded) -> Result<(), CliError> {
        self.check_observations(data)
    }

    fn check_observations(&self, data: &Loaded) -> Result<(), CliError> {
        data.check_columns(self.n_features())
    }

    fn headline(&self, n_features: usize) -> String {
        gaussian_headline(n_features, self.covariance_type())
    }

    fn table(&self) -> String {
        state_table("mean", (0..self.n_states()).map(|j| row(self.means(), j, 4)))
    }
}

/// What `emfit fit gmmhmm` asks of the emission.
pub struct GmmRequest {
    /// `--mixtures`, if given.
    mixtures: Option<usize>,
    /// `--covariance` (default: diagonal).
    covariance: CovarianceType,
}

impl EmissionFamily for GmmEmission {
    const NAME: &'static str = "gmmhmm";
    const FLAGS: &'static [Flag] = &[Flag::Components, Flag::Mixtures, Flag::Covariance, Flag::RegCovar];
    const BLOCKS: &'static [Param] = &[Param::Weights, Param::Means, Param::Covariances];
    const ALIASES: &'static [(&'static str, Param)] = &[
        ("w", Param::Weights),
        ("m", Param::Means),
        ("c", Param::Covariances),
        ("covars", Param::Covariances),
    ];
    type Request = GmmRequest;

    fn request(args: &FitArgs, data: &Loaded, states: usize) -> Result<GmmRequest, CliError> {
        let (n, d) = (data.rows_in_file(), data.x().ncols());
        if let Some(m) = args.mixtures {
            if m == 0 || m > n {
                return Err(usage!(
                    "--mixtures must be between 1 and the {n} observations of the data, got {m}"
                ));
            }
            if states.saturating_mul(m).saturating_mul(d).saturating_mul(d) > MAX_TABLE {
                return Err(usage!(
                    "{states} states x {m} mixture components in {d} dimensions are too many parameters"
                ));
            }
        }
        Ok(GmmRequest {
            mixtures: args.mixtures,
            covariance: covariance_type(args, CovarianceType::Diagonal),
        })
    }

    fn init(request: &GmmRequest, reg_covar: Option<f64>) -> GmmInit {
        let mut init = GmmInit::new(request.mixtures.unwrap_or(2), request.covariance);
        if let Some(x) = reg_covar {
            init.covariance_floor = Floor::Absolute(x);
        }
        init
    }

    fn check_warm(&self, request: &GmmRequest, data: &Loaded) -> Result<(), CliError> {
        self.check_observations(data)?;
        match request.mixtures {
            Some(m) if m != self.n_mix() => Err(usage!(
                "--mixtures {m} conflicts with the {} mixture components of the --init model",
                self.n_mix()
            )),
            _ => Ok(()),
        }
    }

    fn check_observations(&self, data: &Loaded) -> Result<(), CliError> {
        data.check_columns(self.n_features())
    }

    fn headline(&self, n_features: usize) -> String {
        let gaussian = gaussian_headline(n_features, self.covariance_type());
        format!(" x {} mixture components{gaussian}", self.n_mix())
    }

    fn table(&self) -> String {
        let mut rows = Vec::new();
        for (j, mix) in self.mixtures().iter().enumerate() {
            for c in 0..mix.n_components() {
                rows.push(vec![
                    format!("{}", j + 1),
                    format!("{}", c + 1),
                    format!("{:.4}", mix.weights()[c]),
                    row(mix.means(), c, 4),
                ]);
            }
        }
        table(&["state", "component", "weight", "mean"], &rows)
    }
}

/// What `emfit fit categorical-hmm` asks of the emission.
pub struct CategoricalRequest {
    /// `--symbols`, if given.
    pub symbols: Option<usize>,
    /// The largest symbol of the data.
    largest: usize,
}

/// The largest symbol of the data against a model of `n_symbols` symbols.
fn check_symbols(path: &Path, largest: usize, n_symbols: usize) -> Result<(), CliError> {
    if largest >= n_symbols {
        Err(usage!(
            "{}: symbol {largest} is out of range for a model with {n_symbols} symbols (0..{})",
            path.display(),
            n_symbols - 1
        ))
    } else {
        Ok(())
    }
}

impl EmissionFamily for CategoricalEmission {
    const NAME: &'static str = "categorical-hmm";
    const FLAGS: &'static [Flag] = &[Flag::Components, Flag::Symbols];
    const BLOCKS: &'static [Param] = &[Param::Probabilities];
    const ALIASES: &'static [(&'static str, Param)] = &[
        ("emissions", Param::Probabilities),
        ("e", Param::Probabilities),
        ("emissionprob", Param::Probabilities),
    ];
    type Request = CategoricalRequest;

    fn request(args: &FitArgs, data: &Loaded, states: usize) -> Result<CategoricalRequest, CliError> {
        if let Some(symbols) = args.symbols
            && (symbols == 0 || states.saturating_mul(symbols) > MAX_TABLE)
        {
            return Err(usage!(
                "--symbols must be between 1 and {} for {states} states, got {symbols}",
                MAX_TABLE / states
            ));
        }
        // Without --symbols the model's symbols are those of the data, which
        // under mpirun no rank sees whole (it initialises on a sample).
        #[cfg(feature = "mpi")]
        if crate::distributed::launched_by_mpirun() && args.symbols.is_none() && args.init.is_none() {
            return Err(usage!(
                "under mpirun a categorical-hmm needs --symbols N (or --init): no rank sees every symbol of the data"
            ));
        }
        let largest = data.symbols()?.into_iter().max().unwrap_or(0);
        if let Some(symbols) = args.symbols
            && args.init.is_none()
        {
            check_symbols(&data.path, largest, symbols)?;
        }
        Ok(CategoricalRequest {
            symbols: args.symbols,
            largest,
        })
    }

    fn init(request: &CategoricalRequest, _: Option<f64>) -> CategoricalInit {
        CategoricalInit {
            n_symbols: request.symbols,
            probabilities: None,
        }
    }

    fn check_warm(&self, request: &CategoricalRequest, data: &Loaded) -> Result<(), CliError> {
        check_symbols(&data.path, request.largest, self.n_symbols())
    }

    fn check_observations(&self, data: &Loaded) -> Result<(), CliError> {
        let symbols = data.symbols()?;
        let n_symbols = self.n_symbols();
        match symbols.iter().position(|&s| s >= n_symbols) {
            Some(row) => Err(usage!(
                "{}: row {}: symbol {} is out of range for the model's {n_symbols} symbols (0..{})",
                data.path.display(),
                row + 1,
                symbols[row],
                n_symbols - 1
            )),
            None => Ok(()),
        }
    }

    fn headline(&self, _: usize) -> String {
        format!(", {} symbols", self.n_symbols())
    }

    fn table(&self) -> String {
        state_table(
            "symbol probabilities",
            (0..self.n_states()).map(|j| row(self.probabilities(), j, 4)),
        )
    }
}
