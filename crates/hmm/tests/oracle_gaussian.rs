//! Gaussian and GMM emissions: forward-backward, Viterbi and one Baum-Welch
//! step against brute-force enumeration with independently computed densities.

mod common;

use common::{Brute, brute_force, max_abs_diff, random_row, random_transitions};
use faer::{Mat, mat};
use hmm::{
    CovarianceType, Covariances, EmModel, Emission, GaussianEmission, GaussianHmm, GmmEmission, GmmHmm,
    MStepOptions, Sequences,
};
use rand::{Rng, SeedableRng, rngs::StdRng};

const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// ln N(x; mu, S) for d = 2 through the explicit 2 x 2 inverse.
fn log_normal_2d(x: [f64; 2], mu: [f64; 2], s: [[f64; 2]; 2]) -> f64 {
    let det = s[0][0] * s[1][1] - s[0][1] * s[1][0];
    let r = [x[0] - mu[0], x[1] - mu[1]];
    let q = (s[1][1] * r[0] * r[0] - 2.0 * s[0][1] * r[0] * r[1] + s[0][0] * r[1] * r[1]) / det;
    -0.5 * (2.0 * LN_2PI + det.ln() + q)
}

fn random_spd<R: Rng>(rng: &mut R) -> [[f64; 2]; 2] {
    let a = 0.5 + rng.random::<f64>();
    let c = 0.5 + rng.random::<f64>();
    let b = (rng.random::<f64>() - 0.5) * (a * c).sqrt();
    [[a, b], [b, c]]
}

fn to_mat(s: [[f64; 2]; 2]) -> Mat<f64> {
    mat![[s[0][0], s[0][1]], [s[1][0], s[1][1]]]
}

/// Random covariances of a type, and the dense 2 x 2 matrix of each state.
fn random_covariances<R: Rng>(k: usize, t: CovarianceType, rng: &mut R) -> (Covariances, Vec<[[f64; 2]; 2]>) {
    match t {
        CovarianceType::Full => {
            let s: Vec<_> = (0..k).map(|_| random_spd(rng)).collect();
            (Covariances::Full(s.iter().map(|&m| to_mat(m)).collect()), s)
        }
        CovarianceType::Tied => {
            let s = random_spd(rng);
            (Covariances::Tied(to_mat(s)), vec![s; k])
        }
        CovarianceType::Diagonal => {
            let v: Vec<[f64; 2]> = (0..k)
                .map(|_| [0.5 + rng.random::<f64>(), 0.5 + rng.random::<f64>()])
                .collect();
            (
                Covariances::Diagonal(Mat::from_fn(k, 2, |j, i| v[j][i])),
                v.iter().map(|d| [[d[0], 0.0], [0.0, d[1]]]).collect(),
            )
        }
        CovarianceType::Spherical => {
            let v: Vec<f64> = (0..k).map(|_| 0.5 + rng.random::<f64>()).collect();
            (
                Covariances::Spherical(v.clone()),
                v.iter().map(|&s| [[s, 0.0], [0.0, s]]).collect(),
            )
        }
    }
}

fn random_points<R: Rng>(n: usize, rng: &mut R) -> Mat<f64> {
    Mat::from_fn(n, 2, |_, _| 3.0 * (rng.random::<f64>() - 0.5))
}

/// Runs the brute force on every sequence of `data` with emission
/// log-densities `log_b(t_global, j)` and checks the model's inference
/// against it; the brute-force posteriors of all rows (n x K).
fn check_against_enumeration<E: Emission>(
    model: &hmm::Hmm<E>,
    data: &Sequences<'_>,
    log_b: &dyn Fn(usize, usize) -> f64,
) -> Mat<f64> {
    let trans = model.transitions().to_owned();
    let brute: Vec<Brute> = (0..data.n_sequences())
        .map(|s| {
            let (r0, len) = (data.starts()[s], data.lengths()[s]);
            let lb = Mat::from_fn(len, model.n_states(), |t, j| log_b(r0 + t, j));
            brute_force(model.start_probs(), &trans, &lb)
        })
        .collect();
    check_inference(model, data, &brute)
}

fn check_inference<E: Emission>(model: &hmm::Hmm<E>, data: &Sequences<'_>, brute: &[Brute]) -> Mat<f64> {
    let scores = model.score_sequences(data).unwrap();
    let gamma = model.predict_proba(data).unwrap();
    let decoding = model.decode(data).unwrap();
    let mut g_brute = Mat::<f64>::zeros(data.n_samples(), model.n_states());
    for (s, b) in brute.iter().enumerate() {
        let (r0, len) = (data.starts()[s], data.lengths()[s]);
        assert!((scores[s] - b.loglik).abs() < 1e-10 * b.loglik.abs().max(1.0));
        assert!(max_abs_diff(&gamma.as_ref().subrows(r0, len).to_owned(), &b.gamma) < 1e-11);
        assert_eq!(&decoding.states[r0..r0 + len], &b.best_path[..]);
        assert!((decoding.log_probs[s] - b.best_logp).abs() < 1e-10 * b.best_logp.abs().max(1.0));
        g_brute.as_mut().subrows_mut(r0, len).copy_from(&b.gamma);
    }
    let e = model.e_step(data).unwrap();
    let fb = model.forward_backward(data).unwrap();
    assert_eq!(fb.log_likelihoods, scores);
    assert_eq!(fb.posteriors, gamma);
    assert_eq!(fb.transition_counts, e.stats.transition_counts().to_owned());
    let total: f64 = brute.iter().map(|b| b.loglik).sum();
    assert!((e.log_likelihood - total).abs() < 1e-10 * total.abs().max(1.0));
    let mut xi = Mat::<f64>::zeros(model.n_states(), model.n_states());
    for b in brute {
        xi += &b.xi;
    }
    assert!(max_abs_diff(&e.stats.transition_counts().to_owned(), &xi) < 1e-11);
    g_brute
}

/// Weighted mean and scatter of the rows of x with weights w (d = 2).
fn weighted_moments(x: &Mat<f64>, w: &[f64], mean: Option<[f64; 2]>) -> (f64, [f64; 2], [[f64; 2]; 2]) {
    let n: f64 = w.iter().sum();
    let mu = mean.unwrap_or_else(|| {
        let mut m = [0.0; 2];
        for i in 0..x.nrows() {
            for c in 0..2 {
                m[c] += w[i] * x[(i, c)] / n;
            }
        }
        m
    });
    let mut s = [[0.0; 2]; 2];
    for i in 0..x.nrows() {
        for a in 0..2 {
            for b in 0..2 {
                s[a][b] += w[i] * (x[(i, a)] - mu[a]) * (x[(i, b)] - mu[b]);
            }
        }
    }
    (n, mu, s)
}

/// Mass, mean and scatter of the rows of `x` under each weight vector, and
/// the pooled scatter and total mass (the tied covariance's statistics).
type Moments = (Vec<(f64, [f64; 2], [[f64; 2]; 2])>, [[f64; 2]; 2], f64);

fn moments_of(x: &Mat<f64>, weights: &[Vec<f64>]) -> Moments {
    let mut pooled = [[0.0; 2]; 2];
    let mut total = 0.0;
    let mut each = Vec::new();
    for w in weights {
        let (n, mu, s) = weighted_moments(x, w, None);
        for a in 0..2 {
            for b in 0..2 {
                pooled[a][b] += s[a][b];
            }
        }
        total += n;
        each.push((n, mu, s));
    }
    (each, pooled, total)
}

/// The closed-form covariance update of a component of mass `n` and
/// scatter `s` (the pooled scatter over `total` for tied covariances),
/// bounded below by `reg · I`.
fn expected_covariance(
    t: CovarianceType,
    (n, s): (f64, [[f64; 2]; 2]),
    (pooled, total): ([[f64; 2]; 2], f64),
    reg: f64,
) -> [[f64; 2]; 2] {
    match t {
        CovarianceType::Full => bounded([[s[0][0] / n, s[0][1] / n], [s[1][0] / n, s[1][1] / n]], reg),
        CovarianceType::Diagonal => [[(s[0][0] / n).max(reg), 0.0], [0.0, (s[1][1] / n).max(reg)]],
        CovarianceType::Spherical => {
            let v = ((s[0][0] + s[1][1]) / (2.0 * n)).max(reg);
            [[v, 0.0], [0.0, v]]
        }
        CovarianceType::Tied => bounded(
            [
                [pooled[0][0] / total, pooled[0][1] / total],
                [pooled[1][0] / total, pooled[1][1] / total],
            ],
            reg,
        ),
    }
}

/// The symmetric 2 x 2 matrix `m` with its eigenvalues below `reg` raised
/// to `reg` (closed-form eigenvectors).
fn bounded(m: [[f64; 2]; 2], reg: f64) -> [[f64; 2]; 2] {
    let (a, b, c) = (m[0][0], m[0][1], m[1][1]);
    let half = ((a - c) / 2.0).hypot(b);
    let (low, high) = ((a + c) / 2.0 - half, (a + c) / 2.0 + half);
    // Unit eigenvector of the smaller eigenvalue.
    let (u, v) = if b == 0.0 {
        if a <= c { (1.0, 0.0) } else { (0.0, 1.0) }
    } else {
        let (u, v) = (b, low - a);
        let norm = u.hypot(v);
        (u / norm, v / norm)
    };
    let (l1, l2) = (low.max(reg), high.max(reg));
    // U diag(l1, l2) Uᵀ with the eigenvectors (u, v) and (−v, u).
    [
        [l1 * u * u + l2 * v * v, (l1 - l2) * u * v],
        [(l1 - l2) * u * v, l1 * v * v + l2 * u * u],
    ]
}

/// One M-step (variances bounded below by 0.05) of a Gaussian HMM against the closed
/// forms with the brute-force posteriors `gamma`.
fn check_gaussian_m_step(model: &GaussianHmm, data: &Sequences<'_>, gamma: &Mat<f64>, t: CovarianceType) {
    let (x, k) = (data.data().to_owned(), model.n_states());
    let reg = 0.05;
    let options = MStepOptions {
        covariance_floor: hmm::Floor::Absolute(reg),
        ..MStepOptions::default()
    };
    let e = model.e_step(data).unwrap();
    let (next, _) = model.m_step(&e.stats, &options).unwrap();
    let weights: Vec<Vec<f64>> = (0..k)
        .map(|j| (0..x.nrows()).map(|i| gamma[(i, j)]).collect())
        .collect();
    let (each, pooled, total) = moments_of(&x, &weights);
    for (j, &(n, mu, s)) in each.iter().enumerate() {
        for c in 0..2 {
            assert!(
                (next.emission().means()[(j, c)] - mu[c]).abs() < 1e-10,
                "{t:?} mean"
            );
        }
        let expected = expected_covariance(t, (n, s), (pooled, total), reg);
        let got = next.emission().state_covariance(j).unwrap();
        for a in 0..2 {
            for b in 0..2 {
                assert!(
                    (got[(a, b)] - expected[a][b]).abs() < 1e-10,
                    "{t:?} K={k} state {j}: {got:?} vs {expected:?}"
                );
            }
        }
    }
    // Start probabilities: normalised expected counts.
    for j in 0..k {
        let s0: f64 = (0..data.n_sequences())
            .map(|s| gamma[(data.starts()[s], j)])
            .sum();
        assert!((next.start_probs()[j] - s0 / data.n_sequences() as f64).abs() < 1e-11);
    }
}

#[test]
fn gaussian_emissions_match_enumeration_for_every_covariance_type() {
    let mut rng = StdRng::seed_from_u64(11);
    for t in CovarianceType::ALL {
        for k in 1..=3 {
            for len in [1usize, 3, 6] {
                let means = Mat::from_fn(k, 2, |_, _| 2.0 * (rng.random::<f64>() - 0.5));
                let (covs, dense) = random_covariances(k, t, &mut rng);
                let emission = GaussianEmission::new(means.clone(), covs).unwrap();
                let model = GaussianHmm::new(
                    random_row(k, &mut rng),
                    random_transitions(k, &mut rng).as_ref(),
                    emission,
                )
                .unwrap();
                let lengths = [len, 7 - len.min(6)];
                let x = random_points(lengths.iter().sum(), &mut rng);
                let data = Sequences::new(x.as_ref(), &lengths).unwrap();
                let log_b = |i: usize, j: usize| {
                    log_normal_2d([x[(i, 0)], x[(i, 1)]], [means[(j, 0)], means[(j, 1)]], dense[j])
                };
                let gamma = check_against_enumeration(&model, &data, &log_b);
                check_gaussian_m_step(&model, &data, &gamma, t);
            }
        }
    }
}

/// The parameters of a GMM-HMM as the test knows them: weights (K x n_mix),
/// means (K matrices n_mix x 2) and the dense 2 x 2 covariance of every
/// component.
type GmmParameters = (Mat<f64>, Vec<Mat<f64>>, Vec<Vec<[[f64; 2]; 2]>>);

/// A GMM-HMM with random parameters, and those parameters.
fn random_gmm_model<R: Rng>(
    k: usize,
    n_mix: usize,
    t: CovarianceType,
    rng: &mut R,
) -> (GmmHmm, GmmParameters) {
    let mut weights = Mat::zeros(k, n_mix);
    let mut means = Vec::new();
    let mut covs = Vec::new();
    let mut dense = Vec::new();
    for j in 0..k {
        let w = random_row(n_mix, rng);
        for m in 0..n_mix {
            weights[(j, m)] = w[m];
        }
        means.push(Mat::from_fn(n_mix, 2, |_, _| 2.0 * (rng.random::<f64>() - 0.5)));
        let (c, d) = random_covariances(n_mix, t, rng);
        covs.push(c);
        dense.push(d);
    }
    let emission = GmmEmission::new(weights.clone(), means.clone(), covs).unwrap();
    let model = GmmHmm::new(random_row(k, rng), random_transitions(k, rng).as_ref(), emission).unwrap();
    (model, (weights, means, dense))
}

/// One M-step (no floor) of a GMM-HMM against the closed forms, with the
/// within-state responsibilities `resp(i, j, m)` times the posteriors.
fn check_gmm_m_step(
    model: &GmmHmm,
    data: &Sequences<'_>,
    gamma: &Mat<f64>,
    resp: &dyn Fn(usize, usize, usize) -> f64,
    t: CovarianceType,
) {
    let (x, k, n_mix) = (data.data().to_owned(), model.n_states(), model.emission().n_mix());
    let options = MStepOptions {
        covariance_floor: hmm::Floor::Absolute(0.0),
        ..MStepOptions::default()
    };
    let e = model.e_step(data).unwrap();
    let (next, _) = model.m_step(&e.stats, &options).unwrap();
    for j in 0..k {
        let weights: Vec<Vec<f64>> = (0..n_mix)
            .map(|m| (0..x.nrows()).map(|i| gamma[(i, j)] * resp(i, j, m)).collect())
            .collect();
        let (each, pooled, total) = moments_of(&x, &weights);
        for (m, &(n, mu, s)) in each.iter().enumerate() {
            for c in 0..2 {
                assert!(
                    (next.emission().means(j)[(m, c)] - mu[c]).abs() < 1e-9,
                    "{t:?} mean"
                );
            }
            assert!((next.emission().weights()[(j, m)] - n / total).abs() < 1e-10);
            let expected = expected_covariance(t, (n, s), (pooled, total), 0.0);
            let got = next.emission().mixtures()[j].component_covariance(m).unwrap();
            for a in 0..2 {
                for b in 0..2 {
                    assert!(
                        (got[(a, b)] - expected[a][b]).abs() < 1e-9 * expected[a][a].abs().max(1.0),
                        "{t:?} K={k} state {j} comp {m}: {} vs {}",
                        got[(a, b)],
                        expected[a][b]
                    );
                }
            }
        }
    }
}

#[test]
fn gmm_emissions_match_enumeration_for_every_covariance_type() {
    let mut rng = StdRng::seed_from_u64(12);
    let n_mix = 2;
    for t in CovarianceType::ALL {
        for k in 1..=3 {
            let (model, (weights, means, dense)) = random_gmm_model(k, n_mix, t, &mut rng);
            let lengths = [5, 2];
            let x = random_points(7, &mut rng);
            let data = Sequences::new(x.as_ref(), &lengths).unwrap();
            let comp = |i: usize, j: usize, m: usize| {
                weights[(j, m)].ln()
                    + log_normal_2d(
                        [x[(i, 0)], x[(i, 1)]],
                        [means[j][(m, 0)], means[j][(m, 1)]],
                        dense[j][m],
                    )
            };
            let log_b = |i: usize, j: usize| {
                let a = comp(i, j, 0);
                let b = comp(i, j, 1);
                let mx = a.max(b);
                mx + ((a - mx).exp() + (b - mx).exp()).ln()
            };
            let gamma = check_against_enumeration(&model, &data, &log_b);
            check_gmm_m_step(
                &model,
                &data,
                &gamma,
                &|i, j, m| (comp(i, j, m) - log_b(i, j)).exp(),
                t,
            );
        }
    }
}
