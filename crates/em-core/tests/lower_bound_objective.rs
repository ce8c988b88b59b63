//! The objective the loop monitors for a variational model
//! (`EmModel::lower_bound`): the model's bound, not the E-step's data term
//! nor the log prior.
//!
//! The model: a state `Halving(b)` whose M-step halves the distance of its
//! bound to 0 (`b → b / 2`, a rising bound), whose E-step reports a
//! falling decoy (`−n / |b|`) and whose log prior is a constant decoy: the
//! loop must record the bounds. And a state whose bound is formed from the
//! data term of its own E-step: the loop must hand it that E-step's value.

use em_core::{EStep, EmModel, FitError, NoDiagnostics, Objective, Settings, Start, Step, fit};
use rand::Rng;

#[derive(Debug, Clone, PartialEq)]
struct Halving(f64);

#[derive(Debug, thiserror::Error)]
#[error("unused")]
struct Never;

impl EmModel for Halving {
    type Data<'a> = &'a [f64];
    type Stats = f64;
    type Options = ();
    type InitConfig = ();
    type Diagnostics = NoDiagnostics;
    type Error = Never;

    fn e_step(&self, x: &[f64]) -> Result<EStep<f64>, Never> {
        Ok(EStep {
            log_likelihood: -(x.len() as f64) / self.0.abs(),
            stats: self.0,
        })
    }

    fn m_step(&self, &bound: &f64, (): &()) -> Result<(Self, NoDiagnostics), Never> {
        Ok((Halving(bound / 2.0), NoDiagnostics))
    }

    fn init_from_data<R: Rng + ?Sized>(_: &[f64], (): &(), _: &mut R) -> Result<Self, Never> {
        Ok(Halving(-8.0))
    }

    fn log_prior(&self, (): &()) -> Result<Option<f64>, Never> {
        Ok(Some(1e6))
    }

    fn lower_bound(&self, _: f64, (): &()) -> Result<Option<f64>, Never> {
        Ok(Some(self.0))
    }
}

#[test]
fn the_loop_records_the_bound_of_each_state() {
    let settings = Settings::builder().max_iterations(4).build().unwrap();
    let fitted = fit(&[1.0, 2.0][..], Start::Warm(Halving(-8.0)), &(), &settings).unwrap();
    let report = &fitted.report;
    assert_eq!(report.objective, Objective::LowerBound);
    assert_eq!(report.history, vec![-8.0, -4.0, -2.0, -1.0, -0.5]);
    assert!(report.falls.is_empty(), "{report}");
    assert_eq!(report.log_likelihood, -0.5);
    assert!(report.to_string().contains("lower bound"), "{report}");
}

#[test]
fn a_non_finite_bound_is_an_error() {
    let settings = Settings::builder().max_iterations(4).build().unwrap();
    let error = fit(&[1.0][..], Start::Warm(Halving(f64::NAN)), &(), &settings).unwrap_err();
    assert!(
        matches!(error, FitError::NonFiniteLogLikelihood { iteration: 0, .. }),
        "{error}"
    );
    assert_eq!(Step::LowerBound.to_string(), "lower bound");
}

/// A state `Formed(b)` whose bound is formed from its own E-step's data
/// term (as the variational HMM's `ln Z − KL`): the E-step reports `b`,
/// the bound is that value minus 1, and the M-step halves `b`.
#[derive(Debug, Clone, PartialEq)]
struct Formed(f64);

impl EmModel for Formed {
    type Data<'a> = &'a [f64];
    type Stats = f64;
    type Options = ();
    type InitConfig = ();
    type Diagnostics = NoDiagnostics;
    type Error = Never;

    fn e_step(&self, _: &[f64]) -> Result<EStep<f64>, Never> {
        Ok(EStep {
            log_likelihood: self.0,
            stats: self.0,
        })
    }

    fn m_step(&self, &b: &f64, (): &()) -> Result<(Self, NoDiagnostics), Never> {
        Ok((Formed(b / 2.0), NoDiagnostics))
    }

    fn init_from_data<R: Rng + ?Sized>(_: &[f64], (): &(), _: &mut R) -> Result<Self, Never> {
        Ok(Formed(-8.0))
    }

    fn lower_bound(&self, log_likelihood: f64, (): &()) -> Result<Option<f64>, Never> {
        Ok(Some(log_likelihood - 1.0))
    }
}

#[test]
fn the_bound_is_formed_from_the_e_step_of_the_same_state() {
    let settings = Settings::builder().max_iterations(3).build().unwrap();
    let fitted = fit(&[1.0][..], Start::Warm(Formed(-8.0)), &(), &settings).unwrap();
    assert_eq!(fitted.report.objective, Objective::LowerBound);
    // The last point (at the cap) comes from the forward-only pass
    // (`EmModel::log_likelihood`, here the E-step's default): the same value.
    assert_eq!(fitted.report.history, vec![-9.0, -5.0, -3.0, -2.0]);
}
