//! The sizes a user gives, checked against what they cost before anything
//! is allocated.
//!
//! A size (time steps, draws, states, threads) becomes a memory estimate in
//! bytes, computed in `u128` with saturating products so that no size, not
//! even `2^64 − 1`, overflows; the estimate is refused above [`MAX_BYTES`]
//! with a message that states it, and announced on standard error above
//! [`NOTE_BYTES`] (the command then runs).

use crate::error::{CliError, usage};

/// The most memory one command may plan to use: 16 GiB.
pub const MAX_BYTES: u128 = 16 << 30;

/// Above this (1 GiB) the estimate is printed as a note before the work starts.
pub const NOTE_BYTES: u128 = 1 << 30;

/// The most values `emfit sample` writes (observations and hidden labels
/// or states): 10^11, 800 GB as `.npy`. The draws stream to the files, so
/// this bounds the disk, not the memory.
pub const MAX_WRITTEN_VALUES: u128 = 100_000_000_000;

/// Worker threads allowed per core: `--threads` above this many times the
/// number of cores is refused (more threads than that only add switching).
pub const THREADS_PER_CORE: usize = 4;

/// Bytes of `count` values of 8 bytes, `count` given as factors (multiplied
/// without overflow, saturating at `u128::MAX`).
pub fn f64_bytes(factors: &[usize]) -> u128 {
    factors
        .iter()
        .fold(8u128, |acc, &f| acc.saturating_mul(f as u128))
}

/// Checks the memory estimate `bytes` of `what` (e.g. "--steps 100000000"):
/// an error stating the estimate above [`MAX_BYTES`], a note on standard
/// error above [`NOTE_BYTES`].
pub fn check_memory(what: &str, bytes: u128) -> Result<(), CliError> {
    if bytes > MAX_BYTES {
        return Err(usage!(
            "{what} needs about {} of memory, more than the {} a command may use",
            human_bytes(bytes),
            human_bytes(MAX_BYTES)
        ));
    }
    if bytes > NOTE_BYTES {
        eprintln!("emfit: note: {what} needs about {} of memory", human_bytes(bytes));
    }
    Ok(())
}

/// `--threads N` against the `cores` of the machine: at least 1, at most
/// [`THREADS_PER_CORE`] per core.
pub fn check_threads(threads: usize, cores: usize) -> Result<(), CliError> {
    let max = THREADS_PER_CORE.saturating_mul(cores.max(1));
    if threads == 0 {
        Err(usage!("--threads must be at least 1"))
    } else if threads > max {
        Err(usage!(
            "--threads {threads} is more than {THREADS_PER_CORE} per core of this machine's {cores} core(s) (at most {max})"
        ))
    } else {
        Ok(())
    }
}

/// A byte count as `812 B`, `3.4 MB`, `11.2 GB`, `1.5e22 B` (decimal units).
pub fn human_bytes(bytes: u128) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    for unit in UNITS {
        if value < 1000.0 {
            return if unit == "B" {
                format!("{bytes} B")
            } else {
                format!("{value:.1} {unit}")
            };
        }
        value /= 1000.0;
    }
    format!("{:.1e} B", bytes as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_never_overflow_and_read_well() {
        assert_eq!(f64_bytes(&[3, 2]), 48);
        assert_eq!(f64_bytes(&[usize::MAX, usize::MAX, usize::MAX]), u128::MAX);
        assert_eq!(human_bytes(812), "812 B");
        assert_eq!(human_bytes(3_400_000), "3.4 MB");
        assert_eq!(human_bytes(11_200_000_000), "11.2 GB");
        assert_eq!(human_bytes(15_000_000_000_000_000_000_000), "1.5e22 B");
    }

    #[test]
    fn memory_and_threads_are_bounded() {
        assert!(check_memory("a little", 1000).is_ok());
        let message = check_memory("--steps 100000000", 20_000_000_000)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("--steps 100000000 needs about 20.0 GB"),
            "{message}"
        );
        assert!(check_threads(8, 2).is_ok());
        assert!(
            check_threads(0, 2)
                .unwrap_err()
                .to_string()
                .contains("at least 1")
        );
        let message = check_threads(9, 2).unwrap_err().to_string();
        assert!(message.contains("at most 8"), "{message}");
    }
}
