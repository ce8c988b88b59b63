//! A CSV reader for numeric tables (one row per observation).
//!
//! Accepted: cells separated by commas (surrounding blanks ignored) or, on a line
//! without commas, by blanks/tabs; an optional header line; blank lines and lines
//! starting with `#` are skipped; a UTF-8 byte order mark at the start is skipped;
//! `\r\n` line ends; cells may be wrapped in double quotes. Every data line must
//! have the same number of cells. A cell must be a finite number of magnitude at
//! most [`super::MAX_ABS_VALUE`]; an empty cell, `nan`, `NA` or `null` is a missing
//! value, read as `NaN` only when [`ReadOptions::allow_missing`] is set (the
//! state-space model treats a `NaN` observation as missing), otherwise an error
//! naming line and column.
//!
//! [`ReadOptions::columns`] keeps some columns only, by number from 1 or by header
//! name, in the order given; the other columns are not parsed (they may hold
//! text, such as an identifier or a date).
//!
//! Every error names the file, and the line and column from 1 (the column in the
//! file, not in the selection).

use std::io::BufRead;
use std::path::Path;

use faer::Mat;

use super::columns::resolve;
use super::error::{CellProblem, CellText, DataError};
use super::{Header, MAX_ABS_VALUE, ReadOptions};

/// Reads a numeric CSV file into an `n x d` matrix (one row per data line).
///
/// # Errors
/// [`DataError::Io`] if the file cannot be read, [`DataError::Cell`] for a cell that
/// is not a finite number, [`DataError::Ragged`] for a line with a different number of
/// cells, [`DataError::NotText`] for bytes that are not UTF-8, [`DataError::Empty`] if
/// there is no data line, [`DataError::Column`] for a column selection that does not
/// fit the file.
pub fn read_csv(path: &Path, options: &ReadOptions) -> Result<Mat<f64>, DataError> {
    let file = std::fs::File::open(path).map_err(|source| DataError::Io {
        path: path.into(),
        source,
    })?;
    parse_csv(std::io::BufReader::new(file), path, options)
}

/// Whether the first line is a header: always, never, or (auto) when it has a
/// word and no number (`x,y`, or `,x,y` with an index column).
fn is_header(cells: &[&str], header: Header) -> bool {
    match header {
        Header::Present => true,
        Header::Absent => false,
        Header::Auto => {
            let problems: Vec<Option<CellProblem>> =
                cells.iter().map(|c| parse_cell(c, false).err()).collect();
            problems.contains(&Some(CellProblem::NotANumber))
                && !problems
                    .iter()
                    .any(|p| matches!(p, None | Some(CellProblem::Infinite | CellProblem::TooLarge)))
        }
    }
}

/// Parses CSV text from any reader; `path` is only used in error messages.
///
/// # Errors
/// As [`read_csv`].
pub fn parse_csv<R: BufRead>(reader: R, path: &Path, options: &ReadOptions) -> Result<Mat<f64>, DataError> {
    let mut lines = CsvRows::new(reader, path, options);
    let mut values: Vec<f64> = Vec::new();
    let mut rows = 0usize;
    while lines.next_into(&mut values)? {
        rows += 1;
    }
    if rows == 0 {
        return Err(DataError::Empty { path: path.into() });
    }
    let cols = lines.width();
    Ok(Mat::from_fn(rows, cols, |i, j| values[i * cols + j]))
}

/// The data rows of CSV text one at a time, as [`parse_csv`] reads them
/// (header, comments, column selection, the same width on every line), for
/// a reader that holds a few rows at a time ([`super::ChunkedFile`]).
pub struct CsvRows<'a, R> {
    reader: R,
    path: &'a Path,
    options: &'a ReadOptions,
    /// Lines read so far (the number of the last one, from 1).
    line_no: usize,
    /// Data rows read so far.
    rows: usize,
    seen_first: bool,
    /// The header's cells and line, if there is one.
    header: Option<(Vec<String>, usize)>,
    /// The cells of the first data line, and its number.
    cols: usize,
    first_line: usize,
    /// The 0-based file columns that are kept, once the first data line is seen.
    selected: Vec<usize>,
    buf: Vec<u8>,
}

impl<'a, R: BufRead> CsvRows<'a, R> {
    /// The rows of the text of `reader` (`path` names it in errors).
    pub fn new(reader: R, path: &'a Path, options: &'a ReadOptions) -> Self {
        Self {
            reader,
            path,
            options,
            line_no: 0,
            rows: 0,
            seen_first: false,
            header: None,
            cols: 0,
            first_line: 0,
            selected: Vec::new(),
            buf: Vec::new(),
        }
    }

    /// The values per row (the kept columns), once a row has been read.
    pub fn width(&self) -> usize {
        self.selected.len()
    }

    /// Appends the next data row's kept values to `values`: `false` (and
    /// nothing appended) at the end of the text.
    ///
    /// # Errors
    /// As [`read_csv`], but for [`DataError::Empty`] (the caller counts
    /// the rows).
    pub fn next_into(&mut self, values: &mut Vec<f64>) -> Result<bool, DataError> {
        let path = self.path;
        loop {
            self.buf.clear();
            let read = self
                .reader
                .read_until(b'\n', &mut self.buf)
                .map_err(|source| DataError::Io {
                    path: path.into(),
                    source,
                })?;
            if read == 0 {
                return Ok(false);
            }
            self.line_no += 1;
            let line_no = self.line_no;
            let text = std::str::from_utf8(&self.buf).map_err(|_| DataError::NotText {
                path: path.into(),
                line: line_no,
            })?;
            let text = text.trim_end_matches(['\n', '\r']);
            let text = if line_no == 1 {
                text.trim_start_matches('\u{feff}')
            } else {
                text
            };
            let Some(cells) = split_cells(text) else {
                continue;
            };
            if !self.seen_first {
                self.seen_first = true;
                if is_header(&cells, self.options.header) {
                    self.header = Some((cells.iter().map(|c| (*c).to_string()).collect(), line_no));
                    continue;
                }
            }
            if self.rows == 0 {
                self.cols = cells.len();
                self.first_line = line_no;
                self.selected = match &self.options.columns {
                    Some(selection) => resolve(
                        path,
                        selection,
                        self.header
                            .as_ref()
                            .map(|(names, line)| (names.as_slice(), *line)),
                        self.cols,
                        Some(line_no),
                    )?,
                    None => (0..self.cols).collect(),
                };
            } else if cells.len() != self.cols {
                return Err(DataError::Ragged {
                    path: path.into(),
                    line: line_no,
                    found: cells.len(),
                    expected: self.cols,
                    first_line: self.first_line,
                });
            }
            for &j in &self.selected {
                let cell = cells[j];
                let value =
                    parse_cell(cell, self.options.allow_missing).map_err(|problem| DataError::Cell {
                        path: path.into(),
                        line: line_no,
                        col: j + 1,
                        cell: CellText::new(cell),
                        problem,
                    })?;
                values.push(value);
            }
            self.rows += 1;
            return Ok(true);
        }
    }
}

/// The cells of one line of text: separated by commas or, on a line
/// without commas, by blanks/tabs, each trimmed of blanks and one pair of
/// double quotes; `None` for a blank line or a comment (`#`).
fn split_cells(line: &str) -> Option<Vec<&str>> {
    let trimmed = line.trim();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return None;
    }
    Some(if trimmed.contains(',') {
        trimmed.split(',').map(clean_cell).collect()
    } else {
        trimmed.split_whitespace().map(clean_cell).collect()
    })
}

/// Reads one line of numbers as a data line of [`parse_csv`] (`line` is its
/// number from 1 and `path` what it is read from, for errors; missing
/// values are NaN when `allow_missing`): `None` for a blank or comment line.
///
/// # Errors
/// [`DataError::Cell`] naming the line and column.
pub fn parse_record(
    path: &Path,
    line: usize,
    text: &str,
    allow_missing: bool,
) -> Result<Option<Vec<f64>>, DataError> {
    let Some(cells) = split_cells(text.trim_end_matches(['\n', '\r'])) else {
        return Ok(None);
    };
    cells
        .iter()
        .enumerate()
        .map(|(j, cell)| {
            parse_cell(cell, allow_missing).map_err(|problem| DataError::Cell {
                path: path.into(),
                line,
                col: j + 1,
                cell: CellText::new(cell),
                problem,
            })
        })
        .collect::<Result<Vec<f64>, DataError>>()
        .map(Some)
}

/// Trims blanks and one pair of surrounding double quotes.
fn clean_cell(cell: &str) -> &str {
    let cell = cell.trim();
    cell.strip_prefix('"')
        .and_then(|c| c.strip_suffix('"'))
        .map_or(cell, str::trim)
}

/// Reads one cell: a finite number of magnitude at most [`MAX_ABS_VALUE`], or
/// `NaN` for a missing value when allowed.
pub(crate) fn parse_cell(cell: &str, allow_missing: bool) -> Result<f64, CellProblem> {
    let missing = cell.is_empty()
        || cell.eq_ignore_ascii_case("nan")
        || cell.eq_ignore_ascii_case("na")
        || cell.eq_ignore_ascii_case("null");
    if missing {
        return if allow_missing {
            Ok(f64::NAN)
        } else {
            Err(CellProblem::Missing)
        };
    }
    // `str::parse` also accepts "inf"/"infinity"; those and overflow give an infinite value.
    match cell.parse::<f64>() {
        Ok(v) if v.abs() <= MAX_ABS_VALUE => Ok(v),
        Ok(v) if v.is_finite() => Err(CellProblem::TooLarge),
        Ok(v) if v.is_nan() => {
            if allow_missing {
                Ok(f64::NAN)
            } else {
                Err(CellProblem::Missing)
            }
        }
        Ok(_) => Err(CellProblem::Infinite),
        Err(_) => Err(CellProblem::NotANumber),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::{ColumnProblem, ColumnSelector};

    fn parse(text: &str, options: &ReadOptions) -> Result<Mat<f64>, DataError> {
        parse_csv(text.as_bytes(), Path::new("t.csv"), options)
    }

    fn ok(text: &str) -> Mat<f64> {
        parse(text, &ReadOptions::default()).unwrap()
    }

    #[test]
    fn reads_commas_blanks_headers_comments() {
        let m = ok("x, y\n# comment\n1, 2\n\n3.5,-4e-1\r\n");
        assert_eq!((m.nrows(), m.ncols()), (2, 2));
        assert_eq!(m[(1, 0)], 3.5);
        assert_eq!(m[(1, 1)], -0.4);
        let m = ok("1 2\t3\n4  5 6\n");
        assert_eq!((m.nrows(), m.ncols()), (2, 3));
        assert_eq!(m[(1, 2)], 6.0);
        let m = ok("\u{feff}\"a\",\"b\"\n\"1\",2\n");
        assert_eq!((m.nrows(), m.ncols()), (1, 2));
        let m = ok(",x,y\n0,1,2\n");
        assert_eq!((m.nrows(), m.ncols()), (1, 3));
        let m = ok("7\n8\n9");
        assert_eq!((m.nrows(), m.ncols()), (3, 1));
        assert_eq!(m[(2, 0)], 9.0);
    }

    #[test]
    fn header_modes() {
        let absent = ReadOptions {
            header: Header::Absent,
            ..ReadOptions::default()
        };
        assert!(matches!(
            parse("a,b\n1,2\n", &absent),
            Err(DataError::Cell {
                line: 1,
                col: 1,
                problem: CellProblem::NotANumber,
                ..
            })
        ));
        let present = ReadOptions {
            header: Header::Present,
            ..ReadOptions::default()
        };
        let m = parse("1,2\n3,4\n", &present).unwrap();
        assert_eq!(m.nrows(), 1);
        // A first line with one number is data, so its bad cell is reported.
        assert!(matches!(
            parse("1,abc\n", &ReadOptions::default()),
            Err(DataError::Cell { line: 1, col: 2, .. })
        ));
    }

    #[test]
    fn bad_cell_names_line_and_column() {
        let err = parse("a,b\n1,2\n3,x4\n", &ReadOptions::default()).unwrap_err();
        assert!(matches!(
            err,
            DataError::Cell {
                line: 3,
                col: 2,
                problem: CellProblem::NotANumber,
                ..
            }
        ));
        let msg = err.to_string();
        assert!(
            msg.contains("t.csv") && msg.contains("line 3") && msg.contains("column 2") && msg.contains("x4")
        );
    }

    #[test]
    fn missing_and_infinite_cells() {
        assert!(matches!(
            parse("1,2\n3,\n", &ReadOptions::default()),
            Err(DataError::Cell {
                line: 2,
                col: 2,
                problem: CellProblem::Missing,
                ..
            })
        ));
        assert!(matches!(
            parse("1,NaN\n", &ReadOptions::default()),
            Err(DataError::Cell {
                line: 1,
                col: 2,
                problem: CellProblem::Missing,
                ..
            })
        ));
        assert!(matches!(
            parse("1,inf\n", &ReadOptions::default()),
            Err(DataError::Cell {
                col: 2,
                problem: CellProblem::Infinite,
                ..
            })
        ));
        assert!(matches!(
            parse("1,1e999\n", &ReadOptions::default()),
            Err(DataError::Cell {
                col: 2,
                problem: CellProblem::Infinite,
                ..
            })
        ));
        let allow = ReadOptions {
            allow_missing: true,
            ..ReadOptions::default()
        };
        let m = parse("1,\nNA,2\n", &allow).unwrap();
        assert!(m[(0, 1)].is_nan() && m[(1, 0)].is_nan() && m[(1, 1)] == 2.0);
    }

    #[test]
    fn ragged_empty_and_binary_files() {
        assert!(matches!(
            parse("1,2\n3,4,5\n", &ReadOptions::default()),
            Err(DataError::Ragged {
                line: 2,
                found: 3,
                expected: 2,
                first_line: 1,
                ..
            })
        ));
        assert!(matches!(
            parse("", &ReadOptions::default()),
            Err(DataError::Empty { .. })
        ));
        assert!(matches!(
            parse("x,y\n# only a header\n", &ReadOptions::default()),
            Err(DataError::Empty { .. })
        ));
        let bytes: &[u8] = b"1,2\n\xff\xfe,3\n";
        assert!(matches!(
            parse_csv(bytes, Path::new("b.csv"), &ReadOptions::default()),
            Err(DataError::NotText { line: 2, .. })
        ));
    }

    #[test]
    fn columns_are_selected_by_number_or_name() {
        let text = "\u{feff}id,x,when,y\n a1, 1, 2024-01-01, 2\n a2, 3, 2024-01-02, 4\n";
        let by = |columns: &str| ReadOptions {
            columns: Some(ColumnSelector::parse_list(columns).unwrap()),
            ..ReadOptions::default()
        };
        for columns in ["y,x", "4,2", "y,2"] {
            let m = parse(text, &by(columns)).unwrap();
            assert_eq!((m.nrows(), m.ncols()), (2, 2), "{columns}");
            assert_eq!((m[(0, 0)], m[(0, 1)], m[(1, 0)]), (2.0, 1.0, 4.0), "{columns}");
        }
        // A bad cell of a kept column is named by its column in the file.
        let e = parse(text, &by("x,3")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.csv: line 2, column 3: cell '2024-01-01' is not a number"
        );
        let e = parse(text, &by("5")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.csv: column 5 is selected but line 2 has 4 columns"
        );
        let e = parse(text, &by("z")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.csv: line 1: no column of the header is named 'z'"
        );
        let e = parse("1,2\n3,4\n", &by("x")).unwrap_err();
        assert!(matches!(
            e,
            DataError::Column {
                problem: ColumnProblem::NoHeader { .. },
                ..
            }
        ));
        // Lines must still have the same number of cells.
        assert!(matches!(
            parse("1,2,3\n4,5\n", &by("1")),
            Err(DataError::Ragged { line: 2, .. })
        ));
    }

    #[test]
    fn values_whose_squares_overflow_are_refused() {
        let e = parse("x\n1\n-1e300\n", &ReadOptions::default()).unwrap_err();
        assert!(matches!(
            e,
            DataError::Cell {
                line: 3,
                col: 1,
                problem: CellProblem::TooLarge,
                ..
            }
        ));
        assert_eq!(
            e.to_string(),
            "t.csv: line 3, column 1: cell '-1e300' is too large: values beyond 1e150 in \
             magnitude overflow when squared in a covariance (rescale the data)"
        );
        assert_eq!(ok("1e150\n")[(0, 0)], 1e150);
        // A first line of huge numbers is data, not a header.
        assert!(matches!(
            parse("1e200,1\n", &ReadOptions::default()),
            Err(DataError::Cell { line: 1, col: 1, .. })
        ));
    }

    #[test]
    fn long_cells_are_cut_in_messages() {
        let long = "z".repeat(10_000);
        let err = parse(&format!("1,{long}\n"), &ReadOptions::default()).unwrap_err();
        assert!(err.to_string().len() < 200);
    }

    #[test]
    fn records_are_read_one_line_at_a_time() {
        let path = Path::new("<stdin>");
        assert_eq!(
            parse_record(path, 1, " 1, 2.5 \r\n", false).unwrap(),
            Some(vec![1.0, 2.5])
        );
        assert_eq!(
            parse_record(path, 2, "3 -4", false).unwrap(),
            Some(vec![3.0, -4.0])
        );
        assert_eq!(parse_record(path, 3, "  # note\n", false).unwrap(), None);
        assert_eq!(parse_record(path, 4, "\n", false).unwrap(), None);
        let missing = parse_record(path, 5, "1,,NA", true).unwrap().unwrap();
        assert!(missing[0] == 1.0 && missing[1].is_nan() && missing[2].is_nan());
        let e = parse_record(path, 6, "1,x", true).unwrap_err();
        assert!(
            matches!(
                &e,
                DataError::Cell {
                    line: 6,
                    col: 2,
                    problem: CellProblem::NotANumber,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("<stdin>"), "{e}");
        assert!(matches!(
            parse_record(path, 7, "1,", false),
            Err(DataError::Cell {
                line: 7,
                col: 2,
                problem: CellProblem::Missing,
                ..
            })
        ));
    }

    #[test]
    fn numbers_round_trip_exactly() {
        let values = [0.1, -1.0 / 3.0, 1e-300, 6.02214076e23, f64::MIN_POSITIVE];
        let text: String = values.iter().map(|v| format!("{v}\n")).collect();
        let m = ok(&text);
        for (i, v) in values.iter().enumerate() {
            assert_eq!(m[(i, 0)].to_bits(), v.to_bits());
        }
    }
}
