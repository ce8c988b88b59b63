//! EM on sequences with inputs: [`WithInputs`].

use em_core::{EStep, EmModel};
use rand::Rng;

use super::options::{InitConfig, MStepOptions};
use super::stats::SufficientStats;
use super::{estep, flat, init, mstep};
use crate::error::StateSpaceError;
use crate::model::LinearGaussianSsm;
use crate::model::inputs::InputParameters;
use crate::param::StepDiagnostics;
use crate::sequence::Sequence;

/// A [`LinearGaussianSsm`] fitted on [`Sequence`]s, which carry the inputs
/// `u_k` of the model `x_k = A x_{k-1} + B u_k + b + w_k`,
/// `y_k = H x_k + D u_k + d + v_k`.
///
/// The same E-step and M-step as the [`EmModel`] implementation of
/// [`LinearGaussianSsm`] (whose data are plain observation matrices, for
/// models without inputs; the offsets need none): the M-step learns the
/// input blocks of [`MStepOptions::learn_inputs`] (see [`crate::em`]).
///
/// ```
/// use faer::{Mat, mat};
/// use rand::{SeedableRng, rngs::StdRng};
/// use statespace::em::WithInputs;
/// use statespace::{InputParameters, LinearGaussianSsm, Sequence, Settings, Start};
///
/// let model = LinearGaussianSsm::builder()
///     .a(mat![[0.8]].as_ref()).q(mat![[0.1]].as_ref())
///     .h(mat![[1.0]].as_ref()).r(mat![[0.2]].as_ref())
///     .m0(&[0.0]).p0(mat![[1.0]].as_ref())
///     .b(mat![[0.5]].as_ref())
///     .build()?;
/// let u = Mat::<f64>::from_fn(200, 1, |k, _| (k as f64 / 10.0).sin());
/// let (_, y) = model.sample_with_inputs(u.as_ref(), &mut StdRng::seed_from_u64(1))?;
/// let start = model.clone().with_inputs(InputParameters::zeros(1, 1, 1))?;
/// let data = [Sequence::with_inputs(y.as_ref(), u.as_ref())];
/// let settings = Settings::builder().max_iterations(50).build()?;
/// let fitted = statespace::fit(&data[..], Start::Warm(WithInputs(start)), &Default::default(), &settings)?;
/// assert!((fitted.model.0.b()[(0, 0)] - 0.5).abs() < 0.3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct WithInputs(pub LinearGaussianSsm);

impl EmModel for WithInputs {
    type Data<'a> = &'a [Sequence<'a>];
    type Stats = SufficientStats;
    type Options = MStepOptions;
    type InitConfig = InitConfig;
    type Diagnostics = StepDiagnostics;
    type Error = StateSpaceError;

    /// As [`LinearGaussianSsm`]'s E-step, on sequences with inputs.
    ///
    /// # Errors
    /// As [`LinearGaussianSsm::log_likelihood_of`], with the sequence.
    fn e_step(&self, sequences: &[Sequence<'_>]) -> Result<EStep<SufficientStats>, StateSpaceError> {
        estep::e_step(&self.0, sequences)
    }

    /// As [`LinearGaussianSsm`]'s: the filter alone.
    ///
    /// # Errors
    /// As [`LinearGaussianSsm::log_likelihood_of`].
    fn log_likelihood(&self, sequences: &[Sequence<'_>]) -> Result<f64, StateSpaceError> {
        self.0.log_likelihood_of(sequences)
    }

    /// As [`LinearGaussianSsm`]'s M-step (the input blocks included).
    ///
    /// # Errors
    /// As [`LinearGaussianSsm`]'s M-step, and
    /// [`StateSpaceError::StatisticsInputs`].
    fn m_step(
        &self,
        stats: &SufficientStats,
        options: &MStepOptions,
    ) -> Result<(Self, StepDiagnostics), StateSpaceError> {
        mstep::m_step(&self.0, stats, options).map(|(model, diagnostics)| (Self(model), diagnostics))
    }

    fn flat_parameters(&self, options: &MStepOptions) -> Option<Vec<f64>> {
        Some(flat::flat_parameters(&self.0, options))
    }

    fn with_flat_parameters(&self, flat: &[f64], options: &MStepOptions) -> Option<Self> {
        flat::with_flat_parameters(&self.0, flat, options).map(Self)
    }

    /// The data-driven start of [`LinearGaussianSsm`] from the observations,
    /// with zero input blocks of the inputs' width (m of the first
    /// sequence).
    ///
    /// # Errors
    /// As [`LinearGaussianSsm`]'s `init_from_data`.
    fn init_from_data<G: Rng + ?Sized>(
        sequences: &[Sequence<'_>],
        config: &InitConfig,
        rng: &mut G,
    ) -> Result<Self, StateSpaceError> {
        let observations: Vec<_> = sequences.iter().map(Sequence::observations).collect();
        let model = init::init_from_data(&observations, config, rng)?;
        let m = sequences
            .first()
            .and_then(Sequence::inputs)
            .map_or(0, |u| u.ncols());
        let inputs = InputParameters::zeros(model.state_dim(), model.obs_dim(), m);
        model.with_inputs(inputs).map(Self)
    }
}
