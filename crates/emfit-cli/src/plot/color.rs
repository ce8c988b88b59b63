//! The colours of the plots.

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
