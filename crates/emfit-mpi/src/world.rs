//! MPI's world communicator as a [`Collective`].

use std::sync::{Mutex, PoisonError};

use em_driver::em_core::Collective;
use mpi::Count;
use mpi::datatype::PartitionMut;
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator, CommunicatorCollectives};

/// Every process of the MPI job (`MPI_COMM_WORLD`), for
/// [`em_driver::em_core::Ranks`]. MPI is initialised when it is made and
/// finalised when it is dropped: make one per program.
///
/// MPI is initialised at the "serialized" threading level: any thread may
/// call it, never two at once, which the lock around the communicator
/// ensures (the fit calls it from the thread that runs the loop; the
/// E-step's own threads never do).
pub struct World {
    /// The world communicator, behind a lock (see [`Comm`]).
    comm: Mutex<Comm>,
    rank: usize,
    size: usize,
    /// Finalises MPI when dropped (after `comm`).
    _universe: Universe,
}

/// The communicator, movable between threads.
struct Comm(SimpleCommunicator);

// SAFETY: a communicator is a handle that MPI may use from any thread at
// the "serialized" threading level, which `World::init` requires, provided
// no two threads call MPI at once: `World` holds the only `Comm` behind a
// `Mutex` and calls MPI only while holding it.
unsafe impl Send for Comm {}

impl World {
    /// Initialises MPI; `None` when it was initialised already, or when the
    /// MPI library cannot be called from more than one thread (serialized
    /// threading).
    #[must_use]
    pub fn init() -> Option<Self> {
        let (universe, threading) = mpi::initialize_with_threading(mpi::Threading::Serialized)?;
        if !matches!(threading, mpi::Threading::Serialized | mpi::Threading::Multiple) {
            return None;
        }
        let comm = universe.world();
        let rank = usize::try_from(comm.rank()).expect("MPI ranks are not negative");
        let size = usize::try_from(comm.size()).expect("MPI sizes are positive");
        Some(Self {
            comm: Mutex::new(Comm(comm)),
            rank,
            size,
            _universe: universe,
        })
    }
}

impl Collective for World {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
    }

    /// `MPI_Allgather` of the lengths, then `MPI_Allgatherv` of the bytes.
    ///
    /// # Panics
    /// If a message is 2 GiB or more (MPI counts are `int`): the flat
    /// statistics of any model are far smaller.
    fn all_gather(&self, local: &[u8]) -> Vec<Vec<u8>> {
        let guard = self.comm.lock().unwrap_or_else(PoisonError::into_inner);
        let comm = &guard.0;
        let count = Count::try_from(local.len()).expect("a message under 2 GiB");
        let mut counts: Vec<Count> = vec![0; self.size];
        comm.all_gather_into(&count, &mut counts[..]);
        let displs: Vec<Count> = counts
            .iter()
            .scan(0, |start, &n| {
                let at = *start;
                *start += n;
                Some(at)
            })
            .collect();
        let total: usize = counts.iter().map(|&n| n as usize).sum();
        // Empty buffers are passed as empty slices of a real byte: an empty
        // slice's pointer is the dangling address 1, which Open MPI takes
        // for MPI_IN_PLACE (and refuses: MPI_ERR_ARG).
        let byte = [0u8];
        let local = if local.is_empty() { &byte[..0] } else { local };
        let mut all = vec![0u8; total.max(1)];
        comm.all_gather_varcount_into(
            local,
            &mut PartitionMut::new(&mut all[..total], &counts[..], &displs[..]),
        );
        (counts.iter().zip(&displs))
            .map(|(&n, &at)| all[at as usize..(at + n) as usize].to_vec())
            .collect()
    }
}
