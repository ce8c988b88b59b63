//! The example program `fit_gmm` under `mpirun -np 1, 2, 4` (Open MPI's
//! `mpirun`, with `--oversubscribe` for more ranks than cores): every
//! number of ranks gives the fit of the same rows split the same way in one
//! process bit for bit, and the single-process fit to 1e-12 (plain EM; with
//! SQUAREM, whose extrapolations magnify rounding, to 1e-10); a rank
//! without rows contributes nothing; a bad value on one rank stops every
//! rank with one message naming the rank and the row of the file, and no
//! model file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use em_driver::em_core::{Acceleration, Fit, NoopObserver, Parts, Settings, Start, Tolerance, fit, fit_with};
use em_driver::faer::Mat;
use em_driver::mixture::{CovarianceType, GaussianMixture, InitConfig, InitMethod, MStepOptions};
use em_driver::rand::SeedableRng;
use em_driver::rand::rngs::StdRng;
use em_driver::{EmModel, ModelFile};
use emfit_mpi::rows_of;
use rand_distr::{Distribution, Normal};

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

/// Three clusters in 3-D, apart enough that EM contracts: rounding
/// differences of another summation order do not grow from iteration to
/// iteration (on a fit that crawls, they would, as between any two
/// summation orders).
fn data(rows: usize) -> Mat<f64> {
    let mut rng = StdRng::seed_from_u64(5);
    let unit = Normal::new(0.0, 1.0).unwrap();
    Mat::from_fn(rows, 3, |i, j| {
        let centre = [0.0, 4.0, 8.0][i % 3];
        centre * (1.0 + j as f64 * 0.1) + unit.sample(&mut rng)
    })
}

/// The settings `fit_gmm` builds from [`args`].
fn settings(acceleration: Acceleration) -> Settings {
    Settings::builder()
        .max_iterations(40)
        .tolerance(Tolerance::absolute(1e-6))
        .acceleration(acceleration)
        .seed(0)
        .build()
        .unwrap()
}

/// `fit_gmm`'s options for [`settings`].
fn args(acceleration: Acceleration) -> [&'static str; 6] {
    let name = if acceleration == Acceleration::None {
        "none"
    } else {
        "squarem"
    };
    [
        "--max-iterations",
        "40",
        "--tolerance",
        "1e-6",
        "--acceleration",
        name,
    ]
}

/// A start at random data points, saved as a model file.
fn start(x: &Mat<f64>, k: usize, dir: &Path) -> (GaussianMixture, PathBuf) {
    let mut config = InitConfig::new(k, CovarianceType::Full);
    config.method = InitMethod::RandomPoints;
    let model = GaussianMixture::init_from_data(x.as_ref(), &config, &mut StdRng::seed_from_u64(1)).unwrap();
    let path = dir.join("start.json");
    model.save(&path).unwrap();
    (model, path)
}

/// The fit of `x` split over `ranks` as `fit_gmm` splits it, in one process.
fn in_one_process(
    x: &Mat<f64>,
    ranks: usize,
    start: &GaussianMixture,
    acceleration: Acceleration,
) -> Fit<GaussianMixture> {
    let parts: Vec<_> = (0..ranks)
        .map(|r| rows_of(r, ranks, x.nrows()))
        .filter(|rows| !rows.is_empty())
        .map(|rows| x.as_ref().subrows(rows.start, rows.len()))
        .collect();
    let executor = Parts::new(parts).unwrap();
    let options = MStepOptions::default();
    let settings = settings(acceleration);
    fit_with(
        &executor,
        Start::Warm(start.clone()),
        &options,
        &settings,
        &mut NoopObserver,
    )
    .unwrap()
}

fn parameters(model: &GaussianMixture) -> Vec<f64> {
    model.flat_parameters(&MStepOptions::default()).unwrap()
}

/// Runs `fit_gmm` on `ranks` ranks and loads the model it wrote.
fn fit_on(
    ranks: usize,
    data: &Path,
    k: usize,
    start: &Path,
    dir: &Path,
    acceleration: Acceleration,
) -> GaussianMixture {
    let out = dir.join(format!("model-{ranks}.json"));
    let k = k.to_string();
    let mut args = vec![
        data.to_str().unwrap(),
        &k,
        out.to_str().unwrap(),
        "--start",
        start.to_str().unwrap(),
    ];
    args.extend(self::args(acceleration));
    let output = mpirun(ranks, &args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let log = String::from_utf8_lossy(&output.stdout);
    assert!(log.contains(&format!("{ranks} ranks")), "{log}");
    GaussianMixture::load(&out).unwrap()
}

#[test]
fn any_number_of_ranks_gives_the_single_process_fit() {
    let dir = tempfile::tempdir().unwrap();
    let x = data(1001);
    let path = dir.path().join("x.npy");
    em_driver::io::write_matrix(&path, x.as_ref(), None).unwrap();
    let (start, start_path) = start(&x, 3, dir.path());
    for (acceleration, tolerance) in [(Acceleration::None, 1e-12), (Acceleration::squarem(), 1e-10)] {
        let settings = settings(acceleration);
        let single = fit(
            x.as_ref(),
            Start::Warm(start.clone()),
            &MStepOptions::default(),
            &settings,
        )
        .unwrap();
        assert!(
            single.report.iterations >= 5,
            "EM has work to do: {}",
            single.report
        );
        let want = parameters(&single.model);
        for ranks in [1, 2, 4] {
            let model = fit_on(ranks, &path, 3, &start_path, dir.path(), acceleration);
            let got = parameters(&model);
            let same_split = parameters(&in_one_process(&x, ranks, &start, acceleration).model);
            assert_eq!(
                got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                same_split.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                "{ranks} ranks"
            );
            for (a, b) in got.iter().zip(&want) {
                assert!(
                    (a - b).abs() <= tolerance * b.abs().max(1.0),
                    "{ranks} ranks: {a} vs {b}"
                );
            }
            if ranks == 1 {
                assert_eq!(got, want);
            }
        }
    }
}

#[test]
fn a_rank_without_rows_contributes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let x = data(3);
    let path = dir.path().join("three.npy");
    em_driver::io::write_matrix(&path, x.as_ref(), None).unwrap();
    let (start, start_path) = start(&x, 1, dir.path());
    let want = parameters(&in_one_process(&x, 4, &start, Acceleration::squarem()).model);
    let got = parameters(&fit_on(
        4,
        &path,
        1,
        &start_path,
        dir.path(),
        Acceleration::squarem(),
    ));
    assert_eq!(got, want);
}

#[test]
fn a_bad_value_on_one_rank_stops_every_rank_with_its_row_and_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut x = data(1001);
    x[(700, 1)] = f64::NAN;
    let path = dir.path().join("bad.npy");
    em_driver::io::write_npy(std::fs::File::create(&path).unwrap(), x.as_ref()).unwrap();
    let out = dir.path().join("never.json");
    let output = mpirun(4, &[path.to_str().unwrap(), "3", out.to_str().unwrap()]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let message = "fit_gmm: rank 2: ";
    assert_eq!(stderr.matches(message).count(), 1, "{stderr}");
    assert!(stderr.contains("(row 701, column 2): value NaN"), "{stderr}");
    assert!(!out.exists());
}

#[test]
fn the_seeded_start_is_the_same_on_any_number_of_ranks() {
    let dir = tempfile::tempdir().unwrap();
    let x = data(1001);
    let path = dir.path().join("x.npy");
    em_driver::io::write_matrix(&path, x.as_ref(), None).unwrap();
    let fit_seeded = |ranks: usize| {
        let out = dir.path().join(format!("seeded-{ranks}.json"));
        let args = [
            path.to_str().unwrap(),
            "3",
            out.to_str().unwrap(),
            "--sample",
            "300",
            "--seed",
            "9",
        ];
        let output = mpirun(
            ranks,
            &[&args[..], &self::args(Acceleration::squarem())[..]].concat(),
        );
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        parameters(&GaussianMixture::load(&out).unwrap())
    };
    let one = fit_seeded(1);
    for (a, b) in fit_seeded(3).iter().zip(&one) {
        assert!((a - b).abs() <= 1e-10 * b.abs().max(1.0), "{a} vs {b}");
    }
}

#[test]
fn generated_rows_give_the_fit_of_the_same_data_in_one_process() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("generated.json");
    let output = mpirun(
        3,
        &[
            &[
                "--generate",
                "5000",
                "--dimension",
                "3",
                "3",
                out.to_str().unwrap(),
                "--seed",
                "2",
            ][..],
            &args(Acceleration::None)[..],
        ]
        .concat(),
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The same rows in one piece; the seeded sample of 100,000 rows is all
    // of them, in order, so the start is the one-piece initialisation.
    let x = emfit_mpi::gaussian_clusters(0..5000, 3, 3, 2);
    let config = InitConfig::new(3, CovarianceType::Full);
    let start = GaussianMixture::init_from_data(x.as_ref(), &config, &mut StdRng::seed_from_u64(2)).unwrap();
    let want = parameters(&in_one_process(&x, 3, &start, Acceleration::None).model);
    assert_eq!(parameters(&GaussianMixture::load(&out).unwrap()), want);
}
