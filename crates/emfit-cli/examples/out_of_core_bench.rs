//! The benchmark of out-of-core EM (`emfit fit gmm --chunk-rows N`): a GMM
//! fitted to a `.npy` file of about 2 GB (30M rows × 8) streamed a chunk at
//! a time, its peak memory and time per iteration next to the in-memory fit
//! of a file of 1M rows of the same mixture.
//!
//! ```text
//! cargo build --release -p emfit-cli --bin emfit --example out_of_core_bench
//! target/release/examples/out_of_core_bench [--rows N] [--chunk-rows N] [--iterations N] [--dir DIR]
//! ```
//!
//! The data are drawn from a mixture of 8 Gaussians in 8-D (seeded), written
//! a million rows at a time (the writer holds one million rows), to a
//! temporary folder in `--dir` (default: the system's temp folder), removed
//! at the end. Both fits run the `emfit` program next to this example
//! (`target/release/emfit`) for `--iterations` plain EM iterations
//! (default 5) from the same `--init` model. The peak memory of a fit is
//! the program's `VmHWM` (its resident high-water mark, read from
//! `/proc/PID/status` every 20 ms while it runs); the time per iteration
//! is the report's elapsed time over its E-steps, per million rows too.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use em_driver::faer::Mat;
use em_driver::io::write_npy_f64_header;
use em_driver::mixture::{Covariances, GaussianMixture};
use em_driver::rand::SeedableRng;
use em_driver::rand::rngs::StdRng;
use em_driver::{ModelFile, em_core::sample::mix};

/// Columns and components of the mixture.
const D: usize = 8;
const K: usize = 8;
/// Rows drawn and written at a time.
const BLOCK: usize = 1_000_000;
/// Rows of the in-memory fit's file.
const SMALL: usize = 1_000_000;

struct Args {
    rows: usize,
    chunk_rows: usize,
    iterations: usize,
    dir: PathBuf,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        rows: 30_000_000,
        chunk_rows: 1_000_000,
        iterations: 5,
        dir: std::env::temp_dir(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || value.parse::<usize>().map_err(|e| format!("{flag} {value}: {e}"));
        match flag.as_str() {
            "--rows" => args.rows = number()?,
            "--chunk-rows" => args.chunk_rows = number()?,
            "--iterations" => args.iterations = number()?,
            "--dir" => args.dir = PathBuf::from(value),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(args)
}

/// The mixture the data are drawn from: component `k`'s mean `4·e_k`
/// (shifted by `k/2` in every coordinate), unit covariances correlated
/// by 0.3 between neighbouring coordinates.
fn truth() -> GaussianMixture {
    let means = Mat::from_fn(K, D, |k, j| 4.0 * f64::from(u8::from(j == k)) + k as f64 / 2.0);
    let cov = Mat::from_fn(D, D, |i, j| match i.abs_diff(j) {
        0 => 1.0,
        1 => 0.3,
        _ => 0.0,
    });
    GaussianMixture::new(vec![1.0 / K as f64; K], means, Covariances::Full(vec![cov; K]))
        .expect("a valid mixture")
}

/// Writes `rows` rows drawn from `model` to `path`, a block at a time
/// (block `b` from a generator seeded by `b`).
fn write_rows(path: &Path, model: &GaussianMixture, rows: usize) -> std::io::Result<()> {
    let mut w = BufWriter::new(std::fs::File::create(path)?);
    write_npy_f64_header(&mut w, &[rows, D])?;
    let mut bytes = Vec::with_capacity(BLOCK * D * 8);
    for (b, start) in (0..rows).step_by(BLOCK).enumerate() {
        let n = BLOCK.min(rows - start);
        let (x, _) = model.sample(n, &mut StdRng::seed_from_u64(mix(b as u64)));
        bytes.clear();
        for i in 0..n {
            for j in 0..D {
                bytes.extend_from_slice(&x[(i, j)].to_le_bytes());
            }
        }
        w.write_all(&bytes)?;
    }
    w.flush()
}

/// What one fit took.
struct Measure {
    peak_mib: f64,
    seconds_per_iteration: f64,
    log_likelihood: f64,
}

/// The resident high-water mark of process `pid`, in KiB.
fn vm_hwm(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs `emfit args... --json`, polling its peak memory.
fn run_emfit(emfit: &Path, args: &[&str]) -> Result<Measure, String> {
    let mut child = Command::new(emfit)
        .args(args)
        .arg("--json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", emfit.display()))?;
    let mut peak = 0;
    while child.try_wait().map_err(|e| e.to_string())?.is_none() {
        peak = vm_hwm(child.id()).unwrap_or(0).max(peak);
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value =
        serde_json::from_str(text.lines().last().unwrap_or("")).map_err(|e| format!("{e}: {text}"))?;
    let number = |key: &str| {
        report[key]
            .as_f64()
            .ok_or_else(|| format!("no {key} in {report}"))
    };
    Ok(Measure {
        peak_mib: peak as f64 / 1024.0,
        seconds_per_iteration: number("elapsed_seconds")? / number("e_steps")?,
        log_likelihood: number("log_likelihood")?,
    })
}

/// A folder removed with what it holds when dropped.
struct Folder(PathBuf);

impl Folder {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(args: &Args) -> Result<(), String> {
    let emfit = std::env::current_exe()
        .map_err(|e| e.to_string())?
        .parent()
        .and_then(Path::parent)
        .map(|release| release.join("emfit"))
        .filter(|p| p.exists())
        .ok_or("build the program first: cargo build --release -p emfit-cli --bin emfit")?;
    let dir = Folder(args.dir.join(format!("emfit-out-of-core-{}", std::process::id())));
    std::fs::create_dir_all(dir.path()).map_err(|e| e.to_string())?;
    let (big, small, init) = (
        dir.path().join("big.npy"),
        dir.path().join("small.npy"),
        dir.path().join("init.json"),
    );
    let io = |e: std::io::Error| e.to_string();
    let model = truth();
    let t = std::time::Instant::now();
    write_rows(&big, &model, args.rows).map_err(io)?;
    write_rows(&small, &model, SMALL).map_err(io)?;
    let bytes = std::fs::metadata(&big).map_err(io)?.len();
    println!(
        "wrote {} rows x {D} ({:.2} GB) and {SMALL} rows in {:.1} s",
        args.rows,
        bytes as f64 / 1e9,
        t.elapsed().as_secs_f64()
    );
    // The start: the truth with its means moved, which EM moves back.
    let start = GaussianMixture::new(
        model.weights().to_vec(),
        Mat::from_fn(K, D, |k, j| model.means()[(k, j)] + 0.5),
        model.covariances().clone(),
    )
    .map_err(|e| e.to_string())?;
    start.save(&init).map_err(|e| e.to_string())?;
    let iterations = args.iterations.to_string();
    let fit = |data: &Path, chunk: Option<&str>| {
        let data = data.to_str().expect("a UTF-8 temp path");
        let init = init.to_str().expect("a UTF-8 temp path");
        let mut argv = vec![
            "fit",
            "gmm",
            "--data",
            data,
            "--init",
            init,
            "--acceleration",
            "none",
            "--stop",
            "iterations",
            "--max-iter",
            &iterations,
            "--quiet",
        ];
        argv.extend(chunk.map(|c| ["--chunk-rows", c]).into_iter().flatten());
        run_emfit(&emfit, &argv)
    };
    let chunk = args.chunk_rows.to_string();
    let streamed = fit(&big, Some(&chunk))?;
    let memory = fit(&small, None)?;
    let per_million = |m: &Measure, rows: usize| m.seconds_per_iteration * 1e6 / rows as f64;
    println!("| fit | rows | peak memory (MiB) | seconds per iteration | per million rows |");
    println!("|---|---|---|---|---|");
    for (name, m, rows) in [
        (format!("streamed, --chunk-rows {chunk}"), &streamed, args.rows),
        ("in memory".to_string(), &memory, SMALL),
    ] {
        println!(
            "| {name} | {rows} | {:.0} | {:.3} | {:.3} |",
            m.peak_mib,
            m.seconds_per_iteration,
            per_million(m, rows)
        );
    }
    println!(
        "time per million rows, streamed / in memory: {:.2}; log-likelihood per row: {:.6} (streamed), {:.6} (in memory)",
        per_million(&streamed, args.rows) / per_million(&memory, SMALL),
        streamed.log_likelihood / args.rows as f64,
        memory.log_likelihood / SMALL as f64
    );
    Ok(())
}

fn main() -> ExitCode {
    match parse().and_then(|args| run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("out_of_core_bench: {e}");
            ExitCode::FAILURE
        }
    }
}
