//! `emfit fit gmm|bgmm|hmm|gmmhmm|categorical-hmm --chunk-rows N`:
//! out-of-core EM, the data file (`.npy` or CSV) read N rows at a time at
//! every E-step ([`em_driver::OutOfCore`]) instead of loaded, so that the
//! memory of a fit is that of two chunks of N rows whatever the size of the
//! file. An HMM's chunks are groups of whole sequences of `--lengths` of
//! about N rows (a sequence longer than N is a chunk of its own), so its
//! memory is that of the largest group.
//!
//! 1. The file is read once in full, every value checked (a bad value, a
//!    short CSV line or a truncated `.npy` file stops here, naming the row or
//!    line and the column of the file; lengths that do not add up to its
//!    rows name the lengths file), its rows counted and, without `--init`, a
//!    seeded sample of `--init-sample` rows drawn across the chunks (the
//!    same for any N; the whole file with enough rows): rows of a mixture,
//!    whole sequences of an HMM.
//! 2. The request is checked as in memory, against the file's rows and
//!    columns (on the sample, which stands for the data).
//! 3. The one loop fits on the executor: the E-steps of the chunks merged in
//!    chunk order, the in-memory fit of the same chunks bit for bit.
//! 4. The report and the model as in memory (BIC and AIC from the file's
//!    rows); a failed fit writes no model file.

use std::num::NonZeroUsize;

use em_driver::faer::Mat;
use em_driver::hmm::{CategoricalHmm, Emission, GaussianHmm, GmmHmm, Hmm};
use em_driver::io::ChunkPlan;
use em_driver::io::read_lengths;
use em_driver::mixture::GaussianMixture;
use em_driver::mixture::variational::VariationalMixture;
use em_driver::{ChunkData, FitError, Layout, ModelFile, OutOfCore, SampleSpec, Start, fit_with};

use crate::args::{FamilyArg, FitArgs};
use crate::error::{CliError, usage};
use crate::fit::{Family, FitRequest, finish, information_criteria};
use crate::input::{Loaded, Place, read_options};
use crate::json;
use crate::messages::fit_error;
use crate::progress::Progress;
use crate::time_varying::TimeVaryingFiles;

/// A family whose data a fit can stream: independent rows, or whole
/// sequences.
trait Streamed: Family + ChunkData {
    /// Whether the data are sequences (of `--lengths`).
    const SEQUENCES: bool;
    /// The free parameters BIC and AIC count; `None` where they are not
    /// defined (see [`Family::criteria`]).
    fn free_parameters(&self) -> Option<usize>;
}

impl Streamed for GaussianMixture {
    const SEQUENCES: bool = false;
    fn free_parameters(&self) -> Option<usize> {
        Some(self.n_parameters())
    }
}

impl Streamed for VariationalMixture {
    const SEQUENCES: bool = false;
    fn free_parameters(&self) -> Option<usize> {
        None
    }
}

impl<E: Emission> Streamed for Hmm<E>
where
    Hmm<E>: Family + ModelFile,
{
    const SEQUENCES: bool = true;
    fn free_parameters(&self) -> Option<usize> {
        Some(self.n_parameters())
    }
}

/// Runs `emfit fit --chunk-rows N` (see the module documentation).
pub fn run(args: &FitArgs, chunk_rows: NonZeroUsize, as_json: bool) -> Result<(), CliError> {
    #[cfg(feature = "mpi")]
    if crate::distributed::launched_by_mpirun() {
        return Err(usage!(
            "--chunk-rows streams the data in one process; under mpirun each rank reads its own rows already"
        ));
    }
    match args.family {
        FamilyArg::Gmm => fit::<GaussianMixture>(args, chunk_rows, as_json),
        FamilyArg::Bgmm => fit::<VariationalMixture>(args, chunk_rows, as_json),
        FamilyArg::Hmm => fit::<GaussianHmm>(args, chunk_rows, as_json),
        FamilyArg::Gmmhmm => fit::<GmmHmm>(args, chunk_rows, as_json),
        // Without --symbols the model's symbols are those of the data, which
        // the sample need not hold all of.
        FamilyArg::CategoricalHmm if args.symbols.is_none() && args.init.is_none() => Err(usage!(
            "--chunk-rows: a categorical-hmm needs --symbols N (or --init): the sample it initialises on need not hold every symbol of the data"
        )),
        FamilyArg::CategoricalHmm => fit::<CategoricalHmm>(args, chunk_rows, as_json),
        FamilyArg::Lgssm | FamilyArg::Vhmm => Err(usage!(
            "--chunk-rows streams a gmm, bgmm, hmm, gmmhmm or categorical-hmm; the data of an {} are read whole",
            if args.family == FamilyArg::Lgssm {
                "lgssm"
            } else {
                "vhmm"
            }
        )),
    }
}

fn fit<F: Streamed>(args: &FitArgs, chunk_rows: NonZeroUsize, as_json: bool) -> Result<(), CliError> {
    let mut executor: Option<OutOfCore<F>> = None;
    let request = FitRequest::<F>::parse_with(args, |data| {
        let sample = args.init.is_none().then_some(SampleSpec {
            size: args.init_sample,
            seed: crate::args::seed("--seed", args.seed)?,
        });
        let lengths = match (&data.lengths, F::SEQUENCES) {
            (Some(path), true) => Some((path, read_lengths(path)?)),
            (None, true) => {
                return Err(usage!(
                    "--chunk-rows streams groups of whole sequences: {} needs --lengths (one sequence cannot be split)",
                    F::NAME
                ));
            }
            (_, false) => None,
        };
        let layout = match &lengths {
            Some((path, lengths)) => Layout::Sequences {
                path,
                lengths,
                target: chunk_rows,
            },
            None => Layout::Rows(chunk_rows),
        };
        let opened = OutOfCore::<F>::open(&data.data, &read_options(data)?, layout, sample)?;
        let file = opened.file();
        let place = Place::whole(file.rows());
        // The sample stands for the data in the request's checks.
        let (x, lengths) = opened.sample().map_or_else(
            || (Mat::zeros(0, file.cols()), Vec::new()),
            |(x, lengths)| match lengths {
                [] => (x.to_owned(), vec![x.nrows()]),
                _ => (x.to_owned(), lengths.to_vec()),
            },
        );
        executor = Some(opened);
        Ok(Loaded {
            path: data.data.clone(),
            lengths,
            data: x,
            place,
            inputs: None,
            time_varying: TimeVaryingFiles::default(),
        })
    })?;
    let executor = executor.expect("opened when the request was parsed");
    if request.init.is_none() && request.data.x().nrows() == 0 {
        return Err(usage!(
            "--init-sample {}: the sample for the initialisation has no rows",
            args.init_sample
        ));
    }
    let start = match request.init {
        Some(model) => Start::Warm(model),
        None => {
            let steps = request.data.time_varying.views();
            let input = F::input(&request.data, &steps)?;
            F::start(&request.family, F::view(&input), &request.settings)?
        }
    };
    let mut progress = Progress::new(request.quiet || as_json);
    let options = F::options(&request.family);
    let fit = fit_with(&executor, start, &options, &request.settings, &mut progress)
        .map_err(|e| fit_failed(&executor, &request.data, e))?;
    let file = executor.file();
    let criteria = fit
        .model
        .free_parameters()
        .map(|k| information_criteria(fit.report.log_likelihood, k, file.rows()));
    let extra = [
        ("chunk_rows", json::json!(chunk_rows.get())),
        ("chunks", json::json!(file.n_chunks())),
    ];
    if !(request.quiet || as_json) {
        let of = match file.plan() {
            ChunkPlan::Rows(_) => "",
            ChunkPlan::Ends { .. } => "whole sequences of about ",
        };
        println!(
            "streamed {} rows of {} in {} chunks of {of}{} rows",
            file.rows(),
            file.path().display(),
            file.n_chunks(),
            chunk_rows
        );
    }
    finish(
        &fit,
        || Ok(criteria),
        request.out.as_deref(),
        request.quiet,
        as_json.then_some(&extra[..]),
    )
}

/// A failed fit in the file's words: a chunk that could not be read as the
/// reader says it; a model error of chunk `c` naming the row (and
/// sequence) of the file (the chunk's first is [`OutOfCore::chunk_start`]).
fn fit_failed<F: Streamed>(executor: &OutOfCore<F>, data: &Loaded, error: FitError<F::Error>) -> CliError {
    if let FitError::RemotePart { .. } = error
        && let Some(read) = executor.take_read_error()
    {
        return read.into();
    }
    let chunk = match &error {
        FitError::Part { part, .. } => Loaded {
            path: data.path.clone(),
            data: Mat::new(),
            lengths: executor.chunk_lengths(*part).to_vec(),
            place: Place {
                first_row: executor.chunk_start(*part).0,
                first_sequence: executor.chunk_start(*part).1,
                ..data.place
            },
            inputs: None,
            time_varying: TimeVaryingFiles::default(),
        },
        _ => return fit_error(data, error),
    };
    fit_error(&chunk, error)
}
