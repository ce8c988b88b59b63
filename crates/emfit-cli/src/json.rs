//! `--json`: one JSON object on standard output per command, every number in
//! the shortest decimal form that reads back to the same `f64` (serde_json
//! with `float_roundtrip`), so nothing is lost to rounding.

use std::io::Write;

pub use serde_json::{Value, json};

use crate::apply::Table;
use crate::error::CliError;

/// Prints `value` on one line of standard output.
pub fn print(value: &Value) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, value).map_err(std::io::Error::from)?;
    writeln!(out)?;
    Ok(())
}

/// One row of a table as a JSON array (labels as integers).
pub fn row(table: &Table, i: usize) -> Value {
    let v = table.values.as_ref();
    Value::Array(
        (0..v.ncols())
            .map(|j| {
                if table.labels {
                    json!(v[(i, j)] as u64)
                } else {
                    json!(v[(i, j)])
                }
            })
            .collect(),
    )
}

/// A table as `{"columns": [...], "rows": [[...], ...]}`.
pub fn table(table: &Table) -> Value {
    let rows: Vec<Value> = (0..table.values.nrows()).map(|i| row(table, i)).collect();
    json!({ "columns": table.header, "rows": rows })
}
