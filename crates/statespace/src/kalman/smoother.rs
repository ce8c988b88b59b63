//! The backward recursion (Rauch-Tung-Striebel smoother) over one sequence.
//!
//! - Smoother gain `G_k = P_f,k Aᵀ P_p,k+1⁻¹` as `(P_f,k Aᵀ) L⁻ᵀ L⁻¹` with
//!   `P_p,k+1 = L Lᵀ` (two triangular solves, no inverse).
//! - `m_s,k = m_f,k + G_k (m_s,k+1 − m_p,k+1)`.
//! - `P_s,k = P_f,k + E_k G_kᵀ` with `E_k = G_k (P_s,k+1 − P_p,k+1)` (lower
//!   triangle mirrored); the lag-one cross-covariance
//!   `Cov(x_{k+1}, x_k | y) = P_s,k+1 G_kᵀ = (E_k + P_f,k Aᵀ)ᵀ`, from
//!   products the step computes anyway (`G_k P_p,k+1 = P_f,k Aᵀ`).
//! - On a stretch where the filter reused one covariance (steady state), the
//!   gain is computed once and the covariance recursion is fed to the same
//!   convergence test as the filter's; once converged, the remaining steps
//!   of the stretch only add the converged `P_s` and cross-covariance to the
//!   sums (counted, then added at once with the count as factor).

use crate::buffers::{self, Buffer};
use crate::dense::{Destination, Operand, Shape, gemm, max_abs_diff_lower, mirror_lower};
use crate::error::{Result, StateSpaceError};
use linalg_kernels::KernelError;
use linalg_kernels::padded::{cholesky_panel_padded, solve_right_lower_padded};

use super::filter::Forward;
use super::matseq::MatSeq;
use super::padded::{Padded, StepModels};
use super::steady::is_converged;
use super::update::all_finite;

/// Buffers of [`gain_into`].
pub(crate) struct GainWork {
    /// `P_f,k`.
    pub pf: Vec<f64>,
    /// `P_f,k Aᵀ`.
    pub ct: Vec<f64>,
    /// `P_p,k+1` as the filter used it.
    pub pp: Vec<f64>,
    /// The panel `[P_p,k+1; P_f,k Aᵀ]` (leading dimension `2 ldn`),
    /// factored into `[L; P_f,k Aᵀ L⁻ᵀ]` with `P_p,k+1 = L Lᵀ`.
    panel: Vec<f64>,
    /// The gain `G_k`.
    pub g: Vec<f64>,
    scratch: Vec<f64>,
    scratch2: Vec<f64>,
}

impl GainWork {
    pub fn new(pm: &Padded) -> Self {
        let block = pm.ldn * pm.n;
        Self {
            pf: vec![0.0; block],
            ct: vec![0.0; block],
            pp: vec![0.0; block],
            panel: vec![0.0; 2 * block],
            g: vec![0.0; block],
            scratch: vec![0.0; block],
            scratch2: vec![0.0; block],
        }
    }
}

/// The smoother gain `G_k = P_f,k Aᵀ P_p,k+1⁻¹` into `w.g` (with `w.pf`,
/// `w.ct`, `w.pp` as documented on [`GainWork`]), for `k + 1 < T`: one
/// panel factorisation gives `L` and `P_f,k Aᵀ L⁻ᵀ`, one triangular solve
/// the gain.
pub(crate) fn gain_into(
    pm: &Padded,
    filt: &MatSeq,
    pred_source: &[usize],
    k: usize,
    w: &mut GainWork,
) -> Result<(), KernelError> {
    let (n, ldn) = (pm.n, pm.ldn);
    let slot = filt.slot(k);
    filt.unpack(slot, &mut w.pf, ldn);
    pm.predict_cov(&w.pf, &mut w.ct, &mut w.pp);
    let source = pred_source[k + 1];
    if source != slot {
        // A steady stretch: the filter used the converged prediction.
        pm.predicted_from(filt, source, &mut w.scratch, &mut w.scratch2, &mut w.pp);
    }
    let ld = 2 * ldn;
    for j in 0..n {
        let col = &mut w.panel[j * ld..(j + 1) * ld];
        col[..ldn].copy_from_slice(&w.pp[j * ldn..(j + 1) * ldn]);
        col[ldn..].copy_from_slice(&w.ct[j * ldn..(j + 1) * ldn]);
    }
    cholesky_panel_padded(&mut w.panel, n, ld)?;
    for j in 0..n {
        w.g[j * ldn..(j + 1) * ldn].copy_from_slice(&w.panel[j * ld + ldn..(j + 1) * ld]);
    }
    solve_right_lower_padded(&w.panel, n, ld, &mut w.g, n, ldn)?;
    Ok(())
}

/// Result of the backward pass.
pub(crate) struct Backward {
    /// `m_{k|T}`, n values per step.
    pub means: Buffer,
    /// `Σ_k P_{k|T}` over all steps (padded n x n).
    pub sum_ps: Vec<f64>,
    /// `P_{0|T}` (padded).
    pub ps_first: Vec<f64>,
    /// `P_{T-1|T}` (padded).
    pub ps_last: Vec<f64>,
    /// `Σ_k (E_k + P_f,k Aᵀ)` over k = 0..T-2: the transpose of
    /// `Σ_k Cov(x_{k+1}, x_k | y)` (padded).
    pub sum_cross_t: Vec<f64>,
    /// `P_{k|T}` per step (if stored).
    pub covs: Option<MatSeq>,
    pub steady_steps: usize,
}

fn add_scaled(dst: &mut [f64], src: &[f64], scale: f64) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d += scale * s;
    }
}

/// Runs the RTS smoother over the output of [`super::filter::forward`]
/// (which must have stored means and filtered covariances), with the
/// parameters `models.at(k)` of each step (the gain of step k uses step
/// k + 1's transition).
/// `visit(k, m_s,k, P_s,k, cross)` is called for every step with
/// `visit_mask[k]` (padded buffers), `cross` the transposed lag-one
/// cross-covariance `Cov(x_{k+1}, x_k | y)ᵀ` for k < T − 1 (`None` at the
/// last step; on a converged steady stretch, the converged one).
pub(crate) fn backward<M, F>(
    models: &M,
    fwd: &Forward,
    sequence: usize,
    tol: Option<f64>,
    store_covs: bool,
    visit_mask: &[bool],
    mut visit: F,
) -> Result<Backward>
where
    M: StepModels + ?Sized,
    F: FnMut(usize, &[f64], &[f64], Option<&[f64]>) -> Result<()>,
{
    let t = fwd.steps;
    let visits = |k: usize| visit_mask.get(k).copied().unwrap_or(false);
    let mut pass = BackwardPass::new(models, fwd, sequence, tol, store_covs);
    if visits(t - 1) {
        visit(t - 1, &pass.ms_next, &pass.ps_next, None)?;
    }
    for k in (0..t.saturating_sub(1)).rev() {
        let reuse = pass.gain(k)?;
        pass.smooth_mean(k)?;
        pass.smooth_cov(k, reuse);
        if visits(k) {
            visit(k, &pass.ms, &pass.ps_next, Some(&pass.tmp))?;
        }
        std::mem::swap(&mut pass.ms, &mut pass.ms_next);
    }
    Ok(pass.finish())
}

/// The state of [`backward`] between steps: step k + 1's smoothed moments
/// (`ms_next`, `ps_next`), the running sums, and the gain of the last
/// (filtered covariance, predicted covariance) pair.
struct BackwardPass<'a, M: ?Sized> {
    models: &'a M,
    n: usize,
    ldn: usize,
    fwd: &'a Forward,
    filt: &'a MatSeq,
    sequence: usize,
    tol: Option<f64>,
    covs: Option<MatSeq>,
    cov_slot: Option<usize>,
    means: Buffer,
    ms_next: Vec<f64>,
    ms: Vec<f64>,
    delta: Vec<f64>,
    ps_next: Vec<f64>,
    ps: Vec<f64>,
    sum_ps: Vec<f64>,
    ps_last: Vec<f64>,
    sum_cross_t: Vec<f64>,
    gw: GainWork,
    /// `P_s,k+1 − P_p,k+1`, `E_k` and the transposed cross-covariance.
    d: Vec<f64>,
    e: Vec<f64>,
    tmp: Vec<f64>,
    /// The (filtered slot, predicted source) pair of the gain in `gw`.
    cached: Option<(usize, usize)>,
    converged: bool,
    prev_delta: Option<f64>,
    /// Steps of a converged stretch whose `P_s` and cross-covariance are
    /// still to be added to the sums.
    pending: usize,
    steady_steps: usize,
}

impl<'a, M: StepModels + ?Sized> BackwardPass<'a, M> {
    /// Starts at the last step, whose smoothed moments are the filtered ones.
    fn new(models: &'a M, fwd: &'a Forward, sequence: usize, tol: Option<f64>, store_covs: bool) -> Self {
        let pm = models.at(0);
        let (n, ldn) = (pm.n, pm.ldn);
        let t = fwd.steps;
        let filt = fwd
            .filt_covs
            .as_ref()
            .expect("forward pass stored the filtered covariances");
        let reserve = if tol.is_some() { t.min(256) } else { t };
        let mut covs = store_covs.then(|| MatSeq::new(n, t, reserve));
        let block = ldn * n;
        let mut means = buffers::take_zeroed(n * t);
        let mut ms_next = vec![0.0; ldn];
        ms_next[..n].copy_from_slice(&fwd.filt_means[(t - 1) * n..t * n]);
        means[(t - 1) * n..].copy_from_slice(&ms_next[..n]);
        let mut ps_next = vec![0.0; block];
        filt.unpack(filt.slot(t - 1), &mut ps_next, ldn);
        let cov_slot = covs.as_mut().map(|cv| {
            let slot = cv.add(&ps_next, ldn);
            cv.set(t - 1, slot);
            slot
        });
        Self {
            models,
            n,
            ldn,
            fwd,
            filt,
            sequence,
            tol,
            covs,
            cov_slot,
            means,
            ms: vec![0.0; ldn],
            delta: vec![0.0; ldn],
            ms_next,
            ps: vec![0.0; block],
            sum_ps: ps_next.clone(),
            ps_last: ps_next.clone(),
            ps_next,
            sum_cross_t: vec![0.0; block],
            gw: GainWork::new(pm),
            d: vec![0.0; block],
            e: vec![0.0; block],
            tmp: vec![0.0; block],
            cached: None,
            converged: false,
            prev_delta: None,
            pending: 0,
            steady_steps: 0,
        }
    }

    /// Makes `gw` hold the gain of step k; returns whether it is the gain of
    /// step k + 1 (same filtered and predicted covariances: a steady stretch).
    #[inline]
    fn gain(&mut self, k: usize) -> Result<bool> {
        let key = (self.filt.slot(k), self.fwd.pred_source[k + 1]);
        if self.cached == Some(key) {
            return Ok(true);
        }
        self.new_gain(k, key)?;
        Ok(false)
    }

    /// A new gain: adds what is pending of the previous stretch, computes
    /// the gain of step k and restarts the convergence test.
    fn new_gain(&mut self, k: usize, key: (usize, usize)) -> Result<()> {
        self.flush_pending();
        self.converged = false;
        self.prev_delta = None;
        let sequence = self.sequence;
        gain_into(
            self.models.at(k + 1),
            self.filt,
            &self.fwd.pred_source,
            k,
            &mut self.gw,
        )
        .map_err(|err| match err {
            KernelError::NotPositiveDefinite { pivot, .. } => StateSpaceError::PredictedNotPositiveDefinite {
                sequence,
                step: k + 1,
                pivot,
            },
            _ => StateSpaceError::Diverged {
                sequence,
                step: k + 1,
            },
        })?;
        self.cached = Some(key);
        Ok(())
    }

    /// Adds the converged `P_s` and cross-covariance of the pending steps.
    fn flush_pending(&mut self) {
        if self.pending > 0 {
            add_scaled(&mut self.sum_ps, &self.ps_next, self.pending as f64);
            add_scaled(&mut self.sum_cross_t, &self.tmp, self.pending as f64);
            self.pending = 0;
        }
    }

    /// `m_s,k = m_f,k + G (m_s,k+1 − m_p,k+1)` into `ms` and the means.
    fn smooth_mean(&mut self, k: usize) -> Result<()> {
        let (n, ldn) = (self.n, self.ldn);
        let next_pred = &self.fwd.pred_means[(k + 1) * n..(k + 2) * n];
        for ((d, &s), &p) in self.delta[..n].iter_mut().zip(&self.ms_next[..n]).zip(next_pred) {
            *d = s - p;
        }
        self.ms[..n].copy_from_slice(&self.fwd.filt_means[k * n..(k + 1) * n]);
        let shape = Shape::column(ldn, n);
        let (g, delta) = (Operand::new(&self.gw.g, ldn), Operand::new(&self.delta, ldn));
        gemm(
            shape,
            1.0,
            g,
            delta,
            Destination::new(&mut self.ms, ldn).accumulate(),
        );
        if !all_finite(&self.ms[..n]) {
            return Err(StateSpaceError::Diverged {
                sequence: self.sequence,
                step: k,
            });
        }
        self.means[k * n..(k + 1) * n].copy_from_slice(&self.ms[..n]);
        Ok(())
    }

    /// `P_s,k` into `ps_next` (after the swap) and the sums; on a converged
    /// stretch only counts the step.
    #[inline]
    fn smooth_cov(&mut self, k: usize, reuse: bool) {
        if self.converged {
            self.pending += 1;
            self.steady_steps += 1;
        } else {
            self.full_cov_step(reuse);
        }
        if let (Some(cv), Some(s)) = (self.covs.as_mut(), self.cov_slot) {
            cv.set(k, s);
        }
    }

    /// One step of the covariance recursion (see the module documentation)
    /// and the convergence test on a steady stretch.
    fn full_cov_step(&mut self, reuse: bool) {
        let (n, ldn) = (self.n, self.ldn);
        let gw = &self.gw;
        for ((dd, &a), &b) in self.d.iter_mut().zip(&self.ps_next).zip(&gw.pp) {
            *dd = a - b;
        }
        let shape = Shape::square(ldn, n);
        let (g, d) = (Operand::new(&gw.g, ldn), Operand::new(&self.d, ldn));
        gemm(shape, 1.0, g, d, Destination::new(&mut self.e, ldn));
        let (e, gt) = (Operand::new(&self.e, ldn), Operand::transposed(&gw.g, ldn));
        gemm(
            shape,
            1.0,
            e,
            gt,
            Destination::new(&mut self.ps, ldn).plus(&gw.pf).lower(),
        );
        mirror_lower(n, &mut self.ps, ldn);
        // tmp = E + P_f Aᵀ = Cov(x_{k+1}, x_k | y)ᵀ.
        for ((t_, &a), &b) in self.tmp.iter_mut().zip(&self.e).zip(&gw.ct) {
            *t_ = a + b;
        }
        add_scaled(&mut self.sum_ps, &self.ps, 1.0);
        add_scaled(&mut self.sum_cross_t, &self.tmp, 1.0);
        if let Some(cv) = self.covs.as_mut() {
            self.cov_slot = Some(cv.add(&self.ps, ldn));
        }
        if let Some(tol) = self.tol {
            if reuse {
                let (dl, scale) = max_abs_diff_lower(n, &self.ps, &self.ps_next, ldn);
                self.converged = is_converged(dl, self.prev_delta, scale, tol);
                self.prev_delta = Some(dl);
            } else {
                self.prev_delta = None;
            }
        }
        std::mem::swap(&mut self.ps, &mut self.ps_next);
    }

    fn finish(mut self) -> Backward {
        self.flush_pending();
        Backward {
            means: self.means,
            sum_ps: self.sum_ps,
            ps_first: self.ps_next,
            ps_last: self.ps_last,
            sum_cross_t: self.sum_cross_t,
            covs: self.covs,
            steady_steps: self.steady_steps,
        }
    }
}
