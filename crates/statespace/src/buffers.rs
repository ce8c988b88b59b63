//! Per-thread reuse of the large per-sequence buffers of the E-step, the
//! filter and the smoother.
//!
//! An E-step over one long sequence needs the filtered covariances of every
//! step (82 MB for n = 21, T = 44,484 in exact mode) and a few T x n mean
//! buffers. Allocated fresh at every EM iteration, their pages are faulted in
//! again each time, which cost ~10% of an exact EM iteration here (and ~10%
//! of a filter pass, whose T x n means are 15 MB). The forward and backward
//! passes therefore take their large buffers as [`Buffer`]s, which go back
//! to a small per-thread cache when dropped (at the end of the E-step, or
//! with the [`crate::FilterOutput`] or [`crate::SmootherOutput`] holding
//! them), and the next pass on that thread takes them from there.
//!
//! At most [`KEEP`] buffers of at least [`MIN_CACHED`] values are kept per
//! thread (the largest ones). [`release_buffers`] frees them.

use std::cell::RefCell;
use std::ops::{Deref, DerefMut};

/// Buffers kept per thread.
const KEEP: usize = 4;
/// Smaller buffers are not worth caching (values, i.e. 1 MB).
const MIN_CACHED: usize = 1 << 17;

thread_local! {
    static SPARES: RefCell<Vec<Vec<f64>>> = const { RefCell::new(Vec::new()) };
}

/// A vector of values that goes back to this thread's cache when dropped.
#[derive(Debug, Default)]
pub(crate) struct Buffer(Vec<f64>);

impl Deref for Buffer {
    type Target = Vec<f64>;
    fn deref(&self) -> &Vec<f64> {
        &self.0
    }
}

impl DerefMut for Buffer {
    fn deref_mut(&mut self) -> &mut Vec<f64> {
        &mut self.0
    }
}

impl Clone for Buffer {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        give_back(std::mem::take(&mut self.0));
    }
}

/// An empty buffer with capacity for at least `capacity` values: the
/// smallest cached buffer that is large enough, or a new allocation.
pub(crate) fn take(capacity: usize) -> Buffer {
    Buffer(take_vec(capacity))
}

fn take_vec(capacity: usize) -> Vec<f64> {
    // A small request never takes a large spare: it would leave the next
    // large request of the pass without one.
    if capacity < MIN_CACHED {
        return Vec::with_capacity(capacity);
    }
    let cached = SPARES.with(|spares| {
        let mut spares = spares.borrow_mut();
        let best = spares
            .iter()
            .enumerate()
            .filter(|(_, v)| v.capacity() >= capacity)
            .min_by_key(|(_, v)| v.capacity())
            .map(|(i, _)| i);
        best.map(|i| spares.swap_remove(i))
    });
    match cached {
        Some(mut v) => {
            v.clear();
            v
        }
        None => Vec::with_capacity(capacity),
    }
}

/// A zeroed buffer of `len` values (from the cache when possible).
pub(crate) fn take_zeroed(len: usize) -> Buffer {
    let mut v = take(len);
    v.resize(len, 0.0);
    v
}

/// Offers a vector back to this thread's cache.
fn give_back(v: Vec<f64>) {
    if v.capacity() < MIN_CACHED {
        return;
    }
    SPARES.with(|spares| {
        let mut spares = spares.borrow_mut();
        spares.push(v);
        if spares.len() > KEEP {
            let smallest = spares
                .iter()
                .enumerate()
                .min_by_key(|(_, v)| v.capacity())
                .map(|(i, _)| i)
                .expect("not empty");
            spares.swap_remove(smallest);
        }
    });
}

/// Frees the buffers the E-step keeps for reuse, on this thread and on every
/// thread of the current rayon pool.
///
/// The E-step ([`em_core::EmModel::e_step`]) keeps, per thread, up to four of the
/// large buffers it used (the filtered covariances and means of a sequence:
/// about 100 MB for the 21-dimensional scenario at T = 44,484 in exact mode)
/// so that the next E-step does not fault their pages in again; a dropped
/// filter or smoother output leaves its buffers there too. Call this after
/// fitting or filtering to give that memory back.
pub fn release_buffers() {
    SPARES.with(|spares| spares.borrow_mut().clear());
    rayon::broadcast(|_| SPARES.with(|spares| spares.borrow_mut().clear()));
}

/// Values held by this thread's cache (for tests).
#[cfg(test)]
pub(crate) fn cached_values() -> usize {
    SPARES.with(|spares| spares.borrow().iter().map(Vec::capacity).sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_reused_and_released() {
        release_buffers();
        let v = take(MIN_CACHED);
        let ptr = v.as_ptr();
        drop(v);
        assert!(cached_values() >= MIN_CACHED);
        // A small request leaves the spare for the large one that follows.
        let small = take(MIN_CACHED / 2);
        assert_ne!(small.as_ptr(), ptr);
        let again = take(MIN_CACHED);
        assert_eq!(again.as_ptr(), ptr);
        assert!(again.is_empty());
        drop((small, again));
        give_back(vec![0.0; 10]);
        for _ in 0..6 {
            give_back(Vec::with_capacity(MIN_CACHED));
        }
        assert!(SPARES.with(|s| s.borrow().len()) <= KEEP);
        release_buffers();
        assert_eq!(cached_values(), 0);
        assert_eq!(*take_zeroed(5), vec![0.0; 5]);
    }
}
