//! `cargo xtask bench [TARGET | FILTER]`: runs the criterion benches and prints
//! a table. A bench target name runs that file: `kernels` is the bench of
//! `linalg-kernels` (it builds without the model crates or the program);
//! `mixture`, `hmm` and `statespace` are those of `emfit-benches`. Anything
//! else is passed to criterion as a name filter for the `emfit-benches`
//! benches; nothing runs every bench of both crates.
//!
//! The table is read back from criterion's `target/criterion/**/new/estimates.json`
//! (mean and its 95% confidence interval), so it shows exactly what was
//! measured; rows are in natural order (sizes 1, 2, 4, 8, 21, 64, not 1, 2, 21, 4, 64, 8).

use crate::Failure;
use serde_json::Value;
use std::cmp::Ordering;
use std::path::{Path, PathBuf};

/// `cargo xtask bench --help`.
pub const HELP: &str = "\
Runs criterion benches, then prints a table of the results (mean, 95% interval).

usage: cargo xtask bench [TARGET | FILTER]

  (nothing)     every bench: linalg-kernels, then emfit-benches
  kernels       cargo bench -p linalg-kernels --bench kernels
  mixture       cargo bench -p emfit-benches --bench mixture (likewise hmm, statespace)
  FILTER        cargo bench -p emfit-benches -- FILTER (a criterion name filter)

Results are read back from target/criterion/**/new/estimates.json.
";

/// The bench targets and their packages.
const TARGETS: [(&str, &str); 4] = [
    ("kernels", "linalg-kernels"),
    ("mixture", "emfit-benches"),
    ("hmm", "emfit-benches"),
    ("statespace", "emfit-benches"),
];

/// Entry point of `cargo xtask bench`.
pub fn main(args: &[String]) -> Result<(), Failure> {
    let selection = crate::optional_positional(args)?;
    let target = selection.and_then(|s| TARGETS.iter().find(|(t, _)| *t == s));
    let filter = selection.filter(|_| target.is_none());
    match (target, filter) {
        (Some((name, package)), _) => {
            crate::run_command("cargo", &["bench", "-p", package, "--bench", name], &[])?;
        }
        (None, Some(f)) => crate::run_command("cargo", &["bench", "-p", "emfit-benches", "--", f], &[])?,
        (None, None) => {
            crate::run_command(
                "cargo",
                &["bench", "-p", "linalg-kernels", "--bench", "kernels"],
                &[],
            )?;
            crate::run_command("cargo", &["bench", "-p", "emfit-benches"], &[])?;
        }
    }
    let root = crate::workspace_root().join("target").join("criterion");
    let mut rows = Vec::new();
    collect(&root, &root, &mut rows);
    let groups = target.map(|(name, _)| target_groups(name)).unwrap_or_default();
    rows.sort_by(|a, b| natural_cmp(&a.0, &b.0));
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

/// Compares names such as `cholesky/kernels/21` so that runs of digits
/// compare as numbers: `.../8` before `.../21`, `k2` before `k10`.
fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a, b);
    loop {
        match (a.chars().next(), b.chars().next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let (da, ra) = a.split_at(a.find(|c: char| !c.is_ascii_digit()).unwrap_or(a.len()));
                let (db, rb) = b.split_at(b.find(|c: char| !c.is_ascii_digit()).unwrap_or(b.len()));
                let (ta, tb) = (da.trim_start_matches('0'), db.trim_start_matches('0'));
                let order = ta
                    .len()
                    .cmp(&tb.len())
                    .then_with(|| ta.cmp(tb))
                    .then_with(|| da.cmp(db));
                if order != Ordering::Equal {
                    return order;
                }
                (a, b) = (ra, rb);
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(&y);
                }
                (a, b) = (&a[x.len_utf8()..], &b[y.len_utf8()..]);
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_sort_as_numbers() {
        let mut names: Vec<String> = [64, 21, 8, 4, 2, 1]
            .iter()
            .flat_map(|d| [format!("cholesky/kernels/{d}"), format!("cholesky/faer/{d}")])
            .collect();
        names.push("row_log_sum_exp_n200000/k/8".into());
        names.push("row_log_sum_exp_n200000/k/2".into());
        names.sort_by(|a, b| natural_cmp(a, b));
        let sizes: Vec<&str> = names.iter().map(|n| n.rsplit('/').next().unwrap()).collect();
        assert_eq!(
            sizes,
            [
                "1", "2", "4", "8", "21", "64", "1", "2", "4", "8", "21", "64", "2", "8"
            ]
        );
        assert!(names[0].starts_with("cholesky/faer/") && names[6].starts_with("cholesky/kernels/"));
    }

    #[test]
    fn natural_order_details() {
        assert_eq!(natural_cmp("k2", "k10"), Ordering::Less);
        assert_eq!(natural_cmp("a/007", "a/7"), Ordering::Less);
        assert_eq!(natural_cmp("a/7", "a/7"), Ordering::Equal);
        assert_eq!(natural_cmp("a", "a/1"), Ordering::Less);
        assert_eq!(natural_cmp("b/1", "a/2"), Ordering::Greater);
        assert_eq!(natural_cmp("n200000/2", "n30000/2"), Ordering::Greater);
    }
}
