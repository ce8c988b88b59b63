//! The conjugate prior of the means and covariances of a mixture's
//! components, [`NormalPrior`]: its shapes, its checks and its log density.
//! The MAP update it gives is [`crate::gaussian_update`]'s.

use crate::{CovarianceType, Covariances, GaussianMixture, MixtureError};
use faer::Mat;
use linalg_kernels::Cholesky;

/// The conjugate prior of the means and covariances of one mixture's
/// components. Shapes, for K components of d features: `means` K x d;
/// `means_weight` K; `scale` the covariances' own shape and type (full: K
/// symmetric positive semi-definite d x d; diagonal: K x d, non-negative;
/// spherical: K, non-negative; tied: one d x d); `extra_mass` K x 1 (full,
/// spherical), K x d (diagonal), 1 x 1 (tied), non-negative.
///
/// With the prior's `μ₀`, `λ ≥ 0`, `Ψ` and `a ≥ 0` the M-step maximises EM's
/// expected complete-data log-likelihood plus the log prior
/// [`NormalPrior::log_density`]; the maximiser is written out in
/// [`crate::gaussian_update`]. The values `λ = 0, Ψ = 0, a = 0`
/// ([`NormalPrior::none`]) are maximum likelihood. hmmlearn's conventions
/// (normal-inverse-gamma and normal-inverse-Wishart with its own offsets)
/// are values of `a`, `Ψ`: the Python classes convert them.
#[derive(Debug, Clone, PartialEq)]
pub struct NormalPrior {
    /// The prior means `μ₀`.
    pub means: Mat<f64>,
    /// The prior weight `λ ≥ 0` of each mean, in observations.
    pub means_weight: Vec<f64>,
    /// The scale `Ψ` added to each scatter.
    pub scale: Covariances,
    /// The mass `a ≥ 0` added to each denominator.
    pub extra_mass: Mat<f64>,
}

impl NormalPrior {
    /// Maximum likelihood for `k` components of `d` features of this type:
    /// every value 0.
    #[must_use]
    pub fn none(k: usize, d: usize, covariance_type: CovarianceType) -> Self {
        let (scale, rows, cols) = match covariance_type {
            CovarianceType::Full => (Covariances::Full(vec![Mat::zeros(d, d); k]), k, 1),
            CovarianceType::Diagonal => (Covariances::Diagonal(Mat::zeros(k, d)), k, d),
            CovarianceType::Spherical => (Covariances::Spherical(vec![0.0; k]), k, 1),
            CovarianceType::Tied => (Covariances::Tied(Mat::zeros(d, d)), 1, 1),
        };
        Self {
            means: Mat::zeros(k, d),
            means_weight: vec![0.0; k],
            scale,
            extra_mass: Mat::zeros(rows, cols),
        }
    }

    /// Checks the shapes against `k` components of `d` features of type
    /// `covariance_type` and the values (finite; weights, masses and scales
    /// non-negative; full and tied scales symmetric positive semi-definite).
    ///
    /// # Errors
    /// [`MixtureError::PriorShape`] or [`MixtureError::InvalidPriorValue`]
    /// naming the parameter and the entry;
    /// [`MixtureError::CovarianceTypeMismatch`] for a scale of another type.
    pub fn check(&self, k: usize, d: usize, covariance_type: CovarianceType) -> Result<(), MixtureError> {
        let shape = |parameter: &'static str, expected: (usize, usize), found: (usize, usize)| {
            if expected == found {
                Ok(())
            } else {
                Err(MixtureError::PriorShape {
                    parameter,
                    expected,
                    found,
                })
            }
        };
        let value = |parameter: &'static str, index: (usize, usize), value: f64, ok: bool| {
            if ok && value.is_finite() {
                Ok(())
            } else {
                Err(MixtureError::InvalidPriorValue {
                    parameter,
                    index,
                    value,
                })
            }
        };
        shape("means prior", (k, d), (self.means.nrows(), self.means.ncols()))?;
        shape("means weight", (k, 1), (self.means_weight.len(), 1))?;
        let mass_shape = match covariance_type {
            CovarianceType::Diagonal => (k, d),
            CovarianceType::Tied => (1, 1),
            CovarianceType::Full | CovarianceType::Spherical => (k, 1),
        };
        let extra = &self.extra_mass;
        shape(
            "covariance prior mass",
            mass_shape,
            (extra.nrows(), extra.ncols()),
        )?;
        if self.scale.covariance_type() != covariance_type {
            return Err(MixtureError::CovarianceTypeMismatch {
                expected: covariance_type,
                found: self.scale.covariance_type(),
            });
        }
        for c in 0..k {
            for f in 0..d {
                value("means prior", (c, f), self.means[(c, f)], true)?;
            }
            value(
                "means weight",
                (c, 0),
                self.means_weight[c],
                self.means_weight[c] >= 0.0,
            )?;
        }
        for r in 0..extra.nrows() {
            for f in 0..extra.ncols() {
                value(
                    "covariance prior mass",
                    (r, f),
                    extra[(r, f)],
                    extra[(r, f)] >= 0.0,
                )?;
            }
        }
        let psd = |m: &Mat<f64>, c: usize| {
            shape("covariance prior scale", (d, d), (m.nrows(), m.ncols()))?;
            for i in 0..d {
                for j in 0..d {
                    value(
                        "covariance prior scale",
                        (c, i * d + j),
                        m[(i, j)],
                        m[(i, j)] == m[(j, i)],
                    )?;
                }
            }
            // Ψ ⪰ 0 iff Ψ + δI factors for every δ > 0; δ at the rounding of Ψ.
            let size = (0..d)
                .map(|i| m[(i, i)].abs())
                .fold(0.0, f64::max)
                .max(f64::MIN_POSITIVE);
            let shifted = Mat::from_fn(d, d, |i, j| m[(i, j)] + if i == j { 1e-12 * size } else { 0.0 });
            let ok = Cholesky::new(shifted.as_ref()).is_ok();
            value(
                "covariance prior scale",
                (c, 0),
                if ok { 0.0 } else { f64::NAN },
                ok,
            )
        };
        match &self.scale {
            Covariances::Full(scales) => {
                shape("covariance prior scale", (k, 1), (scales.len(), 1))?;
                for (c, m) in scales.iter().enumerate() {
                    psd(m, c)?;
                }
            }
            Covariances::Tied(m) => psd(m, 0)?,
            Covariances::Diagonal(m) => {
                shape("covariance prior scale", (k, d), (m.nrows(), m.ncols()))?;
                for c in 0..k {
                    for f in 0..d {
                        value("covariance prior scale", (c, f), m[(c, f)], m[(c, f)] >= 0.0)?;
                    }
                }
            }
            Covariances::Spherical(v) => {
                shape("covariance prior scale", (k, 1), (v.len(), 1))?;
                for (c, &s) in v.iter().enumerate() {
                    value("covariance prior scale", (c, 0), s, s >= 0.0)?;
                }
            }
        }
        Ok(())
    }

    /// `ln p(μ, Σ)` up to a constant at the means and covariances of
    /// `mixture`, the log prior whose sum with EM's expected complete-data
    /// log-likelihood the update maximises:
    ///
    /// ```text
    /// Σ_c [−½ a_c ln det Σ_c − ½ tr(Σ_c⁻¹ (Ψ_c + λ_c δ_c δ_cᵀ))]       full, δ_c = μ_c − μ₀_c
    /// Σ_c Σ_f [−½ a_cf ln σ²_cf − ½ (ψ_cf + λ_c δ_cf²) / σ²_cf]        diagonal
    /// Σ_c [−½ a_c ln σ²_c − ½ (ψ_c + λ_c ‖δ_c‖²) / σ²_c]              spherical
    /// −½ a ln det Σ − ½ tr(Σ⁻¹ (Ψ + Σ_c λ_c δ_c δ_cᵀ))                 tied
    /// ```
    ///
    /// # Errors
    /// As [`NormalPrior::check`] against the mixture's shape.
    pub fn log_density(&self, mixture: &GaussianMixture) -> Result<f64, MixtureError> {
        let (k, d) = (mixture.n_components(), mixture.n_features());
        self.check(k, d, mixture.covariance_type())?;
        let delta = |c: usize, f: usize| mixture.means()[(c, f)] - self.means[(c, f)];
        // −½ tr(Σ⁻¹ (Ψ + Σ_c∈cs λ_c δ_c δ_cᵀ)) with the precision of component `of`.
        let quadratic = |of: usize, psi: &Mat<f64>, cs: std::ops::Range<usize>| {
            let precision = mixture
                .component_precision(of)
                .expect("a component of the mixture");
            let mut sum = 0.0;
            for i in 0..d {
                for j in 0..d {
                    let spread: f64 = cs
                        .clone()
                        .map(|c| self.means_weight[c] * delta(c, i) * delta(c, j))
                        .sum();
                    sum += precision[(i, j)] * (psi[(i, j)] + spread);
                }
            }
            -0.5 * sum
        };
        let log_det = mixture.log_det_covariances();
        Ok(match (mixture.covariances(), &self.scale) {
            (Covariances::Full(_), Covariances::Full(psi)) => (0..k)
                .map(|c| -0.5 * self.extra_mass[(c, 0)] * log_det[c] + quadratic(c, &psi[c], c..c + 1))
                .sum(),
            (Covariances::Tied(_), Covariances::Tied(psi)) => {
                -0.5 * self.extra_mass[(0, 0)] * log_det[0] + quadratic(0, psi, 0..k)
            }
            (Covariances::Diagonal(sigma), Covariances::Diagonal(psi)) => (0..k)
                .flat_map(|c| (0..d).map(move |f| (c, f)))
                .map(|(c, f)| {
                    let v = sigma[(c, f)];
                    let spread = self.means_weight[c] * delta(c, f) * delta(c, f);
                    -0.5 * self.extra_mass[(c, f)] * v.ln() - 0.5 * (psi[(c, f)] + spread) / v
                })
                .sum(),
            (Covariances::Spherical(sigma), Covariances::Spherical(psi)) => (0..k)
                .map(|c| {
                    let v = sigma[c];
                    let spread: f64 = (0..d)
                        .map(|f| self.means_weight[c] * delta(c, f) * delta(c, f))
                        .sum();
                    -0.5 * self.extra_mass[(c, 0)] * v.ln() - 0.5 * (psi[c] + spread) / v
                })
                .sum(),
            _ => unreachable!("the prior's type is checked against the mixture"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every check names the parameter and the entry at fault.
    #[test]
    fn a_prior_of_the_wrong_shape_or_value_is_an_error_naming_it() {
        let (k, d) = (3, 2);
        let t = CovarianceType::Full;
        assert_eq!(NormalPrior::none(k, d, t).check(k, d, t), Ok(()));
        let mut p = NormalPrior::none(k, d, t);
        p.means = Mat::zeros(2, d);
        assert_eq!(
            p.check(k, d, t),
            Err(MixtureError::PriorShape {
                parameter: "means prior",
                expected: (3, 2),
                found: (2, 2)
            })
        );
        let mut p = NormalPrior::none(k, d, t);
        p.means_weight[1] = -1.0;
        assert_eq!(
            p.check(k, d, t),
            Err(MixtureError::InvalidPriorValue {
                parameter: "means weight",
                index: (1, 0),
                value: -1.0
            })
        );
        let mut p = NormalPrior::none(k, d, t);
        p.scale = Covariances::Full(vec![
            Mat::zeros(d, d),
            Mat::from_fn(d, d, |i, j| if i == j { -1.0 } else { 0.0 }),
            Mat::zeros(d, d),
        ]);
        assert!(matches!(
            p.check(k, d, t),
            Err(MixtureError::InvalidPriorValue {
                parameter: "covariance prior scale",
                index: (1, 0),
                value,
            }) if value.is_nan()
        ));
        assert_eq!(
            NormalPrior::none(k, d, CovarianceType::Tied).check(k, d, t),
            Err(MixtureError::PriorShape {
                parameter: "covariance prior mass",
                expected: (3, 1),
                found: (1, 1)
            })
        );
        let mut p = NormalPrior::none(k, d, CovarianceType::Diagonal);
        p.extra_mass = Mat::zeros(k, 1);
        p.scale = Covariances::Spherical(vec![0.0; k]);
        assert_eq!(
            p.check(k, d, t),
            Err(MixtureError::CovarianceTypeMismatch {
                expected: CovarianceType::Full,
                found: CovarianceType::Spherical
            })
        );
    }
}
