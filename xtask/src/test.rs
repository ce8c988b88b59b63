//! `cargo xtask test [-- PYTEST ARGS]`: every test of the project, the
//! README's test command. First `cargo test --workspace` (the Rust tests),
//! then the MPI tests where MPI is installed (`cargo test -p emfit-mpi
//! --features mpi`, and `emfit fit` under `mpirun` with 1, 2 and 4 ranks:
//! `cargo test -p emfit-cli --features mpi --test cli_mpi`), then the Python
//! package: a virtual environment under
//! `target/python/venv` with the pinned packages of
//! `crates/emfit-py/requirements-test.txt`, the extension built in release
//! mode and installed into it by `maturin develop`, and pytest over
//! `crates/emfit-py/pytests`.

use crate::Failure;

/// `cargo xtask test --help`.
pub const HELP: &str = "\
Runs every test: the Rust tests, then the Python package's.

usage: cargo xtask test [--python-only] [-- PYTEST ARGS]

  1. cargo test --workspace (skipped with --python-only)
     then, where mpirun and mpicc are on the PATH (Open MPI or MPICH, with
     libclang: Debian's openmpi-bin libopenmpi-dev libclang-dev), the MPI
     tests: cargo test -p emfit-mpi --features mpi and
     cargo test -p emfit-cli --features mpi --test cli_mpi (said when skipped)
  2. a virtual environment in target/python/venv with the pinned packages of
     crates/emfit-py/requirements-test.txt (made once; needs python3 with venv
     and pip, and PyPI the first time)
  3. maturin develop --release: builds the extension emfit._emfit and installs
     the package emfit into that environment
  4. pytest crates/emfit-py/pytests [PYTEST ARGS]
";

/// The MPI tests: emfit-mpi's, and `emfit fit` under mpirun.
const MPI_TESTS: [&[&str]; 2] = [
    &["test", "-p", "emfit-mpi", "--features", "mpi"],
    &[
        "test",
        "-p",
        "emfit-cli",
        "--features",
        "mpi",
        "--test",
        "cli_mpi",
    ],
];

/// Entry point of `cargo xtask test`.
pub fn main(args: &[String]) -> Result<(), Failure> {
    let (ours, pytest_args) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], &args[i + 1..]),
        None => (args, &[][..]),
    };
    let python_only = match ours {
        [] => false,
        [flag] if flag == "--python-only" => true,
        [other, ..] => return Err(Failure::Usage(format!("unexpected argument `{other}`"))),
    };
    run(python_only, &[], pytest_args)?;
    eprintln!("test: passed");
    Ok(())
}

/// The steps of `cargo xtask test`; `envs` are set for `cargo test` (the
/// property-test seed of `cargo xtask ci`).
pub fn run(python_only: bool, envs: &[(&str, &str)], pytest_args: &[String]) -> Result<(), String> {
    if !python_only {
        crate::run_command(&crate::cargo(), &["test", "--workspace"], envs)?;
        if ["mpirun", "mpicc"].iter().all(|tool| on_path(tool)) {
            for args in MPI_TESTS {
                crate::run_command(&crate::cargo(), args, envs)?;
            }
        } else {
            eprintln!(
                "test: SKIPPED the MPI tests: no mpirun and mpicc on the PATH \
                 (install Open MPI and libclang, e.g. apt-get install openmpi-bin libopenmpi-dev libclang-dev)"
            );
        }
    }
    let root = crate::workspace_root();
    let venv = root.join("target/python/venv");
    let python = crate::venv::ensure(&venv, &root.join("crates/emfit-py/requirements-test.txt"))?;
    crate::venv::develop_emfit(&venv)?;
    let python = python.to_string_lossy();
    let venv = venv.to_string_lossy();
    let mut pytest = vec!["-m", "pytest", "crates/emfit-py/pytests"];
    pytest.extend(pytest_args.iter().map(String::as_str));
    crate::run_command(&python, &pytest, &[("VIRTUAL_ENV", &venv)])
}

/// Whether an executable named `tool` is in a folder of the PATH.
pub fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
}
