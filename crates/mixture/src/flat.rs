//! The learned parameters of a mixture as one flat vector, for accelerated
//! EM (SQUAREM) and the parameter-change stopping rule of `em-core`
//! ([`em_core::EmModel::flat_parameters`],
//! [`em_core::EmModel::with_flat_parameters`]).
//!
//! # Layout
//! Only the blocks of the [`LearnSet`], always in this order (K components,
//! d features; "component-major" means component 0's values first):
//!
//! | block | length | entries |
//! |---|---|---|
//! | weights | K | `w₀ … w_{K−1}` |
//! | means | K d | `μₖⱼ`, component-major |
//! | covariances, full | K d(d+1)/2 | per component, the lower triangle row by row: `Σ₀₀, Σ₁₀, Σ₁₁, …` |
//! | covariances, tied | d(d+1)/2 | the lower triangle of the shared matrix, row by row |
//! | covariances, diagonal | K d | the variances `σ²ₖⱼ`, component-major |
//! | covariances, spherical | K | `σ²ₖ` |
//!
//! The layout depends only on K, d, the covariance type and the learn set,
//! so every model of one fit has the same one ([`GaussianMixture::flat_len`]).
//!
//! # Natural parameters
//! Accelerated EM extrapolates `θ' = θ₀ + 2α r + α² v` with `r = θ₁ − θ₀`
//! and `v = θ₂ − 2θ₁ + θ₀` (the loop's step length `α ≥ 1`), that is
//!
//! ```text
//! θ' = (1 − α)² θ₀ + 2α(1 − α) θ₁ + α² θ₂,   coefficients summing to 1,
//! ```
//!
//! an affine combination of three EM iterates. On the natural parameters:
//! - every linear constraint the iterates share holds for `θ'` too: the
//!   weights sum to 1 (up to rounding), and a covariance stays exactly
//!   symmetric because only its lower triangle is a coordinate;
//! - only positivity can be lost (a weight, a variance, a pivot of a full
//!   matrix), which the validating constructor detects; the loop then
//!   shortens the step toward the EM iterate `θ₂`, which is valid, and the
//!   valid sets (simplex, SPD cone, positive variances) are convex, so a
//!   short enough step is valid.
//!
//! # Weights are renormalised when they change
//! "Up to rounding" is `|Σₖ w'ₖ − 1| ≈ α² ε`, and the loop's step lengths
//! reach the hundreds near an optimum: sums off by up to 5e-11 were measured.
//! A mixture whose weights sum to `1 + δ` has its log-likelihood raised by
//! `n ln(1 + δ) ≈ n δ` for n points (7.8e-8 for δ = 2.6e-11 and n = 3000),
//! which is more
//! than the gain of an EM step near the optimum: the loop accepted such
//! extrapolations as improvements and the following EM steps (which
//! renormalise) then recorded falls. So changed weights must sum to 1 within
//! [`PROBABILITY_SUM`] (as [`GaussianMixture::new`] checks) and are divided by
//! their sum, which leaves an error of a few ulps; weights given back
//! unchanged (bit for bit) are kept as they are, so a round trip is exact.
//!
//! # Log-variances: measured, not used
//! For the diagonal and spherical types, `θ = ln σ²` would keep variances
//! positive whatever the step (a geometric extrapolation). Measured on five
//! overlapping 2-D components (n = 3000, exact EM, absolute tolerance 1e-9,
//! the test `overlapping_components_reach_the_same_optimum_in_far_fewer_e_steps`),
//! E-steps to convergence:
//!
//! | type | plain EM | SQUAREM, natural | SQUAREM, log-variances |
//! |---|---|---|---|
//! | diagonal | 8298 | 815 | 1048 |
//! | spherical | 1700 | 198 | 199 |
//!
//! Infeasible steps are rare here (one shortening in either case), the
//! log-parametrisation did not converge faster, and it would not round-trip
//! bit for bit (`exp(ln x) ≠ x` for many `x`), so the parameter-change
//! stopping rule would see a change where there is none. The natural
//! parameters are used for every covariance type.
//!
//! # Rebuilding
//! [`GaussianMixture::with_flat_parameters_of`] replaces the learned blocks
//! (the others are kept) and rebuilds the model through
//! [`GaussianMixture::new`], so it returns `None` when the vector is not a
//! valid mixture (a negative weight, weights not summing to one within
//! [`PROBABILITY_SUM`], a non-positive variance, a full or tied covariance
//! that is not positive definite), and for a wrong length or a non-finite
//! entry; it never panics. A full or tied matrix is rebuilt from its lower
//! triangle: each upper entry mirrors the lower one, except that an entry
//! given back unchanged (bit for bit) keeps the upper mirror of `self`, so
//! that a round trip is exact even for a matrix symmetric only within
//! [`linalg_kernels::tolerance::SYMMETRY`].

use faer::Mat;
use linalg_kernels::tolerance::PROBABILITY_SUM;

use crate::{Covariances, GaussianMixture, LearnSet, Param};

impl GaussianMixture {
    /// The number of flat parameters of the blocks of `learn` (see the
    /// [module docs](self) for the layout).
    #[must_use]
    pub fn flat_len(&self, learn: LearnSet) -> usize {
        let (k, d) = (self.n_components(), self.n_features());
        let mut n = 0;
        if learn.contains(Param::Weights) {
            n += k;
        }
        if learn.contains(Param::Means) {
            n += k * d;
        }
        if learn.contains(Param::Covariances) {
            n += self.covariance_type().n_parameters(k, d);
        }
        n
    }

    /// Appends the blocks of `learn` to `out`, in the layout of the
    /// [module docs](self) ([`GaussianMixture::flat_len`] values).
    pub fn push_flat_parameters(&self, learn: LearnSet, out: &mut Vec<f64>) {
        let (k, d) = (self.n_components(), self.n_features());
        out.reserve(self.flat_len(learn));
        if learn.contains(Param::Weights) {
            out.extend_from_slice(self.weights());
        }
        if learn.contains(Param::Means) {
            let means = self.means();
            out.extend((0..k).flat_map(|c| (0..d).map(move |j| means[(c, j)])));
        }
        if learn.contains(Param::Covariances) {
            match self.covariances() {
                Covariances::Full(mats) => mats.iter().for_each(|m| push_lower(m, out)),
                Covariances::Tied(m) => push_lower(m, out),
                Covariances::Diagonal(v) => out.extend((0..k).flat_map(|c| (0..d).map(move |j| v[(c, j)]))),
                Covariances::Spherical(v) => out.extend_from_slice(v),
            }
        }
    }

    /// `self` with the blocks of `learn` replaced by `flat` (the layout of
    /// [`GaussianMixture::push_flat_parameters`]) and the other blocks kept,
    /// rebuilt by [`GaussianMixture::new`]; `None` for a wrong length, a
    /// non-finite entry or parameters that are not a valid mixture (see the
    /// [module docs](self)).
    #[must_use]
    pub fn with_flat_parameters_of(&self, flat: &[f64], learn: LearnSet) -> Option<Self> {
        if flat.len() != self.flat_len(learn) || !flat.iter().all(|v| v.is_finite()) {
            return None;
        }
        let (k, d) = (self.n_components(), self.n_features());
        let mut rest = flat;
        let mut take = |n: usize| {
            let (head, tail) = rest.split_at(n);
            rest = tail;
            head
        };
        let weights = if learn.contains(Param::Weights) {
            renormalised(take(k), self.weights())?
        } else {
            self.weights().to_vec()
        };
        let means = if learn.contains(Param::Means) {
            let m = take(k * d);
            Mat::from_fn(k, d, |c, j| m[c * d + j])
        } else {
            self.means().to_owned()
        };
        let covariances = if learn.contains(Param::Covariances) {
            let values = take(self.covariance_type().n_parameters(k, d));
            self.covariances_from_flat(values)
        } else {
            self.covariances().clone()
        };
        GaussianMixture::new(weights, means, covariances).ok()
    }

    /// The covariances of `self`'s type from their flat block (exact length).
    fn covariances_from_flat(&self, values: &[f64]) -> Covariances {
        let (k, d) = (self.n_components(), self.n_features());
        let t = d * (d + 1) / 2;
        match self.covariances() {
            Covariances::Full(mats) => Covariances::Full(
                mats.iter()
                    .zip(values.chunks_exact(t))
                    .map(|(old, lower)| from_lower(old, lower))
                    .collect(),
            ),
            Covariances::Tied(old) => Covariances::Tied(from_lower(old, values)),
            Covariances::Diagonal(_) => Covariances::Diagonal(Mat::from_fn(k, d, |c, j| values[c * d + j])),
            Covariances::Spherical(_) => Covariances::Spherical(values.to_vec()),
        }
    }
}

/// The weights `w` as given when they are `previous` bit for bit; otherwise
/// `w / Σ w`, or `None` when `Σ w` is not 1 within [`PROBABILITY_SUM`] (see
/// the [module docs](self) for why).
fn renormalised(w: &[f64], previous: &[f64]) -> Option<Vec<f64>> {
    if w.iter().zip(previous).all(|(a, b)| a.to_bits() == b.to_bits()) {
        return Some(w.to_vec());
    }
    let sum: f64 = w.iter().sum();
    ((sum - 1.0).abs() <= PROBABILITY_SUM).then(|| w.iter().map(|v| v / sum).collect())
}

/// Appends the lower triangle of `m`, row by row.
fn push_lower(m: &Mat<f64>, out: &mut Vec<f64>) {
    for i in 0..m.nrows() {
        out.extend((0..=i).map(|j| m[(i, j)]));
    }
}

/// The symmetric matrix of the lower triangle `lower` (row by row); an
/// off-diagonal entry equal (bit for bit) to that of `old` keeps `old`'s
/// upper mirror.
fn from_lower(old: &Mat<f64>, lower: &[f64]) -> Mat<f64> {
    let mut m = old.clone();
    let mut values = lower.iter();
    for i in 0..old.nrows() {
        for j in 0..=i {
            let v = *values.next().expect("the caller checked the length");
            if i != j && v.to_bits() != old[(i, j)].to_bits() {
                m[(j, i)] = v;
            }
            m[(i, j)] = v;
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use em_core::EmModel;
    use faer::mat;

    #[test]
    fn a_full_covariance_is_its_lower_triangle() {
        let m = GaussianMixture::new(
            vec![1.0],
            mat![[0.5, -0.5]],
            Covariances::Full(vec![mat![[2.0, 0.3], [0.3, 1.0]]]),
        )
        .unwrap();
        let flat = m.flat_parameters(&crate::MStepOptions::default()).unwrap();
        assert_eq!(flat, vec![1.0, 0.5, -0.5, 2.0, 0.3, 1.0]);
    }
}
