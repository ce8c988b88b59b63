//! The variational categorical HMM against brute force over every state
//! path of tiny problems, and its errors.
//!
//! For fixed `q(π, A, B)` the variational objective of a distribution
//! `r(z)` over the state paths is
//! `F(r) = Σ_z r(z) E_q[ln p(x, z | π, A, B)] − Σ_z r(z) ln r(z) − KL`,
//! with `E_q[ln π_j] = ψ(ã_j) − ψ(Σ ã)` etc. Enumerating the K^T paths of
//! each sequence gives the optimal `r` (∝ `exp E_q[ln p(x, z)]`), its
//! `F`, which must be the model's bound, and its marginals, which must be
//! the E-step's statistics; any other `r` must give less.

use faer::Mat;
use hmm::variational::{VariationalCategorical, VariationalCategoricalHmm, VariationalInit};
use hmm::{EmModel, HmmError, LearnSet, Sequences, Settings, Start, Table, fit};
use rand::{Rng, SeedableRng};
use statrs::function::gamma::{digamma, ln_gamma};

/// `ψ(a_j) − ψ(Σ a)`, written out.
fn e_log(a: &[f64]) -> Vec<f64> {
    let s: f64 = a.iter().sum();
    a.iter().map(|&v| digamma(v) - digamma(s)).collect()
}

/// `E_q[ln p(x, z)]` of one path `z` of one sequence `x`.
fn path_term(model: &VariationalCategoricalHmm, x: &[usize], z: &[usize]) -> f64 {
    let k = model.n_states();
    let es = e_log(model.start_posterior());
    let tp = model.transition_posterior();
    let et: Vec<Vec<f64>> = (0..k)
        .map(|i| e_log(&(0..k).map(|j| tp[(i, j)]).collect::<Vec<_>>()))
        .collect();
    let bp = model.emission().posterior();
    let m = bp.ncols();
    let eb: Vec<Vec<f64>> = (0..k)
        .map(|j| e_log(&(0..m).map(|s| bp[(j, s)]).collect::<Vec<_>>()))
        .collect();
    let mut v = es[z[0]] + eb[z[0]][x[0]];
    for t in 1..x.len() {
        v += et[z[t - 1]][z[t]] + eb[z[t]][x[t]];
    }
    v
}

/// Every path of length `t` over `k` states.
fn paths(k: usize, t: usize) -> Vec<Vec<usize>> {
    (0..k.pow(t as u32))
        .map(|mut code| {
            (0..t)
                .map(|_| {
                    let s = code % k;
                    code /= k;
                    s
                })
                .collect()
        })
        .collect()
}

/// `KL(Dir(q) ‖ Dir(p))` from the densities' definition:
/// `E_q[ln q − ln p]` with `E_q[ln x_j] = ψ(q_j) − ψ(q₀)`.
fn kl(q: &[f64], p: &[f64]) -> f64 {
    let ln_norm = |a: &[f64]| ln_gamma(a.iter().sum()) - a.iter().map(|&v| ln_gamma(v)).sum::<f64>();
    let el = e_log(q);
    ln_norm(q) - ln_norm(p)
        + q.iter()
            .zip(p)
            .zip(&el)
            .map(|((&qj, &pj), &e)| (qj - pj) * e)
            .sum::<f64>()
}

fn divergence(model: &VariationalCategoricalHmm) -> f64 {
    let k = model.n_states();
    let row = |a: faer::MatRef<'_, f64>, i: usize| (0..a.ncols()).map(|j| a[(i, j)]).collect::<Vec<_>>();
    let mut d = kl(model.start_posterior(), model.start_prior());
    for i in 0..k {
        d += kl(
            &row(model.transition_posterior(), i),
            &row(model.transition_prior(), i),
        );
        d += kl(
            &row(model.emission().posterior(), i),
            &row(model.emission().prior(), i),
        );
    }
    d
}

/// A random model with K states and M symbols (concentrations in 0.2..5).
fn random_model(k: usize, m: usize, seed: u64) -> VariationalCategoricalHmm {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut draw = |r: usize, c: usize| Mat::from_fn(r, c, |_, _| 0.2 + 4.8 * rng.random::<f64>());
    let (sp, s, tp, t, bp, b) = (
        draw(1, k),
        draw(1, k),
        draw(k, k),
        draw(k, k),
        draw(k, m),
        draw(k, m),
    );
    let emission = VariationalCategorical::new(bp.as_ref(), b.as_ref()).unwrap();
    let row = |a: &Mat<f64>| (0..k).map(|j| a[(0, j)]).collect::<Vec<_>>();
    VariationalCategoricalHmm::new(row(&sp), row(&s), tp.as_ref(), t.as_ref(), emission).unwrap()
}

#[test]
fn the_bound_and_statistics_equal_brute_force_over_all_paths() {
    let seqs: [&[usize]; 3] = [&[0, 2, 1, 1, 0], &[2, 2], &[1]];
    for (seed, k) in [(1, 1), (2, 2), (3, 3)] {
        let model = random_model(k, 3, seed);
        let stacked: Vec<f64> = seqs.iter().flat_map(|s| s.iter().map(|&v| v as f64)).collect();
        let x = Mat::from_fn(stacked.len(), 1, |i, _| stacked[i]);
        let lengths: Vec<usize> = seqs.iter().map(|s| s.len()).collect();
        let data = Sequences::new(x.as_ref(), &lengths).unwrap();
        let e = model.e_step(&data).unwrap();

        let mut f = -divergence(&model);
        let mut start = vec![0.0; k];
        let mut trans = vec![0.0; k * k];
        let mut worse = -divergence(&model);
        for x in seqs {
            let all = paths(k, x.len());
            let terms: Vec<f64> = all.iter().map(|z| path_term(&model, x, z)).collect();
            let max = terms.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let log_z = max + terms.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
            // F at the optimal r: Σ r (term − ln r) = ln Z.
            let r: Vec<f64> = terms.iter().map(|v| (v - log_z).exp()).collect();
            f += r.iter().zip(&terms).map(|(&r, &v)| r * (v - r.ln())).sum::<f64>();
            // A uniform r is worse (or equal for K = 1).
            let u = 1.0 / all.len() as f64;
            worse += terms.iter().map(|&v| u * (v - u.ln())).sum::<f64>();
            for (z, &rz) in all.iter().zip(&r) {
                start[z[0]] += rz;
                for w in z.windows(2) {
                    trans[w[0] * k + w[1]] += rz;
                }
            }
        }
        let bound = model.lower_bound(e.log_likelihood).unwrap();
        assert!(
            (bound - f).abs() < 1e-10 * f.abs(),
            "K {k}: {bound} vs brute force {f}"
        );
        assert!(
            worse <= f + 1e-12 * f.abs(),
            "K {k}: uniform paths {worse} above the optimum {f}"
        );
        if k > 1 {
            assert!(worse < f - 1e-6, "K {k}");
        }
        for i in 0..k {
            assert!((e.stats.start_counts()[i] - start[i]).abs() < 1e-10, "K {k}");
            for j in 0..k {
                let found = e.stats.transition_counts()[(i, j)];
                assert!(
                    (found - trans[i * k + j]).abs() < 1e-10,
                    "K {k} ({i}, {j}): {found}"
                );
            }
        }
    }
}

#[test]
fn the_update_adds_the_statistics_to_the_prior() {
    let model = random_model(2, 3, 9);
    let x = Mat::from_fn(7, 1, |i, _| (i % 3) as f64);
    let data = Sequences::new(x.as_ref(), &[4, 3]).unwrap();
    let e = model.e_step(&data).unwrap();
    let (next, _) = model.m_step(&e.stats, &LearnSet::all()).unwrap();
    for j in 0..2 {
        let a = next.start_posterior()[j] - model.start_prior()[j];
        assert!((a - e.stats.start_counts()[j]).abs() < 1e-14);
        for s in 0..3 {
            let u = next.emission().posterior()[(j, s)] - next.emission().prior()[(j, s)];
            assert!((u - e.stats.emission().count(j, s)).abs() < 1e-14);
        }
    }
    // Blocks left out keep their posterior.
    let only_start = LearnSet::only(&[hmm::Param::Start]);
    let (kept, _) = model.m_step(&e.stats, &only_start).unwrap();
    assert_eq!(kept.transition_posterior(), model.transition_posterior());
    assert_eq!(kept.emission(), model.emission());
    assert_ne!(kept.start_posterior(), model.start_posterior());
}

#[test]
fn fits_recover_a_two_state_chain_and_squarem_runs_plain_steps() {
    // Sticky chain: state 0 emits mostly 0, state 1 mostly 2.
    let mut rng = rand::rngs::StdRng::seed_from_u64(4);
    let (mut state, mut xs) = (0usize, Vec::new());
    for _ in 0..600 {
        if rng.random::<f64>() < 0.05 {
            state = 1 - state;
        }
        let u = rng.random::<f64>();
        xs.push(if u < 0.8 { 2 * state } else { 1 } as f64);
    }
    let x = Mat::from_fn(xs.len(), 1, |i, _| xs[i]);
    let data = Sequences::new(x.as_ref(), &[300, 300]).unwrap();
    let settings = Settings::builder().max_iterations(300).seed(2).build().unwrap();
    let fitted = fit::<VariationalCategoricalHmm>(
        &data,
        Start::FromData(VariationalInit::new(2)),
        &LearnSet::all(),
        &settings,
    )
    .unwrap();
    assert!(fitted.report.converged(), "{}", fitted.report);
    let a = fitted.model.transitions();
    assert!(a[(0, 0)] > 0.85 && a[(1, 1)] > 0.85, "{a:?}");
    let b = fitted.model.emission().probabilities();
    let hi = if b[(0, 0)] > b[(1, 0)] { 0 } else { 1 };
    assert!(b[(hi, 0)] > 0.7 && b[(1 - hi, 2)] > 0.7, "{b:?}");

    let squarem = Settings::builder()
        .max_iterations(300)
        .seed(2)
        .acceleration(hmm::Acceleration::squarem())
        .build()
        .unwrap();
    let accelerated = fit::<VariationalCategoricalHmm>(
        &data,
        Start::FromData(VariationalInit::new(2)),
        &LearnSet::all(),
        &squarem,
    )
    .unwrap();
    assert_eq!(accelerated.report.history, fitted.report.history);
}

#[test]
fn bad_input_is_a_typed_error() {
    let model = random_model(2, 3, 5);
    // A symbol out of range, named by sequence and row.
    let x = Mat::from_fn(5, 1, |i, _| if i == 3 { 3.0 } else { 0.0 });
    let data = Sequences::new(x.as_ref(), &[2, 3]).unwrap();
    let e = model.e_step(&data).unwrap_err();
    assert!(
        matches!(
            e,
            HmmError::SymbolOutOfRange {
                sequence: 1,
                time: 1,
                row: 3,
                ..
            }
        ),
        "{e}"
    );
    // Concentrations must be finite and positive, prior and posterior.
    let good = Mat::from_fn(2, 3, |_, _| 1.0);
    let mut bad = good.clone();
    bad[(1, 2)] = 0.0;
    let e = VariationalCategorical::new(good.as_ref(), bad.as_ref()).unwrap_err();
    assert!(
        matches!(
            e,
            HmmError::InvalidConcentration {
                table: Table::EmissionProbabilities,
                posterior: true,
                row: 1,
                col: 2,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("(2, 3)"), "{e}");
    let emission = VariationalCategorical::new(good.as_ref(), good.as_ref()).unwrap();
    let two = Mat::from_fn(2, 2, |_, _| 1.0);
    let e = VariationalCategoricalHmm::new(
        vec![1.0, f64::NAN],
        vec![1.0; 2],
        two.as_ref(),
        two.as_ref(),
        emission.clone(),
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            HmmError::InvalidConcentration {
                table: Table::Start,
                posterior: false,
                col: 1,
                ..
            }
        ),
        "{e}"
    );
    let three = Mat::from_fn(3, 3, |_, _| 1.0);
    let e =
        VariationalCategoricalHmm::new(vec![1.0; 2], vec![1.0; 2], two.as_ref(), three.as_ref(), emission)
            .unwrap_err();
    assert!(
        matches!(
            e,
            HmmError::DimensionMismatch {
                expected: 2,
                found: 3,
                ..
            }
        ),
        "{e}"
    );
    // Statistics of another model.
    let other = random_model(3, 3, 6);
    let x = Mat::from_fn(4, 1, |i, _| (i % 3) as f64);
    let data = Sequences::single(x.as_ref()).unwrap();
    let stats = other.e_step(&data).unwrap().stats;
    assert!(matches!(
        model.m_step(&stats, &LearnSet::all()).unwrap_err(),
        HmmError::DimensionMismatch { .. }
    ));
    // No states; a data column too many.
    let init = VariationalInit::new(0);
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    assert_eq!(
        VariationalCategoricalHmm::init_from_data(&data, &init, &mut rng).unwrap_err(),
        HmmError::NoStates
    );
    let wide = Mat::from_fn(4, 2, |_, _| 0.0);
    let wide = Sequences::single(wide.as_ref()).unwrap();
    assert!(matches!(
        VariationalCategoricalHmm::init_from_data(&wide, &VariationalInit::new(2), &mut rng).unwrap_err(),
        HmmError::DimensionMismatch {
            expected: 1,
            found: 2,
            ..
        }
    ));
}
