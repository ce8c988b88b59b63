//! Collapsed components: the documented keep / re-seed policy, and the
//! contract the hmm crate relies on.

mod common;

use common::*;
use faer::{Mat, mat};
use mixture::{CovarianceType, Covariances, GaussianMixture, MStepOptions, SufficientStats};
use mixture::{EmModel, LearnSet, Param, em_core::Adjustment};

fn far_component_model(t: CovarianceType) -> GaussianMixture {
    let means = mat![[0.0, 0.0], [3.0, 1.0], [1e3, 1e3]];
    let covs = match t {
        CovarianceType::Full => Covariances::Full(vec![Mat::identity(2, 2); 3]),
        CovarianceType::Tied => Covariances::Tied(Mat::identity(2, 2)),
        CovarianceType::Diagonal => Covariances::Diagonal(Mat::from_fn(3, 2, |_, _| 1.0)),
        CovarianceType::Spherical => Covariances::Spherical(vec![1.0; 3]),
    };
    GaussianMixture::new(vec![0.45, 0.45, 0.1], means, covs).unwrap()
}

#[test]
fn an_empty_component_is_reseeded_on_the_worst_point() {
    let x = wiggly_data(200, 2);
    for t in CovarianceType::ALL {
        let model = far_component_model(t);
        let e = model.e_step(x.as_ref()).unwrap();
        assert_eq!(e.stats.mass()[2], 0.0);
        let scores = model.score_samples(x.as_ref()).unwrap();
        let worst = (0..200).min_by(|&a, &b| scores[a].total_cmp(&scores[b])).unwrap();
        assert_eq!(e.stats.candidates()[0].point, row(&x, worst));
        assert_eq!(e.stats.candidates()[0].log_likelihood, scores[worst]);
        let (new, diag) = model.m_step(&e.stats, &MStepOptions::default()).unwrap();
        assert_eq!(diag.components(Adjustment::Reseeded), vec![2], "{t}");
        assert!(!diag.is_empty());
        assert!(diag.to_string().contains("re-seeded"));
        assert_eq!(row(&new.means().to_owned(), 2), row(&x, worst));
        // Weight 1/K before renormalisation: 1/3 of the total.
        assert!((new.weights()[2] - 1.0 / 3.0).abs() < 1e-12);
        assert!((new.weights().iter().sum::<f64>() - 1.0).abs() < 1e-14);
        // Covariance: mass-weighted average of the healthy components' new ones.
        let m = e.stats.mass();
        let avg = Mat::from_fn(2, 2, |i, j| {
            (m[0] * new.component_covariance(0).unwrap()[(i, j)]
                + m[1] * new.component_covariance(1).unwrap()[(i, j)])
                / (m[0] + m[1])
        });
        assert!(
            (new.component_covariance(2).unwrap() - avg).norm_max() < 1e-12,
            "{t}"
        );
        // The re-seeded model runs: the component takes data.
        let e2 = new.e_step(x.as_ref()).unwrap();
        assert!(e2.stats.mass()[2] > 0.5);
    }
}

#[test]
fn without_reseeding_a_collapsed_component_keeps_its_parameters() {
    let x = wiggly_data(200, 2);
    for t in CovarianceType::ALL {
        let model = far_component_model(t);
        let e = model.e_step(x.as_ref()).unwrap();
        let (new, diag) = model
            .m_step(&e.stats, &MStepOptions::default().with_reseed(false))
            .unwrap();
        assert_eq!(diag.components(Adjustment::KeptWithoutMass), vec![2]);
        assert_eq!(diag.components(Adjustment::ProbabilityFloored), vec![2]);
        assert_eq!(row(&new.means().to_owned(), 2), vec![1e3, 1e3]);
        if t != CovarianceType::Tied {
            assert_eq!(new.component_covariance(2), model.component_covariance(2));
        }
        assert!(new.weights()[2] > 0.0 && new.weights()[2] < 1e-14);
        // Keeping is a generalised EM step: the objective did not fall.
        assert!(diag.objective_change.unwrap() >= 0.0 && !diag.objective_decreased);
        let ll_new = new.total_log_likelihood(x.as_ref()).unwrap();
        assert!(ll_new >= e.log_likelihood);
    }
}

/// The hmm crate: statistics from posteriors (no candidates) where one state
/// has no mass keep that state's mean and covariance, whatever the options.
#[test]
fn statistics_without_candidates_keep_massless_components() {
    let x = wiggly_data(60, 2);
    for t in CovarianceType::ALL {
        let model = far_component_model(t);
        let resp = Mat::from_fn(60, 3, |i, c| match c {
            0 => (i % 2) as f64,
            1 => 1.0 - (i % 2) as f64,
            _ => 0.0,
        });
        let stats = SufficientStats::from_responsibilities(x.as_ref(), resp.as_ref(), t).unwrap();
        assert!(stats.candidates().is_empty());
        let (new, diag) = model.m_step(&stats, &MStepOptions::default()).unwrap();
        assert_eq!(diag.components(Adjustment::KeptWithoutMass), vec![2]);
        assert!(diag.components(Adjustment::Reseeded).is_empty());
        assert_eq!(row(&new.means().to_owned(), 2), vec![1e3, 1e3]);
        if t != CovarianceType::Tied {
            assert_eq!(new.component_covariance(2), model.component_covariance(2));
        }
        // Weights not updated on request.
        let (same_w, _) = model
            .m_step(
                &stats,
                &MStepOptions::default().with_learn(LearnSet::only(&[Param::Means, Param::Covariances])),
            )
            .unwrap();
        assert_eq!(same_w.weights(), model.weights());
    }
}

#[test]
fn all_mass_on_a_single_point_is_a_collapse() {
    let x = wiggly_data(30, 2);
    let model = far_component_model(CovarianceType::Full);
    // Component 2 owns exactly row 7.
    let resp = Mat::from_fn(30, 3, |i, c| match (i, c) {
        (7, 2) => 1.0,
        (7, _) => 0.0,
        (_, 2) => 0.0,
        (_, c) => {
            if (i + c) % 2 == 0 {
                1.0
            } else {
                0.0
            }
        }
    });
    let stats =
        SufficientStats::from_responsibilities(x.as_ref(), resp.as_ref(), CovarianceType::Full).unwrap();
    assert!((stats.effective_points()[2] - 1.0).abs() < 1e-15);
    let (new, diag) = model
        .m_step(&stats, &MStepOptions::default().with_reg_covar(0.0))
        .unwrap();
    assert_eq!(diag.components(Adjustment::KeptWithoutMass), vec![2]);
    // No singular covariance: the previous one is kept.
    assert_eq!(new.component_covariance(2), model.component_covariance(2));
    // With the test disabled, the floor alone keeps it SPD, and the report
    // says that the floor binds on both features of that component.
    let (new, diag) = model
        .m_step(
            &stats,
            &MStepOptions::default()
                .with_reg_covar(1e-6)
                .with_collapse_thresholds(1e-12, 0.0),
        )
        .unwrap();
    assert!(diag.components(Adjustment::KeptWithoutMass).is_empty());
    let c = new.component_covariance(2).unwrap();
    assert!((c[(0, 0)] - 1e-6).abs() < 1e-15 && c[(0, 1)] == 0.0);
    let floored: Vec<_> = diag
        .of_kind(Adjustment::VarianceFloored {
            feature: None,
            floor: 0.0,
        })
        .map(|e| (e.component, e.adjustment))
        .collect();
    for j in 0..2 {
        assert!(
            floored.contains(&(
                Some(2),
                Adjustment::VarianceFloored {
                    feature: Some(j),
                    floor: 1e-6
                }
            )),
            "{floored:?}"
        );
    }
    // The default floor is relative: 1e-6 times the data's variance.
    let (new, _) = model
        .m_step(
            &stats,
            &MStepOptions::default().with_collapse_thresholds(1e-12, 0.0),
        )
        .unwrap();
    let variances = mixture::floor::data_variances(&stats).unwrap();
    let c = new.component_covariance(2).unwrap();
    for j in 0..2 {
        assert!(
            (c[(j, j)] - 1e-6 * variances[j]).abs() < 1e-12 * variances[j],
            "{c:?}"
        );
    }
    // Without floor and without the test: singular, so degenerate and kept.
    let (new, diag) = model
        .m_step(
            &stats,
            &MStepOptions::default()
                .with_reg_covar(0.0)
                .with_collapse_thresholds(1e-12, 0.0),
        )
        .unwrap();
    assert_eq!(diag.components(Adjustment::KeptDegenerate), vec![2]);
    assert_eq!(new.component_covariance(2), model.component_covariance(2));
    assert_eq!(row(&new.means().to_owned(), 2), row(&x, 7));
}

#[test]
fn frozen_means_give_covariances_about_the_old_means() {
    let x = wiggly_data(80, 2);
    let model = test_model(CovarianceType::Full, 2);
    let e = model.e_step(x.as_ref()).unwrap();
    let floor = mixture::floor::data_variances(&e.stats).unwrap();
    let (new, _) = model
        .m_step(
            &e.stats,
            &MStepOptions::default().with_learn(LearnSet::only(&[Param::Weights, Param::Covariances])),
        )
        .unwrap();
    assert_eq!(new.means(), model.means());
    let resp = model.predict_proba(x.as_ref()).unwrap();
    for c in 0..3 {
        let nk: f64 = (0..80).map(|i| resp[(i, c)]).sum();
        for a in 0..2 {
            for b in 0..2 {
                let s: f64 = (0..80)
                    .map(|i| {
                        resp[(i, c)]
                            * (x[(i, a)] - model.means()[(c, a)])
                            * (x[(i, b)] - model.means()[(c, b)])
                    })
                    .sum::<f64>()
                    / nk
                    + if a == b { 1e-6 * floor[a] } else { 0.0 };
                let got = new.component_covariance(c).unwrap()[(a, b)];
                assert!((got - s).abs() < 1e-10 * (1.0 + s.abs()), "{got} vs {s}");
            }
        }
    }
    // Nothing updated: the same model back, nothing to report.
    let (same, diag) = model
        .m_step(&e.stats, &MStepOptions::default().with_learn(LearnSet::only(&[])))
        .unwrap();
    assert_eq!(same, model);
    assert!(diag.is_empty(), "{diag}");
}
