//! The E-step's sufficient statistics: sums over sequences and steps,
//! mergeable.
//!
//! # Flat form
//! [`em_core::FlatStats`] (for E-steps on parts of the sequences, see
//! [`em_core::executor`]), layout version 3, every number as it is, every
//! matrix row-major, `ũ_k = [u_k; 1]` (m + 1 values, see [`crate::em`]):
//!
//! ```text
//! header  "LGSS" tag, 1, n, p, m, J (sequences), Σ_j T_j (steps),
//!         observed steps, Σ_j (T_j − 1) (transitions)
//! time-varying blocks: one 0/1 flag per block A, Q, H, R, m0, P0
//! Σ_j E[x_0]                    n
//! Σ_j E[x_0 x_0ᵀ]               n x n
//! Σ_j E[x_{T_j-1} x_{T_j-1}ᵀ]   n x n
//! Σ_k E[x_k x_kᵀ]               n x n
//! Σ_obs E[x_k x_kᵀ]             n x n
//! Σ_{k≥1} E[x_k x_{k-1}ᵀ]       n x n
//! Σ_k E[y_k x_kᵀ]               p x n
//! Σ_k E[y_k y_kᵀ]               p x p
//! Σ_{k≥1} E[x_k] ũ_kᵀ           n x (m+1)
//! Σ_{k≥1} E[x_{k-1}] ũ_kᵀ       n x (m+1)
//! Σ_{k≥1} ũ_k ũ_kᵀ              (m+1) x (m+1)
//! Σ_obs E[x_k] ũ_kᵀ             n x (m+1)
//! Σ_obs E[y_k] ũ_kᵀ             p x (m+1)
//! Σ_obs ũ_k ũ_kᵀ                (m+1) x (m+1)
//! ```
//!
//! then, when the A flag is set, the transition's residual sums over the
//! sequences with `A_k` (`z_k = x_k − A_k x_{k−1}`, k ≥ 1; see
//! [`super::residual`]), and when the H flag is set the observation's
//! (`z_k = y_k − H_k x_k`, observed steps), each as seven matrices:
//!
//! ```text
//!                      transition        observation
//! Σ E[z_k z_kᵀ]        n x n             p x p
//! Σ E[z_k] ũ_kᵀ        n x (m+1)         p x (m+1)
//! Σ E[t_k t_kᵀ]        n x n  (x_k)      p x p  (y_k)
//! Σ E[t_k s_kᵀ]        n x n  (x_{k-1})  p x n  (x_k)
//! Σ E[s_k s_kᵀ]        n x n             n x n
//! Σ E[t_k] ũ_kᵀ        n x (m+1)         p x (m+1)
//! Σ E[s_k] ũ_kᵀ        n x (m+1)         n x (m+1)
//! ```
//!
//! (t the target, s the state of the regression, sums over the same
//! sequences.) Then, when the Q flag is set, the transition's weighted
//! sums over the sequences with `Q_k` (q = n + m + 1, `z_k = [x_{k−1}; ũ_k]`,
//! `G_k = E[z_k z_kᵀ]`, `C_k = E[x_k z_kᵀ]`; see [`super::weighted`]),
//! and when the R flag is set the observation's (`z_k = [x_k; ũ_k]`,
//! `C_k = E[y_k z_kᵀ]`, observed steps), each as four matrices:
//!
//! ```text
//!                      transition        observation
//! Σ G_k ⊗ V_k⁻¹        nq x nq           pq x pq
//! Σ V_k⁻¹ C_k          n x q             p x q
//! Σ G_k                q x q             q x q
//! Σ C_k                n x q             p x q
//! ```
//!
//! (`V_k` = `Q_k` or `R_k`.) The merge adds every sum (absent residual sums are zero) and
//! unites the time-varying blocks, so merging parts in a fixed order gives
//! the same bits every time.

use em_core::Parameter;
use em_core::flat::{FlatError, FlatReader, FlatStats, tag, write_count, write_header};
use faer::{Mat, MatRef};

use super::mstep::{join_columns, join_gram};
use super::residual::{GivenSums, Moments};
use super::weighted::WeightedSums;
use crate::error::{Result, StateSpaceError};
use crate::param::{LearnSet, Param};

/// Mergeable sufficient statistics of the E-step (sums over sequences and
/// steps; see [`crate::em`] for the definitions).
#[derive(Debug, Clone, PartialEq)]
pub struct SufficientStats {
    pub(super) n_sequences: usize,
    pub(super) n_steps: usize,
    pub(super) n_observed_steps: usize,
    pub(super) n_transitions: usize,
    pub(super) sum_x0: Vec<f64>,
    pub(super) sum_x0x0: Mat<f64>,
    pub(super) sum_xx_last: Mat<f64>,
    pub(super) sum_xx: Mat<f64>,
    pub(super) sum_xx_observed: Mat<f64>,
    pub(super) sum_cross: Mat<f64>,
    pub(super) sum_yx: Mat<f64>,
    pub(super) sum_yy: Mat<f64>,
    pub(super) inputs: InputStats,
    /// The blocks some sequence gave as time-varying (see
    /// [`crate::time_varying`]: the M-step refuses to learn them and their
    /// regression partners).
    pub(super) time_varying: LearnSet,
    /// The residual sums of the sequences that give `A_k` (present exactly
    /// when `time_varying` has A; see [`super::residual`]).
    pub(super) given_transition: Option<GivenSums>,
    /// The same for the sequences that give `H_k`.
    pub(super) given_observation: Option<GivenSums>,
    /// The weighted sums of the transition over the sequences that give
    /// `Q_k` (present exactly when `time_varying` has Q; see
    /// [`super::weighted`]).
    pub(super) weighted_transition: Option<WeightedSums>,
    /// The same for the observation and the sequences that give `R_k`.
    pub(super) weighted_observation: Option<WeightedSums>,
}

/// The input sums of the statistics, with `ũ_k = [u_k; 1]` (m+1 values;
/// see [`crate::em`]).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct InputStats {
    /// `Σ_{k≥1} E[x_k] ũ_kᵀ` (n x (m+1)).
    pub target_u: Mat<f64>,
    /// `Σ_{k≥1} E[x_{k-1}] ũ_kᵀ` (n x (m+1)).
    pub state_u: Mat<f64>,
    /// `Σ_{k≥1} ũ_k ũ_kᵀ`.
    pub uu: Mat<f64>,
    /// `Σ_obs E[x_k] ũ_kᵀ` over the steps with an observed value (n x (m+1)).
    pub observed_state_u: Mat<f64>,
    /// `Σ_obs E[y_k] ũ_kᵀ` over the same steps (p x (m+1)).
    pub observed_y_u: Mat<f64>,
    /// `Σ_obs ũ_k ũ_kᵀ` over the same steps.
    pub observed_uu: Mat<f64>,
}

impl InputStats {
    fn zeros(n: usize, p: usize, m: usize) -> Self {
        Self {
            target_u: Mat::zeros(n, m + 1),
            state_u: Mat::zeros(n, m + 1),
            uu: Mat::zeros(m + 1, m + 1),
            observed_state_u: Mat::zeros(n, m + 1),
            observed_y_u: Mat::zeros(p, m + 1),
            observed_uu: Mat::zeros(m + 1, m + 1),
        }
    }

    fn matrices(&self) -> [&Mat<f64>; 6] {
        [
            &self.target_u,
            &self.state_u,
            &self.uu,
            &self.observed_state_u,
            &self.observed_y_u,
            &self.observed_uu,
        ]
    }

    fn add(&mut self, other: &Self) {
        self.target_u += &other.target_u;
        self.state_u += &other.state_u;
        self.uu += &other.uu;
        self.observed_state_u += &other.observed_state_u;
        self.observed_y_u += &other.observed_y_u;
        self.observed_uu += &other.observed_uu;
    }
}

impl SufficientStats {
    /// Empty statistics (the identity of [`Self::merge`]) for state
    /// dimension n and observation dimension p, without inputs.
    #[must_use]
    pub fn zeros(n: usize, p: usize) -> Self {
        Self::zeros_with_inputs(n, p, 0)
    }

    /// Empty statistics for state dimension n, observation dimension p and
    /// input dimension m.
    #[must_use]
    pub fn zeros_with_inputs(n: usize, p: usize, m: usize) -> Self {
        Self {
            inputs: InputStats::zeros(n, p, m),
            time_varying: LearnSet::none(),
            given_transition: None,
            given_observation: None,
            weighted_transition: None,
            weighted_observation: None,
            n_sequences: 0,
            n_steps: 0,
            n_observed_steps: 0,
            n_transitions: 0,
            sum_x0: vec![0.0; n],
            sum_x0x0: Mat::zeros(n, n),
            sum_xx_last: Mat::zeros(n, n),
            sum_xx: Mat::zeros(n, n),
            sum_xx_observed: Mat::zeros(n, n),
            sum_cross: Mat::zeros(n, n),
            sum_yx: Mat::zeros(p, n),
            sum_yy: Mat::zeros(p, p),
        }
    }

    /// State dimension n.
    #[must_use]
    pub fn state_dim(&self) -> usize {
        self.sum_x0.len()
    }

    /// Observation dimension p.
    #[must_use]
    pub fn obs_dim(&self) -> usize {
        self.sum_yy.nrows()
    }

    /// Input dimension m.
    #[must_use]
    pub fn input_dim(&self) -> usize {
        self.inputs.uu.nrows() - 1
    }

    /// Number of sequences J.
    #[must_use]
    pub fn n_sequences(&self) -> usize {
        self.n_sequences
    }

    /// Number of time steps `Σ_j T_j`.
    #[must_use]
    pub fn n_steps(&self) -> usize {
        self.n_steps
    }

    /// Number of time steps with at least one observed value (the steps
    /// of the observation block).
    #[must_use]
    pub fn n_observed_steps(&self) -> usize {
        self.n_observed_steps
    }

    /// Number of transitions `Σ_j (T_j − 1)`.
    #[must_use]
    pub fn n_transitions(&self) -> usize {
        self.n_transitions
    }

    /// `Σ_j E[x_0]`.
    #[must_use]
    pub fn sum_x0(&self) -> &[f64] {
        &self.sum_x0
    }

    /// `Σ_j E[x_0 x_0ᵀ]`.
    #[must_use]
    pub fn sum_x0x0(&self) -> MatRef<'_, f64> {
        self.sum_x0x0.as_ref()
    }

    /// `Σ_j E[x_{T_j-1} x_{T_j-1}ᵀ]`.
    #[must_use]
    pub fn sum_xx_last(&self) -> MatRef<'_, f64> {
        self.sum_xx_last.as_ref()
    }

    /// `Σ` over all steps of `E[x_k x_kᵀ]`.
    #[must_use]
    pub fn sum_xx(&self) -> MatRef<'_, f64> {
        self.sum_xx.as_ref()
    }

    /// `Σ E[x_k x_kᵀ]` over the steps with at least one observed value
    /// (`Sxx` of the M-step: the Gram matrix of the observation block).
    #[must_use]
    pub fn sum_xx_observed(&self) -> MatRef<'_, f64> {
        self.sum_xx_observed.as_ref()
    }

    /// `Σ_{k≥1} E[x_k x_{k-1}ᵀ]` (`C` of the M-step, unnormalised).
    #[must_use]
    pub fn sum_cross(&self) -> MatRef<'_, f64> {
        self.sum_cross.as_ref()
    }

    /// `Σ_k E[y_k x_kᵀ]` (`B` of the M-step, unnormalised; p x n).
    #[must_use]
    pub fn sum_yx(&self) -> MatRef<'_, f64> {
        self.sum_yx.as_ref()
    }

    /// `Σ_k E[y_k y_kᵀ]` (`D` of the M-step, unnormalised; p x p).
    #[must_use]
    pub fn sum_yy(&self) -> MatRef<'_, f64> {
        self.sum_yy.as_ref()
    }

    /// `Σ_{k≥1} E[x_k] ũ_kᵀ` with `ũ_k = [u_k; 1]` (n x (m+1)).
    #[must_use]
    pub fn sum_x_u(&self) -> MatRef<'_, f64> {
        self.inputs.target_u.as_ref()
    }

    /// `Σ_{k≥1} E[x_{k-1}] ũ_kᵀ` (n x (m+1)).
    #[must_use]
    pub fn sum_xprev_u(&self) -> MatRef<'_, f64> {
        self.inputs.state_u.as_ref()
    }

    /// `Σ_{k≥1} ũ_k ũ_kᵀ` ((m+1) x (m+1)).
    #[must_use]
    pub fn sum_uu(&self) -> MatRef<'_, f64> {
        self.inputs.uu.as_ref()
    }

    /// `Σ E[x_k] ũ_kᵀ` over the steps with an observed value (n x (m+1)).
    #[must_use]
    pub fn sum_x_u_observed(&self) -> MatRef<'_, f64> {
        self.inputs.observed_state_u.as_ref()
    }

    /// `Σ E[y_k] ũ_kᵀ` over the steps with an observed value (p x (m+1)).
    #[must_use]
    pub fn sum_y_u(&self) -> MatRef<'_, f64> {
        self.inputs.observed_y_u.as_ref()
    }

    /// `Σ ũ_k ũ_kᵀ` over the steps with an observed value.
    #[must_use]
    pub fn sum_uu_observed(&self) -> MatRef<'_, f64> {
        self.inputs.observed_uu.as_ref()
    }

    /// The blocks (of `A`, `Q`, `H`, `R`) that some sequence of these
    /// statistics gave as time-varying.
    #[must_use]
    pub fn time_varying(&self) -> LearnSet {
        self.time_varying
    }

    /// `Σ_{k≥1} E[x_k x_kᵀ]` (`Σ` of the M-step, unnormalised).
    #[must_use]
    pub fn sigma(&self) -> Mat<f64> {
        &self.sum_xx - &self.sum_x0x0
    }

    /// `Σ_{k≤T-2} E[x_k x_kᵀ]` (`Φ` of the M-step, unnormalised).
    #[must_use]
    pub fn phi(&self) -> Mat<f64> {
        &self.sum_xx - &self.sum_xx_last
    }

    /// The transition regression's cross moment and Gram matrix (see
    /// [`super::weighted`]): `Σ E[x_k z_kᵀ]` and `Σ E[z_k z_kᵀ]`,
    /// `z_k = [x_{k−1}; ũ_k]`.
    pub(super) fn transition_regression(&self) -> (Mat<f64>, Mat<f64>) {
        (
            join_columns(self.sum_cross(), self.sum_x_u()),
            join_gram(self.phi().as_ref(), self.sum_xprev_u(), self.sum_uu()),
        )
    }

    /// The same for the observation regression (steps with an observed
    /// value): `Σ E[y_k z_kᵀ]` and `Σ E[z_k z_kᵀ]`, `z_k = [x_k; ũ_k]`.
    pub(super) fn observation_regression(&self) -> (Mat<f64>, Mat<f64>) {
        (
            join_columns(self.sum_yx(), self.sum_y_u()),
            join_gram(
                self.sum_xx_observed(),
                self.sum_x_u_observed(),
                self.sum_uu_observed(),
            ),
        )
    }

    /// The usual sums of the transition regression (target `x_k`, state
    /// `x_{k-1}`, k ≥ 1): `Σ`, `C`, `Φ` and the input sums.
    pub(super) fn transition_moments(&self) -> Moments {
        Moments {
            second: self.sigma(),
            cross: self.sum_cross.clone(),
            gram: self.phi(),
            target_u: self.inputs.target_u.clone(),
            state_u: self.inputs.state_u.clone(),
        }
    }

    /// The usual sums of the observation regression (target `y_k`, state
    /// `x_k`, over the steps with an observed value).
    pub(super) fn observation_moments(&self) -> Moments {
        Moments {
            second: self.sum_yy.clone(),
            cross: self.sum_yx.clone(),
            gram: self.sum_xx_observed.clone(),
            target_u: self.inputs.observed_y_u.clone(),
            state_u: self.inputs.observed_state_u.clone(),
        }
    }

    /// Adds `other` into `self`.
    ///
    /// # Errors
    /// [`StateSpaceError::StatisticsDimension`] if the dimensions differ,
    /// [`StateSpaceError::StatisticsInputs`] if the input dimensions do.
    pub fn try_merge(&mut self, other: &Self) -> Result<()> {
        if self.state_dim() != other.state_dim() || self.obs_dim() != other.obs_dim() {
            return Err(StateSpaceError::StatisticsDimension {
                stats_state: other.state_dim(),
                stats_obs: other.obs_dim(),
                state: self.state_dim(),
                obs: self.obs_dim(),
            });
        }
        if self.input_dim() != other.input_dim() {
            return Err(StateSpaceError::StatisticsInputs {
                stats_inputs: other.input_dim(),
                inputs: self.input_dim(),
            });
        }
        self.n_sequences += other.n_sequences;
        self.n_steps += other.n_steps;
        self.n_observed_steps += other.n_observed_steps;
        self.n_transitions += other.n_transitions;
        for (a, b) in self.sum_x0.iter_mut().zip(&other.sum_x0) {
            *a += b;
        }
        self.sum_x0x0 += &other.sum_x0x0;
        self.sum_xx_last += &other.sum_xx_last;
        self.sum_xx += &other.sum_xx;
        self.sum_xx_observed += &other.sum_xx_observed;
        self.sum_cross += &other.sum_cross;
        self.sum_yx += &other.sum_yx;
        self.sum_yy += &other.sum_yy;
        self.inputs.add(&other.inputs);
        self.time_varying = other.time_varying.iter().fold(self.time_varying, LearnSet::with);
        add_optional(
            &mut self.given_transition,
            other.given_transition.as_ref(),
            GivenSums::add,
        );
        add_optional(
            &mut self.given_observation,
            other.given_observation.as_ref(),
            GivenSums::add,
        );
        add_optional(
            &mut self.weighted_transition,
            other.weighted_transition.as_ref(),
            WeightedSums::add,
        );
        add_optional(
            &mut self.weighted_observation,
            other.weighted_observation.as_ref(),
            WeightedSums::add,
        );
        Ok(())
    }

    /// Adds `other` into `self`.
    ///
    /// # Panics
    /// If the dimensions differ (statistics of different models); use
    /// [`Self::try_merge`] to get an error instead.
    pub fn merge(&mut self, other: &Self) {
        self.try_merge(other)
            .expect("merging sufficient statistics of different dimensions");
    }

    /// True when every value is finite.
    pub(super) fn all_finite(&self) -> bool {
        self.sum_x0.iter().all(|v| v.is_finite())
            && self
                .matrices()
                .into_iter()
                .chain(self.given().flat_map(GivenSums::matrices))
                .chain(self.weighted().flat_map(WeightedSums::matrices))
                .all(|m| (0..m.ncols()).all(|j| (0..m.nrows()).all(|i| m[(i, j)].is_finite())))
    }

    /// The residual sums present (transition, then observation).
    fn given(&self) -> impl Iterator<Item = &GivenSums> {
        self.given_transition.iter().chain(&self.given_observation)
    }

    /// The weighted sums present (transition, then observation).
    fn weighted(&self) -> impl Iterator<Item = &WeightedSums> {
        self.weighted_transition.iter().chain(&self.weighted_observation)
    }
}

/// `mine += other` for optional sums (absent is zero), `add` the sum of
/// two present ones.
fn add_optional<T: Clone>(mine: &mut Option<T>, other: Option<&T>, add: impl FnOnce(&mut T, &T)) {
    match (mine.as_mut(), other) {
        (Some(sums), Some(other)) => add(sums, other),
        (None, Some(other)) => *mine = Some(other.clone()),
        (_, None) => {}
    }
}

const FLAT_TAG: u32 = tag(*b"LGSS");
const FLAT_VERSION: u32 = 3;

/// The fields of the transition's and the observation's [`GivenSums`] in
/// the flat form.
const GIVEN_FIELDS: [[&str; 7]; 2] = [
    [
        "sum of E[z_k z_k'], z_k = x_k - A_k x_k-1",
        "sum of E[z_k] u_k', z_k = x_k - A_k x_k-1",
        "sum of E[x_k x_k'] over sequences with A_k",
        "sum of E[x_k x_k-1'] over sequences with A_k",
        "sum of E[x_k-1 x_k-1'] over sequences with A_k",
        "sum of E[x_k] u_k' over sequences with A_k",
        "sum of E[x_k-1] u_k' over sequences with A_k",
    ],
    [
        "sum of E[z_k z_k'], z_k = y_k - H_k x_k",
        "sum of E[z_k] u_k', z_k = y_k - H_k x_k",
        "sum of E[y_k y_k'] over sequences with H_k",
        "sum of E[y_k x_k'] over sequences with H_k",
        "sum of E[x_k x_k'] over sequences with H_k",
        "sum of E[y_k] u_k' over sequences with H_k",
        "sum of E[x_k] u_k' over sequences with H_k",
    ],
];

/// The fields of the transition's and the observation's [`WeightedSums`]
/// in the flat form.
const WEIGHTED_FIELDS: [[&str; 4]; 2] = [
    [
        "sum of G_k kron inv(Q_k) over sequences with Q_k",
        "sum of inv(Q_k) C_k over sequences with Q_k",
        "sum of G_k over sequences with Q_k",
        "sum of C_k over sequences with Q_k",
    ],
    [
        "sum of G_k kron inv(R_k) over sequences with R_k",
        "sum of inv(R_k) C_k over sequences with R_k",
        "sum of G_k over sequences with R_k",
        "sum of C_k over sequences with R_k",
    ],
];

impl SufficientStats {
    /// Every matrix of the statistics, in the order of the flat form (after
    /// `Σ_j E[x_0]`).
    fn matrices(&self) -> [&Mat<f64>; 13] {
        let [a, b, c, d, e, f] = self.inputs.matrices();
        [
            &self.sum_x0x0,
            &self.sum_xx_last,
            &self.sum_xx,
            &self.sum_xx_observed,
            &self.sum_cross,
            &self.sum_yx,
            &self.sum_yy,
            a,
            b,
            c,
            d,
            e,
            f,
        ]
    }
}

impl FlatStats for SufficientStats {
    fn write_flat(&self, out: &mut Vec<f64>) {
        write_header(out, FLAT_TAG, FLAT_VERSION);
        let counts = [
            self.n_sequences,
            self.n_steps,
            self.n_observed_steps,
            self.n_transitions,
        ];
        for n in [self.state_dim(), self.obs_dim(), self.input_dim()]
            .into_iter()
            .chain(counts)
        {
            write_count(out, n);
        }
        out.extend(
            Param::ALL
                .iter()
                .map(|&b| f64::from(u8::from(self.time_varying.contains(b)))),
        );
        out.extend(&self.sum_x0);
        for m in self
            .matrices()
            .into_iter()
            .chain(self.given().flat_map(GivenSums::matrices))
            .chain(self.weighted().flat_map(WeightedSums::matrices))
        {
            let cols = m.ncols();
            out.extend((0..m.nrows() * cols).map(|i| m[(i / cols, i % cols)]));
        }
    }

    fn read_flat(reader: &mut FlatReader<'_>) -> Result<Self, FlatError> {
        reader.header("state-space statistics", FLAT_TAG, FLAT_VERSION)?;
        let mut dimension = |field: &'static str| match reader.count(field)? {
            0 => Err(FlatError::Shape {
                field,
                value: 0.0,
                requirement: "must be at least 1".into(),
            }),
            v => Ok(v),
        };
        let (n, p) = (dimension("state dimension")?, dimension("observation dimension")?);
        let m = reader.count("input dimension")?;
        let n_sequences = reader.count("sequences")?;
        let n_steps = reader.count("steps")?;
        let n_observed_steps = reader.count("observed steps")?;
        let n_transitions = reader.count("transitions")?;
        let mut time_varying = LearnSet::none();
        for &block in Param::ALL {
            time_varying = time_varying.set(block, reader.code("time-varying flag", 2)? == 1);
        }
        let sum_x0 = reader.take("sum of E[x_0]", &[n])?.to_vec();
        let u = m + 1;
        let mut matrix = |what: &'static str, rows: usize, cols: usize| {
            let v = reader.take(what, &[rows, cols])?;
            Ok::<_, FlatError>(Mat::from_fn(rows, cols, |i, j| v[i * cols + j]))
        };
        let mut stats = Self {
            n_sequences,
            n_steps,
            n_observed_steps,
            n_transitions,
            sum_x0,
            sum_x0x0: matrix("sum of E[x_0 x_0']", n, n)?,
            sum_xx_last: matrix("sum of E[x_last x_last']", n, n)?,
            sum_xx: matrix("sum of E[x_k x_k']", n, n)?,
            sum_xx_observed: matrix("sum of E[x_k x_k'] over observed steps", n, n)?,
            sum_cross: matrix("sum of E[x_k x_k-1']", n, n)?,
            sum_yx: matrix("sum of E[y_k x_k']", p, n)?,
            sum_yy: matrix("sum of E[y_k y_k']", p, p)?,
            inputs: InputStats {
                target_u: matrix("sum of E[x_k] u_k'", n, u)?,
                state_u: matrix("sum of E[x_k-1] u_k'", n, u)?,
                uu: matrix("sum of u_k u_k'", u, u)?,
                observed_state_u: matrix("sum of E[x_k] u_k' over observed steps", n, u)?,
                observed_y_u: matrix("sum of E[y_k] u_k' over observed steps", p, u)?,
                observed_uu: matrix("sum of u_k u_k' over observed steps", u, u)?,
            },
            time_varying,
            given_transition: None,
            given_observation: None,
            weighted_transition: None,
            weighted_observation: None,
        };
        for (block, target, fields) in [(Param::A, n, GIVEN_FIELDS[0]), (Param::H, p, GIVEN_FIELDS[1])] {
            if !time_varying.contains(block) {
                continue;
            }
            let mut sums = GivenSums::zeros(target, n, u);
            for (slot, what) in sums.matrices_mut().into_iter().zip(fields) {
                let (rows, cols) = (slot.nrows(), slot.ncols());
                let v = reader.take(what, &[rows, cols])?;
                *slot = Mat::from_fn(rows, cols, |i, j| v[i * cols + j]);
            }
            match block {
                Param::A => stats.given_transition = Some(sums),
                _ => stats.given_observation = Some(sums),
            }
        }
        for (block, target, fields) in [
            (Param::Q, n, WEIGHTED_FIELDS[0]),
            (Param::R, p, WEIGHTED_FIELDS[1]),
        ] {
            if !time_varying.contains(block) {
                continue;
            }
            let mut sums = WeightedSums::zeros(target, n + u);
            for (slot, what) in sums.matrices_mut().into_iter().zip(fields) {
                let (rows, cols) = (slot.nrows(), slot.ncols());
                let v = reader.take(what, &[rows, cols])?;
                *slot = Mat::from_fn(rows, cols, |i, j| v[i * cols + j]);
            }
            match block {
                Param::Q => stats.weighted_transition = Some(sums),
                _ => stats.weighted_observation = Some(sums),
            }
        }
        Ok(stats)
    }

    /// n, p and m.
    fn shape(&self) -> Vec<usize> {
        vec![self.state_dim(), self.obs_dim(), self.input_dim()]
    }

    fn merge(&mut self, other: &Self) {
        Self::merge(self, other);
    }
}

impl std::ops::AddAssign<&SufficientStats> for SufficientStats {
    /// As [`SufficientStats::merge`] (panics on a dimension mismatch).
    fn add_assign(&mut self, other: &SufficientStats) {
        self.merge(other);
    }
}
