//! End-to-end tests of `emfit fit`, `predict`, `score`, `sample` and `smooth` on
//! small files: success paths for every model family, and bad model files.

mod cli_support;

use cli_support::{Stream, TempDir, emfit, parse_rows};

/// Two well separated 2-D clusters (30% / 70%), with a header line.
fn two_clusters(n: usize, seed: u64) -> String {
    let mut s = Stream(seed);
    let mut text = String::from("x,y\n");
    for _ in 0..n {
        let (cx, cy) = if s.uniform() < 0.3 { (0.0, 0.0) } else { (5.0, 1.0) };
        text.push_str(&format!("{},{}\n", cx + s.normal(), cy + 0.5 * s.normal()));
    }
    text
}

fn log_likelihood_line(text: &str) -> f64 {
    let line = text
        .lines()
        .find(|l| l.starts_with("log-likelihood:"))
        .expect("a log-likelihood line");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// One session of a user, command after command: each step reads the files
/// the previous ones wrote, so it stays one test (long because every command
/// line is written out).
#[test]
fn gmm_fit_predict_score_sample() {
    let dir = TempDir::new("gmm");
    let data = dir.write("g.csv", two_clusters(200, 1));
    let out = emfit(
        dir.path(),
        &[
            "fit", "gmm", "--data", &data, "-k", "2", "--seed", "3", "--out", "m.json",
        ],
    );
    let text = out.ok();
    // Not a terminal: the plain log, the report, the parameters, where the model went.
    assert!(
        text.contains("iteration") && text.contains("log-likelihood") && text.contains("improvement"),
        "{text}"
    );
    assert!(text.contains("termination: converged"), "{text}");
    assert!(
        text.contains("fitted gmm: 2 components, 2 features, full covariances"),
        "{text}"
    );
    assert!(text.contains("model written to m.json"), "{text}");
    let model = dir.read("m.json");
    assert!(
        model.contains("\"kind\": \"gmm\"") && model.contains("\"format_version\": 3"),
        "{model}"
    );

    let labels = parse_rows(emfit(dir.path(), &["predict", "--model", "m.json", "--data", &data]).ok());
    assert_eq!(labels.len(), 200);
    assert!(
        labels
            .iter()
            .all(|r| r.len() == 1 && (r[0] == 0.0 || r[0] == 1.0))
    );
    let proba = parse_rows(
        emfit(
            dir.path(),
            &["predict", "--model", "m.json", "--data", &data, "--proba"],
        )
        .ok(),
    );
    assert_eq!(proba.len(), 200);
    assert!(
        proba
            .iter()
            .all(|r| r.len() == 2 && (r[0] + r[1] - 1.0).abs() < 1e-9)
    );

    let score = emfit(dir.path(), &["score", "--model", "m.json", "--data", &data]);
    let ll = log_likelihood_line(score.ok());
    let fit_ll: f64 = text
        .lines()
        .find(|l| l.starts_with("log-likelihood:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap()
        .parse()
        .unwrap();
    assert!((ll - fit_ll).abs() < 1e-5, "score {ll} vs fit {fit_ll}");
    assert!(score.stdout.contains("BIC") && score.stdout.contains("free parameters: 11"));

    emfit(
        dir.path(),
        &[
            "sample",
            "--model",
            "m.json",
            "-n",
            "40",
            "--seed",
            "5",
            "--out",
            "s.npy",
            "--hidden-out",
            "h.csv",
        ],
    )
    .ok();
    assert_eq!(parse_rows(&dir.read("h.csv")).len(), 40);
    // The sample reads back (npy) and scores.
    emfit(dir.path(), &["score", "--model", "m.json", "--data", "s.npy"]).ok();
    // Same seed, same sample.
    let a = emfit(
        dir.path(),
        &["sample", "--model", "m.json", "-n", "5", "--seed", "9"],
    )
    .stdout;
    let b = emfit(
        dir.path(),
        &["sample", "--model", "m.json", "-n", "5", "--seed", "9"],
    )
    .stdout;
    assert_eq!(a, b);
    assert_eq!(parse_rows(&a).len(), 5);

    // Warm start from the fitted model: converges at once.
    let warm = emfit(
        dir.path(),
        &[
            "fit", "gmm", "--data", &data, "--init", "m.json", "--quiet", "--out", "m2.json",
        ],
    );
    assert_eq!(warm.ok(), "");
    assert!(dir.read("m2.json").contains("\"kind\": \"gmm\""));
    // smooth is for sequence models.
    emfit(dir.path(), &["smooth", "--model", "m.json", "--data", &data]).fails_with(&["predict --proba"]);
}

#[test]
fn gmm_options_and_restarts() {
    let dir = TempDir::new("gmmopt");
    let data = dir.write(
        "g.txt",
        two_clusters(120, 2).replacen("x,y\n", "", 1).replace(',', " "),
    );
    let out = emfit(
        dir.path(),
        &[
            "fit",
            "gmm",
            "--data",
            &data,
            "-k",
            "2",
            "--covariance",
            "diag",
            "--restarts",
            "3",
            "--max-iter",
            "20",
        ],
    );
    let text = out.ok();
    assert!(
        text.contains("diag covariances") && text.contains("restarts (best:"),
        "{text}"
    );
    assert!(text.contains("model not saved"), "{text}");
    let text = emfit(
        dir.path(),
        &[
            "fit",
            "gmm",
            "--data",
            &data,
            "--learn",
            "weights,means",
            "--max-iter",
            "5",
        ],
    )
    .stdout;
    assert!(text.contains("fitted gmm"), "{text}");
    emfit(dir.path(), &["fit", "gmm", "--data", &data, "--learn", "A"])
        .fails_with(&["--learn", "'A'", "weights"]);
    emfit(dir.path(), &["fit", "gmm", "--data", &data, "--mixtures", "2"])
        .fails_with(&["--mixtures", "gmmhmm"]);
    emfit(dir.path(), &["fit", "gmm", "--data", &data, "--tol=-1"]).fails_with(&["tol"]);
    emfit(dir.path(), &["fit", "gmm", "--data", &data, "-k", "500"]).fails_with(&[]);
    let lengths = dir.write("l.txt", "120\n");
    emfit(
        dir.path(),
        &["fit", "gmm", "--data", &data, "--lengths", &lengths],
    )
    .fails_with(&["--lengths", "gmm"]);
}

#[test]
fn acceleration_and_stopping_rules() {
    let dir = TempDir::new("gmmstop");
    let data = dir.write("g.csv", two_clusters(300, 4));
    let fit = |extra: &[&str]| {
        let mut args = vec!["fit", "gmm", "--data", &data, "-k", "2", "--seed", "1"];
        args.extend_from_slice(extra);
        emfit(dir.path(), &args)
    };
    // Exactly --max-iter iterations with --stop iterations, zero gains or not
    // (plain EM: one E-step per iteration, as the Python libraries).
    let text = fit(&[
        "--acceleration",
        "none",
        "--stop",
        "iterations",
        "--max-iter",
        "40",
        "--on-fall",
        "continue",
    ])
    .ok()
    .to_string();
    assert!(text.contains("iterations: 40 (41 E-steps, 40 M-steps"), "{text}");
    let text = fit(&["--acceleration", "squarem", "--tol", "1e-10"])
        .ok()
        .to_string();
    assert!(text.contains("termination: converged"), "{text}");
    let squarem = log_likelihood_line(&text);
    let text = fit(&["--acceleration", "none", "--tol", "1e-10"])
        .ok()
        .to_string();
    let plain = log_likelihood_line(&text);
    assert!(
        (squarem - plain).abs() <= 1e-6 * plain.abs(),
        "{squarem} vs {plain}"
    );
    let text = fit(&["--stop", "params", "--param-tol", "1e-4"]).ok().to_string();
    assert!(text.contains("termination: converged"), "{text}");
    fit(&["--stop", "params", "--param-tol=-1"])
        .fails_with(&["--param-tol must be a finite number ≥ 0, got -1"]);
    let usage = fit(&["--acceleration", "fast"]);
    assert_eq!(usage.code, Some(2), "a usage error: {}", usage.stderr);
    assert!(usage.stderr.contains("--acceleration"), "{}", usage.stderr);
}

/// One session, command after command, on the files the previous steps wrote
/// (long because every command line is written out).
#[test]
fn gaussian_hmm_with_sequences() {
    let dir = TempDir::new("hmm");
    let data = dir.write("g.csv", two_clusters(150, 3));
    emfit(
        dir.path(),
        &[
            "fit", "hmm", "--data", &data, "-k", "2", "--out", "h.json", "--quiet",
        ],
    )
    .ok();
    assert!(dir.read("h.json").contains("\"kind\": \"gaussian-hmm\""));
    // Sample 4 sequences of 30 and fit them with their lengths.
    emfit(
        dir.path(),
        &[
            "sample",
            "--model",
            "h.json",
            "-n",
            "30",
            "--sequences",
            "4",
            "--out",
            "s.csv",
            "--lengths-out",
            "l.txt",
            "--hidden-out",
            "z.csv",
        ],
    )
    .ok();
    assert_eq!(dir.read("l.txt"), "30\n30\n30\n30\n");
    let text = emfit(
        dir.path(),
        &[
            "fit",
            "hmm",
            "--data",
            "s.csv",
            "--lengths",
            "l.txt",
            "--covariance",
            "spherical",
            "--out",
            "h2.json",
        ],
    )
    .ok()
    .to_string();
    assert!(
        text.contains("fitted hmm: 2 states") && text.contains("spherical"),
        "{text}"
    );
    let states = parse_rows(
        emfit(
            dir.path(),
            &[
                "predict",
                "--model",
                "h2.json",
                "--data",
                "s.csv",
                "--lengths",
                "l.txt",
            ],
        )
        .ok(),
    );
    assert_eq!(states.len(), 120);
    let post = parse_rows(
        emfit(
            dir.path(),
            &[
                "smooth",
                "--model",
                "h2.json",
                "--data",
                "s.csv",
                "--lengths",
                "l.txt",
            ],
        )
        .ok(),
    );
    assert_eq!(post.len(), 120);
    assert!(
        post.iter()
            .all(|r| r.len() == 2 && (r[0] + r[1] - 1.0).abs() < 1e-9)
    );
    let score = emfit(
        dir.path(),
        &[
            "score",
            "--model",
            "h2.json",
            "--data",
            "s.csv",
            "--lengths",
            "l.txt",
        ],
    );
    assert!(score.ok().contains("in 4 sequence(s)"));
    // Learn only the transitions from the fitted model.
    emfit(
        dir.path(),
        &[
            "fit",
            "hmm",
            "--data",
            "s.csv",
            "--lengths",
            "l.txt",
            "--init",
            "h2.json",
            "--learn",
            "t",
            "--quiet",
        ],
    )
    .ok();
    // Posteriors to an .npy file.
    emfit(
        dir.path(),
        &[
            "predict",
            "--model",
            "h2.json",
            "--data",
            "s.csv",
            "--lengths",
            "l.txt",
            "--proba",
            "--out",
            "p.npy",
        ],
    )
    .ok();
    assert!(std::fs::metadata(dir.path().join("p.npy")).unwrap().len() > 120 * 16);
}

/// Two sessions (GMM-HMM, then categorical HMM), each on the files its
/// previous steps wrote (long because every command line is written out).
#[test]
fn gmm_hmm_and_categorical_hmm() {
    let dir = TempDir::new("gmmhmm");
    let data = dir.write("g.csv", two_clusters(120, 4));
    let text = emfit(
        dir.path(),
        &[
            "fit",
            "gmmhmm",
            "--data",
            &data,
            "-k",
            "2",
            "-m",
            "2",
            "--max-iter",
            "10",
            "--out",
            "gh.json",
        ],
    )
    .ok()
    .to_string();
    assert!(
        text.contains("2 states x 2 mixture components") && text.contains("diag covariances"),
        "{text}"
    );
    assert!(dir.read("gh.json").contains("\"kind\": \"gmm-hmm\""));
    assert_eq!(
        parse_rows(emfit(dir.path(), &["predict", "--model", "gh.json", "--data", &data]).ok()).len(),
        120
    );

    // Symbols 0..2 drifting between two regimes.
    let mut s = Stream(7);
    let mut symbols = String::new();
    let mut regime = 0;
    for _ in 0..200 {
        if s.uniform() < 0.1 {
            regime = 1 - regime;
        }
        let u = s.uniform();
        let sym = if regime == 0 {
            usize::from(u > 0.8)
        } else {
            1 + usize::from(u > 0.3)
        };
        symbols.push_str(&format!("{sym}\n"));
    }
    let sym = dir.write("sym.csv", symbols);
    let text = emfit(
        dir.path(),
        &[
            "fit",
            "categorical-hmm",
            "--data",
            &sym,
            "-k",
            "2",
            "--out",
            "c.json",
        ],
    )
    .ok()
    .to_string();
    assert!(
        text.contains("fitted categorical-hmm: 2 states, 3 symbols"),
        "{text}"
    );
    assert_eq!(
        parse_rows(emfit(dir.path(), &["predict", "--model", "c.json", "--data", &sym]).ok()).len(),
        200
    );
    let drawn = parse_rows(emfit(dir.path(), &["sample", "--model", "c.json", "-n", "20"]).ok());
    assert!(
        drawn
            .iter()
            .all(|r| r.len() == 1 && r[0] >= 0.0 && r[0] < 3.0 && r[0].fract() == 0.0)
    );
    // Symbols the model does not know, and values that are not symbols.
    let bad = dir.write("bad.csv", "0\n1\n7\n");
    emfit(dir.path(), &["predict", "--model", "c.json", "--data", &bad])
        .fails_with(&["bad.csv", "row 3", "symbol 7"]);
    let bad = dir.write("frac.csv", "0\n1.5\n");
    emfit(dir.path(), &["fit", "categorical-hmm", "--data", &bad]).fails_with(&["frac.csv", "row 2", "1.5"]);
    emfit(
        dir.path(),
        &["fit", "categorical-hmm", "--data", &sym, "--symbols", "2"],
    )
    .fails_with(&["symbol 2", "2 symbols"]);
}

#[test]
fn bad_model_files_and_dimensions() {
    let dir = TempDir::new("badmodel");
    let data = dir.write("g.csv", two_clusters(60, 5));
    emfit(
        dir.path(),
        &[
            "fit", "gmm", "--data", &data, "-k", "2", "--out", "m.json", "--quiet",
        ],
    )
    .ok();
    let good = dir.read("m.json");

    let three = dir.write("three.csv", "1,2,3\n4,5,6\n");
    emfit(dir.path(), &["predict", "--model", "m.json", "--data", &three]).fails_with(&[
        "three.csv",
        "3 columns",
        "expected 2",
    ]);
    emfit(dir.path(), &["fit", "gmm", "--data", &three, "--init", "m.json"])
        .fails_with(&["3 columns", "expected 2"]);

    emfit(dir.path(), &["predict", "--model", "nope.json", "--data", &data]).fails_with(&["nope.json"]);
    let f = dir.write("trunc.json", &good[..good.len() / 2]);
    emfit(dir.path(), &["score", "--model", &f, "--data", &data]).fails_with(&["model file"]);
    let f = dir.write("garbage.json", "not json at all");
    emfit(dir.path(), &["score", "--model", &f, "--data", &data]).fails_with(&["model file"]);
    let f = dir.write("kind.json", good.replace("\"gmm\"", "\"banana\""));
    emfit(dir.path(), &["score", "--model", &f, "--data", &data]).fails_with(&[]);
    let f = dir.write(
        "version.json",
        good.replace("\"format_version\": 3", "\"format_version\": 99"),
    );
    emfit(dir.path(), &["score", "--model", &f, "--data", &data]).fails_with(&["format_version 99"]);
    // A negative weight: rejected by validation, not a panic.
    let weights_start = good.find("\"weights\"").unwrap();
    let first_number = good[weights_start..].find(|c: char| c.is_ascii_digit()).unwrap() + weights_start;
    let mut negative = good.clone();
    negative.insert(first_number, '-');
    let f = dir.write("negative.json", negative);
    emfit(dir.path(), &["score", "--model", &f, "--data", &data]).fails_with(&[]);
    // Warm start from the wrong kind of model.
    emfit(dir.path(), &["fit", "hmm", "--data", &data, "--init", "m.json"]).fails_with(&["gmm"]);
    // The output folder does not exist: error, and no file left behind.
    emfit(
        dir.path(),
        &[
            "fit",
            "gmm",
            "--data",
            &data,
            "--out",
            "no/such/dir/m.json",
            "--quiet",
        ],
    )
    .fails_with(&["m.json"]);
    assert!(!dir.path().join("no").exists());
    emfit(dir.path(), &["sample", "--model", "m.json", "-n", "0"])
        .fails_with(&["-n must be at least 1, got 0"]);
}

#[test]
fn same_seed_same_model_with_one_or_two_threads() {
    let dir = TempDir::new("threads");
    let data = dir.write("g.csv", two_clusters(150, 6));
    for threads in ["1", "2"] {
        let out = format!("m{threads}.json");
        let args = [
            "--threads",
            threads,
            "fit",
            "gmm",
            "--data",
            &data,
            "-k",
            "3",
            "--restarts",
            "3",
            "--seed",
            "11",
        ];
        let mut all = args.to_vec();
        all.extend(["--max-iter", "30", "-q", "--out", &out]);
        emfit(dir.path(), &all).ok();
    }
    assert_eq!(dir.read("m1.json"), dir.read("m2.json"));
}

/// `--columns` picks columns by header name or number, in the order given:
/// the fit equals the fit of a file holding only those columns.
#[test]
fn columns_are_selected_by_name_or_number() {
    let dir = TempDir::new("columns");
    let text = two_clusters(200, 9);
    let wide: String = text
        .lines()
        .enumerate()
        .map(|(i, l)| match i {
            0 => format!("id,{l},const\n"),
            _ => format!("{i},{l},7\n"),
        })
        .collect();
    let narrow = dir.write("narrow.csv", text);
    let wide = dir.write("wide.csv", wide);
    let fit = |data: &str, extra: &[&str]| {
        let mut args = vec!["fit", "gmm", "--data", data, "-k", "2", "--seed", "3"];
        args.extend_from_slice(extra);
        log_likelihood_line(emfit(dir.path(), &args).ok())
    };
    let reference = fit(&narrow, &[]);
    assert_eq!(fit(&wide, &["--columns", "x,y"]), reference);
    assert_eq!(fit(&wide, &["--columns", "2,3"]), reference);
    // Swapped features: the same mixture up to the order of the features.
    let swapped = fit(&wide, &["--columns", "y,x"]);
    assert!(
        (swapped - reference).abs() <= 1e-9 * reference.abs(),
        "{swapped} vs {reference}"
    );
}

/// Two clusters in units of 1e-4: the default floor (relative to each
/// feature's variance) finds them; scikit-learn's absolute `--reg-covar
/// 1e-6`, far above the data's variance, merges them, and the report says
/// where the floor binds.
#[test]
fn the_default_floor_follows_the_units_and_reg_covar_is_absolute() {
    let dir = TempDir::new("regcovar");
    let small: String = two_clusters(300, 5)
        .lines()
        .enumerate()
        .map(|(i, l)| match i {
            0 => format!("{l}\n"),
            _ => {
                let v: Vec<String> = l
                    .split(',')
                    .map(|x| format!("{:e}", x.parse::<f64>().unwrap() * 1e-4))
                    .collect();
                format!("{}\n", v.join(","))
            }
        })
        .collect();
    let data = dir.write("small.csv", small);
    // The report's text, and the distance between the fitted means' first coordinates.
    let fit = |extra: &[&str]| {
        let mut args = vec![
            "fit", "gmm", "--data", &data, "-k", "2", "--seed", "1", "--out", "m.json",
        ];
        args.extend_from_slice(extra);
        let text = emfit(dir.path(), &args).ok().to_string();
        let model: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("m.json")).unwrap()).unwrap();
        let m = &model["parameters"]["means"];
        let spread = (m[0][0].as_f64().unwrap() - m[1][0].as_f64().unwrap()).abs();
        (text, spread)
    };
    let (text, spread) = fit(&[]);
    assert!(
        spread > 3e-4,
        "the clusters 5e-4 apart are found: {spread}\n{text}"
    );
    assert!(!text.contains("floored on feature"), "{text}");
    let (text, spread) = fit(&["--reg-covar", "1e-6"]);
    assert!(spread < 1e-4, "a floor of 1e-6 merges them: {spread}\n{text}");
    assert!(text.contains("floored on feature 1"), "{text}");
}
