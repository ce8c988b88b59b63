//! Run-time selection of the instruction set for the hot loops.
//!
//! The loops are plain Rust written so that the compiler can vectorise them;
//! [`multiversion`] compiles them for AVX-512, AVX2 and the baseline target
//! and picks one at run time. Results do not depend on the choice: Rust never
//! reassociates floating-point sums or contracts `a * b + c` into a fused
//! multiply-add, so every variant performs the same roundings.

/// Instruction sets the recursions are compiled for, chosen once at run time
/// (the same choice as every other SIMD kernel of the workspace).
pub(crate) use linalg_kernels::isa::Isa;

pub(crate) fn isa() -> Isa {
    Isa::detect()
}

/// Defines `$name(args) -> ret` calling the `#[inline(always)]` `$body` compiled
/// three times: for AVX-512, for AVX2 and for the baseline target, picked at
/// run time. The code is the same plain Rust; wider vectors only change
/// speed, never results (no reassociation, no fused multiply-add: Rust never
/// contracts `a * b + c`).
macro_rules! multiversion {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) = $body:ident;) => {
        $crate::simd::multiversion! {
            $(#[$meta])* $vis fn $name($($arg: $ty),*) -> () = $body;
        }
    };
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty = $body:ident;) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
                unsafe fn avx512($($arg: $ty),*) -> $ret {
                    $body($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($arg: $ty),*) -> $ret {
                    $body($($arg),*)
                }
                match $crate::simd::isa() {
                    // SAFETY: `isa()` detected these features on this CPU.
                    $crate::simd::Isa::Avx512 => return unsafe { avx512($($arg),*) },
                    // SAFETY: as above.
                    $crate::simd::Isa::Avx2 => return unsafe { avx2($($arg),*) },
                    $crate::simd::Isa::Baseline => {}
                }
            }
            $body($($arg),*)
        }
    };
}

pub(crate) use multiversion;
