"""The studio's drawings (channel pictures, their variants, dataset-example scans), done one at
a time off the request threads, bounded, and cancelled when nobody waits for them any more.

A request for something not yet drawn submits a drawing, or joins the one under way for the
same key, and *awaits* it: no request thread is held while it waits, so the rest of the API
stays quick however many pictures are asked for (45 dataset-example requests used to take every
request thread, and ``GET /api/settings`` timed out). At most ``most`` drawings are under way or
queued and at most ``waiting`` requests wait in all; beyond either, 503 with Retry-After. A
drawing whose every waiter has gone (the client left, or the server is stopping) is cancelled:
before it starts, or at its next step or photo (the drawing checks ``cancelled``). The drawings
run on one thread of this object's, which hands each to a thread that ends with it
(``runtime.on_passing_thread``), so no pool of OpenMP helpers outlives a drawing beside the dreams.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Hashable, TypeVar

from ..doors.limits import ApiError
from ..runtime import on_passing_thread

__all__ = ["Drawings", "DrawingCancelled"]

T = TypeVar("T")
RETRY_S = "5"


class DrawingCancelled(Exception):
    """Raised inside a drawing, at a step or a photo, once nobody waits for it."""


def _retrieved(future: asyncio.Future) -> None:
    if not future.cancelled():
        future.exception()  # read, so that asyncio does not log it as never retrieved


@dataclass
class _Drawing:
    key: Hashable
    future: Future
    cancelled: threading.Event = field(default_factory=threading.Event)
    waiters: int = 0


class Drawings:
    """One drawing at a time, at most ``most`` under way or queued, ``waiting`` requests in all."""

    def __init__(self, most: int, waiting: int) -> None:
        self.most, self.waiting = most, waiting
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="studio-drawings")
        self._lock = threading.Lock()
        self._under_way: dict[Hashable, _Drawing] = {}
        self._waiters = 0
        self._closed = False

    async def get(self, key: Hashable, draw: Callable[[threading.Event], T], gone: Callable[[], Awaitable[Any]]) -> T:
        """``draw(cancelled)``'s result, drawn once for every request of ``key`` while it is
        under way. ``gone()`` returns when this request's client has left.

        Raises:
            ApiError: 503 when the bounds are reached or the studio is stopping; whatever
                ``draw`` raised (the same for every waiter).
        """
        job = self._join(key, draw)
        watch = asyncio.ensure_future(gone())
        watch.add_done_callback(_retrieved)  # a request whose body could not be read is gone too
        drawn = asyncio.wrap_future(job.future)
        drawn.add_done_callback(_retrieved)  # also when this waiter left before it was done
        result = asyncio.ensure_future(asyncio.shield(drawn))
        try:
            finished, _ = await asyncio.wait({watch, result}, return_when=asyncio.FIRST_COMPLETED)
            if result not in finished:
                raise ApiError(503, "the client left before the picture was drawn")
            try:
                return result.result()
            except (CancelledError, asyncio.CancelledError, DrawingCancelled):
                raise ApiError(503, "the drawing was cancelled (the studio is stopping); try again",
                               headers={"Retry-After": RETRY_S}) from None
        finally:
            watch.cancel()
            result.cancel()
            self._leave(job)

    def _join(self, key: Hashable, draw: Callable[[threading.Event], Any]) -> _Drawing:
        with self._lock:
            if self._closed:
                raise ApiError(503, "the studio is stopping", headers={"Retry-After": RETRY_S})
            job = self._under_way.get(key)
            if job is not None and job.cancelled.is_set():  # stopping, for want of waiters: draw it anew
                job = None
            if job is None and len(self._under_way) >= self.most:
                raise ApiError(503, f"{self.most} drawings of channel pictures or dataset examples are under way; try "
                               "again in a few seconds", headers={"Retry-After": RETRY_S})
            if self._waiters >= self.waiting:
                raise ApiError(503, f"{self.waiting} requests are waiting for pictures; try again in a few seconds",
                               headers={"Retry-After": RETRY_S})
            if job is None:
                job = self._under_way[key] = _Drawing(key, Future())  # listed first: _run removes it under this lock
                job.future = self._pool.submit(self._run, job, draw)
            job.waiters += 1
            self._waiters += 1
            return job

    def _leave(self, job: _Drawing) -> None:
        with self._lock:
            job.waiters -= 1
            self._waiters -= 1
            if job.waiters == 0 and not job.future.done():  # nobody waits: do not draw it, or stop drawing it
                job.cancelled.set()
                if job.future.cancel():  # it had not started: _run never comes to take it off the list
                    self._forget(job)

    def _forget(self, job: _Drawing) -> None:
        """Take ``job`` off the list (under the lock), unless a newer drawing of its key replaced it."""
        if self._under_way.get(job.key) is job:
            del self._under_way[job.key]

    def _run(self, job: _Drawing, draw: Callable[[threading.Event], T]) -> T:
        try:
            if job.cancelled.is_set():
                raise DrawingCancelled
            return on_passing_thread(draw, job.cancelled)
        finally:
            with self._lock:
                self._forget(job)

    def under_way(self) -> int:
        """Drawings under way or queued now."""
        with self._lock:
            return len(self._under_way)

    def close(self, timeout: float = 30.0) -> bool:
        """Cancel every drawing and wait (up to ``timeout`` s) for the one under way to stop at its
        next step or photo; True if it did."""
        with self._lock:
            self._closed = True
            for job in list(self._under_way.values()):
                job.cancelled.set()
                if job.future.cancel():
                    self._forget(job)
            running = [job.future for job in self._under_way.values()]
        self._pool.shutdown(wait=False, cancel_futures=True)
        return not wait(running, timeout).not_done
