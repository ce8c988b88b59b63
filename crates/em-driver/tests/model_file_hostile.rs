//! Malformed and hostile model files are rejected with clear errors, never a
//! panic or a huge allocation.

use std::path::PathBuf;

use em_driver::hmm::HmmError;
use em_driver::hmm::{CategoricalHmm, GaussianHmm, GmmHmm};
use em_driver::mixture::GaussianMixture as Gmm;
use em_driver::mixture::MixtureError;
use em_driver::model_file::{AnyModel, MAX_FILE_BYTES, save_json};
use em_driver::statespace::LinearGaussianSsm as Lgssm;
use em_driver::statespace::{Matrix, Param, StateSpaceError};
use em_driver::{Error, ModelError, ModelFile, ModelKind, PathSegment};
mod common;
use common::GOOD_GMM;

fn gmm_with(parameters: &str) -> String {
    format!(r#"{{"format_version": 1, "kind": "gmm", "parameters": {parameters}}}"#)
}

fn field(e: &Error) -> String {
    match e {
        Error::Shape { field, .. }
        | Error::EmptyField { field }
        | Error::WrongType { field, .. }
        | Error::MissingField { field } => field.to_string(),
        other => panic!("not a field error: {other:?}"),
    }
}

#[test]
fn the_good_file_loads() {
    let m = Gmm::from_json(GOOD_GMM).unwrap();
    assert_eq!(m.n_components(), 2);
    assert!(matches!(AnyModel::from_json(GOOD_GMM).unwrap(), AnyModel::Gmm(_)));
}

#[test]
fn syntax_errors_are_json_errors_with_a_position() {
    for text in [
        "",
        "   ",
        "not json",
        "{",
        &GOOD_GMM[..GOOD_GMM.len() / 2],
        "{\"format_version\": 1, \"kind\": \"gmm\", \"parameters\": {}} trailing",
        &gmm_with(
            r#"{"weights": [NaN], "means": [[0]], "covariances": {"type": "spherical", "values": [1]}}"#,
        ),
        &gmm_with(
            r#"{"weights": [1e400], "means": [[0]], "covariances": {"type": "spherical", "values": [1]}}"#,
        ),
    ] {
        let e = Gmm::from_json(text).unwrap_err();
        assert!(matches!(e, Error::Json(_)), "{text}: {e:?}");
        assert!(e.to_string().starts_with("not valid JSON: "), "{e}");
    }
    let e = Gmm::from_json(
        "{\n  \"format_version\": 1,\n  \"kind\": \"gmm\",\n  \"parameters\": {\"weights\": [1,}\n}",
    )
    .unwrap_err();
    let Error::Json(j) = &e else { panic!("{e:?}") };
    assert_eq!(j.line(), 4);
    assert!(e.to_string().contains("line 4"), "{e}");
}

#[test]
fn a_document_that_is_not_an_object_is_named() {
    for (text, found) in [
        ("[1, 2, 3]", "an array"),
        ("null", "null"),
        ("\"gmm\"", "a string"),
        ("3", "a number"),
    ] {
        let e = AnyModel::from_json(text).unwrap_err();
        assert!(
            matches!(e, Error::NotAModelFile { found: f } if f == found),
            "{text}: {e:?}"
        );
        assert_eq!(
            e.to_string(),
            format!(
                "expected an object with a `kind` field (and `format_version` and `parameters`), found {found}"
            )
        );
    }
}

#[test]
fn wrong_json_types_name_the_field_and_the_types() {
    for (weights, path, found) in [
        ("[null]", "parameters.weights[0]", "null"),
        (r#"[0.5, "1"]"#, "parameters.weights[1]", "a string"),
        ("{}", "parameters.weights", "an object"),
        ("0.5", "parameters.weights", "a number"),
    ] {
        let e = Gmm::from_json(&gmm_with(&format!(
            r#"{{"weights": {weights}, "means": [[0]], "covariances": {{"type": "spherical", "values": [1]}}}}"#
        )))
        .unwrap_err();
        assert!(
            matches!(&e, Error::WrongType { found: f, .. } if *f == found),
            "{weights}: {e:?}"
        );
        assert_eq!(field(&e), path);
        assert!(
            e.to_string().contains(&format!("field `{path}`: expected ")),
            "{e}"
        );
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let deep = format!(
        r#"{{"format_version": 1, "kind": "gmm", "parameters": {}{}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(matches!(Gmm::from_json(&deep), Err(Error::Json(_))));
    assert!(matches!(AnyModel::from_json(&deep), Err(Error::Json(_))));
}

#[test]
fn header_problems() {
    let e = Gmm::from_json(r#"{"kind": "gmm", "parameters": {}}"#).unwrap_err();
    assert!(matches!(&e, Error::MissingField { .. }), "{e:?}");
    assert_eq!(e.to_string(), "field `format_version` is missing");
    let e = Gmm::from_json(r#"{"format_version": 1, "parameters": {}}"#).unwrap_err();
    assert_eq!(e.to_string(), "field `kind` is missing");
    let e = Gmm::from_json(r#"{"format_version": 1, "kind": "gmm"}"#).unwrap_err();
    assert_eq!(e.to_string(), "field `parameters` is missing");
    for v in ["-1", "1.5", "\"1\"", "18446744073709551616"] {
        let text = GOOD_GMM.replace("\"format_version\": 1", &format!("\"format_version\": {v}"));
        let e = Gmm::from_json(&text).unwrap_err();
        assert!(
            matches!(
                &e,
                Error::WrongType {
                    expected: "a non-negative integer",
                    ..
                }
            ),
            "{v}: {e:?}"
        );
        assert_eq!(field(&e), "format_version");
    }
    for v in [0, 4] {
        let text = GOOD_GMM.replace("\"format_version\": 1", &format!("\"format_version\": {v}"));
        let e = Gmm::from_json(&text).unwrap_err();
        assert!(
            matches!(e, Error::UnsupportedFormatVersion { found, supported: 3 } if found == v),
            "{e:?}"
        );
        assert!(e.to_string().contains("reads 1 to 3"), "{e}");
    }
    let text = GOOD_GMM.replace("\"kind\": \"gmm\"", "\"kind\": \"neural-net\"");
    let e = Gmm::from_json(&text).unwrap_err();
    assert!(matches!(&e, Error::UnknownName { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "field `kind`: unknown name `neural-net` (expected one of: gmm, gaussian-hmm, gmm-hmm, \
         categorical-hmm, poisson-hmm, lgssm, bgmm, vhmm)"
    );
    assert!(matches!(
        AnyModel::from_json(&text),
        Err(Error::UnknownName { .. })
    ));
    // Unknown fields are rejected at the top level and inside parameters.
    let text = GOOD_GMM.replace("\"kind\": \"gmm\",", "\"kind\": \"gmm\", \"extra\": 1,");
    let e = Gmm::from_json(&text).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the top-level object has an unknown field `extra` (expected: format_version, kind, parameters)"
    );
    let text = GOOD_GMM.replace("\"weights\"", "\"bias\": 0, \"weights\"");
    let e = Gmm::from_json(&text).unwrap_err();
    assert!(
        matches!(&e, Error::UnknownField { object, name, .. } if object.to_string() == "parameters" && name.as_str() == "bias"),
        "{e:?}"
    );
    assert!(e.to_string().contains("`bias`"), "{e}");
}

#[test]
fn wrong_kind_is_named() {
    for wrong in [
        GaussianHmm::from_json(GOOD_GMM).map(|_| ()),
        GmmHmm::from_json(GOOD_GMM).map(|_| ()),
        CategoricalHmm::from_json(GOOD_GMM).map(|_| ()),
    ] {
        assert!(matches!(
            wrong,
            Err(Error::WrongKind {
                found: ModelKind::Gmm,
                ..
            })
        ));
    }
    let e = GaussianHmm::from_json(GOOD_GMM).unwrap_err();
    assert_eq!(e.to_string(), "holds a gmm model, expected a gaussian-hmm model");
}

#[test]
fn shape_problems_name_the_field() {
    let cases = [
        // Ragged means.
        (
            r#"{"weights": [0.5, 0.5], "means": [[0, 0], [1]], "covariances": {"type": "spherical", "values": [1, 1]}}"#,
            "parameters.means[1]",
        ),
        // More means than weights.
        (
            r#"{"weights": [1.0], "means": [[0], [1]], "covariances": {"type": "spherical", "values": [1]}}"#,
            "parameters.means",
        ),
        (
            r#"{"weights": [], "means": [], "covariances": {"type": "spherical", "values": []}}"#,
            "parameters.weights",
        ),
        (
            r#"{"weights": [1.0], "means": [[]], "covariances": {"type": "spherical", "values": [1]}}"#,
            "parameters.means[0]",
        ),
        (
            r#"{"weights": [0.5, 0.5], "means": [[0], [1]], "covariances": {"type": "spherical", "values": [1]}}"#,
            "parameters.covariances.values",
        ),
        (
            r#"{"weights": [0.5, 0.5], "means": [[0, 0], [1, 1]], "covariances": {"type": "full", "values": [[[1, 0], [0, 1]], [[1, 0]]]}}"#,
            "parameters.covariances.values[1]",
        ),
        (
            r#"{"weights": [0.5, 0.5], "means": [[0, 0], [1, 1]], "covariances": {"type": "full", "values": [[[1, 0], [0, 1]], [[1, 0], [0]]]}}"#,
            "parameters.covariances.values[1][1]",
        ),
        (
            r#"{"weights": [0.5, 0.5], "means": [[0, 0], [1, 1]], "covariances": {"type": "diag", "values": [[1, 1], [1, 1, 1]]}}"#,
            "parameters.covariances.values[1]",
        ),
        (
            r#"{"weights": [1.0], "means": [[0, 0]], "covariances": {"type": "tied", "values": [[1, 0]]}}"#,
            "parameters.covariances.values",
        ),
    ];
    for (parameters, path) in cases {
        let e = Gmm::from_json(&gmm_with(parameters)).unwrap_err();
        assert_eq!(field(&e), path, "{parameters}: {e}");
        assert!(e.to_string().contains(path));
    }
    let e = Gmm::from_json(&gmm_with(
        r#"{"weights": [1.0], "means": [[0]], "covariances": {"type": "banana", "values": [1]}}"#,
    ))
    .unwrap_err();
    assert!(
        matches!(&e, Error::UnknownName { field, .. } if field.to_string() == "parameters.covariances.type"),
        "{e:?}"
    );
    let e = Gmm::from_json(&gmm_with(
        r#"{"weights": [1.0], "means": [[0]], "covariances": {"type": "spherical", "values": [1], "x": 2}}"#,
    ))
    .unwrap_err();
    assert!(matches!(e, Error::UnknownField { .. }), "{e:?}");
    // The structured path is available too.
    let e = Gmm::from_json(&gmm_with(cases[0].0)).unwrap_err();
    let Error::Shape {
        field,
        expected: 2,
        found: 1,
    } = e
    else {
        panic!()
    };
    assert_eq!(
        field.segments(),
        [
            PathSegment::Key("parameters"),
            PathSegment::Key("means"),
            PathSegment::Index(1)
        ]
    );
}

#[test]
fn invalid_values_are_rejected_by_the_model_constructors() {
    // Not positive definite, naming the component.
    let e = Gmm::from_json(&gmm_with(
        r#"{"weights": [0.5, 0.5], "means": [[0, 0], [1, 1]], "covariances": {"type": "full", "values": [[[1, 0], [0, 1]], [[1, 2], [2, 1]]]}}"#,
    ))
    .unwrap_err();
    assert!(
        matches!(
            &e,
            Error::InvalidModel {
                kind: ModelKind::Gmm,
                field: Some(_),
                source: ModelError::Mixture(MixtureError::NotPositiveDefinite { .. })
            }
        ),
        "{e:?}"
    );
    assert!(
        e.to_string().starts_with(
            "invalid gmm model, field `parameters.covariances.values[1]`: covariance of component 2"
        ),
        "{e}"
    );
    // Asymmetric.
    let e = Gmm::from_json(&gmm_with(
        r#"{"weights": [1.0], "means": [[0, 0]], "covariances": {"type": "full", "values": [[[1, 0.5], [0, 1]]]}}"#,
    ))
    .unwrap_err();
    assert!(matches!(
        e,
        Error::InvalidModel {
            source: ModelError::Mixture(MixtureError::NotSymmetric { .. }),
            ..
        }
    ));
    // Weights.
    for weights in ["[0.5, 0.6]", "[-0.5, 1.5]"] {
        let e = Gmm::from_json(&gmm_with(&format!(
            r#"{{"weights": {weights}, "means": [[0], [1]], "covariances": {{"type": "spherical", "values": [1, 1]}}}}"#
        )))
        .unwrap_err();
        assert!(
            matches!(
                e,
                Error::InvalidModel {
                    source: ModelError::Mixture(
                        MixtureError::WeightsDoNotSumToOne { .. } | MixtureError::InvalidWeight { .. }
                    ),
                    ..
                }
            ),
            "{weights}: {e:?}"
        );
    }
    // Variances.
    for values in ["[0, 1]", "[-1, 1]"] {
        let e = Gmm::from_json(&gmm_with(&format!(
            r#"{{"weights": [0.5, 0.5], "means": [[0], [1]], "covariances": {{"type": "spherical", "values": {values}}}}}"#
        )))
        .unwrap_err();
        assert!(matches!(e, Error::InvalidModel { .. }), "{values}: {e:?}");
    }
}

fn hmm_doc(kind: &str, parameters: &str) -> String {
    format!(r#"{{"format_version": 1, "kind": "{kind}", "parameters": {parameters}}}"#)
}

#[test]
fn hmm_files_are_validated() {
    let ok = r#"{"start": [0.5, 0.5], "transitions": [[0.9, 0.1], [0.2, 0.8]], "emission_probabilities": [[0.5, 0.5], [0.1, 0.9]]}"#;
    CategoricalHmm::from_json(&hmm_doc("categorical-hmm", ok)).unwrap();
    let bad_rows = [
        r#"{"start": [0.5, 0.6], "transitions": [[0.9, 0.1], [0.2, 0.8]], "emission_probabilities": [[0.5, 0.5], [0.1, 0.9]]}"#,
        r#"{"start": [0.5, 0.5], "transitions": [[0.9, 0.2], [0.2, 0.8]], "emission_probabilities": [[0.5, 0.5], [0.1, 0.9]]}"#,
        r#"{"start": [0.5, 0.5], "transitions": [[0.9, 0.1], [0.2, 0.8]], "emission_probabilities": [[1.5, -0.5], [0.1, 0.9]]}"#,
    ];
    for p in bad_rows {
        let e = CategoricalHmm::from_json(&hmm_doc("categorical-hmm", p)).unwrap_err();
        assert!(
            matches!(
                e,
                Error::InvalidModel {
                    kind: ModelKind::CategoricalHmm,
                    field: Some(_),
                    source: ModelError::Hmm(HmmError::RowSum { .. } | HmmError::InvalidProbability { .. })
                }
            ),
            "{p}: {e:?}"
        );
    }
    // The constructor's error names the field it is about.
    let fields: Vec<String> = bad_rows
        .iter()
        .map(|p| {
            let e = CategoricalHmm::from_json(&hmm_doc("categorical-hmm", p)).unwrap_err();
            let Error::InvalidModel { field: Some(f), .. } = e else {
                panic!("{e:?}")
            };
            f.to_string()
        })
        .collect();
    assert_eq!(
        fields,
        [
            "parameters.start",
            "parameters.transitions[0]",
            "parameters.emission_probabilities[0][1]"
        ]
    );
    let e = CategoricalHmm::from_json(&hmm_doc(
        "categorical-hmm",
        r#"{"start": [1.0], "transitions": [[0.9, 0.1], [0.2, 0.8]], "emission_probabilities": [[0.5, 0.5], [0.1, 0.9]]}"#,
    ))
    .unwrap_err();
    assert_eq!(field(&e), "parameters.start");
    let e = CategoricalHmm::from_json(&hmm_doc(
        "categorical-hmm",
        r#"{"start": [0.5, 0.5], "transitions": [[0.9, 0.1], [0.2, 0.8], [1, 0]], "emission_probabilities": [[0.5, 0.5], [0.1, 0.9]]}"#,
    ))
    .unwrap_err();
    assert_eq!(field(&e), "parameters.transitions");

    let e = GaussianHmm::from_json(&hmm_doc(
        "gaussian-hmm",
        r#"{"start": [0.5, 0.5], "transitions": [[0.9, 0.1], [0.2, 0.8]], "means": [[0], [1]], "covariances": {"type": "diag", "values": [[1], [0]]}}"#,
    ))
    .unwrap_err();
    assert!(
        matches!(
            &e,
            Error::InvalidModel {
                kind: ModelKind::GaussianHmm,
                field: Some(f),
                source: ModelError::Hmm(_)
            } if f.to_string() == "parameters.covariances.values[1]"
        ),
        "{e:?}"
    );

    // GMM-HMM: the failing state is named.
    let gmm = |cov: &str| {
        format!(
            r#"{{"weights": [0.5, 0.5], "means": [[0], [1]], "covariances": {{"type": "spherical", "values": {cov}}}}}"#
        )
    };
    let p = format!(
        r#"{{"start": [0.5, 0.5], "transitions": [[0.9, 0.1], [0.2, 0.8]], "mixtures": [{}, {}]}}"#,
        gmm("[1, 1]"),
        gmm("[1, -1]")
    );
    let e = GmmHmm::from_json(&hmm_doc("gmm-hmm", &p)).unwrap_err();
    assert!(
        matches!(
            e,
            Error::InvalidModel {
                source: ModelError::Hmm(HmmError::Mixture { state: Some(1), .. }),
                ..
            }
        ),
        "{e:?}"
    );
    let p = r#"{"start": [], "transitions": [], "mixtures": []}"#;
    let e = GmmHmm::from_json(&hmm_doc("gmm-hmm", p)).unwrap_err();
    assert_eq!(field(&e), "parameters.mixtures");
    // Mixtures of different shapes across states.
    let p = format!(
        r#"{{"start": [0.5, 0.5], "transitions": [[0.9, 0.1], [0.2, 0.8]], "mixtures": [{}, {{"weights": [1.0], "means": [[0]], "covariances": {{"type": "spherical", "values": [1]}}}}]}}"#,
        gmm("[1, 1]")
    );
    let e = GmmHmm::from_json(&hmm_doc("gmm-hmm", &p)).unwrap_err();
    assert!(
        matches!(
            e,
            Error::InvalidModel {
                kind: ModelKind::GmmHmm,
                ..
            }
        ),
        "{e:?}"
    );
    let e = GmmHmm::from_json(&hmm_doc(
        "gmm-hmm",
        &format!(r#"{{"start": [0.5, 0.5], "transitions": [[0.9, 0.1], [0.2, 0.8]], "mixtures": [{{"weights": [1.0], "means": [[0, 1], [2]], "covariances": {{"type": "spherical", "values": [1]}}}}, {}]}}"#, gmm("[1, 1]")),
    ))
    .unwrap_err();
    assert_eq!(field(&e), "parameters.mixtures[0].means");
}

fn lgssm_doc(q: &str, h: &str, m0: &str) -> String {
    hmm_doc(
        "lgssm",
        &format!(
            r#"{{"transition_matrix": [[0.9, 0], [0, 0.5]], "transition_covariance": {q},
               "observation_matrix": {h}, "observation_covariance": [[1]],
               "initial_mean": {m0}, "initial_covariance": [[1, 0], [0, 1]]}}"#
        ),
    )
}

#[test]
fn lgssm_files_are_validated() {
    let good = lgssm_doc("[[1, 0], [0, 1]]", "[[1, 0]]", "[0, 0]");
    let m = Lgssm::from_json(&good).unwrap();
    assert_eq!((m.state_dim(), m.obs_dim()), (2, 1));
    assert!(matches!(AnyModel::from_json(&good).unwrap(), AnyModel::Lgssm(_)));

    let e = Lgssm::from_json(&lgssm_doc("[[1, 2], [2, 1]]", "[[1, 0]]", "[0, 0]")).unwrap_err();
    assert!(
        matches!(
            &e,
            Error::InvalidModel {
                kind: ModelKind::Lgssm,
                field: Some(f),
                source: ModelError::StateSpace(StateSpaceError::NotPositiveDefinite {
                    matrix: Matrix::Param(Param::Q),
                    ..
                })
            } if f.to_string() == "parameters.transition_covariance"
        ),
        "{e:?}"
    );
    let e = Lgssm::from_json(&lgssm_doc("[[1, 0.5], [0, 1]]", "[[1, 0]]", "[0, 0]")).unwrap_err();
    assert!(matches!(
        e,
        Error::InvalidModel {
            source: ModelError::StateSpace(StateSpaceError::NotSymmetric {
                matrix: Matrix::Param(Param::Q),
                ..
            }),
            ..
        }
    ));
    for (q, h, m0, path) in [
        (
            "[[1, 0], [0, 1]]",
            "[[1]]",
            "[0, 0]",
            "parameters.observation_matrix[0]",
        ),
        ("[[1, 0], [0, 1]]", "[[1, 0]]", "[0]", "parameters.initial_mean"),
        (
            "[[1, 0]]",
            "[[1, 0]]",
            "[0, 0]",
            "parameters.transition_covariance",
        ),
        (
            "[[1, 0], [0, 1]]",
            "[]",
            "[0, 0]",
            "parameters.observation_matrix",
        ),
        (
            "[[1, 0], [0, 1]]",
            "[[1, 0], [0, 1]]",
            "[0, 0]",
            "parameters.observation_covariance",
        ),
    ] {
        let e = Lgssm::from_json(&lgssm_doc(q, h, m0)).unwrap_err();
        assert_eq!(field(&e), path, "{e}");
    }
}

/// A format-3 `lgssm` document (n = 2, p = 1) with these extra fields.
fn lgssm_v3_doc(extra: &str) -> String {
    format!(
        r#"{{"format_version": 3, "kind": "lgssm", "parameters": {{
            "transition_matrices": [[0.9, 0], [0, 0.5]], "transition_covariance": [[1, 0], [0, 1]],
            "observation_matrices": [[1, 0]], "observation_covariance": [[1]],
            "initial_state_mean": [0, 0], "initial_state_covariance": [[1, 0], [0, 1]]{extra}}}}}"#
    )
}

#[test]
fn lgssm_input_fields_are_optional_and_checked() {
    // Absent offsets are zero; an absent input matrix is zero with the
    // other one's width.
    let m = Lgssm::from_json(&lgssm_v3_doc("")).unwrap();
    assert_eq!((m.input_dim(), m.has_inputs()), (0, false));
    let m = Lgssm::from_json(&lgssm_v3_doc(
        r#", "transition_input_matrix": [[1, 2, 3], [4, 5, 6]]"#,
    ))
    .unwrap();
    assert_eq!(m.input_dim(), 3);
    assert_eq!((m.d().nrows(), m.d().ncols()), (1, 3));
    assert!(m.d().col_iter().all(|c| c[0] == 0.0));
    let m = Lgssm::from_json(&lgssm_v3_doc(
        r#", "observation_input_matrix": [[2]], "observation_offsets": [5]"#,
    ))
    .unwrap();
    assert_eq!((m.input_dim(), m.b()[(1, 0)], m.d()[(0, 0)]), (1, 0.0, 2.0));
    assert_eq!(
        (m.transition_offset(), m.observation_offset()),
        (&[0.0, 0.0][..], &[5.0][..])
    );
    for (extra, path) in [
        (r#", "transition_offsets": [1]"#, "parameters.transition_offsets"),
        (
            r#", "observation_offsets": [1, 2]"#,
            "parameters.observation_offsets",
        ),
        (
            r#", "observation_offsets": ["1"]"#,
            "parameters.observation_offsets[0]",
        ),
        (
            r#", "transition_input_matrix": [[1]]"#,
            "parameters.transition_input_matrix",
        ),
        (
            r#", "transition_input_matrix": [[1, 2], [3]]"#,
            "parameters.transition_input_matrix[1]",
        ),
        (
            r#", "transition_input_matrix": [[1, 2], [3, 4]], "observation_input_matrix": [[1]]"#,
            "parameters.observation_input_matrix[0]",
        ),
    ] {
        let e = Lgssm::from_json(&lgssm_v3_doc(extra)).unwrap_err();
        assert_eq!(field(&e), path, "{extra}: {e}");
    }
    // Format 2 had no input fields.
    let v2 = lgssm_v3_doc(r#", "transition_offsets": [0, 0]"#)
        .replace("\"format_version\": 3", "\"format_version\": 2");
    let e = Lgssm::from_json(&v2).unwrap_err();
    assert!(matches!(e, Error::UnknownField { .. }), "{e:?}");
}

fn temp(name: &str) -> PathBuf {
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("hostile_{name}_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn file_level_problems() {
    let dir = temp("files");
    let missing = dir.join("missing.json");
    let e = Gmm::load(&missing).unwrap_err();
    assert!(matches!(&e, Error::Io { path, .. } if *path == missing));
    assert!(e.to_string().contains("missing.json"));

    // A huge (sparse) file is refused from its size, without reading it.
    let huge = dir.join("huge.json");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(MAX_FILE_BYTES + 1)
        .unwrap();
    let e = AnyModel::load(&huge).unwrap_err();
    assert!(matches!(e, Error::FileTooLarge { size, max: MAX_FILE_BYTES, .. } if size == MAX_FILE_BYTES + 1));
    std::fs::remove_file(&huge).unwrap();

    // A UTF-8 byte order mark (as Windows editors write) is skipped.
    let bom = dir.join("bom.json");
    std::fs::write(&bom, format!("\u{feff}{GOOD_GMM}")).unwrap();
    assert_eq!(Gmm::load(&bom).unwrap().n_components(), 2);
    // Errors of a loaded file name the file, the field and the problem.
    let bad = dir.join("bad.json");
    std::fs::write(&bad, GOOD_GMM.replace("[2.5, 0.0]", "[2.5]")).unwrap();
    let e = AnyModel::load(&bad).unwrap_err();
    assert!(matches!(&e, Error::InFile { path, .. } if *path == bad), "{e:?}");
    assert!(matches!(
        e.cause(),
        Error::Shape {
            expected: 2,
            found: 1,
            ..
        }
    ));
    assert_eq!(
        e.to_string(),
        format!(
            "model file {}: field `parameters.means[1]`: expected length 2, found 1",
            bad.display()
        )
    );
    std::fs::write(&bad, "[1, 2, 3]").unwrap();
    let e = Gmm::load(&bad).unwrap_err();
    assert!(
        e.to_string()
            .contains("bad.json: expected an object with a `kind` field"),
        "{e}"
    );

    let binary = dir.join("binary.json");
    std::fs::write(&binary, [0xff, 0xfe, 0x00, 0x7b]).unwrap();
    assert!(matches!(Gmm::load(&binary), Err(Error::Io { .. })));

    // Writing into a missing directory fails, naming the target, and leaves
    // nothing behind; an existing file is only replaced on success.
    let target = dir.join("no_such_dir").join("m.json");
    let e = save_json(&target, "x").unwrap_err();
    assert!(matches!(&e, Error::Io { path, .. } if *path == target));
    let good = dir.join("good.json");
    std::fs::write(&good, GOOD_GMM).unwrap();
    // Renaming over a directory fails: the directory stays, the temporary
    // file is removed.
    let sub = dir.join("sub");
    std::fs::create_dir(&sub).unwrap();
    assert!(matches!(save_json(&sub, "x"), Err(Error::Io { .. })));
    assert!(sub.is_dir());
    assert_eq!(std::fs::read_to_string(&good).unwrap(), GOOD_GMM);
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.starts_with(".emfit-")), "{names:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Values a model constructor rejects are located in format-2 files too.
#[test]
fn invalid_values_name_their_field_in_format_2() {
    let located = |kind: &str, parameters: &str| {
        let text = format!(r#"{{"format_version": 2, "kind": "{kind}", "parameters": {parameters}}}"#);
        let e = AnyModel::from_json(&text).unwrap_err();
        let Error::InvalidModel { field: Some(f), .. } = &e else {
            panic!("{e:?}")
        };
        assert!(e.to_string().contains(&format!("field `{f}`: ")), "{e}");
        f.to_string()
    };
    let chain = r#""startprob": [0.5, 0.5], "transmat": [[0.9, 0.1], [0.2, 0.8]]"#;
    assert_eq!(
        located(
            "gmm-hmm",
            &format!(
                r#"{{{chain}, "covariance_type": "spherical", "weights": [[0.5, 0.5], [0.5, 0.5]],
                    "means": [[[0], [1]], [[2], [3]]], "covars": [[1, 1], [-1, 1]]}}"#
            )
        ),
        "parameters.covars[1][0]"
    );
    assert_eq!(
        located(
            "gmm",
            r#"{"covariance_type": "diag", "weights": [-0.5, 1.5], "means": [[0], [1]], "covariances": [[1], [1]]}"#
        ),
        "parameters.weights[0]"
    );
    assert_eq!(
        located(
            "poisson-hmm",
            &format!(r#"{{{chain}, "lambdas": [[1.0], [-2.0]]}}"#)
        ),
        "parameters.lambdas[1][0]"
    );
    assert_eq!(
        located(
            "lgssm",
            r#"{"transition_matrices": [[1]], "transition_covariance": [[1]], "observation_matrices": [[1]],
                "observation_covariance": [[1]], "initial_state_mean": [0], "initial_state_covariance": [[-1]]}"#
        ),
        "parameters.initial_state_covariance"
    );
}
