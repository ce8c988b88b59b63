//! End-to-end tests of `emfit` on linear Gaussian state-space models: fit with
//! sequences and missing values, filter, smooth, score, sample.

mod cli_support;

use cli_support::{TempDir, emfit, parse_rows};

/// A 2-D random walk observed with noise (deterministic), `t` steps.
fn walk(t: usize, seed: u64, missing_every: usize) -> String {
    let mut state = seed;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 11) as f64 / (1u64 << 53) as f64) - 0.5
    };
    let (mut a, mut b) = (0.0, 0.0);
    let mut text = String::from("a,b\n");
    for k in 0..t {
        a = 0.9 * a + next();
        b = 0.5 * b + 0.3 * a + next();
        if missing_every > 0 && k % missing_every == 3 {
            text.push_str(&format!("{},\n", a + 0.1 * next()));
        } else {
            text.push_str(&format!("{},{}\n", a + 0.1 * next(), b + 0.1 * next()));
        }
    }
    text
}

/// One session, command after command, on the files the previous steps wrote
/// (long because every command line is written out).
#[test]
fn lgssm_fit_filter_smooth_score_sample() {
    let dir = TempDir::new("lgssm");
    let data = dir.write("y.csv", walk(200, 1, 0));
    let lengths = dir.write("l.txt", "120\n80\n");
    let text = emfit(
        dir.path(),
        &[
            "fit",
            "lgssm",
            "--data",
            &data,
            "--lengths",
            &lengths,
            "--max-iter",
            "15",
            "--out",
            "s.json",
        ],
    )
    .ok()
    .to_string();
    assert!(
        text.contains("fitted lgssm: state dimension 2, observation dimension 2"),
        "{text}"
    );
    assert!(dir.read("s.json").contains("\"kind\": \"lgssm\""));

    let filtered = parse_rows(
        emfit(
            dir.path(),
            &[
                "predict",
                "--model",
                "s.json",
                "--data",
                &data,
                "--lengths",
                &lengths,
            ],
        )
        .ok(),
    );
    assert_eq!(filtered.len(), 200);
    assert!(filtered.iter().all(|r| r.len() == 2));
    let smoothed = parse_rows(
        emfit(
            dir.path(),
            &[
                "smooth",
                "--model",
                "s.json",
                "--data",
                &data,
                "--lengths",
                &lengths,
            ],
        )
        .ok(),
    );
    assert_eq!(smoothed.len(), 200);
    assert!(
        smoothed
            .iter()
            .all(|r| r.len() == 4 && r[2] >= 0.0 && r[3] >= 0.0),
        "means then sds"
    );
    let score = emfit(
        dir.path(),
        &[
            "score",
            "--model",
            "s.json",
            "--data",
            &data,
            "--lengths",
            &lengths,
        ],
    );
    assert!(score.ok().contains("in 2 sequence(s)"));

    emfit(
        dir.path(),
        &[
            "sample",
            "--model",
            "s.json",
            "-n",
            "25",
            "--sequences",
            "2",
            "--out",
            "z.csv",
            "--hidden-out",
            "x.csv",
            "--lengths-out",
            "zl.txt",
        ],
    )
    .ok();
    assert_eq!(parse_rows(&dir.read("z.csv")).len(), 50);
    assert_eq!(parse_rows(&dir.read("x.csv")).len(), 50);
    emfit(
        dir.path(),
        &[
            "score",
            "--model",
            "s.json",
            "--data",
            "z.csv",
            "--lengths",
            "zl.txt",
        ],
    )
    .ok();

    // Warm start learning only Q and R, with the steady-state filter and a smaller state.
    emfit(
        dir.path(),
        &[
            "fit",
            "lgssm",
            "--data",
            &data,
            "--init",
            "s.json",
            "--learn",
            "Q,R",
            "--steady-state",
            "--max-iter",
            "5",
            "-q",
        ],
    )
    .ok();
    emfit(
        dir.path(),
        &[
            "fit",
            "lgssm",
            "--data",
            &data,
            "--state-dim",
            "1",
            "--max-iter",
            "5",
            "-q",
        ],
    )
    .ok();
    emfit(dir.path(), &["fit", "lgssm", "--data", &data, "--learn", "B"]).fails_with(&[
        "--learn B",
        "no inputs",
        "--inputs",
    ]);
    emfit(dir.path(), &["fit", "lgssm", "--data", &data, "--learn", "slope"])
        .fails_with(&["'slope'", "A, Q, H, R, m0, P0"]);
    emfit(dir.path(), &["fit", "lgssm", "--data", &data, "-k", "2"]).fails_with(&["--components"]);
    emfit(
        dir.path(),
        &["predict", "--model", "s.json", "--data", &data, "--proba"],
    )
    .fails_with(&["--proba"]);
}

#[test]
fn lgssm_missing_values() {
    let dir = TempDir::new("lgssm-missing");
    let data = dir.write("y.csv", walk(150, 2, 10));
    // Without --missing the empty cells are errors naming line and column.
    emfit(dir.path(), &["fit", "lgssm", "--data", &data])
        .fails_with(&["y.csv", "line 5", "column 2", "missing"]);
    emfit(
        dir.path(),
        &[
            "fit",
            "lgssm",
            "--data",
            &data,
            "--missing",
            "--max-iter",
            "10",
            "--out",
            "m.json",
            "-q",
        ],
    )
    .ok();
    let smoothed = parse_rows(
        emfit(
            dir.path(),
            &["smooth", "--model", "m.json", "--data", &data, "--missing"],
        )
        .ok(),
    );
    assert_eq!(smoothed.len(), 150);
    assert!(
        smoothed.iter().all(|r| r.iter().all(|v| v.is_finite())),
        "the smoother fills the gaps"
    );
    // --missing is only for lgssm.
    emfit(dir.path(), &["fit", "gmm", "--data", &data, "--missing"]).fails_with(&["--missing", "lgssm"]);
}
