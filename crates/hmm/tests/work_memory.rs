//! The work memory of the parallel passes: the chunk-sized buffers of a
//! pass are made once per thread, not once per rayon job (rayon splits a
//! pass over many chunks into several jobs even on one thread).
//!
//! The global allocator of this test binary counts the allocations of at
//! least one chunk's emission matrix (rows x K values).

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use common::full_gaussian_truth;
use faer::Mat;
use hmm::{EmModel, MStepOptions, Sequences};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Allocations of at least this many bytes are counted.
static THRESHOLD: AtomicUsize = AtomicUsize::new(usize::MAX);
static LARGE: AtomicUsize = AtomicUsize::new(0);

struct CountingLarge;

// SAFETY: every call is forwarded to the system allocator unchanged.
unsafe impl GlobalAlloc for CountingLarge {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingLarge = CountingLarge;

fn count(size: usize) {
    if size >= THRESHOLD.load(Relaxed) {
        LARGE.fetch_add(1, Relaxed);
    }
}

/// The number of counted allocations while `f` runs.
fn large_allocations<T>(f: impl FnOnce() -> T) -> (usize, T) {
    let before = LARGE.load(Relaxed);
    let out = f();
    (LARGE.load(Relaxed) - before, out)
}

#[test]
fn a_pass_makes_its_chunk_buffers_once_per_thread() {
    let (model, n_sequences, length) = (full_gaussian_truth(), 200, 500);
    let mut rng = StdRng::seed_from_u64(5);
    let mut x = Mat::<f64>::zeros(n_sequences * length, 2);
    for s in 0..n_sequences {
        let (xs, _) = model.sample(length, &mut rng).expect("valid model");
        x.subrows_mut(s * length, length).copy_from(&xs);
    }
    let lengths = vec![length; n_sequences];
    let data = Sequences::new(x.as_ref(), &lengths).expect("valid sequences");
    let chunks = data.chunks();
    assert!(chunks.len() >= 40, "{} chunks", chunks.len());
    let rows = chunks.iter().map(|c| c.n_rows).min().expect("chunks");
    THRESHOLD.store(rows * model.n_states() * size_of::<f64>(), Relaxed);

    // Called from outside the pool, as a Python or command-line caller
    // does: the pass's first job then counts as stolen, and rayon splits it
    // further (eight jobs for these 50 chunks on one thread).
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build_global()
        .expect("the only pool of this test binary");
    {
        // The statistics pass has four chunk-sized buffers (the emissions'
        // logarithms, the scaled emissions, the forward variables and the
        // posteriors by state); decoding has three (the logarithms, and
        // Viterbi's scores and back-pointers) and the paths of all rows.
        let (fit, _) =
            large_allocations(|| model.em_iteration(&data, &MStepOptions::default()).expect("fits"));
        assert!(fit <= 4, "{fit} chunk-sized allocations in one iteration");
        let (decode, _) = large_allocations(|| model.decode(&data).expect("decodes"));
        assert!(decode <= 1 + 3, "{decode} chunk-sized allocations in a decoding");
    }
}
