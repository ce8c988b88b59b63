//! The E-step: log-likelihood of the current parameters and sufficient statistics.

use crate::data::{check_columns, check_sample_weights, chunk_ranges, with_data};
use crate::kernel::{self, EStepJob, insert_worst};
use crate::stats::{ReseedCandidate, SufficientStats, acc_kind};
use crate::{GaussianMixture, MixtureError};
use em_core::EStep;
use faer::MatRef;
use rayon::prelude::*;

/// One chunk's log-likelihood, statistics and worst rows.
type ChunkPart = (f64, SufficientStats, Vec<(f64, usize)>);

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
        check_columns(x, d)?;
        check_sample_weights(sample_weights, n)?;
        let cov_type = self.covariance_type();
        let kind = acc_kind(cov_type);
        let shift = self.means_flat();
        with_data(x, |data| {
            let job = EStepJob {
                model: self.view(),
                log_w: self.log_weights(),
                data,
                weights: sample_weights,
                kind,
            };
            let parts: Vec<Result<ChunkPart, MixtureError>> = chunk_ranges(n)
                .par_iter()
                .map(|&(s, e)| {
                    let chunk = kernel::estep_chunk(&job, s, e);
                    if let Some(row) = chunk.bad_row {
                        // Non-finite data is the likelier cause; name its first entry.
                        data.check_finite_rows(s, e)?;
                        return Err(MixtureError::ZeroLikelihood { row });
                    }
                    let stats = SufficientStats::from_acc(&chunk.acc, shift, e - s, cov_type);
                    Ok((chunk.log_likelihood, stats, chunk.worst))
                })
                .collect();
            let mut log_likelihood = 0.0;
            let mut stats = SufficientStats::zeros(k, d, cov_type);
            let mut worst: Vec<(f64, usize)> = Vec::with_capacity(k + 1);
            for part in parts {
                let (ll, chunk_stats, chunk_worst) = part?;
                log_likelihood += ll;
                stats.merge(&chunk_stats);
                for (score, row) in chunk_worst {
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
}
