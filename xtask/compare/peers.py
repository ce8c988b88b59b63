"""Time the Python libraries on one emfit comparison workload.

Usage: python peers.py WORKDIR WORKLOAD [--emfit]
       python peers.py WORKDIR converge WORKLOAD default|tight MAX_ITER BUDGET_SECONDS [STEPS]

WORKDIR holds the .npy files written by `emfit-compare generate` (data and the
initial parameters both sides start from). The first form (`cargo xtask
compare`) prints one JSON line
{"seconds": ..., "iterations": ..., "loglik": ..., "peak_rss_mb": ...};
`seconds` is the median of the timed runs that fit in 2 s (at least 3, at
most 51) when one run takes under 10 s, after an untimed warm-up run when a
run takes under 1 s (see `timed`). With
`--emfit`, the same process then runs the same workload function again with
emfit's drop-in classes in place of the peer's (`Library`: plain EM, the
peer's iteration count) and adds their result as
"emfit": {"seconds": ..., "iterations": ..., "loglik": ...}; `peak_rss_mb`
stays the peer's (measured before emfit runs).

The second form (`cargo xtask converge`) runs one fit from the same start,
at the library's default stopping rule or at a tight one (MAX_ITER iterations
at most), and records the log-likelihood of every point the library
evaluates, with the E-steps and the seconds it took to get there (see
`converge`); it prints one JSON line
{"points": [[e_steps, seconds, loglik], ...], "iterations", "seconds", "loglik",
"stopped", "rule", "peak_rss_mb"}. STEPS is the length of the robot-arm
workload (the first STEPS rows of the full-length data).

Thread counts come from the environment (OMP_NUM_THREADS etc.), set by xtask.
"""

import json
import os
import resource
import statistics
import sys
import time
import warnings

import numpy as np


def load(workdir, name):
    return np.load(os.path.join(workdir, name + ".npy"))


# A first run shorter than this is a warm-up, not timed: it pays the costs of
# a first call in the process (page faults, lazy initialisation), which a
# second call does not. emfit-compare's `timed` has the same rule.
WARM_UP_BELOW = 1.0
SAMPLING_SECONDS = 2.0
MAX_RUNS = 51


def timed(run, repeat_below=10.0):
    """Median seconds of `run` and its last result: one run when the first
    takes `repeat_below` seconds or more, else the runs that fit in
    `SAMPLING_SECONDS` (at least 3, at most `MAX_RUNS`), so that a workload of
    a few milliseconds is not judged on three samples. emfit-compare's
    `timed` has the same rule."""
    times, result, warm = [], None, False
    while True:
        t0 = time.perf_counter()
        result = run()
        elapsed = time.perf_counter() - t0
        if not warm:
            warm = True
            if elapsed < WARM_UP_BELOW:
                continue
        times.append(elapsed)
        enough = len(times) >= 3 and (sum(times) >= SAMPLING_SECONDS or len(times) == MAX_RUNS)
        if times[0] >= repeat_below or enough:
            return statistics.median(times), result


class Library:
    """The classes a workload runs with: the peers' (scikit-learn's
    GaussianMixture, hmmlearn's GaussianHMM and GMMHMM, pykalman's
    KalmanFilter) or emfit's drop-in replacements of them. The workload
    functions take one, so both run the same code.

    `bayesian_mixture(resp, **kwargs)` makes a BayesianGaussianMixture that
    starts from the responsibilities `resp` (n, K): emfit's takes them as
    `resp_init`; scikit-learn's initialisation hook is handed them.

    `em(stopping)` holds the constructor arguments that make a fit plain EM
    with the peer's stopping rule (`"fixed"`: exactly the given number of
    iterations; `"gain"`: the last gain below `tol`); `exact_hmm` and
    `exact_gmmhmm` those that switch the covariance priors off (exact
    maximum likelihood), which the two libraries spell differently."""

    def __init__(self, GaussianMixture, bayesian_mixture, GaussianHMM, GMMHMM, KalmanFilter, em,
                 exact_hmm, exact_gmmhmm):
        self.GaussianMixture, self.GaussianHMM, self.GMMHMM = GaussianMixture, GaussianHMM, GMMHMM
        self.bayesian_mixture, self.KalmanFilter = bayesian_mixture, KalmanFilter
        self.em, self.exact_hmm, self.exact_gmmhmm = em, exact_hmm, exact_gmmhmm


def peer_library():
    """scikit-learn, hmmlearn and pykalman. hmmlearn's priors off:
    covars_prior = 0 with covars_weight = 1 (GaussianHMM) or 0 (GMMHMM), and
    min_covar = 0 (its default prior adds 1e-2 to every covariance entry)."""
    from hmmlearn.hmm import GMMHMM, GaussianHMM
    from pykalman import KalmanFilter
    from sklearn.mixture import BayesianGaussianMixture, GaussianMixture

    def bayesian_mixture(resp, **kwargs):
        model = BayesianGaussianMixture(**kwargs)
        model._initialize_parameters = lambda X, random_state, **_: model._initialize(X, resp)
        return model

    return Library(GaussianMixture, bayesian_mixture, GaussianHMM, GMMHMM, KalmanFilter,
                   em=lambda stopping: {},
                   exact_hmm=dict(covars_prior=0.0, covars_weight=1.0, min_covar=0.0),
                   exact_gmmhmm=dict(covars_prior=0.0, covars_weight=0.0, min_covar=0.0))


def emfit_library():
    """emfit's drop-in classes, run as plain EM (`acceleration="none"`) with
    the peer's stopping rule; `reg_covar=0` is exact maximum likelihood
    (emfit implements no covariance prior; its default floor is 1e-6 of each
    feature's variance). KalmanFilter.em is plain EM for exactly `n_iter`
    iterations by default, as pykalman's."""
    from emfit.hmm import GMMHMM, GaussianHMM
    from emfit.kalman import KalmanFilter
    from emfit.mixture import BayesianGaussianMixture, GaussianMixture
    exact = dict(reg_covar=0.0, min_covar=0.0)

    def bayesian_mixture(resp, **kwargs):
        return BayesianGaussianMixture(resp_init=resp, stopping="fixed", **kwargs)

    return Library(GaussianMixture, bayesian_mixture, GaussianHMM, GMMHMM, KalmanFilter,
                   em=lambda stopping: dict(acceleration="none", stopping=stopping),
                   exact_hmm=exact, exact_gmmhmm=exact)


def gmm(workdir, lib, cov_type):
    x = load(workdir, "gmm_x")
    w0, m0, c0 = (load(workdir, "gmm_init_" + k) for k in ("weights", "means", "covariances"))
    prec0 = np.linalg.inv(c0) if cov_type == "full" else 1.0 / np.diagonal(c0, axis1=1, axis2=2)
    iters = int(load(workdir, "gmm_iterations"))

    def run():
        gm = lib.GaussianMixture(n_components=len(w0), covariance_type=cov_type, max_iter=iters,
                                 tol=0.0, reg_covar=1e-6, weights_init=w0, means_init=m0,
                                 precisions_init=prec0, **lib.em("fixed"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gm.fit(x)
        return gm

    seconds, gm = timed(run)
    return dict(seconds=seconds, iterations=iters, loglik=float(gm.score(x) * x.shape[0]))


def ghmm_model(workdir, lib, iters, tol=-np.inf):
    """The Gaussian HMM from the written start, priors off (exact EM);
    `tol=-inf` runs exactly `iters` iterations."""
    s, t, m, c = (load(workdir, "hmm_init_" + k) for k in ("startprob", "transmat", "means", "covariances"))
    model = lib.GaussianHMM(n_components=len(s), covariance_type="full", n_iter=iters, tol=tol,
                            init_params="", params="stmc", implementation="scaling",
                            **lib.exact_hmm, **lib.em("fixed" if tol == -np.inf else "gain"))
    model.startprob_, model.transmat_, model.means_, model.covars_ = s, t, m, c
    return model


def bgmm_full(workdir, lib):
    """The variational Bayesian mixture (full covariances, Dirichlet-process
    prior, the library's default priors) on the rows of the mixture data
    that the written responsibilities cover (the first ones), from them: the
    start and `gmm_iterations` steps; the lower bound in the log-likelihood's
    place."""
    resp = load(workdir, "bgmm_resp_init")
    x = np.ascontiguousarray(load(workdir, "gmm_x")[: resp.shape[0]])
    iters = int(load(workdir, "gmm_iterations"))

    def run():
        model = lib.bayesian_mixture(resp, n_components=resp.shape[1], covariance_type="full",
                                     max_iter=iters, tol=0.0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(x)
        return model

    seconds, model = timed(run)
    return dict(seconds=seconds, iterations=iters, loglik=float(model.lower_bound_))


def hmm_fit(workdir, lib):
    x, lengths = load(workdir, "hmm_x"), load(workdir, "hmm_lengths")
    iters = int(load(workdir, "hmm_iterations"))

    def run():
        model = ghmm_model(workdir, lib, iters)
        model.fit(x, lengths)
        return model

    seconds, model = timed(run)
    return dict(seconds=seconds, iterations=iters, loglik=float(model.score(x, lengths)))


def hmm_viterbi(workdir, lib):
    x, lengths = load(workdir, "hmm_x"), load(workdir, "hmm_lengths")
    model = ghmm_model(workdir, lib, 1)
    seconds, (logprob, _) = timed(lambda: model.decode(x, lengths, algorithm="viterbi"))
    return dict(seconds=seconds, iterations=1, loglik=float(logprob))


def gmmhmm_model(workdir, lib, n_iter, tol):
    """Scenario 1's GMM-HMM from the written start, priors off (exact EM),
    stopping when the gain falls below `tol`."""
    s, t, m, c, w = (load(workdir, "gmmhmm_init_" + k)
                     for k in ("startprob", "transmat", "means", "covariances", "weights"))
    model = lib.GMMHMM(n_components=s.shape[0], n_mix=w.shape[1], covariance_type="diag",
                       n_iter=n_iter, tol=tol, init_params="", params="stmcw",
                       **lib.exact_gmmhmm, **lib.em("gain"))
    model.n_features = m.shape[2]
    model.startprob_, model.transmat_, model.means_, model.covars_, model.weights_ = s, t, m, c, w
    return model


def gmmhmm_fit(workdir, lib):
    x, lengths = load(workdir, "gmmhmm_x"), load(workdir, "gmmhmm_lengths")

    def run():
        model = gmmhmm_model(workdir, lib, 1000, 1e-10)
        model.fit(x, lengths)
        return model

    seconds, model = timed(run)
    return dict(seconds=seconds, iterations=int(model.monitor_.iter),
                loglik=float(model.score(x, lengths)))


def kalman_inputs(workdir):
    y = load(workdir, "lgssm_y")
    p = {k: load(workdir, "lgssm_" + k) for k in ("A", "Q", "H", "R", "m0", "P0")}
    return y, p


def numpy_filter(y, p, keep=True):
    """The plain per-step NumPy Kalman filter a user writes by hand:
    Cholesky of S for the gain; with `keep`, the predicted and filtered means and
    covariances are kept as kf_filter does, without it only the log-likelihood."""
    from scipy import linalg
    A, Q, H, R, m, P = p["A"], p["Q"], p["H"], p["R"], p["m0"], p["P0"]
    T, n = y.shape[0], m.shape[0]
    if keep:
        mp = np.empty((T, n)); Pp = np.empty((T, n, n))
        mf = np.empty((T, n)); Pf = np.empty((T, n, n))
    ll = 0.0
    for t in range(T):
        if t > 0:
            m = A @ m
            P = A @ P @ A.T + Q
        if keep:
            mp[t] = m; Pp[t] = P
        v = y[t] - H @ m
        HP = H @ P
        S = HP @ H.T + R
        c = linalg.cho_factor(S, lower=True)
        K = linalg.cho_solve(c, HP).T
        m = m + K @ v
        P = P - K @ S @ K.T
        if keep:
            mf[t] = m; Pf[t] = P
        ll += -0.5 * (v @ linalg.cho_solve(c, v) + 2.0 * np.log(np.diag(c[0])).sum()
                      + len(v) * np.log(2 * np.pi))
    return ll


def kalman_model(p, lib, A=None, Q=None):
    return lib.KalmanFilter(transition_matrices=p["A"] if A is None else A, observation_matrices=p["H"],
                            transition_covariance=p["Q"] if Q is None else Q,
                            observation_covariance=p["R"], initial_state_mean=p["m0"],
                            initial_state_covariance=p["P0"])


def lgssm_filter_numpy(workdir, _lib):
    y, p = kalman_inputs(workdir)
    seconds, ll = timed(lambda: numpy_filter(y, p))
    return dict(seconds=seconds, iterations=1, loglik=float(ll))


def lgssm_filter_numpy_loglik(workdir, _lib):
    y, p = kalman_inputs(workdir)
    seconds, ll = timed(lambda: numpy_filter(y, p, keep=False))
    return dict(seconds=seconds, iterations=1, loglik=float(ll))


def filtered_loglik(p, y, means, covariances):
    """ln p(y) from a filter's output, the filtered means and covariances
    (predicted one step ahead with A and Q; the first step's prior is
    (m0, P0)), batched over time: it checks what the filter returned."""
    A, Q = p["A"], p["Q"]
    predicted_means = np.concatenate([p["m0"][None, :], means[:-1] @ A.T])
    predicted_covariances = np.concatenate([p["P0"][None], A @ covariances[:-1] @ A.T + Q])
    return predicted_loglik(p["H"], p["R"], y, predicted_means, predicted_covariances)


def lgssm_filter_pykalman(workdir, lib):
    y, p = kalman_inputs(workdir)
    kf = kalman_model(p, lib)
    seconds, (means, covariances) = timed(lambda: kf.filter(y))
    return dict(seconds=seconds, iterations=1, loglik=float(filtered_loglik(p, y, means, covariances)))


def lgssm_filter_offsets_pykalman(workdir, lib):
    """pykalman's filter with transition and observation offsets b, d; the
    log-likelihood from its filtered means and covariances (predicted with
    A, b and Q; the observations less d)."""
    y, p = kalman_inputs(workdir)
    b, d = load(workdir, "lgssm_b"), load(workdir, "lgssm_d")
    kf = lib.KalmanFilter(transition_matrices=p["A"], observation_matrices=p["H"],
                          transition_covariance=p["Q"], observation_covariance=p["R"],
                          transition_offsets=b, observation_offsets=d,
                          initial_state_mean=p["m0"], initial_state_covariance=p["P0"])
    seconds, (means, covariances) = timed(lambda: kf.filter(y))
    predicted_means = np.concatenate([p["m0"][None, :], means[:-1] @ p["A"].T + b])
    predicted_covariances = np.concatenate([p["P0"][None], p["A"] @ covariances[:-1] @ p["A"].T + p["Q"]])
    ll = predicted_loglik(p["H"], p["R"], y - d, predicted_means, predicted_covariances)
    return dict(seconds=seconds, iterations=1, loglik=float(ll))


def lgssm_filter_timevarying_pykalman(workdir, lib):
    """pykalman's filter with offsets b, d and time-varying matrices: 3-D
    transition_matrices and transition_covariance (T-1, n, n),
    observation_matrices (T, p, n) and observation_covariance (T, p, p), on
    the first T steps of the data; the log-likelihood from its filtered
    means and covariances (predicted with A_t, b and Q_t; the observations
    less d, with H_t and R_t)."""
    _, p = kalman_inputs(workdir)
    y = load(workdir, "lgssm_tv_y")
    A, Q, H, R = (load(workdir, "lgssm_tv_" + k) for k in ("A", "Q", "H", "R"))
    b, d = load(workdir, "lgssm_b"), load(workdir, "lgssm_d")
    kf = lib.KalmanFilter(transition_matrices=A, observation_matrices=H,
                          transition_covariance=Q, observation_covariance=R,
                          transition_offsets=b, observation_offsets=d,
                          initial_state_mean=p["m0"], initial_state_covariance=p["P0"])
    seconds, (means, covariances) = timed(lambda: kf.filter(y))
    predicted_means = np.concatenate([p["m0"][None, :], (A @ means[:-1, :, None])[:, :, 0] + b])
    predicted_covariances = np.concatenate([p["P0"][None], A @ covariances[:-1] @ np.swapaxes(A, 1, 2) + Q])
    ll = predicted_loglik(H, R, y - d, predicted_means, predicted_covariances)
    return dict(seconds=seconds, iterations=1, loglik=float(ll))


def lgssm_smoother_pykalman(workdir, lib):
    y, p = kalman_inputs(workdir)
    kf = kalman_model(p, lib)
    seconds, _ = timed(lambda: kf.smooth(y))
    return dict(seconds=seconds, iterations=1, loglik=None)


def lgssm_em_pykalman(workdir, lib):
    y, p = kalman_inputs(workdir)
    a0, q0 = load(workdir, "lgssm_em_A0"), load(workdir, "lgssm_em_Q0")

    def run():
        kf = kalman_model(p, lib, A=a0, Q=q0)
        kf.em(y, n_iter=1, em_vars=["transition_matrices", "transition_covariance"])
        return kf

    seconds, kf = timed(run, repeat_below=1e9)
    q = dict(p, A=kf.transition_matrices, Q=kf.transition_covariance)
    return dict(seconds=seconds, iterations=1, loglik=float(numpy_filter(y, q, keep=False)))


class OutOfBudget(Exception):
    """Raised by a Recorder when a tight run has spent its time budget."""


class Recorder:
    """The trajectory of one fit: every evaluated log-likelihood with the
    E-steps run so far (each record is one pass over the data, the one that
    evaluated the start included) and the seconds since the fit started,
    less the time spent evaluating log-likelihoods the library does not
    compute itself (`excluded`)."""

    def __init__(self, budget):
        self.points, self.budget = [], budget
        self.t0, self.excluded = time.perf_counter(), 0.0

    def now(self):
        return time.perf_counter() - self.t0 - self.excluded

    def record(self, loglik, seconds=None):
        seconds = self.now() if seconds is None else seconds
        self.points.append([len(self.points) + 1, seconds, float(loglik)])
        if seconds > self.budget:
            raise OutOfBudget()


def sci(x):
    """1e-08 as 1e-8, 0.001 as 1e-3."""
    mantissa, exponent = f"{x:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def fit_recorded(rec, fit, outcome):
    """Runs `fit()` with the peers' warnings silenced; `(stopped, iterations)`
    from `outcome()`, or the time budget's when the recorder ran out."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit()
        return outcome()
    except OutOfBudget:
        return "time budget", len(rec.points) - 1


def converged_result(rec, iterations, stopped, rule):
    last = rec.points[-1]
    return dict(points=rec.points, iterations=iterations, seconds=last[1], loglik=last[2],
                stopped=stopped, rule=rule)


def converge_gmm(workdir, cov_type, tight, max_iter, budget, _steps):
    """scikit-learn's GaussianMixture from the written start. Its `_e_step`
    (one per iteration, plus the final one fit always does, which evaluates
    the returned parameters) is wrapped to record the mean log-likelihood
    times n. `init_params="random_from_data"`: with all three initial
    parameters given the initial responsibilities are discarded, and the
    default "kmeans" would run a k-means to 200k points first."""
    from sklearn.mixture import GaussianMixture
    x = load(workdir, "gmm_x")
    w0, m0, c0 = (load(workdir, "gmm_init_" + k) for k in ("weights", "means", "covariances"))
    prec0 = np.linalg.inv(c0) if cov_type == "full" else 1.0 / np.diagonal(c0, axis1=1, axis2=2)
    rule = dict(tol=1e-12, max_iter=max_iter) if tight else {}
    gm = GaussianMixture(n_components=len(w0), covariance_type=cov_type, reg_covar=1e-6,
                         init_params="random_from_data", random_state=0, weights_init=w0,
                         means_init=m0, precisions_init=prec0, **rule)
    n, rec = x.shape[0], None
    original = gm._e_step

    def e_step(X, xp=None):
        result = original(X, xp=xp)
        rec.record(float(result[0]) * n)
        return result

    gm._e_step = e_step
    rec = Recorder(budget)
    stopped, iterations = fit_recorded(
        rec, lambda: gm.fit(x),
        lambda: ("converged" if gm.converged_ else "iteration cap", gm.n_iter_))
    rule_text = (f"tol {sci(gm.tol)} per point, max_iter {gm.max_iter:,}" if tight
                 else f"defaults: tol {sci(gm.tol)} per point, max_iter {gm.max_iter}")
    return converged_result(rec, iterations, stopped, rule_text)


def converge_hmm(model, x, lengths, tight, budget):
    """An hmmlearn fit with `_do_estep` wrapped to record each iteration's
    log-likelihood (that of the parameters before its M-step); the returned
    parameters are evaluated by `score`, timed as one more pass."""
    rec, original = None, model._do_estep

    def do_estep(X, lengths):
        stats, logprob = original(X, lengths)
        rec.record(logprob)
        return stats, logprob

    model._do_estep = do_estep
    rec = Recorder(budget)

    def fit():
        model.fit(x, lengths)
        rec.record(model.score(x, lengths))

    def outcome():
        history = model.monitor_.history
        gain = history[-1] - history[-2] if len(history) >= 2 else np.inf
        if gain < 0:
            stopped = "log-likelihood fell (hmmlearn's rule: gain < tol)"
        elif gain < model.tol:
            stopped = "converged"
        else:
            stopped = "iteration cap"
        return stopped, model.monitor_.iter

    stopped, iterations = fit_recorded(rec, fit, outcome)
    rule = (f"tol {sci(model.tol)}, n_iter {model.n_iter:,}" if tight
            else f"defaults: tol {sci(model.tol)}, n_iter {model.n_iter}")
    return converged_result(rec, iterations, stopped, rule)


def converge_hmm_fit(workdir, tight, max_iter, budget, _steps):
    x, lengths = load(workdir, "hmm_x"), load(workdir, "hmm_lengths")
    lib = peer_library()
    model = ghmm_model(workdir, lib, max_iter, 1e-8) if tight else ghmm_model(workdir, lib, 10, 1e-2)
    return converge_hmm(model, x, lengths, tight, budget)


def converge_gmmhmm_fit(workdir, tight, max_iter, budget, _steps):
    x, lengths = load(workdir, "gmmhmm_x"), load(workdir, "gmmhmm_lengths")
    lib = peer_library()
    model = gmmhmm_model(workdir, lib, max_iter, 1e-10) if tight else gmmhmm_model(workdir, lib, 10, 1e-2)
    return converge_hmm(model, x, lengths, tight, budget)


def predicted_loglik(H, R, y, means, covariances):
    """ln p(y) from the predicted means and covariances of a Kalman filter
    (no missing values, zero offsets), batched over time; H and R are one
    matrix or one per step (pykalman's 3-D arrays)."""
    v = y - (means @ H.T if H.ndim == 2 else (H @ means[:, :, None])[:, :, 0])
    S = H @ covariances @ np.swapaxes(H, -1, -2) + R
    L = np.linalg.cholesky(S)
    w = np.linalg.solve(L, v[:, :, None])[:, :, 0]
    logdet = 2.0 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum()
    return -0.5 * (np.sum(w * w) + logdet + y.size * np.log(2 * np.pi))


def converge_pykalman(y, p, a0, q0, em_vars, tight, max_iter, budget):
    """pykalman's `em` from (a0, q0), learning `em_vars`. Its E-step's
    filter (`pykalman.standard._filter`) is wrapped: the log-likelihood of the
    parameters it filters with follows from its predicted means and
    covariances (batched, not timed); the returned parameters are evaluated
    by one more filter pass (`kf.filter`, timed). pykalman has no stopping
    rule: its default is n_iter=10; the tight run calls em one iteration at
    a time (the same computation) until the relative gain is below 1e-13."""
    import pykalman.standard as standard
    rec, original = None, standard._filter

    def filter_(*args):
        out = original(*args)
        t = time.perf_counter()
        H, R = args[1], args[3]
        ll = predicted_loglik(H, R, y, out[0], out[1])
        rec.excluded += time.perf_counter() - t
        rec.record(ll)
        return out

    standard._filter = filter_
    kf = kalman_model(p, peer_library(), A=a0, Q=q0)
    rec = Recorder(budget)
    stopped = "iteration cap"
    try:
        if tight:
            for _ in range(max_iter):
                kf.em(y, n_iter=1, em_vars=em_vars)
                pts = rec.points
                if len(pts) >= 2 and 0 <= pts[-1][2] - pts[-2][2] <= 1e-13 * abs(pts[-1][2]):
                    stopped = "converged"
                    break
        else:
            kf.em(y, em_vars=em_vars)
        kf.filter(y)
    except OutOfBudget:
        stopped = "time budget"
    rule = "relative gain 1e-13 (loop of em(n_iter=1))" if tight else "defaults: n_iter 10"
    return converged_result(rec, len(rec.points) - 1, stopped, rule)


def converge_lgssm_em(workdir, tight, max_iter, budget, steps):
    y, p = kalman_inputs(workdir)
    if steps is not None:
        y = y[:steps]
    a0, q0 = load(workdir, "lgssm_em_A0"), load(workdir, "lgssm_em_Q0")
    return converge_pykalman(y, p, a0, q0, ["transition_matrices", "transition_covariance"],
                             tight, max_iter, budget)


def converge_nile(workdir, tight, max_iter, budget, _steps):
    """The Nile local-level model: pykalman learns Q, R and m0, as emfit's
    `nile_learn_options` (A = H = 1 and the near-diffuse P0 stay fixed)."""
    y = load(workdir, "nile_y")
    p = {k: load(workdir, "nile_" + k) for k in ("A", "Q", "H", "R", "m0", "P0")}
    return converge_pykalman(y, p, p["A"], p["Q"],
                             ["transition_covariance", "observation_covariance", "initial_state_mean"],
                             tight, max_iter, budget)


CONVERGE = {
    "gmm_full": lambda w, *a: converge_gmm(w, "full", *a),
    "gmm_diag": lambda w, *a: converge_gmm(w, "diag", *a),
    "hmm_fit": converge_hmm_fit,
    "gmmhmm_fit": converge_gmmhmm_fit,
    "lgssm_em": converge_lgssm_em,
    "nile": converge_nile,
}


WORKLOADS = {
    "gmm_full": lambda w, lib: gmm(w, lib, "full"),
    "gmm_diag": lambda w, lib: gmm(w, lib, "diag"),
    "bgmm_full": bgmm_full,
    "hmm_fit": hmm_fit,
    "hmm_viterbi": hmm_viterbi,
    "gmmhmm_fit": gmmhmm_fit,
    "lgssm_filter_numpy": lgssm_filter_numpy,
    "lgssm_filter_numpy_loglik": lgssm_filter_numpy_loglik,
    "lgssm_filter_pykalman": lgssm_filter_pykalman,
    "lgssm_filter_offsets_pykalman": lgssm_filter_offsets_pykalman,
    "lgssm_filter_timevarying_pykalman": lgssm_filter_timevarying_pykalman,
    "lgssm_smoother_pykalman": lgssm_smoother_pykalman,
    "lgssm_em_pykalman": lgssm_em_pykalman,
}


def main():
    if len(sys.argv) > 2 and sys.argv[2] == "converge":
        workdir, workload, mode, max_iter, budget = sys.argv[1], *sys.argv[3:7]
        steps = int(sys.argv[7]) if len(sys.argv) > 7 else None
        if mode not in ("default", "tight"):
            sys.exit(f"peers.py: mode {mode}: default or tight")
        result = CONVERGE[workload](workdir, mode == "tight", int(max_iter), float(budget), steps)
        result["peak_rss_mb"] = peak_rss_mb()
    else:
        workdir, workload, *flags = sys.argv[1:]
        if flags not in ([], ["--emfit"]):
            sys.exit(f"peers.py: unexpected arguments {flags}: only --emfit")
        result = WORKLOADS[workload](workdir, peer_library())
        result["peak_rss_mb"] = peak_rss_mb()
        if flags:
            result["emfit"] = WORKLOADS[workload](workdir, emfit_library())
    print(json.dumps(result))


def peak_rss_mb():
    """The peak resident memory of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


if __name__ == "__main__":
    main()
