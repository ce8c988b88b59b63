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
use crate::harness::{self, Peers};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
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
    let peers = Peers::prepare()?;
    let work = peers.work.to_string_lossy().into_owned();
    let cores = harness::cores();

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
            let peer = match peer_results.entry((pair.peer, threads)) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => e.insert(measure(&mut peers.peer(&[pair.peer], threads))?),
            };
            let ours = measure(&mut peers.emfit(&["run", &work, pair.ours], threads))?;
            let row = render_row(pair, threads, peer, &ours);
            println!("{row}");
            rows.push(row);
        }
    }
    let section = render_section(&rows, &peers, cores);
    crate::replace_readme_section("compare", &section)?;
    println!("\nREADME.md benchmark section updated.");
    Ok(())
}

/// Runs one side in a fresh process and reads its JSON line.
fn measure(command: &mut Command) -> Result<Measurement, String> {
    let v = harness::run_json(command)?;
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
        harness::seconds(peer.per_iteration()),
        harness::seconds(ours.per_iteration()),
        peer.peak_rss_mb,
        ours.peak_rss_mb,
    )
}

fn render_section(rows: &[String], peers: &Peers, cores: usize) -> String {
    let cpu = harness::cpu_model();
    let rustc = harness::command_output("rustc", &["--version"]);
    let versions = peers.python_versions();
    let date = harness::now_utc();
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
    s
}
