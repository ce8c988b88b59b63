//! The numbers behind a density histogram.

use super::axes::Extent;

/// A density histogram of the finite values: `bins` equal bins over
/// `[min, max]` (or `range` when given); returns `(edges, heights)` with
/// `edges.len() == bins + 1` and heights scaled so the bars' total area is the
/// fraction of values inside the range (1 when no range is given). `scale`
/// multiplies the heights (e.g. the share of one state, so per-state
/// histograms add up to the whole).
#[must_use]
pub fn histogram(values: &[f64], bins: usize, range: Option<(f64, f64)>, scale: f64) -> (Vec<f64>, Vec<f64>) {
    let bins = bins.max(1);
    let (lo, hi) = range.unwrap_or_else(|| {
        let mut e = Extent::default();
        values.iter().filter(|v| v.is_finite()).for_each(|&v| e.add(v));
        match e.range() {
            None => (0.0, 1.0),
            Some((lo, hi)) if hi > lo => (lo, hi),
            Some((lo, hi)) => (lo - 0.5, hi + 0.5),
        }
    });
    let width = (hi - lo) / bins as f64;
    let edges: Vec<f64> = (0..=bins).map(|i| lo + width * i as f64).collect();
    let mut counts = vec![0usize; bins];
    let mut total = 0usize;
    for &v in values {
        if !v.is_finite() {
            continue;
        }
        total += 1;
        if v < lo || v > hi {
            continue;
        }
        let b = (((v - lo) / width) as usize).min(bins - 1);
        counts[b] += 1;
    }
    let norm = if total == 0 || !(width > 0.0) {
        0.0
    } else {
        scale / (total as f64 * width)
    };
    (edges, counts.iter().map(|&c| c as f64 * norm).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_integrates_to_one() {
        let values: Vec<f64> = (0..1000).map(|i| (i as f64 * 0.37).sin() * 3.0).collect();
        let (edges, heights) = histogram(&values, 20, None, 1.0);
        assert_eq!((edges.len(), heights.len()), (21, 20));
        let area: f64 = heights
            .iter()
            .zip(edges.windows(2))
            .map(|(h, e)| h * (e[1] - e[0]))
            .sum();
        assert!((area - 1.0).abs() < 1e-12);
        let (_, half) = histogram(&values, 20, None, 0.5);
        assert!((half[3] - heights[3] * 0.5).abs() < 1e-12);
        let (e, h) = histogram(&[2.0, 2.0], 3, None, 1.0);
        assert!((h.iter().sum::<f64>() * (e[1] - e[0]) - 1.0).abs() < 1e-12);
        let (_, h) = histogram(&[], 3, None, 1.0);
        assert!(h.iter().all(|&v| v == 0.0));
    }
}
