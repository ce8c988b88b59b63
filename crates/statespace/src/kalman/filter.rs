//! The forward recursion (Kalman filter) over one sequence, and the replay
//! of its covariance recursion from stored checkpoints.
//!
//! Each step predicts, `m_p = A m_f + c_k` (`c_k = B u_k + b` the drift of
//! the inputs, if any), `P_p = A (P_f Aᵀ) + Q` (lower triangle
//! mirrored: exactly symmetric), then updates with the observed coordinates
//! ([`super::update`]). With a steady-state tolerance the predicted
//! covariances of fully observed steps are fed to a [`Detector`]; once it
//! declares convergence the filter reuses that step's predicted covariance,
//! factor and gain (O(n²) per step) until a step with missing values.

use crate::buffers::{self, Buffer};
use crate::dense::{Destination, Operand, Shape, gemm};
use crate::error::{Result, StateSpaceError};
use faer::{MatRef, RowRef};
use linalg_kernels::LN_2PI;
use linalg_kernels::isa::clear_upper_registers;
use linalg_kernels::padded::solve_lower_vector_padded;

use super::matseq::MatSeq;
use super::padded::{NO_SOURCE, Padded, StepModels};
use super::steady::Detector;
use super::update::{
    Panel, Work, add_gain_times, all_finite, diag_finite, factor_panel, subtract_observed_mean, take_z,
    update,
};

/// What the forward pass keeps.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ForwardStore {
    pub means: bool,
    pub filtered_covs: CovStore,
}

/// Which filtered covariances the forward pass keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CovStore {
    Nothing,
    /// Every step's (a steady stretch stores one), with [`Forward::pred_source`]:
    /// what the smoother needs.
    All,
    /// Those of the steps `0, every, 2·every, ...` only (exact recursion):
    /// the others are replayed from them on request ([`replay_filtered`]).
    Checkpoints {
        every: usize,
    },
}

/// Result of the forward pass.
pub(crate) struct Forward {
    pub steps: usize,
    /// `m_{k|k-1}`, n values per step (empty unless stored).
    pub pred_means: Buffer,
    /// `m_{k|k}`, n values per step (empty unless stored).
    pub filt_means: Buffer,
    pub filt_covs: Option<MatSeq>,
    /// Per step, the slot of the filtered covariance whose prediction is
    /// the step's predicted covariance ([`NO_SOURCE`]: the prior `P0`).
    /// Stored with the filtered covariances; the predicted covariances are
    /// recomputed from it with the same code, so they are bit-identical.
    pub pred_source: Vec<usize>,
    pub log_likelihood: f64,
    pub steady_steps: usize,
}

/// The cached quantities of a converged filter.
struct Steady {
    pp: Vec<f64>,
    /// The factored panel `[L; Uᵀ; ·]` of the converged step.
    panel: Vec<f64>,
    ll_const: f64,
    source: usize,
    slot_filt: Option<usize>,
}

impl Clone for Steady {
    fn clone(&self) -> Self {
        Self {
            pp: self.pp.clone(),
            panel: self.panel.clone(),
            ..*self
        }
    }

    /// Into the buffers of `self` (no allocation once they are sized).
    fn clone_from(&mut self, source: &Self) {
        self.pp.clone_from(&source.pp);
        self.panel.clone_from(&source.panel);
        (self.ll_const, self.source, self.slot_filt) = (source.ll_const, source.source, source.slot_filt);
    }
}

/// What [`ForwardPass::step_or_undo`] restores after a failed step, in
/// buffers kept from step to step (copied into, never reallocated).
#[derive(Default)]
struct Undo {
    mf: Vec<f64>,
    pf: Vec<f64>,
    steady: Option<Steady>,
    detector: Option<Detector>,
    counters: (f64, usize, bool),
}

/// Runs the Kalman filter over one sequence (rows of `y`, NaN = missing;
/// `y` less the inputs' part, see [`crate::sequence`]), with the drift
/// `c_k` of the inputs (row k; none for a model without inputs) and the
/// parameters `models.at(k)` at step k.
pub(crate) fn forward<M: StepModels + ?Sized>(
    models: &M,
    y: MatRef<'_, f64>,
    drift: Option<MatRef<'_, f64>>,
    sequence: usize,
    tol: Option<f64>,
    store: ForwardStore,
) -> Result<Forward> {
    // Every step calls `ln` (log-determinant); after a large faer product
    // (the caller's, or the previous M-step's) glibc's `ln` can run ~20x
    // slower until the upper vector registers are cleared.
    clear_upper_registers();
    let mut pass = ForwardPass::new(models.at(0), y.nrows(), sequence, tol, store);
    for k in 0..y.nrows() {
        pass.step(models.at(k), k, y.row(k), drift.map(|c| c.row(k)))?;
    }
    Ok(pass.finish(y.nrows()))
}

/// The state of [`forward`] between steps (of the model `pm` each method is
/// given: the [`crate::StreamingFilter`] owns both).
pub(crate) struct ForwardPass {
    sequence: usize,
    store: ForwardStore,
    w: Work,
    pred_means: Buffer,
    filt_means: Buffer,
    filt_covs: Option<MatSeq>,
    pred_source: Vec<usize>,
    /// The source of the predicted covariance in `w.pp`.
    source: usize,
    /// The slot of the last filtered covariance stored.
    last_slot: usize,
    detector: Option<Detector>,
    steady: Option<Steady>,
    prev_full: bool,
    log_likelihood: f64,
    steady_steps: usize,
    /// `−½ p ln 2π`, the constant of a fully observed step.
    ll_full_const: f64,
    /// The state before the step [`Self::step_or_undo`] runs.
    undo: Undo,
}

impl ForwardPass {
    pub fn new(pm: &Padded, t: usize, sequence: usize, tol: Option<f64>, store: ForwardStore) -> Self {
        let n = pm.n;
        let reserve = if tol.is_some() { t.min(256) } else { t };
        // Filled step by step in order (never zeroed first).
        let means = || {
            if store.means {
                buffers::take(n * t)
            } else {
                Buffer::default()
            }
        };
        let filt_covs = match store.filtered_covs {
            CovStore::Nothing => None,
            CovStore::All => Some(MatSeq::new(n, t, reserve)),
            CovStore::Checkpoints { every } => {
                debug_assert!(tol.is_none() && every > 0);
                Some(MatSeq::new(n, t, t.div_ceil(every)))
            }
        };
        let pred_source = if store.filtered_covs == CovStore::All {
            vec![NO_SOURCE; t]
        } else {
            Vec::new()
        };
        Self {
            sequence,
            store,
            w: Work::new(pm),
            pred_means: means(),
            filt_means: means(),
            filt_covs,
            pred_source,
            source: NO_SOURCE,
            last_slot: NO_SOURCE,
            detector: tol.map(|tol| Detector::new(tol, pm.ldn * n)),
            steady: None,
            prev_full: false,
            log_likelihood: 0.0,
            steady_steps: 0,
            ll_full_const: -0.5 * pm.p as f64 * LN_2PI,
            undo: Undo::default(),
        }
    }

    fn diverged(&self, step: usize) -> StateSpaceError {
        StateSpaceError::Diverged {
            sequence: self.sequence,
            step,
        }
    }

    /// Step `k`: observation `y` (NaN = missing; less the inputs' part) and
    /// the drift `c_k` of the inputs (none without inputs).
    pub fn step(
        &mut self,
        pm: &Padded,
        k: usize,
        y: RowRef<'_, f64>,
        drift: Option<RowRef<'_, f64>>,
    ) -> Result<()> {
        let p_o = self.w.observe(y);
        let full = p_o == pm.p;
        self.predict(pm, k, drift)?;
        if full && self.steady.is_some() {
            self.steady_step(pm, k)
        } else {
            self.leave_steady_state();
            self.full_step(pm, k, p_o, full)
        }
    }

    /// [`Self::step`], leaving the pass as it was before the step when the
    /// step fails (what a step may change: the filtered mean, and outside a
    /// steady stretch the filtered covariance, the steady state and the
    /// detector; the counters).
    pub fn step_or_undo(
        &mut self,
        pm: &Padded,
        k: usize,
        y: RowRef<'_, f64>,
        drift: Option<RowRef<'_, f64>>,
    ) -> Result<()> {
        let steady = self.steady.is_some() && y.iter().all(|v| !v.is_nan());
        let undo = &mut self.undo;
        undo.mf.clone_from(&self.w.mf);
        if !steady {
            undo.pf.clone_from(&self.w.pf);
            undo.steady.clone_from(&self.steady);
            undo.detector.clone_from(&self.detector);
        }
        undo.counters = (self.log_likelihood, self.steady_steps, self.prev_full);
        let result = self.step(pm, k, y, drift);
        if result.is_err() {
            let undo = &self.undo;
            self.w.mf.clone_from(&undo.mf);
            if !steady {
                self.w.pf.clone_from(&undo.pf);
                self.steady.clone_from(&undo.steady);
                self.detector.clone_from(&undo.detector);
            }
            (self.log_likelihood, self.steady_steps, self.prev_full) = undo.counters;
        }
        result
    }

    /// The filtered mean `m_{k|k}` of the last step (n values).
    pub fn filtered_mean(&self, n: usize) -> &[f64] {
        &self.w.mf[..n]
    }

    /// The filtered covariance `P_{k|k}` of the last step (padded, leading
    /// dimension `ldn`).
    pub fn filtered_cov(&self) -> &[f64] {
        &self.w.pf
    }

    /// The log-likelihood of the steps so far.
    pub fn log_likelihood(&self) -> f64 {
        self.log_likelihood
    }

    /// Steps run from the steady state.
    pub fn steady_steps(&self) -> usize {
        self.steady_steps
    }

    /// Sets the filtered moments after a step and the log-likelihood so far
    /// (to resume a pass saved after a step: the next step predicts from
    /// them; a steady stretch starts afresh).
    pub fn resume(&mut self, mean: &[f64], cov: &[f64], log_likelihood: f64) {
        self.w.mf[..mean.len()].copy_from_slice(mean);
        self.w.pf.copy_from_slice(cov);
        self.log_likelihood = log_likelihood;
    }

    /// The predicted mean into `w.mp` and (outside a steady stretch) the
    /// predicted covariance into `w.pp`.
    fn predict(&mut self, pm: &Padded, k: usize, drift: Option<RowRef<'_, f64>>) -> Result<()> {
        let (n, ldn) = (pm.n, pm.ldn);
        let w = &mut self.w;
        if k == 0 {
            w.mp.copy_from_slice(&pm.m0);
            w.pp.copy_from_slice(&pm.p0);
            self.source = NO_SOURCE;
        } else {
            let shape = Shape::column(ldn, n);
            let (a, mf) = (Operand::new(&pm.a, ldn), Operand::new(&w.mf, ldn));
            gemm(shape, 1.0, a, mf, Destination::new(&mut w.mp, ldn));
            if let Some(c) = drift {
                for (i, m) in w.mp[..n].iter_mut().enumerate() {
                    *m += c[i];
                }
            }
            if self.steady.is_none() {
                pm.predict_cov(&w.pf, &mut w.tmp, &mut w.pp);
                self.source = self.last_slot;
                if !diag_finite(n, &w.pp, ldn) {
                    return Err(self.diverged(k));
                }
            }
        }
        if !all_finite(&self.w.mp[..n]) {
            return Err(self.diverged(k));
        }
        if self.store.means {
            self.pred_means.extend_from_slice(&self.w.mp[..n]);
        }
        Ok(())
    }

    /// A fully observed step of a steady stretch: the converged factor and
    /// gain, O(n²).
    fn steady_step(&mut self, pm: &Padded, k: usize) -> Result<()> {
        let w = &mut self.w;
        let (n, p, ldn, ldp) = (pm.n, pm.p, pm.ldn, pm.ldp);
        let st = self.steady.as_ref().expect("in a steady stretch");
        if pm.h_identity {
            for i in 0..n {
                w.v[i] = w.yo[i] - w.mp[i];
            }
        } else {
            subtract_observed_mean(&pm.h, ldp, p, n, ldn, &w.yo, &w.mp, &mut w.v);
        }
        let panel = Panel::of(pm);
        solve_lower_vector_padded(&st.panel, p, panel.ld, &mut w.v).expect("padded layout");
        add_gain_times(&st.panel, panel, p, ldn, ldp, &w.v, &w.mp, &mut w.mf);
        let zz: f64 = w.v[..p].iter().map(|z| z * z).sum();
        self.log_likelihood += finite_term(self.sequence, k, st.ll_const - 0.5 * zz)?;
        if !all_finite(&w.mf[..n]) {
            return Err(self.diverged(k));
        }
        if let Some(c) = self.filt_covs.as_mut() {
            let slot = st.slot_filt.expect("captured with the filtered covariance");
            c.set(k, slot);
            self.pred_source[k] = st.source;
        }
        if self.store.means {
            self.filt_means.extend_from_slice(&w.mf[..n]);
        }
        self.steady_steps += 1;
        self.prev_full = true;
        Ok(())
    }

    /// Before a step that is not steady: a step with missing values ends the
    /// steady stretch, and runs in full from the steady predicted covariance.
    fn leave_steady_state(&mut self) {
        if let Some(st) = self.steady.take() {
            self.w.pp.copy_from_slice(&st.pp);
            self.source = st.source;
            if let Some(d) = self.detector.as_mut() {
                d.reset();
            }
        }
    }

    /// A step of the full recursion: the update, what is stored of it, and
    /// the steady-state detection.
    fn full_step(&mut self, pm: &Padded, k: usize, p_o: usize, full: bool) -> Result<()> {
        let n = pm.n;
        let keep_predicted = self.detector.is_some();
        let (ll, log_det) = update(pm, &mut self.w, p_o, self.sequence, k, keep_predicted)?;
        self.log_likelihood += finite_term(self.sequence, k, ll)?;
        if !all_finite(&self.w.mf[..n]) {
            return Err(self.diverged(k));
        }
        let keep = match self.store.filtered_covs {
            CovStore::Nothing => false,
            CovStore::All => true,
            CovStore::Checkpoints { every } => k.is_multiple_of(every),
        };
        let (w, source, pred_source) = (&self.w, self.source, &mut self.pred_source);
        let filt_slot = self.filt_covs.as_mut().filter(|_| keep).map(|c| {
            let slot = c.add(&w.pf, pm.ldn);
            c.set(k, slot);
            if let Some(s) = pred_source.get_mut(k) {
                *s = source;
            }
            slot
        });
        self.last_slot = filt_slot.unwrap_or(NO_SOURCE);
        if self.store.means {
            self.filt_means.extend_from_slice(&self.w.mf[..n]);
        }
        self.detect(pm, k, full, filt_slot, log_det)?;
        self.prev_full = full;
        Ok(())
    }

    /// Feeds a fully observed step's predicted covariance to the detector;
    /// on convergence keeps this step's `P_p`, `L` and `Uᵀ` for the next
    /// steps, and the covariance this step stored (the next `P_p` is this
    /// one: the fixed point).
    fn detect(
        &mut self,
        pm: &Padded,
        k: usize,
        full: bool,
        filt_slot: Option<usize>,
        log_det: f64,
    ) -> Result<()> {
        let (n, ldn) = (pm.n, pm.ldn);
        let Some(d) = self.detector.as_mut() else {
            return Ok(());
        };
        if !full {
            d.reset();
            return Ok(());
        }
        if d.observe(n, ldn, &self.w.pp, self.prev_full) {
            if pm.coordinate_noise.is_some() {
                // The coordinatewise update left no panel: factor it.
                let panel = factor_panel(pm, &mut self.w, pm.p, self.sequence, k)?;
                take_z(panel, n, pm.p, &mut self.w);
            }
            self.steady = Some(Steady {
                pp: self.w.pp.clone(),
                panel: self.w.panel.clone(),
                ll_const: self.ll_full_const - 0.5 * log_det,
                source: self.source,
                slot_filt: filt_slot,
            });
        }
        Ok(())
    }

    pub fn finish(self, t: usize) -> Forward {
        Forward {
            steps: t,
            pred_means: self.pred_means,
            filt_means: self.filt_means,
            filt_covs: self.filt_covs,
            pred_source: self.pred_source,
            log_likelihood: self.log_likelihood,
            steady_steps: self.steady_steps,
        }
    }
}

/// Replays the covariance recursion of [`forward`] (exact mode, stored
/// with [`CovStore::Checkpoints`] every `every` steps) and calls
/// `visit(k, P_{k|k})` (padded buffer) for every step of `first..=last`, in
/// order: from the checkpoint at or before `first`, unpacking each
/// checkpoint it passes, with the parameters `models.at(k)` of each step.
/// `observed(k, idx)` writes the observed coordinates
/// of step k into `idx` and returns their number. The same functions on the
/// same inputs as the filter: bit-identical matrices. One workspace for the
/// whole range.
pub(crate) fn replay_filtered<M: StepModels + ?Sized>(
    models: &M,
    covs: &MatSeq,
    every: usize,
    first: usize,
    last: usize,
    mut observed: impl FnMut(usize, &mut [usize]) -> usize,
    mut visit: impl FnMut(usize, &[f64]),
) {
    let mut w = Work::new(models.at(0));
    for k in first / every * every..=last {
        let pm = models.at(k);
        if k % every == 0 {
            covs.unpack(covs.slot(k), &mut w.pf, pm.ldn);
        } else {
            pm.predict_cov(&w.pf, &mut w.tmp, &mut w.pp);
            let p_o = observed(k, &mut w.obs_idx);
            update(pm, &mut w, p_o, 0, k, false).expect("the filter ran this update on the same matrices");
        }
        if k >= first {
            visit(k, &w.pf);
        }
    }
}

/// The log-likelihood term of step `step` of sequence `sequence`, checked: a
/// non-finite term (an innovation that overflows) is
/// [`StateSpaceError::LogLikelihoodOverflow`] naming the sequence and step,
/// never a log-likelihood of −∞.
fn finite_term(sequence: usize, step: usize, term: f64) -> Result<f64> {
    if term.is_finite() {
        Ok(term)
    } else {
        Err(StateSpaceError::LogLikelihoodOverflow { sequence, step })
    }
}
