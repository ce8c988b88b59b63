"""Online (stepwise) EM through ``partial_fit``: one pass comes within 1%
of the batch fit, the first call starts as ``fit`` does, a pickled
estimator resumes bit for bit, and a bad chunk is refused naming where,
leaving the estimator as it was."""

import pickle

import numpy as np
import pytest

from emfit import hmm
from emfit.mixture import GaussianMixture


def blobs(n, seed=0):
    """``n`` points in 2-D from three overlapping Gaussians, shuffled."""
    rng = np.random.default_rng(seed)
    sizes = rng.multinomial(n, [0.5, 0.3, 0.2])
    x = np.vstack(
        [
            rng.multivariate_normal([0.0, 0.0], [[1.0, 0.3], [0.3, 0.8]], sizes[0]),
            rng.multivariate_normal([4.0, 1.0], [[0.6, -0.2], [-0.2, 1.2]], sizes[1]),
            rng.multivariate_normal([-2.0, 5.0], [[1.5, 0.0], [0.0, 0.5]], sizes[2]),
        ]
    )
    return x[rng.permutation(n)]


def chunks(x, size):
    return [x[i : i + size] for i in range(0, len(x), size)]


def state(estimator):
    """Everything a step leaves behind: the parameters and the stream's state."""
    return {k: np.array(v, copy=True) for k, v in vars(estimator).items() if isinstance(v, np.ndarray)}


def same(a, b):
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical", "tied"])
def test_one_pass_over_100k_points_is_within_one_percent_of_batch(covariance_type):
    x = blobs(100_000)
    online = GaussianMixture(3, covariance_type=covariance_type, random_state=0)
    for c in chunks(x, 5000):
        online.partial_fit(c)
    batch = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(x)
    gap = (batch.score(x) - online.score(x)) / abs(batch.score(x))
    assert abs(gap) < 0.01, (online.score(x), batch.score(x))
    assert online.n_samples_seen_ == 100_000 and online.n_iter_ == 20
    assert online.partial_fit_report_["chunks_seen"] == 20
    assert 0.0 < online.partial_fit_report_["step"] < 1.0


def test_the_first_call_starts_as_fit_and_makes_one_em_step():
    x = blobs(3000, seed=1)
    online = GaussianMixture(3, random_state=4).partial_fit(x)
    batch = GaussianMixture(3, random_state=4, max_iter=1, acceleration="none", stopping="fixed").fit(x)
    for attribute in ("weights_", "means_", "covariances_"):
        np.testing.assert_allclose(getattr(online, attribute), getattr(batch, attribute), rtol=1e-10, atol=1e-12)
    assert online.partial_fit_report_["step"] == 1.0
    assert online.n_samples_seen_ == 3000


def test_a_pickled_estimator_resumes_as_the_uninterrupted_one():
    parts = chunks(blobs(20_000, seed=2), 1500)
    whole = GaussianMixture(3, random_state=1)
    half = GaussianMixture(3, random_state=1)
    for c in parts[:5]:
        whole.partial_fit(c)
        half.partial_fit(c)
    resumed = pickle.loads(pickle.dumps(half))
    for c in parts[5:]:
        whole.partial_fit(c)
        resumed.partial_fit(c)
    assert same(state(whole), state(resumed))
    assert whole.n_samples_seen_ == resumed.n_samples_seen_ == 20_000


def test_a_bad_chunk_is_refused_and_changes_nothing():
    x = blobs(4000, seed=3)
    gm = GaussianMixture(3, random_state=0).partial_fit(x[:2000])
    before = state(gm)
    bad = x[2000:3000].copy()
    bad[41, 1] = np.nan
    with pytest.raises(ValueError, match=r"chunk 2: data value at row 42, column 2 is not finite"):
        gm.partial_fit(bad)
    with pytest.raises(ValueError, match="features"):
        gm.partial_fit(np.ones((10, 3)))
    assert same(state(gm), before)
    assert gm.n_samples_seen_ == 2000
    # The stream goes on as if the bad chunks had not come.
    clean = GaussianMixture(3, random_state=0).partial_fit(x[:2000]).partial_fit(x[2000:])
    assert same(state(gm.partial_fit(x[2000:])), state(clean))


def test_the_schedule_is_checked_and_fixed_within_a_stream():
    x = blobs(2000, seed=5)
    with pytest.raises(ValueError, match="learning_decay"):
        GaussianMixture(2, learning_decay=0.5, random_state=0).partial_fit(x)
    assert not hasattr(GaussianMixture(2), "weights_")
    gm = GaussianMixture(2, random_state=0).partial_fit(x[:1000])
    gm.set_params(learning_offset=50.0)
    with pytest.raises(ValueError, match="cannot change within a stream"):
        gm.partial_fit(x[1000:])
    # fit starts again from scratch, and a new stream after it.
    gm.fit(x)
    gm.partial_fit(x[:500])
    assert gm.n_samples_seen_ == 500


def hmm_stream(n_sequences, length, seed):
    gen = hmm.GaussianHMM(2, "full", init_params="")
    gen.startprob_ = np.array([0.6, 0.4])
    gen.transmat_ = np.array([[0.9, 0.1], [0.2, 0.8]])
    gen.means_ = np.array([[0.0, 0.0], [3.0, 1.0]])
    gen.covars_ = np.array([[[1.0, 0.2], [0.2, 0.7]], [[0.8, -0.1], [-0.1, 1.1]]])
    rng = np.random.default_rng(seed)
    return [gen.sample(length, random_state=int(rng.integers(2**31)))[0] for _ in range(n_sequences)]


def test_gaussian_hmm_one_pass_over_sequences_is_within_one_percent_of_batch():
    sequences = hmm_stream(400, 50, seed=0)
    x, lengths = np.vstack(sequences), [len(s) for s in sequences]
    online = hmm.GaussianHMM(2, "full", random_state=0)
    for i in range(0, 400, 20):
        part = sequences[i : i + 20]
        online.partial_fit(np.vstack(part), [len(s) for s in part])
    batch = hmm.GaussianHMM(2, "full", random_state=0, n_iter=100).fit(x, lengths)
    gap = (batch.score(x, lengths) - online.score(x, lengths)) / abs(batch.score(x, lengths))
    assert abs(gap) < 0.01, (online.score(x, lengths), batch.score(x, lengths))
    assert online.partial_fit_report_["observations_seen"] == 20_000


def test_an_hmm_resumes_after_pickling_and_refuses_bad_chunks():
    sequences = hmm_stream(30, 40, seed=1)
    whole = hmm.GaussianHMM(2, "diag", random_state=2)
    half = hmm.GaussianHMM(2, "diag", random_state=2)
    for s in sequences[:10]:
        whole.partial_fit(s)
        half.partial_fit(s)
    resumed = pickle.loads(pickle.dumps(half))
    before = state(resumed)
    bad = np.vstack(sequences[10:12])
    bad[47, 0] = np.inf
    with pytest.raises(ValueError, match=r"sequence 2, time 8 \(row 48\), column 1"):
        resumed.partial_fit(bad, [40, 40])
    with pytest.raises(ValueError, match="dimension mismatch"):
        resumed.partial_fit(np.ones((5, 3)))
    assert same(state(resumed), before)
    for s in sequences[10:]:
        whole.partial_fit(s)
        resumed.partial_fit(s)
    assert same(state(whole), state(resumed))


def test_a_categorical_hmm_learns_online():
    gen = hmm.CategoricalHMM(2, init_params="")
    gen.startprob_ = np.array([0.5, 0.5])
    gen.transmat_ = np.array([[0.95, 0.05], [0.1, 0.9]])
    gen.emissionprob_ = np.array([[0.8, 0.1, 0.1], [0.1, 0.1, 0.8]])
    parts = [gen.sample(200, random_state=i)[0] for i in range(30)]
    online = hmm.CategoricalHMM(2, random_state=0, n_features=3)
    # From its random start, batch EM needs about 30 steps to leave the
    # saddle here; the stream runs three passes of 30 chunks.
    for p in parts * 3:
        online.partial_fit(p)
    b = online.emissionprob_[np.argsort(online.emissionprob_[:, 0])[::-1]]
    np.testing.assert_allclose(b, gen.emissionprob_, atol=0.05)
    assert online.partial_fit_report_["chunks_seen"] == 90
