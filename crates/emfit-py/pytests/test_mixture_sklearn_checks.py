"""scikit-learn's own estimator checks (``parametrize_with_checks``, the
pytest form of ``check_estimator``) run against
``emfit.mixture.GaussianMixture`` and ``emfit.mixture.BayesianGaussianMixture``,
one estimator per covariance type."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from emfit.mixture import BayesianGaussianMixture, GaussianMixture

TYPES = ("full", "tied", "diag", "spherical")
ESTIMATORS = [GaussianMixture(covariance_type=t, random_state=0) for t in TYPES] + [
    BayesianGaussianMixture(covariance_type=t, random_state=0) for t in TYPES
]


def expected_failed_checks(estimator):
    """The checks emfit does not pass, each with its reason."""
    return {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
