//! What `cargo xtask compare` and `cargo xtask converge` share: the
//! release `emfit-compare` binary, the virtual environment of the pinned
//! Python peers, the workload files both sides read, one fresh process per
//! measured run (its last stdout line that is a JSON object is its result),
//! the thread environment, and the description of the machine.

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

/// Everything a benchmark against the Python peers needs, ready.
pub struct Peers {
    /// The release `emfit-compare` binary.
    pub binary: PathBuf,
    /// `target/compare/venv`, the virtual environment of the peers.
    pub venv: PathBuf,
    /// The Python of [`Peers::venv`].
    pub python: PathBuf,
    /// `xtask/compare/peers.py`.
    pub script: PathBuf,
    /// `target/compare/work`, with the workloads written by `emfit-compare generate`.
    pub work: PathBuf,
    /// The cap of the kernels' instruction set for emfit's runs (`EMFIT_ISA`),
    /// if one was asked for.
    pub isa: Option<String>,
}

impl Peers {
    /// Builds the binary, creates the virtual environment if its
    /// requirements changed, and writes the workloads.
    pub fn prepare() -> Result<Self, String> {
        let root = crate::workspace_root();
        let binary = crate::build_compare_binary()?;
        let venv = root.join("target/compare/venv");
        let python = crate::venv::ensure(&venv, &root.join("xtask/compare/requirements.txt"))?;
        let work = root.join("target/compare/work");
        std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
        crate::run_command(
            &binary.to_string_lossy(),
            &["generate", &work.to_string_lossy()],
            &[],
        )?;
        Ok(Self {
            binary,
            venv,
            python,
            script: root.join("xtask/compare/peers.py"),
            work,
            isa: None,
        })
    }

    /// `emfit-compare ARGS` with `threads` threads (and `EMFIT_ISA` when
    /// [`Peers::isa`] is set).
    pub fn emfit(&self, args: &[&str], threads: usize) -> Command {
        let mut command = Command::new(&self.binary);
        command.args(args).envs(thread_env(threads));
        if let Some(isa) = &self.isa {
            command.env(ISA_VARIABLE, isa);
        }
        command
    }

    /// `python peers.py WORKDIR ARGS` with `threads` threads.
    pub fn peer(&self, args: &[&str], threads: usize) -> Command {
        let mut command = Command::new(&self.python);
        command
            .arg(&self.script)
            .arg(&self.work)
            .args(args)
            .envs(thread_env(threads));
        command
    }

    /// Builds emfit's Python package and installs it into the peers' virtual
    /// environment, beside the libraries it replaces.
    pub fn develop_emfit(&self) -> Result<(), String> {
        crate::venv::develop_emfit(&self.venv)
    }

    /// `emfit 0.x (Python package)`, as the peers' environment imports it.
    pub fn emfit_python_version(&self) -> String {
        command_output(
            &self.python.to_string_lossy(),
            &[
                "-c",
                "import emfit; print(f'emfit {emfit.__version__} (Python package)')",
            ],
        )
    }

    /// `Python 3.x, numpy ..., scipy ..., scikit-learn ..., hmmlearn ..., pykalman ...`.
    pub fn python_versions(&self) -> String {
        command_output(
            &self.python.to_string_lossy(),
            &[
                "-c",
                "import numpy, scipy, sklearn, hmmlearn, pykalman, sys; print(f'Python {sys.version.split()[0]}, numpy {numpy.__version__}, scipy {scipy.__version__}, scikit-learn {sklearn.__version__}, hmmlearn {hmmlearn.__version__}, pykalman {pykalman.__version__}')",
            ],
        )
    }
}

/// OMP/OPENBLAS/MKL/RAYON_NUM_THREADS set to `threads`.
pub fn thread_env(threads: usize) -> Vec<(String, String)> {
    let t = threads.to_string();
    [
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "RAYON_NUM_THREADS",
    ]
    .iter()
    .map(|k| (k.to_string(), t.clone()))
    .collect()
}

/// Runs one measurement in a fresh process (OpenBLAS core-type overrides
/// removed, as they slow a current NumPy; in the workspace root) and returns
/// its JSON line.
pub fn run_json(command: &mut Command) -> Result<Value, String> {
    let output = command
        .env_remove("OPENBLAS_CORETYPE")
        .env_remove("OPENBLAS_L2_SIZE")
        .current_dir(crate::workspace_root())
        .output()
        .map_err(|e| format!("could not start {command:?}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{command:?} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    last_json_line(&String::from_utf8_lossy(&output.stdout))
}

/// The last line of `stdout` that starts with `{`, parsed.
pub fn last_json_line(stdout: &str) -> Result<Value, String> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .ok_or("no JSON line in output")?;
    serde_json::from_str(line).map_err(|e| format!("{line}: {e}"))
}

/// The first line's value of a `/proc/cpuinfo` key (`model name`, `flags`).
fn cpuinfo_field(cpuinfo: &str, key: &str) -> Option<String> {
    cpuinfo.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim().to_string())
    })
}

/// The CPU model from `/proc/cpuinfo`.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| cpuinfo_field(&t, "model name"))
        .unwrap_or_else(|| "unknown CPU".into())
}

/// The widest vector instruction set of the CPU's `flags` line of
/// `/proc/cpuinfo`, by the rule of `linalg_kernels::Isa::detect` (the set the
/// SIMD kernels run with): AVX-512 (`avx512f`, `avx512vl`, `avx512dq` with
/// AVX2), AVX2 (`avx2` with `fma`), or baseline.
pub fn isa_from_cpuinfo(cpuinfo: &str) -> &'static str {
    let flags = cpuinfo_field(cpuinfo, "flags").unwrap_or_default();
    let has = |f: &str| flags.split_whitespace().any(|x| x == f);
    let avx2 = has("avx2") && has("fma");
    if avx2 && has("avx512f") && has("avx512vl") && has("avx512dq") {
        "AVX-512"
    } else if avx2 {
        "AVX2"
    } else {
        "baseline"
    }
}

/// The instruction set of this machine's CPU ([`isa_from_cpuinfo`]).
pub fn cpu_isa() -> &'static str {
    std::fs::read_to_string("/proc/cpuinfo").map_or("unknown instruction set", |t| isa_from_cpuinfo(&t))
}

/// The environment variable that caps the instruction set of emfit's
/// kernels (read by `linalg_kernels::isa`; honoured only downward).
pub const ISA_VARIABLE: &str = "EMFIT_ISA";

/// The values [`ISA_VARIABLE`] takes.
pub const ISA_NAMES: [&str; 3] = ["avx512", "avx2", "baseline"];

/// How a figure's kernels ran: `AVX2 kernels (forced with EMFIT_ISA=avx2;
/// the CPU has AVX-512)`, or `AVX-512 kernels (the widest this CPU has)`.
/// `ran` is the set emfit-compare reported (`avx512`, `avx2`, `baseline`).
pub fn kernels_note(ran: &str, forced: Option<&str>) -> String {
    let shown = match ran {
        "avx512" => "AVX-512",
        "avx2" => "AVX2",
        "baseline" => "baseline",
        other => other,
    };
    match forced {
        Some(cap) => format!(
            "{shown} kernels (forced with {ISA_VARIABLE}={cap}; the CPU has {})",
            cpu_isa()
        ),
        None => format!("{shown} kernels (the widest this CPU has)"),
    }
}

/// The number of cores the benchmarks may use.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The trimmed stdout of a command, or `PROGRAM: unavailable`.
pub fn command_output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| format!("{program}: unavailable"))
}

/// Seconds as `1.23 s`, or `12.34 ms` below one second.
pub fn seconds(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.2} s")
    } else {
        format!("{:.2} ms", s * 1e3)
    }
}

/// `YYYY-MM-DD HH:MM UTC`, now.
pub fn now_utc() -> String {
    command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_instruction_set_comes_from_the_flags_line() {
        let cpu = |flags: &str| format!("processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: {flags}\n");
        let epyc = "fpu sse2 avx avx2 fma avx512f avx512dq avx512cd avx512bw avx512vl";
        assert_eq!(isa_from_cpuinfo(&cpu(epyc)), "AVX-512");
        assert_eq!(isa_from_cpuinfo(&cpu("fpu sse2 avx avx2 fma avx512f")), "AVX2");
        assert_eq!(isa_from_cpuinfo(&cpu("fpu sse2 avx avx2 fma")), "AVX2");
        // A flag's prefix is not the flag; AVX2 without FMA is not the AVX2 level.
        assert_eq!(isa_from_cpuinfo(&cpu("fpu sse2 avx avx2 avx512fp16")), "baseline");
        assert_eq!(isa_from_cpuinfo("no flags here"), "baseline");
        assert_eq!(
            cpuinfo_field(&cpu("x"), "model name").as_deref(),
            Some("AMD EPYC")
        );
    }

    #[test]
    fn the_last_json_line_is_the_result() {
        let v = last_json_line("progress\n{\"a\": 1}\nnoise\n{\"a\": 2}\ntrailer\n").unwrap();
        assert_eq!(v["a"], 2);
        assert!(last_json_line("no json\n").is_err());
        assert!(last_json_line("{not json\n").is_err());
    }
}
