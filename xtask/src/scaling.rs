//! `cargo xtask scaling`: time per EM iteration against problem size, one
//! thread, written into the README (table) and `docs/scaling.svg` (plot).

use crate::Failure;

/// `cargo xtask scaling --help`.
pub const HELP: &str = "\
Times one EM iteration against problem size for each model family, on one
thread (RAYON_NUM_THREADS=1), release build, with `emfit-compare scaling`; then
replaces the README's scaling section (<!-- scaling:start --> ... <!-- scaling:end -->)
and writes docs/scaling.svg.

usage: cargo xtask scaling
";

/// Entry point of `cargo xtask scaling`.
pub fn main(args: &[String]) -> Result<(), Failure> {
    crate::no_arguments(args)?;
    Ok(run()?)
}

/// Builds and runs `emfit-compare scaling`, then updates the README.
fn run() -> Result<(), String> {
    let root = crate::workspace_root();
    let binary = crate::build_compare_binary()?;
    let out = root.join("target/compare/scaling");
    crate::run_command(
        &binary.to_string_lossy(),
        &["scaling", &out.to_string_lossy()],
        &[("RAYON_NUM_THREADS", "1")],
    )?;
    let table = std::fs::read_to_string(out.join("scaling.md")).map_err(|e| format!("scaling.md: {e}"))?;
    let docs = root.join("docs");
    std::fs::create_dir_all(&docs).map_err(|e| format!("{}: {e}", docs.display()))?;
    std::fs::copy(out.join("scaling.svg"), docs.join("scaling.svg"))
        .map_err(|e| format!("scaling.svg: {e}"))?;
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let section = format!(
        "One thread (`RAYON_NUM_THREADS=1`), release build, measured {date} by `cargo xtask scaling` \
         (median of 3 iterations per point). Plot: [docs/scaling.svg](docs/scaling.svg) \
         (log10 seconds against log10 size).\n\n{table}"
    );
    crate::replace_readme_section("scaling", &section)?;
    println!("README.md scaling section and docs/scaling.svg updated.");
    Ok(())
}
