//! Out-of-core EM of an HMM ([`OutOfCore`] over [`Layout::Sequences`]): a
//! fit streaming a `.npy` or CSV file in groups of whole sequences is the
//! in-memory [`Parts`] fit over the same groups bit for bit, the in-memory
//! fit of the whole to 1e-12 relative, its log-likelihood never falls, it
//! initialises on a seeded sample of whole sequences, and bad files are
//! refused naming the place in the file (or the lengths file).

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use em_driver::faer::{Mat, MatRef};
use em_driver::hmm::{
    CovarianceType, GaussianHmm, GaussianInit, InitConfig, MStepOptions, Sequences, scenario,
};
use em_driver::io::{self, DataError, ReadOptions};
use em_driver::{
    Convergence, EmModel, Executor, Fit, Layout, NoopObserver, OutOfCore, PartError, Parts, RestartSummary,
    SampleSpec, Settings, Start, fit, fit_with,
};

/// 2000 observations (1-D) in 80 sequences of 1 to about 100 rows.
fn data() -> (Mat<f64>, Vec<usize>) {
    let sample = scenario::sample_with(5, 2000, 80).unwrap();
    (sample.x, sample.lengths)
}

fn write(dir: &Path, name: &str, x: MatRef<'_, f64>) -> PathBuf {
    let path = dir.join(name);
    io::write_matrix(&path, x, None).unwrap();
    path
}

fn layout<'a>(path: &'a Path, lengths: &'a [usize], target: usize) -> Layout<'a> {
    Layout::Sequences {
        path,
        lengths,
        target: NonZeroUsize::new(target).unwrap(),
    }
}

/// Groups of consecutive sequences, each as many as fit in `target` rows
/// (a longer sequence alone): the number of sequences of every group.
fn groups(lengths: &[usize], target: usize) -> Vec<usize> {
    let mut groups: Vec<(usize, usize)> = Vec::new();
    for &len in lengths {
        match groups.last_mut() {
            Some((n, rows)) if *rows + len <= target => {
                *n += 1;
                *rows += len;
            }
            _ => groups.push((1, len)),
        }
    }
    groups.into_iter().map(|(n, _)| n).collect()
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

fn config() -> InitConfig<GaussianInit> {
    InitConfig::new(3, GaussianInit::new(CovarianceType::Full))
}

fn params(fit: &Fit<GaussianHmm>) -> Vec<f64> {
    fit.model.flat_parameters(&MStepOptions::default()).unwrap()
}

fn assert_close(got: &[f64], want: &[f64], relative: f64) {
    assert_eq!(got.len(), want.len());
    for (a, b) in got.iter().zip(want) {
        assert!((a - b).abs() <= relative * b.abs().max(1e-300), "{a} vs {b}");
    }
}

/// A warm start: the initialisation on the data with another seed.
fn warm(data: &Sequences<'_>) -> GaussianHmm {
    use em_driver::rand::SeedableRng;
    let mut rng = em_driver::rand::rngs::StdRng::seed_from_u64(1);
    GaussianHmm::init_from_data(data, &config(), &mut rng).unwrap()
}

#[test]
fn a_streamed_hmm_fit_is_the_in_memory_fit_of_the_same_sequence_groups_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let (x, lengths) = data();
    let whole_data = Sequences::new(x.as_ref(), &lengths).unwrap();
    let options = MStepOptions::default();
    let start = || Start::Warm(warm(&whole_data));
    let whole = fit(&whole_data, start(), &options, &settings(1)).unwrap();
    let npy = write(dir.path(), "x.npy", x.as_ref());
    let csv = write(dir.path(), "x.csv", x.as_ref());
    let lengths_path = dir.path().join("lengths.txt");
    for target in [1, 90, 250, 700, 5000] {
        let mut parts: Vec<Sequences<'_>> = Vec::new();
        let (mut row, mut sequence) = (0, 0);
        for n in groups(&lengths, target) {
            let group = &lengths[sequence..sequence + n];
            let rows: usize = group.iter().sum();
            parts.push(Sequences::new(x.as_ref().subrows(row, rows), group).unwrap());
            (row, sequence) = (row + rows, sequence + n);
        }
        let want = fit_with(
            &Parts::<GaussianHmm>::new(parts.iter().collect()).unwrap(),
            start(),
            &options,
            &settings(1),
            &mut NoopObserver,
        )
        .unwrap();
        for path in [&npy, &csv] {
            let streamed = OutOfCore::<GaussianHmm>::open(
                path,
                &ReadOptions::default(),
                layout(&lengths_path, &lengths, target),
                None,
            )
            .unwrap();
            assert_eq!(streamed.file().rows(), 2000);
            assert_eq!(streamed.file().n_chunks(), parts.len(), "{target} rows");
            // Every chunk is its group: whole sequences, at most `target`
            // rows unless one sequence is longer.
            let (mut row, mut sequence) = (0, 0);
            for (c, part) in parts.iter().enumerate() {
                assert_eq!(streamed.chunk_start(c), (row, sequence));
                assert_eq!(streamed.chunk_lengths(c), part.lengths());
                assert!(part.n_samples() <= target || part.n_sequences() == 1);
                (row, sequence) = (row + part.n_samples(), sequence + part.n_sequences());
            }
            let got = fit_with(&streamed, start(), &options, &settings(1), &mut NoopObserver).unwrap();
            assert_eq!(
                got.report.history, want.report.history,
                "{target} rows of {path:?}"
            );
            assert_eq!(params(&got), params(&want), "{target} rows of {path:?}");
            assert_eq!(got.report.iterations, 20);
            // EM's log-likelihood never falls (but for rounding).
            for w in got.report.history.windows(2) {
                assert!(w[1] >= w[0] - 1e-12 * w[0].abs(), "{:?}", got.report.history);
            }
            assert!(got.report.history[19] > got.report.history[0] + 1.0);
            // The single piece, up to the rounding of other sums.
            assert_close(&params(&got), &params(&whole), 1e-12);
            assert_close(&got.report.history, &whole.report.history, 1e-12);
        }
    }
}

#[test]
fn restarts_initialise_on_a_sample_of_whole_sequences_that_with_every_row_is_the_in_memory_start() {
    let dir = tempfile::tempdir().unwrap();
    let (x, lengths) = data();
    let whole_data = Sequences::new(x.as_ref(), &lengths).unwrap();
    let options = MStepOptions::default();
    let path = write(dir.path(), "x.npy", x.as_ref());
    let lengths_path = dir.path().join("lengths.txt");
    let single = fit(&whole_data, Start::FromData(config()), &options, &settings(3)).unwrap();
    let all = SampleSpec { size: 2000, seed: 4 };
    for target in [100, 1999] {
        let streamed = OutOfCore::<GaussianHmm>::open(
            &path,
            &ReadOptions::default(),
            layout(&lengths_path, &lengths, target),
            Some(all),
        )
        .unwrap();
        assert_eq!(streamed.sample().unwrap(), (x.as_ref(), &lengths[..]));
        let got = fit_with(
            &streamed,
            Start::FromData(config()),
            &options,
            &settings(3),
            &mut NoopObserver,
        )
        .unwrap();
        // The same restarts up to rounding. Here they all reach the same
        // log-likelihood with their states in different orders, so which
        // one wins is down to rounding as well: the winner is compared up
        // to the order of its states (its parameters as a sorted list).
        let finals = |restarts: &[RestartSummary<_>]| -> Vec<f64> {
            restarts.iter().map(|r| r.log_likelihood().unwrap()).collect()
        };
        assert_close(
            &finals(&got.report.restarts),
            &finals(&single.report.restarts),
            1e-12,
        );
        let sorted = |fit: &Fit<GaussianHmm>| {
            let mut p = params(fit);
            p.sort_by(f64::total_cmp);
            p
        };
        assert_close(&sorted(&got), &sorted(&single), 1e-12);
    }
    // A smaller sample: the same whole sequences for any chunk size, in
    // file order, holding at least the rows asked for.
    let starts: Vec<usize> = lengths
        .iter()
        .scan(0, |row, &len| {
            *row += len;
            Some(*row - len)
        })
        .collect();
    let some = SampleSpec { size: 300, seed: 4 };
    let samples: Vec<(Mat<f64>, Vec<usize>)> = [7, 100, 2000]
        .into_iter()
        .map(|target| {
            let streamed = OutOfCore::<GaussianHmm>::open(
                &path,
                &ReadOptions::default(),
                layout(&lengths_path, &lengths, target),
                Some(some),
            )
            .unwrap();
            let (sample, sample_lengths) = streamed.sample().unwrap();
            (sample.to_owned(), sample_lengths.to_vec())
        })
        .collect();
    assert!(samples.iter().all(|s| *s == samples[0]));
    let (sample, sample_lengths) = &samples[0];
    assert!(
        sample.nrows() >= 300 && sample.nrows() < 2000,
        "{}",
        sample.nrows()
    );
    assert_eq!(sample_lengths.iter().sum::<usize>(), sample.nrows());
    let taken = em_driver::em_core::sample::smallest_key_sequences(&lengths, 300, 4);
    let mut row = 0;
    for (&s, &len) in taken.iter().zip(sample_lengths) {
        assert_eq!(len, lengths[s]);
        assert_eq!(
            sample.as_ref().subrows(row, len),
            x.as_ref().subrows(starts[s], len)
        );
        row += len;
    }
    assert_eq!(row, sample.nrows());
}

#[test]
fn lengths_that_do_not_add_up_to_the_rows_are_refused_naming_the_lengths_file() {
    let dir = tempfile::tempdir().unwrap();
    let (x, lengths) = data();
    let lengths_path = dir.path().join("lengths.txt");
    for name in ["x.npy", "x.csv"] {
        let path = write(dir.path(), name, x.as_ref());
        for (lengths, total) in [
            (&lengths[1..], 2000 - lengths[0]),
            (&[&lengths[..], &[5]].concat()[..], 2005),
        ] {
            for target in [50, 5000] {
                let err = OutOfCore::<GaussianHmm>::open(
                    &path,
                    &ReadOptions::default(),
                    layout(&lengths_path, lengths, target),
                    Some(SampleSpec { size: 100, seed: 1 }),
                )
                .map(|_| ())
                .unwrap_err();
                let DataError::LengthsSum {
                    path: named,
                    total: t,
                    rows,
                } = &err
                else {
                    panic!("{name}, {target} rows: {err}");
                };
                assert_eq!((named, *t, *rows), (&lengths_path, total, 2000), "{name}");
            }
        }
    }
}

#[test]
fn a_bad_value_or_a_changed_file_is_refused_naming_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let (mut x, lengths) = data();
    let lengths_path = dir.path().join("lengths.txt");
    let open = |path: &Path| {
        OutOfCore::<GaussianHmm>::open(
            path,
            &ReadOptions::default(),
            layout(&lengths_path, &lengths, 300),
            None,
        )
    };
    // The file loses rows after it was opened: the E-step fails, with the
    // reader's typed error kept; with its rows back, the same E-step.
    let whole_data = Sequences::new(x.as_ref(), &lengths).unwrap();
    let model = warm(&whole_data);
    for name in ["y.npy", "y.csv"] {
        let path = write(dir.path(), name, x.as_ref());
        let streamed = open(&path).unwrap();
        let before = streamed.e_step(&model).unwrap();
        io::write_matrix(&path, x.as_ref().subrows(0, 1500), None).unwrap();
        let Err(PartError::Remote { message, .. }) = streamed.e_step(&model) else {
            panic!("the E-step of a shorter {name} succeeded");
        };
        let err = streamed.take_read_error().unwrap();
        assert_eq!(message, err.to_string());
        assert!(
            matches!(
                err,
                DataError::RowRange {
                    start: 1500,
                    end: 2000,
                    rows: 1500,
                    ..
                }
            ),
            "{err}"
        );
        io::write_matrix(&path, x.as_ref(), None).unwrap();
        assert_eq!(streamed.e_step(&model).unwrap().to_flat(), before.to_flat());
    }
    // A NaN in the middle: refused when the file is opened, naming its row.
    x[(1234, 0)] = f64::NAN;
    let path = write(dir.path(), "nan.npy", x.as_ref());
    let err = open(&path).map(|_| ()).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::NpyValue {
                row: 1235,
                col: 1,
                ..
            }
        ),
        "{err}"
    );
    // A truncated file.
    let path = write(dir.path(), "cut.npy", x.as_ref());
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 12]).unwrap();
    let err = open(&path).map(|_| ()).unwrap_err();
    assert!(matches!(err, DataError::NpySize { .. }), "{err}");
}
