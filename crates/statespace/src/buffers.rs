//! Reuse of the large per-sequence buffers of the E-step, the filter and
//! the smoother, across passes and threads.
//!
//! An E-step over one long sequence needs the filtered covariances of every
//! step (82 MB for n = 21, T = 44,484 in exact mode) and a few T x n mean
//! buffers. Allocated fresh at every EM iteration, their pages are faulted in
//! again each time, which cost ~10% of an exact EM iteration here (and ~10%
//! of a filter pass, whose T x n means are 15 MB). The forward and backward
//! passes therefore take their large buffers as [`Buffer`]s, which go back
//! to a small process-wide cache when dropped (at the end of the E-step, or
//! with the [`crate::FilterOutput`] or [`crate::SmootherOutput`] holding
//! them), and the next pass takes them from there, on whatever thread it
//! runs. The cache is shared rather than per thread because a fit need not
//! run on the thread of the last one: the Python extension runs every fit
//! on a thread of its own, whose per-thread cache would die with it (each
//! call then faulted ~100 MB in again, +15% on one EM iteration of the
//! robot-arm scenario). A buffer is at least 1 MB of work per lock.
//!
//! At most [`KEEP_PER_THREAD`] buffers of at least [`MIN_CACHED`] values
//! per thread of the rayon pool are kept (the largest ones).
//! [`release_buffers`] frees them.

use std::ops::{Deref, DerefMut};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Buffers kept per thread that may run a pass at the same time.
const KEEP_PER_THREAD: usize = 4;
/// Smaller buffers are not worth caching (values, i.e. 1 MB).
const MIN_CACHED: usize = 1 << 17;

/// The spare buffers of the process.
static SPARES: Mutex<Spares> = Mutex::new(Spares(Vec::new()));

/// The cache: spare vectors, each of at least [`MIN_CACHED`] values.
#[derive(Debug, Default)]
struct Spares(Vec<Vec<f64>>);

impl Spares {
    /// The smallest spare that holds `capacity` values, if any.
    fn take(&mut self, capacity: usize) -> Option<Vec<f64>> {
        let best = (self.0.iter().enumerate())
            .filter(|(_, v)| v.capacity() >= capacity)
            .min_by_key(|(_, v)| v.capacity())
            .map(|(i, _)| i);
        best.map(|i| self.0.swap_remove(i))
    }

    /// Keeps `v`, then drops the smallest spares beyond `keep`.
    fn give(&mut self, v: Vec<f64>, keep: usize) {
        self.0.push(v);
        while self.0.len() > keep {
            let smallest = (self.0.iter().enumerate())
                .min_by_key(|(_, v)| v.capacity())
                .map(|(i, _)| i)
                .expect("not empty");
            self.0.swap_remove(smallest);
        }
    }
}

/// The process's cache (a panic while it was held left it consistent: every
/// method leaves a valid list of spares).
fn spares() -> MutexGuard<'static, Spares> {
    SPARES.lock().unwrap_or_else(PoisonError::into_inner)
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
    let cached = spares().take(capacity);
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

/// Offers a vector back to the cache.
fn give_back(v: Vec<f64>) {
    if v.capacity() < MIN_CACHED {
        return;
    }
    let keep = KEEP_PER_THREAD * rayon::current_num_threads();
    spares().give(v, keep);
}

/// Frees the buffers the E-step keeps for reuse.
///
/// The E-step ([`em_core::EmModel::e_step`]) keeps up to four of the large
/// buffers it used per thread of the rayon pool (the filtered covariances
/// and means of a sequence: about 100 MB for the 21-dimensional scenario at
/// T = 44,484 in exact mode) so that the next E-step does not fault their
/// pages in again; a dropped filter or smoother output leaves its buffers
/// there too. Call this after fitting or filtering to give that memory back.
pub fn release_buffers() {
    spares().0.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spares_give_the_smallest_that_fits_and_keep_the_largest() {
        let mut spares = Spares::default();
        for capacity in [3 * MIN_CACHED, MIN_CACHED, 2 * MIN_CACHED] {
            spares.give(Vec::with_capacity(capacity), 3);
        }
        let fit = spares.take(MIN_CACHED + 1).unwrap();
        assert_eq!(fit.capacity(), 2 * MIN_CACHED);
        assert!(spares.take(4 * MIN_CACHED).is_none());
        spares.give(fit, 3);
        spares.give(Vec::with_capacity(4 * MIN_CACHED), 3);
        let mut kept: Vec<usize> = spares.0.iter().map(Vec::capacity).collect();
        kept.sort_unstable();
        assert_eq!(kept, [2 * MIN_CACHED, 3 * MIN_CACHED, 4 * MIN_CACHED]);
    }

    #[test]
    fn a_buffer_dropped_on_one_thread_serves_the_next_pass_on_another() {
        // An odd size no other test of the crate asks for.
        let capacity = 5 * MIN_CACHED + 7;
        let ptr = std::thread::spawn(move || take(capacity).as_ptr() as usize)
            .join()
            .unwrap();
        let again = take(capacity);
        assert_eq!(again.as_ptr() as usize, ptr);
        assert!(again.is_empty());
    }

    #[test]
    fn small_buffers_are_not_cached_and_come_zeroed() {
        give_back(vec![1.0; 10]);
        assert_eq!(*take_zeroed(5), vec![0.0; 5]);
        let small = take(MIN_CACHED / 2);
        assert!(small.capacity() >= MIN_CACHED / 2 && small.capacity() < MIN_CACHED);
    }
}
