//! The `.npy` writers (version 1.0, little-endian, C order).

use faer::MatRef;

use super::MAGIC;

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

/// The header of a `.npy` array of little-endian `f8` in C order and shape
/// `shape`, for a writer that streams the values after it (the shape must
/// be known first).
///
/// # Errors
/// The writer's error.
pub fn write_npy_f64_header<W: std::io::Write + ?Sized>(w: &mut W, shape: &[usize]) -> std::io::Result<()> {
    write_npy_header(w, "<f8", shape)
}

/// Magic, version 1.0, header length and the header dictionary, padded so
/// that the data starts on a 64-byte boundary (the header ends with '\n').
fn write_npy_header<W: std::io::Write + ?Sized>(
    w: &mut W,
    descr: &str,
    shape: &[usize],
) -> std::io::Result<()> {
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
