//! The emfit side of `cargo xtask compare`.
//!
//! - `emfit-compare generate DIR`: writes every workload (data and the
//!   initial parameters both sides start from) as `.npy` files into DIR;
//! - `emfit-compare run DIR WORKLOAD`: times emfit on one workload and prints
//!   one JSON line `{"seconds", "iterations", "loglik", "peak_rss_mb", "isa",
//!   "gflop"}` (`isa`: the instruction set the kernels ran with, which
//!   `EMFIT_ISA` caps; `gflop`: the flops of the timed run per iteration
//!   as [`emfit_benches::flops`] counts them, `null` for workloads it does
//!   not count);
//! - `emfit-compare peak`: the multiply-add peak of one core on that
//!   instruction set ([`emfit_benches::peak`]), as `{"gflops", "isa"}`;
//! - `emfit-compare scaling DIR`: times one EM iteration over a range of sizes
//!   (see `emfit_benches::scaling`) and writes `scaling.md` and `scaling.svg`;
//! - `emfit-compare converge WORKLOAD plain|squarem MAX_ITERATIONS BUDGET_SECONDS [STEPS]`:
//!   one fit of a workload from its start to a tight tolerance, every recorded
//!   point with its E-steps and wall time (see `emfit_benches::converge`), as
//!   one JSON line `{"points": [[e_steps, seconds, loglik], ...], "termination",
//!   "work", "e_steps", "seconds", "loglik", "peak_rss_mb"}` (`cargo xtask converge`).
//!
//! `run` rebuilds the workload from the same seeds instead of reading DIR
//! back, so both sides see bit-identical inputs. Threads: rayon's global pool
//! follows `RAYON_NUM_THREADS`, which xtask sets.

use emfit_benches::converge::{Method, Trajectory, trajectory};
use emfit_benches::workloads::{self, GmmWorkload, HmmWorkload};
use emfit_benches::{flops, npy};
use mixture::{Covariances, EmModel, GaussianMixture};
use statespace::{InferenceOptions, InputParameters, LinearGaussianSsm, Sequence, TimeVarying};
use std::path::Path;
use std::time::Instant;

/// Iterations timed for the per-iteration workloads (both sides).
const GMM_ITERATIONS: usize = 10;
const HMM_ITERATIONS: usize = 10;
/// Seed of the scenario-1 sample and of its start.
const GMMHMM_SEED: u64 = 42;
/// Seed of the state-space workload (simulation and EM start).
const LGSSM_SEED: u64 = 4242;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["generate", dir] => generate(Path::new(dir)),
        ["run", _dir, workload] => run(workload),
        ["peak"] => {
            let (isa, gflops) = emfit_benches::peak::gflops();
            println!("{}", serde_json::json!({ "gflops": gflops, "isa": isa.name() }));
            Ok(())
        }
        ["scaling", dir] => scaling(Path::new(dir)),
        ["converge", rest @ ..] => converge(rest),
        _ => Err(
            "usage: emfit-compare generate DIR | run DIR WORKLOAD | peak | scaling DIR \
             | converge WORKLOAD plain|squarem MAX_ITERATIONS BUDGET_SECONDS [STEPS]"
                .to_string(),
        ),
    };
    if let Err(message) = result {
        eprintln!("emfit-compare: {message}");
        std::process::exit(1);
    }
}

type Result<T> = std::result::Result<T, String>;

fn io(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn standard_gmm() -> GmmWorkload {
    workloads::gmm_big(200_000, 8, 8)
}

fn standard_hmm() -> HmmWorkload {
    workloads::hmm_big(8, 4, 200, 500)
}

fn generate(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(io)?;
    let gmm = standard_gmm();
    npy::write_matrix(&dir.join("gmm_x.npy"), gmm.x.as_ref()).map_err(io)?;
    write_mixture(dir, "gmm_init", &gmm.start)?;
    npy::write_matrix(&dir.join("bgmm_resp_init.npy"), bgmm_start(&gmm)?.as_ref()).map_err(io)?;
    npy::write_i64(&dir.join("gmm_iterations.npy"), &[], &[GMM_ITERATIONS as i64]).map_err(io)?;

    let hmm = standard_hmm();
    npy::write_matrix(&dir.join("hmm_x.npy"), hmm.x.as_ref()).map_err(io)?;
    let lengths: Vec<i64> = hmm.lengths.iter().map(|&l| l as i64).collect();
    npy::write_i64(&dir.join("hmm_lengths.npy"), &[lengths.len()], &lengths).map_err(io)?;
    let start = &hmm.start;
    npy::write_f64(
        &dir.join("hmm_init_startprob.npy"),
        &[start.n_states()],
        start.start_probs(),
    )
    .map_err(io)?;
    npy::write_matrix(&dir.join("hmm_init_transmat.npy"), start.transitions()).map_err(io)?;
    npy::write_matrix(&dir.join("hmm_init_means.npy"), start.emission().means()).map_err(io)?;
    write_full_covariances(dir, "hmm_init_covariances", start.emission().covariances())?;
    npy::write_i64(&dir.join("hmm_iterations.npy"), &[], &[HMM_ITERATIONS as i64]).map_err(io)?;

    write_gmmhmm(dir)?;

    let (y, model) = standard_lgssm()?;
    npy::write_matrix(&dir.join("lgssm_y.npy"), y.as_ref()).map_err(io)?;
    for (name, m) in [
        ("A", model.a()),
        ("Q", model.q()),
        ("H", model.h()),
        ("R", model.r()),
        ("P0", model.p0()),
    ] {
        npy::write_matrix(&dir.join(format!("lgssm_{name}.npy")), m).map_err(io)?;
    }
    npy::write_f64(&dir.join("lgssm_m0.npy"), &[model.state_dim()], model.m0()).map_err(io)?;
    let offsets = lgssm_offsets(&model);
    npy::write_f64(
        &dir.join("lgssm_b.npy"),
        &[model.state_dim()],
        &offsets.transition_offset,
    )
    .map_err(io)?;
    npy::write_f64(
        &dir.join("lgssm_d.npy"),
        &[model.obs_dim()],
        &offsets.observation_offset,
    )
    .map_err(io)?;
    write_time_varying(dir, &y, &model)?;
    let start = lgssm_em_start(&y)?;
    npy::write_matrix(&dir.join("lgssm_em_A0.npy"), start.a()).map_err(io)?;
    npy::write_matrix(&dir.join("lgssm_em_Q0.npy"), start.q()).map_err(io)?;
    write_nile(dir)
}

/// The Nile local-level model: the flows (100 x 1) and the EM start of
/// `statespace::scenario::nile` (every parameter, 1 x 1; m0 of length 1).
fn write_nile(dir: &Path) -> Result<()> {
    let nile = statespace::scenario::nile();
    npy::write_matrix(&dir.join("nile_y.npy"), nile.flow.as_ref()).map_err(io)?;
    let start = &nile.start;
    for (name, m) in [
        ("A", start.a()),
        ("Q", start.q()),
        ("H", start.h()),
        ("R", start.r()),
        ("P0", start.p0()),
    ] {
        npy::write_matrix(&dir.join(format!("nile_{name}.npy")), m).map_err(io)?;
    }
    npy::write_f64(&dir.join("nile_m0.npy"), &[start.state_dim()], start.m0()).map_err(io)
}

/// Scenario 1: the 50 sequences and the start both sides fit from (diagonal
/// covariances, written as (K, M, d) arrays as hmmlearn stores them).
fn write_gmmhmm(dir: &Path) -> Result<()> {
    let data = hmm::scenario::sample(GMMHMM_SEED);
    let start = gmmhmm_start(&data)?;
    npy::write_matrix(&dir.join("gmmhmm_x.npy"), data.x.as_ref()).map_err(io)?;
    let lengths: Vec<i64> = data.lengths.iter().map(|&l| l as i64).collect();
    npy::write_i64(&dir.join("gmmhmm_lengths.npy"), &[lengths.len()], &lengths).map_err(io)?;
    let (k, m, d) = (start.n_states(), start.emission().n_mix(), start.n_features());
    npy::write_f64(&dir.join("gmmhmm_init_startprob.npy"), &[k], start.start_probs()).map_err(io)?;
    npy::write_matrix(&dir.join("gmmhmm_init_transmat.npy"), start.transitions()).map_err(io)?;
    npy::write_matrix(
        &dir.join("gmmhmm_init_weights.npy"),
        start.emission().weights().as_ref(),
    )
    .map_err(io)?;
    let mut means = Vec::new();
    let mut variances = Vec::new();
    for mixture in start.emission().mixtures() {
        let Covariances::Diagonal(v) = mixture.covariances() else {
            return Err("scenario 1 uses diagonal covariances".into());
        };
        for c in 0..m {
            means.extend((0..d).map(|j| mixture.means()[(c, j)]));
            variances.extend((0..d).map(|j| v[(c, j)]));
        }
    }
    npy::write_f64(&dir.join("gmmhmm_init_means.npy"), &[k, m, d], &means).map_err(io)?;
    npy::write_f64(&dir.join("gmmhmm_init_covariances.npy"), &[k, m, d], &variances).map_err(io)
}

fn gmmhmm_start(data: &hmm::scenario::ScenarioData) -> Result<hmm::GmmHmm> {
    let sequences = data.sequences().map_err(|e| e.to_string())?;
    hmm::scenario::fresh_model(&sequences, GMMHMM_SEED).map_err(|e| e.to_string())
}

/// Scenario 3 at full size (T = 44,484, n = 21, H = I): the observations and
/// the true model with the filtering convention of the original job
/// (m0 = the first observation, P0 = R).
fn standard_lgssm() -> Result<(faer::Mat<f64>, LinearGaussianSsm)> {
    let data = statespace::scenario::Scenario3::new(statespace::scenario::FULL_LENGTH, LGSSM_SEED)
        .with_coupling(true)
        .generate();
    let y = data.observations;
    let mut parameters = data.truth.into_parameters();
    parameters.m0 = (0..y.ncols()).map(|j| y[(0, j)]).collect();
    parameters.p0 = parameters.r.clone();
    let model = LinearGaussianSsm::from_parameters(parameters).map_err(|e| e.to_string())?;
    Ok((y, model))
}

/// Offsets for the scenario-3 model (no inputs): `b_i = 0.05 sin(i + 1)`,
/// `d_j = 0.5 cos(j + 1)`.
fn lgssm_offsets(model: &LinearGaussianSsm) -> InputParameters {
    let mut offsets = InputParameters::zeros(model.state_dim(), model.obs_dim(), 0);
    for (i, b) in offsets.transition_offset.iter_mut().enumerate() {
        *b = 0.05 * ((i + 1) as f64).sin();
    }
    for (j, d) in offsets.observation_offset.iter_mut().enumerate() {
        *d = 0.5 * ((j + 1) as f64).cos();
    }
    offsets
}

/// Steps of the time-varying workload: pykalman's filter with 3-D matrices
/// at the full length would take minutes (its steps are Python calls).
const TIME_VARYING_STEPS: usize = 5_000;

/// The matrices of the time-varying workload, per step of the first
/// [`TIME_VARYING_STEPS`] of scenario 3, from the model's: `A_k = c_k A`
/// with `c_k = 1 − 0.005 (1 + sin(k/37))` (k = 1..T-1), `Q_k = (1 + 0.5
/// sin²(k/23)) Q`, `H_k = (1 + 0.1 cos(k/29)) H`, `R_k = (1 + 0.5
/// cos²(k/31)) R` (k = 0..T-1).
struct TimeVaryingMatrices {
    a: Vec<faer::Mat<f64>>,
    q: Vec<faer::Mat<f64>>,
    h: Vec<faer::Mat<f64>>,
    r: Vec<faer::Mat<f64>>,
}

fn lgssm_time_varying(model: &LinearGaussianSsm) -> TimeVaryingMatrices {
    let t = TIME_VARYING_STEPS;
    let scaled = |m: faer::MatRef<'_, f64>, c: f64| m * faer::Scale(c);
    let transitions = 1..t;
    TimeVaryingMatrices {
        a: transitions
            .clone()
            .map(|k| scaled(model.a(), 1.0 - 0.005 * (1.0 + (k as f64 / 37.0).sin())))
            .collect(),
        q: transitions
            .map(|k| scaled(model.q(), 1.0 + 0.5 * (k as f64 / 23.0).sin().powi(2)))
            .collect(),
        h: (0..t)
            .map(|k| scaled(model.h(), 1.0 + 0.1 * (k as f64 / 29.0).cos()))
            .collect(),
        r: (0..t)
            .map(|k| scaled(model.r(), 1.0 + 0.5 * (k as f64 / 31.0).cos().powi(2)))
            .collect(),
    }
}

/// The time-varying workload's observations (the first
/// [`TIME_VARYING_STEPS`] rows) and matrices, as `(steps, rows, cols)`
/// arrays in pykalman's layout.
fn write_time_varying(dir: &Path, y: &faer::Mat<f64>, model: &LinearGaussianSsm) -> Result<()> {
    let rows = y.subrows(0, TIME_VARYING_STEPS);
    npy::write_matrix(&dir.join("lgssm_tv_y.npy"), rows).map_err(io)?;
    let matrices = lgssm_time_varying(model);
    for (name, list) in [
        ("A", &matrices.a),
        ("Q", &matrices.q),
        ("H", &matrices.h),
        ("R", &matrices.r),
    ] {
        let (r, c) = (list[0].nrows(), list[0].ncols());
        let flat: Vec<f64> = list
            .iter()
            .flat_map(|m| (0..r).flat_map(move |i| (0..c).map(move |j| m[(i, j)])))
            .collect();
        npy::write_f64(
            &dir.join(format!("lgssm_tv_{name}.npy")),
            &[list.len(), r, c],
            &flat,
        )
        .map_err(io)?;
    }
    Ok(())
}

/// The exact filter of scenario 3 with the offsets of [`lgssm_offsets`] and
/// the time-varying matrices of [`lgssm_time_varying`], on the first
/// [`TIME_VARYING_STEPS`] steps.
fn lgssm_filter_time_varying() -> Result<Timed> {
    let (y, model) = standard_lgssm()?;
    let y = y.subrows(0, TIME_VARYING_STEPS);
    let matrices = lgssm_time_varying(&model);
    let offsets = lgssm_offsets(&model);
    let model = model.with_inputs(offsets).map_err(|e| e.to_string())?;
    let (a, q, h, r) = (
        views(&matrices.a),
        views(&matrices.q),
        views(&matrices.h),
        views(&matrices.r),
    );
    let tv = TimeVarying {
        a: Some(&a),
        q: Some(&q),
        h: Some(&h),
        r: Some(&r),
    };
    let sequence = Sequence::new(y).with_time_varying(tv);
    timed(|| {
        Ok((
            1,
            model
                .filter_sequence(sequence)
                .map_err(|e| e.to_string())?
                .log_likelihood(),
        ))
    })
}

/// Views of the matrices of `list`.
fn views(list: &[faer::Mat<f64>]) -> Vec<faer::MatRef<'_, f64>> {
    list.iter().map(faer::Mat::as_ref).collect()
}

/// The EM start of scenario 3: A = 0, Q = 0.01 diag(uniform).
fn lgssm_em_start(y: &faer::Mat<f64>) -> Result<LinearGaussianSsm> {
    statespace::scenario::em_start(y.as_ref(), LGSSM_SEED).map_err(|e| e.to_string())
}

fn write_mixture(dir: &Path, prefix: &str, m: &GaussianMixture) -> Result<()> {
    npy::write_f64(
        &dir.join(format!("{prefix}_weights.npy")),
        &[m.n_components()],
        m.weights(),
    )
    .map_err(io)?;
    npy::write_matrix(&dir.join(format!("{prefix}_means.npy")), m.means()).map_err(io)?;
    write_full_covariances(dir, &format!("{prefix}_covariances"), m.covariances())
}

/// Writes full covariances as a (K, d, d) array.
fn write_full_covariances(dir: &Path, name: &str, covariances: &Covariances) -> Result<()> {
    let Covariances::Full(list) = covariances else {
        return Err(format!("{name}: only full covariances are written"));
    };
    let d = list.first().map_or(0, |c| c.nrows());
    let data: Vec<f64> = list
        .iter()
        .flat_map(|c| (0..d).flat_map(move |i| (0..d).map(move |j| c[(i, j)])))
        .collect();
    npy::write_f64(&dir.join(format!("{name}.npy")), &[list.len(), d, d], &data).map_err(io)
}

fn scaling(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(io)?;
    let points = emfit_benches::scaling::measure_all();
    let table = emfit_benches::scaling::markdown(&points);
    std::fs::write(dir.join("scaling.md"), &table).map_err(io)?;
    std::fs::write(dir.join("scaling.svg"), emfit_benches::scaling::svg(&points)).map_err(io)?;
    print!("{table}");
    Ok(())
}

/// What one timed run produced.
struct Timed {
    seconds: f64,
    iterations: usize,
    loglik: f64,
}

/// Seconds under which a first run is a warm-up (see [`timed`]).
const WARM_UP_BELOW: f64 = 1.0;
/// Seconds of runs [`timed`] takes the median of (at least 3 runs).
const SAMPLING_SECONDS: f64 = 2.0;
/// The most runs [`timed`] takes the median of.
const MAX_RUNS: usize = 51;

/// The median of the runs that fit in [`SAMPLING_SECONDS`] (at least 3, at
/// most [`MAX_RUNS`]) when the first takes under 10 s, else that one run,
/// after an untimed warm-up run when a run takes under [`WARM_UP_BELOW`],
/// like the peer script.
fn timed(mut run: impl FnMut() -> Result<(usize, f64)>) -> Result<Timed> {
    let mut times = Vec::new();
    let mut warm = false;
    loop {
        let start = Instant::now();
        let (iterations, loglik) = run()?;
        let elapsed = start.elapsed().as_secs_f64();
        // A first run under `WARM_UP_BELOW` is a warm-up, not timed (the
        // costs of a first call: page faults, lazy initialisation), as in
        // peers.py.
        if !std::mem::replace(&mut warm, true) && elapsed < WARM_UP_BELOW {
            continue;
        }
        times.push(elapsed);
        let total: f64 = times.iter().sum();
        let enough = times.len() >= 3 && (total >= SAMPLING_SECONDS || times.len() == MAX_RUNS);
        if times[0] >= 10.0 || enough {
            times.sort_by(f64::total_cmp);
            return Ok(Timed {
                seconds: times[times.len() / 2],
                iterations,
                loglik,
            });
        }
    }
}

fn run(workload: &str) -> Result<()> {
    let timed = match workload {
        "gmm_full" => gmm_iterations(&standard_gmm(), false)?,
        "gmm_diag" => gmm_iterations(&standard_gmm(), true)?,
        "hmm_fit" => hmm_iterations(&standard_hmm())?,
        "hmm_viterbi" => hmm_viterbi(&standard_hmm())?,
        "gmmhmm_fit" => gmmhmm_fit()?,
        "bgmm_full" => bgmm_fit(&standard_gmm())?,
        "lgssm_filter" => lgssm_filter(InferenceOptions::exact())?,
        "lgssm_filter_steady" => lgssm_filter(InferenceOptions::steady_state())?,
        "lgssm_filter_dense_a" => lgssm_filter_dense_a()?,
        "lgssm_filter_offsets" => lgssm_filter_offsets()?,
        "lgssm_filter_timevarying" => lgssm_filter_time_varying()?,
        "lgssm_smoother" => lgssm_smoother(InferenceOptions::exact())?,
        "lgssm_smoother_steady" => lgssm_smoother(InferenceOptions::steady_state())?,
        "lgssm_em" => lgssm_em(InferenceOptions::exact())?,
        "lgssm_em_steady" => lgssm_em(InferenceOptions::steady_state())?,
        "lgssm_filter_covs" => lgssm_filter_covs()?,
        "lgssm_smoother_covs" => lgssm_smoother_covs()?,
        "lgssm_em_fit" => lgssm_em_fit()?,
        other => return Err(format!("unknown workload {other}")),
    };
    println!(
        "{}",
        serde_json::json!({
            "seconds": timed.seconds,
            "iterations": timed.iterations,
            "loglik": timed.loglik,
            "peak_rss_mb": peak_rss_mb(),
            "isa": linalg_kernels::isa::Isa::detect().name(),
            "gflop": gflop_per_iteration(workload),
        })
    );
    Ok(())
}

/// The flops of `workload`'s timed run per iteration ([`flops`]), in
/// GFLOP, for the workloads whose algorithm it counts: the iterations and
/// the log-likelihood pass after the last one (`gmm_*`, `hmm_fit`: the
/// timed run returns the final log-likelihood, as the peers' fits do), so
/// that the rate is of the work the time covers. The filter is counted
/// with the dense transition (the standard model's sparse `A` does less
/// work).
fn gflop_per_iteration(workload: &str) -> Option<f64> {
    let (hmm_steps, lgssm_steps) = (200 * 500, statespace::scenario::FULL_LENGTH);
    let (gmm, hmm) = (GMM_ITERATIONS as u64, HMM_ITERATIONS as u64);
    let (flops, iterations) = match workload {
        "gmm_full" | "gmm_diag" => {
            let full = workload == "gmm_full";
            (
                gmm * flops::gmm_em_iteration(200_000, 8, 8, full)
                    + flops::gmm_log_likelihood(200_000, 8, 8, full),
                gmm,
            )
        }
        "hmm_fit" => (
            hmm * flops::hmm_baum_welch_iteration(8, 4, hmm_steps) + flops::hmm_score(8, 4, hmm_steps),
            hmm,
        ),
        "hmm_viterbi" => (flops::hmm_viterbi(8, 4, hmm_steps), 1),
        "lgssm_filter_dense_a" => (flops::kalman_filter(21, 21, lgssm_steps), 1),
        _ => return None,
    };
    Some(flops as f64 / iterations as f64 / 1e9)
}

fn gmm_iterations(w: &GmmWorkload, diagonal: bool) -> Result<Timed> {
    let start = if diagonal {
        workloads::diagonal_start(&w.start)
    } else {
        w.start.clone()
    };
    // scikit-learn's absolute reg_covar = 1e-6: both sides run the same EM.
    let options = mixture::MStepOptions::default().with_reg_covar(1e-6);
    timed(|| {
        let mut model = start.clone();
        for _ in 0..GMM_ITERATIONS {
            model = model
                .em_iteration(w.x.as_ref(), &options)
                .map_err(|e| e.to_string())?
                .model;
        }
        Ok((
            GMM_ITERATIONS,
            model
                .total_log_likelihood(w.x.as_ref())
                .map_err(|e| e.to_string())?,
        ))
    })
}

fn hmm_iterations(w: &HmmWorkload) -> Result<Timed> {
    let data = w.sequences();
    // reg_covar = 0: exact maximum likelihood, as hmmlearn with its priors switched off.
    let options = hmm::MStepOptions {
        covariance_floor: hmm::Floor::Absolute(0.0),
        ..Default::default()
    };
    timed(|| {
        let mut model = w.start.clone();
        for _ in 0..HMM_ITERATIONS {
            model = model
                .em_iteration(&data, &options)
                .map_err(|e| e.to_string())?
                .model;
        }
        Ok((HMM_ITERATIONS, model.score(&data).map_err(|e| e.to_string())?))
    })
}

/// Viterbi decoding of the data as a caller of `decode` does it: the
/// sequences checked (`Sequences::new`, one pass over the data, as the
/// Python call does too), then decoded.
fn hmm_viterbi(w: &HmmWorkload) -> Result<Timed> {
    timed(|| {
        Ok((
            1,
            w.start
                .decode(&w.sequences())
                .map_err(|e| e.to_string())?
                .log_prob(),
        ))
    })
}

/// Rows of the standard mixture data the variational fits use (the first
/// ones): scikit-learn's variational fit takes about 6 s per iteration on
/// all 200,000.
const BGMM_ROWS: usize = 50_000;

/// The responsibilities the variational fits start from: those of the
/// standard start mixture on the first [`BGMM_ROWS`] rows (n x K).
fn bgmm_start(w: &GmmWorkload) -> Result<faer::Mat<f64>> {
    w.start
        .predict_proba(w.x.as_ref().subrows(0, BGMM_ROWS))
        .map_err(|e| e.to_string())
}

/// The variational Bayesian mixture on the first [`BGMM_ROWS`] rows (full covariances, Dirichlet-process
/// weight prior, scikit-learn's default priors) from [`bgmm_start`]'s
/// responsibilities: the start and [`GMM_ITERATIONS`] plain steps through
/// the EM driver, as `emfit.mixture.BayesianGaussianMixture` runs them;
/// the lower bound in the log-likelihood's place.
fn bgmm_fit(w: &GmmWorkload) -> Result<Timed> {
    use em_driver::{Acceleration, Convergence, Settings, Start, fit};
    use mixture::variational::{VariationalInit, VariationalInitMethod, VariationalMixture};
    let config = VariationalInit::new(w.start.n_components(), mixture::CovarianceType::Full)
        .with_method(VariationalInitMethod::Responsibilities(bgmm_start(w)?));
    let settings = Settings::builder()
        .acceleration(Acceleration::None)
        .convergence(Convergence::FixedIterations)
        .max_iterations(GMM_ITERATIONS)
        .build()
        .map_err(|e| e.to_string())?;
    timed(|| {
        let x = w.x.as_ref().subrows(0, BGMM_ROWS);
        let fitted = fit::<VariationalMixture>(x, Start::FromData(config.clone()), &(), &settings)
            .map_err(|e| e.to_string())?;
        Ok((fitted.report.iterations, fitted.model.lower_bound()))
    })
}

/// The whole scenario-1 fit through the EM driver: plain EM (hmmlearn's
/// algorithm), tolerance 1e-10 (absolute), at most 1000 iterations, exact
/// EM, from the written start.
fn gmmhmm_fit() -> Result<Timed> {
    use em_driver::{Acceleration, Settings, Start, Tolerance, fit};
    let data = hmm::scenario::sample(GMMHMM_SEED);
    let sequences = data.sequences().map_err(|e| e.to_string())?;
    let start = gmmhmm_start(&data)?;
    let settings = Settings::builder()
        .acceleration(Acceleration::None)
        .max_iterations(hmm::scenario::MAX_ITERATIONS)
        .tolerance(Tolerance::absolute(hmm::scenario::TOLERANCE))
        .build()
        .map_err(|e| e.to_string())?;
    let options = hmm::scenario::m_step_options();
    timed(|| {
        let fitted =
            fit(&sequences, Start::Warm(start.clone()), &options, &settings).map_err(|e| e.to_string())?;
        Ok((
            fitted.report.iterations,
            fitted.model.score(&sequences).map_err(|e| e.to_string())?,
        ))
    })
}

fn lgssm_filter(inference: InferenceOptions) -> Result<Timed> {
    let (y, model) = standard_lgssm()?;
    time_filter(&model.with_inference(inference), &y)
}

fn time_filter(model: &LinearGaussianSsm, y: &faer::Mat<f64>) -> Result<Timed> {
    timed(|| {
        Ok((
            1,
            model
                .filter(y.as_ref())
                .map_err(|e| e.to_string())?
                .log_likelihood(),
        ))
    })
}

/// The exact filter on scenario 3's data with every entry of A non-zero
/// ([`workloads::with_dense_transition`]).
fn lgssm_filter_dense_a() -> Result<Timed> {
    let (y, model) = standard_lgssm()?;
    time_filter(&workloads::with_dense_transition(model), &y)
}

/// The exact filter of scenario 3 with the offsets of [`lgssm_offsets`].
fn lgssm_filter_offsets() -> Result<Timed> {
    let (y, model) = standard_lgssm()?;
    let offsets = lgssm_offsets(&model);
    time_filter(&model.with_inputs(offsets).map_err(|e| e.to_string())?, &y)
}

fn lgssm_smoother(inference: InferenceOptions) -> Result<Timed> {
    let (y, model) = standard_lgssm()?;
    let model = model.with_inference(inference);
    timed(|| {
        Ok((
            1,
            model
                .smooth(y.as_ref())
                .map_err(|e| e.to_string())?
                .log_likelihood(),
        ))
    })
}

/// The exact filter of scenario 3 with what pykalman's `filter` returns:
/// the filtered means and every filtered covariance (T x n x n), as emfit's
/// Python `KalmanFilter.filter` computes them (the Python section's Rust
/// side).
fn lgssm_filter_covs() -> Result<Timed> {
    let (y, model) = standard_lgssm()?;
    timed(|| {
        let f = model
            .filter_keeping_covariances(Sequence::new(y.as_ref()))
            .map_err(|e| e.to_string())?;
        let (means, covs) = (f.filtered_means().to_owned(), f.filtered_covs());
        std::hint::black_box((means, covs));
        Ok((1, f.log_likelihood()))
    })
}

/// The smoother of scenario 3 with what pykalman's `smooth` returns: the
/// smoothed means and every smoothed covariance, as emfit's Python
/// `KalmanFilter.smooth` computes them.
fn lgssm_smoother_covs() -> Result<Timed> {
    let (y, model) = standard_lgssm()?;
    timed(|| {
        let s = model.smooth(y.as_ref()).map_err(|e| e.to_string())?;
        let (means, covs) = (s.smoothed_means().to_owned(), s.smoothed_covs());
        std::hint::black_box((means, covs));
        Ok((1, s.log_likelihood()))
    })
}

/// One EM iteration for (A, Q) through the loop, as emfit's Python
/// `KalmanFilter.em(n_iter=1)` runs it: the E-step and M-step, then the
/// filter's evaluation of the result (the report's last log-likelihood,
/// reported here).
fn lgssm_em_fit() -> Result<Timed> {
    let (y, _) = standard_lgssm()?;
    let start = lgssm_em_start(&y)?;
    let options = statespace::scenario::learn_options();
    let settings = statespace::Settings::builder()
        .max_iterations(1)
        .convergence(statespace::Convergence::FixedIterations)
        .acceleration(statespace::Acceleration::None)
        .build()
        .map_err(|e| e.to_string())?;
    let sequences = [y.as_ref()];
    timed(|| {
        let fitted = statespace::fit(
            &sequences[..],
            statespace::Start::Warm(start.clone()),
            &options,
            &settings,
        )
        .map_err(|e| e.to_string())?;
        Ok((1, fitted.report.log_likelihood))
    })
}

/// One EM iteration for (A, Q) from the scenario's start; the reported
/// log-likelihood is that of the updated model (what pykalman's side reports).
fn lgssm_em(inference: InferenceOptions) -> Result<Timed> {
    let (y, _) = standard_lgssm()?;
    let start = lgssm_em_start(&y)?.with_inference(inference);
    let options = statespace::scenario::learn_options();
    let sequences = [y.as_ref()];
    let mut updated = None;
    let mut result = timed(|| {
        let step = start
            .em_iteration(&sequences, &options)
            .map_err(|e| e.to_string())?;
        updated = Some(step.model);
        Ok((1, f64::NAN))
    })?;
    let updated = updated
        .ok_or("no EM iteration ran")?
        .with_inference(InferenceOptions::exact());
    result.loglik = updated.log_likelihood(&sequences).map_err(|e| e.to_string())?;
    Ok(result)
}

/// `converge WORKLOAD METHOD MAX_ITERATIONS BUDGET_SECONDS [STEPS]`: one
/// recorded fit from the workload's start (the start `generate` writes for
/// the peers), printed as one JSON line. STEPS is the length of the
/// robot-arm workload `lgssm_em` (the first STEPS rows of the full-length
/// simulation, whose EM start is the same); default the full length.
fn converge(args: &[&str]) -> Result<()> {
    let usage = || {
        "usage: emfit-compare converge WORKLOAD plain|squarem MAX_ITERATIONS BUDGET_SECONDS [STEPS]"
            .to_string()
    };
    let (workload, method, max_iterations, budget, steps) = match args {
        [w, m, i, b] => (*w, *m, *i, *b, None),
        [w, m, i, b, s] => (*w, *m, *i, *b, Some(*s)),
        _ => return Err(usage()),
    };
    let method = Method::parse(method).ok_or_else(|| format!("unknown method {method}: plain or squarem"))?;
    let max_iterations: usize = max_iterations
        .parse()
        .map_err(|e| format!("MAX_ITERATIONS {max_iterations}: {e}"))?;
    let budget: f64 = budget
        .parse()
        .map_err(|e| format!("BUDGET_SECONDS {budget}: {e}"))?;
    let budget =
        std::time::Duration::try_from_secs_f64(budget).map_err(|e| format!("BUDGET_SECONDS: {e}"))?;
    let steps = steps
        .map(|s| s.parse::<usize>().map_err(|e| format!("STEPS {s}: {e}")))
        .transpose()?;
    let result: Trajectory = match workload {
        "gmm_full" | "gmm_diag" => {
            let w = standard_gmm();
            let start = if workload == "gmm_diag" {
                workloads::diagonal_start(&w.start)
            } else {
                w.start.clone()
            };
            // scikit-learn's absolute reg_covar = 1e-6, as the Python side.
            let options = mixture::MStepOptions::default().with_reg_covar(1e-6);
            trajectory(w.x.as_ref(), start, &options, method, max_iterations, budget)
        }
        "hmm_fit" => {
            let w = standard_hmm();
            let data = w.sequences();
            let options = hmm::MStepOptions {
                covariance_floor: hmm::Floor::Absolute(0.0),
                ..Default::default()
            };
            trajectory(&data, w.start.clone(), &options, method, max_iterations, budget)
        }
        "gmmhmm_fit" => {
            let data = hmm::scenario::sample(GMMHMM_SEED);
            let sequences = data.sequences().map_err(|e| e.to_string())?;
            let start = gmmhmm_start(&data)?;
            let options = hmm::scenario::m_step_options();
            trajectory(&sequences, start, &options, method, max_iterations, budget)
        }
        "lgssm_em" => {
            let (y, _) = standard_lgssm()?;
            let steps = steps.unwrap_or(y.nrows()).min(y.nrows());
            let y = y.subrows(0, steps).to_owned();
            let start = lgssm_em_start(&y)?.with_inference(InferenceOptions::steady_state());
            let options = statespace::scenario::learn_options();
            let sequences = [y.as_ref()];
            trajectory(&sequences[..], start, &options, method, max_iterations, budget)
        }
        "nile" => {
            let nile = statespace::scenario::nile();
            let options = statespace::scenario::nile_learn_options();
            let sequences = [nile.flow.as_ref()];
            trajectory(
                &sequences[..],
                nile.start,
                &options,
                method,
                max_iterations,
                budget,
            )
        }
        other => return Err(format!("unknown converge workload {other}")),
    }?;
    let points: Vec<[f64; 3]> = result
        .points
        .iter()
        .map(|p| [p.e_steps as f64, p.seconds, p.log_likelihood])
        .collect();
    println!(
        "{}",
        serde_json::json!({
            "points": points,
            "termination": result.termination,
            "work": result.work,
            "e_steps": result.e_steps,
            "seconds": result.seconds,
            "loglik": result.log_likelihood,
            "peak_rss_mb": peak_rss_mb(),
        })
    );
    Ok(())
}

/// Peak resident memory of this process (VmHWM), in MiB.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}
