"""Gaussian mixtures: ``GaussianMixture``, a drop-in replacement for
``sklearn.mixture.GaussianMixture`` fitted by emfit's EM, and
``BayesianGaussianMixture``, one for ``sklearn.mixture.BayesianGaussianMixture``
(the variational Bayesian mixture, fitted by the same loop).

A mixture of K Gaussians in d dimensions has the density

    p(x) = sum_k w_k N(x; mu_k, Sigma_k),

and EM maximises the (optionally weighted) log-likelihood
``L = sum_i s_i ln p(x_i)`` (``s_i`` the sample weights, 1 by default).
Every computation (start, E-step, M-step, stopping, restarts, inference,
sampling) runs in the compiled module ``emfit._emfit``; this module holds
scikit-learn's conventions: constructor arguments, validation, fitted
attributes, warnings.
"""

import warnings

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted, validate_data

from emfit import _dask, _emfit
from emfit._arrays import c_array
from emfit._random import seed

__all__ = ["BayesianGaussianMixture", "GaussianMixture"]

_COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
_INIT_PARAMS = ("kmeans", "k-means++", "random", "random_from_data")


def _rows(X):
    """``X`` as the C-contiguous float64 array the compiled module reads."""
    return c_array(X, dtype=np.float64)


def _check_shape(name, value, shape):
    """``value`` as a float64 array of the given shape, or a ``ValueError``."""
    array = c_array(value, dtype=np.float64)
    if array.shape != shape:
        raise ValueError(f"The parameter '{name}' should have the shape of {shape}, but got {array.shape}")
    return array


def _check_integer(estimator, name, low):
    """``ValueError`` unless the argument ``name`` is an int >= ``low``."""
    value = getattr(estimator, name)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"The '{name}' parameter must be an int >= {low}, got {value!r}")


def _check_mixture_parameters(estimator):
    """``ValueError`` naming the first invalid constructor argument that
    both mixture classes take."""

    def number(name):
        value = getattr(estimator, name)
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not value >= 0:
            raise ValueError(f"The '{name}' parameter must be a float >= 0, got {value!r}")

    _check_integer(estimator, "n_components", 1)
    _check_integer(estimator, "max_iter", 0)
    _check_integer(estimator, "n_init", 1)
    number("tol")
    number("reg_covar")
    if estimator.covariance_type not in _COVARIANCE_TYPES:
        raise ValueError(
            f"The 'covariance_type' parameter must be one of {_COVARIANCE_TYPES}, got {estimator.covariance_type!r}")
    if estimator.init_params not in _INIT_PARAMS:
        raise ValueError(f"The 'init_params' parameter must be one of {_INIT_PARAMS}, got {estimator.init_params!r}")


class GaussianMixture(DensityMixin, BaseEstimator):
    """Gaussian mixture fitted by EM, with scikit-learn's interface.

    The parameters, attributes and methods are those of
    ``sklearn.mixture.GaussianMixture`` (scikit-learn 1.9), with these
    additions:

    - ``fit(X, sample_weight=...)``: weighted EM, where row i counts
      ``sample_weight[i]`` times (integer weights give the fit of the data
      with repeated rows; a zero weight removes the row);
    - ``acceleration``: ``'squarem'`` (default) extrapolates EM steps
      (SQUAREM) and accepts an extrapolation only when it does not lower
      the log-likelihood; ``'none'`` is plain EM, scikit-learn's
      trajectory;
    - ``stopping``: ``'remaining'`` (default) stops when the gain still to
      come, estimated from the rate of EM, is within the tolerance;
      ``'gain'`` stops when the last gain is (scikit-learn's rule);
      ``'fixed'`` runs exactly ``max_iter`` iterations (no
      ``ConvergenceWarning``);
    - ``fit_report_``: what happened in the fit (see below);
    - ``fit(X)`` with ``X`` a ``dask.array.Array`` (or a list of chunks):
      the E-steps run on the Dask workers, chunk by chunk, and only the
      statistics come back; a start not given is initialised on a seeded
      sample of ``init_sample`` rows drawn across the chunks (see
      ``emfit._dask``). ``sample_weight`` is not supported there;
    - ``partial_fit(X)``: online (stepwise) EM over a stream of chunks, with
      the step sizes ``learning_decay`` and ``learning_offset`` (see
      ``partial_fit``).

    Parameters
    ----------
    n_components : int, default=1
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
    tol : float, default=1e-3
        Tolerance on the gain of the per-sample mean log-likelihood
        ``L / sum_i s_i``; the fit uses ``tol * sum_i s_i`` on ``L``.
    reg_covar : float, default=1e-6
        Added to the diagonal of every covariance (start and M-steps).
    max_iter : int, default=100
        EM iterations (M-steps) at most; 0 returns the start.
    n_init : int, default=1
        Restarts; the best log-likelihood wins. Their seeds derive from one
        master seed drawn from ``random_state``.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}, default='kmeans'
    weights_init : array of shape (n_components,), default=None
    means_init : array of shape (n_components, n_features), default=None
    precisions_init : array, default=None
        Initial precisions in the shape of ``precisions_``. Given initial
        parameters replace those of ``init_params``; when all three are
        given the fit starts from them.
    random_state : int, RandomState instance or None, default=None
    warm_start : bool, default=False
        Refit from the fitted parameters (one start, ``n_init`` ignored).
    verbose : int, default=0
        Non-zero prints every iteration's log-likelihood.
    verbose_interval : int, default=10
        Accepted for compatibility with scikit-learn; emfit prints every
        iteration when ``verbose`` is set.
    acceleration : {'squarem', 'none'}, default='squarem'
    stopping : {'remaining', 'gain', 'fixed'}, default='remaining'
    init_sample : int, default=100000
        Rows of the seeded sample that a fit of data held by Dask
        initialises on (the whole data when it has fewer rows: then the
        start is that of the same fit in memory).
    learning_decay : float, default=0.7
        The decay ``kappa`` in (0.5, 1] of ``partial_fit``'s step sizes
        ``rho_t = (t + learning_offset) ** -kappa``, ``t`` counting rows.
    learning_offset : float, default=10.0
        The offset ``t0 >= 0`` of those step sizes (larger: the first
        chunks weigh less against later ones).

    Attributes
    ----------
    weights_, means_, covariances_, precisions_, precisions_cholesky_ : arrays
        scikit-learn's shapes and conventions per covariance type
        (``precisions_cholesky_`` is the upper-triangular U with
        ``precision = U U^T``).
    converged_ : bool
    n_iter_ : int
        EM iterations that led to the returned parameters.
    lower_bound_ : float
        Per-sample mean log-likelihood ``L / sum_i s_i`` of the returned
        parameters (scikit-learn reports the value of the parameters one
        M-step before the returned ones).
    lower_bounds_ : list of float
        ``lower_bound_`` of every iteration of the winning restart, the
        start first (``n_iter_ + 1`` values).
    n_features_in_ : int
    fit_report_ : dict
        Termination, history, falls, work, diagnostics, restarts and their
        seeds, elapsed time and the whole report as text (``'text'``).
    """

    def __init__(
        self,
        n_components=1,
        *,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weights_init=None,
        means_init=None,
        precisions_init=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
        acceleration="squarem",
        stopping="remaining",
        init_sample=_dask.INIT_SAMPLE,
        learning_decay=0.7,
        learning_offset=10.0,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.acceleration = acceleration
        self.stopping = stopping
        self.init_sample = init_sample
        self.learning_decay = learning_decay
        self.learning_offset = learning_offset

    def _check_parameters(self):
        """``ValueError`` naming the first invalid constructor argument."""
        _check_mixture_parameters(self)
        _check_integer(self, "init_sample", 1)

    def _precisions_shape(self, n_features):
        k, d = self.n_components, n_features
        return {"full": (k, d, d), "tied": (d, d), "diag": (k, d), "spherical": (k,)}[self.covariance_type]

    def _parameters(self):
        """The fitted parameters as the compiled functions take them."""
        check_is_fitted(self)
        return self.weights_, self.means_, self.covariances_, self.covariance_type

    def fit(self, X, y=None, sample_weight=None):
        """Estimate the parameters by EM.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or data held by Dask
            A ``dask.array.Array`` (its row chunks are the chunks the
            E-steps map over) or a list of chunks (Dask arrays,
            ``dask.delayed`` objects or arrays): see ``emfit._dask``.
        y : ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Row i counts ``sample_weight[i]`` times (finite, >= 0, not all
            zero).

        Returns
        -------
        self
            Fitted. On an error (or Ctrl-C) the estimator is left as it was.
        """
        before = dict(self.__dict__)
        try:
            self._fit(X, sample_weight)
            self.__dict__.pop("_online_state", None)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(before)
            raise
        return self

    def partial_fit(self, X, y=None):
        """One step of online (stepwise) EM on the chunk ``X``.

        The running sufficient statistics ``s`` (per row) become
        ``(1 - rho) s + rho s(X) / n`` and the parameters their M-step;
        the first call starts as ``fit`` does, from the chunk (k-means or
        ``init_params``, the ``*_init`` arguments, or the fitted parameters
        with ``warm_start``), and its step is the chunk's alone. A chunk of
        ``n`` rows after ``t`` rows gets ``rho = 1 - prod_{j=t+1}^{t+n}
        (1 - (j + learning_offset) ** -learning_decay)``, the weight of its
        ``n`` rows as single steps: chunks weigh by their size. One pass
        over a stream reaches about the batch fit's log-likelihood (see the
        README's "Online EM").

        The stream's state (statistics, rows and chunks seen) is kept on
        the estimator and pickled with it: an unpickled estimator goes on
        as the uninterrupted one would, bit for bit. ``fit`` starts again
        from scratch.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The chunk; its width must be that of the first chunk. A NaN or
            an infinity is refused naming its row and column (1-based,
            within the chunk).
        y : ignored

        Returns
        -------
        self
            On an error the estimator is left as it was.

        Attributes set besides the parameters: ``n_samples_seen_`` and
        ``n_iter_`` (chunks seen), ``lower_bound_`` (the chunk's mean
        log-likelihood under the parameters before the step) and
        ``partial_fit_report_`` (the step's ``rho`` and counts).
        """
        before = dict(self.__dict__)
        try:
            self._partial_fit(X)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(before)
            raise
        return self

    def _partial_fit(self, X):
        """The online step; assigns the fitted attributes."""
        state = getattr(self, "_online_state", None)
        first = state is None
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_all_finite=False, reset=first)
        if first:
            # The start, as `fit` chooses it (no EM iteration).
            self._fit(X, None, max_iter=0)
        (weights, means, covariances), state, report = _emfit.gmm_partial_fit(
            _rows(X),
            self.weights_,
            self.means_,
            self.covariances_,
            self.covariance_type,
            float(self.reg_covar),
            state,
            float(self.learning_decay),
            float(self.learning_offset),
        )
        precisions, precisions_cholesky = _emfit.gmm_precisions(weights, means, covariances, self.covariance_type)
        self.weights_ = weights
        self.means_ = means
        self.covariances_ = covariances
        self.precisions_ = precisions
        self.precisions_cholesky_ = precisions_cholesky
        self._online_state = state
        self.converged_ = False
        self.n_iter_ = int(report["chunks_seen"])
        self.n_samples_seen_ = int(report["observations_seen"])
        self.lower_bound_ = report["log_likelihood"] / report["observations"]
        self.partial_fit_report_ = report
        for batch_only in ("lower_bounds_", "fit_report_"):
            self.__dict__.pop(batch_only, None)

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit as ``fit`` and return ``predict(X)`` of the fitted model.

        The fitted parameters are those whose log-likelihood the fit
        evaluated last, so the labels are those of ``fit(X).predict(X)``
        (one more pass over the data, which ``fit`` alone does not make).
        """
        return self.fit(X, y, sample_weight=sample_weight).predict(X)

    def _fit(self, X, sample_weight, max_iter=None):
        """The fit, of ``max_iter`` iterations at most (None:
        ``self.max_iter``); assigns the fitted attributes."""
        max_iter = self.max_iter if max_iter is None else max_iter
        chunks = None
        if _dask.is_dask(X):
            if sample_weight is not None:
                raise ValueError("sample_weight is not supported for data held by Dask")
            chunks = _dask.Chunks(X)
            n_samples, n_features = chunks.n_rows, chunks.width
            if n_samples < 2:
                raise ValueError(f"Found array with {n_samples} sample(s) while a minimum of 2 is required.")
            self.n_features_in_ = n_features
        else:
            X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
            n_samples, n_features = X.shape
        if n_samples < self.n_components:
            raise ValueError(
                "Expected n_samples >= n_components "
                f"but got n_components = {self.n_components}, n_samples = {n_samples}"
            )
        self._check_parameters()
        master = seed(self.random_state)
        x = None if chunks is not None else _rows(X)
        if sample_weight is not None:
            sample_weight = c_array(sample_weight, dtype=np.float64)
            if sample_weight.shape != (n_samples,):
                raise ValueError(f"sample_weight.shape == {sample_weight.shape}, expected {(n_samples,)}!")
        k = self.n_components
        given = {
            "weights_init": None if self.weights_init is None else _check_shape("weights", self.weights_init, (k,)),
            "means_init": None if self.means_init is None else _check_shape("means", self.means_init, (k, n_features)),
            "precisions_init": None
            if self.precisions_init is None
            else _check_shape(f"{self.covariance_type} precision", self.precisions_init, self._precisions_shape(n_features)),
        }
        warm = self.warm_start and hasattr(self, "converged_")
        if warm:
            start = (self.weights_, self.means_, self.covariances_, False)
        elif all(v is not None for v in given.values()):
            start = (given["weights_init"], given["means_init"], given["precisions_init"], True)
        else:
            start = None
        n_init = 1 if start is not None else self.n_init
        e_steps = None
        if chunks is not None:
            # The E-steps on the workers; the sample only for a start from the data.
            e_steps = chunks.e_steps("gmm", lambda parameters: parameters)
            x = np.zeros((0, n_features)) if start is not None else chunks.sample(int(self.init_sample), master)
        total_weight = float(n_samples if sample_weight is None else sample_weight.sum())
        weights, means, covariances, report = _emfit.gmm_fit(
            x,
            k,
            self.covariance_type,
            float(self.reg_covar),
            self.init_params,
            start,
            int(max_iter),
            float(self.tol) * total_weight,
            self.stopping,
            self.acceleration,
            int(n_init),
            master,
            bool(self.verbose),
            sample_weight=sample_weight,
            e_steps=e_steps,
            **({} if start is not None else given),
        )
        precisions, precisions_cholesky = _emfit.gmm_precisions(weights, means, covariances, self.covariance_type)
        if not report["converged"] and max_iter > 0 and self.stopping != "fixed":
            warnings.warn(
                "Best performing initialization did not converge "
                f"({report['termination']}). Try different init parameters, "
                "or increase max_iter, tol, or check for degenerate data.",
                ConvergenceWarning,
            )
        self.weights_ = weights
        self.means_ = means
        self.covariances_ = covariances
        self.precisions_ = precisions
        self.precisions_cholesky_ = precisions_cholesky
        self.converged_ = bool(report["converged"])
        self.n_iter_ = int(report["iterations"])
        self.lower_bound_ = report["log_likelihood"] / total_weight
        self.lower_bounds_ = [v / total_weight for v in report["history"]]
        self.fit_report_ = report

    def _data(self, X):
        """``X`` validated against the fitted model (after the fit check)."""
        params = self._parameters()
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return _rows(X), params

    def score_samples(self, X):
        """``ln p(x_i)`` for every row, shape (n_samples,)."""
        x, params = self._data(X)
        return _emfit.gmm_score_samples(x, *params)

    def score(self, X, y=None):
        """The mean of ``score_samples(X)``."""
        return float(np.mean(self.score_samples(X)))

    def predict_proba(self, X):
        """The responsibilities ``p(component k | x_i)``, shape (n_samples, n_components)."""
        x, params = self._data(X)
        return _emfit.gmm_predict_proba(x, *params)

    def predict(self, X):
        """The most probable component of every row, shape (n_samples,)."""
        return np.argmax(self.predict_proba(X), axis=1)

    def bic(self, X):
        """Bayesian information criterion ``-2 ln L(X) + p ln n`` (lower is better)."""
        x, params = self._data(X)
        return _emfit.gmm_bic(x, *params)

    def aic(self, X):
        """Akaike information criterion ``-2 ln L(X) + 2 p`` (lower is better)."""
        x, params = self._data(X)
        return _emfit.gmm_aic(x, *params)

    def sample(self, n_samples=1):
        """``n_samples`` points drawn from the fitted mixture, with a
        generator seeded from ``random_state``: ``(X, y)``, the points
        (n_samples, n_features) and their components (n_samples,)."""
        params = self._parameters()
        if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
            raise ValueError(f"Invalid value for 'n_samples': {n_samples!r}. The sampling requires at least one sample.")
        return _emfit.gmm_sample(int(n_samples), seed(self.random_state), *params)


_WEIGHT_PRIORS = ("dirichlet_process", "dirichlet_distribution")


class BayesianGaussianMixture(DensityMixin, BaseEstimator):
    """Variational Bayesian Gaussian mixture, with scikit-learn's interface.

    The parameters, attributes and methods are those of
    ``sklearn.mixture.BayesianGaussianMixture`` (scikit-learn 1.9): a
    Dirichlet distribution or a Dirichlet process (stick-breaking, truncated
    at ``n_components``) on the weights, Normal-Wishart priors on the means
    and precisions, priors left ``None`` set from the data as scikit-learn
    sets them, and the lower bound of scikit-learn's ``_compute_lower_bound``
    (the same value, constants included). Additions:

    - ``resp_init``: start from these responsibilities, shape
      (n_samples, n_components), instead of ``init_params`` (e.g. the ones
      scikit-learn started from, for the same trajectory);
    - ``stopping``: ``'gain'`` (default: the last gain of the lower bound
      is within ``tol``, scikit-learn's rule), ``'remaining'`` or
      ``'fixed'`` (exactly ``max_iter`` iterations);
    - ``n_effective_components_``: the components of weight above 1%;
    - ``fit_report_``: what happened in the fit (objective
      ``'lower bound'``).

    The fit takes no acceleration (SQUAREM does not apply to the
    variational parameters) and ``warm_start=True`` is refused.
    ``init_params`` is ``'kmeans'`` or ``'random'``.

    Attributes
    ----------
    weights_, means_, covariances_, precisions_, precisions_cholesky_ : arrays
    weight_concentration_ : array, or a pair of arrays for the Dirichlet process
    mean_precision_, degrees_of_freedom_ : arrays (one value of
        ``degrees_of_freedom_`` for ``'tied'``)
    weight_concentration_prior_, mean_precision_prior_, mean_prior_,
    degrees_of_freedom_prior_, covariance_prior_ : the priors used
    lower_bound_ : float
        The lower bound of the returned posterior.
    lower_bounds_ : list of float
        The lower bound after every iteration (``n_iter_`` values, as
        scikit-learn's); ``fit_report_['history']`` also has the start's.
    converged_, n_iter_, n_features_in_, n_effective_components_, fit_report_
    """

    def __init__(
        self,
        *,
        n_components=1,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weight_concentration_prior_type="dirichlet_process",
        weight_concentration_prior=None,
        mean_precision_prior=None,
        mean_prior=None,
        degrees_of_freedom_prior=None,
        covariance_prior=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
        resp_init=None,
        stopping="gain",
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weight_concentration_prior_type = weight_concentration_prior_type
        self.weight_concentration_prior = weight_concentration_prior
        self.mean_precision_prior = mean_precision_prior
        self.mean_prior = mean_prior
        self.degrees_of_freedom_prior = degrees_of_freedom_prior
        self.covariance_prior = covariance_prior
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.resp_init = resp_init
        self.stopping = stopping

    def fit(self, X, y=None):
        """Fit the variational posterior by coordinate ascent on the lower
        bound. On an error (or Ctrl-C) the estimator is left as it was."""
        before = dict(self.__dict__)
        try:
            self._fit(X)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(before)
            raise
        return self

    def fit_predict(self, X, y=None):
        """``fit(X).predict(X)``."""
        return self.fit(X).predict(X)

    def _check_parameters(self):
        """``ValueError`` naming the first invalid constructor argument."""
        _check_mixture_parameters(self)
        if self.weight_concentration_prior_type not in _WEIGHT_PRIORS:
            raise ValueError(
                "The 'weight_concentration_prior_type' parameter must be one of "
                f"{_WEIGHT_PRIORS}, got {self.weight_concentration_prior_type!r}"
            )
        if self.warm_start:
            raise ValueError("warm_start=True is not supported by emfit's BayesianGaussianMixture")

    def _fit(self, X):
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        n_samples, n_features = X.shape
        if n_samples < self.n_components:
            raise ValueError(
                "Expected n_samples >= n_components "
                f"but got n_components = {self.n_components}, n_samples = {n_samples}"
            )
        self._check_parameters()
        if self.init_params not in ("kmeans", "random") and self.resp_init is None:
            raise ValueError(f"The 'init_params' parameter must be 'kmeans' or 'random', got {self.init_params!r}")
        k, d = self.n_components, n_features
        prior_shape = {"full": (d, d), "tied": (d, d), "diag": (d,), "spherical": ()}[self.covariance_type]

        def optional(value):
            return None if value is None else float(value)

        out = _emfit.bgmm_fit(
            _rows(X),
            k,
            self.covariance_type,
            self.weight_concentration_prior_type,
            optional(self.weight_concentration_prior),
            optional(self.mean_precision_prior),
            None if self.mean_prior is None else _check_shape("means", self.mean_prior, (d,)),
            optional(self.degrees_of_freedom_prior),
            None
            if self.covariance_prior is None
            else _check_shape(f"{self.covariance_type} covariance_prior", self.covariance_prior, prior_shape).reshape(-1),
            float(self.reg_covar),
            self.init_params,
            None if self.resp_init is None else _check_shape("resp_init", self.resp_init, (n_samples, k)),
            int(self.max_iter),
            float(self.tol),
            self.stopping,
            int(self.n_init),
            seed(self.random_state),
            bool(self.verbose),
        )
        report = out["report"]
        precisions, precisions_cholesky = _emfit.gmm_precisions(
            out["expected_weights"], out["means"], out["covariances"], self.covariance_type
        )
        if not report["converged"] and self.max_iter > 0 and self.stopping != "fixed":
            warnings.warn(
                "Best performing initialization did not converge "
                f"({report['termination']}). Try different init parameters, "
                "or increase max_iter, tol, or check for degenerate data.",
                ConvergenceWarning,
            )
        self.weights_ = out["weights"]
        self.means_ = out["means"]
        self.covariances_ = out["covariances"]
        self.precisions_ = precisions
        self.precisions_cholesky_ = precisions_cholesky
        self.weight_concentration_ = out["weight_concentration"]
        self.mean_precision_ = out["mean_precision"]
        self.degrees_of_freedom_ = out["degrees_of_freedom"]
        self.weight_concentration_prior_ = out["weight_concentration_prior"]
        self.mean_precision_prior_ = out["mean_precision_prior"]
        self.mean_prior_ = out["mean_prior"]
        self.degrees_of_freedom_prior_ = out["degrees_of_freedom_prior"]
        covariance_prior = out["covariance_prior"]
        self.covariance_prior_ = float(covariance_prior[0]) if prior_shape == () else covariance_prior.reshape(prior_shape)
        self.converged_ = bool(report["converged"])
        self.n_iter_ = int(report["iterations"])
        self.lower_bound_ = float(out["lower_bound"])
        self.lower_bounds_ = list(report["history"][1:])
        self.n_effective_components_ = int(out["n_effective_components"])
        self.fit_report_ = report
        self._expected = (out["expected_weights"], out["log_weight_normaliser"])

    def _data(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return _rows(X), (self._expected[0], self.means_, self.covariances_, self.covariance_type)

    def score_samples(self, X):
        """``ln sum_k rho_ik`` for every row (the variational log density,
        scikit-learn's ``score_samples``), shape (n_samples,)."""
        x, params = self._data(X)
        return _emfit.gmm_score_samples(x, *params) + self._expected[1]

    def score(self, X, y=None):
        """The mean of ``score_samples(X)``."""
        return float(np.mean(self.score_samples(X)))

    def predict_proba(self, X):
        """The responsibilities, shape (n_samples, n_components)."""
        x, params = self._data(X)
        return _emfit.gmm_predict_proba(x, *params)

    def predict(self, X):
        """The most probable component of every row, shape (n_samples,)."""
        return np.argmax(self.predict_proba(X), axis=1)
