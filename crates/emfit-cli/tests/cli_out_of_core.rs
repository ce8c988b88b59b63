//! `emfit fit gmm|bgmm --chunk-rows N`: the data file streamed N rows at a
//! time is the in-memory fit (to 1e-12 relative for plain EM: the
//! statistics are summed chunk by chunk), from `--init` or from the seeded sample; `.npy` and CSV
//! give the same bits; a bad value, a short line or a truncated file is
//! refused naming the file and the row, and no model file is written.

mod cli_support;

use cli_support::{Run, TempDir, clusters, emfit};
use em_driver::faer::Mat;
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
    hmm.fails_with(&["--chunk-rows", "gmm or bgmm"]);
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
