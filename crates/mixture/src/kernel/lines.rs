//! Buffers of lane arrays that start on a cache line.

use super::V;
use std::ops::{Deref, DerefMut};

/// One lane array aligned to a 64-byte cache line. Its size is that of a
/// lane array (8 × 8 bytes), so consecutive `Line`s are consecutive lane
/// arrays, each on a line of its own.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line(V);

const _: () = assert!(size_of::<Line>() == size_of::<V>());

/// Zero-initialised lane arrays, used as `[V]`, starting on a cache line:
/// a vector load or store of a lane array (or of a 32-byte half) then never
/// straddles two lines, as it does in about half the cases from a
/// `Vec<V>` (whose allocation is only 16-byte aligned), at the cost of an
/// extra cycle per split load and more per split store.
pub(crate) struct Lines(Vec<Line>);

impl Lines {
    /// `n` lane arrays of zeros.
    pub(crate) fn zeros(n: usize) -> Self {
        Self(vec![Line([0.0; super::LANES]); n])
    }
}

impl Deref for Lines {
    type Target = [V];
    fn deref(&self) -> &[V] {
        // SAFETY: `Line` is `repr(C)` around one `V` and has the size of a
        // `V` (checked above), so `n` contiguous `Line`s are `n` contiguous
        // `V`s; the alignment of `Line` (64) is a multiple of that of `V` (8).
        unsafe { std::slice::from_raw_parts(self.0.as_ptr().cast::<V>(), self.0.len()) }
    }
}

impl DerefMut for Lines {
    fn deref_mut(&mut self) -> &mut [V] {
        // SAFETY: as in `deref`, through the unique borrow of the vector.
        unsafe { std::slice::from_raw_parts_mut(self.0.as_mut_ptr().cast::<V>(), self.0.len()) }
    }
}
