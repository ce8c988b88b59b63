//! Bit-identity of the instruction-set variants (up to their choice of
//! fused multiply-adds) and error locations.

use super::*;
use faer::Mat;
use linalg_kernels::isa::Isa;

/// Deterministic pseudo-random numbers in (0, 1).
fn numbers(n: usize, seed: u64) -> Vec<f64> {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        })
        .collect()
}

fn rows(k: usize, seed: u64) -> Vec<f64> {
    let raw = numbers(k * k, seed);
    raw.chunks_exact(k)
        .flat_map(|r| {
            let s: f64 = r.iter().sum();
            r.iter().map(move |v| v / s).collect::<Vec<_>>()
        })
        .collect()
}

/// Everything one variant of the kernels computes on a test input.
#[derive(Debug, PartialEq)]
struct Outputs {
    ll: u64,
    best: u64,
    e: Vec<f64>,
    shift: Vec<f64>,
    gamma: Vec<f64>,
    columns: Vec<f64>,
    m: Vec<f64>,
    path: Vec<usize>,
}

/// Runs the kernels of one variant: `$kernel!(name(args))` calls them.
macro_rules! run_variant {
    ($chain:expr, $logb:expr, $call:ident) => {{
        let (chain, logb): (Chain<'_>, &Mat<f64>) = ($chain, $logb);
        let (n, k) = (logb.nrows(), chain.k);
        let (mut e, mut shift, mut tmp) = (vec![0.0; n * k], vec![0.0; n], Vec::new());
        let (mut alpha, mut c, mut m) = (vec![0.0; n * k], vec![0.0; n], vec![0.0; k * k]);
        let mut scratch = Scratch::new(k);
        let mut columns = vec![0.0; n * k];
        let logb_columns: Vec<&[f64]> = (0..k).map(|j| logb.col_as_slice(j)).collect();
        let mut path = vec![0usize; n];
        let mut work = ViterbiScratch::default();
        let log_trans: Vec<f64> = chain.trans.iter().map(|v| v.ln()).collect();
        let log_start: Vec<f64> = chain.start.iter().map(|v| v.ln()).collect();
        let logb = logb.as_ref();
        $call!(scale_emissions(&logb_columns, &mut e, &mut shift, &mut tmp)).unwrap();
        let ll = $call!(forward(
            chain,
            logb,
            &mut e,
            &mut shift,
            &mut alpha,
            &mut c,
            &mut scratch
        ))
        .unwrap();
        assert!($call!(backward(chain, &e, &mut alpha, &c, &mut m, &mut scratch)));
        $call!(time_major_to_columns(&alpha, k, &mut columns));
        $call!(check_log_likelihoods(&logb_columns)).unwrap();
        let best = $call!(viterbi(
            &log_start,
            &log_trans,
            &logb_columns,
            &mut path,
            &mut work
        ))
        .unwrap();
        Outputs {
            ll: ll.to_bits(),
            best: best.to_bits(),
            e,
            shift,
            gamma: alpha,
            columns,
            m,
            path,
        }
    }};
}

/// The bodies called from this (baseline) test code.
macro_rules! body {
    (scale_emissions($($a:expr),*)) => { layout::scale_emissions_body::<false, false>($($a),*) };
    (forward($($a:expr),*)) => { forward::forward_body::<false>($($a),*) };
    (forward_pair($($a:expr),*)) => { forward::forward_pair_body::<false>($($a),*) };
    (backward($($a:expr),*)) => { backward::backward_body::<false>($($a),*) };
    (time_major_to_columns($($a:expr),*)) => { layout::time_major_to_columns_body($($a),*) };
    (check_log_likelihoods($($a:expr),*)) => { layout::check_log_likelihoods_body($($a),*) };
    (viterbi($($a:expr),*)) => { viterbi::viterbi_body($($a),*) };
    (viterbi_pair($($a:expr),*)) => { viterbi::viterbi_pair_body($($a),*) };
}

/// The bodies, with the fused multiply-adds of the sets that have FMA
/// (computed here by libm's `fma`, which rounds the same).
macro_rules! body_fused {
    (scale_emissions($($a:expr),*)) => { layout::scale_emissions_body::<true, false>($($a),*) };
    (forward($($a:expr),*)) => { forward::forward_body::<true>($($a),*) };
    (forward_pair($($a:expr),*)) => { forward::forward_pair_body::<true>($($a),*) };
    (backward($($a:expr),*)) => { backward::backward_body::<true>($($a),*) };
    ($($call:tt)*) => { body!($($call)*) };
}

/// The entry points with the run-time choice of instruction set.
macro_rules! dispatched {
    ($f:ident($($a:expr),*)) => { $f($($a),*) };
}

/// The baseline module of the kernels.
macro_rules! baseline {
    ($f:ident($($a:expr),*)) => { baseline::$f($($a),*) };
}

/// The AVX2 module (called only on CPUs that have AVX2 and FMA).
#[cfg(target_arch = "x86_64")]
macro_rules! avx2 {
    // SAFETY: the caller checked `Isa::supported().has_avx2()`.
    ($f:ident($($a:expr),*)) => { unsafe { avx2::$f($($a),*) } };
}

/// The AVX-512 module (called only on CPUs that have AVX-512).
#[cfg(target_arch = "x86_64")]
macro_rules! avx512 {
    // SAFETY: the caller checked `Isa::supported().has_avx512()`.
    ($f:ident($($a:expr),*)) => { unsafe { avx512::$f($($a),*) } };
}

/// A K-state chain and n x K emission log-likelihoods. With `structural`,
/// the last state is unreachable (zero start probability and zero
/// transitions into it) and every 13th row only it explains well, so the
/// scale factor underflows and those steps are rescaled over the reachable
/// states.
fn case(k: usize, n: usize, structural: bool) -> (Vec<f64>, Vec<f64>, Mat<f64>) {
    let mut trans = rows(k, 1 + k as u64);
    let mut start = rows(k, 2)[..k].to_vec();
    if structural && k > 1 {
        start[k - 1] = 0.0;
        for i in 0..k - 1 {
            trans[i * k + k - 1] = 0.0;
        }
    }
    let normalise = |v: &mut [f64]| {
        let s: f64 = v.iter().sum();
        v.iter_mut().for_each(|x| *x /= s);
    };
    normalise(&mut start);
    trans.chunks_exact_mut(k).for_each(normalise);
    let vals = numbers(n * k, 3);
    let logb = Mat::from_fn(n, k, |t, j| {
        if structural && k > 1 && t % 13 == 5 {
            if j == k - 1 { 0.0 } else { -720.0 }
        } else {
            -30.0 * vals[t * k + j] - if (t + j) % 7 == 0 { 400.0 } else { 0.0 }
        }
    });
    (start, trans, logb)
}

/// Whether the kernels of `isa` fuse multiply-adds (the `$fma` of
/// `linalg_kernels::for_each_isa!`).
fn fuses(isa: Isa) -> bool {
    isa != Isa::Baseline || cfg!(target_arch = "aarch64")
}

/// Every instruction-set variant this CPU can run (and the run-time
/// selected one) gives bit-identical results to the bodies compiled for the
/// baseline target with the same choice of fused multiply-adds, for the
/// specialised K and the generic path, with and without rescaled steps; the
/// two choices agree to rounding.
#[test]
fn every_instruction_set_gives_identical_results() {
    let supported = Isa::supported();
    for (k, structural) in [1usize, 2, 3, 5, 8, 11]
        .into_iter()
        .flat_map(|k| [(k, false), (k, true)])
    {
        // 303 rows: the transpositions' blocks of 64 rows end in a partial
        // one whose row count is not a multiple of their 4 x 4 tiles.
        let n = 303;
        let (start, trans, logb) = case(k, n, structural);
        let chain = Chain {
            start: &start,
            trans: &trans,
            k,
        };
        let unfused = run_variant!(chain, &logb, body);
        let fused = run_variant!(chain, &logb, body_fused);
        let reference = |isa: Isa| if fuses(isa) { &fused } else { &unfused };
        if structural && k > 1 {
            // Rescaled: the shift of row 5 is over the reachable states.
            assert_eq!(unfused.shift[5], -720.0, "K = {k}");
        }
        let what = format!("K = {k}, structural zeros {structural}");
        // The transpositions, against the definitions: `columns` holds the
        // posteriors by state, `e` the shifted exponentials by time step.
        for t in 0..n {
            for j in 0..k {
                assert_eq!(
                    unfused.columns[j * n + t],
                    unfused.gamma[t * k + j],
                    "{what}, t {t} j {j}"
                );
                if !structural {
                    let want = (logb[(t, j)] - unfused.shift[t]).exp();
                    // Within `fastexp`'s documented relative error.
                    assert!(
                        (unfused.e[t * k + j] - want).abs() <= 1e-13 * want.max(1e-300),
                        "{what}, t {t} j {j}"
                    );
                }
            }
        }
        // The fused multiply-adds move only the last bits; Viterbi (none)
        // and the shifts not at all.
        let close = |a: &[f64], b: &[f64]| {
            a.iter()
                .zip(b)
                .all(|(x, y)| (x - y).abs() <= 1e-13 * x.abs().max(1e-300))
        };
        let ll = |o: &Outputs| f64::from_bits(o.ll);
        assert!(
            (ll(&fused) - ll(&unfused)).abs() <= 1e-13 * ll(&unfused).abs(),
            "{what}"
        );
        assert!(
            close(&fused.e, &unfused.e)
                && close(&fused.gamma, &unfused.gamma)
                && close(&fused.columns, &unfused.columns)
                && close(&fused.m, &unfused.m),
            "{what}"
        );
        assert_eq!(
            (fused.best, &fused.path, &fused.shift),
            (unfused.best, &unfused.path, &unfused.shift),
            "{what}"
        );
        assert_eq!(
            run_variant!(chain, &logb, dispatched),
            *reference(Isa::detect()),
            "{what}, dispatched"
        );
        assert_eq!(
            run_variant!(chain, &logb, baseline),
            *reference(Isa::Baseline),
            "{what}, baseline"
        );
        #[cfg(target_arch = "x86_64")]
        {
            if supported.has_avx2() {
                assert_eq!(
                    run_variant!(chain, &logb, avx2),
                    *reference(Isa::Avx2),
                    "{what}, AVX2"
                );
            }
            if supported.has_avx512() {
                assert_eq!(
                    run_variant!(chain, &logb, avx512),
                    *reference(Isa::Avx512),
                    "{what}, AVX-512"
                );
            }
        }
        let _ = supported;
    }
}

#[test]
fn invalid_log_likelihoods_are_located() {
    let mut logb = Mat::<f64>::zeros(4, 2);
    logb[(2, 1)] = f64::NAN;
    let mut e = vec![0.0; 8];
    let mut shift = vec![0.0; 4];
    let scale = |logb: MatRef<'_, f64>, e: &mut [f64], shift: &mut [f64]| {
        let cols: Vec<&[f64]> = (0..logb.ncols())
            .map(|j| logb.col(j).try_as_col_major().unwrap().as_slice())
            .collect();
        scale_emissions(&cols, e, shift, &mut Vec::new())
    };
    assert!(matches!(
        scale(logb.as_ref(), &mut e, &mut shift),
        Err((2, 1, v)) if v.is_nan()
    ));
    logb[(2, 1)] = 0.0;
    logb[(3, 0)] = f64::INFINITY;
    let columns: Vec<&[f64]> = (0..2).map(|j| logb.col_as_slice(j)).collect();
    assert!(matches!(check_log_likelihoods(&columns), Err((3, 0, _))));
    // A row that is all −∞ scales to zeros, not NaN.
    logb[(3, 0)] = f64::NEG_INFINITY;
    logb[(3, 1)] = f64::NEG_INFINITY;
    scale(logb.as_ref(), &mut e, &mut shift).unwrap();
    assert_eq!(&e[6..8], &[0.0, 0.0]);
    assert_eq!(shift[3], f64::NEG_INFINITY);
}

/// Textbook Viterbi with a table of back-pointers, the lowest predecessor
/// index on ties: the oracle of [`viterbi_matches_the_textbook_recursion`].
fn textbook_viterbi(log_start: &[f64], log_trans: &[f64], logb: &[f64], n: usize) -> (Vec<usize>, f64) {
    let k = log_start.len();
    let mut delta: Vec<f64> = (0..k).map(|j| log_start[j] + logb[j]).collect();
    let mut back = vec![0usize; n * k];
    for t in 1..n {
        let mut next = vec![f64::NEG_INFINITY; k];
        for j in 0..k {
            for i in 0..k {
                let v = delta[i] + log_trans[i * k + j];
                if v > next[j] {
                    next[j] = v;
                    back[t * k + j] = i;
                }
            }
            next[j] += logb[t * k + j];
        }
        delta = next;
    }
    let mut arg = 0;
    for j in 1..k {
        if delta[j] > delta[arg] {
            arg = j;
        }
    }
    let best = delta[arg];
    let mut path = vec![arg; n];
    for t in (1..n).rev() {
        path[t - 1] = back[t * k + path[t]];
    }
    (path, best)
}

/// The decoding of one variant: `$call!(viterbi_pair(...))` over the two
/// sequences of `logb` (rows `..split` and `split..`), and `viterbi` over
/// each; the results with the paths.
macro_rules! decodings_of {
    ($call:ident, $log_start:expr, $log_trans:expr, $logb:expr, $split:expr) => {{
        let (log_start, log_trans, logb, split): (&[f64], &[f64], &[f64], usize) =
            ($log_start, $log_trans, $logb, $split);
        let k = log_start.len();
        let n = logb.len() / k;
        // The kernels read the emissions by state.
        let by_state: Vec<Vec<f64>> = (0..k)
            .map(|j| logb.chunks_exact(k).map(|row| row[j]).collect())
            .collect();
        let columns: Vec<&[f64]> = by_state.iter().map(Vec::as_slice).collect();
        let later: Vec<&[f64]> = columns.iter().map(|col| &col[split..]).collect();
        let mut work = ViterbiScratch::default();
        let mut pair_path = vec![usize::MAX; n];
        let pair = $call!(viterbi_pair(
            log_start,
            log_trans,
            &columns,
            split,
            &mut pair_path,
            &mut work
        ));
        let mut single_path = vec![usize::MAX; n];
        let (first, second) = single_path.split_at_mut(split);
        let singles = [
            $call!(viterbi(log_start, log_trans, &columns, first, &mut work)),
            $call!(viterbi(log_start, log_trans, &later, second, &mut work)),
        ];
        let bits = |r: [Result<f64, usize>; 2]| r.map(|r| r.map(f64::to_bits));
        ((bits(pair), pair_path), (bits(singles), single_path))
    }};
}

/// Viterbi on every instruction set, one sequence at a time and two at
/// once, against [`textbook_viterbi`]: values on a coarse grid so that
/// ties between predecessors and between final states are frequent (the
/// lowest index must win each), some transitions zero (`ln A = −∞`), K on
/// both sides of the specialised sizes, the first sequence of a pair longer
/// and shorter than the second (the pair walks back in lockstep after the
/// longer one's own steps), and either one impossible from a step on (a
/// row of `−∞`).
#[test]
fn viterbi_matches_the_textbook_recursion() {
    let isa = linalg_kernels::isa::Isa::supported();
    for k in [1usize, 2, 3, 4, 7, 8, 9, 12] {
        for (split, dead) in [
            (37, None),
            (37, Some(1)),
            (23, None),
            (23, Some(0)),
            (23, Some(1)),
        ] {
            let n = 60;
            let grid = |v: f64| (v * 4.0).floor() * -0.5;
            let log_start: Vec<f64> = numbers(k, 5).into_iter().map(grid).collect();
            let log_trans: Vec<f64> = numbers(k * k, 6 + k as u64)
                .into_iter()
                .enumerate()
                .map(|(ij, v)| if ij % 5 == 3 { f64::NEG_INFINITY } else { grid(v) })
                .collect();
            let mut logb: Vec<f64> = numbers(n * k, 7).into_iter().map(grid).collect();
            // Step 10 of the dead sequence has no possible state.
            let bounds = [(0, split), (split, n)];
            if let Some(s) = dead {
                let t = bounds[s].0 + 10;
                logb[t * k..(t + 1) * k].fill(f64::NEG_INFINITY);
            }
            let mut expected = vec![usize::MAX; n];
            let want_results = [0, 1].map(|s| {
                let (r0, r1) = bounds[s];
                if dead == Some(s) {
                    return Err(10);
                }
                let (path, best) = textbook_viterbi(&log_start, &log_trans, &logb[r0 * k..r1 * k], r1 - r0);
                expected[r0..r1].copy_from_slice(&path);
                Ok(best.to_bits())
            });
            let want = (want_results, expected);
            let check = |what: &str, (pair, singles): ((_, Vec<usize>), (_, Vec<usize>))| {
                let what = format!("K = {k}, split {split}, dead {dead:?}, {what}");
                let unwritten = |(r, mut p): ([Result<u64, usize>; 2], Vec<usize>)| {
                    // The path of an impossible sequence is unspecified.
                    if let Some(s) = dead {
                        p[bounds[s].0..bounds[s].1].fill(usize::MAX);
                    }
                    (r, p)
                };
                assert_eq!(unwritten(pair), want, "{what}, two at once");
                assert_eq!(unwritten(singles), want, "{what}, one at a time");
            };
            let (ls, lt, lb) = (&log_start[..], &log_trans[..], &logb[..]);
            check("body", decodings_of!(body, ls, lt, lb, split));
            check("dispatched", decodings_of!(dispatched, ls, lt, lb, split));
            check("baseline", decodings_of!(baseline, ls, lt, lb, split));
            #[cfg(target_arch = "x86_64")]
            {
                if isa.has_avx2() {
                    check("AVX2", decodings_of!(avx2, ls, lt, lb, split));
                }
                if isa.has_avx512() {
                    check("AVX-512", decodings_of!(avx512, ls, lt, lb, split));
                }
            }
            let _ = isa;
        }
    }
}

/// What the forward pass leaves in the buffers of two sequences, with each
/// sequence's result (the log-likelihood's bits or the failing step).
type ForwardOutputs = ([Result<u64, usize>; 2], Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>);

/// Runs `forward_pair` of one variant over the two sequences of `logb`
/// (rows `..split` and `split..`), from the scaled emissions `e`, `shift`.
macro_rules! forward_pair_of {
    ($call:ident, $chain:expr, $logb:expr, $split:expr, $e:expr, $shift:expr) => {{
        let (chain, logb, split): (Chain<'_>, MatRef<'_, f64>, usize) = ($chain, $logb, $split);
        let (mut e, mut shift): (Vec<f64>, Vec<f64>) = ($e.clone(), $shift.clone());
        let n = logb.nrows();
        let (mut alpha, mut c) = (vec![0.0; n * chain.k], vec![0.0; n]);
        let mut scratch = Scratch::new(chain.k);
        let results = $call!(forward_pair(
            chain,
            logb,
            &mut e,
            &mut shift,
            &mut alpha,
            &mut c,
            split,
            &mut scratch
        ));
        let outputs: ForwardOutputs = (results.map(|r| r.map(f64::to_bits)), e, shift, alpha, c);
        outputs
    }};
}

/// The forward pass over two sequences at once, on every instruction set,
/// equals two single passes bit for bit: sequences of different lengths,
/// with and without rescaled steps, one of them impossible from a step on,
/// K on both sides of the specialised sizes.
#[test]
fn forward_pair_equals_two_forward_passes() {
    let isa = Isa::supported();
    for k in [1usize, 2, 3, 5, 8, 11] {
        for (structural, impossible) in [(false, false), (true, false), (false, true), (true, true)] {
            let (n, split) = (517, 300);
            let (start, trans, mut logb) = case(k, n, structural);
            if impossible {
                for j in 0..k {
                    logb[(split + 50, j)] = f64::NEG_INFINITY;
                }
            }
            let chain = Chain {
                start: &start,
                trans: &trans,
                k,
            };
            let (mut e, mut shift) = (vec![0.0; n * k], vec![0.0; n]);
            let cols: Vec<&[f64]> = (0..k).map(|j| logb.col_as_slice(j)).collect();
            scale_emissions(&cols, &mut e, &mut shift, &mut Vec::new()).unwrap();
            // Two single passes of one variant of the bodies.
            macro_rules! singles {
                ($call:ident) => {{
                    let (mut e, mut shift) = (e.clone(), shift.clone());
                    let (mut alpha, mut c) = (vec![0.0; n * k], vec![0.0; n]);
                    let mut scratch = Scratch::new(k);
                    let (e0, e1) = e.split_at_mut(split * k);
                    let (s0, s1) = shift.split_at_mut(split);
                    let (a0, a1) = alpha.split_at_mut(split * k);
                    let (c0, c1) = c.split_at_mut(split);
                    let lb = logb.as_ref();
                    let first = $call!(forward(
                        chain,
                        lb.subrows(0, split),
                        e0,
                        s0,
                        a0,
                        c0,
                        &mut scratch
                    ));
                    let second = $call!(forward(
                        chain,
                        lb.subrows(split, n - split),
                        e1,
                        s1,
                        a1,
                        c1,
                        &mut scratch
                    ));
                    let outputs: ForwardOutputs = (
                        [first, second].map(|r| r.map(f64::to_bits)),
                        e,
                        shift,
                        alpha,
                        c,
                    );
                    outputs
                }};
            }
            let (unfused, fused) = (singles!(body), singles!(body_fused));
            let reference = |isa: Isa| if fuses(isa) { &fused } else { &unfused };
            assert_eq!(unfused.0[1].is_err(), impossible, "K = {k}");
            assert_eq!(fused.0[1].is_err(), impossible, "K = {k}");
            let what = format!("K = {k}, structural zeros {structural}, impossible {impossible}");
            let lb = logb.as_ref();
            assert_eq!(
                forward_pair_of!(body, chain, lb, split, e, shift),
                unfused,
                "{what}, body"
            );
            assert_eq!(
                forward_pair_of!(body_fused, chain, lb, split, e, shift),
                fused,
                "{what}, fused body"
            );
            assert_eq!(
                forward_pair_of!(dispatched, chain, lb, split, e, shift),
                *reference(Isa::detect()),
                "{what}, dispatched"
            );
            assert_eq!(
                forward_pair_of!(baseline, chain, lb, split, e, shift),
                *reference(Isa::Baseline),
                "{what}, baseline"
            );
            #[cfg(target_arch = "x86_64")]
            {
                if isa.has_avx2() {
                    assert_eq!(
                        forward_pair_of!(avx2, chain, lb, split, e, shift),
                        *reference(Isa::Avx2),
                        "{what}, AVX2"
                    );
                }
                if isa.has_avx512() {
                    assert_eq!(
                        forward_pair_of!(avx512, chain, lb, split, e, shift),
                        *reference(Isa::Avx512),
                        "{what}, AVX-512"
                    );
                }
            }
            let _ = isa;
        }
    }
}

/// A tiny scale factor does not flush the next prediction to zero. At
/// t = 0 the only state that explains `x_0` has prior 1e-250, so `c_0 ≈
/// 1e-250`; at t = 1 only state 0 explains `x_1`, reached from state 1 with
/// probability 1e-80. `Aᵀ α̂_0` holds that 1e-80, but `Aᵀ (c_0 α̂_0)` would be
/// 1e-330, below the smallest subnormal: the step would find no reachable
/// state. The sequence's log-probability is that of its two paths.
#[test]
fn a_tiny_scale_factor_keeps_the_next_prediction() {
    let (start, trans) = ([1.0, 1e-250], [0.5, 0.5, 1e-80, 1.0]);
    let chain = Chain {
        start: &start,
        trans: &trans,
        k: 2,
    };
    let logb = faer::mat![[-1000.0, 0.0], [0.0, f64::NEG_INFINITY]];
    // Paths (1, 0) and (0, 0), in log space.
    let paths = [1e-250f64.ln() + 1e-80f64.ln(), -1000.0 + 0.5f64.ln()];
    let m = paths[0].max(paths[1]);
    let expected = m + paths.iter().map(|p| (p - m).exp()).sum::<f64>().ln();
    let cols: Vec<&[f64]> = (0..2).map(|j| logb.col_as_slice(j)).collect();
    macro_rules! log_likelihood {
        ($call:ident) => {{
            let (mut e, mut shift, mut alpha, mut c) =
                (vec![0.0; 4], vec![0.0; 2], vec![0.0; 4], vec![0.0; 2]);
            $call!(scale_emissions(&cols, &mut e, &mut shift, &mut Vec::new())).unwrap();
            $call!(forward(
                chain,
                logb.as_ref(),
                &mut e,
                &mut shift,
                &mut alpha,
                &mut c,
                &mut Scratch::new(2)
            ))
        }};
    }
    for (name, ll) in [
        ("body", log_likelihood!(body)),
        ("fused body", log_likelihood!(body_fused)),
        ("dispatched", log_likelihood!(dispatched)),
    ] {
        let ll = ll.unwrap_or_else(|t| panic!("{name}: no reachable state at t = {t}"));
        assert!(
            (ll - expected).abs() <= 1e-12 * expected.abs(),
            "{name}: {ll} vs {expected}"
        );
    }
}
