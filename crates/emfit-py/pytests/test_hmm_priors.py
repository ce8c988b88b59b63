"""The MAP M-steps of emfit.hmm against hmmlearn's: same data, same start,
same priors, plain EM for a few iterations (stopping='fixed'); the
parameters agree to 1e-9 relative. hmmlearn's monitor is not compared: its
history is the log-likelihood, which MAP-EM need not raise.

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
from test_hmm import LENGTHS, gaussian_data, rel, set_gaussian_start

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
