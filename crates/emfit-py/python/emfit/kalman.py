"""Linear Gaussian state-space models: ``KalmanFilter``, a drop-in
replacement for ``pykalman.KalmanFilter`` (pykalman 0.11).

The model, in pykalman's notation (``A`` = ``transition_matrices``, ``b`` =
``transition_offsets``, ``Q`` = ``transition_covariance``, ``C`` =
``observation_matrices``, ``d`` = ``observation_offsets``, ``R`` =
``observation_covariance``, ``mu_0``, ``Sigma_0`` the initial state's mean
and covariance)::

    x_0 ~ N(mu_0, Sigma_0)
    x_t = A_{t-1} x_{t-1} + b_{t-1} + w_t,   w_t ~ N(0, Q_{t-1})
    z_t = C_t x_t + d_t + v_t,               v_t ~ N(0, R_t)

Any of ``A``, ``Q``, ``C``, ``R`` may vary in time, given as a 3-D array
(pykalman's convention: entry t - 1 of ``transition_matrices`` and
``transition_covariance`` acts on the transition into step t, entry t of
``observation_matrices`` and ``observation_covariance`` on observation t;
an array longer than the data needs is cut, a shorter one is a
``ValueError``); a 2-D one is the same at every step. The offsets likewise
are 1-D (constant) or 2-D (one row per step).

The filter, the Rauch-Tung-Striebel smoother, the likelihood, EM and
sampling run in Rust (the statespace crate); this module holds pykalman's
interface. The offsets are removed exactly: by linearity ``x_t = x'_t + c_t``
and ``z_t = z'_t + e_t`` with the deterministic path ``c_0 = 0``,
``c_t = A_{t-1} c_{t-1} + b_{t-1}``, ``e_t = C_t c_t + d_t``, where ``(x', z')``
follows the model without offsets. So the filtered and smoothed means are
those of the model without offsets on ``z - e``, plus ``c``; the
covariances and the likelihood are unchanged.

Differences from pykalman, on purpose:

- a masked array marks missing *values*: a row with some entries masked
  updates the state with its observed entries (pykalman drops the whole
  row); a row masked entirely is skipped, as in pykalman. An unmasked NaN
  is an error (mask it to mark it missing);
- ``em`` runs the exact EM of the statespace crate; by default plain EM for
  exactly ``n_iter`` iterations, pykalman's trajectory. Beyond pykalman:
  ``stopping='remaining'`` with ``tol`` stops at convergence (then
  ``n_iter`` is a cap), ``acceleration='squarem'`` accelerates it, the
  ``transition_covariance_type`` / ``observation_covariance_type`` options
  constrain Q and R to ``'diagonal'`` or ``'scalar'`` (a multiple of the
  identity), and ``fit_report_`` reports the fit;
- covariances must be symmetric positive definite (``ValueError`` naming
  the matrix, and for a 3-D one the index of the bad step, otherwise), and
  nothing returned is ever NaN;
- ``loglikelihood`` with a 3-D ``observation_covariance`` uses ``R_t`` at
  step t (pykalman's adds every ``R_t`` at each step and fails).

With 3-D ``transition_matrices``, EM learns ``transition_covariance`` and
``transition_offsets`` (the regression of the residual
``x_t - A_t x_{t-1}``, as pykalman), likewise the observation side with
3-D ``observation_matrices``. With a 3-D ``transition_covariance``, EM
learns ``transition_matrices`` and ``transition_offsets`` by least squares
weighted by the per-step inverse covariances (the exact maximiser;
pykalman ignores the weights), likewise the observation side with a 3-D
``observation_covariance``.

Not implemented (``NotImplementedError`` naming the parameter): EM of a
time-varying parameter (a 3-D matrix, a 2-D offset); EM of the offsets
of a regression whose matrices and covariance are both 3-D; EM of
``transition_matrices`` or ``observation_matrices`` with time-varying
``transition_offsets`` (the deterministic path then depends on the matrix
being learned). Constant offsets are parameters of the Rust model: any of
them is learned with any other block, all learned blocks maximised
jointly (pykalman updates them one after the other, so with offsets and
other blocks in ``em_vars`` the iterations differ from pykalman's; every
one of them still never lowers the log-likelihood).
"""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from emfit import _emfit
from emfit._arrays import c_array
from emfit._random import seed

__all__ = ["KalmanFilter"]

#: pykalman's EM variables, and the Rust block each learns (the offsets
#: are input blocks of the Rust model).
_EM_BLOCKS = {
    "transition_matrices": "A",
    "observation_matrices": "H",
    "transition_offsets": "transition_offset",
    "observation_offsets": "observation_offset",
    "transition_covariance": "Q",
    "observation_covariance": "R",
    "initial_state_mean": "m0",
    "initial_state_covariance": "P0",
}

#: The matrices pykalman lets vary in time (3-D arrays), in the order the
#: Rust side takes them, with how many fewer steps than the data each needs
#: (T - 1 transitions, T observations).
_MATRICES = (
    ("transition_matrices", 1),
    ("transition_covariance", 1),
    ("observation_matrices", 0),
    ("observation_covariance", 0),
)

_DEFAULT_EM_VARS = [
    "transition_covariance",
    "observation_covariance",
    "initial_state_mean",
    "initial_state_covariance",
]


def _dimension(values, given, what):
    """The dimension the given parameters agree on (``given`` if not None,
    else 1 when no parameter says), or ValueError naming the disagreement."""
    found = {}
    for name, value, ndim, axis in values:
        if value is not None:
            array = np.atleast_1d(np.asarray(value)) if ndim == 1 else np.atleast_2d(np.asarray(value))
            found[name] = array.shape[axis]
    if given is not None:
        found[what] = int(given)
    sizes = set(found.values())
    if len(sizes) > 1:
        listed = ", ".join(f"{k} gives {v}" for k, v in found.items())
        raise ValueError(f"the parameters disagree on {what}: {listed}")
    return sizes.pop() if sizes else 1


def _check(name, value, shape):
    """``value`` as a float array of ``shape``, or ValueError naming it."""
    array = np.asarray(value, dtype=float)
    if array.shape != shape:
        raise ValueError(f"{name} has shape {array.shape}, expected {shape}")
    return c_array(array)


def _offsets(name, value, rows, dim):
    """An offset as a (rows, dim) array: a constant (dim,) offset repeated,
    or the first ``rows`` of a time-varying one (pykalman uses row t at
    step t)."""
    if value.ndim == 1:
        return c_array(np.broadcast_to(value, (rows, dim)))
    if value.shape[0] < rows:
        raise ValueError(f"{name} has {value.shape[0]} rows, the data need at least {rows}")
    return c_array(value[:rows])


def _split(blocks, t):
    """The model's ``(A, Q, C, R)`` and the time-varying ones of a series of
    ``t`` steps: ``(constant, varying)``, a 3-D block (see ``_MATRICES``)
    cut to the steps it acts at (pykalman ignores the rest) in ``varying``,
    with a valid stand-in in ``constant`` that no step uses (an identity),
    a 2-D block in ``constant`` with None in ``varying``."""
    constant, varying = [], []
    for (name, fewer), value in zip(_MATRICES, blocks):
        if value.ndim == 2:
            constant.append(value)
            varying.append(None)
            continue
        need = max(t - fewer, 0)
        if value.shape[0] < need:
            raise ValueError(f"{name} has {value.shape[0]} time-varying matrices, the data need at least {need}")
        constant.append(np.eye(*value.shape[1:]))
        varying.append(value[:need])
    return tuple(constant), tuple(varying)


def _missing_as_nan(name, z):
    """The (T, p) masked array ``z`` as a float array with NaN for its
    masked values; ValueError for an unmasked NaN."""
    values = np.ma.getdata(z).astype(float)
    mask = np.ma.getmaskarray(z)
    bad = np.isnan(values) & ~mask
    if bad.any():
        t, j = np.argwhere(bad)[0]
        raise ValueError(
            f"{name} has an unmasked NaN at step {t}, coordinate {j}: mask it (numpy.ma) to mark a missing value"
        )
    values[mask] = np.nan
    return c_array(values)


class KalmanFilter:
    """Kalman filter, RTS smoother and EM for a linear Gaussian state-space
    model, with pykalman's constructor, attributes and methods.

    Parameters (pykalman's; ``n`` = ``n_dim_state``, ``p`` = ``n_dim_obs``)
    ----------
    transition_matrices : (n, n) or (T-1, n, n) array, default identity
    observation_matrices : (p, n) or (T, p, n) array, default ``numpy.eye(p, n)``
    transition_covariance : (n, n) or (T-1, n, n) array, default identity
    observation_covariance : (p, p) or (T, p, p) array, default identity
    transition_offsets : (n,) or (T-1, n) array, default zeros
    observation_offsets : (p,) or (T, p) array, default zeros
    initial_state_mean : (n,) array, default zeros
    initial_state_covariance : (n, n) array, default identity
    random_state : None, int or numpy.random.RandomState, for ``sample``
    em_vars : list of names or ``'all'``, the parameters ``em`` learns;
        default transition_covariance, observation_covariance,
        initial_state_mean, initial_state_covariance
    n_dim_state, n_dim_obs : int, the dimensions when no parameter gives them

    Attributes
    ----------
    fit_report_ : dict
        After ``em``: the fit report (termination, history of the
        log-likelihood, work, diagnostics; see ``emfit``'s reports).
    """

    def __init__(
        self,
        transition_matrices=None,
        observation_matrices=None,
        transition_covariance=None,
        observation_covariance=None,
        transition_offsets=None,
        observation_offsets=None,
        initial_state_mean=None,
        initial_state_covariance=None,
        random_state=None,
        em_vars=None,
        n_dim_state=None,
        n_dim_obs=None,
    ):
        self.n_dim_state = _dimension(
            [
                ("transition_matrices", transition_matrices, 2, -2),
                ("transition_offsets", transition_offsets, 1, -1),
                ("transition_covariance", transition_covariance, 2, -2),
                ("initial_state_mean", initial_state_mean, 1, -1),
                ("initial_state_covariance", initial_state_covariance, 2, -2),
                ("observation_matrices", observation_matrices, 2, -1),
            ],
            n_dim_state,
            "n_dim_state",
        )
        self.n_dim_obs = _dimension(
            [
                ("observation_matrices", observation_matrices, 2, -2),
                ("observation_offsets", observation_offsets, 1, -1),
                ("observation_covariance", observation_covariance, 2, -2),
            ],
            n_dim_obs,
            "n_dim_obs",
        )
        self.transition_matrices = transition_matrices
        self.observation_matrices = observation_matrices
        self.transition_covariance = transition_covariance
        self.observation_covariance = observation_covariance
        self.transition_offsets = transition_offsets
        self.observation_offsets = observation_offsets
        self.initial_state_mean = initial_state_mean
        self.initial_state_covariance = initial_state_covariance
        self.random_state = random_state
        self.em_vars = em_vars
        self._em_vars = list(_DEFAULT_EM_VARS) if em_vars is None else em_vars

    # ------------------------------------------------------------------
    # Parameters and data

    def _parameters(self):
        """The eight parameters as float arrays, defaults filled in, shapes
        checked: ``(A, b, Q, C, d, R, mu_0, Sigma_0)`` with the matrices
        2-D (constant) or 3-D (one per step, of any length here: see
        ``_split``) and the offsets 1-D (constant) or 2-D (one row per
        step)."""
        n, p = self.n_dim_state, self.n_dim_obs

        def given(name, default):
            value = getattr(self, name)
            return default if value is None else value

        def matrices(name, default, shape):
            value = np.asarray(given(name, default), dtype=float)
            if value.ndim != 3:
                return _check(name, np.atleast_2d(value), shape)
            if value.shape[1:] != shape:
                steps = "n_timesteps - 1" if name.startswith("transition") else "n_timesteps"
                raise ValueError(f"{name} has shape {value.shape}, expected {shape} or ({steps}, {shape[0]}, {shape[1]})")
            return c_array(value)

        a = matrices("transition_matrices", np.eye(n), (n, n))
        q = matrices("transition_covariance", np.eye(n), (n, n))
        c = matrices("observation_matrices", np.eye(p, n), (p, n))
        r = matrices("observation_covariance", np.eye(p), (p, p))
        m0 = _check("initial_state_mean", np.atleast_1d(given("initial_state_mean", np.zeros(n))), (n,))
        p0 = _check("initial_state_covariance", np.atleast_2d(given("initial_state_covariance", np.eye(n))), (n, n))
        b = np.atleast_1d(np.asarray(given("transition_offsets", np.zeros(n)), dtype=float))
        d = np.atleast_1d(np.asarray(given("observation_offsets", np.zeros(p)), dtype=float))
        for name, value, dim in (("transition_offsets", b, n), ("observation_offsets", d, p)):
            if value.ndim > 2 or value.shape[-1] != dim:
                raise ValueError(f"{name} has shape {value.shape}, expected ({dim},) or (n_timesteps, {dim})")
            if not np.all(np.isfinite(value)):
                raise ValueError(f"{name} has a non-finite value")
        return a, b, q, c, d, r, m0, p0

    def _observations(self, X):
        """X as a (T, p) float array with NaN for its masked values, as
        pykalman parses it (a 1-D X or a single row are one column)."""
        z = np.ma.atleast_2d(X)
        if z.shape[0] == 1 and z.shape[1] > 1:
            z = z.T
        if z.ndim != 2 or z.shape[1] != self.n_dim_obs:
            raise ValueError(f"X has shape {z.shape}, expected (n_timesteps, {self.n_dim_obs}) (n_dim_obs)")
        if z.shape[0] == 0:
            raise ValueError("X has no time steps")
        return _missing_as_nan("X", z)

    @staticmethod
    def _path(model, varying, b, d, t, c0=None):
        """The deterministic path ``(c_t, e_t)`` of the offsets over ``t``
        steps (see the module docstring) with the model's ``(A, Q, C, R)``
        and the time-varying ones of ``_split``, or None when there are no
        offsets and no start shift."""
        if c0 is None and not (b.any() or d.any()):
            return None
        a, c = model[0], model[2]
        n, p = a.shape[0], c.shape[0]
        start = np.zeros(n) if c0 is None else c_array(c0, dtype=float)
        bt = _offsets("transition_offsets", b, t - 1, n)
        dt = _offsets("observation_offsets", d, t, p)
        return _emfit.kalman_shift(a, c, start, bt, dt, varying[0], varying[2])

    def _without_offsets(self, X):
        """X without the offsets: ``(z - e, (c, e) or None, the model's six
        arrays, the time-varying matrices)``."""
        a, b, q, c, d, r, m0, p0 = self._parameters()
        y = self._observations(X)
        model, varying = _split((a, q, c, r), y.shape[0])
        path = self._path(model, varying, b, d, y.shape[0])
        if path is not None:
            y = y - path[1]
        return y, path, (*model, m0, p0), varying

    def _inference(self, X, function):
        """Runs ``function`` (filter or smoother) on X without the offsets:
        ``(means, covariances, log-likelihood)``."""
        y, path, params, varying = self._without_offsets(X)
        means, covariances, ll = function(y, params, varying)
        if path is not None:
            means += path[0]
        return means, covariances, ll

    # ------------------------------------------------------------------
    # pykalman's methods

    def filter(self, X):
        """The Kalman filter: the means and covariances of ``p(x_t | z_0..z_t)``.

        Returns ``(filtered_state_means (T, n), filtered_state_covariances
        (T, n, n))``. The first step updates the prior ``(mu_0, Sigma_0)``
        with ``z_0`` (no prediction before it), as pykalman does.
        """
        means, covariances, _ = self._inference(X, _emfit.kalman_filter)
        return means, covariances

    def smooth(self, X):
        """The Rauch-Tung-Striebel smoother: the means and covariances of
        ``p(x_t | z_0..z_{T-1})``.

        Returns ``(smoothed_state_means (T, n), smoothed_state_covariances
        (T, n, n))``.
        """
        means, covariances, _ = self._inference(X, _emfit.kalman_smooth)
        return means, covariances

    def loglikelihood(self, X):
        """``ln p(z_0, ..., z_{T-1})``, the sum over steps of the
        log-density of each step's observed values given the earlier ones."""
        y, _, params, varying = self._without_offsets(X)
        return _emfit.kalman_loglikelihood(y, params, varying)

    def filter_update(
        self,
        filtered_state_mean,
        filtered_state_covariance,
        observation=None,
        transition_matrix=None,
        transition_offset=None,
        transition_covariance=None,
        observation_matrix=None,
        observation_offset=None,
        observation_covariance=None,
    ):
        """One step of the filter: from the filtered moments of ``x_t``
        (``filtered_state_covariance`` must be positive definite) to those
        of ``x_{t+1}`` given ``observation`` (``z_{t+1}``): the prediction
        ``A m + b``, ``A P A^T + Q``, then the update with the observed
        values. ``observation`` None, or masked entirely, predicts only.
        The other arguments replace the model's parameters for this step;
        a parameter that varies in time (3-D matrices, 2-D offsets) must be
        given (``ValueError`` otherwise, as in pykalman).

        Returns ``(next_filtered_state_mean (n,), next_filtered_state_covariance (n, n))``.
        """
        a, b, q, c, d, r, _, _ = self._parameters()
        n = self.n_dim_state
        # This step may observe another number of values (pykalman allows
        # it): p is that of the given observation matrix.
        p = self.n_dim_obs if observation_matrix is None else np.atleast_2d(observation_matrix).shape[0]
        for name, value, given, argument in (
            ("transition_matrices", a, transition_matrix, "transition_matrix"),
            ("transition_covariance", q, transition_covariance, "transition_covariance"),
            ("observation_matrices", c, observation_matrix, "observation_matrix"),
            ("observation_covariance", r, observation_covariance, "observation_covariance"),
            ("transition_offsets", b, transition_offset, "transition_offset"),
            ("observation_offsets", d, observation_offset, "observation_offset"),
        ):
            if value.ndim == (2 if name.endswith("offsets") else 3) and given is None:
                raise ValueError(f"{name} vary in time: pass this step's {argument} to filter_update")
        a = a if transition_matrix is None else _check("transition_matrix", np.atleast_2d(transition_matrix), (n, n))
        q = q if transition_covariance is None else _check("transition_covariance", np.atleast_2d(transition_covariance), (n, n))
        c = c if observation_matrix is None else _check("observation_matrix", np.atleast_2d(observation_matrix), (p, n))
        r = r if observation_covariance is None else _check("observation_covariance", np.atleast_2d(observation_covariance), (p, p))
        b = b if transition_offset is None else _check("transition_offset", np.atleast_1d(transition_offset), (n,))
        if observation_offset is not None:
            d = _check("observation_offset", np.atleast_1d(observation_offset), (p,))
        elif d.shape[-1] != p:
            if d.any():
                raise ValueError(f"observation_offset is needed: this step observes {p} values, the model {d.shape[-1]}")
            d = np.zeros(p)
        mean = _check("filtered_state_mean", np.atleast_1d(filtered_state_mean), (n,))
        cov = _check("filtered_state_covariance", np.atleast_2d(filtered_state_covariance), (n, n))
        if observation is None:
            z = np.ma.masked_all((1, p))
        else:
            z = np.ma.asarray(observation, dtype=float).reshape(1, -1)
            if z.shape[1] != p:
                raise ValueError(f"observation has {z.shape[1]} values, expected {p}")
        # Two steps of the filter: the first, wholly missing, keeps the
        # given moments as its prior; the second predicts and updates.
        y = _missing_as_nan("observation", np.ma.concatenate([np.ma.masked_all((1, p)), z]))
        shift, e = _emfit.kalman_shift(a, c, np.zeros(n), b.reshape(1, n), c_array(np.broadcast_to(d, (2, p))))
        try:
            means, covariances, _ = _emfit.kalman_filter(y - e, (a, q, c, r, mean, cov))
        except ValueError as error:
            raise ValueError(str(error).replace("initial_state_covariance", "filtered_state_covariance")) from None
        return means[1] + shift[1], covariances[1]

    def sample(self, n_timesteps, initial_state=None, random_state=None):
        """Draws ``n_timesteps`` steps of states and observations (with the
        time-varying matrices of the first steps, if any).

        ``initial_state`` fixes ``x_0`` (else it is drawn from
        ``N(mu_0, Sigma_0)``); ``random_state`` (else the constructor's)
        seeds the draw: the same seed gives the same sample (not pykalman's
        numbers: the draws are emfit's). Returns ``(states (T, n),
        observations (T, p))``, the observations a masked array as in
        pykalman.
        """
        a, b, q, c, d, r, m0, p0 = self._parameters()
        model, varying = _split((a, q, c, r), int(n_timesteps))
        draw = seed(self.random_state if random_state is None else random_state)
        states, observations = _emfit.kalman_sample(int(n_timesteps), draw, (*model, m0, p0), varying)
        if n_timesteps > 0:
            start = None
            if initial_state is not None:
                start = _check("initial_state", np.atleast_1d(initial_state), (self.n_dim_state,)) - states[0]
            path = self._path(model, varying, b, d, int(n_timesteps), start)
            if path is not None:
                states += path[0]
                observations += path[1]
        return states, np.ma.array(observations)

    def em(
        self,
        X,
        y=None,
        n_iter=10,
        em_vars=None,
        *,
        stopping="fixed",
        tol=1e-6,
        acceleration="none",
        transition_covariance_type="full",
        observation_covariance_type="full",
        verbose=False,
    ):
        """Learns the parameters named in ``em_vars`` (default: the
        constructor's) by EM; returns self.

        The E-step is the filter and the RTS smoother; the M-step the
        closed-form maximiser of the expected complete-data log-likelihood
        over the learned blocks (not a time-varying one, nor one of the
        regression of a time-varying covariance: see the module docstring;
        ``NotImplementedError`` at the first M-step) (``A = C Phi^-1``, ``Q`` the mean residual
        second moment of the transitions with the new ``A``; likewise ``C``
        and ``R`` over the observed steps; ``mu_0 = E[x_0]``,
        ``Sigma_0 = E[(x_0 - mu_0)(x_0 - mu_0)^T]``; constant offsets as
        the coefficients of a constant input, jointly with ``A`` and ``C``:
        ``[A b]`` from the moments of ``(x_{t-1}, 1)``, ``[C d]`` from those
        of ``(x_t, 1)``). Each iteration never lowers the log-likelihood.

        By default exactly ``n_iter`` plain EM iterations (pykalman's).
        ``stopping='remaining'`` or ``'gain'`` stop once the gain still to
        come (estimated from the rate of EM) or the last gain is below
        ``tol`` (absolute, in log-likelihood), with ``n_iter`` a cap, and
        warn with ``ConvergenceWarning`` if the cap stops the fit first;
        ``acceleration='squarem'`` accelerates the iterations;
        ``transition_covariance_type`` and ``observation_covariance_type``
        (``'full'``, ``'diagonal'``, ``'scalar'``) constrain Q and R. The
        fit report is ``fit_report_``. The parameters are assigned only
        when the fit succeeds: a failed or interrupted fit leaves the
        estimator as it was.
        """
        del y  # pykalman's signature: unused
        a, b, q, c, d, r, m0, p0 = self._parameters()
        data = self._observations(X)
        model, varying = _split((a, q, c, r), data.shape[0])
        names = self._em_vars if em_vars is None else em_vars
        names = list(_EM_BLOCKS) if isinstance(names, str) and names == "all" else list(names)
        learn, learn_offsets = [], []
        for name in names:
            if name not in _EM_BLOCKS:
                raise ValueError(f"em_vars has {name!r}, expected names among {sorted(_EM_BLOCKS)} or 'all'")
            (learn_offsets if name.endswith("_offsets") else learn).append(_EM_BLOCKS[name])
        # Constant offsets are parameters of the Rust model; offsets that
        # vary in time are removed by their deterministic path, which depends
        # on A and C (and is not learned).
        constant = b.ndim == 1 and d.ndim == 1
        if not constant:
            for name in ("transition_offsets", "observation_offsets"):
                if name in names:
                    raise NotImplementedError(f"EM of time-varying {name} is not supported by emfit yet")
            if b.any() and ("A" in learn or "H" in learn):
                raise NotImplementedError(
                    "EM of transition_matrices or observation_matrices with time-varying transition_offsets "
                    "is not supported by emfit yet"
                )
        if n_iter < 0:
            raise ValueError(f"n_iter must be >= 0, got {n_iter}")
        report = None
        if (learn or learn_offsets) and n_iter > 0:
            if constant:
                shifted, offsets = data, (b, d)
            else:
                path = self._path(model, varying, b, d, data.shape[0])
                shifted = data if path is None else data - path[1]
                offsets = (np.zeros(self.n_dim_state), np.zeros(self.n_dim_obs))
            (*fitted, m0, p0, b_fit, d_fit), report = _emfit.kalman_em(
                shifted,
                (*model, m0, p0),
                offsets,
                ",".join(learn),
                ",".join(learn_offsets),
                transition_covariance_type,
                observation_covariance_type,
                int(n_iter),
                float(tol),
                stopping,
                acceleration,
                bool(verbose),
                varying,
            )
            # A time-varying block is not learned: it stays as given.
            a, q, c, r = (old if old.ndim == 3 else new for old, new in zip((a, q, c, r), fitted))
            if constant:
                b, d = b_fit, d_fit
            if stopping != "fixed" and not report["converged"]:
                warnings.warn(
                    f"EM did not converge within n_iter={n_iter} iterations: {report['termination']}",
                    ConvergenceWarning,
                    stacklevel=2,
                )
        (
            self.transition_matrices,
            self.transition_offsets,
            self.transition_covariance,
            self.observation_matrices,
            self.observation_offsets,
            self.observation_covariance,
            self.initial_state_mean,
            self.initial_state_covariance,
        ) = (a, b, q, c, d, r, m0, p0)
        if report is not None:
            self.fit_report_ = report
        return self
