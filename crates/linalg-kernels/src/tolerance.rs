//! The numerical tolerances of emfit, named once, each with its reason.
//!
//! Every model crate checks its inputs and reports its M-steps against these
//! constants instead of writing its own epsilon.

/// A matrix given as a covariance is accepted as symmetric when
/// `|a_ij − a_ji| ≤ SYMMETRY · max(|a_ii|, |a_jj|)`.
///
/// Relative to the diagonal, so the test does not depend on the units of
/// the data. 1e-8 accepts what rounding leaves in a covariance computed as
/// a product (about n·ε) or written out with nine significant digits, and
/// still rejects a transposed or mistyped entry, which is off by far more.
/// Accepted matrices are stored as given; the kernels read one triangle.
pub const SYMMETRY: f64 = 1e-8;

/// A probability vector (mixture weights, start probabilities, a row of a
/// transition or emission matrix) is accepted when its entries sum to 1
/// within this absolute tolerance: nine printed digits per entry pass, a
/// forgotten normalisation does not. Given vectors are stored bit for bit.
pub const PROBABILITY_SUM: f64 = 1e-8;

/// An M-step whose objective `Q(θ_new) − Q(θ_old)` is below
/// `−OBJECTIVE · max(1, |Q(θ_old)|)` is reported as a decrease: above
/// rounding of a sum over many points (relative 1e-16 per term), far below
/// any change a floor or re-seed makes that matters.
pub const OBJECTIVE: f64 = 1e-10;

/// A new covariance is numerically singular when a Cholesky pivot satisfies
/// `L_jj² < DEGENERATE_PIVOT · Σ_jj`: variable j is, to twelve digits, a
/// linear combination of the ones before it (four digits of headroom above
/// ε, so the factor still has meaningful digits).
pub const DEGENERATE_PIVOT: f64 = 1e-12;
