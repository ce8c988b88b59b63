//! End-to-end tests of what makes a result reproducible: a fixed number of
//! iterations that holds, numbers printed at full precision, `--json`
//! objects, the Viterbi log-probability, the full smoothed covariances and
//! streamed samples.

mod cli_support;

use cli_support::{TempDir, emfit};
use serde_json::Value;

fn parse(stdout: &str) -> Value {
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("not one JSON object ({e}):\n{stdout}"))
}

/// Two noisy clusters in 2-D, 60 rows (deterministic).
fn clusters(dir: &TempDir) -> String {
    let mut text = String::from("a,b\n");
    for i in 0..60 {
        let centre = if (i / 7) % 2 == 0 { 0.0 } else { 4.0 };
        let u = ((i * 37 % 101) as f64 / 101.0) - 0.5;
        let v = ((i * 53 % 97) as f64 / 97.0) - 0.5;
        text.push_str(&format!("{},{}\n", centre + u, centre - v));
    }
    dir.write("clusters.csv", text)
}

#[test]
fn stop_iterations_runs_exactly_max_iter_with_and_without_squarem() {
    let dir = TempDir::new("iterations");
    let data = clusters(&dir);
    for (family, acceleration) in [("gmm", "squarem"), ("gmm", "none"), ("hmm", "squarem")] {
        for n in ["1", "6", "7"] {
            let run = emfit(
                dir.path(),
                &[
                    "--json",
                    "fit",
                    family,
                    "--data",
                    &data,
                    "-k",
                    "2",
                    "--stop",
                    "iterations",
                    "--max-iter",
                    n,
                    "--acceleration",
                    acceleration,
                ],
            );
            let report = parse(run.ok());
            let n: u64 = n.parse().unwrap();
            assert_eq!(report["iterations"], n, "{family} {acceleration}: {report}");
            assert_eq!(report["history"].as_array().unwrap().len() as u64, n + 1);
            let e_steps = report["e_steps"].as_u64().unwrap();
            assert!(e_steps > n, "{family} {acceleration}: {e_steps} E-steps");
            if acceleration == "none" {
                assert_eq!(
                    e_steps,
                    n + 1,
                    "plain EM: one E-step per iteration and the start's"
                );
            }
        }
    }
}

#[test]
fn score_prints_full_precision_and_json_agrees() {
    let dir = TempDir::new("score");
    let data = clusters(&dir);
    let fit = parse(
        emfit(
            dir.path(),
            &[
                "--json", "fit", "gmm", "--data", &data, "-k", "2", "--out", "m.json",
            ],
        )
        .ok(),
    );
    assert_eq!(fit["model_file"], "m.json");
    let text = emfit(dir.path(), &["score", "--model", "m.json", "--data", &data]);
    let field = |name: &str| -> f64 {
        let line = text.ok().lines().find(|l| l.starts_with(name)).expect("the line");
        line[name.len()..].trim().parse().expect("a number")
    };
    let json = parse(
        emfit(
            dir.path(),
            &["--json", "score", "--model", "m.json", "--data", &data],
        )
        .ok(),
    );
    for (line, key) in [
        ("log-likelihood:", "log_likelihood"),
        ("BIC:", "bic"),
        ("AIC:", "aic"),
    ] {
        let from_json = json[key].as_f64().expect("a number");
        assert_eq!(
            field(line).to_bits(),
            from_json.to_bits(),
            "{line} differs from {key}"
        );
    }
    assert_eq!(json["observations"], 60);
    // The model scores its own data as the fit's last log-likelihood.
    let fitted = fit["log_likelihood"].as_f64().unwrap();
    assert!(
        (fitted - field("log-likelihood:")).abs() <= 1e-9 * fitted.abs(),
        "{fit}"
    );
}

#[test]
fn predict_reports_the_viterbi_log_probability() {
    let dir = TempDir::new("viterbi");
    let data = clusters(&dir);
    emfit(
        dir.path(),
        &["fit", "hmm", "--data", &data, "-k", "2", "--out", "h.json"],
    )
    .ok();
    let score = parse(
        emfit(
            dir.path(),
            &["--json", "score", "--model", "h.json", "--data", &data],
        )
        .ok(),
    );
    let predict = parse(
        emfit(
            dir.path(),
            &["--json", "predict", "--model", "h.json", "--data", &data],
        )
        .ok(),
    );
    let viterbi = predict["viterbi_log_probability"]
        .as_f64()
        .expect("a Viterbi log-probability");
    let total = score["log_likelihood"].as_f64().unwrap();
    // ln p(x, z*) ≤ ln Σ_z p(x, z) = ln p(x).
    assert!(viterbi.is_finite() && viterbi <= total, "{viterbi} > {total}");
    assert_eq!(predict["predictions"]["rows"].as_array().unwrap().len(), 60);
    // Text mode: the table on standard output, the log-probability beside it.
    let text = emfit(dir.path(), &["predict", "--model", "h.json", "--data", &data]);
    assert!(text.ok().starts_with("state\n"), "{}", text.stdout);
    assert!(
        text.stderr
            .contains(&format!("Viterbi log-probability ln p(x, z*): {viterbi}")),
        "{}",
        text.stderr
    );
}

/// The shape and values of a `.npy` file of `f8` written by emfit.
fn read_npy(bytes: &[u8]) -> (Vec<usize>, Vec<f64>) {
    let len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + len]).unwrap();
    let shape_text = &header[header.find('(').unwrap() + 1..header.find(')').unwrap()];
    let shape = shape_text
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().unwrap())
        .collect();
    let values = bytes[10 + len..]
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    (shape, values)
}

#[test]
fn smooth_writes_the_full_covariances() {
    let dir = TempDir::new("covariances");
    let data = clusters(&dir);
    emfit(
        dir.path(),
        &[
            "fit",
            "lgssm",
            "--data",
            &data,
            "--max-iter",
            "5",
            "--out",
            "l.json",
        ],
    )
    .ok();
    emfit(
        dir.path(),
        &[
            "smooth",
            "--model",
            "l.json",
            "--data",
            &data,
            "--out",
            "s.csv",
            "--covariances-out",
            "c.npy",
        ],
    )
    .ok();
    let (shape, values) = read_npy(&std::fs::read(dir.path().join("c.npy")).unwrap());
    assert_eq!(shape, vec![60, 2, 2]);
    let sds: Vec<Vec<f64>> = dir
        .read("s.csv")
        .lines()
        .skip(1)
        .map(|l| l.split(',').skip(2).map(|v| v.parse().unwrap()).collect())
        .collect();
    for (t, sd) in sds.iter().enumerate() {
        let cov = &values[t * 4..t * 4 + 4];
        assert!(
            (cov[1] - cov[2]).abs() <= 1e-12 * cov[0].abs().max(1.0),
            "not symmetric at {t}"
        );
        for i in 0..2 {
            let diagonal = cov[i * 2 + i];
            assert!(
                (diagonal.sqrt() - sd[i]).abs() <= 1e-12 * sd[i].max(1.0),
                "step {t}: {diagonal} vs sd {}",
                sd[i]
            );
        }
    }
}

#[test]
fn samples_stream_to_files_and_json() {
    let dir = TempDir::new("stream");
    let data = clusters(&dir);
    emfit(
        dir.path(),
        &["fit", "gmm", "--data", &data, "-k", "2", "--out", "g.json"],
    )
    .ok();
    // More than one chunk of 65,536 points.
    emfit(
        dir.path(),
        &[
            "sample",
            "--model",
            "g.json",
            "-n",
            "70000",
            "--out",
            "x.npy",
            "--hidden-out",
            "z.csv",
        ],
    )
    .ok();
    let (shape, values) = read_npy(&std::fs::read(dir.path().join("x.npy")).unwrap());
    assert_eq!(shape, vec![70_000, 2]);
    assert_eq!(values.len(), 140_000);
    assert!(values.iter().all(|v| v.is_finite()));
    let labels = dir.read("z.csv");
    assert_eq!(labels.lines().count(), 70_001);
    assert!(labels.lines().skip(1).all(|l| l == "0" || l == "1"));
    // Seeded: the same draws again.
    emfit(
        dir.path(),
        &["sample", "--model", "g.json", "-n", "70000", "--out", "y.npy"],
    )
    .ok();
    assert_eq!(
        std::fs::read(dir.path().join("x.npy")).unwrap(),
        std::fs::read(dir.path().join("y.npy")).unwrap()
    );
    let json = parse(
        emfit(
            dir.path(),
            &["--json", "sample", "--model", "g.json", "-n", "5", "--seed", "3"],
        )
        .ok(),
    );
    let rows = json["rows"].as_array().expect("the rows");
    assert_eq!(rows.len(), 5);
    assert!(rows.iter().all(|r| r.as_array().unwrap().len() == 2));
    let csv = emfit(
        dir.path(),
        &["sample", "--model", "g.json", "-n", "5", "--seed", "3"],
    );
    let first: Vec<f64> = csv
        .ok()
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(first[0].to_bits(), rows[0][0].as_f64().unwrap().to_bits());
}
