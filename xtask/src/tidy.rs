//! `cargo xtask tidy`: workspace conventions, checked on the real dependency
//! graph that `cargo metadata` reports.
//!
//! The rules are data, declared once in the root `Cargo.toml` under
//! `[workspace.metadata.emfit]` (see the comments there), all by package name:
//!
//! - `layers`: the crate stack, lowest layer first. An entry is one crate or a
//!   list of peers that share a layer (and may not depend on each other);
//! - `tools`: members outside the stack (benches, this crate);
//! - `programs`: the members of the stack that build the programs;
//! - `program-only`: crates that only programs may pull (argument parsing,
//!   progress bars).
//!
//! The checks:
//!
//! 1. Membership: every workspace member is declared as a layer or a tool, and
//!    every declared crate is a member (a new crate must take its place).
//! 2. Layering, on the declared dependencies of every kind (normal, build,
//!    dev) and every target platform: a crate of the stack depends only on
//!    members of lower layers; a tool may depend on any crate of the stack;
//!    nothing depends on a tool; xtask depends on no member.
//! 3. Program-only crates: the resolved normal-dependency tree (transitive,
//!    for the host target) of every crate of the stack that is not a program
//!    contains none of them. Their dev-dependencies may. The resolve graph
//!    unifies features across the workspace, so an optional dependency that
//!    any member turns on counts too (conservative, as a workspace build is).
//! 4. Every member opts into the workspace lints (`[lints] workspace = true`).

use crate::Failure;
use serde_json::Value;
use std::collections::{HashMap, VecDeque};

/// `cargo xtask tidy --help`.
pub const HELP: &str = "\
Checks the workspace conventions on the real dependency graph (cargo metadata).

usage: cargo xtask tidy

The rules are declared once, as data, in the root Cargo.toml's
[workspace.metadata.emfit] table (layers, tools, programs, program-only):
  1. every workspace member is declared, and every declared crate is a member;
  2. a crate of the stack depends (normal, build or dev) only on lower layers;
     tools may depend on the stack; nothing depends on a tool; xtask depends
     on no member;
  3. the resolved normal-dependency tree of every library crate of the stack
     (all but the programs) contains none of the program-only crates;
  4. every member opts into the workspace lints ([lints] workspace = true).
`cargo test -p xtask` runs the same checks on the real workspace.
";

/// Entry point of `cargo xtask tidy`.
pub fn main(args: &[String]) -> Result<(), Failure> {
    crate::no_arguments(args)?;
    let metadata = crate::cargo_metadata(true)?;
    let problems = check(&metadata)?;
    if problems.is_empty() {
        eprintln!("tidy: ok");
        Ok(())
    } else {
        Err(Failure::Failed(format!(
            "tidy found {} problem(s):\n  {}",
            problems.len(),
            problems.join("\n  ")
        )))
    }
}

/// Every check, on `cargo metadata` output with the resolve graph; reads the
/// members' manifests for the lint opt-in.
pub fn check(metadata: &Value) -> Result<Vec<String>, String> {
    let rules = Rules::from_metadata(metadata)?;
    let mut problems = check_graph(&rules, metadata)?;
    for (name, path) in members(metadata)?.iter().map(|m| (m.name, m.manifest_path)) {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        if !opts_into_workspace_lints(&text) {
            problems.push(format!(
                "{name} ({path}) does not opt into the workspace lints ([lints] workspace = true)"
            ));
        }
    }
    Ok(problems)
}

/// Checks 1 to 3 (everything but the manifests' text).
pub fn check_graph(rules: &Rules, metadata: &Value) -> Result<Vec<String>, String> {
    let mut problems = check_membership(rules, metadata)?;
    problems.extend(check_layering(rules, metadata)?);
    problems.extend(check_program_only(rules, metadata)?);
    Ok(problems)
}

/// The rules of `[workspace.metadata.emfit]`.
#[derive(Debug, PartialEq)]
pub struct Rules {
    /// The stack, lowest layer first; each layer holds one crate or several peers.
    pub layers: Vec<Vec<String>>,
    /// Members outside the stack.
    pub tools: Vec<String>,
    /// Members of the stack that may pull program-only crates.
    pub programs: Vec<String>,
    /// Crates that only programs (and tools) may pull.
    pub program_only: Vec<String>,
}

const TABLE: &str = "[workspace.metadata.emfit]";

impl Rules {
    /// Reads the rules from the `metadata` field of `cargo metadata`, which
    /// holds the root manifest's `[workspace.metadata]`.
    pub fn from_metadata(metadata: &Value) -> Result<Rules, String> {
        let table = &metadata["metadata"]["emfit"];
        if !table.is_object() {
            return Err(format!("the root Cargo.toml has no {TABLE} table"));
        }
        let names = |key: &str, value: &Value| -> Result<Vec<String>, String> {
            value
                .as_array()
                .ok_or_else(|| format!("{TABLE} `{key}` must be a list of package names"))?
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| format!("{TABLE} `{key}`: {v} is not a package name"))
                })
                .collect()
        };
        let layers = table["layers"]
            .as_array()
            .ok_or_else(|| format!("{TABLE} has no `layers` list"))?
            .iter()
            .map(|layer| match layer {
                Value::String(name) => Ok(vec![name.clone()]),
                peers => names("layers", peers),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let rules = Rules {
            layers,
            tools: names("tools", &table["tools"])?,
            programs: names("programs", &table["programs"])?,
            program_only: names("program-only", &table["program-only"])?,
        };
        let mut declared: Vec<&String> = rules.layers.iter().flatten().chain(&rules.tools).collect();
        declared.sort();
        if let Some(w) = declared.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("{TABLE} declares {} twice", w[0]));
        }
        if let Some(p) = rules.programs.iter().find(|p| rules.rank(p).is_none()) {
            return Err(format!("{TABLE} `programs`: {p} is not in `layers`"));
        }
        Ok(rules)
    }

    /// The layer of a crate of the stack.
    fn rank(&self, name: &str) -> Option<usize> {
        self.layers.iter().position(|l| l.iter().any(|n| n == name))
    }

    fn is_tool(&self, name: &str) -> bool {
        self.tools.iter().any(|t| t == name)
    }

    /// The stack for messages: `a < b < {c, d}`.
    fn stack(&self) -> String {
        let layer = |l: &Vec<String>| match l.as_slice() {
            [one] => one.clone(),
            peers => format!("{{{}}}", peers.join(", ")),
        };
        self.layers.iter().map(layer).collect::<Vec<_>>().join(" < ")
    }
}

/// A workspace member as `cargo metadata` describes it.
struct Member<'a> {
    name: &'a str,
    id: &'a str,
    manifest_path: &'a str,
    package: &'a Value,
}

fn members(metadata: &Value) -> Result<Vec<Member<'_>>, String> {
    let ids: Vec<&str> = metadata["workspace_members"]
        .as_array()
        .ok_or("cargo metadata has no `workspace_members` list")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let packages = metadata["packages"]
        .as_array()
        .ok_or("cargo metadata has no `packages` list")?;
    Ok(packages
        .iter()
        .filter(|p| p["id"].as_str().is_some_and(|id| ids.contains(&id)))
        .map(|package| Member {
            name: package["name"].as_str().unwrap_or("?"),
            id: package["id"].as_str().unwrap_or("?"),
            manifest_path: package["manifest_path"].as_str().unwrap_or("?"),
            package,
        })
        .collect())
}

/// Check 1: members and declarations agree.
fn check_membership(rules: &Rules, metadata: &Value) -> Result<Vec<String>, String> {
    let members = members(metadata)?;
    let mut problems = Vec::new();
    for member in &members {
        if rules.rank(member.name).is_none() && !rules.is_tool(member.name) {
            problems.push(format!(
                "{} is a workspace member but neither in `layers` nor in `tools` of {TABLE}",
                member.name
            ));
        }
    }
    for name in rules.layers.iter().flatten().chain(&rules.tools) {
        if !members.iter().any(|m| m.name == name) {
            problems.push(format!(
                "{TABLE} declares {name}, which is not a workspace member"
            ));
        }
    }
    Ok(problems)
}

/// Check 2: every declared dependency edge between members goes down the stack.
fn check_layering(rules: &Rules, metadata: &Value) -> Result<Vec<String>, String> {
    let members = members(metadata)?;
    let this_crate = env!("CARGO_PKG_NAME");
    let mut problems = Vec::new();
    for member in &members {
        let from = member.name;
        let deps = member.package["dependencies"]
            .as_array()
            .map_or(&[][..], Vec::as_slice);
        for dep in deps {
            let to = dep["name"].as_str().unwrap_or("?");
            // An edge to a member: a path dependency (no registry or git source) named like one.
            if !dep["source"].is_null() || !members.iter().any(|m| m.name == to) {
                continue;
            }
            let kind = dep["kind"].as_str().unwrap_or("normal");
            let edge = format!("{from} -> {to} ({kind} dependency)");
            let problem = if from == this_crate {
                Some(format!("{edge}: {this_crate} depends on no workspace member"))
            } else if rules.is_tool(to) {
                Some(format!(
                    "{edge}: nothing may depend on a tool ({})",
                    rules.tools.join(", ")
                ))
            } else {
                match (rules.rank(from), rules.rank(to)) {
                    (Some(a), Some(b)) if b >= a => Some(format!(
                        "{edge}: a crate may depend only on lower layers of {}",
                        rules.stack()
                    )),
                    // Tools may use the stack; undeclared crates are reported by check 1.
                    _ => None,
                }
            };
            problems.extend(problem);
        }
    }
    Ok(problems)
}

/// Check 3: no program-only crate in the resolved normal-dependency tree of a
/// library crate of the stack; reports the shortest chain that pulls it.
fn check_program_only(rules: &Rules, metadata: &Value) -> Result<Vec<String>, String> {
    let nodes: HashMap<&str, &Value> = metadata["resolve"]["nodes"]
        .as_array()
        .ok_or("cargo metadata has no resolve graph (was it run with --no-deps?)")?
        .iter()
        .filter_map(|n| Some((n["id"].as_str()?, n)))
        .collect();
    let names: HashMap<&str, &str> = metadata["packages"]
        .as_array()
        .ok_or("cargo metadata has no `packages` list")?
        .iter()
        .filter_map(|p| Some((p["id"].as_str()?, p["name"].as_str()?)))
        .collect();
    let name = |id: &str| names.get(id).copied().unwrap_or(id).to_string();
    let mut problems = Vec::new();
    let libraries = members(metadata)?
        .into_iter()
        .filter(|m| rules.rank(m.name).is_some() && !rules.programs.iter().any(|p| p == m.name));
    for library in libraries {
        // Breadth first over normal edges: `parent` gives the shortest chain.
        let mut parent: HashMap<&str, &str> = HashMap::new();
        let mut queue = VecDeque::from([library.id]);
        while let Some(id) = queue.pop_front() {
            let deps = nodes.get(id).and_then(|n| n["deps"].as_array());
            for dep in deps.map_or(&[][..], Vec::as_slice) {
                let normal = dep["dep_kinds"]
                    .as_array()
                    .is_some_and(|kinds| kinds.iter().any(|k| k["kind"].is_null()));
                let Some(pkg) = dep["pkg"].as_str() else { continue };
                if !normal || pkg == library.id || parent.contains_key(pkg) {
                    continue;
                }
                parent.insert(pkg, id);
                queue.push_back(pkg);
                if rules.program_only.contains(&name(pkg)) {
                    let mut chain = vec![name(pkg)];
                    let mut at = id;
                    while at != library.id {
                        chain.push(name(at));
                        at = parent[at];
                    }
                    chain.push(library.name.to_string());
                    chain.reverse();
                    let allowed = match rules.programs.as_slice() {
                        [] => "no crate of the stack may".to_string(),
                        programs => format!("only {} may", programs.join(", ")),
                    };
                    problems.push(format!(
                        "{} pulls the program-only crate {} ({}): {allowed}",
                        library.name,
                        name(pkg),
                        chain.join(" -> ")
                    ));
                }
            }
        }
    }
    Ok(problems)
}

/// Check 4 on one manifest's text: `[lints] workspace = true` or `lints.workspace = true`.
pub fn opts_into_workspace_lints(manifest: &str) -> bool {
    let compact: String = manifest
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .flat_map(str::split_whitespace)
        .collect::<Vec<_>>()
        .join("");
    compact.contains("[lints]workspace=true") || compact.contains("lints.workspace=true")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const REGISTRY: &str = "registry+https://github.com/rust-lang/crates.io-index";

    /// The target layout: a stack, peers at the top (a program and a
    /// Python-extension library), two tools.
    fn rules_json() -> Value {
        json!({
            "layers": ["linalg-kernels", "em-core", "mixture", "emfit-hmm", "em-driver", ["emfit-cli", "emfit-py"]],
            "tools": ["emfit-benches", "xtask"],
            "programs": ["emfit-cli"],
            "program-only": ["clap", "indicatif"],
        })
    }

    /// Synthetic `cargo metadata` for `members` (name, declared dependencies
    /// as (name, kind)) plus registry packages, and a resolve graph built
    /// from the normal and dev edges. A dependency whose name is not a
    /// member is a registry crate (`registry:NAME` forces one).
    struct Workspace {
        members: Vec<(String, Vec<(String, String)>)>,
        registry: Vec<(String, Vec<String>)>,
        rules: Value,
    }

    impl Workspace {
        fn target() -> Workspace {
            let members: [(&str, &[(&str, &str)]); 8] = [
                ("linalg-kernels", &[("faer", "normal"), ("proptest", "dev")]),
                ("em-core", &[("rand", "normal"), ("linalg-kernels", "normal")]),
                ("mixture", &[("linalg-kernels", "normal"), ("em-core", "normal")]),
                ("emfit-hmm", &[("mixture", "normal"), ("em-core", "dev")]),
                ("em-driver", &[("emfit-hmm", "normal"), ("serde_json", "normal")]),
                (
                    "emfit-cli",
                    &[
                        ("em-driver", "normal"),
                        ("clap", "normal"),
                        ("indicatif", "normal"),
                    ],
                ),
                ("emfit-py", &[("em-driver", "normal")]),
                (
                    "emfit-benches",
                    &[
                        ("em-driver", "normal"),
                        ("emfit-cli", "normal"),
                        ("criterion", "dev"),
                    ],
                ),
            ];
            let mut ws = Workspace {
                members: members
                    .iter()
                    .map(|(n, deps)| {
                        (
                            n.to_string(),
                            deps.iter().map(|(d, k)| (d.to_string(), k.to_string())).collect(),
                        )
                    })
                    .collect(),
                registry: Vec::new(),
                rules: rules_json(),
            };
            ws.member("xtask", &[("serde_json", "normal")]);
            for (name, deps) in [
                ("faer", &[][..]),
                ("proptest", &["rand"][..]),
                ("rand", &[]),
                ("serde_json", &[]),
                ("clap", &["clap_builder"]),
                ("clap_builder", &[]),
                ("indicatif", &[]),
                ("criterion", &["clap"]),
            ] {
                ws.registry(name, deps);
            }
            ws
        }

        fn member(&mut self, name: &str, deps: &[(&str, &str)]) -> &mut Self {
            let deps = deps.iter().map(|(d, k)| (d.to_string(), k.to_string()));
            match self.members.iter_mut().find(|(n, _)| n == name) {
                Some((_, existing)) => existing.extend(deps),
                None => self.members.push((name.to_string(), deps.collect())),
            }
            self
        }

        fn registry(&mut self, name: &str, deps: &[&str]) -> &mut Self {
            self.registry
                .push((name.to_string(), deps.iter().map(|d| d.to_string()).collect()));
            self
        }

        fn is_member(&self, name: &str) -> bool {
            self.members.iter().any(|(n, _)| n == name)
        }

        fn id(&self, name: &str) -> String {
            match name.strip_prefix("registry:") {
                Some(n) => format!("{REGISTRY}#{n}@1.0.0"),
                None if self.is_member(name) => format!("path+file:///ws/{name}#0.1.0"),
                None => format!("{REGISTRY}#{name}@1.0.0"),
            }
        }

        fn metadata(&self) -> Value {
            let mut packages = Vec::new();
            let mut nodes = Vec::new();
            for (name, deps) in &self.members {
                let declared: Vec<Value> = deps
                    .iter()
                    .map(|(d, k)| {
                        let kind = if k == "normal" { Value::Null } else { json!(k) };
                        let source = if self.is_member(d) {
                            Value::Null
                        } else {
                            json!(REGISTRY)
                        };
                        json!({"name": d.trim_start_matches("registry:"), "kind": kind, "source": source})
                    })
                    .collect();
                packages.push(json!({"name": name, "id": self.id(name), "manifest_path": format!("/ws/{name}/Cargo.toml"), "dependencies": declared}));
                let resolved: Vec<Value> = deps
                    .iter()
                    .map(|(d, k)| {
                        let kind = if k == "normal" { Value::Null } else { json!(k) };
                        json!({"pkg": self.id(d), "dep_kinds": [{"kind": kind, "target": null}]})
                    })
                    .collect();
                nodes.push(json!({"id": self.id(name), "deps": resolved}));
            }
            for (name, deps) in &self.registry {
                let id = self.id(&format!("registry:{name}"));
                packages.push(json!({"name": name, "id": id, "dependencies": []}));
                let resolved: Vec<Value> = deps
                    .iter()
                    .map(|d| json!({"pkg": self.id(&format!("registry:{d}")), "dep_kinds": [{"kind": null, "target": null}]}))
                    .collect();
                nodes.push(json!({"id": id, "deps": resolved}));
            }
            let members: Vec<String> = self.members.iter().map(|(n, _)| self.id(n)).collect();
            json!({
                "packages": packages,
                "workspace_members": members,
                "resolve": {"nodes": nodes},
                "metadata": {"emfit": self.rules},
            })
        }

        fn problems(&self) -> Vec<String> {
            let metadata = self.metadata();
            check_graph(&Rules::from_metadata(&metadata).unwrap(), &metadata).unwrap()
        }
    }

    fn assert_one_problem(ws: &Workspace, expected: &str) {
        let problems = ws.problems();
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(
            problems[0].contains(expected),
            "{:?} lacks {expected:?}",
            problems[0]
        );
    }

    #[test]
    fn the_real_workspace_is_layered_and_tidy() {
        let metadata = crate::cargo_metadata(true).unwrap();
        assert_eq!(check(&metadata).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn the_target_layout_passes() {
        assert_eq!(Workspace::target().problems(), Vec::<String>::new());
    }

    #[test]
    fn rules_are_read_with_peer_layers() {
        let rules = Rules::from_metadata(&Workspace::target().metadata()).unwrap();
        assert_eq!(rules.layers.len(), 6);
        assert_eq!(rules.layers[5], ["emfit-cli", "emfit-py"]);
        assert_eq!(rules.rank("emfit-py"), Some(5));
        assert_eq!(rules.program_only, ["clap", "indicatif"]);
        assert!(rules.stack().ends_with("em-driver < {emfit-cli, emfit-py}"));
    }

    #[test]
    fn missing_or_inconsistent_rules_are_errors() {
        assert!(Rules::from_metadata(&json!({"metadata": null})).is_err());
        let mut ws = Workspace::target();
        ws.rules["tools"] = json!(["xtask", "mixture"]);
        assert!(
            Rules::from_metadata(&ws.metadata())
                .unwrap_err()
                .contains("mixture twice")
        );
        ws.rules = rules_json();
        ws.rules["programs"] = json!(["emfit-benches"]);
        assert!(Rules::from_metadata(&ws.metadata()).is_err());
        ws.rules = rules_json();
        ws.rules.as_object_mut().unwrap().remove("program-only");
        assert!(Rules::from_metadata(&ws.metadata()).is_err());
    }

    #[test]
    fn an_undeclared_member_is_a_problem() {
        let mut ws = Workspace::target();
        ws.member("emfit-new", &[("em-core", "normal")]);
        assert_one_problem(&ws, "emfit-new is a workspace member but neither");
    }

    #[test]
    fn a_declared_crate_that_is_not_a_member_is_a_problem() {
        let mut ws = Workspace::target();
        ws.members.retain(|(n, _)| n != "emfit-py");
        assert_one_problem(&ws, "declares emfit-py, which is not a workspace member");
    }

    #[test]
    fn an_upward_edge_is_rejected() {
        let mut ws = Workspace::target();
        ws.member("mixture", &[("em-driver", "normal")]);
        assert_one_problem(
            &ws,
            "mixture -> em-driver (normal dependency): a crate may depend only on lower",
        );
    }

    #[test]
    fn upward_dev_and_build_dependencies_are_rejected_too() {
        for kind in ["dev", "build"] {
            let mut ws = Workspace::target();
            ws.member("linalg-kernels", &[("em-core", kind)]);
            assert_one_problem(&ws, &format!("linalg-kernels -> em-core ({kind} dependency)"));
        }
    }

    #[test]
    fn a_crate_may_not_depend_on_its_own_layer() {
        let mut ws = Workspace::target();
        ws.member("emfit-py", &[("emfit-cli", "normal")]);
        let problems = ws.problems();
        assert!(
            problems.iter().any(|p| p.contains("emfit-py -> emfit-cli")),
            "{problems:#?}"
        );
    }

    #[test]
    fn nothing_may_depend_on_a_tool() {
        let mut ws = Workspace::target();
        ws.member("emfit-hmm", &[("emfit-benches", "dev")]);
        assert_one_problem(
            &ws,
            "emfit-hmm -> emfit-benches (dev dependency): nothing may depend on a tool",
        );
        let mut ws = Workspace::target();
        ws.member("xtask", &[("emfit-benches", "normal")]);
        assert_eq!(ws.problems().len(), 1);
    }

    #[test]
    fn xtask_depends_on_no_member() {
        let mut ws = Workspace::target();
        ws.member("xtask", &[("linalg-kernels", "normal")]);
        assert_one_problem(
            &ws,
            "xtask -> linalg-kernels (normal dependency): xtask depends on no",
        );
    }

    #[test]
    fn a_registry_crate_named_like_a_member_is_no_member_edge() {
        let mut ws = Workspace::target();
        ws.registry("em-driver", &[]);
        ws.member("linalg-kernels", &[("registry:em-driver", "normal")]);
        assert_eq!(ws.problems(), Vec::<String>::new());
    }

    #[test]
    fn a_direct_program_only_dependency_of_a_library_is_rejected() {
        let mut ws = Workspace::target();
        ws.member("emfit-py", &[("indicatif", "normal")]);
        assert_one_problem(
            &ws,
            "emfit-py pulls the program-only crate indicatif (emfit-py -> indicatif)",
        );
        // Lower down, every library above is reported too, each with its chain.
        let mut ws = Workspace::target();
        ws.member("em-driver", &[("indicatif", "normal")]);
        assert_eq!(
            ws.problems(),
            [
                "em-driver pulls the program-only crate indicatif (em-driver -> indicatif): only emfit-cli may",
                "emfit-py pulls the program-only crate indicatif (emfit-py -> em-driver -> indicatif): only emfit-cli may",
            ]
        );
    }

    #[test]
    fn a_program_only_crate_is_found_through_members_and_registry_crates() {
        let mut ws = Workspace::target();
        ws.registry("fancy-log", &["clap"]);
        ws.member("em-core", &[("fancy-log", "normal")]);
        let problems = ws.problems();
        // Every library above em-core pulls clap through it; the chain is the shortest.
        assert_eq!(problems.len(), 5, "{problems:#?}");
        assert!(problems.contains(&"em-core pulls the program-only crate clap (em-core -> fancy-log -> clap): only emfit-cli may".to_string()));
        assert!(
            problems
                .iter()
                .any(|p| p.contains("(mixture -> em-core -> fancy-log -> clap)"))
        );
        assert!(problems.iter().any(|p| p.starts_with("emfit-py pulls")));
    }

    #[test]
    fn program_only_crates_are_fine_in_dev_dependencies_programs_and_tools() {
        let mut ws = Workspace::target();
        ws.member("mixture", &[("criterion", "dev"), ("clap", "dev")]);
        ws.member("emfit-benches", &[("clap", "normal")]);
        assert_eq!(ws.problems(), Vec::<String>::new());
    }

    #[test]
    fn lint_opt_in_is_read_from_the_manifest_text() {
        assert!(opts_into_workspace_lints(
            "[package]\nname = \"a\"\n\n[lints]\nworkspace = true\n"
        ));
        assert!(opts_into_workspace_lints("lints.workspace = true"));
        assert!(!opts_into_workspace_lints("[package]\nname = \"a\"\n"));
        assert!(!opts_into_workspace_lints("[lints]\n# workspace = true\n"));
        assert!(!opts_into_workspace_lints("[lints]\nworkspace = false\n"));
    }
}
