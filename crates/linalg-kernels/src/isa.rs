//! Which vector instruction set the hand-vectorised loops run with.
//!
//! The SIMD kernels of the workspace (the padded products of [`crate::padded`],
//! the mixture and HMM E-steps, the state-space recursions) are compiled for
//! AVX-512, for AVX2 with FMA, and for the baseline target; [`Isa::detect`]
//! picks the widest one the CPU supports, once per process, so every crate
//! makes the same choice. [`for_each_isa!`](crate::for_each_isa) compiles a kernel module once per
//! set and [`isa_dispatch!`](crate::isa_dispatch) calls the detected one, so the target features
//! and the detection live here only.

use std::sync::OnceLock;

/// An instruction set the SIMD kernels are compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// AVX-512 F, VL and DQ, with AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    Avx512,
    /// AVX2 with FMA.
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// The compilation target's baseline (SSE2 on x86-64).
    Baseline,
}

impl Isa {
    /// The widest instruction set this CPU supports (detected on the first
    /// call, then cached).
    #[must_use]
    pub fn detect() -> Self {
        static ISA: OnceLock<Isa> = OnceLock::new();
        *ISA.get_or_init(|| {
            #[cfg(target_arch = "x86_64")]
            {
                use std::arch::is_x86_feature_detected as has;
                let avx2 = has!("avx2") && has!("fma");
                if avx2 && has!("avx512f") && has!("avx512vl") && has!("avx512dq") {
                    return Isa::Avx512;
                }
                if avx2 {
                    return Isa::Avx2;
                }
            }
            Isa::Baseline
        })
    }

    /// True when AVX2 and FMA may be used (AVX-512 machines included).
    #[must_use]
    pub fn has_avx2(self) -> bool {
        self != Isa::Baseline
    }

    /// True when the AVX-512 kernels may be used.
    #[must_use]
    pub fn has_avx512(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            self == Isa::Avx512
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }
}

/// Expands `$kernels!(name, fma, "features")` once per instruction set:
/// `avx512` and `avx2` (x86-64 only, with the target features that
/// [`Isa::detect`] checks: AVX-512 with VL and DQ, so that 128- and 256-bit
/// operations get their AVX-512 forms too) and `baseline`. `$kernels` is the caller's
/// macro that defines a module `name` of the same loops compiled with
/// `#[target_feature(enable = features)]` (none for `baseline`), `fma`
/// telling them whether to fuse multiply-adds. [`isa_dispatch!`](crate::isa_dispatch) then
/// calls into the module of the detected set.
#[macro_export]
macro_rules! for_each_isa {
    ($kernels:ident) => {
        #[cfg(target_arch = "x86_64")]
        $kernels!(avx512, true, "avx512f,avx512vl,avx512dq,avx2,fma");
        #[cfg(target_arch = "x86_64")]
        $kernels!(avx2, true, "avx2,fma");
        $kernels!(baseline, false);
    };
}

/// `isa_dispatch!(f(a, b))` calls `f` of the module ([`for_each_isa!`](crate::for_each_isa)) of
/// the instruction set [`Isa::detect`] picked. The arguments are names of
/// local values: nothing the caller writes runs inside the `unsafe` calls.
#[macro_export]
macro_rules! isa_dispatch {
    ($f:ident($($arg:ident),* $(,)?)) => {
        match $crate::isa::Isa::detect() {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the CPU supports AVX-512F, VL, DQ, AVX2 and FMA (checked by `Isa::detect`).
            $crate::isa::Isa::Avx512 => unsafe { avx512::$f($($arg),*) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the CPU supports AVX2 and FMA (checked by `Isa::detect`).
            $crate::isa::Isa::Avx2 => unsafe { avx2::$f($($arg),*) },
            $crate::isa::Isa::Baseline => baseline::$f($($arg),*),
        }
    };
}

/// Clears the upper halves of the vector registers (`vzeroupper`) when the
/// CPU has AVX.
///
/// faer's large matrix products (m·n·k > 4096, its AVX-512 kernel) leave them
/// dirty, after which glibc's scalar `exp`/`ln` ran up to 20x slower
/// (measured: 15 to 356 ns a call); call this after such a product when
/// scalar libm calls follow.
pub fn clear_upper_registers() {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: the CPU supports AVX (checked just above).
            unsafe { zeroupper() }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
fn zeroupper() {
    std::arch::x86_64::_mm256_zeroupper();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_is_stable_and_consistent() {
        let isa = Isa::detect();
        assert_eq!(isa, Isa::detect());
        assert!(!isa.has_avx512() || isa.has_avx2());
    }

    #[test]
    fn clearing_the_upper_registers_keeps_values() {
        let x = std::hint::black_box(0.5f64);
        clear_upper_registers();
        assert_eq!(x.exp(), 0.5f64.exp());
    }
}
