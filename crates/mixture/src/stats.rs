//! Mergeable sufficient statistics of a Gaussian mixture.
//!
//! For each component `k`, with point weights `ρᵢₖ ≥ 0` (responsibilities,
//! times sample weights when there are any):
//! - the mass `Nₖ = Σᵢ ρᵢₖ` and `Σᵢ ρᵢₖ²` (for the effective number of
//!   points `Nₖ² / Σᵢ ρᵢₖ²`);
//! - the weighted mean `mₖ = Σᵢ ρᵢₖ xᵢ / Nₖ`;
//! - the centred scatter `Mₖ = Σᵢ ρᵢₖ (xᵢ − mₖ)(xᵢ − mₖ)ᵀ` — the full matrix
//!   (full type), its diagonal (diagonal and spherical types) or its sum over
//!   components `Σₖ Mₖ` (tied type).
//!
//! This is `(Σρ, Σρx, Σρxxᵀ)` in the numerically stable centred form.
//! Two sets of statistics merge exactly (in exact arithmetic) by the
//! parallel-variance formula of Chan, Golub and LeVeque:
//! `N = Nₐ + N_b`, `δ = m_b − mₐ`, `m = mₐ + δ N_b / N`,
//! `M = Mₐ + M_b + (Nₐ N_b / N) δ δᵀ`. So statistics of chunks (or of
//! machines) add up to the statistics of the whole, up to rounding.
//!
//! Statistics from [`e_step`](crate::EmModel::e_step) also carry up to K
//! re-seeding candidates: the data points of lowest likelihood under the
//! model that produced them (see [`crate::MStepOptions::reseed_collapsed`]).
//!
//! # Flat form
//! [`em_core::FlatStats`] (for E-steps on parts of the data, see
//! [`em_core::executor`]), layout version 1, every number as it is:
//!
//! ```text
//! header     "MIXS" tag, 1, covariance kind (0 full, 1 diagonal,
//!            2 spherical, 3 tied), K, d, n (rows), c (candidates, c ≤ K)
//! Nₖ         K values
//! Σᵢ ρᵢₖ²    K values
//! mₖ         K x d, row k = component k
//! scatter    full: K matrices Mₖ, d x d each, row-major
//!            diagonal, spherical: K x d, row k = the diagonal of Mₖ
//!            tied: Σₖ Mₖ, d x d, row-major
//! candidates c times [ln p(x), x (d values)], lowest ln p(x) first
//! ```
//!
//! so `7 + 2K + Kd + (K d², K d or d²) + c (d + 1)` values. The merge is
//! Chan's (above) with the candidates kept as [`SufficientStats::merge`]
//! says: merging parts in a fixed order gives the same bits every time.

use crate::covariance::check_count;
use crate::data::{Data, chunk_ranges, with_columns, with_data};
use crate::kernel::{self, Acc, AccKind, AccumulateJob, LANES, hsum};
use crate::{CovarianceType, MixtureError};
use em_core::ScaleStats;
use em_core::flat::{FlatError, FlatReader, FlatStats, tag, write_count, write_header};
use faer::{Mat, MatRef};
use rayon::prelude::*;

/// Per-chunk masses and weighted sums.
type FirstMoments = (Vec<f64>, Vec<f64>);

/// The centred second moments, per covariance type.
#[derive(Debug, Clone, PartialEq)]
pub enum Scatter {
    /// `K` symmetric d x d matrices `Mₖ` (full covariance type).
    Full(Vec<Mat<f64>>),
    /// A K x d matrix of the diagonals of `Mₖ` (diagonal and spherical types).
    Diagonal(Mat<f64>),
    /// The symmetric d x d matrix `Σₖ Mₖ` (tied type).
    Pooled(Mat<f64>),
}

/// A data point proposed for re-seeding a collapsed component.
#[derive(Debug, Clone, PartialEq)]
pub struct ReseedCandidate {
    /// `ln p(x)` of the point under the model that produced the statistics.
    pub log_likelihood: f64,
    /// The point (d values).
    pub point: Vec<f64>,
}

/// Sufficient statistics of a mixture (see the module documentation).
///
/// Build them with [`SufficientStats::from_responsibilities`], with
/// [`e_step`](crate::EmModel::e_step), or start from
/// [`SufficientStats::empty`] and [`merge`](SufficientStats::merge).
#[derive(Debug, Clone, PartialEq)]
pub struct SufficientStats {
    covariance_type: CovarianceType,
    n_features: usize,
    n_samples: usize,
    mass: Vec<f64>,
    mass_sq: Vec<f64>,
    means: Mat<f64>,
    scatter: Scatter,
    candidates: Vec<ReseedCandidate>,
}

impl SufficientStats {
    /// Statistics of no data: the identity of [`merge`](Self::merge).
    ///
    /// # Errors
    /// [`MixtureError::NoComponents`] for `n_components = 0`,
    /// [`MixtureError::NoFeatures`] for `n_features = 0`.
    pub fn empty(
        n_components: usize,
        n_features: usize,
        covariance_type: CovarianceType,
    ) -> Result<Self, MixtureError> {
        check_shape(n_components, n_features)?;
        Ok(Self::zeros(n_components, n_features, covariance_type))
    }

    pub(crate) fn zeros(k: usize, d: usize, covariance_type: CovarianceType) -> Self {
        let scatter = match covariance_type {
            CovarianceType::Full => Scatter::Full(vec![Mat::zeros(d, d); k]),
            CovarianceType::Diagonal | CovarianceType::Spherical => Scatter::Diagonal(Mat::zeros(k, d)),
            CovarianceType::Tied => Scatter::Pooled(Mat::zeros(d, d)),
        };
        Self {
            covariance_type,
            n_features: d,
            n_samples: 0,
            mass: vec![0.0; k],
            mass_sq: vec![0.0; k],
            means: Mat::zeros(k, d),
            scatter,
            candidates: Vec::new(),
        }
    }

    /// Statistics of data `x` (n x d) with point weights `resp` (n x K):
    /// any non-negative finite values (responsibilities, state posteriors,
    /// posteriors times within-state responsibilities, ...). Rows of `resp`
    /// need not sum to one.
    ///
    /// Two passes over the data (weighted means, then the scatter centred on
    /// them), each over fixed chunks in parallel with a fixed reduction order.
    /// The result carries no re-seeding candidates. `n = 0` gives
    /// [`empty`](Self::empty) statistics.
    ///
    /// # Errors
    /// [`MixtureError::NoComponents`] / [`MixtureError::NoFeatures`] for
    /// K = 0 / d = 0; [`MixtureError::DimensionMismatch`] when `resp` does not
    /// have the rows of `x`; [`MixtureError::NonFiniteData`] and
    /// [`MixtureError::InvalidResponsibility`] naming the row and column.
    pub fn from_responsibilities(
        x: MatRef<'_, f64>,
        resp: MatRef<'_, f64>,
        covariance_type: CovarianceType,
    ) -> Result<Self, MixtureError> {
        check_responsibility_shape(x, resp)?;
        if x.nrows() == 0 {
            return Self::empty(resp.ncols(), x.ncols(), covariance_type);
        }
        with_data(x, |data| {
            with_columns(resp, |rcols| {
                // Pass 1 validates; pass 2 needs no new checks.
                let shift = weighted_means(data, rcols)?;
                Self::from_chunks(covariance_type, data, rcols, &shift, false)
            })
        })
    }

    /// [`from_responsibilities`](Self::from_responsibilities) in ONE pass
    /// over the data: the scatter is accumulated centred on the given
    /// `centre` (K x d, e.g. the current component means) instead of the
    /// weighted means of a first pass, then moved to the weighted means:
    /// `Mₖ = Σᵢ ρᵢₖ (xᵢ − cₖ)(xᵢ − cₖ)ᵀ − sₖ sₖᵀ / Nₖ` with `sₖ = Σᵢ ρᵢₖ (xᵢ − cₖ)`.
    /// Exact in exact arithmetic for any centre; in floating point the
    /// cancellation is small when `cₖ` is near the weighted mean (relative
    /// error `~ ε · |x̄ₖ − cₖ|² / var`). A non-finite centre falls back to the
    /// two-pass [`from_responsibilities`](Self::from_responsibilities).
    ///
    /// # Errors
    /// As [`from_responsibilities`](Self::from_responsibilities), plus
    /// [`MixtureError::DimensionMismatch`] when `centre` is not K x d.
    pub fn from_responsibilities_centred(
        x: MatRef<'_, f64>,
        resp: MatRef<'_, f64>,
        covariance_type: CovarianceType,
        centre: MatRef<'_, f64>,
    ) -> Result<Self, MixtureError> {
        check_responsibility_shape(x, resp)?;
        let (n, d, k) = (x.nrows(), x.ncols(), resp.ncols());
        check_count("centre rows", k, centre.nrows())?;
        check_count("centre columns", d, centre.ncols())?;
        if n == 0 {
            return Self::empty(k, d, covariance_type);
        }
        let shift: Vec<f64> = (0..k * d).map(|i| centre[(i / d, i % d)]).collect();
        if !shift.iter().all(|v| v.is_finite()) {
            return Self::from_responsibilities(x, resp, covariance_type);
        }
        with_data(x, |data| {
            with_columns(resp, |rcols| {
                Self::from_chunks(covariance_type, data, rcols, &shift, true)
            })
        })
    }

    /// The statistics of the responsibilities `rcols` of data with at least
    /// one row, accumulated about `shift` (K·d) chunk by chunk and merged in
    /// chunk order, from the first chunk's statistics (merging them into
    /// empty statistics would copy them); with `validate`, each chunk's data
    /// and responsibilities are checked first (the first error in row order
    /// is returned).
    fn from_chunks(
        covariance_type: CovarianceType,
        data: &Data<'_>,
        rcols: &[&[f64]],
        shift: &[f64],
        validate: bool,
    ) -> Result<Self, MixtureError> {
        let job = AccumulateJob {
            d: data.ncols(),
            shift,
            data,
            resp: rcols,
            kind: acc_kind(covariance_type),
        };
        let parts: Vec<Result<Self, MixtureError>> = chunk_ranges(data.nrows())
            .par_iter()
            .map(|&(s, e)| {
                if validate {
                    data.check_finite_rows(s, e)?;
                    check_responsibilities(rcols, s, e)?;
                }
                let acc = kernel::accumulate_chunk(&job, s, e);
                Ok(Self::from_acc(&acc, shift, e - s, covariance_type))
            })
            .collect();
        let mut parts = parts.into_iter();
        let mut out = parts.next().expect("data with rows has a chunk")?;
        for part in parts {
            out.merge(&part?);
        }
        Ok(out)
    }

    /// Turns chunk accumulators (centred on `shift`, K·d) into statistics.
    pub(crate) fn from_acc(
        acc: &Acc,
        shift: &[f64],
        n_samples: usize,
        covariance_type: CovarianceType,
    ) -> Self {
        let (k, d) = (acc.k, acc.d);
        let mut out = Self::zeros(k, d, covariance_type);
        out.n_samples = n_samples;
        let tri = d * (d + 1) / 2;
        let mut pooled = vec![0.0; if acc.kind == AccKind::Pooled { tri } else { 0 }];
        let mut s1 = vec![0.0; d];
        if acc.kind == AccKind::Pooled {
            for (p, v) in pooled.iter_mut().zip(acc.s2.iter()) {
                *p = hsum(v);
            }
        }
        for c in 0..k {
            let n_c = hsum(&acc.mass[c]);
            out.mass[c] = n_c;
            out.mass_sq[c] = hsum(&acc.mass_sq[c]);
            if !(n_c > 0.0) {
                continue;
            }
            for (j, s) in s1.iter_mut().enumerate() {
                *s = hsum(&acc.s1[c * d + j]);
            }
            for j in 0..d {
                out.means[(c, j)] = shift[c * d + j] + s1[j] / n_c;
            }
            match (&mut out.scatter, acc.kind) {
                (Scatter::Full(mats), AccKind::Full) => {
                    let m = &mut mats[c];
                    for j in 0..d {
                        for i in 0..=j {
                            let v = hsum(&acc.s2[c * tri + j * (j + 1) / 2 + i]) - s1[j] * s1[i] / n_c;
                            m[(j, i)] = v;
                            m[(i, j)] = v;
                        }
                        m[(j, j)] = m[(j, j)].max(0.0);
                    }
                }
                (Scatter::Diagonal(m), AccKind::Diagonal) => {
                    for j in 0..d {
                        let v = hsum(&acc.s2[c * d + j]) - s1[j] * s1[j] / n_c;
                        m[(c, j)] = v.max(0.0);
                    }
                }
                (Scatter::Pooled(_), AccKind::Pooled) => {
                    for j in 0..d {
                        for i in 0..=j {
                            pooled[j * (j + 1) / 2 + i] -= s1[j] * s1[i] / n_c;
                        }
                    }
                }
                _ => unreachable!("accumulator kind follows the covariance type"),
            }
        }
        if let Scatter::Pooled(m) = &mut out.scatter {
            for j in 0..d {
                for i in 0..=j {
                    let v = pooled[j * (j + 1) / 2 + i];
                    m[(j, i)] = v;
                    m[(i, j)] = v;
                }
                m[(j, j)] = m[(j, j)].max(0.0);
            }
        }
        out
    }

    /// Adds the statistics of other data (Chan's merge, see the module docs);
    /// re-seeding candidates are merged keeping the K of lowest likelihood
    /// (ties keep `self`'s first).
    ///
    /// # Panics
    /// If the two do not have the same number of components, features and
    /// covariance type (a programming error; see [`try_merge`](Self::try_merge)).
    pub fn merge(&mut self, other: &Self) {
        if let Err(e) = self.try_merge(other) {
            panic!("SufficientStats::merge: {e}");
        }
    }

    /// [`merge`](Self::merge) that reports incompatible statistics instead of
    /// panicking; on error `self` is unchanged.
    ///
    /// # Errors
    /// [`MixtureError::CovarianceTypeMismatch`] or
    /// [`MixtureError::DimensionMismatch`].
    pub fn try_merge(&mut self, other: &Self) -> Result<(), MixtureError> {
        if self.covariance_type != other.covariance_type {
            return Err(MixtureError::CovarianceTypeMismatch {
                expected: self.covariance_type,
                found: other.covariance_type,
            });
        }
        check_count(
            "components of the statistics",
            self.n_components(),
            other.n_components(),
        )?;
        check_count("features of the statistics", self.n_features, other.n_features)?;
        let d = self.n_features;
        // Tied type: the `(Nₐ N_b / N) δ δᵀ` terms of all components, added last.
        let mut pooled_extra = matches!(self.scatter, Scatter::Pooled(_)).then(|| Mat::<f64>::zeros(d, d));
        let mut delta = vec![0.0; d];
        for c in 0..self.n_components() {
            self.merge_component(other, c, &mut delta, pooled_extra.as_mut());
        }
        if let (Scatter::Pooled(a), Scatter::Pooled(b), Some(extra)) =
            (&mut self.scatter, &other.scatter, &pooled_extra)
        {
            for j in 0..d {
                for i in 0..d {
                    a[(i, j)] += b[(i, j)] + extra[(i, j)];
                }
            }
        }
        self.n_samples += other.n_samples;
        self.merge_candidates(&other.candidates);
        Ok(())
    }

    /// Chan's merge of component `c` of `other` into `self` (the pooled
    /// scatter of the tied type gets its correction in `pooled_extra`);
    /// `delta` (d values) is scratch for `m_b − mₐ`.
    fn merge_component(
        &mut self,
        other: &Self,
        c: usize,
        delta: &mut [f64],
        pooled_extra: Option<&mut Mat<f64>>,
    ) {
        let d = self.n_features;
        let (na, nb) = (self.mass[c], other.mass[c]);
        self.mass_sq[c] += other.mass_sq[c];
        if !(nb > 0.0) {
            return;
        }
        if !(na > 0.0) {
            self.mass[c] = nb;
            for j in 0..d {
                self.means[(c, j)] = other.means[(c, j)];
            }
            match (&mut self.scatter, &other.scatter) {
                (Scatter::Full(a), Scatter::Full(b)) => a[c].copy_from(&b[c]),
                (Scatter::Diagonal(a), Scatter::Diagonal(b)) => {
                    for j in 0..d {
                        a[(c, j)] = b[(c, j)];
                    }
                }
                _ => {}
            }
            return;
        }
        let n = na + nb;
        let f = na * nb / n;
        for (j, dj) in delta.iter_mut().enumerate() {
            *dj = other.means[(c, j)] - self.means[(c, j)];
        }
        self.mass[c] = n;
        for j in 0..d {
            self.means[(c, j)] += delta[j] * (nb / n);
        }
        match (&mut self.scatter, &other.scatter, pooled_extra) {
            (Scatter::Full(a), Scatter::Full(b), _) => {
                let (a, b) = (&mut a[c], &b[c]);
                for j in 0..d {
                    for i in 0..d {
                        a[(i, j)] += b[(i, j)] + f * delta[i] * delta[j];
                    }
                }
            }
            (Scatter::Diagonal(a), Scatter::Diagonal(b), _) => {
                for j in 0..d {
                    a[(c, j)] += b[(c, j)] + f * delta[j] * delta[j];
                }
            }
            (Scatter::Pooled(_), Scatter::Pooled(_), Some(extra)) => {
                for j in 0..d {
                    for i in 0..d {
                        extra[(i, j)] += f * delta[i] * delta[j];
                    }
                }
            }
            _ => unreachable!("same covariance type"),
        }
    }

    /// Keeps the K candidates of lowest likelihood of both sets (ties keep
    /// `self`'s first).
    fn merge_candidates(&mut self, other: &[ReseedCandidate]) {
        let cap = self.n_components();
        for cand in other {
            let pos = self
                .candidates
                .partition_point(|c| c.log_likelihood <= cand.log_likelihood);
            if pos < cap {
                self.candidates.insert(pos, cand.clone());
                self.candidates.truncate(cap);
            }
        }
    }

    /// The covariance type the statistics were accumulated for.
    #[must_use]
    pub fn covariance_type(&self) -> CovarianceType {
        self.covariance_type
    }

    /// Number of components K.
    #[must_use]
    pub fn n_components(&self) -> usize {
        self.mass.len()
    }

    /// Number of features d.
    #[must_use]
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Number of data rows accumulated (whatever their weights).
    #[must_use]
    pub fn n_samples(&self) -> usize {
        self.n_samples
    }

    /// Masses `Nₖ = Σᵢ ρᵢₖ`.
    #[must_use]
    pub fn mass(&self) -> &[f64] {
        &self.mass
    }

    /// `Σₖ Nₖ`.
    #[must_use]
    pub fn total_mass(&self) -> f64 {
        self.mass.iter().sum()
    }

    /// Effective numbers of points `Nₖ² / Σᵢ ρᵢₖ²` (0 for an empty component):
    /// 1 when all the mass sits on one point, n for n points of equal weight.
    #[must_use]
    pub fn effective_points(&self) -> Vec<f64> {
        self.mass
            .iter()
            .zip(&self.mass_sq)
            .map(|(&n, &s)| if n > 0.0 && s > 0.0 { n * n / s } else { 0.0 })
            .collect()
    }

    /// Weighted means `mₖ` (K x d); a row of zeros for an empty component.
    #[must_use]
    pub fn means(&self) -> MatRef<'_, f64> {
        self.means.as_ref()
    }

    /// The centred scatter (see [`Scatter`]).
    #[must_use]
    pub fn scatter(&self) -> &Scatter {
        &self.scatter
    }

    /// Re-seeding candidates, lowest likelihood first (empty unless the
    /// statistics come from an E-step).
    #[must_use]
    pub fn candidates(&self) -> &[ReseedCandidate] {
        &self.candidates
    }

    pub(crate) fn set_candidates(&mut self, candidates: Vec<ReseedCandidate>) {
        self.candidates = candidates;
    }
}

/// The tag and layout version of the flat form (see the module docs).
const FLAT_TAG: u32 = tag(*b"MIXS");
const FLAT_VERSION: u32 = 1;

/// The covariance types by their code in the flat form.
const FLAT_KINDS: [CovarianceType; 4] = [
    CovarianceType::Full,
    CovarianceType::Diagonal,
    CovarianceType::Spherical,
    CovarianceType::Tied,
];

/// The code of covariance type `t` in the flat form.
fn kind_code(t: CovarianceType) -> usize {
    FLAT_KINDS
        .iter()
        .position(|&k| k == t)
        .expect("FLAT_KINDS lists every covariance type")
}

/// Appends the d x d matrix `m` row by row.
fn write_square(out: &mut Vec<f64>, m: &Mat<f64>) {
    let d = m.nrows();
    out.extend((0..d * d).map(|i| m[(i / d, i % d)]));
}

/// The `rows` x `cols` matrix of `values`, row by row.
fn row_major(values: &[f64], rows: usize, cols: usize) -> Mat<f64> {
    Mat::from_fn(rows, cols, |i, j| values[i * cols + j])
}

impl FlatStats for SufficientStats {
    fn write_flat(&self, out: &mut Vec<f64>) {
        let (k, d) = (self.n_components(), self.n_features);
        write_header(out, FLAT_TAG, FLAT_VERSION);
        for n in [
            kind_code(self.covariance_type),
            k,
            d,
            self.n_samples,
            self.candidates.len(),
        ] {
            write_count(out, n);
        }
        out.extend(self.mass.iter().chain(&self.mass_sq));
        out.extend((0..k * d).map(|i| self.means[(i / d, i % d)]));
        match &self.scatter {
            Scatter::Full(mats) => mats.iter().for_each(|m| write_square(out, m)),
            Scatter::Diagonal(m) => out.extend((0..k * d).map(|i| m[(i / d, i % d)])),
            Scatter::Pooled(m) => write_square(out, m),
        }
        for c in &self.candidates {
            out.push(c.log_likelihood);
            out.extend(&c.point);
        }
    }

    fn read_flat(reader: &mut FlatReader<'_>) -> Result<Self, FlatError> {
        reader.header("mixture statistics", FLAT_TAG, FLAT_VERSION)?;
        let covariance_type = FLAT_KINDS[reader.code("covariance kind", FLAT_KINDS.len())?];
        let positive = |field: &'static str, value: usize| match value {
            0 => Err(FlatError::Shape {
                field,
                value: 0.0,
                requirement: "must be at least 1".into(),
            }),
            v => Ok(v),
        };
        let k = positive("components", reader.count("components")?)?;
        let d = positive("features", reader.count("features")?)?;
        let n_samples = reader.count("rows")?;
        let n_candidates = reader.count("candidates")?;
        if n_candidates > k {
            return Err(FlatError::Shape {
                field: "candidates",
                value: n_candidates as f64,
                requirement: format!("at most the {k} components"),
            });
        }
        let mass = reader.take("masses", &[k])?.to_vec();
        let mass_sq = reader.take("sums of squared weights", &[k])?.to_vec();
        let means = row_major(reader.take("means", &[k, d])?, k, d);
        let scatter = match covariance_type {
            CovarianceType::Full => {
                let all = reader.take("scatter matrices", &[k, d, d])?;
                Scatter::Full(all.chunks_exact(d * d).map(|m| row_major(m, d, d)).collect())
            }
            CovarianceType::Diagonal | CovarianceType::Spherical => {
                Scatter::Diagonal(row_major(reader.take("scatter diagonals", &[k, d])?, k, d))
            }
            CovarianceType::Tied => Scatter::Pooled(row_major(reader.take("pooled scatter", &[d, d])?, d, d)),
        };
        let candidates: Vec<ReseedCandidate> = reader
            .take("candidates", &[n_candidates, d + 1])?
            .chunks_exact(d + 1)
            .map(|c| ReseedCandidate {
                log_likelihood: c[0],
                point: c[1..].to_vec(),
            })
            .collect();
        if let Some(i) = candidates
            .windows(2)
            .position(|w| w[1].log_likelihood < w[0].log_likelihood)
        {
            return Err(FlatError::Shape {
                field: "candidates",
                value: (i + 1) as f64,
                requirement: "candidate log-likelihoods must not decrease".into(),
            });
        }
        Ok(Self {
            covariance_type,
            n_features: d,
            n_samples,
            mass,
            mass_sq,
            means,
            scatter,
            candidates,
        })
    }

    /// Covariance kind (its code in the flat form), K and d.
    fn shape(&self) -> Vec<usize> {
        vec![
            kind_code(self.covariance_type),
            self.n_components(),
            self.n_features,
        ]
    }

    fn merge(&mut self, other: &Self) {
        Self::merge(self, other);
    }
}

/// Online EM's weighting ([`em_core::online`]): the statistics of the same
/// rows with every weight `ρᵢₖ` times `f`, so `Nₖ → f Nₖ`,
/// `Σᵢ ρᵢₖ² → f² Σᵢ ρᵢₖ²` (the effective numbers of points are unchanged),
/// `mₖ` unchanged, `Mₖ → f Mₖ`. The rows and the re-seeding candidates
/// are kept: after a merge the candidates are the worst-explained rows of
/// every chunk so far, each under the model of its time.
impl ScaleStats for SufficientStats {
    fn scale(&mut self, factor: f64) {
        for (m, q) in self.mass.iter_mut().zip(&mut self.mass_sq) {
            *m *= factor;
            *q *= factor * factor;
        }
        match &mut self.scatter {
            Scatter::Full(mats) => mats.iter_mut().for_each(|m| *m *= faer::Scale(factor)),
            Scatter::Diagonal(m) | Scatter::Pooled(m) => *m *= faer::Scale(factor),
        }
    }

    fn observations(&self) -> usize {
        self.n_samples
    }
}

/// `NoComponents` for K = 0, `NoFeatures` for d = 0.
fn check_shape(k: usize, d: usize) -> Result<(), MixtureError> {
    if k == 0 {
        return Err(MixtureError::NoComponents);
    }
    if d == 0 {
        return Err(MixtureError::NoFeatures);
    }
    Ok(())
}

/// The checks of [`SufficientStats::empty`] for responsibilities `resp`
/// (n x K) of the rows of `x` (n x d), and that both have n rows.
fn check_responsibility_shape(x: MatRef<'_, f64>, resp: MatRef<'_, f64>) -> Result<(), MixtureError> {
    check_shape(resp.ncols(), x.ncols())?;
    check_count("responsibility rows", x.nrows(), resp.nrows())
}

pub(crate) fn acc_kind(t: CovarianceType) -> AccKind {
    match t {
        CovarianceType::Full => AccKind::Full,
        CovarianceType::Tied => AccKind::Pooled,
        CovarianceType::Diagonal | CovarianceType::Spherical => AccKind::Diagonal,
    }
}

/// The weighted means `Σᵢ ρᵢₖ xᵢ / Nₖ` (K·d, zero for a component without
/// mass), after checking the data and responsibilities of every chunk (the
/// first error in row order is returned).
fn weighted_means(data: &Data<'_>, rcols: &[&[f64]]) -> Result<Vec<f64>, MixtureError> {
    let (k, d) = (rcols.len(), data.ncols());
    let firsts: Vec<Result<FirstMoments, MixtureError>> = chunk_ranges(data.nrows())
        .par_iter()
        .map(|&(s, e)| {
            data.check_finite_rows(s, e)?;
            check_responsibilities(rcols, s, e)?;
            Ok(first_moments(data, rcols, s, e))
        })
        .collect();
    let mut mass = vec![0.0; k];
    let mut sums = vec![0.0; k * d];
    for part in firsts {
        let (m, s) = part?;
        add_into(&mut mass, &m);
        add_into(&mut sums, &s);
    }
    Ok((0..k * d)
        .map(|i| {
            let c = i / d;
            if mass[c] > 0.0 { sums[i] / mass[c] } else { 0.0 }
        })
        .collect())
}

fn add_into(dst: &mut [f64], src: &[f64]) {
    for (a, b) in dst.iter_mut().zip(src) {
        *a += b;
    }
}

/// The first responsibility of rows `start..end` that is negative, NaN or
/// infinite (smallest row, then smallest component), as an error.
fn check_responsibilities(rcols: &[&[f64]], start: usize, end: usize) -> Result<(), MixtureError> {
    match linalg_kernels::finite::first_invalid_in_columns(
        rcols,
        start..end,
        linalg_kernels::finite::Valid::FiniteNonNegative,
    ) {
        None => Ok(()),
        Some((row, component)) => Err(MixtureError::InvalidResponsibility {
            row,
            component,
            value: rcols[component][row],
        }),
    }
}

/// Per-component `Σρ` and `Σρx` over rows `start..end`, lane-wise then summed in order.
fn first_moments(data: &Data<'_>, rcols: &[&[f64]], start: usize, end: usize) -> (Vec<f64>, Vec<f64>) {
    let (k, d) = (rcols.len(), data.ncols());
    let mut mass = vec![0.0; k];
    let mut sums = vec![0.0; k * d];
    for (c, r) in rcols.iter().enumerate() {
        let r = &r[start..end];
        match data {
            Data::Cols(cols) => {
                let (m, s) = fused_lane_sums(r, cols, start, end);
                mass[c] = m;
                sums[c * d..(c + 1) * d].copy_from_slice(&s);
            }
            Data::Rows(_) => {
                mass[c] = lane_sum(r.iter().copied());
                for j in 0..d {
                    sums[c * d + j] = lane_sum(r.iter().enumerate().map(|(i, a)| a * data.get(start + i, j)));
                }
            }
        }
    }
    (mass, sums)
}

/// `Σρ` and `Σρ x_j` of one component, with the same lane assignment (row
/// offset mod [`LANES`]) and the same final lane order as [`lane_sum`], hence
/// bit-identical to it, but written over fixed-size lane arrays so that the
/// compiler keeps the accumulators in vector registers.
fn fused_lane_sums(r: &[f64], cols: &[&[f64]], start: usize, end: usize) -> (f64, Vec<f64>) {
    debug_assert_eq!(start + r.len(), end);
    let mass = lane_sum_fast(r, None);
    let sums = cols
        .iter()
        .map(|col| lane_sum_fast(r, Some(&col[start..end])))
        .collect();
    (mass, sums)
}

/// `Σ_i r_i` (or `Σ_i r_i x_i`) accumulated in lane `i mod LANES`, lanes
/// summed in order (as [`lane_sum`]).
#[inline]
fn lane_sum_fast(r: &[f64], x: Option<&[f64]>) -> f64 {
    let mut acc = [0.0; LANES];
    let full = r.len() / LANES * LANES;
    match x {
        None => {
            for rb in r[..full].chunks_exact(LANES) {
                for l in 0..LANES {
                    acc[l] += rb[l];
                }
            }
            for (l, &v) in r[full..].iter().enumerate() {
                acc[l] += v;
            }
        }
        Some(x) => {
            for (rb, xb) in r[..full].chunks_exact(LANES).zip(x[..full].chunks_exact(LANES)) {
                for l in 0..LANES {
                    acc[l] += rb[l] * xb[l];
                }
            }
            for (l, (&v, &xv)) in r[full..].iter().zip(&x[full..]).enumerate() {
                acc[l] += v * xv;
            }
        }
    }
    acc.iter().sum()
}

fn lane_sum(values: impl Iterator<Item = f64>) -> f64 {
    let mut acc = [0.0; LANES];
    for (i, v) in values.enumerate() {
        acc[i % LANES] += v;
    }
    acc.iter().sum()
}
