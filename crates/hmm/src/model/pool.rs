//! Work buffers shared by the rayon jobs of one parallel pass.

use std::ops::{Deref, DerefMut};
use std::sync::Mutex;

/// Work buffers for the jobs of one parallel pass over the chunks.
///
/// rayon's `map_init` makes its state once per job, and it splits a pass
/// over many chunks into several jobs even on one thread (eight for the 50
/// chunks of 200 sequences of 500 steps, called from outside the pool as
/// the Python package and the command line call it): buffers made per job were
/// allocated and zeroed again each time, 128 KB each for a chunk of 2,000
/// rows and 8 states. A job takes a set from the pool instead and gives it
/// back when it ends, so the jobs that run one after another reuse one set.
/// The pool holds as many sets as jobs ran at once (about one per thread)
/// and is freed with the pass.
pub(super) struct Pool<T>(Mutex<Vec<T>>);

/// A set of buffers taken from a [`Pool`], given back when dropped.
pub(super) struct Lease<'a, T: Default> {
    pool: &'a Pool<T>,
    item: T,
}

impl<T: Default> Pool<T> {
    pub(super) fn new() -> Self {
        Self(Mutex::new(Vec::new()))
    }

    /// A set given back by an earlier job, or a new one. (A job that
    /// panicked poisons the lock: the pool then hands out new sets.)
    pub(super) fn take(&self) -> Lease<'_, T> {
        let item = self.0.lock().ok().and_then(|mut sets| sets.pop());
        Lease {
            pool: self,
            item: item.unwrap_or_default(),
        }
    }
}

impl<T: Default> Drop for Lease<'_, T> {
    /// Gives the set back (an empty default takes its place, which
    /// allocates nothing for buffers that start empty).
    fn drop(&mut self) {
        let item = std::mem::take(&mut self.item);
        if let Ok(mut sets) = self.pool.0.lock() {
            sets.push(item);
        }
    }
}

impl<T: Default> Deref for Lease<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.item
    }
}

impl<T: Default> DerefMut for Lease<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.item
    }
}

#[cfg(test)]
mod tests {
    use super::Pool;

    #[test]
    fn a_set_given_back_is_taken_again() {
        let pool = Pool::<Vec<f64>>::new();
        let mut first = pool.take();
        first.resize(1000, 1.0);
        let address = first.as_ptr();
        // Two jobs at once get two sets.
        assert!(pool.take().is_empty());
        drop(first);
        let again = pool.take();
        assert_eq!((again.len(), again.as_ptr()), (1000, address));
        // Held sets stay out of the pool.
        assert!(pool.take().is_empty());
    }
}
