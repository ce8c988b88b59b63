"""emfit.hmm.VariationalCategoricalHMM and VariationalGaussianHMM side by
side with hmmlearn's in one process: the same data and the same starting
posteriors (hmmlearn's random start copied to emfit with init_params='');
the lower-bound trajectories agree to 1e-8 relative, and so do the fitted
posteriors. After a fit, hmmlearn's models given emfit's posterior give
the same scores and posteriors (1e-8) and the same state paths."""

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


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical", "tied"])
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
        assert np.shape(getattr(ours, attribute)) == np.shape(getattr(ref, attribute)), attribute
        assert rel(getattr(ours, attribute), getattr(ref, attribute)) < RTOL, attribute
    # (hmmlearn's spherical covars_ keep the (K, d) shape of its start
    # until an update of 'c' sets them.)
    if "c" in params or covariance_type != "spherical":
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
    with pytest.raises(ValueError, match="'spherical' or 'tied', got 'round'"):
        eh.VariationalGaussianHMM(2, "round").fit(X, LENGTHS)
    spherical = eh.VariationalGaussianHMM(2, "spherical", random_state=0, n_iter=50).fit(X, LENGTHS)
    assert spherical.scale_posterior_.shape == (2,) and spherical.dof_posterior_.shape == (2,)
    assert np.allclose(spherical.covars_, spherical.scale_posterior_[:, None, None] / spherical.dof_posterior_[:, None, None] * np.eye(2))
    tied = eh.VariationalGaussianHMM(2, "tied", random_state=0, n_iter=50).fit(X, LENGTHS)
    assert tied.scale_posterior_.shape == (2, 2) and isinstance(tied.dof_posterior_, float)
    assert tied.dof_posterior_ == pytest.approx(tied.dof_prior_ + len(X))
    assert np.array_equal(tied.covars_[0], tied.covars_[1])
    for model in (spherical, tied):
        h = np.array(model.monitor_.history)
        assert np.all(np.diff(h) >= -1e-12 * np.abs(h[1:]))
    # A tied scale of the wrong shape, named.
    bad = eh.VariationalGaussianHMM(2, "tied", init_params="stm", random_state=0)
    bad.scale_posterior_ = np.eye(3)
    bad.dof_posterior_ = 5.0
    with pytest.raises(ValueError, match=r"scale_posterior_ must broadcast to shape \(2, 2\), got shape \(3, 3\)"):
        bad.fit(X, LENGTHS)
    bad = X.copy()
    bad[50, 1] = np.nan
    with pytest.raises(ValueError, match="row 51"):
        eh.VariationalGaussianHMM(2).fit(bad, LENGTHS)


# -- inference after fit: hmmlearn's methods on the same posterior ----------

def hmmlearn_twin(ours, cls, *extra):
    """hmmlearn's model with emfit's fitted posterior and posterior means
    (the attributes hmmlearn's inference reads)."""
    kwargs = {"covariance_type": ours.covariance_type} if cls is vhmm.VariationalGaussianHMM else {}
    ref = cls(ours.n_components, algorithm=ours.algorithm, **kwargs)
    ref.n_features = ours.n_features
    for attribute in ("startprob_", "transmat_") + extra:
        value = getattr(ours, attribute)  # tied: the degrees of freedom a float
        setattr(ref, attribute, np.copy(value) if isinstance(value, np.ndarray) else value)
    return ref


def categorical_twins(seed=1):
    X = categorical_data()
    ours = eh.VariationalCategoricalHMM(3, n_iter=40, random_state=seed, stopping="fixed").fit(X, LENGTHS)
    extra = tuple(f"{name}_{kind}_" for name in BLOCKS for kind in ("prior", "posterior")) + ("emissionprob_",)
    return X, ours, hmmlearn_twin(ours, vhmm.VariationalCategoricalHMM, *extra)


def gaussian_twins(covariance_type, seed=1):
    X = gaussian_data()
    ours = eh.VariationalGaussianHMM(3, covariance_type, n_iter=40, random_state=seed,
                                     stopping="fixed").fit(X, LENGTHS)
    ref = hmmlearn_twin(ours, vhmm.VariationalGaussianHMM, *GAUSSIAN_ATTRIBUTES)
    # hmmlearn's covariances in its own shape: the scale over the dof.
    dof = np.asarray(ref.dof_posterior_)
    dof = {"full": dof[..., None, None], "diag": dof[..., None]}.get(covariance_type, dof)
    ref._covars_ = ref.scale_posterior_ / dof
    return X, ours, ref


@pytest.mark.parametrize("twins", [categorical_twins] + [
    (lambda t: lambda: gaussian_twins(t))(t) for t in ("full", "diag", "spherical", "tied")])
def test_inference_equals_hmmlearn_on_the_same_posterior(twins):
    X, ours, ref = twins()
    for lengths in (LENGTHS, None):
        assert rel(ours.score(X, lengths), ref.score(X, lengths)) < RTOL
        log_prob, posteriors = ours.score_samples(X, lengths)
        ref_log_prob, ref_posteriors = ref.score_samples(X, lengths)
        assert rel(log_prob, ref_log_prob) < RTOL
        assert np.max(np.abs(posteriors - ref_posteriors)) < RTOL
        assert np.array_equal(ours.predict_proba(X, lengths), posteriors)
        log_prob, states = ours.decode(X, lengths, algorithm="viterbi")
        ref_log_prob, ref_states = ref.decode(X, lengths, algorithm="viterbi")
        assert rel(log_prob, ref_log_prob) < RTOL
        assert np.array_equal(states, ref_states)
        assert np.array_equal(ours.predict(X, lengths), ref.predict(X, lengths))
        log_prob, states = ours.decode(X, lengths, algorithm="map")
        _, ref_states = ref.decode(X, lengths, algorithm="map")
        assert np.array_equal(states, ref_states)
        # emfit's map score is the log of the product of the chosen posteriors.
        assert rel(log_prob, np.sum(np.log(np.max(ref_posteriors, axis=1)))) < RTOL


def test_predict_follows_the_algorithm_argument():
    X, ours, ref = categorical_twins()
    ours.set_params(algorithm="map")
    ref.algorithm = "map"
    assert np.array_equal(ours.predict(X, LENGTHS), ref.predict(X, LENGTHS))
    assert np.array_equal(ours.predict(X, LENGTHS), np.argmax(ours.predict_proba(X, LENGTHS), axis=1))
    with pytest.raises(ValueError, match="algorithm"):
        ours.decode(X, LENGTHS, algorithm="beam")


def test_sample_draws_from_the_posterior_means():
    _, ours, _ = categorical_twins()
    X, Z = ours.sample(20000, random_state=5)
    assert X.shape == (20000, 1) and Z.shape == (20000,)
    assert np.issubdtype(X.dtype, np.integer)
    X2, Z2 = ours.sample(20000, random_state=5)
    assert np.array_equal(X, X2) and np.array_equal(Z, Z2)
    # Empirical transitions and emissions approach the posterior means.
    counts = np.zeros((3, 3))
    np.add.at(counts, (Z[:-1], Z[1:]), 1)
    assert np.max(np.abs(counts / counts.sum(axis=1, keepdims=True) - ours.transmat_)) < 0.05
    for j in range(3):
        freq = np.bincount(X[Z == j, 0], minlength=4) / np.sum(Z == j)
        assert np.max(np.abs(freq - ours.emissionprob_[j])) < 0.05
    _, Z = ours.sample(5, random_state=0, currstate=2)
    assert Z[0] == 2
    _, gaussian, _ = gaussian_twins("diag")
    X, Z = gaussian.sample(20000, random_state=1)
    assert X.shape == (20000, 2)
    for j in range(3):
        assert np.max(np.abs(X[Z == j].mean(axis=0) - gaussian.means_[j])) < 0.1
        assert np.max(np.abs(np.cov(X[Z == j].T) - gaussian.covars_[j])) < 0.15


def test_inference_errors_are_those_of_the_other_classes():
    from sklearn.exceptions import NotFittedError

    X = categorical_data()
    for model in (eh.VariationalCategoricalHMM(2), eh.VariationalGaussianHMM(2)):
        for call in (lambda m: m.score(X), lambda m: m.predict(X), lambda m: m.sample(3)):
            with pytest.raises(NotFittedError, match="not fitted"):
                call(model)
    _, ours, _ = categorical_twins()
    with pytest.raises(ValueError, match="row 3"):
        bad = X.astype(float)
        bad[2, 0] = np.nan
        ours.score(bad)
    too_big = X.copy()
    too_big[4, 0] = 7
    with pytest.raises(ValueError, match=r"row 5\): 7 is not a symbol in 0\.\.4"):
        ours.predict(too_big)
    with pytest.raises(ValueError, match="lengths"):
        ours.score_samples(X, [5])
    Xg, gaussian, _ = gaussian_twins("full")
    with pytest.raises(ValueError, match="expected 2, found 4"):
        gaussian.score(np.hstack([Xg, Xg]))
    bad = Xg.copy()
    bad[9, 0] = np.inf
    with pytest.raises(ValueError, match="row 10"):
        gaussian.decode(bad)
