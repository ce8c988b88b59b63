//! Which rows (or whole sequences) each rank reads.

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

/// The sequences of rank `rank` of `ranks` for sequences of `lengths`
/// rows stacked in order (an HMM's or a state-space model's data): every
/// sequence goes whole to the rank whose rows of [`rows_of`] hold its first
/// row, so the ranks get consecutive runs of sequences with about as many
/// rows each, and no sequence is cut. The range indexes `lengths`.
///
/// # Panics
/// If `rank >= ranks`.
#[must_use]
pub fn sequences_of(rank: usize, ranks: usize, lengths: &[usize]) -> Range<usize> {
    let rows = rows_of(rank, ranks, lengths.iter().sum());
    // The sequences whose first row comes before `row`.
    let starting_before = |row: usize| {
        let mut first_row = 0;
        lengths
            .iter()
            .take_while(|&&len| {
                let before = first_row < row;
                first_row += len;
                before
            })
            .count()
    };
    starting_before(rows.start)..starting_before(rows.end)
}

#[cfg(test)]
mod tests {
    use super::{rows_of, sequences_of};

    #[test]
    fn sequences_go_whole_and_in_order_to_the_rank_of_their_first_row() {
        let lengths = [5, 1, 7, 3, 3, 9, 2, 2, 8];
        for ranks in 1..12 {
            let parts: Vec<_> = (0..ranks).map(|r| sequences_of(r, ranks, &lengths)).collect();
            let mut next = 0;
            for (rank, part) in parts.iter().enumerate() {
                if part.is_empty() {
                    continue;
                }
                assert_eq!(part.start, next, "{ranks} ranks, rank {rank}");
                next = part.end;
                let first_row: usize = lengths[..part.start].iter().sum();
                assert!(rows_of(rank, ranks, 40).contains(&first_row));
            }
            assert_eq!(next, lengths.len(), "{ranks} ranks");
        }
        // The long first sequence leaves rank 1 of 3 without a sequence.
        let parts: Vec<_> = (0..3).map(|r| sequences_of(r, 3, &[10, 1])).collect();
        assert_eq!(parts, [0..1, 1..1, 1..2]);
    }

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
