//! Where the loop's E-steps run: an [`Executor`] evaluates a model on data
//! it holds, so that one loop ([`crate::fit_with`]: M-step, convergence,
//! acceleration, restarts, report) fits data in one piece ([`Local`], what
//! [`crate::fit()`] uses) or in parts ([`Parts`]).
//!
//! # Parts, and what plugs in here
//! [`Parts`] runs the model's E-step on each part and reduces the parts in
//! part order: log-likelihoods added, statistics merged
//! ([`FlatStats::merge`]), part 0 first. That is what an executor over
//! processes does ([`crate::Ranks`]: over MPI in the `emfit-mpi` crate;
//! the Python package's Dask driver, whose executor reduces the chunks'
//! E-steps in a pairwise tree in chunk order): each part's E-step runs
//! where its data live, goes out as [`EStep::to_flat`], comes back with
//! [`EStep::from_flat`] and the parts are reduced in the same fixed order,
//! so they give [`Parts`]' result bit for bit for the same split (the same
//! association of the sums: the Dask driver's tree gives the same values up
//! to rounding).
//! [`Parts::with_flat_round_trip`] sends every part through the flat form
//! in one process, to show that it carries everything the M-step needs.
//!
//! The same split gives the same bits whatever the number of threads
//! (each model's E-step reduces in a fixed order, and so do the parts). A
//! different split of the same data gives the single-piece result up to
//! rounding (sums associated differently).
//!
//! # Initialisation
//! [`crate::Start::FromData`] asks the executor for an initial model
//! ([`Executor::init_from_data`]). [`Local`] runs the model's
//! [`EmModel::init_from_data`] on its data. [`Parts`] does not: the model's
//! initialisations need all the data in one piece, which a distributed fit
//! never gathers, so it needs a warm start (e.g. a model initialised on a
//! sample), and `FromData` fails with
//! [`crate::FitError::NoInitialisation`]. Executors over processes
//! initialise without gathering the data: the model's own initialisation
//! on a seeded sample of rows drawn across the parts ([`crate::sample`]),
//! the same sample for any split.

use rand::rngs::StdRng;
use rayon::prelude::*;

use crate::flat::FlatStats;
use crate::model::{EStep, EmModel};

/// A model error from an [`Executor`], with the part of the data it came
/// from.
#[derive(Debug)]
pub enum PartError<E> {
    /// The model's error on the data in one piece.
    Whole(E),
    /// The model's error on a part this process evaluated.
    Part {
        /// The part (in the executor's order).
        part: usize,
        /// What the model reported.
        source: E,
    },
    /// The model's error on a part another process evaluated
    /// ([`crate::Ranks`]): what that process's model reported, as text.
    Remote {
        /// The part (the other process's rank).
        part: usize,
        /// The model's error message.
        message: String,
    },
}

impl<E> PartError<E> {
    /// An error of the data in one piece.
    #[inline]
    pub fn whole(source: E) -> Self {
        Self::Whole(source)
    }

    /// An error of part `part`.
    pub fn of_part(part: usize) -> impl FnOnce(E) -> Self {
        move |source| Self::Part { part, source }
    }
}

/// Runs the E-steps of a fit on the data it holds (see the module
/// documentation). `Sync`: restarts may run in parallel on one executor.
pub trait Executor<M: EmModel>: Sync {
    /// The E-step of `model` on all the data: the log-likelihood and the
    /// statistics, each reduced in a fixed order.
    ///
    /// # Errors
    /// The model's error, with the part it came from.
    fn e_step(&self, model: &M) -> Result<EStep<M::Stats>, PartError<M::Error>>;

    /// The log-likelihood of `model` on all the data alone, bit for bit
    /// [`Executor::e_step`]'s (see [`EmModel::log_likelihood`]).
    ///
    /// # Errors
    /// As [`Executor::e_step`].
    fn log_likelihood(&self, model: &M) -> Result<f64, PartError<M::Error>>;

    /// An initial model for [`crate::Start::FromData`], all randomness from
    /// `rng`, or `None` when this executor cannot initialise from its data
    /// (then only warm starts fit). Default: `None`.
    ///
    /// # Errors
    /// The model's initialisation error (inside the `Some`).
    fn init_from_data(&self, config: &M::InitConfig, rng: &mut StdRng) -> Option<Result<M, M::Error>> {
        let _ = (config, rng);
        None
    }

    /// Whether restarts may run in parallel on this executor. Default:
    /// `true`; an executor over processes says `false`, since every process
    /// must run the same E-steps in the same order.
    fn parallel_restarts(&self) -> bool {
        true
    }

    /// The loop's stop flags of this process (time budget spent, observer
    /// said stop), combined with every other process's by bitwise OR, so
    /// that all stop at the same iteration. Default: `local` (one process).
    fn any_process(&self, local: u8) -> u8 {
        local
    }
}

/// The data in one piece, in this process: the model's own E-step
/// (parallel over its fixed chunks), exactly what [`crate::fit()`] runs.
pub struct Local<'d, M: EmModel> {
    data: M::Data<'d>,
}

impl<'d, M: EmModel> Local<'d, M> {
    /// An executor over `data`.
    pub fn new(data: M::Data<'d>) -> Self {
        Self { data }
    }
}

impl<M: EmModel> Executor<M> for Local<'_, M> {
    #[inline]
    fn e_step(&self, model: &M) -> Result<EStep<M::Stats>, PartError<M::Error>> {
        model.e_step(self.data).map_err(PartError::whole)
    }

    #[inline]
    fn log_likelihood(&self, model: &M) -> Result<f64, PartError<M::Error>> {
        model.log_likelihood(self.data).map_err(PartError::whole)
    }

    fn init_from_data(&self, config: &M::InitConfig, rng: &mut StdRng) -> Option<Result<M, M::Error>> {
        Some(M::init_from_data(self.data, config, rng))
    }
}

/// The data in parts, in this process: the E-step of each part (parts in
/// parallel on the rayon pool, each part's E-step parallel inside), reduced
/// in part order (see the module documentation).
///
/// Each part is a whole [`EmModel::Data`]: an HMM part is a set of whole
/// sequences, a state-space part a set of whole series, so no part
/// boundary can cut a sequence. A model error from part `p` names rows and
/// sequences counted from the start of that part: the global index is that
/// plus the rows (sequences) of parts `0..p`, which the caller who split the
/// data knows. Every part must be data the model's E-step accepts on its own
/// (e.g. at least one row).
pub struct Parts<'d, M: EmModel> {
    parts: Vec<M::Data<'d>>,
    round_trip: bool,
}

impl<'d, M: EmModel> Parts<'d, M>
where
    M::Stats: FlatStats,
{
    /// An executor over `parts`, reduced in this order, or `None` for no
    /// part.
    pub fn new(parts: Vec<M::Data<'d>>) -> Option<Self> {
        (!parts.is_empty()).then_some(Self {
            parts,
            round_trip: false,
        })
    }

    /// Sends every part's E-step through its flat form
    /// ([`EStep::to_flat`], [`EStep::from_flat`]) before the reduction, as
    /// an executor over processes does: the fit must be the same, bit for
    /// bit.
    ///
    /// # Panics
    /// The E-steps then panic if a model's [`FlatStats`] does not read back
    /// its own flat form (a bug of that implementation).
    #[must_use]
    pub fn with_flat_round_trip(self) -> Self {
        Self {
            round_trip: true,
            ..self
        }
    }

    /// Number of parts (at least one).
    #[must_use]
    pub fn n_parts(&self) -> usize {
        self.parts.len()
    }

    /// `f` on every part in parallel, the results in part order; the
    /// first failing part in part order is the error.
    fn each<T: Send>(
        &self,
        f: impl Fn(M::Data<'d>) -> Result<T, M::Error> + Sync,
    ) -> Result<Vec<T>, PartError<M::Error>> {
        let results: Vec<Result<T, M::Error>> = self.parts.par_iter().map(|&part| f(part)).collect();
        results
            .into_iter()
            .enumerate()
            .map(|(p, r)| r.map_err(PartError::of_part(p)))
            .collect()
    }
}

impl<M: EmModel> Executor<M> for Parts<'_, M>
where
    M::Stats: FlatStats,
{
    fn e_step(&self, model: &M) -> Result<EStep<M::Stats>, PartError<M::Error>> {
        let round_trip = |e: EStep<M::Stats>| {
            if self.round_trip {
                EStep::from_flat(&e.to_flat()).expect("statistics read back their own flat form")
            } else {
                e
            }
        };
        let mut parts = self.each(|part| model.e_step(part).map(round_trip))?.into_iter();
        let mut total = parts.next().expect("at least one part");
        for part in parts {
            total.merge(&part);
        }
        Ok(total)
    }

    fn log_likelihood(&self, model: &M) -> Result<f64, PartError<M::Error>> {
        let parts = self.each(|part| model.log_likelihood(part))?;
        Ok(parts.into_iter().reduce(|a, b| a + b).expect("at least one part"))
    }
}
