//! One EM iteration (E-step + M-step) of a Gaussian mixture, at the standard
//! workload size (N, d, K) = (200,000, 8, 8) and a few smaller shapes; and
//! the reduction of a distributed E-step: what every rank of an
//! `em_core::Ranks` fit does with the other ranks' flat E-steps once they
//! arrive (decode each, merge in rank order).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use emfit_benches::flops;
use emfit_benches::workloads::{diagonal_start, gmm_big};
use mixture::{EStep, EmModel, SufficientStats};
use std::hint::black_box;
use std::time::Duration;

fn em_iteration(c: &mut Criterion) {
    let mut group = c.benchmark_group("gmm_em_iteration");
    group.sample_size(10);
    let options = mixture::MStepOptions::default();
    for (n, d, k) in [(200_000, 8, 8), (200_000, 2, 2), (20_000, 8, 8), (20_000, 16, 4)] {
        let w = gmm_big(n, d, k);
        for (name, start) in [("full", w.start.clone()), ("diag", diagonal_start(&w.start))] {
            let id = BenchmarkId::new(name, format!("n{n}_d{d}_k{k}"));
            group.throughput(Throughput::Elements(flops::gmm_em_iteration(
                n,
                d,
                k,
                name == "full",
            )));
            group.bench_with_input(id, &start, |b, start| {
                b.iter(|| black_box(start.em_iteration(w.x.as_ref(), &options).unwrap().log_likelihood))
            });
        }
    }
    group.finish();
}

/// Decoding and merging the flat E-steps of `ranks` ranks (full
/// covariances, d = 8, K = 8): the per-iteration reduction cost of a
/// distributed fit beside the transfer itself. Throughput: the bytes every
/// rank receives.
fn reduction(c: &mut Criterion) {
    let mut group = c.benchmark_group("gmm_reduce_flat_estep");
    let w = gmm_big(4_096, 8, 8);
    let flat = w
        .start
        .e_step(w.x.as_ref())
        .expect("E-step of the workload")
        .to_flat();
    for ranks in [2_usize, 16, 100] {
        let messages = vec![flat.clone(); ranks];
        group.throughput(Throughput::Bytes((ranks * flat.len() * 8) as u64));
        group.bench_with_input(BenchmarkId::new("d8_k8_full", ranks), &messages, |b, messages| {
            b.iter(|| {
                let mut parts = messages
                    .iter()
                    .map(|m| EStep::<SufficientStats>::from_flat(m).expect("valid"));
                let mut total = parts.next().expect("one rank at least");
                for part in parts {
                    total.checked_merge(&part).expect("same shape");
                }
                black_box(total.log_likelihood)
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = mixture;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
    targets = em_iteration, reduction
}
criterion_main!(mixture);
