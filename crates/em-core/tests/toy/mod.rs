//! The toy model of the loop's tests: a 1-D mixture of two Gaussians, plus
//! variants whose steps misbehave on purpose, so the loop's policy is tested
//! independently of the model crates.

#![allow(dead_code)] // each test binary uses its own subset

use std::fmt;

use em_core::flat::{FlatError, FlatReader, FlatStats, tag, write_header};
use em_core::{Diagnostics, EStep, EmModel, Settings, Tolerance};
use rand::Rng;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Normal};

/// What can go wrong with the toy.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum ToyError {
    #[error("no data")]
    NoData,
    #[error("init refused for this seed")]
    InitRefused,
    #[error("m-step exploded")]
    MStepFailed,
}

/// How the toy misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Sabotage {
    #[default]
    None,
    /// The M-step producing iteration `k` shifts the means away (a fall).
    FallAt(usize),
    /// The same, announced in the diagnostics (like a re-seeded component).
    AnnouncedFallAt(usize),
    /// An announced fall at the first iteration, an unannounced one at the second.
    FallsAt(usize, usize),
    /// Every M-step from the one producing iteration `k` on shifts the means
    /// away and announces it: the run goes on below its earlier points.
    AnnouncedFallsFrom(usize),
    /// The M-step producing iteration `k` returns an error.
    FailAt(usize),
    /// The E-step returns NaN at iteration `k`.
    NanAt(usize),
    /// Init fails when the first random draw is below 0.5.
    FlakyInit,
    /// No flat parameters (so no acceleration, no parameter-change rule).
    NoFlat,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Toy {
    pub w: [f64; 2],
    pub mu: [f64; 2],
    pub var: [f64; 2],
    /// Number of M-steps that produced this model.
    pub generation: usize,
    pub sabotage: Sabotage,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ToyDiag {
    pub floored: usize,
    pub moved: bool,
}

impl fmt::Display for ToyDiag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} variance(s) floored", self.floored)?;
        if self.moved {
            f.write_str(", means moved")?;
        }
        Ok(())
    }
}

impl Diagnostics for ToyDiag {
    fn is_empty(&self) -> bool {
        self.floored == 0 && !self.moved
    }

    fn expects_fall(&self) -> bool {
        self.moved
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ToyStats {
    pub n: [f64; 2],
    pub sx: [f64; 2],
    pub sxx: [f64; 2],
}

pub const TOY_TAG: u32 = tag(*b"TOYS");

/// `[tag, 1, n₀, n₁, Σx₀, Σx₁, Σx²₀, Σx²₁]`.
impl FlatStats for ToyStats {
    fn write_flat(&self, out: &mut Vec<f64>) {
        write_header(out, TOY_TAG, 1);
        out.extend(self.n.iter().chain(&self.sx).chain(&self.sxx));
    }

    fn read_flat(reader: &mut FlatReader<'_>) -> Result<Self, FlatError> {
        reader.header("toy statistics", TOY_TAG, 1)?;
        let v = reader.take("toy sums", &[3, 2])?;
        Ok(Self {
            n: [v[0], v[1]],
            sx: [v[2], v[3]],
            sxx: [v[4], v[5]],
        })
    }

    fn shape(&self) -> Vec<usize> {
        vec![2]
    }

    fn merge(&mut self, other: &Self) {
        for k in 0..2 {
            self.n[k] += other.n[k];
            self.sx[k] += other.sx[k];
            self.sxx[k] += other.sxx[k];
        }
    }
}

pub const VAR_FLOOR: f64 = 1e-6;

pub fn ln_normal(x: f64, mu: f64, var: f64) -> f64 {
    -0.5 * ((2.0 * std::f64::consts::PI * var).ln() + (x - mu) * (x - mu) / var)
}

impl EmModel for Toy {
    type Data<'a> = &'a [f64];
    type Stats = ToyStats;
    type Options = ();
    type InitConfig = Sabotage;
    type Diagnostics = ToyDiag;
    type Error = ToyError;

    fn e_step(&self, data: &[f64]) -> Result<EStep<ToyStats>, ToyError> {
        if data.is_empty() {
            return Err(ToyError::NoData);
        }
        if self.sabotage == Sabotage::NanAt(self.generation) {
            return Ok(EStep {
                log_likelihood: f64::NAN,
                stats: ToyStats {
                    n: [0.0; 2],
                    sx: [0.0; 2],
                    sxx: [0.0; 2],
                },
            });
        }
        let mut ll = 0.0;
        let mut s = ToyStats {
            n: [0.0; 2],
            sx: [0.0; 2],
            sxx: [0.0; 2],
        };
        for &x in data {
            let a = self.w[0].ln() + ln_normal(x, self.mu[0], self.var[0]);
            let b = self.w[1].ln() + ln_normal(x, self.mu[1], self.var[1]);
            let m = a.max(b);
            let lse = m + ((a - m).exp() + (b - m).exp()).ln();
            ll += lse;
            for (k, lk) in [a, b].into_iter().enumerate() {
                let r = (lk - lse).exp();
                s.n[k] += r;
                s.sx[k] += r * x;
                s.sxx[k] += r * x * x;
            }
        }
        Ok(EStep {
            log_likelihood: ll,
            stats: s,
        })
    }

    fn m_step(&self, s: &ToyStats, _: &()) -> Result<(Self, ToyDiag), ToyError> {
        let generation = self.generation + 1;
        if self.sabotage == Sabotage::FailAt(generation) {
            return Err(ToyError::MStepFailed);
        }
        let total = s.n[0] + s.n[1];
        let mut next = self.clone();
        next.generation = generation;
        let mut diag = ToyDiag::default();
        for k in 0..2 {
            if s.n[k] <= 1e-12 {
                continue; // keeps the previous parameters
            }
            next.w[k] = s.n[k] / total;
            next.mu[k] = s.sx[k] / s.n[k];
            let v = s.sxx[k] / s.n[k] - next.mu[k] * next.mu[k];
            if v < VAR_FLOOR {
                diag.floored += 1;
            }
            next.var[k] = v.max(VAR_FLOOR);
        }
        let (falls, announced) = match self.sabotage {
            Sabotage::FallAt(k) => (k == generation, false),
            Sabotage::AnnouncedFallAt(k) => (k == generation, true),
            Sabotage::FallsAt(a, b) => (a == generation || b == generation, a == generation),
            Sabotage::AnnouncedFallsFrom(k) => (generation >= k, true),
            _ => (false, false),
        };
        if falls {
            // The second fall of `FallsAt` goes further than the first.
            let shift = if matches!(self.sabotage, Sabotage::FallsAt(_, b) if b == generation) {
                10.0
            } else {
                3.0
            };
            next.mu = [next.mu[0] + shift, next.mu[1] - shift];
            diag.moved = announced;
        }
        Ok((next, diag))
    }

    fn init_from_data<R: Rng + ?Sized>(
        data: &[f64],
        config: &Sabotage,
        rng: &mut R,
    ) -> Result<Self, ToyError> {
        if data.is_empty() {
            return Err(ToyError::NoData);
        }
        if *config == Sabotage::FlakyInit && rng.random::<f64>() < 0.5 {
            return Err(ToyError::InitRefused);
        }
        let i = rng.random_range(0..data.len());
        let j = rng.random_range(0..data.len());
        Ok(Toy {
            w: [0.5, 0.5],
            mu: [data[i], data[j] + 1e-3],
            var: [1.0, 1.0],
            generation: 0,
            sabotage: *config,
        })
    }

    /// `(w₀, μ₀, μ₁, σ²₀, σ²₁)`: the natural parameters (w₁ = 1 − w₀).
    fn flat_parameters(&self, _: &()) -> Option<Vec<f64>> {
        (self.sabotage != Sabotage::NoFlat)
            .then(|| vec![self.w[0], self.mu[0], self.mu[1], self.var[0], self.var[1]])
    }

    fn with_flat_parameters(&self, flat: &[f64], _: &()) -> Option<Self> {
        let &[w0, mu0, mu1, v0, v1] = flat else {
            return None;
        };
        let valid = w0 > 0.0 && w0 < 1.0 && v0 > 0.0 && v1 > 0.0 && flat.iter().all(|x| x.is_finite());
        valid.then(|| Toy {
            w: [w0, 1.0 - w0],
            mu: [mu0, mu1],
            var: [v0, v1],
            ..self.clone()
        })
    }
}

pub fn data(seed: u64, n: usize) -> Vec<f64> {
    data_with_means(seed, n, -2.0, 3.0)
}

/// 30% from N(a, 1), 70% from N(b, 0.49): close means make EM slow.
pub fn data_with_means(seed: u64, n: usize, mean_a: f64, mean_b: f64) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let a = Normal::new(mean_a, 1.0).unwrap();
    let b = Normal::new(mean_b, 0.7).unwrap();
    (0..n)
        .map(|_| {
            if rng.random::<f64>() < 0.3 {
                a.sample(&mut rng)
            } else {
                b.sample(&mut rng)
            }
        })
        .collect()
}

pub fn start() -> Toy {
    Toy {
        w: [0.5, 0.5],
        mu: [0.0, 1.0],
        var: [1.0, 1.0],
        generation: 0,
        sabotage: Sabotage::None,
    }
}

/// Plain EM (the loop's tests count its iterations), at most 500 of them.
pub fn settings() -> em_core::SettingsBuilder {
    Settings::builder()
        .acceleration(em_core::Acceleration::None)
        .max_iterations(500)
        .tolerance(Tolerance::absolute(1e-9))
}
