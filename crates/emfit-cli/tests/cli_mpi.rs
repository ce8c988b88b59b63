//! `emfit fit` under `mpirun -np 1, 2, 4` (feature `mpi`; Open MPI's
//! `mpirun`, with `--oversubscribe` for more ranks than cores): the same
//! parameters and log-likelihood history as the single-process `emfit fit`
//! of the same data and start (to 1e-12 for plain EM), and bit for bit the
//! fit of the same split in one process (`Parts`), for a GMM, a variational
//! GMM (its lower bound) and a GMM-HMM;
//! an lgssm in whole series; uneven shards, a rank without rows, the seeded
//! start, what cannot be split, and a bad value or an impossible row on
//! one rank (every rank stops, one message naming the rank and the row of
//! the file, no model file).

mod cli_support;

use std::path::Path;
use std::process::Command;

use cli_support::{Run, TempDir, clusters, emfit};
use em_driver::em_core::{Convergence, NoopObserver, Parts, Settings, Start, fit_with};
use em_driver::faer::{Mat, MatRef};
use em_driver::hmm::{GmmHmm, Sequences, scenario};
use em_driver::mixture::variational::VariationalMixture;
use em_driver::mixture::{CovarianceType, GaussianMixture, InitConfig, InitMethod};
use em_driver::rand::SeedableRng;
use em_driver::rand::rngs::StdRng;
use em_driver::{Acceleration, EmModel, ModelFile};
use emfit_mpi::{rows_of, sequences_of};

/// `mpirun -np ranks emfit args...` in `dir`.
fn mpirun(dir: &Path, ranks: usize, args: &[&str]) -> Run {
    let out = Command::new("mpirun")
        .args(["--oversubscribe", "-np", &ranks.to_string()])
        .arg(env!("CARGO_BIN_EXE_emfit"))
        .args(args)
        .current_dir(dir)
        .env("RAYON_NUM_THREADS", "1")
        // Containers and CI run as root, which Open MPI refuses unless told.
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .output()
        .expect("mpirun runs (Open MPI installed)");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The JSON report of a run.
fn report(run: &Run) -> serde_json::Value {
    let line = run.ok().lines().last().expect("a JSON line");
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

/// The log-likelihood history of a JSON report.
fn history(report: &serde_json::Value) -> Vec<f64> {
    (report["history"].as_array().expect("a history").iter())
        .map(|v| v.as_f64().expect("a number"))
        .collect()
}

/// `a` and `b` agree to `tolerance`, relative to `max(|b|, 1)`.
#[track_caller]
fn close(a: &[f64], b: &[f64], tolerance: f64, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    for (x, y) in a.iter().zip(b) {
        assert!(
            (x - y).abs() <= tolerance * y.abs().max(1.0),
            "{what}: {x} vs {y}"
        );
    }
}

fn bits(values: &[f64]) -> Vec<u64> {
    values.iter().map(|v| v.to_bits()).collect()
}

/// The loop's settings of `--acceleration none --stop iterations --max-iter N`.
fn fixed_iterations(n: usize) -> Settings {
    Settings::builder()
        .acceleration(Acceleration::None)
        .convergence(Convergence::FixedIterations)
        .max_iterations(n)
        .build()
        .unwrap()
}

/// The numbers of a model that the fits compare: its flat parameters, or
/// for a variational model (which has none) its posterior's weights,
/// means, mean precisions and degrees of freedom, and its lower bound.
trait Compared: EmModel {
    fn compared(&self, options: &Self::Options) -> Vec<f64> {
        self.flat_parameters(options).expect("flat parameters")
    }
}

impl Compared for GaussianMixture {}
impl Compared for GmmHmm {}
impl Compared for VariationalMixture {
    fn compared(&self, _: &()) -> Vec<f64> {
        let means = self.means();
        let means = (0..means.nrows()).flat_map(|i| (0..means.ncols()).map(move |j| means[(i, j)]));
        (self.weights().into_iter().chain(means))
            .chain(self.mean_precision().iter().copied())
            .chain(self.degrees_of_freedom().iter().copied())
            .chain([self.lower_bound()])
            .collect()
    }
}

/// The in-process fit of the same split: `parts` (in rank order) from
/// `start`, `iterations` plain EM steps; its flat parameters and history.
fn fit_parts<'d, M>(
    parts: Vec<M::Data<'d>>,
    start: &M,
    options: &M::Options,
    iterations: usize,
) -> (Vec<f64>, Vec<f64>)
where
    M: Compared + Clone,
    M::Stats: em_driver::em_core::FlatStats,
{
    let fit = fit_with(
        &Parts::new(parts).unwrap(),
        Start::Warm(start.clone()),
        options,
        &fixed_iterations(iterations),
        &mut NoopObserver,
    )
    .unwrap();
    (fit.model.compared(options), fit.report.history)
}

/// Fits `args` once without mpirun and on 1, 2 and 4 ranks; checks the
/// history and the parameters against the single process (1e-12) and
/// against `same_split(ranks)`'s parameters and history, bit for bit.
fn on_1_2_4_ranks<M: Compared + ModelFile>(
    dir: &TempDir,
    args: &[&str],
    options: &M::Options,
    same_split: impl Fn(usize) -> (Vec<f64>, Vec<f64>),
) {
    fn with_out<'a>(args: &[&'a str], out: &'a str) -> Vec<&'a str> {
        [args, &["--json", "--out", out]].concat()
    }
    let single = report(&emfit(dir.path(), &with_out(args, "single.json")));
    let load = |name: &str| {
        let model = M::load(&dir.path().join(name)).unwrap();
        model.compared(options)
    };
    let want = load("single.json");
    assert!(history(&single).len() > 5, "EM has work to do: {single}");
    for ranks in [1, 2, 4] {
        let name = format!("ranks-{ranks}.json");
        let got = report(&mpirun(dir.path(), ranks, &with_out(args, &name)));
        assert_eq!(got["ranks"], ranks, "{got}");
        let parameters = load(&name);
        close(&history(&got), &history(&single), 1e-12, "history");
        close(&parameters, &want, 1e-12, "parameters");
        // A variational model has no information criteria.
        for criterion in ["bic", "aic"] {
            assert_eq!(
                got[criterion].is_null(),
                single[criterion].is_null(),
                "{criterion}"
            );
            if let (Some(a), Some(b)) = (got[criterion].as_f64(), single[criterion].as_f64()) {
                close(&[a], &[b], 1e-12, criterion);
            }
        }
        let (split_parameters, split_history) = same_split(ranks);
        assert_eq!(bits(&parameters), bits(&split_parameters), "{ranks} ranks");
        assert_eq!(bits(&history(&got)), bits(&split_history), "{ranks} ranks");
    }
}

#[test]
fn a_gmm_on_1_2_4_ranks_is_the_single_process_fit() {
    let dir = TempDir::new("mpi-gmm");
    let x = clusters(1001);
    em_driver::io::write_matrix(&dir.path().join("x.npy"), x.as_ref(), None).unwrap();
    // A start at random data points, which EM has to move.
    let mut config = InitConfig::new(3, CovarianceType::Full);
    config.method = InitMethod::RandomPoints;
    let start = GaussianMixture::init_from_data(x.as_ref(), &config, &mut StdRng::seed_from_u64(1)).unwrap();
    start.save(&dir.path().join("start.json")).unwrap();
    let args = [
        "fit",
        "gmm",
        "--data",
        "x.npy",
        "--init",
        "start.json",
        "--acceleration",
        "none",
        "--stop",
        "iterations",
        "--max-iter",
        "25",
    ];
    let options = em_driver::mixture::MStepOptions::default();
    on_1_2_4_ranks::<GaussianMixture>(&dir, &args, &options, |ranks| {
        // 1001 rows: uneven shards on 2 and 4 ranks.
        let parts: Vec<MatRef<'_, f64>> = (0..ranks)
            .map(|r| rows_of(r, ranks, x.nrows()))
            .map(|rows| x.as_ref().subrows(rows.start, rows.len()))
            .collect();
        fit_parts(parts, &start, &options, 25)
    });
}

#[test]
fn a_variational_gmm_on_1_2_4_ranks_is_the_single_process_fit() {
    let dir = TempDir::new("mpi-bgmm");
    let x = clusters(1001);
    em_driver::io::write_matrix(&dir.path().join("x.npy"), x.as_ref(), None).unwrap();
    // The start: one step from k-means responsibilities, which the fit
    // then moves on from.
    let fixed = ["--stop", "iterations", "--max-iter"];
    let start_args = [
        &[
            "fit",
            "bgmm",
            "--data",
            "x.npy",
            "--components",
            "5",
            "--out",
            "start.json",
        ],
        &fixed[..],
        &["1"],
    ];
    emfit(dir.path(), &start_args.concat()).ok();
    let start = VariationalMixture::load(&dir.path().join("start.json")).unwrap();
    let args = [
        &["fit", "bgmm", "--data", "x.npy", "--init", "start.json"],
        &fixed[..],
        &["25"],
    ]
    .concat();
    on_1_2_4_ranks::<VariationalMixture>(&dir, &args, &(), |ranks| {
        let parts: Vec<MatRef<'_, f64>> = (0..ranks)
            .map(|r| rows_of(r, ranks, x.nrows()))
            .map(|rows| x.as_ref().subrows(rows.start, rows.len()))
            .collect();
        fit_parts(parts, &start, &(), 25)
    });
}

#[test]
fn a_gmm_hmm_on_1_2_4_ranks_is_the_single_process_fit_in_whole_sequences() {
    let dir = TempDir::new("mpi-gmmhmm");
    // Three sequences of uneven lengths: on 4 ranks, a rank has none.
    let data = scenario::sample_with(3, 600, 3).unwrap();
    let (x, lengths) = (data.x.as_ref(), &data.lengths[..]);
    em_driver::io::write_matrix(&dir.path().join("x.npy"), x, None).unwrap();
    let text: String = lengths.iter().map(|n| format!("{n}\n")).collect();
    dir.write("lengths.txt", text);
    let start = scenario::fresh_model(&data.sequences().unwrap(), 4).unwrap();
    start.save(&dir.path().join("start.json")).unwrap();
    let args = [
        "fit",
        "gmmhmm",
        "--data",
        "x.npy",
        "--lengths",
        "lengths.txt",
        "--init",
        "start.json",
        "--acceleration",
        "none",
        "--stop",
        "iterations",
        "--max-iter",
        "15",
    ];
    let options = em_driver::hmm::MStepOptions::default();
    assert!(
        (0..4).any(|r| sequences_of(r, 4, lengths).is_empty()),
        "{lengths:?}"
    );
    on_1_2_4_ranks::<GmmHmm>(&dir, &args, &options, |ranks| {
        let parts: Vec<Sequences<'_>> = (0..ranks)
            .map(|r| sequences_of(r, ranks, lengths))
            .filter(|mine| !mine.is_empty())
            .map(|mine| {
                let first: usize = lengths[..mine.start].iter().sum();
                let rows: usize = lengths[mine.clone()].iter().sum();
                Sequences::new(x.subrows(first, rows), &lengths[mine]).unwrap()
            })
            .collect();
        fit_parts(parts.iter().collect(), &start, &options, 15)
    });
}

#[test]
fn an_lgssm_of_several_series_is_fitted_in_whole_series_per_rank() {
    let dir = TempDir::new("mpi-lgssm");
    // Series drawn from an lgssm fitted to 2-D points.
    em_driver::io::write_matrix(&dir.path().join("points.csv"), clusters(200).as_ref(), None).unwrap();
    let fit = [
        "fit",
        "lgssm",
        "--data",
        "points.csv",
        "--state-dim",
        "2",
        "--max-iter",
        "20",
    ];
    emfit(dir.path(), &[&fit[..], &["-q", "--out", "truth.json"]].concat()).ok();
    let sample = [
        "sample",
        "--model",
        "truth.json",
        "-n",
        "60",
        "--sequences",
        "7",
        "--lengths-out",
        "lengths.txt",
        "--out",
        "y.npy",
        "--seed",
        "4",
    ];
    emfit(dir.path(), &sample).ok();
    let args = [
        "fit",
        "lgssm",
        "--data",
        "y.npy",
        "--lengths",
        "lengths.txt",
        "--state-dim",
        "2",
        "--acceleration",
        "none",
        "--stop",
        "iterations",
        "--max-iter",
        "10",
        "--json",
    ];
    let single = report(&emfit(dir.path(), &args));
    let three = report(&mpirun(dir.path(), 3, &args));
    close(&history(&three), &history(&single), 1e-10, "history");
    for criterion in ["bic", "aic"] {
        let (a, b) = (
            three[criterion].as_f64().unwrap(),
            single[criterion].as_f64().unwrap(),
        );
        close(&[a], &[b], 1e-10, criterion);
    }
}

#[test]
fn a_rank_without_rows_contributes_nothing() {
    let dir = TempDir::new("mpi-empty-rank");
    let x = clusters(3);
    em_driver::io::write_matrix(&dir.path().join("three.npy"), x.as_ref(), None).unwrap();
    let start = GaussianMixture::init_from_data(
        x.as_ref(),
        &InitConfig::new(1, CovarianceType::Full),
        &mut StdRng::seed_from_u64(1),
    )
    .unwrap();
    start.save(&dir.path().join("start.json")).unwrap();
    let args = [
        "fit",
        "gmm",
        "--data",
        "three.npy",
        "--init",
        "start.json",
        "--acceleration",
        "none",
        "--stop",
        "iterations",
        "--max-iter",
        "5",
        "--json",
    ];
    let four = report(&mpirun(dir.path(), 4, &args));
    // Ranks 0, 1 and 2 hold a row each; rank 3 none.
    let parts: Vec<MatRef<'_, f64>> = (0..3).map(|r| x.as_ref().subrows(r, 1)).collect();
    let options = em_driver::mixture::MStepOptions::default();
    let (_, same_split) = fit_parts(parts, &start, &options, 5);
    assert_eq!(bits(&history(&four)), bits(&same_split));
}

#[test]
fn the_seeded_start_is_the_same_on_any_number_of_ranks() {
    let dir = TempDir::new("mpi-seeded");
    let x = clusters(1001);
    em_driver::io::write_matrix(&dir.path().join("x.npy"), x.as_ref(), None).unwrap();
    // `--max-iter 0`: the model written is the start (of the better restart).
    let fit = |ranks: usize, sample: &str, iterations: &str| {
        let name = format!("seeded-{ranks}-{sample}-{iterations}.json");
        let args = [
            "fit",
            "gmm",
            "--data",
            "x.npy",
            "--components",
            "3",
            "--seed",
            "9",
            "--restarts",
            "2",
            "--init-sample",
            sample,
            "--acceleration",
            "none",
            "--stop",
            "iterations",
            "--max-iter",
            iterations,
            "--json",
            "--out",
            &name,
        ];
        let report = report(&if ranks == 0 {
            emfit(dir.path(), &args)
        } else {
            mpirun(dir.path(), ranks, &args)
        });
        (report, dir.read(&name))
    };
    // A sample of 300 of the rows: the same start on 1 and 3 ranks.
    let (one, want) = fit(1, "300", "0");
    let (three, got) = fit(3, "300", "0");
    assert_eq!(got, want);
    assert_eq!(one["restarts"], 2);
    assert_eq!(one["best_restart"], three["best_restart"]);
    // A sample of every row: the single-process fit's start, so its fit.
    assert_eq!(fit(2, "2000", "0").1, fit(0, "2000", "0").1);
    let (single, _) = fit(0, "2000", "20");
    let (two, _) = fit(2, "2000", "20");
    close(&history(&two), &history(&single), 1e-12, "history");
}

#[test]
fn a_bad_value_on_one_rank_stops_every_rank_with_its_row_and_no_file() {
    let dir = TempDir::new("mpi-nan");
    let mut x = clusters(1001);
    x[(700, 1)] = f64::NAN;
    let file = std::fs::File::create(dir.path().join("bad.npy")).unwrap();
    em_driver::io::write_npy(file, x.as_ref()).unwrap();
    let run = mpirun(
        dir.path(),
        4,
        &[
            "fit",
            "gmm",
            "--data",
            "bad.npy",
            "--components",
            "3",
            "--out",
            "never.json",
        ],
    );
    assert_ne!(run.code, Some(0), "{}", run.stderr);
    let ours: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("emfit: ")).collect();
    assert_eq!(ours.len(), 1, "{}", run.stderr);
    // Rows 751..1001 are rank 3's, rows 501..751 rank 2's.
    assert!(ours[0].starts_with("emfit: rank 2: "), "{}", ours[0]);
    assert!(ours[0].contains("(row 701, column 2): value NaN"), "{}", ours[0]);
    assert!(!dir.path().join("never.json").exists());
}

#[test]
fn an_impossible_row_on_one_rank_is_named_by_its_row_of_the_file() {
    let dir = TempDir::new("mpi-impossible");
    let mut x = clusters(1001);
    // Far from both components of a tight model: zero density in f64.
    x[(800, 0)] = 1e150;
    em_driver::io::write_matrix(&dir.path().join("x.npy"), x.as_ref(), None).unwrap();
    let means = Mat::from_fn(2, 3, |k, j| 8.0 * k as f64 + j as f64);
    let tight = em_driver::mixture::Covariances::Spherical(vec![1e-10, 1e-10]);
    let model = GaussianMixture::new(vec![0.5, 0.5], means, tight).unwrap();
    model.save(&dir.path().join("tight.json")).unwrap();
    let args = [
        "fit",
        "gmm",
        "--data",
        "x.npy",
        "--init",
        "tight.json",
        "--out",
        "never.json",
    ];
    // In one process and on 4 ranks (row 801 is rank 3's), the same words.
    let single = emfit(dir.path(), &args);
    let line = single.fails_with(&["x.npy: row 801 has zero likelihood"]);
    let run = mpirun(dir.path(), 4, &args);
    assert_ne!(run.code, Some(0));
    let ours: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("emfit: ")).collect();
    assert_eq!(ours.len(), 1, "{}", run.stderr);
    assert_eq!(
        ours[0],
        line.replacen("emfit: ", "emfit: rank 3: ", 1),
        "{}",
        run.stderr
    );
    assert!(!dir.path().join("never.json").exists());
}

#[test]
fn what_cannot_be_split_is_refused_once_with_the_reason() {
    let dir = TempDir::new("mpi-refused");
    dir.write("x.csv", "1\n2\n3\n4\n");
    dir.write("one.txt", "20\n");
    let x = clusters(20);
    em_driver::io::write_matrix(&dir.path().join("x.npy"), x.as_ref(), None).unwrap();
    for (args, reason) in [
        (
            &["fit", "gmm", "--data", "x.csv"][..],
            "x.csv is not one (save it with numpy.save)",
        ),
        (
            &["fit", "hmm", "--data", "x.npy"],
            "give them with --lengths FILE",
        ),
        (
            &["fit", "lgssm", "--data", "x.npy"],
            "give them with --lengths FILE",
        ),
        (
            &[
                "fit",
                "categorical-hmm",
                "--data",
                "x.npy",
                "--lengths",
                "one.txt",
            ],
            "needs --symbols N (or --init)",
        ),
    ] {
        let run = mpirun(dir.path(), 2, args);
        assert_ne!(run.code, Some(0));
        let ours: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("emfit: ")).collect();
        assert_eq!(ours.len(), 1, "{}", run.stderr);
        assert!(ours[0].contains(reason), "{}", ours[0]);
    }
}
