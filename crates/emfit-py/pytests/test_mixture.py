"""``emfit.mixture.GaussianMixture`` side by side with scikit-learn's in one
process, and emfit's additions: sample weights, partial starts, warm
starts, restarts, errors, hostile data."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

from emfit import _emfit
from emfit._random import seed
from emfit.mixture import GaussianMixture

TYPES = ("full", "tied", "diag", "spherical")


def three_clusters(seed=0):
    """750 points in 3-D from three overlapping Gaussians."""
    rng = np.random.default_rng(seed)
    return np.vstack(
        [
            rng.normal(-2.0, 1.0, (300, 3)),
            rng.normal(1.0, 0.6, (200, 3)),
            rng.normal([0.0, 3.0, 0.0], 0.8, (250, 3)),
        ]
    )


def start(x, covariance_type):
    """A deliberately poor start: equal weights, three data rows as means,
    unit precisions, in the shapes of ``covariance_type``."""
    k, d = 3, x.shape[1]
    precisions = {
        "full": np.stack([np.eye(d)] * k),
        "tied": np.eye(d),
        "diag": np.ones((k, d)),
        "spherical": np.ones(k),
    }[covariance_type]
    return dict(weights_init=np.full(k, 1.0 / k), means_init=x[[0, 400, 700]].copy(), precisions_init=precisions)


def relative(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def fit_quietly(model, x, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(x, **kwargs)


PARAMETERS = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_")


@pytest.mark.parametrize("covariance_type", TYPES)
def test_plain_em_follows_sklearns_trajectory(covariance_type):
    """Same data, same start, 30 plain EM iterations: the same parameters
    and the same log-likelihood at every iteration. scikit-learn's
    ``lower_bounds_[i]`` is the log-likelihood before M-step i + 1; emfit's
    history has one more entry, the returned parameters' own."""
    x = three_clusters()
    given = start(x, covariance_type)
    sk = fit_quietly(SklearnGaussianMixture(3, covariance_type=covariance_type, tol=0.0, max_iter=30, **given), x)
    ef = fit_quietly(
        GaussianMixture(3, covariance_type=covariance_type, tol=0.0, max_iter=30, acceleration="none", stopping="gain", **given),
        x,
    )
    assert ef.n_iter_ == sk.n_iter_ == 30
    for name in PARAMETERS:
        assert getattr(ef, name).shape == getattr(sk, name).shape, name
        assert relative(getattr(ef, name), getattr(sk, name)) < 1e-9, name
    assert len(ef.lower_bounds_) == 31
    assert relative(ef.lower_bounds_[:30], sk.lower_bounds_) < 1e-9
    assert relative(ef.lower_bound_, sk.score(x)) < 1e-12
    np.testing.assert_allclose(ef.score_samples(x), sk.score_samples(x), rtol=1e-10, atol=0)
    np.testing.assert_allclose(ef.predict_proba(x), sk.predict_proba(x), rtol=0, atol=1e-10)
    np.testing.assert_array_equal(ef.predict(x), sk.predict(x))
    assert relative(ef.score(x), sk.score(x)) < 1e-10
    assert relative(ef.bic(x), sk.bic(x)) < 1e-10
    assert relative(ef.aic(x), sk.aic(x)) < 1e-10


@pytest.mark.parametrize("covariance_type", TYPES)
def test_the_gain_rule_stops_where_sklearn_does(covariance_type):
    """With scikit-learn's rule (gain of the mean log-likelihood below
    ``tol``) both stop on the same gain; scikit-learn then returns the
    parameters of one more M-step and the log-likelihood before it, emfit
    the parameters whose log-likelihood it reports, so emfit's
    ``lower_bound_`` is scikit-learn's, and emfit's parameters are
    scikit-learn's after ``n_iter_`` iterations."""
    x = three_clusters(1)
    given = start(x, covariance_type)
    sk = SklearnGaussianMixture(3, covariance_type=covariance_type, tol=1e-6, max_iter=500, **given).fit(x)
    ef = GaussianMixture(3, covariance_type=covariance_type, tol=1e-6, max_iter=500, acceleration="none", stopping="gain", **given).fit(x)
    assert sk.converged_ and ef.converged_
    assert ef.n_iter_ == sk.n_iter_ - 1
    assert relative(ef.lower_bound_, sk.lower_bound_) < 1e-9
    same = fit_quietly(SklearnGaussianMixture(3, covariance_type=covariance_type, tol=0.0, max_iter=ef.n_iter_, **given), x)
    for name in PARAMETERS:
        assert relative(getattr(ef, name), getattr(same, name)) < 1e-9, name


@pytest.mark.parametrize("covariance_type", TYPES)
def test_the_default_fit_never_lowers_the_log_likelihood(covariance_type):
    for seed in range(3):
        x = three_clusters(seed)
        ef = GaussianMixture(3, covariance_type=covariance_type, random_state=seed, n_init=2, tol=1e-8).fit(x)
        history = np.array(ef.lower_bounds_)
        assert np.all(np.diff(history) >= -1e-12 * np.abs(history[1:])), history
        assert ef.converged_ and ef.fit_report_["converged"]
        assert len(ef.fit_report_["restarts"]) == 2
        assert ef.lower_bound_ == pytest.approx(ef.score(x), rel=1e-12)


def duplicated_point_cluster():
    rng = np.random.default_rng(3)
    return np.vstack([rng.normal(0.0, 1.0, (200, 2)), np.tile([[5.0, 5.0]], (40, 1)), rng.normal([-4.0, 3.0], 0.5, (100, 2))])


def spd(covariances, covariance_type):
    if covariance_type in ("diag", "spherical"):
        return bool(np.all(covariances > 0))
    stack = covariances[None] if covariance_type == "tied" else covariances
    return all(np.all(np.linalg.eigvalsh(c) > 0) for c in stack)


@pytest.mark.parametrize("covariance_type", ("full", "diag", "spherical"))
def test_a_duplicated_point_cluster_fails_sklearn_not_emfit(covariance_type):
    """40 copies of one point and no regularisation: scikit-learn 1.9.1
    raises; emfit starts the collapsed cluster's component from the data's
    covariance, keeps degenerate covariances out of its M-steps, and
    returns SPD covariances, finite scores and a non-decreasing
    log-likelihood."""
    x = duplicated_point_cluster()
    with pytest.raises(ValueError, match="ill-defined empirical covariance"):
        SklearnGaussianMixture(3, covariance_type=covariance_type, reg_covar=0.0, random_state=0).fit(x)
    ef = GaussianMixture(3, covariance_type=covariance_type, reg_covar=0.0, random_state=0).fit(x)
    assert spd(ef.covariances_, covariance_type)
    assert np.all(np.isfinite(ef.score_samples(x)))
    assert np.all(np.isfinite(ef.precisions_cholesky_))
    history = np.array(ef.lower_bounds_)
    assert np.all(np.diff(history) >= -1e-12 * np.abs(history[1:]))


def test_integer_weights_are_repeated_rows():
    x = three_clusters(2)
    counts = np.random.default_rng(5).integers(1, 4, len(x))
    repeated = np.repeat(x, counts, axis=0)
    for covariance_type in TYPES:
        given = start(x, covariance_type)
        weighted = GaussianMixture(3, covariance_type=covariance_type, tol=1e-8, **given).fit(x, sample_weight=counts)
        plain = GaussianMixture(3, covariance_type=covariance_type, tol=1e-8, **given).fit(repeated)
        assert weighted.n_iter_ == plain.n_iter_
        for name in PARAMETERS:
            assert relative(getattr(weighted, name), getattr(plain, name)) < 1e-9, (covariance_type, name)
        assert relative(weighted.lower_bound_, plain.lower_bound_) < 1e-9


def test_a_zero_weight_removes_the_row():
    """From data (k-means start) too: the start ignores zero-weight rows."""
    x = three_clusters(3)
    weights = np.ones(len(x))
    weights[::7] = 0.0
    for covariance_type in TYPES:
        weighted = GaussianMixture(3, covariance_type=covariance_type, random_state=4).fit(x, sample_weight=weights)
        removed = GaussianMixture(3, covariance_type=covariance_type, random_state=4).fit(x[weights > 0])
        for name in PARAMETERS:
            assert relative(getattr(weighted, name), getattr(removed, name)) < 1e-9, (covariance_type, name)


@pytest.mark.parametrize(
    "weights, message",
    [
        (-np.ones(750), "sample weight of row 1 is invalid"),
        (np.r_[np.ones(749), np.nan], "sample weight of row 750 is invalid"),
        (np.ones(749), "sample_weight.shape"),
        (np.zeros(750), "every weight is zero"),
    ],
)
def test_invalid_sample_weights_are_value_errors(weights, message):
    with pytest.raises(ValueError, match=message):
        GaussianMixture(3).fit(three_clusters(), sample_weight=weights)


def test_partial_starts_take_the_given_parameters():
    """``max_iter=0`` returns the start: given parameters are used as they
    are, the others come from the k-means start."""
    x = three_clusters()
    given = start(x, "full")
    only_means = GaussianMixture(3, max_iter=0, means_init=given["means_init"], random_state=0).fit(x)
    np.testing.assert_array_equal(only_means.means_, given["means_init"])
    only_weights = GaussianMixture(3, max_iter=0, weights_init=[0.2, 0.3, 0.5], random_state=0).fit(x)
    np.testing.assert_allclose(only_weights.weights_, [0.2, 0.3, 0.5], rtol=1e-15)
    precisions = np.stack([np.diag([1.0, 2.0, 4.0])] * 3)
    only_precisions = GaussianMixture(3, max_iter=0, precisions_init=precisions, random_state=0).fit(x)
    np.testing.assert_allclose(only_precisions.precisions_, precisions, rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match=r"'means' should have the shape of \(3, 3\)"):
        GaussianMixture(3, means_init=np.zeros((2, 3))).fit(x)
    with pytest.raises(ValueError, match="component 2"):
        GaussianMixture(3, precisions_init=np.stack([np.eye(3), -np.eye(3), np.eye(3)])).fit(x)


def test_warm_start_continues_where_the_last_fit_stopped():
    x = three_clusters()
    ef = GaussianMixture(3, warm_start=True, max_iter=3, acceleration="none", random_state=0)
    fit_quietly(ef, x)
    first = ef.lower_bound_
    fit_quietly(ef, x)
    assert ef.lower_bounds_[0] == pytest.approx(first, rel=1e-13)
    assert ef.lower_bound_ >= first


def test_random_state_makes_fits_and_samples_reproducible():
    x = three_clusters()
    a = GaussianMixture(3, init_params="random", n_init=3, random_state=7).fit(x)
    b = GaussianMixture(3, init_params="random", n_init=3, random_state=7).fit(x)
    c = GaussianMixture(3, init_params="random", n_init=3, random_state=8).fit(x)
    np.testing.assert_array_equal(a.means_, b.means_)
    seeds = [r["seed"] for r in a.fit_report_["restarts"]]
    assert seeds == [r["seed"] for r in b.fit_report_["restarts"]]
    assert seeds != [r["seed"] for r in c.fit_report_["restarts"]]
    assert seeds == [_emfit.restart_seed(seed(7), i) for i in range(3)]
    xa, ya = a.sample(500)
    xb, yb = a.sample(500)
    assert xa.shape == (500, 3) and ya.shape == (500,)
    assert set(np.unique(ya)) <= {0, 1, 2}
    np.testing.assert_array_equal(xa, xb)
    np.testing.assert_array_equal(ya, yb)
    with pytest.raises(ValueError, match="at least one sample"):
        a.sample(0)


def test_not_fitted_errors():
    ef = GaussianMixture(2)
    x = three_clusters()
    for method in (ef.predict, ef.predict_proba, ef.score_samples, ef.score, ef.bic, ef.aic):
        with pytest.raises(NotFittedError):
            method(x)
    with pytest.raises(NotFittedError):
        ef.sample(3)


def test_a_failed_fit_leaves_the_estimator_as_it_was():
    x = three_clusters()
    ef = GaussianMixture(3, random_state=0).fit(x)
    before = {k: v for k, v in vars(ef).items()}
    bad = x.copy()
    bad[5, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ef.fit(bad)
    with pytest.raises(ValueError, match="n_samples >= n_components"):
        GaussianMixture(5).fit(x[:4])
    with pytest.raises(ValueError, match="every weight is zero"):
        ef.fit(x, sample_weight=np.zeros(len(x)))
    assert vars(ef).keys() == before.keys()
    for key, value in before.items():
        assert vars(ef)[key] is value, key


def test_not_converging_warns():
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        ef = GaussianMixture(3, max_iter=2, tol=0.0, random_state=0).fit(three_clusters())
    assert not ef.converged_ and ef.n_iter_ == 2
