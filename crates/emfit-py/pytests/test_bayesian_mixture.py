"""emfit.mixture.BayesianGaussianMixture against scikit-learn's: the same
lower-bound trajectory from the same responsibilities, the same posterior,
the same number of effective components."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import BayesianGaussianMixture as SklearnBGM

from emfit.mixture import BayesianGaussianMixture

TYPES = ["full", "tied", "diag", "spherical"]
PRIORS = ["dirichlet_process", "dirichlet_distribution"]


def three_clusters(seed=0, per_cluster=80):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0, 0.0], [5.0, 1.0, -1.0], [-2.0, 6.0, 2.0]])
    scales = np.array([1.0, 0.7, 1.3])
    return np.vstack([rng.normal(c, scales, size=(per_cluster, 3)) for c in centres])


def sklearn_fit(X, **kwargs):
    """scikit-learn's fit, and the responsibilities its ``_initialize`` got."""
    model = SklearnBGM(**kwargs)
    seen = {}
    initialize = model._initialize

    def recording(X, resp):
        seen["resp"] = np.array(resp, dtype=np.float64, copy=True)
        return initialize(X, resp)

    model._initialize = recording
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X)
    return model, seen["resp"]


def close(a, b, rtol):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * max(1.0, float(np.max(np.abs(b)))))


@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("prior", PRIORS)
def test_the_lower_bound_trajectory_is_scikit_learns(covariance_type, prior):
    X = three_clusters(1)
    common = dict(n_components=5, covariance_type=covariance_type, weight_concentration_prior_type=prior, max_iter=60)
    ref, resp = sklearn_fit(X, tol=0.0, init_params="random", random_state=3, **common)
    ours = BayesianGaussianMixture(resp_init=resp, stopping="fixed", **common).fit(X)

    assert ours.fit_report_["objective"] == "lower bound"
    assert ours.n_iter_ == ref.n_iter_ == 60
    bounds, ref_bounds = np.array(ours.lower_bounds_), np.array(ref.lower_bounds_, dtype=float).ravel()
    assert np.max(np.abs(bounds - ref_bounds) / np.abs(ref_bounds)) < 1e-8
    assert abs(ours.lower_bound_ - ref.lower_bound_) < 1e-8 * abs(ref.lower_bound_)
    assert np.all(np.diff(bounds) > -1e-9 * np.abs(bounds[1:]))

    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_", "mean_precision_", "degrees_of_freedom_"):
        close(getattr(ours, name), getattr(ref, name), 1e-7)
    if prior == "dirichlet_process":
        close(ours.weight_concentration_[0], ref.weight_concentration_[0], 1e-7)
        close(ours.weight_concentration_[1], ref.weight_concentration_[1], 1e-7)
    else:
        close(ours.weight_concentration_, ref.weight_concentration_, 1e-7)
    for name in ("mean_prior_", "covariance_prior_", "degrees_of_freedom_prior_", "weight_concentration_prior_", "mean_precision_prior_"):
        close(getattr(ours, name), getattr(ref, name), 1e-12)

    X_new = three_clusters(2, per_cluster=10)
    close(ours.score_samples(X_new), ref.score_samples(X_new), 1e-7)
    close(ours.predict_proba(X_new), ref.predict_proba(X_new), 1e-6)
    assert np.array_equal(ours.predict(X_new), ref.predict(X_new))


@pytest.mark.parametrize("covariance_type", TYPES)
def test_convergence_stops_where_scikit_learn_stops(covariance_type):
    X = three_clusters(4)
    common = dict(n_components=4, covariance_type=covariance_type, max_iter=500, tol=1e-3)
    ref, resp = sklearn_fit(X, init_params="random", random_state=0, **common)
    ours = BayesianGaussianMixture(resp_init=resp, **common).fit(X)
    assert ref.converged_ and ours.converged_
    assert ours.n_iter_ == ref.n_iter_
    assert abs(ours.lower_bound_ - ref.lower_bound_) < 1e-8 * abs(ref.lower_bound_)


@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("prior", PRIORS)
def test_eight_components_on_three_clusters_keep_scikit_learns_effective_count(covariance_type, prior):
    X = three_clusters(5)
    common = dict(n_components=8, covariance_type=covariance_type, weight_concentration_prior_type=prior, max_iter=1000)
    ref, resp = sklearn_fit(X, init_params="random", random_state=7, **common)
    ours = BayesianGaussianMixture(resp_init=resp, **common).fit(X)
    expected = int(np.sum(ref.weights_ > 0.01))
    assert ours.n_effective_components_ == int(np.sum(ours.weights_ > 0.01)) == expected
    # emfit's own start (k-means) finds the same number.
    own = BayesianGaussianMixture(random_state=0, **common).fit(X)
    assert own.n_effective_components_ == expected


def test_bad_input_raises_value_errors():
    X = three_clusters(6)
    with pytest.raises(ValueError, match="degrees_of_freedom"):
        BayesianGaussianMixture(n_components=2, degrees_of_freedom_prior=1.5).fit(X)
    with pytest.raises(ValueError, match="covariance_prior"):
        BayesianGaussianMixture(n_components=2, covariance_prior=np.eye(2)).fit(X)
    with pytest.raises(ValueError, match="positive definite"):
        BayesianGaussianMixture(n_components=2, covariance_prior=-np.eye(3)).fit(X)
    with pytest.raises(ValueError, match="weight_concentration_prior_type"):
        BayesianGaussianMixture(weight_concentration_prior_type="pitman-yor").fit(X)
    with pytest.raises(ValueError, match="warm_start"):
        BayesianGaussianMixture(warm_start=True).fit(X)
    with pytest.raises(ValueError, match="resp_init"):
        BayesianGaussianMixture(n_components=2, resp_init=np.ones((3, 2))).fit(X)
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError):
        BayesianGaussianMixture(n_components=2).fit(bad)
    model = BayesianGaussianMixture(n_components=2, random_state=0).fit(X)
    before = model.means_.copy()
    with pytest.raises(ValueError):
        model.set_params(mean_precision_prior=-1.0).fit(X)
    assert np.array_equal(model.means_, before)
