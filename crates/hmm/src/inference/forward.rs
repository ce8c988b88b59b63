//! The scaled forward recursion on one sequence (the maths is in the module
//! docs of [`super`]).

use faer::MatRef;
use linalg_kernels::isa::mul_add;

use super::chain::{Chain, LOCAL_K, Scratch, dispatch_k};

/// Below this value a scale factor `c_t` is considered underflowed and the
/// step is rescaled over the reachable states.
const MIN_SCALE: f64 = 1e-280;

/// Below this scale factor the recursion carries `α̂_t` rather than `α̃_t =
/// c_t α̂_t` into the next step: a tiny `c_t` would push the products
/// `A_ij α̃_t(i)` down by that factor, towards the subnormal range, where
/// small predicted probabilities lose their digits or vanish. Above it they
/// lose at most the 8 decades at the bottom of the range. Rarely taken
/// (the observation is then one the prediction put little weight on).
const CARRY_NORMALISED_BELOW: f64 = 1e-8;

/// The running product of scale factors is flushed into the log-likelihood
/// when it falls below this value (so that `product · c_t` cannot underflow).
const FLUSH_BELOW: f64 = 1e-20;

/// Scaled forward pass over one sequence of `len = shift.len()` steps.
///
/// `e`, `shift` come from [`super::layout::scale_emissions_body`] (and are rewritten at rescaled
/// steps); `logb` (len x K) is read only at such steps. Writes
/// `alpha` (time-major len x K, normalised rows) and `c`. Returns the
/// log-likelihood, or `Err(t)` when the sequence is impossible from time `t` on.
/// The prediction's multiply-adds are fused with `FUSED`.
#[inline(always)]
pub(super) fn forward_body<const FUSED: bool>(
    chain: Chain<'_>,
    logb: MatRef<'_, f64>,
    e: &mut [f64],
    shift: &mut [f64],
    alpha: &mut [f64],
    c: &mut [f64],
    scratch: &mut Scratch,
) -> Result<f64, usize> {
    let run = Run {
        logb,
        e,
        shift,
        alpha,
        c,
    };
    dispatch_k!(chain.k, forward_k::<FUSED>(chain, run, scratch))
}

/// [`forward_body`] over two consecutive sequences, the first `split` rows
/// of the buffers and the rest, in lockstep while both last: each step of
/// the recursion waits on the one before, so one sequence leaves the core
/// mostly idle and the other's steps fill it. Each sequence gets exactly
/// the arithmetic of [`forward_body`]. For K > [`LOCAL_K`] the two run one
/// after the other.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) fn forward_pair_body<const FUSED: bool>(
    chain: Chain<'_>,
    logb: MatRef<'_, f64>,
    e: &mut [f64],
    shift: &mut [f64],
    alpha: &mut [f64],
    c: &mut [f64],
    split: usize,
    scratch: &mut Scratch,
) -> [Result<f64, usize>; 2] {
    let k = chain.k;
    let (e0, e1) = e.split_at_mut(split * k);
    let (shift0, shift1) = shift.split_at_mut(split);
    let (alpha0, alpha1) = alpha.split_at_mut(split * k);
    let (c0, c1) = c.split_at_mut(split);
    let first = Run {
        logb: logb.subrows(0, split),
        e: e0,
        shift: shift0,
        alpha: alpha0,
        c: c0,
    };
    let second = Run {
        logb: logb.subrows(split, logb.nrows() - split),
        e: e1,
        shift: shift1,
        alpha: alpha1,
        c: c1,
    };
    if k > LOCAL_K {
        return [
            forward_k::<FUSED>(k, chain, first, scratch),
            forward_k::<FUSED>(k, chain, second, scratch),
        ];
    }
    dispatch_k!(k, forward_pair_k::<FUSED>(chain, first, second))
}

/// One sequence's rows of the buffers of [`forward_body`]. Each step takes
/// it by value ([`Run::reborrow`]) and holds the slices as its own locals:
/// reached through a `&mut Run`, the stores into one slice might have
/// changed the others for all the compiler knew, and the K = 8 loops of the
/// step were compiled as scalar loops over memory (1.6x slower passes).
struct Run<'a> {
    logb: MatRef<'a, f64>,
    e: &'a mut [f64],
    shift: &'a mut [f64],
    alpha: &'a mut [f64],
    c: &'a mut [f64],
}

impl Run<'_> {
    /// The same rows, borrowed for one step.
    #[inline(always)]
    fn reborrow(&mut self) -> Run<'_> {
        Run {
            logb: self.logb,
            e: &mut *self.e,
            shift: &mut *self.shift,
            alpha: &mut *self.alpha,
            c: &mut *self.c,
        }
    }
}

/// The log-likelihood `Σ_t (s_t + ln c_t)` as it accumulates: the scale
/// factors multiply into `product`, flushed into `log` before the product
/// could underflow (one logarithm per many steps).
struct LogLikelihood {
    log: f64,
    product: f64,
}

impl LogLikelihood {
    const ZERO: Self = Self {
        log: 0.0,
        product: 1.0,
    };

    #[inline(always)]
    fn add(&mut self, shift: f64, ct: f64) {
        self.log += shift;
        if ct < 1e-200 {
            self.log += ct.ln();
        } else {
            if self.product < FLUSH_BELOW {
                self.log += self.product.ln();
                self.product = 1.0;
            }
            self.product *= ct;
        }
    }

    #[inline(always)]
    fn total(&self) -> f64 {
        self.log + self.product.ln()
    }
}

/// The recursion over one sequence, K as an argument (a constant for K ≤
/// [`LOCAL_K`]; `scratch` serves larger K).
#[inline(always)]
fn forward_k<const FUSED: bool>(
    k: usize,
    chain: Chain<'_>,
    mut run: Run<'_>,
    scratch: &mut Scratch,
) -> Result<f64, usize> {
    let mut carry = Carry::START;
    for t in 0..run.shift.len() {
        if k <= LOCAL_K {
            carry.step::<FUSED>(k, t, chain, run.reborrow())?;
        } else {
            let Carry { inv, ll, .. } = &mut carry;
            let (pred, tilde) = (&mut scratch.pred[..k], &mut scratch.tilde[..k]);
            forward_step::<FUSED>(k, t, chain, run.reborrow(), pred, tilde, inv, ll)?;
        }
    }
    Ok(carry.ll.total())
}

/// What one sequence's recursion carries from step to step: for K ≤
/// [`LOCAL_K`] the prediction and `α̃` in stack arrays (kept in registers;
/// slices of heap buffers would be reloaded for fear of aliasing), and for
/// every K `1 / c_{t−1}` and the log-likelihood so far.
struct Carry {
    pred: [f64; LOCAL_K],
    tilde: [f64; LOCAL_K],
    inv: f64,
    ll: LogLikelihood,
}

impl Carry {
    const START: Self = Self {
        pred: [0.0; LOCAL_K],
        tilde: [0.0; LOCAL_K],
        inv: 1.0,
        ll: LogLikelihood::ZERO,
    };

    /// Step t with the stack arrays (K ≤ [`LOCAL_K`]).
    #[inline(always)]
    fn step<const FUSED: bool>(
        &mut self,
        k: usize,
        t: usize,
        chain: Chain<'_>,
        run: Run<'_>,
    ) -> Result<(), usize> {
        let Self { pred, tilde, inv, ll } = self;
        forward_step::<FUSED>(k, t, chain, run, &mut pred[..k], &mut tilde[..k], inv, ll)
    }
}

/// Two sequences' recursions, a step of each per time t (K ≤ [`LOCAL_K`]).
#[inline(always)]
fn forward_pair_k<const FUSED: bool>(
    k: usize,
    chain: Chain<'_>,
    mut first: Run<'_>,
    mut second: Run<'_>,
) -> [Result<f64, usize>; 2] {
    let (mut carry0, mut carry1) = (Carry::START, Carry::START);
    let (mut ok0, mut ok1) = (Ok(()), Ok(()));
    let (len0, len1) = (first.shift.len(), second.shift.len());
    for t in 0..len0.max(len1) {
        if t < len0 && ok0.is_ok() {
            ok0 = carry0.step::<FUSED>(k, t, chain, first.reborrow());
        }
        if t < len1 && ok1.is_ok() {
            ok1 = carry1.step::<FUSED>(k, t, chain, second.reborrow());
        }
    }
    [ok0.map(|()| carry0.ll.total()), ok1.map(|()| carry1.ll.total())]
}

/// Step t of the scaled forward recursion of one sequence: `pred = Aᵀ
/// α̂_{t−1}` (π at t = 0), formed as `(Aᵀ α̃_{t−1}) · inv` from the
/// unnormalised `tilde = α̃_{t−1}` and `inv = 1 / c_{t−1}` of the step before
/// (see the module docs of `super`); then `α̃_t = pred ∘ e_t` into `tilde`,
/// `α̂_t = α̃_t / c_t` into `alpha`, `1 / c_t` into `inv` (or `α̂_t` and 1
/// below [`CARRY_NORMALISED_BELOW`]), and `s_t + ln c_t` into the
/// log-likelihood. `Err(t)` if no reachable state can emit `x_t`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn forward_step<const FUSED: bool>(
    k: usize,
    t: usize,
    chain: Chain<'_>,
    run: Run<'_>,
    pred: &mut [f64],
    tilde: &mut [f64],
    inv: &mut f64,
    ll: &mut LogLikelihood,
) -> Result<(), usize> {
    let Run {
        logb,
        e,
        shift,
        alpha,
        c,
    } = run;
    let trans = &chain.trans[..k * k];
    let at = &mut alpha[t * k..(t + 1) * k];
    if t == 0 {
        pred.copy_from_slice(&chain.start[..k]);
    } else {
        let prev = &*tilde;
        if k <= LOCAL_K {
            // Four partial sums over i (i mod 4), combined pairwise: the
            // dependency chain per step is ~k/4 + 2 additions instead of k.
            let mut part = [[0.0; LOCAL_K]; 4];
            for (i, (&a, row)) in prev[..k].iter().zip(trans.chunks_exact(k)).enumerate() {
                for (p, &aij) in part[i % 4][..k].iter_mut().zip(row) {
                    *p = mul_add::<FUSED>(a, aij, *p);
                }
            }
            for (j, p) in pred.iter_mut().enumerate() {
                *p = ((part[0][j] + part[1][j]) + (part[2][j] + part[3][j])) * *inv;
            }
        } else {
            pred.fill(0.0);
            for (&a, row) in prev.iter().zip(trans.chunks_exact(k)) {
                for (p, &aij) in pred.iter_mut().zip(row) {
                    *p = mul_add::<FUSED>(a, aij, *p);
                }
            }
            for p in pred.iter_mut() {
                *p *= *inv;
            }
        }
    }
    let et = &mut e[t * k..(t + 1) * k];
    let mut ct = scaled_products(pred, et, tilde);
    if !(ct > MIN_SCALE) {
        let row: Vec<f64> = (0..k).map(|j| logb[(t, j)]).collect();
        ct = rescale_step(&row, pred, et, tilde, &mut shift[t]).ok_or(t)?;
    }
    *inv = 1.0 / ct;
    for (a, &v) in at.iter_mut().zip(tilde.iter()) {
        *a = v * *inv;
    }
    if ct < CARRY_NORMALISED_BELOW {
        tilde.copy_from_slice(at);
        *inv = 1.0;
    }
    c[t] = ct;
    ll.add(shift[t], ct);
    Ok(())
}

/// `at = pred ∘ et` and returns `Σ_j at[j]`, summed in four partial sums
/// (j mod 4) combined pairwise (a short dependency chain).
#[inline(always)]
fn scaled_products(pred: &[f64], et: &[f64], at: &mut [f64]) -> f64 {
    let mut part = [0.0; 4];
    for (j, ((a, &p), &ej)) in at.iter_mut().zip(pred).zip(et).enumerate() {
        let v = p * ej;
        *a = v;
        part[j % 4] += v;
    }
    (part[0] + part[1]) + (part[2] + part[3])
}

/// Redoes one forward step with the shift taken over the reachable states
/// (see the module docs). Returns the new `c_t`, or `None` if no reachable
/// state can emit the observation.
///
/// Inlined (into the cold branch of each specialised step) rather than
/// called: a call from the `#[target_feature]` kernels to a function of
/// another codegen unit made the compiler spill the small-K accumulators
/// of the hot loop (8% slower forward passes at K = 3, 4).
#[cold]
#[inline(always)]
fn rescale_step(logb: &[f64], pred: &[f64], et: &mut [f64], at: &mut [f64], shift: &mut f64) -> Option<f64> {
    let mut s = f64::NEG_INFINITY;
    for (&p, &v) in pred.iter().zip(logb) {
        if p > 0.0 {
            s = s.max(v);
        }
    }
    if s == f64::NEG_INFINITY {
        return None;
    }
    *shift = s;
    let mut ct = 0.0;
    for j in 0..pred.len() {
        let v = logb[j];
        et[j] = if pred[j] > 0.0 && v != f64::NEG_INFINITY {
            (v - s).exp()
        } else {
            0.0
        };
        let a = pred[j] * et[j];
        at[j] = a;
        ct += a;
    }
    (ct > 0.0 && ct.is_finite()).then_some(ct)
}
