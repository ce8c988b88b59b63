//! k-means clustering: greedy k-means++ seeding, then Lloyd rounds.
//!
//! Seeding (Arthur & Vassilvitskii 2007, greedy variant as scikit-learn): the
//! first centre is a uniformly random row; each next centre is the best of
//! `2 + ⌊ln k⌋` candidates drawn with probability proportional to the squared
//! distance `D(x)²` to the nearest centre chosen so far ("best" = smallest
//! resulting potential `Σ D²`). Then up to `max_rounds` Lloyd rounds (assign
//! each row to its nearest centroid, first on ties; move each centroid to the
//! mean of its rows), stopping early when no label changes.
//!
//! Empty clusters: a cluster that loses all its rows in a round is moved to
//! the row farthest from its own centroid (a row not already alone in its
//! cluster); this is counted in [`KMeans::relocations`].
//!
//! Too few distinct points: if fewer than `k` distinct rows exist, seeding
//! runs out of rows with positive `D²` and [`kmeans`] returns
//! [`MixtureError::TooFewDistinctPoints`] (no clustering with duplicate
//! centroids is returned).
//!
//! Units: distances are computed on the data times `2⁻ᵉ`, where `2ᵉ` is the
//! power of two nearest below the largest `|xᵢⱼ|`. Multiplying by a power of
//! two is exact, so the clustering is that of the data as given, while
//! squared distances neither underflow (data of size `1e-200`, whose
//! squared differences would be 0 and every point "the same") nor overflow
//! (data of size `1e200`): k-means does not depend on the units of the data.
//! [`KMeans::inertia`] is in the data's units.
//!
//! All randomness comes from the caller's RNG, drawn sequentially: the same
//! seed gives the same clustering. The distance passes run over fixed chunks
//! in parallel and are reduced in order, so the thread count does not matter.

use crate::MixtureError;
use crate::data::{Data, check_training_data, chunk_ranges, with_data};
use faer::{Mat, MatRef};
use rand::Rng;
use rayon::prelude::*;

/// The result of [`kmeans`].
#[derive(Debug, Clone, PartialEq)]
pub struct KMeans {
    centroids: Mat<f64>,
    labels: Vec<usize>,
    inertia: f64,
    rounds: usize,
    converged: bool,
    relocations: usize,
}

impl KMeans {
    /// Centroids, k x d.
    #[must_use]
    pub fn centroids(&self) -> MatRef<'_, f64> {
        self.centroids.as_ref()
    }

    /// Cluster of every row (nearest centroid).
    #[must_use]
    pub fn labels(&self) -> &[usize] {
        &self.labels
    }

    /// `Σᵢ ‖xᵢ − c_{label(i)}‖²` for the returned centroids and labels, in
    /// the squared units of the data (`+∞` when it exceeds the largest
    /// float, possible only for data beyond `1e154`; the clustering itself
    /// is computed in scaled units and does not overflow).
    #[must_use]
    pub fn inertia(&self) -> f64 {
        self.inertia
    }

    /// Lloyd rounds run.
    #[must_use]
    pub fn rounds(&self) -> usize {
        self.rounds
    }

    /// True when the last round changed no label.
    #[must_use]
    pub fn converged(&self) -> bool {
        self.converged
    }

    /// Number of empty-cluster relocations performed.
    #[must_use]
    pub fn relocations(&self) -> usize {
        self.relocations
    }

    /// Consumes the result into `(centroids, labels)`.
    #[must_use]
    pub fn into_parts(self) -> (Mat<f64>, Vec<usize>) {
        (self.centroids, self.labels)
    }
}

/// Clusters the rows of `x` (n x d) into `k` clusters (see the module docs).
///
/// # Errors
/// [`MixtureError::NoComponents`] for k = 0; [`MixtureError::EmptyData`];
/// [`MixtureError::NoFeatures`] for d = 0; [`MixtureError::TooFewSamples`]
/// for n < k; [`MixtureError::NonFiniteData`] naming the row and column;
/// [`MixtureError::TooFewDistinctPoints`].
pub fn kmeans<R: Rng + ?Sized>(
    x: MatRef<'_, f64>,
    k: usize,
    max_rounds: usize,
    rng: &mut R,
) -> Result<KMeans, MixtureError> {
    with_data(x, |data| {
        check_training_data(data, x.nrows(), k)?;
        cluster(data, k, max_rounds, rng)
    })
}

/// The best of `runs` runs of [`kmeans`] (at least one) by inertia
/// `Σᵢ ‖xᵢ − c_{label(i)}‖²`, the first among ties, seeded one after the
/// other from `rng`: scikit-learn's `KMeans(n_init = runs)`. The data are
/// laid out and checked once for all runs.
///
/// # Errors
/// As [`kmeans`].
pub fn kmeans_best_of<R: Rng + ?Sized>(
    x: MatRef<'_, f64>,
    k: usize,
    max_rounds: usize,
    runs: usize,
    rng: &mut R,
) -> Result<KMeans, MixtureError> {
    with_data(x, |data| {
        check_training_data(data, x.nrows(), k)?;
        let mut best = cluster(data, k, max_rounds, rng)?;
        for _ in 1..runs {
            let run = cluster(data, k, max_rounds, rng)?;
            if run.inertia() < best.inertia() {
                best = run;
            }
        }
        Ok(best)
    })
}

/// [`kmeans`] of data that passed [`check_training_data`].
pub(crate) fn cluster<R: Rng + ?Sized>(
    cols: &Data<'_>,
    k: usize,
    max_rounds: usize,
    rng: &mut R,
) -> Result<KMeans, MixtureError> {
    let (n, d) = (cols.nrows(), cols.ncols());
    let ranges = chunk_ranges(n);
    let units = Units::of(cols, n);
    let mut centroids = seed_plus_plus(cols, units, n, k, rng)?;
    let (mut labels, mut dist) = assign(cols, units, &centroids, &ranges);
    let mut rounds = 0;
    let mut converged = false;
    let mut relocations = 0;
    while rounds < max_rounds {
        rounds += 1;
        relocations += update_centroids(cols, units, &labels, &dist, &mut centroids);
        let (new_labels, new_dist) = assign(cols, units, &centroids, &ranges);
        let changed = new_labels != labels;
        labels = new_labels;
        dist = new_dist;
        if !changed {
            converged = true;
            break;
        }
    }
    let inertia = ranges
        .iter()
        .map(|&(s, e)| dist[s..e].iter().sum::<f64>())
        .sum::<f64>()
        * (units.scale * units.scale);
    Ok(KMeans {
        centroids: Mat::from_fn(k, d, |c, j| centroids[c * d + j]),
        labels,
        inertia,
        rounds,
        converged,
        relocations,
    })
}

/// The power of two `scale = 2ᵉ` the distances are measured in (see the
/// module docs), and its inverse.
#[derive(Clone, Copy)]
struct Units {
    scale: f64,
    inv: f64,
}

impl Units {
    /// `2ᵉ ≤ max |xᵢⱼ| < 2ᵉ⁺¹` (e clamped to ±1022, so both powers are
    /// normal numbers); 1 for data of zeros.
    fn of(cols: &Data<'_>, n: usize) -> Self {
        let largest = (0..cols.ncols())
            .flat_map(|j| (0..n).map(move |i| cols.get(i, j).abs()))
            .fold(0.0, f64::max);
        if !(largest > 0.0 && largest.is_finite()) {
            return Self { scale: 1.0, inv: 1.0 };
        }
        let e = (largest.log2().floor() as i64).clamp(-1022, 1022);
        let power = |e: i64| f64::from_bits(((1023 + e) as u64) << 52);
        Self {
            scale: power(e),
            inv: power(-e),
        }
    }
}

/// `‖xᵢ − c‖²` in [`Units`]: each coordinate scaled before subtracting, so
/// that no difference overflows.
fn sq_dist(cols: &Data<'_>, units: Units, i: usize, c: &[f64]) -> f64 {
    c.iter()
        .enumerate()
        .map(|(j, cj)| {
            let v = cols.get(i, j) * units.inv - cj * units.inv;
            v * v
        })
        .sum()
}

/// Greedy k-means++; centroids returned flat, `c·d + j`.
fn seed_plus_plus<R: Rng + ?Sized>(
    cols: &Data<'_>,
    units: Units,
    n: usize,
    k: usize,
    rng: &mut R,
) -> Result<Vec<f64>, MixtureError> {
    let d = cols.ncols();
    let trials = 2 + (k as f64).ln().floor() as usize;
    let first = rng.random_range(0..n);
    let mut centroids: Vec<f64> = cols.row(first);
    let mut closest: Vec<f64> = (0..n).map(|i| sq_dist(cols, units, i, &centroids[..d])).collect();
    for chosen in 1..k {
        let potential: f64 = closest.iter().sum();
        if !(potential > 0.0) {
            return Err(MixtureError::TooFewDistinctPoints {
                distinct: chosen,
                requested: k,
            });
        }
        let mut best: Option<(f64, usize, Vec<f64>)> = None;
        for _ in 0..trials {
            let target = rng.random::<f64>() * potential;
            let mut acc = 0.0;
            let mut pick = None;
            for (i, &v) in closest.iter().enumerate() {
                if v > 0.0 {
                    acc += v;
                    pick = Some(i);
                    if acc > target {
                        break;
                    }
                }
            }
            let pick = pick.expect("positive potential has a positive term");
            let cand: Vec<f64> = cols.row(pick);
            let updated: Vec<f64> = closest
                .par_iter()
                .enumerate()
                .with_min_len(4096)
                .map(|(i, &v)| v.min(sq_dist(cols, units, i, &cand)))
                .collect();
            let pot = lane_total(&updated);
            if best.as_ref().is_none_or(|(p, _, _)| pot < *p) {
                best = Some((pot, pick, updated));
            }
        }
        let (_, pick, updated) = best.expect("at least two trials");
        centroids.extend(cols.row(pick));
        closest = updated;
    }
    Ok(centroids)
}

fn lane_total(v: &[f64]) -> f64 {
    crate::data::chunk_ranges(v.len())
        .iter()
        .map(|&(s, e)| v[s..e].iter().sum::<f64>())
        .sum()
}

/// Nearest centroid (first on ties) and squared distance of every row.
fn assign(
    cols: &Data<'_>,
    units: Units,
    centroids: &[f64],
    ranges: &[(usize, usize)],
) -> (Vec<usize>, Vec<f64>) {
    let d = cols.ncols();
    let k = centroids.len() / d;
    let parts: Vec<(Vec<usize>, Vec<f64>)> = ranges
        .par_iter()
        .map(|&(s, e)| {
            let mut labels = Vec::with_capacity(e - s);
            let mut dist = Vec::with_capacity(e - s);
            for i in s..e {
                let mut best = (f64::INFINITY, 0);
                for c in 0..k {
                    let v = sq_dist(cols, units, i, &centroids[c * d..(c + 1) * d]);
                    if v < best.0 {
                        best = (v, c);
                    }
                }
                labels.push(best.1);
                dist.push(best.0);
            }
            (labels, dist)
        })
        .collect();
    let mut labels = Vec::with_capacity(ranges.last().map_or(0, |r| r.1));
    let mut dist = Vec::with_capacity(labels.capacity());
    for (l, dd) in parts {
        labels.extend(l);
        dist.extend(dd);
    }
    (labels, dist)
}

/// Moves centroids to the means of their rows (summed in [`Units`], so that
/// no sum overflows); relocates empty clusters. Returns the number of
/// relocations.
fn update_centroids(
    cols: &Data<'_>,
    units: Units,
    labels: &[usize],
    dist: &[f64],
    centroids: &mut [f64],
) -> usize {
    let d = cols.ncols();
    let k = centroids.len() / d;
    let mut count = vec![0usize; k];
    let mut sums = vec![0.0; k * d];
    for (i, &l) in labels.iter().enumerate() {
        count[l] += 1;
        for j in 0..d {
            sums[l * d + j] += cols.get(i, j) * units.inv;
        }
    }
    let mut relocations = 0;
    let mut taken: Vec<usize> = Vec::new();
    for c in 0..k {
        if count[c] > 0 {
            for j in 0..d {
                centroids[c * d + j] = sums[c * d + j] / count[c] as f64 * units.scale;
            }
        } else {
            // Farthest row (from its own centroid) whose cluster keeps other rows.
            let mut best: Option<(f64, usize)> = None;
            for (i, &v) in dist.iter().enumerate() {
                if count[labels[i]] > 1 && !taken.contains(&i) && best.is_none_or(|(bv, _)| v > bv) {
                    best = Some((v, i));
                }
            }
            if let Some((_, i)) = best {
                taken.push(i);
                for j in 0..d {
                    centroids[c * d + j] = cols.get(i, j);
                }
                relocations += 1;
            }
        }
    }
    relocations
}
