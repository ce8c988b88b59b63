"""The seed the compiled module's generators take, from scikit-learn's
``random_state`` convention."""

import numpy as np
from sklearn.utils import check_random_state


def seed(random_state):
    """A 64-bit seed drawn from ``random_state`` (None, an int or a
    ``numpy.random.RandomState``): an int gives the same seed every time, a
    ``RandomState`` advances, None draws from NumPy's global generator."""
    rng = check_random_state(random_state)
    return int(rng.randint(np.iinfo(np.uint64).max, dtype=np.uint64))
