//! Time to the answer (`emfit-compare converge`, run by `cargo xtask
//! converge`): one EM fit recorded point by point, with the E-steps and the
//! wall time it took to get each recorded log-likelihood.
//!
//! The E-steps are counted exactly by [`Counted`], a wrapper model whose
//! E-step increments a counter shared by every model of the fit (the
//! M-step and the flat-parameter view hand it on), so plain EM and SQUAREM
//! (whose cycles spend one or two E-steps per recorded point, see
//! `em_core::acceleration`) are counted the same way: every pass over the
//! data, the one that evaluates the start included (plain EM: iteration + 1).

use em_driver::{
    Acceleration, Control, EStep, EmModel, FnObserver, IterationEvent, Settings, Start, Tolerance,
    fit_observed,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The relative tolerance of the stopping rule of the recorded fits: the
/// log-likelihood gain of an EM step at most `1e-13 |ℓ|`.
pub const TIGHT_TOLERANCE: f64 = 1e-13;

/// A model whose E-steps are counted.
#[derive(Debug, Clone)]
pub struct Counted<M> {
    /// The model itself.
    pub model: M,
    e_steps: Arc<AtomicUsize>,
}

impl<M> Counted<M> {
    /// `model` with a new counter at 0.
    pub fn new(model: M) -> Self {
        Self {
            model,
            e_steps: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// E-steps run so far by this model and every model derived from it.
    #[must_use]
    pub fn e_steps(&self) -> usize {
        self.e_steps.load(Ordering::Relaxed)
    }

    fn derived(&self, model: M) -> Self {
        Self {
            model,
            e_steps: Arc::clone(&self.e_steps),
        }
    }
}

impl<M: EmModel> EmModel for Counted<M> {
    type Data<'a> = M::Data<'a>;
    type Stats = M::Stats;
    type Options = M::Options;
    type InitConfig = M::InitConfig;
    type Diagnostics = M::Diagnostics;
    type Error = M::Error;

    fn e_step(&self, data: Self::Data<'_>) -> Result<EStep<Self::Stats>, Self::Error> {
        self.e_steps.fetch_add(1, Ordering::Relaxed);
        self.model.e_step(data)
    }

    fn m_step(
        &self,
        stats: &Self::Stats,
        options: &Self::Options,
    ) -> Result<(Self, Self::Diagnostics), Self::Error> {
        let (model, diagnostics) = self.model.m_step(stats, options)?;
        Ok((self.derived(model), diagnostics))
    }

    fn init_from_data<R: em_driver::rand::Rng + ?Sized>(
        data: Self::Data<'_>,
        config: &Self::InitConfig,
        rng: &mut R,
    ) -> Result<Self, Self::Error> {
        M::init_from_data(data, config, rng).map(Self::new)
    }

    fn flat_parameters(&self, options: &Self::Options) -> Option<Vec<f64>> {
        self.model.flat_parameters(options)
    }

    fn with_flat_parameters(&self, flat: &[f64], options: &Self::Options) -> Option<Self> {
        self.model
            .with_flat_parameters(flat, options)
            .map(|model| self.derived(model))
    }
}

/// How the recorded fit runs EM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Plain EM (`Acceleration::None`).
    Plain,
    /// SQUAREM (`Acceleration::squarem()`).
    Squarem,
}

impl Method {
    /// `plain` or `squarem`.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "plain" => Some(Self::Plain),
            "squarem" => Some(Self::Squarem),
            _ => None,
        }
    }

    fn acceleration(self) -> Acceleration {
        match self {
            Self::Plain => Acceleration::None,
            Self::Squarem => Acceleration::squarem(),
        }
    }
}

/// One recorded point of a fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// E-steps run when its log-likelihood was known (its own included).
    pub e_steps: usize,
    /// Wall time since the fit started, in seconds.
    pub seconds: f64,
    /// Its log-likelihood.
    pub log_likelihood: f64,
}

/// A recorded fit.
#[derive(Debug, Clone)]
pub struct Trajectory {
    /// Every recorded point, the start first.
    pub points: Vec<Point>,
    /// Why the fit stopped.
    pub termination: String,
    /// What it spent (`Work`'s display: E-steps, M-steps, extrapolations).
    pub work: String,
    /// E-steps of the whole fit, from the report.
    pub e_steps: usize,
    /// Wall time of the whole fit, in seconds.
    pub seconds: f64,
    /// The log-likelihood of the returned model.
    pub log_likelihood: f64,
}

/// Fits from `start` with `method`, to the relative tolerance
/// [`TIGHT_TOLERANCE`], at most `max_iterations` recorded points after the
/// start and within `time_budget`, recording every point.
///
/// # Errors
/// Invalid settings, or the fit failed.
pub fn trajectory<M: EmModel>(
    data: M::Data<'_>,
    start: M,
    options: &M::Options,
    method: Method,
    max_iterations: usize,
    time_budget: Duration,
) -> Result<Trajectory, String> {
    let settings = Settings::builder()
        .max_iterations(max_iterations)
        .tolerance(Tolerance::relative(TIGHT_TOLERANCE))
        .acceleration(method.acceleration())
        .time_budget(Some(time_budget))
        .build()
        .map_err(|e| e.to_string())?;
    let mut points = Vec::new();
    let mut observer = FnObserver(|event: &IterationEvent<'_, Counted<M>>| {
        points.push(Point {
            e_steps: event.model.e_steps(),
            seconds: event.elapsed.as_secs_f64(),
            log_likelihood: event.log_likelihood,
        });
        Control::Continue
    });
    let fitted = fit_observed(
        data,
        Start::Warm(Counted::new(start)),
        options,
        &settings,
        &mut observer,
    )
    .map_err(|e| e.to_string())?;
    let report = fitted.report;
    Ok(Trajectory {
        points,
        termination: report.termination.to_string(),
        work: report.work.to_string(),
        e_steps: report.work.e_steps,
        seconds: report.elapsed.as_secs_f64(),
        log_likelihood: report.log_likelihood,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mixture::{GaussianMixture, MStepOptions};

    fn recorded(method: Method) -> Trajectory {
        let data = mixture::scenario::two_component_2d(7);
        trajectory::<GaussianMixture>(
            data.x.as_ref(),
            mixture::scenario::naive_start(),
            &MStepOptions::default(),
            method,
            50,
            Duration::from_secs(60),
        )
        .expect("the scenario fits")
    }

    #[test]
    fn plain_em_spends_one_e_step_per_point_and_the_counts_match_the_report() {
        for method in [Method::Plain, Method::Squarem] {
            let t = recorded(method);
            assert!(t.points.len() > 1);
            let last = t.points.last().expect("points");
            assert_eq!(last.e_steps, t.e_steps, "{method:?}");
            // SQUAREM evaluates an extrapolation's stabilising step before
            // recording the extrapolation: the step's point then costs nothing more.
            assert!(t.points.windows(2).all(|w| w[1].e_steps >= w[0].e_steps));
            assert!(t.points.windows(3).all(|w| w[2].e_steps > w[0].e_steps));
            assert!(t.points.windows(2).all(|w| w[1].seconds >= w[0].seconds));
            if method == Method::Plain {
                for (k, p) in t.points.iter().enumerate() {
                    assert_eq!(p.e_steps, k + 1);
                }
            }
        }
    }
}
