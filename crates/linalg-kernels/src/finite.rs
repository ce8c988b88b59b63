//! Finiteness checks of data, at memory speed in either layout.
//!
//! A value `v` is finite exactly when `v · 0 = 0` (NaN and ±inf give NaN),
//! so a slice is checked by summing `v · 0` in independent lanes: no branch
//! per value, and the loop vectorises. Only when that sum is not zero is the
//! first offending entry searched for, value by value.
//!
//! The scans of whole data ([`first_non_finite`], [`first_invalid_in_columns`])
//! run in the module of the detected instruction set
//! ([`for_each_isa!`](crate::for_each_isa)): compiled for the x86-64 baseline,
//! their lanes were SSE2 pairs, 3.6% of a Baum-Welch iteration with AVX2 on
//! AMD Zen 4 (a fifth less in the AVX2 module; the rest is memory traffic).

use std::ops::Range;

use faer::MatRef;

/// Independent accumulators of [`all_finite`] (one AVX-512 vector).
const LANES: usize = 8;

/// True when every value is finite.
#[inline(always)]
pub fn all_finite(values: &[f64]) -> bool {
    let mut acc = [0.0f64; LANES];
    let mut chunks = values.chunks_exact(LANES);
    for c in &mut chunks {
        for l in 0..LANES {
            acc[l] += c[l] * 0.0;
        }
    }
    let tail: f64 = chunks.remainder().iter().map(|v| v * 0.0).sum();
    acc.iter().sum::<f64>() + tail == 0.0
}

/// True when every value is finite and `>= 0` (a weight, a responsibility):
/// per lane the sum of `v · 0`, as in [`all_finite`], and the least value
/// from 0, which turns negative once a value is. Two floating-point
/// operations per value; boolean lanes took packing shuffles and 1.4x the
/// time in a Baum-Welch profile.
#[inline(always)]
pub fn all_finite_non_negative(values: &[f64]) -> bool {
    let (mut zero, mut least) = ([0.0f64; LANES], [0.0f64; LANES]);
    let mut chunks = values.chunks_exact(LANES);
    for c in &mut chunks {
        for l in 0..LANES {
            zero[l] += c[l] * 0.0;
            least[l] = if c[l] < least[l] { c[l] } else { least[l] };
        }
    }
    zero.iter().sum::<f64>() == 0.0
        && least.iter().all(|&m| m >= 0.0)
        && chunks.remainder().iter().all(|&v| finite_non_negative(v))
}

/// Whether `v` is finite and `>= 0` (−0 included).
#[inline(always)]
fn finite_non_negative(v: f64) -> bool {
    v.is_finite() && v >= 0.0
}

/// `(row, column)` of the first entry of `x` that is not finite: the
/// smallest row, then the smallest column; `None` when all are.
///
/// A matrix whose entries fill one slice (column-major or row-major, as a
/// C-ordered NumPy array viewed as n x d) is checked by one pass of
/// [`all_finite`] in memory order; one with contiguous columns column by
/// column; any other view value by value.
pub fn first_non_finite(x: MatRef<'_, f64>) -> Option<(usize, usize)> {
    let (n, d) = (x.nrows(), x.ncols());
    if n == 0 || d == 0 {
        return None;
    }
    let (rs, cs) = (x.row_stride(), x.col_stride());
    let whole = (rs == 1 && cs == n as isize) || (cs == 1 && rs == d as isize);
    if whole {
        // SAFETY: with these strides the n·d entries are exactly the n·d
        // consecutive values from the first one.
        let values = unsafe { std::slice::from_raw_parts(x.as_ptr(), n * d) };
        let valid = Valid::Finite;
        if crate::isa_dispatch!(all_valid(values, valid)) {
            return None;
        }
    } else if rs == 1 {
        let cols: Vec<&[f64]> = (0..d)
            .map(|j| x.col(j).try_as_col_major().expect("unit row stride").as_slice())
            .collect();
        return first_invalid_in_columns(&cols, 0..n, Valid::Finite);
    }
    (0..n).find_map(|i| (0..d).find(|&j| !x[(i, j)].is_finite()).map(|j| (i, j)))
}

/// What a scan accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Valid {
    /// Finite values ([`all_finite`]).
    Finite,
    /// Finite values `>= 0`: weights, responsibilities
    /// ([`all_finite_non_negative`]).
    FiniteNonNegative,
}

impl Valid {
    /// Whether every value is valid (the vectorised fast path).
    #[inline(always)]
    fn all(self, values: &[f64]) -> bool {
        match self {
            Self::Finite => all_finite(values),
            Self::FiniteNonNegative => all_finite_non_negative(values),
        }
    }

    /// Whether `v` is valid.
    #[inline(always)]
    fn one(self, v: f64) -> bool {
        match self {
            Self::Finite => v.is_finite(),
            Self::FiniteNonNegative => finite_non_negative(v),
        }
    }
}

/// `(row, column)` of the first entry of the rows `rows` of the columns
/// `cols` (smallest row, then smallest column) that is not `valid`. Each
/// column part is tested at once (vectorised, without a branch per value),
/// and only a part that fails is searched value by value.
pub fn first_invalid_in_columns(cols: &[&[f64]], rows: Range<usize>, valid: Valid) -> Option<(usize, usize)> {
    crate::isa_dispatch!(first_invalid_in_columns(cols, rows, valid))
}

/// [`first_invalid_in_columns`] in the caller's instruction set.
#[inline(always)]
fn first_invalid_body(cols: &[&[f64]], rows: Range<usize>, valid: Valid) -> Option<(usize, usize)> {
    let mut first: Option<(usize, usize)> = None;
    for (j, col) in cols.iter().enumerate() {
        let part = &col[rows.clone()];
        if valid.all(part) {
            continue;
        }
        if let Some(i) = part.iter().position(|&v| !valid.one(v)) {
            let row = rows.start + i;
            if first.is_none_or(|(r, _)| row < r) {
                first = Some((row, j));
            }
        }
    }
    first
}

/// The scans, compiled once per instruction set.
macro_rules! isa_kernels {
    ($name:ident, $fma:literal $(, $features:literal)?) => {
        mod $name {
            use super::{Range, Valid, first_invalid_body};

            $(#[target_feature(enable = $features)])?
            pub(super) fn first_invalid_in_columns(
                cols: &[&[f64]],
                rows: Range<usize>,
                valid: Valid,
            ) -> Option<(usize, usize)> {
                first_invalid_body(cols, rows, valid)
            }

            $(#[target_feature(enable = $features)])?
            pub(super) fn all_valid(values: &[f64], valid: Valid) -> bool {
                valid.all(values)
            }
        }
    };
}

crate::for_each_isa!(isa_kernels);

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Mat;

    /// Each lane check accepts clean slices of every length (full lane
    /// groups and tails) and refuses one bad value planted at any position.
    #[test]
    fn lane_checks_find_any_bad_value_at_any_position() {
        /// A check, the clean value at each index, the values it refuses.
        type Case = (fn(&[f64]) -> bool, fn(usize) -> f64, &'static [f64]);
        let cases: [Case; 2] = [
            (
                all_finite,
                |i| i as f64 - 3.5,
                &[f64::NAN, f64::INFINITY, f64::NEG_INFINITY],
            ),
            (
                all_finite_non_negative,
                |i| i as f64 * 0.5,
                &[-1e-300, -2.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY],
            ),
        ];
        for (check, value, bads) in cases {
            for len in 0..20 {
                let values: Vec<f64> = (0..len).map(value).collect();
                assert!(check(&values));
                for &bad in bads {
                    for at in 0..len {
                        let mut v = values.clone();
                        v[at] = bad;
                        assert!(!check(&v), "{bad} at {at} of {len}");
                    }
                }
            }
        }
        // −0 is not negative.
        for len in 0..20 {
            assert!(all_finite_non_negative(&vec![-0.0; len]));
        }
    }

    /// The scan of every instruction-set module this CPU can run finds the
    /// first invalid entry (smallest row, then column) of columns long
    /// enough for the vector lanes, with one invalid value planted at a
    /// time and with two, for both kinds of validity.
    #[test]
    fn every_instruction_set_scans_alike() {
        let isa = crate::isa::Isa::supported();
        let scans = |cols: &[&[f64]], rows: Range<usize>, valid: Valid| -> Vec<Option<(usize, usize)>> {
            let baseline = baseline::first_invalid_in_columns(cols, rows.clone(), valid);
            #[cfg(target_arch = "x86_64")]
            {
                // SAFETY: each runs only on a CPU that has its instruction set.
                let avx2 = isa
                    .has_avx2()
                    .then(|| unsafe { avx2::first_invalid_in_columns(cols, rows.clone(), valid) });
                let avx512 = isa
                    .has_avx512()
                    .then(|| unsafe { avx512::first_invalid_in_columns(cols, rows.clone(), valid) });
                [Some(baseline), avx2, avx512].into_iter().flatten().collect()
            }
            #[cfg(not(target_arch = "x86_64"))]
            {
                let _ = isa;
                vec![baseline]
            }
        };
        let (n, d) = (37, 3);
        let clean: Vec<Vec<f64>> = (0..d)
            .map(|j| (0..n).map(|i| (i * d + j) as f64 * 0.25).collect())
            .collect();
        for valid in [Valid::Finite, Valid::FiniteNonNegative] {
            let bads: &[f64] = match valid {
                Valid::Finite => &[f64::NAN, f64::INFINITY, f64::NEG_INFINITY],
                Valid::FiniteNonNegative => &[f64::NAN, f64::INFINITY, -1e-300],
            };
            for &bad in bads {
                for (i, j) in [(0, 0), (5, 2), (17, 1), (36, 0), (36, 2)] {
                    let mut cols = clean.clone();
                    cols[j][i] = bad;
                    // A second, later one in another column.
                    cols[(j + 1) % d][(i + 3).min(n - 1)] = bad;
                    let views: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
                    let later = (i + 3).min(n - 1);
                    // The first (row, column) of the two.
                    let want = (i, j).min((later, (j + 1) % d));
                    for found in scans(&views, 0..n, valid) {
                        assert_eq!(found, Some(want), "{valid:?} {bad} at ({i}, {j})");
                    }
                    // Rows past the bad ones are clean.
                    for found in scans(&views, later + 1..n, valid) {
                        assert_eq!(found, None, "{valid:?} {bad} at ({i}, {j}), later rows");
                    }
                }
            }
            for found in scans(&clean.iter().map(Vec::as_slice).collect::<Vec<_>>(), 0..n, valid) {
                assert_eq!(found, None, "{valid:?}, clean");
            }
        }
    }

    #[test]
    fn first_non_finite_is_the_smallest_row_then_column_in_every_layout() {
        let (n, d) = (13, 5);
        let mut m = Mat::from_fn(n, d, |i, j| (i * d + j) as f64);
        m[(9, 1)] = f64::NAN;
        m[(4, 3)] = f64::INFINITY;
        m[(4, 4)] = f64::NEG_INFINITY;
        m[(11, 0)] = f64::NAN;
        let row_major: Vec<f64> = (0..n)
            .flat_map(|i| (0..d).map(move |j| (i, j)))
            .map(|(i, j)| m[(i, j)])
            .collect();
        let views = [
            m.as_ref(),
            MatRef::from_row_major_slice(&row_major, n, d),
            m.as_ref().subcols(1, 4),
            m.as_ref().subrows(2, 10),
        ];
        let expected = [Some((4, 3)), Some((4, 3)), Some((4, 2)), Some((2, 3))];
        for (view, want) in views.into_iter().zip(expected) {
            assert_eq!(first_non_finite(view), want);
        }
        // Rows padded to 7 values: neither layout fills one slice.
        let padded: Vec<f64> = (0..n)
            .flat_map(|i| (0..7).map(move |j| (i, j)))
            .map(|(i, j)| if j < d { m[(i, j)] } else { f64::NAN })
            .collect();
        let strided = MatRef::from_row_major_slice_with_stride(&padded, n, d, 7);
        assert_eq!(first_non_finite(strided), Some((4, 3)));
        assert_eq!(first_non_finite(strided.subrows(5, 8)), Some((4, 1)));
        assert_eq!(first_non_finite(m.as_ref().subrows(0, 4)), None);
        assert_eq!(
            first_non_finite(MatRef::from_row_major_slice(&row_major[..20], 4, 5)),
            None
        );
    }
}
