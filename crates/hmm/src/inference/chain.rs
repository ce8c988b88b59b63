//! What every recursion shares: the chain's parameters, the work buffers of
//! one sequence, and the specialisation over the number of states.

/// The parameters of the Markov chain, row-major.
#[derive(Clone, Copy)]
pub(crate) struct Chain<'a> {
    pub start: &'a [f64],
    /// `trans[i * k + j] = A_ij`.
    pub trans: &'a [f64],
    pub k: usize,
}

/// Scratch for the recursions of one sequence: K values each, for K >
/// [`LOCAL_K`] (smaller K keep their vectors in stack arrays): the forward
/// pass's prediction and unnormalised `α̃`, the backward pass's `β̂` and `w`.
#[derive(Default)]
pub(crate) struct Scratch {
    pub(super) pred: Vec<f64>,
    pub(super) tilde: Vec<f64>,
    pub(super) beta: Vec<f64>,
    pub(super) w: Vec<f64>,
}

impl Scratch {
    #[cfg(test)]
    pub fn new(k: usize) -> Self {
        let mut scratch = Self::default();
        scratch.grow(k);
        scratch
    }

    /// Grows each buffer to at least `k` values (contents are overwritten
    /// before they are read).
    pub fn grow(&mut self, k: usize) {
        for v in [&mut self.pred, &mut self.tilde, &mut self.beta, &mut self.w] {
            if v.len() < k {
                v.resize(k, 0.0);
            }
        }
    }
}

/// Largest K for which the recursions use stack arrays as accumulators.
pub(super) const LOCAL_K: usize = 8;

/// Calls `$f(k, args...)` (or `$f::<G>(k, args...)`) with `k` a literal for
/// K = 1..=8, so that the `#[inline(always)]` body is specialised for those
/// sizes.
macro_rules! dispatch_k {
    ($k:expr, $f:ident $(::<$g:ident>)? ($($arg:expr),* $(,)?)) => {
        match $k {
            1 => $f$(::<$g>)?(1, $($arg),*),
            2 => $f$(::<$g>)?(2, $($arg),*),
            3 => $f$(::<$g>)?(3, $($arg),*),
            4 => $f$(::<$g>)?(4, $($arg),*),
            5 => $f$(::<$g>)?(5, $($arg),*),
            6 => $f$(::<$g>)?(6, $($arg),*),
            7 => $f$(::<$g>)?(7, $($arg),*),
            8 => $f$(::<$g>)?(8, $($arg),*),
            k => $f$(::<$g>)?(k, $($arg),*),
        }
    };
}

pub(super) use dispatch_k;
