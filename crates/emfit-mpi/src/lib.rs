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
//!    could ([`agree`]: a bad value on one rank stops all with its
//!    message, naming the rank and the row of the file);
//! 2. starts from the same model as every other rank: a model file, or an
//!    initialisation on a seeded sample of rows (whole sequences) that does
//!    not depend on how the data are split ([`seeded_sample`],
//!    [`seeded_sequences`]), so the same seed gives the same model on any
//!    number of ranks;
//! 3. fits with [`em_driver::em_core::fit_with`] on a [`Distributed`]
//!    executor ([`em_driver::em_core::Ranks`] for the E-steps, the sample
//!    for each restart's initialisation);
//! 4. rank 0 alone writes the model file.
//!
//! The program does this for every model family: `mpirun -np 4 emfit fit
//! gmm --data data.npy --components 8 --out model.json` (emfit-cli built
//! with its feature `mpi`). For benchmarks, [`gaussian_clusters`] lets
//! every rank generate its own rows of one synthetic data set instead of
//! reading them: the example program `fit_gmm` fits them
//! (`mpirun -np 4 target/release/examples/fit_gmm --generate 20000000 8
//! model.json`, built with `cargo build --release -p emfit-mpi --features
//! mpi --examples`).

mod distributed;
mod sample;
mod shard;
mod synthetic;
#[cfg(feature = "mpi")]
mod world;

pub use distributed::{Distributed, agree};
pub use em_driver::em_core::Collective;
pub use sample::{seeded_sample, seeded_sequences};
pub use shard::{rows_of, sequences_of};
pub use synthetic::gaussian_clusters;
#[cfg(feature = "mpi")]
pub use world::World;
