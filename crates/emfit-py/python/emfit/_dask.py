"""Fits of data held by Dask: the estimators' ``fit`` on a
``dask.array.Array`` (or a list of chunks) runs here.

What runs where::

    client (the Rust loop)                   workers (one task per chunk)
      E-step of θ  ---- θ's parameters --->    (ℓ_c, S_c) = E-step of θ on chunk c
                                               (compiled, GIL released)
                   <--- flat (ℓ, S) -------    pairwise tree of merges, chunk order
      M-step, convergence, SQUAREM, report

Only parameters and statistics travel (a few KB an iteration), never the
rows. The chunks are persisted once (on the workers with a
``dask.distributed.Client``), and every E-step maps over them with
``dask.compute``, so an active Client is used, the default scheduler
otherwise. A chunk lost with its worker is recomputed from the graph by
Dask, and the E-step of a chunk is deterministic, so the fit is the same.

The reduction is a pairwise tree in chunk order (``((c0 c1) (c2 c3)) c4``),
the same sums in the same order however the tasks are scheduled: the same
chunking gives the same fit bit for bit, another chunking the same fit up
to rounding.

A start not given is the model's own initialisation (k-means++ and Lloyd
rounds for a mixture, the ``hmm`` crate's recipe for an HMM) on a seeded
sample of ``init_sample`` rows drawn across the chunks: every row of the
data has a key from the seed and its index in the whole data, the sample is
the rows of smallest key in data order, drawn by a tree of merges like the
E-steps. It depends on the seed and the data only, not on the chunking,
and with ``init_sample`` at least the number of rows it is the whole data,
so the start is that of the same fit in memory. For an HMM the sample is
one sequence of rows.

Chunks are counted from 0 (as ``X.blocks[i]``), rows from 1 (as in every
emfit message).
"""

import operator

import numpy as np

from emfit import _emfit
from emfit._arrays import c_array

__all__ = ["ChunkError", "Chunks", "is_dask"]

#: The rows of the seeded sample a start from the data is drawn on.
INIT_SAMPLE = 100_000


def is_dask(X):
    """Whether ``X`` is data held by Dask: a ``dask.array.Array``, or a
    list or tuple of chunks of which at least one is a Dask collection."""
    def dask_object(x):
        return type(x).__module__.split(".")[0] == "dask"

    if isinstance(X, (list, tuple)):
        return len(X) > 0 and any(dask_object(c) for c in X)
    return dask_object(X)


class ChunkError(ValueError):
    """An error of the data or the model in one chunk; ``chunk`` is its
    index (from 0)."""

    def __init__(self, chunk, message):
        super().__init__(message)
        self.chunk = chunk

    def __reduce__(self):
        return (ChunkError, (self.chunk, self.args[0]))


def _where(chunk, first_row, n_rows):
    return (f"chunk {chunk} (counted from 0; rows {first_row + 1}-{first_row + n_rows} "
            "of the data, counted from 1)")


def _float_rows(chunk):
    """The chunk as the compiled functions read it: C-contiguous, aligned
    float64 (a chunk received from another worker may be unaligned: then
    it is copied)."""
    return c_array(chunk, dtype=np.float64)


def _aligned(value):
    """Every array in ``value`` (arrays in tuples and dicts) as
    ``_float_rows``: a model's parameters arrive in a task unaligned."""
    if isinstance(value, np.ndarray):
        return _float_rows(value)
    if isinstance(value, tuple):
        return tuple(_aligned(v) for v in value)
    if isinstance(value, dict):
        return {k: _aligned(v) for k, v in value.items()}
    return value


def _e_step(chunk, index, first_row, kind, model, lengths, log_likelihood_only):
    """The E-step of one chunk (on a worker)."""
    x = _float_rows(chunk)
    model = _aligned(model)
    try:
        if kind == "gmm":
            return _emfit.gmm_chunk_e_step(x, *model, log_likelihood_only)
        family, covariance_type, n_mix, params = model
        return _emfit.hmm_chunk_e_step(
            family, covariance_type, n_mix, params, x, lengths, log_likelihood_only)
    except ValueError as e:
        raise ChunkError(index, f"{_where(index, first_row, x.shape[0])}: {e}") from None


def _candidates(chunk, index, first_row, size, seed):
    """The seeded sample's candidates of one chunk (on a worker)."""
    x = _float_rows(chunk)
    try:
        return _emfit.sample_candidates(x, first_row, size, seed)
    except ValueError as e:
        raise ChunkError(index, f"{_where(index, first_row, x.shape[0])}: {e}") from None


def _merge_e_steps(kind, a, b):
    """Two flat E-steps merged (on a worker)."""
    return _emfit.merge_e_steps(kind, _float_rows(a), _float_rows(b))


def _merge_candidates(a, b, size):
    """The ``size`` smallest of two sets of sample candidates (on a worker)."""
    return _emfit.merge_sample_candidates(_aligned(a), _aligned(b), size)


def _tree(parts, merge):
    """The pairwise tree of ``merge`` over ``parts`` in their order."""
    while len(parts) > 1:
        parts = [merge(parts[i], parts[i + 1]) if i + 1 < len(parts) else parts[i]
                 for i in range(0, len(parts), 2)]
    return parts[0]


def _shape(chunk):
    return np.shape(chunk)


class Chunks:
    """Data held by Dask as chunks of whole rows (and whole sequences).

    ``X`` is a 2-D ``dask.array.Array`` (its row chunks are the chunks; its
    columns are put in one chunk), or a list of chunks, each a 2-D Dask
    array, a ``dask.delayed`` object computing a 2-D array, or a NumPy
    array. ``lengths`` (HMMs) are the sequence lengths of all the rows:
    for a Dask array, in row order, where no chunk boundary may cut a
    sequence; for a list, one list of lengths per chunk. ``None`` for an
    HMM is one sequence, which must then be in one chunk.
    """

    def __init__(self, X, lengths=None, *, sequences=False):
        import dask
        import dask.array as da

        if isinstance(X, da.Array):
            if X.ndim != 2:
                raise ValueError(f"Expected a 2-D dask array, got {X.ndim} dimensions")
            X = X.rechunk({1: -1})
            if any(np.isnan(c) for c in X.chunks[0]):
                X = X.compute_chunk_sizes()
            # Held for the fit: the persisted chunks live while it does.
            self._persisted = X.map_blocks(_float_rows, dtype=np.float64).persist()
            self._chunks = list(self._persisted.to_delayed().ravel())
            shapes = [(int(n), int(X.shape[1])) for n in X.chunks[0]]
        elif isinstance(X, (list, tuple)):
            def one(c):
                if isinstance(c, da.Array):
                    c = c.rechunk(c.shape).to_delayed().ravel()[0]
                elif type(c).__module__.split(".")[0] != "dask":
                    c = dask.delayed(np.asarray(c))
                return dask.delayed(_float_rows)(c)

            self._chunks = list(dask.persist(*[one(c) for c in X]))
            shapes = list(dask.compute(*[dask.delayed(_shape)(c) for c in self._chunks]))
        else:
            raise ValueError(f"Expected a dask array or a list of chunks, got {type(X).__name__}")
        for i, shape in enumerate(shapes):
            if len(shape) != 2:
                raise ValueError(f"chunk {i} (counted from 0) has shape {shape}: every chunk must be 2-D")
            if shape[1] != shapes[0][1]:
                raise ValueError(
                    f"chunk {i} (counted from 0) has {shape[1]} columns, chunk 0 has {shapes[0][1]}: "
                    "every row must have the same number of features")
        self.n_rows_of = [s[0] for s in shapes]
        self.first_rows = [int(v) for v in np.concatenate([[0], np.cumsum(self.n_rows_of)[:-1]])]
        self.n_rows = int(sum(self.n_rows_of))
        self.width = int(shapes[0][1])
        self.lengths = self._split(lengths, isinstance(X, (list, tuple))) if sequences else None

    def _split(self, lengths, listed):
        """The sequence lengths of every chunk."""
        n_chunks = len(self._chunks)
        if lengths is None:
            if n_chunks > 1:
                raise ValueError(
                    f"lengths=None is one sequence of all the rows, which the {n_chunks} chunks "
                    "would cut: give the sequence lengths, with chunk boundaries between sequences")
            return [[self.n_rows]]
        if listed:
            if len(lengths) != n_chunks:
                raise ValueError(f"lengths has {len(lengths)} lists for {n_chunks} chunks: one per chunk")
            split = [[int(n) for n in np.atleast_1d(per)] for per in lengths]
            for i, per in enumerate(split):
                if sum(per) != self.n_rows_of[i]:
                    raise ValueError(
                        f"the lengths of chunk {i} (counted from 0) sum to {sum(per)}, "
                        f"the chunk has {self.n_rows_of[i]} rows")
            return split
        lengths = [int(n) for n in np.asarray(lengths).ravel()]
        if sum(lengths) != self.n_rows:
            raise ValueError(f"lengths sum to {sum(lengths)} but X has {self.n_rows} rows")
        ends = np.cumsum(lengths)
        split, s = [], 0
        for i, (first, n) in enumerate(zip(self.first_rows, self.n_rows_of)):
            per = []
            while s < len(lengths) and ends[s] <= first + n:
                per.append(lengths[s])
                s += 1
            if sum(per) != n:
                start = int(ends[s] - lengths[s])
                raise ValueError(
                    f"the end of chunk {i} (counted from 0; after row {first + n} of the data, "
                    f"counted from 1) cuts sequence {s + 1} (rows {start + 1}-{int(ends[s])}, "
                    "counted from 1): rechunk the rows so that every chunk holds whole sequences")
            split.append(per)
        return split

    def sample(self, size, seed):
        """The seeded sample of ``size`` rows (see the module), as a NumPy
        array in data order."""
        import dask

        candidates = [
            dask.delayed(_candidates)(c, i, first, size, seed)
            for i, (c, first) in enumerate(zip(self._chunks, self.first_rows))
        ]
        merge = dask.delayed(_merge_candidates)
        (root,) = dask.compute(_tree(candidates, lambda a, b: merge(a, b, size)))
        return _emfit.sample_rows(_aligned(root))

    def e_steps(self, kind, model_of):
        """The callable the Rust loop calls for every E-step:
        ``(parameters, log_likelihood_only) -> flat E-step or
        log-likelihood``, with ``model_of(parameters)`` the model as the
        chunk function of ``kind`` (``"gmm"`` or ``"hmm-FAMILY"``) takes
        it."""
        import dask

        step = dask.delayed(_e_step)
        merge_flat = dask.delayed(_merge_e_steps)
        add = dask.delayed(operator.add)

        def e_steps(parameters, log_likelihood_only):
            model = model_of(parameters)
            lengths = self.lengths or [None] * len(self._chunks)
            parts = [
                step(c, i, first, "gmm" if kind == "gmm" else "hmm", model, per, log_likelihood_only)
                for i, (c, first, per) in enumerate(zip(self._chunks, self.first_rows, lengths))
            ]
            if log_likelihood_only:
                root = _tree(parts, add)
            else:
                root = _tree(parts, lambda a, b: merge_flat(kind, a, b))
            (result,) = dask.compute(root)
            return _aligned(result)

        return e_steps

    def maximum(self):
        """The largest value of the data (for the number of symbols of a
        categorical HMM)."""
        import dask

        maxima = dask.compute(*[dask.delayed(np.max)(c) for c in self._chunks])
        return float(max(maxima))
