//! The E-step of the variational mixture: responsibilities from the expected
//! log densities, their statistics and their entropy ([`VariationalStats`]).
//!
//! The responsibilities `rᵢₖ ∝ ρᵢₖ` are those of the expected mixture
//! ([`super::VariationalMixture::expected_mixture`], weights `softmax(c)`),
//! so its E-step gives the statistics and `Σᵢ ln p̃(xᵢ)` (`p̃` that
//! mixture's density). The entropy needs no second pass: with
//! `ln p̃(xᵢ) = ln w̃ₖ + ln N(xᵢ; mₖ, Cₖ) − ln rᵢₖ` for every k,
//!
//! ```text
//! −Σᵢₖ rᵢₖ ln rᵢₖ = Σᵢ ln p̃(xᵢ) − Q,   Q = Σᵢₖ rᵢₖ [ln w̃ₖ + ln N(xᵢ; mₖ, Cₖ)]
//! ```
//!
//! and `Q` is EM's expected complete-data log-likelihood of the expected
//! mixture, a function of the statistics alone (the mixture M-step's
//! objective check computes it). Both terms add up over parts of the data,
//! so the entropy does too.
//!
//! # Flat form
//! [`FlatStats`], layout version 1: the header `"VBMS"` tag, 1, then the
//! entropy, then the mixture statistics' own flat form (header included).
//! The merge adds the entropies and merges the statistics.

use em_core::flat::{FlatError, FlatReader, FlatStats, tag, write_header};

use crate::SufficientStats;

/// The tag of the flat form.
const FLAT_TAG: u32 = tag(*b"VBMS");
/// The layout version of the flat form.
const FLAT_VERSION: u32 = 1;

/// What the variational E-step hands to the update: the statistics of the
/// responsibilities and their entropy `−Σᵢₖ rᵢₖ ln rᵢₖ`.
#[derive(Debug, Clone, PartialEq)]
pub struct VariationalStats {
    /// Masses, weighted means and scatters of the responsibilities.
    pub mixture: SufficientStats,
    /// `−Σᵢₖ rᵢₖ ln rᵢₖ` (0 for hard assignments).
    pub entropy: f64,
}

impl FlatStats for VariationalStats {
    fn write_flat(&self, out: &mut Vec<f64>) {
        write_header(out, FLAT_TAG, FLAT_VERSION);
        out.push(self.entropy);
        self.mixture.write_flat(out);
    }

    fn read_flat(reader: &mut FlatReader<'_>) -> Result<Self, FlatError> {
        reader.header("variational mixture statistics", FLAT_TAG, FLAT_VERSION)?;
        let entropy = reader.take("entropy", &[1])?[0];
        let mixture = SufficientStats::read_flat(reader)?;
        Ok(Self { mixture, entropy })
    }

    fn shape(&self) -> Vec<usize> {
        let mut shape = vec![FLAT_TAG as usize];
        shape.extend(self.mixture.shape());
        shape
    }

    fn merge(&mut self, other: &Self) {
        self.entropy += other.entropy;
        self.mixture.merge(&other.mixture);
    }
}
