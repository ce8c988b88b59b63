//! Categorical emissions with a Dirichlet prior on each state's row:
//! hmmlearn's `VariationalCategoricalHMM` emission.
//!
//! ```text
//! p(B_j·) = Dir(u_j·)              q(B_j·) = Dir(ũ_j·)
//! E-step:  ln b̃_j(m) = E_q[ln B_jm] = ψ(ũ_jm) − ψ(Σ_m ũ_jm)
//! update:  ũ_jm = u_jm + Σ_t γ_t(j) [x_t = m]
//! KL:      Σ_j KL(Dir(ũ_j·) ‖ Dir(u_j·))
//! ```

use faer::{Mat, MatRef};
use rand::Rng;

use super::dirichlet;
use super::emission::VariationalEmission;
use crate::emission::categorical::{CategoricalEmission, CategoricalStats, symbol_count};
use crate::emission::{Emission, check_columns};
use crate::error::{HmmError, Table};
use crate::param::{LearnSet, Param};
use crate::sequences::Sequences;

/// Prior and posterior Dirichlet concentrations of the K x M emission
/// matrix (row-major).
#[derive(Debug, Clone, PartialEq)]
pub struct VariationalCategorical {
    k: usize,
    m: usize,
    prior: Vec<f64>,
    posterior: Vec<f64>,
}

/// How [`VariationalCategorical::init_from_data`] starts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VariationalCategoricalInit {
    /// Number of symbols M (default: one more than the largest symbol).
    pub n_symbols: Option<usize>,
    /// The prior concentration of every entry (default `1/M`, hmmlearn's).
    pub prior: Option<f64>,
}

impl VariationalCategorical {
    /// The emission from its K x M prior and posterior concentrations.
    ///
    /// # Errors
    /// [`HmmError::NoStates`]; [`HmmError::DimensionMismatch`] for no symbol
    /// or shapes that differ; [`HmmError::InvalidConcentration`] for an
    /// entry that is not finite and positive.
    pub fn new(prior: MatRef<'_, f64>, posterior: MatRef<'_, f64>) -> Result<Self, HmmError> {
        let (k, m) = (prior.nrows(), prior.ncols());
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
        for (what, expected, found) in [
            ("emission posterior rows", k, posterior.nrows()),
            ("emission posterior columns", m, posterior.ncols()),
        ] {
            if found != expected {
                return Err(HmmError::DimensionMismatch {
                    what,
                    expected,
                    found,
                });
            }
        }
        let rows = |a: MatRef<'_, f64>| -> Vec<f64> {
            (0..k).flat_map(|j| (0..m).map(move |s| a[(j, s)])).collect()
        };
        let (prior, posterior) = (rows(prior), rows(posterior));
        for j in 0..k {
            dirichlet::check_row(&prior[j * m..(j + 1) * m], Table::EmissionProbabilities, j, false)?;
            dirichlet::check_row(
                &posterior[j * m..(j + 1) * m],
                Table::EmissionProbabilities,
                j,
                true,
            )?;
        }
        Ok(Self {
            k,
            m,
            prior,
            posterior,
        })
    }

    /// Number of symbols M.
    #[must_use]
    pub fn n_symbols(&self) -> usize {
        self.m
    }

    /// The prior concentrations `u` (K x M).
    #[must_use]
    pub fn prior(&self) -> MatRef<'_, f64> {
        MatRef::from_row_major_slice(&self.prior, self.k, self.m)
    }

    /// The posterior concentrations `ũ` (K x M).
    #[must_use]
    pub fn posterior(&self) -> MatRef<'_, f64> {
        MatRef::from_row_major_slice(&self.posterior, self.k, self.m)
    }

    /// The posterior mean of the emission matrix, `ũ_jm / Σ_m ũ_jm` (rows on
    /// the simplex).
    #[must_use]
    pub fn probabilities(&self) -> Mat<f64> {
        let mut out = Mat::zeros(self.k, self.m);
        for j in 0..self.k {
            for (s, p) in dirichlet::mean(self.row(&self.posterior, j))
                .into_iter()
                .enumerate()
            {
                out[(j, s)] = p;
            }
        }
        out
    }

    fn row<'a>(&self, a: &'a [f64], j: usize) -> &'a [f64] {
        &a[j * self.m..(j + 1) * self.m]
    }
}

impl VariationalEmission for VariationalCategorical {
    type Expected = CategoricalEmission;
    type InitConfig = VariationalCategoricalInit;

    fn n_states(&self) -> usize {
        self.k
    }

    /// The rows `E_q[ln B_j·]`, no offsets.
    fn expected(&self) -> Result<(CategoricalEmission, Vec<f64>), HmmError> {
        let logs = (0..self.k)
            .flat_map(|j| dirichlet::expected_log(self.row(&self.posterior, j)))
            .collect();
        Ok((
            CategoricalEmission::from_log_rows(self.k, self.m, logs),
            vec![0.0; self.k],
        ))
    }

    /// `ũ = u + counts` when [`Param::Probabilities`] is learned.
    fn update(&self, stats: &CategoricalStats, learn: LearnSet) -> Result<Self, HmmError> {
        let shape = stats.shape();
        if shape != (self.k, self.m) {
            return Err(HmmError::DimensionMismatch {
                what: "categorical statistics (states x symbols)",
                expected: self.k * self.m,
                found: shape.0 * shape.1,
            });
        }
        if !learn.contains(Param::Probabilities) {
            return Ok(self.clone());
        }
        let posterior: Vec<f64> = (0..self.k * self.m)
            .map(|i| self.prior[i] + stats.count(i / self.m, i % self.m))
            .collect();
        for j in 0..self.k {
            dirichlet::check_row(self.row(&posterior, j), Table::EmissionProbabilities, j, true)?;
        }
        Ok(Self {
            posterior,
            ..self.clone()
        })
    }

    fn divergence(&self) -> Result<f64, HmmError> {
        Ok((0..self.k)
            .map(|j| dirichlet::kl(self.row(&self.posterior, j), self.row(&self.prior, j)))
            .sum())
    }

    /// hmmlearn's start: prior `u` everywhere (default `1/M`), each
    /// posterior row a `Dir(u)` draw scaled to `n / K` pseudo-counts (n
    /// observations).
    ///
    /// # Errors
    /// [`HmmError::NoStates`], [`HmmError::DimensionMismatch`] for data
    /// with another number of columns than 1, [`HmmError::SymbolOutOfRange`]
    /// for a value that is not a symbol (of `0..M` when M is given),
    /// [`HmmError::InvalidConcentration`] for an invalid prior.
    fn init_from_data<R: Rng + ?Sized>(
        data: &Sequences<'_>,
        n_states: usize,
        config: &VariationalCategoricalInit,
        rng: &mut R,
    ) -> Result<Self, HmmError> {
        if n_states == 0 {
            return Err(HmmError::NoStates);
        }
        check_columns(data, 1)?;
        let m = symbol_count(data, config.n_symbols)?;
        let u = config.prior.unwrap_or(1.0 / m as f64);
        let prior = Mat::from_fn(n_states, m, |_, _| u);
        dirichlet::check_row(&[u], Table::EmissionProbabilities, 0, false)?;
        let total = data.n_samples() as f64 / n_states as f64;
        let mut posterior = Mat::zeros(n_states, m);
        for j in 0..n_states {
            for (s, v) in dirichlet::random_row(&vec![u; m], total, rng)
                .into_iter()
                .enumerate()
            {
                posterior[(j, s)] = v;
            }
        }
        let emission = Self::new(prior.as_ref(), posterior.as_ref())?;
        emission.expected()?.0.check_data(data)?;
        Ok(emission)
    }
}
