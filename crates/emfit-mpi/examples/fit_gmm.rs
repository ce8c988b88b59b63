//! Fits a Gaussian mixture to a `.npy` file with every MPI rank reading and
//! evaluating its own rows (see the crate documentation):
//!
//! ```text
//! mpirun -np 4 fit_gmm (DATA.npy | --generate ROWS [--dimension D]) COMPONENTS OUT.json
//!        [--covariance full|diag|spherical|tied]
//!        [--seed S] [--max-iterations N] [--tolerance T] [--acceleration squarem|none]
//!        [--sample ROWS] [--start MODEL.json]
//! ```
//!
//! With `--generate ROWS`, every rank generates its own rows of a synthetic
//! data set of D columns (default 8) drawn from COMPONENTS Gaussian
//! clusters (`emfit_mpi::gaussian_clusters`, from `--seed`) instead of
//! reading a file: the data set never exists in one process.
//!
//! Without `--start`, every rank initialises on the same seeded sample of
//! `--sample` rows (default 100,000; k-means++ and Lloyd rounds), whatever
//! the number of ranks. Rank 0 prints the iteration log and the result and
//! writes OUT.json; on any error every rank exits with status 1 and rank 0
//! prints the error, and no file is written.

use std::path::PathBuf;
use std::process::ExitCode;

use em_driver::em_core::ranks::all_succeeded;
use em_driver::em_core::{
    Acceleration, Collective, LogObserver, NoopObserver, Observer, Ranks, Settings, Start, Tolerance,
    fit_with,
};
use em_driver::io::{npy_shape, read_npy_rows};
use em_driver::mixture::{CovarianceType, GaussianMixture, InitConfig, MStepOptions};
use em_driver::rand::SeedableRng;
use em_driver::rand::rngs::StdRng;
use em_driver::{EmModel, ModelFile};
use emfit_mpi::{World, gaussian_clusters, rows_of, seeded_sample};

/// Where the rows come from.
enum Data {
    /// A `.npy` file.
    File(PathBuf),
    /// Generated on every rank: rows and columns.
    Generated(usize, usize),
}

/// The command line.
struct Args {
    data: Data,
    components: usize,
    out: PathBuf,
    covariance: CovarianceType,
    seed: u64,
    max_iterations: usize,
    tolerance: f64,
    acceleration: Acceleration,
    sample: usize,
    start: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let usage = "usage: fit_gmm (DATA.npy | --generate ROWS [--dimension D]) COMPONENTS OUT.json \
                 [--covariance full|diag|spherical|tied] \
                 [--seed S] [--max-iterations N] [--tolerance T] [--acceleration squarem|none] \
                 [--sample ROWS] [--start MODEL.json]";
    let mut positional = Vec::new();
    let mut args = Args {
        data: Data::File(PathBuf::new()),
        components: 0,
        out: PathBuf::new(),
        covariance: CovarianceType::Full,
        seed: 0,
        max_iterations: 300,
        tolerance: 1e-3,
        acceleration: Acceleration::squarem(),
        sample: 100_000,
        start: None,
    };
    let (mut generate, mut dimension) = (None, 8);
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{arg} needs a value\n{usage}"));
        let number = |text: String| format!("{arg}: not a number: {text}");
        match arg.as_str() {
            "--covariance" => {
                args.covariance = match value()?.as_str() {
                    "full" => CovarianceType::Full,
                    "diag" => CovarianceType::Diagonal,
                    "spherical" => CovarianceType::Spherical,
                    "tied" => CovarianceType::Tied,
                    other => return Err(format!("--covariance: {other}: full, diag, spherical or tied")),
                }
            }
            "--seed" => args.seed = value().and_then(|v| v.parse().map_err(|_| number(v)))?,
            "--max-iterations" => {
                args.max_iterations = value().and_then(|v| v.parse().map_err(|_| number(v)))?
            }
            "--tolerance" => args.tolerance = value().and_then(|v| v.parse().map_err(|_| number(v)))?,
            "--acceleration" => {
                args.acceleration = match value()?.as_str() {
                    "squarem" => Acceleration::squarem(),
                    "none" => Acceleration::None,
                    other => return Err(format!("--acceleration: {other}: squarem or none")),
                }
            }
            "--sample" => args.sample = value().and_then(|v| v.parse().map_err(|_| number(v)))?,
            "--start" => args.start = Some(value()?.into()),
            "--generate" => generate = Some(value().and_then(|v| v.parse().map_err(|_| number(v)))?),
            "--dimension" => dimension = value().and_then(|v| v.parse().map_err(|_| number(v)))?,
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag}\n{usage}")),
            _ => positional.push(arg),
        }
    }
    if let Some(rows) = generate {
        positional.insert(0, String::new());
        args.data = Data::Generated(rows, dimension);
    }
    let [data, components, out] = <[String; 3]>::try_from(positional).map_err(|_| usage.to_string())?;
    if generate.is_none() {
        args.data = Data::File(data.into());
    }
    args.components = components
        .parse()
        .map_err(|_| format!("COMPONENTS: not a number: {components}"))?;
    args.out = out.into();
    Ok(args)
}

/// The fit of this rank; every rank returns the same error.
fn run(world: &World) -> Result<(), String> {
    let args = parse_args()?;
    let (rank, ranks) = (world.rank(), world.size());
    // Every rank's rows, or the first rank's error (a bad value names its
    // row of the file).
    let part = match &args.data {
        Data::File(path) => npy_shape(path).and_then(|(rows, _)| {
            let range = rows_of(rank, ranks, rows);
            read_npy_rows(path, false, range.clone()).map(|part| (rows, range, part))
        }),
        Data::Generated(rows, d) => {
            let range = rows_of(rank, ranks, *rows);
            let part = gaussian_clusters(range.clone(), *d, args.components.max(1), args.seed);
            Ok((*rows, range, part))
        }
    };
    agree(world, part.as_ref().map(|_| ()).map_err(ToString::to_string))?;
    let (rows, range, part) = part.expect("every rank read its rows");

    let options = MStepOptions::default();
    let model = match &args.start {
        Some(path) => GaussianMixture::load(path).map_err(|e| e.to_string()),
        None => {
            let sample = seeded_sample(world, part.as_ref(), range.start, args.sample, args.seed)?;
            let config = InitConfig::new(args.components, args.covariance);
            GaussianMixture::init_from_data(sample.as_ref(), &config, &mut StdRng::seed_from_u64(args.seed))
                .map_err(|e| format!("initialisation on the sample of {} rows: {e}", sample.nrows()))
        }
    };
    agree(world, model.as_ref().map(|_| ()).map_err(Clone::clone))?;
    let model = model.expect("every rank has its start");
    let settings = Settings::builder()
        .max_iterations(args.max_iterations)
        .tolerance(Tolerance::absolute(args.tolerance))
        .acceleration(args.acceleration)
        .seed(args.seed)
        .build()
        .map_err(|e| e.to_string())?;
    let executor = Ranks::new((part.nrows() > 0).then_some(part.as_ref()), world);
    let mut log = LogObserver::new(std::io::stdout());
    let observer: &mut (dyn Observer<GaussianMixture> + Send) =
        if rank == 0 { &mut log } else { &mut NoopObserver };
    let fit =
        fit_with(&executor, Start::Warm(model), &options, &settings, observer).map_err(|e| e.to_string())?;
    if rank == 0 {
        println!("{ranks} ranks, {rows} rows: {}", fit.report);
        fit.model.save(&args.out).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// `Ok` when every rank's `local` is, else the first failing rank's error.
fn agree(world: &World, local: Result<(), String>) -> Result<(), String> {
    all_succeeded(world, local).map_err(|(rank, message)| format!("rank {rank}: {message}"))
}

fn main() -> ExitCode {
    let Some(world) = World::init() else {
        eprintln!("fit_gmm: MPI was initialised already");
        return ExitCode::FAILURE;
    };
    match run(&world) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            if world.rank() == 0 {
                eprintln!("fit_gmm: {message}");
            }
            ExitCode::FAILURE
        }
    }
}
