//! Kalman filter, RTS smoother and one EM iteration of a linear Gaussian
//! state-space model: scenario 3 at (n, T) = (21, 44,484) and (21, 5,000),
//! with the exact recursion and with the steady-state option; and the exact
//! filter with a dense A (scenario 3's A is 80% zeros, which the filter
//! skips), to show what a general transition costs; and the per-step cost
//! of the streaming filter on scenario 3 (n = p = 21), exact and steady
//! state.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use emfit_benches::flops;
use emfit_benches::workloads::with_dense_transition;
use statespace::scenario::{Scenario3, em_start, learn_options};
use statespace::{EmModel, InferenceOptions, StreamingFilter};
use std::hint::black_box;
use std::time::Duration;

fn statespace(c: &mut Criterion) {
    let mut group = c.benchmark_group("lgssm");
    group.sample_size(10);
    for steps in [5_000, 44_484] {
        let data = Scenario3::new(steps, 4242).with_coupling(true).generate();
        let y = data.observations.as_ref();
        for (mode, inference) in [
            ("exact", InferenceOptions::exact()),
            ("steady", InferenceOptions::steady_state()),
        ] {
            let shape = format!("n21_t{steps}_{mode}");
            let truth = data.truth.clone().with_inference(inference);
            group.bench_function(BenchmarkId::new("filter", &shape), |b| {
                b.iter(|| black_box(truth.filter(y).unwrap().log_likelihood()))
            });
            group.bench_function(BenchmarkId::new("smoother", &shape), |b| {
                b.iter(|| black_box(truth.smooth(y).unwrap().log_likelihood()))
            });
            let start = em_start(y, 4242).unwrap().with_inference(inference);
            let options = learn_options();
            group.bench_function(BenchmarkId::new("em_iteration_a_q", &shape), |b| {
                b.iter(|| black_box(start.em_iteration(&[y], &options).unwrap().log_likelihood))
            });
        }
    }
    let data = Scenario3::new(44_484, 4242).with_coupling(true).generate();
    let dense = with_dense_transition(data.truth);
    let y = data.observations.as_ref();
    // Last: criterion keeps a group's throughput for the benches after it,
    // and only here is the dense-transition count the work done.
    group.throughput(Throughput::Elements(flops::kalman_filter(21, 21, 44_484)));
    group.bench_function(BenchmarkId::new("filter", "n21_t44484_exact_dense_a"), |b| {
        b.iter(|| black_box(dense.filter(y).unwrap().log_likelihood()))
    });
    group.finish();
}

/// One `StreamingFilter::update` of scenario 3 (n = p = 21): the time per
/// iteration is the time per step. The observations cycle through 5,000
/// generated steps; the steady-state filter is warmed up into its steady
/// state first (as a long-running stream is).
fn streaming(c: &mut Criterion) {
    let mut group = c.benchmark_group("lgssm_streaming");
    let data = Scenario3::new(5_000, 4242).with_coupling(true).generate();
    let rows: Vec<Vec<f64>> = (0..data.observations.nrows())
        .map(|k| data.observations.row(k).iter().copied().collect())
        .collect();
    for (mode, inference) in [
        ("exact", InferenceOptions::exact()),
        ("steady", InferenceOptions::steady_state()),
    ] {
        let model = data.truth.clone().with_inference(inference);
        let mut filter = StreamingFilter::new(&model);
        for y in &rows[..500] {
            filter.update(y, None).unwrap();
        }
        let mut next = rows.iter().cycle();
        group.throughput(Throughput::Elements(1));
        group.bench_function(BenchmarkId::new("update", format!("n21_{mode}")), |b| {
            b.iter(|| black_box(filter.update(next.next().unwrap(), None).unwrap()[0]))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
    targets = statespace, streaming
}
criterion_main!(benches);
