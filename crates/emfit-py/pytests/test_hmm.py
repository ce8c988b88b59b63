"""emfit.hmm side by side with hmmlearn in one process: same data, same
initial parameters (init_params='' and the parameters set by hand), plain EM
(acceleration='none'); the log-likelihood histories, scores, posteriors and
decodings agree to 1e-9 relative where the algorithm is the same.

hmmlearn's default Gaussian M-step adds the inverse-gamma/Wishart prior
covars_prior=1e-2 to the covariances (so does emfit's); the maximum-likelihood
comparisons set covars_prior=0 on both sides and reg_covar=0 in emfit (no
variance bound): both are then exact maximum-likelihood EM.
"""

import warnings

import numpy as np
import pytest
from hmmlearn import hmm as hl
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from emfit import hmm as eh

RTOL = 1e-9
LENGTHS = [180, 150, 170]


def rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def chain(k=3):
    start = np.array([0.5, 0.3, 0.2])[:k] / np.array([0.5, 0.3, 0.2])[:k].sum()
    trans = np.full((k, k), 0.1) + np.eye(k) * 0.6
    return start, trans / trans.sum(axis=1, keepdims=True)


def gaussian_data(seed=0):
    """Observations of a 3-state, 2-feature Gaussian HMM (three sequences)."""
    start, trans = chain()
    gen = hl.GaussianHMM(3, "full", init_params="")
    gen.startprob_, gen.transmat_ = start, trans
    gen.means_ = np.array([[0.0, 0.0], [3.0, 2.0], [-2.0, 4.0]])
    gen.covars_ = np.array([[[1.0, 0.3], [0.3, 0.8]], [[0.5, 0.0], [0.0, 0.5]], [[2.0, -0.5], [-0.5, 1.0]]])
    return gen.sample(sum(LENGTHS), random_state=seed)[0]


STARTS = {
    "full": np.array([np.eye(2)] * 3),
    "diag": np.array([[1.0, 2.0], [1.5, 1.0], [1.0, 1.0]]),
    "spherical": np.array([1.0, 2.0, 1.5]),
    "tied": np.array([[1.5, 0.2], [0.2, 1.0]]),
}


def set_gaussian_start(model, covariance_type):
    start, _ = chain()
    model.startprob_ = np.full(3, 1 / 3)
    model.transmat_ = np.array([[0.5, 0.3, 0.2], [0.2, 0.6, 0.2], [0.3, 0.3, 0.4]])
    model.means_ = np.array([[0.5, 0.5], [2.0, 2.0], [-1.0, 3.0]])
    model.covars_ = STARTS[covariance_type].copy()
    return model


def pair_of(ref, ours, setter, n_iter=25):
    """hmmlearn's and emfit's models with the same start, plain EM, exactly
    n_iter iterations (hmmlearn counts n_iter as converged; tol=-inf stops
    it on nothing else)."""
    ref.set_params(n_iter=n_iter, tol=-np.inf, init_params="")
    # hmmlearn's monitor_ is made in its constructor, with the first values.
    ref.monitor_.n_iter, ref.monitor_.tol = n_iter, -np.inf
    ours.set_params(n_iter=n_iter, init_params="", acceleration="none", stopping="fixed")
    return setter(ref), setter(ours)


def check_same_fit(ref, ours, X, lengths, n_iter=25):
    ref.fit(X, lengths)
    ours.fit(X, lengths)
    # hmmlearn's history: the log-likelihood before each of its n_iter
    # M-steps; emfit's: every iterate, the returned one last.
    href, hours = np.array(ref.monitor_.history), np.array(ours.monitor_.history)
    assert len(href) == n_iter and len(hours) == n_iter + 1
    assert rel(hours[:-1], href) < RTOL
    assert rel(ours.score(X, lengths), ref.score(X, lengths)) < RTOL
    assert hours[-1] == pytest.approx(ours.score(X, lengths), rel=1e-12)
    assert rel(ours.startprob_, ref.startprob_) < 1e-7
    assert rel(ours.transmat_, ref.transmat_) < 1e-7
    # score_samples, predict_proba, decode, predict with the same model.
    ll_ref, post_ref = ref.score_samples(X, lengths)
    ll_ours, post_ours = ours.score_samples(X, lengths)
    assert rel(ll_ours, ll_ref) < RTOL
    assert np.max(np.abs(post_ours - post_ref)) < 1e-8
    assert np.max(np.abs(ours.predict_proba(X, lengths) - ref.predict_proba(X, lengths))) < 1e-8
    vit_ref, path_ref = ref.decode(X, lengths, algorithm="viterbi")
    vit_ours, path_ours = ours.decode(X, lengths, algorithm="viterbi")
    assert rel(vit_ours, vit_ref) < RTOL
    np.testing.assert_array_equal(path_ours, path_ref)
    np.testing.assert_array_equal(ours.decode(X, lengths, algorithm="map")[1],
                                  ref.decode(X, lengths, algorithm="map")[1])
    np.testing.assert_array_equal(ours.predict(X, lengths), ref.predict(X, lengths))
    return ref, ours


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical", "tied"])
def test_gaussian_hmm_equals_hmmlearn(covariance_type):
    X = gaussian_data()
    ref, ours = pair_of(hl.GaussianHMM(3, covariance_type, covars_prior=0.0),
                        eh.GaussianHMM(3, covariance_type, covars_prior=0.0, reg_covar=0.0),
                        lambda m: set_gaussian_start(m, covariance_type))
    ref, ours = check_same_fit(ref, ours, X, LENGTHS)
    assert rel(ours.means_, ref.means_) < 1e-7
    # hmmlearn keeps spherical variances tiled over the features in _covars_.
    ref_covars = ref._covars_[:, 0] if covariance_type == "spherical" else ref._covars_
    assert rel(ours._covars_, ref_covars) < 1e-7
    if covariance_type != "spherical":  # hmmlearn's covars_ is (K*d, d, d) there
        assert ours.covars_.shape == (3, 2, 2)
        assert rel(ours.covars_, ref.covars_) < 1e-7


def categorical_data(seed=1):
    start, trans = chain()
    gen = hl.CategoricalHMM(3, init_params="")
    gen.startprob_, gen.transmat_ = start, trans
    gen.emissionprob_ = np.array([[0.7, 0.2, 0.05, 0.05], [0.1, 0.6, 0.2, 0.1], [0.05, 0.05, 0.3, 0.6]])
    return gen.sample(sum(LENGTHS), random_state=seed)[0]


def set_categorical_start(model):
    model.startprob_ = np.full(3, 1 / 3)
    model.transmat_ = np.array([[0.5, 0.3, 0.2], [0.2, 0.6, 0.2], [0.3, 0.3, 0.4]])
    model.emissionprob_ = np.array([[0.4, 0.3, 0.2, 0.1], [0.25, 0.25, 0.25, 0.25], [0.1, 0.2, 0.3, 0.4]])
    return model


def test_categorical_hmm_equals_hmmlearn():
    X = categorical_data()
    ref, ours = pair_of(hl.CategoricalHMM(3), eh.CategoricalHMM(3), set_categorical_start)
    ref, ours = check_same_fit(ref, ours, X, LENGTHS)
    assert rel(ours.emissionprob_, ref.emissionprob_) < 1e-7
    assert ours.n_features == 4


def test_categorical_dirichlet_priors_equal_hmmlearn():
    X = categorical_data()
    priors = dict(startprob_prior=np.array([2.0, 1.5, 1.0]), transmat_prior=2.0,
                  emissionprob_prior=np.full((3, 4), 1.5))
    ref, ours = pair_of(hl.CategoricalHMM(3, **priors), eh.CategoricalHMM(3, **priors), set_categorical_start)
    ref.fit(X, LENGTHS)
    ours.fit(X, LENGTHS)
    assert rel(ours.emissionprob_, ref.emissionprob_) < 1e-7
    assert rel(ours.transmat_, ref.transmat_) < 1e-7
    assert rel(ours.score(X, LENGTHS), ref.score(X, LENGTHS)) < RTOL


def poisson_data(seed=2):
    start, trans = chain()
    gen = hl.PoissonHMM(3, init_params="")
    gen.startprob_, gen.transmat_ = start, trans
    gen.lambdas_ = np.array([[1.0, 5.0], [8.0, 2.0], [0.3, 0.5]])
    return gen.sample(sum(LENGTHS), random_state=seed)[0]


def set_poisson_start(model):
    model.startprob_ = np.full(3, 1 / 3)
    model.transmat_ = np.array([[0.5, 0.3, 0.2], [0.2, 0.6, 0.2], [0.3, 0.3, 0.4]])
    model.lambdas_ = np.array([[2.0, 3.0], [5.0, 1.0], [1.0, 1.0]])
    return model


def test_poisson_hmm_equals_hmmlearn():
    X = poisson_data()
    ref, ours = pair_of(hl.PoissonHMM(3), eh.PoissonHMM(3), set_poisson_start)
    ref, ours = check_same_fit(ref, ours, X, LENGTHS)
    assert rel(ours.lambdas_, ref.lambdas_) < 1e-7


def gmm_start(model, covariance_type):
    model.startprob_ = np.array([0.6, 0.4])
    model.transmat_ = np.array([[0.8, 0.2], [0.3, 0.7]])
    model.weights_ = np.array([[0.5, 0.5], [0.3, 0.7]])
    model.means_ = np.array([[[0.0, 0.0], [2.0, 1.0]], [[-3.0, 3.0], [1.0, 4.0]]])
    model.covars_ = {
        "diag": np.ones((2, 2, 2)),
        "full": np.tile(np.eye(2), (2, 2, 1, 1)),
        "spherical": np.ones((2, 2)),
        "tied": np.tile(np.eye(2), (2, 1, 1)),
    }[covariance_type]
    return model


@pytest.mark.parametrize("covariance_type", ["diag", "full", "spherical", "tied"])
def test_gmm_hmm_scores_equal_hmmlearn(covariance_type):
    """Same parameters: forward-backward and Viterbi agree. (The fits differ:
    hmmlearn's GMMHMM M-step always applies its covariance prior, whose
    default depends on the covariance type, and updates the covariances
    around the new means with its own formula; emfit's is the exact
    maximum-likelihood update per state, so its history never falls.)"""
    ref = gmm_start(hl.GMMHMM(2, n_mix=2, covariance_type=covariance_type), covariance_type)
    ours = gmm_start(eh.GMMHMM(2, n_mix=2, covariance_type=covariance_type), covariance_type)
    X, _ = ref.sample(300, random_state=3)
    assert rel(ours.score(X), ref.score(X)) < RTOL
    _, post_ref = ref.score_samples(X)
    _, post_ours = ours.score_samples(X)
    assert np.max(np.abs(post_ours - post_ref)) < 1e-8
    vit_ref, path_ref = ref.decode(X)
    vit_ours, path_ours = ours.decode(X)
    assert rel(vit_ours, vit_ref) < RTOL
    np.testing.assert_array_equal(path_ours, path_ref)


@pytest.mark.parametrize("covariance_type", ["diag", "full"])
def test_gmm_hmm_fit_increases_the_likelihood(covariance_type):
    gen = gmm_start(eh.GMMHMM(2, n_mix=2, covariance_type=covariance_type), covariance_type)
    X, _ = gen.sample(400, random_state=4)
    model = eh.GMMHMM(2, n_mix=2, covariance_type=covariance_type, n_iter=50, random_state=0)
    model.fit(X, [200, 200])
    history = np.array(model.monitor_.history)
    assert np.all(np.diff(history) >= -1e-9 * np.abs(history[1:]))
    assert model.weights_.shape == (2, 2) and model.means_.shape == (2, 2, 2)
    assert model.score(X, [200, 200]) > history[0]


@pytest.mark.parametrize("seed", range(6))
def test_the_history_never_falls(seed):
    """Property: plain EM never lowers the log-likelihood, on random data,
    random starts and every emission family."""
    rng = np.random.default_rng(seed)
    lengths = list(rng.integers(5, 60, size=4))
    n = sum(lengths)
    k = int(rng.integers(2, 4))
    models = [
        (eh.GaussianHMM(k, rng.choice(["full", "diag", "spherical", "tied"]), random_state=seed),
         rng.normal(size=(n, 2)) + rng.integers(0, 3, size=(n, 1)) * 3),
        (eh.CategoricalHMM(k, random_state=seed), rng.integers(0, 5, size=(n, 1))),
        (eh.PoissonHMM(k, random_state=seed), rng.poisson(3.0, size=(n, 3))),
    ]
    for model, X in models:
        model.set_params(n_iter=40, acceleration="none", stopping="fixed")
        model.fit(X, lengths)
        h = np.array(model.monitor_.history)
        assert np.all(np.diff(h) >= -1e-9 * np.abs(h[1:])), (type(model).__name__, h)
        assert np.all(np.isfinite(model.predict_proba(X, lengths)))


def test_accelerated_default_converges_to_the_same_optimum():
    X = gaussian_data()
    plain = set_gaussian_start(eh.GaussianHMM(3, "full", covars_prior=0.0, init_params="", n_iter=2000,
                                              tol=1e-8, acceleration="none", stopping="gain"), "full")
    fast = set_gaussian_start(eh.GaussianHMM(3, "full", covars_prior=0.0, init_params="", n_iter=2000,
                                             tol=1e-8), "full")
    plain.fit(X, LENGTHS)
    fast.fit(X, LENGTHS)
    assert fast.monitor_.converged and plain.monitor_.converged
    assert fast.score(X, LENGTHS) == pytest.approx(plain.score(X, LENGTHS), abs=1e-5)
    assert fast.monitor_.iter < plain.monitor_.iter
    assert set(fast.fit_report_) >= {"history", "termination", "restarts", "text"}


def test_restarts_with_a_master_seed_are_reproducible():
    X = gaussian_data()
    a = eh.GaussianHMM(3, "diag", n_init=3, random_state=7, n_iter=100).fit(X, LENGTHS)
    b = eh.GaussianHMM(3, "diag", n_init=3, random_state=7, n_iter=100).fit(X, LENGTHS)
    assert len(a.fit_report_["restarts"]) == 3
    np.testing.assert_array_equal(a.means_, b.means_)
    best = max(r["log_likelihood"] for r in a.fit_report_["restarts"] if r["log_likelihood"] is not None)
    assert a.fit_report_["log_likelihood"] == best


def test_sample_shapes_currstate_and_seed():
    model = set_gaussian_start(eh.GaussianHMM(3, "full"), "full")
    X1, Z1 = model.sample(50, random_state=3)
    X2, Z2 = model.sample(50, random_state=3)
    assert X1.shape == (50, 2) and Z1.shape == (50,)
    np.testing.assert_array_equal(X1, X2)
    _, Z = model.sample(20, random_state=4, currstate=2)
    assert Z[0] == 2
    cat = set_categorical_start(eh.CategoricalHMM(3))
    Xc, _ = cat.sample(200, random_state=0)
    assert Xc.dtype.kind == "i" and Xc.shape == (200, 1) and set(np.unique(Xc)) <= {0, 1, 2, 3}


def test_not_fitted_and_convergence_warning():
    with pytest.raises(NotFittedError):
        eh.GaussianHMM(2).score(np.zeros((4, 1)))
    with pytest.raises(NotFittedError):
        eh.PoissonHMM(2).sample(3)
    X = gaussian_data()
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        eh.GaussianHMM(3, n_iter=2, tol=1e-12, random_state=0).fit(X, LENGTHS)


def test_bad_input_is_a_value_error_naming_where_and_leaves_the_model_unchanged():
    # emfit's messages count sequences, times and rows from 1.
    X = gaussian_data()
    model = set_gaussian_start(eh.GaussianHMM(3, "full", init_params=""), "full")
    before = {k: np.copy(v) for k, v in vars(model).items() if k.endswith("_")}
    with pytest.raises(ValueError, match="lengths sum to 499"):
        model.fit(X, [180, 150, 169])
    bad = X.copy()
    bad[200, 1] = np.nan
    with pytest.raises(ValueError, match=r"sequence 2, time 21 \(row 201\)"):
        model.fit(bad, LENGTHS)
    with pytest.raises(ValueError, match="columns"):
        model.fit(np.zeros((10, 3)))
    model.transmat_ = np.array([[0.5, 0.3, 0.2], [0.2, 0.6, 0.3], [0.3, 0.3, 0.4]])
    with pytest.raises(ValueError, match="row 2 of the transition matrix"):
        model.fit(X, LENGTHS)
    model.transmat_ = before["transmat_"]
    after = {k: v for k, v in vars(model).items() if k.endswith("_")}
    assert set(after) == set(before) and all(np.array_equal(after[k], before[k]) for k in before)
    assert "_monitor" not in vars(model) and not hasattr(model, "fit_report_")
    with pytest.raises(ValueError, match="row 4"):
        eh.CategoricalHMM(2).fit(np.array([[0], [1], [2], [1.5]]))
    with pytest.raises(ValueError, match="row 2"):
        eh.CategoricalHMM(2).fit(np.array([[0], [-1], [2]]))
    with pytest.raises(ValueError, match="sequence 1, time 2"):
        eh.PoissonHMM(2).fit(np.array([[1, 2], [-3, 1], [0, 0]]))
    with pytest.raises(ValueError, match=r"covars_prior must broadcast to shape \(2, 2\)"):
        eh.GaussianHMM(2, covars_prior=np.ones(3)).fit(X)
    with pytest.raises(ValueError, match="covars_prior and covars_weight"):
        eh.GMMHMM(2, covars_prior=-3.0).fit(X)
    with pytest.raises(ValueError, match="covariance_type"):
        eh.GaussianHMM(2, covariance_type="bad").fit(X)
