//! Column selection: which columns of a data file become the data matrix
//! ([`crate::io::ReadOptions::columns`]), by 1-based number or header name.

use std::path::Path;
use std::str::FromStr;

use super::error::{CellText, ColumnProblem, DataError};

/// A column of a data file, chosen by its number from 1 or, in a CSV file
/// with a header line, by its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnSelector {
    /// The column's number, from 1.
    Index(usize),
    /// The column's name in the header line (compared after trimming
    /// blanks and one pair of double quotes, as cells are).
    Name(String),
}

/// A column selector that could not be read (an empty entry, or `0`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a column: give a column number from 1 or a header name")]
pub struct ColumnSelectorError(pub CellText);

impl FromStr for ColumnSelector {
    type Err = ColumnSelectorError;

    /// `3` is the third column, anything else not made of digits a name.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.is_empty() {
            return Err(ColumnSelectorError(CellText::new(text)));
        }
        if text.bytes().all(|b| b.is_ascii_digit()) {
            return match text.parse::<usize>() {
                Ok(n) if n >= 1 => Ok(Self::Index(n)),
                _ => Err(ColumnSelectorError(CellText::new(text))),
            };
        }
        Ok(Self::Name(text.to_string()))
    }
}

impl ColumnSelector {
    /// Reads a comma-separated list such as `2,4` or `x,y` (as `--columns`
    /// takes it).
    ///
    /// # Errors
    /// [`ColumnSelectorError`] for an empty entry or `0`.
    pub fn parse_list(text: &str) -> Result<Vec<Self>, ColumnSelectorError> {
        text.split(',').map(str::parse).collect()
    }
}

/// The 0-based columns of a file with `available` columns that `selection`
/// picks, in the selection's order. `header` is the header line's cells
/// (with its line number), if the file has one; `line` is the first data
/// line (None for `.npy`).
///
/// # Errors
/// [`DataError::Column`].
pub(crate) fn resolve(
    path: &Path,
    selection: &[ColumnSelector],
    header: Option<(&[String], usize)>,
    available: usize,
    line: Option<usize>,
) -> Result<Vec<usize>, DataError> {
    let fail = |problem| DataError::Column {
        path: path.into(),
        problem,
    };
    if selection.is_empty() {
        return Err(fail(ColumnProblem::NoneSelected));
    }
    selection
        .iter()
        .map(|selector| {
            let column = match selector {
                ColumnSelector::Index(n) => *n,
                ColumnSelector::Name(name) => {
                    let Some((names, header_line)) = header else {
                        return Err(fail(ColumnProblem::NoHeader {
                            name: CellText::new(name),
                        }));
                    };
                    let mut hits = names.iter().enumerate().filter(|(_, n)| *n == name);
                    let Some((first, _)) = hits.next() else {
                        return Err(fail(ColumnProblem::UnknownName {
                            name: CellText::new(name),
                            line: header_line,
                        }));
                    };
                    if let Some((second, _)) = hits.next() {
                        return Err(fail(ColumnProblem::AmbiguousName {
                            name: CellText::new(name),
                            columns: (first + 1, second + 1),
                        }));
                    }
                    first + 1
                }
            };
            if column == 0 || column > available {
                return Err(fail(ColumnProblem::OutOfRange {
                    column,
                    available,
                    line,
                }));
            }
            Ok(column - 1)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_parse_numbers_and_names() {
        assert_eq!(
            ColumnSelector::parse_list("2, x ,10").unwrap(),
            [
                ColumnSelector::Index(2),
                ColumnSelector::Name("x".into()),
                ColumnSelector::Index(10)
            ]
        );
        for bad in ["0", "", "1,,2", "99999999999999999999999"] {
            let e = ColumnSelector::parse_list(bad).unwrap_err();
            assert!(e.to_string().contains("is not a column"), "{bad}: {e}");
        }
    }

    #[test]
    fn resolution_names_the_problem() {
        let p = Path::new("d.csv");
        let names = ["a".to_string(), "b".to_string(), "a".to_string()];
        let sel = |s: &str| ColumnSelector::parse_list(s).unwrap();
        assert_eq!(
            resolve(p, &sel("3,b"), Some((&names, 1)), 3, Some(2)).unwrap(),
            [2, 1]
        );
        let msg = |s: &str, header| {
            let selection = if s.is_empty() { Vec::new() } else { sel(s) };
            resolve(p, &selection, header, 3, Some(2))
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            msg("4", None),
            "d.csv: column 4 is selected but line 2 has 3 columns"
        );
        assert_eq!(
            msg("a", Some((&names, 1))),
            "d.csv: columns 1 and 3 of the header are both named 'a'"
        );
        assert_eq!(
            msg("z", Some((&names, 1))),
            "d.csv: line 1: no column of the header is named 'z'"
        );
        assert_eq!(msg("", None), "d.csv: no column is selected");
        assert_eq!(
            msg("b", None),
            "d.csv: column 'b' is selected by name but the file has no header line"
        );
    }
}
