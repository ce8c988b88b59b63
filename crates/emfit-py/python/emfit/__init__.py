"""emfit: Expectation-Maximization for Gaussian mixtures, hidden Markov
models and linear Gaussian state-space models, compiled from Rust.

The classes are drop-in replacements for the Python libraries people use:

- ``emfit.mixture.GaussianMixture`` for ``sklearn.mixture.GaussianMixture``;
- ``emfit.mixture.BayesianGaussianMixture`` for ``sklearn.mixture.BayesianGaussianMixture``;
- ``emfit.hmm`` (``GaussianHMM``, ``GMMHMM``, ``CategoricalHMM``, ``PoissonHMM``) for ``hmmlearn.hmm``;
- ``emfit.kalman.KalmanFilter`` for ``pykalman.KalmanFilter``;

Fits release the GIL; Ctrl-C interrupts a fit between iterations and leaves
the estimator as it was.
"""

from emfit._emfit import __version__

__all__ = ["__version__"]
