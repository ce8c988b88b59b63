//! A minimal 8-lane SIMD abstraction for the block kernels.
//!
//! Written against explicit vector types rather than relying on the
//! auto-vectoriser: with runtime-sized loops around 8-lane array code, LLVM
//! vectorised the *outer* loops (gathers and 128-bit shuffles) and the
//! statistics kernel ran ~10x slower than this form.
//!
//! One module per instruction set of [`linalg_kernels::for_each_isa!`], with
//! the same names, each exporting its token as `Token`:
//! - [`avx512::Avx512`]: one `__m512d` per lane group;
//! - [`avx2::Avx2`]: two `__m256d` per lane group (AVX2 + FMA);
//! - [`baseline::Scalar`]: `[f64; 8]` with plain lane loops, for every CPU.
//!
//! A vector token is a proof that the CPU has its features: its constructor
//! `new` is a `#[target_feature]` function, so safe code can only call it
//! from a function compiled with the same features (the kernel entry points
//! of `super`, which `linalg_kernels::isa_dispatch!` enters after run-time
//! detection). Every method is `#[inline(always)]` and free of closures, so
//! that in such a function the intrinsics inline instead of becoming calls
//! compiled without the features.

use super::{LANES, V};

/// 8-lane f64 operations.
pub(crate) trait Simd: Copy {
    /// A register of 8 lanes.
    type R: Copy;
    /// All lanes `v`.
    fn splat(self, v: f64) -> Self::R;
    /// Loads a lane array.
    fn load(self, a: &V) -> Self::R;
    /// Stores into a lane array.
    fn store(self, a: &mut V, v: Self::R);
    /// `a + b`.
    fn add(self, a: Self::R, b: Self::R) -> Self::R;
    /// `a − b`.
    fn sub(self, a: Self::R, b: Self::R) -> Self::R;
    /// `a · b`.
    fn mul(self, a: Self::R, b: Self::R) -> Self::R;
    /// `1 / a`.
    #[inline(always)]
    fn div_one(self, a: Self::R) -> Self::R {
        let mut v = [0.0; LANES];
        self.store(&mut v, a);
        for x in &mut v {
            *x = 1.0 / *x;
        }
        self.load(&v)
    }
    /// `a · b + c` (fused where the instruction set has it).
    fn mul_add(self, a: Self::R, b: Self::R, c: Self::R) -> Self::R;
    /// Lane-wise maximum (inputs are never NaN here).
    fn max(self, a: Self::R, b: Self::R) -> Self::R;
    /// Lane-wise minimum (inputs are never NaN here).
    fn min(self, a: Self::R, b: Self::R) -> Self::R;
    /// Round to the nearest integer (ties to even).
    fn round(self, a: Self::R) -> Self::R;
    /// `p · 2ⁿ` for integral `n` with `|n| ≤ 1100`, correctly over- and underflowing.
    fn scale2(self, p: Self::R, n: Self::R) -> Self::R;

    /// `ln x` for finite `x > 0` (the default goes through `f64::ln` lane by lane).
    #[inline(always)]
    fn ln(self, x: Self::R) -> Self::R {
        let mut a = [0.0; LANES];
        self.store(&mut a, x);
        for v in &mut a {
            *v = v.ln();
        }
        self.load(&a)
    }

    /// `eˣ` for lanes that are finite or −∞ (not NaN): the algorithm of
    /// [`linalg_kernels::fastexp::exp`] (Cody-Waite reduction, degree-11
    /// polynomial, relative error ≤ 1e-13) in vector form.
    #[inline(always)]
    fn exp(self, x: Self::R) -> Self::R {
        const LOG2_E: f64 = std::f64::consts::LOG2_E;
        const LN2_HI: f64 = 6.931_471_803_691_238e-1;
        const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
        let xc = self.min(self.max(x, self.splat(-746.0)), self.splat(710.0));
        let n = self.round(self.mul(xc, self.splat(LOG2_E)));
        let r = self.mul_add(n, self.splat(-LN2_HI), xc);
        let r = self.mul_add(n, self.splat(-LN2_LO), r);
        let r2 = self.mul(r, r);
        let r4 = self.mul(r2, r2);
        let p01 = self.add(self.splat(1.0), r);
        let p23 = self.mul_add(self.splat(1.0 / 6.0), r, self.splat(0.5));
        let p45 = self.mul_add(self.splat(1.0 / 120.0), r, self.splat(1.0 / 24.0));
        let p67 = self.mul_add(self.splat(1.0 / 5040.0), r, self.splat(1.0 / 720.0));
        let p89 = self.mul_add(self.splat(1.0 / 362_880.0), r, self.splat(1.0 / 40320.0));
        let p1011 = self.mul_add(self.splat(1.0 / 39_916_800.0), r, self.splat(1.0 / 3_628_800.0));
        let q0 = self.mul_add(p23, r2, p01);
        let q1 = self.mul_add(p67, r2, p45);
        let q2 = self.mul_add(p1011, r2, p89);
        let p = self.mul_add(self.mul_add(q2, r4, q1), r4, q0);
        self.scale2(p, n)
    }
}

/// One lane array per register: `lanes!(|a, b| a + b)` applies the
/// expression lane by lane.
macro_rules! lanes {
    (|$($v:ident),*| $e:expr) => {{
        let mut out = [0.0; LANES];
        for l in 0..LANES {
            $(let $v = $v[l];)*
            out[l] = $e;
        }
        out
    }};
}

/// The portable fallback.
pub(crate) mod baseline {
    use super::{LANES, Simd, V};

    /// The portable token: plain loops over `[f64; 8]`, separate multiply
    /// and add (no fused multiply-add), for every CPU.
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct Scalar;

    /// The token of this instruction set.
    pub(crate) type Token = Scalar;

    impl Scalar {
        /// The token (every CPU can run it).
        #[inline(always)]
        pub(crate) fn new() -> Self {
            Self
        }
    }

    impl Simd for Scalar {
        type R = V;
        #[inline(always)]
        fn splat(self, v: f64) -> V {
            [v; LANES]
        }
        #[inline(always)]
        fn load(self, a: &V) -> V {
            *a
        }
        #[inline(always)]
        fn store(self, a: &mut V, v: V) {
            *a = v;
        }
        #[inline(always)]
        fn add(self, a: V, b: V) -> V {
            lanes!(|a, b| a + b)
        }
        #[inline(always)]
        fn sub(self, a: V, b: V) -> V {
            lanes!(|a, b| a - b)
        }
        #[inline(always)]
        fn mul(self, a: V, b: V) -> V {
            lanes!(|a, b| a * b)
        }
        #[inline(always)]
        fn mul_add(self, a: V, b: V, c: V) -> V {
            lanes!(|a, b, c| a * b + c)
        }
        #[inline(always)]
        fn max(self, a: V, b: V) -> V {
            lanes!(|a, b| if a > b { a } else { b })
        }
        #[inline(always)]
        fn min(self, a: V, b: V) -> V {
            lanes!(|a, b| if a < b { a } else { b })
        }
        #[inline(always)]
        fn round(self, a: V) -> V {
            lanes!(|a| a.round_ties_even())
        }
        #[inline(always)]
        fn scale2(self, p: V, n: V) -> V {
            lanes!(|p, n| {
                let n = n as i64;
                let n1 = n >> 1;
                let n2 = n - n1;
                p * f64::from_bits(((n1 + 1023) as u64) << 52) * f64::from_bits(((n2 + 1023) as u64) << 52)
            })
        }
    }
}

/// AVX2 with FMA.
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2 {
    use super::{Simd, V};
    use std::arch::x86_64::*;

    /// Proof that the CPU supports AVX2 and FMA. One register = two `__m256d`.
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct Avx2(());

    /// The token of this instruction set.
    pub(crate) type Token = Avx2;

    impl Avx2 {
        /// The token; safe to call only from code compiled with these
        /// features, which runs only on a CPU that has them.
        #[target_feature(enable = "avx2,fma")]
        #[inline]
        pub(crate) fn new() -> Self {
            Self(())
        }

        /// `p · 2ⁿ` on four lanes: `2ⁿ = 2^n1 · 2^n2` with `n1 = n >> 1`.
        #[inline(always)]
        fn scale2_quarter(self, p: __m256d, n: __m256d) -> __m256d {
            // SAFETY: the token proves AVX2 (see `new`).
            unsafe {
                let n32 = _mm256_cvtpd_epi32(n);
                let n1 = _mm_srai_epi32::<1>(n32);
                let n2 = _mm_sub_epi32(n32, n1);
                _mm256_mul_pd(_mm256_mul_pd(p, self.pow2(n1)), self.pow2(n2))
            }
        }

        /// `2ᵐ` for four integers `m` (`|m| ≤ 1022`), built in the exponent field.
        #[inline(always)]
        fn pow2(self, m: __m128i) -> __m256d {
            // SAFETY: the token proves AVX2 (see `new`).
            unsafe {
                let m64 = _mm256_cvtepi32_epi64(m);
                _mm256_castsi256_pd(_mm256_slli_epi64::<52>(_mm256_add_epi64(
                    m64,
                    _mm256_set1_epi64x(1023),
                )))
            }
        }
    }

    type R2 = [__m256d; 2];

    macro_rules! both {
        ($f:ident, $a:expr, $b:expr) => {
            [$f($a[0], $b[0]), $f($a[1], $b[1])]
        };
    }

    // SAFETY (all methods): an `Avx2` value exists only where `new` could be
    // called, on a CPU with the features, so executing the intrinsics is sound;
    // loads and stores go through references to 8 contiguous f64.
    impl Simd for Avx2 {
        type R = R2;
        #[inline(always)]
        fn splat(self, v: f64) -> R2 {
            unsafe { [_mm256_set1_pd(v); 2] }
        }
        #[inline(always)]
        fn load(self, a: &V) -> R2 {
            unsafe { [_mm256_loadu_pd(a.as_ptr()), _mm256_loadu_pd(a.as_ptr().add(4))] }
        }
        #[inline(always)]
        fn store(self, a: &mut V, v: R2) {
            unsafe {
                _mm256_storeu_pd(a.as_mut_ptr(), v[0]);
                _mm256_storeu_pd(a.as_mut_ptr().add(4), v[1]);
            }
        }
        #[inline(always)]
        fn add(self, a: R2, b: R2) -> R2 {
            unsafe { both!(_mm256_add_pd, a, b) }
        }
        #[inline(always)]
        fn sub(self, a: R2, b: R2) -> R2 {
            unsafe { both!(_mm256_sub_pd, a, b) }
        }
        #[inline(always)]
        fn mul(self, a: R2, b: R2) -> R2 {
            unsafe { both!(_mm256_mul_pd, a, b) }
        }
        #[inline(always)]
        fn mul_add(self, a: R2, b: R2, c: R2) -> R2 {
            unsafe {
                [
                    _mm256_fmadd_pd(a[0], b[0], c[0]),
                    _mm256_fmadd_pd(a[1], b[1], c[1]),
                ]
            }
        }
        #[inline(always)]
        fn max(self, a: R2, b: R2) -> R2 {
            unsafe { both!(_mm256_max_pd, a, b) }
        }
        #[inline(always)]
        fn min(self, a: R2, b: R2) -> R2 {
            unsafe { both!(_mm256_min_pd, a, b) }
        }
        #[inline(always)]
        fn round(self, a: R2) -> R2 {
            const NEAREST: i32 = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
            unsafe { [_mm256_round_pd::<NEAREST>(a[0]), _mm256_round_pd::<NEAREST>(a[1])] }
        }
        #[inline(always)]
        fn scale2(self, p: R2, n: R2) -> R2 {
            [self.scale2_quarter(p[0], n[0]), self.scale2_quarter(p[1], n[1])]
        }
    }
}

/// AVX-512.
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512 {
    use super::{Simd, V};
    use std::arch::x86_64::*;

    /// Proof that the CPU supports AVX-512F and FMA.
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct Avx512(());

    /// The token of this instruction set.
    pub(crate) type Token = Avx512;

    impl Avx512 {
        /// The token; safe to call only from code compiled with these
        /// features, which runs only on a CPU that has them.
        #[target_feature(enable = "avx512f,avx2,fma")]
        #[inline]
        pub(crate) fn new() -> Self {
            Self(())
        }
    }

    // SAFETY (all methods): an `Avx512` value exists only where `new` could be
    // called, on a CPU with the features, so executing the intrinsics is sound;
    // loads and stores go through references to 8 contiguous f64.
    impl Simd for Avx512 {
        type R = __m512d;
        #[inline(always)]
        fn splat(self, v: f64) -> __m512d {
            unsafe { _mm512_set1_pd(v) }
        }
        #[inline(always)]
        fn load(self, a: &V) -> __m512d {
            unsafe { _mm512_loadu_pd(a.as_ptr()) }
        }
        #[inline(always)]
        fn store(self, a: &mut V, v: __m512d) {
            unsafe { _mm512_storeu_pd(a.as_mut_ptr(), v) }
        }
        #[inline(always)]
        fn add(self, a: __m512d, b: __m512d) -> __m512d {
            unsafe { _mm512_add_pd(a, b) }
        }
        #[inline(always)]
        fn sub(self, a: __m512d, b: __m512d) -> __m512d {
            unsafe { _mm512_sub_pd(a, b) }
        }
        #[inline(always)]
        fn mul(self, a: __m512d, b: __m512d) -> __m512d {
            unsafe { _mm512_mul_pd(a, b) }
        }
        #[inline(always)]
        fn mul_add(self, a: __m512d, b: __m512d, c: __m512d) -> __m512d {
            unsafe { _mm512_fmadd_pd(a, b, c) }
        }
        #[inline(always)]
        fn div_one(self, a: __m512d) -> __m512d {
            unsafe { _mm512_div_pd(_mm512_set1_pd(1.0), a) }
        }
        #[inline(always)]
        fn max(self, a: __m512d, b: __m512d) -> __m512d {
            unsafe { _mm512_max_pd(a, b) }
        }
        #[inline(always)]
        fn min(self, a: __m512d, b: __m512d) -> __m512d {
            unsafe { _mm512_min_pd(a, b) }
        }
        #[inline(always)]
        fn round(self, a: __m512d) -> __m512d {
            // Round to nearest even, exceptions suppressed.
            unsafe { _mm512_roundscale_pd::<0b0000_1000>(a) }
        }
        #[inline(always)]
        fn scale2(self, p: __m512d, n: __m512d) -> __m512d {
            // scalef: p · 2^floor(n), with IEEE overflow / gradual underflow.
            unsafe { _mm512_scalef_pd(p, n) }
        }
        /// `x = 2ᵉ m` with `m ∈ [√½, √2)` (getexp / getmant), then
        /// `ln m = 2 atanh t = 2 (t + t³/3 + … + t¹⁹/19)` with `t = (m − 1)/(m + 1)`,
        /// `|t| ≤ 0.1716` (truncation below 1e-17), and `ln x = e ln 2 + ln m`
        /// with `ln 2` split in two parts.
        #[inline(always)]
        fn ln(self, x: __m512d) -> __m512d {
            const LN2_HI: f64 = 6.931_471_803_691_238e-1;
            const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
            unsafe {
                let e = _mm512_getexp_pd(x);
                let m = _mm512_getmant_pd::<_MM_MANT_NORM_1_2, _MM_MANT_SIGN_SRC>(x);
                let big = _mm512_cmp_pd_mask::<_CMP_GT_OQ>(m, _mm512_set1_pd(std::f64::consts::SQRT_2));
                let m = _mm512_mask_mul_pd(m, big, m, _mm512_set1_pd(0.5));
                let e = _mm512_mask_add_pd(e, big, e, _mm512_set1_pd(1.0));
                let one = _mm512_set1_pd(1.0);
                let t = _mm512_div_pd(_mm512_sub_pd(m, one), _mm512_add_pd(m, one));
                let t2 = _mm512_mul_pd(t, t);
                let mut p = _mm512_set1_pd(1.0 / 19.0);
                for k in (0..9).rev() {
                    p = _mm512_fmadd_pd(p, t2, _mm512_set1_pd(1.0 / (2 * k + 1) as f64));
                }
                let ln_m = _mm512_mul_pd(_mm512_add_pd(t, t), p);
                let lo = _mm512_fmadd_pd(e, _mm512_set1_pd(LN2_LO), ln_m);
                _mm512_fmadd_pd(e, _mm512_set1_pd(LN2_HI), lo)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_exp<S: Simd>(s: S) {
        let xs: Vec<f64> = (0..4000).map(|i| -740.0 + 0.3621 * i as f64).collect();
        for chunk in xs.chunks_exact(LANES) {
            let mut a = [0.0; LANES];
            a.copy_from_slice(chunk);
            let mut out = [0.0; LANES];
            s.store(&mut out, s.exp(s.load(&a)));
            for l in 0..LANES {
                let e = a[l].exp();
                if a[l] > -708.0 {
                    assert!(((out[l] - e) / e).abs() < 1e-13, "x = {}", a[l]);
                } else {
                    assert!((out[l] - e).abs() < 1e-300);
                }
            }
        }
        let mut out = [0.0; LANES];
        s.store(&mut out, s.exp(s.splat(f64::NEG_INFINITY)));
        assert_eq!(out, [0.0; LANES]);
    }

    fn check_ln<S: Simd>(s: S) {
        let xs: Vec<f64> = (0..4000)
            .map(|i| 1.0 + 0.0137 * i as f64 + (i % 7) as f64 * 1e3)
            .collect();
        for chunk in xs.chunks_exact(LANES).chain([&[
            1.0,
            1.5,
            2.0,
            std::f64::consts::SQRT_2 - 1e-15,
            std::f64::consts::SQRT_2 + 1e-15,
            1e-300,
            3e300,
            0.7,
        ][..]])
        {
            let mut a = [0.0; LANES];
            a.copy_from_slice(chunk);
            let mut out = [0.0; LANES];
            s.store(&mut out, s.ln(s.load(&a)));
            for l in 0..LANES {
                let e = a[l].ln();
                assert!(
                    (out[l] - e).abs() <= 4e-16 * e.abs().max(1.0),
                    "x = {}: {} vs {e}",
                    a[l],
                    out[l]
                );
            }
        }
    }

    /// The vector `exp` and `ln` of every instruction set this CPU has
    /// match the standard library's.
    #[test]
    fn vector_exp_and_ln_match_std() {
        check_exp(baseline::Scalar::new());
        check_ln(baseline::Scalar::new());
        #[cfg(target_arch = "x86_64")]
        {
            let isa = linalg_kernels::isa::Isa::supported();
            if isa.has_avx2() {
                // SAFETY: the CPU has AVX2 and FMA (checked just above).
                let s = unsafe { avx2::Avx2::new() };
                check_exp(s);
                check_ln(s);
            }
            if isa.has_avx512() {
                // SAFETY: the CPU has AVX-512F and FMA (checked just above).
                let s = unsafe { avx512::Avx512::new() };
                check_exp(s);
                check_ln(s);
            }
        }
    }
}
