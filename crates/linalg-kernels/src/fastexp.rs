//! A vectorisable exponential for log-sum-exp loops.
//!
//! glibc's `exp` costs 5-15 ns a call, does not vectorise, and ran ~20x slower
//! after large faer matmuls left the AVX-512 upper state dirty
//! (see [`crate::isa::clear_upper_registers`]). [`exp`] is branch-free straight-line arithmetic that
//! the compiler vectorises when it is called in a loop over a fixed-size lane
//! array (or a slice): Cody-Waite range reduction
//! `x = n ln 2 + r`, `|r| ≤ ln 2 / 2`, a degree-11 Taylor polynomial for
//! `e^r` (truncation `≤ 0.347¹² / 12! < 7e-15` relative), and the scaling
//! `2ⁿ` split into two exact powers of two so that results down to the
//! subnormal range and up to `f64::MAX` are formed with one rounding.
//!
//! Accuracy: relative error below `1e-14` against `f64::exp` on
//! `[-708, 709.7]` (tested with a margin: `≤ 1e-13`); subnormal results
//! (`x < -708.4`) have absolute error below `1e-320`. Special values:
//! `exp(-inf) = 0`, `exp(+inf) = +inf`, NaN in gives NaN out, overflow gives
//! `+inf` and underflow `0`, as `f64::exp`.

use crate::isa::mul_add;

/// `1 / ln 2`.
const LOG2_E: f64 = std::f64::consts::LOG2_E;
/// High part of `ln 2` (its low 32 mantissa bits are zero, so `n · LN2_HI`
/// is exact for `|n| < 2²⁰`).
const LN2_HI: f64 = 6.931_471_803_691_238e-1;
/// `ln 2 − LN2_HI`.
const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
/// `1.5 · 2⁵²`: adding it rounds a value of magnitude below `2⁵¹` to the
/// nearest integer and leaves that integer in the low mantissa bits.
const ROUND_SHIFT: f64 = 6_755_399_441_055_744.0;
/// Inputs are clamped to `[X_MIN, X_MAX]` before the reduction: below
/// `X_MIN` the result is 0, above `X_MAX` it is `+inf` either way.
const X_MIN: f64 = -746.0;
const X_MAX: f64 = 710.0;

/// Taylor coefficients `1/k!`, k = 2..=11.
const C2: f64 = 1.0 / 2.0;
const C3: f64 = 1.0 / 6.0;
const C4: f64 = 1.0 / 24.0;
const C5: f64 = 1.0 / 120.0;
const C6: f64 = 1.0 / 720.0;
const C7: f64 = 1.0 / 5040.0;
const C8: f64 = 1.0 / 40320.0;
const C9: f64 = 1.0 / 362_880.0;
const C10: f64 = 1.0 / 3_628_800.0;
const C11: f64 = 1.0 / 39_916_800.0;

/// `eˣ`, branch-free and vectorisable (see the module docs for accuracy).
///
/// Uses separate multiplies and adds (no `mul_add`), so it is equally fast
/// and gives identical results whether or not the target has FMA
/// ([`exp_with`] with `FUSED = false`).
///
/// # Examples
/// ```
/// let y = linalg_kernels::fastexp::exp(-1.5);
/// assert!((y - (-1.5f64).exp()).abs() <= 1e-15);
/// ```
#[inline(always)]
#[must_use]
pub fn exp(x: f64) -> f64 {
    exp_with::<false>(x)
}

/// [`exp`] with its multiply-adds fused when `FUSED`: the same algorithm
/// and accuracy, in 13 fewer roundings and about a third fewer vector
/// arithmetic instructions on a target with FMA (the kernels compiled for
/// AVX2 and AVX-512, and every aarch64 target). With `FUSED = false` it is
/// [`exp`], bit for bit. Without FMA in the target, `FUSED = true` calls
/// the C library's `fma` per multiply-add: correct, and very slow.
///
/// # Examples
/// ```
/// let y = linalg_kernels::fastexp::exp_with::<true>(-1.5);
/// assert!((y - (-1.5f64).exp()).abs() <= 1e-15);
/// ```
#[inline(always)]
#[must_use]
pub fn exp_with<const FUSED: bool>(x: f64) -> f64 {
    let xc = x.clamp(X_MIN, X_MAX);
    let t = mul_add::<FUSED>(xc, LOG2_E, ROUND_SHIFT);
    let n_f = t - ROUND_SHIFT;
    // t's bits = ROUND_SHIFT's bits + n (two's complement), |n| ≤ 1077.
    let n = t.to_bits().wrapping_sub(ROUND_SHIFT.to_bits()) as i64;
    // r = (xc − n_f LN2_HI) − n_f LN2_LO.
    let r = mul_add::<FUSED>(-n_f, LN2_LO, mul_add::<FUSED>(-n_f, LN2_HI, xc));
    let r2 = r * r;
    // Estrin-style grouping: shorter dependency chains than plain Horner.
    let p01 = 1.0 + r;
    let p23 = mul_add::<FUSED>(C3, r, C2);
    let p45 = mul_add::<FUSED>(C5, r, C4);
    let p67 = mul_add::<FUSED>(C7, r, C6);
    let p89 = mul_add::<FUSED>(C9, r, C8);
    let p1011 = mul_add::<FUSED>(C11, r, C10);
    let r4 = r2 * r2;
    let q0 = mul_add::<FUSED>(p23, r2, p01);
    let q1 = mul_add::<FUSED>(p67, r2, p45);
    let q2 = mul_add::<FUSED>(p1011, r2, p89);
    // p = q0 + (q1 + q2 r⁴) r⁴.
    let p = mul_add::<FUSED>(mul_add::<FUSED>(q2, r4, q1), r4, q0);
    // 2ⁿ = 2^n1 · 2^n2 with both halves in the normal exponent range.
    let n1 = n >> 1;
    let n2 = n - n1;
    let s1 = f64::from_bits(((n1 + 1023) as u64) << 52);
    let s2 = f64::from_bits(((n2 + 1023) as u64) << 52);
    let y = p * s1 * s2;
    if x.is_nan() { x } else { y }
}

/// Replaces every value of `values` by its exponential ([`exp`]).
pub fn exp_in_place(values: &mut [f64]) {
    for v in values.iter_mut() {
        *v = exp(*v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An exponential under test.
    type Exp = fn(f64) -> f64;

    /// The two variants: separate and fused multiply-adds.
    const VARIANTS: [(&str, Exp); 2] = [("exp", exp_with::<false>), ("fused", exp_with::<true>)];

    /// `|f(x) − eˣ| / eˣ`.
    fn rel_err(f: Exp, x: f64) -> f64 {
        ((f(x) - x.exp()) / x.exp()).abs()
    }

    #[test]
    fn matches_std_on_a_dense_grid() {
        for (name, exp) in VARIANTS {
            let rel_err = |x| rel_err(exp, x);
            let mut worst = 0.0f64;
            let steps = 200_000;
            for i in 0..=steps {
                let x = -708.0 + 1417.7 * i as f64 / steps as f64;
                worst = worst.max(rel_err(x));
            }
            assert!(worst <= 1e-13, "{name}: worst relative error {worst:e}");
            // Near zero, where the reduction is trivial.
            for i in -1000..=1000 {
                let x = i as f64 * 1e-3;
                assert!(rel_err(x) <= 1e-14, "{name}, x = {x}: {:e}", rel_err(x));
            }
        }
    }

    #[test]
    fn special_values_and_extremes() {
        for (name, exp) in VARIANTS {
            special_values_and_extremes_of(name, exp);
        }
    }

    fn special_values_and_extremes_of(name: &str, exp: Exp) {
        assert_eq!(exp(0.0), 1.0, "{name}");
        assert_eq!(exp(f64::NEG_INFINITY), 0.0, "{name}");
        assert_eq!(exp(f64::INFINITY), f64::INFINITY, "{name}");
        assert!(exp(f64::NAN).is_nan(), "{name}");
        assert_eq!(exp(-800.0), 0.0, "{name}");
        assert_eq!(exp(710.0), f64::INFINITY, "{name}");
        assert!(exp(709.78).is_finite(), "{name}");
        assert!((exp(709.78) / 709.78f64.exp() - 1.0).abs() < 1e-13, "{name}");
        // Subnormal range: tiny absolute error.
        for x in [-708.5, -720.0, -740.0, -745.0] {
            assert!((exp(x) - x.exp()).abs() < 1e-320, "{name}, x = {x}");
        }
    }

    #[test]
    fn slice_version_agrees() {
        let mut v: Vec<f64> = (0..37).map(|i| -3.0 + 0.17 * i as f64).collect();
        let expected: Vec<f64> = v.iter().map(|&x| exp(x)).collect();
        exp_in_place(&mut v);
        assert_eq!(v, expected);
    }

    mod properties {
        use super::{VARIANTS, rel_err};
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]
            #[test]
            fn relative_error_is_tiny(x in -708.0f64..709.7) {
                for (name, exp) in VARIANTS {
                    prop_assert!(rel_err(exp, x) <= 1e-13, "{}", name);
                    prop_assert!(exp(x) > 0.0, "{}", name);
                }
            }
        }
    }
}
