//! One process's rows of a `.npy` file: its shard, read without the rest.
//!
//! A process of a distributed fit (one MPI rank) reads only its own rows
//! `start..end` of a data file that every process can see. The header is
//! read and checked as [`super::read_npy`] checks it (the shape against the
//! file size, before anything is allocated); then only the shard's bytes are
//! read: one contiguous run of `(end − start)·d` values in C order, or `d`
//! runs of `end − start` values (one per column) in Fortran order, decoded
//! a few thousand at a time straight into the matrix (its only full-size
//! allocation). Values are checked as `read_npy` checks them, and an error
//! names the element, row and column of the file, not of the shard.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::Path;

use faer::{Mat, MatMut};

use super::{Dtype, Layout, decode, matrix_shape, parse_layout, value_problem};
use crate::io::MAX_ABS_VALUE;
use crate::io::error::DataError;

/// The rows and columns of a 1-D (`n` -> `n x 1`) or 2-D `.npy` file, from
/// its header alone.
///
/// # Errors
/// As [`super::read_npy`], for the header: [`DataError::Io`],
/// [`DataError::NpyHeader`], [`DataError::NpyDtype`], [`DataError::NpySize`],
/// [`DataError::NpyDims`].
pub fn npy_shape(path: &Path) -> Result<(usize, usize), DataError> {
    let (_, layout) = open(path)?;
    matrix_shape(&layout.shape, path)
}

/// Rows `rows` (from 0, end excluded) of a 1-D or 2-D `.npy` file as a
/// `(rows.end − rows.start) x d` matrix, reading only their bytes. An empty
/// range gives a matrix of no rows (a process with nothing to read).
///
/// # Errors
/// As [`super::read_npy`] (a value's error names its element, row and
/// column in the file, from 1); [`DataError::RowRange`] when the range
/// reaches past the file's rows.
pub fn read_npy_rows(path: &Path, allow_missing: bool, rows: Range<usize>) -> Result<Mat<f64>, DataError> {
    let (reader, layout) = open(path)?;
    let (total, cols) = check_range(&layout, path, &rows)?;
    let mut out = Mat::<f64>::zeros(rows.end - rows.start, cols);
    decode_rows(
        reader,
        &layout,
        path,
        allow_missing,
        (rows.start, total),
        out.as_mut(),
    )?;
    Ok(out)
}

/// The file's `(rows, columns)`, when `rows` lies within its rows.
pub(super) fn check_range(
    layout: &Layout,
    path: &Path,
    rows: &Range<usize>,
) -> Result<(usize, usize), DataError> {
    let (total, cols) = matrix_shape(&layout.shape, path)?;
    if rows.start > rows.end || rows.end > total {
        return Err(DataError::RowRange {
            path: path.into(),
            start: rows.start,
            end: rows.end,
            rows: total,
        });
    }
    Ok((total, cols))
}

/// Decodes rows `start..start + out.nrows()` of a file of `total` rows
/// (`reader` after its header) straight into `out`, a bounded run of
/// bytes at a time.
pub(super) fn decode_rows(
    mut reader: impl Read + Seek,
    layout: &Layout,
    path: &Path,
    allow_missing: bool,
    (start, total): (usize, usize),
    mut out: MatMut<'_, f64>,
) -> Result<(), DataError> {
    let (len, cols) = (out.nrows(), out.ncols());
    if len == 0 {
        return Ok(());
    }
    let (dtype, size) = (layout.dtype, layout.dtype.size as u64);
    // Offsets stay below the file size, checked against the shape.
    let at = |element: usize| layout.data_start + element as u64 * size;
    let io = |source| DataError::Io {
        path: path.into(),
        source,
    };
    // The error of a value that is not data (None for a good one).
    let bad = |i: usize, j: usize, value: f64| {
        value_error(path, layout, (total, cols), allow_missing, (start + i, j), value)
    };
    if layout.fortran_order {
        for j in 0..cols {
            reader.seek(SeekFrom::Start(at(j * total + start))).map_err(io)?;
            decode_each(&mut reader, dtype, len, path, |i, value| match bad(i, j, value) {
                None => {
                    out[(i, j)] = value;
                    Ok(())
                }
                Some(e) => Err(e),
            })?;
        }
        return Ok(());
    }
    // C order: runs of whole rows, each decoded a column at a time into its
    // column of `out` (contiguous writes); a run that holds a value beyond
    // the plain check (`|x| ≤ MAX_ABS_VALUE`, false for NaN and infinities)
    // is checked again in file order, so that the first bad value is named.
    reader.seek(SeekFrom::Start(at(start * cols))).map_err(io)?;
    let run_rows = (RUN / cols).max(1).min(len);
    let mut bytes = vec![0u8; run_rows * cols * dtype.size];
    let mut first = 0;
    while first < len {
        let n = run_rows.min(len - first);
        let run = &mut bytes[..n * cols * dtype.size];
        reader.read_exact(run).map_err(io)?;
        let value = |i: usize, j: usize| decode(dtype, &run[(i * cols + j) * dtype.size..][..dtype.size]);
        let mut plain = true;
        for j in 0..cols {
            let mut column = out.as_mut().col_mut(j).subrows_mut(first, n);
            match column.as_mut().try_as_col_major_mut() {
                Some(column) => {
                    for (i, slot) in column.as_slice_mut().iter_mut().enumerate() {
                        *slot = value(i, j);
                        plain &= slot.abs() <= MAX_ABS_VALUE;
                    }
                }
                None => {
                    for i in 0..n {
                        column[i] = value(i, j);
                        plain &= column[i].abs() <= MAX_ABS_VALUE;
                    }
                }
            }
        }
        if !plain
            && let Some(e) = (0..n)
                .flat_map(|i| (0..cols).map(move |j| (i, j)))
                .find_map(|(i, j)| bad(first + i, j, value(i, j)))
        {
            return Err(e);
        }
        first += n;
    }
    Ok(())
}

/// The error of `value`, the element at `(row, col)` (from 0) of a file of
/// `(total, cols)` rows and columns, if it is not data (None for a good
/// value): its element number in file order, row and column, from 1.
pub(super) fn value_error(
    path: &Path,
    layout: &Layout,
    (total, cols): (usize, usize),
    allow_missing: bool,
    (row, col): (usize, usize),
    value: f64,
) -> Option<DataError> {
    value_problem(value, allow_missing).map(|problem| {
        let element = if layout.fortran_order {
            col * total + row
        } else {
            row * cols + col
        };
        DataError::NpyValue {
            path: path.into(),
            element: element + 1,
            row: row + 1,
            col: col + 1,
            value,
            problem,
        }
    })
}

/// Values read per run of bytes.
const RUN: usize = 1 << 13;

/// Reads `count` values of `dtype` and hands each, with its index, to
/// `f`, reading at most [`RUN`] values' bytes at a time.
fn decode_each<R: Read>(
    reader: &mut R,
    dtype: Dtype,
    count: usize,
    path: &Path,
    mut f: impl FnMut(usize, f64) -> Result<(), DataError>,
) -> Result<(), DataError> {
    let mut bytes = vec![0u8; count.min(RUN) * dtype.size];
    let mut done = 0;
    while done < count {
        let n = (count - done).min(RUN);
        let run = &mut bytes[..n * dtype.size];
        reader.read_exact(run).map_err(|source| DataError::Io {
            path: path.into(),
            source,
        })?;
        for (k, b) in run.chunks_exact(dtype.size).enumerate() {
            f(done + k, decode(dtype, b))?;
        }
        done += n;
    }
    Ok(())
}

/// The file opened, its header read and checked.
pub(super) fn open(path: &Path) -> Result<(BufReader<File>, Layout), DataError> {
    let io = |source| DataError::Io {
        path: path.into(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut reader = BufReader::new(file);
    let layout = parse_layout(&mut reader, len, path)?;
    Ok((reader, layout))
}

#[cfg(test)]
mod tests {
    use super::super::read_npy;
    use super::super::tests::{image, write_file};
    use super::*;
    use crate::io::error::CellProblem;

    /// A 7 x 3 array with `value(i, j) = 10 i + j`, one NaN at row 5 (from
    /// 0), column 1, written in `order` with dtype `descr`.
    fn file(dir: &Path, fortran: bool, descr: &str) -> std::path::PathBuf {
        write_file(dir, (7, 3), fortran, descr, |i, j| {
            if (i, j) == (5, 1) {
                f64::NAN
            } else {
                (10 * i + j) as f64
            }
        })
    }

    #[test]
    fn shards_are_the_rows_of_the_whole_file_in_either_order_and_dtype() {
        let dir = tempfile::tempdir().unwrap();
        for fortran in [false, true] {
            for descr in ["<f8", ">f4"] {
                let path = file(dir.path(), fortran, descr);
                assert_eq!(npy_shape(&path).unwrap(), (7, 3));
                let whole = read_npy(&path, true).unwrap();
                for (start, end) in [(0, 7), (0, 1), (2, 6), (6, 7), (3, 3), (7, 7)] {
                    let shard = read_npy_rows(&path, true, start..end).unwrap();
                    assert_eq!((shard.nrows(), shard.ncols()), (end - start, 3));
                    for i in start..end {
                        for j in 0..3 {
                            let (a, b) = (shard[(i - start, j)], whole[(i, j)]);
                            assert!(a.to_bits() == b.to_bits(), "row {i} column {j}: {a} != {b}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn a_bad_value_is_named_by_its_place_in_the_file_and_rows_outside_are_not_read() {
        let dir = tempfile::tempdir().unwrap();
        for fortran in [false, true] {
            let path = file(dir.path(), fortran, "<f8");
            let whole = read_npy(&path, false).unwrap_err();
            let shard = read_npy_rows(&path, false, 4..7).unwrap_err();
            assert_eq!(shard.to_string(), whole.to_string());
            let DataError::NpyValue {
                element,
                row,
                col,
                problem,
                ..
            } = shard
            else {
                panic!("{shard}");
            };
            let want = if fortran { 7 + 6 } else { 5 * 3 + 2 };
            assert_eq!((element, row, col, problem), (want, 6, 2, CellProblem::Missing));
            // The missing value's row is not in these shards.
            assert!(read_npy_rows(&path, false, 0..5).is_ok());
            assert!(read_npy_rows(&path, false, 6..7).is_ok());
        }
    }

    #[test]
    fn ranges_past_the_rows_and_arrays_of_other_ranks_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = file(dir.path(), false, "<f8");
        for (start, end) in [(0, 8), (8, 8), (5, 4)] {
            let err = read_npy_rows(&path, true, start..end).unwrap_err();
            assert!(
                matches!(err, DataError::RowRange { start: s, end: e, rows: 7, .. } if (s, e) == (start, end)),
                "{err}"
            );
        }
        assert!(
            read_npy_rows(&path, true, 0..8)
                .unwrap_err()
                .to_string()
                .contains("rows 1 to 8 asked for, but the file has 7 rows")
        );
        let cube = dir.path().join("cube.npy");
        let data: Vec<u8> = (0..8).flat_map(|v| f64::from(v).to_le_bytes()).collect();
        std::fs::write(
            &cube,
            image(
                1,
                "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2, 2), }\n",
                &data,
            ),
        )
        .unwrap();
        assert!(matches!(
            npy_shape(&cube),
            Err(DataError::NpyDims { ndim: 3, .. })
        ));
        assert!(matches!(
            read_npy_rows(&cube, true, 0..1),
            Err(DataError::NpyDims { ndim: 3, .. })
        ));
        let short = dir.path().join("short.npy");
        std::fs::write(
            &short,
            image(
                1,
                "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000, 3), }\n",
                &data,
            ),
        )
        .unwrap();
        assert!(matches!(
            read_npy_rows(&short, true, 0..1),
            Err(DataError::NpySize { .. })
        ));
    }
}
