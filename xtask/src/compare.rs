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
//!
//! The Python section: emfit's Python package is built into the same virtual
//! environment (`maturin develop --release`), and for the workloads whose
//! peer has a drop-in class in emfit (the [`Pair::python`] rows) the peer's
//! single-threaded process runs the same workload function again with
//! emfit's classes (`peers.py ... --emfit`). Beside the peer's time and the
//! emfit-compare time of the same run, that gives the cost of the Python
//! layer over the Rust time and the speed-up a Python user sees; it replaces
//! the README section `compare-python`.

use crate::Failure;
use crate::harness::{self, Peers};
use serde_json::Value;
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
    /// A row of the Python section too: emfit's drop-in class for the peer
    /// runs the peer's workload in the peer's process, against this emfit
    /// workload in Rust, which computes what the Python call returns (`ours`,
    /// or more where the Python method returns more: every covariance of
    /// pykalman's `filter`, the evaluation of the fitted model of `em`).
    python: Option<&'static str>,
}

const fn pair(
    peer: &'static str,
    peer_library: &'static str,
    ours: &'static str,
    what: &'static str,
    tolerance: Option<f64>,
    multi_thread: bool,
    python: Option<&'static str>,
) -> Pair {
    Pair {
        peer,
        peer_library,
        ours,
        what,
        tolerance,
        multi_thread,
        python,
    }
}

const PAIRS: [Pair; 17] = [
    pair(
        "gmm_full",
        "scikit-learn",
        "gmm_full",
        "GMM full, N=200k d=8 K=8, per EM iteration",
        Some(1e-6),
        true,
        Some("gmm_full"),
    ),
    pair(
        "gmm_diag",
        "scikit-learn",
        "gmm_diag",
        "GMM diagonal, N=200k d=8 K=8, per EM iteration",
        Some(1e-6),
        true,
        Some("gmm_diag"),
    ),
    pair(
        "bgmm_full",
        "scikit-learn",
        "bgmm_full",
        "Variational Bayesian GMM full (Dirichlet process), N=50k d=8 K=8, per iteration (lower bound)",
        Some(1e-8),
        false,
        Some("bgmm_full"),
    ),
    pair(
        "hmm_fit",
        "hmmlearn",
        "hmm_fit",
        "Gaussian HMM full, K=8 d=4 200x500, per Baum-Welch iteration",
        Some(1e-6),
        true,
        Some("hmm_fit"),
    ),
    pair(
        "hmm_viterbi",
        "hmmlearn",
        "hmm_viterbi",
        "Viterbi, all 200 sequences",
        Some(1e-9),
        true,
        Some("hmm_viterbi"),
    ),
    pair(
        "gmmhmm_fit",
        "hmmlearn",
        "gmmhmm_fit",
        "scenario 1 GMM-HMM fit to tol 1e-10, per iteration",
        Some(1e-3),
        true,
        Some("gmmhmm_fit"),
    ),
    pair(
        "lgssm_filter_numpy",
        "NumPy loop",
        "lgssm_filter",
        "Kalman filter, T=44,484 n=21",
        Some(1e-9),
        true,
        None,
    ),
    pair(
        "lgssm_filter_numpy_loglik",
        "NumPy loop, log-likelihood only",
        "lgssm_filter",
        "Kalman filter, T=44,484 n=21",
        Some(1e-9),
        false,
        None,
    ),
    pair(
        "lgssm_filter_numpy",
        "NumPy loop",
        "lgssm_filter_dense_a",
        "Kalman filter, emfit with every entry of A non-zero (a different model: no log-likelihood to compare), T=44,484 n=21",
        None,
        false,
        None,
    ),
    pair(
        "lgssm_filter_numpy",
        "NumPy loop",
        "lgssm_filter_steady",
        "Kalman filter, emfit steady-state option, T=44,484 n=21",
        Some(1e-9),
        true,
        None,
    ),
    pair(
        "lgssm_filter_pykalman",
        "pykalman",
        "lgssm_filter",
        "Kalman filter, T=44,484 n=21",
        Some(1e-9),
        false,
        Some("lgssm_filter_covs"),
    ),
    pair(
        "lgssm_filter_offsets_pykalman",
        "pykalman",
        "lgssm_filter_offsets",
        "Kalman filter with transition and observation offsets, T=44,484 n=21",
        Some(1e-9),
        false,
        None,
    ),
    pair(
        "lgssm_filter_timevarying_pykalman",
        "pykalman",
        "lgssm_filter_timevarying",
        "Kalman filter with offsets and time-varying A_t, Q_t, H_t, R_t, T=5,000 n=21",
        Some(1e-9),
        false,
        None,
    ),
    pair(
        "lgssm_smoother_pykalman",
        "pykalman",
        "lgssm_smoother",
        "filter + RTS smoother, T=44,484 n=21",
        None,
        false,
        Some("lgssm_smoother_covs"),
    ),
    pair(
        "lgssm_smoother_pykalman",
        "pykalman",
        "lgssm_smoother_steady",
        "filter + RTS smoother, emfit steady-state option, T=44,484 n=21",
        None,
        false,
        None,
    ),
    pair(
        "lgssm_em_pykalman",
        "pykalman",
        "lgssm_em",
        "one EM iteration for (A, Q), T=44,484 n=21",
        Some(1e-6),
        false,
        Some("lgssm_em_fit"),
    ),
    pair(
        "lgssm_em_pykalman",
        "pykalman",
        "lgssm_em_steady",
        "one EM iteration for (A, Q), emfit steady-state option, T=44,484 n=21",
        Some(1e-6),
        false,
        None,
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
    /// The flops of the timed work per iteration (emfit's side, where counted).
    gflop: Option<f64>,
}

impl Measurement {
    fn per_iteration(&self) -> f64 {
        self.seconds / self.iterations.max(1.0)
    }
}

/// What one run of `peers.py` measured: the peer, and emfit's drop-in
/// classes on the same workload in the same process when asked (`--emfit`).
struct PeerRun {
    peer: Measurement,
    emfit_python: Option<Measurement>,
}

/// `cargo xtask compare --help`.
pub const HELP: &str = "\
Times emfit against scikit-learn, hmmlearn and pykalman on the same workloads,
from the same initial parameters, each side in a fresh process, and replaces
the README's benchmark section (<!-- compare:start --> ... <!-- compare:end -->).
Then, for the workloads whose peer has a drop-in class in emfit, the peer's
single-threaded process also times emfit's class (plain EM, the peer's
iteration count) on the same data: the README section <!-- compare-python:start -->
... <!-- compare-python:end --> gets the peer's, emfit-through-Python's and
emfit's Rust times, the Python overhead over Rust and the speed-up in Python.

usage: cargo xtask compare [FILTER] [--python | --isa avx512|avx2|baseline]

  FILTER    only the workloads whose peer or emfit name contains it (gmm, hmm, lgssm, ...);
            the tables are printed, the README is left alone
  --python  only the Python section: its workloads, one thread (a few minutes);
            the benchmark section is left alone
  --isa SET caps the instruction set of emfit's kernels (EMFIT_ISA, honoured only
            downward: the AVX2 path can be measured on an AVX-512 machine); the table
            goes to the README section <!-- compare-SET:start --> ... <!-- compare-SET:end -->
            and the Python section is not measured

Needs python3 with venv and pip: the pinned peers of xtask/compare/requirements.txt
are installed into target/compare/venv, and emfit's Python package is built into it
(maturin develop --release). The whole run takes about 12 minutes.
";

/// What `cargo xtask compare` was asked for.
#[derive(Debug, Default, PartialEq)]
struct Options {
    /// Only the workloads whose names contain it (and the README is left alone).
    filter: Option<String>,
    /// The cap of emfit's instruction set (`--isa`).
    isa: Option<String>,
    /// Only the Python section (`--python`).
    python: bool,
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
            "--python" => options.python = true,
            other => crate::filter_argument(other, &mut options.filter)?,
        }
    }
    if options.python && options.isa.is_some() {
        return Err(Failure::Usage(
            "--python measures emfit's own kernels: it takes no --isa".into(),
        ));
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
    // emfit through Python runs with its own kernels: not under an ISA cap.
    let with_python = options.isa.is_none();
    let mut peers = Peers::prepare()?;
    peers.isa.clone_from(&options.isa);
    if with_python {
        peers.develop_emfit()?;
    }
    let work = peers.work.to_string_lossy().into_owned();
    let cores = harness::cores();
    // One core's multiply-add peak on the instruction set emfit runs with.
    let peak = harness::run_json(&mut peers.emfit(&["peak"], 1))?["gflops"]
        .as_f64()
        .ok_or("emfit-compare peak: no gflops")?;

    let mut rows = Vec::new();
    let mut python_rows = Vec::new();
    // A peer workload paired with two emfit variants is timed once per thread count.
    let mut peer_results: HashMap<(&str, usize), PeerRun> = HashMap::new();
    // The instruction set emfit's kernels ran with, as its first run reported.
    let mut ran: Option<String> = None;
    for pair in PAIRS.iter().filter(|p| {
        (!options.python || p.python.is_some())
            && only.is_none_or(|f| p.peer.contains(f) || p.ours.contains(f))
    }) {
        let thread_counts: Vec<usize> = if pair.multi_thread && cores > 1 && !options.python {
            vec![1, cores]
        } else {
            vec![1]
        };
        for threads in thread_counts {
            let peer = match peer_results.entry((pair.peer, threads)) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => {
                    // The peer's process times emfit's classes too when a row of
                    // the Python section pairs with this peer workload.
                    let emfit_too = with_python
                        && threads == 1
                        && PAIRS.iter().any(|p| p.python.is_some() && p.peer == pair.peer);
                    e.insert(measure_peer(&peers, pair.peer, threads, emfit_too)?)
                }
            };
            let ours = measure(&mut peers.emfit(&["run", &work, pair.ours], threads))?;
            ran.get_or_insert_with(|| ours.isa.clone());
            let row = render_row(pair, threads, &peer.peer, &ours, peak);
            println!("{row}");
            rows.push(row);
            if let (Some(same), Some(python)) = (pair.python, &peer.emfit_python) {
                let rust = if same == pair.ours {
                    ours
                } else {
                    measure(&mut peers.emfit(&["run", &work, same], threads))?
                };
                let row = render_python_row(pair, &peer.peer, python, &rust);
                println!("{row}");
                python_rows.push(row);
            }
        }
    }
    let kernels = harness::kernels_note(ran.as_deref().unwrap_or("unknown"), options.isa.as_deref());
    if !options.python {
        let section = render_section(&rows, &peers, cores, &kernels, peak);
        println!("\n{section}");
        if only.is_none() {
            let name = match &options.isa {
                Some(isa) => format!("compare-{isa}"),
                None => "compare".to_string(),
            };
            crate::replace_readme_section(&name, &section)?;
            println!("README.md section {name} updated.");
        }
    }
    if !python_rows.is_empty() {
        let section = render_python_section(&python_rows, &peers, cores, &kernels);
        println!("\n{section}");
        if only.is_none() {
            crate::replace_readme_section("compare-python", &section)?;
            println!("README.md section compare-python updated.");
        }
    }
    Ok(())
}

/// Runs `peers.py` on one workload in a fresh process; with `emfit_too`,
/// the same process then times emfit's drop-in classes on it.
fn measure_peer(peers: &Peers, workload: &str, threads: usize, emfit_too: bool) -> Result<PeerRun, String> {
    let args: &[&str] = if emfit_too {
        &[workload, "--emfit"]
    } else {
        &[workload]
    };
    let v = harness::run_json(&mut peers.peer(args, threads))?;
    let emfit_python = match &v["emfit"] {
        Value::Null if emfit_too => return Err(format!("peers.py {workload} --emfit: no emfit result")),
        Value::Null => None,
        emfit => Some(measurement(emfit)?),
    };
    Ok(PeerRun {
        peer: measurement(&v)?,
        emfit_python,
    })
}

/// Runs one side in a fresh process and reads its JSON line.
fn measure(command: &mut Command) -> Result<Measurement, String> {
    measurement(&harness::run_json(command)?)
}

/// A side's measurement from its JSON object.
fn measurement(v: &Value) -> Result<Measurement, String> {
    Ok(Measurement {
        seconds: v["seconds"].as_f64().ok_or("missing seconds")?,
        iterations: v["iterations"].as_f64().unwrap_or(1.0),
        loglik: v["loglik"].as_f64(),
        peak_rss_mb: v["peak_rss_mb"].as_f64().unwrap_or(f64::NAN),
        isa: v["isa"].as_str().unwrap_or("unknown").to_string(),
        gflop: v["gflop"].as_f64(),
    })
}

/// `a / b (rel ..., tol ...: agree)`: how far the log-likelihood `b` of
/// emfit is from the peer's `a`, against the pair's tolerance; `-` when
/// there is nothing to compare.
fn agreement(tolerance: Option<f64>, peer: Option<f64>, emfit: Option<f64>) -> String {
    match (tolerance, peer, emfit) {
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
    }
}

fn render_row(pair: &Pair, threads: usize, peer: &Measurement, ours: &Measurement, peak: f64) -> String {
    let ratio = peer.per_iteration() / ours.per_iteration();
    format!(
        "| {} | {} | {threads} | {} | {} | {} | **{ratio:.1}x** | {:.0} / {:.0} | {} |",
        pair.what,
        pair.peer_library,
        harness::seconds(peer.per_iteration()),
        harness::seconds(ours.per_iteration()),
        flop_rate(ours, threads, peak),
        peer.peak_rss_mb,
        ours.peak_rss_mb,
        agreement(pair.tolerance, peer.loglik, ours.loglik),
    )
}

/// emfit's flop rate and how far its time is from the time its flop count
/// takes at the peak of `threads` cores (`peak` GFLOP/s each):
/// `27.4 GFLOP/s, 2.1x the 2.80 ms at peak`; `-` for workloads whose flops
/// are not counted.
fn flop_rate(ours: &Measurement, threads: usize, peak: f64) -> String {
    match ours.gflop {
        Some(gflop) => {
            let at_peak = gflop / (peak * threads as f64);
            format!(
                "{:.1} GFLOP/s, {:.1}x the {} at peak",
                gflop / ours.per_iteration(),
                ours.per_iteration() / at_peak,
                harness::seconds(at_peak)
            )
        }
        None => "-".to_string(),
    }
}

/// A row of the Python section: the peer, emfit through Python (`python`)
/// and emfit in Rust (`rust`), per iteration.
fn render_python_row(pair: &Pair, peer: &Measurement, python: &Measurement, rust: &Measurement) -> String {
    let overhead = 100.0 * (python.per_iteration() / rust.per_iteration() - 1.0);
    let ratio = peer.per_iteration() / python.per_iteration();
    format!(
        "| {} | {} | {} | {} | {} | {overhead:+.1}% | **{ratio:.1}x** | {} |",
        pair.what,
        pair.peer_library,
        harness::seconds(peer.per_iteration()),
        harness::seconds(python.per_iteration()),
        harness::seconds(rust.per_iteration()),
        agreement(pair.tolerance, peer.loglik, python.loglik),
    )
}

/// How both sides time a workload (`timed` in `emfit-compare` and in
/// `peers.py`).
const TIMES: &str = "Times are medians of the runs that fit in 2 s (at least 3, at most 51; \
     one run when a run takes over 10 s), after an untimed warm-up run when a run takes under 1 s";

fn render_section(rows: &[String], peers: &Peers, cores: usize, kernels: &str, peak: f64) -> String {
    let cpu = harness::cpu_model();
    let rustc = harness::command_output("rustc", &["--version"]);
    let versions = peers.python_versions();
    let date = harness::now_utc();
    let mut s = String::new();
    s.push_str(&format!(
        "Measured {date} on {cpu} ({cores} cores), {kernels}, {rustc}; {versions}.\n\
         Threads: 1, and {cores} (all cores) where marked; OMP/OPENBLAS/MKL/RAYON_NUM_THREADS set to that number for both sides,\n\
         OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset. Each side runs in a fresh process. {TIMES}.\n\
         Both sides start from the same initial parameters and data.\n\
         Reproduce with `cargo xtask compare` (needs python3 with venv and pip; about 10 minutes).\n\
         emfit flops: the flops of the timed work per iteration (as `cargo xtask bench` counts them: the iterations and\n\
         the log-likelihood after the last, which both sides' fits compute) over emfit's time, and that\n\
         time against the count at the multiply-add peak of the cores used, {peak:.1} GFLOP/s per core (`emfit-compare\n\
         peak`: independent multiply-adds in registers on the same instruction set, the fastest of 15 runs).\n\n\
         | workload | peer | threads | peer time / iter | emfit time / iter | emfit flops | speed-up | peak MiB peer / emfit | log-likelihood peer / emfit |\n\
         |---|---|---|---|---|---|---|---|---|\n"
    ));
    for row in rows {
        s.push_str(row);
        s.push('\n');
    }
    s
}

/// The README's Python section: the machine and versions, how it was
/// measured, and the rows of [`render_python_row`].
fn render_python_section(rows: &[String], peers: &Peers, cores: usize, kernels: &str) -> String {
    let cpu = harness::cpu_model();
    let rustc = harness::command_output("rustc", &["--version"]);
    let versions = peers.python_versions();
    let emfit = peers.emfit_python_version();
    let date = harness::now_utc();
    let mut s = format!(
        "Measured {date} on {cpu} ({cores} cores), {kernels}, {rustc}; {versions}; {emfit}.\n\
         One thread (OMP/OPENBLAS/MKL/RAYON_NUM_THREADS=1). The peer, then emfit's drop-in class, run the same\n\
         workload function of `xtask/compare/peers.py` in one Python process, on the same data from the same start\n\
         (emfit with `acceleration=\"none\"` and the peer's stopping rule: the same EM iterations); emfit in Rust is\n\
         `emfit-compare` in a fresh process computing what the Python call returns (for the Kalman rows: the means and\n\
         every covariance of `filter` and `smooth`, T x 21 x 21; `em` through the fit loop, which evaluates the fitted\n\
         model). {TIMES}.\n\
         Python overhead: emfit through Python over emfit in Rust, per iteration. Reproduce with\n\
         `cargo xtask compare --python` (a few minutes).\n\n\
         | workload | peer | peer time / iter | emfit through Python / iter | emfit in Rust / iter | Python overhead | speed-up through Python | log-likelihood peer / emfit through Python |\n\
         |---|---|---|---|---|---|---|---|\n"
    );
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
                python: false,
            })
        );
        assert_eq!(
            parse(&["--python", "hmm"]),
            Ok(Options {
                filter: Some("hmm".into()),
                isa: None,
                python: true,
            })
        );
        for bad in [
            &["--isa"][..],
            &["--isa", "sse9"],
            &["--fast"],
            &["a", "b"],
            &["--python", "--isa", "avx2"],
        ] {
            assert!(matches!(parse(bad), Err(Failure::Usage(_))), "{bad:?}");
        }
    }

    #[test]
    fn every_python_row_pairs_a_peer_with_the_same_computation_in_rust() {
        let python: Vec<(&str, &str)> = PAIRS.iter().filter_map(|p| Some((p.peer, p.python?))).collect();
        assert_eq!(
            python,
            [
                ("gmm_full", "gmm_full"),
                ("gmm_diag", "gmm_diag"),
                ("bgmm_full", "bgmm_full"),
                ("hmm_fit", "hmm_fit"),
                ("hmm_viterbi", "hmm_viterbi"),
                ("gmmhmm_fit", "gmmhmm_fit"),
                ("lgssm_filter_pykalman", "lgssm_filter_covs"),
                ("lgssm_smoother_pykalman", "lgssm_smoother_covs"),
                ("lgssm_em_pykalman", "lgssm_em_fit"),
            ]
        );
    }

    #[test]
    fn the_python_row_has_overhead_and_speed_up() {
        let at = |seconds, iterations, loglik| Measurement {
            seconds,
            iterations,
            loglik: Some(loglik),
            peak_rss_mb: 1.0,
            isa: "unknown".into(),
            gflop: None,
        };
        let row = render_python_row(
            &PAIRS[0],
            &at(2.0, 10.0, -100.0),
            &at(0.11, 10.0, -100.0),
            &at(0.1, 10.0, -100.0),
        );
        assert!(
            row.contains("| 200.00 ms | 11.00 ms | 10.00 ms | +10.0% | **18.2x** |"),
            "{row}"
        );
        assert!(row.ends_with("(rel 0.0e0, tol 1e-6: agree) |"), "{row}");
    }

    #[test]
    fn the_flop_rate_is_against_the_peak_of_the_cores_used() {
        let ours = |gflop| Measurement {
            seconds: 0.1,
            iterations: 10.0,
            loglik: None,
            peak_rss_mb: 1.0,
            isa: "avx2".into(),
            gflop,
        };
        // 0.2 GFLOP in 10 ms: 20 GFLOP/s; at 40 GFLOP/s per core, 5 ms on
        // one core (2x), 2.5 ms on two (4x).
        assert_eq!(
            flop_rate(&ours(Some(0.2)), 1, 40.0),
            "20.0 GFLOP/s, 2.0x the 5.00 ms at peak"
        );
        assert_eq!(
            flop_rate(&ours(Some(0.2)), 2, 40.0),
            "20.0 GFLOP/s, 4.0x the 2.50 ms at peak"
        );
        assert_eq!(flop_rate(&ours(None), 1, 40.0), "-");
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
