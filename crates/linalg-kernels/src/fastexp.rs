//! A vectorisable exponential for log-sum-exp loops, whose exponents are
//! never positive: `exp(vᵢ − max v)`.
//!
//! glibc's `exp` costs 5-15 ns a call, does not vectorise, and ran ~20x slower
//! after large faer matmuls left the AVX-512 upper state dirty
//! (see [`crate::isa::clear_upper_registers`]). [`exp_non_positive`] is
//! branch-free straight-line arithmetic that the compiler vectorises in a
//! loop over a slice (the mixture kernels write the same steps with explicit
//! vectors, from the constants here):
//! - Cody-Waite range reduction `x = n ln 2 + r`, `|r| ≤ ln 2 / 2`, with
//!   `ln 2 = LN2_HI + LN2_LO` and `n · LN2_HI` exact;
//! - a degree-9 polynomial for `eʳ` in Estrin form ([`COEFFICIENTS`]:
//!   `c₀ = c₁ = 1` and `c₂ … c₉` fitted for the least maximum relative error,
//!   1.7e-14 on a grid of 2·10⁵ points; Taylor's coefficients need degree 11
//!   for 1e-13);
//! - the scaling by `2ⁿ` in one rounding multiply, which the range `x ≤ 0`
//!   allows: `xc = max(x, −746)`, and `t = xc log₂e + SHIFT`
//!   (`SHIFT = 1.5·2⁵² + 1077`) rounds `xc log₂e` to the nearest integer
//!   `n ∈ [−1076, 0]` and leaves `n + 1077 ∈ [1, 1077]` in the low mantissa
//!   bits of `t`. So `n = t − SHIFT` exactly, `t`'s bits shifted left by 52
//!   are the normal number `2^(n + 54)`, and with every coefficient times
//!   `2⁻⁵⁴`, `eˣ = p · 2^(n + 54)`, gradual underflow included.
//!
//! Accuracy: relative error below `1e-13` against `f64::exp` on
//! `[−708, 0]` (tested); subnormal results (`x < −708.4`) have absolute
//! error below `1e-320`. Special values: `exp(0) = 1` and `exp(−∞) = 0`
//! exactly (`x = −∞` gives `n = −1076`, `r ≈ −0.17`, and `p 2⁻¹⁰⁷⁶ < 2⁻¹⁰⁷⁵`
//! rounds to 0), underflow gives 0, NaN gives NaN.
//!
//! (A full-range version, with a degree-11 polynomial, an upper clamp and
//! the scaling split into two powers of two for results up to `f64::MAX`,
//! made the HMM's emission scaling take 1.3x the time with AVX2 on AMD
//! Zen 4; every caller's exponents are `≤ 0`.)

use std::f64::consts::LOG2_E;

use crate::isa::mul_add;

/// High part of `ln 2` (its low 32 mantissa bits are zero, so `n · LN2_HI`
/// is exact for `|n| < 2²⁰`).
pub const LN2_HI: f64 = 6.931_471_803_691_238e-1;
/// `ln 2 − LN2_HI`.
pub const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
/// The clamp: below it every result is 0 (`e⁻⁷⁴⁶ < 2⁻¹⁰⁷⁵`).
pub const X_MIN: f64 = -746.0;
/// `1.5 · 2⁵² + 1077`: adding it to `xc log₂e` rounds to the nearest
/// integer `n` and leaves `n + 1077` in the low mantissa bits.
pub const SHIFT: f64 = 6_755_399_441_055_744.0 + 1077.0;

/// `p(r) = Σ cₖ rᵏ ≈ eʳ` on `|r| ≤ ln 2 / 2`, each coefficient times `2⁻⁵⁴`
/// (exact: a power of two; see the module docs).
pub const COEFFICIENTS: [f64; 10] = times_2_pow_minus_54([
    1.0,
    1.0,
    0.499_999_999_996_645_46,
    0.166_666_666_672_656_26,
    0.041_666_666_962_025_305,
    0.008_333_333_094_777_24,
    0.001_388_881_118_294_655_1,
    0.000_198_415_396_364_888_33,
    2.488_079_065_381_69e-5,
    2.749_279_981_741_253_6e-6,
]);

/// Each value times `2⁻⁵⁴`.
const fn times_2_pow_minus_54(mut c: [f64; 10]) -> [f64; 10] {
    let mut k = 0;
    while k < 10 {
        c[k] /= 18_014_398_509_481_984.0;
        k += 1;
    }
    c
}

/// `eˣ` for `x ≤ 0` (or `−∞`), branch-free and vectorisable (see the module
/// docs for the algorithm and its accuracy). Positive `x` are outside its
/// range.
///
/// Uses separate multiplies and adds (no `mul_add`), so it is equally fast
/// and gives identical results whether or not the target has FMA
/// ([`exp_non_positive_with`] with `FUSED = false`).
///
/// # Examples
/// ```
/// let y = linalg_kernels::fastexp::exp_non_positive(-1.5);
/// assert!((y / (-1.5f64).exp() - 1.0).abs() <= 1e-13);
/// ```
#[inline(always)]
#[must_use]
pub fn exp_non_positive(x: f64) -> f64 {
    exp_non_positive_with::<false>(x)
}

/// [`exp_non_positive`] with its multiply-adds fused when `FUSED`: the same
/// algorithm and accuracy, in fewer roundings and vector instructions on a
/// target with FMA (the kernels compiled for AVX2 and AVX-512, and every
/// aarch64 target). Without FMA in the target, `FUSED = true` calls the C
/// library's `fma` per multiply-add: correct, and very slow.
///
/// # Examples
/// ```
/// let y = linalg_kernels::fastexp::exp_non_positive_with::<true>(-1.5);
/// assert!((y / (-1.5f64).exp() - 1.0).abs() <= 1e-13);
/// ```
#[inline(always)]
#[must_use]
pub fn exp_non_positive_with<const FUSED: bool>(x: f64) -> f64 {
    // `max(X_MIN, x)` as one vector maximum that passes a NaN `x` through.
    let xc = if X_MIN > x { X_MIN } else { x };
    let t = mul_add::<FUSED>(xc, LOG2_E, SHIFT);
    let n = t - SHIFT;
    let r = mul_add::<FUSED>(n, -LN2_HI, xc);
    let r = mul_add::<FUSED>(n, -LN2_LO, r);
    let r2 = r * r;
    let r4 = r2 * r2;
    let c = COEFFICIENTS;
    let p01 = mul_add::<FUSED>(c[1], r, c[0]);
    let p23 = mul_add::<FUSED>(c[3], r, c[2]);
    let p45 = mul_add::<FUSED>(c[5], r, c[4]);
    let p67 = mul_add::<FUSED>(c[7], r, c[6]);
    let p89 = mul_add::<FUSED>(c[9], r, c[8]);
    let q0 = mul_add::<FUSED>(p23, r2, p01);
    let q1 = mul_add::<FUSED>(p67, r2, p45);
    let p = mul_add::<FUSED>(mul_add::<FUSED>(p89, r4, q1), r4, q0);
    p * f64::from_bits(t.to_bits() << 52)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An exponential under test.
    type Exp = fn(f64) -> f64;

    /// The two variants: separate and fused multiply-adds.
    const VARIANTS: [(&str, Exp); 2] = [
        ("exp_non_positive", exp_non_positive_with::<false>),
        ("fused", exp_non_positive_with::<true>),
    ];

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
                let x = -708.0 * i as f64 / steps as f64;
                worst = worst.max(rel_err(x));
            }
            // Near zero, where the reduction is trivial, and tiny magnitudes.
            for x in (0..=1000)
                .map(|i| -(i as f64) * 1e-3)
                .chain((1..=60).map(|i| -(2f64.powi(-i))))
            {
                worst = worst.max(rel_err(x));
            }
            assert!(worst <= 1e-13, "{name}: worst relative error {worst:e}");
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
        assert_eq!(exp(-0.0), 1.0, "{name}");
        assert_eq!(exp(f64::NEG_INFINITY), 0.0, "{name}");
        assert!(exp(f64::NAN).is_nan(), "{name}");
        assert_eq!(exp(-746.0), 0.0, "{name}");
        assert_eq!(exp(-800.0), 0.0, "{name}");
        assert_eq!(exp(f64::MIN), 0.0, "{name}");
        // Subnormal range: tiny absolute error, down to the smallest result.
        for x in [-708.5, -720.0, -740.0, -745.0, -745.13] {
            assert!((exp(x) - x.exp()).abs() < 1e-320, "{name}, x = {x}");
        }
    }

    mod properties {
        use super::{VARIANTS, rel_err};
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]
            #[test]
            fn relative_error_is_tiny(x in -708.0f64..=0.0) {
                for (name, exp) in VARIANTS {
                    prop_assert!(rel_err(exp, x) <= 1e-13, "{}", name);
                    prop_assert!(exp(x) > 0.0, "{}", name);
                }
            }
        }
    }
}
