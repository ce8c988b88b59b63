//! `cargo xtask compare`: emfit against the Python libraries people use today,
//! on the same data, from the same initial parameters, in the same run.
//!
//! Steps: build the release `emfit-compare` binary (benches crate); create a
//! virtual environment under `target/compare/venv` with the pinned peers of
//! `xtask/compare/requirements.txt`; let `emfit-compare generate` write the
//! workloads (seeded) as `.npy` files; then, for every workload and thread
//! count, time the peer (`xtask/compare/peers.py`, a fresh process each) and
//! emfit (`emfit-compare run`, a fresh process each). Each side reports
//! seconds, iterations, the log-likelihood it reached and its peak memory.
//! The table goes to stdout and replaces the README's benchmark section.

use crate::Failure;
use serde_json::Value;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One row of the comparison: a peer workload and the emfit workload timed against it.
struct Pair {
    peer: &'static str,
    peer_library: &'static str,
    ours: &'static str,
    what: &'static str,
    /// Relative tolerance on the log-likelihoods (None: nothing to compare).
    tolerance: Option<f64>,
    /// Time it with all cores too (the slow pykalman EM runs once, single-threaded).
    multi_thread: bool,
}

const fn pair(
    peer: &'static str,
    peer_library: &'static str,
    ours: &'static str,
    what: &'static str,
    tolerance: Option<f64>,
    multi_thread: bool,
) -> Pair {
    Pair {
        peer,
        peer_library,
        ours,
        what,
        tolerance,
        multi_thread,
    }
}

const PAIRS: [Pair; 14] = [
    pair(
        "gmm_full",
        "scikit-learn",
        "gmm_full",
        "GMM full, N=200k d=8 K=8, per EM iteration",
        Some(1e-6),
        true,
    ),
    pair(
        "gmm_diag",
        "scikit-learn",
        "gmm_diag",
        "GMM diagonal, N=200k d=8 K=8, per EM iteration",
        Some(1e-6),
        true,
    ),
    pair(
        "hmm_fit",
        "hmmlearn",
        "hmm_fit",
        "Gaussian HMM full, K=8 d=4 200x500, per Baum-Welch iteration",
        Some(1e-6),
        true,
    ),
    pair(
        "hmm_viterbi",
        "hmmlearn",
        "hmm_viterbi",
        "Viterbi, all 200 sequences",
        Some(1e-9),
        true,
    ),
    pair(
        "gmmhmm_fit",
        "hmmlearn",
        "gmmhmm_fit",
        "scenario 1 GMM-HMM fit to tol 1e-10, per iteration",
        Some(1e-3),
        true,
    ),
    pair(
        "lgssm_filter_numpy",
        "NumPy loop",
        "lgssm_filter",
        "Kalman filter, T=44,484 n=21",
        Some(1e-9),
        true,
    ),
    pair(
        "lgssm_filter_numpy_loglik",
        "NumPy loop, log-likelihood only",
        "lgssm_filter",
        "Kalman filter, T=44,484 n=21",
        Some(1e-9),
        false,
    ),
    pair(
        "lgssm_filter_numpy",
        "NumPy loop",
        "lgssm_filter_dense_a",
        "Kalman filter, emfit with every entry of A non-zero (a different model: no log-likelihood to compare), T=44,484 n=21",
        None,
        false,
    ),
    pair(
        "lgssm_filter_numpy",
        "NumPy loop",
        "lgssm_filter_steady",
        "Kalman filter, emfit steady-state option, T=44,484 n=21",
        Some(1e-9),
        true,
    ),
    pair(
        "lgssm_filter_pykalman",
        "pykalman",
        "lgssm_filter",
        "Kalman filter, T=44,484 n=21",
        Some(1e-9),
        false,
    ),
    pair(
        "lgssm_smoother_pykalman",
        "pykalman",
        "lgssm_smoother",
        "filter + RTS smoother, T=44,484 n=21",
        None,
        false,
    ),
    pair(
        "lgssm_smoother_pykalman",
        "pykalman",
        "lgssm_smoother_steady",
        "filter + RTS smoother, emfit steady-state option, T=44,484 n=21",
        None,
        false,
    ),
    pair(
        "lgssm_em_pykalman",
        "pykalman",
        "lgssm_em",
        "one EM iteration for (A, Q), T=44,484 n=21",
        Some(1e-6),
        false,
    ),
    pair(
        "lgssm_em_pykalman",
        "pykalman",
        "lgssm_em_steady",
        "one EM iteration for (A, Q), emfit steady-state option, T=44,484 n=21",
        Some(1e-6),
        false,
    ),
];

/// What one side measured.
struct Measurement {
    seconds: f64,
    iterations: f64,
    loglik: Option<f64>,
    peak_rss_mb: f64,
}

impl Measurement {
    fn per_iteration(&self) -> f64 {
        self.seconds / self.iterations.max(1.0)
    }
}

/// `cargo xtask compare --help`.
pub const HELP: &str = "\
Times emfit against scikit-learn, hmmlearn and pykalman on the same workloads,
from the same initial parameters, each side in a fresh process, and replaces
the README's benchmark section (<!-- compare:start --> ... <!-- compare:end -->).

usage: cargo xtask compare [FILTER]

  FILTER    only the workloads whose peer or emfit name contains it (gmm, hmm, lgssm, ...)

Needs python3 with venv and pip: the pinned peers of xtask/compare/requirements.txt
are installed into target/compare/venv. The whole run takes about 10 minutes.
";

/// Entry point of `cargo xtask compare`.
pub fn main(args: &[String]) -> Result<(), Failure> {
    let only = crate::optional_positional(args)?;
    Ok(run(only)?)
}

/// Runs the whole comparison. `only` restricts it to workloads whose names contain the filter.
fn run(only: Option<&str>) -> Result<(), String> {
    let root = crate::workspace_root();
    let binary = crate::build_compare_binary()?;
    let python = ensure_venv(&root)?;
    let work = root.join("target/compare/work");
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let work_str = work.to_string_lossy().into_owned();
    crate::run_command(&binary.to_string_lossy(), &["generate", &work_str], &[])?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let peers_script = root.join("xtask/compare/peers.py");

    let mut rows = Vec::new();
    // A peer workload paired with two emfit variants is timed once per thread count.
    let mut peer_results: HashMap<(&str, usize), Measurement> = HashMap::new();
    for pair in PAIRS
        .iter()
        .filter(|p| only.is_none_or(|f| p.peer.contains(f) || p.ours.contains(f)))
    {
        let thread_counts: Vec<usize> = if pair.multi_thread && cores > 1 {
            vec![1, cores]
        } else {
            vec![1]
        };
        for threads in thread_counts {
            let env = thread_env(threads);
            let peer = match peer_results.entry((pair.peer, threads)) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => e.insert(measure(
                    Command::new(&python)
                        .arg(&peers_script)
                        .args([&work_str, pair.peer])
                        .envs(env.clone()),
                )?),
            };
            let ours = measure(
                Command::new(&binary)
                    .args(["run", &work_str, pair.ours])
                    .envs(env),
            )?;
            let row = render_row(pair, threads, peer, &ours);
            println!("{row}");
            rows.push(row);
        }
    }
    let section = render_section(&rows, &python, cores)?;
    crate::replace_readme_section("compare", &section)?;
    println!("\nREADME.md benchmark section updated.");
    Ok(())
}

fn thread_env(threads: usize) -> Vec<(String, String)> {
    let t = threads.to_string();
    [
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "RAYON_NUM_THREADS",
    ]
    .iter()
    .map(|k| (k.to_string(), t.clone()))
    .collect()
}

fn ensure_venv(root: &Path) -> Result<PathBuf, String> {
    let venv = root.join("target/compare/venv");
    let python = venv.join("bin/python");
    let stamp = venv.join("requirements.installed");
    let requirements = root.join("xtask/compare/requirements.txt");
    let wanted =
        std::fs::read_to_string(&requirements).map_err(|e| format!("{}: {e}", requirements.display()))?;
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        return Ok(python);
    }
    crate::run_command("python3", &["-m", "venv", &venv.to_string_lossy()], &[])?;
    crate::run_command(
        &python.to_string_lossy(),
        &[
            "-m",
            "pip",
            "install",
            "-q",
            "-r",
            &requirements.to_string_lossy(),
        ],
        &[],
    )?;
    std::fs::write(&stamp, wanted).map_err(|e| format!("{}: {e}", stamp.display()))?;
    Ok(python)
}

/// Runs one side in a fresh process (OpenBLAS core-type overrides removed, as
/// they slow a current NumPy) and parses its JSON line.
fn measure(command: &mut Command) -> Result<Measurement, String> {
    let output = command
        .env_remove("OPENBLAS_CORETYPE")
        .env_remove("OPENBLAS_L2_SIZE")
        .current_dir(crate::workspace_root())
        .output()
        .map_err(|e| format!("could not start {command:?}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{command:?} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .ok_or("no JSON line in output")?;
    let v: Value = serde_json::from_str(line).map_err(|e| format!("{line}: {e}"))?;
    Ok(Measurement {
        seconds: v["seconds"].as_f64().ok_or("missing seconds")?,
        iterations: v["iterations"].as_f64().unwrap_or(1.0),
        loglik: v["loglik"].as_f64(),
        peak_rss_mb: v["peak_rss_mb"].as_f64().unwrap_or(f64::NAN),
    })
}

fn render_row(pair: &Pair, threads: usize, peer: &Measurement, ours: &Measurement) -> String {
    let ratio = peer.per_iteration() / ours.per_iteration();
    let agreement = match (pair.tolerance, peer.loglik, ours.loglik) {
        (Some(tol), Some(a), Some(b)) => {
            let rel = (a - b).abs() / a.abs().max(1.0);
            let verdict = if rel <= tol {
                "agree"
            } else if b > a {
                "emfit higher"
            } else {
                "DIFFER"
            };
            format!("{a:.6e} / {b:.6e} (rel {rel:.1e}, tol {tol:.0e}: {verdict})")
        }
        _ => "-".to_string(),
    };
    format!(
        "| {} | {} | {threads} | {} | {} | **{ratio:.1}x** | {:.0} / {:.0} | {agreement} |",
        pair.what,
        pair.peer_library,
        seconds(peer.per_iteration()),
        seconds(ours.per_iteration()),
        peer.peak_rss_mb,
        ours.peak_rss_mb,
    )
}

fn seconds(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.2} s")
    } else {
        format!("{:.2} ms", s * 1e3)
    }
}

fn render_section(rows: &[String], python: &Path, cores: usize) -> Result<String, String> {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let rustc = command_output("rustc", &["--version"]);
    let versions = command_output(
        &python.to_string_lossy(),
        &[
            "-c",
            "import numpy, scipy, sklearn, hmmlearn, pykalman, sys; print(f'Python {sys.version.split()[0]}, numpy {numpy.__version__}, scipy {scipy.__version__}, scikit-learn {sklearn.__version__}, hmmlearn {hmmlearn.__version__}, pykalman {pykalman.__version__}')",
        ],
    );
    let date = command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let mut s = String::new();
    s.push_str(&format!(
        "Measured {date} on {cpu} ({cores} cores), {rustc}; {versions}.\n\
         Threads: 1, and {cores} (all cores) where marked; OMP/OPENBLAS/MKL/RAYON_NUM_THREADS set to that number for both sides,\n\
         OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset. Each side runs in a fresh process; times are medians of 3 runs\n\
         (one run when it takes over 10 s). Both sides start from the same initial parameters and data.\n\
         Reproduce with `cargo xtask compare` (needs python3 with venv and pip; about 10 minutes).\n\n\
         | workload | peer | threads | peer time / iter | emfit time / iter | speed-up | peak MiB peer / emfit | log-likelihood peer / emfit |\n\
         |---|---|---|---|---|---|---|---|\n"
    ));
    for row in rows {
        s.push_str(row);
        s.push('\n');
    }
    Ok(s)
}

fn command_output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| format!("{program}: unavailable"))
}
