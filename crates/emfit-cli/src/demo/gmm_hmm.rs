//! Scenario 1 of the demo: a GMM-HMM (2 hidden states, each a 2-component
//! 1-D Gaussian mixture) sampled, fitted from a fresh k-means start, and
//! decoded by Viterbi.

use std::io::Write;
use std::path::Path;

use em_driver::hmm::scenario::{self as s1, ScenarioData};
use em_driver::hmm::{GmmHmm, match_labels};
use em_driver::mixture::GaussianMixture;
use em_driver::{Settings, Start, Tolerance};

use super::figures::{self, Curve};
use super::log::DemoLog;
use super::output::{fitted_of_true, heading, print_comparison, write_plot};
use crate::args::DemoArgs;
use crate::error::{CliError, model};
use crate::text::list;

/// Runs scenario 1; returns the plots written.
pub fn run(args: &DemoArgs) -> Result<Vec<String>, CliError> {
    heading("Scenario 1: GMM-HMM, 2 hidden states, each a 2-component 1-D Gaussian mixture")?;
    let data = s1::sample(args.seed()?);
    let seqs = data.sequences().map_err(model)?;
    let fresh = s1::fresh_model(&seqs, args.seed()?).map_err(model)?;
    intro(&data)?;
    let settings = Settings::builder()
        .max_iterations(s1::MAX_ITERATIONS)
        .tolerance(Tolerance::absolute(s1::TOLERANCE))
        .build()?;
    let mut log = DemoLog::new(args.log_every);
    let fit = em_driver::fit_observed::<GmmHmm, _>(
        &seqs,
        Start::Warm(fresh),
        &s1::m_step_options(),
        &settings,
        &mut log,
    )?;
    let hmm = &fit.model;

    // Accuracy up to relabelling: on the training data, and on a fresh sample.
    let train_path = hmm.predict(&seqs).map_err(model)?;
    let train = match_labels(&train_path, &data.states, s1::N_STATES);
    let fresh_data = s1::sample_with(args.seed()?.wrapping_add(1), s1::N_POINTS, 1).map_err(model)?;
    let fresh_path = hmm
        .predict(&fresh_data.sequences().map_err(model)?)
        .map_err(model)?;
    let fresh_match = match_labels(&fresh_path, &fresh_data.states, s1::N_STATES);

    let fitted = fitted_of_true(train.as_ref(), s1::N_STATES);
    print_comparison(
        &log.outcome(&fit.report),
        Some("(fitted states relabelled to match the true ones; components sorted by mean)"),
        &comparison(hmm, &fitted),
    )?;
    let mut out = std::io::stdout().lock();
    if let Some(m) = &train {
        writeln!(
            out,
            "Viterbi accuracy on the training data: {:.1}%",
            100.0 * m.accuracy
        )?;
    }
    if let Some(m) = &fresh_match {
        writeln!(
            out,
            "Viterbi accuracy on a fresh sample of {} points: {:.1}% (up to relabelling)",
            s1::N_POINTS,
            100.0 * m.accuracy
        )?;
    }
    drop(out);
    match &args.plots {
        Some(dir) => plots(dir, &data, hmm, &train_path, &fitted),
        None => Ok(Vec::new()),
    }
}

/// What the data are and how the fit starts and stops.
fn intro(data: &ScenarioData) -> Result<(), CliError> {
    let lo = data.lengths.iter().copied().min().unwrap_or(0);
    let hi = data.lengths.iter().copied().max().unwrap_or(0);
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "data:  {} observations sampled from the true model, cut into {} sequences (lengths {lo} to {hi})",
        data.x.nrows(),
        data.lengths.len()
    )?;
    writeln!(
        out,
        "start: a fresh 2-state x 2-component diagonal GMM-HMM initialised from the data by k-means"
    )?;
    writeln!(
        out,
        "fit:   EM accelerated by SQUAREM (the default) until the log-likelihood gain still to come\n       \
         is within {:e}, or {} iterations\n",
        s1::TOLERANCE,
        s1::MAX_ITERATIONS
    )?;
    Ok(())
}

/// True against fitted parameters, the fitted states relabelled
/// (`fitted[t]` is the fitted state of true state `t`).
fn comparison(model: &GmmHmm, fitted: &[usize]) -> Vec<Vec<String>> {
    let truth = s1::true_model();
    let fmt = |v: &[f64]| list(v, 3);
    let start_fitted: Vec<f64> = fitted.iter().map(|&p| model.start_probs()[p]).collect();
    let mut rows = vec![vec![
        "start probabilities".into(),
        fmt(truth.start_probs()),
        fmt(&start_fitted),
    ]];
    for t in 0..s1::N_STATES {
        let p = fitted[t];
        let true_row: Vec<f64> = (0..s1::N_STATES).map(|j| truth.transitions()[(t, j)]).collect();
        let fit_row: Vec<f64> = fitted.iter().map(|&q| model.transitions()[(p, q)]).collect();
        rows.push(vec![
            format!("transitions from state {}", t + 1),
            fmt(&true_row),
            fmt(&fit_row),
        ]);
    }
    for t in 0..s1::N_STATES {
        let (tw, tm, tv) = mixture_1d(&truth.emission().mixtures()[t]);
        let (fw, fm, fv) = mixture_1d(&model.emission().mixtures()[fitted[t]]);
        rows.push(vec![format!("state {} weights", t + 1), fmt(&tw), fmt(&fw)]);
        rows.push(vec![format!("state {} means", t + 1), fmt(&tm), fmt(&fm)]);
        rows.push(vec![format!("state {} variances", t + 1), fmt(&tv), fmt(&fv)]);
    }
    rows
}

/// Weights, means and variances of a 1-D mixture, components sorted by mean.
fn mixture_1d(m: &GaussianMixture) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let k = m.n_components();
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| m.means()[(a, 0)].total_cmp(&m.means()[(b, 0)]));
    let var = |c: usize| m.component_covariance(c).map_or(f64::NAN, |s| s[(0, 0)]);
    (
        order.iter().map(|&c| m.weights()[c]).collect(),
        order.iter().map(|&c| m.means()[(c, 0)]).collect(),
        order.iter().map(|&c| var(c)).collect(),
    )
}

/// The histogram of the data per decoded state with the fitted densities,
/// and the series coloured by decoded and true state.
fn plots(
    dir: &Path,
    data: &ScenarioData,
    model: &GmmHmm,
    decoded: &[usize],
    fitted: &[usize],
) -> Result<Vec<String>, CliError> {
    let x: Vec<f64> = (0..data.x.nrows()).map(|i| data.x[(i, 0)]).collect();
    let (xmin, xmax) = x.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
        (a.min(v), b.max(v))
    });
    let pad = 0.05 * (xmax - xmin);
    let n = x.len() as f64;
    let curves: Vec<Curve> = (0..s1::N_STATES)
        .map(|j| {
            let share = decoded.iter().filter(|&&s| s == j).count() as f64 / n;
            let (w, m, v) = mixture_1d(&model.emission().mixtures()[j]);
            figures::curve(xmin - pad, xmax + pad, 300, |t| {
                share
                    * (0..w.len())
                        .map(|c| w[c] * figures::normal_pdf(t, m[c], v[c]))
                        .sum::<f64>()
            })
        })
        .collect();
    let total: Curve = (
        curves[0].0.clone(),
        (0..curves[0].0.len())
            .map(|i| curves.iter().map(|c| c.1[i]).sum())
            .collect(),
    );
    let svg = figures::histogram_by_state(
        "Scenario 1: data per decoded hidden state, with the fitted densities",
        &x,
        decoded,
        &curves,
        &total,
    );
    let mut written = vec![write_plot(dir, "scenario1_histogram.svg", &svg)?];
    // The true states are relabelled into the fitted labels for the colours to agree.
    let truth_in_fitted: Vec<usize> = data.states.iter().map(|&t| fitted[t]).collect();
    let svg = figures::series_by_state(&x, decoded, Some(&truth_in_fitted), s1::N_STATES);
    written.push(write_plot(dir, "scenario1_series.svg", &svg)?);
    Ok(written)
}
