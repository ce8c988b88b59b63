//! End-to-end tests of `emfit fit vhmm` (variational Bayesian HMMs,
//! categorical and Gaussian emissions) and the commands on its model files:
//! the lower bound never falls, the model file round-trips through
//! `--init`, `predict` and `sample` use the posterior-mean HMM, `score` and
//! bad flags are refused with one-line errors.

mod cli_support;

use std::path::Path;

use cli_support::{Stream, TempDir, emfit, parse_rows};

/// Sequences of a sticky two-state chain (stays with probability 0.95):
/// the states, and per row the emission `emit(state, stream)`.
fn chain(lengths: &[usize], seed: u64, emit: impl Fn(usize, &mut Stream) -> String) -> (String, Vec<usize>) {
    let mut s = Stream(seed);
    let (mut text, mut states) = (String::new(), Vec::new());
    for &n in lengths {
        let mut z = usize::from(s.uniform() < 0.5);
        for _ in 0..n {
            if s.uniform() < 0.05 {
                z = 1 - z;
            }
            states.push(z);
            text.push_str(&emit(z, &mut s));
            text.push('\n');
        }
    }
    (text, states)
}

/// Symbols 0 and 1 in state 0, 2 and 3 in state 1.
fn symbols(z: usize, s: &mut Stream) -> String {
    format!("{}", 2 * z + usize::from(s.uniform() < 0.5))
}

/// 2-D points around (-3, 0) in state 0 and (3, 1) in state 1.
fn points(z: usize, s: &mut Stream) -> String {
    let (cx, cy) = if z == 0 { (-3.0, 0.0) } else { (3.0, 1.0) };
    format!("{},{}", cx + s.normal(), cy + 0.5 * s.normal())
}

/// The `--json` report of a fit.
fn report(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// The history of a report: every bound at most 1e-9 (relative) below the
/// one before it.
fn assert_never_falls(r: &serde_json::Value) -> Vec<f64> {
    let history: Vec<f64> = r["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(history.len() > 2, "{r}");
    for w in history.windows(2) {
        assert!(w[1] >= w[0] - 1e-9 * w[0].abs(), "the bound fell: {history:?}");
    }
    history
}

/// The states `emfit predict` gives for `data` under the model file `m.json` in `dir`.
fn predicted_states(dir: &Path, data: &str, lengths: &str) -> Vec<Vec<f64>> {
    parse_rows(
        emfit(
            dir,
            &[
                "predict",
                "--model",
                "m.json",
                "--data",
                data,
                "--lengths",
                lengths,
            ],
        )
        .ok(),
    )
}

/// Labels agree with the true states up to a relabelling on at least
/// `share` of the rows.
fn assert_recovers(labels: &[Vec<f64>], states: &[usize], share: f64) {
    assert_eq!(labels.len(), states.len());
    let same = labels
        .iter()
        .zip(states)
        .filter(|(l, z)| l[0] as usize == **z)
        .count() as f64;
    let n = states.len() as f64;
    assert!(same.max(n - same) >= share * n, "{same} of {n} agree");
}

/// Fits with `extra` flags and `--json --out m.json`, checks the bound
/// never falls, then fits again from the written file for one iteration:
/// its first bound is the first fit's, bit for bit.
fn fit_and_reload(dir: &TempDir, data: &str, lengths: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "fit",
        "vhmm",
        "--data",
        data,
        "--lengths",
        lengths,
        "--states",
        "2",
        "--max-iter",
        "300",
        "--tol",
        "1e-6",
        "--seed",
        "3",
        "--out",
        "m.json",
        "--json",
    ];
    args.extend_from_slice(extra);
    let first = report(emfit(dir.path(), &args).ok());
    assert_eq!(first["family"], "vhmm");
    assert_eq!(first["bic"], serde_json::Value::Null);
    assert_never_falls(&first);
    let model = dir.read("m.json");
    assert!(model.contains("\"kind\": \"vhmm\""), "{model}");
    let emission = if extra.contains(&"gaussian") {
        "gaussian"
    } else {
        "categorical"
    };
    let again = report(
        emfit(
            dir.path(),
            &[
                "fit",
                "vhmm",
                "--emission",
                emission,
                "--data",
                data,
                "--lengths",
                lengths,
                "--init",
                "m.json",
                "--max-iter",
                "1",
                "--json",
            ],
        )
        .ok(),
    );
    assert_eq!(again["history"][0], first["log_likelihood"], "{again}\n{first}");
    first
}

#[test]
fn categorical_vhmm_fits_round_trips_and_predicts() {
    let dir = TempDir::new("vhmm-cat");
    let (text, states) = chain(&[200, 150, 250], 7, symbols);
    let data = dir.write("x.csv", text);
    let lengths = dir.write("lengths.txt", "200\n150\n250\n");
    fit_and_reload(&dir, &data, &lengths, &["--emission", "categorical"]);
    let model = dir.read("m.json");
    assert!(model.contains("\"emissionprob_posterior\""), "{model}");

    let text = emfit(
        dir.path(),
        &[
            "fit",
            "vhmm",
            "--emission",
            "categorical",
            "--data",
            &data,
            "--lengths",
            &lengths,
            "-k",
            "2",
            "--seed",
            "3",
        ],
    )
    .ok()
    .to_string();
    assert!(
        text.contains("iteration           lower bound   improvement")
            && text.contains("fitted vhmm (categorical emissions; posterior means): 2 states, 4 symbols")
            && !text.contains("BIC"),
        "{text}"
    );

    let labels = predicted_states(dir.path(), &data, &lengths);
    assert_recovers(&labels, &states, 0.99);
    let proba = parse_rows(
        emfit(
            dir.path(),
            &[
                "predict",
                "--model",
                "m.json",
                "--data",
                &data,
                "--lengths",
                &lengths,
                "--proba",
            ],
        )
        .ok(),
    );
    assert!(
        proba
            .iter()
            .all(|r| r.len() == 2 && (r.iter().sum::<f64>() - 1.0).abs() < 1e-9)
    );
    let drawn = parse_rows(
        emfit(
            dir.path(),
            &["sample", "--model", "m.json", "-n", "40", "--seed", "4"],
        )
        .ok(),
    );
    assert_eq!(drawn.len(), 40);
    assert!(
        drawn
            .iter()
            .all(|r| (0.0..4.0).contains(&r[0]) && r[0].fract() == 0.0)
    );
    emfit(dir.path(), &["score", "--model", "m.json", "--data", &data])
        .fails_with(&["score is not defined for a vhmm", "lower bound"]);
}

#[test]
fn gaussian_vhmm_fits_full_and_diag_and_round_trips() {
    let dir = TempDir::new("vhmm-gauss");
    let (text, states) = chain(&[150, 250], 13, points);
    let data = dir.write("x.csv", text);
    let lengths = dir.write("lengths.txt", "150\n250\n");
    for covariance in ["full", "diag"] {
        fit_and_reload(
            &dir,
            &data,
            &lengths,
            &["--emission", "gaussian", "--covariance", covariance],
        );
        let model = dir.read("m.json");
        assert!(
            model.contains(&format!("\"covariance_type\": \"{covariance}\""))
                && model.contains("\"scale_posterior\""),
            "{model}"
        );
        let labels = predicted_states(dir.path(), &data, &lengths);
        assert_recovers(&labels, &states, 0.99);
    }
    let drawn = parse_rows(
        emfit(
            dir.path(),
            &["sample", "--model", "m.json", "-n", "30", "--seed", "1"],
        )
        .ok(),
    );
    assert!(drawn.len() == 30 && drawn.iter().all(|r| r.len() >= 2));
}

/// The spherical and tied covariance types: the bound never falls, the
/// model file has the type's layout (K scales, or one d x d scale and one
/// dof shared by the states), loads back and writes the same text, warm
/// starts from the first fit's bound, and predicts the states.
#[test]
fn gaussian_vhmm_fits_spherical_and_tied_and_round_trips() {
    use em_driver::hmm::variational::VariationalGaussianHmm;
    use em_driver::{AnyModel, ModelFile};

    let dir = TempDir::new("vhmm-gauss-st");
    let (text, states) = chain(&[150, 250], 13, points);
    let data = dir.write("x.csv", text);
    let lengths = dir.write("lengths.txt", "150\n250\n");
    for (covariance, dof, scale_depth) in [("spherical", 2, 1), ("tied", 1, 2)] {
        fit_and_reload(
            &dir,
            &data,
            &lengths,
            &["--emission", "gaussian", "--covariance", covariance],
        );
        let text = dir.read("m.json");
        let model = VariationalGaussianHmm::from_json(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(model.emission().covariance_type().name(), covariance);
        assert_eq!(model.to_json(), text);
        assert!(matches!(AnyModel::from_json(&text), Ok(AnyModel::VariationalGaussianHmm(m)) if m == model));
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let p = &v["parameters"];
        for side in ["prior", "posterior"] {
            assert_eq!(
                p[format!("dof_{side}")].as_array().map(Vec::len),
                Some(dof),
                "{p}"
            );
            let scale = &p[format!("scale_{side}")];
            let depth = if scale[0].is_array() { 2 } else { 1 };
            assert_eq!(
                (scale.as_array().map(Vec::len), depth),
                (Some(2), scale_depth),
                "{p}"
            );
        }
        let labels = predicted_states(dir.path(), &data, &lengths);
        assert_recovers(&labels, &states, 0.99);
    }
}

#[test]
fn bad_flags_and_files_are_refused_in_one_line() {
    let dir = TempDir::new("vhmm-bad");
    let (text, _) = chain(&[60], 2, symbols);
    let data = dir.write("x.csv", text);
    emfit(dir.path(), &["fit", "vhmm", "--data", &data])
        .fails_with(&["vhmm needs --emission categorical or --emission gaussian"]);
    emfit(
        dir.path(),
        &["fit", "hmm", "--data", &data, "--emission", "gaussian"],
    )
    .fails_with(&["--emission applies to vhmm, not to hmm"]);
    emfit(
        dir.path(),
        &[
            "fit",
            "vhmm",
            "--emission",
            "categorical",
            "--data",
            &data,
            "--covariance",
            "diag",
        ],
    )
    .fails_with(&["--covariance applies to", "not to vhmm"]);
    emfit(
        dir.path(),
        &[
            "fit",
            "vhmm",
            "--emission",
            "gaussian",
            "--data",
            &data,
            "--symbols",
            "4",
        ],
    )
    .fails_with(&["--symbols applies to", "not to vhmm"]);
    emfit(
        dir.path(),
        &[
            "fit",
            "vhmm",
            "--emission",
            "categorical",
            "--data",
            &data,
            "--learn",
            "start",
        ],
    )
    .fails_with(&["--learn does not apply to vhmm"]);

    emfit(
        dir.path(),
        &[
            "fit",
            "vhmm",
            "--emission",
            "categorical",
            "--data",
            &data,
            "--out",
            "ok.json",
            "--quiet",
        ],
    )
    .ok();
    let good = dir.read("ok.json");
    let mut v: serde_json::Value = serde_json::from_str(&good).unwrap();
    v["parameters"]["transmat_posterior"][1][0] = (-2.0).into();
    dir.write("bad.json", v.to_string());
    emfit(dir.path(), &["predict", "--model", "bad.json", "--data", &data])
        .fails_with(&["bad.json", "parameters.transmat_posterior[1][0]"]);
    emfit(
        dir.path(),
        &[
            "fit",
            "vhmm",
            "--emission",
            "gaussian",
            "--data",
            &data,
            "--init",
            "ok.json",
        ],
    )
    .fails_with(&["ok.json", "parameters.emission"]);
    // A symbol the model does not know.
    let other = dir.write("y.csv", "0\n7\n");
    emfit(dir.path(), &["predict", "--model", "ok.json", "--data", &other])
        .fails_with(&["symbol 7 is out of range"]);
}
