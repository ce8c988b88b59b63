//! Model files round-trip bit for bit, through text and through files.

use em_driver::faer::{Mat, mat};
use em_driver::hmm::{CategoricalEmission, GaussianEmission, Hmm};
use em_driver::mixture::{CovarianceType, Covariances, GaussianMixture};
use em_driver::model_file::{AnyModel, read_kind};
use em_driver::models::{CategoricalHmm, GaussianHmm, Gmm, GmmHmm, Lgssm};
use em_driver::statespace::LinearGaussianSsm;
use em_driver::{FORMAT_VERSION, ModelFile, ModelKind};
use proptest::prelude::*;

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn mat_bits(m: em_driver::faer::MatRef<'_, f64>) -> Vec<u64> {
    (0..m.nrows())
        .flat_map(|i| (0..m.ncols()).map(move |j| m[(i, j)].to_bits()))
        .collect()
}

fn cov_bits(c: &Covariances) -> Vec<u64> {
    match c {
        Covariances::Full(ms) => ms.iter().flat_map(|m| mat_bits(m.as_ref())).collect(),
        Covariances::Diagonal(m) | Covariances::Tied(m) => mat_bits(m.as_ref()),
        Covariances::Spherical(v) => bits(v),
    }
}

fn gmm_bits(m: &GaussianMixture) -> (Vec<u64>, Vec<u64>, Vec<u64>, CovarianceType) {
    (
        bits(m.weights()),
        mat_bits(m.means()),
        cov_bits(m.covariances()),
        m.covariance_type(),
    )
}

/// Whether the hmm crate stores validated probability rows as given. At the
/// time of writing its constructors renormalise every row (`p / Σp`), which
/// moves a row summing to 0.9999999999999999 by an ulp at every load, so
/// probability rows of HMM files cannot round-trip bit for bit (requested
/// in notes/DRIVER_NEEDS.md). Until then the tests below check those rows
/// to 4 ulps and everything else bit for bit; they tighten by themselves
/// once the constructors keep rows as given.
fn hmm_keeps_rows_as_given() -> bool {
    let p = vec![0.7, 0.2, 0.1];
    let e = CategoricalEmission::new(mat![[0.7, 0.2, 0.1], [0.7, 0.2, 0.1], [0.7, 0.2, 0.1]]).unwrap();
    let keeps_emission = bits(&(0..3).map(|s| e.probabilities()[(0, s)]).collect::<Vec<_>>()) == bits(&p);
    let t = mat![[0.7, 0.2, 0.1], [0.7, 0.2, 0.1], [0.7, 0.2, 0.1]];
    let m = Hmm::new(p.clone(), t.as_ref(), e).unwrap();
    keeps_emission && bits(m.start_probs()) == bits(&p)
}

/// Probability rows: bit for bit when the hmm crate keeps them as given,
/// otherwise within 4 ulps.
fn assert_rows_round_trip(back: &[f64], orig: &[f64]) {
    if hmm_keeps_rows_as_given() {
        assert_eq!(bits(back), bits(orig));
    } else {
        assert_eq!(back.len(), orig.len());
        for (a, b) in back.iter().zip(orig) {
            assert!((a - b).abs() <= 4.0 * f64::EPSILON * b.abs(), "{a} vs {b}");
        }
    }
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
        if hmm_keeps_rows_as_given() {
            assert_eq!(back.to_json(), text);
        }
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
    if hmm_keeps_rows_as_given() {
        assert_eq!(back.to_json(), text);
    }
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
    if hmm_keeps_rows_as_given() {
        assert_eq!(back.to_json(), text);
    }
}

fn awkward_lgssm() -> LinearGaussianSsm {
    LinearGaussianSsm::new(
        mat![[0.99, 1.0 / 3.0], [0.0, 0.1 + 0.2]],
        mat![[2.0 / 3.0, 1e-5], [1e-5, 1e-7]],
        mat![[1.0, 0.0], [0.0, 1.0], [0.5, -1.0 / 7.0]],
        Mat::from_fn(3, 3, |i, j| if i == j { [0.01, 0.01, 1.0][i] } else { 0.0 }),
        vec![1e-300, -12345.678901234567],
        mat![[1.0, 0.3], [0.3, std::f64::consts::PI]],
    )
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
        let is_hmm = matches!(
            m,
            AnyModel::GaussianHmm(_) | AnyModel::GmmHmm(_) | AnyModel::CategoricalHmm(_)
        );
        if !is_hmm || hmm_keeps_rows_as_given() {
            assert_eq!(back.to_json(), m.to_json());
        }
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

fn finite() -> impl Strategy<Value = f64> {
    prop_oneof![
        -1e6f64..1e6,
        (-300i32..300, 1.0f64..10.0).prop_map(|(e, m)| m * 10f64.powi(e)),
        Just(-0.0),
    ]
}

fn positive() -> impl Strategy<Value = f64> {
    (-20i32..20, 1.0f64..10.0).prop_map(|(e, m)| m * 10f64.powi(e))
}

prop_compose! {
    fn any_gmm()(k in 1usize..4, d in 1usize..4, t in 0usize..3)
        (raw_w in prop::collection::vec(0.01f64..1.0, k),
         means in prop::collection::vec(finite(), k * d),
         vars in prop::collection::vec(positive(), k * d),
         k in Just(k), d in Just(d), t in Just(t)) -> GaussianMixture {
        let total: f64 = raw_w.iter().sum();
        let weights: Vec<f64> = raw_w.iter().map(|w| w / total).collect();
        let means = Mat::from_fn(k, d, |i, j| means[i * d + j]);
        let covariances = match t {
            0 => Covariances::Diagonal(Mat::from_fn(k, d, |i, j| vars[i * d + j])),
            1 => Covariances::Spherical(vars[..k].to_vec()),
            _ => Covariances::Full((0..k).map(|c| Mat::from_fn(d, d, |i, j| if i == j { vars[c * d + i] } else { 0.0 })).collect()),
        };
        GaussianMixture::new(weights, means, covariances).unwrap()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_gmm_round_trips_bit_for_bit(m in any_gmm()) {
        let text = m.to_json();
        let back = Gmm::from_json(&text).unwrap();
        prop_assert_eq!(gmm_bits(&back), gmm_bits(&m));
    }
}
