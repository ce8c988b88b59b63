"""Arrays as the compiled module reads them."""

import numpy as np


def c_array(value, dtype=None):
    """``value`` as a C-contiguous, aligned array (of ``dtype`` if given),
    without a copy when it already is one. ``numpy.ascontiguousarray`` is
    not enough: an array can be C-contiguous yet unaligned (one received
    from another process, or viewed at an odd offset of a buffer), and the
    compiled module reads aligned memory only."""
    return np.require(value, dtype=dtype, requirements=["C", "A"])
