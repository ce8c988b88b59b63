"""Time per iteration of a GaussianMixture fit (K = 8, full covariances) of
data generated on the workers of a 2-worker Dask LocalCluster.

    target/python/venv/bin/python crates/emfit-py/benchmarks/dask_gmm.py --rows 20000000

(the full size needs a quiet machine: 20M x 8 rows are 1.28 GB, half on each
worker; ``--rows 200000`` checks that it runs). Each chunk of rows is drawn
from 8 Gaussian clusters by a generator seeded with the chunk's index, on
its worker (``map_blocks``, persisted before the fits): the client never
holds the data. A first fit (k-means on the seeded sample, one iteration)
gives the start of the timed one. Prints the time per EM iteration (plain
EM, a fixed number of iterations: the loop's time over its E-steps), the
peak RSS of every worker and of the client,
and the bytes of flat statistics each E-step moves (one flat E-step per
chunk into the reduction tree, one to the client). With
``--single-process``, the same rows are then gathered on the client and
fitted there from the same start, on one thread, for the comparison.
"""

import argparse
import os
import resource
import time

# The client's own fit (--single-process) runs on one thread, as each worker.
os.environ.setdefault("RAYON_NUM_THREADS", "1")

import dask.array as da
import numpy as np
from dask.distributed import Client, LocalCluster, wait

from emfit import _emfit
from emfit.mixture import GaussianMixture

K, D = 8, 8


def block(_, block_info=None):
    """The rows of one chunk, from a generator seeded by its index."""
    info = block_info[None]
    (start, stop), _ = info["array-location"]
    rng = np.random.default_rng([7, info["chunk-location"][0]])
    centres = np.random.default_rng(0).normal(scale=6.0, size=(K, D))
    labels = rng.integers(0, K, stop - start)
    return centres[labels] + rng.normal(size=(stop - start, D))


def peak_rss_bytes():
    """This process's peak resident set (Linux reports kibibytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--chunk", type=int, default=1_000_000, help="rows per chunk")
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--single-process", action="store_true",
                        help="then fit the same rows gathered on the client, from the same start")
    args = parser.parse_args()

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, env={"RAYON_NUM_THREADS": "1"})
    with cluster, Client(cluster) as client:
        template = da.zeros((args.rows, D), chunks=(args.chunk, D))
        X = template.map_blocks(block, dtype=np.float64).persist()
        wait(X)
        # The start: k-means on the seeded sample and one EM iteration.
        start = GaussianMixture(K, covariance_type="full", random_state=0, max_iter=1,
                                stopping="fixed").fit(X)
        gmm = GaussianMixture(K, covariance_type="full", max_iter=args.iterations, stopping="fixed",
                              acceleration="none", weights_init=start.weights_,
                              means_init=start.means_, precisions_init=start.precisions_)
        t0 = time.perf_counter()
        gmm.fit(X)
        wall = time.perf_counter() - t0
        report = gmm.fit_report_
        n_chunks = X.numblocks[0]
        flat = _emfit.gmm_chunk_e_step(np.zeros((1, D)), gmm.weights_, gmm.means_, gmm.covariances_,
                                       "full", False)
        workers = client.run(peak_rss_bytes)
        print(f"rows {args.rows:,} x {D}, {n_chunks} chunks of {args.chunk:,}, K={K} full, 2 workers")
        print(f"fit from a given start: {wall:.2f} s wall, {report['e_steps']} E-steps and "
              f"{report['m_steps']} M-steps in {report['elapsed_seconds']:.2f} s: "
              f"{report['elapsed_seconds'] / report['e_steps']:.3f} s per iteration")
        for address, rss in sorted(workers.items()):
            print(f"worker {address}: peak RSS {rss / 2**20:.0f} MiB")
        print(f"client: peak RSS {peak_rss_bytes() / 2**20:.0f} MiB")
        print(f"flat E-step: {flat.size * 8:,} bytes; per E-step {n_chunks} of them into the tree, "
              f"{(n_chunks + 1) * flat.size * 8:,} bytes in all (the rows: {args.rows * D * 8:,} bytes)")
        if args.single_process:
            x = X.compute()
            single = GaussianMixture(K, covariance_type="full", max_iter=args.iterations,
                                     stopping="fixed", acceleration="none",
                                     weights_init=start.weights_, means_init=start.means_,
                                     precisions_init=start.precisions_).fit(x)
            one = single.fit_report_
            print(f"one process, one thread, same rows and start: {one['elapsed_seconds'] / one['e_steps']:.3f} s "
                  f"per iteration; lower bound {single.lower_bound_!r} against {gmm.lower_bound_!r} on the workers")


if __name__ == "__main__":
    main()
