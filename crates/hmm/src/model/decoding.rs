//! Inference with a fitted model: scores, posteriors, Viterbi decoding and
//! information criteria (all over the parallel passes of `passes`).

use faer::{Mat, MatRef};
use rayon::prelude::*;

use super::Hmm;
use super::passes::{DecodeBuffers, Pass};
use super::pool::Pool;
use crate::emission::Emission;
use crate::error::HmmError;
use crate::sequences::Sequences;

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

impl<E: Emission> Hmm<E> {
    /// `ln p(x_s | θ)` of every sequence (forward algorithm).
    ///
    /// Data the model cannot produce (probability zero: a symbol no
    /// reachable state emits, a count a zero rate cannot emit, a transition
    /// the model forbids) are not scored `−∞`:
    /// [`HmmError::ZeroLikelihood`] names the first such sequence and the
    /// first time step (both 0-based) at which no state path remains, so a
    /// caller can say "impossible under the model at sequence s, position t".
    ///
    /// # Errors
    /// Data errors; [`HmmError::ZeroLikelihood`].
    pub fn score_sequences(&self, data: &Sequences<'_>) -> Result<Vec<f64>, HmmError> {
        Ok(self
            .run(data, Pass::Score)?
            .into_iter()
            .flat_map(|p| p.logliks)
            .collect())
    }

    /// `Σ_s ln p(x_s | θ)`, the total log-likelihood (always finite).
    ///
    /// # Errors
    /// As [`Hmm::score_sequences`]: data errors; [`HmmError::ZeroLikelihood`]
    /// locating data the model cannot produce.
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
        // The chunks cover the rows in order: each writes its paths into its
        // own piece of `states`.
        let mut states = vec![0; data.n_samples()];
        let mut pieces = Vec::with_capacity(data.chunks().len());
        let mut rest = states.as_mut_slice();
        for chunk in data.chunks() {
            let (piece, tail) = rest.split_at_mut(chunk.n_rows);
            pieces.push(piece);
            rest = tail;
        }
        let pool = Pool::<DecodeBuffers>::new();
        let parts: Vec<Result<Vec<f64>, HmmError>> = data
            .chunks()
            .par_iter()
            .zip(pieces)
            .map_init(
                || pool.take(),
                |work, (chunk, path)| self.viterbi_chunk(data, chunk, path, work),
            )
            .collect();
        let mut log_probs = Vec::with_capacity(data.n_sequences());
        for part in parts {
            log_probs.extend(part?);
        }
        Ok(Decoding { states, log_probs })
    }

    /// The Viterbi state path of all sequences, concatenated.
    ///
    /// # Errors
    /// As [`Hmm::decode`].
    pub fn predict(&self, data: &Sequences<'_>) -> Result<Vec<usize>, HmmError> {
        Ok(self.decode(data)?.states)
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
