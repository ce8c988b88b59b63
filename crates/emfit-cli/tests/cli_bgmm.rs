//! End-to-end tests of `emfit fit bgmm` and the commands on its model files:
//! the fit keeps the components the data need, the model file drives
//! `predict` and `sample`, and bad flags, files and commands are refused
//! with one-line errors.

mod cli_support;

use cli_support::{Stream, TempDir, emfit, parse_rows};

/// Three well separated 2-D clusters (20% / 30% / 50%), with a header line.
fn three_clusters(n: usize, seed: u64) -> String {
    let mut s = Stream(seed);
    let mut text = String::from("x,y\n");
    for _ in 0..n {
        let u = s.uniform();
        let (cx, cy) = if u < 0.2 {
            (-6.0, 0.0)
        } else if u < 0.5 {
            (0.0, 6.0)
        } else {
            (6.0, 0.0)
        };
        text.push_str(&format!("{},{}\n", cx + s.normal(), cy + s.normal()));
    }
    text
}

#[test]
fn bgmm_with_eight_components_keeps_three_then_predicts_and_samples() {
    let dir = TempDir::new("bgmm");
    let data = dir.write("c.csv", three_clusters(300, 11));
    for covariance in ["full", "diag", "spherical", "tied"] {
        let out = emfit(
            dir.path(),
            &[
                "fit",
                "bgmm",
                "--data",
                &data,
                "--components",
                "8",
                "--covariance",
                covariance,
                "--weight-concentration",
                "0.01",
                "--max-iter",
                "500",
                "--tol",
                "1e-6",
                "--seed",
                "2",
                "--out",
                "b.json",
            ],
        );
        let text = out.ok();
        assert!(
            text.contains(&format!(
                "fitted bgmm: 3 effective components (weight > 1%) of 8, 2 features, {covariance} covariances, dirichlet_process weight prior"
            )),
            "{text}"
        );
        // The log's header and the loop's report name the objective; there
        // are no BIC and AIC.
        assert!(
            text.contains("iteration           lower bound   improvement")
                && !text.contains("log-likelihood")
                && text.contains("\nlower bound: ")
                && !text.contains("BIC"),
            "{text}"
        );
        let model = dir.read("b.json");
        assert!(model.contains("\"kind\": \"bgmm\""), "{model}");
    }

    // The last model (tied): every point of a cluster has one label, and the
    // three clusters three labels.
    let labels = parse_rows(emfit(dir.path(), &["predict", "--model", "b.json", "--data", &data]).ok());
    assert_eq!(labels.len(), 300);
    let mut s = Stream(11);
    let mut seen: [Option<f64>; 3] = [None; 3];
    for row in &labels {
        let u = s.uniform();
        let cluster = if u < 0.2 {
            0
        } else if u < 0.5 {
            1
        } else {
            2
        };
        s.normal();
        s.normal();
        assert_eq!(*seen[cluster].get_or_insert(row[0]), row[0], "cluster {cluster}");
    }
    let distinct: std::collections::BTreeSet<u64> = seen.iter().map(|l| l.unwrap().to_bits()).collect();
    assert_eq!(distinct.len(), 3);
    let proba = parse_rows(
        emfit(
            dir.path(),
            &["predict", "--model", "b.json", "--data", &data, "--proba"],
        )
        .ok(),
    );
    assert!(
        proba
            .iter()
            .all(|r| r.len() == 8 && (r.iter().sum::<f64>() - 1.0).abs() < 1e-9)
    );

    let drawn = parse_rows(
        emfit(
            dir.path(),
            &["sample", "--model", "b.json", "-n", "50", "--seed", "4"],
        )
        .ok(),
    );
    assert_eq!(drawn.len(), 50);

    emfit(dir.path(), &["score", "--model", "b.json", "--data", &data])
        .fails_with(&["score is not defined for a bgmm", "lower bound"]);
}

#[test]
fn the_weight_prior_is_written_and_a_dirichlet_distribution_also_prunes() {
    let dir = TempDir::new("bgmm-dd");
    let data = dir.write("c.csv", three_clusters(300, 5));
    let text = emfit(
        dir.path(),
        &[
            "fit",
            "bgmm",
            "--data",
            &data,
            "-k",
            "6",
            "--weight-prior",
            "dirichlet-distribution",
            "--weight-concentration",
            "0.001",
            "--max-iter",
            "500",
            "--out",
            "d.json",
        ],
    )
    .ok()
    .to_string();
    assert!(
        text.contains("3 effective components (weight > 1%) of 6") && text.contains("dirichlet_distribution"),
        "{text}"
    );
    assert!(
        dir.read("d.json")
            .contains("\"weight_concentration_prior\": 0.001")
    );
}

#[test]
fn bad_flags_and_files_are_refused_in_one_line() {
    let dir = TempDir::new("bgmm-bad");
    let data = dir.write("c.csv", three_clusters(40, 3));
    for (x, needle) in [
        ("0", "must be finite and > 0"),
        ("-1", "not -1"),
        ("nan", "not NaN"),
    ] {
        emfit(
            dir.path(),
            &["fit", "bgmm", "--data", &data, "--weight-concentration", x],
        )
        .fails_with(&["--weight-concentration", needle]);
    }
    emfit(
        dir.path(),
        &[
            "fit",
            "gmm",
            "--data",
            &data,
            "--weight-prior",
            "dirichlet-process",
        ],
    )
    .fails_with(&["--weight-prior applies to bgmm, not to gmm"]);
    emfit(dir.path(), &["fit", "bgmm", "--data", &data, "--learn", "means"])
        .fails_with(&["--learn does not apply to bgmm"]);
    emfit(dir.path(), &["fit", "bgmm", "--data", &data, "--mixtures", "2"])
        .fails_with(&["--mixtures applies to gmmhmm, not to bgmm"]);

    let lengths = dir.write("lengths.txt", "20\n20\n");
    emfit(
        dir.path(),
        &["fit", "bgmm", "--data", &data, "--lengths", &lengths],
    )
    .fails_with(&["a bgmm has no sequences"]);

    // A fitted file, then broken copies of it.
    emfit(
        dir.path(),
        &[
            "fit", "bgmm", "--data", &data, "-k", "3", "--out", "ok.json", "--quiet",
        ],
    )
    .ok();
    let good = dir.read("ok.json");
    emfit(
        dir.path(),
        &[
            "fit",
            "bgmm",
            "--data",
            &data,
            "--init",
            "ok.json",
            "--weight-concentration",
            "2",
        ],
    )
    .fails_with(&["--weight-concentration conflicts with --init"]);
    let mut v: serde_json::Value = serde_json::from_str(&good).unwrap();
    v["parameters"]["degrees_of_freedom"][1] = 0.25.into();
    dir.write("bad.json", v.to_string());
    emfit(dir.path(), &["predict", "--model", "bad.json", "--data", &data]).fails_with(&[
        "bad.json",
        "parameters.degrees_of_freedom[1]",
        "component 2",
    ]);
    let mut v: serde_json::Value = serde_json::from_str(&good).unwrap();
    v["parameters"].as_object_mut().unwrap().remove("mean_precision");
    dir.write("missing.json", v.to_string());
    emfit(
        dir.path(),
        &["predict", "--model", "missing.json", "--data", &data],
    )
    .fails_with(&["missing.json", "parameters.mean_precision"]);
    emfit(
        dir.path(),
        &["sample", "--model", "ok.json", "-n", "5", "--sequences", "2"],
    )
    .fails_with(&["a bgmm draws independent points"]);
    // A warm start from the file runs.
    emfit(
        dir.path(),
        &["fit", "bgmm", "--data", &data, "--init", "ok.json", "--quiet"],
    )
    .ok();
}
