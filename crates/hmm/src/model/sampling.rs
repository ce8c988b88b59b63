//! Drawing state paths and observations from the model.

use faer::Mat;
use rand::Rng;

use super::Hmm;
use crate::emission::Emission;
use crate::error::HmmError;
use crate::probability::sample_index;

impl<E: Emission> Hmm<E> {
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

    /// Samples one independent sequence per entry of `lengths`, each starting
    /// from the start probabilities π, and stacks them: the rows of all
    /// sequences (`Σ lengths` x d, in the order of `lengths`) and their states.
    /// The draws are those of [`Hmm::sample`] called once per length with the
    /// same `rng`, so `(x, states)` with `lengths` as the sequence lengths is
    /// ready for [`crate::Sequences::new`].
    ///
    /// # Errors
    /// [`HmmError::NoSequences`] for no length, [`HmmError::EmptySequence`]
    /// for a length of 0 (checked before anything is drawn).
    pub fn sample_sequences<R: Rng + ?Sized>(
        &self,
        lengths: &[usize],
        rng: &mut R,
    ) -> Result<(Mat<f64>, Vec<usize>), HmmError> {
        if lengths.is_empty() {
            return Err(HmmError::NoSequences);
        }
        if let Some(sequence) = lengths.iter().position(|&t| t == 0) {
            return Err(HmmError::EmptySequence { sequence });
        }
        let total = lengths
            .iter()
            .try_fold(0usize, |acc, &t| acc.checked_add(t))
            .ok_or(HmmError::InvalidOption {
                what: "total length of the sampled sequences",
                value: f64::INFINITY,
            })?;
        let mut x = Mat::zeros(total, self.n_features());
        let mut states = Vec::with_capacity(total);
        for &t in lengths {
            let (xs, zs) = self.sample(t, rng)?;
            x.as_mut().subrows_mut(states.len(), t).copy_from(&xs);
            states.extend(zs);
        }
        Ok((x, states))
    }
}
