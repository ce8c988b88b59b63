//! Which vector instruction set the hand-vectorised loops run with.
//!
//! The SIMD kernels of the workspace (the padded products of [`crate::padded`],
//! the mixture and HMM E-steps, the state-space recursions) are compiled for
//! AVX-512, for AVX2 with FMA, and for the baseline target; [`Isa::detect`]
//! picks the widest one the CPU supports, once per process, so every crate
//! makes the same choice. [`for_each_isa!`](crate::for_each_isa) compiles a kernel module once per
//! set and [`isa_dispatch!`](crate::isa_dispatch) calls the detected one, so the target features
//! and the detection live here only.
//!
//! # Forcing a narrower set
//! The environment variable [`ISA_VARIABLE`] (`EMFIT_ISA`), read once per
//! process, caps the set: `avx512`, `avx2` or `baseline`. It is honoured
//! only downward: the kernels run with the widest set the CPU supports that
//! is not wider than the one asked for, so `EMFIT_ISA=avx2` measures the
//! AVX2 path on an AVX-512 machine and means nothing worse than the
//! baseline on an ARM one. Any other value is ignored by the kernels
//! ([`Isa::requested`] reports it, for programs that want to refuse it).

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

/// The environment variable that caps the instruction set ([`Isa::detect`]).
pub const ISA_VARIABLE: &str = "EMFIT_ISA";

/// An instruction set the SIMD kernels are compiled for, ordered from the
/// narrowest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isa {
    /// The compilation target's baseline (SSE2 on x86-64; NEON with fused
    /// multiply-add on aarch64).
    Baseline,
    /// AVX2 with FMA.
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// AVX-512 F, VL and DQ, with AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

/// A value of [`ISA_VARIABLE`] that names no instruction set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownIsa(pub String);

impl fmt::Display for UnknownIsa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{ISA_VARIABLE}={:?} names no instruction set (use avx512, avx2 or baseline)",
            self.0
        )
    }
}

impl std::error::Error for UnknownIsa {}

/// A requested cap: the width of each name, whatever this architecture has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct IsaCap(u8);

impl FromStr for IsaCap {
    type Err = UnknownIsa;

    fn from_str(name: &str) -> Result<Self, UnknownIsa> {
        match name.trim().to_ascii_lowercase().as_str() {
            "baseline" => Ok(Self(0)),
            "avx2" => Ok(Self(1)),
            "avx512" => Ok(Self(2)),
            _ => Err(UnknownIsa(name.to_string())),
        }
    }
}

impl Isa {
    /// The instruction set the kernels run with: the widest this CPU
    /// supports, capped by [`ISA_VARIABLE`] when it names a set (detected
    /// on the first call, then cached).
    #[must_use]
    pub fn detect() -> Self {
        static ISA: OnceLock<Isa> = OnceLock::new();
        *ISA.get_or_init(|| match Self::requested() {
            Ok(Some(cap)) => Self::widest_within(cap),
            _ => Self::supported(),
        })
    }

    /// The widest instruction set this CPU supports, whatever
    /// [`ISA_VARIABLE`] says.
    #[must_use]
    pub fn supported() -> Self {
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

    /// Every instruction set this CPU supports, the baseline first: the
    /// sets the kernels' tests compare (whatever [`ISA_VARIABLE`] says).
    #[must_use]
    pub fn available() -> Vec<Self> {
        Self::ALL
            .into_iter()
            .filter(|&isa| isa <= Self::supported())
            .collect()
    }

    /// The cap [`ISA_VARIABLE`] asks for: `None` when it is unset or empty.
    ///
    /// # Errors
    /// [`UnknownIsa`] when it names no instruction set.
    pub fn requested() -> Result<Option<IsaCap>, UnknownIsa> {
        match std::env::var(ISA_VARIABLE) {
            Ok(value) if !value.trim().is_empty() => value.parse().map(Some),
            _ => Ok(None),
        }
    }

    /// The name [`ISA_VARIABLE`] takes for this set.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Isa::Baseline => "baseline",
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => "avx2",
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => "avx512",
        }
    }

    /// Every set compiled for this architecture, the narrowest first.
    const ALL: [Isa; Self::COMPILED] = [
        Isa::Baseline,
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2,
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512,
    ];
    #[cfg(target_arch = "x86_64")]
    const COMPILED: usize = 3;
    #[cfg(not(target_arch = "x86_64"))]
    const COMPILED: usize = 1;

    /// The widest supported set whose name is within `cap`.
    fn widest_within(cap: IsaCap) -> Self {
        Self::available()
            .into_iter()
            .filter(|isa| isa.name().parse::<IsaCap>().is_ok_and(|width| width <= cap))
            .max()
            .unwrap_or(Isa::Baseline)
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

impl fmt::Display for Isa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `a · b + c`: one fused multiply-add (one rounding) with `FUSED`, the
/// `fma` choice of [`for_each_isa!`](crate::for_each_isa), else a multiply
/// and an add (two roundings): the multiply-add of every multiversioned
/// kernel of the workspace (padded products, state-space updates, the HMM
/// recursions, [`crate::fastexp::exp_non_positive_with`]), so that the
/// builds with and without FMA share one source. Without FMA in the target,
/// `FUSED = true` is a call to libm's correctly rounded `fma`: the same
/// value, slowly (tests use it to reproduce the fused kernels' bits).
///
/// # Examples
/// ```
/// use linalg_kernels::isa::mul_add;
/// let (a, b, c) = (0.1, 10.0, -1.0);
/// assert_eq!(mul_add::<false>(a, b, c), 0.0);
/// assert_eq!(mul_add::<true>(a, b, c), 5.551115123125783e-17);
/// ```
#[inline(always)]
#[must_use]
pub fn mul_add<const FUSED: bool>(a: f64, b: f64, c: f64) -> f64 {
    if FUSED { a.mul_add(b, c) } else { a * b + c }
}

/// Expands `$kernels!(name, fma, "features")` once per instruction set:
/// `avx512` and `avx2` (x86-64 only, with the target features that
/// [`Isa::detect`] checks: AVX-512 with VL and DQ, so that 128- and 256-bit
/// operations get their AVX-512 forms too) and `baseline`. `$kernels` is the caller's
/// macro that defines a module `name` of the same loops compiled with
/// `#[target_feature(enable = features)]` (none for `baseline`), `fma`
/// telling them whether to fuse multiply-adds (also for `baseline` on
/// aarch64, where FMA is part of the architecture). [`isa_dispatch!`](crate::isa_dispatch) then
/// calls into the module of the detected set.
#[macro_export]
macro_rules! for_each_isa {
    ($kernels:ident) => {
        #[cfg(target_arch = "x86_64")]
        $kernels!(avx512, true, "avx512f,avx512vl,avx512dq,avx2,fma");
        #[cfg(target_arch = "x86_64")]
        $kernels!(avx2, true, "avx2,fma");
        // Every aarch64 CPU has NEON with fused multiply-add (FMLA): the
        // baseline fuses there, and its 2-lane loops are vectorised to NEON.
        #[cfg(target_arch = "aarch64")]
        $kernels!(baseline, true);
        #[cfg(not(target_arch = "aarch64"))]
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
        assert!(isa <= Isa::supported());
        assert_eq!(Isa::available()[0], Isa::Baseline);
        assert_eq!(Isa::available().last(), Some(&Isa::supported()));
    }

    #[test]
    fn a_cap_is_honoured_only_downward() {
        for isa in Isa::available() {
            let cap = isa.name().parse().unwrap();
            assert_eq!(Isa::widest_within(cap), isa, "{isa}");
        }
        // Asking for more than the CPU has gives what it has.
        assert_eq!(Isa::widest_within("avx512".parse().unwrap()), Isa::supported());
        assert_eq!(Isa::widest_within("baseline".parse().unwrap()), Isa::Baseline);
        assert_eq!(" AVX2 ".parse::<IsaCap>(), "avx2".parse::<IsaCap>());
        let unknown = "sse9".parse::<IsaCap>().unwrap_err();
        assert!(unknown.to_string().contains("EMFIT_ISA=\"sse9\""), "{unknown}");
    }

    #[test]
    fn clearing_the_upper_registers_keeps_values() {
        let x = std::hint::black_box(0.5f64);
        clear_upper_registers();
        assert_eq!(x.exp(), 0.5f64.exp());
    }
}
