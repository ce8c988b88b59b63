//! The Gaussian mixture model: validated parameters, densities and inference.

use crate::covariance::{Factors, build_factors, check_count};
use crate::data::{check_columns, chunk_ranges, column_slices_mut, with_data};
use crate::error::CovarianceOwner;
use crate::kernel::CHUNK_ROWS;
use crate::kernel::{self, EvalJob, EvalOut, ModelView};
use crate::{CovarianceType, Covariances, MixtureError};
use faer::prelude::ReborrowMut;
use faer::{Mat, MatMut, MatRef};
use linalg_kernels::Cholesky;
use linalg_kernels::tolerance::PROBABILITY_SUM;
use rand::Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;

/// One chunk's slices of the per-component outputs and of the row scores.
type ChunkOutputs<'a> = (Vec<&'a mut [f64]>, Option<&'a mut [f64]>);

/// A mixture of K Gaussians in d dimensions:
/// `p(x) = Σₖ wₖ N(x; μₖ, Σₖ)`.
///
/// Parameters are validated at construction and never change afterwards;
/// [`m_step`](crate::EmModel::m_step) returns a new model. The Cholesky factors,
/// whitening matrices and log-determinants of the covariances are cached
/// (see [`CovarianceType`] and the crate README).
///
/// # Examples
/// ```
/// use faer::mat;
/// use mixture::{Covariances, GaussianMixture};
/// let gm = GaussianMixture::new(
///     vec![0.3, 0.7],
///     mat![[0.0, 0.0], [2.5, 0.0]],
///     Covariances::Full(vec![mat![[1.0, 0.5], [0.5, 1.0]], mat![[1.0, -0.5], [-0.5, 1.0]]]),
/// )
/// .unwrap();
/// let x = mat![[0.1, 0.2], [2.4, -0.3]];
/// let labels = gm.predict(x.as_ref()).unwrap();
/// assert_eq!(labels, vec![0, 1]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianMixture {
    weights: Vec<f64>,
    log_weights: Vec<f64>,
    means: Mat<f64>,
    means_flat: Vec<f64>,
    covariances: Covariances,
    factors: Factors,
}

impl GaussianMixture {
    /// Builds a mixture from weights (K), means (K x d) and covariances.
    ///
    /// Checks: K ≥ 1, d ≥ 1; weights finite, non-negative, summing to one
    /// within [`linalg_kernels::tolerance::PROBABILITY_SUM`] (a weight may be 0); means finite;
    /// covariance shapes; full and tied matrices finite, symmetric within
    /// [`linalg_kernels::tolerance::SYMMETRY`] and positive definite (the failing
    /// Cholesky pivot is reported); variances finite and positive.
    ///
    /// # Errors
    /// [`MixtureError::NoComponents`], [`MixtureError::NoFeatures`],
    /// [`MixtureError::DimensionMismatch`], [`MixtureError::InvalidWeight`],
    /// [`MixtureError::WeightsDoNotSumToOne`], [`MixtureError::NonFiniteMean`],
    /// [`MixtureError::NonFiniteCovariance`], [`MixtureError::NotSymmetric`],
    /// [`MixtureError::NotPositiveDefinite`], [`MixtureError::NonPositiveVariance`],
    /// each naming the component (and entry) at fault.
    pub fn new(weights: Vec<f64>, means: Mat<f64>, covariances: Covariances) -> Result<Self, MixtureError> {
        let k = weights.len();
        if k == 0 {
            return Err(MixtureError::NoComponents);
        }
        check_count("rows of the means (components)", k, means.nrows())?;
        let d = means.ncols();
        if d == 0 {
            return Err(MixtureError::NoFeatures);
        }
        check_weights(&weights)?;
        for c in 0..k {
            for j in 0..d {
                let value = means[(c, j)];
                if !value.is_finite() {
                    return Err(MixtureError::NonFiniteMean {
                        component: c,
                        feature: j,
                        value,
                    });
                }
            }
        }
        let factors = build_factors(&covariances, k, d)?;
        Ok(Self::assemble(weights, means, covariances, factors))
    }

    /// Builds a mixture from precision matrices (inverse covariances), in the
    /// shapes of [`Covariances`] (full: K matrices; diagonal: K x d
    /// precisions; spherical: K precisions; tied: one matrix).
    ///
    /// Each precision is checked like a covariance, then inverted through its
    /// Cholesky factor ([`Cholesky::inverse`]) and the result validated by
    /// [`new`](Self::new).
    ///
    /// # Errors
    /// As [`new`](Self::new); the errors name the precision of the component.
    pub fn from_precisions(
        weights: Vec<f64>,
        means: Mat<f64>,
        precisions: Covariances,
    ) -> Result<Self, MixtureError> {
        let k = weights.len();
        let d = means.ncols();
        // Validates shapes, symmetry and definiteness of the precisions.
        build_factors(&precisions, k, d)?;
        let invert = |m: &Mat<f64>, owner: CovarianceOwner| -> Result<Mat<f64>, MixtureError> {
            let chol = Cholesky::new(m.as_ref())
                .map_err(|source| MixtureError::NotPositiveDefinite { owner, source })?;
            Ok(chol.inverse())
        };
        let covariances = match precisions {
            Covariances::Full(ps) => Covariances::Full(
                ps.iter()
                    .enumerate()
                    .map(|(c, p)| invert(p, CovarianceOwner::Component(c)))
                    .collect::<Result<_, _>>()?,
            ),
            Covariances::Tied(p) => Covariances::Tied(invert(&p, CovarianceOwner::Tied)?),
            Covariances::Diagonal(p) => {
                Covariances::Diagonal(Mat::from_fn(p.nrows(), p.ncols(), |i, j| 1.0 / p[(i, j)]))
            }
            Covariances::Spherical(p) => Covariances::Spherical(p.iter().map(|v| 1.0 / v).collect()),
        };
        Self::new(weights, means, covariances)
    }

    /// Assembles a model from parameters already validated and factored.
    pub(crate) fn assemble(
        weights: Vec<f64>,
        means: Mat<f64>,
        covariances: Covariances,
        factors: Factors,
    ) -> Self {
        let (k, d) = (means.nrows(), means.ncols());
        let log_weights = weights.iter().map(|w| w.ln()).collect();
        let mut means_flat = vec![0.0; k * d];
        for c in 0..k {
            for j in 0..d {
                means_flat[c * d + j] = means[(c, j)];
            }
        }
        Self {
            weights,
            log_weights,
            means,
            means_flat,
            covariances,
            factors,
        }
    }

    /// Number of components K.
    #[must_use]
    pub fn n_components(&self) -> usize {
        self.weights.len()
    }

    /// Number of features d.
    #[must_use]
    pub fn n_features(&self) -> usize {
        self.means.ncols()
    }

    /// Mixture weights `wₖ` (sum to one within [`linalg_kernels::tolerance::PROBABILITY_SUM`]).
    #[must_use]
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// Means, K x d (row k is `μₖ`).
    #[must_use]
    pub fn means(&self) -> MatRef<'_, f64> {
        self.means.as_ref()
    }

    /// The covariance parameters as stored.
    #[must_use]
    pub fn covariances(&self) -> &Covariances {
        &self.covariances
    }

    /// The covariance type.
    #[must_use]
    pub fn covariance_type(&self) -> CovarianceType {
        self.covariances.covariance_type()
    }

    /// The full d x d covariance of component `k` (diagonal and spherical
    /// types expanded; the shared matrix for the tied type), or `None` if
    /// `k ≥ K`.
    #[must_use]
    pub fn component_covariance(&self, k: usize) -> Option<Mat<f64>> {
        (k < self.n_components()).then(|| self.covariances.dense(k, self.n_features()))
    }

    /// The precision `Σₖ⁻¹` of component `k` as a dense d x d matrix
    /// (`Wᵀ W` from the cached whitening; computed on demand), or `None` if
    /// `k ≥ K`.
    #[must_use]
    pub fn component_precision(&self, k: usize) -> Option<Mat<f64>> {
        if k >= self.n_components() {
            return None;
        }
        let d = self.n_features();
        let w = self.whitening_matrix(k);
        Some(Mat::from_fn(d, d, |i, j| {
            (0..d).map(|r| w[(r, i)] * w[(r, j)]).sum()
        }))
    }

    /// The upper-triangular `Uₖ = Wₖᵀ` (`Wₖ = Lₖ⁻¹` the cached whitening,
    /// `Σₖ = Lₖ Lₖᵀ`) with `Σₖ⁻¹ = Uₖ Uₖᵀ`, scikit-learn's
    /// `precisions_cholesky_`, as a dense d x d matrix (diagonal for the
    /// diagonal and spherical types; the shared one for the tied type), or
    /// `None` if `k ≥ K`.
    #[must_use]
    pub fn precision_cholesky(&self, k: usize) -> Option<Mat<f64>> {
        (k < self.n_components()).then(|| self.whitening_matrix(k).transpose().to_owned())
    }

    /// The cached Cholesky factor of a full covariance (component `k`) or of
    /// the tied covariance (any `k`); `None` for diagonal and spherical types.
    #[must_use]
    pub fn cholesky(&self, k: usize) -> Option<&Cholesky> {
        match self.covariance_type() {
            CovarianceType::Full => self.factors.cholesky.get(k),
            CovarianceType::Tied => self.factors.cholesky.first(),
            _ => None,
        }
    }

    /// `ln det Σₖ` per component.
    #[must_use]
    pub fn log_det_covariances(&self) -> &[f64] {
        &self.factors.log_det
    }

    /// `ln wₖ` per component (`-inf` for a zero weight).
    #[must_use]
    pub fn log_weights(&self) -> &[f64] {
        &self.log_weights
    }

    pub(crate) fn factors(&self) -> &Factors {
        &self.factors
    }

    /// Means, component-major (`k·d + j`).
    pub(crate) fn means_flat(&self) -> &[f64] {
        &self.means_flat
    }

    /// `W = L⁻¹` of component `k` as a dense lower-triangular matrix.
    pub(crate) fn whitening_matrix(&self, k: usize) -> Mat<f64> {
        use crate::covariance::Whitening;
        let d = self.n_features();
        match &self.factors.whitening {
            Whitening::Full(w) => {
                Mat::from_fn(d, d, |i, j| if j <= i { w[k * d * d + i * d + j] } else { 0.0 })
            }
            Whitening::Tied(w) => Mat::from_fn(d, d, |i, j| if j <= i { w[i * d + j] } else { 0.0 }),
            Whitening::Diagonal(s) => Mat::from_fn(d, d, |i, j| if i == j { s[k * d + i] } else { 0.0 }),
            Whitening::Spherical(s) => Mat::from_fn(d, d, |i, j| if i == j { s[k] } else { 0.0 }),
        }
    }

    pub(crate) fn view(&self) -> ModelView<'_> {
        ModelView {
            d: self.n_features(),
            k: self.n_components(),
            means: &self.means_flat,
            log_norm: &self.factors.log_norm,
            whitening: &self.factors.whitening,
        }
    }

    /// `ln N(xᵢ; μₖ, Σₖ)` for every row i and component k: an n x K matrix,
    /// WITHOUT the mixture weights (the emission log-densities of an HMM with
    /// one Gaussian per state).
    ///
    /// Computed as `−½ (d ln 2π + ln det Σₖ) − ½ ‖Wₖ (xᵢ − μₖ)‖²` with the
    /// cached `Wₖ = Lₖ⁻¹`, in parallel over fixed chunks of rows. An empty
    /// `x` (0 rows) gives a 0 x K matrix.
    ///
    /// # Errors
    /// [`MixtureError::DimensionMismatch`] if `x` does not have d columns;
    /// [`MixtureError::NonFiniteData`] naming the first bad row and column;
    /// [`MixtureError::ZeroLikelihood`] if a squared Mahalanobis distance
    /// overflows (a point ~1e154 away).
    pub fn log_prob_per_component(&self, x: MatRef<'_, f64>) -> Result<Mat<f64>, MixtureError> {
        let mut out = Mat::zeros(x.nrows(), self.n_components());
        self.log_prob_per_component_into(x, out.as_mut())?;
        Ok(out)
    }

    /// [`log_prob_per_component`](Self::log_prob_per_component) written into
    /// a caller's n x K matrix (any strides), so that a buffer can be reused
    /// across iterations.
    ///
    /// # Errors
    /// As [`log_prob_per_component`](Self::log_prob_per_component), plus
    /// [`MixtureError::DimensionMismatch`] if `out` is not n x K; on error
    /// the content of `out` is unspecified.
    pub fn log_prob_per_component_into(
        &self,
        x: MatRef<'_, f64>,
        out: MatMut<'_, f64>,
    ) -> Result<(), MixtureError> {
        self.evaluate(x, false, Some(out), None)
    }

    /// `ln p(xᵢ) = ln Σₖ wₖ N(xᵢ; μₖ, Σₖ)` per row (stable log-sum-exp).
    ///
    /// # Errors
    /// As [`log_prob_per_component`](Self::log_prob_per_component), plus
    /// [`MixtureError::ZeroLikelihood`] when a row is so far from every
    /// component that its likelihood underflows to zero.
    pub fn score_samples(&self, x: MatRef<'_, f64>) -> Result<Vec<f64>, MixtureError> {
        let mut out = vec![0.0; x.nrows()];
        self.evaluate(x, true, None, Some(&mut out))?;
        Ok(out)
    }

    /// Total log-likelihood `Σᵢ ln p(xᵢ)` (0 for no rows).
    ///
    /// # Errors
    /// As [`score_samples`](Self::score_samples).
    pub fn total_log_likelihood(&self, x: MatRef<'_, f64>) -> Result<f64, MixtureError> {
        self.log_likelihood_only(x, None)
    }

    /// Mean log-likelihood per row (scikit-learn's `score`).
    ///
    /// # Errors
    /// [`MixtureError::EmptyData`] for no rows; otherwise as
    /// [`score_samples`](Self::score_samples).
    pub fn score(&self, x: MatRef<'_, f64>) -> Result<f64, MixtureError> {
        if x.nrows() == 0 {
            return Err(MixtureError::EmptyData);
        }
        Ok(self.total_log_likelihood(x)? / x.nrows() as f64)
    }

    /// Responsibilities `p(k | xᵢ) = wₖ N(xᵢ; k) / p(xᵢ)` (n x K, rows sum to one).
    ///
    /// # Errors
    /// As [`score_samples`](Self::score_samples).
    pub fn predict_proba(&self, x: MatRef<'_, f64>) -> Result<Mat<f64>, MixtureError> {
        let mut out = Mat::zeros(x.nrows(), self.n_components());
        self.evaluate(x, true, Some(out.as_mut()), None)?;
        Ok(out)
    }

    /// Hard labels: the component of largest responsibility for each row
    /// (the first one on ties).
    ///
    /// # Errors
    /// As [`score_samples`](Self::score_samples).
    pub fn predict(&self, x: MatRef<'_, f64>) -> Result<Vec<usize>, MixtureError> {
        let resp = self.predict_proba(x)?;
        Ok((0..resp.nrows())
            .map(|i| {
                let mut best = 0;
                for c in 1..resp.ncols() {
                    if resp[(i, c)] > resp[(i, best)] {
                        best = c;
                    }
                }
                best
            })
            .collect())
    }

    /// Draws `n` points: for each, a component `z ~ Categorical(w)` (one
    /// uniform draw), then `x = μ_z + L_z ε` with `ε` d standard normals
    /// ([`StandardNormal`]). Returns the points (n x d) and their components.
    /// The same RNG state gives the same sample.
    #[must_use]
    pub fn sample<R: Rng + ?Sized>(&self, n: usize, rng: &mut R) -> (Mat<f64>, Vec<usize>) {
        let (k, d) = (self.n_components(), self.n_features());
        let mut x = Mat::zeros(n, d);
        let mut labels = Vec::with_capacity(n);
        let factors: Vec<Mat<f64>> = (0..k).map(|c| self.sampling_factor(c)).collect();
        let mut eps = vec![0.0; d];
        for i in 0..n {
            let u: f64 = rng.random();
            let mut z = k - 1;
            let mut acc = 0.0;
            for (c, w) in self.weights.iter().enumerate() {
                acc += w;
                if u < acc && *w > 0.0 {
                    z = c;
                    break;
                }
            }
            while self.weights[z] <= 0.0 && z > 0 {
                z -= 1;
            }
            for e in eps.iter_mut() {
                *e = rng.sample(StandardNormal);
            }
            let l = &factors[z];
            for r in 0..d {
                let mut v = self.means[(z, r)];
                for j in 0..=r {
                    v += l[(r, j)] * eps[j];
                }
                x[(i, r)] = v;
            }
            labels.push(z);
        }
        (x, labels)
    }

    /// The lower-triangular `L` with `L Lᵀ = Σₖ`.
    fn sampling_factor(&self, k: usize) -> Mat<f64> {
        let d = self.n_features();
        match &self.covariances {
            Covariances::Full(_) | Covariances::Tied(_) => self
                .cholesky(k)
                .expect("full and tied models cache their factors")
                .factor()
                .to_owned(),
            Covariances::Diagonal(v) => {
                Mat::from_fn(d, d, |i, j| if i == j { v[(k, i)].sqrt() } else { 0.0 })
            }
            Covariances::Spherical(v) => Mat::from_fn(d, d, |i, j| if i == j { v[k].sqrt() } else { 0.0 }),
        }
    }

    /// Number of free parameters: `K − 1` weights, `K d` means and the
    /// covariance parameters of the type ([`CovarianceType::n_parameters`]).
    #[must_use]
    pub fn n_parameters(&self) -> usize {
        let (k, d) = (self.n_components(), self.n_features());
        (k - 1) + k * d + self.covariance_type().n_parameters(k, d)
    }

    /// Bayesian information criterion `−2 ln L + p ln n` (lower is better).
    ///
    /// # Errors
    /// [`MixtureError::EmptyData`] for no rows; as [`score_samples`](Self::score_samples).
    pub fn bic(&self, x: MatRef<'_, f64>) -> Result<f64, MixtureError> {
        if x.nrows() == 0 {
            return Err(MixtureError::EmptyData);
        }
        let ll = self.total_log_likelihood(x)?;
        Ok(-2.0 * ll + self.n_parameters() as f64 * (x.nrows() as f64).ln())
    }

    /// Akaike information criterion `−2 ln L + 2 p` (lower is better).
    ///
    /// # Errors
    /// [`MixtureError::EmptyData`] for no rows; as [`score_samples`](Self::score_samples).
    pub fn aic(&self, x: MatRef<'_, f64>) -> Result<f64, MixtureError> {
        if x.nrows() == 0 {
            return Err(MixtureError::EmptyData);
        }
        let ll = self.total_log_likelihood(x)?;
        Ok(-2.0 * ll + 2.0 * self.n_parameters() as f64)
    }

    /// Shared driver of the inference passes: runs the kernel over fixed
    /// chunks in parallel, each writing its rows of the outputs in place
    /// (the outputs are split into disjoint per-chunk slices).
    fn evaluate(
        &self,
        x: MatRef<'_, f64>,
        weighted: bool,
        per_component: Option<MatMut<'_, f64>>,
        row_lse: Option<&mut [f64]>,
    ) -> Result<(), MixtureError> {
        check_columns(x, self.n_features())?;
        let (n, k) = (x.nrows(), self.n_components());
        let ranges = chunk_ranges(n);
        let mut pieces: Vec<ChunkOutputs<'_>> =
            ranges.iter().map(|_| (Vec::with_capacity(k), None)).collect();
        let want_per_component = per_component.is_some();
        if let Some(mut out) = per_component {
            check_count("rows of the output", n, out.nrows())?;
            check_count("columns of the output (components)", k, out.ncols())?;
            if column_slices_mut(out.rb_mut()).is_none() {
                // A strided output: evaluate into a contiguous matrix and copy.
                let mut tmp = Mat::zeros(n, k);
                self.evaluate(x, weighted, Some(tmp.as_mut()), row_lse)?;
                out.copy_from(&tmp);
                return Ok(());
            }
            let columns = column_slices_mut(out).expect("checked just above");
            for column in columns {
                for (piece, part) in pieces.iter_mut().zip(column.chunks_mut(CHUNK_ROWS)) {
                    piece.0.push(part);
                }
            }
        }
        if let Some(lse) = row_lse {
            for (piece, part) in pieces.iter_mut().zip(lse.chunks_mut(CHUNK_ROWS)) {
                piece.1 = Some(part);
            }
        }
        with_data(x, |data| {
            let job = EvalJob {
                model: self.view(),
                log_w: weighted.then_some(self.log_weights.as_slice()),
                data,
            };
            ranges
                .par_iter()
                .zip(pieces.into_par_iter())
                .map(|(&(s, e), (columns, lse))| {
                    let out = EvalOut {
                        per_component: want_per_component.then_some(columns),
                        row_lse: lse,
                    };
                    match kernel::eval_chunk(&job, s, e, out) {
                        Some(row) => {
                            // Non-finite data is the likelier cause; name its first entry.
                            data.check_finite_rows(s, e)?;
                            Err(MixtureError::ZeroLikelihood { row })
                        }
                        None => Ok(()),
                    }
                })
                .collect::<Result<Vec<()>, MixtureError>>()
        })?;
        Ok(())
    }
}

fn check_weights(weights: &[f64]) -> Result<(), MixtureError> {
    for (component, &value) in weights.iter().enumerate() {
        if !(value.is_finite() && value >= 0.0) {
            return Err(MixtureError::InvalidWeight { component, value });
        }
    }
    let sum: f64 = weights.iter().sum();
    if (sum - 1.0).abs() > PROBABILITY_SUM {
        return Err(MixtureError::WeightsDoNotSumToOne {
            sum,
            tolerance: PROBABILITY_SUM,
        });
    }
    Ok(())
}
