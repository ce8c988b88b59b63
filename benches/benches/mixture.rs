//! One EM iteration (E-step + M-step) of a Gaussian mixture, at the standard
//! workload size (N, d, K) = (200,000, 8, 8) and a few smaller shapes.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use emfit_benches::flops;
use emfit_benches::workloads::{diagonal_start, gmm_big};
use mixture::EmModel;
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

criterion_group! {
    name = mixture;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
    targets = em_iteration
}
criterion_main!(mixture);
