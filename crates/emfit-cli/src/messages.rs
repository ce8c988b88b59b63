//! Model errors in the program's words: the model crates count from 1 but
//! do not know the data file; the program names the file and gives the
//! position of an impossible observation both in its sequence and in the
//! file.

use em_driver::hmm::HmmError;
use em_driver::mixture::MixtureError;
use em_driver::{FitError, ModelError};

use crate::error::CliError;
use crate::input::{Loaded, Place};

/// A model error on `data`: the errors that point at a row or a sequence of
/// the data say where, 1-based, with the file's name; the others as the
/// model crate says them.
///
/// `data` may be one rank's part of the file: the rows and sequences named
/// are the file's ([`crate::input::Place`]).
pub fn on_data(data: &Loaded, error: ModelError) -> CliError {
    let file = data.path.display();
    let place = data.place;
    match error {
        ModelError::Mixture(MixtureError::ZeroLikelihood { row }) => CliError::Reworded(format!(
            "{file}: row {} has zero likelihood under every component of the model (too far from all of them): the data are impossible under the model",
            place.first_row + row + 1
        )),
        ModelError::Hmm(HmmError::ZeroLikelihood { sequence, time }) => {
            let first_row: usize = place.first_row + data.lengths.iter().take(sequence).sum::<usize>();
            CliError::Reworded(format!(
                "{file}: sequence {} has probability zero under the model (no state path produces it); first impossible observation: position {} of the sequence, row {} of the data",
                place.first_sequence + sequence + 1,
                time + 1,
                first_row + time + 1
            ))
        }
        ModelError::Hmm(e) => CliError::Model(Box::new(ModelError::Hmm(in_file(e, place)))),
        ModelError::StateSpace(e) => match data.time_varying.reword(&e, &data.lengths) {
            Some(message) => CliError::Reworded(message),
            None => CliError::Model(Box::new(ModelError::StateSpace(e))),
        },
        other => CliError::Model(Box::new(other)),
    }
}

/// An HMM's error on the data at `place` with its sequence and row counted
/// in the file (the model counts from the data it was given: one rank's
/// part, one chunk of a streamed file).
fn in_file(error: HmmError, place: Place) -> HmmError {
    let (rows, sequences) = (place.first_row, place.first_sequence);
    match error {
        HmmError::NonFinite {
            sequence,
            time,
            row,
            col,
            value,
        } => HmmError::NonFinite {
            sequence: sequences + sequence,
            time,
            row: rows + row,
            col,
            value,
        },
        HmmError::SymbolOutOfRange {
            sequence,
            time,
            row,
            value,
            n_symbols,
        } => HmmError::SymbolOutOfRange {
            sequence: sequences + sequence,
            time,
            row: rows + row,
            value,
            n_symbols,
        },
        HmmError::InvalidCount {
            sequence,
            time,
            row,
            col,
            value,
        } => HmmError::InvalidCount {
            sequence: sequences + sequence,
            time,
            row: rows + row,
            col,
            value,
        },
        HmmError::InvalidLogLikelihood { row, state, value } => HmmError::InvalidLogLikelihood {
            row: rows + row,
            state,
            value,
        },
        HmmError::NumericalFailure { sequence } => HmmError::NumericalFailure {
            sequence: sequences + sequence,
        },
        other => other,
    }
}

/// A failed fit: the model's error of a failed initialisation or step said
/// as [`on_data`] says it, in the loop's sentence; the loop's own errors as
/// they are.
pub fn fit_error<E>(data: &Loaded, error: FitError<E>) -> CliError
where
    E: Into<ModelError> + std::error::Error + Send + Sync + 'static,
{
    match error {
        FitError::Init {
            restart,
            seed,
            source,
        } => CliError::Reworded(format!(
            "initialisation of restart {restart} (seed {seed:#018x}) failed: {}",
            on_data(data, source.into())
        )),
        FitError::Step {
            restart,
            iteration,
            step,
            source,
        }
        // The part of this rank under mpirun, which `data` holds.
        | FitError::Part {
            restart,
            iteration,
            step,
            source,
            ..
        } => CliError::Reworded(format!(
            "{step} of iteration {iteration} (restart {restart}) failed: {}",
            on_data(data, source.into())
        )),
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use em_driver::faer::Mat;

    use super::*;
    use crate::time_varying::TimeVaryingFiles;

    fn loaded(lengths: Vec<usize>) -> Loaded {
        let rows = lengths.iter().sum();
        Loaded {
            path: "obs.csv".into(),
            place: crate::input::Place::whole(rows),
            data: Mat::zeros(rows, 1),
            lengths,
            inputs: None,
            time_varying: TimeVaryingFiles::default(),
        }
    }

    #[test]
    fn positions_are_one_based_with_the_file() {
        let data = loaded(vec![4, 5]);
        let e = on_data(&data, HmmError::ZeroLikelihood { sequence: 1, time: 2 }.into()).to_string();
        assert!(
            e.contains("obs.csv: sequence 2 ") && e.contains("position 3 of the sequence, row 7 of the data"),
            "{e}"
        );
        let e = on_data(&data, MixtureError::ZeroLikelihood { row: 0 }.into()).to_string();
        assert!(e.starts_with("obs.csv: row 1 has zero likelihood"), "{e}");
    }

    #[test]
    fn an_emission_error_names_its_state_from_1() {
        let source = || MixtureError::NoComponents;
        let e = crate::error::model(HmmError::Mixture {
            state: Some(0),
            source: source(),
        })
        .to_string();
        assert!(e.starts_with("emission of state 1: "), "{e}");
        let e = crate::error::model(HmmError::Mixture {
            state: None,
            source: source(),
        })
        .to_string();
        assert!(
            e.starts_with("emission (all states): ") && !e.contains("None"),
            "{e}"
        );
    }
}
