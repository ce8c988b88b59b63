//! `cargo xtask ci [--seed N|random]`: the steps of `.ci/run`, in the order
//! that fails fastest, with the same seed policy (see [`crate::props`]): the
//! property tests replay `PROPTEST_RNG_SEED` from the environment, else the
//! one in `.cargo/config.toml`'s `[env]` table.

use crate::Failure;

/// `cargo xtask ci --help`.
pub const HELP: &str = "\
Runs what .ci/run runs, stopping at the first failure:
  cargo fmt --all -- --check
  cargo clippy --workspace --all-targets -- -D warnings
  cargo clippy -p emfit-mpi|emfit-cli --features mpi --all-targets -- -D warnings
    (where mpicc is on the PATH)
  cargo xtask test (cargo test --workspace, then the Python package's tests)
  RUSTDOCFLAGS=\"-D warnings\" cargo doc --workspace --no-deps
  cargo xtask asm-check

usage: cargo xtask ci [--seed N|random]

  --seed N         proptest seed for the tests (PROPTEST_RNG_SEED=N, a decimal u64)
  --seed random    a fresh seed, drawn and printed so that a failure can be replayed

Without --seed the property tests replay PROPTEST_RNG_SEED from the environment
if set, else the fixed seed in .cargo/config.toml's [env] table, as .ci/run does.
";

/// Entry point of `cargo xtask ci`.
pub fn main(args: &[String]) -> Result<(), Failure> {
    let options = crate::props::parse(args, false)?;
    let cargo = "cargo";
    crate::run_command(cargo, &["fmt", "--all", "--", "--check"], &[])?;
    crate::run_command(
        cargo,
        &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"],
        &[],
    )?;
    if crate::test::on_path("mpicc") {
        for package in ["emfit-mpi", "emfit-cli"] {
            crate::run_command(
                cargo,
                &[
                    "clippy",
                    "-p",
                    package,
                    "--features",
                    "mpi",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ],
                &[],
            )?;
        }
    }
    let seed = options.seed.resolve().map(|s| s.to_string());
    let envs: Vec<(&str, &str)> = seed.iter().map(|s| ("PROPTEST_RNG_SEED", s.as_str())).collect();
    crate::test::run(false, &envs, &[]).map_err(|e| match &seed {
        Some(s) => format!("{e}\nreplay with: cargo xtask ci --seed {s}"),
        None => e,
    })?;
    crate::run_command(
        cargo,
        &["doc", "--workspace", "--no-deps", "--quiet"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    crate::asm_check::main(&[])?;
    eprintln!("ci: passed");
    Ok(())
}
