//! `emfit sample`: draws streamed to the output files as they are made, one
//! sequence (or [`CHUNK`] points of a mixture) at a time, so that memory
//! holds one chunk whatever `-n` and `--sequences` are; a chunk's memory is
//! checked against the program's limit before it is drawn.
//!
//! Every output is written atomically (a temporary file renamed at the end);
//! CSV gets its header before the first chunk, `.npy` its header with the
//! total shape, and `--json` without `--out` streams the rows into the JSON
//! object on standard output.

use std::io::Write;
use std::path::Path;

use em_driver::io;
use em_driver::model_file::AnyModel;
use em_driver::rand::SeedableRng;
use em_driver::rand::rngs::StdRng;
use em_driver::statespace::LinearGaussianSsm;

use crate::apply::{Table, applied, load_model};
use crate::args::{self, SampleArgs};
use crate::error::{CliError, model as model_error, usage};
use crate::family::lgssm::sample_time_varying;
use crate::files::check_outputs;
use crate::json;
use crate::limits::{MAX_WRITTEN_VALUES, NOTE_BYTES, check_memory, f64_bytes, human_bytes};
use crate::time_varying::{TimeVaryingFiles, in_sequence};

/// `--transition-matrices` ... of an lgssm: the model and its matrix files
/// for the `sequences` x `n` steps drawn, or `None` when none is given.
fn time_varying<'m>(
    args: &SampleArgs,
    file: &'m AnyModel,
    n: usize,
    sequences: usize,
) -> Result<Option<(&'m LinearGaussianSsm, TimeVaryingFiles)>, CliError> {
    if !args.matrices.any() {
        return Ok(None);
    }
    let AnyModel::Lgssm(m) = file else {
        return Err(usage!(
            "time-varying matrices apply to lgssm models, not to a {} model",
            file.kind()
        ));
    };
    let steps = format!("-n {n} x --sequences {sequences}");
    let files = TimeVaryingFiles::read(&args.matrices, &vec![n; sequences], &steps)?;
    Ok(Some((m, files)))
}

/// Points of a mixture drawn at a time.
pub const CHUNK: usize = 65_536;

/// Runs `emfit sample`.
pub fn sample(args: &SampleArgs, as_json: bool) -> Result<(), CliError> {
    check_outputs(
        &[
            ("--out", args.out.as_deref()),
            ("--hidden-out", args.hidden_out.as_deref()),
            ("--lengths-out", args.lengths_out.as_deref()),
        ],
        &[
            [("--model", Some(args.model.model.as_path()))].as_slice(),
            &args.matrices.files(),
        ]
        .concat(),
    )?;
    let file = load_model(&args.model.model)?;
    let model = applied(&file, "sample")?;
    let mixture = file.kind().is_mixture();
    let (n, sequences) = (
        args::positive("-n", args.n)?,
        args::positive("--sequences", args.sequences)?,
    );
    let varying = time_varying(args, &file, n, sequences)?;
    if mixture && (sequences != 1 || args.lengths_out.is_some()) {
        return Err(usage!(
            "a {} draws independent points: --sequences and --lengths-out do not apply",
            file.kind()
        ));
    }
    let (x_width, hidden_width) = model.sample_widths();
    // A chunk: the sampler's matrices and the program's copy of them.
    let chunk = if mixture { n.min(CHUNK) } else { n };
    let what = if mixture {
        format!("-n {n} (drawn {chunk} points at a time)")
    } else {
        format!("one sequence of -n {n} steps")
    };
    check_memory(
        &format!("{what} x {} values per step", x_width + hidden_width),
        f64_bytes(&[chunk, x_width + hidden_width, 2]),
    )?;
    let values = f64_bytes(&[n, sequences, x_width + hidden_width]) / 8;
    if values > MAX_WRITTEN_VALUES {
        return Err(usage!(
            "-n {n} x --sequences {sequences} would write {values} values (about {} as .npy), more than the {MAX_WRITTEN_VALUES} a sample may write",
            human_bytes(values.saturating_mul(8))
        ));
    }
    let bytes = values.saturating_mul(8);
    if bytes > NOTE_BYTES {
        eprintln!(
            "emfit: note: -n {n} x --sequences {sequences} writes {values} values (about {} as .npy, more as CSV)",
            human_bytes(bytes)
        );
    }
    // At most MAX_WRITTEN_VALUES, so the product fits.
    let rows = n * sequences;
    let chunks: Vec<usize> = if mixture {
        (0..n.div_ceil(CHUNK)).map(|c| CHUNK.min(n - c * CHUNK)).collect()
    } else {
        vec![n; sequences]
    };
    let views = varying.as_ref().map(|(_, files)| files.views());
    let mut rng = StdRng::seed_from_u64(args::seed("--seed", args.seed)?);
    // The first failure, said with the output it concerns: the writers of
    // the two files nest, so their own error would name the outer file.
    let mut failure = None;
    let json_rows = as_json && args.out.is_none();
    if json_rows {
        print!(
            "{{\"command\":\"sample\",\"model\":\"{}\",\"observations\":{rows},\"sequences\":{sequences},\"rows\":[",
            file.kind().name()
        );
    }
    let written = with_output(args.out.as_deref(), |x_out| {
        let hidden = with_output_or_sink(args.hidden_out.as_deref(), |hidden_out| {
            let mut xs = Stream::new(x_out, args.out.as_deref(), rows, json_rows);
            let mut hs = Stream::new(hidden_out, args.hidden_out.as_deref(), rows, false);
            for (s, &size) in chunks.iter().enumerate() {
                let drawn = match (&varying, &views) {
                    (Some((m, files)), Some(views)) => {
                        let lengths = &chunks;
                        let matrices = views.sequence(s, s * size, size);
                        sample_time_varying(m, size, &matrices, &mut rng, |e| {
                            let e = in_sequence(e, s);
                            files
                                .reword(&e, lengths)
                                .map_or_else(|| model_error(e), CliError::Reworded)
                        })
                    }
                    _ => model.sample(size, &mut rng),
                };
                let step = drawn.and_then(|(x, hidden)| {
                    xs.write(&x).map_err(|e| output_error(args.out.as_deref(), e))?;
                    hs.write(&hidden)
                        .map_err(|e| output_error(args.hidden_out.as_deref(), e))
                });
                if let Err(e) = step {
                    failure = Some(e);
                    return Err(std::io::Error::other("sampling stopped"));
                }
            }
            Ok(())
        });
        hidden.map_err(|e| {
            failure.get_or_insert(e);
            std::io::Error::other("sampling stopped")
        })
    });
    if let Some(e) = failure {
        return Err(e);
    }
    written?;
    if let Some(path) = &args.lengths_out {
        let lengths: String = (0..sequences).map(|_| format!("{n}\n")).collect();
        io::write_atomically(path, |w| w.write_all(lengths.as_bytes()))?;
    }
    if json_rows {
        println!("]}}");
    } else if as_json {
        json::print(&summary(&file, args, rows, sequences))?;
    }
    Ok(())
}

/// The JSON object of a sample written to files.
fn summary(file: &AnyModel, args: &SampleArgs, rows: usize, sequences: usize) -> json::Value {
    let path = |p: &Option<std::path::PathBuf>| p.as_ref().map(|p| p.display().to_string());
    json::json!({
        "command": "sample",
        "model": file.kind().name(),
        "observations": rows,
        "sequences": sequences,
        "out": path(&args.out),
        "hidden_out": path(&args.hidden_out),
        "lengths_out": path(&args.lengths_out),
    })
}

/// Runs `write` on the file `path` (atomically) or on standard output.
fn with_output<F>(path: Option<&Path>, write: F) -> Result<(), CliError>
where
    F: FnOnce(&mut dyn Write) -> std::io::Result<()>,
{
    match path {
        Some(path) => Ok(io::write_atomically(path, |w| write(w))?),
        None => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            write(&mut out)?;
            Ok(out.flush()?)
        }
    }
}

/// An error of writing the output `path` (standard output without one).
fn output_error(path: Option<&Path>, source: std::io::Error) -> CliError {
    match path {
        Some(path) => io::DataError::Io {
            path: path.to_path_buf(),
            source,
        }
        .into(),
        None => CliError::Output(source),
    }
}

/// Runs `write` on the file `path` (atomically), or on a sink without one.
fn with_output_or_sink<F>(path: Option<&Path>, write: F) -> Result<(), CliError>
where
    F: FnOnce(&mut dyn Write) -> std::io::Result<()>,
{
    match path {
        Some(path) => Ok(io::write_atomically(path, |w| write(w))?),
        None => write(&mut std::io::sink()).map_err(CliError::Output),
    }
}

/// How a stream writes its chunks.
#[derive(Clone, Copy, PartialEq)]
enum Format {
    Csv,
    Npy,
    /// Rows as JSON arrays, comma-separated (inside the object of `--json`).
    JsonRows,
}

/// One output of `emfit sample`, written chunk by chunk.
struct Stream<'w> {
    w: &'w mut dyn Write,
    format: Format,
    /// Rows of the whole output (the `.npy` header's shape).
    rows: usize,
    /// Rows written so far.
    written: usize,
}

impl<'w> Stream<'w> {
    fn new(w: &'w mut dyn Write, path: Option<&Path>, rows: usize, json_rows: bool) -> Self {
        let format = match path {
            _ if json_rows => Format::JsonRows,
            Some(p) if io::is_npy(p) => Format::Npy,
            _ => Format::Csv,
        };
        Self {
            w,
            format,
            rows,
            written: 0,
        }
    }

    fn write(&mut self, table: &Table) -> std::io::Result<()> {
        let x = table.values.as_ref();
        let first = self.written == 0;
        match self.format {
            Format::Csv => io::write_csv(&mut *self.w, x, first.then_some(&table.header[..]))?,
            Format::Npy => {
                if first {
                    io::write_npy_f64_header(&mut *self.w, &[self.rows, x.ncols()])?;
                }
                let mut bytes = Vec::with_capacity(8 * x.ncols());
                for i in 0..x.nrows() {
                    bytes.clear();
                    for j in 0..x.ncols() {
                        bytes.extend_from_slice(&x[(i, j)].to_le_bytes());
                    }
                    self.w.write_all(&bytes)?;
                }
            }
            Format::JsonRows => {
                for i in 0..x.nrows() {
                    if self.written + i > 0 {
                        self.w.write_all(b",")?;
                    }
                    serde_json::to_writer(&mut *self.w, &json::row(table, i))?;
                }
            }
        }
        self.written += x.nrows();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use em_driver::faer::Mat;

    use super::*;

    /// A streamed `.npy` reads back as the matrix written whole.
    #[test]
    fn streamed_npy_reads_back() {
        let dir = std::env::temp_dir().join(format!("emfit-stream-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.npy");
        let whole = Mat::from_fn(5, 2, |i, j| (i * 2 + j) as f64 + 0.25);
        with_output(Some(&path), |w| {
            let mut s = Stream::new(w, Some(&path), 5, false);
            s.write(&Table::numbered(whole.subrows(0, 3).to_owned(), "x"))?;
            s.write(&Table::numbered(whole.subrows(3, 2).to_owned(), "x"))
        })
        .unwrap();
        let back = io::read_npy(&path, false).unwrap();
        assert_eq!(back, whole);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
