"""The Ray back end: batch files, video segments, gallery channels and studio dreams on a
cluster (``--cluster ADDRESS``). Nothing here is imported, and Ray is never imported,
unless a command is given ``--cluster``. See docs/cluster.md.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from .pool import INSTALL_HINT, Cluster, ClusterError, DreamerPool

__all__ = ["Cluster", "ClusterError", "DreamerPool", "INSTALL_HINT", "dreamers"]


@contextmanager
def dreamers(address: str, *, threads: int | None = None, warm: Any = None) -> Iterator[DreamerPool]:
    """A pool of dreamers on the cluster at ``address`` (each loading ``warm``'s network as it
    starts, when given), disconnected (and a ``local`` runtime stopped) at the end of the block."""
    with Cluster(address) as cluster:
        pool = DreamerPool(cluster, threads=threads, warm=warm)
        try:
            yield pool
        finally:
            pool.close()
