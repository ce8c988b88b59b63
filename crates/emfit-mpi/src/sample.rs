//! A seeded sample of rows across ranks that does not depend on how the
//! rows are split: what a distributed fit initialises on.
//!
//! The sample is em-core's ([`em_driver::em_core::sample`]): every row has
//! a key from the seed and its index in the whole data set, and the sample
//! is the `size` rows of smallest key, in data order. Each rank sends its
//! own `size` smallest (never more: a rank holds at most `size`
//! candidates), every rank gathers them and merges them in rank order. Any
//! split of the rows over any number of ranks gives the same sample; with
//! `size` at least the number of rows it is the whole data set in order,
//! and a model initialised on it is the single-machine initialisation.

use em_driver::em_core::Collective;
use em_driver::em_core::sample::Candidates;
use em_driver::faer::{Mat, MatRef};

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
    let local = Candidates::of_part(part.nrows(), d, |i, j| part[(i, j)], first_row as u64, size, seed);
    // [d] then, per candidate, [key, row of the whole, d values].
    let mut message = (d as u64).to_le_bytes().to_vec();
    for (i, (&k, &row)) in local.keys().iter().zip(local.rows()).enumerate() {
        message.extend(k.to_le_bytes());
        message.extend(row.to_le_bytes());
        message.extend(
            local.values()[i * d..(i + 1) * d]
                .iter()
                .flat_map(|v| v.to_le_bytes()),
        );
    }
    let mut sample = Candidates::of_part(0, d, |_, _| 0.0, 0, size, seed);
    for (rank, bytes) in collective.all_gather(&message).iter().enumerate() {
        let words: Vec<u64> = bytes
            .chunks_exact(8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
            .collect();
        let Some((&width, rest)) = words.split_first() else {
            return Err(format!("rank {rank} sent no sample"));
        };
        let wrong_width = || format!("rank {rank}'s rows have {width} columns, this rank's {d}");
        if width != d as u64 || bytes.len() % 8 != 0 || rest.len() % (d + 2) != 0 {
            return Err(wrong_width());
        }
        let rows = rest.chunks_exact(d + 2);
        let theirs = Candidates::from_parts(
            d,
            rows.clone().map(|r| r[0]).collect(),
            rows.clone().map(|r| r[1]).collect(),
            rows.flat_map(|r| r[2..].iter().map(|&v| f64::from_bits(v)))
                .collect(),
        )
        .ok_or_else(|| format!("rank {rank}'s sample is not in key order"))?;
        sample = sample.merge(&theirs, size).map_err(|_| wrong_width())?;
    }
    let (n, values) = sample.into_rows();
    Ok(Mat::from_fn(n, d, |i, j| values[i * d + j]))
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
