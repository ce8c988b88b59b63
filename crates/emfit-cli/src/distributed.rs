//! `emfit fit` under mpirun (cargo feature `mpi`): the fit distributed over
//! the ranks, each reading and evaluating only its own rows.
//!
//! # When
//! A program built with the feature takes itself for a rank of an MPI job
//! when the launcher's variables are set ([`launched_by_mpirun`]: Open
//! MPI's `OMPI_COMM_WORLD_SIZE`, PMIx's `PMIX_RANK`, or the PMI of MPICH's
//! Hydra and of Slurm, `PMI_SIZE`); otherwise `emfit fit` runs as it does
//! without the feature. Only `emfit fit` is distributed: the other commands
//! run whole on every rank.
//!
//! # What each rank does
//! 1. parses the command line as one process does ([`FitRequest::parse_with`]),
//!    reading only its rows of the `.npy` data file ([`read_part`]): a
//!    mixture's rows split as evenly as possible ([`emfit_mpi::rows_of`]),
//!    an HMM's or a state-space model's whole sequences of `--lengths`
//!    ([`emfit_mpi::sequences_of`]); every rank learns whether every rank
//!    could ([`emfit_mpi::agree`]), and a bad value stops all with one
//!    message naming the rank and the row of the file;
//! 2. starts from the `--init` model, or from the family's initialisation
//!    (each restart's) on a seeded sample of `--init-sample` rows that is the
//!    same on every rank and for any number of ranks
//!    ([`emfit_mpi::seeded_sample`], [`emfit_mpi::seeded_sequences`]);
//! 3. fits with the one loop on [`emfit_mpi::Distributed`] (every rank's
//!    E-steps reduced in rank order: the fit of the same split in one
//!    process, bit for bit);
//! 4. rank 0 alone prints the progress and the report (BIC and AIC from
//!    the observations of every rank) and writes the model; an error on any
//!    rank is printed once, by rank 0, and every rank exits with status 1.

use std::path::Path;

use em_driver::io::{self, npy_shape, read_npy_rows};
use em_driver::{FitError, ModelKind, fit_with};
use emfit_mpi::{
    Collective, Distributed, World, agree, rows_of, seeded_sample, seeded_sequences, sequences_of,
};

use crate::args::{DataArgs, FitArgs};
use crate::error::{self, CliError, usage};
use crate::fit::{Family, FitRequest, finish, information_criteria};
use crate::input::{Loaded, Place};
use crate::json;
use crate::messages::fit_error;
use crate::progress::Progress;
use crate::time_varying::TimeVaryingFiles;

/// The launcher's variables that say this process is a rank of an MPI job.
const LAUNCHER_VARIABLES: [&str; 3] = ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"];

/// Whether mpirun (or another MPI launcher) started this process.
pub fn launched_by_mpirun() -> bool {
    LAUNCHER_VARIABLES.iter().any(|v| std::env::var_os(v).is_some())
}

/// `emfit fit` as one rank of an MPI job (see the module documentation).
pub fn run<F: Family>(args: &FitArgs, as_json: bool) -> Result<(), CliError> {
    let world = World::init().ok_or_else(|| {
        usage!("launched by mpirun, but MPI could not be initialised with threads (MPI_THREAD_SERIALIZED)")
    })?;
    let result = fit::<F>(&world, args, as_json);
    if let Err(message) = result {
        if world.rank() == 0 {
            error::print(&CliError::Reworded(message));
        }
        // No rank exits before rank 0 has said why: mpirun ends the job
        // when a rank exits with an error.
        world.all_gather(&[]);
        return Err(CliError::Reported);
    }
    Ok(())
}

/// The fit of this rank; every rank returns the same error.
fn fit<F: Family>(world: &World, args: &FitArgs, as_json: bool) -> Result<(), String> {
    let (rank, ranks) = (world.rank(), world.size());
    let request = FitRequest::<F>::parse_with(args, |data| read_part(data, F::KIND, F::NAME, rank, ranks));
    let request = agree(world, request.map_err(|e| e.to_string()))?;
    let part = &request.data;

    // The sample to initialise on, unless every rank starts from --init.
    let sample = match request.init {
        Some(_) => None,
        None => {
            let sample = sample(world, part, F::KIND, args.init_sample, request.settings.seed());
            Some(agree(world, sample)?)
        }
    };
    let steps = part.time_varying.views();
    let inputs = (|| {
        let mine = (part.x().nrows() > 0)
            .then(|| F::input(part, &steps))
            .transpose()?;
        let sampled = sample.as_ref().map(|s| F::input(s, &steps)).transpose()?;
        Ok::<_, CliError>((mine, sampled))
    })();
    let (mine, sampled) = agree(world, inputs.map_err(|e| e.to_string()))?;
    let (mine, sampled) = (mine.as_ref().map(F::view), sampled.as_ref().map(F::view));
    let start = match (request.init, sampled) {
        (Some(model), _) => Ok(em_driver::Start::Warm(model)),
        (None, Some(sampled)) => {
            F::start(&request.family, sampled, &request.settings).map_err(|e| e.to_string())
        }
        (None, None) => unreachable!("a sample unless --init"),
    };
    let start = agree(world, start)?;

    let executor = Distributed::new(mine, sampled, world);
    let mut progress = Progress::new(request.quiet || as_json || rank != 0);
    let options = F::options(&request.family);
    let fit = match fit_with(&executor, start, &options, &request.settings, &mut progress) {
        Ok(fit) => Ok(Some(fit)),
        // Reported by the rank whose part failed, in the file's rows.
        Err(FitError::RemotePart { .. }) => Ok(None),
        Err(e) => Err(fit_error(part, e).to_string()),
    };
    let fit = agree(world, fit)?.expect("a failed part fails on its own rank");

    // BIC counts the observations of every rank.
    let local = match mine {
        Some(data) => fit.model.observations(data).map_err(|e| e.to_string()),
        None => Ok(0),
    };
    let local = agree(world, local)?;
    let n = world
        .all_gather(&(local as u64).to_le_bytes())
        .iter()
        .map(|bytes| {
            bytes
                .get(..8)
                .map_or(0, |b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
        })
        .sum::<u64>();
    let criteria = fit.model.n_parameters().map(|k| {
        information_criteria(
            fit.report.log_likelihood,
            k,
            usize::try_from(n).unwrap_or(usize::MAX).max(1),
        )
    });
    let written = if rank == 0 {
        let extra = [("ranks", json::json!(ranks))];
        if !(request.quiet || as_json) {
            println!("distributed over {ranks} MPI ranks");
        }
        finish(
            &fit,
            || Ok(criteria),
            request.out.as_deref(),
            request.quiet,
            as_json.then_some(&extra[..]),
        )
        .map_err(|e| e.to_string())
    } else {
        Ok(())
    };
    agree(world, written)
}

/// This rank's rows of the data file (`rank` of `ranks`), for a model of
/// kind `kind` called `name`: rows of a mixture, whole sequences of
/// `--lengths` otherwise. Only a `.npy` file is read by rows; CSV files,
/// `--columns`, `--inputs` and the time-varying matrices of an lgssm are
/// refused under mpirun.
fn read_part(
    args: &DataArgs,
    kind: ModelKind,
    name: &str,
    rank: usize,
    ranks: usize,
) -> Result<Loaded, CliError> {
    let path = &args.data;
    if !io::is_npy(path) {
        return Err(usage!(
            "under mpirun each rank reads its own rows of a .npy file, and --data {} is not one (save it with numpy.save)",
            path.display()
        ));
    }
    let refused = [
        ("--columns", args.columns.is_some()),
        ("--inputs", args.inputs.is_some()),
    ]
    .into_iter()
    .chain(args.matrices.files().map(|(flag, file)| (flag, file.is_some())));
    if let Some((flag, _)) = refused.into_iter().find(|&(_, given)| given) {
        return Err(usage!("{flag} is not supported under mpirun"));
    }
    let (rows, _) = npy_shape(path)?;
    if rows == 0 {
        return Err(CliError::from(io::DataError::Empty { path: path.clone() }));
    }
    let (place, lengths) = if kind.is_mixture() {
        let mine = rows_of(rank, ranks, rows);
        let place = Place {
            rows_in_file: rows,
            first_row: mine.start,
            first_sequence: 0,
        };
        (place, vec![mine.len()])
    } else {
        let lengths_file = args.lengths.as_deref().ok_or_else(|| {
            usage!(
                "under mpirun the ranks of a {name} fit take whole sequences: give them with --lengths FILE (one sequence cannot be split)"
            )
        })?;
        let lengths = read_lengths(lengths_file, rows)?;
        let mine = sequences_of(rank, ranks, &lengths);
        let place = Place {
            rows_in_file: rows,
            first_row: lengths[..mine.start].iter().sum(),
            first_sequence: mine.start,
        };
        (place, lengths[mine].to_vec())
    };
    let local_rows = lengths.iter().sum::<usize>();
    let data = read_npy_rows(path, args.missing, place.first_row..place.first_row + local_rows)?;
    Ok(Loaded {
        path: path.clone(),
        data,
        lengths,
        place,
        inputs: None,
        time_varying: TimeVaryingFiles::default(),
    })
}

/// The lengths of `path`, checked against the `rows` of the data.
fn read_lengths(path: &Path, rows: usize) -> Result<Vec<usize>, CliError> {
    let lengths = io::read_lengths(path)?;
    io::check_lengths(path, &lengths, rows)?;
    Ok(lengths)
}

/// The seeded sample of about `size` rows of every rank's `part` (whole
/// sequences but for a mixture), the same on every rank.
fn sample<C: Collective>(
    collective: &C,
    part: &Loaded,
    kind: ModelKind,
    size: usize,
    seed: u64,
) -> Result<Loaded, String> {
    let place = part.place;
    let (data, lengths) = if kind.is_mixture() {
        let sample = seeded_sample(collective, part.x(), place.first_row, size, seed)?;
        let rows = sample.nrows();
        (sample, vec![rows])
    } else {
        seeded_sequences(
            collective,
            part.x(),
            &part.lengths,
            place.first_sequence,
            size,
            seed,
        )?
    };
    if data.nrows() == 0 {
        return Err(format!(
            "--init-sample {size}: the sample for the initialisation has no rows"
        ));
    }
    Ok(Loaded {
        path: part.path.clone(),
        place: Place::whole(data.nrows()),
        data,
        lengths,
        inputs: None,
        time_varying: TimeVaryingFiles::default(),
    })
}
