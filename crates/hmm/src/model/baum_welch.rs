//! The maths of one Baum-Welch iteration and of the initialisation, behind
//! the [`em_core::EmModel`] implementation of `em.rs`.

use em_core::{Adjustment, EStep, Event};
use faer::Mat;
use rand::Rng;

use super::Hmm;
use super::options::{InitConfig, MStepOptions};
use super::passes::{ChunkOut, Pass};
use super::stats::HmmStats;
use crate::emission::Emission;
use crate::error::HmmError;
use crate::param::{Param, StepDiagnostics};
use crate::probability::map_row;
use crate::sequences::Sequences;

impl<E: Emission> Hmm<E> {
    /// The initialisation of [`em_core::EmModel::init_from_data`] (see
    /// [`InitConfig`]).
    pub(crate) fn initialise<R: Rng + ?Sized>(
        data: &Sequences<'_>,
        config: &InitConfig<E::InitConfig>,
        rng: &mut R,
    ) -> Result<Self, HmmError> {
        let k = config.n_states;
        if k == 0 {
            return Err(HmmError::NoStates);
        }
        let emission = E::init_from_data(data, k, &config.emission, rng)?;
        let start = config.start.clone().unwrap_or_else(|| vec![1.0 / k as f64; k]);
        let transitions = config
            .transitions
            .clone()
            .unwrap_or_else(|| Mat::from_fn(k, k, |_, _| 1.0 / k as f64));
        Self::new(start, transitions.as_ref(), emission)
    }

    /// The E-step of [`em_core::EmModel::e_step`]: the statistics of every
    /// chunk, merged in chunk order.
    pub(crate) fn expectation(&self, data: &Sequences<'_>) -> Result<EStep<HmmStats<E::Stats>>, HmmError> {
        let parts = self.run(data, Pass::Stats)?;
        let mut stats = HmmStats::zero(self.n_states(), self.emission.zero_stats());
        for part in &parts {
            stats.merge(part.stats.as_ref().expect("stats pass"));
        }
        Ok(EStep {
            log_likelihood: total_log_likelihood(&parts),
            stats,
        })
    }

    /// The log-likelihood of [`em_core::EmModel::log_likelihood`]: the
    /// forward pass alone, summed as [`Hmm::expectation`] sums it.
    pub(crate) fn forward_log_likelihood(&self, data: &Sequences<'_>) -> Result<f64, HmmError> {
        Ok(total_log_likelihood(&self.run(data, Pass::Score)?))
    }

    /// The M-step of [`em_core::EmModel::m_step`].
    pub(crate) fn maximise(
        &self,
        stats: &HmmStats<E::Stats>,
        options: &MStepOptions,
    ) -> Result<(Self, StepDiagnostics), HmmError> {
        let k = self.n_states();
        if stats.start.len() != k || stats.transitions.len() != k * k {
            return Err(HmmError::DimensionMismatch {
                what: "statistics states",
                expected: k,
                found: stats.start.len(),
            });
        }
        if !options.covariance_floor.is_valid() {
            return Err(HmmError::InvalidOption {
                what: "covariance floor",
                value: options.covariance_floor.value(),
            });
        }
        let mut diagnostics = StepDiagnostics::default();
        let start = if options.learn.contains(Param::Start) {
            self.updated_start(stats, options)?
        } else {
            self.start.clone()
        };
        let trans = if options.learn.contains(Param::Transitions) {
            self.updated_transitions(stats, options, &mut diagnostics)?
        } else {
            self.trans.clone()
        };
        let (emission, emission_diagnostics) = self.emission.m_step(&stats.emission, options)?;
        diagnostics.absorb(emission_diagnostics);
        Ok((Self::from_valid(start, trans, emission), diagnostics))
    }

    /// `π_j ∝ Σ_seq γ_0(j) + α_j − 1` (the current π without any mass).
    fn updated_start(
        &self,
        stats: &HmmStats<E::Stats>,
        options: &MStepOptions,
    ) -> Result<Vec<f64>, HmmError> {
        let prior = self.start_prior(options)?;
        Ok(map_row(&stats.start, prior, &self.start).unwrap_or_else(|| self.start.clone()))
    }

    /// `A_ij ∝ Σ_seq Σ_t ξ_t(i, j) + α_ij − 1`; a row without expected counts
    /// (a state never left) is kept and reported.
    fn updated_transitions(
        &self,
        stats: &HmmStats<E::Stats>,
        options: &MStepOptions,
        diagnostics: &mut StepDiagnostics,
    ) -> Result<Vec<f64>, HmmError> {
        let k = self.n_states();
        let priors = self.transition_priors(options)?;
        let mut trans = self.trans.clone();
        for i in 0..k {
            let rows = i * k..(i + 1) * k;
            let prior = priors.as_ref().map(|p| p[i].as_slice());
            match map_row(&stats.transitions[rows.clone()], prior, &self.trans[rows.clone()]) {
                Some(row) => trans[rows].copy_from_slice(&row),
                None => diagnostics
                    .push(Event::new(Some(Param::Transitions), Adjustment::KeptWithoutMass).in_state(i)),
            }
        }
        Ok(trans)
    }
}

/// `Σ_s ln p(x_s | θ)`: per chunk, then in chunk order (the one order of
/// every E-step and evaluation, whatever the number of threads).
fn total_log_likelihood<S>(parts: &[ChunkOut<S>]) -> f64 {
    parts
        .iter()
        .fold(0.0, |total, part| total + part.logliks.iter().sum::<f64>())
}
