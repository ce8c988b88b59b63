//! Project automation for emfit, run as `cargo xtask <command>` (the alias is
//! in `.cargo/config.toml`); `cargo xtask --help` lists the commands and
//! `cargo xtask <command> --help` explains one. One module per command:
//!
//! - [`tidy`]: workspace conventions, checked on the real dependency graph
//!   against the rules declared in the root `Cargo.toml`;
//! - [`mod@test`]: every test, Rust and Python (the README's test command);
//! - [`asm_check`]: the release SIMD kernels call no intrinsic and no
//!   closure out of line (disassembled with objdump);
//! - [`ci`]: what `.ci/run` does: fmt check, clippy with warnings denied,
//!   tests, docs with warnings denied;
//! - [`props`]: every property test of the workspace, with a chosen number of
//!   cases and seed;
//! - [`bench`](mod@bench): the criterion benches and a compact table;
//! - [`compare`]: emfit against scikit-learn, hmmlearn and pykalman on the
//!   same workloads; rewrites the README's benchmark section;
//! - [`converge`]: time to the answer, plain EM and SQUAREM against the same
//!   peers, from the same starts; rewrites the README's "Time to the answer";
//! - [`scaling`]: one EM iteration over a range of sizes per model family;
//!   rewrites the README's scaling section and `docs/scaling.svg`.
//!
//! [`harness`] holds what `compare` and `converge` share (the binary, the
//! peers' virtual environment, one fresh process per measured run);
//! [`venv`] makes the pinned Python environments of `harness` and `test`.
//!
//! Arguments are parsed by hand (no dependency for it). Exit codes: 0 on
//! success, 1 when a step fails, 2 on a usage error.

mod asm_check;
mod bench;
mod ci;
mod compare;
mod converge;
mod harness;
mod props;
mod scaling;
mod test;
mod tidy;
mod venv;

use std::process::ExitCode;

/// Why a command did not succeed.
#[derive(Debug, PartialEq)]
pub enum Failure {
    /// Wrong arguments: the message, then a pointer to the command's help (exit 2).
    Usage(String),
    /// A step failed (exit 1).
    Failed(String),
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure::Failed(message)
    }
}

/// One subcommand: its name, one line for the overview, its full help and its entry point.
struct Command {
    name: &'static str,
    summary: &'static str,
    help: &'static str,
    run: fn(&[String]) -> Result<(), Failure>,
}

const COMMANDS: [Command; 9] = [
    Command {
        name: "tidy",
        summary: "check crate layering, program-only dependencies and lint opt-in",
        help: tidy::HELP,
        run: tidy::main,
    },
    Command {
        name: "test",
        summary: "every test: cargo test --workspace, then the Python package's pytest suite",
        help: test::HELP,
        run: test::main,
    },
    Command {
        name: "asm-check",
        summary: "release SIMD kernels: no intrinsic or closure out of line (objdump)",
        help: asm_check::HELP,
        run: asm_check::main,
    },
    Command {
        name: "ci",
        summary: "what .ci/run does: fmt check, clippy, tests, docs (warnings denied)",
        help: ci::HELP,
        run: ci::main,
    },
    Command {
        name: "props",
        summary: "every property test of the workspace [--cases N] [--seed N|random]",
        help: props::HELP,
        run: props::main,
    },
    Command {
        name: "bench",
        summary: "criterion benches, then a compact table [TARGET | FILTER]",
        help: bench::HELP,
        run: bench::main,
    },
    Command {
        name: "compare",
        summary: "emfit against scikit-learn, hmmlearn, pykalman; rewrites the README table [FILTER]",
        help: compare::HELP,
        run: compare::main,
    },
    Command {
        name: "converge",
        summary: "time to the answer: plain EM, SQUAREM and the peers; rewrites the README section",
        help: converge::HELP,
        run: converge::main,
    },
    Command {
        name: "scaling",
        summary: "time per EM iteration against size; rewrites the README section and docs/scaling.svg",
        help: scaling::HELP,
        run: scaling::main,
    },
];

/// The overview printed by `cargo xtask --help`.
fn usage() -> String {
    let mut text = String::from(
        "Project automation for emfit.\n\n\
         usage: cargo xtask <command> [arguments]\n       \
         cargo xtask <command> --help    (or: cargo xtask help <command>)\n\ncommands:\n",
    );
    for command in &COMMANDS {
        text.push_str(&format!("  {:<10} {}\n", command.name, command.summary));
    }
    text
}

fn is_help(arg: &str) -> bool {
    matches!(arg, "-h" | "--help")
}

/// Runs the command line (without the program name) and returns the exit code.
fn dispatch(args: &[String]) -> ExitCode {
    let Some(first) = args.first().map(String::as_str) else {
        eprint!("xtask: no command given\n\n{}", usage());
        return ExitCode::from(2);
    };
    if is_help(first) || first == "help" {
        return match args.get(1).map(String::as_str) {
            None => {
                print!("{}", usage());
                ExitCode::SUCCESS
            }
            Some(name) => match COMMANDS.iter().find(|c| c.name == name) {
                Some(command) => {
                    print!("{}", command.help);
                    ExitCode::SUCCESS
                }
                None => {
                    eprint!("xtask: unknown command `{name}`\n\n{}", usage());
                    ExitCode::from(2)
                }
            },
        };
    }
    let Some(command) = COMMANDS.iter().find(|c| c.name == first) else {
        eprint!("xtask: unknown command `{first}`\n\n{}", usage());
        return ExitCode::from(2);
    };
    let rest = &args[1..];
    // `--help` anywhere before a `--` (after which arguments belong to another program).
    if rest.iter().take_while(|a| *a != "--").any(|a| is_help(a)) {
        print!("{}", command.help);
        return ExitCode::SUCCESS;
    }
    match (command.run)(rest) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!(
                "xtask {}: {message}\nrun `cargo xtask {} --help` for its usage",
                command.name, command.name
            );
            ExitCode::from(2)
        }
        Err(Failure::Failed(message)) => {
            eprintln!("xtask {}: {message}", command.name);
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    dispatch(&args)
}

/// A usage error for commands that take no arguments.
fn no_arguments(args: &[String]) -> Result<(), Failure> {
    match args.first() {
        None => Ok(()),
        Some(arg) => Err(Failure::Usage(format!("unexpected argument `{arg}`"))),
    }
}

/// At most one positional argument that is not an option.
fn optional_positional(args: &[String]) -> Result<Option<&str>, Failure> {
    match args {
        [] => Ok(None),
        [arg] if !arg.starts_with('-') => Ok(Some(arg)),
        [arg] => Err(Failure::Usage(format!("unknown option `{arg}`"))),
        [_, extra, ..] => Err(Failure::Usage(format!("unexpected argument `{extra}`"))),
    }
}

/// An argument of a command that takes options and one optional FILTER:
/// the filter, if none was given yet; else an unknown option or an
/// unexpected argument (usage errors).
fn filter_argument(arg: &str, filter: &mut Option<String>) -> Result<(), Failure> {
    if arg.starts_with('-') {
        Err(Failure::Usage(format!("unknown option `{arg}`")))
    } else if filter.is_none() {
        *filter = Some(arg.to_string());
        Ok(())
    } else {
        Err(Failure::Usage(format!("unexpected argument `{arg}`")))
    }
}

/// The workspace root (the parent of this crate's folder).
fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// The cargo that runs us (`CARGO` is set by `cargo run` and `cargo test`).
fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Runs a command in the workspace root, failing with its description.
fn run_command(program: &str, args: &[&str], envs: &[(&str, &str)]) -> Result<(), String> {
    let shown_env: String = envs.iter().map(|(k, v)| format!("{k}={v:?} ")).collect();
    eprintln!("$ {shown_env}{program} {}", args.join(" "));
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

/// Builds the `emfit-compare` program (release) and returns its path.
fn build_compare_binary() -> Result<std::path::PathBuf, String> {
    let args = [
        "build",
        "--release",
        "-p",
        "emfit-benches",
        "--bin",
        "emfit-compare",
    ];
    run_command("cargo", &args, &[])?;
    Ok(workspace_root().join("target/release/emfit-compare"))
}

/// `cargo metadata` of the workspace as JSON: with `resolve`, every package
/// and the resolved dependency graph for the host target; without, the
/// workspace members only. Tries offline first (no network when everything is
/// cached), then online.
fn cargo_metadata(resolve: bool) -> Result<serde_json::Value, String> {
    let mut args = vec!["metadata", "--format-version", "1"];
    let host = if resolve { host_triple()? } else { String::new() };
    if resolve {
        args.extend(["--filter-platform", &host]);
    } else {
        args.push("--no-deps");
    }
    let run = |extra: &[&str]| {
        std::process::Command::new(cargo())
            .args(&args)
            .args(extra)
            .current_dir(workspace_root())
            .output()
            .map_err(|e| format!("could not run cargo metadata: {e}"))
    };
    let mut output = run(&["--offline"])?;
    if !output.status.success() {
        output = run(&[])?;
    }
    if !output.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| format!("cargo metadata output: {e}"))
}

/// The host target triple, from `rustc -vV`.
fn host_triple() -> Result<String, String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let output = std::process::Command::new(&rustc)
        .arg("-vV")
        .output()
        .map_err(|e| format!("could not run {rustc} -vV: {e}"))?;
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_string)
        .ok_or_else(|| format!("`{rustc} -vV` printed no host line"))
}

/// Replaces the text between `<!-- NAME:start -->` and `<!-- NAME:end -->` in
/// the workspace README (the generated sections).
fn replace_readme_section(name: &str, section: &str) -> Result<(), String> {
    let readme = workspace_root().join("README.md");
    let text = std::fs::read_to_string(&readme).map_err(|e| format!("{}: {e}", readme.display()))?;
    let updated = replaced_section(&text, name, section).map_err(|e| format!("{}: {e}", readme.display()))?;
    std::fs::write(&readme, updated).map_err(|e| format!("{}: {e}", readme.display()))
}

/// `text` with the section `name` replaced by `section`: its markers must
/// appear once each, start before end (a second copy of a section would
/// keep its stale figures beside the new ones).
fn replaced_section(text: &str, name: &str, section: &str) -> Result<String, String> {
    let (start, end) = (format!("<!-- {name}:start -->"), format!("<!-- {name}:end -->"));
    let (starts, ends) = (text.matches(&start).count(), text.matches(&end).count());
    if (starts, ends) != (1, 1) {
        return Err(format!(
            "{starts} {start} and {ends} {end} markers: expected one of each"
        ));
    }
    match (text.find(&start), text.find(&end)) {
        (Some(a), Some(b)) if a < b => Ok(format!("{}{start}\n{section}{}", &text[..a], &text[b..])),
        _ => Err(format!("{end} comes before {start}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_generated_readme_section_appears_once() {
        let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
        for name in [
            "compare",
            "compare-avx2",
            "compare-python",
            "converge",
            "scaling",
            "kernels",
        ] {
            let replaced = replaced_section(&readme, name, "new\n").unwrap();
            assert!(replaced.contains(&format!("<!-- {name}:start -->\nnew\n<!-- {name}:end -->")));
        }
        let twice = "<!-- s:start -->\na\n<!-- s:end -->\n<!-- s:start -->\nb\n<!-- s:end -->\n";
        assert!(
            replaced_section(twice, "s", "x")
                .unwrap_err()
                .contains("2 <!-- s:start -->")
        );
        assert!(replaced_section("<!-- s:end --> <!-- s:start -->", "s", "x").is_err());
        assert!(replaced_section("none", "s", "x").is_err());
    }

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn help_and_unknown_commands_have_their_exit_codes() {
        for help in [
            &["--help"][..],
            &["-h"],
            &["help"],
            &["help", "props"],
            &["tidy", "--help"],
        ] {
            assert_eq!(dispatch(&strings(help)), ExitCode::SUCCESS, "{help:?}");
        }
        for wrong in [
            &[][..],
            &["frobnicate"],
            &["help", "frobnicate"],
            &["tidy", "extra"],
        ] {
            assert_eq!(dispatch(&strings(wrong)), ExitCode::from(2), "{wrong:?}");
        }
    }

    #[test]
    fn every_command_has_help_naming_it_and_is_in_the_overview() {
        let overview = usage();
        for command in &COMMANDS {
            assert!(
                command.help.contains(&format!("cargo xtask {}", command.name)),
                "{}",
                command.name
            );
            assert!(overview.contains(command.name));
        }
    }

    #[test]
    fn positional_arguments_are_checked() {
        assert_eq!(optional_positional(&strings(&[])), Ok(None));
        assert_eq!(optional_positional(&strings(&["kernels"])), Ok(Some("kernels")));
        assert!(matches!(
            optional_positional(&strings(&["--fast"])),
            Err(Failure::Usage(_))
        ));
        assert!(matches!(
            optional_positional(&strings(&["a", "b"])),
            Err(Failure::Usage(_))
        ));
        assert!(matches!(no_arguments(&strings(&["a"])), Err(Failure::Usage(_))));
    }
}
