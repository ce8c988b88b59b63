"""hmmlearn's own tests, as installed with the pinned hmmlearn, run against
emfit's classes: a subprocess runs `pytest --pyargs hmmlearn.tests.<module>`
with this file loaded as a plugin (``-p``), whose ``pytest_configure``
replaces ``hmmlearn.hmm.GaussianHMM``, ``GMMHMM``, ``CategoricalHMM`` and
``PoissonHMM`` by emfit's before the test modules are imported. Nothing of
hmmlearn is copied here.

Selected: the test modules of the four classes emfit replaces (about 15 s).
Left out: test_multinomial_hmm (MultinomialHMM), test_variational_* (the
variational models), test_base, test_utils and test_kl_divergence
(hmmlearn's internals): emfit has no counterpart.

Every test must pass, except those listed below with the reason; a listed
test that starts passing fails this test too, so the list stays true.
"""

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

MODULES = ["test_gaussian_hmm", "test_categorical_hmm", "test_poisson_hmm", "test_gmm_hmm",
           "test_gmm_hmm_new", "test_gmm_hmm_multisequence"]

GAUSSIAN_CLASSES = ["Spherical", "Diagonal", "Tied", "Full"]
IMPLEMENTATIONS = ["scaling", "log"]

#: Tests of hmmlearn's private API: not applicable.
PRIVATE = {
    **{f"TestGaussianHMMWith{c}Covars::test_fit_too_little_data[{i}]":
       "asserts the log record of hmmlearn's private _init about a degenerate solution"
       for c in GAUSSIAN_CLASSES for i in IMPLEMENTATIONS},
    **{f"TestCategoricalHMM::test__check_and_set_categorical_n_features[{i}]":
       "calls hmmlearn's private _check_and_set_n_features" for i in IMPLEMENTATIONS},
}

#: Other failures, each explained.
EXPLAINED = {
    "TestGaussianHMMWithSphericalCovars::test_underflow_from_scaling[scaling]":
        "expects hmmlearn's 'scaling' implementation to underflow (ValueError); emfit's recursions "
        "never underflow, whatever `implementation` says, so the fit succeeds",
    **{f"TestGMMHMMWithSphericalCovars::test_score_samples_and_decode[{i}]":
       "asserts that Viterbi recovers every sampled state of 1000; emfit's generator draws another "
       "sample, in which one point sits where the other state is more probable"
       for i in IMPLEMENTATIONS},
    **{f"TestGMMHMM_MultiSequence::test_chunked[{c}]":
       "compares two fits of default length (n_iter=10, not converged) on the data cut in 1 and "
       "in 5 sequences to 1e-2 (means) and 1e-3 (covariances); neither has converged after 10 "
       "SQUAREM iterations, whose iterates are then up to 0.07 (means) and 0.3 (covariances) "
       "apart; run to convergence (tol=1e-6) the two fits agree to 8e-5"
       for c in ["diag", "full"]},
}


def pytest_configure(config):
    """In the subprocess only: hmmlearn's classes become emfit's."""
    if os.environ.get("EMFIT_SUBSTITUTE_HMMLEARN") != "1":
        return
    import hmmlearn.hmm

    from emfit import hmm

    for name in ("GaussianHMM", "GMMHMM", "CategoricalHMM", "PoissonHMM"):
        setattr(hmmlearn.hmm, name, getattr(hmm, name))


def test_hmmlearn_suite_passes_against_emfit(tmp_path):
    report = tmp_path / "report.xml"
    env = dict(os.environ, EMFIT_SUBSTITUTE_HMMLEARN="1", HMMLEARN_SEED="1",
               PYTHONPATH=os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]))
    command = [sys.executable, "-m", "pytest", "-p", Path(__file__).stem, "-p", "no:cacheprovider",
               "-q", "-W", "ignore", f"--junitxml={report}", "--rootdir", str(tmp_path),
               "--pyargs", *[f"hmmlearn.tests.{m}" for m in MODULES]]
    run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert report.exists(), run.stdout + run.stderr
    outcomes = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        last = case.get("classname").rsplit(".", 1)[-1]  # the class; empty for a function
        name = f"{last}::{case.get('name')}" if last.startswith("Test") else case.get("name")
        if case.find("failure") is not None or case.find("error") is not None:
            outcomes[name] = "failed"
        elif case.find("skipped") is not None:
            outcomes[name] = "skipped"  # hmmlearn's own xfail marks (test_gmm_hmm)
        else:
            outcomes[name] = "passed"
    failed = {n for n, o in outcomes.items() if o == "failed"}
    listed = set(PRIVATE) | set(EXPLAINED)
    passed = sum(o == "passed" for o in outcomes.values())
    print(f"hmmlearn's suite against emfit: {len(outcomes)} tests, {passed} passed, "
          f"{len(failed & set(PRIVATE))} private API, {len(failed & set(EXPLAINED))} explained, "
          f"{sum(o == 'skipped' for o in outcomes.values())} xfail in hmmlearn")
    assert len(outcomes) > 200, run.stdout[-3000:]
    assert failed - listed == set(), f"unexpected failures: {sorted(failed - listed)}\n{run.stdout[-5000:]}"
    assert listed - failed == set(), f"listed tests that now pass: {sorted(listed - failed)}"
