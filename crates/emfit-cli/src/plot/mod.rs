//! A small dependency-free SVG writer for the plots of `emfit demo --plots`.
//!
//! A [`Figure`] is one set of axes holding lines, scatter points, filled bands and
//! histogram bars, with automatic "nice" ticks, axis labels, a title and a legend.
//! [`Figure::to_svg`] renders one figure; [`grid`] renders several figures as
//! panels of one SVG document. Helpers compute a density [`histogram()`] and the
//! outline of a 2-D Gaussian ([`ellipse()`]). Non-finite values are skipped (a line
//! is broken at a missing value). Numbers are written with 2 decimals of a pixel.
//!
//! - `figure`: the [`Figure`] builder and what it holds;
//! - `svg`: the SVG document and one panel (frame, ticks, labels, legend);
//! - `marks`: what a panel draws (polylines, points, bands, bars);
//! - `axes`: data ranges, "nice" ticks and the data-to-pixel mapping;
//! - `color`: the palette;
//! - `histogram`, `ellipse`: the numbers behind two kinds of plots.

mod axes;
mod color;
mod ellipse;
mod figure;
mod histogram;
mod marks;
mod svg;

pub use color::{GREY, PALETTE, color};
pub use ellipse::ellipse;
pub use figure::Figure;
pub use histogram::histogram;
pub use svg::grid;

/// The SVG check shared with the end-to-end tests (`tests/cli_support`).
#[cfg(test)]
#[path = "../../tests/cli_support/svg.rs"]
mod well_formed;

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::well_formed::check_svg;
    use super::*;

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
        let names = check_svg(&svg);
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
        check_svg(&svg);
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("<polygon").count(), 2);
        // Nothing finite at all still renders.
        let mut empty = Figure::new("empty");
        empty.line(&[f64::NAN], &[1.0], color(0), None);
        check_svg(&empty.to_svg());
        check_svg(&Figure::new("nothing").to_svg());
    }

    #[test]
    fn labelled_line_has_one_run_per_label_change() {
        let xs: Vec<f64> = (0..6).map(f64::from).collect();
        let labels = [0, 0, 1, 1, 1, 0];
        let mut f = Figure::new("states");
        f.labelled_line(&xs, &xs, &labels, &["state 0", "state 1"]);
        let svg = f.to_svg();
        check_svg(&svg);
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
        check_svg(&svg);
        assert!(svg.contains("id=\"p0\"") && svg.contains("id=\"p1\"") && svg.contains("id=\"p2\""));
        assert!(svg.contains("width=\"940\" height=\"800\""));
    }

    /// Any finite value, from tiny to huge, of either sign.
    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            -1e3..1e3f64,
            (-300i32..300, -1.0..1.0f64).prop_map(|(e, m)| m * 10f64.powi(e)),
            Just(0.0),
        ]
    }

    proptest! {
        /// Whatever the data (huge, tiny or equal values), every kind of mark
        /// renders as a well-formed document without a non-finite number.
        #[test]
        fn any_finite_data_renders(
            xs in prop::collection::vec(value(), 1..40),
            ys in prop::collection::vec(value(), 1..40),
        ) {
            let n = xs.len().min(ys.len());
            let (xs, ys) = (&xs[..n], &ys[..n]);
            let labels: Vec<usize> = (0..n).map(|i| i % 3).collect();
            let (edges, heights) = histogram(ys, 7, None, 1.0);
            let mut f = Figure::new("any").labels("x", "y");
            f.line(xs, ys, color(0), Some("line"))
                .points(xs, ys, color(1), Some("points"))
                .band(xs, ys, ys, color(2), None)
                .bars(&edges, &heights, color(3), Some("bars"))
                .labelled_line(xs, ys, &labels, &["a", "b", "c"]);
            check_svg(&f.to_svg());
        }
    }
}
