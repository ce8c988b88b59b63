//! The E-step: log-likelihood of the current parameters and sufficient statistics.

use crate::data::{Data, check_columns, check_sample_weights, chunk_ranges, with_data};
use crate::kernel::{self, EStepChunk, EStepJob, insert_worst};
use crate::stats::{ReseedCandidate, SufficientStats, acc_kind};
use crate::{GaussianMixture, MixtureError};
use em_core::EStep;
use faer::MatRef;
use rayon::prelude::*;

/// One chunk's range of rows and E-step output.
type ChunkPart = ((usize, usize), EStepChunk);

impl GaussianMixture {
    /// The E-step with per-sample weights `wᵢ ≥ 0` (weighted EM: row i
    /// counts `wᵢ` times) over the rows of `x` (n x d);
    /// [`em_core::EmModel::e_step`] is this with every `wᵢ = 1`.
    ///
    /// For each row, in log space: `ℓᵢₖ = ln wₖ + ln N(xᵢ; μₖ, Σₖ)` through
    /// the cached whitening `Wₖ = Lₖ⁻¹` (no inverse, no determinant),
    /// `ln p(xᵢ) = max ℓ + ln Σₖ exp(ℓᵢₖ − max ℓ)` (every exponent ≤ 0) and
    /// responsibilities `rᵢₖ = exp(ℓᵢₖ − ln p(xᵢ))`. Returns
    /// `Σᵢ wᵢ ln p(xᵢ)` and the statistics of `ρᵢₖ = wᵢ rᵢₖ`, including the
    /// K rows of lowest `ln p(xᵢ)` (with `wᵢ > 0`) as re-seeding candidates.
    ///
    /// Runs over fixed chunks of [`CHUNK_ROWS`](crate::CHUNK_ROWS) rows in
    /// parallel (rayon) and reduces them in chunk order: the result does not
    /// depend on the number of threads.
    ///
    /// # Errors
    /// [`MixtureError::EmptyData`] for no rows; [`MixtureError::DimensionMismatch`]
    /// for the wrong number of columns or of sample weights;
    /// [`MixtureError::NonFiniteData`] (row and column of the first bad value);
    /// [`MixtureError::InvalidSampleWeight`]; [`MixtureError::ZeroLikelihood`].
    pub fn e_step_weighted(
        &self,
        x: MatRef<'_, f64>,
        sample_weights: &[f64],
    ) -> Result<EStep<SufficientStats>, MixtureError> {
        self.e_step_with(x, Some(sample_weights))
    }

    /// [`e_step_weighted`](Self::e_step_weighted) with optional sample
    /// weights (`None`: every weight 1).
    pub(crate) fn e_step_with(
        &self,
        x: MatRef<'_, f64>,
        sample_weights: Option<&[f64]>,
    ) -> Result<EStep<SufficientStats>, MixtureError> {
        let (n, d, k) = (x.nrows(), self.n_features(), self.n_components());
        if n == 0 {
            return Err(MixtureError::EmptyData);
        }
        let cov_type = self.covariance_type();
        let shift = self.means_flat();
        self.estep_chunks(x, sample_weights, true, |data, parts| {
            let mut log_likelihood = 0.0;
            let mut stats = SufficientStats::zeros(k, d, cov_type);
            let mut worst: Vec<(f64, usize)> = Vec::with_capacity(k + 1);
            for part in parts {
                let ((s, e), chunk) = part?;
                log_likelihood += chunk.log_likelihood;
                let acc = chunk
                    .acc
                    .as_ref()
                    .expect("an E-step with statistics returns them");
                stats.merge(&SufficientStats::from_acc(acc, shift, e - s, cov_type));
                for (score, row) in chunk.worst {
                    if worst.len() < k || score < worst[worst.len() - 1].0 {
                        insert_worst(&mut worst, k, score, row);
                    }
                }
            }
            stats.set_candidates(
                worst
                    .into_iter()
                    .map(|(log_likelihood, row)| ReseedCandidate {
                        log_likelihood,
                        point: data.row(row),
                    })
                    .collect(),
            );
            Ok(EStep {
                log_likelihood,
                stats,
            })
        })
    }

    /// `Σᵢ wᵢ ln p(xᵢ)` (unit weights without `sample_weights`; 0 for no
    /// rows) by the E-step's kernel without its responsibilities,
    /// statistics and worst rows: per block of rows one vector `ln` of the
    /// product of the row sums, no per-row output. Bit for bit the E-step's
    /// log-likelihood.
    ///
    /// # Errors
    /// [`MixtureError::DimensionMismatch`] for the wrong number of columns;
    /// [`MixtureError::NonFiniteData`] (row and column of the first bad
    /// value); [`MixtureError::ZeroLikelihood`].
    pub(crate) fn log_likelihood_only(
        &self,
        x: MatRef<'_, f64>,
        sample_weights: Option<&[f64]>,
    ) -> Result<f64, MixtureError> {
        if x.nrows() == 0 {
            check_columns(x, self.n_features())?;
            return Ok(0.0);
        }
        self.estep_chunks(x, sample_weights, false, |_, parts| {
            parts.into_iter().map(|part| Ok(part?.1.log_likelihood)).sum()
        })
    }

    /// Runs the E-step kernel (with the statistics of the covariance type,
    /// or the log-likelihood alone without `stats`) over the fixed chunks of the `n ≥ 1` rows of `x` in
    /// parallel (rayon), after checking its columns and the sample weights, and gives `reduce` the data and every chunk's range
    /// and output in chunk order, so that results do not depend on the
    /// number of threads. A chunk with a non-finite row log-likelihood is an
    /// error: [`MixtureError::NonFiniteData`] if the chunk has a non-finite
    /// value (the likelier cause), else [`MixtureError::ZeroLikelihood`].
    fn estep_chunks<T>(
        &self,
        x: MatRef<'_, f64>,
        sample_weights: Option<&[f64]>,
        stats: bool,
        reduce: impl FnOnce(&Data<'_>, Vec<Result<ChunkPart, MixtureError>>) -> Result<T, MixtureError>,
    ) -> Result<T, MixtureError> {
        check_columns(x, self.n_features())?;
        check_sample_weights(sample_weights, x.nrows())?;
        with_data(x, |data| {
            let job = EStepJob {
                model: self.view(),
                log_w: self.log_weights(),
                data,
                weights: sample_weights,
                kind: acc_kind(self.covariance_type()),
            };
            let parts = chunk_ranges(x.nrows())
                .par_iter()
                .map(|&(s, e)| {
                    let chunk = if stats {
                        kernel::estep_chunk(&job, s, e)
                    } else {
                        kernel::loglik_chunk(&job, s, e)
                    };
                    if let Some(row) = chunk.bad_row {
                        data.check_finite_rows(s, e)?;
                        return Err(MixtureError::ZeroLikelihood { row });
                    }
                    Ok(((s, e), chunk))
                })
                .collect();
            reduce(data, parts)
        })
    }
}
