//! An HMM fitted on ranks (threads standing in for processes, no MPI
//! needed): each rank holds the whole sequences `sequences_of` gives it,
//! and every rank ends with the fit of the same split in one process, bit
//! for bit, and the single-process fit to 1e-10.

use em_driver::em_core::ranks::on_threads;
use em_driver::em_core::{Collective, NoopObserver, Parts, Ranks, Settings, Start, Tolerance, fit, fit_with};
use em_driver::hmm::{GmmHmm, Sequences, scenario};
use em_driver::{Acceleration, EmModel};
use emfit_mpi::sequences_of;

/// The rows of sequences `range` of `data` as their own sequences.
fn part<'a>(
    x: em_driver::faer::MatRef<'a, f64>,
    lengths: &[usize],
    range: std::ops::Range<usize>,
) -> Sequences<'a> {
    let first: usize = lengths[..range.start].iter().sum();
    let rows: usize = lengths[range.clone()].iter().sum();
    Sequences::new(x.subrows(first, rows), &lengths[range]).unwrap()
}

#[test]
fn an_hmm_on_ranks_is_the_fit_of_the_same_sequences_in_one_process() {
    let data = scenario::sample_with(3, 40, 7).unwrap();
    let (x, lengths) = (data.x.as_ref(), &data.lengths[..]);
    let options = scenario::m_step_options();
    let settings = Settings::builder()
        .acceleration(Acceleration::None)
        .max_iterations(15)
        .tolerance(Tolerance::absolute(0.0))
        .build()
        .unwrap();
    let start = scenario::true_model();
    let whole = fit(
        &data.sequences().unwrap(),
        Start::Warm(start.clone()),
        &options,
        &settings,
    )
    .unwrap();
    let want = whole.model.flat_parameters(&options).unwrap();
    for ranks in [2, 3, 5] {
        let parts: Vec<Sequences<'_>> = (0..ranks)
            .map(|r| sequences_of(r, ranks, lengths))
            .filter(|range| !range.is_empty())
            .map(|range| part(x, lengths, range))
            .collect();
        let same_split = fit_with(
            &Parts::<GmmHmm>::new(parts.iter().collect()).unwrap(),
            Start::Warm(start.clone()),
            &options,
            &settings,
            &mut NoopObserver,
        )
        .unwrap();
        let fits = on_threads(ranks, |collective| {
            let range = sequences_of(collective.rank(), ranks, lengths);
            let mine = (!range.is_empty()).then(|| part(x, lengths, range));
            let executor = Ranks::<GmmHmm, _>::new(mine.as_ref(), collective);
            fit_with(
                &executor,
                Start::Warm(start.clone()),
                &options,
                &settings,
                &mut NoopObserver,
            )
            .unwrap()
        });
        for fit in &fits {
            let got = fit.model.flat_parameters(&options).unwrap();
            assert_eq!(
                got,
                same_split.model.flat_parameters(&options).unwrap(),
                "{ranks} ranks"
            );
            assert_eq!(fit.report.history, same_split.report.history);
            for (a, b) in got.iter().zip(&want) {
                assert!(
                    (a - b).abs() <= 1e-10 * b.abs().max(1.0),
                    "{ranks} ranks: {a} vs {b}"
                );
            }
        }
    }
}
