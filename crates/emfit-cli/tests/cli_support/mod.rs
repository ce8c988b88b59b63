//! Shared helpers of the `emfit` end-to-end tests: run the binary, temp folders,
//! SVG checks ([`svg::check_svg`], shared with the unit tests of the plot
//! module).

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub mod svg;

/// The result of one run of the binary.
pub struct Run {
    /// Exit code (None if killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// Asserts success and returns standard output.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(
            self.code,
            Some(0),
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        &self.stdout
    }

    /// Asserts a failure with exit code 1 and exactly one line on stderr that
    /// contains every needle; returns that line.
    #[track_caller]
    pub fn fails_with(&self, needles: &[&str]) -> &str {
        assert_eq!(
            self.code,
            Some(1),
            "expected exit code 1\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        let line = self.stderr.trim_end();
        assert_eq!(
            line.lines().count(),
            1,
            "expected one line on stderr, got:\n{}",
            self.stderr
        );
        assert!(line.starts_with("emfit: "), "{line}");
        for needle in needles {
            assert!(
                line.contains(needle),
                "stderr {line:?} does not contain {needle:?}"
            );
        }
        assert!(!line.contains("panicked"), "{line}");
        line
    }
}

/// Runs `emfit` with arguments in `dir`.
pub fn emfit(dir: &Path, args: &[&str]) -> Run {
    emfit_with_env(dir, args, &[])
}

/// The command of [`emfit`].
fn command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_emfit"));
    command.args(args).current_dir(dir).env("RAYON_NUM_THREADS", "2");
    command
}

/// Runs the binary as [`emfit`] does, with extra environment variables.
pub fn emfit_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let out = command(dir, args)
        .envs(env.iter().copied())
        .output()
        .expect("the emfit binary runs");
    Run::of(out)
}

/// Runs the binary as [`emfit`] does, with `input` on its standard input.
pub fn emfit_with_stdin(dir: &Path, args: &[&str], input: &str) -> Run {
    let mut child = command(dir, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the emfit binary runs");
    let mut stdin = child.stdin.take().expect("piped");
    let input = input.to_string();
    // Written from a thread: the child answers line by line, and a full
    // output pipe would otherwise block both.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let out = child.wait_with_output().expect("the emfit binary runs");
    writer.join().expect("the writer thread");
    Run::of(out)
}

impl Run {
    fn of(out: Output) -> Self {
        Self {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// A fresh temporary folder, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// Creates `emfit-cli-<tag>-<pid>` in the system temp folder.
    pub fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("emfit-cli-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self(dir)
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes a file and returns its name (relative to the folder).
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> String {
        std::fs::write(self.0.join(name), contents).expect("write test file");
        name.to_string()
    }

    /// Reads a file of the folder.
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.0.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Parses CSV text written by emfit into rows of numbers.
pub fn parse_rows(text: &str) -> Vec<Vec<f64>> {
    text.lines()
        .filter(|l| {
            !l.trim().is_empty()
                && l.trim_start()
                    .starts_with(|c: char| c.is_ascii_digit() || c == '-')
        })
        .map(|l| {
            l.split(',')
                .map(|c| c.trim().parse::<f64>().expect("a number"))
                .collect()
        })
        .collect()
}

/// Three clusters in 3-D (rows in turn), apart enough that EM contracts:
/// the rounding differences of another summation order (data in parts, in
/// chunks) do not grow from iteration to iteration.
pub fn clusters(rows: usize) -> em_driver::faer::Mat<f64> {
    use em_driver::rand::rngs::StdRng;
    use em_driver::rand::{Rng, SeedableRng};
    let mut rng = StdRng::seed_from_u64(5);
    let mut normal = || {
        let (u, v): (f64, f64) = (rng.random(), rng.random());
        (-2.0 * (1.0 - u).ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    };
    em_driver::faer::Mat::from_fn(rows, 3, |i, j| {
        let centre = [0.0, 4.0, 8.0][i % 3];
        centre * (1.0 + j as f64 * 0.1) + normal()
    })
}

/// A deterministic pseudo-random stream (SplitMix64) with Box-Muller normals.
pub struct Stream(pub u64);

impl Stream {
    pub fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        ((z >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}
