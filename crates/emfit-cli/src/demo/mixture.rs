//! Scenario 2 of the demo: a 2-D mixture of two full-covariance Gaussians,
//! fitted from the naive start that crashed a hand-written EM loop, with the
//! covariances checked independently at every iteration.

use std::io::Write;

use em_driver::faer::{Mat, mat};
use em_driver::hmm::match_labels;
use em_driver::mixture::scenario::{self as s2, ScenarioData};
use em_driver::mixture::{Covariances, GaussianMixture, MStepOptions};
use em_driver::{Control, IterationEvent, Observer, RestartSummary, Settings, Start, StartEvent};

use super::figures::{self, Component2};
use super::log::DemoLog;
use super::output::{fitted_of_true, heading, print_comparison, write_plot};
use crate::args::DemoArgs;
use crate::error::{CliError, model};
use crate::text::list;

/// Runs scenario 2; returns the plots written.
pub fn run(args: &DemoArgs) -> Result<Vec<String>, CliError> {
    heading(
        "Scenario 2: 2-D Gaussian mixture, 2 full-covariance components (the hand-written loop crashed)",
    )?;
    let data = s2::two_component_2d(args.seed()?);
    intro(&data)?;
    let settings = Settings::builder().max_iterations(500).build()?;
    let mut watch = SpdWatch {
        log: DemoLog::new(args.log_every),
        checked: 0,
        failures: 0,
    };
    let fit = em_driver::fit_observed::<GaussianMixture, _>(
        data.x.as_ref(),
        Start::Warm(s2::naive_start()),
        &MStepOptions::default(),
        &settings,
        &mut watch,
    )?;
    let mix = &fit.model;
    let labels = mix.predict(data.x.as_ref()).map_err(model)?;
    let matched = match_labels(&labels, &data.labels, 2);
    let fitted = fitted_of_true(matched.as_ref(), 2);
    let outcome = watch.log.outcome(&fit.report);
    print_comparison(&outcome, None, &comparison(&data.truth, mix, &fitted))?;
    let mut out = std::io::stdout().lock();
    if let Some(m) = &matched {
        writeln!(
            out,
            "points assigned to their true component: {:.1}% (up to relabelling)",
            100.0 * m.accuracy
        )?;
    }
    writeln!(
        out,
        "covariances symmetric positive definite after all {} iterations (checked independently): {}",
        watch.checked,
        if watch.failures == 0 { "yes" } else { "NO" }
    )?;
    // The original crash, now a clear error: a non-SPD covariance is rejected with its component named.
    let bad = GaussianMixture::new(
        vec![0.5, 0.5],
        mat![[0.0, 1.0], [1.0, 0.0]],
        Covariances::Full(vec![Mat::identity(2, 2), mat![[1.0, 2.0], [2.0, 1.0]]]),
    );
    if let Err(e) = bad {
        writeln!(
            out,
            "a covariance that is not positive definite is refused up front:\n  {e}"
        )?;
    }
    drop(out);

    let mut written = Vec::new();
    if let Some(dir) = &args.plots {
        let xs: Vec<f64> = (0..data.x.nrows()).map(|i| data.x[(i, 0)]).collect();
        let ys: Vec<f64> = (0..data.x.nrows()).map(|i| data.x[(i, 1)]).collect();
        let fitted: Vec<Component2> = (0..mix.n_components()).map(|k| component2(mix, k)).collect();
        let true_components: Vec<Component2> = (0..2).map(|k| component2(&data.truth, k)).collect();
        let svg = figures::mixture_2d(&xs, &ys, &labels, &fitted, &true_components);
        written.push(write_plot(dir, "scenario2_mixture.svg", &svg)?);
    }
    Ok(written)
}

/// What the data are and where the fit starts.
fn intro(data: &ScenarioData) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "data:  {} points, component 1 with probability {} (N([0, 0], [[1, 0.5], [0.5, 1]])),\n       \
         otherwise component 2 (N([2.5, 0], [[1, -0.5], [-0.5, 1]]))",
        data.x.nrows(),
        s2::P_FIRST
    )?;
    writeln!(
        out,
        "start: the user's start: means [0, 1] and [1, 0], identity covariances, equal weights\n\
         fit:   the library's defaults (EM accelerated by SQUAREM, the remaining-gain stopping rule)\n"
    )?;
    Ok(())
}

/// True against fitted components (`fitted[t]` is the fitted component of
/// true component `t`).
fn comparison(truth: &GaussianMixture, model: &GaussianMixture, fitted: &[usize]) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for (t, &f) in fitted.iter().enumerate() {
        let (tc, fc) = (component2(truth, t), component2(model, f));
        rows.push(vec![
            format!("component {} weight", t + 1),
            format!("{:.3}", tc.weight),
            format!("{:.3}", fc.weight),
        ]);
        rows.push(vec![
            format!("component {} mean", t + 1),
            list(&tc.mean, 3),
            list(&fc.mean, 3),
        ]);
        rows.push(vec![
            format!("component {} covariance", t + 1),
            format!("{} {}", list(&tc.cov[0], 3), list(&tc.cov[1], 3)),
            format!("{} {}", list(&fc.cov[0], 3), list(&fc.cov[1], 3)),
        ]);
    }
    rows
}

/// Checks every iteration's covariances independently (2-D: positive
/// diagonal and determinant, i.e. SPD) while logging.
struct SpdWatch {
    log: DemoLog,
    checked: usize,
    failures: usize,
}

impl Observer<GaussianMixture> for SpdWatch {
    fn on_start(&mut self, e: &StartEvent) {
        <DemoLog as Observer<GaussianMixture>>::on_start(&mut self.log, e);
    }

    fn on_iteration(&mut self, e: &IterationEvent<'_, GaussianMixture>) -> Control {
        self.checked += 1;
        for k in 0..e.model.n_components() {
            let spd = e.model.component_covariance(k).is_some_and(|c| {
                c[(0, 0)] > 0.0
                    && c[(0, 0)] * c[(1, 1)] - c[(0, 1)] * c[(1, 0)] > 0.0
                    && c[(0, 1)] == c[(1, 0)]
            });
            if !spd {
                self.failures += 1;
            }
        }
        self.log.on_iteration(e)
    }

    fn on_end(&mut self, s: &RestartSummary<em_driver::mixture::MixtureError>) {
        <DemoLog as Observer<GaussianMixture>>::on_end(&mut self.log, s);
    }
}

fn component2(m: &GaussianMixture, k: usize) -> Component2 {
    let c = m.component_covariance(k).unwrap_or_else(|| Mat::identity(2, 2));
    Component2 {
        weight: m.weights()[k],
        mean: [m.means()[(k, 0)], m.means()[(k, 1)]],
        cov: [[c[(0, 0)], c[(0, 1)]], [c[(1, 0)], c[(1, 1)]]],
    }
}
