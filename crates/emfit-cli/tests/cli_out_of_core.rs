//! `emfit fit gmm|bgmm|hmm --chunk-rows N`: the data file streamed N rows
//! at a time (an HMM's in groups of whole sequences) is the in-memory fit (to 1e-12 relative for plain EM: the
//! statistics are summed chunk by chunk), from `--init` or from the seeded sample; `.npy` and CSV
//! give the same bits; a bad value, a short line or a truncated file is
//! refused naming the file and the row, and no model file is written.

mod cli_support;

use cli_support::{Run, TempDir, clusters, emfit};
use em_driver::faer::Mat;
use em_driver::hmm::{GaussianHmm, scenario};
use em_driver::mixture::{CovarianceType, GaussianMixture, InitConfig, InitMethod};
use em_driver::rand::SeedableRng;
use em_driver::rand::rngs::StdRng;
use em_driver::{EmModel, ModelFile};

fn write(dir: &TempDir, name: &str, x: &Mat<f64>) {
    em_driver::io::write_matrix(&dir.path().join(name), x.as_ref(), None).unwrap();
}

/// The JSON report of a run.
fn report(run: &Run) -> serde_json::Value {
    let line = run.ok().lines().last().expect("a JSON line");
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

fn numbers(value: &serde_json::Value) -> Vec<f64> {
    (value.as_array().expect("an array").iter())
        .map(|v| v.as_f64().expect("a number"))
        .collect()
}

/// `a` and `b` agree to `tolerance`, relative to `|b|`.
#[track_caller]
fn close(a: &[f64], b: &[f64], tolerance: f64, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= tolerance * y.abs(), "{what}: {x} vs {y}");
    }
}

fn parameters(dir: &TempDir, name: &str) -> Vec<f64> {
    let model = GaussianMixture::load(&dir.path().join(name)).unwrap();
    model.flat_parameters(&Default::default()).unwrap()
}

/// `emfit fit ARGS --json --out OUT` and its report.
fn fit(dir: &TempDir, args: &[&str], out: &str) -> serde_json::Value {
    report(&emfit(
        dir.path(),
        &[&["fit"], args, &["--json", "--out", out]].concat(),
    ))
}

#[test]
fn a_streamed_gmm_is_the_in_memory_fit_from_init_or_from_the_sample() {
    let dir = TempDir::new("ooc-gmm");
    let x = clusters(1001);
    write(&dir, "x.npy", &x);
    write(&dir, "x.csv", &x);
    let mut config = InitConfig::new(3, CovarianceType::Full);
    config.method = InitMethod::RandomPoints;
    let start = GaussianMixture::init_from_data(x.as_ref(), &config, &mut StdRng::seed_from_u64(1)).unwrap();
    start.save(&dir.path().join("start.json")).unwrap();
    let warm = [
        "gmm",
        "--data",
        "x.npy",
        "--init",
        "start.json",
        "--max-iter",
        "30",
        "--acceleration",
        "none",
    ];
    let memory = fit(&dir, &warm, "memory.json");
    assert!(
        numbers(&memory["history"]).len() > 5,
        "EM has work to do: {memory}"
    );
    assert!(memory.get("chunks").is_none());
    let want = parameters(&dir, "memory.json");
    for (data, chunk) in [
        ("x.npy", "100"),
        ("x.csv", "100"),
        ("x.npy", "1000"),
        ("x.npy", "7"),
    ] {
        let args = [&warm[..], &["--chunk-rows", chunk]].concat();
        let args = [&args[..2], &[data], &args[3..]].concat();
        let out = format!("{chunk}-{data}.json");
        let streamed = fit(&dir, &args, &out);
        let chunks = 1001usize.div_ceil(chunk.parse().unwrap());
        assert_eq!(streamed["chunks"], chunks, "{streamed}");
        assert_eq!(streamed["iterations"], memory["iterations"], "{streamed}");
        let what = format!("{data} in chunks of {chunk}");
        close(
            &numbers(&streamed["history"]),
            &numbers(&memory["history"]),
            1e-12,
            &what,
        );
        close(&parameters(&dir, &out), &want, 1e-12, &what);
        for criterion in ["bic", "aic"] {
            let (a, b) = (
                streamed[criterion].as_f64().unwrap(),
                memory[criterion].as_f64().unwrap(),
            );
            close(&[a], &[b], 1e-12, criterion);
        }
    }
    // The same chunks of a .npy and a CSV file: the same bits.
    assert_eq!(
        parameters(&dir, "100-x.npy.json"),
        parameters(&dir, "100-x.csv.json")
    );

    // Without --init: restarts initialised on a sample of every row are the
    // in-memory restarts.
    let cold = [
        "gmm",
        "--data",
        "x.npy",
        "--restarts",
        "3",
        "--seed",
        "8",
        "-k",
        "3",
        "--acceleration",
        "none",
    ];
    let memory = fit(&dir, &cold, "cold.json");
    let all_rows = [&cold[..], &["--chunk-rows", "128", "--init-sample", "1001"]].concat();
    let streamed = fit(&dir, &all_rows, "cold-streamed.json");
    assert_eq!(streamed["best_restart"], memory["best_restart"]);
    close(
        &numbers(&streamed["history"]),
        &numbers(&memory["history"]),
        1e-12,
        "cold",
    );
    close(
        &parameters(&dir, "cold-streamed.json"),
        &parameters(&dir, "cold.json"),
        1e-12,
        "cold",
    );
    // A smaller sample: another start (the first log-likelihood differs),
    // the same for any chunk size (the fits then differ by rounding only).
    let small = |chunk: &str| {
        let args = [&cold[..], &["--chunk-rows", chunk, "--init-sample", "200"]].concat();
        numbers(&fit(&dir, &args, "small.json")["history"])
    };
    let (one, two) = (small("1001"), small("300"));
    close(&one, &two, 1e-12, "a sample of 200 rows");
    let first = numbers(&memory["history"])[0];
    assert!(
        (one[0] - first).abs() > 1e-6 * first.abs(),
        "{} vs {first}",
        one[0]
    );
    // The text report says what was streamed.
    let text = emfit(
        dir.path(),
        &[&["fit"], &warm[..], &["--chunk-rows", "300"]].concat(),
    );
    assert!(
        text.ok()
            .contains("streamed 1001 rows of x.npy in 4 chunks of 300 rows"),
        "{}",
        text.stdout
    );
}

#[test]
fn a_streamed_bgmm_is_the_in_memory_fit() {
    let dir = TempDir::new("ooc-bgmm");
    write(&dir, "x.npy", &clusters(600));
    let args = ["bgmm", "--data", "x.npy", "-k", "4", "--max-iter", "20"];
    let memory = fit(&dir, &args, "memory.json");
    let streamed = fit(
        &dir,
        &[&args[..], &["--chunk-rows", "64"]].concat(),
        "streamed.json",
    );
    assert_eq!(streamed["chunks"], 10);
    close(
        &numbers(&streamed["history"]),
        &numbers(&memory["history"]),
        1e-12,
        "bgmm",
    );
    assert!(streamed["bic"].is_null());
}

#[test]
fn bad_files_are_refused_naming_the_row_and_no_model_is_written() {
    let dir = TempDir::new("ooc-errors");
    let mut x = clusters(1000);
    x[(700, 1)] = f64::NAN;
    write(&dir, "nan.npy", &x);
    write(&dir, "nan.csv", &x);
    let run = |data: &str| {
        emfit(
            dir.path(),
            &[
                "fit",
                "gmm",
                "--data",
                data,
                "--chunk-rows",
                "128",
                "--out",
                "m.json",
            ],
        )
    };
    run("nan.npy").fails_with(&["nan.npy", "row 701, column 2"]);
    run("nan.csv").fails_with(&["nan.csv", "line 701, column 2"]);
    let text: String = (0..400)
        .map(|i| {
            if i == 300 {
                "1,2\n".to_string()
            } else {
                format!("{i},1,2\n")
            }
        })
        .collect();
    dir.write("short.csv", text);
    run("short.csv").fails_with(&["short.csv", "line 301 has 2 columns, expected 3"]);
    write(&dir, "x.npy", &clusters(1000));
    let bytes = std::fs::read(dir.path().join("x.npy")).unwrap();
    dir.write("cut.npy", &bytes[..bytes.len() - 100]);
    run("cut.npy").fails_with(&["cut.npy"]);
    assert!(!dir.path().join("m.json").exists());
    run("x.npy").ok();
    assert!(dir.path().join("m.json").exists());
}

#[test]
fn what_cannot_be_streamed_is_refused() {
    let dir = TempDir::new("ooc-usage");
    write(&dir, "x.npy", &clusters(100));
    let hmm = emfit(
        dir.path(),
        &["fit", "hmm", "--data", "x.npy", "--chunk-rows", "10"],
    );
    hmm.fails_with(&["--chunk-rows", "hmm needs --lengths"]);
    let lgssm = emfit(
        dir.path(),
        &["fit", "lgssm", "--data", "x.npy", "--chunk-rows", "10"],
    );
    lgssm.fails_with(&["--chunk-rows", "lgssm are read whole"]);
    dir.write("symbols.txt", "50\n50\n");
    write(&dir, "s.npy", &Mat::from_fn(100, 1, |i, _| (i % 3) as f64));
    let symbols = emfit(
        dir.path(),
        &[
            "fit",
            "categorical-hmm",
            "--data",
            "s.npy",
            "--lengths",
            "symbols.txt",
            "--chunk-rows",
            "10",
        ],
    );
    symbols.fails_with(&["--chunk-rows", "--symbols N"]);
    let columns = emfit(
        dir.path(),
        &[
            "fit",
            "gmm",
            "--data",
            "x.npy",
            "--chunk-rows",
            "10",
            "--columns",
            "1,2",
        ],
    );
    columns.fails_with(&["x.npy", "cannot be selected"]);
    let zero = emfit(
        dir.path(),
        &["fit", "gmm", "--data", "x.npy", "--chunk-rows", "0"],
    );
    assert_eq!(zero.code, Some(2), "{}", zero.stderr);
}

fn hmm_parameters(dir: &TempDir, name: &str) -> Vec<f64> {
    let model = GaussianHmm::load(&dir.path().join(name)).unwrap();
    model.flat_parameters(&Default::default()).unwrap()
}

#[test]
fn a_streamed_hmm_is_the_in_memory_fit_and_bad_files_are_refused() {
    let dir = TempDir::new("ooc-hmm");
    let sample = scenario::sample_with(5, 2000, 80).unwrap();
    write(&dir, "x.npy", &sample.x);
    write(&dir, "x.csv", &sample.x);
    let lengths: String = sample.lengths.iter().map(|n| format!("{n}\n")).collect();
    dir.write("lengths.txt", &lengths);
    let args = [
        "hmm",
        "--data",
        "x.npy",
        "--lengths",
        "lengths.txt",
        "-k",
        "2",
        "--restarts",
        "2",
        "--seed",
        "3",
        "--max-iter",
        "30",
        "--acceleration",
        "none",
    ];
    let memory = fit(&dir, &args, "memory.json");
    assert!(
        numbers(&memory["history"]).len() > 5,
        "EM has work to do: {memory}"
    );
    let want = hmm_parameters(&dir, "memory.json");
    // From the sample of every sequence (the in-memory start), for .npy and
    // CSV and chunks of one to all sequences.
    for (data, chunk) in [
        ("x.npy", "300"),
        ("x.csv", "300"),
        ("x.npy", "1"),
        ("x.npy", "5000"),
    ] {
        let streamed_args = [&args[..], &["--chunk-rows", chunk, "--init-sample", "2000"]].concat();
        let streamed_args = [&streamed_args[..2], &[data], &streamed_args[3..]].concat();
        let out = format!("{chunk}-{data}.json");
        let streamed = fit(&dir, &streamed_args, &out);
        let what = format!("{data} in chunks of {chunk}");
        let chunks = streamed["chunks"].as_u64().unwrap();
        match chunk {
            "1" => assert_eq!(chunks, 80, "{what}"),
            "5000" => assert_eq!(chunks, 1, "{what}"),
            _ => assert!((7..80).contains(&chunks), "{what}: {chunks}"),
        }
        assert_eq!(streamed["best_restart"], memory["best_restart"], "{what}");
        close(
            &numbers(&streamed["history"]),
            &numbers(&memory["history"]),
            1e-12,
            &what,
        );
        close(&hmm_parameters(&dir, &out), &want, 1e-12, &what);
        let bic = [streamed["bic"].as_f64().unwrap()];
        close(&bic, &[memory["bic"].as_f64().unwrap()], 1e-12, &what);
    }
    assert_eq!(
        hmm_parameters(&dir, "300-x.npy.json"),
        hmm_parameters(&dir, "300-x.csv.json")
    );
    // From --init: the in-memory fit from it.
    let warm = [
        "hmm",
        "--data",
        "x.npy",
        "--lengths",
        "lengths.txt",
        "--init",
        "memory.json",
        "--max-iter",
        "5",
        "--acceleration",
        "none",
    ];
    let memory = fit(&dir, &warm, "warm.json");
    let streamed = fit(
        &dir,
        &[&warm[..], &["--chunk-rows", "200"]].concat(),
        "warm-streamed.json",
    );
    close(
        &numbers(&streamed["history"]),
        &numbers(&memory["history"]),
        1e-12,
        "warm",
    );
    // A smaller sample of whole sequences: the same start for any chunk size.
    let small = |chunk: &str| {
        let small_args = [&args[..], &["--chunk-rows", chunk, "--init-sample", "400"]].concat();
        numbers(&fit(&dir, &small_args, "small.json")["history"])
    };
    close(&small("100"), &small("2000"), 1e-12, "a sample of 400 rows");
    // The text report says what was streamed.
    let text = emfit(
        dir.path(),
        &[&["fit"], &args[..], &["--chunk-rows", "5000"]].concat(),
    );
    assert!(
        text.ok()
            .contains("streamed 2000 rows of x.npy in 1 chunks of whole sequences of about 5000 rows"),
        "{}",
        text.stdout
    );

    // Lengths that do not add up, a bad value: refused, no model written.
    let run = |data: &str, lengths: &str| {
        emfit(
            dir.path(),
            &[
                "fit",
                "hmm",
                "--data",
                data,
                "--lengths",
                lengths,
                "--chunk-rows",
                "300",
                "--out",
                "m.json",
            ],
        )
    };
    dir.write("short.txt", format!("{lengths}7\n"));
    run("x.npy", "short.txt").fails_with(&["short.txt", "add up to 2007", "2000 rows"]);
    run("x.csv", "short.txt").fails_with(&["short.txt", "add up to 2007", "2000 rows"]);
    let mut x = sample.x.clone();
    x[(1500, 0)] = f64::INFINITY;
    write(&dir, "inf.npy", &x);
    run("inf.npy", "lengths.txt").fails_with(&["inf.npy", "row 1501, column 1"]);
    assert!(!dir.path().join("m.json").exists());
    run("x.npy", "lengths.txt").ok();
    assert!(dir.path().join("m.json").exists());
}

#[test]
fn a_model_error_of_a_chunk_names_the_sequence_and_row_of_the_file() {
    let dir = TempDir::new("ooc-hmm-chunk-error");
    // Symbols 0..3 but a 5 at row 778 (sequence 8 of 100 rows each), which
    // the sample (one other sequence) does not hold: the E-step of its
    // chunk (sequences 7 and 8, rows 601..800) finds it.
    let text: String = (0..1000)
        .map(|i| {
            if i == 777 {
                "5\n".to_string()
            } else {
                format!("{}\n", i % 3)
            }
        })
        .collect();
    dir.write("s.csv", text);
    dir.write("lengths.txt", "100\n".repeat(10));
    let run = emfit(
        dir.path(),
        &[
            "fit",
            "categorical-hmm",
            "--data",
            "s.csv",
            "--lengths",
            "lengths.txt",
            "--symbols",
            "3",
            "-k",
            "2",
            "--chunk-rows",
            "250",
            "--init-sample",
            "100",
            "--out",
            "m.json",
        ],
    );
    run.fails_with(&["sequence 8, time 78 (row 778)", "5 is not a symbol"]);
    assert!(!dir.path().join("m.json").exists());
}

#[test]
fn a_streamed_gmmhmm_or_categorical_hmm_is_the_in_memory_fit() {
    let dir = TempDir::new("ooc-hmm-emissions");
    let sample = scenario::sample_with(7, 1500, 40).unwrap();
    write(&dir, "x.npy", &sample.x);
    let symbols = Mat::from_fn(1500, 1, |i, _| {
        f64::from(u8::from(sample.x[(i, 0)] > 0.0)) + (i % 2) as f64
    });
    write(&dir, "s.npy", &symbols);
    let lengths: String = sample.lengths.iter().map(|n| format!("{n}\n")).collect();
    dir.write("lengths.txt", &lengths);
    let common = [
        "--lengths",
        "lengths.txt",
        "-k",
        "2",
        "--seed",
        "5",
        "--max-iter",
        "15",
        "--acceleration",
        "none",
    ];
    for family in [
        &["gmmhmm", "--data", "x.npy", "-m", "2"][..],
        &["categorical-hmm", "--data", "s.npy", "--symbols", "3"][..],
    ] {
        let args = [family, &common[..]].concat();
        let memory = fit(&dir, &args, "memory.json");
        let streamed = fit(
            &dir,
            &[&args[..], &["--chunk-rows", "100", "--init-sample", "1500"]].concat(),
            "streamed.json",
        );
        assert!(
            numbers(&memory["history"]).len() > 3,
            "EM has work to do: {memory}"
        );
        assert!(streamed["chunks"].as_u64().unwrap() >= 15, "{streamed}");
        close(
            &numbers(&streamed["history"]),
            &numbers(&memory["history"]),
            1e-12,
            family[0],
        );
        let bic = [streamed["bic"].as_f64().unwrap()];
        close(&bic, &[memory["bic"].as_f64().unwrap()], 1e-12, family[0]);
    }
}
