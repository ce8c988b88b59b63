//! The scaled forward recursion on one sequence (the maths is in the module
//! docs of [`super`]).

use faer::MatRef;

use super::chain::{Chain, LOCAL_K, Scratch, dispatch_k};

/// Below this value a scale factor `c_t` is considered underflowed and the
/// step is rescaled over the reachable states.
const MIN_SCALE: f64 = 1e-280;

/// The running product of scale factors is flushed into the log-likelihood
/// when it falls below this value (so that `product · c_t` cannot underflow).
const FLUSH_BELOW: f64 = 1e-20;

/// Scaled forward pass over one sequence of `len = shift.len()` steps.
///
/// `e`, `shift` come from [`super::layout::scale_emissions_body`] (and are rewritten at rescaled
/// steps); `logb` (len x K) is read only at such steps. Writes
/// `alpha` (time-major len x K, normalised rows) and `c`. Returns the
/// log-likelihood, or `Err(t)` when the sequence is impossible from time `t` on.
#[inline(always)]
pub(super) fn forward_body(
    chain: Chain<'_>,
    logb: MatRef<'_, f64>,
    e: &mut [f64],
    shift: &mut [f64],
    alpha: &mut [f64],
    c: &mut [f64],
    scratch: &mut Scratch,
) -> Result<f64, usize> {
    dispatch_k!(
        chain.k,
        forward_k(chain, logb, e, shift, alpha, c, &mut scratch.pred)
    )
}

#[inline(always)]
fn forward_k(
    k: usize,
    chain: Chain<'_>,
    logb: MatRef<'_, f64>,
    e: &mut [f64],
    shift: &mut [f64],
    alpha: &mut [f64],
    c: &mut [f64],
    pred: &mut [f64],
) -> Result<f64, usize> {
    let len = shift.len();
    // Stack accumulators for small K (kept in registers; slices of heap
    // buffers would be reloaded for fear of aliasing).
    let mut pred_local = [0.0; LOCAL_K];
    let pred = if k <= LOCAL_K {
        &mut pred_local[..k]
    } else {
        &mut pred[..k]
    };
    let trans = &chain.trans[..k * k];
    let mut log_acc = 0.0;
    let mut product = 1.0;
    for t in 0..len {
        let (done, rest) = alpha.split_at_mut(t * k);
        let at = &mut rest[..k];
        if t == 0 {
            pred.copy_from_slice(&chain.start[..k]);
        } else {
            let prev = &done[(t - 1) * k..];
            if k <= LOCAL_K {
                // Four partial sums over i (i mod 4), combined pairwise: the
                // dependency chain per step is ~k/4 + 2 additions instead of k.
                let mut part = [[0.0; LOCAL_K]; 4];
                for (i, (&a, row)) in prev[..k].iter().zip(trans.chunks_exact(k)).enumerate() {
                    for (p, &aij) in part[i % 4][..k].iter_mut().zip(row) {
                        *p += a * aij;
                    }
                }
                for (j, p) in pred.iter_mut().enumerate() {
                    *p = (part[0][j] + part[1][j]) + (part[2][j] + part[3][j]);
                }
            } else {
                pred.fill(0.0);
                for (&a, row) in prev.iter().zip(trans.chunks_exact(k)) {
                    for (p, &aij) in pred.iter_mut().zip(row) {
                        *p += a * aij;
                    }
                }
            }
        }
        let et = &mut e[t * k..(t + 1) * k];
        let mut ct = scaled_products(pred, et, at);
        if !(ct > MIN_SCALE) {
            let row: Vec<f64> = (0..k).map(|j| logb[(t, j)]).collect();
            ct = rescale_step(&row, pred, et, at, &mut shift[t]).ok_or(t)?;
        }
        let inv = 1.0 / ct;
        for a in at.iter_mut() {
            *a *= inv;
        }
        c[t] = ct;
        log_acc += shift[t];
        if ct < 1e-200 {
            log_acc += ct.ln();
        } else {
            if product < FLUSH_BELOW {
                log_acc += product.ln();
                product = 1.0;
            }
            product *= ct;
        }
    }
    Ok(log_acc + product.ln())
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
