//! [`Figure`]: one set of axes and the marks drawn on it, built with adder
//! methods and rendered by the `svg` module.

use super::axes::Extent;
use super::color::{Color, color};

/// One mark of a figure, in data coordinates.
#[derive(Debug, Clone)]
pub(super) enum Element {
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

/// How an entry of the legend is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Swatch {
    Line,
    Point,
    Area,
}

/// One set of axes with its contents. Build it with the adder methods, then render
/// it with [`Figure::to_svg`] or as a panel of [`super::grid`].
#[derive(Debug, Clone)]
pub struct Figure {
    pub(super) title: String,
    pub(super) x_label: String,
    pub(super) y_label: String,
    pub(super) width: f64,
    pub(super) height: f64,
    pub(super) elements: Vec<Element>,
    pub(super) legend: Vec<(String, Color, Swatch)>,
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

    fn label(&mut self, label: Option<&str>, color: Color, swatch: Swatch) {
        if let Some(l) = label {
            self.legend.push((l.to_string(), color, swatch));
        }
    }

    /// Adds an element and, if labelled, its legend entry.
    fn add(&mut self, element: Element, color: Color, swatch: Swatch, label: Option<&str>) -> &mut Self {
        self.elements.push(element);
        self.label(label, color, swatch);
        self
    }

    fn polyline(
        &mut self,
        xs: &[f64],
        ys: &[f64],
        color: Color,
        dashed: bool,
        label: Option<&str>,
    ) -> &mut Self {
        let line = Element::Line {
            xs: xs.to_vec(),
            ys: ys.to_vec(),
            color,
            width: 1.5,
            dashed,
        };
        self.add(line, color, Swatch::Line, label)
    }

    /// Adds a polyline through `(xs[i], ys[i])`, broken at non-finite values.
    pub fn line(&mut self, xs: &[f64], ys: &[f64], color: Color, label: Option<&str>) -> &mut Self {
        self.polyline(xs, ys, color, false, label)
    }

    /// Adds a dashed polyline (for reference curves such as true densities).
    pub fn dashed_line(&mut self, xs: &[f64], ys: &[f64], color: Color, label: Option<&str>) -> &mut Self {
        self.polyline(xs, ys, color, true, label)
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
        let points = Element::Points {
            xs: xs.to_vec(),
            ys: ys.to_vec(),
            color,
            radius: 2.0,
        };
        self.add(points, color, Swatch::Point, label)
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
        let band = Element::Band {
            xs: xs.to_vec(),
            lo: lo.to_vec(),
            hi: hi.to_vec(),
            color,
            opacity: 0.25,
        };
        self.add(band, color, Swatch::Area, label)
    }

    /// Adds histogram bars: bar `i` spans `edges[i]..edges[i + 1]` with height `heights[i]`.
    pub fn bars(&mut self, edges: &[f64], heights: &[f64], color: Color, label: Option<&str>) -> &mut Self {
        let bars = Element::Bars {
            edges: edges.to_vec(),
            heights: heights.to_vec(),
            color,
            opacity: 0.45,
        };
        self.add(bars, color, Swatch::Area, label)
    }

    /// The data ranges (x, y) covered by the elements, each widened by 4%.
    pub(super) fn ranges(&self) -> ((f64, f64), (f64, f64)) {
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
        (xr.padded(), yr.padded())
    }
}
