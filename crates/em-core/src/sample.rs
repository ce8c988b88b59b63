//! A seeded sample of rows that does not depend on how the rows are split
//! into parts: what a distributed fit initialises on (over MPI ranks in
//! the `emfit-mpi` crate, over Dask chunks in the Python package), since
//! the model's own initialisation needs its data in one piece.
//!
//! Every row of the data gets a key from the seed and its index in the
//! whole data set, `key(i) = mix(seed ⊕ mix(i))` (SplitMix64's finaliser
//! [`mix`], a bijection of 64-bit words), and the sample is the `size` rows
//! of smallest key, in data order:
//!
//! ```text
//! each part:  candidates = its `size` rows of smallest key     (Candidates::of_part)
//! any order:  candidates = the `size` smallest of two sets     (Candidates::merge)
//! at the end: the rows of the candidates, in data order         (Candidates::into_rows)
//! ```
//!
//! The keys depend on the seed and the row's index only, and the merge
//! keeps the `size` smallest `(key, row)` pairs (a total order), so any
//! split of the rows, merged in any order, gives the same sample; with
//! `size` at least the number of rows it is the whole data set in order,
//! and a model initialised on it is the single-machine initialisation.

/// SplitMix64's finaliser: a bijection of `u64` that mixes every bit.
#[must_use]
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The sample's key of row `row` of the whole data set.
#[must_use]
pub fn key(seed: u64, row: u64) -> u64 {
    mix(seed ^ mix(row))
}

/// The first row of each sequence when sequences of `lengths` rows lie end
/// to end in one data set (sums saturate: lengths whose total overflows are
/// refused where they are checked against the data).
#[must_use]
pub fn sequence_starts(lengths: &[usize]) -> Vec<usize> {
    lengths
        .iter()
        .scan(0usize, |row, &len| {
            let start = *row;
            *row = row.saturating_add(len);
            Some(start)
        })
        .collect()
}

/// The items of a seeded sample of whole sequences: of `items`
/// (`(key, index, rows)` each, e.g. a sequence's key, its index in the
/// whole data set and its rows), those of smallest `(key, index)`, taken in
/// that order while they hold fewer than `size` rows (the last one whole),
/// in that order. The rule of a sample of sequences on one machine
/// ([`smallest_key_sequences`]) and across MPI ranks (each rank's
/// candidates, then the gathered ones).
#[must_use]
pub fn take_smallest_keys<T>(
    mut items: Vec<(u64, u64, T)>,
    rows: impl Fn(&T) -> usize,
    size: usize,
) -> Vec<(u64, u64, T)> {
    items.sort_unstable_by_key(|&(k, i, _)| (k, i));
    let mut held = 0usize;
    items
        .into_iter()
        .take_while(|(_, _, item)| {
            let before = held;
            held = held.saturating_add(rows(item));
            before < size
        })
        .collect()
}

/// The whole sequences of a seeded sample of about `size` rows, when the
/// items are sequences of `lengths` rows (an HMM's data): the sequences
/// [`take_smallest_keys`] takes with keys `key(seed, s)`, returned in data
/// order. With `size` at least the rows of all sequences it is every
/// sequence.
#[must_use]
pub fn smallest_key_sequences(lengths: &[usize], size: usize, seed: u64) -> Vec<usize> {
    let items = (0..lengths.len())
        .map(|s| (key(seed, s as u64), s as u64, lengths[s]))
        .collect();
    let mut taken: Vec<usize> = take_smallest_keys(items, |&len| len, size)
        .into_iter()
        .map(|(_, s, _)| s as usize)
        .collect();
    taken.sort_unstable();
    taken
}

/// Candidates of a seeded sample: at most `size` rows of `width` values,
/// each with its key and its index in the whole data set, by increasing
/// `(key, row)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidates {
    width: usize,
    keys: Vec<u64>,
    rows: Vec<u64>,
    /// The rows' values, row-major.
    values: Vec<f64>,
}

/// Two sets of candidates whose rows have different numbers of values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("rows of {found} values where rows of {expected} were expected")]
pub struct WidthMismatch {
    /// The width of the candidates merged into.
    pub expected: usize,
    /// The other width.
    pub found: usize,
}

impl Candidates {
    /// The `size` rows of smallest key of a part of `n_rows` rows of
    /// `width` values (`value(i, j)`: row `i` of the part, column `j`),
    /// whose first row is row `first_row` of the whole data set.
    pub fn of_part(
        n_rows: usize,
        width: usize,
        value: impl Fn(usize, usize) -> f64,
        first_row: u64,
        size: usize,
        seed: u64,
    ) -> Self {
        let mut local: Vec<(u64, u64, usize)> = (0..n_rows)
            .map(|i| {
                let row = first_row + i as u64;
                (key(seed, row), row, i)
            })
            .collect();
        // The `size` smallest first (linear time), then those sorted.
        if local.len() > size {
            local.select_nth_unstable(size);
            local.truncate(size);
        }
        local.sort_unstable();
        Self {
            width,
            keys: local.iter().map(|c| c.0).collect(),
            rows: local.iter().map(|c| c.1).collect(),
            values: local
                .iter()
                .flat_map(|c| (0..width).map(|j| value(c.2, j)))
                .collect(),
        }
    }

    /// Candidates as they were sent: `keys` and `rows` by increasing
    /// `(key, row)` and the `width` values of each row after one another;
    /// `None` when the lengths disagree or the order is broken.
    #[must_use]
    pub fn from_parts(width: usize, keys: Vec<u64>, rows: Vec<u64>, values: Vec<f64>) -> Option<Self> {
        let sorted = keys
            .iter()
            .zip(&rows)
            .collect::<Vec<_>>()
            .windows(2)
            .all(|w| w[0] < w[1]);
        (keys.len() == rows.len() && values.len() == keys.len() * width && sorted).then_some(Self {
            width,
            keys,
            rows,
            values,
        })
    }

    /// The values per row.
    #[must_use]
    pub fn width(&self) -> usize {
        self.width
    }

    /// The keys, increasing (with the rows).
    #[must_use]
    pub fn keys(&self) -> &[u64] {
        &self.keys
    }

    /// The rows' indices in the whole data set.
    #[must_use]
    pub fn rows(&self) -> &[u64] {
        &self.rows
    }

    /// The rows' values, row-major.
    #[must_use]
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// The `size` smallest `(key, row)` of both sets.
    ///
    /// # Errors
    /// [`WidthMismatch`] when `other`'s rows have another width (a set
    /// without rows merges whatever its width).
    pub fn merge(&self, other: &Self, size: usize) -> Result<Self, WidthMismatch> {
        let width = if self.keys.is_empty() {
            other.width
        } else {
            if !other.keys.is_empty() && other.width != self.width {
                return Err(WidthMismatch {
                    expected: self.width,
                    found: other.width,
                });
            }
            self.width
        };
        let (mut a, mut b) = (0, 0);
        let mut merged = Self {
            width,
            keys: Vec::new(),
            rows: Vec::new(),
            values: Vec::new(),
        };
        while merged.keys.len() < size && (a < self.keys.len() || b < other.keys.len()) {
            let take_a = b == other.keys.len()
                || (a < self.keys.len() && (self.keys[a], self.rows[a]) < (other.keys[b], other.rows[b]));
            let (from, i) = if take_a { (self, &mut a) } else { (other, &mut b) };
            merged.keys.push(from.keys[*i]);
            merged.rows.push(from.rows[*i]);
            merged
                .values
                .extend_from_slice(&from.values[*i * width..(*i + 1) * width]);
            *i += 1;
        }
        Ok(merged)
    }

    /// The sample: the candidates' rows in data order, `(number of rows,
    /// values row-major)`.
    #[must_use]
    pub fn into_rows(self) -> (usize, Vec<f64>) {
        let mut order: Vec<usize> = (0..self.rows.len()).collect();
        order.sort_unstable_by_key(|&i| self.rows[i]);
        let w = self.width;
        let values = order
            .iter()
            .flat_map(|&i| self.values[i * w..(i + 1) * w].iter().copied())
            .collect();
        (order.len(), values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_starts_are_the_sums_before_each_sequence() {
        assert_eq!(sequence_starts(&[3, 1, 4]), [0, 3, 4]);
        assert_eq!(sequence_starts(&[]), Vec::<usize>::new());
        assert_eq!(sequence_starts(&[usize::MAX, 2, 1]), [0, usize::MAX, usize::MAX]);
    }

    #[test]
    fn sequence_sample_takes_smallest_keys_until_size_rows() {
        let lengths = [5, 1, 7, 3, 3, 9, 2, 2, 8, 4, 6];
        let taken = smallest_key_sequences(&lengths, 20, 3);
        assert!(taken.windows(2).all(|w| w[0] < w[1]), "data order");
        let rows: usize = taken.iter().map(|&s| lengths[s]).sum();
        assert!(rows >= 20, "{rows} rows");
        // Dropping the taken sequence of largest key leaves fewer than 20 rows.
        let last = *taken.iter().max_by_key(|&&s| key(3, s as u64)).unwrap();
        assert!(rows - lengths[last] < 20);
        // Every sequence left out has a larger key than every one taken.
        let largest = taken.iter().map(|&s| key(3, s as u64)).max().unwrap();
        for s in (0..lengths.len()).filter(|s| !taken.contains(s)) {
            assert!(key(3, s as u64) > largest, "sequence {s}");
        }
        assert_eq!(
            smallest_key_sequences(&lengths, 50, 3),
            (0..11).collect::<Vec<_>>()
        );
        assert_eq!(smallest_key_sequences(&lengths, 0, 3), Vec::<usize>::new());
    }

    /// Row `i` of a data set of 3 columns.
    fn value(i: u64, j: usize) -> f64 {
        (i * 3 + j as u64) as f64 * 0.5 - 7.0
    }

    fn part(first: u64, n: usize, size: usize, seed: u64) -> Candidates {
        Candidates::of_part(n, 3, |i, j| value(first + i as u64, j), first, size, seed)
    }

    /// The sample of `n` rows cut at `cuts`, merged left to right or as a
    /// pairwise tree.
    fn sample(n: u64, cuts: &[u64], size: usize, seed: u64, tree: bool) -> (usize, Vec<f64>) {
        let bounds: Vec<u64> = std::iter::once(0)
            .chain(cuts.iter().copied())
            .chain([n])
            .collect();
        let mut parts: Vec<Candidates> = bounds
            .windows(2)
            .map(|w| part(w[0], (w[1] - w[0]) as usize, size, seed))
            .collect();
        if tree {
            while parts.len() > 1 {
                parts = parts
                    .chunks(2)
                    .map(|p| match p {
                        [a, b] => a.merge(b, size).unwrap(),
                        [a] => a.clone(),
                        _ => unreachable!(),
                    })
                    .collect();
            }
            parts.remove(0).into_rows()
        } else {
            let first = parts.remove(0);
            parts
                .iter()
                .fold(first, |acc, p| acc.merge(p, size).unwrap())
                .into_rows()
        }
    }

    #[test]
    fn any_split_and_merge_order_gives_the_same_sample() {
        let want = sample(1001, &[], 50, 7, false);
        assert_eq!(want.0, 50);
        for cuts in [&[500][..], &[1, 2, 3, 999], &[100, 101, 700], &[1000]] {
            for tree in [false, true] {
                assert_eq!(sample(1001, cuts, 50, 7, tree), want, "{cuts:?} {tree}");
            }
        }
        // Rows of the data, in data order, without repeats.
        let rows: Vec<u64> = want
            .1
            .chunks(3)
            .map(|r| ((r[0] + 7.0) / 1.5).round() as u64)
            .collect();
        assert!(rows.windows(2).all(|w| w[0] < w[1]), "{rows:?}");
        assert_ne!(
            sample(1001, &[500], 50, 8, true),
            want,
            "another seed, another sample"
        );
    }

    #[test]
    fn a_sample_as_large_as_the_data_is_the_data_in_order() {
        let all: Vec<f64> = (0..10).flat_map(|i| (0..3).map(move |j| value(i, j))).collect();
        for size in [10, 100] {
            assert_eq!(sample(10, &[3, 4], size, 1, true), (10, all.clone()));
        }
    }

    #[test]
    fn rows_of_other_widths_do_not_merge() {
        let a = part(0, 5, 3, 0);
        let b = Candidates::of_part(5, 4, |_, _| 0.0, 5, 3, 0);
        assert_eq!(
            a.merge(&b, 3),
            Err(WidthMismatch {
                expected: 3,
                found: 4
            })
        );
        // An empty part merges whatever its width.
        let empty = Candidates::of_part(0, 4, |_, _| 0.0, 10, 3, 0);
        assert_eq!(a.merge(&empty, 3).unwrap(), a);
        assert_eq!(empty.merge(&a, 3).unwrap(), a);
    }

    #[test]
    fn parts_read_back_only_when_consistent() {
        let a = part(0, 5, 3, 0);
        let back = Candidates::from_parts(3, a.keys().to_vec(), a.rows().to_vec(), a.values().to_vec());
        assert_eq!(back.as_ref(), Some(&a));
        assert!(Candidates::from_parts(3, a.keys().to_vec(), a.rows().to_vec(), vec![0.0; 8]).is_none());
        let mut keys = a.keys().to_vec();
        keys.reverse();
        assert!(Candidates::from_parts(3, keys, a.rows().to_vec(), a.values().to_vec()).is_none());
    }
}
