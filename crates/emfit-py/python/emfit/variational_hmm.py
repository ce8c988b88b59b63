"""Variational Bayesian HMMs: drop-in replacements for hmmlearn's
``VariationalCategoricalHMM`` and ``VariationalGaussianHMM`` (hmmlearn
0.3), importable as ``emfit.hmm.VariationalCategoricalHMM`` and
``emfit.hmm.VariationalGaussianHMM``.

The models keep a posterior over their parameters instead of point
estimates: Dirichlet rows on the start probabilities and the transition
rows (priors ``startprob_prior_``, ``transmat_prior_``, default ``1/K``),
and a conjugate emission posterior: Dirichlet rows on the categorical
emission probabilities (``emissionprob_prior_``, default
``1/n_features``), a Normal-Wishart on each state's Gaussian mean and
precision (``means_prior_`` the data mean, ``beta_prior_`` 1,
``dof_prior_`` d, ``scale_prior_`` ``10⁻³ I``; covariance types ``full``
and ``diag``). Each iteration runs forward-backward with the expected-log
parameters ``exp(E[ln π])``, ``exp(E[ln A])``, ``exp(E[ln b(x)])`` and
adds the expected statistics to the priors; the fit climbs the evidence
lower bound ``ln Z − KL(posterior ‖ prior)``, which never falls. It runs
in Rust (the ``hmm`` crate's ``variational`` module), without the GIL.

What differs from hmmlearn, on purpose:

- ``monitor_.history`` holds the lower bound of every state, the start
  first and the returned posterior last; hmmlearn's holds the bounds of
  the states before each update (so from the same start its entries are
  ours without the last). With ``stopping='gain'`` (the default here,
  hmmlearn's rule) hmmlearn runs one more update than emfit.
- The random start draws from emfit's generator, so equal
  ``random_state`` values give other starts than hmmlearn's; a posterior
  set by hand and left out of ``init_params`` is the start (as in
  hmmlearn).
- ``implementation`` is accepted and has no effect (emfit's recursions
  are scaled and never underflow); ``algorithm`` is stored only.
- ``VariationalGaussianHMM`` takes ``covariance_type`` ``'full'`` or
  ``'diag'`` (hmmlearn's ``'spherical'`` and ``'tied'`` are refused).
"""

import logging

import numpy as np
from sklearn.base import BaseEstimator

from emfit import _emfit
from emfit._random import seed

__all__ = ["VariationalCategoricalHMM", "VariationalGaussianHMM"]

_log = logging.getLogger(__name__)


class VariationalCategoricalHMM(BaseEstimator):
    """Hidden Markov model with categorical emissions trained by
    variational inference (hmmlearn's ``VariationalCategoricalHMM``).

    Attributes after ``fit``: ``startprob_prior_``, ``startprob_posterior_``
    (K,), ``transmat_prior_``, ``transmat_posterior_`` (K, K),
    ``emissionprob_prior_``, ``emissionprob_posterior_`` (K, n_features),
    the posterior means ``startprob_``, ``transmat_``, ``emissionprob_``,
    ``n_features``, ``monitor_`` (history of the lower bound) and
    ``fit_report_`` (emfit's full report).
    """

    _blocks = (
        ("s", "startprob"),
        ("t", "transmat"),
        ("e", "emissionprob"),
    )

    def __init__(self, n_components=1, startprob_prior=None, transmat_prior=None,
                 emissionprob_prior=None, n_features=None, algorithm="viterbi",
                 random_state=None, n_iter=100, tol=1e-6, verbose=False, params="ste",
                 init_params="ste", implementation="log", stopping="gain"):
        self.n_components = n_components
        self.startprob_prior = startprob_prior
        self.transmat_prior = transmat_prior
        self.emissionprob_prior = emissionprob_prior
        self.n_features = n_features
        self.algorithm = algorithm
        self.random_state = random_state
        self.n_iter = n_iter
        self.tol = tol
        self.verbose = verbose
        self.params = params
        self.init_params = init_params
        self.implementation = implementation
        self.stopping = stopping

    def _n_symbols(self, X):
        if self.n_features is not None:
            return int(self.n_features)
        if "e" not in self.init_params and hasattr(self, "emissionprob_posterior_"):
            return int(np.shape(self.emissionprob_posterior_)[1])
        return int(X.max()) + 1

    def _priors(self, m):
        """The prior of each block: the ``*_prior_`` attribute when the
        block is not initialised and it is set, else the constructor's
        (hmmlearn's defaults for None), broadcast to its shape."""
        k = int(self.n_components)
        shapes = {"startprob": (k,), "transmat": (k, k), "emissionprob": (k, m)}
        defaults = {"startprob": 1 / k, "transmat": 1 / k, "emissionprob": 1 / m}
        out = {}
        for letter, name in self._blocks:
            if letter not in self.init_params and hasattr(self, f"{name}_prior_"):
                value = getattr(self, f"{name}_prior_")
            else:
                value = getattr(self, f"{name}_prior")
                value = defaults[name] if value is None else value
            out[name] = np.ascontiguousarray(
                np.broadcast_to(np.asarray(value, dtype=float), shapes[name]))
        return out

    def fit(self, X, lengths=None):
        """Fits the posterior by coordinate ascent on the lower bound.

        Posteriors listed in ``init_params`` are drawn at random (hmmlearn's
        recipe); the others, if set by hand, are the start. Only the blocks
        in ``params`` are updated. On failure the estimator is left as it
        was.

        Parameters
        ----------
        X : array-like of int, shape (n_samples, 1)
            The symbols of all sequences, stacked.
        lengths : array-like of int, shape (n_sequences,), optional
            The length of each sequence; they sum to ``n_samples``.

        Returns
        -------
        self
        """
        from emfit.hmm import CategoricalHMM

        checker = CategoricalHMM()
        X, lengths = checker._validate_data(X, lengths)
        m = self._n_symbols(X)
        priors = self._priors(m)
        start = {}
        for letter, name in self._blocks:
            attribute = f"{name}_posterior_"
            if not hasattr(self, attribute):
                continue
            if letter in self.init_params:
                _log.warning(
                    "Even though the %r attribute is set, it will be overwritten during "
                    "initialization because 'init_params' contains %r", attribute, letter)
            else:
                start[f"{name}_posterior"] = np.ascontiguousarray(
                    np.atleast_2d(np.asarray(getattr(self, attribute), dtype=float)))
        fitted = _emfit.vhmm_categorical_fit(
            X, lengths, int(self.n_components), m, priors["startprob"], priors["transmat"],
            priors["emissionprob"], start, self.params, int(self.n_iter), float(self.tol),
            self.stopping, seed(self.random_state), bool(self.verbose))
        report = fitted.pop("report")
        for key, value in fitted.items():
            setattr(self, f"{key}_", value)
        self.n_features = self.emissionprob_.shape[1]
        from emfit.hmm import _finish_fit  # emfit.hmm imports this module

        return _finish_fit(self, report)


class VariationalGaussianHMM(BaseEstimator):
    """Hidden Markov model with Gaussian emissions trained by variational
    inference (hmmlearn's ``VariationalGaussianHMM``), ``covariance_type``
    ``'full'`` or ``'diag'``.

    Attributes after ``fit``: ``startprob_prior_``, ``startprob_posterior_``,
    ``transmat_prior_``, ``transmat_posterior_``, ``means_prior_``,
    ``means_posterior_`` (K, d), ``beta_prior_``, ``beta_posterior_`` (K,),
    ``dof_prior_``, ``dof_posterior_`` (K,), ``scale_prior_``,
    ``scale_posterior_`` ((K, d, d) full, (K, d) diag), the posterior means
    ``startprob_``, ``transmat_``, ``means_``, the expected covariances
    ``covars_`` (K, d, d), ``n_features``, ``monitor_`` and ``fit_report_``.
    """

    _blocks = (
        ("s", ("startprob_prior_", "startprob_posterior_")),
        ("t", ("transmat_prior_", "transmat_posterior_")),
        ("m", ("means_prior_", "means_posterior_", "beta_prior_", "beta_posterior_")),
        ("c", ("dof_prior_", "dof_posterior_", "scale_prior_", "scale_posterior_")),
    )

    def __init__(self, n_components=1, covariance_type="full", startprob_prior=None,
                 transmat_prior=None, means_prior=None, beta_prior=None, dof_prior=None,
                 scale_prior=None, algorithm="viterbi", random_state=None, n_iter=100, tol=1e-6,
                 verbose=False, params="stmc", init_params="stmc", implementation="log",
                 stopping="gain"):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.startprob_prior = startprob_prior
        self.transmat_prior = transmat_prior
        self.means_prior = means_prior
        self.beta_prior = beta_prior
        self.dof_prior = dof_prior
        self.scale_prior = scale_prior
        self.algorithm = algorithm
        self.random_state = random_state
        self.n_iter = n_iter
        self.tol = tol
        self.verbose = verbose
        self.params = params
        self.init_params = init_params
        self.implementation = implementation
        self.stopping = stopping

    def _given(self, d):
        """The arrays the Rust side takes in place of its start: the
        constructor's priors, broadcast (hmmlearn's shapes), then the fitted
        attributes of the blocks not in ``init_params``; diagonal scales as
        diagonal matrices."""
        k = int(self.n_components)
        shapes = {"startprob_prior": (k,), "transmat_prior": (k, k), "means_prior": (k, d),
                  "beta_prior": (k,), "dof_prior": (k,)}
        given = {}
        for key, shape in shapes.items():
            value = getattr(self, key)
            if value is not None:
                given[key] = np.broadcast_to(np.asarray(value, dtype=float), shape)
        if self.scale_prior is not None:
            given["scale_prior"] = self._scales(self.scale_prior, k, d)
        for letter, attributes in self._blocks:
            for attribute in attributes:
                if not hasattr(self, attribute):
                    continue
                if letter in self.init_params:
                    _log.warning(
                        "Even though the %r attribute is set, it will be overwritten during "
                        "initialization because 'init_params' contains %r", attribute, letter)
                    continue
                value = getattr(self, attribute)
                given[attribute[:-1]] = (self._scales(value, k, d) if attribute.startswith("scale")
                                         else np.asarray(value, dtype=float))
        return {key: np.ascontiguousarray(value, dtype=float) for key, value in given.items()}

    def _scales(self, value, k, d):
        """Scales of hmmlearn's shape for the covariance type as (K, d, d)."""
        value = np.asarray(value, dtype=float)
        if self.covariance_type == "diag":
            value = np.broadcast_to(value, (k, d))
            return np.einsum("kd,de->kde", value, np.eye(d))
        return np.broadcast_to(value, (k, d, d))

    def fit(self, X, lengths=None):
        """Fits the posterior by coordinate ascent on the lower bound.

        Blocks listed in ``init_params`` start from hmmlearn's recipe
        (random start and transition rows, k-means means, the data
        covariance); the others, if set by hand, are the start. Only the
        blocks in ``params`` are updated. On failure the estimator is left
        as it was.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            The observations of all sequences, stacked.
        lengths : array-like of int, shape (n_sequences,), optional
            The length of each sequence; they sum to ``n_samples``.

        Returns
        -------
        self
        """
        from emfit.hmm import GaussianHMM

        if self.covariance_type not in ("full", "diag"):
            raise ValueError(
                f"covariance_type must be 'full' or 'diag', got {self.covariance_type!r}")
        X, lengths = GaussianHMM()._validate_data(X, lengths)
        fitted = _emfit.vhmm_gaussian_fit(
            X, lengths, int(self.n_components), self.covariance_type, self._given(X.shape[1]),
            self.params, int(self.n_iter), float(self.tol), self.stopping,
            seed(self.random_state), bool(self.verbose))
        report = fitted.pop("report")
        for key, value in fitted.items():
            if key.startswith("scale") and self.covariance_type == "diag":
                value = np.diagonal(value, axis1=1, axis2=2).copy()
            setattr(self, f"{key}_", value)
        self.means_ = self.means_posterior_
        self.n_features = X.shape[1]
        from emfit.hmm import _finish_fit  # emfit.hmm imports this module

        return _finish_fit(self, report)
