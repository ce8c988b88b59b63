//! The recursions against dense Gaussian conditioning of the joint
//! distribution of all states and observations (built directly in
//! `common::joint`, no recursion involved).

mod common;

use common::{
    Joint, StepMatrices, block, condition, joint, joint_time_varying, joint_with_inputs, log_density,
    max_diff, observed, random_model, random_model_with_inputs, refs,
};
use faer::Mat;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use statespace::{
    EmModel, InferenceOptions, LearnSet, LinearGaussianSsm, Param, Parameters, Sequence, SufficientStats,
    TimeVarying,
};

const TOL: f64 = 1e-9;

/// Data of `t` steps drawn from the model, with some entries removed.
fn data(model: &LinearGaussianSsm, t: usize, seed: u64, missing: &[(usize, Option<usize>)]) -> Mat<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let (_, mut y) = model.sample(t, &mut rng).unwrap();
    for &(k, j) in missing {
        match j {
            Some(j) => y[(k, j)] = f64::NAN,
            None => (0..y.ncols()).for_each(|j| y[(k, j)] = f64::NAN),
        }
    }
    y
}

fn check_against_dense(model: &LinearGaussianSsm, y: &Mat<f64>) {
    check_against_dense_with_inputs(model, y, None);
}

/// The filter (the smoother's, the checkpointed one of
/// [`LinearGaussianSsm::filter_with_inputs`] and the one keeping every
/// covariance) and the smoother of a model
/// with inputs `u` (or none) against dense conditioning.
fn check_against_dense_with_inputs(model: &LinearGaussianSsm, y: &Mat<f64>, u: Option<&Mat<f64>>) {
    check_sequence_against_dense(model, y, u, TimeVarying::default(), TOL);
}

/// [`check_against_dense_with_inputs`] with time-varying matrices, to
/// `tol` (relative for means and log-likelihood, absolute for covariances).
fn check_sequence_against_dense(
    model: &LinearGaussianSsm,
    y: &Mat<f64>,
    u: Option<&Mat<f64>>,
    tv: TimeVarying<'_>,
    tol: f64,
) {
    let (n, t) = (model.state_dim(), y.nrows());
    let jt = joint_time_varying(model, u.map(|u| u.as_ref()), &tv, t);
    let sequence = match u {
        Some(u) => Sequence::with_inputs(y.as_ref(), u.as_ref()),
        None => Sequence::new(y.as_ref()),
    }
    .with_time_varying(tv);
    let smoothed = model.smooth_sequence(sequence).unwrap();
    let filtered = smoothed.filter();
    let checkpointed = model.filter_sequence(sequence).unwrap();
    let kept = model.filter_keeping_covariances(sequence).unwrap();
    for other in [&checkpointed, &kept] {
        assert_eq!(other.log_likelihood(), filtered.log_likelihood());
        assert_eq!(other.filtered_means(), filtered.filtered_means());
        assert_eq!(other.predicted_means(), filtered.predicted_means());
    }
    assert_eq!(kept.filtered_covs(), filtered.filtered_covs());

    // Log-likelihood: density of the stacked observed values.
    let (idx, val) = observed(&jt, y.as_ref(), t);
    let reference = log_density(&jt, &idx, &val);
    assert!(
        (filtered.log_likelihood() - reference).abs() < tol * (1.0 + reference.abs()),
        "loglik {} vs dense {reference}",
        filtered.log_likelihood()
    );

    for k in 0..t {
        // Filtered: condition on steps 0..=k; predicted: on steps 0..k.
        for (upto, means, cov) in [
            (
                k + 1,
                filtered.filtered_means(),
                filtered.filtered_cov(k).unwrap(),
            ),
            (k, filtered.predicted_means(), filtered.predicted_cov(k).unwrap()),
        ] {
            let (idx, val) = observed(&jt, y.as_ref(), upto);
            let (mean, post) = condition(&jt, &idx, &val);
            for i in 0..n {
                let want = mean[jt.x(k, i)];
                assert!(
                    (means[(k, i)] - want).abs() < tol * (1.0 + want.abs()),
                    "step {k} mean"
                );
            }
            let want = block(&post, |i| jt.x(k, i), |j| jt.x(k, j), n, n);
            assert!(
                max_diff(cov.as_ref(), want.as_ref()) < tol,
                "step {k} cov (upto {upto})"
            );
        }
    }

    // Smoothed: condition on everything.
    let (mean, post) = condition(&jt, &idx, &val);
    for k in 0..t {
        for i in 0..n {
            let want = mean[jt.x(k, i)];
            let got = smoothed.smoothed_means()[(k, i)];
            assert!((got - want).abs() < tol * (1.0 + want.abs()), "smoothed mean {k}");
        }
        let want = block(&post, |i| jt.x(k, i), |j| jt.x(k, j), n, n);
        assert!(
            max_diff(smoothed.smoothed_cov(k).unwrap().as_ref(), want.as_ref()) < tol,
            "smoothed cov {k}"
        );
        if k + 1 < t {
            let want = block(&post, |i| jt.x(k + 1, i), |j| jt.x(k, j), n, n);
            assert!(
                max_diff(smoothed.cross_cov(k).unwrap().as_ref(), want.as_ref()) < tol,
                "cross cov {k}"
            );
            // The gain satisfies Cov(x_{k+1}, x_k | y) = P_{k+1|T} G_kᵀ.
            let g = smoothed.gain(k).unwrap();
            let pg = smoothed.smoothed_cov(k + 1).unwrap() * g.transpose();
            assert!(max_diff(pg.as_ref(), want.as_ref()) < tol);
        } else {
            assert!(smoothed.cross_cov(k).is_none() && smoothed.gain(k).is_none());
        }
    }
    assert!(smoothed.smoothed_cov(t).is_none());
    let (fv, sv) = (filtered.filtered_variances(), smoothed.smoothed_variances());
    for k in 0..t {
        for i in 0..n {
            assert_eq!(fv[(k, i)], filtered.filtered_cov(k).unwrap()[(i, i)]);
            assert_eq!(sv[(k, i)], smoothed.smoothed_cov(k).unwrap()[(i, i)]);
        }
    }
}

#[test]
fn filter_and_smoother_match_dense_conditioning() {
    for (seed, n, p, t) in [
        (1, 1, 1, 5),
        (2, 2, 1, 6),
        (3, 3, 2, 6),
        (4, 2, 3, 5),
        (5, 10, 9, 4),
        (6, 9, 12, 3),
    ] {
        let model = random_model(n, p, seed);
        let y = data(&model, t, seed + 100, &[]);
        check_against_dense(&model, &y);
    }
}

#[test]
fn missing_rows_and_entries_match_dense_conditioning() {
    let model = random_model(3, 3, 7);
    let y = data(
        &model,
        7,
        8,
        &[
            (0, Some(1)),
            (2, None),
            (3, Some(0)),
            (3, Some(2)),
            (5, None),
            (6, Some(1)),
        ],
    );
    check_against_dense(&model, &y);
    // The first and the last step entirely missing.
    let model = random_model(2, 2, 9);
    let y = data(&model, 5, 10, &[(0, None), (4, None), (2, Some(0))]);
    check_against_dense(&model, &y);
}

#[test]
fn identity_observation_fast_path_matches_dense() {
    let mut rng = StdRng::seed_from_u64(11);
    let base = random_model(3, 3, 12);
    let model = LinearGaussianSsm::from_parameters(Parameters {
        h: Mat::identity(3, 3),
        ..base.into_parameters()
    })
    .unwrap();
    assert!(model.h_is_identity());
    let (_, y) = model.sample(6, &mut rng).unwrap();
    check_against_dense(&model, &y);
    let mut y2 = y.clone();
    y2[(2, 1)] = f64::NAN;
    check_against_dense(&model, &y2);
}

/// H = I with a diagonal R: the update runs one coordinate at a time. Sizes
/// that fill one, two and three 8-wide vectors (and a padded row), entries
/// missing at the first, a middle and the last coordinate, whole rows
/// missing.
#[test]
fn coordinatewise_update_matches_dense() {
    for (n, seed) in [(3usize, 31u64), (10, 32), (17, 33)] {
        let mut params = random_model(n, n, seed).into_parameters();
        params.h = Mat::identity(n, n);
        params.r = Mat::from_fn(n, n, |i, j| if i == j { 0.1 + 0.05 * i as f64 } else { 0.0 });
        let model = LinearGaussianSsm::from_parameters(params).unwrap();
        let missing = [(1, Some(0)), (2, Some(n / 2)), (2, Some(n - 1)), (3, None)];
        for gaps in [&[][..], &missing[..]] {
            let y = data(&model, 5, seed + 7, gaps);
            check_against_dense(&model, &y);
        }
    }
}

/// The E-step statistics against expectations under the dense posterior of
/// all of z (missing observations of partly observed steps included, as
/// latent variables; wholly unobserved steps are out of the observation
/// block).
#[test]
fn e_step_statistics_match_the_dense_posterior() {
    for (seed, n, p, t, missing) in [
        (21u64, 2, 2, 5, vec![]),
        (22, 3, 2, 6, vec![(1, Some(0)), (3, None), (4, Some(1))]),
        (23, 2, 3, 5, vec![(0, Some(2)), (2, Some(0)), (2, Some(1))]),
    ] {
        let model = random_model(n, p, seed);
        let y = data(&model, t, seed + 50, &missing);
        let jt = joint(&model, t);
        let (idx, val) = observed(&jt, y.as_ref(), t);
        let (mean, cov) = condition(&jt, &idx, &val);
        let estep = model.e_step(&[y.as_ref()]).unwrap();
        let s = &estep.stats;
        assert!((estep.log_likelihood - log_density(&jt, &idx, &val)).abs() < TOL * 100.0);
        assert_eq!((s.n_sequences(), s.n_steps(), s.n_transitions()), (1, t, t - 1));
        assert_statistics(s, &jt, &mean, &cov, y.as_ref());
    }
}

/// Every sum of the statistics `s` of the sequence `y` against the dense
/// posterior (`mean`, `cov`) of `jt`.
fn assert_statistics(
    s: &SufficientStats,
    jt: &Joint,
    mean: &[f64],
    cov: &Mat<f64>,
    y: faer::MatRef<'_, f64>,
) {
    let (n, p, t) = (jt.n, jt.p, jt.t);
    let e = |a: usize, b: usize| cov[(a, b)] + mean[a] * mean[b];
    let close = |got: f64, want: f64, what: &str| {
        assert!(
            (got - want).abs() < 1e-8 * (1.0 + want.abs()),
            "{what}: {got} vs {want}"
        );
    };
    for i in 0..n {
        close(s.sum_x0()[i], mean[jt.x(0, i)], "sum_x0");
        for j in 0..n {
            close(s.sum_x0x0()[(i, j)], e(jt.x(0, i), jt.x(0, j)), "sum_x0x0");
            close(s.sum_xx_last()[(i, j)], e(jt.x(t - 1, i), jt.x(t - 1, j)), "last");
            let all: f64 = (0..t).map(|k| e(jt.x(k, i), jt.x(k, j))).sum();
            close(s.sum_xx()[(i, j)], all, "sum_xx");
            let cross: f64 = (1..t).map(|k| e(jt.x(k, i), jt.x(k - 1, j))).sum();
            close(s.sum_cross()[(i, j)], cross, "sum_cross");
        }
    }
    // The observation block sums over the steps with an observed value.
    let seen: Vec<usize> = (0..t).filter(|&k| (0..p).any(|j| !y[(k, j)].is_nan())).collect();
    assert_eq!(s.n_observed_steps(), seen.len());
    for i in 0..n {
        for j in 0..n {
            let want: f64 = seen.iter().map(|&k| e(jt.x(k, i), jt.x(k, j))).sum();
            close(s.sum_xx_observed()[(i, j)], want, "sum_xx_observed");
        }
    }
    assert_observation_sums(s, jt, mean, cov, &seen);
}

/// `sum_yx` and `sum_yy` against the dense posterior (`mean`, `cov`) over
/// the steps `seen`.
fn assert_observation_sums(s: &SufficientStats, jt: &Joint, mean: &[f64], cov: &Mat<f64>, seen: &[usize]) {
    let e = |a: usize, b: usize| cov[(a, b)] + mean[a] * mean[b];
    for i in 0..jt.p {
        for j in 0..jt.n {
            let want: f64 = seen.iter().map(|&k| e(jt.y(k, i), jt.x(k, j))).sum();
            let got = s.sum_yx()[(i, j)];
            assert!(
                (got - want).abs() < 1e-8 * (1.0 + want.abs()),
                "sum_yx: {got} vs {want}"
            );
        }
        for j in 0..jt.p {
            let want: f64 = seen.iter().map(|&k| e(jt.y(k, i), jt.y(k, j))).sum();
            let got = s.sum_yy()[(i, j)];
            assert!(
                (got - want).abs() < 1e-8 * (1.0 + want.abs()),
                "sum_yy: {got} vs {want}"
            );
        }
    }
}

#[test]
fn many_sequences_add_up() {
    let model = random_model(2, 2, 31);
    let y1 = data(&model, 4, 32, &[(1, Some(0))]);
    let y2 = data(&model, 6, 33, &[]);
    let y3 = data(&model, 1, 34, &[]);
    let all = model.e_step(&[y1.as_ref(), y2.as_ref(), y3.as_ref()]).unwrap();
    let mut merged = model.e_step(&[y1.as_ref()]).unwrap();
    for y in [&y2, &y3] {
        let part = model.e_step(&[y.as_ref()]).unwrap();
        merged.log_likelihood += part.log_likelihood;
        merged.stats += &part.stats;
    }
    assert!((all.log_likelihood - merged.log_likelihood).abs() < 1e-12);
    assert_eq!(all.stats.n_transitions(), 3 + 5);
    assert!(max_diff(all.stats.sum_xx(), merged.stats.sum_xx()) < 1e-12);
    let ll = model
        .log_likelihood(&[y1.as_ref(), y2.as_ref(), y3.as_ref()])
        .unwrap();
    assert!((ll - all.log_likelihood).abs() < 1e-10);
    let _ = InferenceOptions::exact();
}

#[test]
fn larger_dimensions_with_missing_values_match_dense_conditioning() {
    // Several 8-row blocks in the padded kernels, general H, missing values.
    let model = random_model(17, 11, 41);
    let y = data(&model, 4, 42, &[(1, Some(3)), (1, Some(10)), (2, None)]);
    check_against_dense(&model, &y);
}

/// Inputs, offsets and both together, with general H and with H = I and a
/// diagonal R (the coordinatewise update), with missing values: the
/// inputs shift the means only, and the recursions agree with dense
/// conditioning of the joint Gaussian whose means carry them.
#[test]
fn inputs_and_offsets_match_dense_conditioning() {
    for (seed, n, p, m, t) in [
        (51u64, 2, 2, 1, 6),
        (52, 3, 2, 2, 5),
        (53, 1, 3, 3, 7),
        (54, 4, 4, 0, 5),
    ] {
        let model = random_model_with_inputs(n, p, m, seed);
        let mut rng = StdRng::seed_from_u64(seed + 1);
        let u = Mat::<f64>::from_fn(t, m, |_, _| rng.random_range(-2.0..2.0));
        let (_, mut y) = model.sample_with_inputs(u.as_ref(), &mut rng).unwrap();
        check_against_dense_with_inputs(&model, &y, Some(&u));
        y[(1, 0)] = f64::NAN;
        (0..p).for_each(|j| y[(3, j)] = f64::NAN);
        check_against_dense_with_inputs(&model, &y, Some(&u));
    }
    let mut params = random_model(3, 3, 55).into_parameters();
    params.h = Mat::identity(3, 3);
    params.r = Mat::from_fn(3, 3, |i, j| if i == j { 0.2 + 0.1 * i as f64 } else { 0.0 });
    let inputs = random_model_with_inputs(3, 3, 2, 56).input_parameters();
    let model = LinearGaussianSsm::from_parameters(params)
        .unwrap()
        .with_inputs(inputs)
        .unwrap();
    let u = Mat::<f64>::from_fn(6, 2, |k, j| (k as f64 - 2.5) * (j as f64 + 1.0) / 3.0);
    let (_, mut y) = model
        .sample_with_inputs(u.as_ref(), &mut StdRng::seed_from_u64(57))
        .unwrap();
    check_against_dense_with_inputs(&model, &y, Some(&u));
    y[(2, 1)] = f64::NAN;
    check_against_dense_with_inputs(&model, &y, Some(&u));
}

/// The input sums of the E-step statistics against expectations under the
/// dense posterior, with missing entries and a wholly missing step (which
/// is out of the observation block).
#[test]
fn e_step_input_statistics_match_the_dense_posterior() {
    let (n, p, m, t) = (2, 3, 2, 6);
    let model = random_model_with_inputs(n, p, m, 61);
    let mut rng = StdRng::seed_from_u64(62);
    let u = Mat::<f64>::from_fn(t, m, |_, _| rng.random_range(-1.0..1.0));
    let (_, mut y) = model.sample_with_inputs(u.as_ref(), &mut rng).unwrap();
    y[(1, 2)] = f64::NAN;
    y[(4, 0)] = f64::NAN;
    (0..p).for_each(|j| y[(2, j)] = f64::NAN);
    let jt = joint_with_inputs(&model, Some(u.as_ref()), t);
    let (idx, val) = observed(&jt, y.as_ref(), t);
    let (mean, cov) = condition(&jt, &idx, &val);
    let data = [Sequence::with_inputs(y.as_ref(), u.as_ref())];
    let estep = statespace::em::WithInputs(model).e_step(&data[..]).unwrap();
    let s = &estep.stats;
    assert!((estep.log_likelihood - log_density(&jt, &idx, &val)).abs() < 1e-8);
    let ut = |k: usize, j: usize| if j < m { u[(k, j)] } else { 1.0 };
    let seen: Vec<usize> = (0..t).filter(|&k| k != 2).collect();
    let close = |got: f64, want: f64, what: &str| {
        assert!(
            (got - want).abs() < 1e-8 * (1.0 + want.abs()),
            "{what}: {got} vs {want}"
        );
    };
    for j in 0..=m {
        for i in 0..n {
            let target: f64 = (1..t).map(|k| mean[jt.x(k, i)] * ut(k, j)).sum();
            close(s.sum_x_u()[(i, j)], target, "sum_x_u");
            let previous: f64 = (1..t).map(|k| mean[jt.x(k - 1, i)] * ut(k, j)).sum();
            close(s.sum_xprev_u()[(i, j)], previous, "sum_xprev_u");
            let observed_x: f64 = seen.iter().map(|&k| mean[jt.x(k, i)] * ut(k, j)).sum();
            close(s.sum_x_u_observed()[(i, j)], observed_x, "sum_x_u_observed");
        }
        for i in 0..p {
            let want: f64 = seen.iter().map(|&k| mean[jt.y(k, i)] * ut(k, j)).sum();
            close(s.sum_y_u()[(i, j)], want, "sum_y_u");
        }
        for i in 0..=m {
            close(
                s.sum_uu()[(i, j)],
                (1..t).map(|k| ut(k, i) * ut(k, j)).sum(),
                "sum_uu",
            );
            let want: f64 = seen.iter().map(|&k| ut(k, i) * ut(k, j)).sum();
            close(s.sum_uu_observed()[(i, j)], want, "sum_uu_observed");
        }
    }
    assert_observation_sums(s, &jt, &mean, &cov, &seen);
}

/// The blocks of `m` whose bit is set in `mask` (bit 0 `A`, 1 `Q`, 2 `H`,
/// 3 `R`), as views for [`TimeVarying`].
struct Views<'a> {
    a: Vec<faer::MatRef<'a, f64>>,
    q: Vec<faer::MatRef<'a, f64>>,
    h: Vec<faer::MatRef<'a, f64>>,
    r: Vec<faer::MatRef<'a, f64>>,
}

impl<'a> Views<'a> {
    fn of(m: &'a StepMatrices) -> Self {
        Self {
            a: refs(&m.a),
            q: refs(&m.q),
            h: refs(&m.h),
            r: refs(&m.r),
        }
    }

    fn subset(&self, mask: u8) -> TimeVarying<'_> {
        TimeVarying {
            a: pick(mask, 0, &self.a),
            q: pick(mask, 1, &self.q),
            h: pick(mask, 2, &self.h),
            r: pick(mask, 3, &self.r),
        }
    }
}

fn pick<'x>(mask: u8, bit: u8, v: &'x [faer::MatRef<'x, f64>]) -> Option<&'x [faer::MatRef<'x, f64>]> {
    (mask & (1 << bit) != 0).then_some(v)
}

/// Time-varying `A_k`, `Q_k`, `H_k`, `R_k` (every non-empty subset of the
/// four), with and without inputs and offsets, fully observed and with a
/// missing entry and a missing step: filter (checkpointed and the
/// smoother's), smoother, cross-covariances and log-likelihood against
/// dense conditioning of the joint Gaussian built with the per-step
/// matrices, to 1e-10.
#[test]
fn time_varying_matrices_match_dense_conditioning() {
    for (seed, n, p, m, t) in [(61u64, 2, 2, 0, 5), (62, 2, 2, 2, 6), (63, 2, 3, 1, 4)] {
        let model = random_model_with_inputs(n, p, m, seed);
        let matrices = StepMatrices::random(n, p, t, seed + 100);
        let views = Views::of(&matrices);
        let mut rng = StdRng::seed_from_u64(seed + 1);
        let u = Mat::<f64>::from_fn(t, m, |_, _| rng.random_range(-2.0..2.0));
        let u = (m > 0).then_some(&u);
        for mask in 1..16u8 {
            let tv = views.subset(mask);
            let (_, mut y) = model
                .sample_time_varying(t, u.map(|u| u.as_ref()), &tv, &mut rng)
                .unwrap();
            check_sequence_against_dense(&model, &y, u, tv, 1e-10);
            y[(1, 0)] = f64::NAN;
            (0..p).for_each(|j| y[(t - 2, j)] = f64::NAN);
            check_sequence_against_dense(&model, &y, u, tv, 1e-10);
        }
    }
}

/// `H_k = I` with a diagonal `R_k` at some steps and general matrices at
/// others: the update switches between the coordinatewise and the
/// factored form from step to step, and agrees with dense conditioning.
#[test]
fn time_varying_switching_update_forms_match_dense() {
    let (n, t) = (3, 6);
    let model = random_model(n, n, 71);
    let mut matrices = StepMatrices::random(n, n, t, 72);
    for k in (0..t).step_by(2) {
        matrices.h[k] = Mat::identity(n, n);
        matrices.r[k] = Mat::from_fn(n, n, |i, j| if i == j { 0.1 + 0.2 * (i + k) as f64 } else { 0.0 });
    }
    let views = Views::of(&matrices);
    let tv = views.subset(0b1111);
    let (_, mut y) = model
        .sample_time_varying(t, None, &tv, &mut StdRng::seed_from_u64(73))
        .unwrap();
    check_sequence_against_dense(&model, &y, None, tv, 1e-10);
    y[(2, 1)] = f64::NAN;
    y[(3, 0)] = f64::NAN;
    check_sequence_against_dense(&model, &y, None, tv, 1e-10);
}

/// The steady-state option switches itself off on a sequence with
/// time-varying matrices: the same results as the exact recursion, no
/// steady step; and over several checkpoints the exact filter's replayed
/// covariances are those the smoother's filter stored.
#[test]
fn steady_state_is_off_with_time_varying_matrices() {
    let (n, p, t) = (2, 2, 40);
    let exact = random_model(n, p, 81);
    let steady = exact.clone().with_inference(InferenceOptions::steady_state());
    let mut matrices = StepMatrices::random(n, p, t, 82);
    // Constant A_k and Q_k until the last steps: a steady filter would
    // converge there if it ran.
    for k in 0..t - 3 {
        matrices.a[k] = exact.a().to_owned();
        matrices.q[k] = exact.q().to_owned();
    }
    let views = Views::of(&matrices);
    let tv = views.subset(0b0011);
    let (_, y) = exact
        .sample_time_varying(t, None, &tv, &mut StdRng::seed_from_u64(83))
        .unwrap();
    let sequence = Sequence::new(y.as_ref()).with_time_varying(tv);
    let (a, b) = (
        exact.smooth_sequence(sequence).unwrap(),
        steady.smooth_sequence(sequence).unwrap(),
    );
    assert_eq!(b.filter().steady_state_steps(), 0);
    assert_eq!(b.steady_state_steps(), 0);
    assert_eq!(a.log_likelihood(), b.log_likelihood());
    assert_eq!(a.smoothed_means(), b.smoothed_means());
    let f = steady.filter_sequence(sequence).unwrap();
    assert_eq!(f.steady_state_steps(), 0);
    assert_eq!(f.filtered_means(), a.filter().filtered_means());
    let ll = steady.log_likelihood_of(&[sequence]).unwrap();
    assert_eq!(ll, a.log_likelihood());
    // The checkpointed filter (exact mode, T = 40: checkpoints at 0, 16, 32)
    // replays each step with its own matrices: the same covariances as the
    // smoother's filter, which stored them all.
    let checkpointed = exact.filter_sequence(sequence).unwrap();
    for k in 0..t {
        assert_eq!(
            checkpointed.filtered_cov(k),
            a.filter().filtered_cov(k),
            "filtered {k}"
        );
        assert_eq!(
            checkpointed.predicted_cov(k),
            a.filter().predicted_cov(k),
            "predicted {k}"
        );
    }
    assert_eq!(checkpointed.filtered_covs(), a.filter().filtered_covs());
}

/// The E-step statistics of a sequence with time-varying matrices (every
/// block, inputs, missing entries and a missing step) against expectations
/// under the dense posterior: the sums of smoothed moments, and the
/// observation sums whose missing values are expected with `H_k`, `R_k`.
#[test]
fn time_varying_e_step_statistics_match_the_dense_posterior() {
    let (n, p, m, t) = (2, 3, 1, 6);
    let model = random_model_with_inputs(n, p, m, 91);
    let matrices = StepMatrices::random(n, p, t, 92);
    let views = Views::of(&matrices);
    let tv = views.subset(0b1111);
    let mut rng = StdRng::seed_from_u64(93);
    let u = Mat::<f64>::from_fn(t, m, |_, _| rng.random_range(-2.0..2.0));
    let (_, mut y) = model
        .sample_time_varying(t, Some(u.as_ref()), &tv, &mut rng)
        .unwrap();
    y[(1, 0)] = f64::NAN;
    y[(2, 1)] = f64::NAN;
    y[(2, 2)] = f64::NAN;
    (0..p).for_each(|j| y[(4, j)] = f64::NAN);
    let jt = joint_time_varying(&model, Some(u.as_ref()), &tv, t);
    let (idx, val) = observed(&jt, y.as_ref(), t);
    let (mean, cov) = condition(&jt, &idx, &val);
    let sequence = Sequence::with_inputs(y.as_ref(), u.as_ref()).with_time_varying(tv);
    let estep = statespace::em::WithInputs(model).e_step(&[sequence][..]).unwrap();
    let reference = log_density(&jt, &idx, &val);
    assert!((estep.log_likelihood - reference).abs() < 1e-10 * (1.0 + reference.abs()));
    let s = &estep.stats;
    assert_eq!(
        s.time_varying(),
        LearnSet::only(&[Param::A, Param::Q, Param::H, Param::R])
    );
    assert_statistics(s, &jt, &mean, &cov, y.as_ref());
}

/// The sums of the residual `z_k = target_k − K_k state_k` over `steps`
/// under the dense posterior (`mean`, `cov`): `(Σ E[z zᵀ], Σ E[z] ũᵀ,
/// Σ ũ ũᵀ)` with `ũ_k = [u_k; 1]`. `target(k, i)`, `state(k, j)` are
/// indices into the joint vector.
#[allow(clippy::too_many_arguments)]
fn dense_residual_sums(
    mean: &[f64],
    cov: &Mat<f64>,
    steps: &[usize],
    (d, n): (usize, usize),
    target: impl Fn(usize, usize) -> usize,
    state: impl Fn(usize, usize) -> usize,
    coefficient: impl Fn(usize) -> Mat<f64>,
    u: faer::MatRef<'_, f64>,
) -> (Mat<f64>, Mat<f64>, Mat<f64>) {
    let mu = u.ncols() + 1;
    let mut second = Mat::<f64>::zeros(d, d);
    let mut target_u = Mat::<f64>::zeros(d, mu);
    let mut uu = Mat::<f64>::zeros(mu, mu);
    for &k in steps {
        let kk = coefficient(k);
        let tt = block(cov, |i| target(k, i), |j| target(k, j), d, d);
        let ts = block(cov, |i| target(k, i), |j| state(k, j), d, n);
        let ss = block(cov, |i| state(k, i), |j| state(k, j), n, n);
        let m_t = Mat::<f64>::from_fn(d, 1, |i, _| mean[target(k, i)]);
        let m_s = Mat::<f64>::from_fn(n, 1, |i, _| mean[state(k, i)]);
        let z = &m_t - &kk * &m_s;
        let ks = &kk * ts.transpose();
        second += &tt - &ks - ks.transpose() + &kk * &ss * kk.transpose() + &z * z.transpose();
        let ut = Mat::<f64>::from_fn(1, mu, |_, j| if j < mu - 1 { u[(k, j)] } else { 1.0 });
        target_u += &z * &ut;
        uu += ut.transpose() * &ut;
    }
    (second, target_u, uu)
}

/// EM with `A_k` and `H_k` given per step (inputs, a missing entry and a
/// missing step): the M-step's `[B b]` and Q (learned together) and R
/// (with D, d fixed) are the maximisers of the expected complete
/// log-likelihood computed from the dense posterior's moments of the
/// residuals `x_k − A_k x_{k−1}` and `y_k − H_k x_k` (missing values
/// latent), by the least-squares formulas.
#[test]
fn m_step_with_time_varying_coefficients_matches_the_dense_posterior() {
    use statespace::{InputLearnSet, InputParam, MStepOptions};
    let (n, p, m, t) = (2, 2, 1, 6);
    let model = random_model_with_inputs(n, p, m, 95);
    let matrices = StepMatrices::random(n, p, t, 96);
    let views = Views::of(&matrices);
    let tv = views.subset(0b0101);
    let mut rng = StdRng::seed_from_u64(97);
    let u = Mat::<f64>::from_fn(t, m, |_, _| rng.random_range(-2.0..2.0));
    let (_, mut y) = model
        .sample_time_varying(t, Some(u.as_ref()), &tv, &mut rng)
        .unwrap();
    y[(1, 0)] = f64::NAN;
    (0..p).for_each(|j| y[(3, j)] = f64::NAN);
    let jt = joint_time_varying(&model, Some(u.as_ref()), &tv, t);
    let (idx, val) = observed(&jt, y.as_ref(), t);
    let (mean, cov) = condition(&jt, &idx, &val);
    let sequence = Sequence::with_inputs(y.as_ref(), u.as_ref()).with_time_varying(tv);
    let start = statespace::em::WithInputs(model.clone());
    let estep = start.e_step(&[sequence][..]).unwrap();
    let options =
        MStepOptions::new(LearnSet::only(&[Param::Q, Param::R])).with_learn_inputs(InputLearnSet::only(&[
            InputParam::B,
            InputParam::TransitionOffset,
        ]));
    let (next, diagnostics) = start.m_step(&estep.stats, &options).unwrap();
    assert!(diagnostics.is_empty());
    let close = |got: faer::MatRef<'_, f64>, want: &Mat<f64>, what: &str| {
        let scale = 1.0 + want.norm_max();
        assert!(
            max_diff(got, want.as_ref()) < 1e-9 * scale,
            "{what}: {got:?} vs {want:?}"
        );
    };
    // Transition: [B b] = C G⁻¹, Q = (S − X Cᵀ − C Xᵀ + X G Xᵀ)/(T − 1).
    let steps: Vec<usize> = (1..t).collect();
    let (s, c, g) = dense_residual_sums(
        &mean,
        &cov,
        &steps,
        (n, n),
        |k, i| jt.x(k, i),
        |k, j| jt.x(k - 1, j),
        |k| matrices.a[k - 1].clone(),
        u.as_ref(),
    );
    let x = {
        use faer::linalg::solvers::SolveCore;
        let mut xt = c.transpose().to_owned();
        g.partial_piv_lu()
            .solve_transpose_in_place_with_conj(faer::Conj::No, xt.as_mut());
        xt.transpose().to_owned()
    };
    let q = (&s - &x * c.transpose() - &c * x.transpose() + &x * &g * x.transpose())
        * faer::Scale(1.0 / (t - 1) as f64);
    close(next.0.b(), &x.subcols(0, m).to_owned(), "B");
    let offset = Mat::from_fn(n, 1, |i, _| next.0.transition_offset()[i]);
    close(offset.as_ref(), &x.subcols(m, 1).to_owned(), "b");
    close(next.0.q(), &q, "Q");
    // Observation, with D and d fixed: R = (S − X Cᵀ − C Xᵀ + X G Xᵀ)/N over
    // the steps with an observed value.
    let seen: Vec<usize> = (0..t).filter(|&k| k != 3).collect();
    let (s, c, g) = dense_residual_sums(
        &mean,
        &cov,
        &seen,
        (p, n),
        |k, i| jt.y(k, i),
        |k, j| jt.x(k, j),
        |k| matrices.h[k].clone(),
        u.as_ref(),
    );
    let offset = model.observation_offset();
    let x = Mat::from_fn(p, m + 1, |i, j| if j < m { model.d()[(i, j)] } else { offset[i] });
    let r = (&s - &x * c.transpose() - &c * x.transpose() + &x * &g * x.transpose())
        * faer::Scale(1.0 / seen.len() as f64);
    close(next.0.r(), &r, "R");
    // The fixed blocks are kept.
    assert_eq!(next.0.a(), model.a());
    assert_eq!(next.0.d(), model.d());
}

/// `Σ_k V_k⁻¹ (C_k − X G_k)`, the gradient in X of the expected
/// complete-data log-likelihood of a regression whose covariance `V_k` is
/// given per step, from the dense posterior (`mean`, `cov`): `G_k`,
/// `C_k` the moments of the regressor `z_k = [state_k; u_k; 1]` and of the
/// target with it over `steps`, `weight(k)` = `V_k⁻¹`.
#[allow(clippy::too_many_arguments)]
fn dense_weighted_gradient(
    mean: &[f64],
    cov: &Mat<f64>,
    steps: &[usize],
    (d, n): (usize, usize),
    target: impl Fn(usize, usize) -> usize,
    state: impl Fn(usize, usize) -> usize,
    weight: impl Fn(usize) -> Mat<f64>,
    u: faer::MatRef<'_, f64>,
    x: &Mat<f64>,
) -> Mat<f64> {
    let q = n + u.ncols() + 1;
    let mut gradient = Mat::<f64>::zeros(d, q);
    for &k in steps {
        // z_k's entries: the state's joint indices, then the known inputs.
        let entry = |j: usize| -> (Option<usize>, f64) {
            match j {
                j if j < n => (Some(state(k, j)), mean[state(k, j)]),
                j if j < q - 1 => (None, u[(k, j - n)]),
                _ => (None, 1.0),
            }
        };
        let moment = |a: (Option<usize>, f64), b: (Option<usize>, f64)| {
            a.1 * b.1 + a.0.zip(b.0).map_or(0.0, |(i, j)| cov[(i, j)])
        };
        let g = Mat::<f64>::from_fn(q, q, |i, j| moment(entry(i), entry(j)));
        let c = Mat::<f64>::from_fn(d, q, |i, j| {
            moment((Some(target(k, i)), mean[target(k, i)]), entry(j))
        });
        gradient += weight(k) * (c - x * g);
    }
    gradient
}

/// The inverse of an SPD matrix.
fn inverse(m: &Mat<f64>) -> Mat<f64> {
    use faer::linalg::solvers::DenseSolveCore;
    m.partial_piv_lu().inverse()
}

/// EM with `Q_k` and `R_k` given per step (inputs, a missing entry and a
/// missing step): the M-step's `[A B b]` and `[H D]` (d fixed, not zero)
/// maximise the expected complete-data log-likelihood computed from the
/// dense posterior: its gradient `Σ_k V_k⁻¹ (C_k − X G_k)` vanishes in the
/// learned columns (the objective is strictly concave in them), and the
/// fixed column is kept.
#[test]
fn m_step_with_time_varying_covariances_matches_the_dense_posterior() {
    use statespace::{InputLearnSet, InputParam, MStepOptions};
    let (n, p, m, t) = (2, 2, 1, 6);
    let model = random_model_with_inputs(n, p, m, 98);
    assert!(model.observation_offset().iter().any(|&v| v != 0.0));
    let matrices = StepMatrices::random(n, p, t, 99);
    let views = Views::of(&matrices);
    let tv = views.subset(0b1010);
    let mut rng = StdRng::seed_from_u64(100);
    let u = Mat::<f64>::from_fn(t, m, |_, _| rng.random_range(-2.0..2.0));
    let (_, mut y) = model
        .sample_time_varying(t, Some(u.as_ref()), &tv, &mut rng)
        .unwrap();
    y[(1, 0)] = f64::NAN;
    (0..p).for_each(|j| y[(3, j)] = f64::NAN);
    let jt = joint_time_varying(&model, Some(u.as_ref()), &tv, t);
    let (idx, val) = observed(&jt, y.as_ref(), t);
    let (mean, cov) = condition(&jt, &idx, &val);
    let sequence = Sequence::with_inputs(y.as_ref(), u.as_ref()).with_time_varying(tv);
    let start = statespace::em::WithInputs(model.clone());
    let estep = start.e_step(&[sequence][..]).unwrap();
    let options =
        MStepOptions::new(LearnSet::only(&[Param::A, Param::H])).with_learn_inputs(InputLearnSet::only(&[
            InputParam::B,
            InputParam::TransitionOffset,
            InputParam::D,
        ]));
    let (next, diagnostics) = start.m_step(&estep.stats, &options).unwrap();
    assert!(diagnostics.is_empty());
    let joined = |k: faer::MatRef<'_, f64>, b: faer::MatRef<'_, f64>, offset: &[f64]| {
        Mat::<f64>::from_fn(k.nrows(), n + m + 1, |i, j| match j {
            j if j < n => k[(i, j)],
            j if j < n + m => b[(i, j - n)],
            _ => offset[i],
        })
    };
    let transition = joined(next.0.a(), next.0.b(), next.0.transition_offset());
    let steps: Vec<usize> = (1..t).collect();
    let gradient = dense_weighted_gradient(
        &mean,
        &cov,
        &steps,
        (n, n),
        |k, i| jt.x(k, i),
        |k, j| jt.x(k - 1, j),
        |k| inverse(&matrices.q[k - 1]),
        u.as_ref(),
        &transition,
    );
    assert!(gradient.norm_max() < 1e-8, "transition gradient {gradient:?}");
    let observation = joined(next.0.h(), next.0.d(), next.0.observation_offset());
    let seen: Vec<usize> = (0..t).filter(|&k| k != 3).collect();
    let gradient = dense_weighted_gradient(
        &mean,
        &cov,
        &seen,
        (p, n),
        |k, i| jt.y(k, i),
        |k, j| jt.x(k, j),
        |k| inverse(&matrices.r[k]),
        u.as_ref(),
        &observation,
    );
    // d is fixed: its column of the gradient need not vanish.
    assert!(
        gradient.subcols(0, n + m).norm_max() < 1e-8,
        "observation gradient {gradient:?}"
    );
    assert!(gradient.col(n + m).norm_max() > 1e-6);
    assert_eq!(next.0.observation_offset(), model.observation_offset());
    // The per-step covariances matter: the unweighted update differs.
    let plain = start
        .m_step(
            &start
                .e_step(&[Sequence::with_inputs(y.as_ref(), u.as_ref())][..])
                .unwrap()
                .stats,
            &options,
        )
        .unwrap()
        .0;
    assert!(max_diff(plain.0.a(), next.0.a()) > 1e-6);
}
