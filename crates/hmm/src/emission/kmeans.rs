//! The k-means clustering of the emissions' initialisations: the best of
//! several runs (`mixture::kmeans::kmeans_best_of`), as scikit-learn's
//! `KMeans(n_init=…)` (which hmmlearn's initialisations use with 10 runs).
//!
//! One run is a local optimum that depends on its k-means++ seeding, and so
//! on the order of the rows (the order of the sequences); the best of
//! several runs is far less so, and with it the fit that starts there.

use faer::MatRef;
use mixture::kmeans::{KMeans, kmeans_best_of};
use rand::Rng;

use super::gaussian::mixture_err;
use crate::error::HmmError;

/// The default number of k-means runs of an initialisation (scikit-learn's
/// and hmmlearn's `n_init = 10`).
pub const DEFAULT_KMEANS_RUNS: usize = 10;

/// The clustering of the rows of `x` into `k` clusters with the lowest
/// inertia `Σᵢ ‖xᵢ − c_{label(i)}‖²` among `runs` runs of at most `rounds`
/// Lloyd rounds each (the first among ties), the runs seeded one after the
/// other from `rng`.
///
/// # Errors
/// [`HmmError::InvalidOption`] for `runs = 0`; the errors of
/// `mixture::kmeans::kmeans` (in [`HmmError::Mixture`]), which do not
/// depend on the run.
pub(crate) fn best_kmeans<R: Rng + ?Sized>(
    x: MatRef<'_, f64>,
    k: usize,
    rounds: usize,
    runs: usize,
    rng: &mut R,
) -> Result<KMeans, HmmError> {
    if runs == 0 {
        return Err(HmmError::InvalidOption {
            what: "k-means runs",
            value: 0.0,
        });
    }
    kmeans_best_of(x, k, rounds, runs, rng).map_err(mixture_err(None))
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Mat;
    use mixture::kmeans::kmeans;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    /// Three well separated groups of unequal size, the middle one split
    /// in two close halves: with k = 3, a single run often ends in a local
    /// optimum (two centres in one group); the best of many reaches the
    /// lowest inertia of all the single runs from the same seeds.
    #[test]
    fn the_best_run_has_the_lowest_inertia_of_the_runs() {
        let x = Mat::from_fn(60, 2, |i, j| {
            let group = [0.0, 10.0, 10.5, 30.0][i % 4];
            group + 0.01 * ((i * 7 + j * 3) % 11) as f64
        });
        let mut single = StdRng::seed_from_u64(5);
        let inertias: Vec<f64> = (0..8)
            .map(|_| kmeans(x.as_ref(), 3, 100, &mut single).unwrap().inertia())
            .collect();
        let best = best_kmeans(x.as_ref(), 3, 100, 8, &mut StdRng::seed_from_u64(5)).unwrap();
        let lowest = inertias.iter().copied().fold(f64::INFINITY, f64::min);
        assert_eq!(best.inertia(), lowest, "{inertias:?}");
        assert!(matches!(
            best_kmeans(x.as_ref(), 3, 100, 0, &mut single),
            Err(HmmError::InvalidOption { .. })
        ));
    }
}
