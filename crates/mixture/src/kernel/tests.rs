//! The instruction sets agree with each other.

use super::*;
use crate::CovarianceType;
use crate::stats::acc_kind;
use linalg_kernels::isa::Isa;

/// The E-step chunk (with `stats`) or the log-likelihood-only chunk of the
/// entry points compiled for `isa`, which the CPU must have (see
/// [`Isa::available`]).
fn chunk_with(isa: Isa, job: &EStepJob<'_>, n: usize, stats: bool) -> EStepChunk {
    match (isa, stats) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `isa` comes from `Isa::available`: the CPU has AVX-512F and FMA.
        (Isa::Avx512, true) => unsafe { avx512::estep_chunk(job, 0, n) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        (Isa::Avx512, false) => unsafe { avx512::loglik_chunk(job, 0, n) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `isa` comes from `Isa::available`: the CPU has AVX2 and FMA.
        (Isa::Avx2, true) => unsafe { avx2::estep_chunk(job, 0, n) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        (Isa::Avx2, false) => unsafe { avx2::loglik_chunk(job, 0, n) },
        (Isa::Baseline, true) => baseline::estep_chunk(job, 0, n),
        (Isa::Baseline, false) => baseline::loglik_chunk(job, 0, n),
    }
}

/// The compiled E-step chunk of every instruction set this CPU has agrees
/// with the portable one (to rounding: fused vs separate multiply-add), for
/// every covariance type, over a chunk with a partial last block; the
/// log-likelihood-only pass of each gives the E-step's log-likelihood.
#[test]
fn instruction_sets_agree() {
    for t in CovarianceType::ALL {
        let d = 3;
        let means = faer::mat![[0.0, 0.5, -1.0], [2.0, 1.0, 0.0]];
        let covs = match t {
            CovarianceType::Full => crate::Covariances::Full(vec![
                faer::mat![[2.0, 0.3, 0.1], [0.3, 1.0, -0.2], [0.1, -0.2, 0.5]],
                faer::Mat::identity(3, 3),
            ]),
            CovarianceType::Tied => {
                crate::Covariances::Tied(faer::mat![[2.0, 0.3, 0.1], [0.3, 1.0, -0.2], [0.1, -0.2, 0.5]])
            }
            CovarianceType::Diagonal => {
                crate::Covariances::Diagonal(faer::mat![[1.0, 2.0, 0.5], [0.7, 0.7, 3.0]])
            }
            CovarianceType::Spherical => crate::Covariances::Spherical(vec![0.4, 2.5]),
        };
        let model = crate::GaussianMixture::new(vec![0.4, 0.6], means, covs).unwrap();
        let n = 203;
        let x = faer::Mat::from_fn(n, d, |i, j| ((i * 7 + j * 3) % 13) as f64 * 0.4 - 2.0);
        let cols = Data::Cols(
            (0..d)
                .map(|j| x.col(j).try_as_col_major().unwrap().as_slice())
                .collect(),
        );
        let w: Vec<f64> = (0..n).map(|i| 0.5 + (i % 3) as f64).collect();
        let job = EStepJob {
            model: model.view(),
            log_w: model.log_weights(),
            data: &cols,
            weights: Some(&w),
            kind: acc_kind(t),
        };
        let run = |isa| chunk_with(isa, &job, n, true);
        let a = run(Isa::Baseline);
        for isa in Isa::available() {
            let b = run(isa);
            // The log-likelihood-only pass runs the same operations up to the
            // block's `ln`, and produces nothing else.
            let c = chunk_with(isa, &job, n, false);
            assert_eq!(c.log_likelihood, b.log_likelihood, "{isa:?} {t}");
            assert!(c.acc.is_none() && c.worst.is_empty() && c.bad_row.is_none());
            let (a_acc, b_acc) = (a.acc.as_ref().unwrap(), b.acc.as_ref().unwrap());
            let close = |p: f64, q: f64| (p - q).abs() <= 1e-12 * (1.0 + p.abs());
            assert!(close(a.log_likelihood, b.log_likelihood), "{isa:?}");
            assert_eq!(
                a.worst.iter().map(|w| w.1).collect::<Vec<_>>(),
                b.worst.iter().map(|w| w.1).collect::<Vec<_>>()
            );
            for (p, q) in [
                (&a_acc.mass, &b_acc.mass),
                (&a_acc.s1, &b_acc.s1),
                (&a_acc.s2, &b_acc.s2),
            ] {
                for (u, v) in p.iter().zip(q.iter()) {
                    for l in 0..LANES {
                        assert!(close(u[l], v[l]), "{isa:?} {t}: {} vs {}", u[l], v[l]);
                    }
                }
            }
        }
    }
}
