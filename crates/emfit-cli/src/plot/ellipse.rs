//! The outline of a 2-D Gaussian.

/// Points on the ellipse `{ mean + r L u : |u| = 1 }` of a 2-D Gaussian with
/// covariance `cov` (`L` its Cholesky factor), i.e. the contour at `r` standard
/// deviations (Mahalanobis distance `r`); closed (first point repeated). Returns
/// `None` if `cov` is not positive definite.
#[must_use]
pub fn ellipse(mean: [f64; 2], cov: [[f64; 2]; 2], r: f64, n: usize) -> Option<(Vec<f64>, Vec<f64>)> {
    let l11 = cov[0][0];
    if !(l11 > 0.0) {
        return None;
    }
    let l11 = l11.sqrt();
    let l21 = cov[1][0] / l11;
    let d = cov[1][1] - l21 * l21;
    if !(d > 0.0) {
        return None;
    }
    let l22 = d.sqrt();
    let n = n.max(8);
    let (xs, ys) = (0..=n)
        .map(|i| {
            let a = std::f64::consts::TAU * i as f64 / n as f64;
            let (u, v) = (a.cos(), a.sin());
            (mean[0] + r * l11 * u, mean[1] + r * (l21 * u + l22 * v))
        })
        .unzip();
    Some((xs, ys))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ellipse_is_at_the_mahalanobis_distance() {
        let cov = [[2.0, 0.6], [0.6, 1.0]];
        let (xs, ys) = ellipse([1.0, -1.0], cov, 2.0, 64).unwrap();
        let det = cov[0][0] * cov[1][1] - cov[0][1] * cov[1][0];
        for (x, y) in xs.iter().zip(&ys) {
            let (dx, dy) = (x - 1.0, y + 1.0);
            let m = (cov[1][1] * dx * dx - 2.0 * cov[0][1] * dx * dy + cov[0][0] * dy * dy) / det;
            assert!((m - 4.0).abs() < 1e-9);
        }
        assert!(ellipse([0.0, 0.0], [[1.0, 2.0], [2.0, 1.0]], 1.0, 16).is_none());
        assert!(ellipse([0.0, 0.0], [[f64::NAN, 0.0], [0.0, 1.0]], 1.0, 16).is_none());
    }
}
