//! Out-of-core EM ([`OutOfCore`]): a fit streaming a `.npy` or CSV file a
//! chunk at a time is the in-memory [`Parts`] fit over the same chunks bit
//! for bit, the in-memory fit of the whole to 1e-12 relative, and bad files
//! are refused naming the place in the file.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use em_driver::faer::{Mat, MatRef};
use em_driver::io::{self, DataError, ReadOptions};
use em_driver::mixture::{CovarianceType, Covariances, GaussianMixture, InitConfig, MStepOptions};
use em_driver::{
    Convergence, EmModel, Executor, Fit, Layout, NoopObserver, OutOfCore, PartError, Parts, SampleSpec,
    Settings, Start, fit, fit_with,
};

/// 1000 rows of three well-separated Gaussian clusters in 3-D (a fit whose
/// rounding differences do not grow).
fn data() -> Mat<f64> {
    use em_driver::rand::SeedableRng;
    let truth = GaussianMixture::new(
        vec![0.2, 0.3, 0.5],
        Mat::from_fn(3, 3, |k, j| if j == k { 8.0 } else { -(k as f64) }),
        Covariances::Full(vec![Mat::identity(3, 3); 3]),
    )
    .unwrap();
    let mut rng = em_driver::rand::rngs::StdRng::seed_from_u64(3);
    truth.sample(1000, &mut rng).0
}

fn write(dir: &Path, name: &str, x: MatRef<'_, f64>) -> PathBuf {
    let path = dir.join(name);
    io::write_matrix(&path, x, None).unwrap();
    path
}

/// Chunks of `n` independent rows.
fn rows(n: usize) -> Layout<'static> {
    Layout::Rows(NonZeroUsize::new(n).unwrap())
}

/// Twenty iterations, however the log-likelihood moves.
fn settings(restarts: usize) -> Settings {
    Settings::builder()
        .convergence(Convergence::FixedIterations)
        .max_iterations(20)
        .restarts(restarts)
        .seed(9)
        .build()
        .unwrap()
}

fn config() -> InitConfig {
    InitConfig::new(3, CovarianceType::Full)
}

fn params(fit: &Fit<GaussianMixture>) -> Vec<f64> {
    fit.model.flat_parameters(&MStepOptions::default()).unwrap()
}

fn assert_close(got: &[f64], want: &[f64], relative: f64) {
    assert_eq!(got.len(), want.len());
    for (a, b) in got.iter().zip(want) {
        assert!((a - b).abs() <= relative * b.abs().max(1e-300), "{a} vs {b}");
    }
}

/// A warm start: the initialisation on the data with another seed.
fn warm(x: MatRef<'_, f64>) -> GaussianMixture {
    use em_driver::rand::SeedableRng;
    let mut rng = em_driver::rand::rngs::StdRng::seed_from_u64(1);
    GaussianMixture::init_from_data(x, &config(), &mut rng).unwrap()
}

#[test]
fn a_streamed_fit_is_the_in_memory_fit_of_the_same_chunks_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let x = data();
    let options = MStepOptions::default();
    let whole = fit(x.as_ref(), Start::Warm(warm(x.as_ref())), &options, &settings(1)).unwrap();
    let npy = write(dir.path(), "x.npy", x.as_ref());
    let csv = write(dir.path(), "x.csv", x.as_ref());
    for chunk in [1000, 128, 333, 5000] {
        let cuts: Vec<MatRef<'_, f64>> = (0..1000)
            .step_by(chunk)
            .map(|start| x.as_ref().subrows(start, chunk.min(1000 - start)))
            .collect();
        let parts = Parts::<GaussianMixture>::new(cuts).unwrap();
        let start = || Start::Warm(warm(x.as_ref()));
        let want = fit_with(&parts, start(), &options, &settings(1), &mut NoopObserver).unwrap();
        for path in [&npy, &csv] {
            let streamed =
                OutOfCore::<GaussianMixture>::open(path, &ReadOptions::default(), rows(chunk), None).unwrap();
            assert_eq!(streamed.file().rows(), 1000);
            assert_eq!(streamed.file().n_chunks(), 1000usize.div_ceil(chunk));
            let got = fit_with(&streamed, start(), &options, &settings(1), &mut NoopObserver).unwrap();
            assert_eq!(
                got.report.history, want.report.history,
                "{chunk} rows of {path:?}"
            );
            assert_eq!(params(&got), params(&want), "{chunk} rows of {path:?}");
            assert_eq!(got.report.iterations, 20);
            // The single piece, up to the rounding of other sums.
            assert_close(&params(&got), &params(&whole), 1e-12);
            assert_close(&got.report.history, &whole.report.history, 1e-12);
        }
    }
}

#[test]
fn restarts_initialise_on_a_sample_that_with_every_row_is_the_in_memory_start() {
    let dir = tempfile::tempdir().unwrap();
    let x = data();
    let options = MStepOptions::default();
    let path = write(dir.path(), "x.npy", x.as_ref());
    let single = fit(x.as_ref(), Start::FromData(config()), &options, &settings(3)).unwrap();
    let all = SampleSpec { size: 1000, seed: 4 };
    for chunk in [100, 999] {
        let streamed =
            OutOfCore::<GaussianMixture>::open(&path, &ReadOptions::default(), rows(chunk), Some(all))
                .unwrap();
        assert_eq!(streamed.sample().unwrap(), (x.as_ref(), &[][..]));
        let got = fit_with(
            &streamed,
            Start::FromData(config()),
            &options,
            &settings(3),
            &mut NoopObserver,
        )
        .unwrap();
        assert_eq!(got.report.restarts.len(), 3);
        assert_eq!(got.report.best_restart, single.report.best_restart);
        assert_close(&params(&got), &params(&single), 1e-12);
    }
    // A smaller sample: the same rows for any chunk size, rows of the file
    // in file order.
    let some = SampleSpec { size: 50, seed: 4 };
    let samples: Vec<Mat<f64>> = [7, 100, 1000]
        .into_iter()
        .map(|chunk| {
            let streamed =
                OutOfCore::<GaussianMixture>::open(&path, &ReadOptions::default(), rows(chunk), Some(some))
                    .unwrap();
            streamed.sample().unwrap().0.to_owned()
        })
        .collect();
    assert_eq!(samples[0].nrows(), 50);
    assert!(samples.iter().all(|s| *s == samples[0]));
    let in_file: Vec<usize> = (0..50)
        .map(|i| (0..1000).find(|&r| x.row(r) == samples[0].row(i)).unwrap())
        .collect();
    assert!(in_file.windows(2).all(|w| w[0] < w[1]), "{in_file:?}");
    // Without a sample only warm starts fit.
    let streamed =
        OutOfCore::<GaussianMixture>::open(&path, &ReadOptions::default(), rows(100), None).unwrap();
    assert!(streamed.sample().is_none());
    assert!(
        fit_with(
            &streamed,
            Start::FromData(config()),
            &options,
            &settings(1),
            &mut NoopObserver
        )
        .is_err()
    );
}

#[test]
fn a_bad_value_in_the_middle_of_the_file_is_refused_naming_its_row() {
    let dir = tempfile::tempdir().unwrap();
    let mut x = data();
    x[(700, 1)] = f64::NAN;
    let open = |path: &Path| {
        OutOfCore::<GaussianMixture>::open(path, &ReadOptions::default(), rows(128), None).map(|_| ())
    };
    let npy = write(dir.path(), "nan.npy", x.as_ref());
    let err = open(&npy).unwrap_err();
    assert!(
        matches!(err, DataError::NpyValue { row: 701, col: 2, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("nan.npy"), "{err}");
    // CSV: a missing cell at line 701 (no header), and a short line.
    let csv = write(dir.path(), "nan.csv", x.as_ref());
    let err = open(&csv).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Cell {
                line: 701,
                col: 2,
                ..
            }
        ),
        "{err}"
    );
    let text: String = (0..400)
        .map(|i| {
            if i == 300 {
                "1,2\n".to_string()
            } else {
                format!("{i},1,2\n")
            }
        })
        .collect();
    let short = dir.path().join("short.csv");
    std::fs::write(&short, text).unwrap();
    let err = open(&short).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Ragged {
                line: 301,
                found: 2,
                expected: 3,
                first_line: 1,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_truncated_or_changed_file_is_refused_and_no_step_is_half_done() {
    let dir = tempfile::tempdir().unwrap();
    let x = data();
    let path = write(dir.path(), "x.npy", x.as_ref());
    let bytes = std::fs::read(&path).unwrap();
    let cut = dir.path().join("cut.npy");
    std::fs::write(&cut, &bytes[..bytes.len() - 12]).unwrap();
    let err = OutOfCore::<GaussianMixture>::open(&cut, &ReadOptions::default(), rows(100), None)
        .map(|_| ())
        .unwrap_err();
    assert!(matches!(err, DataError::NpySize { .. }), "{err}");

    // The file loses rows after it was opened: the E-step fails, with the
    // reader's typed error kept.
    let model = warm(x.as_ref());
    for name in ["y.npy", "y.csv"] {
        let path = write(dir.path(), name, x.as_ref());
        let streamed =
            OutOfCore::<GaussianMixture>::open(&path, &ReadOptions::default(), rows(300), None).unwrap();
        let before = streamed.e_step(&model).unwrap();
        io::write_matrix(&path, x.as_ref().subrows(0, 900), None).unwrap();
        let Err(PartError::Remote { part, message }) = streamed.e_step(&model) else {
            panic!("the E-step of a shorter {name} succeeded");
        };
        let err = streamed.take_read_error().unwrap();
        assert_eq!(message, err.to_string());
        assert!(
            matches!(
                err,
                DataError::RowRange {
                    start: 900,
                    end: 1000,
                    rows: 900,
                    ..
                }
            ),
            "{err}"
        );
        assert!(part <= 3, "{part}");
        // The same file again: the same E-step as before.
        io::write_matrix(&path, x.as_ref(), None).unwrap();
        let again = streamed.e_step(&model).unwrap();
        assert_eq!(again.log_likelihood, before.log_likelihood);
        // A file of other columns.
        io::write_matrix(&path, x.as_ref().subcols(0, 2), None).unwrap();
        assert!(streamed.log_likelihood(&model).is_err());
        let err = streamed.take_read_error().unwrap();
        assert!(
            matches!(
                err,
                DataError::Columns {
                    found: 2,
                    expected: 3,
                    ..
                }
            ),
            "{err}"
        );
    }
}

/// A file that grows between passes is refused; the values of a later
/// pass are checked again when the file's time changed (a bad value named
/// by its place in the file), else left to the model's own check (a bad
/// value named by its chunk and row in it).
#[test]
fn a_file_changed_between_passes_is_refused_naming_what_changed() {
    use em_driver::mixture::MixtureError;
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let x = data();
    let model = warm(x.as_ref());
    let open = |path: &Path| {
        OutOfCore::<GaussianMixture>::open(path, &ReadOptions::default(), rows(300), None).unwrap()
    };
    for name in ["g.npy", "g.csv"] {
        let path = write(dir.path(), name, x.as_ref());
        let streamed = open(&path);
        streamed.e_step(&model).unwrap();
        let grown = Mat::from_fn(1010, 3, |i, j| x[(i % 1000, j)]);
        io::write_matrix(&path, grown.as_ref(), None).unwrap();
        assert!(matches!(streamed.e_step(&model), Err(PartError::Remote { .. })));
        let err = streamed.take_read_error().unwrap();
        assert!(matches!(err, DataError::MoreRows { expected: 1000, .. }), "{err}");
        assert!(err.to_string().contains(name), "{err}");
    }
    let path = write(dir.path(), "c.npy", x.as_ref());
    let time = std::fs::metadata(&path).unwrap().modified().unwrap();
    let streamed = open(&path);
    let before = streamed.e_step(&model).unwrap();
    let mut bad = x.clone();
    bad[(700, 1)] = f64::NAN;
    io::write_matrix(&path, bad.as_ref(), None).unwrap();
    let set_time = |time| {
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(time)
            .unwrap();
    };
    // The same length and time: the pass does not check the values.
    set_time(time);
    let Err(PartError::Part { part, source }) = streamed.e_step(&model) else {
        panic!("an E-step of a NaN succeeded");
    };
    assert_eq!(part, 2);
    assert!(
        matches!(source, MixtureError::NonFiniteData { row: 100, col: 1, .. }),
        "{source}"
    );
    // Another time: the pass checks them.
    set_time(time + Duration::from_secs(1));
    assert!(matches!(
        streamed.log_likelihood(&model),
        Err(PartError::Remote { .. })
    ));
    let err = streamed.take_read_error().unwrap();
    assert!(
        matches!(err, DataError::NpyValue { row: 701, col: 2, .. }),
        "{err}"
    );
    // The file as it was, at another time: checked, and the E-step of before.
    io::write_matrix(&path, x.as_ref(), None).unwrap();
    set_time(time + Duration::from_secs(2));
    assert_eq!(streamed.e_step(&model).unwrap().to_flat(), before.to_flat());
}

#[test]
fn a_model_error_names_the_chunk_and_the_row_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut x = data();
    x[(650, 0)] = 1e150;
    let path = write(dir.path(), "far.npy", x.as_ref());
    let streamed =
        OutOfCore::<GaussianMixture>::open(&path, &ReadOptions::default(), rows(200), None).unwrap();
    // Variances of 1e-12: row 651 is 1e156 standard deviations away, and
    // its squared distance overflows.
    let narrow = GaussianMixture::new(
        vec![0.5, 0.5],
        Mat::zeros(2, 3),
        Covariances::Full(vec![Mat::<f64>::identity(3, 3) * 1e-12; 2]),
    )
    .unwrap();
    let Err(PartError::Part { part, source }) = streamed.e_step(&narrow) else {
        panic!("row 651 is possible");
    };
    assert_eq!(part, 3);
    assert!(
        matches!(
            source,
            em_driver::mixture::MixtureError::ZeroLikelihood { row: 50 }
        ),
        "{source}"
    );
}

/// Chunks of at least 64 Ki values: the next chunk of a `.npy` file is read
/// on a thread during the E-step of this one.
#[test]
fn chunks_read_ahead_on_a_thread_give_the_same_e_step_and_the_first_bad_row() {
    use em_driver::rand::SeedableRng;
    let dir = tempfile::tempdir().unwrap();
    let model = warm(data().as_ref());
    let mut rng = em_driver::rand::rngs::StdRng::seed_from_u64(8);
    let (x, _) = model.sample(80_000, &mut rng);
    let path = write(dir.path(), "big.npy", x.as_ref());
    let chunk = 25_000; // 75,000 values per chunk, four chunks
    let cuts: Vec<MatRef<'_, f64>> = (0..80_000)
        .step_by(chunk)
        .map(|start| x.as_ref().subrows(start, chunk.min(80_000 - start)))
        .collect();
    let want = Parts::<GaussianMixture>::new(cuts)
        .unwrap()
        .e_step(&model)
        .unwrap();
    let streamed = OutOfCore::<GaussianMixture>::open(
        &path,
        &ReadOptions::default(),
        rows(chunk),
        Some(SampleSpec { size: 100, seed: 1 }),
    )
    .unwrap();
    assert_eq!(streamed.file().n_chunks(), 4);
    for _ in 0..2 {
        assert_eq!(streamed.e_step(&model).unwrap().to_flat(), want.to_flat());
        assert_eq!(streamed.log_likelihood(&model).unwrap(), want.log_likelihood);
    }
    // Bad values in chunk 2 (row 55,001 column 3 and row 60,001 column 1,
    // decoded a column at a time) and chunk 3: the first in the file is
    // named.
    let mut bad = x.clone();
    bad[(60_000, 0)] = f64::INFINITY;
    bad[(55_000, 2)] = f64::NAN;
    bad[(76_000, 1)] = f64::NAN;
    let path = write(dir.path(), "bad.npy", bad.as_ref());
    let err = OutOfCore::<GaussianMixture>::open(&path, &ReadOptions::default(), rows(chunk), None)
        .map(|_| ())
        .unwrap_err();
    assert!(
        matches!(
            err,
            DataError::NpyValue {
                row: 55_001,
                col: 3,
                ..
            }
        ),
        "{err}"
    );
}
