//! The corpus of hostile inputs (`tests/corpus/{csv,npy,lengths,model}`):
//! each file is loaded by its reader and must fail with a message that
//! names the file, the place (line and column, element, row, field path;
//! from 1, except field paths, whose indices are 0-based as in the file) and
//! the cause. Every file of those folders is in the table.
//!
//! `tests/corpus/v1` holds valid format-1 model files (see
//! `model_file_roundtrip.rs`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use em_driver::AnyModel;
use em_driver::io::{self, ReadOptions};

/// A file of the corpus and the parts its error message must contain (after
/// the file's name).
const TABLE: &[(&str, &[&str])] = &[
    // CSV data.
    (
        "csv/bad-cell.csv",
        &["line 3, column 2: cell 'abc' is not a number"],
    ),
    (
        "csv/ragged.csv",
        &["line 2 has 3 columns, expected 2 (as on line 1)"],
    ),
    (
        "csv/huge-value.csv",
        &[
            "line 3, column 1: cell '1e300' is too large",
            "overflow when squared",
        ],
    ),
    ("csv/infinite.csv", &["line 1, column 2: cell 'inf' is infinite"]),
    (
        "csv/overflow.csv",
        &["line 1, column 2: cell '1e999' is infinite"],
    ),
    ("csv/missing.csv", &["line 2, column 2: cell '' is missing"]),
    ("csv/not-utf8.csv", &["line 2 is not valid UTF-8 text"]),
    ("csv/utf16.csv", &["line 1 is not valid UTF-8 text"]),
    ("csv/header-only.csv", &["no data rows"]),
    (
        "csv/bom-bad-cell.csv",
        &["line 2, column 2: cell 'x2' is not a number"],
    ),
    // NumPy data.
    (
        "npy/bad-magic.npy",
        &["not a valid .npy file: it does not start with the magic string"],
    ),
    (
        "npy/huge-shape.npy",
        &["'shape' declares 8000000000000 data bytes but the file holds 16"],
    ),
    (
        "npy/nan.npy",
        &["element 2 (row 2, column 1): value NaN is missing"],
    ),
    (
        "npy/huge-value.npy",
        &["element 3 (row 1, column 2): value -1", "is too large"],
    ),
    ("npy/complex.npy", &["unsupported .npy dtype '<c16'"]),
    (
        "npy/three-dims.npy",
        &[".npy array has 3 dimensions, expected 1 or 2"],
    ),
    (
        "npy/header-length.npy",
        &["the header length or the header's dict literal is malformed"],
    ),
    ("npy/missing-shape.npy", &["bad or missing 'shape' in the header"]),
    ("npy/version-9.npy", &["unsupported format version"]),
    // Sequence lengths.
    ("lengths/empty.txt", &["empty lengths file"]),
    ("lengths/comments-only.txt", &["empty lengths file"]),
    ("lengths/empty.npy", &["empty lengths file"]),
    ("lengths/zero.txt", &["line 2: a sequence of length 0"]),
    ("lengths/negative.txt", &["line 2: not a positive integer"]),
    ("lengths/fraction.npy", &["element 2: not a positive integer"]),
    // Model files.
    (
        "model/array.json",
        &["expected an object with a `kind` field", "found an array"],
    ),
    (
        "model/ragged-means.json",
        &["field `parameters.means[1]`: expected length 2, found 1"],
    ),
    (
        "model/not-spd.json",
        &[
            "invalid gmm model, field `parameters.covariances[1]`: covariance of component 2 is not symmetric positive definite",
        ],
    ),
    (
        "model/covariance-type.json",
        &[
            "field `parameters.covariance_type`: unknown name `banana` (expected one of: full, diag, spherical, tied)",
        ],
    ),
    (
        "model/transmat-row.json",
        &["field `parameters.transmat[1]`: expected length 2, found 3"],
    ),
    // The model crates number components and rows from 0, as field paths do.
    (
        "model/transmat-sum.json",
        &[
            "invalid gaussian-hmm model, field `parameters.transmat[1]`: row 2 of the transition matrix sums to 0.89",
        ],
    ),
    (
        "model/unknown-kind.json",
        &["field `kind`: unknown name `kalman` (expected one of: gmm, gaussian-hmm"],
    ),
    (
        "model/version-9.json",
        &["unsupported format_version 9 (this version reads 1 to 3)"],
    ),
    (
        "model/string-number.json",
        &["field `parameters.initial_state_mean[0]`: expected a number, found a string"],
    ),
    ("model/truncated.json", &["not valid JSON: ", "line "]),
    (
        "model/v1-unknown-field.json",
        &["field `parameters` has an unknown field `bias` (expected: weights, means, covariances)"],
    ),
    (
        "model/gmm-hmm-no-covars.json",
        &["field `parameters.covars` is missing"],
    ),
    (
        "model/gmm-hmm-covars.json",
        &["field `parameters.covars[1]`: expected length 2, found 1"],
    ),
    // The byte order mark is skipped: the error is the file's real one.
    (
        "model/bom-startprob.json",
        &["field `parameters.startprob`: expected length 1, found 2"],
    ),
];

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// The message of loading a corpus file with the reader of its folder, if
/// it fails.
fn load(path: &Path) -> Result<(), String> {
    let folder = path.parent().and_then(Path::file_name).and_then(|f| f.to_str());
    match folder {
        Some("csv" | "npy") => io::read_matrix(path, &ReadOptions::default())
            .map(drop)
            .map_err(|e| e.to_string()),
        Some("lengths") => io::read_lengths(path).map(drop).map_err(|e| e.to_string()),
        Some("model") => AnyModel::load(path).map(drop).map_err(|e| e.to_string()),
        other => panic!("no reader for the folder {other:?}"),
    }
}

#[test]
fn every_hostile_file_fails_with_file_place_and_cause() {
    let mut failures = Vec::new();
    for (file, parts) in TABLE {
        let path = corpus().join(file);
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        match load(&path) {
            Ok(()) => failures.push(format!("{file}: loaded")),
            Err(message) => {
                if !message.contains(&format!("{name}: ")) || !parts.iter().all(|p| message.contains(p)) {
                    failures.push(format!("{file}: {message}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_table_lists_every_file_of_the_corpus() {
    let listed: BTreeSet<String> = TABLE.iter().map(|(f, _)| (*f).to_string()).collect();
    assert_eq!(listed.len(), TABLE.len(), "a file is listed twice");
    let mut found = BTreeSet::new();
    for folder in ["csv", "npy", "lengths", "model"] {
        for entry in std::fs::read_dir(corpus().join(folder)).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            found.insert(format!("{folder}/{name}"));
        }
    }
    assert_eq!(found, listed);
}
