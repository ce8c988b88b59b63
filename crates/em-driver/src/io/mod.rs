//! Data files: numeric CSV and NumPy `.npy` readers, sequence-lengths files, and
//! atomic writers.
//!
//! Data are read into an `n x d` [`faer::Mat`] with one row per observation, the
//! convention of every model crate. The format is chosen by the file extension:
//! `.npy` is NumPy, anything else is CSV/whitespace-separated text (see [`read_csv`]).
//! [`ReadOptions::columns`] keeps chosen columns only ([`ColumnSelector`]).
//! Values must be finite and at most [`MAX_ABS_VALUE`] in magnitude. A process
//! of a distributed fit reads only its own rows of a `.npy` file
//! ([`npy_shape`], [`read_npy_rows`]), and an out-of-core fit reads a `.npy`
//! or CSV file a chunk of rows at a time ([`ChunkedFile`]).
//!
//! Every error is a [`DataError`] naming the file, with one convention for
//! places: lines, columns, rows, elements and lengths entries are numbered from 1
//! (for text, the line and column; for `.npy`, the header field, or the element
//! with its row and column). Hostile files cannot cause a panic or an allocation
//! larger than a small multiple of the file's size.
//!
//! Sequences (for hidden Markov and state-space models) are consecutive blocks of
//! rows whose lengths come from a lengths file: one positive integer per line (or
//! separated by commas/blanks), or a 1-D integer `.npy` array ([`read_lengths`]);
//! the lengths must add up to the number of rows ([`check_lengths`]).
//!
//! Writers ([`write_matrix`], [`write_atomically`]) write to a temporary file in
//! the target's folder and rename it into place, so a reader never sees a
//! truncated file.

mod chunks;
mod columns;
mod csv;
mod error;
mod npy;

use std::io::Write;
use std::path::Path;

use faer::{Mat, MatRef};

pub use chunks::{ChunkBuffers, ChunkPlan, ChunkedFile};
pub use columns::{ColumnSelector, ColumnSelectorError};
pub use csv::{CsvRows, parse_csv, parse_record, read_csv};
pub use error::{CellProblem, CellText, ColumnProblem, DataError, LengthProblem, NpyField};
pub use npy::{
    NpyMatrices, npy_shape, read_npy, read_npy_matrices, read_npy_rows, write_npy, write_npy_f64,
    write_npy_f64_header, write_npy_i64,
};

/// Whether a CSV file starts with a header line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Header {
    /// The first line is a header if it has a word and no number (`x,y`).
    #[default]
    Auto,
    /// The first line is always a header.
    Present,
    /// There is no header: the first line is data.
    Absent,
}

/// The largest magnitude of a data value, 1e150: the models square the data
/// (second moments, covariances, the squared distances of k-means), and a
/// value beyond about 1e154 has a square beyond `f64::MAX` (1.8e308); 1e150
/// leaves room for sums of 10^4 such squares and more. Larger values are
/// refused by the readers ([`CellProblem::TooLarge`]) rather than turning into
/// a non-finite covariance later: rescale such data.
pub const MAX_ABS_VALUE: f64 = 1e150;

/// Options of the data readers. The default reads a header if there is one,
/// rejects missing values and keeps every column.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReadOptions {
    /// Header handling of CSV files.
    pub header: Header,
    /// Read empty cells, `nan`, `NA` and `null` (and `NaN` in `.npy`) as `f64::NAN`
    /// (missing observations) instead of rejecting them.
    pub allow_missing: bool,
    /// The columns to keep, in this order (a column may be named twice); `None`
    /// keeps them all. By number from 1, or by name in a CSV file with a header
    /// line ([`ColumnSelector::parse_list`] reads `2,4` or `x,y`). Columns that
    /// are not kept are not parsed. Errors: [`DataError::Column`].
    pub columns: Option<Vec<ColumnSelector>>,
}

/// Whether a path names a `.npy` file (by its extension, in any case).
#[must_use]
pub fn is_npy(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("npy"))
}

/// Reads a data matrix (rows = observations) from a `.npy` or CSV file.
///
/// # Errors
/// See [`read_csv`] and [`read_npy`].
pub fn read_matrix(path: &Path, options: &ReadOptions) -> Result<Mat<f64>, DataError> {
    if !is_npy(path) {
        return read_csv(path, options);
    }
    let data = read_npy(path, options.allow_missing)?;
    match &options.columns {
        None => Ok(data),
        Some(selection) => {
            let kept = columns::resolve(path, selection, None, data.ncols(), None)?;
            Ok(Mat::from_fn(data.nrows(), kept.len(), |i, j| data[(i, kept[j])]))
        }
    }
}

/// Reads sequence lengths: a text file with positive integers (one per line, or
/// separated by commas or blanks; blank lines, `#` comments and a UTF-8 byte order
/// mark skipped) or a 1-D (or single-row/column) integer-valued `.npy` array.
///
/// # Errors
/// [`DataError::Length`] for an entry that is not a positive integer (the entry is
/// the line number from 1 in text, the element number from 1 in `.npy`),
/// [`DataError::EmptyLengths`] for no lengths, and the errors of the readers.
pub fn read_lengths(path: &Path) -> Result<Vec<usize>, DataError> {
    let lengths = if is_npy(path) {
        let array = npy::read_npy_array(path)?;
        let rank_ok = match array.shape.as_slice() {
            [_] => true,
            [a, b] => *a == 1 || *b == 1,
            _ => false,
        };
        if !rank_ok {
            return Err(DataError::NpyDims {
                path: path.into(),
                ndim: array.shape.len(),
            });
        }
        let mut out = Vec::with_capacity(array.values.len());
        for (i, &v) in array.values.iter().enumerate() {
            let entry = i + 1;
            if !(v >= 0.0 && v.fract() == 0.0 && v < 9.0e15) {
                return Err(DataError::Length {
                    path: path.into(),
                    entry,
                    problem: LengthProblem::NotAnInteger,
                });
            }
            out.push(checked_length(path, entry, v as u64)?);
        }
        out
    } else {
        let text = std::fs::read(path).map_err(|source| DataError::Io {
            path: path.into(),
            source,
        })?;
        let mut out = Vec::new();
        for (i, line) in text.split(|&b| b == b'\n').enumerate() {
            let entry = i + 1;
            let line = std::str::from_utf8(line).map_err(|_| DataError::NotText {
                path: path.into(),
                line: entry,
            })?;
            let line = if entry == 1 {
                line.trim_start_matches('\u{feff}')
            } else {
                line
            };
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            for token in line
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|t| !t.is_empty())
            {
                let n = token.parse::<u64>().map_err(|_| DataError::Length {
                    path: path.into(),
                    entry,
                    problem: LengthProblem::NotAnInteger,
                })?;
                out.push(checked_length(path, entry, n)?);
            }
        }
        out
    };
    if lengths.is_empty() {
        return Err(DataError::EmptyLengths { path: path.into() });
    }
    Ok(lengths)
}

fn checked_length(path: &Path, entry: usize, n: u64) -> Result<usize, DataError> {
    match usize::try_from(n) {
        Ok(0) => Err(DataError::Length {
            path: path.into(),
            entry,
            problem: LengthProblem::Zero,
        }),
        Ok(n) => Ok(n),
        Err(_) => Err(DataError::Length {
            path: path.into(),
            entry,
            problem: LengthProblem::NotAnInteger,
        }),
    }
}

/// Checks that sequence lengths (read from `path`) add up to `rows`.
///
/// # Errors
/// [`DataError::LengthsSum`].
pub fn check_lengths(path: &Path, lengths: &[usize], rows: usize) -> Result<(), DataError> {
    let total = lengths.iter().fold(0usize, |acc, &n| acc.saturating_add(n));
    if total == rows {
        Ok(())
    } else {
        Err(DataError::LengthsSum {
            path: path.into(),
            total,
            rows,
        })
    }
}

/// Reads a one-column data matrix as symbols `0, 1, 2, ...` of a categorical model.
///
/// # Errors
/// [`DataError::Columns`] if `data` has more than one column, [`DataError::NotSymbol`]
/// for a value that is not a non-negative integer (below 2^32).
pub fn to_symbols(path: &Path, data: MatRef<'_, f64>) -> Result<Vec<usize>, DataError> {
    if data.ncols() != 1 {
        return Err(DataError::Columns {
            path: path.into(),
            found: data.ncols(),
            expected: 1,
        });
    }
    (0..data.nrows())
        .map(|i| {
            let v = data[(i, 0)];
            if v >= 0.0 && v.fract() == 0.0 && v < 4_294_967_296.0 {
                Ok(v as usize)
            } else {
                Err(DataError::NotSymbol {
                    path: path.into(),
                    row: i + 1,
                    value: v,
                })
            }
        })
        .collect()
}

/// Checks that data has the number of columns a model expects.
///
/// # Errors
/// [`DataError::Columns`].
pub fn check_columns(path: &Path, data: MatRef<'_, f64>, expected: usize) -> Result<(), DataError> {
    if data.ncols() == expected {
        Ok(())
    } else {
        Err(DataError::Columns {
            path: path.into(),
            found: data.ncols(),
            expected,
        })
    }
}

/// Writes a matrix as CSV: an optional header line, then one line per row with the
/// shortest decimal form that reads back to the same `f64` (Rust's `Display`, or
/// its exponent form `1.5e-7` below 1e-5 and from 1e16 on); `NaN` is written as `nan`.
///
/// # Errors
/// The writer's error.
pub fn write_csv<W: Write>(
    mut w: W,
    data: MatRef<'_, f64>,
    header: Option<&[String]>,
) -> std::io::Result<()> {
    if let Some(names) = header {
        writeln!(w, "{}", names.join(","))?;
    }
    let mut line = String::new();
    for i in 0..data.nrows() {
        line.clear();
        for j in 0..data.ncols() {
            if j > 0 {
                line.push(',');
            }
            let v = data[(i, j)];
            use std::fmt::Write as _;
            if v.is_nan() {
                line.push_str("nan");
            } else if v == 0.0 || (1e-5..1e16).contains(&v.abs()) {
                let _ = write!(line, "{v}");
            } else {
                // Tiny or huge values in exponent form (also the shortest round trip).
                let _ = write!(line, "{v:e}");
            }
        }
        line.push('\n');
        w.write_all(line.as_bytes())?;
    }
    w.flush()
}

/// Writes a matrix atomically to `path`: `.npy` by extension, CSV otherwise (with
/// the optional header).
///
/// # Errors
/// [`DataError::Io`].
pub fn write_matrix(path: &Path, data: MatRef<'_, f64>, header: Option<&[String]>) -> Result<(), DataError> {
    if is_npy(path) {
        write_atomically(path, |w| write_npy(w, data))
    } else {
        write_atomically(path, |w| write_csv(w, data, header))
    }
}

/// Writes a file atomically: `write` fills a temporary file in the target's
/// folder (the tempfile crate's, with a short name such as `.emfit-a1B2c3`, so
/// that a target name of up to 255 bytes works), which is flushed, synced and
/// persisted (renamed) over the target. On any error the temporary file is
/// removed and the target is left untouched. The one atomic writer of the
/// crate: model files use it too.
///
/// - The target is `path` with its symbolic links followed: writing to a link
///   replaces the file it points to (creating it if the link dangles) and
///   leaves the link in place.
/// - A new file gets the permissions `File::create` gives it (on unix 0o666
///   less the umask). A target that exists keeps its permissions (mode); it must be a regular
///   file that is not read-only: a read-only file is refused, not replaced,
///   and so is a directory. (Ownership and extended attributes are those of a
///   new file.)
///
/// # Errors
/// [`DataError::Io`] naming `path`.
pub fn write_atomically<F>(path: &Path, write: F) -> Result<(), DataError>
where
    F: FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
{
    persist_atomically(path, write).map_err(|source| DataError::Io {
        path: path.into(),
        source,
    })
}

/// The file a path names, its symbolic links followed (at most 40, as Linux).
fn follow_links(path: &Path) -> std::io::Result<std::path::PathBuf> {
    let mut target = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&target) {
            Ok(m) if m.file_type().is_symlink() => {
                let link = std::fs::read_link(&target)?;
                target = match target.parent() {
                    Some(dir) => dir.join(link),
                    None => link,
                };
            }
            Ok(_) => return Ok(target),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(target),
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("too many levels of symbolic links"))
}

/// [`write_atomically`] with the bare I/O error.
pub(crate) fn persist_atomically<F>(path: &Path, write: F) -> std::io::Result<()>
where
    F: FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
{
    let target = follow_links(path)?;
    if target.file_name().is_none() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a file name",
        ));
    }
    let permissions = match std::fs::metadata(&target) {
        Ok(m) if m.is_dir() => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::IsADirectory,
                "is a directory, not replaced",
            ));
        }
        Ok(m) if m.permissions().readonly() => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                "the file is read-only and is not replaced (make it writable or remove it)",
            ));
        }
        Ok(m) => Some(m.permissions()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // A short name, whatever the target's: `.emfit-` and 6 random characters.
    // The temporary file is deleted when `temp_path` is dropped on an error.
    let mut builder = tempfile::Builder::new();
    builder.prefix(".emfit-").rand_bytes(6);
    #[cfg(unix)]
    if permissions.is_none() {
        use std::os::unix::fs::PermissionsExt;
        // A new file gets the mode `File::create` gives: 0o666 less the umask
        // (tempfile's default, 0o600, would hide it from the group).
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let (file, temp_path) = builder.tempfile_in(dir)?.into_parts();
    let mut w = std::io::BufWriter::new(file);
    write(&mut w)?;
    let file = w.into_inner().map_err(std::io::IntoInnerError::into_error)?;
    if let Some(permissions) = permissions {
        file.set_permissions(permissions)?;
    }
    file.sync_all()?;
    drop(file);
    temp_path.persist(&target).map_err(|e| e.error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("emfit-io-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn lengths_text_and_npy() {
        let dir = temp_dir("len");
        let p = dir.join("len.txt");
        std::fs::write(&p, "# lengths\n3\n2, 5\n\n").unwrap();
        assert_eq!(read_lengths(&p).unwrap(), vec![3, 2, 5]);
        check_lengths(&p, &[3, 2, 5], 10).unwrap();
        assert!(matches!(
            check_lengths(&p, &[3, 2, 5], 11),
            Err(DataError::LengthsSum {
                total: 10,
                rows: 11,
                ..
            })
        ));
        assert!(matches!(
            check_lengths(&p, &[usize::MAX, 2], 3),
            Err(DataError::LengthsSum { .. })
        ));
        std::fs::write(&p, "3\n0\n").unwrap();
        assert!(matches!(
            read_lengths(&p),
            Err(DataError::Length {
                entry: 2,
                problem: LengthProblem::Zero,
                ..
            })
        ));
        std::fs::write(&p, "3\n-1\n").unwrap();
        assert!(matches!(
            read_lengths(&p),
            Err(DataError::Length {
                entry: 2,
                problem: LengthProblem::NotAnInteger,
                ..
            })
        ));
        std::fs::write(&p, "2.5\n").unwrap();
        assert!(matches!(
            read_lengths(&p),
            Err(DataError::Length { entry: 1, .. })
        ));
        std::fs::write(&p, "\n# none\n").unwrap();
        assert!(matches!(read_lengths(&p), Err(DataError::EmptyLengths { .. })));
        std::fs::write(&p, "").unwrap();
        let e = read_lengths(&p).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{}: empty lengths file (no sequence lengths)", p.display())
        );
        std::fs::write(&p, "\u{feff}4\r\n5\r\n").unwrap();
        assert_eq!(read_lengths(&p).unwrap(), vec![4, 5]);

        let q = dir.join("len.npy");
        let ints: Vec<u8> = [4i64, 6].iter().flat_map(|v| v.to_le_bytes()).collect();
        let h = "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }";
        std::fs::write(&q, npy::tests::image(1, h, &ints)).unwrap();
        assert_eq!(read_lengths(&q).unwrap(), vec![4, 6]);
        let floats: Vec<u8> = [4.0f64, 0.5].iter().flat_map(|v| v.to_le_bytes()).collect();
        let h = "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }";
        std::fs::write(&q, npy::tests::image(1, h, &floats)).unwrap();
        assert!(matches!(
            read_lengths(&q),
            Err(DataError::Length { entry: 2, .. })
        ));
        let h = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 1, 1), }";
        std::fs::write(&q, npy::tests::image(1, h, &floats)).unwrap();
        assert!(matches!(
            read_lengths(&q),
            Err(DataError::NpyDims { ndim: 3, .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn symbols_and_columns() {
        let p = Path::new("s.csv");
        let m = Mat::from_fn(3, 1, |i, _| i as f64);
        assert_eq!(to_symbols(p, m.as_ref()).unwrap(), vec![0, 1, 2]);
        let bad = Mat::from_fn(2, 1, |i, _| if i == 1 { 1.5 } else { 0.0 });
        assert!(matches!(
            to_symbols(p, bad.as_ref()),
            Err(DataError::NotSymbol { row: 2, .. })
        ));
        let neg = Mat::from_fn(1, 1, |_, _| -1.0);
        assert!(matches!(
            to_symbols(p, neg.as_ref()),
            Err(DataError::NotSymbol { row: 1, .. })
        ));
        let wide = Mat::<f64>::zeros(2, 2);
        assert!(matches!(
            to_symbols(p, wide.as_ref()),
            Err(DataError::Columns {
                found: 2,
                expected: 1,
                ..
            })
        ));
        assert!(check_columns(p, wide.as_ref(), 2).is_ok());
        assert!(matches!(
            check_columns(p, wide.as_ref(), 3),
            Err(DataError::Columns { .. })
        ));
    }

    #[test]
    fn write_and_read_back_csv_and_npy() {
        let dir = temp_dir("write");
        let special = [[1e-300, 0.1], [-0.0, -2.5e17], [7.0, f64::MIN_POSITIVE]];
        let m = Mat::from_fn(4, 2, |i, j| {
            special
                .get(i)
                .map_or((i as f64 + 1.0) / (j as f64 + 3.0), |r| r[j])
        });
        let mut text = Vec::new();
        write_csv(&mut text, m.as_ref(), None).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(
            text.starts_with("1e-300,0.1\n") && text.contains("-2.5e17"),
            "{text}"
        );
        for name in ["m.csv", "m.npy", "M.NPY"] {
            let p = dir.join(name);
            write_matrix(&p, m.as_ref(), Some(&["a".to_string(), "b".to_string()])).unwrap();
            let back = read_matrix(&p, &ReadOptions::default()).unwrap();
            assert_eq!((back.nrows(), back.ncols()), (4, 2));
            for i in 0..4 {
                for j in 0..2 {
                    assert_eq!(back[(i, j)].to_bits(), m[(i, j)].to_bits(), "{name}");
                }
            }
        }
        // Nothing but the outputs is left behind.
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names.len(), 3);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn failed_atomic_write_leaves_the_old_file() {
        let dir = temp_dir("atomic");
        let p = dir.join("out.csv");
        std::fs::write(&p, "old\n").unwrap();
        let err = write_atomically(&p, |w| {
            w.write_all(b"half")?;
            Err(std::io::Error::other("boom"))
        })
        .unwrap_err();
        assert!(matches!(err, DataError::Io { .. }));
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "old\n");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        let missing = dir.join("no/such/dir/out.csv");
        assert!(matches!(
            write_matrix(&missing, Mat::<f64>::zeros(1, 1).as_ref(), None),
            Err(DataError::Io { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The names in a folder.
    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_target_name_of_245_bytes_works() {
        let dir = temp_dir("long");
        let p = dir.join(format!("{}.csv", "n".repeat(241)));
        assert_eq!(p.file_name().unwrap().len(), 245);
        write_matrix(&p, Mat::<f64>::zeros(1, 1).as_ref(), None).unwrap();
        write_matrix(&p, Mat::<f64>::zeros(2, 1).as_ref(), None).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "0\n0\n");
        assert_eq!(names(&dir).len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_replaced_file_keeps_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp_dir("mode");
        let p = dir.join("shared.csv");
        std::fs::write(&p, "old\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomically(&p, |w| w.write_all(b"new\n")).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new\n");
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        // A new file has the mode of a file made by `File::create`.
        let created = dir.join("created.csv");
        std::fs::write(&created, "").unwrap();
        let fresh = dir.join("fresh.csv");
        write_atomically(&fresh, |w| w.write_all(b"1\n")).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&fresh), mode(&created));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn writing_to_a_symlink_writes_through_to_its_target() {
        let dir = temp_dir("link");
        std::fs::create_dir(dir.join("real")).unwrap();
        let target = dir.join("real").join("data.csv");
        std::fs::write(&target, "old\n").unwrap();
        let link = dir.join("link.csv");
        std::os::unix::fs::symlink("real/data.csv", &link).unwrap();
        write_atomically(&link, |w| w.write_all(b"new\n")).unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new\n");
        // A dangling link: its target is created.
        let dangling = dir.join("dangling.csv");
        std::os::unix::fs::symlink("real/new.csv", &dangling).unwrap();
        write_atomically(&dangling, |w| w.write_all(b"1\n")).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("real/new.csv")).unwrap(), "1\n");
        assert_eq!(names(&dir.join("real")), ["data.csv", "new.csv"]);
        // A loop of links is an error, not a hang.
        std::os::unix::fs::symlink("b", dir.join("a")).unwrap();
        std::os::unix::fs::symlink("a", dir.join("b")).unwrap();
        assert!(write_atomically(&dir.join("a"), |w| w.write_all(b"x")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_read_only_target_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp_dir("readonly");
        let p = dir.join("frozen.csv");
        std::fs::write(&p, "old\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o444)).unwrap();
        let e = write_atomically(&p, |w| w.write_all(b"new\n")).unwrap_err();
        let DataError::Io { source, .. } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(source.kind(), std::io::ErrorKind::PermissionDenied);
        assert!(
            e.to_string()
                .contains("frozen.csv: the file is read-only and is not replaced"),
            "{e}"
        );
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "old\n");
        assert_eq!(names(&dir), ["frozen.csv"]);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]

            /// Arbitrary bytes are an error or a matrix, never a panic.
            #[test]
            fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
                let _ = parse_csv(bytes.as_slice(), Path::new("p.csv"), &ReadOptions::default());
                let _ = npy::parse_npy(bytes.as_slice(), bytes.len() as u64, Path::new("p.npy"));
                let mut with_magic = b"\x93NUMPY\x01\x00".to_vec();
                with_magic.extend_from_slice(&bytes);
                let _ = npy::parse_npy(with_magic.as_slice(), with_magic.len() as u64, Path::new("p.npy"));
            }

            /// Any header text after a valid prefix is an error or an array, never a panic.
            #[test]
            fn any_npy_header_never_panics(header in "[ -~]{0,120}", data in proptest::collection::vec(any::<u8>(), 0..64)) {
                let bytes = npy::tests::image(1, &header, &data);
                let _ = npy::parse_npy(bytes.as_slice(), bytes.len() as u64, Path::new("p.npy"));
            }

            /// CSV and .npy writers round-trip every readable value (finite, at most
            /// MAX_ABS_VALUE in magnitude) bit for bit.
            #[test]
            fn writers_round_trip(
                rows in 1usize..6,
                cols in 1usize..4,
                values in proptest::collection::vec(
                    any::<f64>().prop_filter("readable", |v| v.abs() <= MAX_ABS_VALUE), 24),
            ) {
                let m = Mat::from_fn(rows, cols, |i, j| values[i * cols + j]);
                let mut csv_bytes = Vec::new();
                write_csv(&mut csv_bytes, m.as_ref(), None).unwrap();
                let back = parse_csv(csv_bytes.as_slice(), Path::new("p.csv"), &ReadOptions::default()).unwrap();
                let mut npy_bytes = Vec::new();
                write_npy(&mut npy_bytes, m.as_ref()).unwrap();
                let array = npy::parse_npy(npy_bytes.as_slice(), npy_bytes.len() as u64, Path::new("p.npy")).unwrap();
                let back_npy = npy::array_to_matrix(array, Path::new("p.npy"), false).unwrap();
                for i in 0..rows {
                    for j in 0..cols {
                        prop_assert_eq!(back[(i, j)].to_bits(), m[(i, j)].to_bits());
                        prop_assert_eq!(back_npy[(i, j)].to_bits(), m[(i, j)].to_bits());
                    }
                }
            }
        }
    }

    #[test]
    fn missing_file_is_named() {
        let err = read_matrix(Path::new("/no/such/file.csv"), &ReadOptions::default()).unwrap_err();
        assert!(matches!(err, DataError::Io { .. }));
        assert!(err.to_string().contains("/no/such/file.csv"));
        let err = read_matrix(Path::new("/no/such/file.npy"), &ReadOptions::default()).unwrap_err();
        assert!(err.to_string().contains("file.npy"));
    }
}
