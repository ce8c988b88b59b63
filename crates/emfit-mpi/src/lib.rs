//! Distributed EM over MPI: every process (rank) reads its own rows of the
//! data, runs the E-step on them, and exchanges its statistics with the
//! others, so that every rank runs the same M-step and ends with the same
//! model, the single-machine fit of the same data up to rounding (bit for
//! bit the fit of [`em_driver::em_core::Parts`] over the ranks' rows).
//!
//! # Why a crate of its own
//! MPI is a C library installed on clusters (Open MPI, MPICH), not on every
//! machine, and its Rust binding (rsmpi) needs it and libclang to build.
//! Everything that touches it lives here, behind the cargo feature `mpi`,
//! so that the rest of the workspace (and this crate without the feature)
//! builds and tests anywhere. The loop itself is not here: the EM loop's
//! E-step comes from an executor ([`em_driver::em_core::Ranks`], in
//! em-core), which gathers the ranks' flat statistics through any
//! [`Collective`]; this crate gives it MPI's (`World`, feature `mpi`).
//!
//! # What each rank does
//! 1. reads its rows of a `.npy` file ([`rows_of`],
//!    [`em_driver::io::read_npy_rows`]; whole sequences for an HMM or a
//!    state-space model, [`sequences_of`]), and learns whether every rank
//!    could ([`em_driver::em_core::ranks::all_succeeded`]: a bad value on
//!    one rank stops all with its message, naming the row of the file);
//! 2. starts from the same model as every other rank: a model file, or an
//!    initialisation on a seeded sample of rows that does not depend on how
//!    the rows are split ([`seeded_sample`]), so the same seed gives the
//!    same model on any number of ranks;
//! 3. fits with [`em_driver::em_core::fit_with`] on a
//!    [`em_driver::em_core::Ranks`] executor;
//! 4. rank 0 alone writes the model file.
//!
//! For benchmarks, [`gaussian_clusters`] lets every rank generate its own
//! rows of one synthetic data set instead of reading them.
//!
//! The example program `fit_gmm` does this for a Gaussian mixture:
//! `mpirun -np 4 target/release/examples/fit_gmm data.npy 8 model.json`
//! (build it with `cargo build --release -p emfit-mpi --features mpi
//! --examples`).

mod sample;
mod shard;
mod synthetic;
#[cfg(feature = "mpi")]
mod world;

pub use em_driver::em_core::Collective;
pub use sample::seeded_sample;
pub use shard::{rows_of, sequences_of};
pub use synthetic::gaussian_clusters;
#[cfg(feature = "mpi")]
pub use world::World;
