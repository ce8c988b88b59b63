//! [`crate::EmModel`] for the models of the emfit model crates, so the one
//! driver loop fits all of them:
//!
//! | model | `Data<'a>` | `Options` | `InitConfig` | `Diagnostics` |
//! |---|---|---|---|---|
//! | [`Gmm`] | `MatRef<'a, f64>` (n x d) | [`mixture::MStepOptions`] | [`GmmInit`] | [`mixture::MStepDiagnostics`] |
//! | [`Lgssm`] | `&'a [MatRef<'a, f64>]` (sequences, T x p each) | [`statespace::MStepOptions`] | [`statespace::InitConfig`] | [`statespace::MStepDiagnostics`] |
//! | [`GaussianHmm`], [`GmmHmm`], [`CategoricalHmm`] (any `hmm::Hmm<E>`) | `&'a hmm::Sequences<'a>` | [`hmm::MStepOptions`](crate::hmm::MStepOptions) | [`hmm::HmmInit`](crate::hmm::HmmInit)`<E::InitConfig>` | [`hmm::StepDiagnostics`](crate::hmm::StepDiagnostics) |
//!
//! The adapters only forward to the model crates' own `e_step`, `m_step` and
//! `init_from_data`; all maths stays there.

mod gmm;
mod hmm;
mod lgssm;

pub use self::gmm::{Gmm, GmmInit};
pub use self::hmm::{CategoricalHmm, GaussianHmm, GmmHmm};
pub use self::lgssm::Lgssm;
