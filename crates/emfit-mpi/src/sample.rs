//! A seeded sample of rows (or whole sequences) across ranks that does not
//! depend on how the data are split: what a distributed fit initialises on.
//!
//! Every item of the data (a row, or a whole sequence of an HMM's or a
//! state-space model's data) gets a key from the seed and its index in the
//! whole data set, em-core's [`key`] (`key(i) = mix(seed ⊕ mix(i))`, the
//! keys of the row sample of the Dask driver). The sample is the items of smallest
//! key, taken in key order until they hold `size` rows (the last one
//! whole), then put in data order. Each rank sends its own items in key
//! order up to `size` rows (never more: no rank's later items can be
//! taken), every rank gathers them and takes the same ones. The keys depend
//! on the seed and the item's index only, so any split of the items over
//! any number of ranks gives the same sample; with `size` at least the
//! number of rows it is the whole data set in order, and a model
//! initialised on it is the single-machine initialisation.

use em_driver::em_core::Collective;
use em_driver::em_core::sample::{key, sequence_starts, take_smallest_keys};
use em_driver::faer::{Mat, MatRef};

/// The sample of `size` rows over every rank's `part` (its rows of the
/// data set, the first being row `first_row` of the whole), in data order,
/// on every rank (see the module documentation): the rows of smallest key.
///
/// # Errors
/// The message naming the rank whose rows have another number of columns
/// than this rank's.
pub fn seeded_sample<C: Collective + ?Sized>(
    collective: &C,
    part: MatRef<'_, f64>,
    first_row: usize,
    size: usize,
    seed: u64,
) -> Result<Mat<f64>, String> {
    let ones = vec![1; part.nrows()];
    seeded_sequences(collective, part, &ones, first_row, size, seed).map(|(sample, _)| sample)
}

/// The sample of about `size` rows in whole sequences over every rank's
/// `part` (its sequences of `lengths` rows, stacked, the first being
/// sequence `first_sequence` of the whole), in data order, on every rank,
/// with the sample's sequence lengths (see the module documentation).
///
/// # Errors
/// The message naming the rank whose rows have another number of columns
/// than this rank's, or whose message is not a sample.
///
/// # Panics
/// If `lengths` does not add up to the rows of `part`.
pub fn seeded_sequences<C: Collective + ?Sized>(
    collective: &C,
    part: MatRef<'_, f64>,
    lengths: &[usize],
    first_sequence: usize,
    size: usize,
    seed: u64,
) -> Result<(Mat<f64>, Vec<usize>), String> {
    assert_eq!(
        lengths.iter().sum::<usize>(),
        part.nrows(),
        "lengths of the part's rows"
    );
    let d = part.ncols();
    let starts = sequence_starts(lengths);
    let local = (0..lengths.len())
        .map(|s| {
            let whole = (first_sequence + s) as u64;
            (key(seed, whole), whole, s)
        })
        .collect();
    // [d] then, per candidate, [key, sequence of the whole, length, its rows].
    let mut message = vec![d as u64];
    for (k, whole, s) in take_smallest_keys(local, |&s| lengths[s], size) {
        message.extend([k, whole, lengths[s] as u64]);
        let block = part.subrows(starts[s], lengths[s]);
        message.extend((0..lengths[s]).flat_map(|i| (0..d).map(move |j| block[(i, j)].to_bits())));
    }
    let bytes: Vec<u8> = message.iter().flat_map(|w| w.to_le_bytes()).collect();
    let mut candidates: Vec<(u64, u64, (usize, Vec<u64>))> = Vec::new();
    for (rank, bytes) in collective.all_gather(&bytes).iter().enumerate() {
        let broken = || format!("rank {rank} sent no sample");
        if bytes.len() % 8 != 0 {
            return Err(broken());
        }
        let words: Vec<u64> = bytes
            .chunks_exact(8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
            .collect();
        let Some((&width, mut rest)) = words.split_first() else {
            return Err(broken());
        };
        if width != d as u64 {
            return Err(format!(
                "rank {rank}'s rows have {width} columns, this rank's {d}"
            ));
        }
        while let [k, s, len, tail @ ..] = rest {
            let len = usize::try_from(*len).map_err(|_| broken())?;
            let values = len
                .checked_mul(d)
                .filter(|&n| n <= tail.len())
                .ok_or_else(broken)?;
            candidates.push((*k, *s, (len, tail[..values].to_vec())));
            rest = &tail[values..];
        }
        if !rest.is_empty() {
            return Err(broken());
        }
    }
    let mut taken: Vec<(u64, usize, Vec<u64>)> = take_smallest_keys(candidates, |&(len, _)| len, size)
        .into_iter()
        .map(|(_, s, (len, values))| (s, len, values))
        .collect();
    taken.sort_unstable_by_key(|&(s, _, _)| s);
    let lengths: Vec<usize> = taken.iter().map(|&(_, len, _)| len).collect();
    let values: Vec<f64> = taken
        .into_iter()
        .flat_map(|(_, _, v)| v)
        .map(f64::from_bits)
        .collect();
    let rows = lengths.iter().sum();
    Ok((Mat::from_fn(rows, d, |i, j| values[i * d + j]), lengths))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{rows_of, sequences_of};
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

    /// The sample of whole sequences of `lengths` over `ranks` ranks (split
    /// by `sequences_of`), on every rank.
    fn sequences_on(
        ranks: usize,
        x: &Mat<f64>,
        lengths: &[usize],
        size: usize,
    ) -> Vec<(Mat<f64>, Vec<usize>)> {
        on_threads(ranks, |collective| {
            let mine = sequences_of(collective.rank(), ranks, lengths);
            let first_row: usize = lengths[..mine.start].iter().sum();
            let rows: usize = lengths[mine.clone()].iter().sum();
            let part = x.as_ref().subrows(first_row, rows);
            seeded_sequences(collective, part, &lengths[mine.clone()], mine.start, size, 3).unwrap()
        })
    }

    #[test]
    fn a_sample_of_sequences_takes_them_whole_and_is_the_same_on_any_split() {
        let lengths = [5, 1, 7, 3, 3, 9, 2, 2, 8, 4, 6];
        let x = data(lengths.iter().sum());
        let (sample, taken) = sequences_on(1, &x, &lengths, 20).remove(0);
        let rows: usize = taken.iter().sum();
        assert!((20..20 + 9).contains(&rows), "{taken:?}");
        assert_eq!(sample.nrows(), rows);
        // Each sampled sequence is a whole sequence of the data, in order.
        let first_rows = sequence_starts(&lengths);
        let mut at = 0;
        let mut previous = None;
        for &len in &taken {
            let row = ((sample[(at, 0)] + 7.0) / 1.5).round() as usize;
            let s = first_rows
                .iter()
                .position(|&r| r == row)
                .expect("a sequence's first row");
            assert_eq!(lengths[s], len);
            assert!(previous.is_none_or(|p| p < s), "{taken:?}");
            assert_eq!(sample.as_ref().subrows(at, len), x.as_ref().subrows(row, len));
            previous = Some(s);
            at += len;
        }
        for ranks in [2, 3, 5, 12] {
            for got in sequences_on(ranks, &x, &lengths, 20) {
                assert_eq!(got, (sample.clone(), taken.clone()), "{ranks} ranks");
            }
            for (got, lengths_got) in sequences_on(ranks, &x, &lengths, 1000) {
                assert_eq!((got, lengths_got), (x.clone(), lengths.to_vec()), "{ranks} ranks");
            }
        }
    }
}
