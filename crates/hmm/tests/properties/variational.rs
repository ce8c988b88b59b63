//! Variational Bayesian HMMs (categorical; Gaussian, all four covariance
//! types):
//! the lower bound never falls through the loop, the posterior means stay
//! on the simplex.

use faer::Mat;
use hmm::variational::{
    POSTERIOR_FIELDS, VariationalCategoricalHmm, VariationalCategoricalInit, VariationalGaussianHmm,
    VariationalGaussianInit, VariationalInit,
};
use hmm::{CovarianceType, EmModel, FitError, HmmError, LearnSet, Param, Sequences, Settings, Start, fit};
use proptest::prelude::*;

use super::{config, rows_on_simplex};

prop_compose! {
    fn case()(k in 1usize..=4, m in 2usize..=5)
        (lengths in prop::collection::vec(1usize..=15, 1..=4),
         symbols in prop::collection::vec(0usize..m, 60),
         prior in prop::option::of(0.05f64..3.0),
         seed in 0u64..1000,
         k in Just(k), m in Just(m))
        -> (usize, usize, Mat<f64>, Vec<usize>, Option<f64>, u64) {
        let n: usize = lengths.iter().sum();
        let x = Mat::from_fn(n, 1, |i, _| symbols[i % symbols.len()] as f64);
        (k, m, x, lengths, prior, seed)
    }
}

proptest! {
    #![proptest_config(config(48))]

    /// 40 iterations of the loop from a random start (random priors, some
    /// blocks possibly not learned): no recorded fall, each point at least
    /// the one before up to `10⁻¹²` of its size, and the posterior means'
    /// rows on the simplex.
    #[test]
    fn the_lower_bound_never_falls(
        (k, m, x, lengths, prior, seed) in case(),
        learn_start in any::<bool>(),
        learn_emission in any::<bool>(),
    ) {
        let data = Sequences::new(x.as_ref(), &lengths).unwrap();
        let init = VariationalInit {
            start_prior: prior,
            transition_prior: prior.map(|p| p * 2.0),
            emission: VariationalCategoricalInit { n_symbols: Some(m), prior },
            ..VariationalInit::new(k)
        };
        let learn = LearnSet::all()
            .set(Param::Start, learn_start)
            .set(Param::Probabilities, learn_emission);
        let settings = Settings::builder().max_iterations(40).seed(seed).build().unwrap();
        let fitted = fit::<VariationalCategoricalHmm>(&data, Start::FromData(init), &learn, &settings).unwrap();
        let history = &fitted.report.history;
        prop_assert!(fitted.report.falls.is_empty(), "{}", fitted.report);
        for w in history.windows(2) {
            prop_assert!(w[1] >= w[0] - 1e-12 * w[0].abs().max(1.0), "{:?}", history);
        }
        let model = &fitted.model;
        let start = Mat::from_fn(1, k, |_, j| model.start_probs()[j]);
        rows_on_simplex(start.as_ref())?;
        rows_on_simplex(model.transitions().as_ref())?;
        rows_on_simplex(model.emission().probabilities().as_ref())?;
        // The recorded bound is the state's: ln Z of its E-step minus its divergence.
        let e = model.e_step(&data).unwrap();
        let bound = model.lower_bound(e.log_likelihood).unwrap();
        prop_assert_eq!(bound.to_bits(), fitted.report.log_likelihood.to_bits());
    }
}

prop_compose! {
    fn gaussian_case()(d in 1usize..=2)
        (k in 1usize..=3,
         values in prop::collection::vec(-3.0f64..3.0, 40 * d),
         lengths in prop::collection::vec(5usize..=20, 1..=3),
         kind in prop::sample::select(vec![
             CovarianceType::Full, CovarianceType::Diagonal, CovarianceType::Spherical, CovarianceType::Tied,
         ]),
         seed in 0u64..1000,
         d in Just(d))
        -> (usize, usize, Mat<f64>, Vec<usize>, CovarianceType, u64) {
        let n: usize = lengths.iter().sum();
        // Two groups of points, the second shifted, so the states have something to find.
        let x = Mat::from_fn(n, d, |i, c| values[(i * d + c) % values.len()] + if (i / 7) % 2 == 0 { 0.0 } else { 6.0 });
        (k, d, x, lengths, kind, seed)
    }
}

proptest! {
    #![proptest_config(config(32))]

    /// 30 iterations of a variational Gaussian HMM (any covariance type) from
    /// its k-means start: no fall, each point at least the one before up to
    /// `10⁻¹²` of its size. Starts with a cluster too small for the Wishart
    /// (ν ≤ d − 1) are refused by the start and skipped.
    #[test]
    fn the_gaussian_lower_bound_never_falls((k, _d, x, lengths, kind, seed) in gaussian_case()) {
        let data = Sequences::new(x.as_ref(), &lengths).unwrap();
        let init = VariationalInit {
            emission: VariationalGaussianInit { covariance_type: kind, ..VariationalGaussianInit::default() },
            ..VariationalInit::new(k)
        };
        let settings = Settings::builder().max_iterations(30).seed(seed).build().unwrap();
        let fitted = fit::<VariationalGaussianHmm>(&data, Start::FromData(init), &LearnSet::all(), &settings);
        prop_assume!(!matches!(
            &fitted,
            Err(FitError::Init { source: HmmError::InvalidPriorValue { parameter, .. }, .. })
                if POSTERIOR_FIELDS.contains(parameter)
        ));
        let fitted = fitted.unwrap();
        let history = &fitted.report.history;
        prop_assert!(fitted.report.falls.is_empty(), "{}", fitted.report);
        for w in history.windows(2) {
            prop_assert!(w[1] >= w[0] - 1e-12 * w[0].abs().max(1.0), "{:?}", history);
        }
        rows_on_simplex(fitted.model.transitions().as_ref())?;
    }
}
