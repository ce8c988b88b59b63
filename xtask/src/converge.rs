//! `cargo xtask converge`: time to the answer. For each workload, emfit's
//! plain EM and SQUAREM and the Python peer (at its default stopping rule and
//! at a tight one) fit from the same data and start, each in a fresh process
//! on one thread, recording every log-likelihood they evaluate with the
//! E-steps and the wall time spent to get it. The answer L* is the best
//! log-likelihood any run reached; the table gives, per run, the E-steps and
//! the time to first come within [`WITHIN`] (relative) of L*, and rewrites the
//! README section between `<!-- converge:start -->` and `<!-- converge:end -->`.
//!
//! The machinery is `cargo xtask compare`'s ([`crate::harness`]): the same
//! binary (`emfit-compare converge`), virtual environment, workload files and
//! peer script (`peers.py WORKDIR converge ...`), one JSON line per run.

use crate::Failure;
use crate::harness::{self, Peers};
use serde_json::Value;
use std::time::Instant;

/// "Reached the answer": within this relative distance of L*.
pub const WITHIN: f64 = 1e-8;

/// The length of the robot-arm workload by default (the full length is
/// 44,484: plain EM from A = 0 needs far more iterations than fit in a
/// benchmark run there, and pykalman takes 11 s per iteration).
const DEFAULT_ARM_STEPS: usize = 5_000;
/// The time cap of every run by default, in seconds.
const DEFAULT_BUDGET: f64 = 120.0;

/// `cargo xtask converge --help`.
pub const HELP: &str = "\
Time to the answer: emfit's plain EM and SQUAREM, and the Python peer
(scikit-learn, hmmlearn, pykalman) at its default stopping rule and at a tight
one, fit each workload from the same data and start, one thread, each run in a
fresh process. Every evaluated log-likelihood is recorded with the E-steps and
the wall time spent; L* is the best log-likelihood any run reached. The table
gives the E-steps and the time each run needed to first come within 1e-8
(relative) of L*, and replaces the README section
<!-- converge:start --> ... <!-- converge:end -->.

usage: cargo xtask converge [FILTER] [--arm-steps T] [--budget SECONDS]

  FILTER            only the workloads whose name contains it: gmm_full, gmm_diag, hmm_fit,
                    gmmhmm_fit, nile, lgssm_em (the robot arm);
                    the table is printed, the README is left alone
  --arm-steps T     length of the robot-arm workload (default 5000; 44484 is the full length)
  --budget SECONDS  time cap of every run (default 120): emfit's runs and the peers' tight runs

emfit runs to a relative log-likelihood gain of 1e-13 (SQUAREM tests only its
plain EM steps). Needs python3 with venv and pip (the pinned peers of
xtask/compare/requirements.txt, installed into target/compare/venv, as for
`cargo xtask compare`). About 7 minutes with the defaults (plus the first
installation of the peers).
";

/// One workload of the table.
struct Workload {
    /// Its name for `emfit-compare converge` and `peers.py ... converge`.
    name: &'static str,
    /// What it is, for the table.
    what: &'static str,
    /// The peer library.
    library: &'static str,
    /// The iteration cap of emfit's runs and of the peer's tight run.
    max_iterations: usize,
    /// Takes the robot arm's length.
    arm: bool,
}

const WORKLOADS: [Workload; 6] = [
    Workload {
        name: "gmm_full",
        what: "GMM full, N=200k d=8 K=8",
        library: "scikit-learn",
        max_iterations: 100_000,
        arm: false,
    },
    Workload {
        name: "gmm_diag",
        what: "GMM diagonal, N=200k d=8 K=8",
        library: "scikit-learn",
        max_iterations: 100_000,
        arm: false,
    },
    Workload {
        name: "hmm_fit",
        what: "Gaussian HMM full, K=8 d=4, 200 sequences of 500",
        library: "hmmlearn",
        max_iterations: 100_000,
        arm: false,
    },
    Workload {
        name: "gmmhmm_fit",
        what: "scenario 1: GMM-HMM, 2 states x 2 diagonal components, 1000 points in 50 sequences",
        library: "hmmlearn",
        max_iterations: 100_000,
        arm: false,
    },
    Workload {
        name: "nile",
        what: "Nile local level, T=100: EM for Q, R and m0 (A = H = 1, P0 = 1e7 fixed)",
        library: "pykalman",
        max_iterations: 1_000_000,
        arm: false,
    },
    Workload {
        name: "lgssm_em",
        what: "scenario 3: robot arm n=21, EM for (A, Q) from A = 0, steady-state option",
        library: "pykalman",
        max_iterations: 10_000_000,
        arm: true,
    },
];

/// The command line.
#[derive(Debug, PartialEq)]
struct Options {
    filter: Option<String>,
    arm_steps: usize,
    budget: f64,
}

fn parse_args(args: &[String]) -> Result<Options, Failure> {
    let mut options = Options {
        filter: None,
        arm_steps: DEFAULT_ARM_STEPS,
        budget: DEFAULT_BUDGET,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| Failure::Usage(format!("{name} needs a value")))
        };
        match arg.as_str() {
            "--arm-steps" => {
                let v = value("--arm-steps")?;
                options.arm_steps =
                    v.parse().ok().filter(|&t: &usize| t >= 2).ok_or_else(|| {
                        Failure::Usage(format!("--arm-steps {v}: an integer of at least 2"))
                    })?;
            }
            "--budget" => {
                let v = value("--budget")?;
                options.budget = v
                    .parse()
                    .ok()
                    .filter(|&b: &f64| b.is_finite() && b > 0.0)
                    .ok_or_else(|| Failure::Usage(format!("--budget {v}: a positive number of seconds")))?;
            }
            other => crate::filter_argument(other, &mut options.filter)?,
        }
    }
    Ok(options)
}

/// Entry point of `cargo xtask converge`.
pub fn main(args: &[String]) -> Result<(), Failure> {
    let options = parse_args(args)?;
    Ok(run(&options)?)
}

/// One recorded point: E-steps so far, seconds since the fit started, log-likelihood.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Point {
    e_steps: f64,
    seconds: f64,
    loglik: f64,
}

/// One run of one method on one workload.
#[derive(Debug, Clone, PartialEq)]
struct Run {
    /// `emfit, plain EM`, `scikit-learn, default`, ...
    method: String,
    /// The stopping rule it ran with.
    rule: String,
    /// Why it stopped, short.
    stopped: String,
    /// Every recorded point, in order.
    points: Vec<Point>,
}

impl Run {
    fn last(&self) -> Point {
        *self.points.last().expect("a run has at least its start")
    }
}

/// The recorded points of a run's JSON line: `"points": [[e_steps, seconds, loglik], ...]`.
fn parse_points(v: &Value) -> Result<Vec<Point>, String> {
    let points = v["points"].as_array().ok_or("no `points` array")?;
    let parsed = points
        .iter()
        .map(|p| match p.as_array().map(Vec::as_slice) {
            Some([e, s, l]) => match (e.as_f64(), s.as_f64(), l.as_f64()) {
                (Some(e_steps), Some(seconds), Some(loglik)) if loglik.is_finite() => Ok(Point {
                    e_steps,
                    seconds,
                    loglik,
                }),
                _ => Err(format!("bad point {p}")),
            },
            _ => Err(format!("bad point {p}: [e_steps, seconds, loglik] expected")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if parsed.is_empty() {
        return Err("no recorded point".into());
    }
    Ok(parsed)
}

/// The short form of emfit's termination (`Termination`'s display).
fn short_termination(termination: &str) -> String {
    if termination.starts_with("converged") {
        "converged".into()
    } else if termination.starts_with("time budget") {
        "time budget".into()
    } else if termination.starts_with("iteration cap") {
        "iteration cap".into()
    } else if termination.starts_with("log-likelihood fell") {
        "log-likelihood fell (best kept)".into()
    } else {
        termination.into()
    }
}

/// An emfit run's JSON line.
fn emfit_run(method: &str, v: &Value, rule: String) -> Result<Run, String> {
    Ok(Run {
        method: format!("emfit, {method}"),
        rule,
        stopped: short_termination(v["termination"].as_str().unwrap_or("?")),
        points: parse_points(v)?,
    })
}

/// A peer run's JSON line.
fn peer_run(library: &str, mode: &str, v: &Value) -> Result<Run, String> {
    Ok(Run {
        method: format!("{library}, {mode}"),
        rule: v["rule"].as_str().unwrap_or("?").to_string(),
        stopped: v["stopped"].as_str().unwrap_or("?").to_string(),
        points: parse_points(v)?,
    })
}

/// L*: the best log-likelihood any run recorded.
fn best_log_likelihood(runs: &[Run]) -> f64 {
    runs.iter()
        .flat_map(|r| r.points.iter().map(|p| p.loglik))
        .fold(f64::NEG_INFINITY, f64::max)
}

/// `(L* − ℓ) / |L*|`: how far below the answer `loglik` is, relative.
fn relative_gap(loglik: f64, best: f64) -> f64 {
    (best - loglik) / best.abs().max(f64::MIN_POSITIVE)
}

/// The first point within `within` (relative) of `best`.
fn first_within(points: &[Point], best: f64, within: f64) -> Option<Point> {
    points
        .iter()
        .copied()
        .find(|p| relative_gap(p.loglik, best) <= within)
}

/// `1.2e-9`, or `0` for none at all.
fn gap_text(gap: f64) -> String {
    if gap <= 0.0 {
        "0".into()
    } else {
        format!("{gap:.1e}")
    }
}

/// The rows of one workload: one per run; the workload's name and L* on the
/// first; the plain-EM / SQUAREM ratios on the SQUAREM row.
fn render_rows(what: &str, runs: &[Run]) -> Vec<String> {
    let best = best_log_likelihood(runs);
    let reached: Vec<Option<Point>> = runs
        .iter()
        .map(|r| first_within(&r.points, best, WITHIN))
        .collect();
    let find = |method: &str| runs.iter().position(|r| r.method == method);
    let ratio = match (find("emfit, plain EM"), find("emfit, SQUAREM")) {
        (Some(p), Some(s)) => match (reached[p], reached[s]) {
            (Some(plain), Some(squarem)) => Some(format!(
                "**{:.1}x** E-steps, {:.1}x time",
                plain.e_steps / squarem.e_steps,
                plain.seconds / squarem.seconds.max(1e-9)
            )),
            // The whole plain run against SQUAREM's time to the answer: a lower bound.
            (None, Some(squarem)) => {
                let plain = runs[p].last();
                Some(format!(
                    "more than **{:.1}x** E-steps, {:.1}x time (plain EM did not reach L*)",
                    plain.e_steps / squarem.e_steps,
                    plain.seconds / squarem.seconds.max(1e-9)
                ))
            }
            (Some(_), None) => Some("SQUAREM did not reach L*".into()),
            (None, None) => Some("neither reached L*".into()),
        },
        _ => None,
    };
    runs.iter()
        .zip(&reached)
        .enumerate()
        .map(|(i, (run, hit))| {
            let workload = if i == 0 {
                format!("{what}; L* = {best:.6}")
            } else {
                String::new()
            };
            let (e_steps, time) = match hit {
                Some(p) => (format!("{}", p.e_steps), harness::seconds(p.seconds)),
                None => ("not reached".to_string(), "not reached".to_string()),
            };
            let last = run.last();
            let whole = format!(
                "{}, {}, {}",
                last.e_steps,
                harness::seconds(last.seconds),
                run.stopped
            );
            let ratio_cell = if run.method == "emfit, SQUAREM" {
                ratio.clone().unwrap_or_default()
            } else {
                String::new()
            };
            format!(
                "| {workload} | {} | {} | {e_steps} | {time} | {whole} | {} | {ratio_cell} |",
                run.method,
                run.rule,
                gap_text(relative_gap(last.loglik, best)),
            )
        })
        .collect()
}

const TABLE_HEADER: &str = "| workload; answer L* | method | stopping rule | E-steps to within 1e-8 of L* | time to within 1e-8 of L* | whole run: E-steps, time, stop | final gap to L* | plain EM / SQUAREM to within 1e-8 |\n\
                            |---|---|---|---|---|---|---|---|\n";

/// The README section: the machine, how it was measured, the table.
fn render_section(rows: &[String], machine: &str, options: &Options) -> String {
    format!(
        "Measured {machine}. One thread (OMP/OPENBLAS/MKL/RAYON_NUM_THREADS=1, OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset),\n\
         each run in a fresh process, once, from the same data and initial parameters as `cargo xtask compare`.\n\
         L* is the best log-likelihood any run reached on the workload; a run has the answer at its first recorded\n\
         point within 1e-8 of L* (relative). E-steps are passes over the data, the one that evaluates the start\n\
         included (plain EM: iteration + 1; SQUAREM: 2 per cycle of two recorded points, 1 or 2 more for a rejected extrapolation; a peer: one per iteration,\n\
         plus its evaluation of the returned parameters); times are wall time since the fit started. emfit stops at a\n\
         relative gain of 1e-13 (SQUAREM tests its plain EM steps only), every run at {budget} s. The robot arm is the\n\
         first {steps} steps of the full-length data (T=44,484), whose EM start is the same.\n\
         Reproduce with `cargo xtask converge` (needs python3 with venv and pip; about 7 minutes).\n\n\
         {TABLE_HEADER}{}\n",
        rows.join("\n"),
        budget = options.budget,
        steps = thousands(options.arm_steps),
    )
}

/// `44484` as `44,484`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Runs every selected workload, prints the table, and (without a filter)
/// rewrites the README section.
fn run(options: &Options) -> Result<(), String> {
    let selected: Vec<&Workload> = WORKLOADS
        .iter()
        .filter(|w| options.filter.as_deref().is_none_or(|f| w.name.contains(f)))
        .collect();
    if selected.is_empty() {
        return Err(format!(
            "no workload matches `{}`",
            options.filter.as_deref().unwrap_or_default()
        ));
    }
    let peers = Peers::prepare()?;
    let budget = options.budget.to_string();
    let total = selected.len() * 4;
    let mut done = 0;
    let mut rows = Vec::new();
    let started = Instant::now();
    for workload in selected {
        let steps = options.arm_steps.to_string();
        let max_iterations = workload.max_iterations.to_string();
        let mut extra: Vec<&str> = Vec::new();
        if workload.arm {
            extra.push(&steps);
        }
        let mut runs = Vec::new();
        let mut progress = |label: &str, run: &Run| {
            done += 1;
            let last = run.last();
            println!(
                "[{done}/{total}] {} {label}: {} E-steps, {}, ℓ = {:.10e}, {} ({:.0} s so far)",
                workload.name,
                last.e_steps,
                harness::seconds(last.seconds),
                last.loglik,
                run.stopped,
                started.elapsed().as_secs_f64()
            );
        };
        for (method, label) in [("plain", "plain EM"), ("squarem", "SQUAREM")] {
            let mut args = vec!["converge", workload.name, method, &max_iterations, &budget];
            args.extend(&extra);
            let v = harness::run_json(&mut peers.emfit(&args, 1))?;
            let rule = format!(
                "relative gain 1e-13, max {} iterations",
                thousands(workload.max_iterations)
            );
            let run = emfit_run(label, &v, rule)?;
            if let Some(work) = v["work"].as_str() {
                println!("        {work}");
            }
            progress(label, &run);
            runs.push(run);
        }
        for mode in ["default", "tight"] {
            let mut args = vec!["converge", workload.name, mode, &max_iterations, &budget];
            args.extend(&extra);
            let v = harness::run_json(&mut peers.peer(&args, 1))?;
            let run = peer_run(workload.library, mode, &v)?;
            progress(mode, &run);
            runs.push(run);
        }
        let what = if workload.arm {
            format!("{}, T={}", workload.what, thousands(options.arm_steps))
        } else {
            workload.what.to_string()
        };
        let workload_rows = render_rows(&what, &runs);
        for row in &workload_rows {
            println!("{row}");
        }
        rows.extend(workload_rows);
    }
    let machine = format!(
        "{} on {} ({} cores, {}), {}; {}",
        harness::now_utc(),
        harness::cpu_model(),
        harness::cores(),
        harness::cpu_isa(),
        harness::command_output("rustc", &["--version"]),
        peers.python_versions(),
    );
    let section = render_section(&rows, &machine, options);
    println!("\n{section}");
    if options.filter.is_none() {
        crate::replace_readme_section("converge", &section)?;
        println!("README.md section \"Time to the answer\" updated.");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    fn points(list: &[(f64, f64, f64)]) -> Vec<Point> {
        list.iter()
            .map(|&(e_steps, seconds, loglik)| Point {
                e_steps,
                seconds,
                loglik,
            })
            .collect()
    }

    fn run(method: &str, list: &[(f64, f64, f64)]) -> Run {
        Run {
            method: method.into(),
            rule: "rule".into(),
            stopped: "converged".into(),
            points: points(list),
        }
    }

    #[test]
    fn arguments_are_parsed_and_checked() {
        assert_eq!(
            parse_args(&[]),
            Ok(Options {
                filter: None,
                arm_steps: 5_000,
                budget: 120.0
            })
        );
        assert_eq!(
            parse_args(&strings(&["--budget", "30", "gmm", "--arm-steps", "44484"])),
            Ok(Options {
                filter: Some("gmm".into()),
                arm_steps: 44_484,
                budget: 30.0
            })
        );
        for wrong in [
            &["--budget"][..],
            &["--budget", "0"],
            &["--budget", "-3"],
            &["--budget", "inf"],
            &["--arm-steps", "1"],
            &["--arm-steps", "5k"],
            &["--fast"],
            &["gmm", "hmm"],
        ] {
            assert!(
                matches!(parse_args(&strings(wrong)), Err(Failure::Usage(_))),
                "{wrong:?}"
            );
        }
    }

    #[test]
    fn points_are_parsed_from_the_json_line() {
        let v: Value = serde_json::from_str(
            r#"{"points": [[1, 0.5, -10.0], [2.0, 1.0, -9.5]], "termination": "time budget spent (not converged)"}"#,
        )
        .unwrap();
        let run = emfit_run("plain EM", &v, "r".into()).unwrap();
        assert_eq!(run.points, points(&[(1.0, 0.5, -10.0), (2.0, 1.0, -9.5)]));
        assert_eq!(run.stopped, "time budget");
        assert_eq!(run.method, "emfit, plain EM");
        for bad in [
            r#"{}"#,
            r#"{"points": []}"#,
            r#"{"points": [[1, 0.5]]}"#,
            r#"{"points": [[1, 0.5, "x"]]}"#,
            r#"{"points": [[1, 0.5, null]]}"#,
        ] {
            let v: Value = serde_json::from_str(bad).unwrap();
            assert!(parse_points(&v).is_err(), "{bad}");
        }
        let v: Value = serde_json::from_str(
            r#"{"points": [[1, 0.1, -3.0]], "rule": "tol 1e-3", "stopped": "converged"}"#,
        )
        .unwrap();
        let peer = peer_run("scikit-learn", "default", &v).unwrap();
        assert_eq!(
            (peer.method.as_str(), peer.rule.as_str(), peer.stopped.as_str()),
            ("scikit-learn, default", "tol 1e-3", "converged")
        );
    }

    #[test]
    fn the_answer_is_first_reached_within_the_relative_distance() {
        // L* = -1e6: within 1e-8 means ℓ ≥ -1e6 - 0.01.
        let p = points(&[
            (1.0, 0.1, -2e6),
            (2.0, 0.2, -1_000_000.02),
            (3.0, 0.3, -1_000_000.009),
            (4.0, 0.4, -1_000_000.000_9),
            (5.0, 0.5, -1_000_000.0),
        ]);
        let best = -1e6;
        assert_eq!(first_within(&p, best, 1e-8).map(|x| x.e_steps), Some(3.0));
        assert_eq!(first_within(&p, best, 1e-9).map(|x| x.e_steps), Some(4.0));
        assert_eq!(first_within(&p, best, 0.0).map(|x| x.e_steps), Some(5.0));
        assert_eq!(first_within(&p[..2], best, 1e-8), None);
        // A positive L* (densities above 1) works the same way.
        let q = points(&[(1.0, 0.1, 99.0), (2.0, 0.2, 100.0 - 5e-7)]);
        assert_eq!(first_within(&q, 100.0, 1e-8).map(|x| x.e_steps), Some(2.0));
        assert!(relative_gap(-1_000_000.5, best) > 4.9e-7);
        assert_eq!(relative_gap(best, best), 0.0);
    }

    #[test]
    fn the_best_is_over_every_run_and_the_rows_tell_who_reached_it() {
        let runs = vec![
            run(
                "emfit, plain EM",
                &[(1.0, 0.1, -100.0), (40.0, 4.0, -10.0), (50.0, 5.0, -10.0)],
            ),
            run("emfit, SQUAREM", &[(1.0, 0.1, -100.0), (10.0, 0.5, -10.0)]),
            run("hmmlearn, default", &[(1.0, 0.2, -100.0), (5.0, 1.0, -11.0)]),
        ];
        assert_eq!(best_log_likelihood(&runs), -10.0);
        let rows = render_rows("toy", &runs);
        assert_eq!(rows.len(), 3);
        assert!(rows[0].starts_with("| toy; L* = -10.000000 | emfit, plain EM | rule | 40 | 4.00 s | 50, 5.00 s, converged | 0 |  |"), "{}", rows[0]);
        assert!(rows[1].contains("| 10 | 500.00 ms |"), "{}", rows[1]);
        assert!(
            rows[1].ends_with("| **4.0x** E-steps, 8.0x time |"),
            "{}",
            rows[1]
        );
        assert!(rows[2].starts_with("|  | hmmlearn, default |"), "{}", rows[2]);
        assert!(
            rows[2].contains("| not reached | not reached | 5, 1.00 s, converged | 1.0e-1 |"),
            "{}",
            rows[2]
        );
        let slow = vec![
            run("emfit, plain EM", &[(1.0, 0.1, -100.0), (9.0, 1.0, -20.0)]),
            run("emfit, SQUAREM", &[(1.0, 0.1, -100.0), (9.0, 0.5, -10.0)]),
        ];
        assert!(
            render_rows("toy", &slow)[1]
                .ends_with("| more than **1.0x** E-steps, 2.0x time (plain EM did not reach L*) |")
        );
    }

    #[test]
    fn the_section_names_the_machine_and_has_one_table() {
        let options = parse_args(&[]).unwrap();
        let section = render_section(&["| a |".into(), "| b |".into()], "today on a CPU", &options);
        assert!(section.starts_with("Measured today on a CPU."));
        assert!(section.contains("every run at 120 s"));
        assert!(section.contains("first 5,000 steps"));
        assert!(section.ends_with("|---|---|---|---|---|---|---|---|\n| a |\n| b |\n"));
        assert_eq!(thousands(44_484), "44,484");
        assert_eq!(thousands(100), "100");
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(gap_text(0.0), "0");
        assert_eq!(gap_text(-1e-17), "0");
        assert_eq!(gap_text(3.4e-4), "3.4e-4");
    }
}
