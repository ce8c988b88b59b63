//! Linear Gaussian state-space models for emfit.
//!
//! Placeholder: this crate will hold the Kalman filter, the Rauch-Tung-Striebel
//! smoother and the mathematics of one EM step. Nothing is implemented yet.
