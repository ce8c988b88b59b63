//! End-to-end tests of `emfit` with time-varying matrices of an lgssm
//! (`--transition-matrices`, `--transition-covariances`,
//! `--observation-matrices`, `--observation-covariances`): the filter, the
//! smoother, the log-likelihood and `emfit sample` against the library's on
//! the same model and matrices, EM of the other blocks, and the errors that
//! name the file, the matrix, the sequence and the step.

mod cli_support;

use cli_support::{TempDir, emfit, parse_rows};
use em_driver::ModelFile;
use em_driver::faer::{Mat, MatRef, mat};
use em_driver::io::write_npy_f64;
use em_driver::rand::SeedableRng;
use em_driver::rand::rngs::StdRng;
use em_driver::statespace::{LinearGaussianSsm, Sequence, TimeVarying};

/// Two sequences: 30 and 20 steps.
const LENGTHS: [usize; 2] = [30, 20];
const T: usize = 50;

/// The model of the files (n = 2, p = 2).
fn model() -> LinearGaussianSsm {
    LinearGaussianSsm::builder()
        .a(mat![[0.9, 0.1], [-0.1, 0.8]].as_ref())
        .q(mat![[0.2, 0.05], [0.05, 0.1]].as_ref())
        .h(mat![[1.0, 0.0], [0.5, 1.0]].as_ref())
        .r(mat![[0.3, 0.0], [0.0, 0.2]].as_ref())
        .m0(&[0.5, -0.5])
        .p0(mat![[1.0, 0.0], [0.0, 1.0]].as_ref())
        .build()
        .unwrap()
}

/// `A_k` for row `k` of the data (a slow rotation, spectral radius 0.95).
fn a_at(k: usize) -> Mat<f64> {
    let angle = 0.1 * k as f64;
    mat![
        [0.95 * angle.cos(), -0.95 * angle.sin()],
        [0.95 * angle.sin(), 0.95 * angle.cos()]
    ]
}

/// `Q_k`, `H_k`, `R_k` for row `k` of the data.
fn q_at(k: usize) -> Mat<f64> {
    let s = 0.1 + 0.05 * (k % 7) as f64;
    mat![[s, 0.02], [0.02, 0.5 * s]]
}
fn h_at(k: usize) -> Mat<f64> {
    mat![[1.0, 0.1 * (k % 5) as f64], [0.2, 1.0 - 0.01 * k as f64]]
}
fn r_at(k: usize) -> Mat<f64> {
    let s = 0.2 + 0.03 * (k % 4) as f64;
    mat![[s, 0.0], [0.0, 2.0 * s]]
}

/// The matrices of the files: `A` in pykalman's layout (T_s − 1 per
/// sequence: the transitions into rows 1.. of each), `Q`, `H`, `R` one per
/// row of the data (`Q`'s row k for the transition from row k to row k + 1,
/// the last of each sequence unused).
struct Files {
    a: Vec<Mat<f64>>,
    q: Vec<Mat<f64>>,
    h: Vec<Mat<f64>>,
    r: Vec<Mat<f64>>,
}

impl Files {
    fn new() -> Self {
        let mut a = Vec::new();
        let mut first = 0;
        for t in LENGTHS {
            a.extend((first + 1..first + t).map(a_at));
            first += t;
        }
        Self {
            a,
            q: (0..T).map(q_at).collect(),
            h: (0..T).map(h_at).collect(),
            r: (0..T).map(r_at).collect(),
        }
    }

    /// The library's matrices of the sequence of `t` steps from row `first`.
    fn of_sequence(first: usize, t: usize) -> [Vec<Mat<f64>>; 4] {
        [
            (first + 1..first + t).map(a_at).collect(),
            (first..first + t - 1).map(q_at).collect(),
            (first..first + t).map(h_at).collect(),
            (first..first + t).map(r_at).collect(),
        ]
    }
}

/// Writes matrices as a 3-D `.npy` file.
fn write_matrices(dir: &TempDir, name: &str, matrices: &[Mat<f64>]) -> String {
    let (rows, cols) = (matrices[0].nrows(), matrices[0].ncols());
    let values: Vec<f64> = matrices
        .iter()
        .flat_map(|m| (0..rows * cols).map(move |ij| m[(ij / cols, ij % cols)]))
        .collect();
    let mut bytes = Vec::new();
    write_npy_f64(&mut bytes, &[matrices.len(), rows, cols], &values).unwrap();
    dir.write(name, bytes)
}

fn views(matrices: &[Mat<f64>]) -> Vec<MatRef<'_, f64>> {
    matrices.iter().map(Mat::as_ref).collect()
}

/// Views of the four blocks of [`Files::of_sequence`].
fn block_views(blocks: &[Vec<Mat<f64>>; 4]) -> [Vec<MatRef<'_, f64>>; 4] {
    blocks.each_ref().map(|m| views(m))
}

/// The four blocks as the library's time-varying matrices.
fn all_varying<'a>([a, q, h, r]: &'a [Vec<MatRef<'a, f64>>; 4]) -> TimeVarying<'a> {
    TimeVarying {
        a: Some(a),
        q: Some(q),
        h: Some(h),
        r: Some(r),
    }
}

/// The data: each sequence drawn from the model with its matrices, a few
/// values missing. Returns the observations (T x 2).
fn data() -> Mat<f64> {
    let m = model();
    let mut rng = StdRng::seed_from_u64(3);
    let mut y = Mat::zeros(T, 2);
    let mut first = 0;
    for t in LENGTHS {
        let blocks = Files::of_sequence(first, t);
        let blocks = block_views(&blocks);
        let matrices = all_varying(&blocks);
        let (_, ys) = m.sample_time_varying(t, None, &matrices, &mut rng).unwrap();
        y.as_mut().subrows_mut(first, t).copy_from(&ys);
        first += t;
    }
    y[(4, 1)] = f64::NAN;
    y[(33, 0)] = f64::NAN;
    y
}

/// A folder with the model, the data, the lengths and the four matrix
/// files, and the flags naming them.
fn setup(tag: &str) -> (TempDir, Vec<String>) {
    let dir = TempDir::new(tag);
    model().save(&dir.path().join("m.json")).unwrap();
    let y = data();
    let values: Vec<f64> = (0..T * 2).map(|ij| y[(ij / 2, ij % 2)]).collect();
    let mut bytes = Vec::new();
    write_npy_f64(&mut bytes, &[T, 2], &values).unwrap();
    dir.write("y.npy", bytes);
    dir.write("len.txt", "30\n20\n");
    let files = Files::new();
    let flags = [
        ("--transition-matrices", "A.npy", &files.a),
        ("--transition-covariances", "Q.npy", &files.q),
        ("--observation-matrices", "H.npy", &files.h),
        ("--observation-covariances", "R.npy", &files.r),
    ];
    let mut args: Vec<String> = [
        "--model",
        "m.json",
        "--data",
        "y.npy",
        "--lengths",
        "len.txt",
        "--missing",
    ]
    .map(String::from)
    .to_vec();
    for (flag, name, matrices) in flags {
        write_matrices(&dir, name, matrices);
        args.extend([flag.to_string(), name.to_string()]);
    }
    (dir, args)
}

fn run(dir: &TempDir, command: &str, args: &[String]) -> cli_support::Run {
    let mut all = vec![command];
    all.extend(args.iter().map(String::as_str));
    emfit(dir.path(), &all)
}

/// The library's filtered and smoothed means, and log-likelihood, of the
/// data with every sequence's matrices.
fn library() -> (Mat<f64>, Mat<f64>, f64) {
    let (m, y) = (model(), data());
    let (mut filtered, mut smoothed, mut ll) = (Mat::zeros(T, 2), Mat::zeros(T, 2), 0.0);
    let mut first = 0;
    for t in LENGTHS {
        let blocks = Files::of_sequence(first, t);
        let blocks = block_views(&blocks);
        let sequence = Sequence::new(y.as_ref().subrows(first, t)).with_time_varying(all_varying(&blocks));
        let f = m.filter_sequence(sequence).unwrap();
        filtered
            .as_mut()
            .subrows_mut(first, t)
            .copy_from(f.filtered_means());
        ll += f.log_likelihood();
        let sm = m.smooth_sequence(sequence).unwrap();
        smoothed
            .as_mut()
            .subrows_mut(first, t)
            .copy_from(sm.smoothed_means());
        first += t;
    }
    (filtered, smoothed, ll)
}

fn assert_rows_equal(rows: &[Vec<f64>], want: &Mat<f64>) {
    assert_eq!(rows.len(), want.nrows());
    for (k, row) in rows.iter().enumerate() {
        for j in 0..want.ncols() {
            let w = want[(k, j)];
            assert!(
                (row[j] - w).abs() <= 1e-12 * w.abs().max(1.0),
                "row {k}, column {j}: {} vs {w}",
                row[j]
            );
        }
    }
}

#[test]
fn filter_smoother_and_likelihood_equal_the_library() {
    let (dir, args) = setup("tv-e2e");
    let (filtered, smoothed, ll) = library();
    assert_rows_equal(&parse_rows(run(&dir, "predict", &args).ok()), &filtered);
    let rows = parse_rows(run(&dir, "smooth", &args).ok());
    let means: Vec<Vec<f64>> = rows.iter().map(|r| r[..2].to_vec()).collect();
    assert_rows_equal(&means, &smoothed);
    let score = run(&dir, "score", &args);
    let line = score
        .ok()
        .lines()
        .find(|l| l.starts_with("log-likelihood:"))
        .unwrap();
    let got: f64 = line["log-likelihood:".len()..].trim().parse().unwrap();
    assert!((got - ll).abs() <= 1e-12 * ll.abs(), "{got} vs {ll}");
    // Without the matrices, another answer: the files are used.
    let plain = run(&dir, "predict", &args[..7]);
    assert_ne!(
        parse_rows(plain.ok()),
        parse_rows(run(&dir, "predict", &args).ok())
    );
    // A given per row (50 matrices, the last of each sequence unused) is
    // the same as pykalman's 48.
    let mut per_row = Vec::new();
    for k in 0..T {
        per_row.push(if k == 29 || k == 49 {
            mat![[7.0, 7.0], [7.0, 7.0]]
        } else {
            a_at(k + 1)
        });
    }
    write_matrices(&dir, "A.npy", &per_row);
    assert_rows_equal(&parse_rows(run(&dir, "predict", &args).ok()), &filtered);
}

#[test]
fn em_learns_the_blocks_that_do_not_vary() {
    let (dir, args) = setup("tv-fit");
    // A_k and Q_k vary: H, R, m0, P0 are learned.
    let mut fit: Vec<String> = vec!["lgssm".into(), "--init".into(), "m.json".into()];
    fit.extend(args[2..].iter().take(9).cloned());
    assert!(
        fit.iter().any(|a| a == "--transition-covariances")
            && !fit.iter().any(|a| a == "--observation-matrices")
    );
    let mut learn = fit.clone();
    learn.extend(
        [
            "--learn",
            "H,R,m0,P0",
            "--max-iter",
            "20",
            "--stop",
            "iterations",
            "--out",
            "fit.json",
            "--json",
        ]
        .map(String::from),
    );
    let report: serde_json::Value = serde_json::from_str(run(&dir, "fit", &learn).ok()).unwrap();
    let history: Vec<f64> = report["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(
        history.windows(2).all(|w| w[1] >= w[0] - 1e-9 * w[0].abs()),
        "{history:?}"
    );
    assert!(history.last().unwrap() > history.first().unwrap());
    let file: serde_json::Value = serde_json::from_str(&dir.read("fit.json")).unwrap();
    assert_eq!(
        file["parameters"]["transition_matrices"][0][0], 0.9,
        "A is not learned"
    );
    // The default learns every block: A among them is refused.
    fit.extend(["--max-iter", "3"].map(String::from));
    run(&dir, "fit", &fit).fails_with(&["cannot learn A", "time-varying"]);
}

/// The args with the file of `flag` replaced by `name`.
fn with_file(args: &[String], flag: &str, name: &str) -> Vec<String> {
    let mut args = args.to_vec();
    let at = args.iter().position(|a| a == flag).unwrap();
    args[at + 1] = name.to_string();
    args
}

#[test]
fn bad_files_are_refused_naming_the_file_the_matrix_and_the_step() {
    let (dir, args) = setup("tv-errors");
    let files = Files::new();
    write_matrices(&dir, "short.npy", &files.a[..47]);
    run(
        &dir,
        "predict",
        &with_file(&args, "--transition-matrices", "short.npy"),
    )
    .fails_with(&[
        "--transition-matrices short.npy holds 47 matrices",
        "needs 48 (T_s - 1 per sequence over 2 sequence(s)) or 50 (one per row)",
    ]);
    write_matrices(&dir, "short.npy", &files.h[..49]);
    run(
        &dir,
        "score",
        &with_file(&args, "--observation-matrices", "short.npy"),
    )
    .fails_with(&[
        "--observation-matrices short.npy holds 49 matrices",
        "needs 50 (one per row)",
    ]);
    // A NaN: named by its place in the file and where it acts.
    let mut r = files.r.clone();
    r[34][(0, 0)] = f64::NAN;
    write_matrices(&dir, "nan.npy", &r);
    run(
        &dir,
        "predict",
        &with_file(&args, "--observation-covariances", "nan.npy"),
    )
    .fails_with(&[
        "--observation-covariances nan.npy: matrix 35 of 50 (row 1, column 1): value NaN is missing",
        "(step 5 of sequence 2, row 35 of the data)",
    ]);
    let mut a = files.a.clone();
    a[30][(1, 0)] = f64::INFINITY;
    write_matrices(&dir, "inf.npy", &a);
    run(
        &dir,
        "smooth",
        &with_file(&args, "--transition-matrices", "inf.npy"),
    )
    .fails_with(&[
        "matrix 31 of 48 (row 2, column 1): value inf is infinite",
        "(step 3 of sequence 2, row 33 of the data)",
    ]);
    // Not positive definite at one step: the library's check, in the
    // program's words.
    let mut q = files.q.clone();
    q[39] = mat![[1.0, 2.0], [2.0, 1.0]];
    write_matrices(&dir, "q.npy", &q);
    run(
        &dir,
        "predict",
        &with_file(&args, "--transition-covariances", "q.npy"),
    )
    .fails_with(&[
        "--transition-covariances q.npy: matrix 40 of 50 (step 11 of sequence 2, row 41 of the data)",
        "positive definite",
    ]);
    // Matrices of the wrong shape.
    let wide: Vec<Mat<f64>> = (0..T).map(|_| Mat::zeros(2, 3)).collect();
    write_matrices(&dir, "wide.npy", &wide);
    run(&dir, "score", &with_file(&args, "--observation-matrices", "wide.npy"))
        .fails_with(&["--observation-matrices wide.npy: matrix 1 of 50 (step 1 of sequence 1, row 1 of the data): matrix H is 2 x 3, expected 2 x 2"]);
    // Not 3-D; truncated.
    let mut flat = Vec::new();
    write_npy_f64(&mut flat, &[50, 4], &[1.0; 200]).unwrap();
    dir.write("flat.npy", &flat);
    run(
        &dir,
        "predict",
        &with_file(&args, "--observation-covariances", "flat.npy"),
    )
    .fails_with(&["flat.npy: .npy array has 2 dimensions, expected 3"]);
    let whole = std::fs::read(dir.path().join("R.npy")).unwrap();
    dir.write("cut.npy", &whole[..whole.len() - 8]);
    run(
        &dir,
        "predict",
        &with_file(&args, "--observation-covariances", "cut.npy"),
    )
    .fails_with(&["cut.npy: .npy 'shape' declares 1600 data bytes but the file holds 1592"]);
    // Only an lgssm takes them.
    emfit(
        dir.path(),
        &[
            "fit",
            "gmm",
            "--data",
            "y.npy",
            "-k",
            "2",
            "--transition-matrices",
            "A.npy",
        ],
    )
    .fails_with(&["--transition-matrices is only supported by lgssm, not by gmm"]);
}

/// `emfit sample -n 25 --sequences 2` with the four matrix files draws what
/// the library draws from one generator of the same seed, sequence after
/// sequence, bit for bit; a file of the wrong length and a model of another
/// family are refused.
#[test]
fn sample_draws_with_the_matrices_as_the_library_does() {
    let dir = TempDir::new("tv-sample");
    model().save(&dir.path().join("m.json")).unwrap();
    let (n, sequences) = (25, 2);
    let a: Vec<Mat<f64>> = (0..sequences)
        .flat_map(|s| (s * n + 1..(s + 1) * n).map(a_at))
        .collect();
    let per_row = |f: fn(usize) -> Mat<f64>| (0..n * sequences).map(f).collect::<Vec<_>>();
    let mut args: Vec<String> = ["--model", "m.json", "-n", "25", "--sequences", "2", "--seed", "9"]
        .map(String::from)
        .to_vec();
    for (flag, name, matrices) in [
        ("--transition-matrices", "A.npy", &a),
        ("--transition-covariances", "Q.npy", &per_row(q_at)),
        ("--observation-matrices", "H.npy", &per_row(h_at)),
        ("--observation-covariances", "R.npy", &per_row(r_at)),
    ] {
        write_matrices(&dir, name, matrices);
        args.extend([flag.to_string(), name.to_string()]);
    }
    let mut out = args.clone();
    out.extend(["--out", "y.npy", "--hidden-out", "x.npy"].map(String::from));
    let mut all = vec!["sample"];
    all.extend(out.iter().map(String::as_str));
    emfit(dir.path(), &all).ok();
    let read = |name: &str| em_driver::io::read_npy(&dir.path().join(name), false).unwrap();
    let (y, x) = (read("y.npy"), read("x.npy"));
    let mut rng = StdRng::seed_from_u64(9);
    for s in 0..sequences {
        let blocks = Files::of_sequence(s * n, n);
        let blocks = block_views(&blocks);
        let matrices = all_varying(&blocks);
        let (xs, ys) = model().sample_time_varying(n, None, &matrices, &mut rng).unwrap();
        for k in 0..n {
            for j in 0..2 {
                assert_eq!(
                    y[(s * n + k, j)].to_bits(),
                    ys[(k, j)].to_bits(),
                    "y, sequence {s}, step {k}"
                );
                assert_eq!(
                    x[(s * n + k, j)].to_bits(),
                    xs[(k, j)].to_bits(),
                    "x, sequence {s}, step {k}"
                );
            }
        }
    }
    write_matrices(&dir, "short.npy", &per_row(h_at)[..49]);
    run(
        &dir,
        "sample",
        &with_file(&args, "--observation-matrices", "short.npy"),
    )
    .fails_with(&["--observation-matrices short.npy holds 49 matrices, but -n 25 x --sequences 2 needs 50"]);
    let mut r = per_row(r_at);
    r[30] = mat![[1.0, 2.0], [2.0, 1.0]];
    write_matrices(&dir, "bad.npy", &r);
    run(
        &dir,
        "sample",
        &with_file(&args, "--observation-covariances", "bad.npy"),
    )
    .fails_with(&[
        "--observation-covariances bad.npy: matrix 31 of 50",
        "step 6 of sequence 2",
    ]);
    dir.write("g.csv", "1,2\n3,1\n2,2\n0,1\n");
    emfit(
        dir.path(),
        &[
            "fit",
            "gmm",
            "--data",
            "g.csv",
            "--components",
            "1",
            "--out",
            "g.json",
            "-q",
        ],
    )
    .ok();
    let gmm = with_file(&args, "--model", "g.json");
    run(&dir, "sample", &gmm).fails_with(&["time-varying matrices apply to lgssm models"]);
}

/// `emfit forecast` filters the last sequence with its matrices and
/// predicts from its last step with the model's: the library's forecast of
/// the same filter output; an earlier `--origin` is refused.
#[test]
fn forecast_filters_with_the_matrices_and_starts_at_the_last_step() {
    let (dir, args) = setup("tv-forecast");
    let mut forecast = args.clone();
    forecast.extend(["--horizon", "3"].map(String::from));
    let rows = parse_rows(run(&dir, "forecast", &forecast).ok());
    let (m, y) = (model(), data());
    let (first, t) = (LENGTHS[0], LENGTHS[1]);
    let blocks = Files::of_sequence(first, t);
    let blocks = block_views(&blocks);
    let sequence = Sequence::new(y.as_ref().subrows(first, t)).with_time_varying(all_varying(&blocks));
    let filtered = m.filter_sequence(sequence).unwrap();
    let want = m.forecast(&filtered, t - 1, 3, None).unwrap();
    assert_eq!(rows.len(), 3);
    for (j, row) in rows.iter().enumerate() {
        assert_eq!(row[0], (t + j + 1) as f64);
        for i in 0..2 {
            let (mean, sd) = (
                want.observation_means()[(j, i)],
                want.observation_variances()[(j, i)].sqrt(),
            );
            assert!(
                (row[1 + i] - mean).abs() <= 1e-12 * mean.abs().max(1.0),
                "{row:?}"
            );
            assert!((row[3 + i] - sd).abs() <= 1e-12 * sd, "{row:?}");
        }
    }
    forecast.extend(["--origin", "5"].map(String::from));
    run(&dir, "forecast", &forecast).fails_with(&["--origin 5", "starts at the last step (20)"]);
}

/// With only `A_k` given, EM learns Q (the regression of the residual
/// `x_k − A_k x_{k−1}`) with H, R, m0, P0: the log-likelihood rises and
/// never falls, A is kept, and one iteration gives the library's M-step on
/// the same data and matrices.
#[test]
fn em_learns_q_with_time_varying_transition_matrices() {
    use em_driver::statespace::em::WithInputs;
    use em_driver::statespace::{EmModel, LearnSet, MStepOptions, Param};
    let (dir, args) = setup("tv-fit-q");
    let mut fit: Vec<String> = vec!["lgssm".into(), "--init".into(), "m.json".into()];
    fit.extend(args[2..].iter().take(7).cloned());
    assert_eq!(fit.last().unwrap(), "A.npy");
    let learn = |iterations: &str, out: &str| {
        let mut learn = fit.clone();
        learn.extend(
            [
                "--learn",
                "Q,H,R,m0,P0",
                "--max-iter",
                iterations,
                "--stop",
                "iterations",
                "--out",
                out,
                "--json",
            ]
            .map(String::from),
        );
        learn
    };
    let report: serde_json::Value =
        serde_json::from_str(run(&dir, "fit", &learn("20", "fit.json")).ok()).unwrap();
    let history: Vec<f64> = report["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(
        history.windows(2).all(|w| w[1] >= w[0] - 1e-9 * w[0].abs()),
        "{history:?}"
    );
    assert!(history.last().unwrap() > history.first().unwrap());
    let fitted = LinearGaussianSsm::load(&dir.path().join("fit.json")).unwrap();
    assert_eq!(fitted.a(), model().a(), "A is not learned");
    assert_ne!(fitted.q(), model().q());
    // One iteration: the library's E-step and M-step.
    run(&dir, "fit", &learn("1", "one.json")).ok();
    let one = LinearGaussianSsm::load(&dir.path().join("one.json")).unwrap();
    let y = data();
    let blocks: Vec<Vec<Mat<f64>>> = [(0, 30), (30, 20)]
        .iter()
        .map(|&(first, t)| (first + 1..first + t).map(a_at).collect())
        .collect();
    let a: Vec<Vec<MatRef<'_, f64>>> = blocks.iter().map(|b| views(b)).collect();
    let sequences: Vec<Sequence<'_>> = [(0, 30), (30, 20)]
        .iter()
        .zip(&a)
        .map(|(&(first, t), a)| {
            Sequence::new(y.as_ref().subrows(first, t)).with_time_varying(TimeVarying {
                a: Some(a),
                ..TimeVarying::default()
            })
        })
        .collect();
    let start = WithInputs(model());
    let stats = start.e_step(&sequences[..]).unwrap().stats;
    let options = MStepOptions::new(LearnSet::only(&[
        Param::Q,
        Param::H,
        Param::R,
        Param::M0,
        Param::P0,
    ]));
    let (want, _) = start.m_step(&stats, &options).unwrap();
    for (got, want) in [
        (one.q(), want.0.q()),
        (one.r(), want.0.r()),
        (one.h(), want.0.h()),
    ] {
        let diff = (got - want).norm_max();
        assert!(diff < 1e-12 * (1.0 + want.norm_max()), "{got:?} vs {want:?}");
    }
}
