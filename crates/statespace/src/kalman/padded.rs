//! The model's parameters copied into padded buffers, and the covariance
//! prediction `P_p = A (P_f Aᵀ) + Q` that the filter, the smoother and the
//! outputs share.

use crate::dense::{Destination, Operand, Shape, ZeroPattern, gemm, mirror_lower, pad};
use crate::model::LinearGaussianSsm;
use crate::model::validate::is_identity;
use faer::MatRef;

use super::matseq::MatSeq;

/// `pred_source` of a step whose predicted covariance is `P0` (see
/// [`super::filter::Forward::pred_source`]).
pub(crate) const NO_SOURCE: usize = usize::MAX;

/// The model's parameters copied into padded buffers.
#[derive(Debug, Clone)]
pub(crate) struct Padded {
    pub n: usize,
    pub p: usize,
    pub ldn: usize,
    pub ldp: usize,
    pub a: Vec<f64>,
    pub q: Vec<f64>,
    pub h: Vec<f64>,
    pub ht: Vec<f64>,
    pub m0: Vec<f64>,
    pub p0: Vec<f64>,
    pub r: Vec<f64>,
    pub h_identity: bool,
    /// The diagonal of R when H = I and R is diagonal: then the update runs
    /// one coordinate at a time ([`crate::univariate`]).
    pub coordinate_noise: Option<Vec<f64>>,
    /// The zeros of A, when it has enough to skip.
    pub a_zeros: Option<ZeroPattern>,
}

fn padded_copy(m: MatRef<'_, f64>, ld: usize) -> Vec<f64> {
    let mut v = vec![0.0; ld * m.ncols()];
    for j in 0..m.ncols() {
        for i in 0..m.nrows() {
            v[j * ld + i] = m[(i, j)];
        }
    }
    v
}

impl Padded {
    pub fn new(model: &LinearGaussianSsm) -> Self {
        Self::with_matrices(model, model.a(), model.q(), model.h(), model.r())
    }

    /// The model's `m0`, `P0` with the matrices `a`, `q`, `h`, `r` (checked
    /// by the caller: the model's, or one step's time-varying ones).
    pub fn with_matrices(
        model: &LinearGaussianSsm,
        a: MatRef<'_, f64>,
        q: MatRef<'_, f64>,
        h: MatRef<'_, f64>,
        r: MatRef<'_, f64>,
    ) -> Self {
        let (n, p) = (model.state_dim(), model.obs_dim());
        let (ldn, ldp) = (pad(n), pad(p));
        let mut m0 = vec![0.0; ldn];
        m0[..n].copy_from_slice(model.m0());
        let a_padded = padded_copy(a, ldn);
        let h_identity = is_identity(h);
        let r_diagonal = (0..p).all(|j| (0..p).all(|i| i == j || r[(i, j)] == 0.0));
        Self {
            coordinate_noise: (h_identity && r_diagonal).then(|| (0..p).map(|i| r[(i, i)]).collect()),
            a_zeros: ZeroPattern::of_transposed(&a_padded, ldn, n),
            n,
            p,
            ldn,
            ldp,
            a: a_padded,
            q: padded_copy(q, ldn),
            h: padded_copy(h, ldp),
            ht: padded_copy(h.transpose(), ldn),
            m0,
            p0: padded_copy(model.p0(), ldn),
            r: padded_copy(r, ldp),
            h_identity,
        }
    }

    /// `ct = P_f Aᵀ`, `pp = A ct + Q` (exactly symmetric). When A has
    /// enough zeros ([`ZeroPattern`]) the first product skips them.
    pub fn predict_cov(&self, pf: &[f64], ct: &mut [f64], pp: &mut [f64]) {
        let (n, ld) = (self.n, self.ldn);
        let at = match &self.a_zeros {
            None => Operand::transposed(&self.a, ld),
            Some(zeros) => Operand::transposed_sparse(&self.a, ld, zeros),
        };
        let shape = Shape::square(ld, n);
        gemm(shape, 1.0, Operand::new(pf, ld), at, Destination::new(ct, ld));
        let (a, ct) = (Operand::new(&self.a, ld), Operand::new(ct, ld));
        gemm(shape, 1.0, a, ct, Destination::new(pp, ld).plus(&self.q).lower());
        mirror_lower(n, pp, ld);
    }

    /// Writes into `out` the predicted covariance whose source is `source`
    /// (see [`super::filter::Forward::pred_source`]).
    pub fn predicted_from(
        &self,
        filt: &MatSeq,
        source: usize,
        pf: &mut [f64],
        ct: &mut [f64],
        out: &mut [f64],
    ) {
        if source == NO_SOURCE {
            out.copy_from_slice(&self.p0);
        } else {
            filt.unpack(source, pf, self.ldn);
            self.predict_cov(pf, ct, out);
        }
    }
}

/// The parameters of each step of a sequence, for the recursions: the
/// model itself (every step the same), or [`PerStep`] (time-varying
/// matrices, see [`crate::time_varying`]). The recursions are generic over
/// it, so the invariant path compiles to the code it had without it.
pub(crate) trait StepModels: Sync {
    /// The parameters of step k (its transition into k and its observation).
    fn at(&self, k: usize) -> &Padded;
}

impl StepModels for Padded {
    #[inline(always)]
    fn at(&self, _k: usize) -> &Padded {
        self
    }
}

/// One [`Padded`] per step (time-varying matrices).
#[derive(Debug, Clone)]
pub(crate) struct PerStep(Vec<Padded>);

impl PerStep {
    /// The parameters of the steps `0..steps.len()` (not empty).
    pub fn new(steps: Vec<Padded>) -> Self {
        debug_assert!(!steps.is_empty());
        Self(steps)
    }
}

impl StepModels for PerStep {
    #[inline]
    fn at(&self, k: usize) -> &Padded {
        &self.0[k]
    }
}
