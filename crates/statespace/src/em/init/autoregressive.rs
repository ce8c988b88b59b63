//! The start for n = p: `H = I` and a vector autoregression of the
//! observations (the recipe is in the [parent module](super)).

use faer::{Mat, MatRef};

use super::linalg::{
    diag, lagged_moment, nearest_spd_scaled, shrink_toward, solve_right, solve_spd_right, spectral_radius,
    stabilise,
};
use super::{RELATIVE_FLOOR, RHO_MAX};
use crate::model::inference_options::InferenceOptions;
use crate::model::{LinearGaussianSsm, Parameters};

/// The lagged moments the recipe needs (`g_ab = Γ_{a,b}`, the lag-2 ones
/// over the steps k ≥ 2 with the `t` prefix for the lag-one ones there).
struct Moments {
    g00: Mat<f64>,
    g01: Mat<f64>,
    g11: Mat<f64>,
    t01: Mat<f64>,
    t11: Mat<f64>,
    g02: Mat<f64>,
    g12: Mat<f64>,
    /// Whether every entry of the lag-1 moments has at least 2p pairs.
    pairs: bool,
    /// Whether every entry of the lag-2 moments has at least 2p triples.
    triples: bool,
}

impl Moments {
    fn new(sequences: &[MatRef<'_, f64>], p: usize) -> Self {
        let enough = |count: f64| count >= (2 * p) as f64;
        let (g00, c00) = lagged_moment(sequences, 0, 0, 1);
        let (g01, c01) = lagged_moment(sequences, 0, 1, 1);
        let (g11, c11) = lagged_moment(sequences, 1, 1, 1);
        let (t01, _) = lagged_moment(sequences, 0, 1, 2);
        let (t11, _) = lagged_moment(sequences, 1, 1, 2);
        let (g02, c02) = lagged_moment(sequences, 0, 2, 2);
        let (g12, c12) = lagged_moment(sequences, 1, 2, 2);
        Self {
            pairs: enough(c00) && enough(c01) && enough(c11),
            triples: enough(c02) && enough(c12),
            g00,
            g01,
            g11,
            t01,
            t11,
            g02,
            g12,
        }
    }
}

/// The n = p start (see the [parent module](super)).
pub(super) fn start(sequences: &[MatRef<'_, f64>], mean: &[f64], var: &[f64]) -> Parameters {
    let p = mean.len();
    let m0 = first_row(sequences, mean);
    let fallback = || Parameters {
        a: Mat::<f64>::identity(p, p) * faer::Scale(0.9),
        q: diag(var, 0.1),
        h: Mat::identity(p, p),
        r: diag(var, 0.5),
        m0: m0.clone(),
        p0: diag(var, 1.0),
    };
    let moments = Moments::new(sequences, p);
    if !moments.pairs {
        return fallback();
    }
    let trace = (0..p).map(|i| moments.g11[(i, i)]).sum::<f64>() / p as f64;
    let ridge = Mat::<f64>::identity(p, p) * faer::Scale(1e-8 * trace + f64::MIN_POSITIVE);
    let least_squares =
        solve_spd_right(moments.g01.as_ref(), (&moments.g11 + &ridge).as_ref()).map(|mut a| {
            stabilise(&mut a, RHO_MAX);
            a
        });
    let instrumental = if moments.triples {
        solve_right(moments.g02.as_ref(), moments.g12.as_ref())
    } else {
        None
    };
    // An unstable IV estimate moves toward the (stable) least-squares one,
    // or is scaled: two candidates.
    let (toward, scaled) = match instrumental {
        Some(iv) if spectral_radius(iv.as_ref()) > RHO_MAX => {
            let toward = least_squares.as_ref().map(|ls| shrink_toward(&iv, ls, RHO_MAX));
            let mut scaled = iv;
            stabilise(&mut scaled, RHO_MAX);
            (toward, Some(scaled))
        }
        other => (other, None),
    };
    let candidates: Vec<Parameters> = [least_squares, toward, scaled]
        .into_iter()
        .flatten()
        .map(|a| {
            let (q, r) = split(&moments, a.as_ref(), var);
            Parameters {
                a,
                q,
                h: Mat::identity(p, p),
                r,
                m0: m0.clone(),
                p0: diag(var, 1.0),
            }
        })
        .collect();
    best_by_likelihood(sequences, candidates).unwrap_or_else(fallback)
}

/// The first row of the first sequence, missing values replaced by the mean.
fn first_row(sequences: &[MatRef<'_, f64>], mean: &[f64]) -> Vec<f64> {
    let first = sequences[0];
    (0..mean.len())
        .map(|i| {
            let v = first[(0, i)];
            if v.is_nan() { mean[i] } else { v }
        })
        .collect()
}

/// Q and R from the residual moments of `y_k − A y_{k−1}`: `E₀ = Q + R + A R Aᵀ`,
/// `E₁ = −A R` with R diagonal.
fn split(m: &Moments, a: MatRef<'_, f64>, var: &[f64]) -> (Mat<f64>, Mat<f64>) {
    let p = a.nrows();
    let e0 = residual_moment(
        m.g00.as_ref(),
        m.g01.as_ref(),
        m.g01.transpose(),
        m.g11.as_ref(),
        a,
    );
    let e1 = residual_moment(m.t01.as_ref(), m.g02.as_ref(), m.t11.as_ref(), m.g12.as_ref(), a);
    let scale: Vec<f64> = (0..p)
        .map(|i| {
            let e = e0[(i, i)];
            if e > 1e-8 * var[i] && e.is_finite() {
                e
            } else {
                1e-8 * var[i]
            }
        })
        .collect();
    let r: Vec<f64> = (0..p)
        .map(|i| {
            let (aii, e) = (a[(i, i)], scale[i]);
            let estimate = -e1[(i, i)] / aii;
            if aii < 0.1 || !estimate.is_finite() {
                0.5 * e
            } else {
                // max then min: never a panic when the bounds cross (|A[i,i]| > 31).
                estimate.max(RELATIVE_FLOOR * e).min(e / (1.0 + aii * aii))
            }
        })
        .collect();
    let r = diag(&r, 1.0);
    let ara = a * &r * a.transpose();
    let q = &e0 - &r - &ara;
    (nearest_spd_scaled(q.as_ref(), &scale, RELATIVE_FLOOR), r)
}

/// `E[(u_k − A u'_k)(z_k − A z'_k)ᵀ]` from `uz = E[u zᵀ]`, `uz' = E[u z'ᵀ]`,
/// `u'z = E[u' zᵀ]`, `u'z' = E[u' z'ᵀ]`.
fn residual_moment(
    uz: MatRef<'_, f64>,
    uz_lag: MatRef<'_, f64>,
    ulag_z: MatRef<'_, f64>,
    ulag_zlag: MatRef<'_, f64>,
    a: MatRef<'_, f64>,
) -> Mat<f64> {
    let mut e = uz.to_owned();
    e -= a * ulag_z;
    e -= uz_lag * a.transpose();
    e += a * ulag_zlag * a.transpose();
    e
}

/// The candidate with the highest log-likelihood (steady-state filter);
/// `None` when no candidate is a valid model with a finite log-likelihood.
fn best_by_likelihood(sequences: &[MatRef<'_, f64>], candidates: Vec<Parameters>) -> Option<Parameters> {
    let mut best: Option<(f64, Parameters)> = None;
    for parameters in candidates {
        let Ok(model) = LinearGaussianSsm::from_parameters(parameters.clone()) else {
            continue;
        };
        let model = model.with_inference(InferenceOptions::steady_state());
        let Ok(ll) = model.log_likelihood(sequences) else {
            continue;
        };
        if ll.is_finite() && best.as_ref().is_none_or(|(b, _)| ll > *b) {
            best = Some((ll, parameters));
        }
    }
    best.map(|(_, parameters)| parameters)
}
