//! Fits a Gaussian mixture to synthetic rows that every MPI rank generates
//! for itself (`emfit_mpi::gaussian_clusters`): a benchmark of the
//! distributed fit on a data set that never exists in one process.
//!
//! ```text
//! mpirun -np 4 fit_gmm --generate ROWS [--dimension D] COMPONENTS OUT.json
//!        [--covariance full|diag|spherical|tied]
//!        [--seed S] [--max-iterations N] [--tolerance T] [--acceleration squarem|none]
//!        [--sample ROWS]
//! ```
//!
//! Rows of D columns (default 8) drawn from COMPONENTS Gaussian clusters
//! (from `--seed`). Every rank initialises on the same seeded sample of
//! `--sample` rows (default 100,000), whatever the number of ranks. Rank 0
//! prints the iteration log and the result and writes OUT.json; on any
//! error every rank exits with status 1 and rank 0 prints the error.
//!
//! Data files are fitted by the program: `mpirun -np 4 emfit fit gmm --data
//! DATA.npy ...` (emfit-cli built with its feature `mpi`).

use std::path::PathBuf;
use std::process::ExitCode;

use em_driver::ModelFile;
use em_driver::em_core::{
    Acceleration, Collective, LogObserver, NoopObserver, Observer, Settings, Start, Tolerance, fit_with,
};
use em_driver::mixture::{CovarianceType, GaussianMixture, InitConfig, MStepOptions};
use emfit_mpi::{Distributed, World, agree, gaussian_clusters, rows_of, seeded_sample};

/// The command line.
struct Args {
    rows: usize,
    dimension: usize,
    components: usize,
    out: PathBuf,
    covariance: CovarianceType,
    seed: u64,
    max_iterations: usize,
    tolerance: f64,
    acceleration: Acceleration,
    sample: usize,
}

fn parse_args() -> Result<Args, String> {
    let usage = "usage: fit_gmm --generate ROWS [--dimension D] COMPONENTS OUT.json \
                 [--covariance full|diag|spherical|tied] \
                 [--seed S] [--max-iterations N] [--tolerance T] [--acceleration squarem|none] \
                 [--sample ROWS]";
    let mut positional = Vec::new();
    let mut args = Args {
        rows: 0,
        dimension: 8,
        components: 0,
        out: PathBuf::new(),
        covariance: CovarianceType::Full,
        seed: 0,
        max_iterations: 300,
        tolerance: 1e-3,
        acceleration: Acceleration::squarem(),
        sample: 100_000,
    };
    let mut generate = None;
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
            "--generate" => generate = Some(value().and_then(|v| v.parse().map_err(|_| number(v)))?),
            "--dimension" => args.dimension = value().and_then(|v| v.parse().map_err(|_| number(v)))?,
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag}\n{usage}")),
            _ => positional.push(arg),
        }
    }
    args.rows = generate.ok_or_else(|| {
        format!("--generate ROWS is required (fit a data file with `emfit fit gmm` under mpirun)\n{usage}")
    })?;
    let [components, out] = <[String; 2]>::try_from(positional).map_err(|_| usage.to_string())?;
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
    let range = rows_of(rank, ranks, args.rows);
    let part = gaussian_clusters(range.clone(), args.dimension, args.components.max(1), args.seed);
    let sample = agree(
        world,
        seeded_sample(world, part.as_ref(), range.start, args.sample, args.seed),
    )?;
    let settings = Settings::builder()
        .max_iterations(args.max_iterations)
        .tolerance(Tolerance::absolute(args.tolerance))
        .acceleration(args.acceleration)
        .seed(args.seed)
        .build()
        .map_err(|e| e.to_string())?;
    let mine = (part.nrows() > 0).then_some(part.as_ref());
    let executor = Distributed::new(mine, Some(sample.as_ref()), world);
    let mut log = LogObserver::new(std::io::stdout());
    let observer: &mut (dyn Observer<GaussianMixture> + Send) =
        if rank == 0 { &mut log } else { &mut NoopObserver };
    let start = Start::FromData(InitConfig::new(args.components, args.covariance));
    let fit = fit_with(&executor, start, &MStepOptions::default(), &settings, observer);
    let fit = agree(world, fit.map_err(|e| e.to_string()))?;
    let saved = if rank == 0 {
        println!("{ranks} ranks, {} rows: {}", args.rows, fit.report);
        fit.model.save(&args.out).map_err(|e| e.to_string())
    } else {
        Ok(())
    };
    agree(world, saved)
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
            // No rank exits before rank 0 has said why: mpirun ends the job
            // when a rank exits with an error.
            world.all_gather(&[]);
            ExitCode::FAILURE
        }
    }
}
