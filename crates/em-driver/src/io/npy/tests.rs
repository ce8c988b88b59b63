//! Tests of the `.npy` reader and writers on hand-built file images.

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

/// Writes a `rows x cols` array of `value(i, j)` into `dir` as a `.npy`
/// file in C or Fortran order with dtype `descr` (`<f8`, `>f8`, `<i8`,
/// `>i8`, `<f4`, `>f4`); returns its path.
pub(crate) fn write_file(
    dir: &Path,
    (rows, cols): (usize, usize),
    fortran: bool,
    descr: &str,
    value: impl Fn(usize, usize) -> f64,
) -> std::path::PathBuf {
    let order: Vec<(usize, usize)> = if fortran {
        (0..cols).flat_map(|j| (0..rows).map(move |i| (i, j))).collect()
    } else {
        (0..rows).flat_map(|i| (0..cols).map(move |j| (i, j))).collect()
    };
    let data: Vec<u8> = order
        .into_iter()
        .flat_map(|(i, j)| {
            let v = value(i, j);
            match descr {
                "<f8" => v.to_le_bytes().to_vec(),
                ">f8" => v.to_be_bytes().to_vec(),
                "<i8" => (v as i64).to_le_bytes().to_vec(),
                ">i8" => (v as i64).to_be_bytes().to_vec(),
                "<f4" => (v as f32).to_le_bytes().to_vec(),
                ">f4" => (v as f32).to_be_bytes().to_vec(),
                _ => unreachable!("the tests' dtypes"),
            }
        })
        .collect();
    let header = format!(
        "{{'descr': '{descr}', 'fortran_order': {}, 'shape': ({rows}, {cols}), }}\n",
        if fortran { "True" } else { "False" }
    );
    let path = dir.join(format!("x-{fortran}-{}.npy", &descr[1..]));
    std::fs::write(&path, image(1, &header, &data)).unwrap();
    path
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
            element: 2,
            row: 2,
            col: 1,
            problem: CellProblem::Missing,
            ..
        })
    ));
    let got = array_to_matrix(parse(&bytes).unwrap(), Path::new("t.npy"), true);
    assert!(matches!(
        got,
        Err(DataError::NpyValue {
            element: 3,
            problem: CellProblem::Infinite,
            ..
        })
    ));
}

#[test]
fn huge_values_are_named_with_their_element_row_and_column() {
    // 2 x 2 in Fortran order: the third element in the file is row 1, column 2.
    let data = f8(&[1.0, 2.0, 1e300, 4.0]);
    let header = "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }";
    let e = matrix(&image(1, header, &data)).unwrap_err();
    assert!(
        matches!(
            e,
            DataError::NpyValue {
                element: 3,
                row: 1,
                col: 2,
                problem: CellProblem::TooLarge,
                ..
            }
        ),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.starts_with("t.npy: element 3 (row 1, column 2): value ")
            && msg.contains("overflow when squared"),
        "{msg}"
    );
    // In C order the third element is row 2, column 1; 1e150 itself is accepted.
    let header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }";
    assert!(matches!(
        matrix(&image(1, header, &data)),
        Err(DataError::NpyValue { row: 2, col: 1, .. })
    ));
    let ok = f8(&[1e150, -1e150]);
    let header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }";
    assert_eq!(matrix(&image(1, header, &ok)).unwrap()[(1, 0)], -1e150);
}

#[test]
fn header_messages_say_what_is_wrong() {
    let e = parse(b"\x93NUMPX\x01\x00").unwrap_err();
    assert_eq!(
        e.to_string(),
        "t.npy: not a valid .npy file: it does not start with the magic string \\x93NUMPY"
    );
    let e = parse(&image(1, "{'descr': '<f8'", &[])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "t.npy: not a valid .npy file: the header length or the header's dict literal is malformed"
    );
    let e = parse(&image(1, "{'descr': '<f8', 'fortran_order': False, }", &[])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "t.npy: not a valid .npy file: bad or missing 'shape' in the header"
    );
}

fn matrices(bytes: &[u8]) -> Result<NpyMatrices, DataError> {
    matrices::array_to_matrices(parse(bytes)?, Path::new("t.npy"))
}

#[test]
fn a_3d_array_is_read_as_matrices_in_either_order() {
    let values: Vec<f64> = (0..12).map(f64::from).collect();
    let c = matrices(&image(
        1,
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3, 2), }",
        &f8(&values),
    ))
    .unwrap();
    assert_eq!((c.len(), c.shape()), (2, (3, 2)));
    assert_eq!(c.matrix(1)[(2, 0)], 10.0);
    assert_eq!(c.matrix(0)[(0, 1)], 1.0);
    // The same array in Fortran order: (k, i, j) at k + 2 (i + 3 j).
    let fortran: Vec<f64> = (0..12)
        .map(|index| {
            let (k, i, j) = (index % 2, (index / 2) % 3, index / 6);
            values[(k * 3 + i) * 2 + j]
        })
        .collect();
    let f = matrices(&image(
        1,
        "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3, 2), }",
        &f8(&fortran),
    ))
    .unwrap();
    assert_eq!(f.matrices(), c.matrices());
}

#[test]
fn bad_arrays_of_matrices_are_refused_with_the_place() {
    let got = matrices(&image(
        1,
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }",
        &f8(&[1.0; 4]),
    ));
    assert!(matches!(got, Err(DataError::NpyNotMatrices { ndim: 2, .. })));
    // An empty dimension: no matrices, whatever the others say.
    let got = matrices(&image(
        1,
        "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000, 0, 3), }",
        &[],
    ));
    assert!(matches!(got, Err(DataError::Empty { .. })));
    let mut values = vec![1.0; 8];
    values[6] = f64::NAN;
    let err = matrices(&image(
        1,
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2, 2), }",
        &f8(&values),
    ))
    .unwrap_err();
    assert!(matches!(
        err,
        DataError::NpyMatrixValue {
            matrix: 2,
            matrices: 2,
            row: 2,
            col: 1,
            problem: CellProblem::Missing,
            ..
        }
    ));
    assert!(
        err.to_string().contains("t.npy: matrix 2 of 2 (row 2, column 1)"),
        "{err}"
    );
    // Truncated: the shape declares more bytes than the file holds.
    let got = matrices(&image(
        1,
        "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2, 2), }",
        &f8(&[1.0; 8]),
    ));
    assert!(matches!(
        got,
        Err(DataError::NpySize {
            declared: 96,
            available: 64,
            ..
        })
    ));
}
