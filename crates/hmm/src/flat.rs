//! The learned parameters of an HMM as one flat vector, for accelerated EM
//! (SQUAREM) and the parameter-change stopping rule of `em-core`
//! ([`em_core::EmModel::flat_parameters`],
//! [`em_core::EmModel::with_flat_parameters`] of [`Hmm`]).
//!
//! # Layout
//! Only the blocks of [`MStepOptions::learn`], in this order (K states):
//!
//! | block | entries |
//! |---|---|
//! | start | the entries `π_j > 0`, in state order |
//! | transitions | the entries `A_ij > 0`, row by row |
//! | emission | [`Emission::flat_parameters`]: the emission's own blocks |
//!
//! and, within the emission (d features; each block only when learned):
//!
//! - [`GaussianEmission`]: its one mixture, whose components are the states,
//!   in the layout of [`mixture::flat`] without the weights (not a parameter
//!   of the emission): means (K d, state-major), then covariances (full: per
//!   state the lower triangle row by row, d(d+1)/2 each; tied: one lower
//!   triangle; diagonal: K d variances, state-major; spherical: K);
//! - [`GmmEmission`]: state by state, the state's mixture in the layout of
//!   [`mixture::flat`]: weights (n_mix), means (n_mix d), covariances (as
//!   above with n_mix components; tied: one matrix per state);
//! - [`CategoricalEmission`]: the entries `B_jm > 0`, row by row;
//! - [`PoissonEmission`]: the rates `λ_jc`, state-major (K d).
//!
//! # Structural zeros
//! A start, transition or categorical emission probability that is exactly 0
//! is a structural zero: EM keeps it 0 forever, so it is not a parameter.
//! It is left out of the vector and the rebuilt model keeps it 0. The
//! layout therefore depends on the zero pattern of the model as well as on
//! its shape and the learn set. For the same reason a flat vector that would
//! put an exact 0 where `self` has a positive probability gives `None`: the
//! entry would become a structural zero that no later EM step could leave,
//! and the layout would change under the loop's feet. Poisson rates are all
//! in the vector (a rate of 0 is a valid parameter, K d entries whatever the
//! values), but a rate positive in `self` must stay positive for the same
//! reason: a state with rate 0 emits only zeros, so EM never moves it again.
//!
//! # Natural parameters
//! SQUAREM extrapolates `θ' = θ₀ + 2α r + α² v` with `r = θ₁ − θ₀` and
//! `v = θ₂ − 2θ₁ + θ₀` (step length `α ≥ 1`), that is
//!
//! ```text
//! θ' = (1 − α)² θ₀ + 2α(1 − α) θ₁ + α² θ₂,   coefficients summing to 1,
//! ```
//!
//! an affine combination of three EM iterates. On natural parameters it
//! keeps every linear constraint the iterates share: a probability row keeps
//! its sum 1 (up to rounding, see below), a covariance stays symmetric
//! because only its lower triangle is a coordinate. Only positivity can be
//! lost (a probability, a rate, a variance, a pivot of a covariance), which
//! the validating constructors detect; the loop then shortens the step
//! toward the EM iterate `θ₂`, which is valid, and the valid sets
//! (simplices, SPD cones, non-negative rates) are convex. Log-parametrisations
//! (log-probabilities, log-rates, log-variances) would keep positivity but
//! break the sum constraint (renormalising is no longer an affine
//! extrapolation) and the exact round trip (`exp(ln x) ≠ x` for many `x`);
//! measured, log-variances did not converge faster, neither on Gaussian
//! mixtures ([`mixture::flat`]) nor on the diagonal GMM-HMM of
//! [`crate::scenario`] (E-steps to convergence at tolerance 1e-10, seeds 42
//! and 7: 85 and 95 with natural variances, 89 and 93 with log-variances;
//! plain EM 1093 and 1400). The natural parameters are used throughout.
//!
//! # Rows are renormalised when they change
//! The rounding of the extrapolation grows like `α² ε`, and step lengths
//! reach the hundreds near an optimum: a row may sum to `1 + δ` with `δ`
//! around 1e-11. An unnormalised row raises the log-likelihood by about
//! `δ` times its expected use (the number of sequences for π, the expected
//! transitions out of state i for row i of A, the expected visits of state j
//! for its emission row or mixture weights), enough near an optimum for the
//! loop to accept a step that is no better and record falls of the next EM
//! steps. So a row that changed must sum to 1 within
//! [`PROBABILITY_SUM`] (as the constructors check) and is divided by its
//! sum; a row given back unchanged (bit for bit) is kept as it is, so a round
//! trip is exact.
//!
//! # Rebuilding
//! [`em_core::EmModel::with_flat_parameters`] replaces the learned blocks of
//! `self` (the others are kept as they are) and rebuilds through the
//! validating constructors ([`Hmm::new`], the emission's constructor or
//! `mixture::GaussianMixture::new`): a negative probability, a row not
//! summing to 1 within [`linalg_kernels::tolerance::PROBABILITY_SUM`], a
//! negative rate, a non-positive variance or a covariance that is not
//! positive definite gives `None`, as do a wrong length and a non-finite
//! entry. It never panics. A round trip is exact: rebuilding a model from its
//! own flat vector gives the model, bit for bit.
//!
//! An emission without a flat view (the default of [`Emission`]) makes the
//! model's view `None`, and an accelerated fit runs plain EM.

use crate::emission::Emission;
use crate::model::Hmm;
use crate::model::options::MStepOptions;
use crate::param::Param;
use linalg_kernels::tolerance::PROBABILITY_SUM;

#[cfg(doc)]
use crate::{CategoricalEmission, GaussianEmission, GmmEmission, PoissonEmission};

/// Appends the positive entries of `values` (the structural zeros left out).
pub(crate) fn push_support(values: &[f64], out: &mut Vec<f64>) {
    out.extend(values.iter().copied().filter(|&v| v > 0.0));
}

/// The number of positive entries of `values`.
pub(crate) fn support_len(values: &[f64]) -> usize {
    values.iter().filter(|&&v| v > 0.0).count()
}

/// `values`, rows of `cols` probabilities, with their positive entries
/// replaced in order by the next entries of `flat` (advanced past them) and
/// their zeros kept. A row that differs from its row in `values` must sum to
/// 1 within [`PROBABILITY_SUM`] and is divided by its sum (see the
/// [module docs](self)); a row given back unchanged is kept bit for bit.
/// `None` when `flat` is too short, a replacement is not positive
/// (negative, 0, NaN) or a row sum is off.
pub(crate) fn with_support(values: &[f64], cols: usize, flat: &mut &[f64]) -> Option<Vec<f64>> {
    let n = support_len(values);
    if flat.len() < n {
        return None;
    }
    let (head, tail) = flat.split_at(n);
    *flat = tail;
    let mut replacements = head.iter().copied();
    let mut out = Vec::with_capacity(values.len());
    for row in values.chunks(cols.max(1)) {
        let first = out.len();
        for &v in row {
            if v > 0.0 {
                out.push(replacements.next().filter(|&r| r > 0.0)?);
            } else {
                out.push(v);
            }
        }
        renormalise(&mut out[first..], row)?;
    }
    Some(out)
}

/// Divides `row` by its sum unless it is `previous` bit for bit; `None` when
/// the sum is not 1 within [`PROBABILITY_SUM`].
pub(crate) fn renormalise(row: &mut [f64], previous: &[f64]) -> Option<()> {
    if row.iter().zip(previous).all(|(a, b)| a.to_bits() == b.to_bits()) {
        return Some(());
    }
    let sum: f64 = row.iter().sum();
    if !((sum - 1.0).abs() <= PROBABILITY_SUM) {
        return None;
    }
    for v in row.iter_mut() {
        *v /= sum;
    }
    Some(())
}

impl<E: Emission> Hmm<E> {
    /// The flat view of [`em_core::EmModel::flat_parameters`] (see the
    /// [module docs](self)).
    pub(crate) fn flat_view(&self, options: &MStepOptions) -> Option<Vec<f64>> {
        let learn = options.learn;
        let emission = self.emission().flat_parameters(options)?;
        let mut out = Vec::new();
        if learn.contains(Param::Start) {
            push_support(self.start_probs(), &mut out);
        }
        if learn.contains(Param::Transitions) {
            push_support(self.transition_entries(), &mut out);
        }
        out.extend_from_slice(&emission);
        Some(out)
    }

    /// The model of [`em_core::EmModel::with_flat_parameters`] (see the
    /// [module docs](self)).
    pub(crate) fn with_flat(&self, flat: &[f64], options: &MStepOptions) -> Option<Self> {
        if !flat.iter().all(|v| v.is_finite()) {
            return None;
        }
        let (learn, k) = (options.learn, self.n_states());
        let mut rest = flat;
        let start = if learn.contains(Param::Start) {
            with_support(self.start_probs(), k, &mut rest)?
        } else {
            self.start_probs().to_vec()
        };
        let trans = if learn.contains(Param::Transitions) {
            with_support(self.transition_entries(), k, &mut rest)?
        } else {
            self.transition_entries().to_vec()
        };
        let emission = self.emission().with_flat_parameters(rest, options)?;
        let transitions = faer::MatRef::from_row_major_slice(&trans, k, k);
        Hmm::new(start, transitions, emission).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supports_skip_zeros_and_refuse_new_ones() {
        let mut out = vec![9.0];
        push_support(&[0.5, 0.0, 0.5], &mut out);
        assert_eq!(out, vec![9.0, 0.5, 0.5]);
        let mut flat: &[f64] = &[0.25, 0.75, 1.0];
        assert_eq!(
            with_support(&[0.5, 0.0, 0.5], 3, &mut flat),
            Some(vec![0.25, 0.0, 0.75])
        );
        assert_eq!(flat, &[1.0]);
        for bad in [[0.0, 1.0], [-0.1, 1.1], [f64::NAN, 1.0], [0.5, 0.6]] {
            let mut flat: &[f64] = &bad;
            assert_eq!(with_support(&[0.5, 0.0, 0.5], 3, &mut flat), None, "{bad:?}");
        }
        let mut short: &[f64] = &[1.0];
        assert_eq!(with_support(&[0.5, 0.5], 2, &mut short), None);
        // Rows are renormalised when they change, kept when they do not.
        let odd = [0.7, 0.2, 0.1]; // sums to 1 − 2⁻⁵³
        let mut same: &[f64] = &odd;
        assert_eq!(with_support(&odd, 3, &mut same), Some(odd.to_vec()));
        let mut off: &[f64] = &[0.5 + 4e-9, 0.5, 0.5, 0.5];
        let rows = with_support(&[0.5, 0.5, 0.5, 0.5], 2, &mut off).unwrap();
        assert_eq!(rows[2..], [0.5, 0.5]);
        assert!((rows[0] + rows[1] - 1.0).abs() <= f64::EPSILON && rows[0] > rows[1]);
    }
}
