//! Floors that keep a variance (or a rate) away from zero, in the units of
//! the data or in absolute terms.
//!
//! A fit must be equivariant to the units of the data: if the data are
//! multiplied by `a`, the fitted means are multiplied by `a` and the fitted
//! variances by `a²`. An absolute floor (scikit-learn's `reg_covar = 1e-6`,
//! hmmlearn's `min_covar = 1e-3`) breaks this: on data whose variance is
//! `1e-6` or smaller it dominates every fitted variance and merges
//! components. A [`Floor::Relative`] floor is a fraction of a scale the
//! model crate takes from the data (the data's variance of the feature for
//! a covariance, the mean count of the feature for a Poisson rate), so it
//! scales with the data.

/// A floor: relative to a scale taken from the data, or absolute.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Floor {
    /// `c · s` where `s` is the data's scale of the quantity floored (the
    /// model crate documents which scale). Scale-free: the default.
    Relative(f64),
    /// This value whatever the data's scale (the Python libraries'
    /// `reg_covar` / `min_covar`; use it to reproduce their trajectories).
    Absolute(f64),
}

impl Floor {
    /// The floor for data whose scale is `scale` (`c · scale` for
    /// [`Floor::Relative`], the value itself for [`Floor::Absolute`]).
    #[must_use]
    pub fn at_scale(self, scale: f64) -> f64 {
        match self {
            Self::Relative(c) => c * scale,
            Self::Absolute(value) => value,
        }
    }

    /// The coefficient `c` or the absolute value.
    #[must_use]
    pub fn value(self) -> f64 {
        match self {
            Self::Relative(v) | Self::Absolute(v) => v,
        }
    }

    /// True when the value is finite and non-negative (0 switches the floor
    /// off).
    #[must_use]
    pub fn is_valid(self) -> bool {
        let v = self.value();
        v.is_finite() && v >= 0.0
    }
}

impl std::fmt::Display for Floor {
    /// `1e-6 × the data's scale` or `1e-6 (absolute)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Relative(c) => write!(f, "{c:e} × the data's scale"),
            Self::Absolute(v) => write!(f, "{v:e} (absolute)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_floors_scale_and_absolute_ones_do_not() {
        assert_eq!(Floor::Relative(1e-6).at_scale(4.0), 4e-6);
        assert_eq!(Floor::Absolute(1e-6).at_scale(4.0), 1e-6);
        assert!(Floor::Relative(0.0).is_valid());
        assert!(!Floor::Absolute(-1.0).is_valid());
        assert!(!Floor::Relative(f64::NAN).is_valid());
        assert_eq!(Floor::Absolute(1e-3).to_string(), "1e-3 (absolute)");
    }
}
