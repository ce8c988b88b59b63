//! The SVG document: a standalone figure or a grid of panels, each panel with
//! its background, grid lines and ticks, marks (see `marks`), frame, title,
//! axis labels and legend.

use std::fmt::Write;

use super::axes::{Map, tick_label, ticks};
use super::figure::{Figure, Swatch};
use super::marks::write_element;

impl Figure {
    /// Renders the figure as a standalone SVG document.
    #[must_use]
    pub fn to_svg(&self) -> String {
        let mut out = String::new();
        open_svg(&mut out, self.width, self.height);
        self.render(&mut out, 0.0, 0.0, "p0");
        out.push_str("</svg>\n");
        out
    }

    /// The plot area of the figure with its top-left corner at `(ox, oy)`.
    fn map(&self, ox: f64, oy: f64) -> Map {
        let (left, right, top, bottom) = (62.0, 16.0, 30.0, 44.0);
        let pw = (self.width - left - right).max(10.0);
        let ph = (self.height - top - bottom).max(10.0);
        let ((x0, x1), (y0, mut y1)) = self.ranges();
        if !self.legend.is_empty() {
            // Leave the legend's height free above the data.
            let frac = ((12.0 + 15.0 * self.legend.len() as f64) / ph).min(0.5);
            y1 = y0 + (y1 - y0) / (1.0 - frac);
        }
        Map {
            ox: ox + left,
            oy: oy + top,
            pw,
            ph,
            x0,
            x1,
            y0,
            y1,
        }
    }

    /// Writes the figure with its top-left corner at `(ox, oy)`; `id` makes
    /// the clip-path id unique within a document.
    fn render(&self, out: &mut String, ox: f64, oy: f64, id: &str) {
        let map = self.map(ox, oy);
        let _ = writeln!(out, "<g font-family=\"sans-serif\" font-size=\"11\">");
        let _ = writeln!(
            out,
            "<rect x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{:.2}\" fill=\"white\" stroke=\"none\"/>",
            ox, oy, self.width, self.height
        );
        let _ = writeln!(
            out,
            "<clipPath id=\"{id}\"><rect x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{:.2}\"/></clipPath>",
            map.ox, map.oy, map.pw, map.ph
        );
        write_grid(out, &map);
        let _ = writeln!(out, "<g clip-path=\"url(#{id})\">");
        for e in &self.elements {
            write_element(out, e, &map);
        }
        out.push_str("</g>\n");
        self.write_labels(out, &map, ox, oy);
        self.write_legend(out, &map);
        out.push_str("</g>\n");
    }

    /// Frame, title and axis labels.
    fn write_labels(&self, out: &mut String, map: &Map, ox: f64, oy: f64) {
        let (pw, ph) = (map.pw, map.ph);
        let _ = writeln!(
            out,
            "<rect x=\"{:.2}\" y=\"{:.2}\" width=\"{pw:.2}\" height=\"{ph:.2}\" fill=\"none\" stroke=\"#333333\"/>",
            map.ox, map.oy
        );
        let _ = writeln!(
            out,
            "<text x=\"{:.2}\" y=\"{:.2}\" text-anchor=\"middle\" font-size=\"14\">{}</text>",
            map.ox + pw / 2.0,
            oy + 19.0,
            escape(&self.title)
        );
        if !self.x_label.is_empty() {
            let _ = writeln!(
                out,
                "<text x=\"{:.2}\" y=\"{:.2}\" text-anchor=\"middle\">{}</text>",
                map.ox + pw / 2.0,
                map.oy + ph + 32.0,
                escape(&self.x_label)
            );
        }
        if !self.y_label.is_empty() {
            let (x, y) = (ox + 14.0, map.oy + ph / 2.0);
            let _ = writeln!(
                out,
                "<text x=\"{x:.2}\" y=\"{y:.2}\" text-anchor=\"middle\" transform=\"rotate(-90 {x:.2} {y:.2})\">{}</text>",
                escape(&self.y_label)
            );
        }
    }

    /// The legend box in the top-right corner of the plot area.
    fn write_legend(&self, out: &mut String, map: &Map) {
        if self.legend.is_empty() {
            return;
        }
        let longest = self
            .legend
            .iter()
            .map(|(l, ..)| l.chars().count())
            .max()
            .unwrap_or(0);
        let w = 34.0 + 6.2 * longest as f64;
        let h = 6.0 + 15.0 * self.legend.len() as f64;
        let x = map.ox + map.pw - w - 6.0;
        let y = map.oy + 6.0;
        let _ = writeln!(
            out,
            "<rect x=\"{x:.2}\" y=\"{y:.2}\" width=\"{w:.2}\" height=\"{h:.2}\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#bbbbbb\"/>"
        );
        for (i, (label, c, swatch)) in self.legend.iter().enumerate() {
            let cy = y + 11.0 + 15.0 * i as f64;
            let _ = match swatch {
                Swatch::Line => writeln!(
                    out,
                    "<line x1=\"{:.2}\" y1=\"{cy:.2}\" x2=\"{:.2}\" y2=\"{cy:.2}\" stroke=\"{}\" stroke-width=\"2\"/>",
                    x + 6.0,
                    x + 24.0,
                    c.0
                ),
                Swatch::Point => writeln!(
                    out,
                    "<circle cx=\"{:.2}\" cy=\"{cy:.2}\" r=\"3\" fill=\"{}\"/>",
                    x + 15.0,
                    c.0
                ),
                Swatch::Area => writeln!(
                    out,
                    "<rect x=\"{:.2}\" y=\"{:.2}\" width=\"18\" height=\"9\" fill=\"{}\" fill-opacity=\"0.5\"/>",
                    x + 6.0,
                    cy - 4.5,
                    c.0
                ),
            };
            let _ = writeln!(
                out,
                "<text x=\"{:.2}\" y=\"{:.2}\">{}</text>",
                x + 29.0,
                cy + 4.0,
                escape(label)
            );
        }
    }
}

/// Grid lines and tick labels of both axes.
fn write_grid(out: &mut String, map: &Map) {
    for t in ticks(map.x0, map.x1) {
        let x = map.x(t);
        let label = tick_label(t, map.x0, map.x1);
        write_tick(
            out,
            [x, map.oy, x, map.oy + map.ph],
            (x, map.oy + map.ph + 14.0, "middle"),
            &label,
        );
    }
    for t in ticks(map.y0, map.y1) {
        let y = map.y(t);
        let label = tick_label(t, map.y0, map.y1);
        write_tick(
            out,
            [map.ox, y, map.ox + map.pw, y],
            (map.ox - 5.0, y + 4.0, "end"),
            &label,
        );
    }
}

/// One grid line from `(x1, y1)` to `(x2, y2)` and its tick label at `(x, y)`.
fn write_tick(out: &mut String, [x1, y1, x2, y2]: [f64; 4], (x, y, anchor): (f64, f64, &str), label: &str) {
    let _ = writeln!(
        out,
        "<line x1=\"{x1:.2}\" y1=\"{y1:.2}\" x2=\"{x2:.2}\" y2=\"{y2:.2}\" stroke=\"#e5e5e5\"/>"
    );
    let _ = writeln!(
        out,
        "<text x=\"{x:.2}\" y=\"{y:.2}\" text-anchor=\"{anchor}\">{label}</text>"
    );
}

/// Renders figures as panels of one SVG document, `columns` per row (each panel
/// keeps its own size; a row is as tall as its tallest panel).
#[must_use]
pub fn grid(figures: &[Figure], columns: usize) -> String {
    let columns = columns.max(1);
    let mut widths = vec![0.0f64; columns];
    let mut heights = Vec::new();
    for row in figures.chunks(columns) {
        heights.push(row.iter().map(|f| f.height).fold(0.0, f64::max));
        for (c, f) in row.iter().enumerate() {
            widths[c] = widths[c].max(f.width);
        }
    }
    let total_w: f64 = widths.iter().sum::<f64>().max(1.0);
    let total_h: f64 = heights.iter().sum::<f64>().max(1.0);
    let mut out = String::new();
    open_svg(&mut out, total_w, total_h);
    let mut oy = 0.0;
    for (r, row) in figures.chunks(columns).enumerate() {
        let mut ox = 0.0;
        for (c, f) in row.iter().enumerate() {
            f.render(&mut out, ox, oy, &format!("p{}", r * columns + c));
            ox += widths[c];
        }
        oy += heights[r];
    }
    out.push_str("</svg>\n");
    out
}

fn open_svg(out: &mut String, w: f64, h: f64) {
    let _ = writeln!(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" viewBox=\"0 0 {w:.0} {h:.0}\">"
    );
}

/// Escapes text for SVG (control characters are dropped).
fn escape(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' => s.push_str("&quot;"),
            c if c.is_control() => {}
            c => s.push(c),
        }
    }
    s
}
