//! How the Baum-Welch steps run: [`MStepOptions`] (which blocks are learned,
//! Dirichlet priors, the covariance floor) and [`InitConfig`] (how a model is
//! initialised from data).

use faer::Mat;
use mixture::{DEFAULT_RELATIVE_FLOOR, Floor};

use crate::emission::normal::NormalPrior;
use crate::emission::poisson::GammaPrior;
use crate::param::LearnSet;

/// Options of the Baum-Welch M-step ([`em_core::EmModel::m_step`]).
///
/// Dirichlet priors turn the update of a probability row into its MAP
/// estimate `p_j ∝ n_j + α_j − 1` (`n_j` the expected counts); concentrations
/// must be `≥ 1` (then the mode exists and no entry goes negative). `α = 1`
/// everywhere is the maximum-likelihood update. Zeros of the current row
/// (structural zeros) stay zero whatever the prior.
#[derive(Debug, Clone, PartialEq)]
pub struct MStepOptions {
    /// The blocks updated (default: all); the others keep their values.
    pub learn: LearnSet,
    /// Dirichlet concentrations for the start probabilities (K).
    pub start_prior: Option<Vec<f64>>,
    /// Dirichlet concentrations for each transition row (K x K).
    pub transition_prior: Option<Mat<f64>>,
    /// Dirichlet concentrations for the mixture weights of GMM emissions (K x n_mix).
    pub weight_prior: Option<Mat<f64>>,
    /// Dirichlet concentrations for categorical emission rows (K x M).
    pub emission_prior: Option<Mat<f64>>,
    /// Conjugate priors of the means and covariances of Gaussian emissions
    /// (one [`NormalPrior`], its components the states) and GMM emissions
    /// (one per state); `None`: maximum likelihood.
    pub normal_prior: Option<Vec<NormalPrior>>,
    /// Gamma prior of the rates of Poisson emissions; `None`: maximum
    /// likelihood.
    pub rate_prior: Option<GammaPrior>,
    /// The lower bound on every updated variance (Gaussian and GMM
    /// emissions): the covariance update maximises EM's objective over
    /// `Σ ⪰ diag(f)` (see [`mixture::gaussian_update`]). By default `f` is
    /// `10⁻⁶` times the variance of each feature of the whole data set
    /// (computed from the statistics, the same at every iteration), so the
    /// fit does not depend on the units of the data; [`Floor::Absolute`]
    /// gives a fixed value (`Floor::Absolute(0.0)`: no bound). A binding
    /// bound is reported (`Adjustment::VarianceFloored`).
    pub covariance_floor: Floor,
}

impl Default for MStepOptions {
    /// Learn everything, no priors, the relative covariance floor `10⁻⁶`.
    fn default() -> Self {
        Self {
            learn: LearnSet::all(),
            start_prior: None,
            transition_prior: None,
            weight_prior: None,
            emission_prior: None,
            normal_prior: None,
            rate_prior: None,
            covariance_floor: Floor::Relative(DEFAULT_RELATIVE_FLOOR),
        }
    }
}

impl MStepOptions {
    /// Sets which blocks are updated.
    #[must_use]
    pub fn with_learn(mut self, learn: LearnSet) -> Self {
        self.learn = learn;
        self
    }

    /// Sets [`covariance_floor`](Self::covariance_floor).
    #[must_use]
    pub fn with_covariance_floor(mut self, floor: Floor) -> Self {
        self.covariance_floor = floor;
        self
    }

    /// An absolute covariance floor `reg_covar` (`0`: no bound).
    #[must_use]
    pub fn with_reg_covar(self, reg_covar: f64) -> Self {
        self.with_covariance_floor(Floor::Absolute(reg_covar))
    }
}

/// How an HMM is initialised from data ([`em_core::EmModel::init_from_data`],
/// used by [`em_core::Start::FromData`]): start probabilities and transitions
/// given or uniform, the emission by its own configuration `C` (e.g. k-means
/// means).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct InitConfig<C> {
    /// Number of hidden states K.
    pub n_states: usize,
    /// Given start probabilities; `None`: uniform.
    pub start: Option<Vec<f64>>,
    /// Given transition matrix; `None`: uniform rows.
    pub transitions: Option<Mat<f64>>,
    /// The emission's initialisation.
    pub emission: C,
}

impl<C> InitConfig<C> {
    /// `n_states` states with uniform start and transition probabilities and
    /// this emission configuration.
    #[must_use]
    pub fn new(n_states: usize, emission: C) -> Self {
        Self {
            n_states,
            start: None,
            transitions: None,
            emission,
        }
    }

    /// With given start probabilities.
    #[must_use]
    pub fn with_start(mut self, start: Vec<f64>) -> Self {
        self.start = Some(start);
        self
    }

    /// With a given transition matrix.
    #[must_use]
    pub fn with_transitions(mut self, transitions: Mat<f64>) -> Self {
        self.transitions = Some(transitions);
        self
    }
}
