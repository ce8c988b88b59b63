//! MAP Baum-Welch (every emission, random valid priors, random learned
//! blocks, random covariance floors): the log posterior `ℓ(θ) + ln p(θ)`
//! (`EmModel::log_prior`) never falls beyond the rounding of the loop
//! (`10⁻¹² |ℓ + ln p|`, em-core's, of at least 1), covariances stay SPD and probability
//! rows on the simplex.

use faer::Mat;
use hmm::{
    CategoricalEmission, CategoricalHmm, CovarianceType, Covariances, Floor, GammaPrior, GaussianEmission,
    GaussianHmm, GmmEmission, GmmHmm, LearnSet, MStepOptions, NormalPrior, Param, PoissonEmission,
    PoissonHmm, Sequences,
};
use proptest::prelude::*;

use super::gaussian::{covariances, gaussian_condition, gaussian_spd, gmm_condition, gmm_valid, setup};
use super::{check_em_run, config, normalise, rows_on_simplex};

/// Reads raw numbers in [0, 1) in turn, cycling.
struct Raw<'a> {
    values: &'a [f64],
    next: usize,
}

impl Raw<'_> {
    /// The next raw number times `scale`; one in five is 0 (a prior that
    /// is off in that entry).
    fn take(&mut self, scale: f64) -> f64 {
        let v = self.values[self.next % self.values.len()];
        self.next += 1;
        if v < 0.2 { 0.0 } else { scale * v }
    }

    /// A Dirichlet concentration in [1, 4).
    fn concentration(&mut self) -> f64 {
        1.0 + self.take(3.0)
    }

    fn matrix(&mut self, rows: usize, cols: usize, f: impl Fn(f64) -> f64, scale: f64) -> Mat<f64> {
        let mut m = Mat::zeros(rows, cols);
        for i in 0..rows {
            for j in 0..cols {
                m[(i, j)] = f(self.take(scale));
            }
        }
        m
    }
}

/// A valid [`NormalPrior`] for `k` components of `d` features of type `t`:
/// means in [−3, 3), weights and masses in [0, 3), scales in [0, 1)
/// (full and tied: `B Bᵀ` of a random `B`, positive semi-definite).
fn normal_prior(k: usize, d: usize, t: CovarianceType, raw: &mut Raw<'_>) -> NormalPrior {
    let means = raw.matrix(k, d, |v| 2.0 * v - 3.0, 3.0);
    let means_weight = (0..k).map(|_| raw.take(3.0)).collect();
    let mut psd = || {
        let b = raw.matrix(d, d, |v| v - 0.5, 1.0);
        &b * b.transpose()
    };
    let scale = match t {
        CovarianceType::Full => Covariances::Full((0..k).map(|_| psd()).collect()),
        CovarianceType::Tied => Covariances::Tied(psd()),
        CovarianceType::Diagonal => Covariances::Diagonal(raw.matrix(k, d, |v| v, 1.0)),
        CovarianceType::Spherical => Covariances::Spherical((0..k).map(|_| raw.take(1.0)).collect()),
    };
    let (rows, cols) = match t {
        CovarianceType::Diagonal => (k, d),
        CovarianceType::Tied => (1, 1),
        CovarianceType::Full | CovarianceType::Spherical => (k, 1),
    };
    NormalPrior {
        means,
        means_weight,
        scale,
        extra_mass: raw.matrix(rows, cols, |v| v, 3.0),
    }
}

/// The options of a case: the blocks of `learn_bits` (bit i: block i of
/// `blocks`) learned, Dirichlet priors on start and transitions, the
/// covariance floor `floor` of four (the default relative one, none, and
/// two absolute ones that bind on the data of the cases).
fn options(k: usize, learn_bits: u8, blocks: &[Param], floor: usize, raw: &mut Raw<'_>) -> MStepOptions {
    let learn = blocks.iter().enumerate().fold(LearnSet::none(), |set, (i, &p)| {
        set.set(p, learn_bits & (1 << i) != 0)
    });
    MStepOptions {
        learn,
        start_prior: Some((0..k).map(|_| raw.concentration()).collect()),
        transition_prior: Some(raw.matrix(k, k, |v| 1.0 + v, 3.0)),
        covariance_floor: [
            Floor::Relative(1e-6),
            Floor::Absolute(0.0),
            Floor::Absolute(0.3),
            Floor::Absolute(1.5),
        ][floor],
        ..MStepOptions::default()
    }
}

/// A `rows x cols` matrix whose rows are `raw`'s entries (positive, read
/// in turn) normalised.
fn stochastic(rows: usize, cols: usize, raw: &[f64]) -> Mat<f64> {
    let mut m = Mat::zeros(rows, cols);
    for i in 0..rows {
        let row = normalise(&raw[i * cols..(i + 1) * cols]);
        for j in 0..cols {
            m[(i, j)] = row[j];
        }
    }
    m
}

/// Start probabilities and a transition matrix of `k` states from `raw`
/// (positive, at least `20 + k` entries).
fn chain(k: usize, raw: &[f64]) -> (Vec<f64>, Mat<f64>) {
    (normalise(&raw[20..20 + k]), stochastic(k, k, raw))
}

proptest! {
    #![proptest_config(config(40))]

    #[test]
    fn gaussian_map_em_never_lowers_the_log_posterior(
        (k, d, t, _n_mix, start, a, _w, means, cov_raw, x, lengths) in setup(),
        prior_raw in prop::collection::vec(0.0f64..1.0, 64),
        learn_bits in 0u8..16,
        floor in 0usize..4,
    ) {
        let means = Mat::from_fn(k, d, |j, i| means[j * d + i]);
        let emission = GaussianEmission::new(means, covariances(t, k, d, &cov_raw)).unwrap();
        let model = GaussianHmm::new(start, a.as_ref(), emission).unwrap();
        let data = Sequences::new(x.as_ref(), &lengths).unwrap();
        let raw = &mut Raw { values: &prior_raw, next: 0 };
        let blocks = [Param::Start, Param::Transitions, Param::Means, Param::Covariances];
        let mut options = options(k, learn_bits, &blocks, floor, raw);
        options.normal_prior = Some(vec![normal_prior(k, d, t, raw)]);
        check_em_run(model, &data, &options, gaussian_spd, gaussian_condition)?;
    }

    #[test]
    fn gmm_map_em_never_lowers_the_log_posterior(
        (k, d, t, n_mix, start, a, w, means, cov_raw, x, lengths) in setup(),
        prior_raw in prop::collection::vec(0.0f64..1.0, 64),
        learn_bits in 0u8..32,
        floor in 0usize..4,
    ) {
        let means: Vec<Mat<f64>> = (0..k)
            .map(|j| Mat::from_fn(n_mix, d, |m, i| means[(j * n_mix + m) * d + i]))
            .collect();
        let covs: Vec<Covariances> = (0..k).map(|j| covariances(t, n_mix, d, &cov_raw[j..])).collect();
        let emission = GmmEmission::new(w, means, covs).unwrap();
        let model = GmmHmm::new(start, a.as_ref(), emission).unwrap();
        let data = Sequences::new(x.as_ref(), &lengths).unwrap();
        let raw = &mut Raw { values: &prior_raw, next: 0 };
        let blocks = [Param::Start, Param::Transitions, Param::Means, Param::Covariances, Param::Weights];
        let mut options = options(k, learn_bits, &blocks, floor, raw);
        options.weight_prior = Some(raw.matrix(k, n_mix, |v| 1.0 + v, 3.0));
        options.normal_prior = Some((0..k).map(|_| normal_prior(n_mix, d, t, raw)).collect());
        check_em_run(model, &data, &options, gmm_valid, gmm_condition)?;
    }

    #[test]
    fn categorical_map_em_never_lowers_the_log_posterior(
        k in 1usize..=3,
        m in 2usize..=4,
        raw_model in prop::collection::vec(0.05f64..1.0, 32),
        prior_raw in prop::collection::vec(0.0f64..1.0, 64),
        lengths in prop::collection::vec(1usize..=12, 1..=4),
        symbols in prop::collection::vec(0usize..4, 48),
        learn_bits in 0u8..8,
    ) {
        let (start, a) = chain(k, &raw_model);
        let b = stochastic(k, m, &raw_model[7..]);
        let model = CategoricalHmm::new(start, a.as_ref(), CategoricalEmission::new(b).unwrap()).unwrap();
        let n: usize = lengths.iter().sum();
        let x = Mat::from_fn(n, 1, |i, _| (symbols[i % symbols.len()] % m) as f64);
        let data = Sequences::new(x.as_ref(), &lengths).unwrap();
        let raw = &mut Raw { values: &prior_raw, next: 0 };
        let blocks = [Param::Start, Param::Transitions, Param::Probabilities];
        let mut options = options(k, learn_bits, &blocks, 0, raw);
        options.emission_prior = Some(raw.matrix(k, m, |v| 1.0 + v, 3.0));
        check_em_run(model, &data, &options, |e: &CategoricalEmission| rows_on_simplex(e.probabilities()), |_| 1.0)?;
    }

    #[test]
    fn poisson_map_em_never_lowers_the_log_posterior(
        k in 1usize..=3,
        d in 1usize..=2,
        raw_model in prop::collection::vec(0.05f64..1.0, 32),
        prior_raw in prop::collection::vec(0.0f64..1.0, 64),
        lengths in prop::collection::vec(1usize..=30, 1..=4),
        counts in prop::collection::vec(0u32..12, 64),
        learn_bits in 0u8..8,
    ) {
        let (start, a) = chain(k, &raw_model);
        let rates = Mat::from_fn(k, d, |j, c| 8.0 * raw_model[11 + j * d + c]);
        let model = PoissonHmm::new(start, a.as_ref(), PoissonEmission::new(rates).unwrap()).unwrap();
        let n: usize = lengths.iter().sum();
        let x = Mat::from_fn(n, d, |i, c| f64::from(counts[(i * d + c) % counts.len()]));
        let data = Sequences::new(x.as_ref(), &lengths).unwrap();
        let raw = &mut Raw { values: &prior_raw, next: 0 };
        let blocks = [Param::Start, Param::Transitions, Param::Rates];
        let mut options = options(k, learn_bits, &blocks, 0, raw);
        options.rate_prior = Some(GammaPrior {
            shape: raw.matrix(k, d, |v| v, 3.0),
            rate: raw.matrix(k, d, |v| v, 3.0),
        });
        check_em_run(model, &data, &options, |e: &PoissonEmission| {
            let rates = e.rates();
            for j in 0..k {
                for c in 0..d {
                    prop_assert!(rates[(j, c)] >= 0.0 && rates[(j, c)].is_finite());
                }
            }
            Ok(())
        }, |_| 1.0)?;
    }
}
