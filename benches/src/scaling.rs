//! How the time of one EM iteration grows with the problem size, from small
//! to ten times the standard workloads: N, K and d for mixtures, T and K for
//! HMMs, T and n for state-space models. Used by `emfit-compare scaling`.

use crate::workloads::{gmm_big, hmm_big};
use faer::Mat;
use rand::SeedableRng;
use rand::rngs::StdRng;
use statespace::{EmModel, InferenceOptions, LearnSet, LinearGaussianSsm, MStepOptions, Param};
use std::time::Instant;

/// One measured point of a scaling curve.
#[derive(Debug, Clone)]
pub struct Point {
    /// Model family and what varies, e.g. "GMM full: N (d=8, K=8)".
    pub series: String,
    /// The value of the varied size.
    pub size: usize,
    /// Median seconds of one EM iteration over three runs.
    pub seconds: f64,
}

/// Median of three timed runs of `run`, in seconds.
fn median_of_three(mut run: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..3)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[1]
}

fn gmm_point(series: &str, size: usize, n: usize, d: usize, k: usize) -> Point {
    let w = gmm_big(n, d, k);
    let options = mixture::MStepOptions::default();
    let seconds = median_of_three(|| {
        std::hint::black_box(
            w.start
                .em_iteration(w.x.as_ref(), &options)
                .expect("valid workload"),
        );
    });
    Point {
        series: series.to_string(),
        size,
        seconds,
    }
}

fn hmm_point(series: &str, size: usize, k: usize, sequences: usize) -> Point {
    let w = hmm_big(k, 4, sequences, 500);
    let data = w.sequences();
    let options = hmm::MStepOptions::default();
    let seconds = median_of_three(|| {
        std::hint::black_box(w.start.em_iteration(&data, &options).expect("valid workload"));
    });
    Point {
        series: series.to_string(),
        size,
        seconds,
    }
}

/// A scenario-3-like model with `joints` joints (state dimension 3·joints,
/// H = I): damped constant-acceleration blocks, R = kron(diag(0.01, 0.01, 1), I).
fn lgssm_model(joints: usize) -> LinearGaussianSsm {
    let n = 3 * joints;
    let a3 = [[0.99, 1.0, 0.5], [0.0, 0.95, 1.0], [0.0, 0.0, 0.90]];
    let a = Mat::from_fn(n, n, |i, j| {
        if i % joints == j % joints {
            a3[i / joints][j / joints]
        } else {
            0.0
        }
    });
    let diag = |d: [f64; 3]| Mat::from_fn(n, n, |i, j| if i == j { d[i / joints] } else { 0.0 });
    let q = diag([1e-4, 1e-3, 1e-1]);
    let r = diag([0.01, 0.01, 1.0]);
    let h = Mat::identity(n, n);
    let m0 = vec![0.0; n];
    LinearGaussianSsm::builder()
        .a(a.as_ref())
        .q(q.as_ref())
        .h(h.as_ref())
        .r(r.as_ref())
        .m0(&m0)
        .p0(r.as_ref())
        .build()
        .expect("valid model")
}

fn lgssm_point(series: &str, size: usize, joints: usize, steps: usize, inference: InferenceOptions) -> Point {
    let model = lgssm_model(joints).with_inference(inference);
    let (_, y) = model
        .sample(steps, &mut StdRng::seed_from_u64(5))
        .expect("a stable model samples");
    let options = MStepOptions::new(LearnSet::only(&[Param::A, Param::Q]));
    let sequences = [y.as_ref()];
    let seconds = median_of_three(|| {
        std::hint::black_box(model.em_iteration(&sequences, &options).expect("valid workload"));
    });
    Point {
        series: series.to_string(),
        size,
        seconds,
    }
}

/// Every scaling curve. Takes a few minutes on one core.
#[must_use]
pub fn measure_all() -> Vec<Point> {
    let mut points = Vec::new();
    for n in [2_000, 20_000, 200_000, 2_000_000] {
        points.push(gmm_point("GMM full, one EM iteration: N (d=8, K=8)", n, n, 8, 8));
    }
    for k in [2, 8, 32, 80] {
        points.push(gmm_point(
            "GMM full, one EM iteration: K (N=200k, d=8)",
            k,
            200_000,
            8,
            k,
        ));
    }
    for d in [2, 8, 32, 80] {
        points.push(gmm_point(
            "GMM full, one EM iteration: d (N=20k, K=8)",
            d,
            20_000,
            d,
            8,
        ));
    }
    for sequences in [20, 200, 2_000] {
        points.push(hmm_point(
            "Gaussian HMM full, one Baum-Welch iteration: T (K=8, d=4)",
            sequences * 500,
            8,
            sequences,
        ));
    }
    for k in [2, 8, 32, 80] {
        points.push(hmm_point(
            "Gaussian HMM full, one Baum-Welch iteration: K (T=100k, d=4)",
            k,
            k,
            200,
        ));
    }
    for steps in [4_448, 44_484, 444_840] {
        points.push(lgssm_point(
            "LGSSM exact, one EM iteration: T (n=21)",
            steps,
            7,
            steps,
            InferenceOptions::exact(),
        ));
        points.push(lgssm_point(
            "LGSSM steady state, one EM iteration: T (n=21)",
            steps,
            7,
            steps,
            InferenceOptions::steady_state(),
        ));
    }
    for joints in [1, 3, 7, 14, 28] {
        points.push(lgssm_point(
            "LGSSM exact, one EM iteration: n (T=4,448)",
            3 * joints,
            joints,
            4_448,
            InferenceOptions::exact(),
        ));
    }
    points
}

/// The points as a Markdown table, one row per point.
#[must_use]
pub fn markdown(points: &[Point]) -> String {
    let mut s = String::from("| curve | size | seconds per iteration |\n|---|---|---|\n");
    for p in points {
        s.push_str(&format!("| {} | {} | {:.4} |\n", p.series, p.size, p.seconds));
    }
    s
}

/// One panel per curve: log10(seconds) against log10(size).
#[must_use]
pub fn svg(points: &[Point]) -> String {
    use emfit_cli::plot::{Figure, color, grid};
    let mut series: Vec<&str> = Vec::new();
    for p in points {
        if !series.contains(&p.series.as_str()) {
            series.push(&p.series);
        }
    }
    let figures: Vec<Figure> = series
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let (xs, ys): (Vec<f64>, Vec<f64>) = points
                .iter()
                .filter(|p| p.series == *name)
                .map(|p| ((p.size as f64).log10(), p.seconds.log10()))
                .unzip();
            let mut figure = Figure::new(name)
                .size(520.0, 300.0)
                .labels("log10 size", "log10 seconds");
            figure
                .line(&xs, &ys, color(i), None)
                .points(&xs, &ys, color(i), None);
            figure
        })
        .collect();
    grid(&figures, 2)
}
