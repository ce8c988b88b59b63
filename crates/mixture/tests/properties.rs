//! Property tests; everything is drawn from proptest strategies (no `rand`
//! inside a property), so failures shrink and replay.

use faer::Mat;
use mixture::{
    Acceleration, Convergence, EStep, EmModel, Iteration, OnFall, Settings, Start, em_core::Adjustment, fit,
};
use mixture::{
    CovarianceType, Covariances, GaussianMixture, LearnSet, MStepOptions, Param, Scatter, SufficientStats,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use std::f64::consts::PI;

#[derive(Debug, Clone)]
struct Case {
    model: GaussianMixture,
    x: Mat<f64>,
}

/// SPD matrix `Q diag(λ) Qᵀ`, Q a product of Givens rotations, λ = e^u with
/// u in [-1.5, 1.5] (condition number ≤ e³ ≈ 20).
fn spd(d: usize, angles: &[f64], log_eig: &[f64]) -> Mat<f64> {
    let mut q = Mat::<f64>::identity(d, d);
    let mut a = 0;
    for i in 0..d {
        for j in i + 1..d {
            let (s, c) = angles[a % angles.len()].sin_cos();
            a += 1;
            for r in 0..d {
                let (qi, qj) = (q[(r, i)], q[(r, j)]);
                q[(r, i)] = c * qi - s * qj;
                q[(r, j)] = s * qi + c * qj;
            }
        }
    }
    let m = Mat::from_fn(d, d, |i, j| {
        (0..d)
            .map(|r| q[(i, r)] * log_eig[r].exp() * q[(j, r)])
            .sum::<f64>()
    });
    Mat::from_fn(d, d, |i, j| if i <= j { m[(i, j)] } else { m[(j, i)] })
}

fn case() -> impl Strategy<Value = Case> {
    (1usize..=3, 1usize..=3, 0usize..4, 12usize..40).prop_flat_map(|(k, d, t, n)| {
        (
            vec(-5.0f64..5.0, n * d),
            vec(-3.0f64..3.0, k * d),
            vec(0.1f64..1.0, k),
            vec(0.0f64..PI, k * 3),
            vec(-1.5f64..1.5, k * d),
        )
            .prop_map(move |(xs, mus, ws, angles, eigs)| {
                let cov_type = CovarianceType::ALL[t];
                let sum: f64 = ws.iter().sum();
                let weights: Vec<f64> = ws.iter().map(|w| w / sum).collect();
                let means = Mat::from_fn(k, d, |c, j| mus[c * d + j]);
                let full = |c: usize| spd(d, &angles[c * 3..c * 3 + 3], &eigs[c * d..(c + 1) * d]);
                let covs = match cov_type {
                    CovarianceType::Full => Covariances::Full((0..k).map(full).collect()),
                    CovarianceType::Tied => Covariances::Tied(full(0)),
                    CovarianceType::Diagonal => {
                        Covariances::Diagonal(Mat::from_fn(k, d, |c, j| eigs[c * d + j].exp()))
                    }
                    CovarianceType::Spherical => {
                        Covariances::Spherical((0..k).map(|c| eigs[c * d].exp()).collect())
                    }
                };
                let model = GaussianMixture::new(weights, means, covs).expect("valid by construction");
                let x = Mat::from_fn(n, d, |i, j| xs[i * d + j]);
                Case { model, x }
            })
    })
}

fn is_spd(m: &Mat<f64>) -> bool {
    let d = m.nrows();
    (0..d).all(|i| (0..d).all(|j| m[(i, j)] == m[(j, i)]))
        && linalg_kernels::Cholesky::new(m.as_ref()).is_ok()
}

fn rel_close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    })]

    /// Without a floor and without re-seeding, an exact EM step never lowers
    /// the log-likelihood (beyond rounding, relative 1e-10), and the objective
    /// check agrees. A step that found a new covariance numerically singular
    /// keeps the previous one (`degenerate`): that step is no longer exact EM,
    /// so a decrease may follow it, but only an announced one.
    #[test]
    fn log_likelihood_never_decreases_without_floor(c in case()) {
        let opts = MStepOptions::default().with_reg_covar(0.0).with_reseed(false);
        let mut model = c.model;
        let mut previous = f64::NEG_INFINITY;
        let mut announced = false;
        for step in 0..20 {
            let EStep { log_likelihood: ll, stats } = model.e_step(c.x.as_ref()).unwrap();
            if ll < previous - 1e-10 * previous.abs().max(1.0) {
                prop_assert!(announced, "step {}: unannounced decrease {} -> {}", step, previous, ll);
            }
            previous = ll;
            let (next, diag) = model.m_step(&stats, &opts).unwrap();
            prop_assert!(diag.components(Adjustment::Reseeded).is_empty());
            let exact = diag.components(Adjustment::KeptDegenerate).is_empty() && !diag.of_kind(Adjustment::KeptDegenerate).any(|e| e.component.is_none());
            if exact {
                prop_assert!(!diag.objective_decreased, "step {}: {}", step, diag);
            }
            announced = diag.objective_decreased;
            model = next;
        }
    }

    /// With the default options (floor, re-seeding), every covariance stays
    /// symmetric positive definite and every parameter finite; any
    /// log-likelihood decrease is announced by the diagnostics.
    #[test]
    fn covariances_stay_spd_and_decreases_are_reported(c in case()) {
        let opts = MStepOptions::default();
        let mut model = c.model;
        let mut previous = f64::NEG_INFINITY;
        let mut announced = false;
        for _ in 0..20 {
            let EStep { log_likelihood: ll, stats } = model.e_step(c.x.as_ref()).unwrap();
            prop_assert!(ll.is_finite());
            if ll < previous - 1e-10 * previous.abs() {
                prop_assert!(announced, "unannounced decrease {} -> {}", previous, ll);
            }
            previous = ll;
            let (next, diag) = model.m_step(&stats, &opts).unwrap();
            announced = diag.objective_decreased || !diag.components(Adjustment::Reseeded).is_empty();
            for k in 0..next.n_components() {
                prop_assert!(is_spd(&next.component_covariance(k).unwrap()));
                prop_assert!(next.weights()[k].is_finite() && next.weights()[k] > 0.0);
                for j in 0..next.n_features() {
                    prop_assert!(next.means()[(k, j)].is_finite());
                }
            }
            prop_assert!((next.weights().iter().sum::<f64>() - 1.0).abs() < 1e-12);
            // The new model passes the validating constructor.
            prop_assert!(GaussianMixture::new(next.weights().to_vec(), next.means().to_owned(), next.covariances().clone()).is_ok());
            model = next;
        }
    }

    #[test]
    fn responsibilities_sum_to_one(c in case()) {
        let resp = c.model.predict_proba(c.x.as_ref()).unwrap();
        for i in 0..resp.nrows() {
            let s: f64 = (0..resp.ncols()).map(|k| resp[(i, k)]).sum();
            prop_assert!((s - 1.0).abs() < 1e-12);
            prop_assert!((0..resp.ncols()).all(|k| resp[(i, k)] >= 0.0));
        }
    }

    /// merge(stats(a), stats(b)) == stats(a ++ b), for E-step statistics and
    /// for given responsibilities.
    #[test]
    fn merged_statistics_equal_the_statistics_of_the_union(c in case(), split in 0.0f64..1.0) {
        let n = c.x.nrows();
        let cut = ((n as f64) * split) as usize;
        let (a, b) = (c.x.as_ref().subrows(0, cut), c.x.as_ref().subrows(cut, n - cut));
        let whole = c.model.e_step(c.x.as_ref()).unwrap().stats;
        let mut merged = SufficientStats::empty(c.model.n_components(), c.model.n_features(), c.model.covariance_type()).unwrap();
        for part in [a, b] {
            if part.nrows() > 0 {
                merged.merge(&c.model.e_step(part).unwrap().stats);
            }
        }
        assert_stats_close(&merged, &whole)?;
        prop_assert_eq!(merged.candidates(), whole.candidates());
        let resp = c.model.predict_proba(c.x.as_ref()).unwrap();
        let t = c.model.covariance_type();
        let whole = SufficientStats::from_responsibilities(c.x.as_ref(), resp.as_ref(), t).unwrap();
        let mut merged = SufficientStats::from_responsibilities(a, resp.as_ref().subrows(0, cut), t).unwrap();
        merged.merge(&SufficientStats::from_responsibilities(b, resp.as_ref().subrows(cut, n - cut), t).unwrap());
        assert_stats_close(&merged, &whole)?;
    }

    /// Relabelling the components permutes every per-component output and
    /// leaves the likelihood unchanged; one EM step commutes with it.
    #[test]
    fn invariant_to_permuting_components(c in case(), rot in 0usize..3) {
        let k = c.model.n_components();
        let perm: Vec<usize> = (0..k).map(|i| (i + rot) % k).collect();
        let p = permute(&c.model, &perm);
        let s0 = c.model.score_samples(c.x.as_ref()).unwrap();
        let s1 = p.score_samples(c.x.as_ref()).unwrap();
        for (a, b) in s0.iter().zip(&s1) {
            prop_assert!(rel_close(*a, *b, 1e-12));
        }
        let l0 = c.model.log_prob_per_component(c.x.as_ref()).unwrap();
        let l1 = p.log_prob_per_component(c.x.as_ref()).unwrap();
        for i in 0..c.x.nrows() {
            for j in 0..k {
                prop_assert_eq!(l1[(i, j)], l0[(i, perm[j])]);
            }
        }
        let opts = MStepOptions::default();
        let Iteration { model: m0, log_likelihood: ll0, ..} = c.model.em_iteration(c.x.as_ref(), &opts).unwrap();
        let Iteration { model: m1, log_likelihood: ll1, ..} = p.em_iteration(c.x.as_ref(), &opts).unwrap();
        prop_assert!(rel_close(ll0, ll1, 1e-12));
        for j in 0..k {
            prop_assert!(rel_close(m1.weights()[j], m0.weights()[perm[j]], 1e-9));
            let diff = &m1.component_covariance(j).unwrap() - &m0.component_covariance(perm[j]).unwrap();
            prop_assert!(diff.norm_max() < 1e-8 * (1.0 + m0.component_covariance(perm[j]).unwrap().norm_max()));
        }
    }
}

/// The learn set of the three bits of `bits` (weights, means, covariances).
fn learn_set(bits: u8) -> LearnSet {
    LearnSet::none()
        .set(Param::Weights, bits & 1 != 0)
        .set(Param::Means, bits & 2 != 0)
        .set(Param::Covariances, bits & 4 != 0)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    })]

    /// `with_flat_parameters(flat_parameters(m)) = m` bit for bit (caches
    /// included), for random models of every type and every learn set.
    #[test]
    fn flat_parameters_round_trip_exactly(c in case(), bits in 0u8..8) {
        let opts = MStepOptions::default().with_learn(learn_set(bits));
        let flat = c.model.flat_parameters(&opts).unwrap();
        prop_assert_eq!(flat.len(), c.model.flat_len(opts.learn));
        let back = c.model.with_flat_parameters(&flat, &opts).unwrap();
        prop_assert_eq!(format!("{back:?}"), format!("{:?}", c.model));
    }

    /// A perturbed vector gives `None` or a valid model with the same
    /// layout, the perturbed means as they are, and the blocks that are not
    /// learned kept bit for bit. Never a panic.
    #[test]
    fn perturbed_flat_parameters_give_a_valid_model_or_none(
        c in case(),
        bits in 0u8..8,
        noise in vec(-1.5f64..1.5, 64),
    ) {
        let learn = learn_set(bits);
        let opts = MStepOptions::default().with_learn(learn);
        let mut flat = c.model.flat_parameters(&opts).unwrap();
        for (i, v) in flat.iter_mut().enumerate() {
            *v += noise[i % noise.len()] * (0.1 + v.abs());
        }
        if learn.contains(Param::Weights) {
            // Weights off the simplex give None: keep them on it (a negative
            // one still gives None).
            let k = c.model.n_components();
            let sum: f64 = flat[..k].iter().sum();
            flat[..k].iter_mut().for_each(|w| *w /= sum);
        }
        let Some(m) = c.model.with_flat_parameters(&flat, &opts) else {
            return Ok(());
        };
        let rebuilt = GaussianMixture::new(m.weights().to_vec(), m.means().to_owned(), m.covariances().clone());
        prop_assert!(rebuilt.is_ok());
        prop_assert_eq!(m.flat_parameters(&opts).unwrap().len(), flat.len());
        if learn.contains(Param::Means) {
            let (k, d) = (m.n_components(), m.n_features());
            let offset = if learn.contains(Param::Weights) { k } else { 0 };
            for i in 0..k * d {
                prop_assert_eq!(m.means()[(i / d, i % d)].to_bits(), flat[offset + i].to_bits());
            }
        } else {
            prop_assert_eq!(m.means(), c.model.means());
        }
        if !learn.contains(Param::Weights) {
            prop_assert_eq!(m.weights(), c.model.weights());
        }
        if !learn.contains(Param::Covariances) {
            prop_assert_eq!(m.covariances(), c.model.covariances());
        }
    }
}

fn permute(m: &GaussianMixture, perm: &[usize]) -> GaussianMixture {
    let (k, d) = (m.n_components(), m.n_features());
    let weights = perm.iter().map(|&p| m.weights()[p]).collect();
    let means = Mat::from_fn(k, d, |c, j| m.means()[(perm[c], j)]);
    let covs = match m.covariances() {
        Covariances::Full(v) => Covariances::Full(perm.iter().map(|&p| v[p].clone()).collect()),
        Covariances::Diagonal(v) => Covariances::Diagonal(Mat::from_fn(k, d, |c, j| v[(perm[c], j)])),
        Covariances::Spherical(v) => Covariances::Spherical(perm.iter().map(|&p| v[p]).collect()),
        Covariances::Tied(v) => Covariances::Tied(v.clone()),
    };
    GaussianMixture::new(weights, means, covs).unwrap()
}

fn assert_stats_close(a: &SufficientStats, b: &SufficientStats) -> Result<(), TestCaseError> {
    prop_assert_eq!(a.n_samples(), b.n_samples());
    let tol = 1e-9;
    for k in 0..a.n_components() {
        prop_assert!(rel_close(a.mass()[k], b.mass()[k], tol));
        prop_assert!(rel_close(a.effective_points()[k], b.effective_points()[k], 1e-8));
        for j in 0..a.n_features() {
            prop_assert!(
                rel_close(a.means()[(k, j)], b.means()[(k, j)], 1e-8),
                "mean {} vs {}",
                a.means()[(k, j)],
                b.means()[(k, j)]
            );
        }
    }
    let close_mats =
        |x: &Mat<f64>, y: &Mat<f64>| (x - y).norm_max() <= 1e-8 * (1.0 + x.norm_max().max(y.norm_max()));
    match (a.scatter(), b.scatter()) {
        (Scatter::Full(x), Scatter::Full(y)) => {
            for (p, q) in x.iter().zip(y) {
                prop_assert!(close_mats(p, q));
            }
        }
        (Scatter::Diagonal(x), Scatter::Diagonal(y)) | (Scatter::Pooled(x), Scatter::Pooled(y)) => {
            prop_assert!(close_mats(x, y))
        }
        _ => prop_assert!(false, "scatter kinds differ"),
    }
    Ok(())
}

/// The model with means times `a` and covariances times `a²`.
fn scaled(model: &GaussianMixture, a: f64) -> GaussianMixture {
    let a2 = a * a;
    let covs = match model.covariances() {
        Covariances::Full(v) => Covariances::Full(v.iter().map(|m| m * faer::Scale(a2)).collect()),
        Covariances::Tied(m) => Covariances::Tied(m * faer::Scale(a2)),
        Covariances::Diagonal(m) => Covariances::Diagonal(m * faer::Scale(a2)),
        Covariances::Spherical(v) => Covariances::Spherical(v.iter().map(|s| s * a2).collect()),
    };
    GaussianMixture::new(model.weights().to_vec(), model.means() * faer::Scale(a), covs).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 32,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    })]

    /// The fit does not depend on the units of the data: the data and the
    /// start multiplied by `a = 10^p` (p in -150..150) give, after the same
    /// 12 plain EM iterations with the default options (relative covariance
    /// floor, re-seeding), the same weights, means times `a`, covariances
    /// times `a²`, and a log-likelihood shifted by `−n d ln a`.
    ///
    /// Tolerance: multiplying by `10^p` rounds every value (relative ε), and
    /// the two runs do the same operations on the scaled values, so they
    /// differ by rounding amplified by at most 12 EM maps; relative `1e-7`
    /// of the parameters' size (the data are in [-5, 5]) leaves room for
    /// that and nothing else: scikit-learn's absolute floor `1e-6` fails
    /// this property at once (covariances off by `10^284` relative at
    /// `p = -145`). For ℓ the size is `|ℓ| + n d |ln a|` (each term carries
    /// `ln a`).
    ///
    /// The run uses a fixed number of iterations: the default stopping rule
    /// compares gains with `max(1e-8, 1e-8 |ℓ|)` and with the rounding of ℓ
    /// (`1e-12 |ℓ|`), and `|ℓ|` grows by `n d |ln a|` with the units, so
    /// the number of iterations (not the fixed point) depends on them.
    #[test]
    fn fits_are_equivariant_to_the_units_of_the_data(c in case(), p in -150i32..150) {
        let a = 10f64.powi(p);
        let settings = Settings::builder()
            .acceleration(Acceleration::None)
            .convergence(Convergence::FixedIterations)
            .on_fall(OnFall::Continue)
            .max_iterations(12)
            .build()
            .unwrap();
        let opts = MStepOptions::default();
        let x_scaled = &c.x * faer::Scale(a);
        let plain = fit(c.x.as_ref(), Start::Warm(c.model.clone()), &opts, &settings).unwrap();
        let units = fit(x_scaled.as_ref(), Start::Warm(scaled(&c.model, a)), &opts, &settings).unwrap();
        let (m, s) = (&plain.model, &units.model);
        let tol = 1e-7;
        for (w, v) in m.weights().iter().zip(s.weights()) {
            prop_assert!((w - v).abs() <= tol, "weights {:?} vs {:?}", m.weights(), s.weights());
        }
        let back = scaled(s, 1.0 / a);
        let size = 1.0 + m.means().norm_max();
        prop_assert!((m.means() - back.means()).norm_max() <= tol * size, "means at 10^{}", p);
        for k in 0..m.n_components() {
            let (p0, q0) = (m.component_covariance(k).unwrap(), back.component_covariance(k).unwrap());
            prop_assert!((&p0 - &q0).norm_max() <= tol * (1.0 + p0.norm_max()), "covariance {} at 10^{}", k, p);
        }
        let (n, d) = (c.x.nrows() as f64, c.x.ncols() as f64);
        let shift = n * d * a.ln();
        let (l0, l1) = (plain.report.log_likelihood, units.report.log_likelihood);
        prop_assert!(
            (l1 + shift - l0).abs() <= tol * (l0.abs() + shift.abs()),
            "log-likelihood {} vs {} shifted by {}", l0, l1, shift
        );
    }
}
