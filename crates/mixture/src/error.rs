//! The one error type of the mixture crate.
//!
//! Messages count positions from 1 (row 1 is the first row; likewise
//! columns, components, states, features, sequences, time steps and pivots),
//! as the data files and programs do; the fields hold 0-based indices.

use crate::CovarianceType;
use linalg_kernels::KernelError;
use std::fmt;

/// Which covariance matrix an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CovarianceOwner {
    /// The covariance of one component (zero-based index).
    Component(usize),
    /// The single covariance shared by all components (tied model).
    Tied,
}

impl fmt::Display for CovarianceOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Component(k) => write!(f, "component {}", k + 1),
            Self::Tied => write!(f, "the tied (shared) covariance"),
        }
    }
}

/// A per-component parameter of the variational posterior
/// ([`crate::variational::VariationalMixture`]), for its errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PosteriorParam {
    /// The Dirichlet concentration `αₖ`.
    DirichletConcentration,
    /// The first Beta parameter `aₖ` of a stick-breaking fraction.
    StickBreakingA,
    /// The second Beta parameter `bₖ` of a stick-breaking fraction.
    StickBreakingB,
    /// `βₖ`.
    MeanPrecision,
    /// `νₖ`.
    DegreesOfFreedom,
}

impl fmt::Display for PosteriorParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::DirichletConcentration => "Dirichlet concentration",
            Self::StickBreakingA => "stick-breaking a",
            Self::StickBreakingB => "stick-breaking b",
            Self::MeanPrecision => "mean precision",
            Self::DegreesOfFreedom => "degrees of freedom",
        })
    }
}

/// Everything that can go wrong in this crate, with the position it happened at.
///
/// Input errors name the row / column / component; numerical failures wrap the
/// [`KernelError`] of `linalg-kernels` together with the component it concerned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MixtureError {
    /// The data matrix has no rows.
    #[error("the data has no rows")]
    EmptyData,
    /// A model or a request with zero components (K = 0).
    #[error("the number of components must be at least 1")]
    NoComponents,
    /// A model or data set with zero features (d = 0).
    #[error("the number of features must be at least 1")]
    NoFeatures,
    /// Fewer samples than components where at least one per component is needed.
    #[error("{n_samples} samples are fewer than the {n_components} components")]
    TooFewSamples {
        /// Number of rows of the data.
        n_samples: usize,
        /// Number of components requested.
        n_components: usize,
    },
    /// Fewer distinct data points than requested clusters (k-means, random points).
    #[error("only {distinct} distinct data points for {requested} clusters")]
    TooFewDistinctPoints {
        /// Number of distinct rows found (at least this many; counted up to `requested`).
        distinct: usize,
        /// Number of clusters requested.
        requested: usize,
    },
    /// A feature's data are too small (or too large) for their variance to
    /// be a normal floating-point number (values below about `1e-146` in
    /// size square to nothing), so no covariance can describe them: the
    /// relative covariance floor of the feature would underflow (or
    /// overflow). Rescale the feature. Never a silent absolute floor.
    #[error(
        "feature {}: the variance of the data ({variance:e}) is out of the range of floating point; \
         rescale this feature",
        .feature + 1
    )]
    ScaleOutOfRange {
        /// The feature (0-based column).
        feature: usize,
        /// The data's variance of the feature as computed (0 or subnormal, or ∞).
        variance: f64,
    },
    /// A data value is NaN or infinite.
    #[error("data value at row {}, column {} is not finite ({value})", .row + 1, .col + 1)]
    NonFiniteData {
        /// Row (observation) of the value.
        row: usize,
        /// Column (feature) of the value.
        col: usize,
        /// The value.
        value: f64,
    },
    /// Two operands disagree in size.
    #[error("dimension mismatch for {what}: expected {expected}, found {found}")]
    DimensionMismatch {
        /// Which operand had the wrong size.
        what: &'static str,
        /// The size that was needed.
        expected: usize,
        /// The size that was given.
        found: usize,
    },
    /// A mixture weight is negative, NaN or infinite.
    #[error("weight of component {} is invalid ({value})", .component + 1)]
    InvalidWeight {
        /// The component.
        component: usize,
        /// The weight.
        value: f64,
    },
    /// The weights do not sum to one within [`linalg_kernels::tolerance::PROBABILITY_SUM`].
    #[error("weights sum to {sum}, not 1 (tolerance {tolerance:e})")]
    WeightsDoNotSumToOne {
        /// Their sum.
        sum: f64,
        /// The tolerance applied.
        tolerance: f64,
    },
    /// A mean is NaN or infinite.
    #[error("mean of component {}, feature {} is not finite ({value})", .component + 1, .feature + 1)]
    NonFiniteMean {
        /// The component.
        component: usize,
        /// The feature (column of the means matrix).
        feature: usize,
        /// The value.
        value: f64,
    },
    /// A covariance (or precision) matrix entry is NaN or infinite.
    #[error("covariance of {owner}: entry ({}, {}) is not finite ({value})", .row + 1, .col + 1)]
    NonFiniteCovariance {
        /// Whose covariance.
        owner: CovarianceOwner,
        /// Row of the entry.
        row: usize,
        /// Column of the entry.
        col: usize,
        /// The entry.
        value: f64,
    },
    /// A full covariance (or precision) matrix is not symmetric within
    /// [`linalg_kernels::tolerance::SYMMETRY`] (relative to its largest diagonal entry).
    #[error(
        "covariance of {owner} is not symmetric: entries ({}, {}) and ({}, {}) differ by {difference:e}",
        .row + 1, .col + 1, .col + 1, .row + 1
    )]
    NotSymmetric {
        /// Whose covariance.
        owner: CovarianceOwner,
        /// Row of the first offending entry (row > col).
        row: usize,
        /// Column of the first offending entry.
        col: usize,
        /// `|a[row, col] - a[col, row]|`.
        difference: f64,
    },
    /// A full covariance (or precision) matrix is not positive definite: the
    /// Cholesky factorisation failed (the source names the pivot and its value).
    #[error("covariance of {owner} is not symmetric positive definite: {source}")]
    NotPositiveDefinite {
        /// Whose covariance.
        owner: CovarianceOwner,
        /// The failed factorisation (pivot index and Schur complement value).
        source: KernelError,
    },
    /// A diagonal or spherical variance is not strictly positive (or not finite).
    #[error("variance of {owner}, feature {} must be positive and finite, found {value}", .feature + 1)]
    NonPositiveVariance {
        /// Whose variance.
        owner: CovarianceOwner,
        /// The feature (0 for a spherical variance).
        feature: usize,
        /// The value.
        value: f64,
    },
    /// Statistics, options or parameters of one covariance type given to a
    /// model or function of another.
    #[error("covariance type mismatch: expected {expected}, found {found}")]
    CovarianceTypeMismatch {
        /// The type the model has.
        expected: CovarianceType,
        /// The type that was given.
        found: CovarianceType,
    },
    /// A responsibility (weight of a point for a component) is negative, NaN or infinite.
    #[error("responsibility at row {}, component {} is invalid ({value})", .row + 1, .component + 1)]
    InvalidResponsibility {
        /// Row (observation).
        row: usize,
        /// Component (column).
        component: usize,
        /// The value.
        value: f64,
    },
    /// Every sample weight is zero: no row is left to fit.
    #[error("sample weights: every weight is zero; at least one must be positive")]
    ZeroTotalWeight,
    /// A sample weight is negative, NaN or infinite.
    #[error("sample weight of row {} is invalid ({value})", .row + 1)]
    InvalidSampleWeight {
        /// Row (observation).
        row: usize,
        /// The weight.
        value: f64,
    },
    /// Every component gives the point zero density in floating point (its
    /// squared Mahalanobis distances overflow): the point is too far from
    /// every component for its likelihood to be represented.
    #[error("row {} has zero likelihood under every component", .row + 1)]
    ZeroLikelihood {
        /// Row (observation).
        row: usize,
    },
    /// An option value is out of its documented range.
    #[error("option {name} has the invalid value {value}")]
    InvalidOption {
        /// The option.
        name: &'static str,
        /// Its value (counts are converted to f64).
        value: f64,
    },
    /// A parameter of a [`crate::NormalPrior`] has the wrong shape.
    #[error("{parameter} has shape {}x{}, expected {}x{}", .found.0, .found.1, .expected.0, .expected.1)]
    PriorShape {
        /// The prior parameter.
        parameter: &'static str,
        /// The shape needed (rows, columns).
        expected: (usize, usize),
        /// The shape given.
        found: (usize, usize),
    },
    /// A parameter of a [`crate::NormalPrior`] is out of range (not finite,
    /// negative, or a scale matrix that is not symmetric positive
    /// semi-definite).
    #[error("{parameter} entry ({}, {}) is invalid: {value} (need a finite, non-negative value; scale matrices symmetric positive semi-definite)", .index.0 + 1, .index.1 + 1)]
    InvalidPriorValue {
        /// The prior parameter.
        parameter: &'static str,
        /// The entry (row, column; a full scale matrix's row is its component).
        index: (usize, usize),
        /// The value.
        value: f64,
    },
    /// A parameter of a variational prior ([`crate::variational::PriorSettings`])
    /// is out of its range.
    #[error("variational prior {parameter} is {value}: {requirement}")]
    InvalidVariationalPrior {
        /// The prior parameter (with the entry, for a vector or matrix).
        parameter: String,
        /// The value found.
        value: f64,
        /// What it must satisfy.
        requirement: &'static str,
    },
    /// A value of a saved variational posterior
    /// ([`crate::variational::VariationalMixture::from_posterior`]) is out of
    /// its range.
    #[error("variational posterior {parameter} of component {} is {value}: {requirement}", .component + 1)]
    InvalidPosterior {
        /// Which parameter.
        parameter: PosteriorParam,
        /// The component (zero-based index).
        component: usize,
        /// The value found.
        value: f64,
        /// What it must satisfy.
        requirement: &'static str,
    },
    /// A numerical kernel failed on the covariance of a component.
    #[error("numerical failure on {owner}: {source}")]
    Kernel {
        /// Whose covariance.
        owner: CovarianceOwner,
        /// The kernel error.
        source: KernelError,
    },
}
