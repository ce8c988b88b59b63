//! Python virtual environments under `target/`, each with the pinned
//! packages of one requirements file: the peers of `compare` and
//! `converge`, and the test environment of `test`; and the emfit package
//! built into one of them (`test`, and `compare` for its Python section).

use std::path::{Path, PathBuf};

/// The Python of the virtual environment `venv` (a folder), created with the
/// packages of `requirements` unless it already has exactly them (a stamp
/// file keeps the requirements it was made with).
pub fn ensure(venv: &Path, requirements: &Path) -> Result<PathBuf, String> {
    let python = venv.join("bin/python");
    let stamp = venv.join("requirements.installed");
    let wanted =
        std::fs::read_to_string(requirements).map_err(|e| format!("{}: {e}", requirements.display()))?;
    if python.exists() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        return Ok(python);
    }
    crate::run_command("python3", &["-m", "venv", &venv.to_string_lossy()], &[])?;
    crate::run_command(
        &python.to_string_lossy(),
        &[
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "-r",
            &requirements.to_string_lossy(),
        ],
        &[],
    )?;
    std::fs::write(&stamp, wanted).map_err(|e| format!("{}: {e}", stamp.display()))?;
    Ok(python)
}

/// Builds the extension `emfit._emfit` in release mode and installs the
/// package `emfit` into the virtual environment `venv` (`maturin develop`,
/// which the environment's requirements must provide).
pub fn develop_emfit(venv: &Path) -> Result<(), String> {
    crate::run_command(
        &venv.join("bin/python").to_string_lossy(),
        &[
            "-m",
            "maturin",
            "develop",
            "--release",
            "--quiet",
            "-m",
            "crates/emfit-py/Cargo.toml",
        ],
        &[("VIRTUAL_ENV", &venv.to_string_lossy())],
    )
}
