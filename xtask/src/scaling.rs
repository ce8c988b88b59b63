//! `cargo xtask scaling`: time per EM iteration against problem size, one
//! thread, written into the README (table) and `docs/scaling.svg` (plot).

/// Builds and runs `emfit-compare scaling`, then updates the README.
pub fn run() -> Result<(), String> {
    let root = crate::workspace_root();
    crate::run_command(
        "cargo",
        &[
            "build",
            "--release",
            "-p",
            "emfit-benches",
            "--bin",
            "emfit-compare",
        ],
        &[],
    )?;
    let out = root.join("target/compare/scaling");
    let binary = root.join("target/release/emfit-compare");
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
