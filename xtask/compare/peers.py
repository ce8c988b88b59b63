"""Time the Python libraries on one emfit comparison workload.

Usage: python peers.py WORKDIR WORKLOAD

WORKDIR holds the .npy files written by `cargo xtask compare` (data and the
initial parameters both sides start from). Prints one JSON line:
{"seconds": ..., "iterations": ..., "loglik": ..., "peak_rss_mb": ...}.
`seconds` is the median of 3 timed runs when one run takes under 10 s.
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


def timed(run, repeat_below=10.0):
    times, result = [], None
    while True:
        t0 = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - t0)
        if times[0] >= repeat_below or len(times) == 3:
            return statistics.median(times), result


def gmm(workdir, cov_type):
    from sklearn.mixture import GaussianMixture
    x = load(workdir, "gmm_x")
    w0, m0, c0 = (load(workdir, "gmm_init_" + k) for k in ("weights", "means", "covariances"))
    prec0 = np.linalg.inv(c0) if cov_type == "full" else 1.0 / np.diagonal(c0, axis1=1, axis2=2)
    iters = int(load(workdir, "gmm_iterations"))

    def run():
        gm = GaussianMixture(n_components=len(w0), covariance_type=cov_type, max_iter=iters,
                             tol=0.0, reg_covar=1e-6, weights_init=w0, means_init=m0,
                             precisions_init=prec0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gm.fit(x)
        return gm

    seconds, gm = timed(run)
    return dict(seconds=seconds, iterations=iters, loglik=float(gm.score(x) * x.shape[0]))


def ghmm_model(workdir, iters):
    from hmmlearn.hmm import GaussianHMM
    s, t, m, c = (load(workdir, "hmm_init_" + k) for k in ("startprob", "transmat", "means", "covariances"))
    # covars_prior = 0, covars_weight = 1 and min_covar = 0: plain maximum likelihood
    # (hmmlearn's default prior adds 1e-2 to every covariance entry).
    model = GaussianHMM(n_components=len(s), covariance_type="full", n_iter=iters, tol=-np.inf,
                        init_params="", params="stmc", covars_prior=0.0, covars_weight=1.0,
                        min_covar=0.0, implementation="scaling")
    model.startprob_, model.transmat_, model.means_, model.covars_ = s, t, m, c
    return model


def hmm_fit(workdir):
    x, lengths = load(workdir, "hmm_x"), load(workdir, "hmm_lengths")
    iters = int(load(workdir, "hmm_iterations"))

    def run():
        model = ghmm_model(workdir, iters)
        model.fit(x, lengths)
        return model

    seconds, model = timed(run)
    return dict(seconds=seconds, iterations=iters, loglik=float(model.score(x, lengths)))


def hmm_viterbi(workdir):
    x, lengths = load(workdir, "hmm_x"), load(workdir, "hmm_lengths")
    model = ghmm_model(workdir, 1)
    seconds, (logprob, states) = timed(lambda: model.decode(x, lengths, algorithm="viterbi"))
    np.save(os.path.join(workdir, "peer_viterbi_states.npy"), states.astype(np.int64))
    return dict(seconds=seconds, iterations=1, loglik=float(logprob))


def gmmhmm_fit(workdir):
    from hmmlearn.hmm import GMMHMM
    x, lengths = load(workdir, "gmmhmm_x"), load(workdir, "gmmhmm_lengths")
    s, t, m, c, w = (load(workdir, "gmmhmm_init_" + k)
                     for k in ("startprob", "transmat", "means", "covariances", "weights"))

    def run():
        model = GMMHMM(n_components=s.shape[0], n_mix=w.shape[1], covariance_type="diag",
                       n_iter=1000, tol=1e-10, init_params="", params="stmcw",
                       covars_prior=0.0, covars_weight=0.0, min_covar=0.0)
        model.n_features = x.shape[1]
        model.startprob_, model.transmat_, model.means_, model.covars_, model.weights_ = s, t, m, c, w
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


def pykalman_model(p, A=None, Q=None):
    from pykalman import KalmanFilter
    return KalmanFilter(transition_matrices=p["A"] if A is None else A, observation_matrices=p["H"],
                        transition_covariance=p["Q"] if Q is None else Q,
                        observation_covariance=p["R"], initial_state_mean=p["m0"],
                        initial_state_covariance=p["P0"])


def lgssm_filter_numpy(workdir):
    y, p = kalman_inputs(workdir)
    seconds, ll = timed(lambda: numpy_filter(y, p))
    return dict(seconds=seconds, iterations=1, loglik=float(ll))


def lgssm_filter_numpy_loglik(workdir):
    y, p = kalman_inputs(workdir)
    seconds, ll = timed(lambda: numpy_filter(y, p, keep=False))
    return dict(seconds=seconds, iterations=1, loglik=float(ll))


def lgssm_filter_pykalman(workdir):
    y, p = kalman_inputs(workdir)
    kf = pykalman_model(p)
    seconds, _ = timed(lambda: kf.filter(y))
    return dict(seconds=seconds, iterations=1, loglik=float(numpy_filter(y, p, keep=False)))


def lgssm_smoother_pykalman(workdir):
    y, p = kalman_inputs(workdir)
    kf = pykalman_model(p)
    seconds, (ms, _) = timed(lambda: kf.smooth(y))
    return dict(seconds=seconds, iterations=1, loglik=None, smoothed_first=ms[0].tolist())


def lgssm_em_pykalman(workdir):
    y, p = kalman_inputs(workdir)
    a0, q0 = load(workdir, "lgssm_em_A0"), load(workdir, "lgssm_em_Q0")

    def run():
        kf = pykalman_model(p, A=a0, Q=q0)
        kf.em(y, n_iter=1, em_vars=["transition_matrices", "transition_covariance"])
        return kf

    seconds, kf = timed(run, repeat_below=1e9)
    q = dict(p, A=kf.transition_matrices, Q=kf.transition_covariance)
    return dict(seconds=seconds, iterations=1, loglik=float(numpy_filter(y, q, keep=False)))


WORKLOADS = {
    "gmm_full": lambda w: gmm(w, "full"),
    "gmm_diag": lambda w: gmm(w, "diag"),
    "hmm_fit": hmm_fit,
    "hmm_viterbi": hmm_viterbi,
    "gmmhmm_fit": gmmhmm_fit,
    "lgssm_filter_numpy": lgssm_filter_numpy,
    "lgssm_filter_numpy_loglik": lgssm_filter_numpy_loglik,
    "lgssm_filter_pykalman": lgssm_filter_pykalman,
    "lgssm_smoother_pykalman": lgssm_smoother_pykalman,
    "lgssm_em_pykalman": lgssm_em_pykalman,
}


def main():
    workdir, workload = sys.argv[1], sys.argv[2]
    result = WORKLOADS[workload](workdir)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps(result))


if __name__ == "__main__":
    main()
