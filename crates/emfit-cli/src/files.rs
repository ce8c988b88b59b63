//! Output files that must not collide: two outputs of one command naming the
//! same file, or an output naming one of the command's inputs (which writing
//! would destroy before, or while, it is read).
//!
//! Two paths name the same file when they are equal once resolved: the
//! canonical path of a file that exists (so `./d.csv`, `sub/../d.csv` and a
//! symbolic link to it are all `d.csv`), or for a file not yet written the
//! canonical path of its folder joined with its name.
//!
//! Also the folder of `--plots` and the SVG files written into it.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{CliError, usage};

/// `path` resolved as far as the file system allows (see the module docs).
fn resolved(path: &Path) -> PathBuf {
    if let Ok(canonical) = path.canonicalize() {
        return canonical;
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match (parent.canonicalize(), path.file_name()) {
        (Ok(folder), Some(name)) => folder.join(name),
        _ => path.to_path_buf(),
    }
}

/// The given paths of a list of (flag, path), with their resolved forms.
fn resolve_all<'a>(list: &[(&'a str, Option<&'a Path>)]) -> Vec<(&'a str, &'a Path, PathBuf)> {
    list.iter()
        .filter_map(|&(flag, path)| path.map(|p| (flag, p, resolved(p))))
        .collect()
}

/// Refuses two `outputs` (flag, path) naming the same file, and an output
/// naming one of the `inputs` (flag, path).
pub fn check_outputs(
    outputs: &[(&str, Option<&Path>)],
    inputs: &[(&str, Option<&Path>)],
) -> Result<(), CliError> {
    let outputs = resolve_all(outputs);
    let inputs = resolve_all(inputs);
    for (i, (flag, path, real)) in outputs.iter().enumerate() {
        if let Some((other, other_path, _)) = outputs[..i].iter().find(|(_, _, r)| r == real) {
            return Err(usage!(
                "{other} {} and {flag} {} name the same file: give each output its own file",
                other_path.display(),
                path.display()
            ));
        }
        if let Some((input, input_path, _)) = inputs.iter().find(|(_, _, r)| r == real) {
            return Err(usage!(
                "{flag} {} is the {input} file {}: writing it would destroy the input; choose another output file",
                path.display(),
                input_path.display()
            ));
        }
    }
    Ok(())
}

/// Creates the folder of `--plots` (and its parents) unless it exists;
/// refuses a file of that name.
pub fn create_plots_dir(dir: &Path) -> Result<(), CliError> {
    if dir.exists() && !dir.is_dir() {
        return Err(usage!(
            "--plots {}: this is a file, not a folder; give a folder for the SVG plots (created if missing)",
            dir.display()
        ));
    }
    std::fs::create_dir_all(dir).map_err(|source| em_driver::io::DataError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    Ok(())
}

/// Writes one SVG file into the plots folder (atomically); returns its path
/// for the summary.
pub fn write_plot(dir: &Path, name: &str, svg: &str) -> Result<String, CliError> {
    let path = dir.join(name);
    em_driver::io::write_atomically(&path, |w| w.write_all(svg.as_bytes()))?;
    Ok(path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_file_under_another_spelling_is_found() {
        let dir = std::env::temp_dir().join(format!("emfit-files-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        let data = dir.join("d.csv");
        std::fs::write(&data, "1\n").unwrap();
        let other = dir.join("sub").join("..").join("d.csv");
        let message = check_outputs(&[("--out", Some(&other))], &[("--data", Some(&data))])
            .unwrap_err()
            .to_string();
        assert!(message.contains("is the --data file"), "{message}");
        let fresh = dir.join("new.csv");
        let again = dir.join("sub").join("..").join("new.csv");
        let message = check_outputs(&[("--out", Some(&fresh)), ("--hidden-out", Some(&again))], &[])
            .unwrap_err()
            .to_string();
        assert!(message.contains("name the same file"), "{message}");
        assert!(
            check_outputs(
                &[("--out", Some(&fresh)), ("--hidden-out", None)],
                &[("--data", Some(&data))]
            )
            .is_ok()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
