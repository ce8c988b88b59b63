//! A model file of any kind.

use std::path::Path;

use super::vhmm::{VhmmEmission, emission_of};
use super::{Document, ModelFile, ModelKind, read_limited, save_json};
use crate::error::Error;
use hmm::variational::{VariationalCategorical, VariationalCategoricalHmm, VariationalGaussianHmm};
use hmm::{CategoricalHmm, GaussianHmm, GmmHmm, PoissonHmm};
use mixture::GaussianMixture as Gmm;
use mixture::variational::VariationalMixture as Bgmm;
use statespace::LinearGaussianSsm as Lgssm;

/// A model of any kind, as read from a model file whose kind is not known in
/// advance (e.g. `emfit predict --model FILE`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AnyModel {
    /// `gmm`.
    Gmm(Gmm),
    /// `gaussian-hmm`.
    GaussianHmm(GaussianHmm),
    /// `gmm-hmm`.
    GmmHmm(GmmHmm),
    /// `categorical-hmm`.
    CategoricalHmm(CategoricalHmm),
    /// `poisson-hmm`.
    PoissonHmm(PoissonHmm),
    /// `lgssm`.
    Lgssm(Lgssm),
    /// `bgmm`.
    Bgmm(Bgmm),
    /// `vhmm` with categorical emissions.
    VariationalCategoricalHmm(VariationalCategoricalHmm),
    /// `vhmm` with Gaussian emissions.
    VariationalGaussianHmm(VariationalGaussianHmm),
}

impl AnyModel {
    /// The kind of the model.
    #[must_use]
    pub fn kind(&self) -> ModelKind {
        match self {
            Self::Gmm(_) => ModelKind::Gmm,
            Self::GaussianHmm(_) => ModelKind::GaussianHmm,
            Self::GmmHmm(_) => ModelKind::GmmHmm,
            Self::CategoricalHmm(_) => ModelKind::CategoricalHmm,
            Self::PoissonHmm(_) => ModelKind::PoissonHmm,
            Self::Lgssm(_) => ModelKind::Lgssm,
            Self::Bgmm(_) => ModelKind::Bgmm,
            Self::VariationalCategoricalHmm(_) | Self::VariationalGaussianHmm(_) => ModelKind::Vhmm,
        }
    }

    /// Parses and validates a model file's text of any kind.
    ///
    /// # Errors
    /// As [`ModelFile::from_json`].
    pub fn from_json(json: &str) -> Result<Self, Error> {
        let document = Document::parse(json)?;
        Ok(match document.kind {
            ModelKind::Gmm => Self::Gmm(document.model()?),
            ModelKind::GaussianHmm => Self::GaussianHmm(document.model()?),
            ModelKind::GmmHmm => Self::GmmHmm(document.model()?),
            ModelKind::CategoricalHmm => Self::CategoricalHmm(document.model()?),
            ModelKind::PoissonHmm => Self::PoissonHmm(document.model()?),
            ModelKind::Lgssm => Self::Lgssm(document.model()?),
            ModelKind::Bgmm => Self::Bgmm(document.model()?),
            ModelKind::Vhmm => {
                if emission_of(document.parameters())? == VariationalCategorical::NAME {
                    Self::VariationalCategoricalHmm(document.model()?)
                } else {
                    Self::VariationalGaussianHmm(document.model()?)
                }
            }
        })
    }

    /// Reads and validates the model file at `path`, of any kind.
    ///
    /// # Errors
    /// As [`ModelFile::load`].
    pub fn load(path: &Path) -> Result<Self, Error> {
        Self::from_json(&read_limited(path)?).map_err(|e| e.in_file(path))
    }

    /// The model file as JSON text.
    #[must_use]
    pub fn to_json(&self) -> String {
        match self {
            Self::Gmm(m) => m.to_json(),
            Self::GaussianHmm(m) => m.to_json(),
            Self::GmmHmm(m) => m.to_json(),
            Self::CategoricalHmm(m) => m.to_json(),
            Self::PoissonHmm(m) => m.to_json(),
            Self::Lgssm(m) => m.to_json(),
            Self::Bgmm(m) => m.to_json(),
            Self::VariationalCategoricalHmm(m) => m.to_json(),
            Self::VariationalGaussianHmm(m) => m.to_json(),
        }
    }

    /// Writes the model file atomically.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        save_json(path, &self.to_json())
    }
}

impl From<Gmm> for AnyModel {
    fn from(m: Gmm) -> Self {
        Self::Gmm(m)
    }
}

impl From<GaussianHmm> for AnyModel {
    fn from(m: GaussianHmm) -> Self {
        Self::GaussianHmm(m)
    }
}

impl From<GmmHmm> for AnyModel {
    fn from(m: GmmHmm) -> Self {
        Self::GmmHmm(m)
    }
}

impl From<CategoricalHmm> for AnyModel {
    fn from(m: CategoricalHmm) -> Self {
        Self::CategoricalHmm(m)
    }
}

impl From<PoissonHmm> for AnyModel {
    fn from(m: PoissonHmm) -> Self {
        Self::PoissonHmm(m)
    }
}

impl From<Lgssm> for AnyModel {
    fn from(m: Lgssm) -> Self {
        Self::Lgssm(m)
    }
}

impl From<Bgmm> for AnyModel {
    fn from(m: Bgmm) -> Self {
        Self::Bgmm(m)
    }
}

impl From<VariationalCategoricalHmm> for AnyModel {
    fn from(m: VariationalCategoricalHmm) -> Self {
        Self::VariationalCategoricalHmm(m)
    }
}

impl From<VariationalGaussianHmm> for AnyModel {
    fn from(m: VariationalGaussianHmm) -> Self {
        Self::VariationalGaussianHmm(m)
    }
}
