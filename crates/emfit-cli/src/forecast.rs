//! `emfit forecast`: k-step-ahead forecasts of an lgssm's observations.
//!
//! The data (the last sequence, with `--lengths`) are filtered, then from
//! the filtered state at the origin `o` (its last step by default) the
//! forecast of step `o + j`, `j = 1..K`, is
//!
//! ```text
//! m_{o+j} = A m_{o+j-1} + B u_{o+j} + b,  P_{o+j} = A P_{o+j-1} Aᵀ + Q
//! ŷ_{o+j} = H m_{o+j} + D u_{o+j} + d,    S_{o+j} = H P_{o+j} Hᵀ + R
//! ```
//!
//! (the inputs of the forecast steps from `--future-inputs`). With
//! time-varying matrices the data are filtered with them and the forecast
//! starts at the last step, with the model's matrices past it. The table
//! has one row per forecast step: the step (counted from 1 in the
//! sequence), the means `ŷ` and the standard deviations `√diag S`; with
//! `--plots` an SVG shows the data (up to four horizons before the origin,
//! and any after it) and the forecast with 95% prediction bands
//! `ŷ ± 1.96 sd`.

use em_driver::faer::Mat;
use em_driver::model_file::AnyModel;
use em_driver::statespace::{Forecast, LinearGaussianSsm};

use crate::apply::{Table, data_for, inputs, load_model};
use crate::args::{ForecastArgs, positive};
use crate::error::{CliError, model, usage};
use crate::family::lgssm::sequences;
use crate::files::{check_outputs, create_plots_dir, write_plot};
use crate::input::{Loaded, read_inputs};
use crate::json;
use crate::limits::{check_memory, f64_bytes};
use crate::messages::on_data;
use emfit_cli::plot::{Figure, GREY, color, grid};

/// The largest number of panels of the plot (one per observed column).
const MAX_PANELS: usize = 6;

/// The plot shows the data of this many horizons before the origin.
const SHOWN_HORIZONS: usize = 4;

/// The 97.5% quantile of the standard normal: `ŷ ± 1.96 sd` holds 95%.
const Z_95: f64 = 1.959_963_984_540_054;

/// Runs `emfit forecast`.
pub fn run(args: &ForecastArgs, as_json: bool) -> Result<(), CliError> {
    let mut read = inputs(&args.model.model, &args.data);
    read.push(("--future-inputs", args.future_inputs.as_deref()));
    check_outputs(&[("--out", args.out.as_deref())], &read)?;
    let horizon = positive("--horizon", args.horizon)?;
    let file = load_model(&args.model.model)?;
    let AnyModel::Lgssm(m) = &file else {
        return Err(usage!(
            "forecast applies to lgssm models, not to a {} model",
            file.kind()
        ));
    };
    let (n, p) = (m.state_dim(), m.obs_dim());
    check_memory(
        &format!("--horizon {horizon} for a state dimension of {n}"),
        f64_bytes(&[horizon, n * n + p * p + n + p, 2]),
    )?;
    let data = data_for(file.kind(), m, &args.data)?;
    let future = future_inputs(args, m, horizon)?;
    let steps = data.time_varying.views();
    let all = sequences(&data, &steps)?;
    let last = *all.last().expect("the lengths add up to a non-empty data set");
    let steps = last.observations().nrows();
    let origin = match args.origin {
        None => steps - 1,
        Some(o) => match usize::try_from(o) {
            Ok(o) if (1..=steps).contains(&o) => o - 1,
            _ => {
                return Err(usage!(
                    "--origin must be a step of the (last) sequence, from 1 to {steps}, got {o}"
                ));
            }
        },
    };
    if args.data.matrices.any() && origin + 1 != steps {
        return Err(usage!(
            "--origin {}: with time-varying matrices a forecast starts at the last step ({steps}), past which the model's matrices are used (the steps after an earlier origin have matrices of their own)",
            origin + 1
        ));
    }
    let filtered = m.filter_sequence(last).map_err(|e| on_data(&data, e.into()))?;
    let forecast = m
        .forecast(&filtered, origin, horizon, future.as_ref().map(Mat::as_ref))
        .map_err(model)?;
    let table = table(&forecast);
    let mut written = None;
    if let Some(dir) = &args.plots {
        create_plots_dir(dir)?;
        let first_row = data.x().nrows() - steps;
        let svg = plot(&data, first_row, &forecast);
        written = Some(write_plot(dir, "forecast.svg", &svg)?);
    }
    if as_json {
        let object = json::json!({
            "command": "forecast",
            "model": file.kind().name(),
            "origin": origin + 1,
            "horizon": horizon,
            "plot": written,
        });
        return table.print_json(args.out.as_deref(), "forecast", object);
    }
    table.emit(args.out.as_deref())?;
    if let Some(path) = written {
        eprintln!("emfit: plot written to {path}");
    }
    Ok(())
}

/// `--future-inputs`: required (K rows of the model's m inputs) for a model
/// with inputs, refused without.
fn future_inputs(
    args: &ForecastArgs,
    m: &LinearGaussianSsm,
    horizon: usize,
) -> Result<Option<Mat<f64>>, CliError> {
    let what = format!("--horizon {horizon}");
    match (&args.future_inputs, m.input_dim()) {
        (None, 0) => Ok(None),
        (Some(_), 0) => Err(usage!("--future-inputs was given, but the model has no inputs")),
        (None, k) => Err(usage!(
            "the model has {k} inputs: give those of the {horizon} forecast steps with --future-inputs FILE"
        )),
        (Some(path), k) => {
            let u = read_inputs("--future-inputs", path, &args.data, horizon, &what)?;
            if u.ncols() != k {
                return Err(usage!(
                    "--future-inputs {} has {} columns, but the model has {k} inputs",
                    path.display(),
                    u.ncols()
                ));
            }
            Ok(Some(u))
        }
    }
}

/// The step (from 1), the means and the standard deviations of every
/// forecast step.
fn table(forecast: &Forecast) -> Table {
    let means = forecast.observation_means();
    let variances = forecast.observation_variances();
    let p = means.ncols();
    let values = Mat::from_fn(forecast.horizon(), 1 + 2 * p, |j, c| match c {
        0 => (forecast.origin() + j + 2) as f64,
        c if c <= p => means[(j, c - 1)],
        c => variances[(j, c - 1 - p)].max(0.0).sqrt(),
    });
    let mut header = vec!["step".to_string()];
    header.extend((0..p).map(|i| format!("mean{i}")));
    header.extend((0..p).map(|i| format!("sd{i}")));
    Table {
        values,
        header,
        labels: false,
    }
}

/// One panel per observed column (up to [`MAX_PANELS`]): the observations of
/// the forecast sequence (its rows start at `first_row` of the data) from
/// [`SHOWN_HORIZONS`] horizons before the origin on, the forecast means and
/// their 95% prediction bands.
fn plot(data: &Loaded, first_row: usize, forecast: &Forecast) -> String {
    let y = data.x().subrows(first_row, data.x().nrows() - first_row);
    let shown = (forecast.origin() + 1).saturating_sub(SHOWN_HORIZONS * forecast.horizon());
    let y = y.subrows(shown, y.nrows() - shown);
    let steps: Vec<f64> = (shown + 1..=shown + y.nrows()).map(|k| k as f64).collect();
    let ahead: Vec<f64> = (0..forecast.horizon())
        .map(|j| (forecast.origin() + j + 2) as f64)
        .collect();
    let means = forecast.observation_means();
    let variances = forecast.observation_variances();
    let figures: Vec<Figure> = (0..y.ncols().min(MAX_PANELS))
        .map(|i| {
            let observed: Vec<f64> = (0..y.nrows()).map(|k| y[(k, i)]).collect();
            let mean: Vec<f64> = (0..ahead.len()).map(|j| means[(j, i)]).collect();
            let half = |j: usize| Z_95 * variances[(j, i)].max(0.0).sqrt();
            let lo: Vec<f64> = (0..ahead.len()).map(|j| mean[j] - half(j)).collect();
            let hi: Vec<f64> = (0..ahead.len()).map(|j| mean[j] + half(j)).collect();
            let mut f =
                Figure::new(&format!("column {i}: {}-step forecast", ahead.len())).labels("step", "value");
            f.line(&steps, &observed, GREY, Some("data"))
                .band(&ahead, &lo, &hi, color(0), Some("95% band"))
                .line(&ahead, &mean, color(0), Some("forecast"));
            f
        })
        .collect();
    grid(&figures, figures.len().min(2))
}
