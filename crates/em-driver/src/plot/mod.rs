//! A small dependency-free SVG writer for the plots of `emfit demo --plots`.
//!
//! A [`Figure`] is one set of axes holding lines, scatter points, filled bands and
//! histogram bars, with automatic "nice" ticks, axis labels, a title and a legend.
//! [`Figure::to_svg`] renders one figure; [`grid`] renders several figures as
//! panels of one SVG document. Helpers compute a density [`histogram`] and the
//! outline of a 2-D Gaussian ([`ellipse`]). Non-finite values are skipped (a line
//! is broken at a missing value). Numbers are written with 2 decimals of a pixel.

use std::fmt::Write;

/// A colour, as an SVG colour string (`#rrggbb`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Color(pub &'static str);

/// Eight colours that stay distinguishable for most colour-blind readers
/// (Okabe-Ito, with black last).
pub const PALETTE: [Color; 8] = [
    Color("#0072b2"),
    Color("#e69f00"),
    Color("#009e73"),
    Color("#d55e00"),
    Color("#cc79a7"),
    Color("#56b4e9"),
    Color("#f0e442"),
    Color("#000000"),
];

/// Colour number `i` of [`PALETTE`] (cycling).
#[must_use]
pub fn color(i: usize) -> Color {
    PALETTE[i % PALETTE.len()]
}

/// Neutral grey for observations drawn behind fitted curves.
pub const GREY: Color = Color("#999999");

#[derive(Debug, Clone)]
enum Element {
    Line {
        xs: Vec<f64>,
        ys: Vec<f64>,
        color: Color,
        width: f64,
        dashed: bool,
    },
    Points {
        xs: Vec<f64>,
        ys: Vec<f64>,
        color: Color,
        radius: f64,
    },
    Band {
        xs: Vec<f64>,
        lo: Vec<f64>,
        hi: Vec<f64>,
        color: Color,
        opacity: f64,
    },
    Bars {
        edges: Vec<f64>,
        heights: Vec<f64>,
        color: Color,
        opacity: f64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Swatch {
    Line,
    Point,
    Area,
}

/// One set of axes with its contents. Build it with the adder methods, then render
/// it with [`Figure::to_svg`] or as a panel of [`grid`].
#[derive(Debug, Clone)]
pub struct Figure {
    title: String,
    x_label: String,
    y_label: String,
    width: f64,
    height: f64,
    x_range: Option<(f64, f64)>,
    y_range: Option<(f64, f64)>,
    elements: Vec<Element>,
    legend: Vec<(String, Color, Swatch)>,
}

impl Figure {
    /// An empty 640 x 400 figure with a title.
    #[must_use]
    pub fn new(title: &str) -> Self {
        Self {
            title: title.to_string(),
            x_label: String::new(),
            y_label: String::new(),
            width: 640.0,
            height: 400.0,
            x_range: None,
            y_range: None,
            elements: Vec::new(),
            legend: Vec::new(),
        }
    }

    /// Sets the size in pixels (at least 160 x 120).
    #[must_use]
    pub fn size(mut self, width: f64, height: f64) -> Self {
        self.width = width.max(160.0);
        self.height = height.max(120.0);
        self
    }

    /// Sets the axis labels.
    #[must_use]
    pub fn labels(mut self, x: &str, y: &str) -> Self {
        self.x_label = x.to_string();
        self.y_label = y.to_string();
        self
    }

    /// Fixes the x range instead of fitting it to the data.
    #[must_use]
    pub fn x_range(mut self, lo: f64, hi: f64) -> Self {
        self.x_range = Some((lo, hi));
        self
    }

    /// Fixes the y range instead of fitting it to the data.
    #[must_use]
    pub fn y_range(mut self, lo: f64, hi: f64) -> Self {
        self.y_range = Some((lo, hi));
        self
    }

    fn label(&mut self, label: Option<&str>, color: Color, swatch: Swatch) {
        if let Some(l) = label {
            self.legend.push((l.to_string(), color, swatch));
        }
    }

    /// Adds a polyline through `(xs[i], ys[i])`, broken at non-finite values.
    pub fn line(&mut self, xs: &[f64], ys: &[f64], color: Color, label: Option<&str>) -> &mut Self {
        self.elements.push(Element::Line {
            xs: xs.to_vec(),
            ys: ys.to_vec(),
            color,
            width: 1.5,
            dashed: false,
        });
        self.label(label, color, Swatch::Line);
        self
    }

    /// Adds a dashed polyline (for reference curves such as true densities).
    pub fn dashed_line(&mut self, xs: &[f64], ys: &[f64], color: Color, label: Option<&str>) -> &mut Self {
        self.elements.push(Element::Line {
            xs: xs.to_vec(),
            ys: ys.to_vec(),
            color,
            width: 1.5,
            dashed: true,
        });
        self.label(label, color, Swatch::Line);
        self
    }

    /// Adds a polyline coloured by a label per point: one colour ([`color`]) per
    /// label, each maximal run of equal labels drawn in its colour (joined to the
    /// next point so the line stays continuous). `names[k]` labels colour `k` in
    /// the legend.
    pub fn labelled_line(&mut self, xs: &[f64], ys: &[f64], labels: &[usize], names: &[&str]) -> &mut Self {
        let n = xs.len().min(ys.len()).min(labels.len());
        let mut start = 0;
        while start < n {
            let mut end = start + 1;
            while end < n && labels[end] == labels[start] {
                end += 1;
            }
            let stop = (end + 1).min(n);
            self.elements.push(Element::Line {
                xs: xs[start..stop].to_vec(),
                ys: ys[start..stop].to_vec(),
                color: color(labels[start]),
                width: 1.2,
                dashed: false,
            });
            start = end;
        }
        for (k, name) in names.iter().enumerate() {
            self.label(Some(name), color(k), Swatch::Line);
        }
        self
    }

    /// Adds scatter points.
    pub fn points(&mut self, xs: &[f64], ys: &[f64], color: Color, label: Option<&str>) -> &mut Self {
        self.elements.push(Element::Points {
            xs: xs.to_vec(),
            ys: ys.to_vec(),
            color,
            radius: 2.0,
        });
        self.label(label, color, Swatch::Point);
        self
    }

    /// Adds a filled band between `lo` and `hi` (e.g. mean +- 2 sd).
    pub fn band(
        &mut self,
        xs: &[f64],
        lo: &[f64],
        hi: &[f64],
        color: Color,
        label: Option<&str>,
    ) -> &mut Self {
        self.elements.push(Element::Band {
            xs: xs.to_vec(),
            lo: lo.to_vec(),
            hi: hi.to_vec(),
            color,
            opacity: 0.25,
        });
        self.label(label, color, Swatch::Area);
        self
    }

    /// Adds histogram bars: bar `i` spans `edges[i]..edges[i + 1]` with height `heights[i]`.
    pub fn bars(&mut self, edges: &[f64], heights: &[f64], color: Color, label: Option<&str>) -> &mut Self {
        self.elements.push(Element::Bars {
            edges: edges.to_vec(),
            heights: heights.to_vec(),
            color,
            opacity: 0.45,
        });
        self.label(label, color, Swatch::Area);
        self
    }

    /// The data ranges (x, y) covered by the elements, each widened by 4% and
    /// replaced by the fixed ranges when set.
    fn ranges(&self) -> ((f64, f64), (f64, f64)) {
        let mut xr = Extent::default();
        let mut yr = Extent::default();
        for e in &self.elements {
            match e {
                Element::Line { xs, ys, .. } | Element::Points { xs, ys, .. } => {
                    for (&x, &y) in xs.iter().zip(ys) {
                        if x.is_finite() && y.is_finite() {
                            xr.add(x);
                            yr.add(y);
                        }
                    }
                }
                Element::Band { xs, lo, hi, .. } => {
                    for ((&x, &l), &h) in xs.iter().zip(lo).zip(hi) {
                        if x.is_finite() && l.is_finite() && h.is_finite() {
                            xr.add(x);
                            yr.add(l);
                            yr.add(h);
                        }
                    }
                }
                Element::Bars { edges, heights, .. } => {
                    for (i, &h) in heights.iter().enumerate() {
                        if i + 1 < edges.len()
                            && edges[i].is_finite()
                            && edges[i + 1].is_finite()
                            && h.is_finite()
                        {
                            xr.add(edges[i]);
                            xr.add(edges[i + 1]);
                            yr.add(0.0);
                            yr.add(h);
                        }
                    }
                }
            }
        }
        (
            self.x_range.unwrap_or_else(|| xr.padded()),
            self.y_range.unwrap_or_else(|| yr.padded()),
        )
    }

    /// Renders the figure as a standalone SVG document.
    #[must_use]
    pub fn to_svg(&self) -> String {
        let mut out = String::new();
        open_svg(&mut out, self.width, self.height);
        self.render(&mut out, 0.0, 0.0, "p0");
        out.push_str("</svg>\n");
        out
    }

    /// Writes the figure's elements with its top-left corner at `(ox, oy)`;
    /// `id` makes the clip-path id unique within a document.
    fn render(&self, out: &mut String, ox: f64, oy: f64, id: &str) {
        let (left, right, top, bottom) = (62.0, 16.0, 30.0, 44.0);
        let pw = (self.width - left - right).max(10.0);
        let ph = (self.height - top - bottom).max(10.0);
        let ((x0, x1), (y0, mut y1)) = self.ranges();
        if self.y_range.is_none() && !self.legend.is_empty() {
            // Leave the legend's height free above the data.
            let frac = ((12.0 + 15.0 * self.legend.len() as f64) / ph).min(0.5);
            y1 = y0 + (y1 - y0) / (1.0 - frac);
        }
        let map = Map {
            ox: ox + left,
            oy: oy + top,
            pw,
            ph,
            x0,
            x1,
            y0,
            y1,
        };

        let _ = writeln!(out, "<g font-family=\"sans-serif\" font-size=\"11\">");
        let _ = writeln!(
            out,
            "<rect x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{:.2}\" fill=\"white\" stroke=\"none\"/>",
            ox, oy, self.width, self.height
        );
        let _ = writeln!(
            out,
            "<clipPath id=\"{id}\"><rect x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{:.2}\"/></clipPath>",
            map.ox, map.oy, pw, ph
        );
        // Grid lines and ticks.
        for t in ticks(x0, x1) {
            let x = map.x(t);
            let _ = writeln!(
                out,
                "<line x1=\"{x:.2}\" y1=\"{:.2}\" x2=\"{x:.2}\" y2=\"{:.2}\" stroke=\"#e5e5e5\"/>",
                map.oy,
                map.oy + ph
            );
            let _ = writeln!(
                out,
                "<text x=\"{x:.2}\" y=\"{:.2}\" text-anchor=\"middle\">{}</text>",
                map.oy + ph + 14.0,
                tick_label(t, x0, x1)
            );
        }
        for t in ticks(y0, y1) {
            let y = map.y(t);
            let _ = writeln!(
                out,
                "<line x1=\"{:.2}\" y1=\"{y:.2}\" x2=\"{:.2}\" y2=\"{y:.2}\" stroke=\"#e5e5e5\"/>",
                map.ox,
                map.ox + pw
            );
            let _ = writeln!(
                out,
                "<text x=\"{:.2}\" y=\"{:.2}\" text-anchor=\"end\">{}</text>",
                map.ox - 5.0,
                y + 4.0,
                tick_label(t, y0, y1)
            );
        }
        let _ = writeln!(out, "<g clip-path=\"url(#{id})\">");
        for e in &self.elements {
            render_element(out, e, &map);
        }
        out.push_str("</g>\n");
        // Frame, title, axis labels.
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
        self.render_legend(out, &map);
        out.push_str("</g>\n");
    }

    fn render_legend(&self, out: &mut String, map: &Map) {
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
            match swatch {
                Swatch::Line => {
                    let _ = writeln!(
                        out,
                        "<line x1=\"{:.2}\" y1=\"{cy:.2}\" x2=\"{:.2}\" y2=\"{cy:.2}\" stroke=\"{}\" stroke-width=\"2\"/>",
                        x + 6.0,
                        x + 24.0,
                        c.0
                    );
                }
                Swatch::Point => {
                    let _ = writeln!(
                        out,
                        "<circle cx=\"{:.2}\" cy=\"{cy:.2}\" r=\"3\" fill=\"{}\"/>",
                        x + 15.0,
                        c.0
                    );
                }
                Swatch::Area => {
                    let _ = writeln!(
                        out,
                        "<rect x=\"{:.2}\" y=\"{:.2}\" width=\"18\" height=\"9\" fill=\"{}\" fill-opacity=\"0.5\"/>",
                        x + 6.0,
                        cy - 4.5,
                        c.0
                    );
                }
            }
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

fn render_element(out: &mut String, e: &Element, map: &Map) {
    match e {
        Element::Line {
            xs,
            ys,
            color,
            width,
            dashed,
        } => {
            let dash = if *dashed { " stroke-dasharray=\"6 4\"" } else { "" };
            // One polyline per run of finite points.
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
        Element::Points {
            xs,
            ys,
            color,
            radius,
        } => {
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
        Element::Band {
            xs,
            lo,
            hi,
            color,
            opacity,
        } => {
            // One polygon per run of finite points: along `hi`, back along `lo`.
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
        Element::Bars {
            edges,
            heights,
            color,
            opacity,
        } => {
            let _ = writeln!(
                out,
                "<g fill=\"{}\" fill-opacity=\"{opacity}\" stroke=\"white\" stroke-width=\"0.5\">",
                color.0
            );
            for (i, &h) in heights.iter().enumerate() {
                if i + 1 >= edges.len()
                    || !(h.is_finite() && edges[i].is_finite() && edges[i + 1].is_finite())
                {
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
    }
}

/// Data-to-pixel mapping of one panel.
struct Map {
    ox: f64,
    oy: f64,
    pw: f64,
    ph: f64,
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
}

impl Map {
    fn x(&self, x: f64) -> f64 {
        // Clamp far-away values so the written numbers stay small; the clip path hides them.
        let t = ((x - self.x0) / (self.x1 - self.x0)).clamp(-10.0, 11.0);
        self.ox + t * self.pw
    }
    fn y(&self, y: f64) -> f64 {
        let t = ((y - self.y0) / (self.y1 - self.y0)).clamp(-10.0, 11.0);
        self.oy + self.ph - t * self.ph
    }
}

#[derive(Default)]
struct Extent {
    lo: f64,
    hi: f64,
    any: bool,
}

impl Extent {
    fn add(&mut self, v: f64) {
        if self.any {
            self.lo = self.lo.min(v);
            self.hi = self.hi.max(v);
        } else {
            (self.lo, self.hi, self.any) = (v, v, true);
        }
    }
    fn padded(&self) -> (f64, f64) {
        if !self.any {
            return (0.0, 1.0);
        }
        let span = self.hi - self.lo;
        if span <= 0.0 {
            let d = if self.lo == 0.0 { 1.0 } else { self.lo.abs() * 0.1 };
            return (self.lo - d, self.hi + d);
        }
        (self.lo - 0.04 * span, self.hi + 0.04 * span)
    }
}

/// A "nice" tick step (1, 2 or 5 times a power of ten) giving about 5 ticks.
fn tick_step(lo: f64, hi: f64) -> f64 {
    let raw = (hi - lo).abs() / 5.0;
    if !(raw > 0.0 && raw.is_finite()) {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let nice = if f < 1.5 {
        1.0
    } else if f < 3.5 {
        2.0
    } else if f < 7.5 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// Tick positions inside `[lo, hi]`.
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let step = tick_step(lo, hi);
    let first = (lo / step).ceil();
    let mut out = Vec::new();
    let mut k = 0.0;
    while out.len() < 20 {
        let t = (first + k) * step;
        if t > hi + step * 1e-9 {
            break;
        }
        out.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
        k += 1.0;
    }
    out
}

fn tick_label(t: f64, lo: f64, hi: f64) -> String {
    let step = tick_step(lo, hi);
    let big = t.abs().max(lo.abs()).max(hi.abs());
    if big >= 1e5 || (step < 1e-4 && big > 0.0) {
        return format!("{t:.1e}");
    }
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    };
    format!("{t:.decimals$}")
}

/// Escapes text for SVG.
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

/// A density histogram of the finite values: `bins` equal bins over
/// `[min, max]` (or `range` when given); returns `(edges, heights)` with
/// `edges.len() == bins + 1` and heights scaled so the bars' total area is the
/// fraction of values inside the range (1 when no range is given). `scale`
/// multiplies the heights (e.g. the share of one state, so per-state
/// histograms add up to the whole).
#[must_use]
pub fn histogram(values: &[f64], bins: usize, range: Option<(f64, f64)>, scale: f64) -> (Vec<f64>, Vec<f64>) {
    let bins = bins.max(1);
    let (lo, hi) = range.unwrap_or_else(|| {
        let mut e = Extent::default();
        values.iter().filter(|v| v.is_finite()).for_each(|&v| e.add(v));
        if !e.any {
            (0.0, 1.0)
        } else if e.hi > e.lo {
            (e.lo, e.hi)
        } else {
            (e.lo - 0.5, e.hi + 0.5)
        }
    });
    let width = (hi - lo) / bins as f64;
    let edges: Vec<f64> = (0..=bins).map(|i| lo + width * i as f64).collect();
    let mut counts = vec![0usize; bins];
    let mut total = 0usize;
    for &v in values {
        if !v.is_finite() {
            continue;
        }
        total += 1;
        if v < lo || v > hi {
            continue;
        }
        let b = (((v - lo) / width) as usize).min(bins - 1);
        counts[b] += 1;
    }
    let norm = if total == 0 || !(width > 0.0) {
        0.0
    } else {
        scale / (total as f64 * width)
    };
    (edges, counts.iter().map(|&c| c as f64 * norm).collect())
}

/// Points on the ellipse `{ mean + r L u : |u| = 1 }` of a 2-D Gaussian with
/// covariance `cov` (`L` its Cholesky factor), i.e. the contour at `r` standard
/// deviations (Mahalanobis distance `r`); closed (first point repeated). Returns
/// `None` if `cov` is not positive definite.
#[must_use]
pub fn ellipse(mean: [f64; 2], cov: [[f64; 2]; 2], r: f64, n: usize) -> Option<(Vec<f64>, Vec<f64>)> {
    let l11 = cov[0][0];
    if !(l11 > 0.0) {
        return None;
    }
    let l11 = l11.sqrt();
    let l21 = cov[1][0] / l11;
    let d = cov[1][1] - l21 * l21;
    if !(d > 0.0) {
        return None;
    }
    let l22 = d.sqrt();
    let n = n.max(8);
    let (xs, ys) = (0..=n)
        .map(|i| {
            let a = std::f64::consts::TAU * i as f64 / n as f64;
            let (u, v) = (a.cos(), a.sin());
            (mean[0] + r * l11 * u, mean[1] + r * (l21 * u + l22 * v))
        })
        .unzip();
    Some((xs, ys))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Checks that every tag is closed in order and returns the element names seen.
    pub(crate) fn check_well_formed(svg: &str) -> Vec<String> {
        let mut stack: Vec<String> = Vec::new();
        let mut seen = Vec::new();
        let mut rest = svg;
        while let Some(start) = rest.find('<') {
            let end = rest[start..].find('>').expect("unclosed '<'") + start;
            let tag = &rest[start + 1..end];
            assert!(!tag.contains('<'), "'<' inside a tag: {tag}");
            rest = &rest[end + 1..];
            if tag.starts_with('?') {
                continue;
            }
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(
                    stack.pop().as_deref(),
                    Some(name.trim()),
                    "mismatched closing tag"
                );
                continue;
            }
            let name: String = tag.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
            assert_eq!(tag.matches('"').count() % 2, 0, "unbalanced quotes in {tag}");
            seen.push(name.clone());
            if !tag.ends_with('/') {
                stack.push(name);
            }
        }
        assert!(stack.is_empty(), "unclosed tags: {stack:?}");
        assert!(
            !svg.contains("NaN") && !svg.contains("inf"),
            "non-finite number written"
        );
        seen
    }

    #[test]
    fn figure_with_every_element_is_well_formed() {
        let xs: Vec<f64> = (0..50).map(|i| i as f64 * 0.2).collect();
        let ys: Vec<f64> = xs.iter().map(|x| x.sin()).collect();
        let lo: Vec<f64> = ys.iter().map(|y| y - 0.3).collect();
        let hi: Vec<f64> = ys.iter().map(|y| y + 0.3).collect();
        let (edges, heights) = histogram(&ys, 10, None, 1.0);
        let mut f = Figure::new("A <title> & more").labels("time", "value");
        f.band(&xs, &lo, &hi, color(0), Some("+-2 sd"))
            .line(&xs, &ys, color(0), Some("mean"))
            .dashed_line(&xs, &lo, color(1), None)
            .points(&xs, &ys, GREY, Some("obs"))
            .bars(&edges, &heights, color(2), Some("hist"));
        let svg = f.to_svg();
        let names = check_well_formed(&svg);
        for expected in ["svg", "polyline", "polygon", "circle", "rect", "text", "clipPath"] {
            assert!(names.iter().any(|n| n == expected), "missing <{expected}>");
        }
        assert!(svg.contains("A &lt;title&gt; &amp; more"));
        assert!(svg.contains("+-2 sd") && svg.contains(">mean<") && svg.contains("stroke-dasharray"));
    }

    #[test]
    fn missing_values_break_lines_and_bands() {
        let xs = [0.0, 1.0, 2.0, 3.0, 4.0];
        let ys = [1.0, 2.0, f64::NAN, 3.0, 4.0];
        let mut f = Figure::new("gaps");
        f.line(&xs, &ys, color(0), None)
            .band(&xs, &ys, &[2.0, 3.0, 4.0, f64::INFINITY, 5.0], color(1), None);
        let svg = f.to_svg();
        check_well_formed(&svg);
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("<polygon").count(), 2);
        // Nothing finite at all still renders.
        let mut empty = Figure::new("empty");
        empty.line(&[f64::NAN], &[1.0], color(0), None);
        check_well_formed(&empty.to_svg());
        check_well_formed(&Figure::new("nothing").to_svg());
    }

    #[test]
    fn labelled_line_has_one_run_per_label_change() {
        let xs: Vec<f64> = (0..6).map(f64::from).collect();
        let labels = [0, 0, 1, 1, 1, 0];
        let mut f = Figure::new("states");
        f.labelled_line(&xs, &xs, &labels, &["state 0", "state 1"]);
        let svg = f.to_svg();
        check_well_formed(&svg);
        assert_eq!(svg.matches("<polyline").count(), 3);
        assert!(svg.contains(PALETTE[0].0) && svg.contains(PALETTE[1].0) && svg.contains("state 1"));
    }

    #[test]
    fn grid_renders_panels_with_unique_clip_ids() {
        let mut a = Figure::new("a");
        a.line(&[0.0, 1.0], &[0.0, 1.0], color(0), None);
        let b = Figure::new("b").size(300.0, 200.0);
        let c = Figure::new("c");
        let svg = grid(&[a, b, c], 2);
        check_well_formed(&svg);
        assert!(svg.contains("id=\"p0\"") && svg.contains("id=\"p1\"") && svg.contains("id=\"p2\""));
        assert!(svg.contains("width=\"940\" height=\"800\""));
    }

    #[test]
    fn histogram_integrates_to_one() {
        let values: Vec<f64> = (0..1000).map(|i| (i as f64 * 0.37).sin() * 3.0).collect();
        let (edges, heights) = histogram(&values, 20, None, 1.0);
        assert_eq!((edges.len(), heights.len()), (21, 20));
        let area: f64 = heights
            .iter()
            .zip(edges.windows(2))
            .map(|(h, e)| h * (e[1] - e[0]))
            .sum();
        assert!((area - 1.0).abs() < 1e-12);
        let (_, half) = histogram(&values, 20, None, 0.5);
        assert!((half[3] - heights[3] * 0.5).abs() < 1e-12);
        let (e, h) = histogram(&[2.0, 2.0], 3, None, 1.0);
        assert!((h.iter().sum::<f64>() * (e[1] - e[0]) - 1.0).abs() < 1e-12);
        let (_, h) = histogram(&[], 3, None, 1.0);
        assert!(h.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn ellipse_is_at_the_mahalanobis_distance() {
        let cov = [[2.0, 0.6], [0.6, 1.0]];
        let (xs, ys) = ellipse([1.0, -1.0], cov, 2.0, 64).unwrap();
        let det = cov[0][0] * cov[1][1] - cov[0][1] * cov[1][0];
        for (x, y) in xs.iter().zip(&ys) {
            let (dx, dy) = (x - 1.0, y + 1.0);
            let m = (cov[1][1] * dx * dx - 2.0 * cov[0][1] * dx * dy + cov[0][0] * dy * dy) / det;
            assert!((m - 4.0).abs() < 1e-9);
        }
        assert!(ellipse([0.0, 0.0], [[1.0, 2.0], [2.0, 1.0]], 1.0, 16).is_none());
        assert!(ellipse([0.0, 0.0], [[f64::NAN, 0.0], [0.0, 1.0]], 1.0, 16).is_none());
    }

    #[test]
    fn ticks_are_nice_and_inside() {
        let t = ticks(-0.3, 9.7);
        assert_eq!(t, vec![0.0, 2.0, 4.0, 6.0, 8.0]);
        assert_eq!(tick_label(0.5, 0.0, 1.0), "0.5");
        assert!(ticks(5.0, 5.0).len() <= 20);
        assert!(ticks(0.0, 1e300).len() <= 20);
        assert_eq!(tick_label(2e6, 0.0, 1e7), "2.0e6");
    }
}
