//! Categorical (discrete-symbol) emissions.

use em_core::{Adjustment, Event};
use faer::{Mat, MatMut, MatRef};
use rand::Rng;

use super::{Emission, MergeStats, check_columns, check_states, init_checked};
use crate::error::{HmmError, Table};
use crate::flat::{push_support, with_support};
use crate::model::options::MStepOptions;
use crate::model::stats::FlatEmissionStats;
use crate::param::{Param, StepDiagnostics};
use crate::probability::{dirichlet_log_density, ln_all, map_row, prior_rows, sample_index, validate_row};
use crate::sequences::Sequences;
use em_core::flat::{FlatError, FlatReader, FlatStats, tag, write_count, write_header};

/// Categorical emissions: in state j the symbol `m ∈ 0..M` is emitted with
/// probability `B[j, m]`.
///
/// Observations are one column of symbol indices stored as `f64` (exact small
/// integers); a value that is not an integer in `0..M` is
/// [`HmmError::SymbolOutOfRange`].
///
/// M-step: `B[j, m] ∝ Σ_t γ_t(j) [x_t = m] + α_jm − 1` with an optional
/// Dirichlet prior `α ≥ 1` ([`MStepOptions::emission_prior`]). A state with no
/// posterior mass keeps its row. Zeros in `B` stay zero (like structural
/// zeros of the transition matrix).
#[derive(Debug, Clone, PartialEq)]
pub struct CategoricalEmission {
    probs: Mat<f64>,
    log_probs: Vec<f64>,
}

/// Expected symbol counts per state (`counts[j * M + m] = Σ_t γ_t(j) [x_t = m]`).
#[derive(Debug, Clone, PartialEq)]
pub struct CategoricalStats {
    n_states: usize,
    n_symbols: usize,
    counts: Vec<f64>,
}

impl CategoricalStats {
    /// Expected count of symbol `m` in state `j`.
    #[must_use]
    pub fn count(&self, j: usize, m: usize) -> f64 {
        self.counts[j * self.n_symbols + m]
    }

    /// (states K, symbols M).
    pub(crate) fn shape(&self) -> (usize, usize) {
        (self.n_states, self.n_symbols)
    }
}

impl MergeStats for CategoricalStats {
    fn merge(&mut self, other: &Self) {
        assert_eq!(
            (self.n_states, self.n_symbols),
            (other.n_states, other.n_symbols),
            "statistics of categorical emissions of different shapes"
        );
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
    }
}

const FLAT_TAG: u32 = tag(*b"HCAT");

/// `"HCAT"`, 1, K, M, then the counts (see [`crate::HmmStats`]' module docs).
impl FlatStats for CategoricalStats {
    fn write_flat(&self, out: &mut Vec<f64>) {
        write_header(out, FLAT_TAG, 1);
        write_count(out, self.n_states);
        write_count(out, self.n_symbols);
        out.extend(&self.counts);
    }

    fn read_flat(reader: &mut FlatReader<'_>) -> Result<Self, FlatError> {
        reader.header("categorical emission statistics", FLAT_TAG, 1)?;
        let n_states = reader.count("states")?;
        let n_symbols = reader.count("symbols")?;
        let counts = reader.take("symbol counts", &[n_states, n_symbols])?.to_vec();
        Ok(Self {
            n_states,
            n_symbols,
            counts,
        })
    }

    fn shape(&self) -> Vec<usize> {
        vec![self.n_states, self.n_symbols]
    }

    fn merge(&mut self, other: &Self) {
        MergeStats::merge(self, other);
    }
}

impl FlatEmissionStats for CategoricalStats {
    fn n_states(&self) -> usize {
        self.n_states
    }

    fn scale(&mut self, factor: f64) {
        self.counts.iter_mut().for_each(|c| *c *= factor);
    }
}

/// How [`CategoricalEmission::init_from_data`] initialises.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CategoricalInit {
    /// Number of symbols M (at most [`MAX_SYMBOLS`]); `None`: one more than
    /// the largest symbol in the data.
    pub n_symbols: Option<usize>,
    /// Given emission probabilities (K x M); `None`: random rows (uniform
    /// draws normalised, as hmmlearn does), from the caller's RNG.
    pub probabilities: Option<Mat<f64>>,
}

/// Largest number of symbols [`CategoricalEmission::init_from_data`] accepts
/// (given or derived from the data), so that a wild value fails with an error
/// instead of an impossible allocation.
pub const MAX_SYMBOLS: usize = 1 << 24;

/// The symbol index of an observation, if it is an exact integer in `0..m`.
pub(crate) fn symbol_of(value: f64, m: usize) -> Option<usize> {
    if value >= 0.0 && value < m as f64 && value.fract() == 0.0 {
        Some(value as usize)
    } else {
        None
    }
}

/// The symbol at row `t` of a block of observations (`n_symbols` symbols).
fn symbol_at(value: f64, t: usize, n_symbols: usize) -> Result<usize, HmmError> {
    symbol_of(value, n_symbols).ok_or(HmmError::SymbolOutOfRange {
        sequence: 0,
        time: t,
        row: t,
        value,
        n_symbols,
    })
}

impl CategoricalEmission {
    /// Validating constructor from the K x M emission matrix (rows sum to 1
    /// within [`linalg_kernels::tolerance::PROBABILITY_SUM`], stored as given).
    ///
    /// # Errors
    /// [`HmmError::NoStates`], [`HmmError::DimensionMismatch`] for M = 0,
    /// [`HmmError::InvalidProbability`], [`HmmError::RowSum`].
    pub fn new(probabilities: Mat<f64>) -> Result<Self, HmmError> {
        let (k, m) = (probabilities.nrows(), probabilities.ncols());
        if k == 0 {
            return Err(HmmError::NoStates);
        }
        if m == 0 {
            return Err(HmmError::DimensionMismatch {
                what: "number of symbols (at least)",
                expected: 1,
                found: 0,
            });
        }
        let mut probs = Mat::zeros(k, m);
        for j in 0..k {
            let row: Vec<f64> = (0..m).map(|s| probabilities[(j, s)]).collect();
            let row = validate_row(&row, Table::EmissionProbabilities, j)?;
            for s in 0..m {
                probs[(j, s)] = row[s];
            }
        }
        Ok(Self::from_valid(probs))
    }

    fn from_valid(probs: Mat<f64>) -> Self {
        let (k, m) = (probs.nrows(), probs.ncols());
        let flat: Vec<f64> = (0..k)
            .flat_map(|j| (0..m).map(move |s| (j, s)))
            .map(|(j, s)| probs[(j, s)])
            .collect();
        Self {
            log_probs: ln_all(&flat),
            probs,
        }
    }

    /// The K x M emission of the variational E-step from the logs of its
    /// entries (`log_probs[j * M + m] = E_q[ln B_jm]`, row-major), whose rows
    /// sum to less than 1: not validated.
    pub(crate) fn from_log_rows(k: usize, m: usize, log_probs: Vec<f64>) -> Self {
        Self {
            probs: Mat::from_fn(k, m, |j, s| log_probs[j * m + s].exp()),
            log_probs,
        }
    }

    /// The emission probabilities B (K x M).
    #[must_use]
    pub fn probabilities(&self) -> MatRef<'_, f64> {
        self.probs.as_ref()
    }

    /// Number of symbols M.
    #[must_use]
    pub fn n_symbols(&self) -> usize {
        self.probs.ncols()
    }

    /// The probabilities row by row (`B_jm` at `j M + m`).
    fn row_major(&self) -> Vec<f64> {
        let (k, m) = (self.n_states(), self.n_symbols());
        (0..k)
            .flat_map(|j| (0..m).map(move |s| (j, s)))
            .map(|(j, s)| self.probs[(j, s)])
            .collect()
    }
}

impl CategoricalEmission {
    /// The Dirichlet concentrations of each emission row, checked (states x
    /// symbols, each finite and `≥ 1`); `None` without.
    ///
    /// # Errors
    /// [`HmmError::DimensionMismatch`], [`HmmError::InvalidPrior`].
    fn emission_priors(&self, options: &MStepOptions) -> Result<Option<Vec<Vec<f64>>>, HmmError> {
        prior_rows(
            options.emission_prior.as_ref(),
            self.n_states(),
            self.n_symbols(),
            "emission prior (states x symbols)",
            Table::EmissionProbabilities,
        )
    }
}

impl Emission for CategoricalEmission {
    type Stats = CategoricalStats;
    type InitConfig = CategoricalInit;

    fn n_states(&self) -> usize {
        self.probs.nrows()
    }

    fn n_features(&self) -> usize {
        1
    }

    fn check_data(&self, data: &Sequences<'_>) -> Result<(), HmmError> {
        check_columns(data, 1)?;
        let m = self.n_symbols();
        let col = data.data().col(0);
        for (sequence, time, row) in data.positions() {
            let value = col[row];
            if symbol_of(value, m).is_none() {
                return Err(HmmError::SymbolOutOfRange {
                    sequence,
                    time,
                    row,
                    value,
                    n_symbols: m,
                });
            }
        }
        Ok(())
    }

    fn log_likelihoods_into(&self, x: MatRef<'_, f64>, mut out: MatMut<'_, f64>) -> Result<(), HmmError> {
        let (k, m) = (self.n_states(), self.n_symbols());
        if x.ncols() != 1 {
            return Err(HmmError::DimensionMismatch {
                what: "observation columns",
                expected: 1,
                found: x.ncols(),
            });
        }
        for t in 0..x.nrows() {
            let s = symbol_at(x[(t, 0)], t, m)?;
            for j in 0..k {
                out[(t, j)] = self.log_probs[j * m + s];
            }
        }
        Ok(())
    }

    fn zero_stats(&self) -> Self::Stats {
        CategoricalStats {
            n_states: self.n_states(),
            n_symbols: self.n_symbols(),
            counts: vec![0.0; self.n_states() * self.n_symbols()],
        }
    }

    fn accumulate(
        &self,
        x: MatRef<'_, f64>,
        gamma: MatRef<'_, f64>,
        stats: &mut Self::Stats,
    ) -> Result<(), HmmError> {
        let (k, m) = (self.n_states(), self.n_symbols());
        for t in 0..x.nrows() {
            let s = symbol_at(x[(t, 0)], t, m)?;
            for j in 0..k {
                stats.counts[j * m + s] += gamma[(t, j)];
            }
        }
        Ok(())
    }

    fn m_step(
        &self,
        stats: &Self::Stats,
        options: &MStepOptions,
    ) -> Result<(Self, StepDiagnostics), HmmError> {
        let (k, m) = (self.n_states(), self.n_symbols());
        if stats.n_states != k || stats.n_symbols != m {
            return Err(HmmError::DimensionMismatch {
                what: "categorical statistics (states x symbols)",
                expected: k * m,
                found: stats.n_states * stats.n_symbols,
            });
        }
        let mut diagnostics = StepDiagnostics::default();
        if !options.learn.contains(Param::Probabilities) {
            return Ok((self.clone(), diagnostics));
        }
        let priors = self.emission_priors(options)?;
        let mut probs = self.probs.clone();
        for j in 0..k {
            let prior = priors.as_ref().map(|p| p[j].as_slice());
            let previous: Vec<f64> = (0..m).map(|s| self.probs[(j, s)]).collect();
            match map_row(&stats.counts[j * m..(j + 1) * m], prior, &previous) {
                Some(row) => {
                    for s in 0..m {
                        probs[(j, s)] = row[s];
                    }
                }
                None => diagnostics
                    .push(Event::new(Some(Param::Probabilities), Adjustment::KeptWithoutMass).in_state(j)),
            }
        }
        Ok((Self::from_valid(probs), diagnostics))
    }

    /// The Dirichlet log density of every row under
    /// `MStepOptions::emission_prior`.
    fn log_prior(&self, options: &MStepOptions) -> Result<Option<f64>, HmmError> {
        if !options.learn.contains(Param::Probabilities) {
            return Ok(None);
        }
        let Some(rows) = self.emission_priors(options)? else {
            return Ok(None);
        };
        let probs = self.row_major();
        Ok(Some(
            probs
                .chunks(self.n_symbols())
                .zip(&rows)
                .map(|(p, alpha)| dirichlet_log_density(p, alpha))
                .sum(),
        ))
    }

    fn n_parameters(&self) -> usize {
        // Each row has M − 1 free entries among its non-zero ones.
        (0..self.n_states())
            .map(|j| {
                (0..self.n_symbols())
                    .filter(|&s| self.probs[(j, s)] > 0.0)
                    .count()
                    .saturating_sub(1)
            })
            .sum()
    }

    /// The probabilities `B_jm > 0`, row by row (structural zeros left out),
    /// when `options.learn` has [`Param::Probabilities`].
    fn flat_parameters(&self, options: &MStepOptions) -> Option<Vec<f64>> {
        let mut out = Vec::new();
        if options.learn.contains(Param::Probabilities) {
            push_support(&self.row_major(), &mut out);
        }
        Some(out)
    }

    /// Rebuilt by [`CategoricalEmission::new`]; a structural zero stays 0 and
    /// a positive entry must stay positive.
    fn with_flat_parameters(&self, flat: &[f64], options: &MStepOptions) -> Option<Self> {
        if !options.learn.contains(Param::Probabilities) {
            return flat.is_empty().then(|| self.clone());
        }
        let mut rest = flat;
        let entries = with_support(&self.row_major(), self.n_symbols(), &mut rest)?;
        if !rest.is_empty() {
            return None;
        }
        let (k, m) = (self.n_states(), self.n_symbols());
        Self::new(Mat::from_fn(k, m, |j, s| entries[j * m + s])).ok()
    }

    fn sample<R: Rng + ?Sized>(&self, states: &[usize], rng: &mut R) -> Result<Mat<f64>, HmmError> {
        check_states(states, self.n_states())?;
        let m = self.n_symbols();
        let rows: Vec<Vec<f64>> = (0..self.n_states())
            .map(|j| (0..m).map(|s| self.probs[(j, s)]).collect())
            .collect();
        let mut out = Mat::zeros(states.len(), 1);
        for (t, &j) in states.iter().enumerate() {
            out[(t, 0)] = sample_index(&rows[j], rng) as f64;
        }
        Ok(out)
    }

    fn init_from_data<R: Rng + ?Sized>(
        data: &Sequences<'_>,
        n_states: usize,
        config: &Self::InitConfig,
        rng: &mut R,
    ) -> Result<Self, HmmError> {
        init_checked(data, n_states, "emission probability rows", || {
            check_columns(data, 1)?;
            match &config.probabilities {
                Some(p) => Self::new(p.clone()),
                None => Self::random(data, n_states, config.n_symbols, rng),
            }
        })
    }
}

impl CategoricalEmission {
    /// Random rows (uniform draws normalised, as hmmlearn does) over `n_symbols`
    /// symbols, or one more than the largest symbol in the data.
    fn random<R: Rng + ?Sized>(
        data: &Sequences<'_>,
        n_states: usize,
        n_symbols: Option<usize>,
        rng: &mut R,
    ) -> Result<Self, HmmError> {
        let m = symbol_count(data, n_symbols)?;
        let mut probs = Mat::zeros(n_states, m.max(1));
        for j in 0..n_states {
            // Uniform(0.5, 1.5) draws keep every probability well away from 0.
            let row: Vec<f64> = (0..m).map(|_| 0.5 + rng.random::<f64>()).collect();
            let total: f64 = row.iter().sum();
            for s in 0..m {
                probs[(j, s)] = row[s] / total;
            }
        }
        Self::new(probs)
    }
}

/// The number of symbols: `n_symbols` when given, else one more than the
/// largest symbol in the data (checked against [`MAX_SYMBOLS`]).
///
/// # Errors
/// [`HmmError::SymbolOutOfRange`] for a value that is not a symbol,
/// [`HmmError::InvalidOption`] for more than [`MAX_SYMBOLS`] symbols.
pub(crate) fn symbol_count(data: &Sequences<'_>, n_symbols: Option<usize>) -> Result<usize, HmmError> {
    let m = match n_symbols {
        Some(m) => m,
        None => {
            let col = data.data().col(0);
            let mut max = 0usize;
            for (sequence, time, row) in data.positions() {
                let value = col[row];
                let s = symbol_of(value, usize::MAX).ok_or(HmmError::SymbolOutOfRange {
                    sequence,
                    time,
                    row,
                    value,
                    n_symbols: usize::MAX,
                })?;
                max = max.max(s);
            }
            max + 1
        }
    };
    if m > MAX_SYMBOLS {
        return Err(HmmError::InvalidOption {
            what: "number of symbols",
            value: m as f64,
        });
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_must_be_exact_integers_in_range() {
        assert_eq!(symbol_of(2.0, 3), Some(2));
        assert_eq!(symbol_of(3.0, 3), None);
        assert_eq!(symbol_of(-1.0, 3), None);
        assert_eq!(symbol_of(0.5, 3), None);
        assert_eq!(symbol_of(f64::NAN, 3), None);
    }

    #[test]
    fn out_of_range_symbols_are_named() {
        let e = CategoricalEmission::new(faer::mat![[0.5, 0.5], [0.1, 0.9]]).unwrap();
        let x = faer::mat![[0.0], [1.0], [1.0], [2.0]];
        let data = Sequences::new(x.as_ref(), &[2, 2]).unwrap();
        assert!(matches!(
            e.check_data(&data),
            Err(HmmError::SymbolOutOfRange {
                sequence: 1,
                time: 1,
                row: 3,
                n_symbols: 2,
                ..
            })
        ));
    }
}
