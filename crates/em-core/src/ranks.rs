//! An executor over processes: every process (rank) holds its own part of
//! the data, runs the same loop, and exchanges its E-step with the others
//! through a [`Collective`] (MPI's all-gather, or any engine that can
//! gather bytes from every process in rank order).
//!
//! # One E-step across ranks
//! ```text
//! rank r:  message_r = E-step of its part as flat statistics  (EStep::to_flat)
//!                      | "no data"                           (an empty part)
//!                      | the model's error message            (a failed part)
//! all:     messages  = all_gather(message_r)                  (rank order)
//!          a failed part       -> every rank fails, naming the first failed rank
//!          otherwise  E-step   = merge of the parts in rank order, empty ones skipped
//! ```
//!
//! Every rank reduces the same messages in the same order, so every rank
//! holds the same statistics bit for bit, runs the same M-step and ends
//! with the same model: no rank is special during the fit, and the result
//! is [`crate::Parts`]' over the same parts (the non-empty ones, in rank
//! order), bit for bit. A failed part is the model's own error on its rank
//! ([`PartError::Part`]) and the same message on every other
//! ([`PartError::Remote`]), at the same iteration, so all ranks stop with
//! one error.
//!
//! The loop's other decisions are the same on every rank because their
//! inputs are: the log-likelihoods, the statistics and thus the models.
//! The two that are not, a time budget and an observer's stop, are OR-ed
//! across ranks every iteration ([`Executor::any_process`]), and restarts
//! run one after another ([`Executor::parallel_restarts`]): every rank must
//! call the collective the same number of times in the same order.
//!
//! Initialisation does not go through the executor: give every rank the
//! same warm start (for example a model initialised on a sample that every
//! rank gathered).
//!
//! [`on_threads`] runs a distributed computation on threads of one process
//! standing in for the ranks (a [`Collective`] in memory): for tests, and to
//! try a distributed program without an MPI installation.

use std::sync::{Barrier, Mutex, PoisonError};

use crate::executor::{Executor, PartError};
use crate::flat::FlatStats;
use crate::model::{EStep, EmModel};

/// Gathering bytes from every process in rank order: what [`Ranks`] needs
/// of a communication engine.
pub trait Collective: Sync {
    /// This process's rank, from 0.
    fn rank(&self) -> usize;
    /// The number of processes.
    fn size(&self) -> usize;
    /// Every process's `local` bytes (their lengths may differ), in rank
    /// order, on every process. Every process calls it at the same point of
    /// the same computation.
    fn all_gather(&self, local: &[u8]) -> Vec<Vec<u8>>;
}

/// The E-steps of one rank's part, reduced with every other rank's (see
/// the module documentation).
pub struct Ranks<'d, M: EmModel, C: Collective> {
    data: Option<M::Data<'d>>,
    collective: &'d C,
}

impl<'d, M: EmModel, C: Collective> Ranks<'d, M, C>
where
    M::Stats: FlatStats,
{
    /// The executor of this rank: its part `data`, or `None` when it has
    /// no data (it then contributes nothing to the reductions).
    pub fn new(data: Option<M::Data<'d>>, collective: &'d C) -> Self {
        Self { data, collective }
    }

    /// The messages of every rank for this rank's `local` result, and the
    /// first failed rank's error, if any (its own error on that rank).
    fn exchange<T>(
        &self,
        local: Option<Result<T, M::Error>>,
        encode: impl Fn(&T) -> Vec<f64>,
    ) -> Result<Vec<Option<Vec<f64>>>, PartError<M::Error>> {
        let (message, own_error) = match local {
            None => (Message::Empty.encode(), None),
            Some(Ok(value)) => (Message::Values(encode(&value)).encode(), None),
            Some(Err(e)) => (Message::Failed(e.to_string()).encode(), Some(e)),
        };
        let rank = self.collective.rank();
        let mut parts = Vec::with_capacity(self.collective.size());
        let mut own_error = own_error;
        for (part, bytes) in self.collective.all_gather(&message).into_iter().enumerate() {
            match Message::decode(&bytes) {
                Message::Empty => parts.push(None),
                Message::Values(values) => parts.push(Some(values)),
                Message::Failed(message) => {
                    return Err(match own_error.take() {
                        Some(source) if part == rank => PartError::Part { part, source },
                        _ => PartError::Remote { part, message },
                    });
                }
            }
        }
        Ok(parts)
    }
}

impl<M: EmModel, C: Collective> Executor<M> for Ranks<'_, M, C>
where
    M::Stats: FlatStats,
{
    fn e_step(&self, model: &M) -> Result<EStep<M::Stats>, PartError<M::Error>> {
        let local = self.data.map(|data| model.e_step(data));
        let parts = self.exchange(local, EStep::to_flat)?;
        let mut total: Option<EStep<M::Stats>> = None;
        for (part, flat) in parts.into_iter().enumerate() {
            let Some(flat) = flat else { continue };
            let remote = |message: String| PartError::Remote { part, message };
            let e = EStep::<M::Stats>::from_flat(&flat).map_err(|e| remote(e.to_string()))?;
            match total.as_mut() {
                None => total = Some(e),
                Some(total) => total.checked_merge(&e).map_err(|e| remote(e.to_string()))?,
            }
        }
        total.ok_or_else(|| PartError::Remote {
            part: 0,
            message: "no rank holds any data".into(),
        })
    }

    fn log_likelihood(&self, model: &M) -> Result<f64, PartError<M::Error>> {
        let local = self.data.map(|data| model.log_likelihood(data));
        let parts = self.exchange(local, |&ll| vec![ll])?;
        let mut values = parts.into_iter().flatten();
        let first = values.next().ok_or_else(|| PartError::Remote {
            part: 0,
            message: "no rank holds any data".into(),
        })?;
        Ok(values.fold(first[0], |sum, ll| sum + ll[0]))
    }

    fn parallel_restarts(&self) -> bool {
        false
    }

    fn any_process(&self, local: u8) -> u8 {
        (self.collective.all_gather(&[local]).iter())
            .fold(0, |flags, bytes| flags | bytes.first().copied().unwrap_or(0))
    }
}

/// Whether every rank succeeded at a step of its own (reading its part of
/// the data, say): every rank learns the first failure in rank order, with
/// that rank and its message, so that all stop together.
///
/// # Errors
/// `(rank, message)` of the first rank whose `local` was an error.
pub fn all_succeeded<C: Collective + ?Sized>(
    collective: &C,
    local: Result<(), String>,
) -> Result<(), (usize, String)> {
    let message = match local {
        Ok(()) => Message::Empty,
        Err(message) => Message::Failed(message),
    };
    let all = collective.all_gather(&message.encode());
    match all
        .iter()
        .enumerate()
        .find_map(|(rank, bytes)| match Message::decode(bytes) {
            Message::Failed(message) => Some((rank, message)),
            _ => None,
        }) {
        Some(failure) => Err(failure),
        None => Ok(()),
    }
}

/// What one rank sends: values (`f64`, little-endian), "no data", or an
/// error message (UTF-8), after a one-byte tag.
enum Message {
    Values(Vec<f64>),
    Empty,
    Failed(String),
}

impl Message {
    const VALUES: u8 = 0;
    const EMPTY: u8 = 1;
    const FAILED: u8 = 2;

    fn encode(&self) -> Vec<u8> {
        match self {
            Self::Values(values) => std::iter::once(Self::VALUES)
                .chain(values.iter().flat_map(|v| v.to_le_bytes()))
                .collect(),
            Self::Empty => vec![Self::EMPTY],
            Self::Failed(message) => std::iter::once(Self::FAILED).chain(message.bytes()).collect(),
        }
    }

    /// The message of `bytes`; bytes that are no message (a broken engine)
    /// read as a failure that says so.
    fn decode(bytes: &[u8]) -> Self {
        match bytes.split_first() {
            Some((&Self::VALUES, rest)) if rest.len() % 8 == 0 => Self::Values(
                rest.chunks_exact(8)
                    .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
                    .collect(),
            ),
            Some((&Self::EMPTY, [])) => Self::Empty,
            Some((&Self::FAILED, rest)) => Self::Failed(String::from_utf8_lossy(rest).into_owned()),
            _ => Self::Failed(format!(
                "a message of {} bytes that is not an E-step",
                bytes.len()
            )),
        }
    }
}

/// Runs `f` once per rank on `ranks` threads of this process, each with a
/// [`Collective`] in memory that gathers as MPI's all-gather does; the
/// results in rank order.
///
/// # Panics
/// If `ranks` is 0, or if `f` panics on a rank (the others may then wait
/// for it forever: use it where a panic is a failed test).
pub fn on_threads<T: Send>(ranks: usize, f: impl Fn(&ThreadRank<'_>) -> T + Sync) -> Vec<T> {
    assert!(ranks > 0, "at least one rank");
    let shared = Shared {
        barrier: Barrier::new(ranks),
        slots: Mutex::new(vec![Vec::new(); ranks]),
    };
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..ranks)
            .map(|rank| {
                let (shared, f) = (&shared, &f);
                scope.spawn(move || f(&ThreadRank { rank, shared }))
            })
            .collect();
        (handles.into_iter())
            .map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    })
}

/// One rank of [`on_threads`]: its [`Collective`].
pub struct ThreadRank<'a> {
    rank: usize,
    shared: &'a Shared,
}

/// The slots the threads of [`on_threads`] gather through.
struct Shared {
    barrier: Barrier,
    slots: Mutex<Vec<Vec<u8>>>,
}

impl Collective for ThreadRank<'_> {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.shared
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    fn all_gather(&self, local: &[u8]) -> Vec<Vec<u8>> {
        let slots = || self.shared.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots()[self.rank] = local.to_vec();
        self.shared.barrier.wait();
        let all = slots().clone();
        // No rank writes its next message before every rank has read.
        self.shared.barrier.wait();
        all
    }
}
