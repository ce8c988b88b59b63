//! The last point of a fit at the iteration cap is evaluated by
//! `EmModel::log_likelihood` alone (no M-step follows it, so its statistics
//! would be thrown away), and the history is the same as if the E-step had
//! evaluated it: the cap only cuts it.

use std::sync::atomic::{AtomicUsize, Ordering};

use em_core::{Acceleration, Convergence, EStep, EmModel, Start, Termination, fit};
use rand::Rng;

mod toy;
use toy::*;

/// How often each pass ran.
#[derive(Default)]
struct Tally {
    e_steps: AtomicUsize,
    log_likelihoods: AtomicUsize,
}

/// The toy, counting its passes in the tally that comes with the data.
#[derive(Debug, Clone, PartialEq)]
struct Counted(Toy);

impl EmModel for Counted {
    type Data<'a> = (&'a [f64], &'a Tally);
    type Stats = ToyStats;
    type Options = ();
    type InitConfig = Sabotage;
    type Diagnostics = ToyDiag;
    type Error = ToyError;

    fn e_step(&self, (x, tally): Self::Data<'_>) -> Result<EStep<ToyStats>, ToyError> {
        tally.e_steps.fetch_add(1, Ordering::Relaxed);
        self.0.e_step(x)
    }

    fn log_likelihood(&self, (x, tally): Self::Data<'_>) -> Result<f64, ToyError> {
        tally.log_likelihoods.fetch_add(1, Ordering::Relaxed);
        self.0.e_step(x).map(|e| e.log_likelihood)
    }

    fn m_step(&self, s: &ToyStats, o: &()) -> Result<(Self, ToyDiag), ToyError> {
        self.0.m_step(s, o).map(|(m, d)| (Counted(m), d))
    }

    fn init_from_data<R: Rng + ?Sized>(
        (x, _): Self::Data<'_>,
        config: &Sabotage,
        rng: &mut R,
    ) -> Result<Self, ToyError> {
        Toy::init_from_data(x, config, rng).map(Counted)
    }

    fn flat_parameters(&self, o: &()) -> Option<Vec<f64>> {
        self.0.flat_parameters(o)
    }

    fn with_flat_parameters(&self, flat: &[f64], o: &()) -> Option<Self> {
        self.0.with_flat_parameters(flat, o).map(Counted)
    }
}

#[test]
fn at_the_cap_the_last_point_is_evaluated_without_statistics_and_the_history_is_unchanged() {
    let x = data_with_means(11, 400, 0.0, 1.0);
    for acceleration in [Acceleration::None, Acceleration::squarem()] {
        let run = |cap: usize| {
            let tally = Tally::default();
            let settings = settings()
                .convergence(Convergence::FixedIterations)
                .acceleration(acceleration)
                .max_iterations(cap)
                .build()
                .unwrap();
            let fitted = fit((&x[..], &tally), Start::Warm(Counted(start())), &(), &settings).unwrap();
            (fitted, tally)
        };
        let (short, tally) = run(5);
        assert_eq!(short.report.termination, Termination::IterationCap);
        let (long, _) = run(12);
        let (a, b) = (short.report.history.clone(), long.report.history.clone());
        assert_eq!(a.len(), 6);
        // Bit for bit: the cap cuts the history, it does not change it.
        assert_eq!(a[..], b[..6], "{acceleration:?}");
        if acceleration == Acceleration::None {
            // Plain EM: an E-step for each of the 5 points an M-step starts
            // from, the log-likelihood alone for the last. (SQUAREM may end
            // on an extrapolation, which its safeguard evaluates fully.)
            assert_eq!(tally.e_steps.load(Ordering::Relaxed), 5);
            assert_eq!(tally.log_likelihoods.load(Ordering::Relaxed), 1);
        }
    }
}

#[test]
fn a_cap_of_zero_evaluates_the_start_alone() {
    let x = data(3, 100);
    let tally = Tally::default();
    let settings = settings().max_iterations(0).build().unwrap();
    let fitted = fit((&x[..], &tally), Start::Warm(Counted(start())), &(), &settings).unwrap();
    assert_eq!(fitted.report.history.len(), 1);
    assert_eq!(tally.e_steps.load(Ordering::Relaxed), 0);
    assert_eq!(tally.log_likelihoods.load(Ordering::Relaxed), 1);
}
