//! `cargo xtask props [--cases N] [--seed N|random] [-- TEST-ARGS]`: every
//! property test of the workspace in one command.
//!
//! Convention: the property tests of a crate live in its integration test
//! target named `properties` (`tests/properties.rs` or
//! `tests/properties/main.rs`), so `cargo test --workspace --test properties`
//! runs all of them; the few that need a crate's private items live in a
//! unit-test module named `properties`, which `cargo test --workspace --lib
//! properties::` runs. Crates that use proptest but have no such target are
//! listed as a warning, since their property tests would be left out.
//!
//! Seed policy, in one place: `PROPTEST_RNG_SEED` in `.cargo/config.toml`'s
//! `[env]` table seeds every proptest run started by cargo (`cargo test`,
//! `.ci/run`, `cargo xtask ci`, this command) unless the variable is already
//! set in the environment. `--seed N` sets it for one run; `--seed random`
//! draws a fresh one and prints it, so that a failure can be replayed with
//! `--seed N`. proptest reads the variable as a decimal `u64` (anything else:
//! a warning and a random, unprinted seed); each `proptest!` test seeds its
//! own runner from it, and the committed `proptest-regressions` files are
//! replayed first whatever the seed. `PROPTEST_CASES` overrides the case count
//! that each test sets in its `ProptestConfig` (proptest 1.x applies the
//! environment on top of an explicit config).

use crate::Failure;
use serde_json::Value;

/// `cargo xtask props --help`.
pub const HELP: &str = "\
Runs every property test of the workspace: cargo test --workspace --test properties,
then cargo test --workspace --lib properties:: (by convention a crate's property
tests live in its integration test target named `properties`: tests/properties.rs
or tests/properties/main.rs; those that need private items, in a unit-test module
named `properties`).

usage: cargo xtask props [--cases N] [--seed N|random] [-- TEST-ARGS]

  --cases N        cases per property (PROPTEST_CASES=N); default: each test's own
  --seed N         proptest seed for this run (PROPTEST_RNG_SEED=N, a decimal u64)
  --seed random    a fresh seed, drawn and printed so that a failure can be
                   replayed with --seed N (also PROPTEST_RNG_SEED=N cargo test)
  -- TEST-ARGS     passed to the test binaries (a test-name filter, --nocapture)

Without --seed the seed is PROPTEST_RNG_SEED from the environment if set, else
the fixed one in .cargo/config.toml's [env] table: the one seed policy of
`cargo test`, .ci/run, `cargo xtask ci` and this command. Failures found so far
are replayed first from the committed proptest-regressions files.

examples:
  cargo xtask props --cases 2000 --seed random     explore new cases
  cargo xtask props --seed 8418892306349731234     replay a printed seed
";

/// Where the seed of a run comes from.
#[derive(Debug, PartialEq, Clone, Copy)]
pub enum Seed {
    /// The environment's `PROPTEST_RNG_SEED`, else `.cargo/config.toml`'s.
    Configured,
    /// `--seed N`.
    Fixed(u64),
    /// `--seed random`: drawn when the run starts.
    Random,
}

impl Seed {
    /// Parses the value of `--seed`.
    pub fn parse(value: &str) -> Result<Seed, Failure> {
        if value == "random" {
            return Ok(Seed::Random);
        }
        value
            .parse()
            .map(Seed::Fixed)
            .map_err(|_| Failure::Usage(format!("--seed takes a decimal u64 or `random`, not `{value}`")))
    }

    /// Says which seed the run uses and returns the value to set in the
    /// environment (none for [`Seed::Configured`]: cargo applies the policy).
    pub fn resolve(self) -> Option<u64> {
        let seed = match self {
            Seed::Configured => {
                match std::env::var("PROPTEST_RNG_SEED") {
                    Ok(value) => eprintln!("proptest seed: PROPTEST_RNG_SEED={value} (from the environment)"),
                    Err(_) => eprintln!(
                        "proptest seed: {} (.cargo/config.toml [env]; --seed N|random to change it)",
                        configured_seed().unwrap_or_else(|| "none set, proptest draws its own".into())
                    ),
                }
                return None;
            }
            Seed::Fixed(seed) => {
                eprintln!("proptest seed: PROPTEST_RNG_SEED={seed} (--seed)");
                seed
            }
            Seed::Random => {
                let seed = random_seed();
                eprintln!(
                    "proptest seed: PROPTEST_RNG_SEED={seed} (drawn at random; replay with --seed {seed})"
                );
                seed
            }
        };
        Some(seed)
    }
}

/// The options shared by `props` and `ci`.
#[derive(Debug, PartialEq)]
pub struct Options {
    /// `--cases N`.
    pub cases: Option<u32>,
    /// `--seed N|random`.
    pub seed: Seed,
    /// Everything after `--`.
    pub test_args: Vec<String>,
}

/// Parses `[--cases N] [--seed N|random] [-- ARGS]`; `allow_cases_and_args`
/// is false for `ci`, which takes only `--seed`.
pub fn parse(args: &[String], allow_cases_and_args: bool) -> Result<Options, Failure> {
    let mut options = Options {
        cases: None,
        seed: Seed::Configured,
        test_args: Vec::new(),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next().cloned())
                .ok_or_else(|| Failure::Usage(format!("{flag} needs a value")))
        };
        match flag {
            "--seed" => options.seed = Seed::parse(&value()?)?,
            "--cases" if allow_cases_and_args => {
                let v = value()?;
                let cases = v.parse().ok().filter(|&n: &u32| n > 0);
                options.cases =
                    Some(cases.ok_or_else(|| {
                        Failure::Usage(format!("--cases takes a positive count, not `{v}`"))
                    })?);
            }
            "--" if allow_cases_and_args => {
                options.test_args = args.by_ref().cloned().collect();
            }
            _ => return Err(Failure::Usage(format!("unexpected argument `{arg}`"))),
        }
    }
    Ok(options)
}

/// Entry point of `cargo xtask props`.
pub fn main(args: &[String]) -> Result<(), Failure> {
    let options = parse(args, true)?;
    if let Ok(metadata) = crate::cargo_metadata(false) {
        for name in crates_without_properties_target(&metadata) {
            eprintln!(
                "warning: {name} uses proptest but has no `properties` test target: \
                 its property tests are not run here"
            );
        }
    }
    let seed = options.seed.resolve();
    let (seed_text, cases_text) = (seed.map(|s| s.to_string()), options.cases.map(|c| c.to_string()));
    let mut envs = Vec::new();
    if let Some(s) = &seed_text {
        envs.push(("PROPTEST_RNG_SEED", s.as_str()));
    }
    if let Some(c) = &cases_text {
        envs.push(("PROPTEST_CASES", c.as_str()));
    }
    let replay = |e: String| match seed {
        Some(s) => Failure::Failed(format!("{e}\nreplay with: cargo xtask props --seed {s}")),
        None => Failure::Failed(e),
    };
    let targets = ["test", "--workspace", "--test", "properties"];
    let modules = ["test", "--workspace", "--lib", "properties::"];
    for base in [&targets[..], &modules[..]] {
        let mut cargo_args = base.to_vec();
        if !options.test_args.is_empty() {
            cargo_args.push("--");
            cargo_args.extend(options.test_args.iter().map(String::as_str));
        }
        crate::run_command("cargo", &cargo_args, &envs).map_err(replay)?;
    }
    Ok(())
}

/// Members with proptest among their dependencies of any kind but no test
/// target named `properties` (from `cargo metadata --no-deps`).
pub fn crates_without_properties_target(metadata: &Value) -> Vec<String> {
    let members: Vec<&str> = metadata["workspace_members"]
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let list = |v: &Value| v.as_array().map_or(&[][..], Vec::as_slice).to_vec();
    list(&metadata["packages"])
        .iter()
        .filter(|p| p["id"].as_str().is_some_and(|id| members.contains(&id)))
        .filter(|p| list(&p["dependencies"]).iter().any(|d| d["name"] == "proptest"))
        .filter(|p| {
            !list(&p["targets"])
                .iter()
                .any(|t| t["name"] == "properties" && list(&t["kind"]).iter().any(|k| k == "test"))
        })
        .filter_map(|p| p["name"].as_str().map(str::to_string))
        .collect()
}

/// The seed of `.cargo/config.toml`'s `[env]` table, for the message only.
fn configured_seed() -> Option<String> {
    let path = crate::workspace_root().join(".cargo/config.toml");
    let text = std::fs::read_to_string(path).ok()?;
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("PROPTEST_RNG_SEED"))?;
    let value = line.split_once('=')?.1.trim().trim_matches('"');
    Some(format!("PROPTEST_RNG_SEED={value}"))
}

/// A fresh seed from the standard library's randomly keyed hasher, the time
/// and the process id (no dependency for it).
fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    hasher.write_u128(now.map_or(0, |d| d.as_nanos()));
    hasher.write_u32(std::process::id());
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options_are_parsed() {
        let o = parse(
            &args(&["--cases", "500", "--seed=42", "--", "mixture", "--nocapture"]),
            true,
        )
        .unwrap();
        assert_eq!(o.cases, Some(500));
        assert_eq!(o.seed, Seed::Fixed(42));
        assert_eq!(o.test_args, ["mixture", "--nocapture"]);
        let o = parse(&args(&["--seed", "random"]), true).unwrap();
        assert_eq!(o.seed, Seed::Random);
        assert_eq!(parse(&[], true).unwrap().seed, Seed::Configured);
    }

    #[test]
    fn bad_options_are_usage_errors() {
        for bad in [
            &["--seed"][..],
            &["--seed", "-1"],
            &["--seed", "0x10"],
            &["--seed", "18446744073709551616"],
            &["--cases", "0"],
            &["--cases", "many"],
            &["--frobnicate"],
            &["positional"],
        ] {
            assert!(
                matches!(parse(&args(bad), true), Err(Failure::Usage(_))),
                "{bad:?}"
            );
        }
        // `ci` takes only --seed.
        assert!(matches!(
            parse(&args(&["--cases", "5"]), false),
            Err(Failure::Usage(_))
        ));
        assert!(parse(&args(&["--seed", "7"]), false).is_ok());
    }

    #[test]
    fn random_seeds_differ() {
        assert_ne!(random_seed(), random_seed());
    }

    #[test]
    fn the_configured_seed_is_one_proptest_accepts() {
        let configured = configured_seed().expect(".cargo/config.toml sets PROPTEST_RNG_SEED");
        let value = configured.strip_prefix("PROPTEST_RNG_SEED=").unwrap();
        assert!(value.parse::<u64>().is_ok(), "proptest reads {value:?} as a u64");
    }

    #[test]
    fn crates_using_proptest_without_a_properties_target_are_listed() {
        let package = |name: &str, proptest: bool, tests: &[&str]| {
            let deps: Vec<Value> = if proptest {
                vec![json!({"name": "proptest", "kind": "dev"})]
            } else {
                vec![]
            };
            let mut targets = vec![json!({"name": name, "kind": ["lib"]})];
            targets.extend(tests.iter().map(|t| json!({"name": t, "kind": ["test"]})));
            json!({"name": name, "id": format!("{name}-id"), "dependencies": deps, "targets": targets})
        };
        let metadata = json!({
            "workspace_members": ["a-id", "b-id", "c-id", "d-id"],
            "packages": [
                package("a", true, &["properties", "oracle"]),
                package("b", true, &["properties_gaussian"]),
                package("c", false, &[]),
                package("d", true, &[]),
            ],
        });
        assert_eq!(crates_without_properties_target(&metadata), ["b", "d"]);
    }
}
