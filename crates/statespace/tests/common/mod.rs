//! Dense reference computations: the joint Gaussian of all states and
//! observations of a short sequence, built directly from the model.
#![allow(dead_code)]

use faer::{Mat, MatRef};
use linalg_kernels::{Cholesky, LN_2PI};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use statespace::{InputParameters, LearnSet, LinearGaussianSsm, Param, Parameters, TimeVarying};

/// Mean and covariance of `z = (x_0, ..., x_{T-1}, y_0, ..., y_{T-1})`.
/// Index of `x_k[i]` is `k n + i`, of `y_k[j]` is `T n + k p + j`.
pub struct Joint {
    pub n: usize,
    pub p: usize,
    pub t: usize,
    pub mean: Vec<f64>,
    pub cov: Mat<f64>,
}

impl Joint {
    pub fn x(&self, k: usize, i: usize) -> usize {
        k * self.n + i
    }
    pub fn y(&self, k: usize, j: usize) -> usize {
        self.t * self.n + k * self.p + j
    }
}

pub fn joint(model: &LinearGaussianSsm, t: usize) -> Joint {
    joint_with_inputs(model, None, t)
}

/// [`joint`] with the inputs `u` (T x m) of a model with inputs and offsets:
/// the means follow `x_k = A x_{k-1} + B u_k + b`, `y_k = H x_k + D u_k + d`.
pub fn joint_with_inputs(model: &LinearGaussianSsm, u: Option<MatRef<'_, f64>>, t: usize) -> Joint {
    joint_time_varying(model, u, &TimeVarying::default(), t)
}

/// [`joint_with_inputs`] with time-varying matrices (pykalman's
/// conventions: `A`, `Q` entry k − 1 for the transition into step k, `H`,
/// `R` entry k for step k; the model's where not given).
pub fn joint_time_varying(
    model: &LinearGaussianSsm,
    u: Option<MatRef<'_, f64>>,
    tv: &TimeVarying<'_>,
    t: usize,
) -> Joint {
    let (n, p) = (model.state_dim(), model.obs_dim());
    let a_at = |k: usize| tv.a.map_or(model.a(), |a| a[k - 1]);
    let q_at = |k: usize| tv.q.map_or(model.q(), |q| q[k - 1]);
    let h_at = |k: usize| tv.h.map_or(model.h(), |h| h[k]);
    let r_at = |k: usize| tv.r.map_or(model.r(), |r| r[k]);
    let known = |coefficient: MatRef<'_, f64>, offset: &[f64], k: usize, i: usize| -> f64 {
        offset[i]
            + u.map_or(0.0, |u| {
                (0..u.ncols()).map(|j| coefficient[(i, j)] * u[(k, j)]).sum()
            })
    };
    let dim = t * (n + p);
    // Cov(x_i, x_j) for i >= j: A^{i-j} V_j.
    let mut cxx: Vec<Vec<Mat<f64>>> = vec![Vec::new(); t];
    let mut v = model.p0().to_owned();
    let mut means = vec![model.m0().to_vec()];
    for k in 0..t {
        if k > 0 {
            let a = a_at(k);
            v = a * &v * a.transpose() + q_at(k);
            let prev = &means[k - 1];
            means.push(
                (0..n)
                    .map(|i| {
                        (0..n).map(|j| a[(i, j)] * prev[j]).sum::<f64>()
                            + known(model.b(), model.transition_offset(), k, i)
                    })
                    .collect(),
            );
        }
        cxx[k] = vec![Mat::zeros(n, n); k + 1];
        cxx[k][k] = v.clone();
    }
    for j in 0..t {
        for i in (j + 1)..t {
            cxx[i][j] = a_at(i) * &cxx[i - 1][j];
        }
    }
    let cov_x = |i: usize, j: usize| -> Mat<f64> {
        if i >= j {
            cxx[i][j].clone()
        } else {
            cxx[j][i].transpose().to_owned()
        }
    };
    let mut jt = Joint {
        n,
        p,
        t,
        mean: vec![0.0; dim],
        cov: Mat::zeros(dim, dim),
    };
    for k in 0..t {
        for i in 0..n {
            let idx = jt.x(k, i);
            jt.mean[idx] = means[k][i];
        }
        for j in 0..p {
            let idx = jt.y(k, j);
            jt.mean[idx] = (0..n).map(|c| h_at(k)[(j, c)] * means[k][c]).sum::<f64>()
                + known(model.d(), model.observation_offset(), k, j);
        }
    }
    for k1 in 0..t {
        for k2 in 0..t {
            let c = cov_x(k1, k2);
            let hc = h_at(k1) * &c; // Cov(y_k1, x_k2)
            let mut hch = &hc * h_at(k2).transpose(); // Cov(y_k1, y_k2)
            if k1 == k2 {
                hch += r_at(k1);
            }
            for i in 0..n {
                for j in 0..n {
                    let (a_, b_) = (jt.x(k1, i), jt.x(k2, j));
                    jt.cov[(a_, b_)] = c[(i, j)];
                }
            }
            for i in 0..p {
                for j in 0..n {
                    let (a_, b_) = (jt.y(k1, i), jt.x(k2, j));
                    jt.cov[(a_, b_)] = hc[(i, j)];
                    jt.cov[(b_, a_)] = hc[(i, j)];
                }
                for j in 0..p {
                    let (a_, b_) = (jt.y(k1, i), jt.y(k2, j));
                    jt.cov[(a_, b_)] = hch[(i, j)];
                }
            }
        }
    }
    jt
}

/// Indices (into z) and values of the observed entries of `y` (T x p).
pub fn observed(jt: &Joint, y: MatRef<'_, f64>, steps: usize) -> (Vec<usize>, Vec<f64>) {
    let mut idx = Vec::new();
    let mut val = Vec::new();
    for k in 0..steps {
        for j in 0..jt.p {
            if !y[(k, j)].is_nan() {
                idx.push(jt.y(k, j));
                val.push(y[(k, j)]);
            }
        }
    }
    (idx, val)
}

/// `ln N(values; mean[idx], cov[idx, idx])`.
pub fn log_density(jt: &Joint, idx: &[usize], values: &[f64]) -> f64 {
    if idx.is_empty() {
        return 0.0;
    }
    let m = idx.len();
    let s = Mat::<f64>::from_fn(m, m, |a, b| jt.cov[(idx[a], idx[b])]);
    let chol = Cholesky::new(s.as_ref()).unwrap();
    let r: Vec<f64> = (0..m).map(|a| values[a] - jt.mean[idx[a]]).collect();
    -0.5 * (m as f64 * LN_2PI + chol.log_det() + chol.mahalanobis_squared(&r).unwrap())
}

/// Posterior mean and covariance of all of z given the observed entries.
pub fn condition(jt: &Joint, idx: &[usize], values: &[f64]) -> (Vec<f64>, Mat<f64>) {
    let dim = jt.mean.len();
    if idx.is_empty() {
        return (jt.mean.clone(), jt.cov.clone());
    }
    let m = idx.len();
    let s = Mat::<f64>::from_fn(m, m, |a, b| jt.cov[(idx[a], idx[b])]);
    let chol = Cholesky::new(s.as_ref()).unwrap();
    let mut s_inv_oz = Mat::<f64>::from_fn(m, dim, |a, z| jt.cov[(idx[a], z)]);
    chol.solve_in_place(s_inv_oz.as_mut()).unwrap();
    let r: Vec<f64> = (0..m).map(|a| values[a] - jt.mean[idx[a]]).collect();
    let mean: Vec<f64> = (0..dim)
        .map(|z| jt.mean[z] + (0..m).map(|a| s_inv_oz[(a, z)] * r[a]).sum::<f64>())
        .collect();
    let cov = Mat::<f64>::from_fn(dim, dim, |z1, z2| {
        jt.cov[(z1, z2)]
            - (0..m)
                .map(|a| jt.cov[(z1, idx[a])] * s_inv_oz[(a, z2)])
                .sum::<f64>()
    });
    (mean, cov)
}

/// A random SPD matrix `L Lᵀ + shift I`.
pub fn random_spd<G: Rng>(n: usize, scale: f64, shift: f64, rng: &mut G) -> Mat<f64> {
    let l = Mat::<f64>::from_fn(n, n, |_, _| rng.random_range(-1.0..1.0));
    let mut m = &l * l.transpose() * faer::Scale(scale);
    for i in 0..n {
        m[(i, i)] += shift;
    }
    for j in 0..n {
        for i in 0..j {
            m[(i, j)] = m[(j, i)];
        }
    }
    m
}

/// Per-step matrices for [`TimeVarying`]: `a`, `q` the T − 1 transitions,
/// `h`, `r` the T observations.
pub struct StepMatrices {
    pub a: Vec<Mat<f64>>,
    pub q: Vec<Mat<f64>>,
    pub h: Vec<Mat<f64>>,
    pub r: Vec<Mat<f64>>,
}

impl StepMatrices {
    /// Random matrices for T = `t` steps: stable `A_k` (Frobenius norm
    /// 0.95), SPD `Q_k` and `R_k` of varying scales, general `H_k`.
    pub fn random(n: usize, p: usize, t: usize, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut a = Vec::new();
        let mut q = Vec::new();
        for _ in 1..t {
            let mut m = Mat::<f64>::from_fn(n, n, |_, _| rng.random_range(-1.0..1.0));
            let norm = m.norm_l2();
            m *= faer::Scale(0.95 / norm);
            a.push(m);
            let scale = rng.random_range(0.05..0.5);
            q.push(random_spd(n, scale, 0.05, &mut rng));
        }
        let mut h = Vec::new();
        let mut r = Vec::new();
        for _ in 0..t {
            h.push(Mat::from_fn(p, n, |_, _| rng.random_range(-1.5..1.5)));
            let scale = rng.random_range(0.05..0.5);
            r.push(random_spd(p, scale, 0.05, &mut rng));
        }
        Self { a, q, h, r }
    }
}

/// Views of matrices, for [`TimeVarying`].
pub fn refs(m: &[Mat<f64>]) -> Vec<MatRef<'_, f64>> {
    m.iter().map(Mat::as_ref).collect()
}

/// A random model with a stable A (Frobenius norm 0.9).
pub fn random_model(n: usize, p: usize, seed: u64) -> LinearGaussianSsm {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut a = Mat::<f64>::from_fn(n, n, |_, _| rng.random_range(-1.0..1.0));
    let norm = a.norm_l2();
    a *= faer::Scale(0.9 / norm);
    let q = random_spd(n, 0.3, 0.1, &mut rng);
    let h = Mat::<f64>::from_fn(p, n, |_, _| rng.random_range(-1.0..1.0));
    let r = random_spd(p, 0.3, 0.2, &mut rng);
    let m0: Vec<f64> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
    let p0 = random_spd(n, 0.5, 0.3, &mut rng);
    LinearGaussianSsm::builder()
        .a(a.as_ref())
        .q(q.as_ref())
        .h(h.as_ref())
        .r(r.as_ref())
        .m0(&m0)
        .p0(p0.as_ref())
        .build()
        .unwrap()
}

/// [`random_model`] with random inputs B (n x m), D (p x m) and offsets.
pub fn random_model_with_inputs(n: usize, p: usize, m: usize, seed: u64) -> LinearGaussianSsm {
    let mut rng = StdRng::seed_from_u64(seed + 1000);
    let mut draw =
        |rows: usize, cols: usize| Mat::<f64>::from_fn(rows, cols, |_, _| rng.random_range(-1.0..1.0));
    let (b, d) = (draw(n, m), draw(p, m));
    let inputs = InputParameters {
        b,
        d,
        transition_offset: draw(n, 1).col(0).iter().copied().collect(),
        observation_offset: draw(p, 1).col(0).iter().copied().collect(),
    };
    random_model(n, p, seed).with_inputs(inputs).unwrap()
}

/// A model from named parameters.
pub fn model(parameters: Parameters) -> LinearGaussianSsm {
    LinearGaussianSsm::from_parameters(parameters).unwrap()
}

/// The learn set whose bit i is set in `mask` for block `Param::ALL[i]`
/// (A, Q, H, R, m0, P0): the 64 subsets are the masks `0..64`.
pub fn learn_set(mask: u8) -> LearnSet {
    use statespace::em_core::Parameter;
    Param::ALL
        .iter()
        .enumerate()
        .fold(LearnSet::none(), |set, (i, &block)| {
            set.set(block, mask & (1 << i) != 0)
        })
}

/// Largest absolute difference between two matrices.
pub fn max_diff(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> f64 {
    assert_eq!((a.nrows(), a.ncols()), (b.nrows(), b.ncols()));
    let mut d = 0.0f64;
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            d = d.max((a[(i, j)] - b[(i, j)]).abs());
        }
    }
    d
}

/// A block of the posterior covariance.
pub fn block(
    cov: &Mat<f64>,
    rows: impl Fn(usize) -> usize,
    cols: impl Fn(usize) -> usize,
    r: usize,
    c: usize,
) -> Mat<f64> {
    Mat::from_fn(r, c, |i, j| cov[(rows(i), cols(j))])
}

/// Asserts that `m` is finite, exactly symmetric and positive definite.
pub fn assert_spd(m: MatRef<'_, f64>, what: &str) {
    for j in 0..m.ncols() {
        for i in 0..m.nrows() {
            assert!(
                m[(i, j)].is_finite() && m[(i, j)] == m[(j, i)],
                "{what} not finite/symmetric"
            );
        }
    }
    assert!(Cholesky::new(m).is_ok(), "{what} not positive definite");
}
