//! Which rows each rank reads.

use std::ops::Range;

/// The rows of rank `rank` of `ranks` when `rows` rows are split as evenly
/// as possible, in order: the first `rows mod ranks` ranks get one row more.
/// A rank gets no rows when there are fewer rows than ranks.
///
/// # Panics
/// If `rank >= ranks`.
#[must_use]
pub fn rows_of(rank: usize, ranks: usize, rows: usize) -> Range<usize> {
    assert!(rank < ranks, "rank {rank} of {ranks}");
    let (base, extra) = (rows / ranks, rows % ranks);
    let start = rank * base + rank.min(extra);
    start..start + base + usize::from(rank < extra)
}

#[cfg(test)]
mod tests {
    use super::rows_of;

    #[test]
    fn the_ranks_cover_the_rows_in_order_as_evenly_as_possible() {
        for ranks in 1..9 {
            for rows in [0, 1, 3, 7, 8, 1001] {
                let parts: Vec<_> = (0..ranks).map(|r| rows_of(r, ranks, rows)).collect();
                assert_eq!(parts[0].start, 0);
                assert_eq!(parts[ranks - 1].end, rows);
                for pair in parts.windows(2) {
                    assert_eq!(pair[0].end, pair[1].start);
                    assert!(pair[0].len() == pair[1].len() || pair[0].len() == pair[1].len() + 1);
                }
            }
        }
        assert_eq!(rows_of(3, 4, 3), 3..3);
    }
}
