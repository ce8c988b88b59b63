//! A fit's report as a Python dict, the `fit_report_` of every estimator.

use em_core::{FitReport, RestartOutcome};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::fmt::Display;

/// The report as a dict:
/// - `termination` (why the winning restart stopped, in words), `converged`;
/// - `objective`: what the fit monitored, `"log-likelihood"`, or
///   `"log posterior"` (the log-likelihood plus the log prior, up to a
///   constant) when priors are set;
/// - `iterations`, `log_likelihood` (the objective at the returned
///   parameters), `returned_iteration` (an index into `history`),
///   `history` (the objective at every recorded iteration, the start first);
/// - `falls`: `(iteration, drop, expected)` for every fall;
/// - `rounding_drops`: `(iteration, drop)` for every drop within the
///   rounding of ℓ (`10⁻¹² max(|ℓ|, 1)`), counted as a zero gain, not a fall;
/// - `e_steps`, `m_steps`, `extrapolations_accepted`, `..._shortened`,
///   `..._rejected`: the work behind the iterations;
/// - `diagnostics`: `(iteration, what the M-step reported)`;
/// - `best_restart`, `restarts` (one dict per restart: `index`, `seed`,
///   `log_likelihood` or None, `outcome` in words), `elapsed_seconds`;
/// - `text`: the whole report as emfit prints it.
pub(crate) fn to_dict<'py, D: Display, E: Display>(
    py: Python<'py>,
    report: &FitReport<D, E>,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("termination", report.termination.to_string())?;
    d.set_item("converged", report.converged())?;
    d.set_item("objective", report.objective.to_string())?;
    d.set_item("iterations", report.iterations)?;
    d.set_item("log_likelihood", report.log_likelihood)?;
    d.set_item("returned_iteration", report.returned_iteration)?;
    d.set_item("history", report.history.clone())?;
    let falls: Vec<(usize, f64, bool)> = report
        .falls
        .iter()
        .map(|f| (f.iteration, f.drop, f.expected))
        .collect();
    d.set_item("falls", falls)?;
    let rounding: Vec<(usize, f64)> = report
        .rounding_drops
        .iter()
        .map(|f| (f.iteration, f.drop))
        .collect();
    d.set_item("rounding_drops", rounding)?;
    let w = &report.work;
    d.set_item("e_steps", w.e_steps)?;
    d.set_item("m_steps", w.m_steps)?;
    d.set_item("extrapolations_accepted", w.accepted)?;
    d.set_item("extrapolations_shortened", w.shortened)?;
    d.set_item("extrapolations_rejected", w.rejected)?;
    let diagnostics: Vec<(usize, String)> = report
        .diagnostics
        .iter()
        .map(|(k, x)| (*k, x.to_string()))
        .collect();
    d.set_item("diagnostics", diagnostics)?;
    d.set_item("best_restart", report.best_restart)?;
    let mut restarts = Vec::with_capacity(report.restarts.len());
    for r in &report.restarts {
        let item = PyDict::new(py);
        item.set_item("index", r.index)?;
        item.set_item("seed", r.seed)?;
        item.set_item("log_likelihood", r.log_likelihood())?;
        let outcome = match &r.outcome {
            RestartOutcome::Finished { termination, .. } => termination.to_string(),
            RestartOutcome::Failed(e) => format!("failed: {e}"),
            _ => "unknown".to_owned(),
        };
        item.set_item("outcome", outcome)?;
        restarts.push(item);
    }
    d.set_item("restarts", restarts)?;
    d.set_item("elapsed_seconds", report.elapsed.as_secs_f64())?;
    d.set_item("text", report.to_string())?;
    Ok(d)
}
