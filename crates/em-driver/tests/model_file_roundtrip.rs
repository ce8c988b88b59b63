//! Model files round-trip bit for bit, through text and through files.

use em_driver::faer::{Mat, mat};
use em_driver::hmm::{CategoricalEmission, GaussianEmission, Hmm};
use em_driver::hmm::{CategoricalHmm, GaussianHmm, GmmHmm};
use em_driver::mixture::GaussianMixture as Gmm;
use em_driver::mixture::{CovarianceType, Covariances, GaussianMixture};
use em_driver::model_file::{AnyModel, read_kind};
use em_driver::statespace::LinearGaussianSsm as Lgssm;
use em_driver::statespace::{InputParameters, LinearGaussianSsm, Parameters};
use em_driver::{FORMAT_VERSION, ModelFile, ModelKind};
mod common;
use common::{bits, cov_bits, gmm_bits, mat_bits};

/// Probability rows round-trip bit for bit (the hmm crate stores validated
/// rows as given).
fn assert_rows_round_trip(back: &[f64], orig: &[f64]) {
    assert_eq!(bits(back), bits(orig));
}

fn assert_chain_round_trips<E: em_driver::hmm::Emission>(back: &Hmm<E>, orig: &Hmm<E>) {
    let flat = |m: em_driver::faer::MatRef<'_, f64>| -> Vec<f64> {
        (0..m.nrows())
            .flat_map(|i| (0..m.ncols()).map(move |j| m[(i, j)]))
            .collect()
    };
    assert_rows_round_trip(back.start_probs(), orig.start_probs());
    assert_rows_round_trip(&flat(back.transitions()), &flat(orig.transitions()));
}

/// Values whose shortest decimal forms are long, tiny or huge.
fn awkward_gmm(cov_type: CovarianceType) -> GaussianMixture {
    let w0 = 0.1 + 0.2; // 0.30000000000000004
    let weights = vec![w0, 1.0 - w0];
    let means = mat![[1.0 / 3.0, -2.0f64.sqrt()], [1e-300, 12345.678901234567]];
    let covariances = match cov_type {
        CovarianceType::Full => Covariances::Full(vec![
            mat![[std::f64::consts::PI, 0.1], [0.1, 2.0 / 7.0]],
            mat![[1e-5, 3e-7], [3e-7, 1e-5]],
        ]),
        CovarianceType::Diagonal => Covariances::Diagonal(mat![[0.1, 0.7], [1e10, 5e-11]]),
        CovarianceType::Spherical => Covariances::Spherical(vec![std::f64::consts::E, 1.0 / 3.0]),
        CovarianceType::Tied => Covariances::Tied(mat![[2.0 / 3.0, -0.1], [-0.1, 0.9]]),
    };
    GaussianMixture::new(weights, means, covariances).unwrap()
}

#[test]
fn gmm_round_trips_bit_for_bit_for_every_covariance_type() {
    for t in CovarianceType::ALL {
        let m = awkward_gmm(t);
        let text = m.to_json();
        assert_eq!(read_kind(&text).unwrap(), ModelKind::Gmm);
        let back = Gmm::from_json(&text).unwrap();
        assert_eq!(gmm_bits(&back), gmm_bits(&m), "{t}");
        assert_eq!(back, m);
        assert_eq!(back.to_json(), text, "idempotent text for {t}");
    }
}

#[test]
fn documents_have_version_kind_and_parameters() {
    let text = awkward_gmm(CovarianceType::Diagonal).to_json();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["format_version"], FORMAT_VERSION);
    assert_eq!(v["kind"], "gmm");
    assert_eq!(FORMAT_VERSION, 3);
    assert_eq!(v.as_object().unwrap().len(), 3);
    // scikit-learn's names and shapes.
    let p = &v["parameters"];
    assert_eq!(p["covariance_type"], "diag");
    assert_eq!(p["weights"].as_array().unwrap().len(), 2);
    assert_eq!(p["covariances"][1].as_array().unwrap().len(), 2);
    assert_eq!(p["covariances"][1][0], 1e10);
    let names: Vec<&str> = p.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(names, ["covariance_type", "covariances", "means", "weights"]);
}

fn gaussian_hmm(cov_type: CovarianceType) -> GaussianHmm {
    let means = mat![[0.1, -0.2], [1.0 / 3.0, 7.0], [-4.0, 1e-9]];
    let covariances = match cov_type {
        CovarianceType::Full => Covariances::Full(vec![
            mat![[1.0, 0.3], [0.3, 0.5]],
            mat![[0.2, 0.0], [0.0, 0.2]],
            mat![[3.0, -1.0], [-1.0, 1.1]],
        ]),
        CovarianceType::Diagonal => Covariances::Diagonal(mat![[0.1, 0.2], [0.3, 0.4], [1.0 / 3.0, 9.0]]),
        CovarianceType::Spherical => Covariances::Spherical(vec![0.1, 0.2, 0.3]),
        CovarianceType::Tied => Covariances::Tied(mat![[1.0, 0.1], [0.1, 1.0]]),
    };
    let emission = GaussianEmission::new(means, covariances).unwrap();
    let start = vec![0.7, 0.2, 0.1]; // sums to 0.9999999999999999
    let trans = mat![[0.8, 0.1, 0.1], [0.3, 0.3, 0.4], [0.1 + 0.2, 0.6, 0.1]];
    Hmm::new(start, trans.as_ref(), emission).unwrap()
}

#[test]
fn gaussian_hmm_round_trips_bit_for_bit() {
    for t in CovarianceType::ALL {
        let m = gaussian_hmm(t);
        let text = m.to_json();
        assert_eq!(read_kind(&text).unwrap(), ModelKind::GaussianHmm);
        let back = GaussianHmm::from_json(&text).unwrap();
        assert_chain_round_trips(&back, &m);
        assert_eq!(mat_bits(back.emission().means()), mat_bits(m.emission().means()));
        assert_eq!(
            cov_bits(back.emission().covariances()),
            cov_bits(m.emission().covariances())
        );
        assert_eq!(back.to_json(), text);
    }
}

#[test]
fn gmm_hmm_round_trips_bit_for_bit() {
    let m = em_driver::hmm::scenario::true_model();
    let text = m.to_json();
    let back = GmmHmm::from_json(&text).unwrap();
    assert_chain_round_trips(&back, &m);
    for (a, b) in back.emission().mixtures().iter().zip(m.emission().mixtures()) {
        assert_eq!(gmm_bits(a), gmm_bits(b));
    }
    assert_eq!(back.to_json(), text);
}

#[test]
fn hmm_files_use_hmmlearn_names_and_shapes() {
    let v: serde_json::Value =
        serde_json::from_str(&em_driver::hmm::scenario::true_model().to_json()).unwrap();
    let p = &v["parameters"];
    assert_eq!(p["startprob"], serde_json::json!([0.9, 0.1]));
    assert_eq!(p["transmat"][1], serde_json::json!([0.15, 0.85]));
    assert_eq!(p["covariance_type"], "diag");
    // weights K x M, means K x M x d, covars (diag) K x M x d.
    assert_eq!(p["weights"], serde_json::json!([[0.6, 0.4], [0.4, 0.6]]));
    assert_eq!(p["means"][1], serde_json::json!([[-10.0], [-5.0]]));
    assert_eq!(p["covars"][0], serde_json::json!([[9.0], [4.0]]));
    let v: serde_json::Value =
        serde_json::from_str(&gaussian_hmm(CovarianceType::Spherical).to_json()).unwrap();
    assert_eq!(v["parameters"]["covars"], serde_json::json!([0.1, 0.2, 0.3]));
    assert_eq!(v["parameters"]["means"][2][1], 1e-9);
}

#[test]
fn gmm_hmm_round_trips_for_every_covariance_type() {
    for t in CovarianceType::ALL {
        let mixtures: Vec<GaussianMixture> = (0..2)
            .map(|j| {
                let m = awkward_gmm(t);
                let means = Mat::from_fn(2, 2, |i, c| m.means()[(i, c)] + j as f64);
                GaussianMixture::new(m.weights().to_vec(), means, m.covariances().clone()).unwrap()
            })
            .collect();
        let emission = em_driver::hmm::GmmEmission::from_mixtures(mixtures).unwrap();
        let m: GmmHmm = Hmm::new(vec![0.25, 0.75], mat![[0.5, 0.5], [0.1, 0.9]].as_ref(), emission).unwrap();
        let text = m.to_json();
        let back = GmmHmm::from_json(&text).unwrap();
        for (a, b) in back.emission().mixtures().iter().zip(m.emission().mixtures()) {
            assert_eq!(gmm_bits(a), gmm_bits(b), "{t}");
        }
        assert_eq!(back.to_json(), text, "{t}");
    }
}

#[test]
fn poisson_hmm_round_trips_bit_for_bit() {
    let rates = mat![[1.5, 0.1 + 0.2], [20.0, 1e-3]];
    let emission = em_driver::hmm::PoissonEmission::new(rates).unwrap();
    let m: em_driver::hmm::PoissonHmm =
        Hmm::new(vec![0.3, 0.7], mat![[0.9, 0.1], [0.2, 0.8]].as_ref(), emission).unwrap();
    let text = m.to_json();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["kind"], "poisson-hmm");
    assert_eq!(
        v["parameters"]["lambdas"][0],
        serde_json::json!([1.5, 0.30000000000000004])
    );
    let back = AnyModel::from_json(&text).unwrap();
    let AnyModel::PoissonHmm(back) = back else {
        panic!("{back:?}")
    };
    assert_chain_round_trips(&back, &m);
    assert_eq!(mat_bits(back.emission().rates()), mat_bits(m.emission().rates()));
    assert_eq!(back.to_json(), text);
}

/// The committed format-1 files (written by the format-1 writer from the
/// models of this file) still load, to the same models, and are written
/// back as format 3.
#[test]
fn format_1_files_still_load() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/v1");
    let load = |name: &str| {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"format_version\": 1"), "{name}");
        AnyModel::load(&path).unwrap_or_else(|e| panic!("{e}"))
    };
    let expected: Vec<(&str, AnyModel)> = vec![
        ("gmm-full.json", awkward_gmm(CovarianceType::Full).into()),
        ("gmm-tied.json", awkward_gmm(CovarianceType::Tied).into()),
        (
            "gaussian-hmm-diag.json",
            gaussian_hmm(CovarianceType::Diagonal).into(),
        ),
        (
            "gaussian-hmm-spherical.json",
            gaussian_hmm(CovarianceType::Spherical).into(),
        ),
        ("gmm-hmm.json", em_driver::hmm::scenario::true_model().into()),
        ("categorical-hmm.json", {
            let emission = CategoricalEmission::new(mat![[0.7, 0.2, 0.1], [0.1 + 0.2, 0.3, 0.4]]).unwrap();
            let m: CategoricalHmm =
                Hmm::new(vec![0.3, 0.7], mat![[0.9, 0.1], [0.2, 0.8]].as_ref(), emission).unwrap();
            m.into()
        }),
        ("lgssm.json", awkward_lgssm().into()),
    ];
    let mut kinds = std::collections::HashSet::new();
    for (name, model) in expected {
        let back = load(name);
        kinds.insert(back.kind());
        // Same model: the same format-3 text, bit for bit.
        assert_eq!(back.to_json(), model.to_json(), "{name}");
        assert!(back.to_json().contains("\"format_version\": 3"));
    }
    // Every kind that format 1 had.
    assert_eq!(kinds.len(), 5);
    assert!(!kinds.contains(&ModelKind::PoissonHmm));
}

#[test]
fn categorical_hmm_round_trips_bit_for_bit() {
    let probs = mat![[0.7, 0.2, 0.1], [0.1 + 0.2, 0.3, 0.4]];
    let emission = CategoricalEmission::new(probs).unwrap();
    let m: CategoricalHmm =
        Hmm::new(vec![0.3, 0.7], mat![[0.9, 0.1], [0.2, 0.8]].as_ref(), emission).unwrap();
    let text = m.to_json();
    let back = CategoricalHmm::from_json(&text).unwrap();
    assert_chain_round_trips(&back, &m);
    let flat = |p: em_driver::faer::MatRef<'_, f64>| -> Vec<f64> {
        (0..p.nrows())
            .flat_map(|i| (0..p.ncols()).map(move |j| p[(i, j)]))
            .collect()
    };
    assert_rows_round_trip(
        &flat(back.emission().probabilities()),
        &flat(m.emission().probabilities()),
    );
    assert_eq!(back.to_json(), text);
}

fn awkward_lgssm() -> LinearGaussianSsm {
    LinearGaussianSsm::from_parameters(Parameters {
        a: mat![[0.99, 1.0 / 3.0], [0.0, 0.1 + 0.2]],
        q: mat![[2.0 / 3.0, 1e-5], [1e-5, 1e-7]],
        h: mat![[1.0, 0.0], [0.0, 1.0], [0.5, -1.0 / 7.0]],
        r: Mat::from_fn(3, 3, |i, j| if i == j { [0.01, 0.01, 1.0][i] } else { 0.0 }),
        m0: vec![1e-300, -12345.678901234567],
        p0: mat![[1.0, 0.3], [0.3, std::f64::consts::PI]],
    })
    .unwrap()
}

fn lgssm_bits(m: &LinearGaussianSsm) -> Vec<Vec<u64>> {
    vec![
        mat_bits(m.a()),
        mat_bits(m.q()),
        mat_bits(m.h()),
        mat_bits(m.r()),
        bits(m.m0()),
        mat_bits(m.p0()),
        mat_bits(m.b()),
        mat_bits(m.d()),
        bits(m.transition_offset()),
        bits(m.observation_offset()),
    ]
}

/// The awkward model with two inputs and offsets of awkward values.
fn awkward_lgssm_with_inputs() -> LinearGaussianSsm {
    awkward_lgssm()
        .with_inputs(InputParameters {
            b: mat![[0.1 + 0.2, -1e-300], [1.0 / 3.0, 7.0]],
            d: mat![[1.0, 0.0], [0.0, -2.0f64.sqrt()], [1e10, 5e-11]],
            transition_offset: vec![std::f64::consts::E, -0.0],
            observation_offset: vec![0.5, 1.0 / 7.0, -12345.678901234567],
        })
        .unwrap()
}

/// Checks that `m` round-trips bit for bit through its text; returns the
/// text's `parameters`.
fn assert_lgssm_round_trips(m: &LinearGaussianSsm) -> serde_json::Value {
    let text = m.to_json();
    assert_eq!(read_kind(&text).unwrap(), ModelKind::Lgssm);
    let back = Lgssm::from_json(&text).unwrap();
    assert_eq!(lgssm_bits(&back), lgssm_bits(m));
    assert_eq!(&back, m);
    assert_eq!(back.to_json(), text);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["parameters"].clone()
}

#[test]
fn lgssm_inputs_and_offsets_round_trip_bit_for_bit() {
    let p = &assert_lgssm_round_trips(&awkward_lgssm_with_inputs());
    assert_eq!(
        p["transition_input_matrix"][1],
        serde_json::json!([1.0 / 3.0, 7.0])
    );
    assert_eq!(p["observation_input_matrix"].as_array().unwrap().len(), 3);
    assert_eq!(p["transition_offsets"][0], std::f64::consts::E);
    assert_eq!(p["observation_offsets"][2], -12345.678901234567);
}

/// Without inputs, format 3 writes the (zero) offsets and no input
/// matrices; offsets alone (m = 0) round-trip too.
#[test]
fn lgssm_without_inputs_writes_offsets_only() {
    let v: serde_json::Value = serde_json::from_str(&awkward_lgssm().to_json()).unwrap();
    let p = v["parameters"].as_object().unwrap();
    assert_eq!(p["transition_offsets"], serde_json::json!([0.0, 0.0]));
    assert!(!p.contains_key("transition_input_matrix"));
    assert!(!p.contains_key("observation_input_matrix"));
    let mut inputs = InputParameters::zeros(2, 3, 0);
    inputs.observation_offset = vec![1.0, -2.0, 0.25];
    let m = awkward_lgssm().with_inputs(inputs).unwrap();
    let back = Lgssm::from_json(&m.to_json()).unwrap();
    assert_eq!(back, m);
    assert_eq!(back.observation_offset(), [1.0, -2.0, 0.25]);
}

/// The committed format-2 file (the format-2 text of the awkward model)
/// still loads, to the model with no inputs and zero offsets.
#[test]
fn format_2_lgssm_file_still_loads() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/v2/lgssm.json");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("\"format_version\": 2"));
    let back = Lgssm::load(&path).unwrap();
    assert_eq!(lgssm_bits(&back), lgssm_bits(&awkward_lgssm()));
    assert_eq!(back.input_dim(), 0);
    assert!(!back.has_inputs());
    // Written back as format 3 with the same matrices.
    let again = Lgssm::from_json(&back.to_json()).unwrap();
    assert_eq!(again, back);
}

#[test]
fn lgssm_round_trips_bit_for_bit() {
    let p = &assert_lgssm_round_trips(&awkward_lgssm());
    assert_eq!(p["observation_matrices"].as_array().unwrap().len(), 3);
    assert_eq!(p["initial_state_mean"][1], -12345.678901234567);
    for name in [
        "transition_matrices",
        "transition_covariance",
        "observation_covariance",
        "initial_state_covariance",
    ] {
        assert!(p[name].is_array(), "{name}");
    }
}

#[test]
fn save_and_load_through_files_and_any_model() {
    let dir = tempdir("roundtrip");
    let models: Vec<AnyModel> = vec![
        awkward_gmm(CovarianceType::Full).into(),
        gaussian_hmm(CovarianceType::Diagonal).into(),
        em_driver::hmm::scenario::true_model().into(),
        {
            let e = CategoricalEmission::new(mat![[0.5, 0.5], [0.25, 0.75]]).unwrap();
            let m: CategoricalHmm =
                Hmm::new(vec![1.0, 0.0], mat![[0.5, 0.5], [0.0, 1.0]].as_ref(), e).unwrap();
            m.into()
        },
        awkward_lgssm().into(),
        awkward_lgssm_with_inputs().into(),
    ];
    for (i, m) in models.iter().enumerate() {
        let path = dir.join(format!("model{i}.json"));
        m.save(&path).unwrap();
        // Overwriting an existing file works too.
        m.save(&path).unwrap();
        let back = AnyModel::load(&path).unwrap();
        assert_eq!(back.kind(), m.kind());
        assert_eq!(back.to_json(), m.to_json());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), m.to_json());
    }
    let gmm = awkward_gmm(CovarianceType::Tied);
    let path = dir.join("typed.json");
    gmm.save(&path).unwrap();
    assert_eq!(Gmm::load(&path).unwrap(), gmm);
    // No temporary files are left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A fresh directory under the target's temporary folder.
fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("model_file_{name}_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
