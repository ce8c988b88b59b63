//! What an M-step reports besides the new parameters.
//!
//! The [`Diagnostics`] trait is what the loop needs of a report; the model
//! crates all report a [`StepDiagnostics`]: a list of [`Event`]s (which block
//! of which state or component was re-seeded, kept, floored) and the change
//! of EM's objective where the model computes it.

use std::fmt;

use crate::learn::Parameter;

/// What the loop needs of an M-step's report.
///
/// The loop keeps a diagnostics value in the report only when
/// [`Diagnostics::is_empty`] is false.
pub trait Diagnostics: fmt::Debug + fmt::Display + Clone + Default + Send + Sync {
    /// True when there is nothing to report.
    fn is_empty(&self) -> bool;

    /// True when the step deliberately left exact EM in a way that may
    /// lower the log-likelihood (e.g. a collapsed component re-seeded on a
    /// badly explained point). A fall right after such a step is recorded
    /// as expected ([`crate::Fall::expected`]) and does not stop the fit
    /// under [`crate::OnFall::StopKeepBest`]. Default: false.
    fn expects_fall(&self) -> bool {
        false
    }
}

/// Diagnostics of a model whose M-step never has anything to report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoDiagnostics;

impl fmt::Display for NoDiagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("nothing to report")
    }
}

impl Diagnostics for NoDiagnostics {
    fn is_empty(&self) -> bool {
        true
    }
}

/// What an M-step did to one block instead of (or on top of) its
/// closed-form update.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Adjustment {
    /// A collapsed component was re-seeded on a badly explained data point
    /// (mean, covariance and weight changed). May lower the log-likelihood.
    Reseeded,
    /// No posterior mass (or all of it on one point): the previous value was
    /// kept. A generalised EM step: the log-likelihood cannot fall.
    KeptWithoutMass,
    /// The new value was numerically singular: the previous one was kept.
    KeptDegenerate,
    /// A covariance was not positive definite (or too ill-conditioned) and
    /// `jitter` was added to its diagonal, after `attempts` factorisations.
    /// May lower the log-likelihood.
    Floored {
        /// Added to the diagonal.
        jitter: f64,
        /// Factorisations tried.
        attempts: usize,
    },
    /// A probability was raised to its floor and its vector renormalised.
    ProbabilityFloored,
    /// The variance floor binds: the floor added to the variance of
    /// `feature` (`None`: the one variance of a spherical covariance) is at
    /// least the variance the data gave, so the fitted variance is mostly
    /// floor (e.g. a component on a single point, or an absolute floor too
    /// large for data this small). The objective check reports whether it
    /// cost log-likelihood.
    VarianceFloored {
        /// The feature (0-based); `None` for a spherical variance.
        feature: Option<usize>,
        /// The floor added.
        floor: f64,
    },
}

impl Adjustment {
    /// Whether the adjustment may lower the log-likelihood.
    #[must_use]
    pub fn may_lower_likelihood(self) -> bool {
        matches!(self, Self::Reseeded | Self::Floored { .. })
    }
}

/// One adjustment and where it happened.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Event<P> {
    /// The block adjusted; `None` for every block of the state or component
    /// (a re-seeded component, a state's emission kept).
    pub parameter: Option<P>,
    /// The hidden state (HMMs).
    pub state: Option<usize>,
    /// The mixture component.
    pub component: Option<usize>,
    /// What was done.
    pub adjustment: Adjustment,
}

impl<P> Event<P> {
    /// An adjustment of `parameter` (`None`: all of them), not yet placed.
    #[must_use]
    pub fn new(parameter: Option<P>, adjustment: Adjustment) -> Self {
        Self {
            parameter,
            state: None,
            component: None,
            adjustment,
        }
    }

    /// The same in hidden state `state`.
    #[must_use]
    pub fn in_state(mut self, state: usize) -> Self {
        self.state = Some(state);
        self
    }

    /// The same in mixture component `component`.
    #[must_use]
    pub fn in_component(mut self, component: usize) -> Self {
        self.component = Some(component);
        self
    }
}

impl<P: Parameter> fmt::Display for Event<P> {
    /// E.g. `covariances of state 2 component 1 kept (degenerate)`: states,
    /// components and features counted from 1 (the fields are 0-based).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.parameter {
            Some(p) => f.write_str(p.name())?,
            None => f.write_str("parameters")?,
        }
        let mut of = " of";
        if let Some(state) = self.state {
            write!(f, "{of} state {}", state + 1)?;
            of = "";
        }
        if let Some(component) = self.component {
            write!(f, "{of} component {}", component + 1)?;
        }
        match self.adjustment {
            Adjustment::Reseeded => f.write_str(" re-seeded"),
            Adjustment::KeptWithoutMass => f.write_str(" kept (no posterior mass)"),
            Adjustment::KeptDegenerate => f.write_str(" kept (new value degenerate)"),
            Adjustment::Floored { jitter, attempts } => {
                write!(f, " floored (+{jitter:.1e} on the diagonal, {attempts} attempts)")
            }
            Adjustment::ProbabilityFloored => f.write_str(" floored"),
            Adjustment::VarianceFloored { feature, floor } => {
                f.write_str(" floored")?;
                if let Some(j) = feature {
                    write!(f, " on feature {}", j + 1)?;
                }
                write!(f, " (floor {floor:.3e} ≥ the variance of the data)")
            }
        }
    }
}

/// What an M-step did beyond the closed-form update: the one report type of
/// every model crate, over the model's [`Parameter`] blocks.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StepDiagnostics<P> {
    /// Every adjustment, in the order the M-step made them.
    pub events: Vec<Event<P>>,
    /// `Q(θ_new) − Q(θ_old)`, the change of EM's expected complete-data
    /// log-likelihood, where the model computes it: a lower bound on the
    /// log-likelihood gain when the statistics come from the old model.
    pub objective_change: Option<f64>,
    /// The objective fell by more than rounding (a floor or regularisation
    /// cost more than it should): this step may lower the log-likelihood.
    pub objective_decreased: bool,
}

impl<P> Default for StepDiagnostics<P> {
    fn default() -> Self {
        Self {
            events: Vec::new(),
            objective_change: None,
            objective_decreased: false,
        }
    }
}

impl<P: Parameter> StepDiagnostics<P> {
    /// No event and no objective decrease: the step was the exact update.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && !self.objective_decreased
    }

    /// Records an adjustment.
    pub fn push(&mut self, event: Event<P>) {
        self.events.push(event);
    }

    /// Appends the events of another report (e.g. an emission's) and takes
    /// on its objective: changes add up, a decrease anywhere is a decrease.
    pub fn absorb(&mut self, other: Self) {
        self.events.extend(other.events);
        self.objective_change = match (self.objective_change, other.objective_change) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
        self.objective_decreased |= other.objective_decreased;
    }

    /// The events of one kind of adjustment (`Adjustment::Floored` matches
    /// any jitter).
    pub fn of_kind(&self, adjustment: Adjustment) -> impl Iterator<Item = &Event<P>> {
        let kind = std::mem::discriminant(&adjustment);
        self.events
            .iter()
            .filter(move |e| std::mem::discriminant(&e.adjustment) == kind)
    }

    /// The components with an adjustment of this kind, each once, in the
    /// order of their first event.
    #[must_use]
    pub fn components(&self, adjustment: Adjustment) -> Vec<usize> {
        first_appearances(self.of_kind(adjustment).filter_map(|e| e.component))
    }

    /// The states with an adjustment of this kind, each once, in the order
    /// of their first event.
    #[must_use]
    pub fn states(&self, adjustment: Adjustment) -> Vec<usize> {
        first_appearances(self.of_kind(adjustment).filter_map(|e| e.state))
    }
}

/// The distinct values of `indices`, in the order they first appear.
fn first_appearances(indices: impl Iterator<Item = usize>) -> Vec<usize> {
    let mut seen = Vec::new();
    for i in indices {
        if !seen.contains(&i) {
            seen.push(i);
        }
    }
    seen
}

impl<P: Parameter> Diagnostics for StepDiagnostics<P> {
    fn is_empty(&self) -> bool {
        StepDiagnostics::is_empty(self)
    }

    /// A re-seed, a covariance floor or an objective decrease.
    fn expects_fall(&self) -> bool {
        self.objective_decreased || self.events.iter().any(|e| e.adjustment.may_lower_likelihood())
    }
}

impl<P: Parameter> fmt::Display for StepDiagnostics<P> {
    /// One line: `exact M-step`, or the events joined by `; `.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("exact M-step");
        }
        for (i, event) in self.events.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{event}")?;
        }
        if self.objective_decreased {
            if !self.events.is_empty() {
                f.write_str("; ")?;
            }
            let change = self.objective_change.unwrap_or(f64::NAN);
            write!(f, "objective fell by {:.3e}", -change)?;
        }
        Ok(())
    }
}
