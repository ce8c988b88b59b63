//! The hostile corpus: the `emfit` binary on every kind of bad request of
//! issue 17 (sizes that imply impossible memory, outputs that collide with
//! each other or with the inputs, negative numbers, conflicting options,
//! data impossible under the model), each with the exit code and a piece of
//! the one-line message it must give. The input files are in
//! `tests/hostile/`; the models are fitted once per run in a temporary
//! folder from them.

mod cli_support;

use std::path::Path;

use cli_support::{TempDir, emfit};

/// One hostile case: its name, the command line, the exit code (1: the
/// program refused) and substrings of its one-line message.
struct Case {
    name: &'static str,
    args: &'static [&'static str],
    code: i32,
    needles: &'static [&'static str],
}

const CASES: &[Case] = &[
    // 1. Sizes, checked against the memory they imply before allocating.
    Case {
        name: "demo steps 2^64-1",
        args: &["demo", "--only", "3", "--steps", "18446744073709551615"],
        code: 1,
        needles: &[
            "--steps 18446744073709551615",
            "needs about",
            "more than the 17.2 GB",
        ],
    },
    Case {
        name: "demo steps 10^8",
        args: &["demo", "--only", "3", "--steps", "100000000"],
        code: 1,
        needles: &["--steps 100000000", "needs about 134.4 GB"],
    },
    Case {
        name: "sample one huge sequence",
        args: &["sample", "--model", "hmm.json", "-n", "10000000000"],
        code: 1,
        needles: &["one sequence of -n 10000000000 steps", "needs about"],
    },
    Case {
        name: "sample counts values, not observations",
        args: &[
            "sample",
            "--model",
            "gmm.json",
            "-n",
            "60000000000",
            "--out",
            "s.csv",
        ],
        code: 1,
        needles: &["would write 180000000000 values", "more than the 100000000000"],
    },
    Case {
        name: "sample 2^64-1 points",
        args: &["sample", "--model", "gmm.json", "-n", "18446744073709551615"],
        code: 1,
        needles: &["would write", "values"],
    },
    Case {
        name: "a merely huge sample is announced with its size",
        args: &[
            "sample",
            "--model",
            "gmm.json",
            "-n",
            "50000000",
            "--out",
            "no/such/folder/x.csv",
        ],
        code: 1,
        needles: &[
            "note: -n 50000000 x --sequences 1 writes 150000000 values (about 1.2 GB",
            "x.csv",
        ],
    },
    Case {
        name: "an unwritable hidden output is named, not the other one",
        args: &[
            "sample",
            "--model",
            "hmm.json",
            "-n",
            "5",
            "--out",
            "x.csv",
            "--hidden-out",
            "no/such/folder/z.csv",
        ],
        code: 1,
        needles: &["emfit: no/such/folder/z.csv: "],
    },
    Case {
        name: "threads far above the cores",
        args: &["--threads", "100000", "fit", "gmm", "--data", "points.csv"],
        code: 1,
        needles: &["--threads 100000", "per core"],
    },
    Case {
        name: "more components than points",
        args: &["fit", "gmm", "--data", "points.csv", "-k", "7"],
        code: 1,
        needles: &["--components 7", "6 observations"],
    },
    Case {
        name: "state dimension beyond the data",
        args: &["fit", "lgssm", "--data", "series200x2.csv", "--state-dim", "300"],
        code: 1,
        needles: &[
            "--state-dim 300",
            "400 values of the data (200 rows x 2 columns)",
            "at most",
        ],
    },
    // 2. Files.
    Case {
        name: "one file for three outputs",
        args: &[
            "sample",
            "--model",
            "hmm.json",
            "-n",
            "5",
            "--out",
            "s.csv",
            "--hidden-out",
            "s.csv",
            "--lengths-out",
            "s.csv",
        ],
        code: 1,
        needles: &["--out s.csv and --hidden-out s.csv name the same file"],
    },
    Case {
        name: "output over the data, spelled differently",
        args: &[
            "predict",
            "--model",
            "gmm.json",
            "--data",
            "points.csv",
            "--out",
            "./sub/../points.csv",
        ],
        code: 1,
        needles: &["--out ./sub/../points.csv is the --data file points.csv"],
    },
    Case {
        name: "fit output over the data",
        args: &["fit", "gmm", "--data", "points.csv", "--out", "points.csv"],
        code: 1,
        needles: &["is the --data file"],
    },
    Case {
        name: "plots into a file",
        args: &["demo", "--only", "2", "--plots", "plots-is-a-file"],
        code: 1,
        needles: &["--plots plots-is-a-file", "not a folder"],
    },
    Case {
        name: "covariances not as npy",
        args: &[
            "smooth",
            "--model",
            "lgssm.json",
            "--data",
            "series200x2.csv",
            "--covariances-out",
            "c.csv",
        ],
        code: 1,
        needles: &["--covariances-out c.csv", ".npy"],
    },
    Case {
        name: "forecast horizon 2^64-1",
        args: &[
            "forecast",
            "--model",
            "lgssm.json",
            "--data",
            "series200x2.csv",
            "--horizon",
            "18446744073709551615",
        ],
        code: 1,
        needles: &["--horizon 18446744073709551615", "needs about"],
    },
    Case {
        name: "forecast over its data",
        args: &[
            "forecast",
            "--model",
            "lgssm.json",
            "--data",
            "series200x2.csv",
            "--horizon",
            "3",
            "--out",
            "series200x2.csv",
        ],
        code: 1,
        needles: &["is the --data file"],
    },
    Case {
        name: "forecast plots into a file",
        args: &[
            "forecast",
            "--model",
            "lgssm.json",
            "--data",
            "series200x2.csv",
            "--horizon",
            "3",
            "--plots",
            "plots-is-a-file",
        ],
        code: 1,
        needles: &["--plots plots-is-a-file", "not a folder"],
    },
    Case {
        name: "negative horizon",
        args: &[
            "forecast",
            "--model",
            "lgssm.json",
            "--data",
            "series200x2.csv",
            "--horizon",
            "-2",
        ],
        code: 1,
        needles: &["--horizon must be at least 1, got -2"],
    },
    Case {
        name: "filter state over the model",
        args: &["filter", "--model", "lgssm.json", "--save-state", "lgssm.json"],
        code: 1,
        needles: &["--save-state lgssm.json", "--model"],
    },
    Case {
        name: "inputs for a mixture",
        args: &[
            "score",
            "--model",
            "gmm.json",
            "--data",
            "points.csv",
            "--inputs",
            "points.csv",
        ],
        code: 1,
        needles: &["--inputs is only supported by lgssm"],
    },
    // 3. Messages: negative numbers reach the checks.
    Case {
        name: "negative tolerance",
        args: &["fit", "gmm", "--data", "points.csv", "--tol", "-1"],
        code: 1,
        needles: &["--tol must be a finite number ≥ 0, got -1"],
    },
    Case {
        name: "negative seed",
        args: &["fit", "gmm", "--data", "points.csv", "--seed", "-1"],
        code: 1,
        needles: &["--seed must be an integer from 0 to 18446744073709551615, got -1"],
    },
    Case {
        name: "negative time budget",
        args: &["fit", "gmm", "--data", "points.csv", "--time-budget", "-3"],
        code: 1,
        needles: &["--time-budget must be a positive number of seconds (below 10^9), got -3"],
    },
    Case {
        name: "negative sample count",
        args: &["sample", "--model", "gmm.json", "-n", "-5"],
        code: 1,
        needles: &["-n must be at least 1, got -5"],
    },
    Case {
        name: "covariance with init",
        args: &[
            "fit",
            "gmm",
            "--data",
            "points.csv",
            "--init",
            "gmm.json",
            "--covariance",
            "diag",
        ],
        code: 1,
        needles: &["--covariance conflicts with --init"],
    },
    Case {
        name: "demo has no json",
        args: &["--json", "demo", "--only", "2"],
        code: 1,
        needles: &["--json applies to fit, predict, score, sample and smooth"],
    },
    // --reg-covar: a negative floor, a family without covariances.
    Case {
        name: "a negative --reg-covar",
        args: &[
            "fit",
            "gmm",
            "--data",
            "points.csv",
            "-k",
            "2",
            "--reg-covar",
            "-1e-6",
        ],
        code: 1,
        needles: &["--reg-covar must be a finite number ≥ 0, got -0.000001"],
    },
    Case {
        name: "--reg-covar for a model without covariances",
        args: &[
            "fit",
            "categorical-hmm",
            "--data",
            "symbols01.csv",
            "-k",
            "2",
            "--reg-covar",
            "1e-6",
        ],
        code: 1,
        needles: &["--reg-covar applies to gmm, bgmm, hmm and gmmhmm, not to categorical-hmm"],
    },
    // Column selection: a name the header lacks, a column 0.
    Case {
        name: "--columns with a name the header lacks",
        args: &["fit", "gmm", "--data", "named.csv", "-k", "2", "--columns", "x,w"],
        code: 1,
        needles: &["named.csv: line 1: no column of the header is named 'w'"],
    },
    Case {
        name: "--columns with a column 0",
        args: &["fit", "gmm", "--data", "named.csv", "-k", "2", "--columns", "0,1"],
        code: 1,
        needles: &["--columns: '0' is not a column"],
    },
    // 4. Data impossible under the model: where, 1-based, never -inf.
    Case {
        name: "score of a point too far from every component",
        // Variances of 1e-10 against a distance of 1e150: the squared
        // Mahalanobis distance overflows (the data reader caps |x| at 1e150).
        args: &["score", "--model", "narrow-gmm.json", "--data", "far.csv"],
        code: 1,
        needles: &["far.csv: row 2 has zero likelihood under every component"],
    },
    Case {
        name: "score of an impossible sequence",
        args: &["score", "--model", "cat.json", "--data", "symbols012.csv"],
        code: 1,
        needles: &[
            "symbols012.csv: sequence 1 has probability zero",
            "position 4 of the sequence, row 4",
        ],
    },
    Case {
        name: "predict of an impossible sequence",
        args: &["predict", "--model", "cat.json", "--data", "symbols012.csv"],
        code: 1,
        needles: &["symbols012.csv: sequence 1 has probability zero", "position 4"],
    },
    Case {
        name: "fit from a model under which the data are impossible",
        args: &[
            "fit",
            "categorical-hmm",
            "--data",
            "symbols012.csv",
            "--init",
            "cat.json",
        ],
        code: 1,
        needles: &[
            "E-step of iteration 0",
            "symbols012.csv: sequence 1 has probability zero",
            "position 4",
        ],
    },
];

/// The corpus in a fresh folder, with the models its cases use.
fn corpus() -> TempDir {
    let dir = TempDir::new("hostile");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile");
    for entry in std::fs::read_dir(&source).expect("the corpus folder") {
        let path = entry.expect("a corpus file").path();
        std::fs::copy(&path, dir.path().join(path.file_name().expect("a file name"))).expect("copy");
    }
    std::fs::create_dir_all(dir.path().join("sub")).expect("a sub-folder");
    for fit in [
        &[
            "fit",
            "gmm",
            "--data",
            "points.csv",
            "-k",
            "2",
            "--out",
            "gmm.json",
        ][..],
        &[
            "fit",
            "hmm",
            "--data",
            "series200x2.csv",
            "-k",
            "2",
            "--out",
            "hmm.json",
        ],
        &[
            "fit",
            "lgssm",
            "--data",
            "series200x2.csv",
            "--max-iter",
            "3",
            "--out",
            "lgssm.json",
        ],
        &[
            "fit",
            "categorical-hmm",
            "--data",
            "symbols01.csv",
            "-k",
            "2",
            "--symbols",
            "3",
            "--out",
            "cat.json",
        ],
    ] {
        emfit(dir.path(), fit).ok();
    }
    dir
}

#[test]
fn every_hostile_case_is_refused_with_its_message() {
    let dir = corpus();
    let mut failures = Vec::new();
    for case in CASES {
        let run = emfit(dir.path(), case.args);
        let message = run.stderr.trim_end();
        let ok = run.code == Some(case.code)
            && case.needles.iter().all(|n| message.contains(n))
            && !message.contains("panicked")
            && !run.stdout.contains("inf");
        if !ok {
            failures.push(format!(
                "{}: {:?}\n  exit {:?} (expected {}), stderr: {message}",
                case.name, case.args, run.code, case.code
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Nothing was written by a refused command.
    for name in ["s.csv", "c.csv", "x.csv"] {
        assert!(!dir.path().join(name).exists(), "{name} was written");
    }
    let data = std::fs::read_to_string(dir.path().join("points.csv")).expect("the data");
    assert!(data.starts_with("x,y\n0.1,0.2"), "the data file was overwritten");
}
