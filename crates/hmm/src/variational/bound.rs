//! The evidence lower bound of a [`VariationalHmm`] and its divergence
//! from the prior.
//!
//! With `q(z, π, A, θ) = q(z) q(π) q(A) q(θ)`, the bound is
//!
//! ```text
//! L = E_q[ln p(x, z | π, A, θ)] − E_q[ln q(z)] − KL(q(π, A, θ) ‖ p(π, A, θ))
//! ```
//!
//! For fixed `q(π, A, θ)` the best `q(z)` is the chain of
//! the expected-log chain of [`super::posterior`], `q(z) = π̃_{z_0} b̃_{z_0}(x_0)
//! Π_t Ã_{z_{t−1} z_t} b̃_{z_t}(x_t) / Z` (with the emission offsets
//! folded into `π̃` and `Ã`), and at it the first two terms are exactly
//! `ln Z` (summed over the sequences; forward's `ln p`). So the bound of a
//! state (its `q(π, A, θ)` with the best `q(z)`) is
//!
//! ```text
//! L = ln Z − KL(Dir(ã) ‖ Dir(a)) − Σ_i KL(Dir(b̃_i·) ‖ Dir(b_i·)) − KL_emission
//! ```
//!
//! with the Dirichlet divergence (`q₀ = Σⱼ qⱼ`, `ψ` the digamma function)
//!
//! ```text
//! KL(Dir(q) ‖ Dir(p)) = ln Γ(q₀) − ln Γ(p₀) − Σⱼ (ln Γ(qⱼ) − ln Γ(pⱼ)) + Σⱼ (qⱼ − pⱼ)(ψ(qⱼ) − ψ(q₀))
//! ```
//!
//! and the emission's in its own module ([`super::categorical`],
//! [`super::gaussian`]). It is hmmlearn's `_compute_lower_bound` on the same state
//! (hmmlearn, like this crate, leaves out the `−(d/2) ln 2π` of each
//! Gaussian observation: a constant). The E-step (best `q(z)`) and the
//! update (best `q(π, A, θ)` given `q(z)`) are coordinate ascent on `L`:
//! the bound of the next state is at least `L(q(z), next) ≥ L(q(z),
//! current)`, the bound of the current one, so it never falls.

use super::dirichlet;
use super::emission::VariationalEmission;
use super::posterior::VariationalHmm;
use crate::error::HmmError;

impl<E: VariationalEmission> VariationalHmm<E> {
    /// `KL(q(π, A, θ) ‖ p(π, A, θ))`: the start row's, every transition
    /// row's and the emission's divergence.
    ///
    /// # Errors
    /// The emission's ([`VariationalEmission::divergence`]).
    pub fn divergence(&self) -> Result<f64, HmmError> {
        let k = self.n_states();
        let (trans, trans_prior) = (self.transition_posterior(), self.transition_prior());
        let rows: f64 = (0..k)
            .map(|i| {
                let q: Vec<f64> = (0..k).map(|j| trans[(i, j)]).collect();
                let p: Vec<f64> = (0..k).map(|j| trans_prior[(i, j)]).collect();
                dirichlet::kl(&q, &p)
            })
            .sum();
        Ok(
            dirichlet::kl(self.start_posterior(), self.start_prior())
                + rows
                + self.emission().divergence()?,
        )
    }

    /// The bound `L = ln Z − KL` of the [module docs](self), from `log_z`,
    /// the log-likelihood of this state's E-step (`ln Z` summed over the
    /// sequences).
    ///
    /// # Errors
    /// As [`VariationalHmm::divergence`].
    pub fn lower_bound(&self, log_z: f64) -> Result<f64, HmmError> {
        Ok(log_z - self.divergence()?)
    }
}
