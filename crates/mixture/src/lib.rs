//! Gaussian mixture models for emfit.
//!
//! Placeholder: this crate will hold `GaussianMixture` (full, diagonal,
//! spherical and tied covariances), k-means++ initialisation, inference and
//! the mathematics of one EM step. Nothing is implemented yet.
