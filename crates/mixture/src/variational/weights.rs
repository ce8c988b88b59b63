//! The posterior of the mixture weights: a Dirichlet distribution, or the
//! Beta distributions of a truncated stick-breaking process.
//!
//! With the masses `Nₖ` of the responsibilities (see [`super::posterior`]):
//!
//! ```text
//! Dirichlet distribution   αₖ = α₀ + Nₖ
//!   E[ln πₖ] = ψ(αₖ) − ψ(Σⱼ αⱼ)
//!   ln C(α)  = ln Γ(Σⱼ αⱼ) − Σⱼ ln Γ(αⱼ)              (the log normaliser)
//!   weights  αₖ / Σⱼ αⱼ
//! Dirichlet process        aₖ = 1 + Nₖ,  bₖ = α₀ + Σⱼ>ₖ Nⱼ   (vₖ ~ Beta(aₖ, bₖ))
//!   E[ln πₖ] = ψ(aₖ) − ψ(aₖ + bₖ) + Σⱼ<ₖ [ψ(bⱼ) − ψ(aⱼ + bⱼ)]
//!   ln C     = −Σₖ ln B(aₖ, bₖ)
//!   weights  E[vₖ] Πⱼ<ₖ E[1 − vⱼ], renormalised (scikit-learn's `weights_`)
//! ```
//!
//! ψ, ln Γ and ln B are statrs's.

use statrs::function::beta::ln_beta;
use statrs::function::gamma::{digamma, ln_gamma};

use super::prior::{VariationalPrior, WeightPrior};

/// The variational posterior of the weights.
#[derive(Debug, Clone, PartialEq)]
pub enum WeightConcentration {
    /// The Dirichlet concentrations `αₖ`.
    Dirichlet(Vec<f64>),
    /// The Beta parameters `(aₖ, bₖ)` of the stick-breaking fractions.
    StickBreaking {
        /// `aₖ = 1 + Nₖ`.
        a: Vec<f64>,
        /// `bₖ = α₀ + Σⱼ>ₖ Nⱼ`.
        b: Vec<f64>,
    },
}

impl WeightConcentration {
    /// The posterior for the masses `nk` under `prior`.
    pub(crate) fn update(prior: &VariationalPrior, nk: &[f64]) -> Self {
        let alpha = prior.weight_concentration;
        match prior.weight_prior {
            WeightPrior::DirichletDistribution => Self::Dirichlet(nk.iter().map(|n| alpha + n).collect()),
            WeightPrior::DirichletProcess => {
                let a = nk.iter().map(|n| 1.0 + n).collect();
                // The tail sums, accumulated from the last component.
                let mut b = vec![0.0; nk.len()];
                let mut tail = 0.0;
                for k in (0..nk.len()).rev() {
                    b[k] = alpha + tail;
                    tail += nk[k];
                }
                Self::StickBreaking { a, b }
            }
        }
    }

    /// `E[ln πₖ]` per component.
    #[must_use]
    pub fn expected_log_weights(&self) -> Vec<f64> {
        match self {
            Self::Dirichlet(alpha) => {
                let total = digamma(alpha.iter().sum());
                alpha.iter().map(|&a| digamma(a) - total).collect()
            }
            Self::StickBreaking { a, b } => {
                let mut before = 0.0;
                a.iter()
                    .zip(b)
                    .map(|(&a, &b)| {
                        let sum = digamma(a + b);
                        let value = digamma(a) - sum + before;
                        before += digamma(b) - sum;
                        value
                    })
                    .collect()
            }
        }
    }

    /// The posterior mean weights (scikit-learn's `weights_`), summing to 1.
    #[must_use]
    pub fn weights(&self) -> Vec<f64> {
        match self {
            Self::Dirichlet(alpha) => {
                let total: f64 = alpha.iter().sum();
                alpha.iter().map(|a| a / total).collect()
            }
            Self::StickBreaking { a, b } => {
                let mut remaining = 1.0;
                let w: Vec<f64> = a
                    .iter()
                    .zip(b)
                    .map(|(&a, &b)| {
                        let w = a / (a + b) * remaining;
                        remaining *= b / (a + b);
                        w
                    })
                    .collect();
                let total: f64 = w.iter().sum();
                w.iter().map(|v| v / total).collect()
            }
        }
    }

    /// The log normaliser `ln C` of the posterior (see the [module docs](self)).
    #[must_use]
    pub fn log_normaliser(&self) -> f64 {
        match self {
            Self::Dirichlet(alpha) => {
                ln_gamma(alpha.iter().sum()) - alpha.iter().map(|&a| ln_gamma(a)).sum::<f64>()
            }
            Self::StickBreaking { a, b } => -a.iter().zip(b).map(|(&a, &b)| ln_beta(a, b)).sum::<f64>(),
        }
    }
}
