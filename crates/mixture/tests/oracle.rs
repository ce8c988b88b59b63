//! Results against independent dense reference computations.

mod common;

use common::*;
use faer::{Mat, mat};
use mixture::{CovarianceType, Covariances, GaussianMixture, MStepOptions, Scatter, SufficientStats};
use mixture::{EmModel, Iteration, em_core::Adjustment};

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

#[test]
fn densities_scores_and_responsibilities_match_the_dense_reference() {
    for cov_type in CovarianceType::ALL {
        for d in [1, 3, 8] {
            let model = test_model(cov_type, d);
            let x = wiggly_data(37, d); // several lane blocks plus a ragged tail
            let lp = model.log_prob_per_component(x.as_ref()).unwrap();
            let scores = model.score_samples(x.as_ref()).unwrap();
            let resp = model.predict_proba(x.as_ref()).unwrap();
            for i in 0..x.nrows() {
                let xi = row(&x, i);
                for c in 0..3 {
                    let r = log_normal(&model, c, &xi);
                    assert!(
                        close(lp[(i, c)], r, 1e-12),
                        "{cov_type} d={d} row {i} comp {c}: {} vs {r}",
                        lp[(i, c)]
                    );
                }
                let (lse, rr) = reference_point(&model, &xi);
                assert!(close(scores[i], lse, 1e-12), "{cov_type} d={d} row {i}");
                for c in 0..3 {
                    assert!((resp[(i, c)] - rr[c]).abs() < 1e-12);
                }
            }
            let e = model.e_step(x.as_ref()).unwrap();
            let total: f64 = (0..x.nrows())
                .map(|i| reference_point(&model, &row(&x, i)).0)
                .sum();
            assert!(close(e.log_likelihood, total, 1e-12));
        }
    }
}

#[test]
fn e_step_statistics_and_m_step_match_the_reference_for_every_type() {
    for cov_type in CovarianceType::ALL {
        let d = 3;
        let model = test_model(cov_type, d);
        let x = wiggly_data(150, d);
        let n = x.nrows();
        let resp: Vec<Vec<f64>> = (0..n).map(|i| reference_point(&model, &row(&x, i)).1).collect();
        let (rw, rm, rc) = reference_m_step(&x, &resp, cov_type, 1e-6);
        let e = model.e_step(x.as_ref()).unwrap();
        let stats = &e.stats;
        for c in 0..3 {
            let nk: f64 = (0..n).map(|i| resp[i][c]).sum();
            assert!(close(stats.mass()[c], nk, 1e-12));
            for j in 0..d {
                assert!(close(stats.means()[(c, j)], rm[c][j], 1e-11));
            }
        }
        // scikit-learn's absolute reg_covar, as the reference.
        let options = MStepOptions::default().with_reg_covar(1e-6);
        let (new, diag) = model.m_step(stats, &options).unwrap();
        assert!(
            diag.components(Adjustment::Reseeded).is_empty()
                && diag.components(Adjustment::KeptWithoutMass).is_empty()
        );
        for c in 0..3 {
            assert!(close(new.weights()[c], rw[c], 1e-12), "{cov_type}");
            for j in 0..d {
                assert!(close(new.means()[(c, j)], rm[c][j], 1e-11));
            }
            let got = new.component_covariance(c).unwrap();
            for a in 0..d {
                for b in 0..d {
                    assert!(
                        close(got[(a, b)], rc[c][a][b], 1e-10),
                        "{cov_type} comp {c} ({a},{b}): {} vs {}",
                        got[(a, b)],
                        rc[c][a][b]
                    );
                }
            }
        }
        // from_responsibilities gives the same statistics.
        let rmat = Mat::from_fn(n, 3, |i, c| resp[i][c]);
        let direct = SufficientStats::from_responsibilities(x.as_ref(), rmat.as_ref(), cov_type).unwrap();
        for c in 0..3 {
            assert!(close(direct.mass()[c], stats.mass()[c], 1e-12));
            for j in 0..d {
                assert!(close(direct.means()[(c, j)], stats.means()[(c, j)], 1e-11));
            }
        }
        match (direct.scatter(), stats.scatter()) {
            (Scatter::Full(a), Scatter::Full(b)) => {
                for c in 0..3 {
                    assert!((&a[c] - &b[c]).norm_max() < 1e-9);
                }
            }
            (Scatter::Diagonal(a), Scatter::Diagonal(b)) | (Scatter::Pooled(a), Scatter::Pooled(b)) => {
                assert!((a - b).norm_max() < 1e-9);
            }
            _ => panic!("scatter kinds differ"),
        }
    }
}

/// 1-D, two components, three points: every number checked by hand.
///
/// Model: w = (0.5, 0.5), μ = (0, 2), σ² = (1, 1). Points x = 0, 1, 2.
/// ln N(x; μ, 1) = −½ ln 2π − (x − μ)² / 2, so for x = 1 both components
/// are equal (responsibility ½ each); for x = 0: r₀ = 1 / (1 + e⁻²); x = 2 by symmetry.
/// ln p(0) = ln(½ (φ(0) + φ(2))) with φ(t) = e^{−t²/2} / √(2π).
#[test]
fn hand_checked_one_dimensional_example() {
    let model = GaussianMixture::new(
        vec![0.5, 0.5],
        mat![[0.0], [2.0]],
        Covariances::Spherical(vec![1.0, 1.0]),
    )
    .unwrap();
    let x = mat![[0.0], [1.0], [2.0]];
    let phi = |t: f64| (-0.5 * t * t).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let expected = [
        (0.5 * (phi(0.0) + phi(2.0))).ln(),
        (0.5 * (phi(1.0) + phi(1.0))).ln(),
        (0.5 * (phi(2.0) + phi(0.0))).ln(),
    ];
    let scores = model.score_samples(x.as_ref()).unwrap();
    for i in 0..3 {
        assert!(
            (scores[i] - expected[i]).abs() < 1e-14,
            "{} vs {}",
            scores[i],
            expected[i]
        );
    }
    let r0 = 1.0 / (1.0 + (-2.0f64).exp());
    let resp = model.predict_proba(x.as_ref()).unwrap();
    assert!((resp[(0, 0)] - r0).abs() < 1e-14);
    assert!((resp[(1, 0)] - 0.5).abs() < 1e-15);
    assert!((resp[(2, 1)] - r0).abs() < 1e-14);
    // M-step by hand: N₀ = r0 + ½ + (1 − r0) = 1.5; μ₀ = (½ · 1 + (1 − r0) · 2) / 1.5;
    // σ₀² = Σ r (x − μ₀)² / 1.5 (no floor).
    let opts = MStepOptions::default().with_reg_covar(0.0);
    let e = model.e_step(x.as_ref()).unwrap();
    let (new, _) = model.m_step(&e.stats, &opts).unwrap();
    let rs = [r0, 0.5, 1.0 - r0];
    let mu0 = (0.5 + (1.0 - r0) * 2.0) / 1.5;
    let var0: f64 = rs
        .iter()
        .zip([0.0, 1.0, 2.0])
        .map(|(r, x)| r * (x - mu0) * (x - mu0))
        .sum::<f64>()
        / 1.5;
    assert!((new.weights()[0] - 0.5).abs() < 1e-15);
    assert!((new.means()[(0, 0)] - mu0).abs() < 1e-14);
    assert!((new.means()[(1, 0)] - (2.0 - mu0)).abs() < 1e-14);
    let Covariances::Spherical(v) = new.covariances() else {
        panic!()
    };
    assert!((v[0] - var0).abs() < 1e-14 && (v[1] - var0).abs() < 1e-14);
    assert!((e.log_likelihood - expected.iter().sum::<f64>()).abs() < 1e-13);
}

#[test]
fn sample_weights_equal_repeated_rows() {
    let model = test_model(CovarianceType::Full, 2);
    let x = wiggly_data(20, 2);
    let w: Vec<f64> = (0..20).map(|i| (i % 3) as f64).collect();
    let rows: Vec<usize> = (0..20).flat_map(|i| std::iter::repeat_n(i, i % 3)).collect();
    let repeated = Mat::from_fn(rows.len(), 2, |r, j| x[(rows[r], j)]);
    let a = model.e_step_weighted(x.as_ref(), &w).unwrap();
    let b = model.e_step(repeated.as_ref()).unwrap();
    assert!(close(a.log_likelihood, b.log_likelihood, 1e-12));
    let opts = MStepOptions::default();
    let (ma, _) = model.m_step(&a.stats, &opts).unwrap();
    let (mb, _) = model.m_step(&b.stats, &opts).unwrap();
    for c in 0..3 {
        assert!(close(ma.weights()[c], mb.weights()[c], 1e-12));
        assert!(
            (ma.component_covariance(c).unwrap() - mb.component_covariance(c).unwrap()).norm_max() < 1e-10
        );
    }
}

#[test]
fn precisions_constructor_inverts() {
    let p = mat![[2.0, 0.5], [0.5, 1.0]];
    let m = GaussianMixture::from_precisions(vec![1.0], mat![[0.0, 0.0]], Covariances::Full(vec![p.clone()]))
        .unwrap();
    let prec = m.component_precision(0).unwrap();
    assert!((prec - &p).norm_max() < 1e-13);
    let cov = m.component_covariance(0).unwrap();
    let eye = &cov * &p;
    assert!((eye - Mat::<f64>::identity(2, 2)).norm_max() < 1e-13);
}

#[test]
fn precisions_of_every_type_round_trip() {
    for t in CovarianceType::ALL {
        let m = test_model(t, 3);
        let precisions = match m.covariances() {
            Covariances::Full(_) => {
                Covariances::Full((0..3).map(|c| m.component_precision(c).unwrap()).collect())
            }
            Covariances::Tied(_) => Covariances::Tied(m.component_precision(0).unwrap()),
            Covariances::Diagonal(v) => Covariances::Diagonal(Mat::from_fn(3, 3, |c, j| 1.0 / v[(c, j)])),
            Covariances::Spherical(v) => Covariances::Spherical(v.iter().map(|x| 1.0 / x).collect()),
        };
        let back =
            GaussianMixture::from_precisions(m.weights().to_vec(), m.means().to_owned(), precisions).unwrap();
        for c in 0..3 {
            let diff = back.component_covariance(c).unwrap() - m.component_covariance(c).unwrap();
            assert!(diff.norm_max() < 1e-12, "{t}");
        }
    }
}

#[test]
fn zero_sample_weights_contribute_nothing() {
    let model = test_model(CovarianceType::Diagonal, 2);
    let x = wiggly_data(30, 2);
    let mut w = vec![1.0; 30];
    for v in w.iter_mut().skip(10) {
        *v = 0.0;
    }
    let a = model.e_step_weighted(x.as_ref(), &w).unwrap();
    let b = model.e_step(x.as_ref().subrows(0, 10)).unwrap();
    assert!(close(a.log_likelihood, b.log_likelihood, 1e-13));
    assert!(
        a.stats
            .candidates()
            .iter()
            .all(|c| (0..10).any(|i| row(&x, i) == c.point))
    );
    // All weights zero: no mass, nothing changes.
    let z = model.e_step_weighted(x.as_ref(), &[0.0; 30]).unwrap();
    assert_eq!(z.log_likelihood, 0.0);
    assert_eq!(z.stats.total_mass(), 0.0);
    assert!(z.stats.candidates().is_empty());
    let (same, diag) = model.m_step(&z.stats, &MStepOptions::default()).unwrap();
    assert_eq!(same, model);
    assert_eq!(diag.components(Adjustment::KeptWithoutMass), vec![0, 1, 2]);
}

#[test]
fn em_iteration_is_e_step_then_m_step() {
    let model = test_model(CovarianceType::Tied, 3);
    let x = wiggly_data(100, 3);
    let opts = MStepOptions::default();
    let Iteration {
        model: m1,
        log_likelihood: ll,
        diagnostics: d1,
    } = model.em_iteration(x.as_ref(), &opts).unwrap();
    let e = model.e_step(x.as_ref()).unwrap();
    let (m2, d2) = model.m_step(&e.stats, &opts).unwrap();
    assert_eq!((m1, ll, d1.clone()), (m2, e.log_likelihood, d2));
    assert!(d1.is_empty());
    assert!(d1.objective_change.unwrap() > 0.0);
    assert_eq!(d1.to_string(), "exact M-step");
}
