//! The data-driven start (`init_from_data`): close to the truth on long
//! simulated series (n = p and n < p), always a valid stable model, with
//! missing values too, and a better place for EM to start than A = 0.

use faer::{Mat, MatRef};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use statespace::{
    EmModel, InitConfig, LearnSet, LinearGaussianSsm, MStepOptions, Parameters, Settings, Start, Tolerance,
};

/// A 3-state model observed directly (H = I) with noise comparable to the
/// process noise: least squares of y_k on y_{k−1} is biased by R here. With
/// `unit_root`, A has the eigenvalue 1 (a random-walk direction).
fn direct_model(unit_root: bool) -> LinearGaussianSsm {
    let a = if unit_root {
        faer::mat![[0.9, 0.2, 0.0], [0.0, 0.8, 0.3], [0.1, 0.0, 0.7]]
    } else {
        faer::mat![[0.8, 0.2, 0.0], [0.0, 0.7, 0.3], [0.1, 0.0, 0.6]]
    };
    let q = faer::mat![[0.2, 0.05, 0.0], [0.05, 0.3, 0.0], [0.0, 0.0, 0.25]];
    let r = faer::mat![[0.3, 0.0, 0.0], [0.0, 0.2, 0.0], [0.0, 0.0, 0.4]];
    LinearGaussianSsm::from_parameters(Parameters {
        a,
        q: q.clone(),
        h: Mat::identity(3, 3),
        r,
        m0: vec![0.0; 3],
        p0: q,
    })
    .unwrap()
}

/// A 2-factor model of 8 series: rotating factors (complex eigenvalues
/// 0.85 ± 0.2i) and idiosyncratic noise.
fn factor_model() -> LinearGaussianSsm {
    let a = faer::mat![[0.85, 0.2], [-0.2, 0.85]];
    let q = faer::mat![[0.3, 0.0], [0.0, 0.3]];
    let mut rng = StdRng::seed_from_u64(5);
    let h = Mat::<f64>::from_fn(8, 2, |_, _| rng.random_range(-1.0..1.0));
    let r = Mat::<f64>::from_fn(8, 8, |i, j| if i == j { 0.1 + 0.05 * i as f64 } else { 0.0 });
    LinearGaussianSsm::from_parameters(Parameters {
        a,
        q,
        h,
        r,
        m0: vec![0.0; 2],
        p0: Mat::identity(2, 2),
    })
    .unwrap()
}

/// The eigenvalues of A sorted by real then imaginary part.
fn spectrum(a: MatRef<'_, f64>) -> Vec<(f64, f64)> {
    let mut values: Vec<(f64, f64)> = a.eigenvalues().unwrap().iter().map(|v| (v.re, v.im)).collect();
    values.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.total_cmp(&y.1)));
    values
}

fn spectral_radius(a: MatRef<'_, f64>) -> f64 {
    spectrum(a)
        .iter()
        .map(|(re, im)| re.hypot(*im))
        .fold(0.0, f64::max)
}

fn simulate(model: &LinearGaussianSsm, steps: usize, seed: u64) -> Mat<f64> {
    model.sample(steps, &mut StdRng::seed_from_u64(seed)).unwrap().1
}

fn start(y: MatRef<'_, f64>, n: usize, jitter: f64, seed: u64) -> LinearGaussianSsm {
    let config = InitConfig::new(n).with_a_jitter(jitter);
    LinearGaussianSsm::init_from_data(&[y][..], &config, &mut StdRng::seed_from_u64(seed)).unwrap()
}

/// Largest |difference| of two matrices.
fn max_diff(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> f64 {
    let mut d = 0.0f64;
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            d = d.max((a[(i, j)] - b[(i, j)]).abs());
        }
    }
    d
}

/// `y` with about a fifth of its values and every 10th row missing.
fn with_missing(y: &Mat<f64>, seed: u64) -> Mat<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    Mat::from_fn(y.nrows(), y.ncols(), |k, i| {
        if k % 10 == 3 || rng.random::<f64>() < 0.2 {
            f64::NAN
        } else {
            y[(k, i)]
        }
    })
}

/// The largest distance between the sorted eigenvalues of two matrices.
fn spectrum_error(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> f64 {
    spectrum(a)
        .iter()
        .zip(&spectrum(b))
        .map(|(f, e)| (f.0 - e.0).hypot(f.1 - e.1))
        .fold(0.0, f64::max)
}

#[test]
fn with_h_identity_the_start_recovers_a_despite_the_observation_noise() {
    // Measured: 0.017 and 0.004 (stable), 0.013 and 0.003 (unit root);
    // least squares alone is off by about 0.3 here.
    for unit_root in [false, true] {
        let truth = direct_model(unit_root);
        for (steps, tolerance) in [(20_000, 0.04), (200_000, 0.012)] {
            let y = simulate(&truth, steps, 1);
            let model = start(y.as_ref(), 3, 0.0, 0);
            assert!(model.h_is_identity());
            let error = max_diff(model.a(), truth.a());
            assert!(
                error < tolerance,
                "unit root {unit_root}, T = {steps}: A off by {error}"
            );
            assert!(spectral_radius(model.a()) < 1.0);
        }
    }
    // With missing values (a fifth of the entries, every 10th row).
    let truth = direct_model(false);
    let y = with_missing(&simulate(&truth, 50_000, 3), 4);
    // (Measured 0.053: the pairwise moments of the instrument average over
    // different steps entry by entry, so their errors cancel less.)
    let error = max_diff(start(y.as_ref(), 3, 0.0, 0).a(), truth.a());
    assert!(error < 0.08, "with missing values: A off by {error}");
}

#[test]
fn with_fewer_states_than_series_the_start_recovers_the_dynamics() {
    // A is identified up to a change of basis: compare eigenvalues
    // (measured: 0.0006 and 0.002).
    let truth = factor_model();
    for (steps, tolerance) in [(20_000, 0.02), (200_000, 0.01)] {
        let y = simulate(&truth, steps, 2);
        let model = start(y.as_ref(), 2, 0.0, 0);
        let error = spectrum_error(model.a(), truth.a());
        assert!(error < tolerance, "T = {steps}: eigenvalues off by {error}");
    }
    let y = with_missing(&simulate(&truth, 50_000, 5), 6);
    // (Measured 0.0013.)
    let error = spectrum_error(start(y.as_ref(), 2, 0.0, 0).a(), truth.a());
    assert!(error < 0.01, "with missing values: eigenvalues off by {error}");
}

/// Data sets that stress the start: short, constant, nearly empty, several
/// sequences of different lengths, with and without missing values.
fn awkward_data(p: usize, seed: u64) -> Vec<Vec<Mat<f64>>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let noise = |t: usize, rng: &mut StdRng| Mat::from_fn(t, p, |_, _| rng.random_range(-2.0..2.0));
    let walk = |t: usize, rng: &mut StdRng| {
        let mut y = Mat::<f64>::zeros(t, p);
        for k in 1..t {
            for i in 0..p {
                y[(k, i)] = y[(k - 1, i)] + rng.random_range(-1.0..1.0);
            }
        }
        y
    };
    let mut sparse = noise(40, &mut rng);
    for k in 0..40 {
        for i in 0..p {
            if (k + i) % 3 != 0 {
                sparse[(k, i)] = f64::NAN;
            }
        }
    }
    let mut one_value = Mat::from_fn(5, p, |_, _| f64::NAN);
    one_value[(2, 0)] = 1.5;
    vec![
        vec![noise(1, &mut rng)],
        vec![noise(2, &mut rng)],
        vec![noise(500, &mut rng)],
        vec![walk(500, &mut rng)],
        vec![Mat::from_fn(50, p, |_, _| 3.0)],
        vec![Mat::zeros(50, p)],
        vec![sparse],
        vec![one_value],
        vec![noise(7, &mut rng), walk(300, &mut rng), noise(3, &mut rng)],
        vec![with_missing(&walk(400, &mut rng), seed)],
        // Last: values whose squares overflow.
        vec![Mat::from_fn(30, p, |k, i| 1e160 * (k as f64 - 15.0 + i as f64))],
    ]
}

#[test]
fn the_start_is_always_a_valid_stable_model() {
    for (n, p) in [(1, 1), (2, 2), (3, 3), (1, 3), (2, 4), (3, 2), (4, 1)] {
        let data = awkward_data(p, (n * 10 + p) as u64);
        let cases = data.len();
        for (case, sequences) in data.iter().enumerate() {
            let views: Vec<MatRef<'_, f64>> = sequences.iter().map(Mat::as_ref).collect();
            for (jitter, seed) in [(0.0, 0), (0.01, 1), (0.5, 2)] {
                let config = InitConfig::new(n).with_a_jitter(jitter);
                let model =
                    LinearGaussianSsm::init_from_data(&views, &config, &mut StdRng::seed_from_u64(seed))
                        .unwrap_or_else(|e| panic!("n {n}, p {p}, case {case}: {e}"));
                let rho = spectral_radius(model.a());
                assert!(
                    rho < 1.0,
                    "n {n}, p {p}, case {case}, jitter {jitter}: spectral radius {rho}"
                );
                for (name, m) in [("Q", model.q()), ("R", model.r()), ("P0", model.p0())] {
                    assert!(
                        linalg_kernels::Cholesky::new(m).is_ok(),
                        "n {n}, p {p}, case {case}: {name} not positive definite"
                    );
                }
                // The start can be evaluated: a finite log-likelihood (except
                // for the data of the last case, too large for any model).
                if case + 1 < cases {
                    let ll = model.log_likelihood(&views).unwrap();
                    assert!(ll.is_finite(), "n {n}, p {p}, case {case}: log-likelihood {ll}");
                }
            }
        }
    }
}

#[test]
fn restarts_start_apart_and_a_seed_gives_one_start() {
    let y = simulate(&direct_model(false), 2_000, 9);
    let a = |jitter: f64, seed: u64| start(y.as_ref(), 3, jitter, seed).a().to_owned();
    assert_eq!(a(0.01, 3), a(0.01, 3));
    assert_ne!(a(0.01, 3), a(0.01, 4));
    assert_eq!(a(0.0, 3), a(0.0, 4));
    let jittered = max_diff(a(0.01, 3).as_ref(), a(0.0, 3).as_ref());
    assert!(jittered > 0.0 && jittered < 0.1, "jitter moved A by {jittered}");
}

/// The model with A replaced by 0.
fn with_zero_a(model: &LinearGaussianSsm) -> LinearGaussianSsm {
    let mut parameters = model.parameters();
    parameters.a = Mat::zeros(model.state_dim(), model.state_dim());
    LinearGaussianSsm::from_parameters(parameters).unwrap()
}

/// The log-likelihood of EM from `start` after `iterations` plain EM
/// iterations, and after SQUAREM to convergence (gain ≤ 1e-9) or 200
/// iterations (EM crawls along the near-invariance `x → M x` of the factor
/// model).
fn em(y: MatRef<'_, f64>, start: LinearGaussianSsm, learn: LearnSet, iterations: usize) -> (f64, f64) {
    let options = MStepOptions::new(learn);
    let fixed = Settings::builder()
        .max_iterations(iterations)
        .tolerance(Tolerance::absolute(0.0))
        .build()
        .unwrap();
    let early = statespace::fit(&[y][..], Start::Warm(start.clone()), &options, &fixed).unwrap();
    let converged = Settings::builder()
        .max_iterations(200)
        .tolerance(Tolerance::absolute(1e-9))
        .acceleration(statespace::em_core::Acceleration::squarem())
        .build()
        .unwrap();
    let late = statespace::fit(&[y][..], Start::Warm(start), &options, &converged).unwrap();
    (early.report.log_likelihood, late.report.log_likelihood)
}

#[test]
fn em_from_the_data_driven_start_gets_at_least_as_high_as_from_a_zero() {
    let cases = [(direct_model(false), 3, "A,Q,R"), (factor_model(), 2, "A,Q,H,R")];
    for (truth, n, learn) in cases {
        let y = simulate(&truth, 3_000, 11);
        let data_driven = start(y.as_ref(), n, 0.0, 0);
        let zero = with_zero_a(&data_driven);
        let learn: LearnSet = learn.parse().unwrap();
        let (early, late) = em(y.as_ref(), data_driven, learn, 10);
        let (early_zero, late_zero) = em(y.as_ref(), zero, learn, 10);
        assert!(
            early > early_zero,
            "n = {n}: after 10 iterations {early} < {early_zero} from A = 0"
        );
        // Both may converge to the same maximum: equal up to the tolerance.
        let slack = 1e-10 * late_zero.abs();
        assert!(
            late >= late_zero - slack,
            "n = {n}: with SQUAREM {late} < {late_zero} from A = 0"
        );
    }
}
