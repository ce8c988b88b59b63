//! The plots of `emfit demo --plots DIR`, built from plain numbers with
//! [`emfit_cli::plot`].

use emfit_cli::plot::{self, Figure, GREY, color, ellipse, histogram};

/// One 2-D Gaussian component: weight, mean and covariance.
pub struct Component2 {
    /// Mixture weight.
    pub weight: f64,
    /// Mean.
    pub mean: [f64; 2],
    /// Covariance.
    pub cov: [[f64; 2]; 2],
}

/// 2-D mixture: the points coloured by their most likely component, with the
/// 1- and 2-sd ellipses of the fitted components and (dashed) the true ones.
pub fn mixture_2d(
    xs: &[f64],
    ys: &[f64],
    labels: &[usize],
    fitted: &[Component2],
    truth: &[Component2],
) -> String {
    let mut f = Figure::new("Scenario 2: 2-D Gaussian mixture (points coloured by fitted component)")
        .size(720.0, 560.0)
        .labels("x1", "x2");
    for (k, c) in fitted.iter().enumerate() {
        let (px, py): (Vec<f64>, Vec<f64>) = labels
            .iter()
            .zip(xs.iter().zip(ys))
            .filter(|(l, _)| **l == k)
            .map(|(_, (&x, &y))| (x, y))
            .unzip();
        f.points(
            &px,
            &py,
            color(k),
            Some(&format!("component {} (weight {:.2})", k + 1, c.weight)),
        );
    }
    for (k, c) in fitted.iter().enumerate() {
        for r in [1.0, 2.0] {
            if let Some((ex, ey)) = ellipse(c.mean, c.cov, r, 96) {
                f.line(&ex, &ey, color(k), None);
            }
        }
    }
    for (k, c) in truth.iter().enumerate() {
        if let Some((ex, ey)) = ellipse(c.mean, c.cov, 2.0, 96) {
            f.dashed_line(
                &ex,
                &ey,
                plot::PALETTE[7],
                (k == 0).then_some("true 2-sd ellipses"),
            );
        }
    }
    f.to_svg()
}

/// A 1-D density to draw: `(x grid, density values)`.
pub type Curve = (Vec<f64>, Vec<f64>);

/// 1-D data: a density histogram per hidden state (each scaled by the state's
/// share, so the bars stack up to the whole data), the fitted density of each
/// state (scaled alike) and the fitted total.
pub fn histogram_by_state(
    title: &str,
    x: &[f64],
    states: &[usize],
    per_state: &[Curve],
    total: &Curve,
) -> String {
    let mut f = Figure::new(title)
        .size(760.0, 460.0)
        .labels("observation", "density");
    let finite: Vec<f64> = x.iter().copied().filter(|v| v.is_finite()).collect();
    let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let range = (lo.is_finite() && hi > lo).then_some((lo, hi));
    let n = x.len().max(1) as f64;
    for (k, curve) in per_state.iter().enumerate() {
        let values: Vec<f64> = x
            .iter()
            .zip(states)
            .filter(|(_, s)| **s == k)
            .map(|(v, _)| *v)
            .collect();
        let share = values.len() as f64 / n;
        let (edges, heights) = histogram(&values, 40, range, share);
        f.bars(
            &edges,
            &heights,
            color(k),
            Some(&format!("data in state {} ({:.0}%)", k + 1, share * 100.0)),
        );
        f.line(
            &curve.0,
            &curve.1,
            color(k),
            Some(&format!("fitted density, state {}", k + 1)),
        );
    }
    f.dashed_line(&total.0, &total.1, plot::PALETTE[7], Some("fitted density, all"));
    f.to_svg()
}

/// The cumulative sum of a 1-D series coloured by decoded state; a second
/// panel colours it by the true state when known.
pub fn series_by_state(x: &[f64], decoded: &[usize], truth: Option<&[usize]>, n_states: usize) -> String {
    let t: Vec<f64> = (0..x.len()).map(|i| i as f64).collect();
    let mut acc = 0.0;
    let cum: Vec<f64> = x
        .iter()
        .map(|v| {
            acc += v;
            acc
        })
        .collect();
    let names: Vec<String> = (0..n_states).map(|k| format!("state {}", k + 1)).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut a = Figure::new("Cumulative sum of the series, coloured by the Viterbi path")
        .size(900.0, 340.0)
        .labels("time step", "cumulative sum");
    a.labelled_line(&t, &cum, decoded, &names);
    let mut panels = vec![a];
    if let Some(truth) = truth {
        let mut b = Figure::new("... and by the true hidden state")
            .size(900.0, 340.0)
            .labels("time step", "cumulative sum");
        b.labelled_line(&t, &cum, truth, &names);
        panels.push(b);
    }
    plot::grid(&panels, 1)
}

/// One panel of the state-space plot: observations, smoothed mean and +-2 sd band.
pub struct SmoothedPanel {
    /// Title of the panel.
    pub title: String,
    /// Observations (NaN = missing).
    pub observed: Vec<f64>,
    /// Smoothed mean of the observed quantity.
    pub mean: Vec<f64>,
    /// Its standard deviation.
    pub sd: Vec<f64>,
    /// The true hidden value, when known (simulated data).
    pub truth: Option<Vec<f64>>,
}

/// Smoothed states with +-2 sd bands against the observations, one panel per series.
pub fn smoothed(panels: &[SmoothedPanel]) -> String {
    let figures: Vec<Figure> = panels
        .iter()
        .map(|p| {
            let t: Vec<f64> = (0..p.observed.len()).map(|i| i as f64).collect();
            let lo: Vec<f64> = p.mean.iter().zip(&p.sd).map(|(m, s)| m - 2.0 * s).collect();
            let hi: Vec<f64> = p.mean.iter().zip(&p.sd).map(|(m, s)| m + 2.0 * s).collect();
            let mut f = Figure::new(&p.title)
                .size(900.0, 300.0)
                .labels("time step", "value");
            f.points(&t, &p.observed, GREY, Some("observed"))
                .band(&t, &lo, &hi, color(0), Some("smoothed +-2 sd"))
                .line(&t, &p.mean, color(0), Some("smoothed mean"));
            if let Some(truth) = &p.truth {
                f.dashed_line(&t, truth, color(3), Some("true hidden state"));
            }
            f
        })
        .collect();
    plot::grid(&figures, 1)
}

/// Evaluates `density` on a grid of `n` points over `[lo, hi]`.
pub fn curve(lo: f64, hi: f64, n: usize, density: impl Fn(f64) -> f64) -> Curve {
    let n = n.max(2);
    let xs: Vec<f64> = (0..n)
        .map(|i| lo + (hi - lo) * i as f64 / (n - 1) as f64)
        .collect();
    let ys = xs.iter().map(|&x| density(x)).collect();
    (xs, ys)
}

/// The normal density `N(x; mean, var)`.
pub fn normal_pdf(x: f64, mean: f64, var: f64) -> f64 {
    (-(x - mean) * (x - mean) / (2.0 * var)).exp() / (std::f64::consts::TAU * var).sqrt()
}
