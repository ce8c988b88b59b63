//! The hidden Markov model: parameters, inference over many sequences and one Baum-Welch step.

use crate::emission::{Emission, EmissionDiagnostics, MergeStats};
use crate::error::Table;
use crate::inference::{self, Chain, Scratch, ViterbiScratch};
use crate::probability::{ln_all, map_row, sample_index, validate_prior, validate_row};
use crate::sequences::Chunk;
use crate::{HmmError, Sequences};
use faer::{Mat, MatRef};
use rand::Rng;
use rayon::prelude::*;

/// Which parameters an M-step updates (all by default); the others are held fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Learn {
    /// Start probabilities π.
    pub start: bool,
    /// Transition matrix A.
    pub transitions: bool,
    /// Gaussian means (Gaussian and GMM emissions).
    pub means: bool,
    /// Gaussian covariances (Gaussian and GMM emissions).
    pub covariances: bool,
    /// Mixture weights (GMM emissions).
    pub weights: bool,
    /// Emission probabilities (categorical emissions).
    pub emission_probabilities: bool,
}

impl Default for Learn {
    fn default() -> Self {
        Self::all()
    }
}

impl Learn {
    /// Learn everything.
    #[must_use]
    pub fn all() -> Self {
        Self {
            start: true,
            transitions: true,
            means: true,
            covariances: true,
            weights: true,
            emission_probabilities: true,
        }
    }

    /// Learn nothing (switch on what you need).
    #[must_use]
    pub fn none() -> Self {
        Self {
            start: false,
            transitions: false,
            means: false,
            covariances: false,
            weights: false,
            emission_probabilities: false,
        }
    }
}

/// Options of [`Hmm::m_step`].
///
/// Dirichlet priors turn the update of a probability row into its MAP
/// estimate `p_j ∝ n_j + α_j − 1` (`n_j` the expected counts); concentrations
/// must be `≥ 1` (then the mode exists and no entry goes negative). `α = 1`
/// everywhere is the maximum-likelihood update. Zeros of the current row
/// (structural zeros) stay zero whatever the prior.
#[derive(Debug, Clone, PartialEq)]
pub struct MStepOptions {
    /// Which parameters are updated.
    pub learn: Learn,
    /// Dirichlet concentrations for the start probabilities (K).
    pub start_prior: Option<Vec<f64>>,
    /// Dirichlet concentrations for each transition row (K x K).
    pub transition_prior: Option<Mat<f64>>,
    /// Dirichlet concentrations for the mixture weights of GMM emissions (K x n_mix).
    pub weight_prior: Option<Mat<f64>>,
    /// Dirichlet concentrations for categorical emission rows (K x M).
    pub emission_prior: Option<Mat<f64>>,
    /// Added to the diagonal of every updated covariance (Gaussian and GMM
    /// emissions), as in `mixture::MStepOptions::reg_covar`. Set 0 for exact EM.
    pub reg_covar: f64,
}

impl Default for MStepOptions {
    /// Learn everything, no priors, `reg_covar = 1e-6`.
    fn default() -> Self {
        Self {
            learn: Learn::all(),
            start_prior: None,
            transition_prior: None,
            weight_prior: None,
            emission_prior: None,
            reg_covar: 1e-6,
        }
    }
}

/// Sufficient statistics of the Baum-Welch E-step, mergeable across sequences.
///
/// - `start[j] = Σ_sequences γ_0(j)`,
/// - `transitions[i * K + j] = Σ_sequences Σ_t ξ_t(i, j)`,
/// - the emission's statistics of `γ`.
#[derive(Debug, Clone, PartialEq)]
pub struct HmmStats<S> {
    start: Vec<f64>,
    transitions: Vec<f64>,
    emission: S,
    n_sequences: usize,
    n_samples: usize,
}

impl<S: MergeStats> HmmStats<S> {
    /// `self += other` (statistics of the same model on more data).
    ///
    /// # Panics
    /// If the statistics come from models of different shapes (a
    /// programming error; the Gaussian statistics panic in the mixture crate).
    pub fn merge(&mut self, other: &Self) {
        assert_eq!(
            (self.start.len(), self.transitions.len()),
            (other.start.len(), other.transitions.len()),
            "statistics of models with different numbers of states"
        );
        for (a, b) in self.start.iter_mut().zip(&other.start) {
            *a += b;
        }
        for (a, b) in self.transitions.iter_mut().zip(&other.transitions) {
            *a += b;
        }
        self.emission.merge(&other.emission);
        self.n_sequences += other.n_sequences;
        self.n_samples += other.n_samples;
    }
}

impl<S> HmmStats<S> {
    /// Expected number of sequences starting in each state.
    #[must_use]
    pub fn start_counts(&self) -> &[f64] {
        &self.start
    }

    /// Expected transition counts, row-major K x K.
    #[must_use]
    pub fn transition_counts(&self) -> MatRef<'_, f64> {
        let k = self.start.len();
        MatRef::from_row_major_slice(&self.transitions, k, k)
    }

    /// The emission statistics.
    #[must_use]
    pub fn emission(&self) -> &S {
        &self.emission
    }

    /// Number of sequences accumulated.
    #[must_use]
    pub fn n_sequences(&self) -> usize {
        self.n_sequences
    }

    /// Number of observations accumulated.
    #[must_use]
    pub fn n_samples(&self) -> usize {
        self.n_samples
    }
}

/// Result of [`Hmm::e_step`].
#[derive(Debug, Clone)]
pub struct EStep<S> {
    /// `Σ_sequences ln p(x | θ)` under the parameters the E-step ran with.
    pub log_likelihood: f64,
    /// The sufficient statistics.
    pub stats: HmmStats<S>,
}

/// What [`Hmm::m_step`] had to do beyond the plain update.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct StepDiagnostics {
    /// States with no expected outgoing transition: their transition row was kept.
    pub transition_rows_kept: Vec<usize>,
    /// The emission's report.
    pub emission: EmissionDiagnostics,
}

impl StepDiagnostics {
    /// True when nothing beyond the plain update happened.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.transition_rows_kept.is_empty() && self.emission.is_empty()
    }
}

impl std::fmt::Display for StepDiagnostics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_empty() {
            return f.write_str("clean step");
        }
        let mut parts = Vec::new();
        if !self.transition_rows_kept.is_empty() {
            parts.push(format!(
                "transition rows kept for states without mass {:?}",
                self.transition_rows_kept
            ));
        }
        if !self.emission.is_empty() {
            parts.push(self.emission.to_string());
        }
        f.write_str(&parts.join("; "))
    }
}

/// Result of [`Hmm::forward_backward`].
#[derive(Debug, Clone, PartialEq)]
pub struct ForwardBackward {
    /// `ln p(x_s | θ)` of every sequence.
    pub log_likelihoods: Vec<f64>,
    /// `γ_t(j) = p(z_t = j | x)`, n x K, all sequences stacked.
    pub posteriors: Mat<f64>,
    /// `Σ_seq Σ_t ξ_t(i, j)`, K x K.
    pub transition_counts: Mat<f64>,
}

/// Viterbi decoding of many sequences.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoding {
    /// The most probable state path, all sequences concatenated (n).
    pub states: Vec<usize>,
    /// `ln p(x, z*)` of each sequence's best path.
    pub log_probs: Vec<f64>,
}

impl Decoding {
    /// `Σ` of the per-sequence best-path log-probabilities.
    #[must_use]
    pub fn log_prob(&self) -> f64 {
        self.log_probs.iter().sum()
    }
}

/// How [`Hmm::init_from_data`] initialises.
#[derive(Debug, Clone, PartialEq)]
pub struct HmmInit<C> {
    /// Number of hidden states K.
    pub n_states: usize,
    /// Given start probabilities; `None`: uniform.
    pub start: Option<Vec<f64>>,
    /// Given transition matrix; `None`: uniform rows.
    pub transitions: Option<Mat<f64>>,
    /// The emission's initialisation.
    pub emission: C,
}

/// A hidden Markov model with K states: start probabilities π, transition
/// matrix A (`A_ij = p(z_{t+1} = j | z_t = i)`) and emissions `b_j(x)`.
///
/// ```text
/// p(x_{0:T−1}, z_{0:T−1}) = π_{z_0} b_{z_0}(x_0) Π_{t≥1} A_{z_{t−1} z_t} b_{z_t}(x_t)
/// ```
///
/// Parameters are validated at construction and immutable: an M-step returns
/// a new model. Zeros of π and A are structural: EM keeps them zero.
#[derive(Debug, Clone)]
pub struct Hmm<E> {
    start: Vec<f64>,
    /// Row-major K x K.
    trans: Vec<f64>,
    emission: E,
    log_start: Vec<f64>,
    /// `log_trans[i * K + j] = ln A_ij`.
    log_trans: Vec<f64>,
}

/// Per-chunk output of the recursions.
/// Work buffers of [`Hmm::chunk_pass`], reused across the chunks one
/// rayon worker processes (they only grow; contents are overwritten).
#[derive(Default)]
struct ChunkBuffers {
    e: Vec<f64>,
    shift: Vec<f64>,
    alpha: Vec<f64>,
    tmp: Vec<f64>,
    gamma: Vec<f64>,
}

struct ChunkOut<S> {
    logliks: Vec<f64>,
    /// Posteriors, n x K column-major.
    gamma: Option<Vec<f64>>,
    /// Expected transition counts of the chunk (row-major K x K; empty in the score pass).
    transitions: Vec<f64>,
    stats: Option<HmmStats<S>>,
}

/// Checks that an emission returned an n x K log-likelihood matrix.
fn check_log_likelihood_shape(logb: &Mat<f64>, n: usize, k: usize) -> Result<(), HmmError> {
    if logb.nrows() != n {
        return Err(HmmError::DimensionMismatch {
            what: "emission log-likelihood rows",
            expected: n,
            found: logb.nrows(),
        });
    }
    if logb.ncols() != k {
        return Err(HmmError::DimensionMismatch {
            what: "emission log-likelihood columns",
            expected: k,
            found: logb.ncols(),
        });
    }
    Ok(())
}

/// Best paths of a chunk (concatenated) and their log-probabilities.
type ChunkPath = (Vec<usize>, Vec<f64>);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// Forward only; impossible sequences give −∞.
    Score,
    /// Forward-backward, posteriors kept.
    Posteriors,
    /// Forward-backward, statistics accumulated.
    Stats,
}

impl<E: Emission> Hmm<E> {
    /// Validating constructor. `transitions` is K x K with K = `emission.n_states()`.
    ///
    /// Rows are checked (finite, non-negative, summing to 1 within
    /// [`crate::ROW_SUM_TOLERANCE`]) and stored as given.
    ///
    /// # Errors
    /// [`HmmError::NoStates`], [`HmmError::DimensionMismatch`],
    /// [`HmmError::InvalidProbability`], [`HmmError::RowSum`].
    pub fn new(start: Vec<f64>, transitions: MatRef<'_, f64>, emission: E) -> Result<Self, HmmError> {
        let k = emission.n_states();
        if k == 0 {
            return Err(HmmError::NoStates);
        }
        for (what, found) in [
            ("start probabilities", start.len()),
            ("transition rows", transitions.nrows()),
            ("transition columns", transitions.ncols()),
        ] {
            if found != k {
                return Err(HmmError::DimensionMismatch {
                    what,
                    expected: k,
                    found,
                });
            }
        }
        let start = validate_row(&start, Table::Start, 0)?;
        let mut trans = Vec::with_capacity(k * k);
        for i in 0..k {
            let row: Vec<f64> = (0..k).map(|j| transitions[(i, j)]).collect();
            trans.extend(validate_row(&row, Table::Transitions, i)?);
        }
        Ok(Self::from_valid(start, trans, emission))
    }

    fn from_valid(start: Vec<f64>, trans: Vec<f64>, emission: E) -> Self {
        Self {
            log_start: ln_all(&start),
            log_trans: ln_all(&trans),
            start,
            trans,
            emission,
        }
    }

    /// Initialises from data: start and transitions given or uniform, the
    /// emission by its own [`Emission::init_from_data`] (e.g. k-means means),
    /// all randomness from `rng`.
    ///
    /// # Errors
    /// [`HmmError::NoStates`], validation errors of given parameters, the
    /// emission's errors (e.g. fewer distinct points than states).
    pub fn init_from_data<R: Rng + ?Sized>(
        data: &Sequences<'_>,
        config: &HmmInit<E::InitConfig>,
        rng: &mut R,
    ) -> Result<Self, HmmError> {
        let k = config.n_states;
        if k == 0 {
            return Err(HmmError::NoStates);
        }
        let emission = E::init_from_data(data, k, &config.emission, rng)?;
        let start = config.start.clone().unwrap_or_else(|| vec![1.0 / k as f64; k]);
        let transitions = config
            .transitions
            .clone()
            .unwrap_or_else(|| Mat::from_fn(k, k, |_, _| 1.0 / k as f64));
        Self::new(start, transitions.as_ref(), emission)
    }

    /// Number of hidden states K.
    #[must_use]
    pub fn n_states(&self) -> usize {
        self.start.len()
    }

    /// Number of observation columns d.
    #[must_use]
    pub fn n_features(&self) -> usize {
        self.emission.n_features()
    }

    /// Start probabilities π.
    #[must_use]
    pub fn start_probs(&self) -> &[f64] {
        &self.start
    }

    /// Transition matrix A (K x K, rows sum to 1).
    #[must_use]
    pub fn transitions(&self) -> MatRef<'_, f64> {
        let k = self.n_states();
        MatRef::from_row_major_slice(&self.trans, k, k)
    }

    /// The emission distribution.
    #[must_use]
    pub fn emission(&self) -> &E {
        &self.emission
    }

    /// The same chain with another emission (validated for the number of states).
    ///
    /// # Errors
    /// [`HmmError::DimensionMismatch`] if the emission has another K.
    pub fn with_emission<F: Emission>(&self, emission: F) -> Result<Hmm<F>, HmmError> {
        Hmm::new(self.start.clone(), self.transitions(), emission)
    }

    fn chain(&self) -> Chain<'_> {
        Chain {
            start: &self.start,
            trans: &self.trans,
            k: self.n_states(),
        }
    }

    fn check(&self, data: &Sequences<'_>) -> Result<(), HmmError> {
        self.emission.check_data(data)
    }

    /// Runs the recursions over one chunk.
    fn chunk_pass(
        &self,
        data: &Sequences<'_>,
        chunk: &Chunk,
        pass: Pass,
        buffers: &mut ChunkBuffers,
    ) -> Result<ChunkOut<E::Stats>, HmmError> {
        let k = self.n_states();
        let n = chunk.n_rows;
        let x = data.data().subrows(chunk.first_row, n);
        let logb = self.emission.log_likelihoods(x)?;
        check_log_likelihood_shape(&logb, n, k)?;
        let ChunkBuffers {
            e,
            shift,
            alpha,
            tmp,
            gamma: gamma_buf,
        } = buffers;
        // Reused across chunks: every entry read below is written first
        // (`scale_emissions` fills `e` and `shift`, `forward` the rows of
        // `alpha` of every sequence whose posteriors are used).
        e.resize(n * k, 0.0);
        shift.resize(n, 0.0);
        alpha.resize(n * k, 0.0);
        let (e, shift, alpha) = (&mut e[..n * k], &mut shift[..n], &mut alpha[..n * k]);
        inference::scale_emissions(logb.as_ref(), e, shift, tmp).map_err(|(t, state, value)| {
            HmmError::InvalidLogLikelihood {
                row: chunk.first_row + t,
                state,
                value,
            }
        })?;
        // Forward variables (`alpha`), overwritten by the posteriors in the backward pass.
        let mut c = vec![0.0; n];
        let mut scratch = Scratch::new(k);
        let mut m = vec![0.0; k * k];
        let mut start_counts = vec![0.0; k];
        let mut logliks = Vec::with_capacity(chunk.end_sequence - chunk.first_sequence);
        let chain = self.chain();
        for s in chunk.first_sequence..chunk.end_sequence {
            let r0 = data.starts()[s] - chunk.first_row;
            let len = data.lengths()[s];
            let rows = r0 * k..(r0 + len) * k;
            let fwd = inference::forward(
                chain,
                logb.as_ref().subrows(r0, len),
                &mut e[rows.clone()],
                &mut shift[r0..r0 + len],
                &mut alpha[rows.clone()],
                &mut c[r0..r0 + len],
                &mut scratch,
            );
            let ll = match fwd {
                Ok(ll) => ll,
                Err(_) if pass == Pass::Score => {
                    logliks.push(f64::NEG_INFINITY);
                    continue;
                }
                Err(time) => return Err(HmmError::ZeroLikelihood { sequence: s, time }),
            };
            logliks.push(ll);
            if pass != Pass::Score {
                let ok = inference::backward(
                    chain,
                    &e[rows.clone()],
                    &mut alpha[rows],
                    &c[r0..r0 + len],
                    &mut m,
                    &mut scratch,
                );
                if !ok {
                    return Err(HmmError::NumericalFailure { sequence: s });
                }
                for (sc, &g) in start_counts.iter_mut().zip(&alpha[r0 * k..(r0 + 1) * k]) {
                    *sc += g;
                }
            }
        }
        // Time-major posteriors (in `alpha`) to an n x K column-major buffer:
        // returned for the posteriors pass, a reused buffer for the stats pass.
        let gamma = if pass == Pass::Posteriors {
            let mut g = vec![0.0; n * k];
            inference::time_major_to_columns(alpha, k, &mut g);
            Some(g)
        } else {
            None
        };
        // ξ summed over the chunk: A ∘ Σ_t α̂_t w_{t+1}ᵀ.
        for (mij, &aij) in m.iter_mut().zip(&self.trans) {
            *mij *= aij;
        }
        let (stats, transitions) = if pass == Pass::Stats {
            if gamma_buf.len() < n * k {
                gamma_buf.resize(n * k, 0.0);
            }
            let g = &mut gamma_buf[..n * k];
            inference::time_major_to_columns(alpha, k, g);
            let mut emission = self.emission.zero_stats();
            self.emission
                .accumulate(x, MatRef::from_column_major_slice(g, n, k), &mut emission)?;
            let stats = HmmStats {
                start: start_counts,
                transitions: m,
                emission,
                n_sequences: chunk.end_sequence - chunk.first_sequence,
                n_samples: n,
            };
            (Some(stats), Vec::new())
        } else {
            (None, m)
        };
        Ok(ChunkOut {
            logliks,
            gamma,
            transitions,
            stats,
        })
    }

    fn run(&self, data: &Sequences<'_>, pass: Pass) -> Result<Vec<ChunkOut<E::Stats>>, HmmError> {
        self.check(data)?;
        data.chunks()
            .par_iter()
            .map_init(ChunkBuffers::default, |buffers, chunk| {
                self.chunk_pass(data, chunk, pass, buffers)
            })
            .collect()
    }

    /// The Baum-Welch E-step: forward-backward on every sequence (in parallel
    /// over the fixed chunks of [`Sequences::chunks`], merged in chunk order,
    /// so the result does not depend on the number of threads).
    ///
    /// # Errors
    /// Data errors ([`Emission::check_data`]); [`HmmError::ZeroLikelihood`]
    /// for a sequence the model cannot produce; [`HmmError::NumericalFailure`].
    pub fn e_step(&self, data: &Sequences<'_>) -> Result<EStep<E::Stats>, HmmError> {
        let parts = self.run(data, Pass::Stats)?;
        let k = self.n_states();
        let mut stats = HmmStats {
            start: vec![0.0; k],
            transitions: vec![0.0; k * k],
            emission: self.emission.zero_stats(),
            n_sequences: 0,
            n_samples: 0,
        };
        let mut log_likelihood = 0.0;
        for part in &parts {
            log_likelihood += part.logliks.iter().sum::<f64>();
            stats.merge(part.stats.as_ref().expect("stats pass"));
        }
        Ok(EStep {
            log_likelihood,
            stats,
        })
    }

    /// The Baum-Welch M-step: a new model maximising the expected
    /// complete-data log-likelihood (or its MAP version under priors):
    ///
    /// - `π_j ∝ Σ_seq γ_0(j) + α_j − 1`,
    /// - `A_ij ∝ Σ_seq Σ_t ξ_t(i, j) + α_ij − 1`,
    /// - the emission's own update ([`Emission::m_step`]).
    ///
    /// Only the parameters selected in `options.learn` change. A transition
    /// row without expected counts (a state never left) is kept and reported.
    /// Without priors and with `reg_covar = 0` the step never lowers the
    /// log-likelihood.
    ///
    /// # Errors
    /// Statistics from a model of another shape, invalid priors or options,
    /// emission failures. `self` is never modified.
    pub fn m_step(
        &self,
        stats: &HmmStats<E::Stats>,
        options: &MStepOptions,
    ) -> Result<(Self, StepDiagnostics), HmmError> {
        let k = self.n_states();
        if stats.start.len() != k || stats.transitions.len() != k * k {
            return Err(HmmError::DimensionMismatch {
                what: "statistics states",
                expected: k,
                found: stats.start.len(),
            });
        }
        if !(options.reg_covar >= 0.0 && options.reg_covar.is_finite()) {
            return Err(HmmError::InvalidOption {
                what: "reg_covar",
                value: options.reg_covar,
            });
        }
        let mut diagnostics = StepDiagnostics::default();
        let mut start = self.start.clone();
        if options.learn.start {
            if let Some(prior) = &options.start_prior {
                if prior.len() != k {
                    return Err(HmmError::DimensionMismatch {
                        what: "start prior",
                        expected: k,
                        found: prior.len(),
                    });
                }
                validate_prior(prior, Table::Start, 0)?;
            }
            if let Some(row) = map_row(&stats.start, options.start_prior.as_deref(), &self.start) {
                start = row;
            }
        }
        let mut trans = self.trans.clone();
        if options.learn.transitions {
            if let Some(prior) = options
                .transition_prior
                .as_ref()
                .filter(|prior| prior.nrows() != k || prior.ncols() != k)
            {
                return Err(HmmError::DimensionMismatch {
                    what: "transition prior (K x K entries)",
                    expected: k * k,
                    found: prior.nrows() * prior.ncols(),
                });
            }
            for i in 0..k {
                let prior_row: Option<Vec<f64>> = options
                    .transition_prior
                    .as_ref()
                    .map(|p| (0..k).map(|j| p[(i, j)]).collect());
                if let Some(row) = &prior_row {
                    validate_prior(row, Table::Transitions, i)?;
                }
                let previous = &self.trans[i * k..(i + 1) * k];
                match map_row(
                    &stats.transitions[i * k..(i + 1) * k],
                    prior_row.as_deref(),
                    previous,
                ) {
                    Some(row) => trans[i * k..(i + 1) * k].copy_from_slice(&row),
                    None => diagnostics.transition_rows_kept.push(i),
                }
            }
        }
        let (emission, emission_diagnostics) = self.emission.m_step(&stats.emission, options)?;
        diagnostics.emission = emission_diagnostics;
        Ok((Self::from_valid(start, trans, emission), diagnostics))
    }

    /// One full Baum-Welch iteration: [`Hmm::e_step`] then [`Hmm::m_step`].
    /// Returns the new model, the log-likelihood of `self` (before the step)
    /// and the diagnostics. For benchmarks and simple loops.
    ///
    /// # Errors
    /// As [`Hmm::e_step`] and [`Hmm::m_step`].
    pub fn em_iteration(
        &self,
        data: &Sequences<'_>,
        options: &MStepOptions,
    ) -> Result<(Self, f64, StepDiagnostics), HmmError> {
        let e = self.e_step(data)?;
        let (model, diagnostics) = self.m_step(&e.stats, options)?;
        Ok((model, e.log_likelihood, diagnostics))
    }

    /// `ln p(x_s | θ)` of every sequence (forward algorithm); a sequence the
    /// model cannot produce gives `−∞`.
    ///
    /// # Errors
    /// Data errors.
    pub fn score_sequences(&self, data: &Sequences<'_>) -> Result<Vec<f64>, HmmError> {
        Ok(self
            .run(data, Pass::Score)?
            .into_iter()
            .flat_map(|p| p.logliks)
            .collect())
    }

    /// `Σ_s ln p(x_s | θ)`, the total log-likelihood (may be `−∞`).
    ///
    /// # Errors
    /// Data errors.
    pub fn score(&self, data: &Sequences<'_>) -> Result<f64, HmmError> {
        Ok(self.score_sequences(data)?.iter().sum())
    }

    /// Forward-backward on every sequence: the log-likelihood of each
    /// sequence, the posteriors `γ_t(j) = p(z_t = j | x)` (n x K, rows sum
    /// to 1) and the expected transition counts `Σ_seq Σ_t ξ_t(i, j)` (K x K).
    ///
    /// # Errors
    /// Data errors, [`HmmError::ZeroLikelihood`], [`HmmError::NumericalFailure`].
    pub fn forward_backward(&self, data: &Sequences<'_>) -> Result<ForwardBackward, HmmError> {
        let k = self.n_states();
        let parts = self.run(data, Pass::Posteriors)?;
        let mut posteriors = Mat::zeros(data.n_samples(), k);
        let mut transitions = vec![0.0; k * k];
        let mut log_likelihoods = Vec::with_capacity(data.n_sequences());
        for (chunk, part) in data.chunks().iter().zip(&parts) {
            let g = part.gamma.as_ref().expect("posteriors pass");
            posteriors
                .as_mut()
                .subrows_mut(chunk.first_row, chunk.n_rows)
                .copy_from(MatRef::from_column_major_slice(g, chunk.n_rows, k));
            for (a, b) in transitions.iter_mut().zip(&part.transitions) {
                *a += b;
            }
            log_likelihoods.extend_from_slice(&part.logliks);
        }
        Ok(ForwardBackward {
            log_likelihoods,
            posteriors,
            transition_counts: MatRef::from_row_major_slice(&transitions, k, k).to_owned(),
        })
    }

    /// The posteriors `γ_t(j) = p(z_t = j | x)`, n x K (rows sum to 1).
    ///
    /// # Errors
    /// As [`Hmm::forward_backward`].
    pub fn predict_proba(&self, data: &Sequences<'_>) -> Result<Mat<f64>, HmmError> {
        Ok(self.forward_backward(data)?.posteriors)
    }

    /// Posterior (MAP per time step) decoding: `argmax_j γ_t(j)` for every t.
    ///
    /// # Errors
    /// As [`Hmm::predict_proba`].
    pub fn predict_posterior(&self, data: &Sequences<'_>) -> Result<Vec<usize>, HmmError> {
        let g = self.predict_proba(data)?;
        Ok((0..g.nrows())
            .map(|t| {
                let mut arg = 0;
                for j in 1..g.ncols() {
                    if g[(t, j)] > g[(t, arg)] {
                        arg = j;
                    }
                }
                arg
            })
            .collect())
    }

    /// Viterbi decoding of every sequence (log space): the most probable state
    /// path and its log-probability `ln p(x, z*)` per sequence. Ties go to the
    /// lowest state index.
    ///
    /// # Errors
    /// Data errors; [`HmmError::ZeroLikelihood`] when no path can produce a sequence.
    pub fn decode(&self, data: &Sequences<'_>) -> Result<Decoding, HmmError> {
        self.check(data)?;
        let parts: Vec<Result<ChunkPath, HmmError>> = data
            .chunks()
            .par_iter()
            .map(|chunk| self.viterbi_chunk(data, chunk))
            .collect();
        let mut states = Vec::with_capacity(data.n_samples());
        let mut log_probs = Vec::with_capacity(data.n_sequences());
        for part in parts {
            let (s, l) = part?;
            states.extend(s);
            log_probs.extend(l);
        }
        Ok(Decoding { states, log_probs })
    }

    fn viterbi_chunk(&self, data: &Sequences<'_>, chunk: &Chunk) -> Result<ChunkPath, HmmError> {
        let k = self.n_states();
        let x = data.data().subrows(chunk.first_row, chunk.n_rows);
        let logb = self.emission.log_likelihoods(x)?;
        check_log_likelihood_shape(&logb, chunk.n_rows, k)?;
        let mut lb = vec![0.0; chunk.n_rows * k];
        inference::to_time_major(logb.as_ref(), &mut lb).map_err(|(t, state, value)| {
            HmmError::InvalidLogLikelihood {
                row: chunk.first_row + t,
                state,
                value,
            }
        })?;
        let mut path = vec![0usize; chunk.n_rows];
        let mut log_probs = Vec::new();
        let mut work = ViterbiScratch::default();
        for s in chunk.first_sequence..chunk.end_sequence {
            let r0 = data.starts()[s] - chunk.first_row;
            let len = data.lengths()[s];
            let lp = inference::viterbi(
                &self.log_start,
                &self.log_trans,
                &lb[r0 * k..(r0 + len) * k],
                &mut path[r0..r0 + len],
                &mut work,
            )
            .map_err(|time| HmmError::ZeroLikelihood { sequence: s, time })?;
            log_probs.push(lp);
        }
        Ok((path, log_probs))
    }

    /// The Viterbi state path of all sequences, concatenated.
    ///
    /// # Errors
    /// As [`Hmm::decode`].
    pub fn predict(&self, data: &Sequences<'_>) -> Result<Vec<usize>, HmmError> {
        Ok(self.decode(data)?.states)
    }

    /// Samples one sequence of length `t`: states `z_0 ~ π`,
    /// `z_t ~ A[z_{t−1}, ·]`, then observations `x_t ~ b_{z_t}` (all states
    /// are drawn first, then all observations, from the same `rng`).
    ///
    /// # Errors
    /// [`HmmError::ZeroLength`] for `t = 0`.
    pub fn sample<R: Rng + ?Sized>(&self, t: usize, rng: &mut R) -> Result<(Mat<f64>, Vec<usize>), HmmError> {
        if t == 0 {
            return Err(HmmError::ZeroLength);
        }
        let k = self.n_states();
        let mut states = Vec::with_capacity(t);
        let mut z = sample_index(&self.start, rng);
        states.push(z);
        for _ in 1..t {
            z = sample_index(&self.trans[z * k..(z + 1) * k], rng);
            states.push(z);
        }
        let x = self.emission.sample(&states, rng)?;
        Ok((x, states))
    }

    /// Number of free parameters: `(nnz(π) − 1) + Σ_i (nnz(A_i·) − 1)` (structural
    /// zeros are not parameters) plus the emission's free parameters.
    #[must_use]
    pub fn n_parameters(&self) -> usize {
        let k = self.n_states();
        let nnz = |row: &[f64]| row.iter().filter(|&&v| v > 0.0).count().saturating_sub(1);
        nnz(&self.start)
            + (0..k)
                .map(|i| nnz(&self.trans[i * k..(i + 1) * k]))
                .sum::<usize>()
            + self.emission.n_parameters()
    }

    /// Bayesian information criterion `−2 ln L + p ln n` (n = number of observations).
    ///
    /// # Errors
    /// As [`Hmm::score`].
    pub fn bic(&self, data: &Sequences<'_>) -> Result<f64, HmmError> {
        let ll = self.score(data)?;
        Ok(-2.0 * ll + self.n_parameters() as f64 * (data.n_samples() as f64).ln())
    }

    /// Akaike information criterion `−2 ln L + 2 p`.
    ///
    /// # Errors
    /// As [`Hmm::score`].
    pub fn aic(&self, data: &Sequences<'_>) -> Result<f64, HmmError> {
        let ll = self.score(data)?;
        Ok(-2.0 * ll + 2.0 * self.n_parameters() as f64)
    }
}
