//! `cargo xtask asm-check`: the SIMD paths of the release kernels call no
//! intrinsic and no closure out of line.
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
//!   line.
//!
//! On x86-64 it also fails when a crate shows no function of an `avx2`
//! module at all, so that a change of the symbol names cannot make the check
//! vacuous.

use crate::Failure;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// `cargo xtask asm-check --help`.
pub const HELP: &str = "\
Checks that the release SIMD kernels call no intrinsic and no closure out of line.

usage: cargo xtask asm-check

Builds (cargo build --release --lib) every workspace crate whose sources use
#[target_feature], disassembles each rlib with `objdump -dr --demangle` and
fails when a function of the crate itself calls a core::arch intrinsic out of
line, or when a closure of an avx2/avx512 module or of the Avx2/Avx512 tokens
exists out of line. Needs objdump (GNU binutils) on the PATH.
";

/// Entry point of `cargo xtask asm-check`.
pub fn main(args: &[String]) -> Result<(), Failure> {
    crate::no_arguments(args)?;
    let root = crate::workspace_root();
    let packages = simd_packages(&root)?;
    let rlibs = build_rlibs(&packages)?;
    let mut problems = Vec::new();
    for (package, rlib) in &rlibs {
        let output = std::process::Command::new("objdump")
            .args(["-dr", "--demangle", "--no-show-raw-insn"])
            .arg(rlib)
            .output()
            .map_err(|e| format!("could not run objdump (GNU binutils) on {}: {e}", rlib.display()))?;
        if !output.status.success() {
            return Err(format!("objdump -d {} failed ({})", rlib.display(), output.status).into());
        }
        let listing = String::from_utf8_lossy(&output.stdout);
        let found = check_listing(&listing, &library_name(rlib));
        eprintln!(
            "asm-check: {package}: {} functions, {} in avx2 modules, {} out-of-line SIMD calls",
            found.functions,
            found.avx2_functions,
            found.problems.len()
        );
        // Only x86-64 builds have the AVX2 modules (`linalg_kernels::for_each_isa!`).
        if cfg!(target_arch = "x86_64") && found.avx2_functions == 0 {
            problems.push(format!(
                "{package}: no function of an `avx2` module in {} (renamed? the check would be vacuous)",
                rlib.display()
            ));
        }
        problems.extend(found.problems.iter().map(|p| format!("{package}: {p}")));
    }
    if problems.is_empty() {
        eprintln!("asm-check: passed ({} crates)", rlibs.len());
        Ok(())
    } else {
        Err(format!(
            "out-of-line SIMD code (compile helpers #[inline(always)] and closure-free):\n  {}",
            problems.join("\n  ")
        )
        .into())
    }
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
/// instruction-set modules, and the relocations inside the crate's own
/// functions for calls of intrinsics.
pub fn check_listing(listing: &str, library: &str) -> Listing {
    let mut found = Listing::default();
    let mut current: Option<&str> = None;
    for line in listing.lines() {
        let Some(name) = function_label(line) else {
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

/// Builds the libraries of `packages` in release mode and returns each
/// package's rlib, from cargo's JSON messages.
fn build_rlibs(packages: &[String]) -> Result<Vec<(String, PathBuf)>, String> {
    let mut args = vec![
        "build",
        "--release",
        "--lib",
        "--message-format=json-render-diagnostics",
    ];
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
