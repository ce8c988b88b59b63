//! A seeded sample of rows across ranks that does not depend on how the
//! rows are split: what a distributed fit initialises on.
//!
//! Every row of the data gets a key from the seed and its index in the
//! whole data set, `key(i) = mix(seed ⊕ mix(i))` (SplitMix64's finaliser
//! `mix`, a bijection of 64-bit words), and the sample is the `size` rows
//! of smallest key, in data order. Each rank sends its own `size` smallest
//! (never more: a rank holds at most `size` candidates), every rank gathers
//! them and keeps the same `size` smallest. The keys depend on the seed and
//! the row's index only, so any split of the rows over any number of ranks
//! gives the same sample; with `size` at least the number of rows it is the
//! whole data set in order, and a model initialised on it is the
//! single-machine initialisation.

use em_driver::em_core::Collective;
use em_driver::faer::{Mat, MatRef};

/// SplitMix64's finaliser: a bijection of `u64` that mixes every bit.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The sample's key of row `row` of the whole data set.
fn key(seed: u64, row: usize) -> u64 {
    mix(seed ^ mix(row as u64))
}

/// The `size` rows of smallest key over every rank's `part` (its rows of
/// the data set, the first being row `first_row` of the whole), in data
/// order, on every rank (see the module documentation).
///
/// # Errors
/// The message naming the rank whose rows have another number of columns
/// than rank 0's.
pub fn seeded_sample<C: Collective + ?Sized>(
    collective: &C,
    part: MatRef<'_, f64>,
    first_row: usize,
    size: usize,
    seed: u64,
) -> Result<Mat<f64>, String> {
    let d = part.ncols();
    let mut local: Vec<(u64, usize)> = (0..part.nrows()).map(|i| (key(seed, first_row + i), i)).collect();
    local.sort_unstable();
    local.truncate(size);
    // [d] then, per candidate, [key, row of the whole, d values].
    let mut message = (d as u64).to_le_bytes().to_vec();
    for &(k, i) in &local {
        message.extend(k.to_le_bytes());
        message.extend(((first_row + i) as u64).to_le_bytes());
        message.extend((0..d).flat_map(|j| part[(i, j)].to_le_bytes()));
    }
    let mut candidates: Vec<(u64, u64, Vec<f64>)> = Vec::new();
    for (rank, bytes) in collective.all_gather(&message).iter().enumerate() {
        let words: Vec<u64> = bytes
            .chunks_exact(8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
            .collect();
        let Some((&width, rest)) = words.split_first() else {
            return Err(format!("rank {rank} sent no sample"));
        };
        if width != d as u64 || bytes.len() % 8 != 0 || rest.len() % (d + 2) != 0 {
            return Err(format!(
                "rank {rank}'s rows have {width} columns, this rank's {d}"
            ));
        }
        for row in rest.chunks_exact(d + 2) {
            candidates.push((
                row[0],
                row[1],
                row[2..].iter().map(|&v| f64::from_bits(v)).collect(),
            ));
        }
    }
    candidates.sort_unstable_by_key(|&(k, row, _)| (k, row));
    candidates.truncate(size);
    candidates.sort_unstable_by_key(|&(_, row, _)| row);
    Ok(Mat::from_fn(candidates.len(), d, |i, j| candidates[i].2[j]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rows_of;
    use em_driver::em_core::ranks::on_threads;

    fn data(rows: usize) -> Mat<f64> {
        Mat::from_fn(rows, 3, |i, j| (i * 3 + j) as f64 * 0.5 - 7.0)
    }

    fn sample_on(ranks: usize, x: &Mat<f64>, size: usize, seed: u64) -> Vec<Mat<f64>> {
        on_threads(ranks, |collective| {
            let rows = rows_of(collective.rank(), ranks, x.nrows());
            let part = x.as_ref().subrows(rows.start, rows.len());
            seeded_sample(collective, part, rows.start, size, seed).unwrap()
        })
    }

    #[test]
    fn any_split_gives_the_same_sample_on_every_rank() {
        let x = data(1001);
        let want = sample_on(1, &x, 50, 7).remove(0);
        assert_eq!(want.nrows(), 50);
        for ranks in [2, 3, 4, 7] {
            for sample in sample_on(ranks, &x, 50, 7) {
                assert_eq!(sample, want, "{ranks} ranks");
            }
        }
        // Rows of the data, in data order, without repeats.
        let rows: Vec<usize> = (0..50)
            .map(|i| ((want[(i, 0)] + 7.0) / 1.5).round() as usize)
            .collect();
        assert!(rows.windows(2).all(|w| w[0] < w[1]), "{rows:?}");
        assert_ne!(sample_on(3, &x, 50, 8)[0], want, "another seed, another sample");
    }

    #[test]
    fn a_sample_as_large_as_the_data_is_the_data_in_order() {
        let x = data(10);
        for ranks in [1, 3, 12] {
            for sample in sample_on(ranks, &x, 10, 1) {
                assert_eq!(sample, x);
            }
            for sample in sample_on(ranks, &x, 100, 1) {
                assert_eq!(sample, x);
            }
        }
    }

    #[test]
    fn ranks_with_rows_of_other_widths_are_named() {
        let results = on_threads(3, |collective| {
            let d = if collective.rank() == 2 { 4 } else { 3 };
            let part = Mat::<f64>::zeros(2, d);
            seeded_sample(collective, part.as_ref(), 2 * collective.rank(), 3, 0)
        });
        assert_eq!(
            results[0].as_ref().unwrap_err(),
            "rank 2's rows have 4 columns, this rank's 3"
        );
        assert!(results.iter().all(Result::is_err));
    }
}
