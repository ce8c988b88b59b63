//! [`Ranks`] over threads standing in for processes ([`on_threads`]): every rank ends with [`Parts`]' fit of the non-empty
//! parts bit for bit, a failed part stops every rank with one error, and a
//! stop on one rank stops all at the same iteration.

mod toy;

use em_core::ranks::on_threads;
use em_core::{
    Collective, Control, Fit, FitError, IterationEvent, NoopObserver, Observer, Parts, Ranks, Settings,
    Start, Step, Termination, fit_with,
};
use toy::{Toy, ToyError, data, settings, start};

/// Stops its rank's fit at iteration `at` (or never).
struct StopAt(Option<usize>);

impl Observer<Toy> for StopAt {
    fn on_iteration(&mut self, event: &IterationEvent<'_, Toy>) -> Control {
        if Some(event.iteration) == self.0 {
            Control::Stop
        } else {
            Control::Continue
        }
    }
}

/// The fit of every rank, rank `r` holding `parts[r]` and stopping at
/// `stops[r]`.
fn fit_on_ranks(
    parts: &[Option<&[f64]>],
    stops: &[Option<usize>],
    settings: &Settings,
) -> Vec<Result<Fit<Toy>, FitError<ToyError>>> {
    on_threads(parts.len(), |collective| {
        let rank = collective.rank();
        let executor = Ranks::<Toy, _>::new(parts[rank], collective);
        fit_with(
            &executor,
            Start::Warm(start()),
            &(),
            settings,
            &mut StopAt(stops[rank]),
        )
    })
}

fn bits(fit: &Fit<Toy>) -> Vec<u64> {
    let m = &fit.model;
    (m.w.iter().chain(&m.mu).chain(&m.var).chain(&fit.report.history))
        .map(|v| v.to_bits())
        .collect()
}

fn fixed_iterations(n: usize) -> Settings {
    settings()
        .max_iterations(n)
        .tolerance(em_core::Tolerance::absolute(0.0))
        .build()
        .unwrap()
}

#[test]
fn every_rank_ends_with_the_fit_of_the_parts_in_rank_order() {
    let x = data(11, 400);
    let settings = fixed_iterations(12);
    let parts = [Some(&x[..150]), None, Some(&x[150..151]), Some(&x[151..]), None];
    let want = fit_with(
        &Parts::<Toy>::new(parts.iter().flatten().copied().collect()).unwrap(),
        Start::Warm(start()),
        &(),
        &settings,
        &mut NoopObserver,
    )
    .unwrap();
    let fits = fit_on_ranks(&parts, &[None; 5], &settings);
    for (rank, fit) in fits.iter().enumerate() {
        let fit = fit.as_ref().unwrap();
        assert_eq!(bits(fit), bits(&want), "rank {rank}");
    }
    // One rank with everything: the one-piece fit.
    let whole = em_core::fit(&x[..], Start::Warm(start()), &(), &settings).unwrap();
    let alone = fit_on_ranks(&[Some(&x[..])], &[None], &settings);
    assert_eq!(bits(alone[0].as_ref().unwrap()), bits(&whole));
}

#[test]
fn a_failed_part_stops_every_rank_with_one_error() {
    let x = data(12, 100);
    let empty: &[f64] = &[];
    let parts = [Some(&x[..60]), None, Some(empty), Some(&x[60..])];
    let errors: Vec<FitError<ToyError>> = fit_on_ranks(&parts, &[None; 4], &fixed_iterations(5))
        .into_iter()
        .map(|r| r.unwrap_err())
        .collect();
    let message = errors[2].to_string();
    assert!(message.contains("failed in part 2: no data"), "{message}");
    for (rank, err) in errors.iter().enumerate() {
        assert_eq!(err.to_string(), message, "rank {rank}");
        if rank == 2 {
            assert!(
                matches!(
                    err,
                    FitError::Part {
                        part: 2,
                        iteration: 0,
                        step: Step::EStep,
                        source: ToyError::NoData,
                        ..
                    }
                ),
                "{err:?}"
            );
        } else {
            assert!(
                matches!(err, FitError::RemotePart { part: 2, iteration: 0, step: Step::EStep, message, .. } if message == "no data"),
                "rank {rank}: {err:?}"
            );
        }
    }
    // No data anywhere.
    let errors = fit_on_ranks(&[None, None], &[None; 2], &fixed_iterations(5));
    for err in errors {
        let err = err.unwrap_err();
        assert!(err.to_string().contains("no rank holds any data"), "{err}");
    }
}

#[test]
fn a_stop_on_one_rank_stops_every_rank_at_the_same_iteration() {
    let x = data(13, 300);
    let parts = [Some(&x[..100]), Some(&x[100..200]), Some(&x[200..])];
    let fits = fit_on_ranks(&parts, &[None, Some(4), None], &fixed_iterations(30));
    let first = fits[0].as_ref().unwrap();
    assert_eq!(first.report.termination, Termination::StoppedByObserver);
    assert_eq!(first.report.history.len(), 5);
    for fit in &fits {
        let fit = fit.as_ref().unwrap();
        assert_eq!(fit.report.termination, Termination::StoppedByObserver);
        assert_eq!(bits(fit), bits(first));
    }
    // With SQUAREM too (its cycles evaluate several points per iteration).
    let squarem = settings()
        .acceleration(em_core::Acceleration::squarem())
        .max_iterations(30)
        .tolerance(em_core::Tolerance::absolute(0.0))
        .build()
        .unwrap();
    let fits = fit_on_ranks(&parts, &[Some(3), None, None], &squarem);
    let first = fits[0].as_ref().unwrap();
    for fit in &fits {
        assert_eq!(bits(fit.as_ref().unwrap()), bits(first));
    }
}

#[test]
fn every_rank_learns_the_first_failure_of_a_step_of_its_own() {
    let outcomes = on_threads(4, |collective| {
        let local = match collective.rank() {
            1 => Err("data.npy: row 7: NaN".to_string()),
            3 => Err("later".to_string()),
            _ => Ok(()),
        };
        em_core::ranks::all_succeeded(collective, local)
    });
    for outcome in outcomes {
        assert_eq!(outcome, Err((1, "data.npy: row 7: NaN".to_string())));
    }
    let outcomes = on_threads(3, |collective| em_core::ranks::all_succeeded(collective, Ok(())));
    assert!(outcomes.iter().all(Result::is_ok));
}
