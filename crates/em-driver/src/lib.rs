//! The EM driver of emfit.
//!
//! Placeholder: this crate will hold the one EM loop (convergence, restarts,
//! observers, reports), model files and the `emfit` command-line program.
//! Nothing is implemented yet.
