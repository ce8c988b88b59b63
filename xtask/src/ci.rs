//! `cargo xtask ci`: everything CI checks, in the order that fails fastest.

use crate::run_command;

/// fmt check, clippy (warnings denied), tests, docs (warnings denied).
pub fn run() -> Result<(), String> {
    run_command("cargo", &["fmt", "--all", "--", "--check"], &[])?;
    run_command(
        "cargo",
        &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"],
        &[],
    )?;
    run_command("cargo", &["test", "--workspace"], &[])?;
    run_command(
        "cargo",
        &["doc", "--workspace", "--no-deps"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )
}
