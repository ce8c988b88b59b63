//! End-to-end tests of `emfit` on bad input: every failure is one readable line
//! on stderr and a non-zero exit code, never a panic.

mod cli_support;

use cli_support::{TempDir, emfit};

#[test]
fn help_and_version_succeed() {
    let dir = TempDir::new("help");
    let out = emfit(dir.path(), &["--help"]);
    let text = out.ok();
    for cmd in ["demo", "fit", "predict", "score", "sample", "smooth"] {
        assert!(text.contains(cmd), "{text}");
    }
    assert!(
        emfit(dir.path(), &["fit", "--help"])
            .ok()
            .contains("--components")
    );
    assert!(emfit(dir.path(), &["--version"]).ok().contains("emfit"));
}

#[test]
fn usage_errors_exit_with_code_2() {
    let dir = TempDir::new("usage");
    for args in [
        &["frobnicate"][..],
        &["fit"],
        &["fit", "gmm"],
        &["fit", "nosuchmodel", "--data", "x.csv"],
    ] {
        let out = emfit(dir.path(), args);
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.stderr);
        assert!(!out.stderr.contains("panicked"));
    }
}

#[test]
fn missing_data_file_is_named() {
    let dir = TempDir::new("missing");
    emfit(dir.path(), &["fit", "gmm", "--data", "nope.csv"]).fails_with(&["nope.csv", "No such file"]);
    emfit(dir.path(), &["fit", "hmm", "--data", "nope.npy"]).fails_with(&["nope.npy"]);
}

#[test]
fn bad_csv_cell_names_line_and_column() {
    let dir = TempDir::new("cell");
    let f = dir.write("bad.csv", "x,y\n1,2\n3,4\n5,abc\n");
    emfit(dir.path(), &["fit", "gmm", "--data", &f]).fails_with(&["bad.csv", "line 4", "column 2", "abc"]);
    let f = dir.write("ragged.csv", "1 2\n3 4 5\n");
    emfit(dir.path(), &["fit", "gmm", "--data", &f]).fails_with(&["ragged.csv", "line 2", "3 columns"]);
    let f = dir.write("empty.csv", "x,y\n");
    emfit(dir.path(), &["fit", "gmm", "--data", &f]).fails_with(&["empty.csv", "no data"]);
    let f = dir.write("nan.csv", "1,2\n3,NaN\n");
    emfit(dir.path(), &["fit", "gmm", "--data", &f])
        .fails_with(&["nan.csv", "line 2", "column 2", "missing"]);
}

#[test]
fn bad_npy_header_is_named() {
    let dir = TempDir::new("npy");
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    let header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000, 3), }\n";
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(&[0u8; 16]);
    let f = dir.write("short.npy", &bytes);
    emfit(dir.path(), &["fit", "gmm", "--data", &f]).fails_with(&["short.npy", "shape"]);
    let f = dir.write("junk.npy", b"PK\x03\x04 not numpy at all");
    emfit(dir.path(), &["fit", "gmm", "--data", &f]).fails_with(&["junk.npy", "magic"]);
}

#[test]
fn bad_lengths_files() {
    let dir = TempDir::new("lengths");
    let data = dir.write("d.csv", "1\n2\n3\n4\n5\n");
    let f = dir.write("sum.txt", "2\n2\n");
    emfit(dir.path(), &["fit", "hmm", "--data", &data, "--lengths", &f]).fails_with(&[
        "sum.txt",
        "add up to 4",
        "5 rows",
    ]);
    let f = dir.write("zero.txt", "5\n0\n");
    emfit(dir.path(), &["fit", "hmm", "--data", &data, "--lengths", &f]).fails_with(&["zero.txt", "line 2"]);
    let f = dir.write("word.txt", "five\n");
    emfit(dir.path(), &["fit", "hmm", "--data", &data, "--lengths", &f]).fails_with(&["word.txt", "line 1"]);
}

#[test]
fn zero_threads_is_rejected() {
    let dir = TempDir::new("threads");
    let data = dir.write("d.csv", "1\n2\n");
    emfit(dir.path(), &["--threads", "0", "fit", "gmm", "--data", &data]).fails_with(&["--threads"]);
}

#[test]
fn hostile_sizes_are_refused_before_allocating() {
    let dir = TempDir::new("sizes");
    let data = dir.write("d.csv", "1\n2\n3\n4\n5\n6\n");
    let cases: [(&[&str], &[&str]); 7] = [
        (
            &["fit", "hmm", "-k", "100000"],
            &["--components 100000", "6 observations"],
        ),
        (&["fit", "gmm", "-k", "0"], &["--components"]),
        (&["fit", "gmmhmm", "-m", "100000"], &["--mixtures"]),
        (
            &["fit", "categorical-hmm", "--symbols", "1000000000"],
            &["--symbols"],
        ),
        (&["fit", "lgssm", "--state-dim", "100000"], &["memory"]),
        (&["fit", "lgssm", "--state-dim", "0"], &["--state-dim"]),
        (
            &["fit", "gmm", "--restarts", "1000000000"],
            &["restarts", "65536"],
        ),
    ];
    for (args, needles) in cases {
        let mut all = args.to_vec();
        all.extend(["--data", &data]);
        emfit(dir.path(), &all).fails_with(needles);
    }
    emfit(dir.path(), &["fit", "gmm", "--data", &data, "--time-budget=-3"]).fails_with(&["--time-budget"]);
}
