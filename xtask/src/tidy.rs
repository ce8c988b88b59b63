//! `cargo xtask tidy`: workspace conventions, checked from `cargo metadata`.
//!
//! 1. Layering: the library crates form a strict stack, and each may depend
//!    (normal, build or dev) only on crates earlier in [`LAYERS`]. The bench
//!    crate may use any of them; nothing may depend on the bench crate or on
//!    xtask, and xtask depends on no workspace crate.
//! 2. Every member opts into the workspace lints (`[lints] workspace = true`).

use serde_json::Value;

/// The library crates, lowest layer first.
pub const LAYERS: [&str; 5] = ["linalg-kernels", "mixture", "hmm", "statespace", "em-driver"];

/// Members outside the stack: they may depend on the stack, never the reverse.
const TOOLS: [&str; 2] = ["emfit-benches", "xtask"];

/// Runs every tidy check on the real workspace.
pub fn run() -> Result<(), String> {
    let metadata = cargo_metadata()?;
    let mut problems = check_layering(&metadata)?;
    problems.extend(check_lint_opt_in(&metadata)?);
    if problems.is_empty() {
        eprintln!("tidy: ok");
        Ok(())
    } else {
        Err(format!("tidy found problems:\n  {}", problems.join("\n  ")))
    }
}

fn cargo_metadata() -> Result<Value, String> {
    let output = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(crate::workspace_root())
        .output()
        .map_err(|e| format!("could not run cargo metadata: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| format!("cargo metadata output: {e}"))
}

/// The position of a workspace crate in the stack (tools come after it).
fn rank(name: &str) -> Option<usize> {
    LAYERS.iter().position(|&l| l == name)
}

/// Every dependency edge that breaks the layering, as a readable line.
pub fn check_layering(metadata: &Value) -> Result<Vec<String>, String> {
    let packages = metadata["packages"]
        .as_array()
        .ok_or("cargo metadata has no `packages` array")?;
    let members: Vec<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
    let mut problems = Vec::new();
    for package in packages {
        let name = package["name"].as_str().unwrap_or("?");
        let deps = package["dependencies"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        for dep in deps {
            let dep_name = dep["name"].as_str().unwrap_or("?");
            if !members.contains(&dep_name) {
                continue;
            }
            let kind = dep["kind"].as_str().unwrap_or("normal");
            let allowed = match (rank(name), rank(dep_name)) {
                (Some(from), Some(to)) => to < from,
                (None, Some(_)) => name != "xtask",
                (_, None) => false,
            };
            if !allowed {
                problems.push(format!(
                    "{name} -> {dep_name} ({kind} dependency) breaks the layering {} (tools: {})",
                    LAYERS.join(" < "),
                    TOOLS.join(", ")
                ));
            }
        }
    }
    Ok(problems)
}

fn check_lint_opt_in(metadata: &Value) -> Result<Vec<String>, String> {
    let packages = metadata["packages"].as_array().ok_or("no packages")?;
    let mut problems = Vec::new();
    for package in packages {
        let path = package["manifest_path"].as_str().ok_or("no manifest_path")?;
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        let compact: String = text.split_whitespace().collect();
        if !compact.contains("[lints]workspace=true") {
            problems.push(format!("{path} does not opt into the workspace lints"));
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn package(name: &str, deps: &[(&str, &str)]) -> Value {
        let deps: Vec<Value> = deps.iter().map(|(n, k)| json!({"name": n, "kind": k})).collect();
        json!({"name": name, "dependencies": deps})
    }

    fn workspace(extra: &[(&str, &str)]) -> Value {
        json!({"packages": [
            package("linalg-kernels", &[("faer", "normal")]),
            package("mixture", &[("linalg-kernels", "normal")]),
            package("hmm", &[("mixture", "normal"), ("linalg-kernels", "normal")]),
            package("statespace", extra),
            package("em-driver", &[("hmm", "normal"), ("statespace", "normal")]),
            package("emfit-benches", &[("em-driver", "normal")]),
            package("xtask", &[("serde_json", "normal")]),
        ]})
    }

    #[test]
    fn the_real_workspace_is_layered_and_tidy() {
        let metadata = cargo_metadata().unwrap();
        assert_eq!(check_layering(&metadata).unwrap(), Vec::<String>::new());
        assert_eq!(check_lint_opt_in(&metadata).unwrap(), Vec::<String>::new());
        let names: Vec<&str> = metadata["packages"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        for layer in LAYERS.iter().chain(&TOOLS) {
            assert!(names.contains(layer), "{layer} is not a workspace member");
        }
    }

    #[test]
    fn a_downward_stack_passes() {
        assert!(
            check_layering(&workspace(&[("linalg-kernels", "normal")]))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn an_upward_edge_is_rejected() {
        let problems = check_layering(&workspace(&[("em-driver", "normal")])).unwrap();
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("statespace -> em-driver"));
    }

    #[test]
    fn an_upward_dev_dependency_is_rejected_too() {
        let problems = check_layering(&workspace(&[("em-driver", "dev")])).unwrap();
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("statespace -> em-driver (dev dependency)"));
    }

    #[test]
    fn library_crates_may_not_depend_on_tools() {
        let problems = check_layering(&workspace(&[("emfit-benches", "dev")])).unwrap();
        assert_eq!(problems.len(), 1);
    }
}
