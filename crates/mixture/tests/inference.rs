//! Inference, sampling, information criteria, initialisation and k-means.

mod common;

use common::*;
use faer::{Mat, mat};
use mixture::{CovarianceType, Covariances, GaussianMixture, InitMethod, MixtureError, kmeans};
use mixture::{EmModel, InitConfig};
use rand::SeedableRng;
use rand::rngs::StdRng;

fn blobs(n: usize, seed: u64) -> (GaussianMixture, Mat<f64>, Vec<usize>) {
    let truth = GaussianMixture::new(
        vec![0.2, 0.3, 0.5],
        mat![[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]],
        Covariances::Full(vec![
            mat![[1.0, 0.3], [0.3, 1.0]],
            Mat::identity(2, 2),
            mat![[2.0, -0.5], [-0.5, 1.0]],
        ]),
    )
    .unwrap();
    let (x, z) = truth.sample(n, &mut StdRng::seed_from_u64(seed));
    (truth, x, z)
}

#[test]
fn sampling_reproduces_weights_means_and_covariances() {
    let (truth, x, z) = blobs(40_000, 1);
    for c in 0..3 {
        let rows: Vec<usize> = (0..x.nrows()).filter(|&i| z[i] == c).collect();
        let frac = rows.len() as f64 / x.nrows() as f64;
        assert!((frac - truth.weights()[c]).abs() < 0.01);
        let n = rows.len() as f64;
        let mean: Vec<f64> = (0..2)
            .map(|j| rows.iter().map(|&i| x[(i, j)]).sum::<f64>() / n)
            .collect();
        let cov = truth.component_covariance(c).unwrap();
        for a in 0..2 {
            assert!((mean[a] - truth.means()[(c, a)]).abs() < 0.05);
            for b in 0..2 {
                let s = rows
                    .iter()
                    .map(|&i| (x[(i, a)] - mean[a]) * (x[(i, b)] - mean[b]))
                    .sum::<f64>()
                    / n;
                assert!((s - cov[(a, b)]).abs() < 0.08, "{s} vs {}", cov[(a, b)]);
            }
        }
    }
    // A zero-weight component is never drawn.
    let m = GaussianMixture::new(
        vec![0.0, 1.0],
        mat![[0.0], [5.0]],
        Covariances::Spherical(vec![1.0, 1.0]),
    )
    .unwrap();
    let (_, z) = m.sample(1000, &mut StdRng::seed_from_u64(2));
    assert!(z.iter().all(|&c| c == 1));
}

/// The log-likelihood-only pass behind `total_log_likelihood` is the
/// E-step's log-likelihood bit for bit (the same sums in the same order),
/// over several chunks with a partial last block, in row-major and
/// column-major layouts, for every covariance type.
#[test]
fn total_log_likelihood_is_the_e_steps_bit_for_bit() {
    let (truth, x, _) = blobs(10_007, 3);
    let row_major = x.transpose().to_owned();
    for t in CovarianceType::ALL {
        let covariances = match t {
            CovarianceType::Full => truth.covariances().clone(),
            CovarianceType::Tied => Covariances::Tied(mat![[1.5, 0.2], [0.2, 0.8]]),
            CovarianceType::Diagonal => Covariances::Diagonal(mat![[1.0, 0.5], [2.0, 1.0], [0.7, 1.3]]),
            CovarianceType::Spherical => Covariances::Spherical(vec![1.0, 0.5, 2.0]),
        };
        let model =
            GaussianMixture::new(truth.weights().to_vec(), truth.means().to_owned(), covariances).unwrap();
        for data in [x.as_ref(), row_major.transpose()] {
            let e = model.e_step(data).unwrap().log_likelihood;
            assert_eq!(
                model.total_log_likelihood(data).unwrap().to_bits(),
                e.to_bits(),
                "{t}"
            );
        }
    }
}

#[test]
fn labels_scores_and_criteria() {
    let (truth, x, z) = blobs(3000, 2);
    let labels = truth.predict(x.as_ref()).unwrap();
    let agree = labels.iter().zip(&z).filter(|(a, b)| a == b).count();
    assert!(agree as f64 > 0.99 * 3000.0);
    let resp = truth.predict_proba(x.as_ref()).unwrap();
    for i in 0..50 {
        let best = (0..3)
            .max_by(|&a, &b| resp[(i, a)].total_cmp(&resp[(i, b)]))
            .unwrap();
        assert_eq!(labels[i], best);
    }
    let s = truth.score_samples(x.as_ref()).unwrap();
    let total: f64 = s.iter().sum();
    assert!((truth.total_log_likelihood(x.as_ref()).unwrap() - total).abs() < 1e-9);
    assert!((truth.score(x.as_ref()).unwrap() - total / 3000.0).abs() < 1e-12);
    let p = truth.n_parameters() as f64;
    assert_eq!(truth.n_parameters(), 2 + 6 + 9);
    assert!((truth.bic(x.as_ref()).unwrap() - (-2.0 * total + p * 3000f64.ln())).abs() < 1e-8);
    assert!((truth.aic(x.as_ref()).unwrap() - (-2.0 * total + 2.0 * p)).abs() < 1e-8);
    for (t, expected) in [
        (CovarianceType::Full, 2 + 3 * 3 + 3 * 6),
        (CovarianceType::Diagonal, 2 + 9 + 9),
        (CovarianceType::Spherical, 2 + 9 + 3),
        (CovarianceType::Tied, 2 + 9 + 6),
    ] {
        assert_eq!(test_model(t, 3).n_parameters(), expected, "{t}");
    }
}

#[test]
fn kmeans_finds_separated_clusters() {
    let (_, x, z) = blobs(3000, 3);
    let km = kmeans(x.as_ref(), 3, 50, &mut StdRng::seed_from_u64(4)).unwrap();
    assert!(km.converged() && km.rounds() <= 50);
    // Every true cluster maps to one k-means cluster.
    for c in 0..3 {
        let first = km.labels()[z.iter().position(|&v| v == c).unwrap()];
        let same = (0..3000)
            .filter(|&i| z[i] == c && km.labels()[i] == first)
            .count();
        let total = z.iter().filter(|&&v| v == c).count();
        assert!(same as f64 > 0.98 * total as f64);
    }
    // Labels are the nearest centroids and the inertia matches them.
    let cents = km.centroids();
    let mut inertia = 0.0;
    for i in 0..3000 {
        let d: Vec<f64> = (0..3)
            .map(|c| (0..2).map(|j| (x[(i, j)] - cents[(c, j)]).powi(2)).sum())
            .collect();
        let best = (0..3).min_by(|&a, &b| d[a].total_cmp(&d[b])).unwrap();
        assert_eq!(km.labels()[i], best);
        inertia += d[best];
    }
    assert!((km.inertia() - inertia).abs() < 1e-9 * inertia);
    // Zero rounds: seeding only, labels still consistent.
    let km0 = kmeans(x.as_ref(), 3, 0, &mut StdRng::seed_from_u64(4)).unwrap();
    assert_eq!(km0.rounds(), 0);
    assert!(km0.inertia() >= km.inertia() - 1e-9);
}

#[test]
fn every_init_method_gives_a_valid_model() {
    let (_, x, _) = blobs(1500, 5);
    for t in CovarianceType::ALL {
        for method in [
            InitMethod::default(),
            InitMethod::RandomResponsibilities,
            InitMethod::RandomPoints,
        ] {
            let m = GaussianMixture::init_from_data(
                x.as_ref(),
                &InitConfig::new(3, t).with_method(method),
                &mut StdRng::seed_from_u64(6),
            )
            .unwrap();
            assert_eq!((m.n_components(), m.n_features(), m.covariance_type()), (3, 2, t));
            assert!((m.weights().iter().sum::<f64>() - 1.0).abs() < 1e-12);
            assert!(m.score(x.as_ref()).unwrap().is_finite());
        }
        // k-means init lands near the truth on separated blobs.
        let m = GaussianMixture::init_from_data(
            x.as_ref(),
            &InitConfig::new(3, t),
            &mut StdRng::seed_from_u64(6),
        )
        .unwrap();
        let mut w: Vec<f64> = m.weights().to_vec();
        w.sort_by(f64::total_cmp);
        assert!(
            (w[0] - 0.2).abs() < 0.03 && (w[2] - 0.5).abs() < 0.03,
            "{t}: {w:?}"
        );
    }
    let explicit = test_model(CovarianceType::Full, 2);
    let m = GaussianMixture::init_from_data(
        x.as_ref(),
        &InitConfig::new(3, CovarianceType::Full)
            .with_method(InitMethod::Explicit(Box::new(explicit.clone()))),
        &mut StdRng::seed_from_u64(0),
    )
    .unwrap();
    assert_eq!(m, explicit);
    assert!(matches!(
        GaussianMixture::init_from_data(
            x.as_ref(),
            &InitConfig::new(3, CovarianceType::Tied)
                .with_method(InitMethod::Explicit(Box::new(explicit.clone()))),
            &mut StdRng::seed_from_u64(0)
        ),
        Err(MixtureError::CovarianceTypeMismatch { .. })
    ));
    assert!(matches!(
        GaussianMixture::init_from_data(
            x.as_ref(),
            &InitConfig::new(2, CovarianceType::Full).with_method(InitMethod::Explicit(Box::new(explicit))),
            &mut StdRng::seed_from_u64(0)
        ),
        Err(MixtureError::DimensionMismatch { .. })
    ));
}

#[test]
fn singleton_clusters_get_the_data_covariance() {
    // One far outlier becomes its own k-means cluster.
    let mut x = wiggly_data(100, 2);
    x[(0, 0)] = 1e3;
    let m = GaussianMixture::init_from_data(
        x.as_ref(),
        &InitConfig::new(2, CovarianceType::Full),
        &mut StdRng::seed_from_u64(1),
    )
    .unwrap();
    let outlier = (0..2).find(|&c| m.means()[(c, 0)] > 500.0).unwrap();
    assert!(m.component_covariance(outlier).unwrap()[(0, 0)] > 1e3);
}

#[test]
fn transposed_views_are_accepted() {
    let (truth, x, _) = blobs(100, 7);
    let xt = x.transpose().to_owned();
    let view = xt.as_ref().transpose(); // same matrix, non-unit row stride
    assert_eq!(
        truth.score_samples(view).unwrap(),
        truth.score_samples(x.as_ref()).unwrap()
    );
    assert_eq!(truth.e_step(view).unwrap(), truth.e_step(x.as_ref()).unwrap());
}

#[test]
fn row_major_views_give_the_same_results() {
    let (truth, x, _) = blobs(5000, 8);
    let (n, d) = (x.nrows(), x.ncols());
    // A C-ordered buffer with padded rows (row stride d + 3, unit column stride).
    let stride = d + 3;
    let mut buf = vec![f64::NAN; n * stride];
    for i in 0..n {
        for j in 0..d {
            buf[i * stride + j] = x[(i, j)];
        }
    }
    let view = faer::MatRef::from_row_major_slice_with_stride(&buf, n, d, stride);
    assert_eq!(view.col_stride(), 1);
    assert_eq!(
        truth.score_samples(view).unwrap(),
        truth.score_samples(x.as_ref()).unwrap()
    );
    assert_eq!(truth.e_step(view).unwrap(), truth.e_step(x.as_ref()).unwrap());
    assert_eq!(
        truth.log_prob_per_component(view).unwrap(),
        truth.log_prob_per_component(x.as_ref()).unwrap()
    );
    let resp = truth.predict_proba(x.as_ref()).unwrap();
    assert_eq!(
        mixture::SufficientStats::from_responsibilities(view, resp.as_ref(), CovarianceType::Full).unwrap(),
        mixture::SufficientStats::from_responsibilities(x.as_ref(), resp.as_ref(), CovarianceType::Full)
            .unwrap()
    );
    assert_eq!(
        kmeans(view, 3, 5, &mut StdRng::seed_from_u64(1)).unwrap(),
        kmeans(x.as_ref(), 3, 5, &mut StdRng::seed_from_u64(1)).unwrap()
    );
    // A NaN in the row-major data is reported at its row and column.
    buf[4321 * stride + 1] = f64::NAN;
    let view = faer::MatRef::from_row_major_slice_with_stride(&buf, n, d, stride);
    assert!(matches!(
        truth.e_step(view),
        Err(MixtureError::NonFiniteData {
            row: 4321,
            col: 1,
            ..
        })
    ));
    // Writing into a caller's buffer (here a transposed, i.e. row-major, one).
    let mut out_t = Mat::<f64>::zeros(3, n);
    truth
        .log_prob_per_component_into(x.as_ref(), out_t.as_mut().transpose_mut())
        .unwrap();
    assert_eq!(
        out_t.transpose().to_owned(),
        truth.log_prob_per_component(x.as_ref()).unwrap()
    );
    assert!(matches!(
        truth.log_prob_per_component_into(x.as_ref(), Mat::<f64>::zeros(n, 2).as_mut()),
        Err(MixtureError::DimensionMismatch { .. })
    ));
}

/// The one-pass statistics centred on a given centre agree with the two-pass
/// ones (oracle), for every covariance type and for near and far centres;
/// bad shapes and bad responsibilities are reported as in the two-pass version.
#[test]
fn centred_statistics_match_two_pass() {
    let (truth, x, _) = blobs(5000, 21);
    let resp = truth.predict_proba(x.as_ref()).unwrap();
    for t in [
        CovarianceType::Full,
        CovarianceType::Diagonal,
        CovarianceType::Spherical,
        CovarianceType::Tied,
    ] {
        let two = mixture::SufficientStats::from_responsibilities(x.as_ref(), resp.as_ref(), t).unwrap();
        for offset in [0.0, 0.7, 5.0] {
            let centre = Mat::<f64>::from_fn(3, 2, |c, j| truth.means()[(c, j)] + offset);
            let one = mixture::SufficientStats::from_responsibilities_centred(
                x.as_ref(),
                resp.as_ref(),
                t,
                centre.as_ref(),
            )
            .unwrap();
            assert_eq!(one.n_samples(), two.n_samples());
            for c in 0..3 {
                assert!((one.mass()[c] - two.mass()[c]).abs() <= 1e-9 * two.mass()[c]);
                for j in 0..2 {
                    assert!((one.means()[(c, j)] - two.means()[(c, j)]).abs() <= 1e-9);
                }
            }
            let (a, b) = (flat_scatter(one.scatter()), flat_scatter(two.scatter()));
            assert_eq!(a.len(), b.len(), "scatter kinds differ");
            for (u, v) in a.iter().zip(&b) {
                assert!((u - v).abs() <= 1e-9 * (1.0 + v.abs()), "{u} vs {v}");
            }
        }
    }
    let bad_centre = Mat::<f64>::zeros(2, 2);
    assert!(matches!(
        mixture::SufficientStats::from_responsibilities_centred(
            x.as_ref(),
            resp.as_ref(),
            CovarianceType::Full,
            bad_centre.as_ref()
        ),
        Err(MixtureError::DimensionMismatch { .. })
    ));
    let mut bad_resp = resp.clone();
    bad_resp[(17, 1)] = -1.0;
    assert!(matches!(
        mixture::SufficientStats::from_responsibilities_centred(
            x.as_ref(),
            bad_resp.as_ref(),
            CovarianceType::Full,
            truth.means()
        ),
        Err(MixtureError::InvalidResponsibility {
            row: 17,
            component: 1,
            ..
        })
    ));
}

/// The entries of a scatter, matrix after matrix, column after column.
fn flat_scatter(s: &mixture::Scatter) -> Vec<f64> {
    let flat = |m: &Mat<f64>| -> Vec<f64> {
        (0..m.ncols())
            .flat_map(|j| (0..m.nrows()).map(move |i| m[(i, j)]))
            .collect()
    };
    match s {
        mixture::Scatter::Full(ms) => ms.iter().flat_map(flat).collect(),
        mixture::Scatter::Diagonal(m) | mixture::Scatter::Pooled(m) => flat(m),
    }
}
