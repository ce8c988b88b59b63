//! Scales of a panel: the extent of the data, "nice" ticks and their labels,
//! and the mapping from data to pixel coordinates.

/// Data-to-pixel mapping of one panel: the plot area starts at `(ox, oy)`
/// (top-left, pixels) and is `pw` x `ph` pixels; it shows `[x0, x1]` x
/// `[y0, y1]` of the data.
pub(super) struct Map {
    pub ox: f64,
    pub oy: f64,
    pub pw: f64,
    pub ph: f64,
    pub x0: f64,
    pub x1: f64,
    pub y0: f64,
    pub y1: f64,
}

impl Map {
    /// The pixel column of data value `x`.
    pub fn x(&self, x: f64) -> f64 {
        // Clamp far-away values so the written numbers stay small; the clip path hides them.
        let t = ((x - self.x0) / (self.x1 - self.x0)).clamp(-10.0, 11.0);
        self.ox + t * self.pw
    }

    /// The pixel row of data value `y` (upwards).
    pub fn y(&self, y: f64) -> f64 {
        let t = ((y - self.y0) / (self.y1 - self.y0)).clamp(-10.0, 11.0);
        self.oy + self.ph - t * self.ph
    }
}

/// The smallest and largest of the values added.
#[derive(Default)]
pub(super) struct Extent {
    lo: f64,
    hi: f64,
    any: bool,
}

impl Extent {
    pub fn add(&mut self, v: f64) {
        if self.any {
            self.lo = self.lo.min(v);
            self.hi = self.hi.max(v);
        } else {
            (self.lo, self.hi, self.any) = (v, v, true);
        }
    }

    /// `(lo, hi)` if any value was added.
    pub fn range(&self) -> Option<(f64, f64)> {
        self.any.then_some((self.lo, self.hi))
    }

    /// The range widened by 4% on each side; a single value gets a range
    /// around it, no value `[0, 1]`.
    pub fn padded(&self) -> (f64, f64) {
        if !self.any {
            return (0.0, 1.0);
        }
        let span = self.hi - self.lo;
        if span <= 0.0 {
            let d = if self.lo == 0.0 { 1.0 } else { self.lo.abs() * 0.1 };
            return (self.lo - d, self.hi + d);
        }
        (self.lo - 0.04 * span, self.hi + 0.04 * span)
    }
}

/// A "nice" tick step (1, 2 or 5 times a power of ten) giving about 5 ticks.
fn tick_step(lo: f64, hi: f64) -> f64 {
    let raw = (hi - lo).abs() / 5.0;
    if !(raw > 0.0 && raw.is_finite()) {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let nice = if f < 1.5 {
        1.0
    } else if f < 3.5 {
        2.0
    } else if f < 7.5 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// Tick positions inside `[lo, hi]` (at most 20).
pub(super) fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let step = tick_step(lo, hi);
    let first = (lo / step).ceil();
    let mut out = Vec::new();
    let mut k = 0.0;
    while out.len() < 20 {
        let t = (first + k) * step;
        if t > hi + step * 1e-9 {
            break;
        }
        out.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
        k += 1.0;
    }
    out
}

/// The label of tick `t` on an axis over `[lo, hi]`: as many decimals as the
/// tick step needs, scientific notation for very large or small numbers.
pub(super) fn tick_label(t: f64, lo: f64, hi: f64) -> String {
    let step = tick_step(lo, hi);
    let big = t.abs().max(lo.abs()).max(hi.abs());
    if big >= 1e5 || (step < 1e-4 && big > 0.0) {
        return format!("{t:.1e}");
    }
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    };
    format!("{t:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_nice_and_inside() {
        let t = ticks(-0.3, 9.7);
        assert_eq!(t, vec![0.0, 2.0, 4.0, 6.0, 8.0]);
        assert_eq!(tick_label(0.5, 0.0, 1.0), "0.5");
        assert!(ticks(5.0, 5.0).len() <= 20);
        assert!(ticks(0.0, 1e300).len() <= 20);
        assert_eq!(tick_label(2e6, 0.0, 1e7), "2.0e6");
    }
}
