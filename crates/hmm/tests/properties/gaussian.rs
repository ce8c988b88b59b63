//! Baum-Welch with Gaussian and GMM emissions: the log-likelihood never
//! falls over 20 steps (exact EM, no floor), covariances stay SPD,
//! probability rows sum to 1; fits do not depend on the units of the data.

use faer::Mat;
use hmm::{
    CovarianceType, Covariances, Emission, GaussianEmission, GaussianHmm, GmmEmission, GmmHmm, Hmm,
    MStepOptions, Sequences,
};
use linalg_kernels::Cholesky;
use mixture::GaussianMixture;
use proptest::prelude::*;

use super::{check_em_run, config, normalise};

pub(super) fn transitions(k: usize, raw: &[f64]) -> Mat<f64> {
    let mut a = Mat::zeros(k, k);
    for i in 0..k {
        let row = normalise(&raw[i * k..(i + 1) * k]);
        for j in 0..k {
            a[(i, j)] = row[j];
        }
    }
    a
}

/// `m` covariances of type `t` in dimension `d` from raw numbers in [-1, 1]:
/// full = B Bᵀ/d + 0.3 I, diagonal/spherical = 0.3 + |raw|.
pub(super) fn covariances(t: CovarianceType, m: usize, d: usize, raw: &[f64]) -> Covariances {
    let full = |offset: usize| {
        let b = Mat::from_fn(d, d, |i, j| raw[(offset + i * d + j) % raw.len()]);
        let mut s = &b * b.transpose() * faer::Scale(1.0 / d as f64);
        for i in 0..d {
            s[(i, i)] += 0.3;
        }
        s
    };
    match t {
        CovarianceType::Full => Covariances::Full((0..m).map(|c| full(c * d * d)).collect()),
        CovarianceType::Tied => Covariances::Tied(full(0)),
        CovarianceType::Diagonal => Covariances::Diagonal(Mat::from_fn(m, d, |c, i| {
            0.3 + raw[(c * d + i) % raw.len()].abs()
        })),
        CovarianceType::Spherical => {
            Covariances::Spherical((0..m).map(|c| 0.3 + raw[c % raw.len()].abs()).collect())
        }
    }
}

fn cov_type(i: usize) -> CovarianceType {
    CovarianceType::ALL[i % 4]
}

prop_compose! {
    fn shape()(k in 1usize..=3, d in 1usize..=2, t in 0usize..4, n_mix in 1usize..=2) -> (usize, usize, usize, usize) {
        (k, d, t, n_mix)
    }
}

prop_compose! {
    pub(super) fn setup()((k, d, t, n_mix) in shape())
        (start in prop::collection::vec(0.05f64..1.0, k),
         trans in prop::collection::vec(0.05f64..1.0, k * k),
         weights in prop::collection::vec(0.05f64..1.0, k * n_mix),
         means in prop::collection::vec(-3.0f64..3.0, k * n_mix * d),
         cov_raw in prop::collection::vec(-1.0f64..1.0, 24),
         lengths in prop::collection::vec(1usize..=40, 1..=4),
         extra in 0usize..20,
         points in prop::collection::vec(-4.0f64..4.0, 400),
         k in Just(k), d in Just(d), t in Just(t), n_mix in Just(n_mix))
        -> (usize, usize, CovarianceType, usize, Vec<f64>, Mat<f64>, Mat<f64>, Vec<f64>, Vec<f64>, Mat<f64>, Vec<usize>) {
        // Enough points per component (6 K n_mix d) that no component can sit
        // on d points and drive the likelihood to a singularity within 20 steps.
        let mut lengths = lengths;
        let needed = 6 * k * n_mix * d + extra;
        let n0: usize = lengths.iter().sum();
        if n0 < needed {
            lengths.push(needed - n0);
        }
        let n: usize = lengths.iter().sum();
        // The deterministic jitter keeps the points distinct and in general
        // position even when shrinking zeroes the random part.
        let x = Mat::from_fn(n, d, |i, j| {
            points[(i * d + j) % points.len()] + 0.5 * ((i * d + j) as f64 * 1.618_033_988_75 + j as f64).sin()
        });
        let mut w = Mat::zeros(k, n_mix);
        for j in 0..k {
            let row = normalise(&weights[j * n_mix..(j + 1) * n_mix]);
            for m in 0..n_mix { w[(j, m)] = row[m]; }
        }
        (k, d, cov_type(t), n_mix, normalise(&start), transitions(k, &trans), w, means, cov_raw, x, lengths)
    }
}

/// Largest condition estimate `(max Lᵢᵢ / min Lᵢᵢ)²` of a set of covariances.
fn worst_condition(covs: impl Iterator<Item = Mat<f64>>) -> f64 {
    covs.map(|c| Cholesky::new(c.as_ref()).map_or(f64::INFINITY, |ch| ch.condition_estimate()))
        .fold(1.0, f64::max)
}

/// 20 exact EM steps without a floor ([`check_em_run`]).
fn check_run<E: Emission>(
    model: Hmm<E>,
    data: &Sequences<'_>,
    spd: impl Fn(&E) -> Result<(), TestCaseError>,
    condition: impl Fn(&E) -> f64,
) -> Result<(), TestCaseError> {
    let options = MStepOptions::default().with_reg_covar(0.0);
    check_em_run(model, data, &options, spd, condition)
}

fn is_spd(c: Mat<f64>) -> Result<(), TestCaseError> {
    prop_assert!(Cholesky::new(c.as_ref()).is_ok(), "covariance not SPD: {:?}", c);
    for i in 0..c.nrows() {
        for j in 0..i {
            prop_assert!(c[(i, j)] == c[(j, i)]);
        }
    }
    Ok(())
}

/// Every state covariance is SPD.
pub(super) fn gaussian_spd(e: &GaussianEmission) -> Result<(), TestCaseError> {
    for j in 0..e.n_states() {
        is_spd(e.state_covariance(j).unwrap())?;
    }
    Ok(())
}

/// The worst condition of the state covariances.
pub(super) fn gaussian_condition(e: &GaussianEmission) -> f64 {
    worst_condition((0..e.n_states()).map(|j| e.state_covariance(j).unwrap()))
}

/// Every state's weights sum to 1 and are non-negative; every component
/// covariance is SPD.
pub(super) fn gmm_valid(e: &GmmEmission) -> Result<(), TestCaseError> {
    for mix in e.mixtures() {
        let wsum: f64 = mix.weights().iter().sum();
        prop_assert!((wsum - 1.0).abs() < 1e-12 && mix.weights().iter().all(|&w| w >= 0.0));
        for c in 0..mix.n_components() {
            is_spd(mix.component_covariance(c).unwrap())?;
        }
    }
    Ok(())
}

/// The worst condition of the component covariances.
pub(super) fn gmm_condition(e: &GmmEmission) -> f64 {
    worst_condition(
        e.mixtures()
            .iter()
            .flat_map(|m| (0..m.n_components()).map(|c| m.component_covariance(c).unwrap())),
    )
}

proptest! {
    #![proptest_config(config(40))]

    #[test]
    fn gaussian_baum_welch_is_monotone_and_keeps_covariances_spd(
        (k, d, t, _n_mix, start, a, _w, means, cov_raw, x, lengths) in setup()
    ) {
        let means = Mat::from_fn(k, d, |j, i| means[j * d + i]);
        let emission = GaussianEmission::new(means, covariances(t, k, d, &cov_raw)).unwrap();
        let model = GaussianHmm::new(start, a.as_ref(), emission).unwrap();
        let data = Sequences::new(x.as_ref(), &lengths).unwrap();
        check_run(model, &data, gaussian_spd, gaussian_condition)?;
    }

    #[test]
    fn gmm_baum_welch_is_monotone_and_keeps_covariances_spd(
        (k, d, t, n_mix, start, a, w, means, cov_raw, x, lengths) in setup()
    ) {
        let means: Vec<Mat<f64>> = (0..k)
            .map(|j| Mat::from_fn(n_mix, d, |m, i| means[(j * n_mix + m) * d + i]))
            .collect();
        let covs: Vec<Covariances> = (0..k).map(|j| covariances(t, n_mix, d, &cov_raw[j..])).collect();
        let emission = GmmEmission::new(w, means, covs).unwrap();
        let model = GmmHmm::new(start, a.as_ref(), emission).unwrap();
        let data = Sequences::new(x.as_ref(), &lengths).unwrap();
        check_run(model, &data, gmm_valid, gmm_condition)?;
    }
}

/// Covariances of any type times `a2`.
fn scale_covariances(c: &Covariances, a2: f64) -> Covariances {
    match c {
        Covariances::Full(v) => Covariances::Full(v.iter().map(|m| m * faer::Scale(a2)).collect()),
        Covariances::Tied(m) => Covariances::Tied(m * faer::Scale(a2)),
        Covariances::Diagonal(m) => Covariances::Diagonal(m * faer::Scale(a2)),
        Covariances::Spherical(v) => Covariances::Spherical(v.iter().map(|s| s * a2).collect()),
    }
}

/// Fits `model` to `x` and `model_s` (the same start in units `scale`) to
/// `x · scale` with the same 10 plain EM iterations and the default options
/// (relative covariance floor); checks that start and transition
/// probabilities agree and that the log-likelihood is shifted by
/// `−n d ln scale`, and returns both fitted models.
///
/// Tolerance relative `1e-7` of the parameters' size (the data are in
/// [-5, 5]): the runs differ by the rounding of the scaling amplified by 10
/// EM maps (see the mixture crate's property for the reasoning and for why
/// the iterations are fixed rather than stopped by the default rule).
fn fit_in_both_units<E: Emission>(
    model: Hmm<E>,
    model_s: Hmm<E>,
    x: &Mat<f64>,
    lengths: &[usize],
    scale: f64,
) -> Result<(Hmm<E>, Hmm<E>), TestCaseError> {
    let x_s = x * faer::Scale(scale);
    let settings = hmm::Settings::builder()
        .acceleration(hmm::Acceleration::None)
        .convergence(hmm::Convergence::FixedIterations)
        .on_fall(hmm::OnFall::Continue)
        .max_iterations(10)
        .build()
        .unwrap();
    let options = MStepOptions::default();
    let data = Sequences::new(x.as_ref(), lengths).unwrap();
    let data_s = Sequences::new(x_s.as_ref(), lengths).unwrap();
    let plain = hmm::fit(&data, hmm::Start::Warm(model), &options, &settings).unwrap();
    let units = hmm::fit(&data_s, hmm::Start::Warm(model_s), &options, &settings).unwrap();
    let (m, s) = (&plain.model, &units.model);
    same_probabilities(m.start_probs(), s.start_probs(), "start")?;
    close(
        &m.transitions().to_owned(),
        &s.transitions().to_owned(),
        1.0,
        "transitions",
    )?;
    let shift = (x.nrows() * x.ncols()) as f64 * scale.ln();
    let (l0, l1) = (plain.report.log_likelihood, units.report.log_likelihood);
    prop_assert!(
        (l1 + shift - l0).abs() <= TOL * (l0.abs() + shift.abs()),
        "log-likelihood {} vs {} shifted by {}",
        l0,
        l1,
        shift
    );
    Ok((plain.model, units.model))
}

/// The tolerance of the equivariance properties (see [`fit_in_both_units`]).
const TOL: f64 = 1e-7;

/// Probabilities equal to [`TOL`].
fn same_probabilities(a: &[f64], b: &[f64], what: &str) -> Result<(), TestCaseError> {
    for (u, v) in a.iter().zip(b) {
        prop_assert!((u - v).abs() <= TOL, "{}: {:?} vs {:?}", what, a, b);
    }
    Ok(())
}

/// `|a − b| ≤ TOL · size` entry by entry.
fn close(a: &Mat<f64>, b: &Mat<f64>, size: f64, what: &str) -> Result<(), TestCaseError> {
    prop_assert!((a - b).norm_max() <= TOL * size, "{}: {:?} vs {:?}", what, a, b);
    Ok(())
}

/// The mixture `m` against `s` brought back from units `scale`.
fn same_mixture(m: &GaussianMixture, s: &GaussianMixture, scale: f64) -> Result<(), TestCaseError> {
    same_probabilities(m.weights(), s.weights(), "weights")?;
    let means = s.means() * faer::Scale(1.0 / scale);
    close(&m.means().to_owned(), &means, 1.0 + m.means().norm_max(), "means")?;
    for c in 0..m.n_components() {
        let (p0, q0) = (
            m.component_covariance(c).unwrap(),
            s.component_covariance(c).unwrap(),
        );
        let back = &q0 * faer::Scale(1.0 / (scale * scale));
        close(&p0, &back, 1.0 + p0.norm_max(), "covariance")?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(24))]

    /// A Gaussian HMM fit does not depend on the units of the data: data and
    /// start multiplied by `a = 10^p` (p in -150..150) give the same start
    /// and transition probabilities, means times `a`, covariances times
    /// `a²`, and a log-likelihood shifted by `−n d ln a`
    /// ([`fit_in_both_units`]).
    #[test]
    fn gaussian_hmm_fits_are_equivariant_to_the_units_of_the_data(
        (k, d, t, _n_mix, start, a, _w, means, cov_raw, x, lengths) in setup(),
        p in -150i32..150,
    ) {
        let scale = 10f64.powi(p);
        let means = Mat::from_fn(k, d, |j, i| means[j * d + i]);
        let covs = covariances(t, k, d, &cov_raw);
        let emission = GaussianEmission::new(means.clone(), covs.clone()).unwrap();
        let emission_s =
            GaussianEmission::new(&means * faer::Scale(scale), scale_covariances(&covs, scale * scale)).unwrap();
        let model = GaussianHmm::new(start.clone(), a.as_ref(), emission).unwrap();
        let model_s = GaussianHmm::new(start, a.as_ref(), emission_s).unwrap();
        let (m, s) = fit_in_both_units(model, model_s, &x, &lengths, scale)?;
        same_mixture(m.emission().mixture(), s.emission().mixture(), scale)?;
    }

    /// The same for GMM emissions: every state's mixture weights agree, its
    /// means and covariances scale with the data.
    #[test]
    fn gmm_hmm_fits_are_equivariant_to_the_units_of_the_data(
        (k, d, t, n_mix, start, a, w, means, cov_raw, x, lengths) in setup(),
        p in -150i32..150,
    ) {
        let scale = 10f64.powi(p);
        let means: Vec<Mat<f64>> = (0..k)
            .map(|j| Mat::from_fn(n_mix, d, |m, i| means[(j * n_mix + m) * d + i]))
            .collect();
        let covs: Vec<Covariances> = (0..k).map(|j| covariances(t, n_mix, d, &cov_raw[j..])).collect();
        let means_s = means.iter().map(|m| m * faer::Scale(scale)).collect();
        let covs_s = covs.iter().map(|c| scale_covariances(c, scale * scale)).collect();
        let model = GmmHmm::new(start.clone(), a.as_ref(), GmmEmission::new(w.clone(), means, covs).unwrap()).unwrap();
        let model_s = GmmHmm::new(start, a.as_ref(), GmmEmission::new(w, means_s, covs_s).unwrap()).unwrap();
        let (m, s) = fit_in_both_units(model, model_s, &x, &lengths, scale)?;
        for (u, v) in m.emission().mixtures().iter().zip(s.emission().mixtures()) {
            same_mixture(u, v, scale)?;
        }
    }
}
