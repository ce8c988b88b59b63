//! The executor of a distributed fit: [`Ranks`] for the E-steps, and an
//! initialisation on a sample that every rank holds (so that
//! [`Start::FromData`](em_driver::em_core::Start::FromData) and restarts
//! work as in one process), and the agreement of the ranks on a step of
//! their own.

use em_driver::em_core::rand::rngs::StdRng;
use em_driver::em_core::{Collective, EStep, EmModel, Executor, FlatStats, PartError, Ranks};

/// [`Ranks`] over this rank's part, initialising on `sample`: the same
/// data on every rank (e.g. [`crate::seeded_sample`] or
/// [`crate::seeded_sequences`]), so that every rank draws the same initial
/// model from the restart's seed, and restarts run one after another on
/// every rank. With the whole data set as the sample, the start is the
/// single-process fit's. Without a sample, only warm starts fit (as with
/// [`Ranks`]).
pub struct Distributed<'d, M: EmModel, C: Collective> {
    ranks: Ranks<'d, M, C>,
    sample: Option<M::Data<'d>>,
}

impl<'d, M: EmModel, C: Collective> Distributed<'d, M, C>
where
    M::Stats: FlatStats,
{
    /// The executor of this rank: its `part` (`None` when it has no data),
    /// and the `sample` every rank initialises on (`None` for warm starts
    /// only).
    pub fn new(part: Option<M::Data<'d>>, sample: Option<M::Data<'d>>, collective: &'d C) -> Self {
        Self {
            ranks: Ranks::new(part, collective),
            sample,
        }
    }
}

impl<M: EmModel, C: Collective> Executor<M> for Distributed<'_, M, C>
where
    M::Stats: FlatStats,
{
    fn e_step(&self, model: &M) -> Result<EStep<M::Stats>, PartError<M::Error>> {
        self.ranks.e_step(model)
    }

    fn log_likelihood(&self, model: &M) -> Result<f64, PartError<M::Error>> {
        self.ranks.log_likelihood(model)
    }

    fn init_from_data(&self, config: &M::InitConfig, rng: &mut StdRng) -> Option<Result<M, M::Error>> {
        self.sample.map(|sample| M::init_from_data(sample, config, rng))
    }

    fn parallel_restarts(&self) -> bool {
        self.ranks.parallel_restarts()
    }

    fn any_process(&self, local: u8) -> u8 {
        self.ranks.any_process(local)
    }
}

/// This rank's `local` result when every rank succeeded, else on every rank
/// the first failing rank's message, as `rank R: message` (just the message
/// when every rank failed with the same one, as a usage error does): every
/// rank stops together, with one message.
///
/// # Errors
/// The message of the first rank (in rank order) whose `local` failed.
pub fn agree<C: Collective + ?Sized, T>(collective: &C, local: Result<T, String>) -> Result<T, String> {
    let status: Vec<u8> = match &local {
        Ok(_) => vec![0],
        Err(message) => std::iter::once(1).chain(message.bytes()).collect(),
    };
    let all = collective.all_gather(&status);
    let failures: Vec<(usize, String)> = (all.iter().enumerate())
        .filter_map(|(rank, bytes)| match bytes.split_first() {
            Some((0, [])) => None,
            Some((1, message)) => Some((rank, String::from_utf8_lossy(message).into_owned())),
            _ => Some((
                rank,
                format!("a status of {} bytes that is no status", bytes.len()),
            )),
        })
        .collect();
    match failures.first() {
        None => local,
        Some((_, message)) if failures.len() == all.len() && failures.iter().all(|(_, m)| m == message) => {
            Err(message.clone())
        }
        Some((rank, message)) => Err(format!("rank {rank}: {message}")),
    }
}

#[cfg(test)]
mod tests {
    use em_driver::em_core::ranks::on_threads;
    use em_driver::em_core::{NoopObserver, Settings, Start, fit, fit_with};
    use em_driver::faer::Mat;
    use em_driver::mixture::{CovarianceType, GaussianMixture, InitConfig, MStepOptions};

    use super::*;
    use crate::{gaussian_clusters, rows_of, seeded_sample};

    #[test]
    fn restarts_from_a_sample_of_all_the_rows_are_the_single_process_fit() {
        let x: Mat<f64> = gaussian_clusters(0..600, 2, 3, 11);
        let options = MStepOptions::default();
        let settings = Settings::builder().restarts(3).seed(5).build().unwrap();
        let config = InitConfig::new(3, CovarianceType::Diagonal);
        let single = fit(
            x.as_ref(),
            Start::<GaussianMixture>::FromData(config.clone()),
            &options,
            &settings,
        )
        .unwrap();
        let want = single.model.flat_parameters(&options).unwrap();
        let fits = on_threads(4, |collective| {
            let rows = rows_of(collective.rank(), 4, x.nrows());
            let part = x.as_ref().subrows(rows.start, rows.len());
            let sample = seeded_sample(collective, part, rows.start, 1000, 5).unwrap();
            let executor =
                Distributed::<GaussianMixture, _>::new(Some(part), Some(sample.as_ref()), collective);
            let start = Start::FromData(config.clone());
            fit_with(&executor, start, &options, &settings, &mut NoopObserver).unwrap()
        });
        for fit in &fits {
            assert_eq!(fit.report.restarts.len(), 3);
            assert_eq!(fit.report.best_restart, single.report.best_restart);
            let got = fit.model.flat_parameters(&options).unwrap();
            for (a, b) in got.iter().zip(&want) {
                assert!((a - b).abs() <= 1e-10 * b.abs().max(1.0), "{a} vs {b}");
            }
            assert_eq!(got, fits[0].model.flat_parameters(&options).unwrap());
        }
    }

    #[test]
    fn the_first_failing_rank_is_every_rank_s_error() {
        let results = on_threads(3, |collective| {
            let local = match collective.rank() {
                0 => Ok(0),
                r => Err(format!("bad row on {r}")),
            };
            agree(collective, local)
        });
        assert!(
            results
                .iter()
                .all(|r| r.as_ref().unwrap_err() == "rank 1: bad row on 1")
        );
        let results = on_threads(2, |collective| {
            agree(collective, Ok::<_, String>(collective.rank()))
        });
        assert_eq!(results, [Ok(0), Ok(1)]);
        // The same error on every rank is said once, without a rank.
        let results = on_threads(3, |collective| {
            agree(collective, Err::<(), _>("no file".to_string()))
        });
        assert!(results.iter().all(|r| r.as_ref().unwrap_err() == "no file"));
        // Different errors: the first rank's.
        let results = on_threads(2, |collective| {
            agree(
                collective,
                Err::<(), _>(format!("bad row on {}", collective.rank())),
            )
        });
        assert!(
            results
                .iter()
                .all(|r| r.as_ref().unwrap_err() == "rank 0: bad row on 0")
        );
    }
}
