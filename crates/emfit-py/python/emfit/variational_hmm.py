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
``dof_prior_`` d, ``scale_prior_`` ``10⁻³ I``; hmmlearn's four
covariance types ``full``, ``diag``, ``spherical`` (scale ``s I``) and
``tied`` (one Wishart shared by the states)). Each iteration runs
forward-backward with the expected-log parameters ``exp(E[ln π])``,
``exp(E[ln A])``, ``exp(E[ln b(x)])`` and adds the expected statistics to
the priors; the fit climbs the evidence
lower bound ``ln Z − KL(posterior ‖ prior)``, which never falls. It runs
in Rust (the ``hmm`` crate's ``variational`` module), without the GIL.

After the fit, as in hmmlearn, ``score``, ``score_samples``,
``predict``, ``predict_proba``, ``decode`` (``algorithm`` ``'viterbi'``
or ``'map'``) and ``sample`` use the HMM of the posterior means
(``startprob_``, ``transmat_``, ``emissionprob_``, or ``means_`` and
``covars_``), not the sub-normalised parameters of the E-step; they run
through ``CategoricalHMM`` and ``GaussianHMM`` (same checks, same errors).

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
  are scaled and never underflow).
- ``decode(..., algorithm='map')`` returns ``Σ_t ln max_j γ_t(j)`` (as
  emfit's other HMMs; hmmlearn returns the sum of the probabilities).
- ``sample`` draws from emfit's generator (other draws than hmmlearn's for
  the same ``random_state``).
- The random start of ``covariance_type='spherical'`` takes the mean of
  the diagonal of the data covariance (hmmlearn the mean of all its
  entries, which can be negative).
- Learning the covariances without the means (``'c'`` in ``params``
  without ``'m'``) is refused: it is the update of no factor of the
  posterior, and hmmlearn's formula can then leave the scale not positive
  definite.
"""

import logging

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from emfit import _emfit
from emfit._random import seed

__all__ = ["VariationalCategoricalHMM", "VariationalGaussianHMM"]

_log = logging.getLogger(__name__)


class _PosteriorMeanInference:
    """The inference methods of hmmlearn's variational models: scores,
    posteriors, decoding and sampling of the HMM whose parameters are the
    posterior means (``startprob_``, ``transmat_`` and the emission's, as
    ``fit`` left them), not the sub-normalised ``exp(E[ln θ])`` of the
    fit's E-step. They run through the maximum-likelihood class of the same
    emission (``_point_class``), so scores, validation and errors are
    theirs."""

    #: The fitted attributes the point model is made of.
    _point_attributes = ("startprob_", "transmat_")

    def _point_model(self):
        """The maximum-likelihood HMM with the posterior means;
        NotFittedError if they are not set."""
        missing = [a for a in self._point_attributes if not hasattr(self, a)]
        if missing:
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet: {', '.join(missing)} "
                "not set. Call 'fit' first.")
        model = self._point_class()
        for attribute in self._point_attributes:
            setattr(model, attribute, np.asarray(getattr(self, attribute), dtype=float))
        return model

    def score(self, X, lengths=None):
        """The total log-likelihood ``Σ_s ln p(x_s | θ̄)`` under the
        posterior means ``θ̄`` (forward algorithm), as hmmlearn's."""
        return self._point_model().score(X, lengths)

    def score_samples(self, X, lengths=None):
        """The total log-likelihood under the posterior means and the
        posteriors ``γ_t(j) = p(z_t = j | x, θ̄)`` (n_samples,
        n_components)."""
        return self._point_model().score_samples(X, lengths)

    def predict_proba(self, X, lengths=None):
        """The posteriors ``γ_t(j) = p(z_t = j | x, θ̄)`` (n_samples,
        n_components)."""
        return self._point_model().predict_proba(X, lengths)

    def decode(self, X, lengths=None, algorithm=None):
        """The most probable states under the posterior means and their
        log-probability: ``algorithm='viterbi'`` the most probable path and
        ``Σ_s ln p(x_s, z*_s | θ̄)``, ``'map'`` ``argmax_j γ_t(j)`` and
        ``Σ_t ln max_j γ_t(j)``. Default: the estimator's ``algorithm``."""
        return self._point_model().decode(X, lengths, self.algorithm if algorithm is None else algorithm)

    def predict(self, X, lengths=None):
        """The most probable states (by ``algorithm``), shape (n_samples,)."""
        return self.decode(X, lengths)[1]

    def sample(self, n_samples=1, random_state=None, currstate=None):
        """Draws ``n_samples`` observations of one sequence from the HMM of
        the posterior means: ``(X, Z)``. ``currstate`` starts it in that
        state; ``random_state`` defaults to the estimator's."""
        return self._point_model().sample(
            n_samples, self.random_state if random_state is None else random_state, currstate)


class VariationalCategoricalHMM(_PosteriorMeanInference, BaseEstimator):
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
    _point_attributes = ("startprob_", "transmat_", "emissionprob_")

    def _point_class(self):
        from emfit.hmm import CategoricalHMM  # emfit.hmm imports this module

        return CategoricalHMM(int(self.n_components))

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


class VariationalGaussianHMM(_PosteriorMeanInference, BaseEstimator):
    """Hidden Markov model with Gaussian emissions trained by variational
    inference (hmmlearn's ``VariationalGaussianHMM``), ``covariance_type``
    ``'full'``, ``'diag'``, ``'spherical'`` or ``'tied'`` (one Wishart
    shared by the states).

    Attributes after ``fit``: ``startprob_prior_``, ``startprob_posterior_``,
    ``transmat_prior_``, ``transmat_posterior_``, ``means_prior_``,
    ``means_posterior_`` (K, d), ``beta_prior_``, ``beta_posterior_`` (K,),
    ``dof_prior_``, ``dof_posterior_`` ((K,); a float tied),
    ``scale_prior_``, ``scale_posterior_`` ((K, d, d) full, (K, d) diag,
    (K,) spherical, (d, d) tied), the posterior means
    ``startprob_``, ``transmat_``, ``means_``, the expected covariances
    ``covars_`` (K, d, d), ``n_features``, ``monitor_`` and ``fit_report_``.
    """

    _blocks = (
        ("s", ("startprob_prior_", "startprob_posterior_")),
        ("t", ("transmat_prior_", "transmat_posterior_")),
        ("m", ("means_prior_", "means_posterior_", "beta_prior_", "beta_posterior_")),
        ("c", ("dof_prior_", "dof_posterior_", "scale_prior_", "scale_posterior_")),
    )
    _point_attributes = ("startprob_", "transmat_", "means_", "covars_")

    def _point_class(self):
        from emfit.hmm import GaussianHMM  # emfit.hmm imports this module

        return GaussianHMM(int(self.n_components), "full")

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

    def _n_wisharts(self):
        """K Wisharts, or one shared by the states for the tied type."""
        return 1 if self.covariance_type == "tied" else int(self.n_components)

    def _given(self, d):
        """The arrays the Rust side takes in place of its start: the
        constructor's priors, broadcast (hmmlearn's shapes), then the fitted
        attributes of the blocks not in ``init_params``; scales as (W, d, d)
        matrices and degrees of freedom as (W,), W Wisharts (K, one tied)."""
        k, w = int(self.n_components), self._n_wisharts()
        shapes = {"startprob_prior": (k,), "transmat_prior": (k, k), "means_prior": (k, d),
                  "beta_prior": (k,), "dof_prior": (w,)}
        from emfit.hmm import _shaped  # emfit.hmm imports this module

        given = {}
        for key, shape in shapes.items():
            value = getattr(self, key)
            if value is not None:
                given[key] = _shaped(key, value, shape)
        if self.scale_prior is not None:
            given["scale_prior"] = self._scales("scale_prior", self.scale_prior, k, d)
        for letter, attributes in self._blocks:
            for attribute in attributes:
                if not hasattr(self, attribute):
                    continue
                if letter in self.init_params:
                    _log.warning(
                        "Even though the %r attribute is set, it will be overwritten during "
                        "initialization because 'init_params' contains %r", attribute, letter)
                    continue
                value = np.asarray(getattr(self, attribute), dtype=float)
                if attribute.startswith("scale"):
                    value = self._scales(attribute, value, k, d)
                elif attribute.startswith("dof"):
                    value = _shaped(attribute, value, (w,))
                given[attribute[:-1]] = value
        return {key: np.ascontiguousarray(value, dtype=float) for key, value in given.items()}

    def _scales(self, name, value, k, d):
        """Scales (the attribute or argument ``name``) of hmmlearn's shape
        for the covariance type ((K,) spherical, (K, d) diag, (K, d, d)
        full, (d, d) tied) as (W, d, d) matrices; ValueError naming it for
        another shape."""
        from emfit.hmm import _shaped  # emfit.hmm imports this module

        t = self.covariance_type
        if t == "diag":
            return np.einsum("kd,de->kde", _shaped(name, value, (k, d)), np.eye(d))
        if t == "spherical":
            return _shaped(name, value, (k,))[:, None, None] * np.eye(d)
        if t == "tied":
            return _shaped(name, value, (d, d))[None]
        return _shaped(name, value, (k, d, d))

    def _hmmlearn_shape(self, key, value):
        """A scale or degrees of freedom from the Rust side ((W, d, d),
        (W,)) in hmmlearn's shape for the covariance type (a float for the
        tied degrees of freedom)."""
        t = self.covariance_type
        if key.startswith("dof"):
            return float(value[0]) if t == "tied" else value
        if t == "diag":
            return np.diagonal(value, axis1=1, axis2=2).copy()
        if t == "spherical":
            return value[:, 0, 0].copy()
        if t == "tied":
            return value[0]
        return value

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

        if self.covariance_type not in ("full", "diag", "spherical", "tied"):
            raise ValueError(
                "covariance_type must be 'full', 'diag', 'spherical' or 'tied', got "
                f"{self.covariance_type!r}")
        X, lengths = GaussianHMM()._validate_data(X, lengths)
        fitted = _emfit.vhmm_gaussian_fit(
            X, lengths, int(self.n_components), self.covariance_type, self._given(X.shape[1]),
            self.params, int(self.n_iter), float(self.tol), self.stopping,
            seed(self.random_state), bool(self.verbose))
        report = fitted.pop("report")
        for key, value in fitted.items():
            if key.startswith(("scale", "dof")):
                value = self._hmmlearn_shape(key, value)
            setattr(self, f"{key}_", value)
        self.means_ = self.means_posterior_
        self.n_features = X.shape[1]
        from emfit.hmm import _finish_fit  # emfit.hmm imports this module

        return _finish_fit(self, report)
