//! The covariance floor, in the units of the data.
//!
//! Every new variance gets a floor added (the ridge `diag(f) ` on a full or
//! tied covariance, `f_j` on a diagonal variance, the mean of the `f_j` on a
//! spherical one), so that a component on few points keeps a positive
//! definite covariance. With [`Floor::Relative`]`(c)` (the default,
//! `c =` [`DEFAULT_RELATIVE_FLOOR`]) the floor of feature j is
//!
//! ```text
//! f_j = c · s_j²,   s_j² = (Σₖ Mₖ,jj + Σₖ Nₖ (mₖⱼ − m̄ⱼ)²) / N,   m̄ⱼ = Σₖ Nₖ mₖⱼ / N
//! ```
//!
//! the variance of feature j of the data the statistics were accumulated
//! on (point weights summed over components: within-component scatter plus
//! the spread of the component means; for an HMM's Gaussian emission the
//! whole data set, for a GMM emission the data of the state). It is
//! computed from the sufficient statistics every M-step, in `O(K d)`, no
//! pass over the data, and it scales with the data: data multiplied by `a`
//! give floors multiplied by `a²`, so the fit is equivariant to the units.
//! `c = 10⁻⁶` on unit-variance data is scikit-learn's `reg_covar = 10⁻⁶`.
//!
//! Cancellation: the scatters `Mₖ` are accumulated centred, so the within
//! part keeps its relative precision however large the mean; the between
//! part is a difference of means, exact to `ε |m̄ⱼ|`, which matters only
//! when the data's spread is itself at the rounding of their values.
//!
//! The scale is not taken below `ε m̄ⱼ²` (ε the machine epsilon): a spread
//! under `√ε |m̄ⱼ|` (half the digits of the values) is not resolved by the
//! data, and the variance of a constant column is rounding noise (`~1e-37`
//! for a column of 4.0) that would make every rounding error of a mean an
//! enormous Mahalanobis distance. So the scale of feature j is
//! `max(s_j², ε m̄ⱼ²)`, and 1 for a column of zeros; it still scales as
//! `a²` with the data. A relative floor that is not a normal number (data
//! of size below about `1e-146`, whose squares underflow, or above `1e154`)
//! is [`MixtureError::ScaleOutOfRange`] naming the feature: such data
//! cannot be fitted in floating point, and falling back to an absolute
//! floor would be a silent wrong answer.
//!
//! [`Floor::Absolute`]`(reg_covar)` adds the same `reg_covar` to every
//! variance, as scikit-learn (`MStepOptions::with_reg_covar`).

use crate::stats::Scatter;
use crate::{MixtureError, SufficientStats};
pub use em_core::Floor;

/// The default coefficient of the relative floor, `c = 10⁻⁶`.
pub const DEFAULT_RELATIVE_FLOOR: f64 = 1e-6;

/// The variance of every feature of the data behind `stats` (`s_j²` of
/// the module docs, point weights summed over components); `None` without
/// mass.
#[must_use]
pub fn data_variances(stats: &SufficientStats) -> Option<Vec<f64>> {
    let (means, total) = pooled_moments(stats)?;
    Some(
        variances_about(stats, &means, total)
            .into_iter()
            .map(|(v, _)| v)
            .collect(),
    )
}

/// The floor `f_j` of every feature (see the module docs).
///
/// # Errors
/// [`MixtureError::ScaleOutOfRange`] when a positive relative floor is not a
/// normal number.
pub fn feature_floors(stats: &SufficientStats, floor: Floor) -> Result<Vec<f64>, MixtureError> {
    let d = stats.n_features();
    match floor {
        Floor::Absolute(value) => Ok(vec![value; d]),
        Floor::Relative(c) => match pooled_moments(stats) {
            Some((means, total)) => variances_about(stats, &means, total)
                .into_iter()
                .enumerate()
                .map(|(feature, (variance, mean))| {
                    let f = c * feature_scale(variance, mean);
                    if c == 0.0 || f.is_normal() {
                        Ok(f)
                    } else {
                        Err(MixtureError::ScaleOutOfRange { feature, variance })
                    }
                })
                .collect(),
            None => Ok(vec![c; d]),
        },
    }
}

/// The scale of a feature of variance `variance` and mean `mean`:
/// `max(variance, ε mean²)` (see the module docs); 1 for a column of zeros
/// (`variance = mean = 0`). For data too small or too large to square the
/// result is 0 or ∞ (never a silent unit scale): callers check it.
pub fn feature_scale(variance: f64, mean: f64) -> f64 {
    if variance == 0.0 && mean == 0.0 {
        1.0
    } else {
        variance.max(f64::EPSILON * mean * mean)
    }
}

/// The pooled means `m̄ⱼ` and the total mass N; `None` without mass.
fn pooled_moments(stats: &SufficientStats) -> Option<(Vec<f64>, f64)> {
    let (mass, m, d) = (stats.mass(), stats.means(), stats.n_features());
    let total: f64 = mass.iter().filter(|&&n| n > 0.0).sum();
    if !(total > 0.0) {
        return None;
    }
    let means = (0..d)
        .map(|j| {
            mass.iter()
                .enumerate()
                .filter(|&(_, &n)| n > 0.0)
                .map(|(c, &n)| n / total * m[(c, j)])
                .sum()
        })
        .collect();
    Some((means, total))
}

/// `(s_j², m̄ⱼ)` for every feature, given the pooled means and the total mass.
fn variances_about(stats: &SufficientStats, means: &[f64], total: f64) -> Vec<(f64, f64)> {
    let (mass, m) = (stats.mass(), stats.means());
    let within = |j: usize| -> f64 {
        match stats.scatter() {
            Scatter::Full(s) => s.iter().map(|s| s[(j, j)]).sum(),
            Scatter::Diagonal(s) => (0..s.nrows()).map(|c| s[(c, j)]).sum(),
            Scatter::Pooled(s) => s[(j, j)],
        }
    };
    means
        .iter()
        .enumerate()
        .map(|(j, &mean)| {
            let between: f64 = mass
                .iter()
                .enumerate()
                .filter(|&(_, &n)| n > 0.0)
                .map(|(c, &n)| {
                    let delta = m[(c, j)] - mean;
                    n * delta * delta
                })
                .sum();
            ((within(j) + between) / total, mean)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CovarianceType;
    use faer::Mat;

    /// Two features, one of them constant, in two hard clusters.
    fn stats(kind: CovarianceType, scale: f64) -> SufficientStats {
        let x = Mat::from_fn(6, 2, |i, j| {
            scale
                * if j == 0 {
                    [1.0, 2.0, 3.0, 11.0, 12.0, 13.0][i]
                } else {
                    5.0
                }
        });
        let resp = Mat::from_fn(6, 2, |i, c| if (i < 3) == (c == 0) { 1.0 } else { 0.0 });
        SufficientStats::from_responsibilities(x.as_ref(), resp.as_ref(), kind).unwrap()
    }

    #[test]
    fn the_relative_floor_is_a_fraction_of_the_data_variance_in_every_type() {
        // Feature 0: variance of 1,2,3,11,12,13 = 25 + 2/3.
        let want = 25.0 + 2.0 / 3.0;
        for kind in [
            CovarianceType::Full,
            CovarianceType::Diagonal,
            CovarianceType::Spherical,
            CovarianceType::Tied,
        ] {
            for scale in [1.0, 1e-140, 1e150] {
                let s = stats(kind, scale);
                let v = data_variances(&s).unwrap();
                assert!(
                    (v[0] / (scale * scale) - want).abs() < 1e-12 * want,
                    "{kind:?} {scale}: {v:?}"
                );
                let f = feature_floors(&s, Floor::Relative(1e-6)).unwrap();
                assert!(
                    (f[0] / (scale * scale) - 1e-6 * want).abs() < 1e-17,
                    "{kind:?} {scale}"
                );
                // The constant column takes ε times its value squared as scale.
                let want = 1e-6 * f64::EPSILON * 25.0;
                assert!(
                    (f[1] / (scale * scale) - want).abs() < 1e-9 * want,
                    "{kind:?} {scale}: {f:?}"
                );
                assert_eq!(
                    feature_floors(&s, Floor::Absolute(1e-3)).unwrap(),
                    vec![1e-3, 1e-3]
                );
            }
        }
    }

    #[test]
    fn a_column_of_zeros_and_no_mass_fall_back_to_unit_scale() {
        assert_eq!(feature_scale(0.0, 0.0), 1.0);
        assert_eq!(feature_scale(0.0, -3.0), 9.0 * f64::EPSILON);
        assert_eq!(feature_scale(2.0, 100.0), 2.0);
        assert_eq!(
            feature_scale(1e-20, 1.0),
            f64::EPSILON,
            "spread below √ε of the values"
        );
        let empty = SufficientStats::empty(2, 3, CovarianceType::Full).unwrap();
        assert!(data_variances(&empty).is_none());
        assert_eq!(
            feature_floors(&empty, Floor::Relative(1e-6)).unwrap(),
            vec![1e-6; 3]
        );
        // Data whose squares underflow: an error naming the feature, not a
        // unit scale.
        assert_eq!(feature_scale(0.0, 1e-300), 0.0);
        let tiny = stats(CovarianceType::Diagonal, 1e-300);
        assert!(matches!(
            feature_floors(&tiny, Floor::Relative(1e-6)),
            Err(MixtureError::ScaleOutOfRange { feature: 0, .. })
        ));
        assert!(feature_floors(&tiny, Floor::Relative(0.0)).is_ok());
    }
}
