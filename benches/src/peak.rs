//! The multiply-add peak of one core on an instruction set, measured, so
//! that `cargo xtask compare` can print how far each emfit figure is from
//! the time its flop count ([`crate::flops`]) allows.
//!
//! The loop keeps `CHAINS` (12) independent vector registers and updates each
//! with `a·x + y` per round: no memory traffic and no dependency stalls
//! (each chain waits one multiply-add latency, 4 cycles on current x86-64
//! cores, while the other chains issue), so it runs at the throughput of
//! the multiply-add units: `2 · lanes · units` flops per cycle. As in the
//! kernels (`linalg_kernels::for_each_isa!`), the multiply-add is fused
//! where the instruction set has FMA (AVX2, AVX-512, NEON) and a separate
//! multiply and add in the x86-64 baseline (SSE2).

use linalg_kernels::isa::Isa;
use std::hint::black_box;
use std::time::Instant;

/// Independent accumulators: enough to cover the latency of two
/// multiply-add units (4 cycles x 2 units = 8) with room to spare, few
/// enough to stay in the 16 vector registers of AVX2 with `W = 4`.
const CHAINS: usize = 12;

/// Rounds of one run of the loop: about 10⁹ flops on AVX2, a fraction of a
/// second.
const ROUNDS: usize = 10_000_000;

// Each function runs `ROUNDS` rounds of `acc = acc·x + y` over `CHAINS`
// registers of its instruction set, written with its intrinsics (the
// auto-vectoriser keeps such loops scalar), and returns the lanes' sum so
// that nothing is optimised away.

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn avx512(x: f64, y: f64) -> f64 {
    use std::arch::x86_64::{__m512d, _mm512_fmadd_pd, _mm512_set1_pd};
    let (xv, yv) = (_mm512_set1_pd(x), _mm512_set1_pd(y));
    let mut acc: [__m512d; CHAINS] = [_mm512_set1_pd(1.0); CHAINS];
    for _ in 0..ROUNDS {
        for a in &mut acc {
            *a = _mm512_fmadd_pd(*a, xv, yv);
        }
    }
    // SAFETY: a __m512d is 8 f64.
    let lanes: [[f64; 8]; CHAINS] = unsafe { std::mem::transmute(acc) };
    lanes.iter().flatten().sum()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn avx2(x: f64, y: f64) -> f64 {
    use std::arch::x86_64::{__m256d, _mm256_fmadd_pd, _mm256_set1_pd};
    let (xv, yv) = (_mm256_set1_pd(x), _mm256_set1_pd(y));
    let mut acc: [__m256d; CHAINS] = [_mm256_set1_pd(1.0); CHAINS];
    for _ in 0..ROUNDS {
        for a in &mut acc {
            *a = _mm256_fmadd_pd(*a, xv, yv);
        }
    }
    // SAFETY: a __m256d is 4 f64.
    let lanes: [[f64; 4]; CHAINS] = unsafe { std::mem::transmute(acc) };
    lanes.iter().flatten().sum()
}

/// SSE2 (part of x86-64): a separate multiply and add.
#[cfg(target_arch = "x86_64")]
fn baseline(x: f64, y: f64) -> f64 {
    use std::arch::x86_64::{__m128d, _mm_add_pd, _mm_mul_pd, _mm_set1_pd};
    // SAFETY (the intrinsics): SSE2 is part of x86-64.
    let (xv, yv) = unsafe { (_mm_set1_pd(x), _mm_set1_pd(y)) };
    let mut acc: [__m128d; CHAINS] = [unsafe { _mm_set1_pd(1.0) }; CHAINS];
    for _ in 0..ROUNDS {
        for a in &mut acc {
            *a = unsafe { _mm_add_pd(_mm_mul_pd(*a, xv), yv) };
        }
    }
    // SAFETY: a __m128d is 2 f64.
    let lanes: [[f64; 2]; CHAINS] = unsafe { std::mem::transmute(acc) };
    lanes.iter().flatten().sum()
}

/// NEON (part of aarch64): the fused multiply-add.
#[cfg(target_arch = "aarch64")]
fn baseline(x: f64, y: f64) -> f64 {
    use std::arch::aarch64::{float64x2_t, vdupq_n_f64, vfmaq_f64};
    // SAFETY (the intrinsics): NEON is part of aarch64.
    let (xv, yv) = unsafe { (vdupq_n_f64(x), vdupq_n_f64(y)) };
    let mut acc: [float64x2_t; CHAINS] = [unsafe { vdupq_n_f64(1.0) }; CHAINS];
    for _ in 0..ROUNDS {
        for a in &mut acc {
            *a = unsafe { vfmaq_f64(yv, *a, xv) };
        }
    }
    // SAFETY: a float64x2_t is 2 f64.
    let lanes: [[f64; 2]; CHAINS] = unsafe { std::mem::transmute(acc) };
    lanes.iter().flatten().sum()
}

/// Timed repetitions of the loop; the fastest counts (the peak is what the
/// core does when nothing else runs on it).
const REPETITIONS: usize = 15;

/// The instruction set the kernels run with ([`Isa::detect`], which
/// `EMFIT_ISA` caps) and the measured multiply-add rate of one core on it
/// (GFLOP/s, a multiply-add counting 2 flops, a separate multiply and add 2):
/// the fastest of `REPETITIONS` (15) runs of the loop.
#[must_use]
pub fn gflops() -> (Isa, f64) {
    let isa = Isa::detect();
    // x < 1 and y > 0 keep the accumulators bounded (they tend to y/(1−x)).
    let (x, y) = (black_box(0.999_999), black_box(1e-6));
    let mut best = f64::INFINITY;
    for _ in 0..REPETITIONS {
        let start = Instant::now();
        let sum = match isa {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Isa::detect` picks only a set the CPU supports.
            Isa::Avx512 => unsafe { avx512(x, y) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            Isa::Avx2 => unsafe { avx2(x, y) },
            Isa::Baseline => baseline(x, y),
        };
        best = best.min(start.elapsed().as_secs_f64());
        black_box(sum);
    }
    (isa, (2 * ROUNDS * CHAINS * isa_lanes(isa)) as f64 / best / 1e9)
}

/// f64 lanes of one register of the loop of `isa`.
fn isa_lanes(isa: Isa) -> usize {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => 8,
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => 4,
        Isa::Baseline => 2,
    }
}
