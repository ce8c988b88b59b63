//! Hidden Markov models for emfit.
//!
//! Placeholder: this crate will hold HMMs with Gaussian, Gaussian-mixture and
//! categorical emissions, forward-backward, Viterbi and one Baum-Welch step
//! over many sequences. Nothing is implemented yet.
