//! The example program `fit_gmm` under `mpirun -np 3` (Open MPI's
//! `mpirun`, with `--oversubscribe` for more ranks than cores): every rank
//! generates its own rows of one synthetic data set, and the fit is the
//! fit of the same rows split the same way in one process, bit for bit.
//! (Data files under mpirun are `emfit fit`'s, tested in emfit-cli.)

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use em_driver::em_core::{Acceleration, NoopObserver, Parts, Settings, Start, Tolerance, fit_with};
use em_driver::mixture::{CovarianceType, GaussianMixture, InitConfig, MStepOptions};
use em_driver::rand::SeedableRng;
use em_driver::rand::rngs::StdRng;
use em_driver::{EmModel, ModelFile};
use emfit_mpi::rows_of;

/// The example program, built by `cargo test` next to this test's binary.
fn program() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile = exe.parent().and_then(Path::parent).unwrap();
    profile.join("examples").join("fit_gmm")
}

/// `mpirun -np ranks fit_gmm args...`.
fn mpirun(ranks: usize, args: &[&str]) -> Output {
    Command::new("mpirun")
        .args(["--oversubscribe", "-np", &ranks.to_string()])
        .arg(program())
        .args(args)
        // Containers and CI run as root, which Open MPI refuses unless told.
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .output()
        .expect("mpirun runs (Open MPI installed)")
}

#[test]
fn generated_rows_give_the_fit_of_the_same_data_in_one_process() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("generated.json");
    let output = mpirun(
        3,
        &[
            "--generate",
            "5000",
            "--dimension",
            "3",
            "3",
            out.to_str().unwrap(),
            "--seed",
            "2",
            "--max-iterations",
            "40",
            "--tolerance",
            "1e-6",
            "--acceleration",
            "none",
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let log = String::from_utf8_lossy(&output.stdout);
    assert!(log.contains("3 ranks, 5000 rows"), "{log}");
    // The same rows in one piece; the seeded sample of 100,000 rows is all
    // of them, in order, so the start is the one-piece initialisation of
    // restart 0.
    let x = emfit_mpi::gaussian_clusters(0..5000, 3, 3, 2);
    let settings = Settings::builder()
        .max_iterations(40)
        .tolerance(Tolerance::absolute(1e-6))
        .acceleration(Acceleration::None)
        .seed(2)
        .build()
        .unwrap();
    let config = InitConfig::new(3, CovarianceType::Full);
    let mut rng = StdRng::seed_from_u64(settings.restart_seed(0));
    let start = GaussianMixture::init_from_data(x.as_ref(), &config, &mut rng).unwrap();
    let parts: Vec<_> = (0..3)
        .map(|r| rows_of(r, 3, x.nrows()))
        .map(|rows| x.as_ref().subrows(rows.start, rows.len()))
        .collect();
    let options = MStepOptions::default();
    let same_split = fit_with(
        &Parts::new(parts).unwrap(),
        Start::Warm(start),
        &options,
        &settings,
        &mut NoopObserver,
    )
    .unwrap();
    let got = GaussianMixture::load(&out).unwrap();
    assert_eq!(
        got.flat_parameters(&options).unwrap(),
        same_split.model.flat_parameters(&options).unwrap()
    );
}

/// A usage error on every rank ends the job with rank 0's message alone:
/// the ranks' closing all-gather of empty messages is a valid MPI call (an
/// empty buffer's dangling address 1 is Open MPI's `MPI_IN_PLACE`, which
/// aborted the job with MPI_ERR_ARG).
#[test]
fn a_usage_error_ends_every_rank_without_an_mpi_error() {
    let output = mpirun(2, &["--bogus"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert_eq!(
        stderr.matches("fit_gmm: unknown option --bogus").count(),
        1,
        "{stderr}"
    );
    assert!(!stderr.contains("MPI_ERR"), "{stderr}");
}
