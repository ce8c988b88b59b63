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
//! - [`baseline::Portable`]: four `__m128d` (SSE2) on x86-64, `[f64; 8]` with
//!   plain lane loops elsewhere; for every CPU.
//!
//! A vector token is a proof that the CPU has its features: its constructor
//! `new` is a `#[target_feature]` function, so safe code can only call it
//! from a function compiled with the same features (the kernel entry points
//! of `super`, which `linalg_kernels::isa_dispatch!` enters after run-time
//! detection). Every method is `#[inline(always)]` and free of closures, so
//! that in such a function the intrinsics inline instead of becoming calls
//! compiled without the features.

use super::{LANES, V};

/// `1 / (2k + 1)`, `k = 0 … 9`: the series `atanh t / t = Σ t²ᵏ / (2k + 1)`.
const ATANH_COEFFICIENTS: [f64; 10] = {
    let mut c = [0.0; 10];
    let mut k = 0;
    while k < 10 {
        c[k] = 1.0 / (2 * k + 1) as f64;
        k += 1;
    }
    c
};

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
    /// The register of 8 values held in scalar registers (built in
    /// registers: 8 narrow stores and a wide load would stall on the
    /// store-to-load forwarding they defeat).
    fn set_lanes(self, lanes: V) -> Self::R;
    /// `a + b`.
    fn add(self, a: Self::R, b: Self::R) -> Self::R;
    /// `a − b`.
    fn sub(self, a: Self::R, b: Self::R) -> Self::R;
    /// `a · b`.
    fn mul(self, a: Self::R, b: Self::R) -> Self::R;
    /// `a / b`.
    fn div(self, a: Self::R, b: Self::R) -> Self::R;
    /// `1 / a`.
    #[inline(always)]
    fn div_one(self, a: Self::R) -> Self::R {
        self.div(self.splat(1.0), a)
    }
    /// `a · b + c` (fused where the instruction set has it).
    fn mul_add(self, a: Self::R, b: Self::R, c: Self::R) -> Self::R;
    /// Lane-wise maximum (inputs are never NaN here).
    fn max(self, a: Self::R, b: Self::R) -> Self::R;
    /// Reinterprets each lane's bits as a 64-bit integer, shifts it left by
    /// 52 and reinterprets the result: the low 11 bits `b` become the
    /// exponent field over a zero mantissa, the value `2^(b − 1023)`.
    fn shift_to_exponent(self, a: Self::R) -> Self::R;

    /// `(m, e)` with `x = m · 2ᵉ`, `m ∈ [√½, √2)` and `e` integral, for
    /// normal `x > 0` (finite, not subnormal).
    ///
    /// The default works on the bits: the exponent field `E` gives
    /// `x = f · 2^(E − 1023)` with `f ∈ [1, 2)` (the mantissa under the
    /// exponent of 1); where `f > √2`, `f/2` and `E − 1022` are taken instead.
    #[inline(always)]
    fn split_exponent(self, x: Self::R) -> (Self::R, Self::R) {
        const MANTISSA: u64 = (1 << 52) - 1;
        let mut a = [0.0; LANES];
        self.store(&mut a, x);
        let (mut m, mut e) = ([0.0; LANES], [0.0; LANES]);
        for l in 0..LANES {
            let bits = a[l].to_bits();
            let f = f64::from_bits((bits & MANTISSA) | 1.0f64.to_bits());
            let big = f > std::f64::consts::SQRT_2;
            m[l] = if big { 0.5 * f } else { f };
            e[l] = ((bits >> 52) as i64 - if big { 1022 } else { 1023 }) as f64;
        }
        (self.load(&m), self.load(&e))
    }

    /// `ln x` for normal `x > 0` (finite, not subnormal), without libm.
    ///
    /// With `x = m · 2ᵉ`, `m ∈ [√½, √2)` ([`Simd::split_exponent`]) and
    /// `t = (m − 1)/(m + 1)`, `|t| ≤ 3 − 2√2 < 0.1716`:
    /// `ln m = 2 atanh t = 2 (t + t³/3 + … + t¹⁹/19)`, truncated after
    /// `t¹⁹` (the rest is below `t²¹/21 · 2 < 1e-17 |ln m|`) and evaluated
    /// in Estrin form (pairs of terms, then powers `t⁴`, `t⁸`: a short
    /// dependency chain), and
    /// `ln x = e ln 2 + ln m` with `ln 2 = LN2_HI + LN2_LO`, `e · LN2_HI`
    /// exact. `m − 1` is exact; the quotient and the polynomial add a few
    /// roundings: the error is below `1e-15 · max(1, |ln x|)`, relative
    /// `≤ 1e-15` also near `x = 1` (tested against `f64::ln` from
    /// `1e-300` to `1e300`).
    #[inline(always)]
    fn ln(self, x: Self::R) -> Self::R {
        use linalg_kernels::fastexp::{LN2_HI, LN2_LO};
        let (m, e) = self.split_exponent(x);
        let one = self.splat(1.0);
        let t = self.div(self.sub(m, one), self.add(m, one));
        let t2 = self.mul(t, t);
        let t4 = self.mul(t2, t2);
        let t8 = self.mul(t4, t4);
        let c = ATANH_COEFFICIENTS;
        let q01 = self.mul_add(self.splat(c[1]), t2, self.splat(c[0]));
        let q23 = self.mul_add(self.splat(c[3]), t2, self.splat(c[2]));
        let q45 = self.mul_add(self.splat(c[5]), t2, self.splat(c[4]));
        let q67 = self.mul_add(self.splat(c[7]), t2, self.splat(c[6]));
        let q89 = self.mul_add(self.splat(c[9]), t2, self.splat(c[8]));
        let q03 = self.mul_add(q23, t4, q01);
        let q47 = self.mul_add(q67, t4, q45);
        let q07 = self.mul_add(q47, t8, q03);
        let p = self.mul_add(self.mul(q89, t8), t8, q07);
        let ln_m = self.mul(self.add(t, t), p);
        let lo = self.mul_add(e, self.splat(LN2_LO), ln_m);
        self.mul_add(e, self.splat(LN2_HI), lo)
    }

    /// `eˣ` for lanes `x ≤ 0` (or `−∞`): the exponents of a log-sum-exp once
    /// the row maximum is subtracted. The steps and constants of
    /// [`linalg_kernels::fastexp::exp_non_positive_with`] (relative error
    /// ≤ 1e-13, tested), written with this token's vectors.
    #[inline(always)]
    fn exp(self, x: Self::R) -> Self::R {
        use linalg_kernels::fastexp::{COEFFICIENTS, LN2_HI, LN2_LO, SHIFT, X_MIN};
        use std::f64::consts::LOG2_E;
        let xc = self.max(self.splat(X_MIN), x);
        let t = self.mul_add(xc, self.splat(LOG2_E), self.splat(SHIFT));
        let n = self.sub(t, self.splat(SHIFT));
        let r = self.mul_add(n, self.splat(-LN2_HI), xc);
        let r = self.mul_add(n, self.splat(-LN2_LO), r);
        let r2 = self.mul(r, r);
        let r4 = self.mul(r2, r2);
        let c = COEFFICIENTS;
        let p01 = self.mul_add(self.splat(c[1]), r, self.splat(c[0]));
        let p23 = self.mul_add(self.splat(c[3]), r, self.splat(c[2]));
        let p45 = self.mul_add(self.splat(c[5]), r, self.splat(c[4]));
        let p67 = self.mul_add(self.splat(c[7]), r, self.splat(c[6]));
        let p89 = self.mul_add(self.splat(c[9]), r, self.splat(c[8]));
        let q0 = self.mul_add(p23, r2, p01);
        let q1 = self.mul_add(p67, r2, p45);
        let p = self.mul_add(self.mul_add(p89, r4, q1), r4, q0);
        self.mul(p, self.shift_to_exponent(t))
    }
}

/// `[f(a[i], b[i], …), …]` over the listed registers of a lane group that
/// spans several (the SSE2 and AVX2 tokens): one intrinsic per register,
/// written out, so that it inlines (a closure or an array map would be a
/// call compiled without the token's features).
#[cfg(target_arch = "x86_64")]
macro_rules! per_register {
    ([$($i:literal),*], $f:expr, $a:expr) => {
        [$($f($a[$i])),*]
    };
    ([$($i:literal),*], $f:expr, $a:expr, $b:expr) => {
        [$($f($a[$i], $b[$i])),*]
    };
    ([$($i:literal),*], $f:expr, $a:expr, $b:expr, $c:expr) => {
        [$($f($a[$i], $b[$i], $c[$i])),*]
    };
}

/// One lane array per register: `lanes!(|a, b| a + b)` applies the
/// expression lane by lane.
#[cfg(not(target_arch = "x86_64"))]
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
    #[cfg(not(target_arch = "x86_64"))]
    use super::LANES;
    use super::{Simd, V};
    #[cfg(target_arch = "x86_64")]
    use std::arch::x86_64::*;

    /// The portable token, for every CPU of the target: on x86-64 four
    /// SSE2 registers (`__m128d`; SSE2 is part of every x86-64 CPU), elsewhere
    /// plain loops over `[f64; 8]`, which the compiler vectorises to the
    /// target's baseline (NEON on aarch64). On x86-64 the loops were
    /// vectorised across the kernels' loops instead: with the 8 lanes and
    /// the lane groups unrolled, LLVM vectorised the loop over the features
    /// (pairs of features per register, loaded one value at a time), and
    /// the diagonal E-step ran at 3.15x the AVX2 path's time (AMD Zen 4).
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct Portable;

    /// Whether the portable loops' [`Simd::mul_add`] is fused: on aarch64,
    /// whose every CPU has NEON's fused multiply-add; not on other targets,
    /// whose baseline may have none (`f64::mul_add` would then be a call to
    /// libm).
    #[cfg(not(target_arch = "x86_64"))]
    const FUSED: bool = cfg!(target_arch = "aarch64");

    /// The token of this instruction set.
    pub(crate) type Token = Portable;

    impl Portable {
        /// The token (every CPU can run it).
        #[inline(always)]
        pub(crate) fn new() -> Self {
            Self
        }
    }

    #[cfg(target_arch = "x86_64")]
    type R4 = [__m128d; 4];

    // SAFETY (all methods): SSE2 is part of every x86-64 CPU (the target's
    // baseline features); loads and stores go through references to 8
    // contiguous f64.
    #[cfg(target_arch = "x86_64")]
    impl Simd for Portable {
        type R = R4;
        #[inline(always)]
        fn splat(self, v: f64) -> R4 {
            unsafe { [_mm_set1_pd(v); 4] }
        }
        #[inline(always)]
        fn load(self, a: &V) -> R4 {
            let p = a.as_ptr();
            unsafe {
                [
                    _mm_loadu_pd(p),
                    _mm_loadu_pd(p.add(2)),
                    _mm_loadu_pd(p.add(4)),
                    _mm_loadu_pd(p.add(6)),
                ]
            }
        }
        #[inline(always)]
        fn store(self, a: &mut V, v: R4) {
            let p = a.as_mut_ptr();
            unsafe {
                _mm_storeu_pd(p, v[0]);
                _mm_storeu_pd(p.add(2), v[1]);
                _mm_storeu_pd(p.add(4), v[2]);
                _mm_storeu_pd(p.add(6), v[3]);
            }
        }
        #[inline(always)]
        fn set_lanes(self, l: V) -> R4 {
            unsafe {
                [
                    _mm_setr_pd(l[0], l[1]),
                    _mm_setr_pd(l[2], l[3]),
                    _mm_setr_pd(l[4], l[5]),
                    _mm_setr_pd(l[6], l[7]),
                ]
            }
        }
        #[inline(always)]
        fn add(self, a: R4, b: R4) -> R4 {
            unsafe { per_register!([0, 1, 2, 3], _mm_add_pd, a, b) }
        }
        #[inline(always)]
        fn sub(self, a: R4, b: R4) -> R4 {
            unsafe { per_register!([0, 1, 2, 3], _mm_sub_pd, a, b) }
        }
        #[inline(always)]
        fn mul(self, a: R4, b: R4) -> R4 {
            unsafe { per_register!([0, 1, 2, 3], _mm_mul_pd, a, b) }
        }
        #[inline(always)]
        fn div(self, a: R4, b: R4) -> R4 {
            unsafe { per_register!([0, 1, 2, 3], _mm_div_pd, a, b) }
        }
        /// Not fused: SSE2 has no fused multiply-add.
        #[inline(always)]
        fn mul_add(self, a: R4, b: R4, c: R4) -> R4 {
            self.add(self.mul(a, b), c)
        }
        /// `a > b ? a : b` per lane, as `maxpd` computes it.
        #[inline(always)]
        fn max(self, a: R4, b: R4) -> R4 {
            unsafe { per_register!([0, 1, 2, 3], _mm_max_pd, a, b) }
        }
        #[inline(always)]
        fn shift_to_exponent(self, a: R4) -> R4 {
            #[inline(always)]
            fn shift(v: __m128d) -> __m128d {
                // SAFETY: as the methods'.
                unsafe { _mm_castsi128_pd(_mm_slli_epi64::<52>(_mm_castpd_si128(v))) }
            }
            per_register!([0, 1, 2, 3], shift, a)
        }
    }

    #[cfg(not(target_arch = "x86_64"))]
    impl Simd for Portable {
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
        fn set_lanes(self, lanes: V) -> V {
            lanes
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
        fn div(self, a: V, b: V) -> V {
            lanes!(|a, b| a / b)
        }
        #[inline(always)]
        fn mul_add(self, a: V, b: V, c: V) -> V {
            if FUSED {
                lanes!(|a, b, c| a.mul_add(b, c))
            } else {
                lanes!(|a, b, c| a * b + c)
            }
        }
        #[inline(always)]
        fn max(self, a: V, b: V) -> V {
            lanes!(|a, b| if a > b { a } else { b })
        }
        #[inline(always)]
        fn shift_to_exponent(self, a: V) -> V {
            lanes!(|a| f64::from_bits(a.to_bits() << 52))
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

        /// [`Simd::split_exponent`] on four lanes, as its default does: the
        /// exponent field `E` is turned into a double exactly by placing it in
        /// the mantissa of `2⁵²` (`(2⁵² + E) − (2⁵² + 1023) = E − 1023`).
        #[inline(always)]
        fn split_exponent_quarter(self, x: __m256d) -> (__m256d, __m256d) {
            const TWO52: f64 = 4_503_599_627_370_496.0;
            // SAFETY: the token proves AVX2 (see `new`).
            unsafe {
                let bits = _mm256_castpd_si256(x);
                let mantissa = _mm256_and_si256(bits, _mm256_set1_epi64x((1 << 52) - 1));
                let f = _mm256_castsi256_pd(_mm256_or_si256(
                    mantissa,
                    _mm256_set1_epi64x(0x3ff0_0000_0000_0000),
                ));
                let field = _mm256_or_si256(
                    _mm256_srli_epi64::<52>(bits),
                    _mm256_castpd_si256(_mm256_set1_pd(TWO52)),
                );
                let e = _mm256_sub_pd(_mm256_castsi256_pd(field), _mm256_set1_pd(TWO52 + 1023.0));
                let big = _mm256_cmp_pd::<_CMP_GT_OQ>(f, _mm256_set1_pd(std::f64::consts::SQRT_2));
                let m = _mm256_blendv_pd(f, _mm256_mul_pd(f, _mm256_set1_pd(0.5)), big);
                let e = _mm256_add_pd(e, _mm256_and_pd(big, _mm256_set1_pd(1.0)));
                (m, e)
            }
        }
    }

    type R2 = [__m256d; 2];

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
        fn set_lanes(self, l: V) -> R2 {
            unsafe {
                [
                    _mm256_setr_pd(l[0], l[1], l[2], l[3]),
                    _mm256_setr_pd(l[4], l[5], l[6], l[7]),
                ]
            }
        }
        #[inline(always)]
        fn add(self, a: R2, b: R2) -> R2 {
            unsafe { per_register!([0, 1], _mm256_add_pd, a, b) }
        }
        #[inline(always)]
        fn sub(self, a: R2, b: R2) -> R2 {
            unsafe { per_register!([0, 1], _mm256_sub_pd, a, b) }
        }
        #[inline(always)]
        fn mul(self, a: R2, b: R2) -> R2 {
            unsafe { per_register!([0, 1], _mm256_mul_pd, a, b) }
        }
        #[inline(always)]
        fn div(self, a: R2, b: R2) -> R2 {
            unsafe { per_register!([0, 1], _mm256_div_pd, a, b) }
        }
        #[inline(always)]
        fn mul_add(self, a: R2, b: R2, c: R2) -> R2 {
            unsafe { per_register!([0, 1], _mm256_fmadd_pd, a, b, c) }
        }
        #[inline(always)]
        fn max(self, a: R2, b: R2) -> R2 {
            unsafe { per_register!([0, 1], _mm256_max_pd, a, b) }
        }
        #[inline(always)]
        fn shift_to_exponent(self, a: R2) -> R2 {
            #[inline(always)]
            fn shift(v: __m256d) -> __m256d {
                // SAFETY: as the methods'.
                unsafe { _mm256_castsi256_pd(_mm256_slli_epi64::<52>(_mm256_castpd_si256(v))) }
            }
            per_register!([0, 1], shift, a)
        }
        #[inline(always)]
        fn split_exponent(self, x: R2) -> (R2, R2) {
            let (m0, e0) = self.split_exponent_quarter(x[0]);
            let (m1, e1) = self.split_exponent_quarter(x[1]);
            ([m0, m1], [e0, e1])
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
        fn set_lanes(self, l: V) -> __m512d {
            unsafe { _mm512_setr_pd(l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7]) }
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
        fn div(self, a: __m512d, b: __m512d) -> __m512d {
            unsafe { _mm512_div_pd(a, b) }
        }
        #[inline(always)]
        fn max(self, a: __m512d, b: __m512d) -> __m512d {
            unsafe { _mm512_max_pd(a, b) }
        }
        #[inline(always)]
        fn shift_to_exponent(self, a: __m512d) -> __m512d {
            unsafe { _mm512_castsi512_pd(_mm512_slli_epi64::<52>(_mm512_castpd_si512(a))) }
        }
        /// With getexp / getmant: `x = f · 2ᵉ`, `f ∈ [1, 2)`, halved above `√2`.
        #[inline(always)]
        fn split_exponent(self, x: __m512d) -> (__m512d, __m512d) {
            unsafe {
                let e = _mm512_getexp_pd(x);
                let f = _mm512_getmant_pd::<_MM_MANT_NORM_1_2, _MM_MANT_SIGN_SRC>(x);
                let big = _mm512_cmp_pd_mask::<_CMP_GT_OQ>(f, _mm512_set1_pd(std::f64::consts::SQRT_2));
                let m = _mm512_mask_mul_pd(f, big, f, _mm512_set1_pd(0.5));
                let e = _mm512_mask_add_pd(e, big, e, _mm512_set1_pd(1.0));
                (m, e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Relative error at most 1e-13 against `f64::exp` on `[−708, 0]`
    /// (a grid with steps that are not multiples of `ln 2`, and tiny
    /// magnitudes), absolute error below `1e-300` down to `−745.5` (the
    /// subnormal results), and `e⁻∞ = 0`.
    fn check_exp<S: Simd>(s: S) {
        let grid = (0..2100)
            .map(|i| -745.5 + 0.3551 * i as f64)
            .take_while(|&x| x <= 0.0);
        let tiny = (1..=40).map(|i| -(2f64.powi(-i)));
        let xs: Vec<f64> = grid.chain(tiny).chain([0.0, -0.0]).collect();
        for chunk in xs.chunks(LANES) {
            let mut a = [0.0; LANES];
            a[..chunk.len()].copy_from_slice(chunk);
            let mut out = [0.0; LANES];
            s.store(&mut out, s.exp(s.load(&a)));
            for l in 0..LANES {
                let e = a[l].exp();
                if a[l] > -708.0 {
                    assert!(
                        ((out[l] - e) / e).abs() < 1e-13,
                        "x = {}: {} vs {e}",
                        a[l],
                        out[l]
                    );
                } else {
                    assert!((out[l] - e).abs() < 1e-300, "x = {}: {} vs {e}", a[l], out[l]);
                }
            }
        }
        let mut out = [1.0; LANES];
        s.store(&mut out, s.exp(s.splat(f64::NEG_INFINITY)));
        assert_eq!(out, [0.0; LANES]);
    }

    /// Relative error at most 1e-15 against `f64::ln` on a geometric grid
    /// from 1e-300 to 1e300 (about 20 points per factor 2, mantissas all over
    /// `[1, 2)`), on a fine grid around 1 and at the switch points of the
    /// mantissa range.
    fn check_ln<S: Simd>(s: S) {
        let geometric = (0..40_000)
            .map(|i| 1e-300 * 1.035_140_0_f64.powi(i))
            .take_while(|&x| x < 1e300);
        let near_one = (-2000..=2000).map(|i| 1.0 + i as f64 * 1.37e-4);
        let tiny_offsets = (1..=60).flat_map(|i| [1.0 + 2f64.powi(-i), 1.0 - 2f64.powi(-i)]);
        let sqrt2 = std::f64::consts::SQRT_2;
        let edges = [
            sqrt2,
            sqrt2.next_up(),
            sqrt2.next_down(),
            0.5 * sqrt2,
            f64::MIN_POSITIVE,
            f64::MAX,
            f64::EPSILON,
            1.0,
        ];
        let xs: Vec<f64> = geometric
            .chain(near_one)
            .chain(tiny_offsets)
            .chain(edges)
            .collect();
        for chunk in xs.chunks(LANES) {
            let mut a = [1.0; LANES];
            a[..chunk.len()].copy_from_slice(chunk);
            let mut out = [0.0; LANES];
            s.store(&mut out, s.ln(s.load(&a)));
            for l in 0..LANES {
                let e = a[l].ln();
                assert!(
                    (out[l] - e).abs() <= 1e-15 * e.abs(),
                    "x = {:e}: {} vs {e}",
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
        check_exp(baseline::Portable::new());
        check_ln(baseline::Portable::new());
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
