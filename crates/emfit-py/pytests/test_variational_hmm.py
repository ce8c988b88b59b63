"""emfit.hmm.VariationalCategoricalHMM side by side with hmmlearn's in one
process: the same data and the same starting posteriors (hmmlearn's random
start copied to emfit with init_params=''); the lower-bound trajectories
agree to 1e-8 relative, and so do the fitted posteriors."""

import numpy as np
import pytest
from hmmlearn import hmm as hl
from hmmlearn import vhmm

from emfit import hmm as eh

RTOL = 1e-8
LENGTHS = [60, 45, 1, 80]


def rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def categorical_data(seed=0):
    """Symbols of a sticky 3-state chain over 4 symbols (four sequences,
    one of length 1)."""
    gen = hl.CategoricalHMM(3, init_params="", random_state=seed)
    gen.startprob_ = np.array([0.6, 0.3, 0.1])
    gen.transmat_ = np.array([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.05, 0.15, 0.8]])
    gen.emissionprob_ = np.array([[0.7, 0.1, 0.1, 0.1], [0.1, 0.7, 0.1, 0.1], [0.05, 0.05, 0.1, 0.8]])
    X, _ = gen.sample(sum(LENGTHS), random_state=seed)
    return X


BLOCKS = ("startprob", "transmat", "emissionprob")


@pytest.mark.parametrize("priors", [
    {},
    {"startprob_prior": 2.0, "transmat_prior": 0.5, "emissionprob_prior": 3.0},
])
@pytest.mark.parametrize("params", ["ste", "te"])
def test_lower_bound_trajectory_equals_hmmlearn(priors, params):
    X = categorical_data()
    n_iter = 30
    ref = vhmm.VariationalCategoricalHMM(3, n_iter=n_iter, tol=-np.inf, random_state=7, params=params,
                                       **priors)
    ref._init(X, LENGTHS)
    ref._check()
    ours = eh.VariationalCategoricalHMM(3, n_iter=n_iter, init_params="", stopping="fixed", params=params,
                                        **priors)
    for name in BLOCKS:
        setattr(ours, f"{name}_posterior_", getattr(ref, f"{name}_posterior_").copy())
    bounds = []
    report = ref.monitor_.report
    ref.monitor_.report = lambda value: (bounds.append(value), report(value))
    ref.set_params(init_params="")
    ref.fit(X, LENGTHS)
    ours.fit(X, LENGTHS)
    # hmmlearn's: the bound of each state before its update (n_iter);
    # emfit's: every state, the returned one last.
    hours = np.array(ours.monitor_.history)
    assert len(bounds) == n_iter and len(hours) == n_iter + 1
    assert rel(hours[:-1], bounds) < RTOL
    assert np.all(np.diff(hours) >= -1e-12 * np.abs(hours[1:]))
    assert ours.monitor_.objective == "lower bound"
    for name in BLOCKS:
        for kind in ("prior", "posterior"):
            attr = f"{name}_{kind}_"
            assert rel(getattr(ours, attr), getattr(ref, attr)) < RTOL, attr
    assert rel(ours.emissionprob_, ref.emissionprob_) < RTOL
    if "s" in params:
        assert rel(ours.startprob_, ref.startprob_) < RTOL
    assert np.allclose(ours.transmat_.sum(axis=1), 1.0)
    assert ours.n_features == 4


def test_a_fresh_fit_climbs_and_converges():
    X = categorical_data(seed=3)
    model = eh.VariationalCategoricalHMM(3, n_iter=500, tol=1e-8, random_state=0).fit(X, LENGTHS)
    h = np.array(model.monitor_.history)
    assert model.monitor_.converged and len(h) > 3
    assert np.all(np.diff(h) >= -1e-12 * np.abs(h[1:]))
    assert model.emissionprob_posterior_.shape == (3, 4)
    assert np.allclose(model.emissionprob_.sum(axis=1), 1.0)


def test_bad_input_raises_value_error_naming_the_place():
    X = categorical_data()
    with pytest.raises(ValueError, match="row 3"):
        bad = X.astype(float)
        bad[2, 0] = 0.5
        eh.VariationalCategoricalHMM(2).fit(bad, [len(X)])
    model = eh.VariationalCategoricalHMM(2, init_params="")
    model.transmat_posterior_ = np.array([[1.0, 0.0], [1.0, 1.0]])
    with pytest.raises(ValueError, match=r"posterior concentration of the transition matrix at \(1, 2\)"):
        model.fit(X, LENGTHS)
    assert not hasattr(model, "monitor_")
    with pytest.raises(ValueError, match="lengths"):
        eh.VariationalCategoricalHMM(2).fit(X, [5])


GAUSSIAN_ATTRIBUTES = ("startprob_prior_", "startprob_posterior_", "transmat_prior_",
                       "transmat_posterior_", "means_prior_", "means_posterior_", "beta_prior_",
                       "beta_posterior_", "dof_prior_", "dof_posterior_", "scale_prior_",
                       "scale_posterior_")


def gaussian_data(seed=0):
    """Observations of a 3-state, 2-feature Gaussian HMM (four sequences)."""
    gen = hl.GaussianHMM(3, "full", init_params="", random_state=seed)
    gen.startprob_ = np.array([0.5, 0.3, 0.2])
    gen.transmat_ = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.15, 0.05, 0.8]])
    gen.means_ = np.array([[0.0, 0.0], [4.0, 3.0], [-3.0, 5.0]])
    gen.covars_ = np.array([[[1.0, 0.3], [0.3, 0.8]], [[0.5, 0.0], [0.0, 1.5]], [[1.2, -0.4], [-0.4, 0.9]]])
    X, _ = gen.sample(sum(LENGTHS), random_state=seed)
    return X


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
@pytest.mark.parametrize("params", ["stmc", "tm"])
def test_gaussian_lower_bound_trajectory_equals_hmmlearn(covariance_type, params):
    X = gaussian_data()
    n_iter = 30
    ref = vhmm.VariationalGaussianHMM(3, covariance_type, n_iter=n_iter, tol=-np.inf, random_state=4,
                                      params=params)
    ref._init(X, LENGTHS)
    ref._check()
    ours = eh.VariationalGaussianHMM(3, covariance_type, n_iter=n_iter, init_params="", stopping="fixed",
                                     params=params)
    for attribute in GAUSSIAN_ATTRIBUTES:
        setattr(ours, attribute, np.copy(getattr(ref, attribute)))
    bounds = []
    report = ref.monitor_.report
    ref.monitor_.report = lambda value: (bounds.append(value), report(value))
    ref.set_params(init_params="")
    ref.fit(X, LENGTHS)
    ours.fit(X, LENGTHS)
    hours = np.array(ours.monitor_.history)
    assert len(bounds) == n_iter and len(hours) == n_iter + 1
    assert rel(hours[:-1], bounds) < RTOL
    assert np.all(np.diff(hours) >= -1e-12 * np.abs(hours[1:]))
    for attribute in GAUSSIAN_ATTRIBUTES:
        assert rel(getattr(ours, attribute), getattr(ref, attribute)) < RTOL, attribute
    assert rel(ours.covars_, ref.covars_) < RTOL
    assert rel(ours.means_, ref.means_) < RTOL
    assert ours.n_features == 2


def test_gaussian_fresh_fit_and_refused_types():
    X = gaussian_data(seed=2)
    model = eh.VariationalGaussianHMM(3, random_state=0, n_iter=300, tol=1e-6).fit(X, LENGTHS)
    h = np.array(model.monitor_.history)
    assert model.monitor_.converged and np.all(np.diff(h) >= -1e-12 * np.abs(h[1:]))
    assert model.covars_.shape == (3, 2, 2) and model.scale_posterior_.shape == (3, 2, 2)
    diag = eh.VariationalGaussianHMM(2, "diag", random_state=0, n_iter=50).fit(X, LENGTHS)
    assert diag.scale_posterior_.shape == (2, 2)
    # Covariances without the means are not an update of any factor.
    with pytest.raises(ValueError, match="covariances need the means"):
        eh.VariationalGaussianHMM(2, params="stc", random_state=0).fit(X, LENGTHS)
    with pytest.raises(ValueError, match="'full' or 'diag'"):
        eh.VariationalGaussianHMM(2, "tied").fit(X, LENGTHS)
    bad = X.copy()
    bad[50, 1] = np.nan
    with pytest.raises(ValueError, match="row 51"):
        eh.VariationalGaussianHMM(2).fit(bad, LENGTHS)
