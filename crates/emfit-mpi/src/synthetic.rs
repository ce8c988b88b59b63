//! Synthetic data that every rank generates for itself: its own rows of one
//! data set, the same rows whatever the number of ranks, so that a
//! benchmark never builds the whole data set in one process.

use std::ops::Range;

use em_driver::faer::Mat;
use em_driver::rand::SeedableRng;
use em_driver::rand::rngs::StdRng;
use rand_distr::{Distribution, Normal, Uniform};

use em_driver::em_core::sample::mix;

/// Rows generated from one seeded generator (a block of the data set).
const BLOCK: usize = 4096;

/// Rows `rows` of a data set of `d` columns drawn from `k` Gaussian
/// clusters: cluster means `μ_c ~ N(0, 5² I)` (from `seed`), each row
/// `μ_c + N(0, I)` with `c` uniform. Row `i` belongs to block `i / 4096`,
/// drawn from a generator seeded by the seed and the block's index, so a
/// row's values do not depend on which rank generates it.
///
/// # Panics
/// If `k` is 0.
#[must_use]
pub fn gaussian_clusters(rows: Range<usize>, d: usize, k: usize, seed: u64) -> Mat<f64> {
    assert!(k > 0, "at least one cluster");
    let unit = Normal::new(0.0, 1.0).expect("a valid normal");
    let mut rng = StdRng::seed_from_u64(seed);
    let means: Vec<f64> = (0..k * d).map(|_| 5.0 * unit.sample(&mut rng)).collect();
    let cluster = Uniform::new(0, k).expect("k > 0");
    let mut out = Mat::<f64>::zeros(rows.len(), d);
    let mut row = vec![0.0; d];
    let (first, last) = (rows.start / BLOCK, rows.end.div_ceil(BLOCK));
    for block in first..last {
        let mut rng = StdRng::seed_from_u64(mix(seed ^ mix(block as u64)));
        for i in block * BLOCK..((block + 1) * BLOCK).min(rows.end) {
            let c = cluster.sample(&mut rng);
            for (j, v) in row.iter_mut().enumerate() {
                *v = means[c * d + j] + unit.sample(&mut rng);
            }
            if i >= rows.start {
                for (j, &v) in row.iter().enumerate() {
                    out[(i - rows.start, j)] = v;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::gaussian_clusters;
    use crate::rows_of;

    #[test]
    fn any_split_generates_the_rows_of_the_whole() {
        let whole = gaussian_clusters(0..10_000, 3, 4, 7);
        for ranks in [1, 2, 3, 7] {
            for rank in 0..ranks {
                let rows = rows_of(rank, ranks, 10_000);
                let part = gaussian_clusters(rows.clone(), 3, 4, 7);
                assert_eq!(
                    part,
                    whole.as_ref().subrows(rows.start, rows.len()).to_owned(),
                    "{rank} of {ranks}"
                );
            }
        }
        assert_ne!(
            gaussian_clusters(0..10, 3, 4, 8),
            whole.as_ref().subrows(0, 10).to_owned()
        );
        // The rows are not all alike.
        assert!((0..3).all(|j| (1..10_000).any(|i| whole[(i, j)] != whole[(0, j)])));
    }
}
