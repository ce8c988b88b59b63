//! End-to-end tests of `emfit filter`: one line of observations in, one line
//! of filtered means and standard deviations out, equal to the batch filter
//! of `emfit predict`; the state saved and resumed; bad lines refused with
//! their line and column.

mod cli_support;

use cli_support::{TempDir, emfit, emfit_with_stdin, parse_rows};

/// A random walk `x_k = x_{k-1} + 0.5 u_k + w_k`, `y_k = x_k + 10 + v_k`
/// with q = 0.5, r = 2, m0 = 0, P0 = 1 (with one input when `input`).
fn walk(input: bool) -> String {
    let b = if input {
        r#", "transition_input_matrix": [[0.5]]"#
    } else {
        ""
    };
    format!(
        r#"{{"format_version": 3, "kind": "lgssm", "parameters": {{
            "transition_matrices": [[1.0]], "transition_covariance": [[0.5]],
            "observation_matrices": [[1.0]], "observation_covariance": [[2.0]],
            "initial_state_mean": [0.0], "initial_state_covariance": [[1.0]],
            "observation_offsets": [10.0]{b}}}}}"#
    )
}

const YS: [&str; 7] = ["10.5", "11", "nan", "9", "NA", "12", "11.5"];

#[test]
fn each_line_is_answered_with_the_batch_filter_estimate() {
    let dir = TempDir::new("filter-lines");
    let model = dir.write("walk.json", walk(false));
    let data = dir.write("y.csv", YS.map(|y| format!("{y}\n")).concat());
    let input = format!("# observations\n{}", YS.map(|y| format!("{y}\n\n")).concat());
    let run = emfit_with_stdin(dir.path(), &["filter", "--model", &model], &input);
    let rows = parse_rows(run.ok());
    assert_eq!(rows.len(), YS.len());
    let batch = parse_rows(
        emfit(
            dir.path(),
            &[
                "predict",
                "--model",
                &model,
                "--data",
                &data,
                "--missing",
                "--header",
                "no",
            ],
        )
        .ok(),
    );
    // The scalar Riccati recursion gives the standard deviations.
    let (q, r) = (0.5, 2.0);
    let mut p: f64 = 1.0;
    for (k, (row, want)) in rows.iter().zip(&batch).enumerate() {
        assert_eq!(row.len(), 2, "mean and standard deviation");
        assert_eq!(row[0].to_bits(), want[0].to_bits(), "line {k}");
        if k > 0 {
            p += q;
        }
        if !matches!(YS[k], "nan" | "NA") {
            p *= r / (p + r);
        }
        assert!(
            (row[1] - p.sqrt()).abs() < 1e-12,
            "line {k}: {} vs {}",
            row[1],
            p.sqrt()
        );
    }
}

#[test]
fn a_saved_state_resumes_where_it_stopped() {
    let dir = TempDir::new("filter-resume");
    let model = dir.write("walk.json", walk(true));
    let lines: Vec<String> = YS
        .iter()
        .enumerate()
        .map(|(k, y)| format!("{y},{}\n", k as f64 / 4.0))
        .collect();
    let whole = emfit_with_stdin(dir.path(), &["filter", "--model", &model], &lines.concat());
    let head = emfit_with_stdin(
        dir.path(),
        &["filter", "--model", &model, "--save-state", "s.json"],
        &lines[..3].concat(),
    );
    let state: serde_json::Value = serde_json::from_str(&dir.read("s.json")).unwrap();
    assert_eq!(state["step"], 3);
    let tail = emfit_with_stdin(
        dir.path(),
        &["filter", "--model", &model, "--resume", "s.json"],
        &lines[3..].concat(),
    );
    assert_eq!(format!("{}{}", head.ok(), tail.ok()), whole.ok());
    assert_eq!(parse_rows(whole.ok()).len(), YS.len());
    // The steady-state option runs too (this model converges fast).
    let steady = emfit_with_stdin(
        dir.path(),
        &["filter", "--model", &model, "--steady-state"],
        &lines.concat(),
    );
    let (a, b) = (parse_rows(steady.ok()), parse_rows(whole.ok()));
    assert!(
        a.iter()
            .flatten()
            .zip(b.iter().flatten())
            .all(|(x, y)| (x - y).abs() < 1e-9)
    );
}

#[test]
fn bad_lines_name_line_and_column_after_answering_the_good_ones() {
    let dir = TempDir::new("filter-bad");
    let model = dir.write("walk.json", walk(true));
    let run = emfit_with_stdin(
        dir.path(),
        &["filter", "--model", &model, "--save-state", "s.json"],
        "1,0\n2,0\n3,x\n4,0\n",
    );
    run.fails_with(&["standard input", "line 3", "column 2"]);
    assert_eq!(parse_rows(&run.stdout).len(), 2);
    let state: serde_json::Value = serde_json::from_str(&dir.read("s.json")).unwrap();
    assert_eq!(state["step"], 2, "the state before the bad line");
    let filter = |input: &str| emfit_with_stdin(dir.path(), &["filter", "--model", &model], input);
    filter("1,0\n1\n").fails_with(&["line 2", "1 values", "1 observations then 1 inputs"]);
    filter("1,\n").fails_with(&["line 1", "column 2", "input is missing"]);
    filter("1e300,0\n").fails_with(&["line 1"]);
    let plain = dir.write("plain.json", walk(false));
    emfit_with_stdin(dir.path(), &["filter", "--model", &plain], "inf\n").fails_with(&["line 1", "column 1"]);
    let bad_state = dir.write(
        "bad.json",
        r#"{"step": 1, "mean": [0.0, 1.0], "covariance": [[1.0]], "log_likelihood": 0.0}"#,
    );
    emfit_with_stdin(
        dir.path(),
        &["filter", "--model", &plain, "--resume", &bad_state],
        "1\n",
    )
    .fails_with(&["bad.json", "mean"]);
    emfit_with_stdin(
        dir.path(),
        &["filter", "--model", &plain, "--resume", &plain],
        "1\n",
    )
    .fails_with(&["plain.json", "not a filter state"]);
    emfit_with_stdin(dir.path(), &["--json", "filter", "--model", &plain], "1\n").fails_with(&["--json"]);
}

/// With `--lag 2`, line k also holds the smoothed moments of step k − 2,
/// which for the last line are the batch smoother's (`emfit smooth`); its
/// state saved and resumed gives the same answers.
#[test]
fn lagged_answers_hold_the_smoothed_step_behind() {
    let dir = TempDir::new("filter-lag");
    let model = dir.write("walk.json", walk(false));
    let data = dir.write("y.csv", YS.map(|y| format!("{y}\n")).concat());
    let input = YS.map(|y| format!("{y}\n")).concat();
    let run = emfit_with_stdin(dir.path(), &["filter", "--model", &model, "--lag", "2"], &input);
    let out = run.ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), YS.len());
    assert!(lines[0].ends_with(",,") && lines[1].ends_with(",,"), "{out}");
    let plain = emfit_with_stdin(dir.path(), &["filter", "--model", &model], &input);
    for (lagged, filtered) in lines.iter().zip(plain.ok().lines()) {
        assert!(
            lagged.starts_with(&format!("{filtered},")),
            "{lagged} vs {filtered}"
        );
    }
    let last: Vec<f64> = lines[6].split(',').map(|v| v.parse().unwrap()).collect();
    let smoothed = parse_rows(
        emfit(
            dir.path(),
            &[
                "smooth",
                "--model",
                &model,
                "--data",
                &data,
                "--missing",
                "--header",
                "no",
            ],
        )
        .ok(),
    );
    let want = &smoothed[4];
    assert!(
        (last[2] - want[0]).abs() < 1e-12 && (last[3] - want[1]).abs() < 1e-12,
        "{last:?} vs {want:?}"
    );
    // Saved after 3 lines with --lag 2 and resumed with it, the answers to
    // the other lines are those of the uninterrupted run, to the last digit.
    let head: String = YS[..3].iter().map(|y| format!("{y}\n")).collect();
    let tail: String = YS[3..].iter().map(|y| format!("{y}\n")).collect();
    let lagged = |extra: &[&str], input: &str| {
        let mut args = vec!["filter", "--model", &model, "--lag", "2"];
        args.extend(extra);
        emfit_with_stdin(dir.path(), &args, input)
    };
    let first = lagged(&["--save-state", "s.json"], &head);
    let second = lagged(&["--resume", "s.json"], &tail);
    assert_eq!(format!("{}{}", first.ok(), second.ok()), out);
    // The state is the smoother's: resumed with its lag only.
    let with_lag = |lag: &str| {
        emfit_with_stdin(
            dir.path(),
            &["filter", "--model", &model, "--lag", lag, "--resume", "s.json"],
            &tail,
        )
    };
    with_lag("1").fails_with(&["saved with --lag 2"]);
    emfit_with_stdin(
        dir.path(),
        &["filter", "--model", &model, "--resume", "s.json"],
        &tail,
    )
    .fails_with(&["saved with --lag 2"]);
    emfit_with_stdin(
        dir.path(),
        &["filter", "--model", &model, "--save-state", "f.json"],
        &head,
    )
    .ok();
    emfit_with_stdin(
        dir.path(),
        &["filter", "--model", &model, "--lag", "2", "--resume", "f.json"],
        &tail,
    )
    .fails_with(&["saved without --lag"]);
}
