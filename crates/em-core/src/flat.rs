//! Flat statistics: the sufficient statistics of an E-step as one versioned
//! `Vec<f64>`, read back exactly, and merged in a fixed order.
//!
//! This is what an executor that runs the E-step on parts of the data
//! ([`crate::Parts`], [`crate::Ranks`] over MPI ranks, the Python
//! package's Dask driver over Dask workers) moves between
//! places: every part's statistics go out as [`FlatStats::to_flat`], come
//! back by [`FlatStats::from_flat`] (bit for bit: every `f64` is stored as
//! it is) and are merged by [`FlatStats::merge`] in part order. Reducing the
//! same parts in the same order gives the same bits wherever each part ran
//! and whatever the number of threads.
//!
//! # Layout
//! Every model's layout starts with a header of whole numbers stored as
//! `f64` (exact up to `2⁵³`):
//!
//! ```text
//! [kind, version, shape..., counts...] [numbers...]
//! ```
//!
//! - `kind`: a tag naming the statistics (four ASCII bytes read as a
//!   big-endian `u32`, see [`tag`]), so that statistics of one model are
//!   never read as another's;
//! - `version`: the layout version of that kind;
//! - the shape that determines the length (number of components or states,
//!   dimensions, covariance kind, ...), and counts (rows, sequences);
//! - the numbers, in the order each model documents with its maths.
//!
//! Statistics that contain other statistics (an HMM's emission statistics)
//! nest their complete layout, header included.
//!
//! An [`EStep`]'s flat form is its log-likelihood followed by its
//! statistics' ([`EStep::to_flat`]): the log-likelihood travels with the
//! statistics and is summed in the same order ([`EStep::merge`]).
//!
//! # Reading untrusted input
//! [`FlatReader`] checks everything before anything is allocated from it:
//! every entry finite, the kind and version, each header count a whole
//! number, and every block's length against what the slice still holds, so
//! a header announcing a huge shape fails with [`FlatError::Truncated`]
//! instead of allocating it.

use crate::model::EStep;

/// The layout tag of four ASCII bytes, e.g. `tag(*b"MIXS")`.
#[must_use]
pub const fn tag(bytes: [u8; 4]) -> u32 {
    u32::from_be_bytes(bytes)
}

/// Largest whole number a header may hold: every integer up to `2⁵³` is
/// exact in an `f64`.
const MAX_COUNT: f64 = 9_007_199_254_740_992.0;

/// Why flat statistics could not be read (or merged).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FlatError {
    /// The entry at `index` is NaN or infinite.
    #[error("entry {index} of the flat statistics is {value}: every entry must be finite")]
    NonFinite {
        /// Position in the slice.
        index: usize,
        /// The value found.
        value: f64,
    },
    /// The kind tag is not the one expected.
    #[error("flat statistics of kind {found} where {what} (kind {expected}) were expected")]
    Kind {
        /// The statistics being read.
        what: &'static str,
        /// Their tag.
        expected: u32,
        /// The tag found.
        found: f64,
    },
    /// The layout version is not one this build reads.
    #[error("{what}: layout version {found}, this build reads version {expected}")]
    Version {
        /// The statistics being read.
        what: &'static str,
        /// The version this build reads.
        expected: u32,
        /// The version found.
        found: f64,
    },
    /// A header field is not a whole number in `0..=2⁵³`.
    #[error("header field `{field}` (entry {index}) is {value}: not a whole number in 0..=2^53")]
    BadCount {
        /// The field's name.
        field: &'static str,
        /// Position in the slice.
        index: usize,
        /// The value found.
        value: f64,
    },
    /// A header field that disagrees with the rest of the shape (an unknown
    /// covariance kind, more re-seeding candidates than components, an
    /// emission with another number of states than its HMM, ...).
    #[error("header field `{field}` is {value}: {requirement}")]
    Shape {
        /// The field's name.
        field: &'static str,
        /// The value found.
        value: f64,
        /// What it must satisfy.
        requirement: String,
    },
    /// The slice ends before a block the header announces (`needed` is
    /// saturated at `usize::MAX` for a shape too large to count).
    #[error("`{what}` needs {needed} values at entry {index}, but only {available} are left")]
    Truncated {
        /// The block being read.
        what: &'static str,
        /// Position of the block.
        index: usize,
        /// Its length by the header.
        needed: usize,
        /// The values left in the slice.
        available: usize,
    },
    /// The slice holds more values than its header describes.
    #[error("the flat statistics hold {found} values, their header describes {expected}")]
    Length {
        /// The length the header describes.
        expected: usize,
        /// The slice's length.
        found: usize,
    },
    /// Two statistics of different shapes cannot be merged
    /// ([`FlatStats::checked_merge`]); the shapes are [`FlatStats::shape`]'s.
    #[error("cannot merge statistics of shape {found:?} into statistics of shape {expected:?}")]
    ShapeMismatch {
        /// The shape of the statistics merged into.
        expected: Vec<usize>,
        /// The shape of the other statistics.
        found: Vec<usize>,
    },
}

/// A cursor over untrusted flat statistics (see the module documentation):
/// header fields and blocks are taken in order, each checked against what
/// the slice holds.
#[derive(Debug)]
pub struct FlatReader<'a> {
    flat: &'a [f64],
    pos: usize,
}

impl<'a> FlatReader<'a> {
    /// A reader over `flat`, after checking that every entry is finite.
    ///
    /// # Errors
    /// [`FlatError::NonFinite`] for the first NaN or infinite entry.
    pub fn new(flat: &'a [f64]) -> Result<Self, FlatError> {
        if let Some(index) = flat.iter().position(|v| !v.is_finite()) {
            return Err(FlatError::NonFinite {
                index,
                value: flat[index],
            });
        }
        Ok(Self { flat, pos: 0 })
    }

    /// Reads the kind tag and the layout version of `what`.
    ///
    /// # Errors
    /// [`FlatError::Truncated`], [`FlatError::Kind`], [`FlatError::Version`].
    pub fn header(&mut self, what: &'static str, kind: u32, version: u32) -> Result<(), FlatError> {
        let found = self.take(what, &[2])?;
        if found[0] != f64::from(kind) {
            return Err(FlatError::Kind {
                what,
                expected: kind,
                found: found[0],
            });
        }
        if found[1] != f64::from(version) {
            return Err(FlatError::Version {
                what,
                expected: version,
                found: found[1],
            });
        }
        Ok(())
    }

    /// Reads the header field `field`, a whole number in `0..=2⁵³`.
    ///
    /// # Errors
    /// [`FlatError::Truncated`], [`FlatError::BadCount`].
    pub fn count(&mut self, field: &'static str) -> Result<usize, FlatError> {
        let index = self.pos;
        let value = self.take(field, &[1])?[0];
        if !((0.0..=MAX_COUNT).contains(&value) && value.fract() == 0.0) {
            return Err(FlatError::BadCount { field, index, value });
        }
        usize::try_from(value as u64).map_err(|_| FlatError::BadCount { field, index, value })
    }

    /// Reads the header field `field`, a whole number that must be below
    /// `bound` (a code: a covariance kind, a flag).
    ///
    /// # Errors
    /// As [`FlatReader::count`], and [`FlatError::Shape`] for a value
    /// `≥ bound`.
    pub fn code(&mut self, field: &'static str, bound: usize) -> Result<usize, FlatError> {
        let value = self.count(field)?;
        if value >= bound {
            return Err(FlatError::Shape {
                field,
                value: value as f64,
                requirement: format!("must be below {bound}"),
            });
        }
        Ok(value)
    }

    /// The next block `what` of `dims[0] · dims[1] · ...` values, checked
    /// against the values left before anything is allocated from it.
    ///
    /// # Errors
    /// [`FlatError::Truncated`].
    pub fn take(&mut self, what: &'static str, dims: &[usize]) -> Result<&'a [f64], FlatError> {
        let needed = dims.iter().fold(1usize, |n, &d| n.saturating_mul(d));
        let available = self.flat.len() - self.pos;
        if needed > available {
            return Err(FlatError::Truncated {
                what,
                index: self.pos,
                needed,
                available,
            });
        }
        let block = &self.flat[self.pos..self.pos + needed];
        self.pos += needed;
        Ok(block)
    }

    /// Ends the reading: the slice must hold nothing more.
    ///
    /// # Errors
    /// [`FlatError::Length`] when values are left.
    pub fn finish(self) -> Result<(), FlatError> {
        if self.pos != self.flat.len() {
            return Err(FlatError::Length {
                expected: self.pos,
                found: self.flat.len(),
            });
        }
        Ok(())
    }
}

/// Writes the header `[kind, version]`.
pub fn write_header(out: &mut Vec<f64>, kind: u32, version: u32) {
    out.push(f64::from(kind));
    out.push(f64::from(version));
}

/// Writes the whole number `n` as a header field (exact up to `2⁵³`, far
/// beyond any count of rows held in memory).
pub fn write_count(out: &mut Vec<f64>, n: usize) {
    out.push(n as f64);
}

/// Sufficient statistics with a flat form and an exact, order-fixed merge
/// (see the module documentation).
///
/// Implementations must satisfy, for statistics `s` and `t` of one shape:
/// `from_flat(&s.to_flat())` equals `s` bit for bit (its `to_flat` gives the
/// same bits again), and `merge` is deterministic: the same operands in the
/// same order give the same bits.
pub trait FlatStats: Sized {
    /// Appends the flat form (header and numbers) to `out`.
    fn write_flat(&self, out: &mut Vec<f64>);

    /// Reads statistics written by [`FlatStats::write_flat`] from `reader`
    /// (which may hold more after them).
    ///
    /// # Errors
    /// Any [`FlatError`] but [`FlatError::ShapeMismatch`].
    fn read_flat(reader: &mut FlatReader<'_>) -> Result<Self, FlatError>;

    /// The dimensions that two statistics must share to be merged (kind,
    /// components, features, ...).
    fn shape(&self) -> Vec<usize>;

    /// `self ⊕ other`: the statistics of both data sets, computed the same
    /// way every time (the model's own merge).
    ///
    /// # Panics
    /// If the shapes differ (statistics of different models); see
    /// [`FlatStats::checked_merge`].
    fn merge(&mut self, other: &Self);

    /// The flat form.
    fn to_flat(&self) -> Vec<f64> {
        let mut out = Vec::new();
        self.write_flat(&mut out);
        out
    }

    /// Statistics from their flat form: the whole slice, nothing more.
    ///
    /// # Errors
    /// Any [`FlatError`] but [`FlatError::ShapeMismatch`].
    fn from_flat(flat: &[f64]) -> Result<Self, FlatError> {
        let mut reader = FlatReader::new(flat)?;
        let stats = Self::read_flat(&mut reader)?;
        reader.finish()?;
        Ok(stats)
    }

    /// [`FlatStats::merge`] after checking the shapes (for statistics read
    /// from elsewhere); on error `self` is unchanged.
    ///
    /// # Errors
    /// [`FlatError::ShapeMismatch`].
    fn checked_merge(&mut self, other: &Self) -> Result<(), FlatError> {
        let (expected, found) = (self.shape(), other.shape());
        if expected != found {
            return Err(FlatError::ShapeMismatch { expected, found });
        }
        self.merge(other);
        Ok(())
    }
}

impl<S: FlatStats> EStep<S> {
    /// `[log_likelihood, statistics...]`: the statistics' flat form
    /// ([`FlatStats::to_flat`]) after the log-likelihood.
    #[must_use]
    pub fn to_flat(&self) -> Vec<f64> {
        let mut out = vec![self.log_likelihood];
        self.stats.write_flat(&mut out);
        out
    }

    /// Reads [`EStep::to_flat`]'s layout.
    ///
    /// # Errors
    /// As [`FlatStats::from_flat`]; an empty slice is
    /// [`FlatError::Truncated`].
    pub fn from_flat(flat: &[f64]) -> Result<Self, FlatError> {
        let mut reader = FlatReader::new(flat)?;
        let log_likelihood = reader.take("log-likelihood", &[1])?[0];
        let stats = S::read_flat(&mut reader)?;
        reader.finish()?;
        Ok(Self {
            log_likelihood,
            stats,
        })
    }

    /// The E-step of both parts: log-likelihoods added (`self` first), then
    /// the statistics merged ([`FlatStats::merge`]).
    ///
    /// # Panics
    /// As [`FlatStats::merge`].
    pub fn merge(&mut self, other: &Self) {
        self.log_likelihood += other.log_likelihood;
        self.stats.merge(&other.stats);
    }

    /// [`Self::merge`] after checking the shapes (for an E-step read from
    /// elsewhere); on error `self` is unchanged.
    ///
    /// # Errors
    /// [`FlatError::ShapeMismatch`].
    pub fn checked_merge(&mut self, other: &Self) -> Result<(), FlatError> {
        self.stats.checked_merge(&other.stats)?;
        self.log_likelihood += other.log_likelihood;
        Ok(())
    }
}
