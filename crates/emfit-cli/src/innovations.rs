//! `emfit innovations`: the one-step prediction errors of an lgssm on data,
//! for checking the model.
//!
//! For step k of a sequence, given the observations before it, the
//! innovation is `v_k = y_k − ŷ_{k|k-1}` with covariance
//! `S_k = H P_{k|k-1} Hᵀ + R`, and the standardised residual is
//! `z_k = L_k⁻¹ v_k` (`S_k = L_k L_kᵀ` over the step's observed
//! coordinates, in column order). The table has one row per row of the
//! data: the errors, their standard deviations `√diag S_k` and the
//! standardised residuals (NaN, `nan` in CSV and `null` in JSON, where a
//! value is missing).
//!
//! Under the model the `z_k` are independent standard normal vectors, so
//! the summary gives, per column of `z`, what a good fit keeps near its
//! ideal: the mean (0), the standard deviation (1), the lag-1
//! autocorrelation within sequences (0) and the share of values outside
//! ±1.96 (5%).

use std::io::Write;

use em_driver::faer::{Mat, MatRef};
use em_driver::model_file::AnyModel;

use crate::apply::{Table, data_for, inputs, load_model};
use crate::args::InnovationsArgs;
use crate::error::{CliError, usage};
use crate::family::lgssm::sequences;
use crate::files::check_outputs;
use crate::json;
use crate::limits::{check_memory, f64_bytes};
use crate::messages::on_data;

/// The 97.5% quantile of the standard normal.
const Z_95: f64 = 1.959_963_984_540_054;

/// Runs `emfit innovations`.
pub fn run(args: &InnovationsArgs, as_json: bool) -> Result<(), CliError> {
    check_outputs(
        &[("--out", args.out.as_deref())],
        &inputs(&args.model.model, &args.data),
    )?;
    let file = load_model(&args.model.model)?;
    let AnyModel::Lgssm(m) = &file else {
        return Err(usage!(
            "innovations applies to lgssm models, not to a {} model",
            file.kind()
        ));
    };
    let data = data_for(file.kind(), m, &args.data)?;
    let (rows, p) = (data.x().nrows(), m.obs_dim());
    // The table, and per step the innovation covariance the model returns.
    check_memory(
        &format!("the innovations of {rows} steps of {p} observations"),
        f64_bytes(&[rows, 3 * p + p * p]),
    )?;
    let steps = data.time_varying.views();
    let mut values = Mat::<f64>::zeros(rows, 3 * p);
    let mut first_row = 0;
    for sequence in sequences(&data, &steps)? {
        let t = sequence.observations().nrows();
        let found = m.innovations(sequence).map_err(|e| on_data(&data, e.into()))?;
        for k in 0..t {
            let s = found.covariance(k).expect("one covariance per step");
            for j in 0..p {
                let row = first_row + k;
                values[(row, j)] = found.errors()[(k, j)];
                values[(row, p + j)] = s[(j, j)].max(0.0).sqrt();
                values[(row, 2 * p + j)] = found.standardised()[(k, j)];
            }
        }
        first_row += t;
    }
    let mut header: Vec<String> = (0..p).map(|j| format!("error{j}")).collect();
    header.extend((0..p).map(|j| format!("sd{j}")));
    header.extend((0..p).map(|j| format!("z{j}")));
    let table = Table {
        values,
        header,
        labels: false,
    };
    let summary: Vec<Summary> = (0..p)
        .map(|j| Summary::of(table.values.as_ref().subcols(2 * p + j, 1), &data.lengths))
        .collect();
    if as_json {
        let columns: Vec<json::Value> = summary.iter().map(Summary::to_json).collect();
        let object = json::json!({
            "command": "innovations",
            "model": file.kind().name(),
            "sequences": data.lengths.len(),
            "standardised_residuals": columns,
        });
        return table.print_json(args.out.as_deref(), "innovations", object);
    }
    table.emit(args.out.as_deref())?;
    // On standard output only when the table went to a file.
    let mut text = String::from(
        "standardised residuals (ideal: mean 0, sd 1, lag-1 autocorrelation 0, 5% outside ±1.96):\n",
    );
    for (j, s) in summary.iter().enumerate() {
        text.push_str(&format!("  z{j}: {}\n", s.line()));
    }
    match &args.out {
        Some(path) => {
            let mut out = std::io::stdout().lock();
            writeln!(out, "innovations of {rows} steps written to {}", path.display())?;
            write!(out, "{text}")?;
        }
        None => eprint!("{text}"),
    }
    Ok(())
}

/// What a column of standardised residuals says about the fit.
struct Summary {
    /// Values present (the step's coordinate was observed).
    count: usize,
    mean: f64,
    /// Sample standard deviation (n − 1).
    sd: f64,
    /// `Σ (z_k − z̄)(z_{k-1} − z̄) / Σ (z_k − z̄)²` over consecutive steps of
    /// one sequence, both present.
    lag1: f64,
    /// Share of values with `|z| > 1.96`.
    outside: f64,
}

impl Summary {
    /// The summary of `z` (one value per row, NaN where missing), rows split
    /// into sequences by `lengths`.
    fn of(z: MatRef<'_, f64>, lengths: &[usize]) -> Self {
        let present: Vec<f64> = (0..z.nrows())
            .map(|k| z[(k, 0)])
            .filter(|v| v.is_finite())
            .collect();
        let count = present.len();
        let nan_unless = |ok: bool, v: f64| if ok { v } else { f64::NAN };
        let mean = nan_unless(count > 0, present.iter().sum::<f64>() / count as f64);
        let squares: f64 = present.iter().map(|v| (v - mean).powi(2)).sum();
        let sd = nan_unless(count > 1, (squares / (count as f64 - 1.0)).sqrt());
        let mut lagged = 0.0;
        let mut start = 0;
        for &t in lengths {
            for k in start + 1..start + t {
                let (a, b) = (z[(k, 0)], z[(k - 1, 0)]);
                if a.is_finite() && b.is_finite() {
                    lagged += (a - mean) * (b - mean);
                }
            }
            start += t;
        }
        let outside = present.iter().filter(|v| v.abs() > Z_95).count();
        Self {
            count,
            mean,
            sd,
            lag1: nan_unless(squares > 0.0, lagged / squares),
            outside: nan_unless(count > 0, outside as f64 / count as f64),
        }
    }

    fn line(&self) -> String {
        format!(
            "mean {:.3}, sd {:.3}, lag-1 autocorrelation {:.3}, {:.1}% outside ±1.96 ({} values)",
            self.mean,
            self.sd,
            self.lag1,
            100.0 * self.outside,
            self.count
        )
    }

    fn to_json(&self) -> json::Value {
        let finite = |v: f64| v.is_finite().then_some(v);
        json::json!({
            "values": self.count,
            "mean": finite(self.mean),
            "sd": finite(self.sd),
            "lag1_autocorrelation": finite(self.lag1),
            "outside_1_96": finite(self.outside),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The summary's statistics against their definitions on a small
    /// column with a missing value and two sequences (no lag across the
    /// boundary).
    #[test]
    fn summary_follows_its_definitions() {
        let z = Mat::from_fn(5, 1, |k, _| [1.0, -1.0, f64::NAN, 3.0, 2.0][k]);
        let s = Summary::of(z.as_ref(), &[3, 2]);
        let present = [1.0, -1.0, 3.0, 2.0];
        let mean = present.iter().sum::<f64>() / 4.0;
        let squares: f64 = present.iter().map(|v| (v - mean).powi(2)).sum();
        assert_eq!(s.count, 4);
        assert!((s.mean - mean).abs() < 1e-15);
        assert!((s.sd - (squares / 3.0).sqrt()).abs() < 1e-15);
        // Pairs (1, 0) in the first sequence and (4, 3) in the second; the
        // pairs touching the missing row 2 and the boundary (3, 2) are out.
        let lagged = (-1.0 - mean) * (1.0 - mean) + (2.0 - mean) * (3.0 - mean);
        assert!((s.lag1 - lagged / squares).abs() < 1e-15);
        assert!((s.outside - 0.5).abs() < 1e-15, "3 and 2 are outside ±1.96");
    }

    /// A column without values summarises to NaN (JSON null), not to a
    /// division by zero.
    #[test]
    fn an_empty_column_has_no_statistics() {
        let z = Mat::from_fn(2, 1, |_, _| f64::NAN);
        let s = Summary::of(z.as_ref(), &[2]);
        assert_eq!(s.count, 0);
        assert!(s.mean.is_nan() && s.sd.is_nan() && s.lag1.is_nan() && s.outside.is_nan());
        assert!(s.to_json()["mean"].is_null());
    }
}
