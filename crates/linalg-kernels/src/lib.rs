//! The delicate numerics of emfit, in one place.
//!
//! Every model crate calls these kernels instead of writing its own:
//!
//! - [`cholesky`]: `A = L Lᵀ` in place or owned, with structured errors
//!   ([`KernelError::NotPositiveDefinite`] names the pivot and its value), and
//!   a floored variant that adds the smallest reported diagonal jitter;
//! - from a factor: log-determinant ([`ln_product`] of its pivots), solves, whitening, inverse, reconstruction;
//! - [`triangular`]: forward and back substitution with `L`;
//! - [`symmetrize`];
//! - [`logsumexp`]: stable log-sum-exp of slices and rows, row normalisation;
//! - [`gaussian`]: batched Gaussian log-densities through the factor;
//! - [`finite`]: finiteness checks of data at memory speed in either layout;
//! - [`fastexp`]: a vectorisable `exp` of non-positive exponents (relative
//!   error ≤ 1e-13) for log-sum-exp loops;
//! - [`padded`]: run-time vectorised Cholesky and triangular solves for small
//!   matrices in padded buffers (the per-step kernels of the Kalman filter);
//! - [`tolerance`]: the numerical tolerances of every model crate, named once;
//! - [`isa`]: the one run-time choice of vector instruction set for every
//!   SIMD kernel of the workspace, and `vzeroupper` after large faer products.
//!
//! This is the only crate that calls faer's decompositions. Matrices are faer
//! views (`MatRef` / `MatMut`, column-major). Each function documents which
//! triangle it reads, what it allocates and its errors. Small sizes use plain
//! loops and large ones faer, behind the same function (see each module).

pub mod cholesky;
mod error;
pub mod fastexp;
pub mod finite;
pub mod gaussian;
pub mod isa;
pub mod logsumexp;
pub mod padded;
mod symmetric;
pub mod tolerance;
pub mod triangular;

pub use cholesky::{Cholesky, FloorInfo, FloorSchedule, cholesky_in_place, ln_product, log_det_from_factor};
pub use error::KernelError;
pub use gaussian::gaussian_log_density;
pub use logsumexp::{log_normalize_rows_in_place, log_sum_exp, row_log_sum_exp};
pub use symmetric::symmetrize;

/// `ln(2π)`.
pub const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// Checks that a matrix is square and returns its dimension.
pub(crate) fn square_dim(rows: usize, cols: usize) -> Result<usize, KernelError> {
    if rows == cols {
        Ok(rows)
    } else {
        Err(KernelError::NotSquare { rows, cols })
    }
}
