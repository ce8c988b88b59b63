//! The marks of a panel in SVG: polylines, scatter points, filled bands and
//! histogram bars. Non-finite values are skipped: a line or band is broken
//! there.

use std::fmt::Write;

use super::axes::Map;
use super::color::Color;
use super::figure::Element;

/// Writes one element in the pixel coordinates of `map`.
pub(super) fn write_element(out: &mut String, e: &Element, map: &Map) {
    match e {
        Element::Line {
            xs,
            ys,
            color,
            width,
            dashed,
        } => write_line(out, map, (xs, ys), *color, *width, *dashed),
        Element::Points {
            xs,
            ys,
            color,
            radius,
        } => write_points(out, map, (xs, ys), *color, *radius),
        Element::Band {
            xs,
            lo,
            hi,
            color,
            opacity,
        } => write_band(out, map, (xs, lo, hi), *color, *opacity),
        Element::Bars {
            edges,
            heights,
            color,
            opacity,
        } => write_bars(out, map, (edges, heights), *color, *opacity),
    }
}

/// One polyline per run of finite points.
fn write_line(
    out: &mut String,
    map: &Map,
    (xs, ys): (&[f64], &[f64]),
    color: Color,
    width: f64,
    dashed: bool,
) {
    let dash = if dashed { " stroke-dasharray=\"6 4\"" } else { "" };
    let mut pts = String::new();
    let mut flush = |pts: &mut String| {
        if !pts.is_empty() {
            let _ = writeln!(
                out,
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{width}\"{dash}/>",
                pts.trim_end(),
                color.0
            );
            pts.clear();
        }
    };
    for (&x, &y) in xs.iter().zip(ys) {
        if x.is_finite() && y.is_finite() {
            let _ = write!(pts, "{:.2},{:.2} ", map.x(x), map.y(y));
        } else {
            flush(&mut pts);
        }
    }
    flush(&mut pts);
}

fn write_points(out: &mut String, map: &Map, (xs, ys): (&[f64], &[f64]), color: Color, radius: f64) {
    let _ = writeln!(out, "<g fill=\"{}\" fill-opacity=\"0.7\">", color.0);
    for (&x, &y) in xs.iter().zip(ys) {
        if x.is_finite() && y.is_finite() {
            let _ = writeln!(
                out,
                "<circle cx=\"{:.2}\" cy=\"{:.2}\" r=\"{radius}\"/>",
                map.x(x),
                map.y(y)
            );
        }
    }
    out.push_str("</g>\n");
}

/// One polygon per run of finite points: along `hi`, back along `lo`.
fn write_band(
    out: &mut String,
    map: &Map,
    (xs, lo, hi): (&[f64], &[f64], &[f64]),
    color: Color,
    opacity: f64,
) {
    let n = xs.len().min(lo.len()).min(hi.len());
    let finite = |i: usize| xs[i].is_finite() && lo[i].is_finite() && hi[i].is_finite();
    let mut i = 0;
    while i < n {
        if !finite(i) {
            i += 1;
            continue;
        }
        let start = i;
        while i < n && finite(i) {
            i += 1;
        }
        let mut pts = String::new();
        for k in start..i {
            let _ = write!(pts, "{:.2},{:.2} ", map.x(xs[k]), map.y(hi[k]));
        }
        for k in (start..i).rev() {
            let _ = write!(pts, "{:.2},{:.2} ", map.x(xs[k]), map.y(lo[k]));
        }
        let _ = writeln!(
            out,
            "<polygon points=\"{}\" fill=\"{}\" fill-opacity=\"{opacity}\" stroke=\"none\"/>",
            pts.trim_end(),
            color.0
        );
    }
}

fn write_bars(out: &mut String, map: &Map, (edges, heights): (&[f64], &[f64]), color: Color, opacity: f64) {
    let _ = writeln!(
        out,
        "<g fill=\"{}\" fill-opacity=\"{opacity}\" stroke=\"white\" stroke-width=\"0.5\">",
        color.0
    );
    for (i, &h) in heights.iter().enumerate() {
        if i + 1 >= edges.len() || !(h.is_finite() && edges[i].is_finite() && edges[i + 1].is_finite()) {
            continue;
        }
        let (xa, xb) = (map.x(edges[i]), map.x(edges[i + 1]));
        let (ya, yb) = (map.y(h.max(0.0)), map.y(0.0));
        let _ = writeln!(
            out,
            "<rect x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{:.2}\"/>",
            xa.min(xb),
            ya.min(yb),
            (xb - xa).abs(),
            (yb - ya).abs()
        );
    }
    out.push_str("</g>\n");
}
