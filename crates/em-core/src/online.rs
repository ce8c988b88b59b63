//! Online (stepwise) EM: the model updated chunk by chunk from a running
//! average of sufficient statistics, for data that arrive as a stream or
//! do not fit in memory (Cappé & Moulines 2009; Liang & Klein 2009).
//!
//! # The update
//! Let `s` be the running statistics, normalised per observation (the
//! statistics of a data set with every observation's weight divided by the
//! number of observations), and `s̄ = s(chunk) / n` those of a chunk of `n`
//! observations under the current model θ (one E-step). A step is
//!
//! ```text
//! s ← (1 − ρ) s + ρ s̄        (the first chunk: s ← s̄)
//! θ ← m_step(θ, N s)          (the model's own M-step, unchanged)
//! ```
//!
//! with `N` the observations seen so far. The scaling and the sum are the
//! statistics' own ([`ScaleStats::scale`], [`FlatStats::merge`]): a convex
//! combination of the weighted data sets, so the running statistics stay
//! statistics of non-negative weights and the M-step's validity (weights
//! on the simplex, SPD covariances) holds for them as for any E-step's.
//! The M-step sees them at the scale of the data seen (`N s`): a maximum
//! likelihood step, which uses only ratios of the statistics, does not
//! depend on that scale, and a MAP step weighs its prior against the `N`
//! observations as a batch fit of them would.
//!
//! # The step size
//! The schedule is `ρ_t = (t + t₀)^(−κ)` for the `t`-th observation
//! (`t = 1, 2, ...`, counted over all chunks), with the decay `κ ∈ (0.5, 1]`
//! and the offset `t₀ ≥ 0` ([`Schedule`]; defaults `κ = 0.7`, `t₀ = 10`,
//! the names and values of scikit-learn's online LDA, `learning_decay` and
//! `learning_offset`). `Σ ρ_t = ∞` and `Σ ρ_t² < ∞` for these `κ`, the
//! conditions of stochastic approximation.
//!
//! A chunk of `n` observations after `t` observations gets the weight that
//! `n` single-observation steps would give it if each brought the chunk's
//! mean statistics `s̄`:
//!
//! ```text
//! ρ = 1 − Π_{j = t+1}^{t+n} (1 − ρ_j)
//! ```
//!
//! so chunks weigh by their size, and the weights do not depend on how the
//! stream is cut into chunks (splitting a chunk in two gives the two halves
//! the weights that multiply to the whole's). With `κ = 1`, `t₀ = 0` the
//! step is `n / (t + n)` and `s` is the plain average of every chunk's
//! statistics, each under the model of its time.
//!
//! # All or nothing, saved and resumed
//! [`StepwiseEm::partial_fit`] changes nothing until the E-step, the merge
//! and the M-step have all succeeded: a chunk of the wrong width or with a
//! NaN is refused with the model's typed error (naming the row and column
//! within the chunk) and the chunk's number, and the model, the running
//! statistics and the counts are those from before it.
//!
//! [`StepwiseEm::save`] gives the state that is not the model (the schedule,
//! the counts and the running statistics) in a versioned flat form; the
//! model is saved by its own means (a model file, a Python estimator's
//! attributes) and [`StepwiseEm::resume`] puts the two back together: the
//! resumed object continues as the uninterrupted one, bit for bit. Layout,
//! version 1 (whole numbers stored as `f64`, see [`crate::flat`]):
//!
//! ```text
//! "ONLN" tag, 1, κ, t₀, observations, chunks, has statistics (0 or 1),
//! then the running statistics' flat form when there are some
//! ```

use crate::flat::{FlatError, FlatReader, FlatStats, tag, write_count, write_header};
use crate::model::EmModel;

/// Sufficient statistics that can be weighted, for online EM.
pub trait ScaleStats: FlatStats + Clone {
    /// The statistics of the same data with every observation's weight
    /// multiplied by `factor` (finite, `> 0`): sums of weights and of
    /// weighted values times `factor`, sums of squared weights times
    /// `factor²`, weighted means unchanged, counts of observations
    /// unchanged.
    fn scale(&mut self, factor: f64);

    /// The number of observations the statistics are of (rows; the
    /// observations of every sequence), whatever their weights.
    fn observations(&self) -> usize;
}

/// Default decay `κ` of the step sizes.
pub const DEFAULT_DECAY: f64 = 0.7;
/// Default offset `t₀` of the step sizes.
pub const DEFAULT_OFFSET: f64 = 10.0;

/// The step sizes `ρ_t = (t + t₀)^(−κ)` (see the [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    decay: f64,
    offset: f64,
}

impl Default for Schedule {
    /// `κ =` [`DEFAULT_DECAY`], `t₀ =` [`DEFAULT_OFFSET`].
    fn default() -> Self {
        Self {
            decay: DEFAULT_DECAY,
            offset: DEFAULT_OFFSET,
        }
    }
}

/// Why a [`Schedule`] was refused.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// `κ` outside `(0.5, 1]`.
    #[error("the step-size decay (learning_decay) is {0}: it must be in (0.5, 1]")]
    Decay(f64),
    /// `t₀` negative or not finite.
    #[error("the step-size offset (learning_offset) is {0}: it must be finite and >= 0")]
    Offset(f64),
}

impl Schedule {
    /// The schedule of decay `κ` and offset `t₀`.
    ///
    /// # Errors
    /// [`ScheduleError`] for `κ ∉ (0.5, 1]` or `t₀` negative or not finite.
    pub fn new(decay: f64, offset: f64) -> Result<Self, ScheduleError> {
        if !(decay > 0.5 && decay <= 1.0) {
            return Err(ScheduleError::Decay(decay));
        }
        if !(offset.is_finite() && offset >= 0.0) {
            return Err(ScheduleError::Offset(offset));
        }
        Ok(Self { decay, offset })
    }

    /// The decay `κ`.
    #[must_use]
    pub fn decay(&self) -> f64 {
        self.decay
    }

    /// The offset `t₀`.
    #[must_use]
    pub fn offset(&self) -> f64 {
        self.offset
    }

    /// `ρ_t = (t + t₀)^(−κ)` of the `t`-th observation (`t ≥ 1`).
    #[must_use]
    pub fn rate(&self, t: usize) -> f64 {
        (t as f64 + self.offset).powf(-self.decay)
    }

    /// The step of a chunk of `n` observations after `seen` observations:
    /// `1 − Π_{j = seen+1}^{seen+n} (1 − ρ_j)`, computed as
    /// `−expm1(Σ ln(1 − ρ_j))` (exact where `ρ_j = 1`: the step is 1).
    #[must_use]
    pub fn chunk_step(&self, seen: usize, n: usize) -> f64 {
        let log_keep: f64 = (seen + 1..=seen + n).map(|t| (-self.rate(t)).ln_1p()).sum();
        -log_keep.exp_m1()
    }
}

/// Why a chunk (or a saved state) was refused by online EM.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OnlineError<E> {
    /// The model refused chunk `chunk` (1-based over the whole stream):
    /// its E-step (bad data: width, NaN, with the row and column within
    /// the chunk) or its M-step.
    #[error("chunk {chunk}: {source}")]
    Model {
        /// The chunk's number, 1 for the first.
        chunk: usize,
        /// The model's error.
        source: E,
    },
    /// Chunk `chunk` has no observations.
    #[error("chunk {chunk} has no observations")]
    EmptyChunk {
        /// The chunk's number, 1 for the first.
        chunk: usize,
    },
    /// The statistics of chunk `chunk` do not fit the running statistics
    /// (a resumed state of another model's shape).
    #[error("chunk {chunk}: {source}")]
    Statistics {
        /// The chunk's number, 1 for the first.
        chunk: usize,
        /// The mismatch.
        source: FlatError,
    },
}

/// What one [`StepwiseEm::partial_fit`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct OnlineStep<D> {
    /// `ln p(chunk | θ)` under the model before the step (the E-step's).
    pub log_likelihood: f64,
    /// The chunk's number of observations.
    pub observations: usize,
    /// The step `ρ` the chunk was given (1 for the first chunk).
    pub step: f64,
    /// What the M-step reported.
    pub diagnostics: D,
}

/// Online (stepwise) EM over a stream of chunks (see the
/// [module docs](self)).
#[derive(Debug, Clone)]
pub struct StepwiseEm<M: EmModel> {
    model: M,
    stats: Option<M::Stats>,
    schedule: Schedule,
    observations: usize,
    chunks: usize,
}

const FLAT_TAG: u32 = tag(*b"ONLN");
const FLAT_VERSION: u32 = 1;

impl<M> StepwiseEm<M>
where
    M: EmModel,
    M::Stats: ScaleStats,
{
    /// Online EM from the model `model` (no chunk seen yet).
    #[must_use]
    pub fn new(model: M, schedule: Schedule) -> Self {
        Self {
            model,
            stats: None,
            schedule,
            observations: 0,
            chunks: 0,
        }
    }

    /// One step on `chunk` (see the [module docs](self)); on error nothing
    /// changes.
    ///
    /// # Errors
    /// [`OnlineError::Model`] for the model's refusal of the chunk (its
    /// E-step or M-step), [`OnlineError::EmptyChunk`],
    /// [`OnlineError::Statistics`] for running statistics of another shape.
    pub fn partial_fit(
        &mut self,
        chunk: M::Data<'_>,
        options: &M::Options,
    ) -> Result<OnlineStep<M::Diagnostics>, OnlineError<M::Error>> {
        let number = self.chunks + 1;
        let model_error = |source| OnlineError::Model {
            chunk: number,
            source,
        };
        let e = self.model.e_step(chunk).map_err(model_error)?;
        let n = e.stats.observations();
        if n == 0 {
            return Err(OnlineError::EmptyChunk { chunk: number });
        }
        let mut chunk_stats = e.stats;
        chunk_stats.scale(1.0 / n as f64);
        let (stats, step) = match &self.stats {
            None => (chunk_stats, 1.0),
            Some(running) => {
                let step = self.schedule.chunk_step(self.observations, n);
                if step >= 1.0 {
                    (chunk_stats, 1.0)
                } else {
                    let mut stats = running.clone();
                    stats.scale(1.0 - step);
                    chunk_stats.scale(step);
                    stats
                        .checked_merge(&chunk_stats)
                        .map_err(|source| OnlineError::Statistics {
                            chunk: number,
                            source,
                        })?;
                    (stats, step)
                }
            }
        };
        let observations = self.observations + n;
        let mut seen = stats.clone();
        seen.scale(observations as f64);
        let (model, diagnostics) = self.model.m_step(&seen, options).map_err(model_error)?;
        self.model = model;
        self.stats = Some(stats);
        self.observations = observations;
        self.chunks = number;
        Ok(OnlineStep {
            log_likelihood: e.log_likelihood,
            observations: n,
            step,
            diagnostics,
        })
    }

    /// The current model.
    #[must_use]
    pub fn model(&self) -> &M {
        &self.model
    }

    /// The current model, taking it.
    #[must_use]
    pub fn into_model(self) -> M {
        self.model
    }

    /// The running statistics, normalised per observation (`None` before
    /// the first chunk).
    #[must_use]
    pub fn statistics(&self) -> Option<&M::Stats> {
        self.stats.as_ref()
    }

    /// The schedule.
    #[must_use]
    pub fn schedule(&self) -> Schedule {
        self.schedule
    }

    /// Observations seen (over all chunks).
    #[must_use]
    pub fn observations(&self) -> usize {
        self.observations
    }

    /// Chunks seen.
    #[must_use]
    pub fn chunks(&self) -> usize {
        self.chunks
    }

    /// The state without the model, in the versioned flat form of the
    /// [module docs](self).
    #[must_use]
    pub fn save(&self) -> Vec<f64> {
        let mut out = Vec::new();
        write_header(&mut out, FLAT_TAG, FLAT_VERSION);
        out.push(self.schedule.decay);
        out.push(self.schedule.offset);
        for n in [self.observations, self.chunks] {
            write_count(&mut out, n);
        }
        write_count(&mut out, usize::from(self.stats.is_some()));
        if let Some(stats) = &self.stats {
            stats.write_flat(&mut out);
        }
        out
    }

    /// Online EM from `model` and a state saved by [`StepwiseEm::save`]
    /// (with that model): it continues as the saved one would have.
    ///
    /// # Errors
    /// Any [`FlatError`] of a state that is not one: non-finite entries,
    /// another kind or version, a bad count, a schedule out of range
    /// ([`FlatError::Shape`] naming `decay` or `offset`), statistics of
    /// another layout, a length that does not match. Statistics of another
    /// model's shape are refused at the next chunk
    /// ([`OnlineError::Statistics`]).
    pub fn resume(model: M, saved: &[f64]) -> Result<Self, FlatError> {
        let mut reader = FlatReader::new(saved)?;
        reader.header("online EM state", FLAT_TAG, FLAT_VERSION)?;
        let values = reader.take("schedule", &[2])?;
        let schedule = Schedule::new(values[0], values[1]).map_err(|e| {
            let (field, value) = match e {
                ScheduleError::Decay(v) => ("decay", v),
                ScheduleError::Offset(v) => ("offset", v),
            };
            FlatError::Shape {
                field,
                value,
                requirement: e.to_string(),
            }
        })?;
        let observations = reader.count("observations")?;
        let chunks = reader.count("chunks")?;
        let stats = match reader.code("has statistics", 2)? {
            0 => None,
            _ => Some(M::Stats::read_flat(&mut reader)?),
        };
        reader.finish()?;
        if stats.is_some() != (chunks > 0) || (chunks == 0) != (observations == 0) {
            return Err(FlatError::Shape {
                field: "chunks",
                value: chunks as f64,
                requirement: format!(
                    "must be 0 exactly when there are no statistics and no observations ({observations} observations)"
                ),
            });
        }
        Ok(Self {
            model,
            stats,
            schedule,
            observations,
            chunks,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::NoDiagnostics;
    use crate::model::EStep;
    use rand::Rng;

    /// A 1-D Gaussian with unknown mean and variance, its statistics
    /// `(Σw, Σw x, Σw x², n)`.
    #[derive(Debug, Clone, PartialEq)]
    struct Normal {
        mean: f64,
        var: f64,
    }

    #[derive(Debug, Clone, PartialEq)]
    struct Sums {
        w: f64,
        wx: f64,
        wxx: f64,
        n: usize,
    }

    impl FlatStats for Sums {
        fn write_flat(&self, out: &mut Vec<f64>) {
            write_header(out, tag(*b"TSUM"), 1);
            write_count(out, self.n);
            out.extend([self.w, self.wx, self.wxx]);
        }
        fn read_flat(reader: &mut FlatReader<'_>) -> Result<Self, FlatError> {
            reader.header("test sums", tag(*b"TSUM"), 1)?;
            let n = reader.count("n")?;
            let v = reader.take("sums", &[3])?;
            Ok(Self {
                w: v[0],
                wx: v[1],
                wxx: v[2],
                n,
            })
        }
        fn shape(&self) -> Vec<usize> {
            vec![1]
        }
        fn merge(&mut self, other: &Self) {
            self.w += other.w;
            self.wx += other.wx;
            self.wxx += other.wxx;
            self.n += other.n;
        }
    }

    impl ScaleStats for Sums {
        fn scale(&mut self, factor: f64) {
            self.w *= factor;
            self.wx *= factor;
            self.wxx *= factor;
        }
        fn observations(&self) -> usize {
            self.n
        }
    }

    #[derive(Debug, PartialEq, thiserror::Error)]
    #[error("row {0} is not finite")]
    struct Bad(usize);

    impl EmModel for Normal {
        type Data<'a> = &'a [f64];
        type Stats = Sums;
        type Options = ();
        type InitConfig = ();
        type Diagnostics = NoDiagnostics;
        type Error = Bad;

        fn e_step(&self, x: &[f64]) -> Result<EStep<Sums>, Bad> {
            if let Some(i) = x.iter().position(|v| !v.is_finite()) {
                return Err(Bad(i + 1));
            }
            let ll = x
                .iter()
                .map(|v| {
                    -0.5 * ((2.0 * std::f64::consts::PI * self.var).ln() + (v - self.mean).powi(2) / self.var)
                })
                .sum();
            let stats = Sums {
                w: x.len() as f64,
                wx: x.iter().sum(),
                wxx: x.iter().map(|v| v * v).sum(),
                n: x.len(),
            };
            Ok(EStep {
                log_likelihood: ll,
                stats,
            })
        }
        fn m_step(&self, s: &Sums, _: &()) -> Result<(Self, NoDiagnostics), Bad> {
            let mean = s.wx / s.w;
            Ok((
                Normal {
                    mean,
                    var: s.wxx / s.w - mean * mean,
                },
                NoDiagnostics,
            ))
        }
        fn init_from_data<R: Rng + ?Sized>(_: &[f64], _: &(), _: &mut R) -> Result<Self, Bad> {
            Ok(Normal { mean: 0.0, var: 1.0 })
        }
    }

    fn start() -> StepwiseEm<Normal> {
        StepwiseEm::new(Normal { mean: 0.0, var: 1.0 }, Schedule::default())
    }

    #[test]
    fn schedules_out_of_range_are_refused() {
        for bad in [0.5, 0.3, 1.01, f64::NAN] {
            assert!(
                matches!(Schedule::new(bad, 10.0), Err(ScheduleError::Decay(_))),
                "{bad}"
            );
        }
        for bad in [-1.0, f64::INFINITY, f64::NAN] {
            assert!(
                matches!(Schedule::new(0.7, bad), Err(ScheduleError::Offset(_))),
                "{bad}"
            );
        }
        assert_eq!(Schedule::new(1.0, 0.0).unwrap().rate(1), 1.0);
        assert_eq!(Schedule::default(), Schedule::new(0.7, 10.0).unwrap());
    }

    #[test]
    fn a_chunk_step_is_that_of_its_single_observations() {
        let s = Schedule::new(0.7, 10.0).unwrap();
        assert!((s.rate(5) - 15f64.powf(-0.7)).abs() < 1e-15);
        // One observation: its rate.
        assert!((s.chunk_step(4, 1) - s.rate(5)).abs() < 1e-15);
        // Splitting a chunk multiplies the kept fractions.
        let whole = 1.0 - s.chunk_step(100, 50);
        let halves = (1.0 - s.chunk_step(100, 20)) * (1.0 - s.chunk_step(120, 30));
        assert!((whole - halves).abs() < 1e-14, "{whole} vs {halves}");
        // κ = 1, t₀ = 0: n / (t + n).
        let harmonic = Schedule::new(1.0, 0.0).unwrap();
        for (t, n) in [(0, 7), (10, 5), (1000, 1)] {
            let expected = n as f64 / (t + n) as f64;
            assert!((harmonic.chunk_step(t, n) - expected).abs() < 1e-14, "{t} {n}");
        }
        // Larger chunks weigh more; later chunks weigh less.
        assert!(s.chunk_step(1000, 200) > s.chunk_step(1000, 100));
        assert!(s.chunk_step(2000, 100) < s.chunk_step(1000, 100));
    }

    #[test]
    fn with_decay_one_the_running_statistics_are_the_average_of_the_chunks() {
        let mut online = StepwiseEm::new(Normal { mean: 0.0, var: 1.0 }, Schedule::new(1.0, 0.0).unwrap());
        let chunks: [&[f64]; 3] = [&[1.0, 2.0, 3.0], &[10.0], &[4.0, 5.0]];
        for c in chunks {
            online.partial_fit(c, &()).unwrap();
        }
        let s = online.statistics().unwrap();
        let all: Vec<f64> = chunks.concat();
        let n = all.len() as f64;
        assert!((s.w - 1.0).abs() < 1e-14);
        assert!((s.wx - all.iter().sum::<f64>() / n).abs() < 1e-13);
        assert!((s.wxx - all.iter().map(|v| v * v).sum::<f64>() / n).abs() < 1e-12);
        assert_eq!((online.observations(), online.chunks(), s.n), (6, 3, 6));
        assert!((online.model().mean - all.iter().sum::<f64>() / n).abs() < 1e-13);
    }

    #[test]
    fn the_first_chunk_is_one_em_step_on_it() {
        let mut online = start();
        let x = [1.0, 4.0, 2.5, -1.0];
        let step = online.partial_fit(&x, &()).unwrap();
        let batch = Normal { mean: 0.0, var: 1.0 }.em_iteration(&x, &()).unwrap();
        assert_eq!(step.step, 1.0);
        assert_eq!(step.log_likelihood, batch.log_likelihood);
        assert!((online.model().mean - batch.model.mean).abs() < 1e-15);
        assert!((online.model().var - batch.model.var).abs() < 1e-14);
    }

    #[test]
    fn a_refused_chunk_changes_nothing() {
        let mut online = start();
        online.partial_fit(&[1.0, 2.0, 3.0], &()).unwrap();
        let before = (online.model().clone(), online.save());
        let err = online.partial_fit(&[1.0, f64::NAN], &()).unwrap_err();
        assert_eq!(err.to_string(), "chunk 2: row 2 is not finite");
        let err = online.partial_fit(&[], &()).unwrap_err();
        assert!(matches!(err, OnlineError::EmptyChunk { chunk: 2 }), "{err}");
        assert_eq!((online.model().clone(), online.save()), before);
    }

    #[test]
    fn a_resumed_state_continues_bit_for_bit() {
        let chunks: [&[f64]; 4] = [&[1.0, 2.0, 3.0], &[0.1, 0.7], &[4.0, 5.0, 9.0, 2.0], &[3.3]];
        let mut whole = start();
        let mut first = start();
        for c in &chunks[..2] {
            whole.partial_fit(c, &()).unwrap();
            first.partial_fit(c, &()).unwrap();
        }
        let mut resumed = StepwiseEm::resume(first.model().clone(), &first.save()).unwrap();
        for c in &chunks[2..] {
            whole.partial_fit(c, &()).unwrap();
            resumed.partial_fit(c, &()).unwrap();
        }
        assert_eq!(whole.save(), resumed.save());
        assert_eq!(whole.model().mean.to_bits(), resumed.model().mean.to_bits());
        assert_eq!(whole.model().var.to_bits(), resumed.model().var.to_bits());
        // A fresh state resumes too.
        let fresh = StepwiseEm::resume(Normal { mean: 0.0, var: 1.0 }, &start().save()).unwrap();
        assert_eq!(fresh.chunks(), 0);
    }

    #[test]
    fn states_that_are_not_one_are_refused() {
        let mut online = start();
        online.partial_fit(&[1.0, 2.0], &()).unwrap();
        let saved = online.save();
        let model = || Normal { mean: 0.0, var: 1.0 };
        let with = |i: usize, v: f64| {
            let mut s = saved.clone();
            s[i] = v;
            StepwiseEm::resume(model(), &s).unwrap_err()
        };
        assert!(matches!(with(2, 0.2), FlatError::Shape { field: "decay", .. }));
        assert!(matches!(with(3, -1.0), FlatError::Shape { field: "offset", .. }));
        assert!(matches!(with(5, 0.0), FlatError::Shape { field: "chunks", .. }));
        assert!(matches!(
            with(6, 2.0),
            FlatError::Shape {
                field: "has statistics",
                ..
            }
        ));
        assert!(matches!(with(0, 1.0), FlatError::Kind { .. }));
        assert!(matches!(with(8, f64::NAN), FlatError::NonFinite { index: 8, .. }));
        let err = StepwiseEm::resume(model(), &saved[..saved.len() - 1]).unwrap_err();
        assert!(matches!(err, FlatError::Truncated { .. }), "{err}");
    }
}
