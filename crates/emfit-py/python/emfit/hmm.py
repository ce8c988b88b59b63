"""Hidden Markov models: drop-in replacements for hmmlearn's ``GaussianHMM``,
``GMMHMM``, ``CategoricalHMM`` and ``PoissonHMM`` (hmmlearn 0.3).

Change ``from hmmlearn import hmm`` to ``from emfit import hmm``: the
constructor arguments, fitted attributes (``startprob_``, ``transmat_``,
``means_``, ``covars_``, ``weights_``, ``emissionprob_``, ``lambdas_``,
``n_features``, ``monitor_``) and methods (``fit(X, lengths)``, ``score``,
``score_samples``, ``predict``, ``predict_proba``, ``decode``, ``sample``,
``aic``, ``bic``) are hmmlearn's. The model, with K states,

    p(x, z) = π_{z_0} b_{z_0}(x_0) Π_{t≥1} A_{z_{t−1} z_t} b_{z_t}(x_t),

is fitted by Baum-Welch (EM) in Rust (the ``hmm`` crate), without the GIL.

What differs from hmmlearn, on purpose:

- ``acceleration='squarem'`` and ``stopping='remaining'`` (emfit's extras)
  are the defaults: ``tol`` keeps hmmlearn's meaning, an absolute number of
  log-likelihood units of the whole data, but the fit stops when the gain
  still to come (estimated from the rate of EM) is within ``tol`` instead of
  the last gain, so it does not stop on a slow stretch far from the
  optimum. ``acceleration='none', stopping='gain'`` reproduces hmmlearn's
  iterates; hmmlearn then runs one more M-step than emfit (it tests the gain
  of the previous iterate after updating), so with the same ``tol`` emfit
  stops one iteration earlier.
- A fit that stops before converging warns with ``ConvergenceWarning``
  (hmmlearn counts reaching ``n_iter`` as converged and warns nothing);
  ``stopping='fixed'`` runs exactly ``n_iter`` iterations and never warns.
- ``monitor_.history`` holds the objective EM raises at every iterate, the
  start first and the returned parameters last (hmmlearn's holds those
  before each M-step): the log-likelihood without priors, and with priors
  (any prior argument away from its maximum-likelihood value, such as
  GaussianHMM's default ``covars_prior=1e-2``) the log posterior, the
  log-likelihood plus the log prior of the parameters (up to a constant),
  which a MAP step never lowers while the log-likelihood alone may fall.
  ``monitor_.objective`` says which (``"log-likelihood"`` or
  ``"log posterior"``). hmmlearn's history is the log-likelihood even under
  priors, so its monitor can see falls and stop on them. ``score`` is the
  log-likelihood either way; ``fit_report_`` is emfit's full report.
- Start and transition probabilities not given are initialised uniform
  (hmmlearn draws them from a Dirichlet), the rest by the ``hmm`` crate's
  recipe (k-means means, the best of 10 runs by inertia as hmmlearn's, the
  data covariance plus ``min_covar``); ``n_init`` restarts from a master
  seed drawn from ``random_state``.
- Dirichlet priors (``startprob_prior``, ``transmat_prior``,
  ``emissionprob_prior``, ``weights_prior``) give the MAP update
  ``p_j ∝ n_j + α_j − 1``, as hmmlearn's; concentrations must be ≥ 1 (below
  1 the mode is not unique and hmmlearn clips). The priors of means and
  covariances (``means_prior``, ``means_weight``, ``covars_prior``,
  ``covars_weight``) have hmmlearn's meaning, shapes and defaults
  (GaussianHMM's ``covars_prior=1e-2`` included) and give the same MAP
  update, with two exceptions: GMMHMM's covariances are centred on the
  updated means (hmmlearn centres them on the previous ones, which is not
  exact EM), and its spherical default is maximum likelihood for every
  ``n_mix``. The Gamma prior of Poisson rates (``lambdas_prior``,
  ``lambdas_weight``) gives its MAP estimate per state (hmmlearn divides
  by the mass of all states). On top of the priors, every updated variance
  is bounded below by a floor: the extra argument ``reg_covar`` (``0``: no
  bound), by default ``None``, ``10⁻⁶`` times the data's variance of each
  feature (so it does not depend on units). It is a bound, not an addition
  (the M-step is the exact maximiser over the covariances above it), so EM
  never lowers its objective. ``min_covar`` is, as in hmmlearn, added to
  the data covariance of the initialisation only.
- ``decode(..., algorithm='map')`` returns ``Σ_t ln max_j γ_t(j)``, the log
  of the product of the posterior probabilities of the chosen states
  (hmmlearn returns the sum of the probabilities themselves).
- ``aic``/``bic`` count every free parameter of the model (structural zeros
  of π and A excluded), not only those in ``params``.
- ``implementation`` ('log' or 'scaling') is accepted and has no effect:
  emfit's recursions are scaled with a per-step shift and never underflow.
- ``partial_fit(X, lengths)`` (emfit's extra) is online (stepwise) EM over
  a stream of chunks of sequences, with the step sizes of the extra
  arguments ``learning_decay`` (default 0.7) and ``learning_offset``
  (default 10.0); its state pickles with the estimator.
"""

import logging
import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.utils import check_array

from emfit import _dask, _emfit
from emfit._arrays import c_array
from emfit._random import seed

__all__ = ["ConvergenceMonitor", "GaussianHMM", "GMMHMM", "CategoricalHMM", "PoissonHMM"]

_log = logging.getLogger(__name__)

_COVARIANCE_TYPES = ("spherical", "diag", "full", "tied")


class ConvergenceMonitor:
    """How a fit went, in hmmlearn's vocabulary.

    Attributes
    ----------
    tol, n_iter, verbose : the estimator's arguments.
    history : list of float
        The objective of every iterate, the start first and the returned
        parameters last: the total log-likelihood, or with priors the log
        posterior (log-likelihood plus log prior, up to a constant).
    objective : str
        ``"log-likelihood"`` or ``"log posterior"``: what ``history`` holds.
    iter : int
        The number of EM iterations run.
    converged : bool
        Whether the stopping rule held (not merely ``n_iter`` reached).
    """

    def __init__(self, tol, n_iter, verbose, history=(), iter=0, converged=False,
                 objective="log-likelihood"):
        self.tol = tol
        self.n_iter = n_iter
        self.verbose = verbose
        self.history = list(history)
        self.iter = iter
        self.converged = converged
        self.objective = objective

    def __repr__(self):
        fields = ", ".join(f"{k}={v!r}" for k, v in sorted(vars(self).items()))
        return f"ConvergenceMonitor({fields})"



def _finish_fit(model, report):
    """Sets ``fit_report_`` and ``monitor_`` of a model whose ``fit`` ran the
    loop, warns (``ConvergenceWarning``, at the caller of ``fit``) when it
    stopped before converging, and returns the model."""
    model.fit_report_ = report
    model.monitor_ = ConvergenceMonitor(
        model.tol, model.n_iter, model.verbose, report["history"], report["iterations"],
        report["converged"], report["objective"])
    if not report["converged"] and model.stopping != "fixed":
        warnings.warn(
            f"{type(model).__name__} did not converge: {report['termination']} after "
            f"{report['iterations']} iterations (n_iter={model.n_iter}, tol={model.tol}).",
            ConvergenceWarning, stacklevel=3)
    return model

class _BaseHMM(BaseEstimator):
    """What the four HMMs share: the fit, scores, decoding and sampling
    through the Rust functions; each subclass names its emission family and
    parameters."""

    #: The emission family of the Rust functions.
    _family = None
    #: Rows of the seeded sample that a fit of data held by Dask initialises
    #: the parameters not given on (see ``emfit._dask``); an attribute, set
    #: it on the estimator to change it.
    init_sample = _dask.INIT_SAMPLE
    #: (letter, attribute, key of the Rust parameter dict) of each emission
    #: parameter.
    _emission_params = ()

    # The shared arguments, in hmmlearn's order; subclasses call this.
    def _set_common(self, n_components, startprob_prior, transmat_prior, algorithm, random_state,
                    n_iter, tol, verbose, params, init_params, implementation, acceleration,
                    stopping, n_init, learning_decay, learning_offset):
        self.n_components = n_components
        self.startprob_prior = startprob_prior
        self.transmat_prior = transmat_prior
        self.algorithm = algorithm
        self.random_state = random_state
        self.n_iter = n_iter
        self.tol = tol
        self.verbose = verbose
        self.params = params
        self.init_params = init_params
        self.implementation = implementation
        self.acceleration = acceleration
        self.stopping = stopping
        self.n_init = n_init
        self.learning_decay = learning_decay
        self.learning_offset = learning_offset

    # -- parameters crossing to Rust -------------------------------------

    def _covariance_type(self):
        return "diag"

    def _n_mix(self):
        return 1

    def _all_params(self):
        return (("s", "startprob_", "startprob"), ("t", "transmat_", "transmat")) + tuple(
            self._emission_params)

    def _param_value(self, attribute):
        """The value of a parameter attribute as the Rust side takes it."""
        return c_array(getattr(self, attribute), dtype=float)

    def _model(self):
        """The parameter dict of the current model; NotFittedError if a
        parameter is missing."""
        missing = [a for _, a, _ in self._all_params() if not hasattr(self, a)]
        if missing:
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet: {', '.join(missing)} "
                "not set. Call 'fit' or set the parameters first.")
        return {key: self._param_value(a) for _, a, key in self._all_params()}

    def _call(self, function, X, lengths):
        model = self._model()
        X, lengths = self._validate_data(X, lengths)
        return function(self._family, self._covariance_type(), self._n_mix(), model, X, lengths)

    # -- data ---------------------------------------------------------------

    def _check_X(self, X):
        """The observations as a C-contiguous float64 (n, d) array."""
        return c_array(check_array(X, dtype=float, ensure_all_finite=False), dtype=float)

    def _validate_data(self, X, lengths):
        X = self._check_X(X)
        if lengths is None:
            lengths = [X.shape[0]]
        lengths = np.asarray(lengths)
        if lengths.ndim != 1 or not np.issubdtype(lengths.dtype, np.integer) or (lengths < 0).any():
            raise ValueError(f"lengths must be a 1-D array of non-negative integers, got {lengths!r}")
        if lengths.sum() != X.shape[0]:
            raise ValueError(
                f"lengths sum to {lengths.sum()} but X has {X.shape[0]} rows")
        return X, [int(n) for n in lengths]

    # -- fitting ------------------------------------------------------------

    def _priors(self, X):
        """The priors as the Rust side takes them: the Dirichlet priors as
        arrays, None where they are all 1 (maximum likelihood); subclasses
        add their emission's."""
        k = self.n_components
        priors = {
            "startprob": np.broadcast_to(np.asarray(self.startprob_prior, dtype=float), (k,)),
            "transmat": np.broadcast_to(np.asarray(self.transmat_prior, dtype=float), (k, k)),
        }
        return {key: (None if np.all(v == 1.0) else c_array(v)) for key, v in priors.items()}

    def _min_covar(self):
        return 1e-3

    def _reg_covar(self):
        return None

    def _n_symbols(self, X):
        return None

    def fit(self, X, lengths=None):
        """Estimates the parameters by Baum-Welch (EM).

        Parameters listed in ``init_params`` are initialised from the data;
        the others, if set by hand, are the start (validated: an error
        names the row or state). Only the parameters in ``params`` are
        learned. On failure (bad input, interrupt) the estimator is left as
        it was.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features), or data held by Dask
            The observations of all sequences, stacked. A
            ``dask.array.Array`` whose row chunks hold whole sequences, or a
            list of chunks: the E-steps then run on the Dask workers, chunk
            by chunk (see ``emfit._dask``).
        lengths : array-like of int, shape (n_sequences,), optional
            The length of each sequence; they sum to ``n_samples``. For a
            list of chunks, one such list per chunk.

        Returns
        -------
        self
        """
        self._check_options()
        report = self._run(X, lengths, self.n_iter)
        self.__dict__.pop("_online_state", None)
        return _finish_fit(self, report)

    def _check_options(self):
        if self.algorithm not in ("viterbi", "map"):
            raise ValueError(f"algorithm must be 'viterbi' or 'map', got {self.algorithm!r}")
        if self._covariance_type() not in _COVARIANCE_TYPES:
            raise ValueError(
                f"covariance_type must be one of {_COVARIANCE_TYPES}, got {self._covariance_type()!r}")

    def partial_fit(self, X, lengths=None):
        """One step of online (stepwise) EM on a chunk of whole sequences.

        The running sufficient statistics ``s`` (per observation: start and
        transition counts, the emission's) become ``(1 - rho) s + rho
        s(X) / n`` for the chunk's ``n`` observations, and the parameters
        in ``params`` their M-step, with the priors weighed against the
        observations seen so far as a batch fit of them would. The first
        call initialises as ``fit`` does (``init_params`` from the chunk,
        the parameters set by hand kept), and its step is the chunk's
        alone. A chunk of ``n`` observations after ``t`` gets ``rho = 1 -
        prod_{j=t+1}^{t+n} (1 - (j + learning_offset) ** -learning_decay)``:
        chunks weigh by their size (``learning_decay`` in (0.5, 1],
        ``learning_offset >= 0``).

        The stream's state is kept on the estimator and pickled with it:
        an unpickled estimator goes on as the uninterrupted one would, bit
        for bit. ``fit`` starts again from scratch. On an error (a chunk of
        another width, a NaN naming its sequence and row) the estimator is
        left as it was.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            The observations of the chunk's sequences, stacked.
        lengths : array-like of int, shape (n_sequences,), optional
            The length of each sequence (default: one sequence).

        Returns
        -------
        self
            With ``partial_fit_report_``: the chunk's ``log_likelihood``
            under the parameters before the step, its ``step`` rho and the
            counts seen.
        """
        before = dict(self.__dict__)
        try:
            self._partial_fit(X, lengths)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(before)
            raise
        return self

    def _partial_fit(self, X, lengths):
        self._check_options()
        state = getattr(self, "_online_state", None)
        if state is None:
            self._run(X, lengths, 0)
        X, lengths = self._validate_data(X, lengths)
        fitted, state, report = _emfit.hmm_partial_fit(
            self._family, self._covariance_type(), self._n_mix(), self._model(), X, lengths,
            self.params, self._priors(X), self._reg_covar(), state, float(self.learning_decay),
            float(self.learning_offset))
        for _, attribute, key in self._all_params():
            setattr(self, attribute, fitted[key])
        self._online_state = state
        self.partial_fit_report_ = report

    def _run(self, X, lengths, n_iter):
        """Runs the Rust fit with at most ``n_iter`` iterations, sets the
        parameters and ``n_features`` and returns the report; the
        estimator is unchanged if it raises."""
        chunks = _dask.Chunks(X, lengths, sequences=True) if _dask.is_dask(X) else None
        if chunks is None:
            X, lengths = self._validate_data(X, lengths)
        given = {}
        for letter, attribute, key in self._all_params():
            if not hasattr(self, attribute):
                continue
            if letter in self.init_params:
                _log.warning(
                    "Even though the %r attribute is set, it will be overwritten during "
                    "initialization because 'init_params' contains %r", attribute, letter)
            else:
                given[key] = self._param_value(attribute)
        master = seed(self.random_state)
        e_steps = None
        if chunks is not None:
            # The E-steps on the workers; X becomes the seeded sample the
            # parameters not given are initialised on, as one sequence.
            family, covariance_type, n_mix = self._family, self._covariance_type(), self._n_mix()
            e_steps = chunks.e_steps(
                f"hmm-{family}", lambda parameters: (family, covariance_type, n_mix, parameters))
            # (One row when every parameter is given: nothing is initialised.)
            complete = all(key in given for _, _, key in self._all_params())
            X = chunks.sample(1 if complete else int(self.init_sample), master)
            lengths = [X.shape[0]]
        n_symbols = self._n_symbols(X)
        if chunks is not None and self._family == "categorical" and n_symbols is None:
            n_symbols = int(chunks.maximum()) + 1
        fitted, report = _emfit.hmm_fit(
            self._family, X, lengths, int(self.n_components), self._covariance_type(), self._n_mix(),
            n_symbols, given, self.params, self._priors(X), float(self._min_covar()),
            self._reg_covar(),
            int(n_iter), float(self.tol), self.stopping, self.acceleration, int(self.n_init),
            master, bool(self.verbose), e_steps=e_steps)
        for _, attribute, key in self._all_params():
            setattr(self, attribute, fitted[key])
        self.n_features = self._n_features_of()
        return report

    def _init(self, X, lengths=None):
        """hmmlearn's initialisation alone: the parameters in
        ``init_params`` and those not set are initialised from the data (as
        ``fit`` does), no EM iteration runs."""
        if lengths is not None and np.ndim(lengths) == 0:
            lengths = [int(lengths)]
        self._run(X, lengths, 0)

    def _check(self):
        """hmmlearn's validation of the parameters: the model is built on
        the Rust side (ValueError naming the table, row or state)."""
        if self._covariance_type() not in _COVARIANCE_TYPES:
            raise ValueError(
                f"covariance_type must be one of {_COVARIANCE_TYPES}, got {self._covariance_type()!r}")
        self._n_free_parameters()

    @property
    def monitor_(self):
        """The :class:`ConvergenceMonitor` of the last fit; before a fit, an
        empty one with the estimator's ``tol``, ``n_iter`` and ``verbose``
        (hmmlearn makes it in its constructor). A monitor assigned before
        ``fit`` is replaced by the fit's: the stopping rule is emfit's."""
        monitor = self.__dict__.get("_monitor")
        return ConvergenceMonitor(self.tol, self.n_iter, self.verbose) if monitor is None else monitor

    @monitor_.setter
    def monitor_(self, monitor):
        self.__dict__["_monitor"] = monitor

    # -- inference ----------------------------------------------------------

    def score(self, X, lengths=None):
        """The total log-likelihood ``Σ_s ln p(x_s | θ)`` (forward algorithm)."""
        return float(np.sum(self._call(_emfit.hmm_score, X, lengths)))

    def score_samples(self, X, lengths=None):
        """The total log-likelihood and the posteriors
        ``γ_t(j) = p(z_t = j | x)`` (n_samples, n_components)."""
        logliks, posteriors = self._call(_emfit.hmm_posteriors, X, lengths)
        return float(np.sum(logliks)), posteriors

    def predict_proba(self, X, lengths=None):
        """The posteriors ``γ_t(j) = p(z_t = j | x)`` (n_samples, n_components)."""
        return self.score_samples(X, lengths)[1]

    def decode(self, X, lengths=None, algorithm=None):
        """The most probable states and their log-probability.

        ``algorithm='viterbi'``: the most probable path ``z*`` and
        ``Σ_s ln p(x_s, z*_s)``; ``'map'``: the most probable state of every
        step, ``argmax_j γ_t(j)``, and ``Σ_t ln max_j γ_t(j)``. Default: the
        estimator's ``algorithm``.
        """
        algorithm = self.algorithm if algorithm is None else algorithm
        if algorithm == "viterbi":
            log_probs, states = self._call(_emfit.hmm_viterbi, X, lengths)
            return float(np.sum(log_probs)), states
        if algorithm == "map":
            posteriors = self.predict_proba(X, lengths)
            states = np.argmax(posteriors, axis=1)
            return float(np.sum(np.log(posteriors[np.arange(len(states)), states]))), states
        raise ValueError(f"algorithm must be 'viterbi' or 'map', got {algorithm!r}")

    def predict(self, X, lengths=None):
        """The most probable states (by ``algorithm``), shape (n_samples,)."""
        return self.decode(X, lengths)[1]

    def sample(self, n_samples=1, random_state=None, currstate=None):
        """Draws ``n_samples`` observations of one sequence: ``(X, Z)``.

        ``currstate`` starts the sequence in that state (to continue a
        sampled sequence); ``random_state`` defaults to the estimator's.
        """
        model = self._model()
        draw = seed(self.random_state if random_state is None else random_state)
        X, Z = _emfit.hmm_sample(
            self._family, self._covariance_type(), self._n_mix(), model, int(n_samples), draw,
            None if currstate is None else int(currstate))
        return self._sampled(X), Z

    def _sampled(self, X):
        return X

    def _n_free_parameters(self):
        return _emfit.hmm_n_parameters(self._family, self._covariance_type(), self._n_mix(), self._model())

    def aic(self, X, lengths=None):
        """Akaike's criterion ``−2 ln L + 2p`` (p free parameters)."""
        return -2 * self.score(X, lengths) + 2 * self._n_free_parameters()

    def bic(self, X, lengths=None):
        """The Bayesian criterion ``−2 ln L + p ln n`` (n observations)."""
        n = self._check_X(X).shape[0]
        return -2 * self.score(X, lengths) + self._n_free_parameters() * np.log(n)


def _shaped(name, value, shape):
    """``value`` (the prior parameter ``name``) as a float array of
    ``shape``: broadcast, or reshaped when it has exactly that many entries
    (hmmlearn's (n,) for (n, 1)); ValueError naming the parameter and the
    shape otherwise."""
    a = np.asarray(value, dtype=float)
    if a.size == int(np.prod(shape)) and a.ndim != len(shape):
        a = a.reshape(shape)
    try:
        return np.array(np.broadcast_to(a, shape), dtype=float)
    except ValueError:
        raise ValueError(f"{name} must broadcast to shape {shape}, got shape {a.shape}") from None


def _normal_prior(means_prior, means_weight, scale, mass, mass_names):
    """The Rust ``NormalPrior`` keys, or {} when every entry is 0 (maximum
    likelihood). ``mass`` (the prior's extra mass ``a``) must be ≥ 0:
    ValueError naming ``mass_names`` (the hmmlearn parameters it comes
    from) otherwise."""
    if np.any(mass < 0) or not np.all(np.isfinite(mass)):
        raise ValueError(
            f"{mass_names} give a covariance prior with a negative (or non-finite) number of "
            f"prior observations {np.min(mass)!r}: the MAP covariance would not exist")
    if not (np.any(means_weight) or np.any(scale) or np.any(mass)):
        return {}
    return {"means_prior": means_prior, "means_weight": means_weight,
            "covars_scale": np.array(scale, dtype=float), "covars_mass": np.array(mass, dtype=float)}


class GaussianHMM(_BaseHMM):
    """Hidden Markov model with Gaussian emissions (hmmlearn's
    ``GaussianHMM``): ``b_j(x) = N(x; μ_j, Σ_j)``.

    ``covars_`` is always (n_components, n_features, n_features) full
    matrices, as hmmlearn returns it; setting it takes the covariance
    type's own shape ((K,) spherical, (K, d) diag, (K, d, d) full, (d, d)
    tied), kept in ``_covars_``. Extra arguments: ``acceleration``,
    ``stopping``, ``n_init``, ``reg_covar`` (see the module's documentation).
    """

    _family = "gaussian"
    _emission_params = (("m", "means_", "means"), ("c", "_covars_", "covars"))

    def __init__(self, n_components=1, covariance_type="diag", min_covar=1e-3, startprob_prior=1.0,
                 transmat_prior=1.0, means_prior=0, means_weight=0, covars_prior=1e-2,
                 covars_weight=1, algorithm="viterbi", random_state=None, n_iter=10, tol=1e-2,
                 verbose=False, params="stmc", init_params="stmc", implementation="log",
                 acceleration="squarem", stopping="remaining", n_init=1, reg_covar=None,
                 learning_decay=0.7, learning_offset=10.0):
        self._set_common(n_components, startprob_prior, transmat_prior, algorithm, random_state,
                         n_iter, tol, verbose, params, init_params, implementation, acceleration,
                         stopping, n_init, learning_decay, learning_offset)
        self.reg_covar = reg_covar
        self.covariance_type = covariance_type
        self.min_covar = min_covar
        self.means_prior = means_prior
        self.means_weight = means_weight
        self.covars_prior = covars_prior
        self.covars_weight = covars_weight

    def _covariance_type(self):
        return self.covariance_type

    def _min_covar(self):
        return self.min_covar

    def _reg_covar(self):
        return None if self.reg_covar is None else float(self.reg_covar)

    def _priors(self, X):
        """hmmlearn's normal / inverse-gamma (spherical, diagonal) and
        normal / inverse-Wishart (full, tied) priors of GaussianHMM, as the
        ``hmm`` crate's ``NormalPrior``: ``Σ = (covars_prior + c_n) /
        (max(covars_weight − w, 0) + N)`` with ``w = 1`` (spherical,
        diagonal) or ``n_features`` (full, tied), ``c_n`` the scatter about
        the new means plus ``means_weight (μ − means_prior)²``."""
        priors = super()._priors(X)
        k, d, t = self.n_components, X.shape[1], self.covariance_type
        mu0 = _shaped("means_prior", self.means_prior, (k, d))
        lam = _shaped("means_weight", self.means_weight, (k,))
        if t == "diag":
            scale = _shaped("covars_prior", self.covars_prior, (k, d))
            mass = np.maximum(_shaped("covars_weight", self.covars_weight, (k, d)) - 1, 0)
        elif t == "spherical":
            scale = _shaped("covars_prior", self.covars_prior, (k, d)).sum(axis=1)
            mass = d * np.maximum(_shaped("covars_weight", self.covars_weight, (k,)) - 1, 0)
        elif t == "full":
            scale = _shaped("covars_prior", self.covars_prior, (k, d, d))
            mass = np.maximum(_shaped("covars_weight", self.covars_weight, (k,)) - d, 0)
        else:
            scale = _shaped("covars_prior", self.covars_prior, (d, d))
            mass = np.maximum(_shaped("covars_weight", self.covars_weight, ()) - d, 0)
        priors.update(_normal_prior(mu0, lam, scale, mass, "covars_weight"))
        return priors

    def _param_value(self, attribute):
        value = c_array(getattr(self, attribute), dtype=float)
        if attribute == "_covars_" and self.covariance_type == "spherical" and value.size == self.n_components:
            value = value.reshape(self.n_components)
        return value

    def _n_features_of(self):
        return np.shape(self.means_)[1]

    @property
    def covars_(self):
        """The covariance of every state as a full matrix (K, d, d)."""
        c = np.asarray(self._covars_, dtype=float)
        k = self.n_components
        if self.covariance_type == "full":
            return c
        if self.covariance_type == "diag":
            return np.stack([np.diag(row) for row in c])
        if self.covariance_type == "tied":
            return np.tile(c, (k, 1, 1))
        d = self.n_features if hasattr(self, "n_features") else np.shape(self.means_)[1]
        return np.ravel(c)[:, None, None] * np.eye(d)[None, :, :]

    @covars_.setter
    def covars_(self, covars):
        self._covars_ = np.array(covars, dtype=float, copy=True)


class GMMHMM(_BaseHMM):
    """Hidden Markov model with Gaussian-mixture emissions (hmmlearn's
    ``GMMHMM``): ``b_j(x) = Σ_m w_jm N(x; μ_jm, Σ_jm)``.

    ``weights_`` (K, n_mix), ``means_`` (K, n_mix, d), ``covars_``
    (K, n_mix) spherical, (K, n_mix, d) diag, (K, n_mix, d, d) full,
    (K, d, d) tied. The M-step is the exact maximum-likelihood (or, with
    priors, MAP) update of the mixture per state, the variances bounded
    below by the ``reg_covar`` floor.
    """

    _family = "gmm"
    _emission_params = (("w", "weights_", "weights"), ("m", "means_", "means"),
                        ("c", "covars_", "covars"))

    def __init__(self, n_components=1, n_mix=1, min_covar=1e-3, startprob_prior=1.0,
                 transmat_prior=1.0, weights_prior=1.0, means_prior=0.0, means_weight=0.0,
                 covars_prior=None, covars_weight=None, algorithm="viterbi", covariance_type="diag",
                 random_state=None, n_iter=10, tol=1e-2, verbose=False, params="stmcw",
                 init_params="stmcw", implementation="log", acceleration="squarem",
                 stopping="remaining", n_init=1, reg_covar=None, learning_decay=0.7,
                 learning_offset=10.0):
        self._set_common(n_components, startprob_prior, transmat_prior, algorithm, random_state,
                         n_iter, tol, verbose, params, init_params, implementation, acceleration,
                         stopping, n_init, learning_decay, learning_offset)
        self.reg_covar = reg_covar
        self.n_mix = n_mix
        self.min_covar = min_covar
        self.weights_prior = weights_prior
        self.means_prior = means_prior
        self.means_weight = means_weight
        self.covars_prior = covars_prior
        self.covars_weight = covars_weight
        self.covariance_type = covariance_type

    def _covariance_type(self):
        return self.covariance_type

    def _n_mix(self):
        return int(self.n_mix)

    def _min_covar(self):
        return self.min_covar

    def _reg_covar(self):
        return None if self.reg_covar is None else float(self.reg_covar)

    def _priors(self, X):
        """The Dirichlet prior of the weights, and hmmlearn's
        normal-inverse-gamma (spherical, diagonal) and
        normal-inverse-Wishart (full, tied) priors of GMMHMM as the ``hmm``
        crate's ``NormalPrior``, with hmmlearn's defaults for None (maximum
        likelihood; for the spherical type ``covars_prior = −(n_features +
        2) / 2``, where hmmlearn's ``−(n_mix + 2) / 2`` is maximum
        likelihood only when n_mix = n_features)."""
        priors = super()._priors(X)
        k, m, d, t = self.n_components, self._n_mix(), X.shape[1], self.covariance_type
        w = _shaped("weights_prior", self.weights_prior, (k, m))
        priors["weights"] = None if np.all(w == 1.0) else w
        mu0 = _shaped("means_prior", self.means_prior, (k, m, d))
        lam = _shaped("means_weight", self.means_weight, (k, m))

        def given(value, default):
            return default if value is None else value

        if t == "full":
            scale = np.swapaxes(_shaped("covars_prior", given(self.covars_prior, 0.0), (k, m, d, d)), -1, -2)
            mass = _shaped("covars_weight", given(self.covars_weight, -(d + 2.0)), (k, m)) + d + 2
        elif t == "tied":
            scale = np.swapaxes(_shaped("covars_prior", given(self.covars_prior, 0.0), (k, d, d)), -1, -2)
            mass = _shaped("covars_weight", given(self.covars_weight, -(m + d + 1.0)), (k,)) + m + d + 1
        elif t == "diag":
            alpha = _shaped("covars_prior", given(self.covars_prior, -1.5), (k, m, d))
            scale = 2 * _shaped("covars_weight", given(self.covars_weight, 0.0), (k, m, d))
            mass = 2 * alpha + 3
        else:
            alpha = _shaped("covars_prior", given(self.covars_prior, -(d + 2.0) / 2), (k, m))
            scale = 2 * _shaped("covars_weight", given(self.covars_weight, 0.0), (k, m))
            mass = d + 2 * (alpha + 1)
        priors.update(_normal_prior(mu0, lam, scale, mass, "covars_prior and covars_weight"))
        return priors

    def _n_features_of(self):
        return np.shape(self.means_)[2]


class CategoricalHMM(_BaseHMM):
    """Hidden Markov model with categorical emissions (hmmlearn's
    ``CategoricalHMM``): ``b_j(x) = B[j, x]`` for the symbols
    ``x ∈ {0, …, n_features − 1}``, one column of non-negative integers.

    ``emissionprob_`` (K, n_features); ``emissionprob_prior`` is a
    Dirichlet prior on its rows.
    """

    _family = "categorical"
    _emission_params = (("e", "emissionprob_", "emissionprob"),)

    def __init__(self, n_components=1, startprob_prior=1.0, transmat_prior=1.0, *,
                 emissionprob_prior=1.0, n_features=None, algorithm="viterbi", random_state=None,
                 n_iter=10, tol=1e-2, verbose=False, params="ste", init_params="ste",
                 implementation="log", acceleration="squarem", stopping="remaining", n_init=1,
                 learning_decay=0.7, learning_offset=10.0):
        self._set_common(n_components, startprob_prior, transmat_prior, algorithm, random_state,
                         n_iter, tol, verbose, params, init_params, implementation, acceleration,
                         stopping, n_init, learning_decay, learning_offset)
        self.emissionprob_prior = emissionprob_prior
        self.n_features = n_features

    def _check_X(self, X):
        X = check_array(X, dtype=None, ensure_all_finite=False)
        if X.shape[1] != 1:
            raise ValueError(f"CategoricalHMM takes one column of symbols, got {X.shape[1]} columns")
        values = X[:, 0]
        if not np.issubdtype(values.dtype, np.integer):
            values = values.astype(float)
            bad = ~(np.isfinite(values) & (values == np.round(values)))
            if bad.any():
                row = int(np.argmax(bad)) + 1
                raise ValueError(f"symbols must be non-negative integers: row {row} (counting from 1) is {values[row - 1]!r}")
        if (values < 0).any():
            row = int(np.argmax(values < 0)) + 1
            raise ValueError(f"symbols must be non-negative integers: row {row} (counting from 1) is {values[row - 1]!r}")
        return c_array(X, dtype=float)

    def _n_symbols(self, X):
        if self.n_features is not None:
            return int(self.n_features)
        if hasattr(self, "emissionprob_") and "e" not in self.init_params:
            return int(np.shape(self.emissionprob_)[1])
        return None

    def _priors(self, X):
        priors = super()._priors(X)
        if np.all(np.asarray(self.emissionprob_prior) == 1.0):
            priors["emissionprob"] = None
        else:
            shape = (self.n_components, self._n_symbols_for_prior())
            priors["emissionprob"] = c_array(
                np.broadcast_to(np.asarray(self.emissionprob_prior, dtype=float), shape))
        return priors

    def _n_symbols_for_prior(self):
        prior = np.asarray(self.emissionprob_prior)
        if prior.ndim == 2:
            return prior.shape[1]
        if self.n_features is None:
            raise ValueError("a scalar emissionprob_prior other than 1 needs n_features")
        return int(self.n_features)

    def _n_features_of(self):
        return np.shape(self.emissionprob_)[1]

    def _sampled(self, X):
        return X.astype(int)


class PoissonHMM(_BaseHMM):
    """Hidden Markov model with Poisson emissions (hmmlearn's
    ``PoissonHMM``): independent counts per feature,
    ``b_j(x) = Π_c λ_jc^{x_c} e^{−λ_jc} / x_c!``.

    ``lambdas_`` (K, n_features), with the Gamma prior of the rates
    ``lambdas_prior``, ``lambdas_weight`` (default 0: maximum likelihood).
    """

    _family = "poisson"
    _emission_params = (("l", "lambdas_", "lambdas"),)

    def __init__(self, n_components=1, startprob_prior=1.0, transmat_prior=1.0, lambdas_prior=0.0,
                 lambdas_weight=0.0, algorithm="viterbi", random_state=None, n_iter=10, tol=1e-2,
                 verbose=False, params="stl", init_params="stl", implementation="log",
                 acceleration="squarem", stopping="remaining", n_init=1, learning_decay=0.7,
                 learning_offset=10.0):
        self._set_common(n_components, startprob_prior, transmat_prior, algorithm, random_state,
                         n_iter, tol, verbose, params, init_params, implementation, acceleration,
                         stopping, n_init, learning_decay, learning_offset)
        self.lambdas_prior = lambdas_prior
        self.lambdas_weight = lambdas_weight

    def _priors(self, X):
        """The Gamma prior of the rates, ``p(λ) ∝ λ^α e^{−βλ}`` with
        ``α = lambdas_prior``, ``β = lambdas_weight`` (scalars, (K,) per
        state, or (K, n_features)): ``λ_jc = (α + Σ_t γ_t(j) x_tc) /
        (β + Σ_t γ_t(j))``, its MAP estimate. hmmlearn divides by β plus the
        mass of all the states instead (the same with one state)."""
        priors = super()._priors(X)
        k, d = self.n_components, X.shape[1]
        alpha, beta = self.lambdas_prior, self.lambdas_weight
        shape = [_shaped(name, v, (k, 1) if np.size(v) == k and k != d else (k, d))
                 for name, v in (("lambdas_prior", alpha), ("lambdas_weight", beta))]
        shape = [c_array(np.broadcast_to(a, (k, d))) for a in shape]
        if np.any(shape[0]) or np.any(shape[1]):
            priors["lambdas_shape"], priors["lambdas_rate"] = shape
        return priors

    def _n_features_of(self):
        return np.shape(self.lambdas_)[1]

    def _sampled(self, X):
        return X.astype(int)


# The variational Bayesian HMMs live in their own module.
from emfit.variational_hmm import VariationalCategoricalHMM, VariationalGaussianHMM  # noqa: E402

__all__ += ["VariationalCategoricalHMM", "VariationalGaussianHMM"]
