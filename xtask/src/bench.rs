//! `cargo xtask bench [TARGET | FILTER]`: runs the criterion benches and prints
//! a table. A bench target name (`kernels`, `mixture`, `hmm`, `statespace`)
//! runs that file; anything else is passed to criterion as a name filter.
//!
//! The table is read back from criterion's `target/criterion/**/new/estimates.json`
//! (mean and its 95% confidence interval), so it shows exactly what was measured.

use serde_json::Value;
use std::path::{Path, PathBuf};

/// The bench files of the `emfit-benches` crate.
const TARGETS: [&str; 4] = ["kernels", "mixture", "hmm", "statespace"];

/// Runs `cargo bench -p emfit-benches [--bench TARGET | -- FILTER]` and prints the results.
pub fn run(selection: Option<&str>) -> Result<(), String> {
    let mut args = vec!["bench", "-p", "emfit-benches"];
    let target = selection.filter(|s| TARGETS.contains(s));
    let filter = selection.filter(|s| !TARGETS.contains(s));
    if let Some(t) = target {
        args.extend(["--bench", t]);
    }
    if let Some(f) = filter {
        args.extend(["--", f]);
    }
    crate::run_command("cargo", &args, &[])?;
    let root = crate::workspace_root().join("target").join("criterion");
    let mut rows = Vec::new();
    collect(&root, &root, &mut rows);
    let groups = target.map(target_groups).unwrap_or_default();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    println!("\n{:<60} {:>14} {:>24}", "benchmark", "mean", "95% interval");
    for (name, mean, low, high) in rows {
        let in_target = groups.is_empty() || groups.iter().any(|g| name.starts_with(g));
        if in_target && filter.is_none_or(|f| name.contains(f)) {
            println!(
                "{name:<60} {:>14} {:>24}",
                human(mean),
                format!("{} .. {}", human(low), human(high))
            );
        }
    }
    Ok(())
}

/// The criterion group names each bench file defines.
fn target_groups(target: &str) -> Vec<&'static str> {
    match target {
        "kernels" => vec![
            "cholesky",
            "solve_d_rhs",
            "gaussian_log_density",
            "row_log_sum_exp",
        ],
        "mixture" => vec!["gmm_em_iteration"],
        "hmm" => vec!["gaussian_hmm"],
        "statespace" => vec!["lgssm"],
        _ => Vec::new(),
    }
}

fn collect(root: &Path, dir: &Path, rows: &mut Vec<(String, f64, f64, f64)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path: PathBuf = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "new") {
                if let Some(row) = read_estimate(root, &path) {
                    rows.push(row);
                }
            } else if path.file_name().is_none_or(|n| n != "base" && n != "report") {
                collect(root, &path, rows);
            }
        }
    }
}

fn read_estimate(root: &Path, new_dir: &Path) -> Option<(String, f64, f64, f64)> {
    let text = std::fs::read_to_string(new_dir.join("estimates.json")).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    let mean = &v["mean"];
    let name = new_dir
        .parent()?
        .strip_prefix(root)
        .ok()?
        .to_string_lossy()
        .into_owned();
    Some((
        name,
        mean["point_estimate"].as_f64()?,
        mean["confidence_interval"]["lower_bound"].as_f64()?,
        mean["confidence_interval"]["upper_bound"].as_f64()?,
    ))
}

/// Nanoseconds as a readable duration.
fn human(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.3} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.3} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.3} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}
