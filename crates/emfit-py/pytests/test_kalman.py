"""emfit.kalman.KalmanFilter against pykalman.KalmanFilter in the same
process, on the robot data pykalman ships (5 states, 2 observations, 501
steps, time-varying transition offsets, the first row masked)."""

import numpy as np
import pykalman
import pytest
from pykalman.datasets import load_robot
from sklearn.exceptions import ConvergenceWarning

from emfit.kalman import KalmanFilter

ROBOT = load_robot()

#: pykalman's own test setup on this data (its initial covariances).
ROBOT_ARGS = dict(
    transition_matrices=ROBOT.transition_matrix,
    observation_matrices=ROBOT.observation_matrix,
    transition_covariance=ROBOT.initial_transition_covariance,
    observation_covariance=ROBOT.initial_observation_covariance,
    transition_offsets=ROBOT.transition_offsets,
    observation_offsets=ROBOT.observation_offset,
    initial_state_mean=ROBOT.initial_state_mean,
    initial_state_covariance=ROBOT.initial_state_covariance,
)

NO_OFFSETS = {k: v for k, v in ROBOT_ARGS.items() if not k.endswith("offsets")}

PARAMETERS = [
    "transition_matrices",
    "observation_matrices",
    "transition_covariance",
    "observation_covariance",
    "transition_offsets",
    "observation_offsets",
    "initial_state_mean",
    "initial_state_covariance",
]

LEARNABLE = [p for p in PARAMETERS if not p.endswith("offsets")]


def assert_close(got, want, rtol=1e-9):
    """Equal to ``rtol`` relative to the scale of ``want`` (entries near
    zero are compared with the array's largest magnitude)."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape
    assert np.all(np.isfinite(got))
    scale = np.abs(want).max()
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale)


def pair(args):
    return KalmanFilter(**args), pykalman.KalmanFilter(**args)


@pytest.mark.parametrize("args", [ROBOT_ARGS, NO_OFFSETS], ids=["offsets", "no-offsets"])
def test_filter_smoother_and_likelihood_equal_pykalman(args):
    ours, theirs = pair(args)
    x = ROBOT.observations
    for got, want in zip(ours.filter(x), theirs.filter(x)):
        assert_close(got, want)
    for got, want in zip(ours.smooth(x), theirs.smooth(x)):
        assert_close(got, want)
    assert ours.loglikelihood(x) == pytest.approx(theirs.loglikelihood(x), rel=1e-9)


@pytest.mark.parametrize(
    "args, em_vars",
    [(ROBOT_ARGS, None), (NO_OFFSETS, None), (NO_OFFSETS, LEARNABLE), (NO_OFFSETS, ["transition_matrices"])],
    ids=["default-offsets", "default", "all-but-offsets", "transition-matrices"],
)
def test_em_equals_pykalman(args, em_vars):
    ours, theirs = pair(args)
    x = ROBOT.observations
    ours.em(x, n_iter=5, em_vars=em_vars)
    theirs.em(x, n_iter=5, em_vars=em_vars)
    for name in PARAMETERS:
        assert_close(getattr(ours, name), getattr(theirs, name))
    assert ours.loglikelihood(x) == pytest.approx(theirs.loglikelihood(x), rel=1e-9)
    report = ours.fit_report_
    assert report["iterations"] == 5
    assert report["log_likelihood"] == pytest.approx(ours.loglikelihood(x), rel=1e-12)


def test_em_never_lowers_the_likelihood():
    kf = KalmanFilter(**NO_OFFSETS, em_vars=LEARNABLE)
    kf.em(ROBOT.observations, n_iter=30)
    history = kf.fit_report_["history"]
    assert len(history) == 31
    assert all(b >= a - 1e-9 * abs(a) for a, b in zip(history, history[1:]))
    assert history[-1] > history[0]


def test_accelerated_em_converges_higher_than_the_fixed_iterations():
    # A well-identified model (EM on the robot data creeps for thousands
    # of iterations): Q and R of a sampled local-level pair.
    truth = KalmanFilter(transition_matrices=[[0.9, 0.1], [0.0, 0.8]], transition_covariance=0.2 * np.eye(2), n_dim_obs=2)
    _, x = truth.sample(400, random_state=1)
    em_vars = ["transition_covariance", "observation_covariance"]
    start = dict(transition_matrices=truth.transition_matrices, n_dim_obs=2, em_vars=em_vars)
    plain = KalmanFilter(**start).em(x, n_iter=10)
    fast = KalmanFilter(**start).em(x, n_iter=500, stopping="remaining", tol=1e-6, acceleration="squarem")
    assert fast.fit_report_["converged"]
    assert fast.fit_report_["iterations"] < 500
    assert fast.loglikelihood(x) > plain.loglikelihood(x)


def test_a_capped_fit_warns_that_it_did_not_converge():
    kf = KalmanFilter(**NO_OFFSETS, em_vars=LEARNABLE)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        kf.em(ROBOT.observations, n_iter=2, stopping="gain", tol=1e-12)
    assert kf.fit_report_["converged"] is False


@pytest.mark.parametrize("structure", ["diagonal", "scalar"])
def test_constrained_covariances(structure):
    kf = KalmanFilter(**NO_OFFSETS, em_vars=LEARNABLE)
    kf.em(
        ROBOT.observations,
        n_iter=5,
        transition_covariance_type=structure,
        observation_covariance_type=structure,
    )
    for m in (kf.transition_covariance, kf.observation_covariance):
        assert np.count_nonzero(m - np.diag(np.diag(m))) == 0
        if structure == "scalar":
            assert np.all(np.diag(m) == m[0, 0])
    history = kf.fit_report_["history"]
    assert all(b >= a - 1e-9 * abs(a) for a, b in zip(history, history[1:]))


def assert_filter_update_is_a_step(ours, theirs, filtered, x, t, step):
    """``ours.filter_update`` from the filtered moments of step t with
    observation t + 1 and the parameters ``step`` equals step t + 1 of
    ``filtered`` (ours.filter(x)) and pykalman's filter_update."""
    means, covariances = filtered
    got = ours.filter_update(means[t], covariances[t], x[t + 1], **step)
    assert_close(got[0], means[t + 1])
    assert_close(got[1], covariances[t + 1])
    want = theirs.filter_update(means[t], covariances[t], x[t + 1], **step)
    assert_close(got[0], want[0])
    assert_close(got[1], want[1])


def test_filter_update_is_a_step_of_the_filter():
    ours, theirs = pair(ROBOT_ARGS)
    x = ROBOT.observations
    means, covariances = ours.filter(x)
    for t in (0, 1, 200, 499):
        step = dict(transition_offset=ROBOT.transition_offsets[t])
        assert_filter_update_is_a_step(ours, theirs, (means, covariances), x, t, step)
    # Without an observation, or with it masked: the prediction only.
    predicted = theirs.filter_update(means[3], covariances[3], None, **step)
    for observation in (None, np.ma.masked_all(2)):
        got = ours.filter_update(means[3], covariances[3], observation, **step)
        assert_close(got[0], predicted[0])
        assert_close(got[1], predicted[1])


def test_filter_update_needs_the_offset_when_offsets_vary_in_time():
    kf = KalmanFilter(**ROBOT_ARGS)
    with pytest.raises(ValueError, match="transition_offsets vary in time"):
        kf.filter_update(np.zeros(5), np.eye(5), ROBOT.observations[1])


def test_masked_rows_are_skipped_and_masked_entries_are_missing_values():
    x = np.ma.array(ROBOT.observations[:60].data.copy(), mask=False)
    x[[0, 10, 11, 40]] = np.ma.masked
    ours, theirs = pair(NO_OFFSETS)
    for got, want in zip(ours.smooth(x), theirs.smooth(x)):
        assert_close(got, want)
    assert ours.loglikelihood(x) == pytest.approx(theirs.loglikelihood(x), rel=1e-9)
    # One masked entry: that step updates with the other coordinate, like a
    # model that observes that coordinate only (pykalman drops the row).
    partly = x.copy()
    partly[5, 0] = np.ma.masked
    means, covariances = ours.filter(partly)
    step = ours.filter_update(
        means[4],
        covariances[4],
        x[5, 1:],
        observation_matrix=NO_OFFSETS["observation_matrices"][1:],
        observation_covariance=NO_OFFSETS["observation_covariance"][1:, 1:],
    )
    with pytest.raises(ValueError, match="observation has 2 values, expected 5"):
        ours.filter_update(means[4], covariances[4], x[5], observation_matrix=np.eye(5))
    assert_close(means[5], step[0])
    assert_close(covariances[5], step[1])
    assert not np.allclose(means[5], ours.filter(x)[0][5])


def test_sample_is_seeded_shaped_and_follows_the_offsets():
    kf = KalmanFilter(**ROBOT_ARGS, random_state=3)
    states, observations = kf.sample(50)
    assert states.shape == (50, 5) and observations.shape == (50, 2)
    assert isinstance(observations, np.ma.MaskedArray)
    again = kf.sample(50)
    np.testing.assert_array_equal(states, again[0])
    other = kf.sample(50, random_state=4)
    assert not np.allclose(states, other[0])
    # Almost no noise: the sample is the deterministic path from the given
    # initial state, offsets included.
    quiet = dict(ROBOT_ARGS, transition_covariance=1e-20 * np.eye(5), observation_covariance=1e-20 * np.eye(2))
    start = np.arange(5.0)
    states, observations = KalmanFilter(**quiet).sample(20, initial_state=start, random_state=0)
    want = [start]
    for t in range(1, 20):
        want.append(ROBOT.transition_matrix @ want[-1] + ROBOT.transition_offsets[t - 1])
    want = np.array(want)
    assert_close(states, want, rtol=1e-8)
    assert_close(observations, want @ ROBOT.observation_matrix.T + ROBOT.observation_offset, rtol=1e-8)


def test_defaults_and_dimensions_follow_pykalman():
    kf = KalmanFilter(n_dim_state=2, n_dim_obs=2)
    theirs = pykalman.KalmanFilter(n_dim_state=2, n_dim_obs=2)
    x = np.random.default_rng(0).normal(size=(30, 2))
    for got, want in zip(kf.smooth(x), theirs.smooth(x)):
        assert_close(got, want)
    assert KalmanFilter(observation_matrices=np.ones((3, 4))).n_dim_state == 4
    assert KalmanFilter(observation_matrices=np.ones((3, 4))).n_dim_obs == 3
    # A 1-D series is one observed coordinate.
    one = KalmanFilter()
    assert one.filter(np.arange(5.0))[0].shape == (5, 1)


def test_bad_input_raises_errors_that_name_it():
    with pytest.raises(ValueError, match="n_dim_state"):
        KalmanFilter(transition_matrices=np.eye(2), initial_state_mean=np.zeros(3))
    with pytest.raises(ValueError, match="observation_matrices gives 4"):
        KalmanFilter(**dict(NO_OFFSETS, observation_matrices=np.ones((2, 4))))
    with pytest.raises(ValueError, match=r"initial_state_covariance has shape \(5, 3\), expected \(5, 5\)"):
        KalmanFilter(**dict(NO_OFFSETS, initial_state_covariance=np.eye(5)[:, :3])).filter(ROBOT.observations)
    not_spd = np.array([[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(ValueError, match="observation_covariance.*not positive definite"):
        KalmanFilter(**dict(NO_OFFSETS, observation_covariance=not_spd)).filter(ROBOT.observations)
    with pytest.raises(ValueError, match=r"X has shape \(10, 3\)"):
        KalmanFilter(**NO_OFFSETS).filter(np.zeros((10, 3)))
    nan = ROBOT.observations.data.copy()
    nan[7, 1] = np.nan
    with pytest.raises(ValueError, match="unmasked NaN at step 7, coordinate 1"):
        KalmanFilter(**NO_OFFSETS).smooth(nan)
    with pytest.raises(ValueError, match="filtered_state_covariance"):
        KalmanFilter(**NO_OFFSETS).filter_update(np.zeros(5), np.zeros((5, 5)), ROBOT.observations[3])


#: The robot model with constant offsets (the mean of the data set's
#: time-varying transition offsets).
CONSTANT_OFFSETS = dict(NO_OFFSETS, transition_offsets=ROBOT.transition_offsets.mean(axis=0),
                        observation_offsets=ROBOT.observation_offset)


def test_em_of_constant_offsets_equals_pykalman():
    """Offsets (and the initial mean) learned: pykalman's M-step is then the
    exact maximiser too, and both run the same iterations. The masked first
    row is left out: pykalman averages the observation offset over the
    fully observed rows, emfit's exact M-step over every row."""
    x = ROBOT.observations[1:]
    em_vars = ["transition_offsets", "observation_offsets", "initial_state_mean"]
    ours, theirs = pair(CONSTANT_OFFSETS)
    ours.em(x, n_iter=5, em_vars=em_vars)
    theirs.em(x, n_iter=5, em_vars=em_vars)
    for name in PARAMETERS:
        assert_close(getattr(ours, name), getattr(theirs, name))
    assert not np.allclose(ours.transition_offsets, CONSTANT_OFFSETS["transition_offsets"])
    assert_close(ours.loglikelihood(x), theirs.loglikelihood(x))


def test_em_of_matrices_with_constant_offsets_never_lowers_the_likelihood():
    x = ROBOT.observations
    kf = KalmanFilter(**CONSTANT_OFFSETS)
    before = kf.loglikelihood(x)
    kf.em(x, n_iter=5, em_vars=["transition_matrices", "transition_offsets", "observation_covariance"])
    history = kf.fit_report_["history"]
    assert all(b >= a - 1e-9 * abs(a) for a, b in zip(history, history[1:]))
    assert kf.loglikelihood(x) > before
    assert kf.transition_offsets.shape == (5,)


def test_unsupported_em_is_refused_and_a_failed_em_changes_nothing():
    x = ROBOT.observations
    kf = KalmanFilter(**ROBOT_ARGS)
    before = {name: getattr(kf, name) for name in PARAMETERS}
    with pytest.raises(NotImplementedError, match="EM of time-varying transition_offsets"):
        kf.em(x, em_vars="all")
    with pytest.raises(NotImplementedError, match="with time-varying transition_offsets"):
        kf.em(x, em_vars=["transition_matrices"])
    with pytest.raises(ValueError, match="em_vars has 'transition_matrix'"):
        kf.em(x, em_vars=["transition_matrix"])
    with pytest.raises(ValueError, match="acceleration must be"):
        kf.em(x, acceleration="fast")
    assert all(getattr(kf, name) is value for name, value in before.items())
    assert not hasattr(kf, "fit_report_")
    # Nothing observed: the fit fails, the estimator is unchanged.
    with pytest.raises(ValueError, match="every observation is missing"):
        kf.em(np.ma.masked_all((10, 2)))
    assert all(getattr(kf, name) is value for name, value in before.items())
