"""Fits of data held by Dask (emfit._dask): on a local cluster of two worker
processes they give the fit of the same data in memory, for any chunking,
through a worker's death; bad chunks are named."""

import builtins
import os

import dask
import dask.array as da
import distributed
import numpy as np
import pytest

from emfit.hmm import GMMHMM, CategoricalHMM, GaussianHMM, PoissonHMM
from emfit import _dask, _emfit
from emfit.mixture import GaussianMixture

RTOL = 1e-12


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1", dashboard_address=None)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def clusters(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[-4.0, 0.0, 1.0], [3.0, 3.0, -1.0], [0.0, -4.0, 2.0]])
    labels = rng.integers(0, 3, n)
    return centres[labels] + rng.normal(size=(n, 3)) * np.array([1.0, 0.7, 1.3])


X = clusters()
# Uneven chunks, one chunk, more chunks than workers.
CHUNKINGS = [(500, 1700, 800), (3000,), (400, 400, 300, 500, 200, 600, 600)]


def assert_close(a, b):
    """``a`` is ``b`` to ``RTOL`` relative to the largest entry of ``b`` (a
    start probability of 1e-14 is 0 to the rounding of the sums)."""
    np.testing.assert_allclose(a, b, rtol=0, atol=RTOL * np.max(np.abs(b)))


def assert_same_mixture(ref, fit):
    assert fit.n_iter_ == ref.n_iter_
    assert fit.converged_ == ref.converged_
    for name in ("weights_", "means_", "covariances_"):
        assert_close(getattr(fit, name), getattr(ref, name))
    assert_close(fit.lower_bound_, ref.lower_bound_)


@pytest.mark.parametrize("chunks", CHUNKINGS)
def test_mixture_on_the_cluster_is_the_fit_in_memory(client, chunks):
    # A random start and a small tolerance: many iterations.
    kwargs = dict(random_state=4, init_params="random", tol=1e-8)
    ref = GaussianMixture(3, **kwargs).fit(X)
    fit = GaussianMixture(3, **kwargs).fit(da.from_array(X, chunks=(chunks, 3)))
    assert fit.n_features_in_ == 3
    assert ref.n_iter_ > 5
    assert_same_mixture(ref, fit)


def test_mixture_from_given_parameters_and_a_list_of_chunks(client):
    start = GaussianMixture(3, random_state=1, max_iter=2, covariance_type="diag").fit(X)
    kwargs = dict(covariance_type="diag", weights_init=start.weights_, means_init=start.means_,
                  precisions_init=start.precisions_, acceleration="none", stopping="gain")
    ref = GaussianMixture(3, **kwargs).fit(X)
    listed = [X[:1000], da.from_array(X[1000:2500], chunks=500), X[2500:]]
    assert_same_mixture(ref, GaussianMixture(3, **kwargs).fit(listed))


def test_the_start_on_a_sample_does_not_depend_on_the_chunking(client):
    # 700 of 3000 rows: a start unlike the one on all the rows, the same
    # for every chunking.
    def start(chunks, init_sample=700):
        return GaussianMixture(3, random_state=9, max_iter=0, init_sample=init_sample).fit(
            da.from_array(X, chunks=(chunks, 3)))

    first = start(CHUNKINGS[0])
    for chunks in CHUNKINGS[1:]:
        other = start(chunks)
        np.testing.assert_array_equal(other.means_, first.means_)
        np.testing.assert_array_equal(other.covariances_, first.covariances_)
    whole = start(CHUNKINGS[0], init_sample=3000)
    assert not np.array_equal(whole.means_, first.means_)
    in_memory = GaussianMixture(3, random_state=9, max_iter=0).fit(X)
    np.testing.assert_array_equal(whole.means_, in_memory.means_)


def hmm_data():
    rng = np.random.default_rng(3)
    lengths = [300, 250, 450, 200, 400, 150, 250]
    states = []
    for n in lengths:
        z = [0]
        for _ in range(n - 1):
            z.append(z[-1] if rng.random() < 0.9 else 1 - z[-1])
        states.extend(z)
    states = np.array(states)
    x = np.where(states[:, None] == 0, -1.5, 2.0) + rng.normal(size=(len(states), 2))
    return x, lengths


# Row chunks on sequence boundaries: uneven, one, more than the workers.
HMM_CHUNKINGS = [(550, 1050, 400), (2000,), (300, 250, 450, 200, 400, 150, 250)]


@pytest.mark.parametrize("chunks", HMM_CHUNKINGS)
def test_gaussian_hmm_on_the_cluster_is_the_fit_in_memory(client, chunks):
    x, lengths = hmm_data()
    ref = GaussianHMM(2, covariance_type="full", random_state=2).fit(x, lengths)
    fit = GaussianHMM(2, covariance_type="full", random_state=2).fit(
        da.from_array(x, chunks=(chunks, 2)), lengths)
    assert fit.monitor_.iter == ref.monitor_.iter > 2
    for name in ("startprob_", "transmat_", "means_", "covars_"):
        assert_close(getattr(fit, name), getattr(ref, name))
    assert_close(fit.monitor_.history[-1], ref.monitor_.history[-1])


def other_families():
    rng = np.random.default_rng(1)
    z = (rng.random(1000) < 0.5).astype(int)
    real = np.where(z[:, None] == 0, rng.normal(-1, 1, (1000, 2)), rng.normal(2, 1, (1000, 2)))
    symbols = np.where(z == 0, rng.integers(0, 3, 1000), rng.integers(2, 5, 1000))[:, None]
    counts = rng.poisson(np.where(z[:, None] == 0, 2.0, 7.0), (1000, 2))
    return [(GMMHMM, real, {"n_mix": 2}), (CategoricalHMM, symbols.astype(float), {}),
            (PoissonHMM, counts.astype(float), {})]


@pytest.mark.parametrize("cls, x, kwargs", other_families(), ids=["gmm", "categorical", "poisson"])
def test_the_other_hmm_families_on_the_cluster(client, cls, x, kwargs):
    lengths = [300, 200, 500]
    kwargs = dict(kwargs, random_state=3, stopping="fixed", n_iter=10)
    ref = cls(2, **kwargs).fit(x, lengths)
    fit = cls(2, **kwargs).fit(da.from_array(x, chunks=((300, 700), x.shape[1])), lengths)
    assert fit.n_features == ref.n_features
    # Ten SQUAREM iterations away from convergence magnify the rounding of
    # the other association of the sums: 1e-9.
    for name in ("startprob_", "transmat_"):
        np.testing.assert_allclose(getattr(fit, name), getattr(ref, name), rtol=0, atol=1e-9)
    np.testing.assert_allclose(fit.monitor_.history, ref.monitor_.history, rtol=1e-12)


def test_a_chunking_that_cuts_a_sequence_is_refused(client):
    x, lengths = hmm_data()
    with pytest.raises(ValueError, match=r"the end of chunk 0 .* cuts sequence 2 \(rows 301-550"):
        GaussianHMM(2).fit(da.from_array(x, chunks=((500, 1500), 2)), lengths)
    with pytest.raises(ValueError, match="lengths=None is one sequence"):
        GaussianHMM(2).fit(da.from_array(x, chunks=((1000, 1000), 2)))


def test_a_worker_killed_during_the_fit_changes_nothing(client, monkeypatch):
    kwargs = dict(random_state=5, acceleration="none", stopping="fixed", max_iter=8, verbose=1)
    ref = GaussianMixture(3, **kwargs).fit(X)
    victims = []
    printed = builtins.print

    def kill_after_the_second_iteration(line, *args, **kw):
        if "iteration    2" in str(line) and not victims:
            victims.append(sorted(client.scheduler_info()["workers"])[0])
            # The worker exits without answering: the call's error is the
            # lost connection.
            try:
                client.run(os._exit, 1, workers=victims)
            except Exception:  # noqa: BLE001
                pass
        printed(line, *args, **kw)

    monkeypatch.setattr(builtins, "print", kill_after_the_second_iteration)
    fit = GaussianMixture(3, **kwargs).fit(da.from_array(X, chunks=((500, 1700, 800), 3)))
    monkeypatch.undo()
    assert victims, "the hook ran"
    assert_same_mixture(ref, fit)
    client.wait_for_workers(2, timeout=30)
    assert victims[0] not in client.scheduler_info()["workers"], "the worker died (its nanny started another)"


def test_a_chunk_with_nan_is_named_with_its_row(client):
    bad = X.copy()
    bad[1234, 2] = np.nan
    x = da.from_array(bad, chunks=((500, 1700, 800), 3))
    # The sample's pass (a start from the data) and the E-step (a given
    # start) both name chunk 1 and row 735 in it.
    with pytest.raises(ValueError, match=r"chunk 1 \(counted from 0; rows 501-2200 .*row 735, column 3 is not finite"):
        GaussianMixture(3).fit(x)
    start = GaussianMixture(3, random_state=0, max_iter=1, stopping="fixed").fit(X)
    given = GaussianMixture(3, weights_init=start.weights_, means_init=start.means_,
                            precisions_init=start.precisions_)
    with pytest.raises(ValueError, match=r"E-step of iteration 0 .* part 1: chunk 1 .*row 735, column 3 is not finite"):
        given.fit(x)
    assert not hasattr(given, "means_"), "a failed fit leaves the estimator as it was"


def test_chunks_of_different_widths_are_named(client):
    with pytest.raises(ValueError, match=r"chunk 2 \(counted from 0\) has 4 columns, chunk 0 has 3"):
        GaussianMixture(2).fit([da.from_array(X[:100]), X[100:200], np.ones((50, 4))])


def test_hmm_on_a_list_of_chunks_with_their_lengths(client):
    x, lengths = hmm_data()
    ref = GaussianHMM(2, random_state=2).fit(x, lengths)
    listed = [x[:550], da.from_array(x[550:1600], chunks=300), dask.delayed(x[1600:])]
    fit = GaussianHMM(2, random_state=2).fit(listed, [[300, 250], [450, 200, 400], [150, 250]])
    for name in ("transmat_", "means_", "covars_"):
        assert_close(getattr(fit, name), getattr(ref, name))
    with pytest.raises(ValueError, match=r"the lengths of chunk 1 \(counted from 0\) sum to 1000, the chunk has 1050"):
        GaussianHMM(2).fit(listed, [[300, 250], [450, 200, 350], [150, 250]])


def test_without_a_cluster_the_default_scheduler_fits():
    kwargs = dict(random_state=4, init_params="random", tol=1e-8)
    ref = GaussianMixture(3, **kwargs).fit(X)
    with dask.config.set(scheduler="threads"):
        fit = GaussianMixture(3, **kwargs).fit(da.from_array(X, chunks=((500, 1700, 800), 3)))
    assert_same_mixture(ref, fit)


def test_an_exception_other_than_a_chunks_stops_the_fit_as_it_is(monkeypatch):
    calls = []
    e_step = _dask._e_step

    def lost_after_two_e_steps(*args):
        calls.append(args[1])
        if len(calls) > 6:
            raise RuntimeError("the cluster is gone")
        return e_step(*args)

    monkeypatch.setattr(_dask, "_e_step", lost_after_two_e_steps)
    gmm = GaussianMixture(3, random_state=0, init_params="random", tol=1e-8)
    with dask.config.set(scheduler="synchronous"), pytest.raises(RuntimeError, match="the cluster is gone"):
        gmm.fit(da.from_array(X, chunks=((1000, 2000), 3)))
    assert len(calls) == 7, "stopped at the first failure"
    assert not hasattr(gmm, "means_")


def test_chunk_e_steps_merged_are_the_e_step_of_the_whole():
    gmm = GaussianMixture(3, random_state=0, max_iter=2, stopping="fixed").fit(X)
    model = (gmm.weights_, gmm.means_, gmm.covariances_, "full")
    whole = _emfit.gmm_chunk_e_step(X, *model, False)
    parts = [_emfit.gmm_chunk_e_step(np.ascontiguousarray(X[a:b]), *model, False)
             for a, b in ((0, 1000), (1000, 3000))]
    merged = _emfit.merge_e_steps("gmm", *parts)
    assert merged.shape == whole.shape
    assert_close(merged, whole)
    ll = [_emfit.gmm_chunk_e_step(np.ascontiguousarray(X[a:b]), *model, True) for a, b in ((0, 1000), (1000, 3000))]
    assert ll[0] + ll[1] == parts[0][0] + parts[1][0], "the log-likelihood alone is the E-step's, bit for bit"
    with pytest.raises(ValueError, match="flat statistics of kind"):
        _emfit.merge_e_steps("hmm-gaussian", *parts)
    with pytest.raises(ValueError, match="the kind of statistics must be"):
        _emfit.merge_e_steps("kalman", *parts)
    one_state = GaussianMixture(2, random_state=0, max_iter=1, stopping="fixed").fit(X)
    other = _emfit.gmm_chunk_e_step(X, one_state.weights_, one_state.means_, one_state.covariances_, "full", False)
    with pytest.raises(ValueError, match="cannot merge statistics of shape"):
        _emfit.merge_e_steps("gmm", whole, other)
