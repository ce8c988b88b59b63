//! Model files round-trip bit for bit, through text and through files.

use em_driver::faer::{Mat, mat};
use em_driver::hmm::{CategoricalEmission, GaussianEmission, Hmm};
use em_driver::hmm::{CategoricalHmm, GaussianHmm, GmmHmm};
use em_driver::mixture::GaussianMixture as Gmm;
use em_driver::mixture::{CovarianceType, Covariances, GaussianMixture};
use em_driver::model_file::{AnyModel, read_kind};
use em_driver::statespace::LinearGaussianSsm as Lgssm;
use em_driver::statespace::{LinearGaussianSsm, Parameters};
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
    assert_eq!(v["parameters"]["covariances"]["type"], "diag");
    assert_eq!(v.as_object().unwrap().len(), 3);
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
    ]
}

#[test]
fn lgssm_round_trips_bit_for_bit() {
    let m = awkward_lgssm();
    let text = m.to_json();
    assert_eq!(read_kind(&text).unwrap(), ModelKind::Lgssm);
    let back = Lgssm::from_json(&text).unwrap();
    assert_eq!(lgssm_bits(&back), lgssm_bits(&m));
    assert_eq!(back, m);
    assert_eq!(back.to_json(), text);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["parameters"]["observation_matrix"].as_array().unwrap().len(), 3);
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
