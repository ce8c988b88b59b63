//! A minimal NumPy `.npy` (format 1.0) writer for the comparison workloads.

use faer::MatRef;
use std::io::Write;
use std::path::Path;

/// Writes `data` with the given shape as little-endian `<f8` in C order.
///
/// # Errors
/// Any I/O error of creating or writing the file.
pub fn write_f64(path: &Path, shape: &[usize], data: &[f64]) -> std::io::Result<()> {
    let mut bytes = Vec::with_capacity(data.len() * 8);
    for v in data {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    write(path, "<f8", shape, &bytes)
}

/// Writes integers as little-endian `<i8` (int64).
///
/// # Errors
/// Any I/O error of creating or writing the file.
pub fn write_i64(path: &Path, shape: &[usize], data: &[i64]) -> std::io::Result<()> {
    let mut bytes = Vec::with_capacity(data.len() * 8);
    for v in data {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    write(path, "<i8", shape, &bytes)
}

/// Writes a matrix (rows = observations) in C order.
///
/// # Errors
/// Any I/O error of creating or writing the file.
pub fn write_matrix(path: &Path, m: MatRef<'_, f64>) -> std::io::Result<()> {
    let data: Vec<f64> = (0..m.nrows())
        .flat_map(|i| (0..m.ncols()).map(move |j| m[(i, j)]))
        .collect();
    write_f64(path, &[m.nrows(), m.ncols()], &data)
}

fn write(path: &Path, descr: &str, shape: &[usize], payload: &[u8]) -> std::io::Result<()> {
    let shape_text = match shape {
        [] => "()".to_string(),
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")
        ),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_text}, }}");
    // Magic (6) + version (2) + header length (2) + header + '\n' is a multiple of 64.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    file.write_all(b"\x93NUMPY\x01\x00")?;
    let len = u16::try_from(header.len()).map_err(|_| std::io::Error::other("npy header too long"))?;
    file.write_all(&len.to_le_bytes())?;
    file.write_all(header.as_bytes())?;
    file.write_all(payload)?;
    file.flush()
}
