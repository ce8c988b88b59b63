//! The loop on every model of the model crates, through [`EmModel`]: one
//! generic property (random data and random valid starting parameters, all
//! drawn from proptest strategies: the log-likelihood history never
//! decreases beyond rounding and every covariance is SPD after every
//! iteration).

use em_driver::faer::{Mat, MatRef};
use em_driver::hmm::{
    CategoricalEmission, CategoricalHmm, GaussianEmission, GaussianHmm, GmmEmission, GmmHmm, Hmm, Sequences,
};
use em_driver::mixture::GaussianMixture as Gmm;
use em_driver::mixture::{CovarianceType, Covariances, GaussianMixture};
use em_driver::statespace::{self, LearnSet, LinearGaussianSsm as Lgssm, Parameters};
use em_driver::{
    Acceleration, Control, Convergence, EmModel, FnObserver, IterationEvent, OnFall, Settings, Start,
    fit_observed,
};
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestCaseError};

use crate::common::*;

/// The generic property, through the trait, for plain and for accelerated
/// EM (SQUAREM): fit `iterations` iterations from `start` (no convergence
/// stop, falls do not stop the run), check `valid` on the parameters of every
/// iteration (extrapolated ones included), and the history for falls beyond
/// a relative 1e-10.
fn monotone_and_valid<M: EmModel + Clone>(
    data: M::Data<'_>,
    start: M,
    options: &M::Options,
    iterations: usize,
    valid: impl Fn(&M) -> Result<(), String> + Sync,
) -> Result<(), TestCaseError> {
    for acceleration in [Acceleration::None, Acceleration::squarem()] {
        monotone_and_valid_with(data, start.clone(), options, iterations, acceleration, &valid)?;
    }
    Ok(())
}

fn monotone_and_valid_with<M: EmModel>(
    data: M::Data<'_>,
    start: M,
    options: &M::Options,
    iterations: usize,
    acceleration: Acceleration,
    valid: &(impl Fn(&M) -> Result<(), String> + Sync),
) -> Result<(), TestCaseError> {
    let settings = Settings::builder()
        .max_iterations(iterations)
        .convergence(Convergence::FixedIterations)
        .on_fall(OnFall::Continue)
        .acceleration(acceleration)
        .build()
        .unwrap();
    let mut problems = Vec::new();
    let f = {
        let mut observer = FnObserver(|e: &IterationEvent<'_, M>| {
            if let Err(p) = valid(e.model) {
                problems.push(format!("iteration {}: {p}", e.iteration));
            }
            Control::Continue
        });
        fit_observed(data, Start::Warm(start), options, &settings, &mut observer)
            .map_err(|e| TestCaseError::fail(format!("fit failed: {e}")))?
    };
    prop_assert!(problems.is_empty(), "{:?}", problems);
    prop_assert_eq!(f.report.history.len(), f.report.iterations + 1);
    for (k, w) in f.report.history.windows(2).enumerate() {
        prop_assert!(
            w[1] - w[0] >= -1e-10 * w[0].abs().max(1.0),
            "log-likelihood fell at iteration {} ({:?}): {} -> {} (diagnostics {:?})",
            k + 1,
            acceleration,
            w[0],
            w[1],
            f.report.diagnostics
        );
    }
    Ok(())
}

// ------------------------------------------------------------ strategies

/// A symmetric positive definite d x d matrix `Q diag(λ) Qᵀ`, Q a product of
/// Givens rotations, λ log-uniform in [10^-0.5, 10^0.5] (condition ≤ 10).
fn spd(d: usize) -> impl Strategy<Value = Mat<f64>> {
    (
        prop::collection::vec(-0.5f64..0.5, d),
        prop::collection::vec(0.0f64..std::f64::consts::PI, d * (d - 1) / 2),
    )
        .prop_map(move |(log_l, angles)| {
            let mut q = Mat::<f64>::identity(d, d);
            let mut a = 0;
            for i in 0..d {
                for j in i + 1..d {
                    let (s, c) = angles[a].sin_cos();
                    a += 1;
                    for r in 0..d {
                        let (x, y) = (q[(r, i)], q[(r, j)]);
                        q[(r, i)] = c * x - s * y;
                        q[(r, j)] = s * x + c * y;
                    }
                }
            }
            let m = Mat::from_fn(d, d, |i, j| {
                (0..d)
                    .map(|k| q[(i, k)] * 10f64.powf(log_l[k]) * q[(j, k)])
                    .sum::<f64>()
            });
            Mat::from_fn(d, d, |i, j| 0.5 * (m[(i, j)] + m[(j, i)]))
        })
}

fn covariances(t: CovarianceType, k: usize, d: usize) -> BoxedStrategy<Covariances> {
    match t {
        CovarianceType::Full => prop::collection::vec(spd(d), k)
            .prop_map(Covariances::Full)
            .boxed(),
        CovarianceType::Tied => spd(d).prop_map(Covariances::Tied).boxed(),
        CovarianceType::Diagonal => prop::collection::vec(-0.5f64..0.5, k * d)
            .prop_map(move |v| Covariances::Diagonal(Mat::from_fn(k, d, |i, j| 10f64.powf(v[i * d + j]))))
            .boxed(),
        CovarianceType::Spherical => prop::collection::vec(-0.5f64..0.5, k)
            .prop_map(|v| Covariances::Spherical(v.iter().map(|x| 10f64.powf(*x)).collect()))
            .boxed(),
    }
}

/// A probability row with entries bounded away from 0.
fn prob_row(k: usize) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(0.05f64..1.0, k).prop_map(|v| {
        let s: f64 = v.iter().sum();
        v.iter().map(|x| x / s).collect()
    })
}

fn prob_matrix(rows: usize, cols: usize) -> impl Strategy<Value = Mat<f64>> {
    prop::collection::vec(prob_row(cols), rows).prop_map(move |r| Mat::from_fn(rows, cols, |i, j| r[i][j]))
}

/// n x d data in general position: a fixed scatter (distinct points, no two
/// on a line through a third for small n) plus drawn noise in [-1, 1], so a
/// shrunk case (noise 0) is still a well-posed EM problem (exact EM on
/// duplicated points drives covariances to singularity, where the model
/// crates' keep-the-old-covariance policy legitimately leaves EM).
fn data(n: usize, d: usize) -> impl Strategy<Value = Mat<f64>> {
    prop::collection::vec(-1.0f64..1.0, n * d).prop_map(move |v| {
        Mat::from_fn(n, d, |i, j| {
            v[i * d + j] + 3.0 * ((i as f64 + 1.0) * (j as f64 + 1.3) * 1.618).sin()
        })
    })
}

fn cov_type() -> impl Strategy<Value = CovarianceType> {
    prop::sample::select(CovarianceType::ALL.to_vec())
}

/// The rows of `x` at the drawn indices (k x d): starting means at data
/// points.
fn rows_at(x: &Mat<f64>, idx: &[prop::sample::Index]) -> Mat<f64> {
    Mat::from_fn(idx.len(), x.ncols(), |i, j| x[(idx[i].index(x.nrows()), j)])
}

/// A mixture of k components with means at rows of `x`.
fn mixture_on(x: Mat<f64>, k: usize, t: CovarianceType) -> impl Strategy<Value = GaussianMixture> {
    let d = x.ncols();
    (
        prob_row(k),
        prop::collection::vec(any::<prop::sample::Index>(), k),
        covariances(t, k, d),
    )
        .prop_map(move |(w, idx, cov)| GaussianMixture::new(w, rows_at(&x, &idx), cov).unwrap())
}

/// Data and a well-posed start: at least 12 points per component and
/// dimension, means at data points, covariance eigenvalues within [0.3, 3]
/// of a data spread of about ±4. (Starts that let a component drift onto
/// ≤ d + 1 points make exact EM ill-posed: its likelihood is unbounded and
/// the model crates' keep-the-old-covariance policy then leaves EM.)
fn gmm_case() -> impl Strategy<Value = (Mat<f64>, GaussianMixture)> {
    (1usize..4, 1usize..4, cov_type(), 0usize..30).prop_flat_map(|(k, d, t, extra)| {
        data(12 * k * d + extra, d).prop_flat_map(move |x| (Just(x.clone()), mixture_on(x, k, t)))
    })
}

/// Stacked sequences of at least `min_rows` rows in total: (data, lengths).
fn sequences(d: usize, min_rows: usize) -> impl Strategy<Value = (Mat<f64>, Vec<usize>)> {
    prop::collection::vec(min_rows / 2..min_rows / 2 + 12, 2..5).prop_flat_map(move |lengths| {
        let n = lengths.iter().sum();
        (data(n, d), Just(lengths))
    })
}

fn chain(k: usize) -> impl Strategy<Value = (Vec<f64>, Mat<f64>)> {
    (prob_row(k), prob_matrix(k, k))
}

fn gaussian_hmm_case() -> impl Strategy<Value = ((Mat<f64>, Vec<usize>), GaussianHmm)> {
    (1usize..4, 1usize..3, cov_type()).prop_flat_map(|(k, d, t)| {
        sequences(d, 12 * k * d).prop_flat_map(move |(x, lengths)| {
            (
                Just((x.clone(), lengths)),
                chain(k),
                prop::collection::vec(any::<prop::sample::Index>(), k),
                covariances(t, k, d),
            )
                .prop_map(|(seqs, (start, trans), idx, cov)| {
                    let e = GaussianEmission::new(rows_at(&seqs.0, &idx), cov).unwrap();
                    (seqs, Hmm::new(start, trans.as_ref(), e).unwrap())
                })
        })
    })
}

fn gmm_hmm_case() -> impl Strategy<Value = ((Mat<f64>, Vec<usize>), GmmHmm)> {
    (1usize..3, 1usize..3, 1usize..3, cov_type()).prop_flat_map(|(k, m, d, t)| {
        sequences(d, 12 * k * m * d).prop_flat_map(move |(x, lengths)| {
            (
                Just((x.clone(), lengths)),
                chain(k),
                prop::collection::vec(mixture_on(x, m, t), k),
            )
                .prop_map(|(seqs, (start, trans), mixtures)| {
                    let e = GmmEmission::from_mixtures(mixtures).unwrap();
                    (seqs, Hmm::new(start, trans.as_ref(), e).unwrap())
                })
        })
    })
}

fn categorical_hmm_case() -> impl Strategy<Value = ((Mat<f64>, Vec<usize>), CategoricalHmm)> {
    (1usize..4, 2usize..5).prop_flat_map(|(k, m)| {
        let symbols = prop::collection::vec(1usize..12, 1..5).prop_flat_map(move |lengths| {
            let n: usize = lengths.iter().sum();
            (prop::collection::vec(0..m, n), Just(lengths))
        });
        (symbols, chain(k), prob_matrix(k, m)).prop_map(|((s, lengths), (start, trans), b)| {
            let x = Mat::from_fn(s.len(), 1, |i, _| s[i] as f64);
            let e = CategoricalEmission::new(b).unwrap();
            ((x, lengths), Hmm::new(start, trans.as_ref(), e).unwrap())
        })
    })
}

/// A state-space model (n ≤ 2 states, p ≤ 2 observations) with a stable A
/// (spectral norm ≤ 0.9: a scaled rotation), SPD Q, R, P0 (condition ≤ 10),
/// H entries in [-2, 2]; 1-3 sequences of 15-40 observations; a random
/// subset of the parameters to learn.
fn lgssm_case() -> impl Strategy<Value = (Vec<Mat<f64>>, Lgssm, u8)> {
    (1usize..3, 1usize..3).prop_flat_map(|(n, p)| {
        let seqs = prop::collection::vec(15usize..40, 1..4)
            .prop_flat_map(move |lengths| lengths.into_iter().map(|t| data(t, p)).collect::<Vec<_>>());
        (
            seqs,
            (0.0f64..0.9, 0.0f64..std::f64::consts::TAU),
            spd(n),
            prop::collection::vec(-2.0f64..2.0, p * n),
            spd(p),
            prop::collection::vec(-3.0f64..3.0, n),
            spd(n),
            0u8..64,
        )
            .prop_map(move |(seqs, (rho, theta), q, h, r, m0, p0, learn)| {
                let (s, c) = theta.sin_cos();
                let a = Mat::from_fn(n, n, |i, j| match (i, j) {
                    (0, 0) | (1, 1) => rho * c,
                    (0, 1) => -rho * s,
                    _ => rho * s,
                });
                let h = Mat::from_fn(p, n, |i, j| h[i * n + j]);
                (
                    seqs,
                    Lgssm::from_parameters(Parameters { a, q, h, r, m0, p0 }).unwrap(),
                    learn,
                )
            })
    })
}

/// Exact EM: no covariance floor, no re-seeding.
fn exact_gmm_options() -> em_driver::mixture::MStepOptions {
    em_driver::mixture::MStepOptions::default()
        .with_reg_covar(0.0)
        .with_reseed(false)
}

fn exact_hmm_options() -> em_driver::hmm::MStepOptions {
    em_driver::hmm::MStepOptions {
        covariance_floor: em_driver::hmm::Floor::Absolute(0.0),
        ..Default::default()
    }
}

const ITERATIONS: usize = 15;

/// The learn set of the blocks whose bits are set in `mask` (bit i is
/// `Param::ALL[i]`).
fn learn_set(mask: u8) -> LearnSet {
    use em_driver::Parameter;
    statespace::Param::ALL
        .iter()
        .enumerate()
        .fold(LearnSet::none(), |set, (i, &block)| {
            set.set(block, mask & (1 << i) != 0)
        })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn gmm_history_never_decreases((x, start) in gmm_case()) {
        monotone_and_valid(x.as_ref(), start, &exact_gmm_options(), ITERATIONS, |m: &Gmm| check_gmm(m, "gmm"))?;
    }

    #[test]
    fn gaussian_hmm_history_never_decreases(((x, lengths), start) in gaussian_hmm_case()) {
        let seqs = Sequences::new(x.as_ref(), &lengths).unwrap();
        monotone_and_valid(&seqs, start, &exact_hmm_options(), ITERATIONS, check_gaussian_hmm)?;
    }

    #[test]
    fn gmm_hmm_history_never_decreases(((x, lengths), start) in gmm_hmm_case()) {
        let seqs = Sequences::new(x.as_ref(), &lengths).unwrap();
        monotone_and_valid(&seqs, start, &exact_hmm_options(), ITERATIONS, check_gmm_hmm)?;
    }

    #[test]
    fn lgssm_history_never_decreases((seqs, start, learn) in lgssm_case()) {
        let views: Vec<MatRef<'_, f64>> = seqs.iter().map(|y| y.as_ref()).collect();
        let options = statespace::MStepOptions::new(learn_set(learn));
        monotone_and_valid(&views[..], start, &options, ITERATIONS, check_lgssm)?;
    }

    #[test]
    fn categorical_hmm_history_never_decreases(((x, lengths), start) in categorical_hmm_case()) {
        let seqs = Sequences::new(x.as_ref(), &lengths).unwrap();
        monotone_and_valid(&seqs, start, &exact_hmm_options(), ITERATIONS, check_categorical_hmm)?;
    }
}
