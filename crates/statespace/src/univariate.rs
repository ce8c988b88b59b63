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
use linalg_kernels::padded::madd;

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
    /// Scratch for `l`, `ld` values.
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
    debug_assert!(u.l.len() >= u.ld && u.coords.len() <= u.y.len().min(u.pivots.len()));
    linalg_kernels::isa_dispatch!(condition(u))
}

/// One module per instruction set: the same loops compiled with its
/// features. The rank-one update runs on row blocks of up to four vectors,
/// each a separate (non-inlined) function that keeps its part of `l` in
/// registers.
macro_rules! isa_kernels {
    ($name:ident, $fma:literal $(, $features:literal)?) => {
        mod $name {
            use super::{Coordinatewise, KernelError, LANES, condition_body, subtract_outer_rows};

            $(#[target_feature(enable = $features)])?
            pub(super) fn condition(u: Coordinatewise<'_>) -> Result<f64, KernelError> {
                // SAFETY: `subtract_outer` has this function's features, which
                // the CPU has since this function runs.
                unsafe { condition_body::<$fma>(u, subtract_outer) }
            }

            /// `P ← P − l lᵀ` on every column but `skip`, in row blocks.
            $(#[target_feature(enable = $features)])?
            fn subtract_outer(p: &mut [f64], ld: usize, n: usize, l: &[f64], skip: usize) {
                let mut r0 = 0;
                while r0 < ld {
                    let vectors = ((ld - r0) / LANES).min(4);
                    match vectors {
                        4 => block::<4>(p, ld, n, l, r0, skip),
                        3 => block::<3>(p, ld, n, l, r0, skip),
                        2 => block::<2>(p, ld, n, l, r0, skip),
                        _ => block::<1>(p, ld, n, l, r0, skip),
                    }
                    r0 += vectors * LANES;
                }
            }

            $(#[target_feature(enable = $features)])?
            #[inline(never)]
            fn block<const NV: usize>(p: &mut [f64], ld: usize, n: usize, l: &[f64], r0: usize, skip: usize) {
                subtract_outer_rows::<NV, $fma>(p, ld, n, l, r0, skip);
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

/// The loop over the coordinates; `subtract_outer(p, ld, n, l, skip)` is
/// `P ← P − l lᵀ` on every column but `skip`.
///
/// Software-pipelined: the update of coordinate c first updates the column
/// of the next coordinate and takes that pivot's square root and division,
/// then updates the other columns, so the long-latency scalar chain of the
/// next coordinate overlaps the bulk of this one's multiply-adds.
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
    subtract_outer: unsafe fn(&mut [f64], usize, usize, &[f64], usize),
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
    let (l, m) = (&mut l[..ld], &mut m[..ld]);
    let mut zz = 0.0;
    let Some(&first) = coords.first() else {
        return Ok(zz);
    };
    let mut inv_root = inverse_root(p[first * ld + first] + r[first], 0, &mut pivots[0])?;
    for (index, &c) in coords.iter().enumerate() {
        let column = &p[c * ld..(c + 1) * ld];
        let z = (y[index] - m[c]) * inv_root;
        // Whole vectors: `subtract_outer` loads `l` as vectors, which
        // stalls when it was stored lane by lane (no store forwarding).
        for v in 0..ld / LANES {
            let lanes = v * LANES..(v + 1) * LANES;
            let mut lv = [0.0; LANES];
            let mut mv = [0.0; LANES];
            lv.copy_from_slice(&column[lanes.clone()]);
            mv.copy_from_slice(&m[lanes.clone()]);
            for s in 0..LANES {
                lv[s] *= inv_root;
                mv[s] = madd::<FMA>(lv[s], z, mv[s]);
            }
            l[lanes.clone()].copy_from_slice(&lv);
            m[lanes].copy_from_slice(&mv);
        }
        zz = madd::<FMA>(z, z, zz);
        let Some(&next) = coords.get(index + 1) else {
            // SAFETY: the caller's contract.
            unsafe { subtract_outer(p, ld, n, l, usize::MAX) };
            break;
        };
        // The next pivot from registers (the same multiply and
        // multiply-add as the vector code, so the same value), to keep
        // memory off the chain of square roots and divisions.
        let l_next = column[next] * inv_root;
        let s_next = madd::<FMA>(-l_next, l_next, p[next * ld + next]) + r[next];
        for (d, &li) in p[next * ld..(next + 1) * ld].iter_mut().zip(l.iter()) {
            *d = madd::<FMA>(-l_next, li, *d);
        }
        inv_root = inverse_root(s_next, index + 1, &mut pivots[index + 1])?;
        // SAFETY: the caller's contract.
        unsafe { subtract_outer(p, ld, n, l, next) };
    }
    Ok(zz)
}

/// `P[r0..r0 + NV·8, j] −= l[r0..] l_j` for every column j < n but `skip`.
#[inline(always)]
fn subtract_outer_rows<const NV: usize, const FMA: bool>(
    p: &mut [f64],
    ld: usize,
    n: usize,
    l: &[f64],
    r0: usize,
    skip: usize,
) {
    let mut rows = [[0.0f64; LANES]; NV];
    for (v, lane) in rows.iter_mut().enumerate() {
        lane.copy_from_slice(&l[r0 + v * LANES..r0 + (v + 1) * LANES]);
    }
    // Plain indices: an iterator chain here cost a division and a spill per column.
    let l = &l[..n];
    for (j, &lj) in l.iter().enumerate() {
        if j == skip {
            continue;
        }
        let minus_lj = -lj;
        let start = j * ld + r0;
        let dst = &mut p[start..start + NV * LANES];
        for v in 0..NV {
            for s in 0..LANES {
                dst[v * LANES + s] = madd::<FMA>(minus_lj, rows[v][s], dst[v * LANES + s]);
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

    /// The dispatched kernel and every instruction set's this CPU can run
    /// (AVX-512 machines run the AVX2 kernel).
    fn kernels() -> Vec<Kernel> {
        let compiled = Isa::available().into_iter().map(|isa| -> Kernel {
            match isa {
                Isa::Baseline => baseline::condition,
                // SAFETY: `Isa::available` lists only sets the CPU supports.
                #[cfg(target_arch = "x86_64")]
                Isa::Avx2 | Isa::Avx512 => |u| unsafe { avx2::condition(u) },
            }
        });
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
            let (mut pivots, mut l) = (vec![0.0; coords.len()], vec![0.0; ld]);
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
        let (mut pivots, mut l) = (vec![0.0; 2], vec![0.0; ld]);
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
}
