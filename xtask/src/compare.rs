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
    /// The instruction set emfit's kernels ran with (`unknown` for a peer).
    isa: String,
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

usage: cargo xtask compare [FILTER] [--isa avx512|avx2|baseline]

  FILTER    only the workloads whose peer or emfit name contains it (gmm, hmm, lgssm, ...);
            the table is printed, the README is left alone
  --isa SET caps the instruction set of emfit's kernels (EMFIT_ISA, honoured only
            downward: the AVX2 path can be measured on an AVX-512 machine); the table
            goes to the README section <!-- compare-SET:start --> ... <!-- compare-SET:end -->

Needs python3 with venv and pip: the pinned peers of xtask/compare/requirements.txt
are installed into target/compare/venv. The whole run takes about 10 minutes.
";

/// What `cargo xtask compare` was asked for.
#[derive(Debug, Default, PartialEq)]
struct Options {
    /// Only the workloads whose names contain it (and the README is left alone).
    filter: Option<String>,
    /// The cap of emfit's instruction set (`--isa`).
    isa: Option<String>,
}

fn parse_args(args: &[String]) -> Result<Options, Failure> {
    let mut options = Options::default();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--isa" => {
                let v = args
                    .next()
                    .ok_or_else(|| Failure::Usage("--isa needs a value".into()))?;
                if !harness::ISA_NAMES.contains(&v.as_str()) {
                    return Err(Failure::Usage(format!(
                        "--isa {v}: one of {}",
                        harness::ISA_NAMES.join(", ")
                    )));
                }
                options.isa = Some(v.clone());
            }
            other => crate::filter_argument(other, &mut options.filter)?,
        }
    }
    Ok(options)
}

/// Entry point of `cargo xtask compare`.
pub fn main(args: &[String]) -> Result<(), Failure> {
    let options = parse_args(args)?;
    Ok(run(&options)?)
}

/// Runs the comparison (of the workloads the filter selects).
fn run(options: &Options) -> Result<(), String> {
    let only = options.filter.as_deref();
    let mut peers = Peers::prepare()?;
    peers.isa.clone_from(&options.isa);
    let work = peers.work.to_string_lossy().into_owned();
    let cores = harness::cores();

    let mut rows = Vec::new();
    // A peer workload paired with two emfit variants is timed once per thread count.
    let mut peer_results: HashMap<(&str, usize), Measurement> = HashMap::new();
    // The instruction set emfit's kernels ran with, as its first run reported.
    let mut ran: Option<String> = None;
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
            ran.get_or_insert_with(|| ours.isa.clone());
            let row = render_row(pair, threads, peer, &ours);
            println!("{row}");
            rows.push(row);
        }
    }
    let kernels = harness::kernels_note(ran.as_deref().unwrap_or("unknown"), options.isa.as_deref());
    let section = render_section(&rows, &peers, cores, &kernels);
    println!("\n{section}");
    if only.is_none() {
        let name = match &options.isa {
            Some(isa) => format!("compare-{isa}"),
            None => "compare".to_string(),
        };
        crate::replace_readme_section(&name, &section)?;
        println!("README.md section {name} updated.");
    }
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
        isa: v["isa"].as_str().unwrap_or("unknown").to_string(),
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

fn render_section(rows: &[String], peers: &Peers, cores: usize, kernels: &str) -> String {
    let cpu = harness::cpu_model();
    let rustc = harness::command_output("rustc", &["--version"]);
    let versions = peers.python_versions();
    let date = harness::now_utc();
    let mut s = String::new();
    s.push_str(&format!(
        "Measured {date} on {cpu} ({cores} cores), {kernels}, {rustc}; {versions}.\n\
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, Failure> {
        parse_args(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn options_are_parsed() {
        assert_eq!(parse(&[]), Ok(Options::default()));
        assert_eq!(
            parse(&["gmm", "--isa", "avx2"]),
            Ok(Options {
                filter: Some("gmm".into()),
                isa: Some("avx2".into()),
            })
        );
        for bad in [&["--isa"][..], &["--isa", "sse9"], &["--fast"], &["a", "b"]] {
            assert!(matches!(parse(bad), Err(Failure::Usage(_))), "{bad:?}");
        }
    }

    #[test]
    fn the_kernels_note_says_what_ran_and_why() {
        assert_eq!(
            harness::kernels_note("avx512", None),
            "AVX-512 kernels (the widest this CPU has)"
        );
        let forced = harness::kernels_note("avx2", Some("avx2"));
        assert!(
            forced.starts_with("AVX2 kernels (forced with EMFIT_ISA=avx2; the CPU has "),
            "{forced}"
        );
    }
}
