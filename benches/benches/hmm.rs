//! Gaussian HMM inference and one Baum-Welch iteration at the standard
//! workload size (K states, d dims, sequences x length) = (8, 4, 200 x 500)
//! and a smaller and a longer shape.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use emfit_benches::flops;
use emfit_benches::workloads::hmm_big;
use hmm::EmModel;
use std::hint::black_box;
use std::time::Duration;

fn hmm(c: &mut Criterion) {
    let mut group = c.benchmark_group("gaussian_hmm");
    group.sample_size(10);
    let options = hmm::MStepOptions::default();
    for (k, d, sequences, length) in [(8, 4, 200, 500), (2, 1, 50, 20), (4, 4, 10, 10_000)] {
        let w = hmm_big(k, d, sequences, length);
        let data = w.sequences();
        let shape = format!("k{k}_d{d}_t{}", sequences * length);
        let steps = sequences * length;
        group.throughput(Throughput::Elements(flops::hmm_score(k, d, steps)));
        group.bench_function(BenchmarkId::new("forward_backward_score", &shape), |b| {
            b.iter(|| black_box(w.start.score(&data).unwrap()))
        });
        group.throughput(Throughput::Elements(flops::hmm_viterbi(k, d, steps)));
        group.bench_function(BenchmarkId::new("viterbi", &shape), |b| {
            b.iter(|| black_box(w.start.decode(&data).unwrap().log_prob()))
        });
        group.throughput(Throughput::Elements(flops::hmm_baum_welch_iteration(k, d, steps)));
        group.bench_function(BenchmarkId::new("baum_welch_iteration", &shape), |b| {
            b.iter(|| black_box(w.start.em_iteration(&data, &options).unwrap().log_likelihood))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
    targets = hmm
}
criterion_main!(benches);
