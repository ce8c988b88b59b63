//! Project automation for emfit, run as `cargo xtask <command>`.
//!
//! - `tidy`: checks the workspace conventions (crate layering, lint opt-in);
//! - `ci`: fmt check, clippy with warnings denied, tests, docs with warnings denied;
//! - `bench`: runs the criterion benches and prints a compact table;
//! - `compare`: times emfit against scikit-learn, hmmlearn and pykalman on the
//!   same workloads and rewrites the README's benchmark section;
//! - `scaling`: times one EM iteration over a range of sizes per model family
//!   and rewrites the README's scaling section and `docs/scaling.svg`.

mod bench;
mod ci;
mod compare;
mod scaling;
mod tidy;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <tidy | ci | bench [FILTER] | compare [FILTER] | scaling>";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("tidy") => tidy::run(),
        Some("ci") => ci::run(),
        Some("bench") => bench::run(args.get(1).map(String::as_str)),
        Some("compare") => compare::run(args.get(1).map(String::as_str)),
        Some("scaling") => scaling::run(),
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (the parent of this crate's folder).
fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// Runs a command in the workspace root, failing with its description.
fn run_command(program: &str, args: &[&str], envs: &[(&str, &str)]) -> Result<(), String> {
    eprintln!("$ {program} {}", args.join(" "));
    let status = std::process::Command::new(program)
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(workspace_root())
        .status()
        .map_err(|e| format!("could not start {program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{program} {}` failed ({status})", args.join(" ")))
    }
}

/// Replaces the text between `<!-- NAME:start -->` and `<!-- NAME:end -->` in
/// the workspace README (the generated sections).
fn replace_readme_section(name: &str, section: &str) -> Result<(), String> {
    let readme = workspace_root().join("README.md");
    let (start, end) = (format!("<!-- {name}:start -->"), format!("<!-- {name}:end -->"));
    let text = std::fs::read_to_string(&readme).map_err(|e| format!("{}: {e}", readme.display()))?;
    let (Some(a), Some(b)) = (text.find(&start), text.find(&end)) else {
        return Err(format!("{} has no {start} ... {end} markers", readme.display()));
    };
    let updated = format!("{}{start}\n{section}{}", &text[..a], &text[b..]);
    std::fs::write(&readme, updated).map_err(|e| format!("{}: {e}", readme.display()))
}
