//! Public filtering, smoothing and log-likelihood.

use crate::buffers::Buffer;
use crate::data::{validate_all, validate_sequence};
use crate::dense::{Destination, Operand, Shape, gemm};
use crate::error::Result;
use crate::kalman::{
    CovStore, Forward, ForwardStore, GainWork, MatSeq, Padded, PerStep, StepModels, gain_into,
    replay_filtered,
};
use crate::model::LinearGaussianSsm;
use crate::sequence::{Driven, Sequence};
use faer::{Mat, MatRef};
use rayon::prelude::*;

/// Steps between the filtered covariances that [`LinearGaussianSsm::filter`]
/// keeps in exact mode; the others are replayed from the nearest one before.
pub const FILTER_CHECKPOINT_INTERVAL: usize = 16;

/// The Kalman filter's output for one sequence of T steps.
///
/// Step k has the predicted moments `m_{k|k-1}`, `P_{k|k-1}` (for k = 0 the
/// prior `m0`, `P0`: the first step is an update only) and the filtered
/// moments `m_{k|k}`, `P_{k|k}`.
///
/// Storage: the means, and filtered covariances packed (lower triangle).
/// In exact mode [`LinearGaussianSsm::filter`] keeps those of every
/// [`FILTER_CHECKPOINT_INTERVAL`]-th step and replays the covariance
/// recursion from the nearest one for any other step (at most 15 steps of
/// the filter's own code on the same matrices, so the result is exactly the
/// matrix the filter used). For the robot-arm scenario (n = 21, T = 44,484)
/// that is 5 MB of covariances instead of 2 x 157 MB, and a filter pass that
/// does not fault in 80 MB of fresh pages. With the steady-state option, and
/// in [`SmootherOutput::filter`], every distinct covariance is kept (a
/// steady stretch stores one). A predicted covariance is recomputed from
/// the filtered covariance it was predicted from, by the code the filter ran.
#[derive(Debug, Clone)]
pub struct FilterOutput {
    pm: Padded,
    /// The parameters of every step with time-varying matrices.
    varying: Option<PerStep>,
    steps: usize,
    pred_means: Buffer,
    filt_means: Buffer,
    covs: FilteredCovs,
    log_likelihood: f64,
    steady_steps: usize,
}

/// How a [`FilterOutput`] holds its filtered covariances.
#[derive(Debug, Clone)]
enum FilteredCovs {
    /// Every step's, with the source of every predicted covariance.
    All { covs: MatSeq, pred_source: Vec<usize> },
    /// Those of the steps `0, every, 2·every, ...`, and (when some value is
    /// missing) which values each step observed, for the replay.
    Checkpoints {
        covs: MatSeq,
        every: usize,
        observed: Option<ObservedMask>,
    },
}

/// Which values of a T x p sequence are observed (not NaN).
#[derive(Debug, Clone)]
struct ObservedMask {
    p: usize,
    observed: Vec<bool>,
}

impl ObservedMask {
    fn of(y: MatRef<'_, f64>) -> Self {
        let (t, p) = (y.nrows(), y.ncols());
        let observed = (0..t * p).map(|i| !y[(i / p, i % p)].is_nan()).collect();
        Self { p, observed }
    }
}

/// Writes the observed coordinates of step k into `idx`, returns their number.
fn observed_at(mask: Option<&ObservedMask>, p: usize, k: usize, idx: &mut [usize]) -> usize {
    match mask {
        None => {
            for (j, i) in idx[..p].iter_mut().enumerate() {
                *i = j;
            }
            p
        }
        Some(m) => {
            let mut count = 0;
            for (j, &o) in m.observed[k * m.p..(k + 1) * m.p].iter().enumerate() {
                if o {
                    idx[count] = j;
                    count += 1;
                }
            }
            count
        }
    }
}

impl FilterOutput {
    fn new(pm: Padded, varying: Option<PerStep>, f: Forward, covs: FilteredCovs) -> Self {
        Self {
            pm,
            varying,
            steps: f.steps,
            pred_means: f.pred_means,
            filt_means: f.filt_means,
            covs,
            log_likelihood: f.log_likelihood,
            steady_steps: f.steady_steps,
        }
    }

    /// A filter output holding every covariance (the smoother's).
    fn with_all(pm: Padded, varying: Option<PerStep>, mut f: Forward) -> Self {
        let covs = FilteredCovs::All {
            covs: f.filt_covs.take().expect("stored"),
            pred_source: std::mem::take(&mut f.pred_source),
        };
        Self::new(pm, varying, f, covs)
    }

    /// The parameters of each step.
    fn models(&self) -> &dyn StepModels {
        match &self.varying {
            Some(models) => models,
            None => &self.pm,
        }
    }

    /// The forward pass's view, for the smoother (every covariance stored).
    fn forward_view(&self) -> Option<(&MatSeq, &[usize])> {
        match &self.covs {
            FilteredCovs::All { covs, pred_source } => Some((covs, pred_source)),
            FilteredCovs::Checkpoints { .. } => None,
        }
    }

    fn n(&self) -> usize {
        self.pm.n
    }

    /// Number of steps T.
    #[must_use]
    pub fn len(&self) -> usize {
        self.steps
    }

    /// True for T = 0 (never: empty sequences are rejected).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.steps == 0
    }

    /// The observation dimension p of the model that ran the filter.
    #[must_use]
    pub fn observation_dim(&self) -> usize {
        self.pm.p
    }

    /// `ln p(y_0, ..., y_{T-1})`: the sum over steps of the log-density of
    /// the observed coordinates' innovations (missing values count nothing).
    #[must_use]
    pub fn log_likelihood(&self) -> f64 {
        self.log_likelihood
    }

    /// Predicted means, T x n (row k is `m_{k|k-1}`; row 0 is `m0`).
    #[must_use]
    pub fn predicted_means(&self) -> MatRef<'_, f64> {
        MatRef::from_column_major_slice(&self.pred_means, self.n(), self.steps).transpose()
    }

    /// Filtered means, T x n (row k is `m_{k|k}`).
    #[must_use]
    pub fn filtered_means(&self) -> MatRef<'_, f64> {
        MatRef::from_column_major_slice(&self.filt_means, self.n(), self.steps).transpose()
    }

    /// Predicted covariance `P_{k|k-1}` (n x n; `P0` for k = 0), `None` past
    /// the end. Recomputed (one `A P Aᵀ + Q`, O(n³), after the replay of
    /// [`Self::filtered_cov`] in exact mode).
    #[must_use]
    pub fn predicted_cov(&self, step: usize) -> Option<Mat<f64>> {
        if step >= self.steps {
            return None;
        }
        let mut out = None;
        self.for_each_predicted(step, step, |_, p| {
            out = Some(unpadded(p, self.n(), self.pm.ldn));
        });
        out
    }

    /// Calls `visit(k, P_{k|k-1})` (padded) for k in `first..=last`, in
    /// order: the matrices the filter used (one replay in exact mode).
    pub(crate) fn for_each_predicted(&self, first: usize, last: usize, mut visit: impl FnMut(usize, &[f64])) {
        let block = self.pm.ldn * self.n();
        let [mut pf, mut ct, mut out] = [(); 3].map(|()| vec![0.0; block]);
        match &self.covs {
            FilteredCovs::All { covs, pred_source } => {
                for (k, &source) in pred_source.iter().enumerate().take(last + 1).skip(first) {
                    let pm = self.models().at(k);
                    pm.predicted_from(covs, source, &mut pf, &mut ct, &mut out);
                    visit(k, &out);
                }
            }
            FilteredCovs::Checkpoints { .. } => {
                if first == 0 {
                    visit(0, &self.pm.p0);
                }
                let from = first.max(1);
                if from <= last {
                    self.for_each_filtered(from - 1, last - 1, |k, p| {
                        self.models().at(k + 1).predict_cov(p, &mut ct, &mut out);
                        visit(k + 1, &out);
                    });
                }
            }
        }
    }

    /// Filtered covariance `P_{k|k}` (n x n), `None` past the end.
    #[must_use]
    pub fn filtered_cov(&self, step: usize) -> Option<Mat<f64>> {
        if step >= self.steps {
            return None;
        }
        let mut out = None;
        self.for_each_filtered(step, step, |_, p| {
            out = Some(unpadded(p, self.n(), self.pm.ldn));
        });
        out
    }

    /// The filtered variances (diagonals of `P_{k|k}`), T x n. In exact
    /// mode this replays the whole covariance recursion once (the cost of
    /// the filter's covariance work); otherwise it reads the stored
    /// diagonals.
    #[must_use]
    pub fn filtered_variances(&self) -> Mat<f64> {
        if let FilteredCovs::All { covs, .. } = &self.covs {
            return covs.diagonals();
        }
        let (n, ld) = (self.n(), self.pm.ldn);
        let mut out = Mat::zeros(self.steps, n);
        self.for_each_filtered(0, self.steps - 1, |k, p| {
            for i in 0..n {
                out[(k, i)] = p[i * ld + i];
            }
        });
        out
    }

    /// Every filtered covariance `P_{k|k}`, k = 0..T-1, as one flat vector
    /// of T·n·n values: step k's matrix at `k·n·n`, entry `(i, j)` at
    /// `k·n·n + i·n + j` (the matrices are symmetric, so row- and
    /// column-major read the same). In exact mode this replays the
    /// covariance recursion once, from the first checkpoint to the end (one
    /// filter's covariance work, not one replay per step as
    /// [`Self::filtered_cov`] for every step would be).
    #[must_use]
    pub fn filtered_covs(&self) -> Vec<f64> {
        let (n, ld) = (self.n(), self.pm.ldn);
        let mut out = vec![0.0; self.steps * n * n];
        self.for_each_filtered(0, self.steps - 1, |k, p| {
            for (j, col) in out[k * n * n..(k + 1) * n * n].chunks_exact_mut(n).enumerate() {
                col.copy_from_slice(&p[j * ld..j * ld + n]);
            }
        });
        out
    }

    /// Calls `visit(k, P_{k|k})` (padded) for k in `first..=last`, in order.
    fn for_each_filtered(&self, first: usize, last: usize, mut visit: impl FnMut(usize, &[f64])) {
        let (n, ld) = (self.n(), self.pm.ldn);
        match &self.covs {
            FilteredCovs::All { covs, .. } => {
                let mut buf = vec![0.0; ld * n];
                for k in first..=last {
                    covs.unpack(covs.slot(k), &mut buf, ld);
                    visit(k, &buf);
                }
            }
            FilteredCovs::Checkpoints {
                covs,
                every,
                observed,
            } => {
                let p = self.pm.p;
                replay_filtered(
                    self.models(),
                    covs,
                    *every,
                    first,
                    last,
                    |k, idx| observed_at(observed.as_ref(), p, k, idx),
                    visit,
                );
            }
        }
    }

    /// Number of steps that reused the converged steady-state gain (0 with
    /// [`crate::InferenceOptions::exact`]).
    #[must_use]
    pub fn steady_state_steps(&self) -> usize {
        self.steady_steps
    }

    /// Number of filtered covariances stored: T / [`FILTER_CHECKPOINT_INTERVAL`]
    /// (rounded up) in exact mode, the distinct ones otherwise.
    #[must_use]
    pub fn distinct_covariances(&self) -> usize {
        match &self.covs {
            FilteredCovs::All { covs, .. } | FilteredCovs::Checkpoints { covs, .. } => covs.distinct(),
        }
    }
}

fn unpadded(buf: &[f64], n: usize, ld: usize) -> Mat<f64> {
    Mat::from_fn(n, n, |i, j| buf[j * ld + i])
}

/// The RTS smoother's output for one sequence of T steps.
///
/// Stores the smoothed means and the smoothed covariances (packed; a
/// steady-state stretch stores one); the gains and the lag-one
/// cross-covariances are recomputed on request from the stored filtered
/// and smoothed covariances (O(n³) each).
#[derive(Debug, Clone)]
pub struct SmootherOutput {
    filter: FilterOutput,
    means: Buffer,
    covs: MatSeq,
    steady_steps: usize,
}

impl SmootherOutput {
    /// Number of steps T.
    #[must_use]
    pub fn len(&self) -> usize {
        self.filter.steps
    }

    /// True for T = 0 (never: empty sequences are rejected).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.filter.steps == 0
    }

    /// The filter pass the smoother ran on.
    #[must_use]
    pub fn filter(&self) -> &FilterOutput {
        &self.filter
    }

    /// `ln p(y)`, as [`FilterOutput::log_likelihood`].
    #[must_use]
    pub fn log_likelihood(&self) -> f64 {
        self.filter.log_likelihood
    }

    /// Smoothed means `m_{k|T-1}`, T x n.
    #[must_use]
    pub fn smoothed_means(&self) -> MatRef<'_, f64> {
        MatRef::from_column_major_slice(&self.means, self.filter.n(), self.filter.steps).transpose()
    }

    /// Smoothed covariance `P_{k|T-1}` (n x n), `None` past the end.
    #[must_use]
    pub fn smoothed_cov(&self, step: usize) -> Option<Mat<f64>> {
        self.covs.get(step)
    }

    /// Every smoothed covariance `P_{k|T-1}`, k = 0..T-1, as one flat
    /// vector of T·n·n values laid out as [`FilterOutput::filtered_covs`].
    #[must_use]
    pub fn smoothed_covs(&self) -> Vec<f64> {
        self.covs.flat()
    }

    /// The smoothed variances (diagonals of `P_{k|T-1}`), T x n: for
    /// ±2 standard-deviation bands.
    #[must_use]
    pub fn smoothed_variances(&self) -> Mat<f64> {
        self.covs.diagonals()
    }

    fn gain_work(&self, step: usize) -> Option<GainWork> {
        if step + 1 >= self.filter.steps {
            return None;
        }
        let (covs, pred_source) = self
            .filter
            .forward_view()
            .expect("the smoother keeps every covariance");
        let mut w = GainWork::new(&self.filter.pm);
        gain_into(self.filter.models().at(step + 1), covs, pred_source, step, &mut w)
            .expect("the smoother factored the same matrix");
        Some(w)
    }

    /// Smoother gain `G_k = P_{k|k} Aᵀ P_{k+1|k}⁻¹` for k = 0..T-2, `None`
    /// otherwise. Recomputed as the smoother did.
    #[must_use]
    pub fn gain(&self, step: usize) -> Option<Mat<f64>> {
        let w = self.gain_work(step)?;
        Some(unpadded(&w.g, self.filter.n(), self.filter.pm.ldn))
    }

    /// Lag-one cross-covariance `Cov(x_{k+1}, x_k | y) = P_{k+1|T-1} G_kᵀ`
    /// for k = 0..T-2, `None` otherwise.
    #[must_use]
    pub fn cross_cov(&self, step: usize) -> Option<Mat<f64>> {
        let mut w = self.gain_work(step)?;
        let (n, ldn) = (self.filter.n(), self.filter.pm.ldn);
        self.covs.unpack(self.covs.slot(step + 1), &mut w.pf, ldn);
        let shape = Shape::square(ldn, n);
        let (ps, gt) = (Operand::new(&w.pf, ldn), Operand::transposed(&w.g, ldn));
        gemm(shape, 1.0, ps, gt, Destination::new(&mut w.ct, ldn));
        Some(unpadded(&w.ct, n, ldn))
    }

    /// Number of backward steps that reused the converged smoothed covariance.
    #[must_use]
    pub fn steady_state_steps(&self) -> usize {
        self.steady_steps
    }
}

impl LinearGaussianSsm {
    /// Runs the Kalman filter over one sequence `y` (T x p, one row per step,
    /// NaN marks a missing value).
    ///
    /// A row of NaN skips the update of its step; a row with some NaN updates
    /// with the observed coordinates only. Uses [`Self::inference`].
    ///
    /// # Errors
    /// Bad data ([`crate::StateSpaceError::ObservationDimension`],
    /// [`crate::StateSpaceError::EmptySequence`],
    /// [`crate::StateSpaceError::InfiniteObservation`]) and numerical failure
    /// ([`crate::StateSpaceError::InnovationNotPositiveDefinite`],
    /// [`crate::StateSpaceError::Diverged`]). Sequence index 0 in errors.
    pub fn filter(&self, y: MatRef<'_, f64>) -> Result<FilterOutput> {
        self.filter_sequence(Sequence::new(y))
    }

    /// [`Self::filter`] of a sequence with inputs `u` (T x m, row k is
    /// `u_k`; see [`LinearGaussianSsm`] for the model).
    ///
    /// # Errors
    /// As [`Self::filter`], and bad inputs:
    /// [`crate::StateSpaceError::InputSteps`],
    /// [`crate::StateSpaceError::InputDimension`],
    /// [`crate::StateSpaceError::NonFiniteInput`].
    pub fn filter_with_inputs(&self, y: MatRef<'_, f64>, u: MatRef<'_, f64>) -> Result<FilterOutput> {
        self.filter_sequence(Sequence::with_inputs(y, u))
    }

    /// [`Self::filter`] of a [`Sequence`] (with or without inputs).
    ///
    /// # Errors
    /// As [`Self::filter_with_inputs`];
    /// [`crate::StateSpaceError::MissingInputs`] for a model with inputs and
    /// a sequence without.
    pub fn filter_sequence(&self, sequence: Sequence<'_>) -> Result<FilterOutput> {
        self.filter_storing(sequence, false)
    }

    /// [`Self::filter_sequence`] keeping every filtered covariance (packed,
    /// n(n+1)/2 values per step) instead of a checkpoint every
    /// [`FILTER_CHECKPOINT_INTERVAL`] steps, for a caller that reads them
    /// all: [`FilterOutput::filtered_covs`] then unpacks them instead of
    /// running the filter again between checkpoints (it halves the cost of
    /// pykalman's `filter`, which returns every covariance). Memory: T n(n+1)/2
    /// values.
    ///
    /// # Errors
    /// As [`Self::filter_sequence`].
    pub fn filter_keeping_covariances(&self, sequence: Sequence<'_>) -> Result<FilterOutput> {
        self.filter_storing(sequence, true)
    }

    /// The filter of one sequence keeping every filtered covariance when
    /// `keep_all` or in steady-state mode (a steady stretch stores one),
    /// else a checkpoint every [`FILTER_CHECKPOINT_INTERVAL`] steps.
    fn filter_storing(&self, sequence: Sequence<'_>, keep_all: bool) -> Result<FilterOutput> {
        let summary = validate_sequence(0, sequence.observations(), self.obs_dim())?;
        let mut driven = Driven::new(self, sequence, 0)?;
        let pm = Padded::new(self);
        if keep_all || self.inference().steady_state_tolerance().is_some() {
            let f = self.filter_all(&pm, &driven)?;
            return Ok(FilterOutput::with_all(pm, driven.take_models(), f));
        }
        let every = FILTER_CHECKPOINT_INTERVAL;
        let store = ForwardStore {
            means: true,
            filtered_covs: CovStore::Checkpoints { every },
        };
        let mut f = driven.forward(&pm, 0, None, store)?;
        let covs = FilteredCovs::Checkpoints {
            covs: f.filt_covs.take().expect("stored"),
            every,
            observed: summary.any_missing.then(|| ObservedMask::of(driven.y)),
        };
        Ok(FilterOutput::new(pm, driven.take_models(), f, covs))
    }

    /// The forward pass keeping every filtered covariance (the smoother's).
    fn filter_all(&self, pm: &Padded, driven: &Driven<'_>) -> Result<Forward> {
        let tol = self.inference().steady_state_tolerance();
        let store = ForwardStore {
            means: true,
            filtered_covs: CovStore::All,
        };
        driven.forward(pm, 0, tol, store)
    }

    /// Runs the filter and the Rauch-Tung-Striebel smoother over one sequence.
    ///
    /// Keeps the filtered and the smoothed covariances (packed, n(n+1)/2
    /// values per step each in exact mode; a steady-state stretch stores one
    /// of each). The EM step does not use this: it accumulates its
    /// statistics on the fly.
    ///
    /// # Errors
    /// As [`Self::filter`], plus
    /// [`crate::StateSpaceError::PredictedNotPositiveDefinite`].
    pub fn smooth(&self, y: MatRef<'_, f64>) -> Result<SmootherOutput> {
        self.smooth_sequence(Sequence::new(y))
    }

    /// [`Self::smooth`] of a sequence with inputs `u` (T x m).
    ///
    /// # Errors
    /// As [`Self::smooth`] and [`Self::filter_with_inputs`].
    pub fn smooth_with_inputs(&self, y: MatRef<'_, f64>, u: MatRef<'_, f64>) -> Result<SmootherOutput> {
        self.smooth_sequence(Sequence::with_inputs(y, u))
    }

    /// [`Self::smooth`] of a [`Sequence`] (with or without inputs).
    ///
    /// # Errors
    /// As [`Self::smooth`] and [`Self::filter_sequence`].
    pub fn smooth_sequence(&self, sequence: Sequence<'_>) -> Result<SmootherOutput> {
        validate_sequence(0, sequence.observations(), self.obs_dim())?;
        let mut driven = Driven::new(self, sequence, 0)?;
        let pm = Padded::new(self);
        let fwd = self.filter_all(&pm, &driven)?;
        let tol = self.inference().steady_state_tolerance();
        let b = driven.backward(&pm, &fwd, 0, tol, true, &[], |_, _, _, _| Ok(()))?;
        Ok(SmootherOutput {
            filter: FilterOutput::with_all(pm, driven.take_models(), fwd),
            means: b.means,
            covs: b.covs.expect("stored"),
            steady_steps: b.steady_steps,
        })
    }

    /// Total log-likelihood `Σ_j ln p(sequence j)` (filter only, nothing stored).
    ///
    /// Sequences run in parallel (rayon); the sum is taken in sequence order,
    /// so the result does not depend on the number of threads.
    ///
    /// # Errors
    /// [`crate::StateSpaceError::NoSequences`], and as [`Self::filter`] with the
    /// failing sequence's index.
    pub fn log_likelihood(&self, sequences: &[MatRef<'_, f64>]) -> Result<f64> {
        let sequences: Vec<Sequence<'_>> = sequences.iter().map(|&y| Sequence::new(y)).collect();
        self.log_likelihood_of(&sequences)
    }

    /// [`Self::log_likelihood`] of [`Sequence`]s (with or without inputs).
    ///
    /// # Errors
    /// As [`Self::log_likelihood`] and [`Self::filter_sequence`].
    pub fn log_likelihood_of(&self, sequences: &[Sequence<'_>]) -> Result<f64> {
        let observations: Vec<MatRef<'_, f64>> = sequences.iter().map(Sequence::observations).collect();
        validate_all(&observations, self.obs_dim())?;
        let driven = sequences
            .iter()
            .enumerate()
            .map(|(i, &s)| Driven::new(self, s, i))
            .collect::<Result<Vec<_>>>()?;
        let pm = Padded::new(self);
        let tol = self.inference().steady_state_tolerance();
        let store = ForwardStore {
            means: false,
            filtered_covs: CovStore::Nothing,
        };
        let parts: Vec<Result<f64>> = driven
            .par_iter()
            .enumerate()
            .map(|(i, d)| d.forward(&pm, i, tol, store).map(|f| f.log_likelihood))
            .collect();
        let mut total = 0.0;
        for part in parts {
            total += part?;
        }
        Ok(total)
    }

    /// Number of time steps with at least one observed value, over all
    /// sequences: the sample size of [`Self::bic`].
    ///
    /// # Errors
    /// As [`Self::log_likelihood`] for bad data.
    pub fn n_observed_steps(&self, sequences: &[MatRef<'_, f64>]) -> Result<usize> {
        Ok(validate_all(sequences, self.obs_dim())?
            .iter()
            .map(|s| s.observed_steps)
            .sum())
    }

    /// Bayesian information criterion `−2 ln L + k ln N` with k =
    /// [`Self::n_parameters`] and N = [`Self::n_observed_steps`].
    ///
    /// # Errors
    /// As [`Self::log_likelihood`].
    pub fn bic(&self, sequences: &[MatRef<'_, f64>]) -> Result<f64> {
        let ll = self.log_likelihood(sequences)?;
        let n = self.n_observed_steps(sequences)?.max(1) as f64;
        Ok(-2.0 * ll + self.n_parameters() as f64 * n.ln())
    }

    /// Akaike information criterion `−2 ln L + 2k` with k = [`Self::n_parameters`].
    ///
    /// # Errors
    /// As [`Self::log_likelihood`].
    pub fn aic(&self, sequences: &[MatRef<'_, f64>]) -> Result<f64> {
        let ll = self.log_likelihood(sequences)?;
        Ok(-2.0 * ll + 2.0 * self.n_parameters() as f64)
    }
}
