//! The per-family parts of the program, one file per model family: each
//! implements [`crate::fit::Family`] (`emfit fit`) and [`crate::apply::Apply`]
//! (`emfit predict`, `score`, `sample`, `smooth`) for its model type.
//!
//! - `gmm`: Gaussian mixtures;
//! - `bgmm`: variational Bayesian Gaussian mixtures;
//! - `hmm`: hidden Markov models, once for every emission, with the
//!   emission-specific part in the [`hmm::EmissionFamily`] trait;
//! - `emission`: that part for Gaussian, Gaussian-mixture and categorical
//!   emissions;
//! - `lgssm`: linear Gaussian state-space models;
//! - `vhmm`: variational Bayesian HMMs (categorical and Gaussian emissions).

mod bgmm;
mod emission;
mod gmm;
mod hmm;
pub mod lgssm;
mod vhmm;

#[cfg(test)]
mod tests {
    use clap::CommandFactory;
    use em_driver::Parameter;

    use super::hmm::{CHAIN, EmissionFamily};
    use crate::args::Cli;

    /// `emfit fit --help` names every block `--learn` takes, family by family.
    #[test]
    fn learn_help_lists_the_blocks_of_every_family() {
        let help = Cli::command()
            .find_subcommand_mut("fit")
            .expect("the fit command")
            .render_long_help()
            .to_string();
        let mut names: Vec<&str> = CHAIN.iter().map(|p| p.name()).collect();
        names.extend(em_driver::mixture::Param::ALL.iter().map(|p| p.name()));
        names.extend(em_driver::statespace::Param::ALL.iter().map(|p| p.name()));
        for blocks in [
            em_driver::hmm::GaussianEmission::BLOCKS,
            em_driver::hmm::GmmEmission::BLOCKS,
            em_driver::hmm::CategoricalEmission::BLOCKS,
        ] {
            names.extend(blocks.iter().map(|p| p.name()));
        }
        for name in names {
            assert!(help.contains(name), "--help does not name `{name}`:\n{help}");
        }
        for family in ["gmm:", "hmm:", "gmmhmm:", "categorical-hmm:", "lgssm:"] {
            assert!(help.contains(family), "--help does not name `{family}`:\n{help}");
        }
    }
}
