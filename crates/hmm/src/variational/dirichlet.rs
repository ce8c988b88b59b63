//! Rows of Dirichlet concentrations: their validation, the expected log
//! probabilities that the variational E-step runs with, the divergence of a
//! posterior row from its prior row, and random starting rows.
//!
//! For `p ~ Dirichlet(a)` with `a₀ = Σⱼ aⱼ` (ψ the digamma function):
//!
//! ```text
//! E[ln pⱼ]            = ψ(aⱼ) − ψ(a₀)
//! KL(Dir(q) ‖ Dir(p)) = ln Γ(q₀) − ln Γ(p₀) − Σⱼ (ln Γ(qⱼ) − ln Γ(pⱼ))
//!                       + Σⱼ (qⱼ − pⱼ)(ψ(qⱼ) − ψ(q₀))
//! ```
//!
//! `exp(E[ln pⱼ])` sums to less than 1 (Jensen): the "sub-normalised"
//! probabilities of the E-step.

use rand::Rng;
use rand_distr::{Distribution, Gamma};
use statrs::function::gamma::{digamma, ln_gamma};

use crate::error::{HmmError, Table};

/// Checks a row of concentrations (each finite and `> 0`).
///
/// # Errors
/// [`HmmError::InvalidConcentration`] naming the table, row and column.
pub(crate) fn check_row(values: &[f64], table: Table, row: usize, posterior: bool) -> Result<(), HmmError> {
    match values.iter().position(|&v| !(v > 0.0 && v.is_finite())) {
        Some(col) => Err(HmmError::InvalidConcentration {
            table,
            posterior,
            row,
            col,
            value: values[col],
        }),
        None => Ok(()),
    }
}

/// `E[ln pⱼ] = ψ(aⱼ) − ψ(a₀)` of every entry of the row `a`.
pub(crate) fn expected_log(a: &[f64]) -> Vec<f64> {
    let total = digamma(a.iter().sum());
    a.iter().map(|&v| digamma(v) - total).collect()
}

/// `KL(Dir(q) ‖ Dir(p))` (see the [module docs](self)).
pub(crate) fn kl(q: &[f64], p: &[f64]) -> f64 {
    let (q0, p0): (f64, f64) = (q.iter().sum(), p.iter().sum());
    let psi_q0 = digamma(q0);
    let terms: f64 = q
        .iter()
        .zip(p)
        .map(|(&qj, &pj)| (ln_gamma(qj) - ln_gamma(pj)) - (qj - pj) * (digamma(qj) - psi_q0))
        .sum();
    ln_gamma(q0) - ln_gamma(p0) - terms
}

/// The posterior mean `aⱼ / a₀` of the row `a`.
pub(crate) fn mean(a: &[f64]) -> Vec<f64> {
    let total: f64 = a.iter().sum();
    a.iter().map(|&v| v / total).collect()
}

/// A draw from `Dirichlet(alpha)` (normalised Gamma(αⱼ, 1) draws) scaled to
/// sum to `total`: a random starting posterior row of `total` pseudo-counts.
/// A draw whose Gammas all underflow (tiny `αⱼ`) is replaced by the prior's
/// own proportions, so the row is always positive.
pub(crate) fn random_row<R: Rng + ?Sized>(alpha: &[f64], total: f64, rng: &mut R) -> Vec<f64> {
    let draws: Vec<f64> = alpha
        .iter()
        .map(|&a| Gamma::new(a, 1.0).map_or(0.0, |g| g.sample(rng)))
        .collect();
    let sum: f64 = draws.iter().sum();
    let row = if sum > 0.0 && draws.iter().all(|&v| v > 0.0) {
        draws
    } else {
        alpha.to_vec()
    };
    let sum: f64 = row.iter().sum();
    row.iter().map(|&v| v / sum * total).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// `ln Dir(x | a) = ln Γ(a₀) − Σⱼ ln Γ(aⱼ) + Σⱼ (aⱼ − 1) ln xⱼ`.
    fn log_density(x: &[f64], a: &[f64]) -> f64 {
        ln_gamma(a.iter().sum())
            + x.iter()
                .zip(a)
                .map(|(&x, &a)| (a - 1.0) * x.ln() - ln_gamma(a))
                .sum::<f64>()
    }

    /// KL by Monte Carlo: the mean of `ln q(x) − ln p(x)` over 100,000
    /// draws from `q`, within 5 standard errors of the closed form; and
    /// `KL(q ‖ q) = 0`.
    #[test]
    fn the_divergence_matches_monte_carlo() {
        let (q, p) = (vec![2.5, 0.7, 4.0], vec![1.0 / 3.0; 3]);
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let logs: Vec<f64> = (0..100_000)
            .map(|_| {
                let x = random_row(&q, 1.0, &mut rng);
                log_density(&x, &q) - log_density(&x, &p)
            })
            .collect();
        let n = logs.len() as f64;
        let m = logs.iter().sum::<f64>() / n;
        let se = (logs.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0) / n).sqrt();
        let exact = kl(&q, &p);
        assert!((m - exact).abs() < 5.0 * se, "{m} vs {exact} (se {se})");
        assert!(kl(&q, &q).abs() < 1e-12);
    }

    /// `E[ln pⱼ]` by Monte Carlo against `ψ(aⱼ) − ψ(a₀)`.
    #[test]
    fn the_expected_logs_match_monte_carlo() {
        let a = vec![0.4, 3.0, 1.5];
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let n = 200_000;
        let draws: Vec<Vec<f64>> = (0..n).map(|_| random_row(&a, 1.0, &mut rng)).collect();
        for (j, e) in expected_log(&a).into_iter().enumerate() {
            let logs: Vec<f64> = draws.iter().map(|d| d[j].ln()).collect();
            let m = logs.iter().sum::<f64>() / n as f64;
            let se = (logs.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1) as f64 / n as f64).sqrt();
            assert!((m - e).abs() < 5.0 * se, "entry {j}: {m} vs {e} (se {se})");
        }
    }

    #[test]
    fn concentrations_must_be_positive_and_finite() {
        assert!(check_row(&[1.0, 0.5], Table::Start, 0, false).is_ok());
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let e = check_row(&[1.0, bad], Table::Transitions, 2, true).unwrap_err();
            assert!(
                matches!(
                    e,
                    HmmError::InvalidConcentration {
                        row: 2,
                        col: 1,
                        posterior: true,
                        ..
                    }
                ),
                "{e}"
            );
        }
    }
}
