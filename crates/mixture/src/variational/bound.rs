//! The Wishart expectations and normaliser, and the evidence lower bound.
//!
//! # Wishart terms
//! For `Λ ~ Wishart(W, ν)` in d dimensions (ψ the digamma function):
//!
//! ```text
//! E[ln det Λ] = Σⱼ₌₀^{d−1} ψ((ν − j)/2) + d ln 2 + ln det W
//! ln B(W, ν)  = −(ν/2) ln det W − (ν d / 2) ln 2 − ln Γ_d(ν/2)
//! ln Γ_d(a)   = d(d − 1)/4 ln π + Σⱼ₌₀^{d−1} ln Γ(a − j/2)
//! ```
//!
//! `ln B` is the log normaliser of the Wishart density
//! `B(W, ν) det(Λ)^{(ν−d−1)/2} exp(−tr(W⁻¹Λ)/2)`; [`log_wishart_norm`]
//! leaves out the constant `d(d − 1)/4 ln π` of `ln Γ_d` (as scikit-learn
//! does). The model stores the normalised covariance `C = (ν W)⁻¹`
//! (scikit-learn's `covariances_`, whose inverse is `E[Λ]`), so
//! `ln det W = −ln det C − d ln ν`.
//!
//! # The lower bound
//! The bound of the variational distribution `q(z) q(π) Πₖ q(μₖ, Λₖ)` is
//! `L = E_q[ln p(X, z, π, μ, Λ)] − E_q[ln q]`. Right after the update of
//! `q(π, μ, Λ)` from the responsibilities `r` of `q(z)` (the M-step of
//! [`super::posterior`]), every expectation of the data and of the priors
//! cancels against the entropy of the optimal `q(π, μ, Λ)` except its
//! normalisers, and
//!
//! ```text
//! L = −Σᵢₖ rᵢₖ ln rᵢₖ − Σₖ ln B(Wₖ, νₖ) − ln C(q(π)) − (d/2) Σₖ ln βₖ + const
//! ```
//!
//! (the tied type has K equal Wishart terms, one per component; `ln C` is
//! [`super::weights::WeightConcentration::log_normaliser`]). The constant
//! depends only on n, d, K and the prior, never on `q`: this is
//! scikit-learn's `_compute_lower_bound`, the same value. Coordinate ascent
//! (an E-step then this update) never lowers it.

use statrs::function::gamma::{digamma, ln_gamma};

/// `Σⱼ₌₀^{d−1} ψ((ν − j)/2) + d ln 2`: `E[ln det Λ] − ln det W`.
#[must_use]
pub fn expected_log_det_offset(nu: f64, d: usize) -> f64 {
    (0..d).map(|j| digamma(0.5 * (nu - j as f64))).sum::<f64>() + d as f64 * std::f64::consts::LN_2
}

/// `ln B(W, ν)` of a Wishart in d dimensions with `½ ln det W` given
/// (`half_log_det_w`), without the constant `d(d − 1)/4 ln π`:
/// `−(ν ½ ln det W + ν d ½ ln 2 + Σⱼ ln Γ((ν − j)/2))`.
#[must_use]
pub fn log_wishart_norm(nu: f64, half_log_det_w: f64, d: usize) -> f64 {
    let log_gamma: f64 = (0..d).map(|j| ln_gamma(0.5 * (nu - j as f64))).sum();
    -(nu * half_log_det_w + nu * d as f64 * 0.5 * std::f64::consts::LN_2 + log_gamma)
}

/// `L` (see the [module docs](self)) from the entropy `−Σ r ln r`, the
/// degrees of freedom `νₖ`, `ln det Cₖ` of the normalised covariances, the
/// weight posterior's log normaliser and the mean precisions `βₖ`.
#[must_use]
pub fn lower_bound(
    entropy: f64,
    degrees_of_freedom: &[f64],
    log_det_covariances: &[f64],
    log_weight_normaliser: f64,
    mean_precision: &[f64],
    d: usize,
) -> f64 {
    let log_wishart: f64 = degrees_of_freedom
        .iter()
        .zip(log_det_covariances)
        .map(|(&nu, &log_det_c)| log_wishart_norm(nu, -0.5 * log_det_c - 0.5 * d as f64 * nu.ln(), d))
        .sum();
    let log_beta: f64 = mean_precision.iter().map(|b| b.ln()).sum();
    entropy - log_wishart - log_weight_normaliser - 0.5 * d as f64 * log_beta
}

#[cfg(test)]
mod tests {
    use super::*;
    use statrs::distribution::{Continuous, Gamma};

    /// At d = 1 a Wishart(W, ν) is a Gamma of shape ν/2 and rate 1/(2W):
    /// its log density minus the kernel `(ν/2 − 1) ln λ − λ/(2W)` is `ln B`.
    #[test]
    fn the_wishart_normaliser_at_one_dimension_is_the_gammas() {
        for &(w, nu) in &[(0.3, 1.5), (2.0, 4.0), (1e-3, 30.0), (7.5, 0.2)] {
            let gamma = Gamma::new(0.5 * nu, 0.5 / w).unwrap();
            let lambda: f64 = 0.8;
            let log_b = gamma.ln_pdf(lambda) - ((0.5 * nu - 1.0) * lambda.ln() - lambda / (2.0 * w));
            let ours = log_wishart_norm(nu, 0.5 * w.ln(), 1);
            assert!(
                (ours - log_b).abs() < 1e-12 * log_b.abs().max(1.0),
                "W {w} ν {nu}: {ours} vs {log_b}"
            );
        }
    }

    /// At d = 1, `E[ln λ]` of Gamma(ν/2, scale 2W) by Monte Carlo (200,000
    /// seeded draws, within 5 standard errors) against `ψ(ν/2) + ln 2W`.
    #[test]
    fn the_expected_log_determinant_at_one_dimension_matches_monte_carlo() {
        use rand::{Rng, SeedableRng};
        let (w, nu): (f64, f64) = (0.7, 3.3);
        let gamma = rand_distr::Gamma::new(0.5 * nu, 2.0 * w).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let draws: Vec<f64> = (0..200_000).map(|_| rng.sample(gamma).ln()).collect();
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        let var = draws.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (draws.len() - 1) as f64;
        let se = (var / draws.len() as f64).sqrt();
        let exact = expected_log_det_offset(nu, 1) + w.ln();
        assert!((mean - exact).abs() < 5.0 * se, "{mean} vs {exact} (se {se})");
    }
}
