//! The model's parameters copied into padded buffers, and the covariance
//! prediction `P_p = A (P_f Aᵀ) + Q` that the filter, the smoother and the
//! outputs share.

use crate::dense::{Destination, Operand, Shape, ZeroPattern, gemm, mirror_lower, pad};
use crate::model::LinearGaussianSsm;
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
        let (n, p) = (model.state_dim(), model.obs_dim());
        let (ldn, ldp) = (pad(n), pad(p));
        let mut m0 = vec![0.0; ldn];
        m0[..n].copy_from_slice(model.m0());
        let a = padded_copy(model.a(), ldn);
        let r = model.r();
        let r_diagonal = (0..p).all(|j| (0..p).all(|i| i == j || r[(i, j)] == 0.0));
        Self {
            coordinate_noise: (model.h_is_identity() && r_diagonal)
                .then(|| (0..p).map(|i| r[(i, i)]).collect()),
            a_zeros: ZeroPattern::of_transposed(&a, ldn, n),
            n,
            p,
            ldn,
            ldp,
            a,
            q: padded_copy(model.q(), ldn),
            h: padded_copy(model.h(), ldp),
            ht: padded_copy(model.h().transpose(), ldn),
            m0,
            p0: padded_copy(model.p0(), ldn),
            r: padded_copy(model.r(), ldp),
            h_identity: model.h_is_identity(),
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
