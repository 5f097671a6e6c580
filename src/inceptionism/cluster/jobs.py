"""Batch files and gallery channels on a cluster: the runners that
:func:`~inceptionism.motion.batch.dream_folder` and :func:`~inceptionism.gallery.build_gallery`
take, running their per-item functions on a :class:`~inceptionism.cluster.pool.DreamerPool`."""

from __future__ import annotations

from typing import Any, Iterator

from ..config import DreamConfig
from ..motion.batch import BatchItem, Runner
from .pool import DreamerPool
from .worker import ship

__all__ = ["check_on", "batch_runner", "gallery_runner"]


def check_on(pool: DreamerPool, cfg: DreamConfig) -> None:
    """The configuration's checks against the network (``api.check_config``), made by a worker
    that has the network loaded, so the driver need not build one: it would compete with
    the workers starting beside it. Raises the check's own error."""
    files = ship(cfg)
    pool.call(lambda actor: pool.get(actor.check.remote(cfg, files)), what="checking the configuration")


def batch_runner(pool: DreamerPool) -> Runner:
    """Each file's bytes go to an idle worker through the object store; the output's bytes come back."""

    def run(items: list[BatchItem], cfg: DreamConfig) -> Iterator[tuple[BatchItem, Any, str]]:
        files = pool.cluster.ray.put(ship(cfg))  # once, not once per file

        def work(actor: Any, item: BatchItem) -> bytes:
            return pool.get(actor.dream_file.remote(item.read(), item.name, item.out.suffix, cfg, files))

        yield from pool.map(items, work, name=lambda item: f"dreaming {item.name}")

    return run


def gallery_runner(pool: DreamerPool, cfg: DreamConfig):
    """Chunks of channels rendered by the workers: ``run(layer, chunks, vis, batch)`` yields
    each chunk's (channel, PNG bytes) pairs as it is done."""

    def run(layer: str, chunks: list[list[int]], vis: Any, batch: int) -> Iterator[list[tuple[int, bytes]]]:
        files = pool.cluster.ray.put(ship(cfg))

        def work(actor: Any, chunk: list[int]) -> list[tuple[int, bytes]]:
            return pool.get(actor.render_channels.remote(cfg, files, layer, chunk, vis, batch))

        for _chunk, outcome, _node in pool.map(chunks, work, name=lambda chunk: f"channels {chunk[0]}-{chunk[-1]}"):
            if isinstance(outcome, BaseException):
                raise outcome
            yield outcome

    return run
