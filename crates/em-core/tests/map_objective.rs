//! The objective the loop monitors for a model with a prior
//! (`EmModel::log_prior`): the log posterior `ℓ(θ) + ln p(θ)`, which a MAP
//! step never lowers while `ℓ` alone may fall.
//!
//! The model: the mean μ of unit-variance Gaussian data, `ℓ(μ) = −½ Σ (x −
//! μ)²` (constants dropped), under the prior `μ ~ N(m₀, 1/τ)`,
//! `ln p(μ) = −½ τ (μ − m₀)²`, whose MAP step goes straight to the
//! posterior mode `(Σ x + τ m₀) / (n + τ)`. From a warm start at the
//! maximum-likelihood mean `x̄`, that step lowers ℓ and raises the log
//! posterior.

use em_core::{
    EStep, EmModel, FitError, NoDiagnostics, Objective, OnFall, Settings, Start, Step, Termination, fit,
};
use rand::Rng;

/// The prior of the options: `(m₀, τ)`; `τ < 0` is an invalid prior.
type Prior = Option<(f64, f64)>;

#[derive(Debug, Clone, PartialEq)]
struct Mean(f64);

#[derive(Debug, thiserror::Error)]
#[error("invalid prior precision {0}")]
struct InvalidPrior(f64);

impl EmModel for Mean {
    type Data<'a> = &'a [f64];
    type Stats = (f64, f64);
    type Options = Prior;
    type InitConfig = ();
    type Diagnostics = NoDiagnostics;
    type Error = InvalidPrior;

    fn e_step(&self, x: &[f64]) -> Result<EStep<(f64, f64)>, InvalidPrior> {
        Ok(EStep {
            log_likelihood: log_likelihood(self.0, x),
            stats: (x.iter().sum(), x.len() as f64),
        })
    }

    fn m_step(&self, &(sum, n): &(f64, f64), prior: &Prior) -> Result<(Self, NoDiagnostics), InvalidPrior> {
        let (m0, tau) = checked(*prior)?.unwrap_or((0.0, 0.0));
        Ok((Mean((sum + tau * m0) / (n + tau)), NoDiagnostics))
    }

    fn init_from_data<R: Rng + ?Sized>(x: &[f64], _: &(), _: &mut R) -> Result<Self, InvalidPrior> {
        Ok(Mean(x[0]))
    }

    fn log_prior(&self, prior: &Prior) -> Result<Option<f64>, InvalidPrior> {
        Ok(checked(*prior)?.map(|(m0, tau)| log_prior(self.0, m0, tau)))
    }
}

fn checked(prior: Prior) -> Result<Prior, InvalidPrior> {
    match prior {
        Some((_, tau)) if !(tau >= 0.0) => Err(InvalidPrior(tau)),
        p => Ok(p),
    }
}

fn log_likelihood(mu: f64, x: &[f64]) -> f64 {
    x.iter().map(|v| -0.5 * (v - mu) * (v - mu)).sum()
}

fn log_prior(mu: f64, m0: f64, tau: f64) -> f64 {
    -0.5 * tau * (mu - m0) * (mu - m0)
}

const X: [f64; 4] = [1.0, 2.0, 4.0, 9.0];

#[test]
fn with_a_prior_the_loop_monitors_the_log_posterior_and_converges_where_the_likelihood_falls() {
    let (m0, tau) = (0.0, 2.0);
    let mle = X.iter().sum::<f64>() / X.len() as f64;
    let settings = Settings::builder().on_fall(OnFall::StopKeepBest).build().unwrap();
    let fitted = fit(&X[..], Start::Warm(Mean(mle)), &Some((m0, tau)), &settings).unwrap();
    let report = &fitted.report;
    let mode = X.iter().sum::<f64>() / (X.len() as f64 + tau);
    assert_eq!(report.objective, Objective::LogPosterior);
    assert_eq!(report.termination, Termination::Converged, "{report}");
    assert!(report.falls.is_empty(), "{report}");
    assert!((fitted.model.0 - mode).abs() < 1e-12);
    // The first step lowers ℓ and raises the log posterior: the history is
    // the log posterior of each iterate.
    let posterior = |mu: f64| log_likelihood(mu, &X) + log_prior(mu, m0, tau);
    assert!(log_likelihood(mode, &X) < log_likelihood(mle, &X));
    assert_eq!(report.history[0], posterior(mle));
    assert_eq!(report.history[1], posterior(mode));
    assert!(report.history[1] > report.history[0]);
    assert_eq!(report.log_likelihood, posterior(mode));
    assert!(report.to_string().contains("log posterior:"), "{report}");
}

#[test]
fn without_a_prior_the_loop_monitors_the_log_likelihood_exactly() {
    let fitted = fit(&X[..], Start::Warm(Mean(0.0)), &None, &Settings::default()).unwrap();
    let report = &fitted.report;
    assert_eq!(report.objective, Objective::LogLikelihood);
    assert_eq!(report.history[0], log_likelihood(0.0, &X));
    assert_eq!(report.history[1], log_likelihood(4.0, &X));
    assert!(report.to_string().contains("log-likelihood:"), "{report}");
}

#[test]
fn an_invalid_prior_fails_the_evaluation_of_the_log_prior() {
    let error = fit(
        &X[..],
        Start::Warm(Mean(0.0)),
        &Some((0.0, -1.0)),
        &Settings::default(),
    )
    .unwrap_err();
    assert!(
        matches!(
            error,
            FitError::Step {
                iteration: 0,
                step: Step::LogPrior,
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn parameters_impossible_under_the_prior_are_a_non_finite_log_prior() {
    // An infinitely precise prior at 0: any other mean has ln p = −∞.
    let error = fit(
        &X[..],
        Start::Warm(Mean(1.0)),
        &Some((0.0, f64::INFINITY)),
        &Settings::default(),
    )
    .unwrap_err();
    assert!(
        matches!(
            error,
            FitError::NonFiniteLogPrior {
                iteration: 0,
                value,
                ..
            } if value == f64::NEG_INFINITY
        ),
        "{error}"
    );
}
