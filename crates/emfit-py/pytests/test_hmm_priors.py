"""The MAP M-steps of emfit.hmm against hmmlearn's: same data, same start,
same priors, plain EM for a few iterations (stopping='fixed'); the
parameters agree to 1e-9 relative. hmmlearn's monitor is not compared: its
history is the log-likelihood, which MAP-EM need not raise; emfit's is the
log posterior under priors, checked here against the log prior written
from its definition.

GMMHMM is compared with its means fixed (params without 'm'): hmmlearn
centres the covariance statistics on the previous means, emfit (exact EM)
on the updated ones, so with learned means the two differ by design.
PoissonHMM is compared with one state, where hmmlearn's rate update (the
mass of all states in the denominator) is the MAP estimate emfit computes.
"""

import numpy as np
import pytest
from hmmlearn import hmm as hl

from emfit import hmm as eh
from test_hmm import (LENGTHS, categorical_data, gaussian_data, rel, set_categorical_start,
                      set_gaussian_start)

N_ITER = 5


def fit_both(ref, ours, X, lengths, setter):
    ref.set_params(n_iter=N_ITER, tol=-np.inf, init_params="")
    ref.monitor_.n_iter, ref.monitor_.tol = N_ITER, -np.inf
    ours.set_params(n_iter=N_ITER, init_params="", acceleration="none", stopping="fixed")
    if "reg_covar" in ours.get_params():
        ours.set_params(reg_covar=0.0)
    setter(ref), setter(ours)
    ref.fit(X, lengths)
    ours.fit(X, lengths)
    assert ours.fit_report_["iterations"] == N_ITER
    return ref, ours


GAUSSIAN_PRIORS = {
    "diag": dict(means_prior=np.array([[0.0, 1.0], [2.0, 2.0], [-1.0, 3.0]]), means_weight=2.0,
                 covars_prior=np.array([[0.3, 0.1], [0.2, 0.2], [0.5, 0.4]]), covars_weight=4.0),
    "spherical": dict(means_prior=0.5, means_weight=3.0, covars_prior=0.4, covars_weight=3.0),
    "full": dict(means_prior=1.0, means_weight=1.5, covars_prior=np.array([[0.5, 0.1], [0.1, 0.3]]),
                 covars_weight=5.0),
    "tied": dict(means_prior=-0.5, means_weight=4.0, covars_prior=np.array([[0.6, -0.2], [-0.2, 0.4]]),
                 covars_weight=7.0),
}


@pytest.mark.parametrize("covariance_type", ["diag", "spherical", "full", "tied"])
def test_gaussian_hmm_priors_equal_hmmlearn(covariance_type):
    X = gaussian_data()
    priors = dict(GAUSSIAN_PRIORS[covariance_type], startprob_prior=2.0, transmat_prior=1.5)
    ref, ours = fit_both(hl.GaussianHMM(3, covariance_type, **priors),
                         eh.GaussianHMM(3, covariance_type, **priors), X, LENGTHS,
                         lambda m: set_gaussian_start(m, covariance_type))
    assert rel(ours.startprob_, ref.startprob_) < 1e-9
    assert rel(ours.transmat_, ref.transmat_) < 1e-9
    assert rel(ours.means_, ref.means_) < 1e-9
    ref_covars = ref._covars_[:, 0] if covariance_type == "spherical" else ref._covars_
    assert rel(ours._covars_, ref_covars) < 1e-9
    # The priors moved the answer: maximum likelihood differs.
    ml = eh.GaussianHMM(3, covariance_type, covars_prior=0.0)
    _, ml = fit_both(hl.GaussianHMM(3, covariance_type), ml, X, LENGTHS,
                     lambda m: set_gaussian_start(m, covariance_type))
    assert rel(ml.means_, ours.means_) > 1e-6


def set_gmm_start(model, covariance_type):
    model.startprob_ = np.full(2, 0.5)
    model.transmat_ = np.array([[0.7, 0.3], [0.4, 0.6]])
    model.weights_ = np.array([[0.5, 0.5], [0.3, 0.7]])
    model.means_ = np.array([[[0.0, 0.0], [3.0, 2.0]], [[-2.0, 4.0], [1.0, 1.0]]])
    model.covars_ = {
        "diag": np.array([[[1.0, 2.0], [1.5, 1.0]], [[1.0, 1.0], [0.5, 0.7]]]),
        "spherical": np.array([[1.0, 2.0], [1.5, 0.8]]),
        "full": np.array([[np.eye(2), 2 * np.eye(2)], [np.eye(2), np.eye(2)]]),
        "tied": np.array([np.eye(2), [[1.5, 0.2], [0.2, 1.0]]]),
    }[covariance_type]
    return model


GMM_PRIORS = {
    "diag": dict(covars_prior=0.5, covars_weight=0.7),
    "spherical": dict(covars_prior=1.0, covars_weight=0.4),
    "full": dict(covars_prior=np.array([[0.5, 0.1], [0.1, 0.3]]), covars_weight=1.0),
    "tied": dict(covars_prior=np.array([[0.6, -0.2], [-0.2, 0.4]]), covars_weight=2.0),
}


@pytest.mark.parametrize("covariance_type", ["diag", "spherical", "full", "tied"])
def test_gmm_hmm_priors_equal_hmmlearn_with_fixed_means(covariance_type):
    X = gaussian_data()
    priors = dict(GMM_PRIORS[covariance_type], weights_prior=2.0, means_prior=0.5, means_weight=1.5)
    ref, ours = fit_both(hl.GMMHMM(2, 2, covariance_type=covariance_type, params="stcw", **priors),
                         eh.GMMHMM(2, 2, covariance_type=covariance_type, params="stcw", **priors),
                         X, LENGTHS, lambda m: set_gmm_start(m, covariance_type))
    for attribute in ("startprob_", "transmat_", "weights_", "covars_"):
        assert rel(getattr(ours, attribute), getattr(ref, attribute)) < 1e-9, attribute


def test_poisson_hmm_gamma_prior_equals_hmmlearn_with_one_state():
    rng = np.random.default_rng(3)
    X = rng.poisson([2.0, 7.0], size=(200, 2))

    def setter(m):
        m.startprob_, m.transmat_, m.lambdas_ = np.ones(1), np.ones((1, 1)), np.array([[1.0, 1.0]])
        return m

    priors = dict(lambdas_prior=np.array([[3.0, 0.5]]), lambdas_weight=np.array([[10.0, 2.0]]))
    ref, ours = fit_both(hl.PoissonHMM(1, **priors), eh.PoissonHMM(1, **priors), X, None, setter)
    assert rel(ours.lambdas_, ref.lambdas_) < 1e-12
    expected = (priors["lambdas_prior"] + X.sum(axis=0)) / (priors["lambdas_weight"] + len(X))
    assert rel(ours.lambdas_, expected) < 1e-12


def test_bad_priors_are_value_errors_naming_the_parameter():
    X = gaussian_data()
    with pytest.raises(ValueError, match=r"means_prior must broadcast to shape \(3, 2\)"):
        eh.GaussianHMM(3, means_prior=np.ones(4)).fit(X, LENGTHS)
    with pytest.raises(ValueError, match="covars_weight"):
        eh.GMMHMM(2, 2, covariance_type="full", covars_weight=-10.0).fit(X, LENGTHS)
    with pytest.raises(ValueError, match="lambdas_weight"):
        eh.PoissonHMM(2, lambdas_weight=np.ones((3, 3))).fit(np.ones((10, 2), dtype=int))
    with pytest.raises(ValueError, match="covariance prior scale"):
        eh.GaussianHMM(3, "full", covars_prior=np.array([[0.0, 1.0], [1.0, 0.0]])).fit(X, LENGTHS)


def never_falls(history):
    """No drop beyond the loop's rounding, 1e-12 of the value."""
    h = np.asarray(history)
    return bool(np.all(np.diff(h) >= -1e-12 * np.abs(h[1:])))


def dirichlet_log_density(p, alpha):
    """Σ (α − 1) ln p over the positive entries: the Dirichlet log density
    up to its constant."""
    p, alpha = np.broadcast_arrays(np.asarray(p, float), np.asarray(alpha, float))
    positive = p > 0
    return float(np.sum((alpha[positive] - 1) * np.log(p[positive])))


def test_with_dirichlet_priors_the_history_is_the_log_posterior():
    X = categorical_data()
    priors = dict(startprob_prior=np.array([2.0, 1.5, 1.0]), transmat_prior=2.0,
                  emissionprob_prior=np.full((3, 4), 1.5))
    model = set_categorical_start(eh.CategoricalHMM(3, n_iter=30, init_params="", acceleration="none",
                                                    stopping="fixed", **priors))
    model.fit(X, LENGTHS)
    assert model.monitor_.objective == "log posterior"
    assert model.fit_report_["objective"] == "log posterior"
    log_prior = (dirichlet_log_density(model.startprob_, priors["startprob_prior"])
                 + dirichlet_log_density(model.transmat_, priors["transmat_prior"])
                 + dirichlet_log_density(model.emissionprob_, priors["emissionprob_prior"]))
    history = model.monitor_.history
    assert history[-1] == pytest.approx(model.score(X, LENGTHS) + log_prior, rel=1e-12)
    assert never_falls(history)


def test_with_a_gamma_prior_the_history_is_the_log_posterior():
    rng = np.random.default_rng(5)
    X = np.concatenate([rng.poisson([1.0, 6.0], size=(150, 2)), rng.poisson([5.0, 0.5], size=(150, 2))])
    alpha, beta = np.array([[3.0, 0.5], [1.0, 2.0]]), np.array([[10.0, 2.0], [0.5, 1.0]])
    model = eh.PoissonHMM(2, lambdas_prior=alpha, lambdas_weight=beta, n_iter=40, random_state=0,
                          acceleration="none", stopping="fixed")
    model.fit(X, [100, 200])
    assert model.monitor_.objective == "log posterior"
    log_prior = float(np.sum(alpha * np.log(model.lambdas_) - beta * model.lambdas_))
    history = model.monitor_.history
    assert history[-1] == pytest.approx(model.score(X, [100, 200]) + log_prior, rel=1e-12)
    assert never_falls(history)


def test_the_default_covariance_prior_is_a_log_posterior_history():
    """GaussianHMM's default covars_prior=1e-2 is a MAP fit: with the
    diagonal type the history's last value is ℓ − ½ Σ 10⁻² / σ²
    (Ψ = covars_prior, no extra mass with covars_weight=1)."""
    X = gaussian_data()
    model = eh.GaussianHMM(3, "diag", n_iter=30, random_state=0, reg_covar=0.0, acceleration="none",
                           stopping="fixed").fit(X, LENGTHS)
    assert model.monitor_.objective == "log posterior"
    log_prior = -0.5 * float(np.sum(1e-2 / model._covars_))
    assert model.monitor_.history[-1] == pytest.approx(model.score(X, LENGTHS) + log_prior, rel=1e-12)


@pytest.mark.parametrize("acceleration", ["none", "squarem"])
def test_a_fit_whose_likelihood_falls_converges_on_the_log_posterior(acceleration):
    """Along plain EM's path of this full-covariance fit under the default
    covars_prior=1e-2, ℓ alone falls by more than its rounding (by 7e-9
    near the answer), so a loop monitoring ℓ stops on a fall, not
    converged; the log posterior never falls, and the fit converges."""
    X = gaussian_data()

    def fitted(**kwargs):
        return eh.GaussianHMM(3, "full", random_state=0, **kwargs).fit(X, LENGTHS)

    path = np.array([fitted(n_iter=k, acceleration="none", stopping="fixed").score(X, LENGTHS)
                     for k in range(1, 25)])
    assert np.any(np.diff(path) < -1e-12 * np.abs(path[1:])), "ℓ falls along the path"
    model = fitted(n_iter=2000, tol=1e-10, acceleration=acceleration, stopping="gain")
    report = model.fit_report_
    assert model.monitor_.converged, report["text"]
    assert report["falls"] == []
    assert never_falls(model.monitor_.history)


def test_without_priors_the_history_is_the_log_likelihood():
    X = gaussian_data()
    model = eh.GaussianHMM(3, "diag", covars_prior=0.0, n_iter=20, random_state=0,
                           acceleration="none", stopping="fixed").fit(X, LENGTHS)
    assert model.monitor_.objective == "log-likelihood"
    assert model.monitor_.history[-1] == pytest.approx(model.score(X, LENGTHS), rel=1e-12)


def test_a_start_impossible_under_the_prior_is_a_value_error():
    """A given rate of 0 has log prior −∞ under a Gamma prior with shape
    α > 0: the fit cannot be monitored and says why."""
    X = np.column_stack([np.zeros(50, dtype=int), np.random.default_rng(0).poisson(3, 50)])
    model = eh.PoissonHMM(2, init_params="", lambdas_prior=1.0, lambdas_weight=1.0)
    model.startprob_, model.transmat_ = np.full(2, 0.5), np.full((2, 2), 0.5)
    model.lambdas_ = np.array([[0.0, 3.0], [1.0, 2.0]])
    with pytest.raises(ValueError, match="non-finite log prior -inf at iteration 0"):
        model.fit(X)
    np.testing.assert_array_equal(model.lambdas_, [[0.0, 3.0], [1.0, 2.0]])
