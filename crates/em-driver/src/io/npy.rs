//! A reader and writer for NumPy `.npy` files (format versions 1.0, 2.0 and 3.0).
//!
//! Layout: the magic `\x93NUMPY`, two version bytes, the header length (`u16` in
//! version 1, `u32` in 2 and 3, little-endian), then a Python dict literal such as
//! `{'descr': '<f8', 'fortran_order': False, 'shape': (1000, 2), }` padded with
//! blanks, then the raw data. Read dtypes: `f8`, `f4`, `i8`, `i4` in either byte
//! order; 1-D arrays are read as one column, 2-D arrays in C or Fortran order.
//!
//! Hostile files: the header length is checked against the file size (and capped at
//! 1 MiB) before the header is read, and the byte count implied by `shape` and the
//! dtype is computed with overflow checks and must equal the bytes left in the file
//! before anything is allocated for the data.

use std::io::Read;
use std::path::Path;

use faer::{Mat, MatRef};

use super::error::{CellProblem, CellText, DataError, NpyField};

/// The largest header accepted (NumPy itself writes a few hundred bytes).
const MAX_HEADER: u64 = 1 << 20;
const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// The element types that can be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Float,
    Int,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Dtype {
    kind: Kind,
    size: usize,
    little_endian: bool,
}

/// A decoded `.npy` array: its shape and values as `f64`, in file order.
#[derive(Debug, Clone)]
pub(crate) struct NpyArray {
    /// The declared shape.
    pub shape: Vec<usize>,
    /// Whether the values are in Fortran (column-major) order.
    pub fortran_order: bool,
    /// The values in file order.
    pub values: Vec<f64>,
}

/// Reads a 1-D (`n` -> `n x 1`) or 2-D (`n x d`) `.npy` array as an `n x d` matrix.
///
/// Non-finite values are rejected, except `NaN` when `allow_missing` is set.
///
/// # Errors
/// [`DataError::Io`], [`DataError::NpyHeader`] (naming the bad header field),
/// [`DataError::NpyDtype`], [`DataError::NpyDims`], [`DataError::NpySize`] (the shape
/// does not match the file size), [`DataError::NpyValue`], [`DataError::Empty`].
pub fn read_npy(path: &Path, allow_missing: bool) -> Result<Mat<f64>, DataError> {
    let array = read_npy_array(path)?;
    array_to_matrix(array, path, allow_missing)
}

/// Reads and decodes a `.npy` file of any supported dtype and rank.
pub(crate) fn read_npy_array(path: &Path) -> Result<NpyArray, DataError> {
    let io = |source| DataError::Io {
        path: path.into(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    parse_npy(std::io::BufReader::new(file), len, path)
}

/// Turns a decoded array into an `n x d` matrix, checking its values.
pub(crate) fn array_to_matrix(
    array: NpyArray,
    path: &Path,
    allow_missing: bool,
) -> Result<Mat<f64>, DataError> {
    let (rows, cols) = match array.shape.as_slice() {
        [n] => (*n, 1),
        [n, d] => (*n, *d),
        other => {
            return Err(DataError::NpyDims {
                path: path.into(),
                ndim: other.len(),
            });
        }
    };
    if rows == 0 || cols == 0 {
        return Err(DataError::Empty { path: path.into() });
    }
    for (index, &value) in array.values.iter().enumerate() {
        let problem = if value.is_nan() && !allow_missing {
            Some(CellProblem::Missing)
        } else if value.is_infinite() {
            Some(CellProblem::Infinite)
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(DataError::NpyValue {
                path: path.into(),
                index,
                value,
                problem,
            });
        }
    }
    let v = &array.values;
    Ok(if array.fortran_order {
        Mat::from_fn(rows, cols, |i, j| v[j * rows + i])
    } else {
        Mat::from_fn(rows, cols, |i, j| v[i * cols + j])
    })
}

/// Parses a `.npy` stream of `len` bytes in total; `path` is only used in errors.
pub(crate) fn parse_npy<R: Read>(mut reader: R, len: u64, path: &Path) -> Result<NpyArray, DataError> {
    let bad = |field| DataError::NpyHeader {
        path: path.into(),
        field,
    };
    let io = |source| DataError::Io {
        path: path.into(),
        source,
    };
    let mut prefix = [0u8; 8];
    if len < 8 {
        return Err(bad(NpyField::Magic));
    }
    reader.read_exact(&mut prefix).map_err(io)?;
    if &prefix[..6] != MAGIC {
        return Err(bad(NpyField::Magic));
    }
    let (header_len, prefix_len) = match prefix[6] {
        1 => {
            let mut b = [0u8; 2];
            reader.read_exact(&mut b).map_err(|_| bad(NpyField::Header))?;
            (u64::from(u16::from_le_bytes(b)), 10u64)
        }
        2 | 3 => {
            let mut b = [0u8; 4];
            reader.read_exact(&mut b).map_err(|_| bad(NpyField::Header))?;
            (u64::from(u32::from_le_bytes(b)), 12u64)
        }
        _ => return Err(bad(NpyField::Version)),
    };
    if header_len > MAX_HEADER || prefix_len + header_len > len {
        return Err(bad(NpyField::Header));
    }
    let mut header = vec![0u8; header_len as usize];
    reader.read_exact(&mut header).map_err(io)?;
    let header = std::str::from_utf8(&header).map_err(|_| bad(NpyField::Header))?;
    let fields = parse_header(header).map_err(bad)?;
    let dtype = parse_descr(&fields.descr).ok_or_else(|| DataError::NpyDtype {
        path: path.into(),
        descr: CellText::new(&fields.descr),
    })?;

    let available = len - prefix_len - header_len;
    let declared = fields
        .shape
        .iter()
        .try_fold(dtype.size as u64, |acc, &n| acc.checked_mul(n))
        .unwrap_or(u64::MAX);
    if declared != available {
        return Err(DataError::NpySize {
            path: path.into(),
            declared,
            available,
        });
    }
    let shape: Vec<usize> = fields
        .shape
        .iter()
        .map(|&n| usize::try_from(n).map_err(|_| bad(NpyField::Shape)))
        .collect::<Result<_, _>>()?;
    let count = usize::try_from(declared).map_err(|_| bad(NpyField::Shape))? / dtype.size;
    let mut data = vec![0u8; count * dtype.size];
    reader.read_exact(&mut data).map_err(io)?;
    let values = data.chunks_exact(dtype.size).map(|b| decode(dtype, b)).collect();
    Ok(NpyArray {
        shape,
        fortran_order: fields.fortran_order,
        values,
    })
}

fn decode(dtype: Dtype, b: &[u8]) -> f64 {
    let mut bytes = [0u8; 8];
    bytes[..dtype.size].copy_from_slice(b);
    if !dtype.little_endian {
        bytes[..dtype.size].reverse();
    }
    match (dtype.kind, dtype.size) {
        (Kind::Float, 8) => f64::from_le_bytes(bytes),
        (Kind::Float, _) => f64::from(f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])),
        (Kind::Int, 8) => i64::from_le_bytes(bytes) as f64,
        (Kind::Int, _) => f64::from(i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])),
    }
}

fn parse_descr(descr: &str) -> Option<Dtype> {
    let mut chars = descr.chars();
    let order = chars.next()?;
    let little_endian = match order {
        '<' => true,
        '>' => false,
        '=' | '|' => cfg!(target_endian = "little"),
        _ => return None,
    };
    let kind = match chars.next()? {
        'f' => Kind::Float,
        'i' => Kind::Int,
        _ => return None,
    };
    let size = match chars.as_str() {
        "4" => 4,
        "8" => 8,
        _ => return None,
    };
    Some(Dtype {
        kind,
        size,
        little_endian,
    })
}

struct HeaderFields {
    descr: String,
    fortran_order: bool,
    shape: Vec<u64>,
}

/// Parses the dict literal of the header: keys `descr`, `fortran_order`, `shape`.
fn parse_header(text: &str) -> Result<HeaderFields, NpyField> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    p.skip_ws();
    p.expect(b'{').ok_or(NpyField::Header)?;
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    loop {
        p.skip_ws();
        if p.eat(b'}') {
            break;
        }
        let key = p.string().ok_or(NpyField::Header)?;
        p.skip_ws();
        p.expect(b':').ok_or(NpyField::Header)?;
        p.skip_ws();
        match key.as_str() {
            "descr" => descr = Some(p.string().ok_or(NpyField::Descr)?),
            "fortran_order" => fortran = Some(p.boolean().ok_or(NpyField::FortranOrder)?),
            "shape" => shape = Some(p.tuple().ok_or(NpyField::Shape)?),
            _ => return Err(NpyField::Header),
        }
        p.skip_ws();
        if p.eat(b'}') {
            break;
        }
        p.expect(b',').ok_or(NpyField::Header)?;
    }
    p.skip_ws();
    if p.i != p.s.len() {
        return Err(NpyField::Header);
    }
    Ok(HeaderFields {
        descr: descr.ok_or(NpyField::Descr)?,
        fortran_order: fortran.ok_or(NpyField::FortranOrder)?,
        shape: shape.ok_or(NpyField::Shape)?,
    })
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn eat(&mut self, c: u8) -> bool {
        let hit = self.s.get(self.i) == Some(&c);
        if hit {
            self.i += 1;
        }
        hit
    }
    fn expect(&mut self, c: u8) -> Option<()> {
        self.eat(c).then_some(())
    }
    fn string(&mut self) -> Option<String> {
        let quote = *self.s.get(self.i)?;
        if quote != b'\'' && quote != b'"' {
            return None;
        }
        let start = self.i + 1;
        let end = start + self.s.get(start..)?.iter().position(|&c| c == quote)?;
        self.i = end + 1;
        String::from_utf8(self.s[start..end].to_vec()).ok()
    }
    fn boolean(&mut self) -> Option<bool> {
        for (word, value) in [(&b"True"[..], true), (&b"False"[..], false)] {
            if self.s.get(self.i..self.i + word.len()) == Some(word) {
                self.i += word.len();
                return Some(value);
            }
        }
        None
    }
    fn tuple(&mut self) -> Option<Vec<u64>> {
        self.expect(b'(')?;
        let mut dims = Vec::new();
        loop {
            self.skip_ws();
            if self.eat(b')') {
                return Some(dims);
            }
            if dims.len() >= 32 {
                return None;
            }
            let start = self.i;
            while self.i < self.s.len() && self.s[self.i].is_ascii_digit() {
                self.i += 1;
            }
            let digits = std::str::from_utf8(&self.s[start..self.i]).ok()?;
            // Python 2 wrote long integers as `1000L`.
            self.eat(b'L');
            dims.push(digits.parse::<u64>().ok()?);
            self.skip_ws();
            if self.eat(b')') {
                return Some(dims);
            }
            self.expect(b',')?;
        }
    }
}

/// Writes `data` as a version 1.0 `.npy` file of little-endian `f8` in C order.
///
/// # Errors
/// The writer's error.
pub fn write_npy<W: std::io::Write>(mut w: W, data: MatRef<'_, f64>) -> std::io::Result<()> {
    write_npy_header(&mut w, "<f8", &[data.nrows(), data.ncols()])?;
    let mut row = Vec::with_capacity(8 * data.ncols());
    for i in 0..data.nrows() {
        row.clear();
        for j in 0..data.ncols() {
            row.extend_from_slice(&data[(i, j)].to_le_bytes());
        }
        w.write_all(&row)?;
    }
    w.flush()
}

/// Writes `values` (C order) as a `.npy` array of any `shape` (`[]` for a
/// scalar), as little-endian `f8`.
///
/// # Errors
/// The writer's error; `InvalidInput` if the shape does not hold `values.len()` entries.
pub fn write_npy_f64<W: std::io::Write>(mut w: W, shape: &[usize], values: &[f64]) -> std::io::Result<()> {
    check_shape(shape, values.len())?;
    write_npy_header(&mut w, "<f8", shape)?;
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    w.write_all(&bytes)?;
    w.flush()
}

/// Writes `values` (C order) as a `.npy` array of any `shape`, as
/// little-endian `i8` (int64: lengths, labels, counts).
///
/// # Errors
/// The writer's error; `InvalidInput` if the shape does not hold `values.len()` entries.
pub fn write_npy_i64<W: std::io::Write>(mut w: W, shape: &[usize], values: &[i64]) -> std::io::Result<()> {
    check_shape(shape, values.len())?;
    write_npy_header(&mut w, "<i8", shape)?;
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    w.write_all(&bytes)?;
    w.flush()
}

fn check_shape(shape: &[usize], len: usize) -> std::io::Result<()> {
    if shape.iter().product::<usize>() == len {
        Ok(())
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("npy shape {shape:?} does not hold {len} values"),
        ))
    }
}

/// Magic, version 1.0, header length and the header dictionary, padded so
/// that the data starts on a 64-byte boundary (the header ends with '\n').
fn write_npy_header<W: std::io::Write>(w: &mut W, descr: &str, shape: &[usize]) -> std::io::Result<()> {
    let shape_text = match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")
        ),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_text}, }}");
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - total % 64) % 64));
    header.push('\n');
    let header_len = u16::try_from(header.len()).map_err(std::io::Error::other)?;
    w.write_all(MAGIC)?;
    w.write_all(&[1, 0])?;
    w.write_all(&header_len.to_le_bytes())?;
    w.write_all(header.as_bytes())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a `.npy` file image by hand (version, header text, raw data).
    pub(crate) fn image(major: u8, header: &str, data: &[u8]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&[major, 0]);
        if major == 1 {
            out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        } else {
            out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        }
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    fn parse(bytes: &[u8]) -> Result<NpyArray, DataError> {
        parse_npy(bytes, bytes.len() as u64, Path::new("t.npy"))
    }

    fn matrix(bytes: &[u8]) -> Result<Mat<f64>, DataError> {
        array_to_matrix(parse(bytes)?, Path::new("t.npy"), false)
    }

    fn f8(values: &[f64]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    #[test]
    fn arrays_of_any_shape_are_written_and_read_back() {
        let m = Mat::from_fn(2, 3, |i, j| (i * 3 + j) as f64 - 0.5);
        let mut by_matrix = Vec::new();
        write_npy(&mut by_matrix, m.as_ref()).unwrap();
        let mut by_shape = Vec::new();
        write_npy_f64(&mut by_shape, &[2, 3], &[-0.5, 0.5, 1.5, 2.5, 3.5, 4.5]).unwrap();
        assert_eq!(by_matrix, by_shape);
        assert_eq!(matrix(&by_shape).unwrap(), m);

        let mut lengths = Vec::new();
        write_npy_i64(&mut lengths, &[3], &[4, 5, 6]).unwrap();
        let column = matrix(&lengths).unwrap();
        assert_eq!((column.nrows(), column.ncols()), (3, 1));
        assert_eq!(column[(2, 0)], 6.0);

        let mut cube = Vec::new();
        write_npy_f64(&mut cube, &[2, 1, 2], &[1.0, 2.0, 3.0, 4.0]).unwrap();
        let parsed = parse(&cube).unwrap();
        assert_eq!(parsed.shape, vec![2, 1, 2]);
        assert_eq!(parsed.values, vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!((cube.len() - 4 * 8) % 64, 0, "data starts on a 64-byte boundary");
        let mut scalar = Vec::new();
        write_npy_i64(&mut scalar, &[], &[10]).unwrap();
        assert!(String::from_utf8_lossy(&scalar).contains("'shape': ()"));
    }

    #[test]
    fn a_shape_that_does_not_hold_the_values_is_refused() {
        let err = write_npy_f64(Vec::new(), &[2, 2], &[1.0]).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    }

    #[test]
    fn reads_c_and_fortran_order_v1_v2() {
        let data = f8(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let c = image(
            1,
            "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }\n",
            &data,
        );
        let m = matrix(&c).unwrap();
        assert_eq!((m.nrows(), m.ncols()), (3, 2));
        assert_eq!((m[(0, 1)], m[(2, 0)]), (2.0, 5.0));
        let f = image(
            2,
            "{\"descr\": \"<f8\", \"fortran_order\": True, \"shape\": (3, 2)}   \n",
            &data,
        );
        let m = matrix(&f).unwrap();
        assert_eq!((m[(0, 1)], m[(2, 0)]), (4.0, 3.0));
        let one_d = image(
            1,
            "{'descr': '<f8', 'fortran_order': False, 'shape': (6,), }",
            &data,
        );
        let m = matrix(&one_d).unwrap();
        assert_eq!((m.nrows(), m.ncols(), m[(5, 0)]), (6, 1, 6.0));
    }

    #[test]
    fn reads_integer_and_big_endian_and_f4() {
        let ints: Vec<u8> = [3i64, -2, 7].iter().flat_map(|v| v.to_le_bytes()).collect();
        let a = parse(&image(
            1,
            "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }",
            &ints,
        ))
        .unwrap();
        assert_eq!(a.values, vec![3.0, -2.0, 7.0]);
        let be: Vec<u8> = [1.5f64, -2.25].iter().flat_map(|v| v.to_be_bytes()).collect();
        let a = parse(&image(
            1,
            "{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }",
            &be,
        ))
        .unwrap();
        assert_eq!(a.values, vec![1.5, -2.25]);
        let f4: Vec<u8> = [0.5f32, 8.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        let a = parse(&image(
            1,
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
            &f4,
        ))
        .unwrap();
        assert_eq!(a.values, vec![0.5, 8.0]);
        let i4: Vec<u8> = [5i32, -1].iter().flat_map(|v| v.to_le_bytes()).collect();
        let a = parse(&image(
            1,
            "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }",
            &i4,
        ))
        .unwrap();
        assert_eq!(a.values, vec![5.0, -1.0]);
    }

    #[test]
    fn round_trips_through_the_writer() {
        let m = Mat::from_fn(5, 3, |i, j| (i as f64) * 0.1 - (j as f64) / 3.0);
        let mut bytes = Vec::new();
        write_npy(&mut bytes, m.as_ref()).unwrap();
        assert_eq!(bytes.len() % 64, (5 * 3 * 8) % 64);
        let back = matrix(&bytes).unwrap();
        assert_eq!((back.nrows(), back.ncols()), (5, 3));
        for i in 0..5 {
            for j in 0..3 {
                assert_eq!(back[(i, j)].to_bits(), m[(i, j)].to_bits());
            }
        }
    }

    #[test]
    fn bad_magic_version_and_header_fields() {
        let data = f8(&[1.0]);
        let h = "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }";
        let mut bytes = image(1, h, &data);
        bytes[0] = b'X';
        assert!(matches!(
            parse(&bytes),
            Err(DataError::NpyHeader {
                field: NpyField::Magic,
                ..
            })
        ));
        assert!(matches!(
            parse(b"\x93NUM"),
            Err(DataError::NpyHeader {
                field: NpyField::Magic,
                ..
            })
        ));
        let mut bytes = image(1, h, &data);
        bytes[6] = 9;
        assert!(matches!(
            parse(&bytes),
            Err(DataError::NpyHeader {
                field: NpyField::Version,
                ..
            })
        ));
        let cases = [
            (
                "{'descr': 8, 'fortran_order': False, 'shape': (1,), }",
                NpyField::Descr,
            ),
            ("{'fortran_order': False, 'shape': (1,), }", NpyField::Descr),
            (
                "{'descr': '<f8', 'fortran_order': maybe, 'shape': (1,), }",
                NpyField::FortranOrder,
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }",
                NpyField::Shape,
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999999,), }",
                NpyField::Shape,
            ),
            ("{'descr': '<f8', 'fortran_order': False, }", NpyField::Shape),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'x': 1}",
                NpyField::Header,
            ),
            ("['descr']", NpyField::Header),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), } junk",
                NpyField::Header,
            ),
        ];
        for (header, field) in cases {
            let got = parse(&image(1, header, &data));
            assert!(
                matches!(&got, Err(DataError::NpyHeader { field: f, .. }) if *f == field),
                "{header}: {got:?}"
            );
        }
    }

    #[test]
    fn unsupported_dtype_and_rank() {
        let data = f8(&[1.0, 2.0]);
        let got = parse(&image(
            1,
            "{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }",
            &data[..16],
        ));
        assert!(matches!(got, Err(DataError::NpyDtype { .. })));
        let got = parse(&image(
            1,
            "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,), }",
            &data,
        ));
        assert!(matches!(
            got,
            Err(DataError::NpyHeader {
                field: NpyField::Descr,
                ..
            })
        ));
        let got = matrix(&image(
            1,
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1, 2), }",
            &data,
        ));
        assert!(matches!(got, Err(DataError::NpyDims { ndim: 3, .. })));
        let got = matrix(&image(
            1,
            "{'descr': '<f8', 'fortran_order': False, 'shape': (), }",
            &data[..8],
        ));
        assert!(matches!(got, Err(DataError::NpyDims { ndim: 0, .. })));
        let got = matrix(&image(
            1,
            "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 2), }",
            &[],
        ));
        assert!(matches!(got, Err(DataError::Empty { .. })));
    }

    #[test]
    fn hostile_sizes_are_rejected_before_allocation() {
        let data = f8(&[1.0, 2.0]);
        // Declares 2^62 elements: overflow of the byte count, no allocation.
        let h = "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4), }";
        assert!(matches!(
            parse(&image(1, h, &data)),
            Err(DataError::NpySize {
                declared: u64::MAX,
                ..
            })
        ));
        // Declares more than the file holds, and less.
        let h = "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000,), }";
        assert!(matches!(
            parse(&image(1, h, &data)),
            Err(DataError::NpySize { available: 16, .. })
        ));
        let h = "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }";
        assert!(matches!(
            parse(&image(1, h, &data)),
            Err(DataError::NpySize { declared: 8, .. })
        ));
        // A header length larger than the file.
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&[2, 0]);
        bytes.extend_from_slice(&u32::MAX.to_le_bytes());
        bytes.extend_from_slice(b"{}");
        assert!(matches!(
            parse(&bytes),
            Err(DataError::NpyHeader {
                field: NpyField::Header,
                ..
            })
        ));
        // A header that is not UTF-8.
        let mut bytes = image(1, "{}", &[]);
        bytes[10] = 0xff;
        assert!(matches!(
            parse(&bytes),
            Err(DataError::NpyHeader {
                field: NpyField::Header,
                ..
            })
        ));
    }

    #[test]
    fn non_finite_values() {
        let data = f8(&[1.0, f64::NAN, f64::INFINITY]);
        let bytes = image(
            1,
            "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }",
            &data,
        );
        assert!(matches!(
            matrix(&bytes),
            Err(DataError::NpyValue {
                index: 1,
                problem: CellProblem::Missing,
                ..
            })
        ));
        let got = array_to_matrix(parse(&bytes).unwrap(), Path::new("t.npy"), true);
        assert!(matches!(
            got,
            Err(DataError::NpyValue {
                index: 2,
                problem: CellProblem::Infinite,
                ..
            })
        ));
    }
}
