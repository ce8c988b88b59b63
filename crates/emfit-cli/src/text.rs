//! Formatting helpers for readable terminal output.

use std::fmt::Write as _;
use std::time::Duration;

use em_driver::faer::MatRef;

/// At most this many numbers of a vector are printed by [`row`].
const SHOWN: usize = 6;

/// A short human duration: `812 ms`, `3.42 s`, `2 min 05 s`.
pub fn duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 1.0 {
        format!("{:.0} ms", s * 1e3)
    } else if s < 60.0 {
        format!("{s:.2} s")
    } else {
        format!("{} min {:02.0} s", (s / 60.0).floor(), s % 60.0)
    }
}

/// `v` with `digits` decimals, or in exponent form (`digits` significant
/// digits) when the decimals would hide it (`0 < |v| < 10⁻ᵈⁱᵍⁱᵗˢ`, data in
/// small units) or it is 10⁷ or more; never `-0.000`.
pub fn num(v: f64, digits: usize) -> String {
    let magnitude = v.abs();
    if magnitude != 0.0 && (magnitude < 0.1f64.powi(digits as i32) || magnitude >= 1e7) {
        let significant = digits.saturating_sub(1);
        return format!("{v:.significant$e}");
    }
    let s = format!("{v:.digits$}");
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        s[1..].to_string()
    } else {
        s
    }
}

/// `[a, b, c]` with `digits` decimals.
pub fn list(values: &[f64], digits: usize) -> String {
    let mut out = String::from("[");
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&num(*v, digits));
    }
    out.push(']');
    out
}

/// A row of a matrix as `[a, b, ...]`, cut after [`SHOWN`] entries.
pub fn row(m: MatRef<'_, f64>, i: usize, digits: usize) -> String {
    let d = m.ncols();
    let values: Vec<f64> = (0..d.min(SHOWN)).map(|j| m[(i, j)]).collect();
    let mut s = list(&values, digits);
    if d > SHOWN {
        s.insert_str(s.len() - 1, &format!(", ... ({d} values)"));
    }
    s
}

/// `1 feature`, `2 features`.
pub fn features(d: usize) -> String {
    if d == 1 {
        "1 feature".into()
    } else {
        format!("{d} features")
    }
}

/// A table with a header row; numeric columns right-aligned, others left-aligned.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let cols = header.len();
    let numeric: Vec<bool> = (0..cols)
        .map(|j| {
            j > 0
                && rows
                    .iter()
                    .all(|r| r.get(j).is_none_or(|c| c.trim().parse::<f64>().is_ok()))
        })
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (j, cell) in row.iter().enumerate().take(cols) {
            widths[j] = widths[j].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut l = String::from("  ");
        for (j, cell) in cells.enumerate().take(cols) {
            let sep = if j == 0 { "" } else { "  " };
            if numeric[j] {
                let _ = write!(l, "{sep}{cell:>w$}", w = widths[j]);
            } else {
                let _ = write!(l, "{sep}{cell:<w$}", w = widths[j]);
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(duration(Duration::from_millis(812)), "812 ms");
        assert_eq!(duration(Duration::from_millis(3420)), "3.42 s");
        assert_eq!(duration(Duration::from_secs(125)), "2 min 05 s");
        assert_eq!(num(-0.0, 3), "0.000");
        assert_eq!(num(-0.0001, 3), "-1.00e-4", "small units stay visible");
        assert_eq!(num(0.0012, 3), "0.001");
        assert_eq!(num(2.5e9, 2), "2.5e9");
        assert_eq!(list(&[1.0, -2.5], 1), "[1.0, -2.5]");
        let t = table(&["a", "bb"], &[vec!["x".into(), "1".into()]]);
        assert_eq!(t, "  a  bb\n  x   1\n");
    }
}
