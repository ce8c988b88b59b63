"""emfit.kalman.KalmanFilter with time-varying (3-D) matrices against
pykalman.KalmanFilter in the same process (filter, smoother, EM) and a
dense Gaussian oracle (the log-likelihood: pykalman's adds every R_t at
each step): random small models with every subset of A_t, Q_t, C_t, R_t
varying, with and without offsets (constant and time-varying), with
missing rows."""

import itertools

import numpy as np
import pykalman
import pytest

from emfit.kalman import KalmanFilter
from test_kalman import assert_close, assert_filter_update_is_a_step

BLOCKS = ["transition_matrices", "transition_covariance", "observation_matrices", "observation_covariance"]
SUBSETS = [s for k in range(1, 5) for s in itertools.combinations(BLOCKS, k)]
PARAMETERS = BLOCKS + ["transition_offsets", "observation_offsets", "initial_state_mean", "initial_state_covariance"]


def spd(rng, dim, steps=None):
    """A random symmetric positive definite matrix (or ``steps`` of them)."""
    shape = (dim, dim) if steps is None else (steps, dim, dim)
    m = rng.normal(size=shape)
    return m @ np.swapaxes(m, -1, -2) / dim + 0.3 * np.eye(dim)


def stable(rng, dim, steps=None):
    """A random transition matrix (or ``steps`` of them) of norm below 1."""
    shape = (dim, dim) if steps is None else (steps, dim, dim)
    m = rng.normal(size=shape)
    return 0.9 * m / np.linalg.norm(m, ord=2, axis=(-2, -1), keepdims=True)


def model(rng, n, p, t, varying, offsets="none", extra=0):
    """pykalman's arguments of a random model for ``t`` steps: the blocks
    in ``varying`` 3-D (``extra`` more matrices than the data need), the
    offsets ``'none'``, ``'constant'`` (1-D) or ``'varying'`` (2-D)."""
    count = {"transition": t - 1 + extra, "observation": t + extra}
    steps = {name: count[name.split("_")[0]] if name in varying else None for name in BLOCKS}
    args = dict(
        transition_matrices=stable(rng, n, steps["transition_matrices"]),
        transition_covariance=spd(rng, n, steps["transition_covariance"]),
        observation_matrices=rng.normal(size=(p, n) if steps["observation_matrices"] is None else (steps["observation_matrices"], p, n)),
        observation_covariance=spd(rng, p, steps["observation_covariance"]),
        initial_state_mean=rng.normal(size=n),
        initial_state_covariance=spd(rng, n),
    )
    if offsets == "constant":
        args.update(transition_offsets=rng.normal(size=n), observation_offsets=rng.normal(size=p))
    elif offsets == "varying":
        args.update(transition_offsets=rng.normal(size=(t - 1, n)), observation_offsets=rng.normal(size=(t, p)))
    return args


def data(rng, args, t, masked=()):
    """``t`` observations drawn by pykalman from ``args``, the rows in
    ``masked`` masked (pykalman skips a row with any value masked)."""
    _, x = pykalman.KalmanFilter(**args).sample(t, random_state=int(rng.integers(1 << 31)))
    x = np.ma.array(np.asarray(x), mask=False)
    for row in masked:
        x[row] = np.ma.masked
    return x


def step(args, name, t):
    """The matrix (or offset) of parameter ``name`` at index t, pykalman's
    defaults for the offsets."""
    value = args.get(name)
    if value is None:
        return 0.0
    value = np.asarray(value)
    return value[t] if value.ndim == (2 if name.endswith("offsets") else 3) else value


def dense_loglikelihood(args, x):
    """ln p(x) of the joint Gaussian of all observed rows: with the
    independent ``z = (x_0, w_1..w_{T-1}, v_0..v_{T-1})``, every state and
    observation is an affine map of z, so the observed rows are
    ``N(G mu_z + g, G Sigma_z G^T)``."""
    t, p = x.shape
    n = len(args["initial_state_mean"])
    size = n * t + p * t
    blocks = [args["initial_state_covariance"]]
    blocks += [step(args, "transition_covariance", k - 1) for k in range(1, t)]
    blocks += [step(args, "observation_covariance", k) for k in range(t)]
    sigma = np.zeros((size, size))
    at = 0
    for b in blocks:
        sigma[at:at + len(b), at:at + len(b)] = b
        at += len(b)
    state_map, state_shift = np.zeros((n, size)), np.array(args["initial_state_mean"], dtype=float)
    state_map[:, :n] = np.eye(n)
    rows, means = [], []
    for k in range(t):
        if k > 0:
            a = step(args, "transition_matrices", k - 1)
            state_map = a @ state_map
            state_map[:, n * k:n * (k + 1)] += np.eye(n)
            state_shift = a @ state_shift + step(args, "transition_offsets", k - 1)
        c = step(args, "observation_matrices", k)
        noise = np.zeros((p, size))
        noise[:, n * t + p * k:n * t + p * (k + 1)] = np.eye(p)
        if not np.ma.getmaskarray(x)[k].any():
            rows.append(c @ state_map + noise)
            means.append(c @ state_shift + step(args, "observation_offsets", k))
    if not rows:
        return 0.0
    g, mean = np.vstack(rows), np.concatenate(means)
    cov = g @ sigma @ g.T
    observed = np.ma.getdata(x)[~np.ma.getmaskarray(x).any(axis=1)].ravel()
    sign, logdet = np.linalg.slogdet(cov)
    assert sign > 0
    residual = observed - mean
    return -0.5 * (residual @ np.linalg.solve(cov, residual) + logdet + len(residual) * np.log(2 * np.pi))


def check_inference(args, x):
    ours, theirs = KalmanFilter(**args), pykalman.KalmanFilter(**args)
    for got, want in zip(ours.filter(x), theirs.filter(x)):
        assert_close(got, want)
    for got, want in zip(ours.smooth(x), theirs.smooth(x)):
        assert_close(got, want)
    assert ours.loglikelihood(x) == pytest.approx(dense_loglikelihood(args, x), rel=1e-9)


@pytest.mark.parametrize("varying", SUBSETS, ids=["+".join(b.split("_")[0][0] + b.split("_")[1][0] for b in s) for s in SUBSETS])
@pytest.mark.parametrize("offsets", ["none", "constant", "varying"])
def test_filter_smoother_and_likelihood_equal_pykalman(varying, offsets):
    rng = np.random.default_rng([SUBSETS.index(varying), len(offsets)])
    for n, p, t in [(1, 1, 6), (2, 3, 25), (3, 2, 40)]:
        args = model(rng, n, p, t, varying, offsets)
        x = data(rng, args, t, masked=(0, t // 2))
        check_inference(args, x)


@pytest.mark.parametrize("extra", [1, 4])
def test_longer_arrays_are_cut_as_pykalman_does(extra):
    """pykalman indexes its 3-D arrays by step and ignores what is beyond
    the data (T transition matrices are common: it uses the first T - 1)."""
    rng = np.random.default_rng(extra)
    args = model(rng, 2, 2, 20, BLOCKS, "varying", extra=extra)
    x = data(rng, args, 20)
    check_inference(args, x)


def test_one_step_needs_no_transition_matrix():
    rng = np.random.default_rng(5)
    # One observed value (pykalman reads a single row of several as a column).
    args = model(rng, 2, 1, 1, BLOCKS)
    assert args["transition_matrices"].shape == (0, 2, 2)
    x = rng.normal(size=(1, 1))
    check_inference(args, x)


#: What EM may learn beside each side's time-varying blocks: the other
#: regression and the initial state.
LEARN_OBSERVATION = ["observation_matrices", "observation_covariance", "initial_state_mean", "initial_state_covariance"]
LEARN_TRANSITION = ["transition_matrices", "transition_covariance", "initial_state_mean", "initial_state_covariance"]


@pytest.mark.parametrize(
    "varying, em_vars",
    [
        (["transition_matrices"], LEARN_OBSERVATION),
        (["transition_matrices", "transition_covariance"], LEARN_OBSERVATION),
        (["transition_covariance"], ["observation_covariance", "initial_state_mean"]),
        (["observation_matrices"], LEARN_TRANSITION),
        (["observation_matrices", "observation_covariance"], LEARN_TRANSITION),
        (["observation_covariance"], ["transition_matrices", "initial_state_covariance"]),
    ],
    ids=["A", "A+Q", "Q", "C", "C+R", "R"],
)
@pytest.mark.parametrize("offsets", ["none", "varying"])
def test_em_learns_the_other_blocks_as_pykalman(varying, em_vars, offsets):
    """EM of the blocks whose M-step does not involve a time-varying one:
    pykalman's M-step is then the exact maximiser too. Time-varying
    observation offsets only (EM of a matrix with time-varying transition
    offsets is not supported)."""
    rng = np.random.default_rng(len(varying) * 10 + len(em_vars))
    args = model(rng, 2, 2, 60, varying, offsets)
    args.pop("transition_offsets", None)
    x = data(rng, args, 60, masked=(3, 30))
    # Start away from the truth.
    start = dict(args)
    for name in em_vars:
        if name not in ("initial_state_mean",):
            start[name] = np.asarray(args[name]) * 1.5 if "covariance" in name else np.asarray(args[name]) * 0.7
    start["initial_state_mean"] = np.zeros(2)
    ours, theirs = KalmanFilter(**start), pykalman.KalmanFilter(**start)
    ours.em(x, n_iter=6, em_vars=em_vars)
    theirs.em(x, n_iter=6, em_vars=em_vars)
    for name in PARAMETERS:
        assert_close(getattr(ours, name), getattr(theirs, name), rtol=1e-8)
    for name in varying:
        assert getattr(ours, name) is start[name] or np.array_equal(getattr(ours, name), start[name])
    history = ours.fit_report_["history"]
    assert all(b >= a - 1e-9 * abs(a) for a, b in zip(history, history[1:]))
    assert history[-1] > history[0]
    assert ours.loglikelihood(x) == pytest.approx(dense_loglikelihood(vars(ours), x), rel=1e-9)


#: The covariances and the initial state: learned with time-varying
#: transition or observation matrices (the regression of the residual).
LEARN_COVARIANCES = ["transition_covariance", "observation_covariance", "initial_state_mean", "initial_state_covariance"]


@pytest.mark.parametrize(
    "varying",
    [["transition_matrices"], ["observation_matrices"], ["transition_matrices", "observation_matrices"]],
    ids=["A", "C", "A+C"],
)
@pytest.mark.parametrize("offsets", ["none", "constant"])
def test_em_learns_covariances_with_time_varying_matrices_as_pykalman(varying, offsets):
    """With 3-D transition (or observation) matrices, Q (or R) is the mean
    residual second moment of ``x_t - A_t x_{t-1} - b`` (``y_t - C_t x_t -
    d``): pykalman's M-step, to 1e-9 relative after 6 iterations, with
    masked rows and fixed offsets."""
    rng = np.random.default_rng(40 + len(varying))
    args = model(rng, 2, 2, 50, varying, offsets)
    x = data(rng, args, 50, masked=(4, 21))
    start = dict(args)
    for name in LEARN_COVARIANCES[:2]:
        start[name] = np.asarray(args[name]) * 1.7
    start["initial_state_mean"] = np.zeros(2)
    ours, theirs = KalmanFilter(**start), pykalman.KalmanFilter(**start)
    ours.em(x, n_iter=6, em_vars=LEARN_COVARIANCES)
    theirs.em(x, n_iter=6, em_vars=LEARN_COVARIANCES)
    for name in PARAMETERS:
        assert_close(getattr(ours, name), getattr(theirs, name), rtol=1e-9)
    assert not np.allclose(ours.transition_covariance, start["transition_covariance"])
    history = ours.fit_report_["history"]
    assert all(b >= a - 1e-9 * abs(a) for a, b in zip(history, history[1:]))
    assert history[-1] > history[0]


def test_em_with_constant_offsets_and_varying_matrices_never_lowers_the_likelihood():
    rng = np.random.default_rng(11)
    args = model(rng, 3, 2, 80, ["transition_matrices", "transition_covariance"], "constant")
    x = data(rng, args, 80)
    kf = KalmanFilter(**args)
    before = kf.loglikelihood(x)
    kf.em(x, n_iter=8, em_vars=["observation_matrices", "observation_offsets", "observation_covariance"])
    history = kf.fit_report_["history"]
    assert history[0] == pytest.approx(before, rel=1e-12)
    assert all(b >= a - 1e-9 * abs(a) for a, b in zip(history, history[1:]))
    assert kf.loglikelihood(x) > before
    np.testing.assert_array_equal(kf.transition_matrices, args["transition_matrices"])


@pytest.mark.parametrize(
    "varying, em_vars",
    [
        (["transition_covariance"], ["transition_matrices", "transition_offsets"]),
        (["observation_covariance"], ["observation_matrices", "observation_offsets"]),
    ],
    ids=["Q", "R"],
)
def test_em_learns_matrices_with_time_varying_covariances(varying, em_vars):
    """With 3-D transition (observation) covariances, EM learns the
    transition (observation) matrices and offsets by weighted least squares:
    the log-likelihood never falls, and rises."""
    rng = np.random.default_rng(17)
    args = model(rng, 2, 2, 40, varying, "constant")
    x = data(rng, args, 40, masked=(3, 20))
    start = dict(args)
    for name in em_vars:
        start[name] = np.asarray(args[name]) * 0.5
    kf = KalmanFilter(**start)
    kf.em(x, n_iter=8, em_vars=em_vars)
    history = kf.fit_report_["history"]
    assert all(b >= a - 1e-9 * abs(a) for a, b in zip(history, history[1:]))
    assert history[-1] > history[0]
    for name in varying:
        np.testing.assert_array_equal(getattr(kf, name), start[name])


@pytest.mark.parametrize(
    "varying, em_vars, message",
    [
        (["transition_matrices"], ["transition_matrices"], "em_vars has transition_matrices, which is time-varying"),
        (["observation_covariance"], None, "em_vars has observation_covariance, which is time-varying"),
        (
            ["transition_matrices", "transition_covariance"],
            ["transition_offsets"],
            "em_vars has transition_offsets while transition_covariance is time-varying",
        ),
        (
            ["observation_matrices", "observation_covariance"],
            ["observation_offsets"],
            "em_vars has observation_offsets while observation_covariance is time-varying",
        ),
    ],
)
def test_em_refuses_what_it_cannot_learn_and_changes_nothing(varying, em_vars, message):
    rng = np.random.default_rng(2)
    args = model(rng, 2, 2, 15, varying, "constant")
    x = data(rng, args, 15)
    kf = KalmanFilter(**args)
    before = {name: getattr(kf, name) for name in PARAMETERS}
    with pytest.raises(NotImplementedError, match=message):
        kf.em(x, n_iter=3, em_vars=em_vars)
    assert all(getattr(kf, name) is value for name, value in before.items())
    assert not hasattr(kf, "fit_report_")


def test_filter_update_takes_the_matrices_of_the_step():
    rng = np.random.default_rng(8)
    args = model(rng, 2, 3, 12, BLOCKS, "varying")
    x = data(rng, args, 12)
    ours, theirs = KalmanFilter(**args), pykalman.KalmanFilter(**args)
    means, covariances = ours.filter(x)
    for t in (0, 5, 10):
        step = dict(
            transition_matrix=args["transition_matrices"][t],
            transition_covariance=args["transition_covariance"][t],
            transition_offset=args["transition_offsets"][t],
            observation_matrix=args["observation_matrices"][t + 1],
            observation_covariance=args["observation_covariance"][t + 1],
            observation_offset=args["observation_offsets"][t + 1],
        )
        assert_filter_update_is_a_step(ours, theirs, (means, covariances), x, t, step)
    for name, argument in [("transition_matrices", "transition_matrix"), ("observation_covariance", "observation_covariance")]:
        del step[argument]
        with pytest.raises(ValueError, match=f"{name} vary in time: pass this step's {argument}"):
            ours.filter_update(means[0], covariances[0], x[1], **step)
        step[argument] = args[name][1]


def test_sample_follows_the_matrices_of_each_step():
    rng = np.random.default_rng(4)
    args = model(rng, 3, 2, 30, BLOCKS, "varying", extra=2)
    kf = KalmanFilter(**args, random_state=0)
    states, observations = kf.sample(30)
    assert states.shape == (30, 3) and observations.shape == (30, 2)
    np.testing.assert_array_equal(states, kf.sample(30)[0])
    # Almost no noise: the sample is the deterministic path of A_t, b_t,
    # C_t, d_t from the given initial state.
    quiet = dict(args, transition_covariance=1e-20 * np.ones((29, 1, 1)) * np.eye(3),
                 observation_covariance=1e-20 * np.ones((30, 1, 1)) * np.eye(2))
    start = np.arange(3.0)
    states, observations = KalmanFilter(**quiet).sample(30, initial_state=start, random_state=1)
    want = [start]
    for t in range(1, 30):
        want.append(args["transition_matrices"][t - 1] @ want[-1] + args["transition_offsets"][t - 1])
    want = np.array(want)
    assert_close(states, want, rtol=1e-8)
    assert_close(observations, np.einsum("tij,tj->ti", args["observation_matrices"][:30], want) + args["observation_offsets"][:30], rtol=1e-8)
    with pytest.raises(ValueError, match="transition_covariance has 29 time-varying matrices, the data need at least 30"):
        KalmanFilter(**quiet).sample(31)


def test_bad_time_varying_matrices_raise_errors_that_name_the_step():
    rng = np.random.default_rng(6)
    args = model(rng, 2, 2, 10, BLOCKS)
    x = data(rng, args, 10)
    short = dict(args, transition_matrices=args["transition_matrices"][:8])
    with pytest.raises(ValueError, match="transition_matrices has 8 time-varying matrices, the data need at least 9"):
        KalmanFilter(**short).filter(x)
    with pytest.raises(ValueError, match="observation_covariance has 9 time-varying matrices, the data need at least 10"):
        KalmanFilter(**dict(args, observation_covariance=args["observation_covariance"][1:])).smooth(x)
    wrong = dict(args, observation_matrices=np.ones((10, 2, 3)), n_dim_state=2)
    wrong.pop("observation_matrices")
    with pytest.raises(ValueError, match="disagree on n_dim_state"):
        KalmanFilter(**dict(args, observation_matrices=np.ones((10, 2, 3))))
    kf = KalmanFilter(**args)
    kf.transition_covariance = np.ones((9, 3, 3))
    with pytest.raises(ValueError, match=r"transition_covariance has shape \(9, 3, 3\), expected \(2, 2\) or \(n_timesteps - 1, 2, 2\)"):
        kf.filter(x)
    not_spd = args["transition_covariance"].copy()
    not_spd[3] = [[1.0, 2.0], [2.0, 1.0]]
    with pytest.raises(ValueError, match=r"transition_covariance\[3\] \(the transition into step 4\): .*not positive definite"):
        KalmanFilter(**dict(args, transition_covariance=not_spd)).loglikelihood(x)
    nan = args["observation_matrices"].copy()
    nan[7, 1, 0] = np.nan
    for method in ("filter", "smooth", "loglikelihood", "em"):
        with pytest.raises(ValueError, match=r"observation_matrices\[7\] \(step 7\): .*non-finite"):
            getattr(KalmanFilter(**dict(args, observation_matrices=nan)), method)(x)
    asymmetric = args["observation_covariance"].copy()
    asymmetric[0, 0, 1] += 0.5
    with pytest.raises(ValueError, match=r"observation_covariance\[0\] \(step 0\): .*symmetric"):
        KalmanFilter(**dict(args, observation_covariance=asymmetric)).sample(10)
