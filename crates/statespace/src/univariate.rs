//! The measurement update one observed coordinate at a time, for H = I and
//! a diagonal R (sequential processing; the "univariate treatment" of
//! Durbin & Koopman, *Time Series Analysis by State Space Methods*, §6.4).
//!
//! With H = I and R = diag(r) the observed coordinates `y_c = x_c + ε_c`
//! are independent given the state, so conditioning on all of them equals
//! conditioning on one after the other. For coordinate c of the current
//! N(m, P):
//!
//! `s = P_cc + r_c`, `l = P[:, c] / √s`, `z = (y_c − m_c) / √s`,
//! `m ← m + l z`, `P ← P − l lᵀ`, `ln N(y_c; m_c, s) = −½ (ln 2π + ln s + z²)`.
//!
//! The `s` are the squared pivots of the Cholesky factor of `S = P + R`
//! (in the order of the coordinates) and the `z` the entries of `L⁻¹ v`, so
//! the moments and the log-likelihood are those of the joint update
//! (`crate::kalman`'s panel form) with other roundings. The cost is one
//! rank-one update of P per coordinate, about n³ multiply-adds in all,
//! instead of a factorisation, a solve, a product and a mirror. Both
//! triangles of P get the same multiply-adds (`l_i l_j = l_j l_i`), so a
//! symmetric P stays exactly symmetric.

use linalg_kernels::KernelError;
use linalg_kernels::isa::mul_add;

use crate::dense::LANES;

/// The buffers of one update.
pub(crate) struct Coordinatewise<'a> {
    /// n.
    pub n: usize,
    /// The leading dimension of `p` (a multiple of [`LANES`]).
    pub ld: usize,
    /// The symmetric `n x n` covariance (both triangles, zero padding).
    pub p: &'a mut [f64],
    /// The mean (`ld` values, zero padding).
    pub m: &'a mut [f64],
    /// The observed coordinates, in order.
    pub coords: &'a [usize],
    /// Their values.
    pub y: &'a [f64],
    /// The noise variance of every coordinate (the diagonal of R).
    pub r: &'a [f64],
    /// Out: the pivots `s`, one per observed coordinate.
    pub pivots: &'a mut [f64],
    /// Scratch for two `l`s, `2 ld` values.
    pub l: &'a mut [f64],
}

/// Conditions `N(m, P)` on the observed coordinates one after the other
/// (see the module docs) and returns `Σ z²`; the pivots go to `pivots`.
///
/// # Errors
/// [`KernelError::NotPositiveDefinite`] for a pivot that is not positive
/// and finite (`pivot`: its index among the observed coordinates); `p` and
/// `m` are then left partly updated (the caller discards them).
pub(crate) fn condition(u: Coordinatewise<'_>) -> Result<f64, KernelError> {
    debug_assert!(u.ld.is_multiple_of(LANES) && u.p.len() >= u.ld * u.n && u.m.len() >= u.ld);
    debug_assert!(u.l.len() >= 2 * u.ld && u.coords.len() <= u.y.len().min(u.pivots.len()));
    linalg_kernels::isa_dispatch!(condition(u))
}

/// The most 8-row vectors of `l` (and of the second `l`) a row block of
/// the pair update holds in registers, for the instruction set `isa` (a
/// module name of `for_each_isa!`): AVX-512 keeps an 8-lane vector in one
/// of its 32 registers, AVX2 in two of its 16, SSE2 in four. (Three
/// vectors with AVX2 were no faster for n = 21 on AMD Zen 4.)
const fn pair_row_vectors(isa: &str) -> usize {
    match isa.as_bytes() {
        b"avx512" => 4,
        b"avx2" => 2,
        _ => 1,
    }
}

/// One module per instruction set: the same loops compiled with its
/// features. The rank-one updates run on row blocks of up to four vectors
/// (pairs of them on [`pair_row_vectors`]), each a separate (non-inlined)
/// function that keeps its part of `l` in registers.
macro_rules! isa_kernels {
    ($name:ident, $fma:literal $(, $features:literal)?) => {
        mod $name {
            use super::{Coordinatewise, KernelError, LANES, Outer, condition_body, subtract_outer_rows};

            const PAIR_VECTORS: usize = super::pair_row_vectors(stringify!($name));

            $(#[target_feature(enable = $features)])?
            pub(super) fn condition(u: Coordinatewise<'_>) -> Result<f64, KernelError> {
                // SAFETY: `subtract_outer` has this function's features, which
                // the CPU has since this function runs.
                unsafe { condition_body::<$fma>(u, subtract_outer) }
            }

            /// `P ← P − l lᵀ` (then `− l₂ l₂ᵀ`) on the columns of `outer`,
            /// in row blocks.
            $(#[target_feature(enable = $features)])?
            fn subtract_outer(p: &mut [f64], ld: usize, n: usize, outer: Outer<'_>) {
                let pair = outer.second.is_some();
                let most = if pair { PAIR_VECTORS } else { 4 };
                let mut r0 = 0;
                while r0 < ld {
                    let vectors = ((ld - r0) / LANES).min(most);
                    match (pair, vectors) {
                        (false, 4) => block::<4, false>(p, ld, n, &outer, r0),
                        (false, 3) => block::<3, false>(p, ld, n, &outer, r0),
                        (false, 2) => block::<2, false>(p, ld, n, &outer, r0),
                        (false, _) => block::<1, false>(p, ld, n, &outer, r0),
                        (true, 4) => block::<4, true>(p, ld, n, &outer, r0),
                        (true, 3) => block::<3, true>(p, ld, n, &outer, r0),
                        (true, 2) => block::<2, true>(p, ld, n, &outer, r0),
                        (true, _) => block::<1, true>(p, ld, n, &outer, r0),
                    }
                    r0 += vectors * LANES;
                }
            }

            $(#[target_feature(enable = $features)])?
            #[inline(never)]
            fn block<const NV: usize, const PAIR: bool>(p: &mut [f64], ld: usize, n: usize, outer: &Outer<'_>, r0: usize) {
                subtract_outer_rows::<NV, $fma, PAIR>(p, ld, n, outer, r0);
            }
        }
    };
}

linalg_kernels::for_each_isa!(isa_kernels);

/// `1 / √s` for the pivot `s` of the coordinate `index` (stored in
/// `pivot`), or the error.
#[inline(always)]
fn inverse_root(s: f64, index: usize, pivot: &mut f64) -> Result<f64, KernelError> {
    // Not `is_finite`: this compare is one instruction.
    if !(s > 0.0 && s <= f64::MAX) {
        return Err(KernelError::NotPositiveDefinite {
            pivot: index,
            value: s,
        });
    }
    *pivot = s;
    Ok(1.0 / s.sqrt())
}

/// The products a pass of `subtract_outer` takes off P: `l lᵀ` on every
/// column but `skip`, then `l₂ l₂ᵀ` (if `second`) on every column but
/// `skip`, column `second_only` getting the second product only.
pub(crate) struct Outer<'a> {
    l: &'a [f64],
    second: Option<&'a [f64]>,
    skip: usize,
    second_only: usize,
}

/// The loop over the coordinates, two at a time: `subtract_outer(p, ld, n,
/// outer)` applies a pair's two rank-one updates in one pass over P, each
/// entry getting the first multiply-add and then the second, exactly as in
/// two passes (the pass is bound by P's loads and stores, which this
/// halves).
///
/// Software-pipelined: before a pass, the column of the next coordinate
/// gets its updates, and the next pivot its square root and division, so
/// the long-latency scalar chain of the next coordinate overlaps the bulk
/// of the multiply-adds. Within a pair, the second coordinate's column gets
/// the first update ahead of the pass in the same way.
///
/// The chain of pivots is on the critical path: one more square root and
/// division per pivot (giving the same values) made the dense-A filter of
/// n = p = 21 take 103 ms instead of 90 with AVX2 on AMD Zen 4. Yet none
/// of the following changes to it was worth making. Shorter chains:
/// [`inverse_root`] as `√s · (1/s)` (the square root beside the
/// division), 0.2-2% faster in two spells, but `1/s` overflows below
/// s = 5.6e-309 and is subnormal above 4.5e307, which would take a second
/// path; the next pivot from this one's `1/s` (`s' = P_c'c' + r_c' −
/// a² / s`: a multiply-add and a division per pivot, the square root
/// beside the chain), 90.5 ms. Other
/// orders: the next pair's two pivots and `l`s formed before this pass,
/// 97 ms; with the pair after it brought up to date too, so that those
/// pivots wait for no pass, 105 ms (108 with the pass split in two around
/// the second pivot); four coordinates per pass, the next four's pivots
/// formed ahead, 107 ms.
///
/// `subtract_outer` is a function of the instruction-set module (a
/// `#[target_feature]` function, hence an `unsafe fn` pointer), not a
/// closure: a closure would be one more out-of-line function per module
/// (`cargo xtask asm-check`).
///
/// # Safety
/// The CPU must have the target features of `subtract_outer`.
#[inline(always)]
unsafe fn condition_body<const FMA: bool>(
    u: Coordinatewise<'_>,
    subtract_outer: unsafe fn(&mut [f64], usize, usize, Outer<'_>),
) -> Result<f64, KernelError> {
    let Coordinatewise {
        n,
        ld,
        p,
        m,
        coords,
        y,
        r,
        pivots,
        l,
    } = u;
    let (l, l2) = l[..2 * ld].split_at_mut(ld);
    let m = &mut m[..ld];
    let mut zz = 0.0;
    let Some(&first) = coords.first() else {
        return Ok(zz);
    };
    let mut inv_root = inverse_root(p[first * ld + first] + r[first], 0, &mut pivots[0])?;
    let mut index = 0;
    while index < coords.len() {
        let c = coords[index];
        let z = gain::<FMA>(&p[c * ld..(c + 1) * ld], inv_root, y[index], c, l, m);
        zz = mul_add::<FMA>(z, z, zz);
        let Some(&second) = coords.get(index + 1) else {
            let outer = Outer {
                l,
                second: None,
                skip: usize::MAX,
                second_only: usize::MAX,
            };
            // SAFETY: the caller's contract.
            unsafe { subtract_outer(p, ld, n, outer) };
            break;
        };
        let l_second = p[c * ld + second] * inv_root;
        inv_root = look_ahead::<FMA>(p, ld, l, l_second, second, r[second], index + 1, pivots)?;
        let z = gain::<FMA>(
            &p[second * ld..(second + 1) * ld],
            inv_root,
            y[index + 1],
            second,
            l2,
            m,
        );
        zz = mul_add::<FMA>(z, z, zz);
        let skip = match coords.get(index + 2) {
            Some(&next) => {
                // The next column gets the first update here (the pass
                // skips it), then the second with its pivot.
                let l_next = l[next];
                for (d, &li) in p[next * ld..(next + 1) * ld].iter_mut().zip(l.iter()) {
                    *d = mul_add::<FMA>(-l_next, li, *d);
                }
                let l2_next = p[second * ld + next] * inv_root;
                inv_root = look_ahead::<FMA>(p, ld, l2, l2_next, next, r[next], index + 2, pivots)?;
                next
            }
            None => usize::MAX,
        };
        let outer = Outer {
            l,
            second: Some(l2),
            skip,
            second_only: second,
        };
        // SAFETY: the caller's contract.
        unsafe { subtract_outer(p, ld, n, outer) };
        index += 2;
    }
    Ok(zz)
}

/// For the coordinate `c`, whose column of the current P is `column` and
/// whose pivot `s` has `1/√s` = `inv_root`: `l = P[:, c] / √s` into `l`
/// and `m ← m + l z`; returns `z = (y − m_c) / √s`.
#[inline(always)]
fn gain<const FMA: bool>(
    column: &[f64],
    inv_root: f64,
    y: f64,
    c: usize,
    l: &mut [f64],
    m: &mut [f64],
) -> f64 {
    let z = (y - m[c]) * inv_root;
    // Whole vectors: `subtract_outer` loads `l` as vectors, which stalls
    // when it was stored lane by lane (no store forwarding).
    for v in 0..m.len() / LANES {
        let lanes = v * LANES..(v + 1) * LANES;
        let mut lv = [0.0; LANES];
        let mut mv = [0.0; LANES];
        lv.copy_from_slice(&column[lanes.clone()]);
        mv.copy_from_slice(&m[lanes.clone()]);
        for s in 0..LANES {
            lv[s] *= inv_root;
            mv[s] = mul_add::<FMA>(lv[s], z, mv[s]);
        }
        l[lanes.clone()].copy_from_slice(&lv);
        m[lanes].copy_from_slice(&mv);
    }
    z
}

/// The look-ahead to the coordinate `next` (its `index` among the
/// observed ones): its column of P gets the update `− l l_next`, where
/// `l_next = l[next]` is passed in as computed from registers (the same
/// multiply as the vector code, so the same value, and memory stays off the
/// chain of square roots and divisions), and its pivot
/// `s = P_next,next + r_next` is checked and stored; returns `1/√s`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn look_ahead<const FMA: bool>(
    p: &mut [f64],
    ld: usize,
    l: &[f64],
    l_next: f64,
    next: usize,
    r_next: f64,
    index: usize,
    pivots: &mut [f64],
) -> Result<f64, KernelError> {
    let s_next = mul_add::<FMA>(-l_next, l_next, p[next * ld + next]) + r_next;
    for (d, &li) in p[next * ld..(next + 1) * ld].iter_mut().zip(l.iter()) {
        *d = mul_add::<FMA>(-l_next, li, *d);
    }
    inverse_root(s_next, index, &mut pivots[index])
}

/// `l[r0..r0 + NV·8]` as `NV` vectors (kept in registers).
#[inline(always)]
fn row_block<const NV: usize>(l: &[f64], r0: usize) -> [[f64; LANES]; NV] {
    let mut rows = [[0.0f64; LANES]; NV];
    for (v, lane) in rows.iter_mut().enumerate() {
        lane.copy_from_slice(&l[r0 + v * LANES..r0 + (v + 1) * LANES]);
    }
    rows
}

/// `P[r0..r0 + NV·8, ·] −=` the products of `outer` (see [`Outer`]).
#[inline(always)]
fn subtract_outer_rows<const NV: usize, const FMA: bool, const PAIR: bool>(
    p: &mut [f64],
    ld: usize,
    n: usize,
    outer: &Outer<'_>,
    r0: usize,
) {
    let l = &outer.l[..n];
    let first = row_block::<NV>(outer.l, r0);
    let l2 = outer.second.unwrap_or(outer.l);
    let second = row_block::<NV>(l2, r0);
    let l2 = &l2[..n];
    // Plain indices: an iterator chain here cost a division and a spill per column.
    for j in 0..n {
        if j == outer.skip {
            continue;
        }
        let start = j * ld + r0;
        let dst = &mut p[start..start + NV * LANES];
        if !PAIR || j != outer.second_only {
            let minus_lj = -l[j];
            for v in 0..NV {
                for s in 0..LANES {
                    dst[v * LANES + s] = mul_add::<FMA>(minus_lj, first[v][s], dst[v * LANES + s]);
                }
            }
        }
        if PAIR {
            let minus_lj = -l2[j];
            for v in 0..NV {
                for s in 0..LANES {
                    dst[v * LANES + s] = mul_add::<FMA>(minus_lj, second[v][s], dst[v * LANES + s]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Mat;
    use linalg_kernels::Cholesky;
    use linalg_kernels::isa::Isa;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// A random SPD n x n matrix in a padded buffer, and the same as a `Mat`.
    fn random_spd(n: usize, ld: usize, rng: &mut StdRng) -> (Vec<f64>, Mat<f64>) {
        let g = Mat::<f64>::from_fn(n, n, |_, _| rng.random_range(-1.0..1.0));
        let mut p = &g * g.transpose();
        for j in 0..n {
            p[(j, j)] += 0.5;
            for i in 0..j {
                p[(i, j)] = p[(j, i)];
            }
        }
        let mut buf = vec![0.0; ld * n];
        for j in 0..n {
            for i in 0..n {
                buf[j * ld + i] = p[(i, j)];
            }
        }
        (buf, p)
    }

    type Kernel = fn(Coordinatewise<'_>) -> Result<f64, KernelError>;

    /// Every instruction set's kernel this CPU can run: its name, the
    /// kernel, and whether it fuses its multiply-adds.
    fn compiled_kernels() -> Vec<(&'static str, Kernel, bool)> {
        Isa::available()
            .into_iter()
            .map(|isa| -> (&'static str, Kernel, bool) {
                match isa {
                    Isa::Baseline => ("baseline", baseline::condition, cfg!(target_arch = "aarch64")),
                    // SAFETY: `Isa::available` lists only sets the CPU supports.
                    #[cfg(target_arch = "x86_64")]
                    Isa::Avx2 => ("AVX2", |u| unsafe { avx2::condition(u) }, true),
                    // SAFETY: as above.
                    #[cfg(target_arch = "x86_64")]
                    Isa::Avx512 => ("AVX-512", |u| unsafe { avx512::condition(u) }, true),
                }
            })
            .collect()
    }

    /// The dispatched kernel and every instruction set's this CPU can run.
    fn kernels() -> Vec<Kernel> {
        let compiled = compiled_kernels().into_iter().map(|(_, kernel, _)| kernel);
        std::iter::once(condition as Kernel).chain(compiled).collect()
    }

    /// Against the joint update `K = P[:, c] S⁻¹`, `S = P[c, c] + diag(r)`,
    /// on 1, 2 and 3 vectors, coordinates out of order: same moments, same
    /// `ln det S` and `vᵀ S⁻¹ v`, a bitwise symmetric P and zero padding.
    #[test]
    fn matches_the_joint_update() {
        for kernel in kernels() {
            check_joint_update(kernel);
        }
    }

    fn check_joint_update(condition: Kernel) {
        let mut rng = StdRng::seed_from_u64(3);
        for (n, coords) in [
            (3usize, vec![2usize, 0]),
            (11, vec![0, 5, 10, 3, 7]),
            (21, (0..21).rev().collect()),
        ] {
            let ld = crate::dense::pad(n);
            let (mut p, p_mat) = random_spd(n, ld, &mut rng);
            let mut m: Vec<f64> = (0..ld)
                .map(|i| if i < n { rng.random_range(-1.0..1.0) } else { 0.0 })
                .collect();
            let m_before = m.clone();
            let y: Vec<f64> = coords.iter().map(|_| rng.random_range(-2.0..2.0)).collect();
            let r: Vec<f64> = (0..n).map(|_| rng.random_range(0.1..1.0)).collect();
            let (mut pivots, mut l) = (vec![0.0; coords.len()], vec![0.0; 2 * ld]);
            let zz = condition(Coordinatewise {
                n,
                ld,
                p: &mut p,
                m: &mut m,
                coords: &coords,
                y: &y,
                r: &r,
                pivots: &mut pivots,
                l: &mut l,
            })
            .unwrap();

            let k = coords.len();
            let s = Mat::<f64>::from_fn(k, k, |a, b| {
                p_mat[(coords[a], coords[b])] + if a == b { r[coords[a]] } else { 0.0 }
            });
            let chol = Cholesky::new(s.as_ref()).unwrap();
            let v: Vec<f64> = (0..k).map(|a| y[a] - m_before[coords[a]]).collect();
            let s_inv_v = chol.solve(&v).unwrap();
            let want_zz: f64 = v.iter().zip(&s_inv_v).map(|(a, b)| a * b).sum();
            assert!(
                (zz - want_zz).abs() < 1e-10 * (1.0 + want_zz),
                "n {n}: {zz} vs {want_zz}"
            );
            let log_det = linalg_kernels::ln_product(&pivots);
            assert!((log_det - chol.log_det()).abs() < 1e-10, "n {n}");
            let pc = Mat::<f64>::from_fn(n, k, |i, a| p_mat[(i, coords[a])]);
            let gain = &pc * chol.inverse();
            let want_p = &p_mat - &gain * pc.transpose();
            for i in 0..ld {
                let want_m = if i < n {
                    m_before[i] + (0..k).map(|a| gain[(i, a)] * v[a]).sum::<f64>()
                } else {
                    0.0
                };
                assert!((m[i] - want_m).abs() < 1e-10, "n {n}: mean {i}");
                for j in 0..n {
                    let got = p[j * ld + i];
                    if i < n {
                        assert!((got - want_p[(i, j)]).abs() < 1e-10, "n {n}: P({i}, {j})");
                        assert_eq!(got.to_bits(), p[i * ld + j].to_bits(), "n {n}: symmetry");
                    } else {
                        assert_eq!(got, 0.0, "n {n}: padding");
                    }
                }
            }
        }
    }

    /// A pivot that is not positive names the coordinate among the observed
    /// ones (here the second, found by the pipelined look-ahead).
    #[test]
    fn a_bad_pivot_is_reported() {
        let (n, ld) = (2, 8);
        // P = [[1, 2], [2, 1]] is indefinite: after the first coordinate
        // (r = 1) the second pivot is 1 − 4 / 2 + r = −1 + r.
        let mut p = vec![0.0; ld * n];
        (p[0], p[1], p[ld], p[ld + 1]) = (1.0, 2.0, 2.0, 1.0);
        let mut m = vec![0.0; ld];
        let (mut pivots, mut l) = (vec![0.0; 2], vec![0.0; 2 * ld]);
        let err = condition(Coordinatewise {
            n,
            ld,
            p: &mut p,
            m: &mut m,
            coords: &[0, 1],
            y: &[0.0, 0.0],
            r: &[1.0, 0.5],
            pivots: &mut pivots,
            l: &mut l,
        })
        .unwrap_err();
        let KernelError::NotPositiveDefinite { pivot, value } = err else {
            panic!("{err:?}");
        };
        assert_eq!(pivot, 1);
        assert!((value + 0.5).abs() < 1e-12, "{err:?}");
    }

    /// The conditioning of the module docs, one coordinate after the other
    /// over the whole of P, with the kernels' multiply-adds (`FMA` or not):
    /// the oracle of [`equals_the_sequential_update_bit_for_bit`].
    fn sequential<const FMA: bool>(u: Coordinatewise<'_>) -> Result<f64, KernelError> {
        let Coordinatewise {
            n,
            ld,
            p,
            m,
            coords,
            y,
            r,
            pivots,
            ..
        } = u;
        let mut zz = 0.0;
        for (index, &c) in coords.iter().enumerate() {
            let inv_root = inverse_root(p[c * ld + c] + r[c], index, &mut pivots[index])?;
            let l: Vec<f64> = p[c * ld..(c + 1) * ld].iter().map(|v| v * inv_root).collect();
            let z = (y[index] - m[c]) * inv_root;
            for (mi, &li) in m[..ld].iter_mut().zip(&l) {
                *mi = mul_add::<FMA>(li, z, *mi);
            }
            zz = mul_add::<FMA>(z, z, zz);
            for j in 0..n {
                for i in 0..ld {
                    p[j * ld + i] = mul_add::<FMA>(-l[j], l[i], p[j * ld + i]);
                }
            }
        }
        Ok(zz)
    }

    /// Every instruction set's kernel gives the bits of [`sequential`] with
    /// its multiply-adds: P, the mean, the pivots and `Σ z²`, for 1 to 21
    /// observed coordinates in any order (so every grouping of the
    /// coordinates the kernels make, and every row-block size).
    #[test]
    fn equals_the_sequential_update_bit_for_bit() {
        let kernels = compiled_kernels();
        let mut rng = StdRng::seed_from_u64(5);
        for (n, observed) in [
            (1usize, 1usize),
            (3, 2),
            (8, 5),
            (9, 9),
            (17, 4),
            (21, 21),
            (21, 20),
            (21, 3),
            (30, 29),
        ] {
            let ld = crate::dense::pad(n);
            let (p0, _) = random_spd(n, ld, &mut rng);
            let m0: Vec<f64> = (0..ld)
                .map(|i| if i < n { rng.random_range(-1.0..1.0) } else { 0.0 })
                .collect();
            let mut coords: Vec<usize> = (0..n).collect();
            for i in (1..n).rev() {
                coords.swap(i, rng.random_range(0..=i));
            }
            coords.truncate(observed);
            let y: Vec<f64> = coords.iter().map(|_| rng.random_range(-2.0..2.0)).collect();
            let r: Vec<f64> = (0..n).map(|_| rng.random_range(0.1..1.0)).collect();
            for &(name, kernel, fma) in &kernels {
                let run = |condition: Kernel| {
                    let (mut p, mut m) = (p0.clone(), m0.clone());
                    let (mut pivots, mut l) = (vec![0.0; observed], vec![0.0; 2 * ld]);
                    let zz = condition(Coordinatewise {
                        n,
                        ld,
                        p: &mut p,
                        m: &mut m,
                        coords: &coords,
                        y: &y,
                        r: &r,
                        pivots: &mut pivots,
                        l: &mut l,
                    })
                    .unwrap();
                    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    (zz.to_bits(), bits(&p), bits(&m), bits(&pivots))
                };
                let want = if fma {
                    run(sequential::<true>)
                } else {
                    run(sequential::<false>)
                };
                assert!(run(kernel) == want, "{name}, n {n}, {observed} observed");
            }
        }
    }
}
