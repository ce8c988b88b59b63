//! Benches of the linalg-kernels crate at the sizes EM uses, run with
//! `cargo bench -p linalg-kernels --bench kernels` or `cargo xtask bench kernels`
//! (which also prints a table). They need only this crate, faer and criterion.
//!
//! `cholesky/{kernels,faer}` justify the size switch inside
//! `cholesky_in_place`; the batched density and row log-sum-exp run at
//! n = 200,000 rows, the `gmm_big` workload size.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use faer::Mat;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt::factor::{LltRegularization, cholesky_in_place, cholesky_in_place_scratch};
use linalg_kernels::{Cholesky, gaussian_log_density, row_log_sum_exp};
use std::hint::black_box;
use std::time::Duration;

const DIMS: [usize; 6] = [1, 2, 4, 8, 21, 64];

/// A deterministic pseudo-random value in `[-1, 1)` for index `i` (the
/// sequence of `emfit_benches::pseudo_random`, so the inputs are unchanged).
fn pseudo_random(i: usize) -> f64 {
    let x = (i as u64)
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    ((x >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
}

/// A well-conditioned SPD matrix `W Wᵀ / d + I` of dimension `d`.
fn spd_matrix(d: usize) -> Mat<f64> {
    let w = Mat::<f64>::from_fn(d, d, |i, j| pseudo_random(i * d + j));
    let mut a = &w * w.transpose() * (1.0 / d as f64);
    for i in 0..d {
        a[(i, i)] += 1.0;
    }
    a
}

/// An `n x d` data matrix with entries in `[-3, 3)`.
fn data_matrix(n: usize, d: usize) -> Mat<f64> {
    Mat::<f64>::from_fn(n, d, |i, j| 3.0 * pseudo_random(i * d + j + 17))
}

fn cholesky(c: &mut Criterion) {
    let mut group = c.benchmark_group("cholesky");
    for d in DIMS {
        let a = spd_matrix(d);
        let mut work = a.clone();
        group.bench_with_input(BenchmarkId::new("kernels", d), &d, |b, _| {
            b.iter(|| {
                work.copy_from(a.as_ref());
                linalg_kernels::cholesky_in_place(work.as_mut()).unwrap();
                black_box(work[(0, 0)])
            })
        });
        let mut buffer = MemBuffer::new(cholesky_in_place_scratch::<f64>(
            d,
            faer::Par::Seq,
            Default::default(),
        ));
        group.bench_with_input(BenchmarkId::new("faer", d), &d, |b, _| {
            b.iter(|| {
                work.copy_from(a.as_ref());
                cholesky_in_place(
                    work.as_mut(),
                    LltRegularization::default(),
                    faer::Par::Seq,
                    MemStack::new(&mut buffer),
                    Default::default(),
                )
                .unwrap();
                black_box(work[(0, 0)])
            })
        });
    }
    group.finish();
}

fn solve(c: &mut Criterion) {
    let mut group = c.benchmark_group("solve_d_rhs");
    for d in DIMS {
        let chol = Cholesky::new(spd_matrix(d).as_ref()).unwrap();
        let rhs = data_matrix(d, d);
        let mut work = rhs.clone();
        group.bench_with_input(BenchmarkId::from_parameter(d), &d, |b, _| {
            b.iter(|| {
                work.copy_from(rhs.as_ref());
                chol.solve_in_place(work.as_mut()).unwrap();
                black_box(work[(0, 0)])
            })
        });
    }
    group.finish();
}

fn log_density(c: &mut Criterion) {
    let n = 200_000;
    let mut group = c.benchmark_group("gaussian_log_density_n200000");
    group.sample_size(10);
    for d in DIMS {
        let chol = Cholesky::new(spd_matrix(d).as_ref()).unwrap();
        let x = data_matrix(n, d);
        let mean = vec![0.1; d];
        let mut out = vec![0.0; n];
        group.bench_with_input(BenchmarkId::from_parameter(d), &d, |b, _| {
            b.iter(|| {
                gaussian_log_density(x.as_ref(), &mean, &chol, &mut out).unwrap();
                black_box(out[0])
            })
        });
    }
    group.finish();
}

fn log_sum_exp_rows(c: &mut Criterion) {
    let n = 200_000;
    let mut group = c.benchmark_group("row_log_sum_exp_n200000");
    group.sample_size(10);
    for k in [2, 8] {
        let m: Mat<f64> = data_matrix(n, k);
        let mut out = vec![0.0; n];
        group.bench_with_input(BenchmarkId::new("k", k), &k, |b, _| {
            b.iter(|| {
                row_log_sum_exp(m.as_ref(), &mut out).unwrap();
                black_box(out[0])
            })
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20)
}

criterion_group! {
    name = kernels;
    config = config();
    targets = cholesky, solve, log_density, log_sum_exp_rows
}
criterion_main!(kernels);
