//! End-to-end tests of `emfit` on state-space models with inputs and
//! offsets (`--inputs`), of `emfit forecast` and of `emfit innovations`.

mod cli_support;

use cli_support::svg::check_svg;
use cli_support::{TempDir, emfit, parse_rows};

/// `x_k = 0.8 x_{k-1} + 0.5 u_k + w_k`, `y_k = x_k + 2 + v_k` with a known
/// sine input (deterministic noise): the observations and the inputs as
/// CSV text, `t` steps.
fn driven(t: usize) -> (String, String) {
    let mut state = 7u64;
    let mut noise = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 11) as f64 / (1u64 << 53) as f64) - 0.5
    };
    let (mut y, mut u) = (String::new(), String::new());
    let mut x = 0.0;
    for k in 0..t {
        let input = (k as f64 / 5.0).sin() * 3.0;
        if k > 0 {
            x = 0.8 * x + 0.5 * input + 0.3 * noise();
        }
        y.push_str(&format!("{}\n", x + 2.0 + 0.3 * noise()));
        u.push_str(&format!("{input}\n"));
    }
    (y, u)
}

#[test]
fn fit_with_inputs_learns_b_and_saves_it() {
    let dir = TempDir::new("inputs-fit");
    let (y, u) = driven(600);
    let data = dir.write("y.csv", y);
    let inputs = dir.write("u.csv", u);
    emfit(
        dir.path(),
        &[
            "fit",
            "lgssm",
            "--data",
            &data,
            "--inputs",
            &inputs,
            "--learn",
            "A,Q,R,B,observation_offset",
            "--max-iter",
            "300",
            "--out",
            "m.json",
            "-q",
        ],
    )
    .ok();
    let file: serde_json::Value = serde_json::from_str(&dir.read("m.json")).unwrap();
    let p = &file["parameters"];
    assert_eq!(file["format_version"], 3);
    let b = p["transition_input_matrix"][0][0].as_f64().unwrap();
    let a = p["transition_matrices"][0][0].as_f64().unwrap();
    let d = p["observation_offsets"][0].as_f64().unwrap();
    assert!((b - 0.5).abs() < 0.1, "B = {b}");
    assert!((a - 0.8).abs() < 0.1, "A = {a}");
    assert!((d - 2.0).abs() < 0.3, "d = {d}");
    // D was not learned: still zero.
    assert_eq!(p["observation_input_matrix"][0][0], 0.0);

    // The model with inputs needs them to be applied, of the right shape.
    let score = emfit(
        dir.path(),
        &["score", "--model", "m.json", "--data", &data, "--inputs", &inputs],
    );
    assert!(score.ok().contains("log-likelihood"));
    assert_eq!(
        parse_rows(
            emfit(
                dir.path(),
                &[
                    "predict", "--model", "m.json", "--data", &data, "--inputs", &inputs
                ]
            )
            .ok()
        )
        .len(),
        600
    );
    emfit(dir.path(), &["smooth", "--model", "m.json", "--data", &data])
        .fails_with(&["the model has 1 inputs", "--inputs FILE"]);
    let short = dir.write("short.csv", "1\n2\n3\n");
    emfit(
        dir.path(),
        &["score", "--model", "m.json", "--data", &data, "--inputs", &short],
    )
    .fails_with(&["--inputs", "short.csv", "3 rows", "y.csv", "needs 600"]);
    let wide = dir.write("wide.csv", "1,2\n".repeat(600));
    emfit(
        dir.path(),
        &["score", "--model", "m.json", "--data", &data, "--inputs", &wide],
    )
    .fails_with(&["--inputs has 2 columns", "1 inputs"]);
    let bad = dir.write("bad.csv", format!("{}x\n", "1\n".repeat(10)));
    emfit(dir.path(), &["fit", "lgssm", "--data", &data, "--inputs", &bad])
        .fails_with(&["bad.csv", "line 11"]);
    // With --lengths the inputs are split as the observations: the score
    // of two sequences is the sum of their scores.
    let ll = |data: &str, inputs: &str, lengths: Option<&str>| {
        let mut args = vec![
            "--json", "score", "--model", "m.json", "--data", data, "--inputs", inputs,
        ];
        args.extend(lengths.map(|l| ["--lengths", l]).into_iter().flatten());
        let v: serde_json::Value = serde_json::from_str(emfit(dir.path(), &args).ok()).unwrap();
        v["log_likelihood"].as_f64().unwrap()
    };
    let (y, u) = driven(600);
    let split = |text: &str, name: &str, part: std::ops::Range<usize>| {
        dir.write(
            name,
            text.lines()
                .skip(part.start)
                .take(part.len())
                .map(|l| format!("{l}\n"))
                .collect::<String>(),
        )
    };
    let (y1, y2) = (split(&y, "y1.csv", 0..250), split(&y, "y2.csv", 250..600));
    let (u1, u2) = (split(&u, "u1.csv", 0..250), split(&u, "u2.csv", 250..600));
    let lengths = dir.write("l.txt", "250\n350\n");
    let both = ll(&data, &inputs, Some(&lengths));
    let parts = ll(&y1, &u1, None) + ll(&y2, &u2, None);
    assert!((both - parts).abs() < 1e-9 * both.abs(), "{both} vs {parts}");
    emfit(dir.path(), &["sample", "--model", "m.json", "-n", "5"])
        .fails_with(&["1 inputs", "sample_with_inputs"]);
    // An explicit --state-dim with more free parameters (B and D among
    // them) than the 600 values of the data is refused.
    emfit(
        dir.path(),
        &[
            "fit",
            "lgssm",
            "--data",
            &data,
            "--inputs",
            &inputs,
            "--state-dim",
            "40",
        ],
    )
    .fails_with(&["--state-dim 40", "free parameters", "at most"]);
    // Only a state-space model takes inputs.
    emfit(dir.path(), &["fit", "gmm", "--data", &data, "--inputs", &inputs])
        .fails_with(&["--inputs", "lgssm"]);
}

/// A random walk `x_k = x_{k-1} + w_k`, `y_k = x_k + v_k` with q = 0.5,
/// r = 2, m0 = 0, P0 = 1.
const WALK: &str = r#"{"format_version": 3, "kind": "lgssm", "parameters": {
    "transition_matrices": [[1.0]], "transition_covariance": [[0.5]],
    "observation_matrices": [[1.0]], "observation_covariance": [[2.0]],
    "initial_state_mean": [0.0], "initial_state_covariance": [[1.0]],
    "observation_offsets": [10.0]}}"#;

/// The forecast of the random walk equals its closed form: the last filtered
/// mean (plus the offset) and variance `P_T + j q + r` at j steps ahead,
/// with `P_T` from the scalar Riccati recursion.
#[test]
fn forecast_of_a_random_walk_has_the_closed_form() {
    let dir = TempDir::new("forecast-walk");
    let model = dir.write("walk.json", WALK);
    let ys = [10.5, 11.0, 9.0, 10.0, 12.0, 11.5];
    let data = dir.write("y.csv", ys.iter().map(|y| format!("{y}\n")).collect::<String>());
    let (q, r) = (0.5, 2.0);
    let (mut m, mut p) = (0.0, 1.0);
    for (k, y) in ys.iter().enumerate() {
        if k > 0 {
            p += q;
        }
        let gain = p / (p + r);
        m += gain * (y - 10.0 - m);
        p *= 1.0 - gain;
    }
    let rows = parse_rows(
        emfit(
            dir.path(),
            &["forecast", "--model", &model, "--data", &data, "--horizon", "4"],
        )
        .ok(),
    );
    assert_eq!(rows.len(), 4);
    for (j, row) in rows.iter().enumerate() {
        let ahead = (j + 1) as f64;
        assert_eq!(row[0], 7.0 + j as f64, "the step forecast, counted from 1");
        assert!((row[1] - (m + 10.0)).abs() < 1e-12, "{row:?}");
        let sd = (p + ahead * q + r).sqrt();
        assert!((row[2] - sd).abs() < 1e-12, "{row:?} vs {sd}");
    }
    // With --lengths, the last sequence is forecast.
    let lengths = dir.write("l.txt", "2\n4\n");
    let tail = dir.write(
        "tail.csv",
        ys[2..].iter().map(|y| format!("{y}\n")).collect::<String>(),
    );
    let forecast = |data: &str, lengths: Option<&str>| {
        let mut args = vec!["forecast", "--model", &model, "--data", data, "--horizon", "3"];
        args.extend(lengths.map(|l| ["--lengths", l]).into_iter().flatten());
        emfit(dir.path(), &args).ok().to_string()
    };
    assert_eq!(forecast(&data, Some(&lengths)), forecast(&tail, None));
    // From step 2 (its filtered state after two observations).
    let rows = parse_rows(
        emfit(
            dir.path(),
            &[
                "forecast",
                "--model",
                &model,
                "--data",
                &data,
                "--horizon",
                "1",
                "--origin",
                "2",
            ],
        )
        .ok(),
    );
    assert_eq!(rows[0][0], 3.0);
    let json = emfit(
        dir.path(),
        &[
            "--json",
            "forecast",
            "--model",
            &model,
            "--data",
            &data,
            "--horizon",
            "2",
            "--plots",
            "plots",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(json.ok()).unwrap();
    assert_eq!(v["origin"], 6);
    assert_eq!(v["forecast"]["rows"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        v["forecast"]["columns"],
        serde_json::json!(["step", "mean0", "sd0"])
    );
    let svg = dir.read("plots/forecast.svg");
    check_svg(&svg);
    assert!(svg.contains("95% band") && svg.contains("forecast"));
}

#[test]
fn forecast_refuses_bad_requests() {
    let dir = TempDir::new("forecast-bad");
    let model = dir.write("walk.json", WALK);
    let data = dir.write("y.csv", "1\n2\n3\n");
    let run = |extra: &[&str]| {
        let mut args = vec!["forecast", "--model", &model, "--data", &data];
        args.extend_from_slice(extra);
        emfit(dir.path(), &args)
    };
    run(&["--horizon", "0"]).fails_with(&["--horizon must be at least 1"]);
    run(&["--horizon", "2", "--origin", "4"]).fails_with(&["--origin", "from 1 to 3", "got 4"]);
    run(&["--horizon", "2", "--origin", "0"]).fails_with(&["--origin", "got 0"]);
    let future = dir.write("f.csv", "1\n2\n");
    run(&["--horizon", "2", "--future-inputs", &future]).fails_with(&["--future-inputs", "no inputs"]);
    run(&["--horizon", "2", "--out", &data]).fails_with(&["--out", "--data"]);
    let gmm = dir.write(
        "g.json",
        r#"{"format_version": 3, "kind": "gmm", "parameters": {"covariance_type": "spherical",
            "weights": [1.0], "means": [[0.0]], "covariances": [1.0]}}"#,
    );
    emfit(
        dir.path(),
        &["forecast", "--model", &gmm, "--data", &data, "--horizon", "2"],
    )
    .fails_with(&["forecast applies to lgssm", "gmm"]);
}

/// The innovations of the random walk equal their closed form: with the
/// predicted moments `m⁻`, `P⁻` of the scalar Kalman recursion,
/// `v_k = y_k − 10 − m⁻_k`, `S_k = P⁻_k + r`, `z_k = v_k / √S_k`; each
/// sequence of `--lengths` starts again from m0, P0; a missing value has
/// no innovation, and the filter goes on without it.
#[test]
fn innovations_of_a_random_walk_have_the_closed_form() {
    let dir = TempDir::new("innovations-walk");
    let model = dir.write("walk.json", WALK);
    let ys = [10.5, 11.0, f64::NAN, 10.0, 12.0, 11.5, 9.5];
    let csv: String = ys
        .iter()
        .map(|y| {
            if y.is_nan() {
                "NaN\n".to_string()
            } else {
                format!("{y}\n")
            }
        })
        .collect();
    let data = dir.write("y.csv", csv);
    let lengths = dir.write("l.txt", "4\n3\n");
    let (q, r): (f64, f64) = (0.5, 2.0);
    let mut expected = Vec::new();
    for sequence in [&ys[..4], &ys[4..]] {
        let (mut m, mut p) = (0.0, 1.0);
        for (k, y) in sequence.iter().enumerate() {
            if k > 0 {
                p += q;
            }
            let s = p + r;
            expected.push((y - 10.0 - m, s.sqrt(), (y - 10.0 - m) / s.sqrt()));
            if !y.is_nan() {
                let gain = p / s;
                m += gain * (y - 10.0 - m);
                p *= 1.0 - gain;
            }
        }
    }
    let json = emfit(
        dir.path(),
        &[
            "--json",
            "innovations",
            "--model",
            &model,
            "--data",
            &data,
            "--lengths",
            &lengths,
            "--missing",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(json.ok()).unwrap();
    assert_eq!(
        v["innovations"]["columns"],
        serde_json::json!(["error0", "sd0", "z0"])
    );
    let rows = v["innovations"]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), ys.len());
    for (k, (row, (e, sd, z))) in rows.iter().zip(&expected).enumerate() {
        assert!(
            (row[1].as_f64().unwrap() - sd).abs() < 1e-12,
            "row {k}: {row} vs sd {sd}"
        );
        if e.is_nan() {
            assert!(row[0].is_null() && row[2].is_null(), "row {k}: {row}");
        } else {
            assert!(
                (row[0].as_f64().unwrap() - e).abs() < 1e-12,
                "row {k}: {row} vs {e}"
            );
            assert!(
                (row[2].as_f64().unwrap() - z).abs() < 1e-12,
                "row {k}: {row} vs {z}"
            );
        }
    }
    let summary = &v["standardised_residuals"][0];
    assert_eq!(summary["values"], 6);
    let zs: Vec<f64> = expected.iter().map(|e| e.2).filter(|z| z.is_finite()).collect();
    let mean = zs.iter().sum::<f64>() / 6.0;
    assert!((summary["mean"].as_f64().unwrap() - mean).abs() < 1e-12);
    // The table as CSV on standard output, the summary on standard error.
    let run = emfit(
        dir.path(),
        &["innovations", "--model", &model, "--data", &data, "--missing"],
    );
    assert!(run.ok().starts_with("error0,sd0,z0\n"), "{}", run.stdout);
    assert_eq!(run.stdout.lines().count(), 1 + ys.len());
    assert!(
        run.stderr.contains("z0: mean") && run.stderr.contains("outside"),
        "{}",
        run.stderr
    );
}

#[test]
fn innovations_refuse_other_models_and_bad_data() {
    let dir = TempDir::new("innovations-bad");
    let model = dir.write("walk.json", WALK);
    let two = dir.write("y2.csv", "1,2\n3,4\n");
    emfit(dir.path(), &["innovations", "--model", &model, "--data", &two]).fails_with(&["2 columns", "1"]);
    let data = dir.write("y.csv", "1\n2\n3\n");
    emfit(
        dir.path(),
        &[
            "fit",
            "gmm",
            "--data",
            &data,
            "--components",
            "1",
            "--out",
            "g.json",
            "-q",
        ],
    )
    .ok();
    emfit(dir.path(), &["innovations", "--model", "g.json", "--data", &data])
        .fails_with(&["innovations applies to lgssm models"]);
}
