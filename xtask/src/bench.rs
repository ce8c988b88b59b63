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

Results are read back from target/criterion/**/new/estimates.json. The table
starts with the CPU model, its widest instruction set and EMFIT_ISA's cap (set
it to measure a narrower path: EMFIT_ISA=avx2 cargo xtask bench mixture); the
GFLOP/s column is the bench's floating-point operation count (criterion
throughput, from emfit_benches::flops, in benchmark.json) over its mean.
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
    rows.sort_by(|a, b| natural_cmp(&a.name, &b.name));
    println!(
        "\n{}",
        machine_line(std::env::var(crate::harness::ISA_VARIABLE).ok().as_deref())
    );
    println!(
        "{:<60} {:>14} {:>24} {:>9}",
        "benchmark", "mean", "95% interval", "GFLOP/s"
    );
    for row in rows {
        let in_target = groups.is_empty() || groups.iter().any(|g| row.name.starts_with(g));
        if in_target && filter.is_none_or(|f| row.name.contains(f)) {
            println!(
                "{:<60} {:>14} {:>24} {:>9}",
                row.name,
                human(row.mean),
                format!("{} .. {}", human(row.low), human(row.high)),
                row.flops
                    .map_or(String::new(), |f| format!("{:.2}", gflops(f, row.mean)))
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

fn collect(root: &Path, dir: &Path, rows: &mut Vec<Row>) {
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

/// One bench's result.
struct Row {
    /// Its criterion id (path under `target/criterion`).
    name: String,
    /// Mean and 95% interval, in nanoseconds.
    mean: f64,
    low: f64,
    high: f64,
    /// Floating-point operations per iteration, when the bench declares them
    /// (`Throughput::Elements` of `emfit_benches::flops`, in `benchmark.json`).
    flops: Option<f64>,
}

fn read_estimate(root: &Path, new_dir: &Path) -> Option<Row> {
    let text = std::fs::read_to_string(new_dir.join("estimates.json")).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    let mean = &v["mean"];
    let name = new_dir
        .parent()?
        .strip_prefix(root)
        .ok()?
        .to_string_lossy()
        .into_owned();
    let flops = std::fs::read_to_string(new_dir.join("benchmark.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|b| b["throughput"]["Elements"].as_f64());
    Some(Row {
        name,
        mean: mean["point_estimate"].as_f64()?,
        low: mean["confidence_interval"]["lower_bound"].as_f64()?,
        high: mean["confidence_interval"]["upper_bound"].as_f64()?,
        flops,
    })
}

/// `flops` per `ns` nanoseconds in GFLOP/s (`10⁹` per second: one per ns).
fn gflops(flops: f64, ns: f64) -> f64 {
    flops / ns
}

/// The CPU and the instruction set the kernels ran with: the widest the
/// CPU has, or the one `EMFIT_ISA` caps them to (`cap`).
fn machine_line(cap: Option<&str>) -> String {
    let cap = cap.map(str::trim).filter(|c| !c.is_empty());
    let kernels = match cap {
        Some(c) if crate::harness::ISA_NAMES.contains(&c.to_ascii_lowercase().as_str()) => {
            format!("kernels capped with {}={c}", crate::harness::ISA_VARIABLE)
        }
        Some(c) => format!("{}={c:?} names no set: ignored", crate::harness::ISA_VARIABLE),
        None => "kernels: the widest set".into(),
    };
    format!(
        "CPU: {} ({}; {kernels})",
        crate::harness::cpu_model(),
        crate::harness::cpu_isa()
    )
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
    fn a_row_reads_the_mean_and_the_flop_count() {
        let root = std::env::temp_dir().join(format!("xtask-bench-{}", std::process::id()));
        let new_dir = root.join("gmm_em_iteration/diag/n8/new");
        std::fs::create_dir_all(&new_dir).unwrap();
        let interval = r#""confidence_interval":{"lower_bound":1.5e6,"upper_bound":2.5e6}"#;
        std::fs::write(
            new_dir.join("estimates.json"),
            format!(r#"{{"mean":{{"point_estimate":2e6,{interval}}}}}"#),
        )
        .unwrap();
        let row = read_estimate(&root, &new_dir).unwrap();
        assert_eq!(
            (row.name.as_str(), row.mean, row.low, row.high),
            ("gmm_em_iteration/diag/n8", 2e6, 1.5e6, 2.5e6)
        );
        assert_eq!(row.flops, None);
        std::fs::write(
            new_dir.join("benchmark.json"),
            r#"{"throughput":{"Elements":30000000}}"#,
        )
        .unwrap();
        let row = read_estimate(&root, &new_dir).unwrap();
        assert_eq!(row.flops, Some(3e7));
        // 3e7 flops in 2 ms: 15 GFLOP/s.
        assert_eq!(gflops(row.flops.unwrap(), row.mean), 15.0);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn the_machine_line_names_the_cap() {
        assert!(machine_line(Some("avx2")).contains("capped with EMFIT_ISA=avx2"));
        assert!(machine_line(Some("sse9")).contains("ignored"));
        assert!(machine_line(None).contains("the widest set"));
        assert!(machine_line(Some(" ")).contains("the widest set"));
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
