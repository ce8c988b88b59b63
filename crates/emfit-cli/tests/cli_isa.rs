//! `EMFIT_ISA` caps the instruction set of the kernels: every path this CPU
//! has gives the same fit (to the printed precision), the program says which
//! path ran, and a value that names no set is refused.

mod cli_support;

use cli_support::{TempDir, emfit_with_env};

/// The caps, narrowest first, and the name the program prints for each.
const SETS: [&str; 3] = ["baseline", "avx2", "avx512"];

/// 301 deterministic 5-D points around three centres (no random stream:
/// a fixed chaotic sequence), with a header line.
fn three_clusters() -> String {
    let mut text = String::from("a,b,c,d,e\n");
    for i in 0..301 {
        let t = i as f64;
        let centre = [0.0, 4.0, 9.0][i % 3];
        let row: Vec<String> = (0..5)
            .map(|j| {
                let j = j as f64;
                format!(
                    "{}",
                    centre + (t * (0.7 + 0.31 * j)).sin() + 0.5 * (t * 1.3 + j).cos()
                )
            })
            .collect();
        text.push_str(&row.join(","));
        text.push('\n');
    }
    text
}

/// The instruction set and the final log-likelihood a fit printed.
fn kernels_and_log_likelihood(stdout: &str) -> (String, f64) {
    let field = |prefix: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} line in\n{stdout}"))
            .trim()
            .to_string()
    };
    let kernels = field("kernels:").trim_end_matches(" instruction set").to_string();
    let ll = field("log-likelihood:");
    let ll = ll.split_whitespace().next().unwrap().parse().unwrap();
    (kernels, ll)
}

#[test]
fn every_forced_path_gives_the_same_fit() {
    let dir = TempDir::new("isa");
    let data = dir.write("x.csv", three_clusters());
    for (family, extra) in [
        ("gmm", &["--covariance", "full"][..]),
        ("gmm", &["--covariance", "diag"][..]),
        ("hmm", &["--covariance", "full"][..]),
    ] {
        let fit = |env: &[(&str, &str)]| {
            let mut args = vec!["fit", family, "--data", &data, "-k", "3", "--seed", "1"];
            args.extend_from_slice(extra);
            args.extend_from_slice(&[
                "--acceleration",
                "none",
                "--stop",
                "iterations",
                "--max-iter",
                "15",
            ]);
            args.extend_from_slice(&["--on-fall", "continue"]);
            kernels_and_log_likelihood(emfit_with_env(dir.path(), &args, env).ok())
        };
        let (widest, reference) = fit(&[]);
        let supported = SETS.iter().position(|&s| s == widest).expect("a known set");
        for (i, set) in SETS.iter().enumerate() {
            let (ran, ll) = fit(&[("EMFIT_ISA", set)]);
            // Honoured only downward: a cap above the CPU gives what it has.
            assert_eq!(
                ran,
                SETS[i.min(supported)],
                "{family} {extra:?} with EMFIT_ISA={set}"
            );
            assert!(
                (ll - reference).abs() <= 1e-9 * reference.abs(),
                "{family} {extra:?}: {set} gives {ll}, {widest} {reference}"
            );
        }
    }
}

#[test]
fn a_cap_that_names_no_set_is_refused() {
    let dir = TempDir::new("isa-bad");
    let data = dir.write("x.csv", three_clusters());
    let run = emfit_with_env(
        dir.path(),
        &["fit", "gmm", "--data", &data, "-k", "2"],
        &[("EMFIT_ISA", "sse9")],
    );
    run.fails_with(&["EMFIT_ISA=\"sse9\"", "avx512, avx2 or baseline"]);
}
