//! Validation, Dirichlet-MAP updates and sampling of probability vectors.

use crate::error::{HmmError, Table};
use faer::Mat;
use linalg_kernels::tolerance::PROBABILITY_SUM;
use rand::Rng;

/// Checks one probability row (finite, non-negative, summing to 1 within
/// [`PROBABILITY_SUM`]) and returns it unchanged. Accepted rows are stored as
/// given, bit for bit, so that model files round-trip exactly; M-steps
/// produce rows normalised to rounding.
pub(crate) fn validate_row(values: &[f64], table: Table, row: usize) -> Result<Vec<f64>, HmmError> {
    for (col, &value) in values.iter().enumerate() {
        if !(value >= 0.0 && value.is_finite()) {
            return Err(HmmError::InvalidProbability {
                table,
                row,
                col,
                value,
            });
        }
    }
    let sum: f64 = values.iter().sum();
    if !((sum - 1.0).abs() <= PROBABILITY_SUM) {
        return Err(HmmError::RowSum { table, row, sum });
    }
    Ok(values.to_vec())
}

/// Checks a Dirichlet concentration row (finite, `≥ 1`).
pub(crate) fn validate_prior(values: &[f64], table: Table, row: usize) -> Result<(), HmmError> {
    for (col, &value) in values.iter().enumerate() {
        if !(value >= 1.0 && value.is_finite()) {
            return Err(HmmError::InvalidPrior {
                table,
                row,
                col,
                value,
            });
        }
    }
    Ok(())
}

/// The rows of a `rows x cols` matrix of Dirichlet concentrations, each
/// checked by [`validate_prior`]; `None` without a prior.
///
/// # Errors
/// [`HmmError::DimensionMismatch`] (`what`, counting entries) for another
/// shape; [`HmmError::InvalidPrior`] for a concentration below 1 or not finite.
pub(crate) fn prior_rows(
    prior: Option<&Mat<f64>>,
    rows: usize,
    cols: usize,
    what: &'static str,
    table: Table,
) -> Result<Option<Vec<Vec<f64>>>, HmmError> {
    let Some(prior) = prior else {
        return Ok(None);
    };
    if prior.nrows() != rows || prior.ncols() != cols {
        return Err(HmmError::DimensionMismatch {
            what,
            expected: rows * cols,
            found: prior.nrows() * prior.ncols(),
        });
    }
    (0..rows)
        .map(|i| {
            let row: Vec<f64> = (0..cols).map(|j| prior[(i, j)]).collect();
            validate_prior(&row, table, i)?;
            Ok(row)
        })
        .collect::<Result<_, _>>()
        .map(Some)
}

/// The Dirichlet-MAP (or, without prior, maximum-likelihood) update of one
/// probability row from expected counts:
/// `p_j ∝ n_j + α_j − 1` over the entries with `previous_j > 0`, and
/// `p_j = 0` where `previous_j = 0` (structural zeros stay zero, also under a
/// prior). Returns `None` when the total is not positive (no mass and no
/// prior): the caller keeps the previous row.
pub(crate) fn map_row(counts: &[f64], prior: Option<&[f64]>, previous: &[f64]) -> Option<Vec<f64>> {
    let mut row: Vec<f64> = counts
        .iter()
        .enumerate()
        .map(|(j, &n)| {
            if previous[j] > 0.0 {
                (n + prior.map_or(0.0, |a| a[j] - 1.0)).max(0.0)
            } else {
                0.0
            }
        })
        .collect();
    let total: f64 = row.iter().sum();
    if !(total > 0.0 && total.is_finite()) {
        return None;
    }
    for v in &mut row {
        *v /= total;
    }
    Some(row)
}

/// `Σ_j (α_j − 1) ln p_j`: the log density of the Dirichlet prior `α` at
/// the row `p`, up to its normalising constant, the term a MAP update
/// ([`map_row`]) adds to EM's objective. Entries with `p_j = 0` are left
/// out: they are structural zeros, which the update never moves (or
/// entries with `α_j = 1`, which add nothing), so their term is a constant.
pub(crate) fn dirichlet_log_density(p: &[f64], alpha: &[f64]) -> f64 {
    p.iter()
        .zip(alpha)
        .filter(|&(&p, &a)| p > 0.0 && a != 1.0)
        .map(|(&p, &a)| (a - 1.0) * p.ln())
        .sum()
}

/// `ln p` of every entry (`ln 0 = −∞`).
pub(crate) fn ln_all(values: &[f64]) -> Vec<f64> {
    values
        .iter()
        .map(|&v| if v > 0.0 { v.ln() } else { f64::NEG_INFINITY })
        .collect()
}

/// Draws an index with probability proportional to `probs` (non-negative,
/// positive sum). Uses one uniform draw.
pub(crate) fn sample_index<R: Rng + ?Sized>(probs: &[f64], rng: &mut R) -> usize {
    let total: f64 = probs.iter().sum();
    let u = rng.random::<f64>() * total;
    let mut acc = 0.0;
    let mut last_positive = 0;
    for (j, &p) in probs.iter().enumerate() {
        if p > 0.0 {
            last_positive = j;
            acc += p;
            if u < acc {
                return j;
            }
        }
    }
    last_positive
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn rows_are_validated_and_kept_as_given() {
        let given = [0.7, 0.2, 0.1]; // sums to 0.9999999999999999
        assert_eq!(validate_row(&given, Table::Start, 0).unwrap(), given.to_vec());
        let row = validate_row(&[0.5, 0.5 + 1e-9], Table::Start, 0).unwrap();
        assert_eq!(row, vec![0.5, 0.5 + 1e-9]);
        assert!(validate_row(&[0.5, 0.5 + 1e-7], Table::Start, 0).is_err());
        assert!(matches!(
            validate_row(&[0.5, 0.6], Table::Transitions, 3),
            Err(HmmError::RowSum {
                table: Table::Transitions,
                row: 3,
                ..
            })
        ));
        assert!(matches!(
            validate_row(&[1.5, -0.5], Table::Start, 0),
            Err(HmmError::InvalidProbability { col: 1, .. })
        ));
        assert!(matches!(
            validate_row(&[f64::NAN, 1.0], Table::Start, 0),
            Err(HmmError::InvalidProbability { col: 0, .. })
        ));
    }

    #[test]
    fn map_row_keeps_structural_zeros_and_reports_empty_rows() {
        let r = map_row(&[2.0, 0.0, 6.0], Some(&[2.0, 2.0, 2.0]), &[0.5, 0.0, 0.5]).unwrap();
        assert_eq!(r, vec![3.0 / 10.0, 0.0, 7.0 / 10.0]);
        assert!(map_row(&[0.0, 0.0], None, &[0.5, 0.5]).is_none());
        let r = map_row(&[0.0, 0.0], Some(&[3.0, 1.0]), &[0.5, 0.5]).unwrap();
        assert_eq!(r, vec![1.0, 0.0]);
    }

    #[test]
    fn sampling_follows_the_probabilities() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let p = [0.2, 0.0, 0.8];
        let mut counts = [0usize; 3];
        for _ in 0..10_000 {
            counts[sample_index(&p, &mut rng)] += 1;
        }
        assert_eq!(counts[1], 0);
        assert!((counts[0] as f64 / 10_000.0 - 0.2).abs() < 0.02);
    }
}
