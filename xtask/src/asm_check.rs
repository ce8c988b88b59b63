//! `cargo xtask asm-check`: the SIMD paths of the release kernels call no
//! intrinsic and no closure out of line, and scatter nothing.
//!
//! A `core::arch` intrinsic is an `#[inline]` function with its own
//! `#[target_feature]`: inlined into a caller compiled with the same
//! features it is one instruction, but a caller compiled without them (a
//! closure or generic helper that did not inherit the features) gets it as
//! an out-of-line function, and every vector operation pays a call and a
//! round trip of its operands through memory. Likewise a closure in an
//! instruction-set module that stays a function of its own is a call per
//! use.
//!
//! The check builds the library of every workspace crate with a
//! `#[target_feature]` kernel (found by reading `crates/*/src`) in release
//! mode, disassembles its rlib with relocations (`objdump -dr --demangle`)
//! and fails when
//! - a function of the crate itself (its path starts with the crate's
//!   library name) calls a `core::arch` intrinsic (a relocation to a path
//!   containing `core_arch::`): third-party generic code monomorphised in
//!   the crate (faer's SIMD layer) is not the crate's kernels, or
//! - a closure (`{{closure}}`) of an instruction-set module or token
//!   (`::avx2::`, `::avx512::`, `Avx2`, `Avx512` in its path) exists out of
//!   line, or
//! - a function of the crate holds an AVX-512 scatter (`vscatter*`,
//!   `vpscatter*`): the auto-vectoriser turns a loop nest over a small
//!   row-major matrix into strided scatters (and gathers) when it vectorises
//!   the wrong loop, which made the HMM's backward pass 2.2x slower on AMD
//!   Zen 4, where a scatter is microcoded. Gathers are allowed: the
//!   transpositions load that way, once per sequence or block.
//!
//! For x86-64 it also fails when a crate shows no function of an `avx2`
//! module at all, so that a change of the symbol names cannot make the check
//! vacuous.
//!
//! With `--target aarch64-unknown-linux-gnu` it checks the cross build
//! (disassembled by `aarch64-linux-gnu-objdump`), where only the baseline
//! kernels exist: besides the rules above, the crates' `baseline` modules
//! must hold NEON's fused multiply-adds (`fmla` on `.2d` vectors, or the
//! scalar `fmadd`; the HMM kernels, whose results are the same bits on
//! every instruction set, have none), and no function of a crate may call
//! libm's `fma`: the
//! baseline fuses on aarch64 (`linalg_kernels::for_each_isa!`), and a fused
//! multiply-add the compiler did not turn into the instruction would be a
//! call per use.

use crate::Failure;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// `cargo xtask asm-check --help`.
pub const HELP: &str = "\
Checks that the release SIMD kernels call no intrinsic and no closure out of line.

usage: cargo xtask asm-check [--target aarch64-unknown-linux-gnu]

Builds (cargo build --release --lib) every workspace crate whose sources use
#[target_feature], disassembles each rlib with `objdump -dr --demangle` and
fails when a function of the crate itself calls a core::arch intrinsic out of
line or holds an AVX-512 scatter instruction, or when a closure of an
avx2/avx512 module or of the Avx2/Avx512 tokens exists out of line. Needs
objdump (GNU binutils) on the PATH.

  --target aarch64-unknown-linux-gnu
            checks the cross build instead (needs the target's standard library,
            `rustup target add aarch64-unknown-linux-gnu`, and Debian's
            binutils-aarch64-linux-gnu): the baseline kernels must hold NEON's fused
            multiply-adds and call no libm `fma`.
";

/// The cross target `--target` accepts.
const AARCH64: &str = "aarch64-unknown-linux-gnu";

/// Entry point of `cargo xtask asm-check`.
pub fn main(args: &[String]) -> Result<(), Failure> {
    let aarch64 = match args {
        [] => false,
        [flag, target] if flag == "--target" && target == AARCH64 => true,
        _ => return Err(format!("usage: cargo xtask asm-check [--target {AARCH64}]").into()),
    };
    let root = crate::workspace_root();
    let packages = simd_packages(&root)?;
    let rlibs = build_rlibs(&packages, aarch64.then_some(AARCH64))?;
    let objdump = if aarch64 {
        "aarch64-linux-gnu-objdump"
    } else {
        "objdump"
    };
    let mut problems = Vec::new();
    let mut fused_total = 0;
    for (package, rlib) in &rlibs {
        let output = std::process::Command::new(objdump)
            .args(["-dr", "--demangle", "--no-show-raw-insn"])
            .arg(rlib)
            .output()
            .map_err(|e| {
                format!(
                    "could not run {objdump} (GNU binutils) on {}: {e}",
                    rlib.display()
                )
            })?;
        if !output.status.success() {
            return Err(format!("{objdump} -d {} failed ({})", rlib.display(), output.status).into());
        }
        let listing = String::from_utf8_lossy(&output.stdout);
        let library = library_name(rlib);
        let found = check_listing(&listing, &library);
        eprintln!(
            "asm-check: {package}: {} functions, {} in avx2 modules, {} out-of-line SIMD calls or scatters",
            found.functions,
            found.avx2_functions,
            found.problems.len()
        );
        problems.extend(found.problems.iter().map(|p| format!("{package}: {p}")));
        if aarch64 {
            let fused = check_fused(&listing, &library);
            eprintln!(
                "asm-check: {package} (aarch64): {} fused multiply-adds in baseline kernels",
                fused.fused
            );
            problems.extend(fused.problems.iter().map(|p| format!("{package}: {p}")));
            fused_total += fused.fused;
        } else if found.avx2_functions == 0 {
            problems.push(format!(
                "{package}: no function of an `avx2` module in {} (renamed? the check would be vacuous)",
                rlib.display()
            ));
        }
    }
    // The HMM kernels fuse nowhere (their results are the same bits on every
    // instruction set), the others wherever the instruction set has FMA.
    if aarch64 && fused_total == 0 {
        problems.push("no fused multiply-add in any baseline kernel (are they fused on aarch64?)".into());
    }
    if problems.is_empty() {
        eprintln!("asm-check: passed ({} crates)", rlibs.len());
        Ok(())
    } else {
        Err(format!(
            "out-of-line, scattering or unfused SIMD code (compile helpers #[inline(always)] and \
             closure-free; order loop nests so that the vectorised loop reads rows):\n  {}",
            problems.join("\n  ")
        )
        .into())
    }
}

/// What [`check_fused`] found in one aarch64 disassembly.
#[derive(Debug, Default, PartialEq)]
pub struct Fused {
    /// Fused multiply-add instructions in the crate's `baseline` modules.
    pub fused: usize,
    /// One line per problem.
    pub problems: Vec<String>,
}

/// Scans an aarch64 `objdump -dr --demangle` listing of the rlib of
/// `library` for fused multiply-adds (`fmla`, `fmls`, `fmadd`, `fmsub`,
/// `fnmadd`, `fnmsub`) in the crate's own functions of a `::baseline::`
/// module, and for calls of libm's `fma` from any of its functions.
pub fn check_fused(listing: &str, library: &str) -> Fused {
    const FUSED: [&str; 6] = ["fmla", "fmls", "fmadd", "fmsub", "fnmadd", "fnmsub"];
    let mut found = Fused::default();
    let mut current: Option<&str> = None;
    for line in listing.lines() {
        if let Some(name) = function_label(line) {
            current = Some(name);
            continue;
        }
        let Some(function) = current.filter(|f| is_own(f, library)) else {
            continue;
        };
        if relocation_target(line).is_some_and(|t| t == "fma") {
            found.problems.push(format!("libm fma called: {function}"));
        } else if function.contains("::baseline::") && instruction(line).is_some_and(|op| FUSED.contains(&op))
        {
            found.fused += 1;
        }
    }
    found.problems.sort();
    found.problems.dedup();
    found
}

/// The mnemonic of an instruction line (`  1c:\tfmla\tv0.2d, v1.2d, v2.2d`).
fn instruction(line: &str) -> Option<&str> {
    let (address, rest) = line.trim_start().split_once(':')?;
    if address.is_empty() || !address.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    rest.split_whitespace().next()
}

/// What [`check_listing`] found in one disassembly.
#[derive(Debug, Default, PartialEq)]
pub struct Listing {
    /// Functions defined.
    pub functions: usize,
    /// Functions with an `::avx2::` path segment.
    pub avx2_functions: usize,
    /// One line per offending function.
    pub problems: Vec<String>,
}

/// The library name of an rlib (`libstatespace.rlib` -> `statespace`).
fn library_name(rlib: &Path) -> String {
    let stem = rlib
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    stem.strip_prefix("lib").unwrap_or(&stem).to_string()
}

/// True when a function's path is the crate's own (`statespace::...`, or
/// `<statespace::... as ...>::...`).
fn is_own(function: &str, library: &str) -> bool {
    let path = function.trim_start_matches('<');
    path.strip_prefix(library)
        .is_some_and(|rest| rest.starts_with("::"))
}

/// Scans an `objdump -dr --demangle` listing of the rlib of `library`: the
/// function labels (`<address> <name>:`) for closures of the
/// instruction-set modules, and the crate's own functions for relocations
/// to intrinsics (calls) and for scatter instructions.
pub fn check_listing(listing: &str, library: &str) -> Listing {
    let mut found = Listing::default();
    let mut current: Option<&str> = None;
    for line in listing.lines() {
        let Some(name) = function_label(line) else {
            if let (Some(function), Some(op)) = (current, instruction(line))
                && (op.starts_with("vscatter") || op.starts_with("vpscatter"))
                && is_own(function, library)
            {
                found.problems.push(format!("scatter ({op}) in {function}"));
            }
            if let (Some(caller), Some(target)) = (current, relocation_target(line))
                && target.contains("core_arch::")
                && is_own(caller, library)
            {
                found
                    .problems
                    .push(format!("intrinsic called out of line: {caller} calls {target}"));
            }
            continue;
        };
        current = Some(name);
        found.functions += 1;
        if name.contains("::avx2::") {
            found.avx2_functions += 1;
        }
        if name.contains("{{closure}}")
            && ["::avx2::", "::avx512::", "Avx2", "Avx512"]
                .iter()
                .any(|isa| name.contains(isa))
        {
            found.problems.push(format!("closure out of line: {name}"));
        }
    }
    found.problems.sort();
    found.problems.dedup();
    found
}

/// The symbol of a relocation line (`  35: R_X86_64_PLT32\tsymbol-0x4`),
/// without its addend.
fn relocation_target(line: &str) -> Option<&str> {
    let (_, rest) = line.trim_start().split_once(": R_")?;
    let (_, symbol) = rest.split_once(char::is_whitespace)?;
    let symbol = symbol.trim();
    Some(symbol.rsplit_once(['-', '+']).map_or(symbol, |(s, _)| s))
}

/// The name of the function a line `0000000000000000 <name>:` starts.
fn function_label(line: &str) -> Option<&str> {
    let (address, rest) = line.split_once(' ')?;
    if address.is_empty() || !address.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    rest.strip_prefix('<')?.strip_suffix(">:")
}

/// The package names of the `crates/*` members whose sources contain
/// `#[target_feature`, sorted.
fn simd_packages(root: &Path) -> Result<Vec<String>, String> {
    let crates = root.join("crates");
    let mut packages = Vec::new();
    let entries = std::fs::read_dir(&crates).map_err(|e| format!("{}: {e}", crates.display()))?;
    for entry in entries {
        let dir = entry.map_err(|e| e.to_string())?.path();
        if !uses_target_feature(&dir.join("src"))? {
            continue;
        }
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml"))
            .map_err(|e| format!("{}: {e}", dir.join("Cargo.toml").display()))?;
        let name = manifest
            .lines()
            .find_map(|l| l.strip_prefix("name = \""))
            .and_then(|l| l.strip_suffix('"'))
            .ok_or_else(|| format!("{}: no package name", dir.display()))?;
        packages.push(name.to_string());
    }
    packages.sort();
    if packages.is_empty() {
        return Err("no crate under crates/ uses #[target_feature]".into());
    }
    Ok(packages)
}

/// True when a `.rs` file under `dir` (recursively) contains `#[target_feature`.
fn uses_target_feature(dir: &Path) -> Result<bool, String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(false);
    };
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        let hit = if path.is_dir() {
            uses_target_feature(&path)?
        } else {
            path.extension().is_some_and(|e| e == "rs")
                && std::fs::read_to_string(&path)
                    .map_err(|e| format!("{}: {e}", path.display()))?
                    .contains("#[target_feature")
        };
        if hit {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Builds the libraries of `packages` in release mode (for `target`, or the
/// host) and returns each package's rlib, from cargo's JSON messages.
fn build_rlibs(packages: &[String], target: Option<&str>) -> Result<Vec<(String, PathBuf)>, String> {
    let mut args = vec![
        "build",
        "--release",
        "--lib",
        "--message-format=json-render-diagnostics",
    ];
    if let Some(target) = target {
        args.extend(["--target", target]);
    }
    for p in packages {
        args.extend(["-p", p.as_str()]);
    }
    eprintln!("$ cargo {}", args.join(" "));
    let output = std::process::Command::new(crate::cargo())
        .args(&args)
        .current_dir(crate::workspace_root())
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("could not start cargo: {e}"))?;
    if !output.status.success() {
        return Err(format!("`cargo {}` failed ({})", args.join(" "), output.status));
    }
    let mut rlibs = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        let Some(name) = message["package_id"].as_str().and_then(package_name) else {
            continue;
        };
        let Some(package) = packages.iter().find(|p| *p == name) else {
            continue;
        };
        let files = message["filenames"].as_array().into_iter().flatten();
        if let Some(rlib) = files.filter_map(Value::as_str).find(|f| f.ends_with(".rlib")) {
            rlibs.push((package.clone(), PathBuf::from(rlib)));
        }
    }
    if rlibs.len() != packages.len() {
        return Err(format!(
            "expected one rlib per package of {packages:?}, cargo reported {rlibs:?}"
        ));
    }
    Ok(rlibs)
}

/// The package name of a cargo package id: `path+file:///…/hmm#emfit-hmm@0.1.0`
/// names it after `#`; `path+file:///…/mixture#0.1.0` (name = folder) before.
fn package_name(id: &str) -> Option<&str> {
    let (url, fragment) = id.split_once('#')?;
    match fragment.split_once('@') {
        Some((name, _)) => Some(name),
        None => url.rsplit('/').next(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A listing in the shape of `objdump -d --demangle` (abridged).
    const LISTING: &str = "\
In archive libmixture.rlib:

mixture-1.o:     file format elf64-x86-64


Disassembly of section .text._ZN7mixture6kernel4avx211estep_chunk:

0000000000000000 <mixture::kernel::avx2::estep_chunk>:
   0:\tpush   %rbp
   1:\tcall   6 <mixture::kernel::avx2::estep_chunk+0x6>

0000000000000000 <mixture::kernel::baseline::estep_chunk>:
   0:\tret
";

    /// An aarch64 listing (abridged): a fused baseline kernel, and a
    /// function calling libm's `fma`.
    const AARCH64_LISTING: &str = "\
0000000000000000 <mixture::kernel::baseline::estep_chunk>:
   0:\tfmul\tv0.2d, v1.2d, v2.2d
   4:\tfmla\tv3.2d, v4.2d, v5.2d
   8:\tfmadd\td0, d1, d2, d3
0000000000000000 <mixture::model::helper>:
   0:\tbl\t0 <fma>
\t\t\t0: R_AARCH64_CALL26\tfma
0000000000000000 <faer::linalg::fmla_user>:
   0:\tfmla\tv3.2d, v4.2d, v5.2d
";

    #[test]
    fn fused_baseline_kernels_are_counted_and_libm_fma_calls_found() {
        let found = check_fused(AARCH64_LISTING, "mixture");
        assert_eq!(found.fused, 2);
        assert_eq!(found.problems, ["libm fma called: mixture::model::helper"]);
    }

    #[test]
    fn baseline_kernels_without_fused_multiply_adds_count_none() {
        let unfused = AARCH64_LISTING.replace("fmla", "fadd").replace("fmadd", "fadd");
        assert_eq!(check_fused(&unfused, "mixture").fused, 0);
    }

    #[test]
    fn a_clean_listing_passes() {
        let found = check_listing(LISTING, "mixture");
        assert_eq!(found.functions, 2);
        assert_eq!(found.avx2_functions, 1);
        assert!(found.problems.is_empty(), "{:?}", found.problems);
    }

    #[test]
    fn an_intrinsic_called_out_of_line_by_the_crate_is_found_and_by_others_not() {
        let listing = format!(
            "{LISTING}\n\
             0000000000000000 <mixture::kernel::avx2::accumulate>:\n\
             \x20  4:\tcall   9 <mixture::kernel::avx2::accumulate+0x9>\n\
             \t\t\t5: R_X86_64_PLT32\tcore::core_arch::x86::avx::_mm256_mul_pd-0x4\n\
             0000000000000000 <pulp::Simd::not_f64s>:\n\
             \t\t\t35: R_X86_64_PLT32\tcore::core_arch::x86::avx2::_mm256_xor_si256-0x4\n\
             0000000000000000 <core::core_arch::x86::avx::_mm256_mul_pd>:\n\
             \x20  0:\tvmulpd %ymm1,%ymm0,%ymm0\n"
        );
        let found = check_listing(&listing, "mixture");
        assert_eq!(
            found.problems,
            [
                "intrinsic called out of line: mixture::kernel::avx2::accumulate calls \
                 core::core_arch::x86::avx::_mm256_mul_pd"
            ]
        );
    }

    #[test]
    fn closures_of_simd_paths_are_found_and_others_are_not() {
        let listing = format!(
            "{LISTING}\n\
             0000000000000000 <<mixture::kernel::simd::avx2::Avx2 as mixture::kernel::simd::Simd>::scale2::{{{{closure}}}}>:\n\
             0000000000000000 <statespace::univariate::avx512::condition::{{{{closure}}}}>:\n\
             0000000000000000 <mixture::model::GaussianMixture::fit::{{{{closure}}}}>:\n"
        );
        let found = check_listing(&listing, "mixture");
        assert_eq!(found.problems.len(), 2, "{:?}", found.problems);
        assert!(found.problems[0].contains("Avx2 as"), "{:?}", found.problems);
        assert!(
            found.problems[1].contains("avx512::condition"),
            "{:?}",
            found.problems
        );
    }

    #[test]
    fn scatters_of_the_crate_are_found_and_gathers_are_not() {
        let listing = format!(
            "{LISTING}\n\
             0000000000000000 <hmm::inference::avx512::backward>:\n\
             \x20  0:\tvgatherqpd 0x0(,%zmm9,1),%zmm24{{%k1}}\n\
             \x20  b:\tvscatterqpd %zmm18,0x0(,%zmm9,1){{%k1}}\n\
             0000000000000000 <faer::linalg::scatter_user>:\n\
             \x20  0:\tvscatterqpd %zmm18,0x0(,%zmm9,1){{%k1}}\n"
        );
        assert_eq!(
            check_listing(&listing, "hmm").problems,
            ["scatter (vscatterqpd) in hmm::inference::avx512::backward"]
        );
    }

    #[test]
    fn only_labels_count_as_functions() {
        assert_eq!(function_label("0000000000000010 <a::b>:"), Some("a::b"));
        assert_eq!(function_label("  10:\tcall   6 <a::b+0x6>"), None);
        assert_eq!(function_label("Disassembly of section .text.x:"), None);
    }

    #[test]
    fn package_ids_name_their_package() {
        assert_eq!(
            package_name("path+file:///w/crates/hmm#emfit-hmm@0.1.0"),
            Some("emfit-hmm")
        );
        assert_eq!(
            package_name("path+file:///w/crates/mixture#0.1.0"),
            Some("mixture")
        );
        assert_eq!(package_name("registry+https://x/index#faer@0.24.4"), Some("faer"));
    }

    #[test]
    fn every_kernel_crate_is_covered() {
        let packages = simd_packages(&crate::workspace_root()).unwrap();
        for p in ["emfit-hmm", "emfit-statespace", "linalg-kernels", "mixture"] {
            assert!(packages.iter().any(|q| q == p), "{p} missing from {packages:?}");
        }
    }
}
