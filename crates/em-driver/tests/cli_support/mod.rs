//! Shared helpers of the `emfit` end-to-end tests: run the binary, temp folders,
//! SVG checks.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
    let out: Output = Command::new(env!("CARGO_BIN_EXE_emfit"))
        .args(args)
        .current_dir(dir)
        .env("RAYON_NUM_THREADS", "2")
        .output()
        .expect("the emfit binary runs");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
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

/// Checks that an SVG document is well-formed (every tag closed in order,
/// quotes balanced, no non-finite number) and returns the element names.
pub fn check_svg(svg: &str) -> Vec<String> {
    assert!(svg.contains("<svg"), "not an SVG document");
    let mut stack: Vec<String> = Vec::new();
    let mut seen = Vec::new();
    let mut rest = svg;
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>').expect("unclosed '<'") + start;
        let tag = &rest[start + 1..end];
        rest = &rest[end + 1..];
        if tag.starts_with('?') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(
                stack.pop().as_deref(),
                Some(name.trim()),
                "mismatched closing tag"
            );
            continue;
        }
        assert_eq!(tag.matches('"').count() % 2, 0, "unbalanced quotes in <{tag}>");
        let name: String = tag.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        seen.push(name.clone());
        if !tag.ends_with('/') {
            stack.push(name);
        }
    }
    assert!(stack.is_empty(), "unclosed tags {stack:?}");
    assert!(
        !svg.contains("NaN") && !svg.contains("inf"),
        "non-finite number in the SVG"
    );
    seen
}
