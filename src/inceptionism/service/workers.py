"""Workers: threads that take jobs from the store, dream them, and write the results.

Each worker keeps its own copy of every network it has used: forward hooks live on
the modules, so two dreams must never share one network at the same time.
"""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import threading
import time
import traceback
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from ..api import resolve_machine_choices
from ..config import DreamConfig, layered
from ..engine import StepInfo, octave_factors
from ..errors import InceptionismError
from ..jobs import JobCancelled, JobEvents
from ..outputs import write_atomic
from ..runners import Runner
from .store import Job, JobStore

__all__ = ["WorkerPool", "job_files", "purge_expired"]

log = logging.getLogger("inceptionism.service")


@dataclass(frozen=True)
class JobFiles:
    """Where one job's files live: ``jobs/<id>/`` in the data directory."""

    root: Path

    @property
    def result(self) -> Path:
        return self.root / "result.png"

    def preview(self, n: int) -> Path:
        return self.root / f"preview-{n}.jpg"

    def upload(self, field: str) -> Path | None:
        """The uploaded file for a field ("image", "guide", "mask"), whatever its extension."""
        found = sorted(self.root.glob(f"{field}.*"))
        return found[0] if found else None


def job_files(jobs_dir: Path, job_id: str) -> JobFiles:
    return JobFiles(jobs_dir / job_id)


def purge_expired(store: JobStore, jobs_dir: Path, ttl_s: float) -> int:
    """Remove finished jobs (rows and files) that ended more than ``ttl_s`` ago."""
    ids = store.expired(time.time() - ttl_s)
    for job_id in ids:
        store.delete(job_id)
        shutil.rmtree(job_files(jobs_dir, job_id).root, ignore_errors=True)
    return len(ids)


class WorkerPool:
    """``count`` threads serving the store's queue; ``wake()`` after queueing a job."""

    def __init__(
        self,
        store: JobStore,
        jobs_dir: Path,
        count: int,
        *,
        device: str,
        preview_side: int = 256,
        ttl_s: float,
        cleanup_every_s: float = 600.0,
        runner: Runner,
    ) -> None:
        self.store, self.jobs_dir, self.count = store, jobs_dir, count
        self.runner = runner  # here (a copy of each network per worker thread), or a cluster's dreamers
        self.device = device  # as given: on a cluster each dream's machine resolves it
        self.preview_side, self.ttl_s, self.cleanup_every_s = preview_side, ttl_s, cleanup_every_s
        self._wake = threading.Condition()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for index in range(self.count):
            thread = threading.Thread(target=self._serve, args=(index,), name=f"dream-worker-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)
        janitor = threading.Thread(target=self._janitor, name="dream-janitor", daemon=True)
        janitor.start()
        self._threads.append(janitor)

    def stop(self, timeout: float = 10.0) -> None:
        """Ask every thread to stop; a running dream stops at its next step and is re-queued."""
        self._stop.set()
        self.wake(all_workers=True)
        for thread in self._threads:
            thread.join(timeout)

    def wake(self, all_workers: bool = False) -> None:
        with self._wake:
            self._wake.notify_all() if all_workers else self._wake.notify()

    # --- threads ---------------------------------------------------------------------

    def _serve(self, index: int) -> None:
        while not self._stop.is_set():
            try:
                job = self.store.claim()
                if job is None:
                    with self._wake:
                        self._wake.wait(timeout=1.0)
                    continue
                self._run(job)
            except Exception:  # noqa: BLE001 - the job store failed (a full disk): the worker must outlive it
                log.exception("worker %d: the job store failed; trying again in a second", index)
                self._stop.wait(1.0)

    def _janitor(self) -> None:
        while not self._stop.is_set():
            try:
                removed = purge_expired(self.store, self.jobs_dir, self.ttl_s)
                if removed:
                    log.info("removed %d expired jobs", removed)
            except Exception:  # noqa: BLE001 - the janitor must outlive a bad disk moment
                log.exception("cleaning up expired jobs failed")
            self._stop.wait(self.cleanup_every_s)

    # --- one job ---------------------------------------------------------------------

    def _run(self, job: Job) -> None:
        files = job_files(self.jobs_dir, job.id)
        end = self._dream(job, files)
        if end is None:
            return  # server shutting down: left "running", so the next start re-queues it
        while True:  # the end is recorded, however long the store refuses (a full disk): never left "running"
            try:
                end()
                return
            except (sqlite3.Error, OSError):
                log.exception("job %s ended, and the job store cannot record it; trying again in a second", job.id)
                if self._stop.wait(1.0):
                    return  # left "running": the next start re-queues it

    def _dream(self, job: Job, files: "JobFiles") -> Any:
        """Dream ``job``; return what records its end (None: the server is stopping)."""
        try:
            cfg = self._config(job, files)
            progress = _Progress(self, job, files, cfg)
            image_path = files.upload("image")
            image = image_path.read_bytes() if image_path else None
            result = self.runner.dream_job(image, job.source, cfg, progress.events())
            write_atomic(files.result, lambda fh: fh.write(result.png))
        except JobCancelled:
            if self._stop.is_set() and not _asked_to_cancel(self.store, job.id):
                return None
            return partial(self._end, job.id, "cancelled", files)
        except InceptionismError as exc:
            return partial(self._end, job.id, "failed", files, error=_private(str(exc), files))
        except MemoryError:
            return partial(self._end, job.id, "failed", files, error="out of memory; try a smaller max_size or tile_size")
        except Exception as exc:  # noqa: BLE001 - a worker must survive any one job
            log.error("job %s failed:\n%s", job.id, traceback.format_exc())
            return partial(self._end, job.id, "failed", files,
                           error=_private(f"internal error: {type(exc).__name__}: {exc}", files))
        return partial(self.store.finish, job.id, "done", config=result.config,
                       score_start=_finite(result.score_start), score_end=_finite(result.score_end),
                       progress={**progress.state, "fraction": 1.0})

    def _config(self, job: Job, files: JobFiles) -> DreamConfig:
        """The job's parameters, layered as everywhere, with the server's own settings on top:
        its device and the job's uploaded files (never a path from the request)."""
        server: dict = {"device": self.device}
        guide, mask = files.upload("guide"), files.upload("mask")
        if guide is not None:
            server["guide"] = (str(guide),)
        if mask is not None:
            server["mask"] = str(mask)
        # The machine's choices (precision) are the server's, made here; a cluster's worker runs with them.
        return resolve_machine_choices(layered(explicit={**job.params, **server}))

    def _end(self, job_id: str, status: str, files: JobFiles, error: str | None = None) -> None:
        if self.store.get(job_id) is None:  # removed while running: remove its files too
            shutil.rmtree(files.root, ignore_errors=True)
            return
        self.store.finish(job_id, status, error=error)


class _Progress:
    """The engine's callbacks for one job: progress into the store, a preview per octave,
    and the cancel check. Nothing here reads a tensor's value, so steps never wait on it."""

    def __init__(self, pool: WorkerPool, job: Job, files: JobFiles, cfg: DreamConfig) -> None:
        self.pool, self.job, self.files = pool, job, files
        self.factors = [factor for _, factor in octave_factors(cfg.octave_indices(), cfg.octave_scale)]
        self.state: dict[str, Any] = {}
        self.written = 0.0

    def events(self) -> JobEvents:
        return JobEvents(on_step=self.on_step, on_tile=self.check_cancelled, on_preview=self.keep_preview,
                         recorded=partial(_private, files=self.files), preview_side=self.pool.preview_side)

    def on_step(self, info: StepInfo) -> None:
        self.check_cancelled()
        # Octaves cost in proportion to their area, so the fraction is weighted by area.
        areas = [factor**2 for factor in self.factors[-info.octaves :]]
        done = sum(areas[: info.octave - 1]) + areas[info.octave - 1] * info.step / info.steps
        self.state = {
            "octave": info.octave,
            "octaves": info.octaves,
            "step": info.step,
            "steps": info.steps,
            "width": info.width,
            "height": info.height,
            "fraction": round(done / sum(areas), 4),
        }
        now = time.monotonic()
        if now - self.written >= 0.25 or info.step == info.steps:
            self._note(progress=self.state)
            self.written = now

    def check_cancelled(self) -> None:
        """Raise JobCancelled when the job was cancelled or the server is stopping (also between tiles)."""
        if self.pool._stop.is_set() or _asked_to_cancel(self.pool.store, self.job.id):
            raise JobCancelled

    def keep_preview(self, octave: int, jpeg: bytes) -> None:
        """Write octave ``octave``'s preview and note it; a full disk only costs the preview."""
        try:
            write_atomic(self.files.preview(octave), lambda fh: fh.write(jpeg))
        except InceptionismError:
            log.warning("job %s: preview %d not written", self.job.id, octave)
            return
        self._note(previews=octave)

    def _note(self, **values: Any) -> None:
        """Progress into the store, when it takes it: a store that refuses (a full disk) costs the
        dream nothing; its end is recorded later, however long that takes (WorkerPool._run)."""
        try:
            self.pool.store.update(self.job.id, **values)
        except sqlite3.Error as exc:
            log.warning("job %s: progress not stored: %s", self.job.id, exc)


def _asked_to_cancel(store: JobStore, job_id: str) -> bool:
    """Whether the job's cancel flag is set; a store that cannot say (a full disk) is taken as no."""
    try:
        return store.cancel_requested(job_id)
    except sqlite3.Error:
        return False


def _private(value: Any, files: JobFiles) -> Any:
    """``value`` (text, or JSON-like data) with the server's folders taken out: an uploaded
    guide is recorded as "guide.png", not as where the server keeps it."""
    text = json.dumps(value)
    for folder in (files.root, files.root.parent.parent):
        text = text.replace(json.dumps(str(folder) + "/")[1:-1], "").replace(json.dumps(str(folder))[1:-1], "")
    return json.loads(text)


def _finite(value: float) -> float | None:
    return value if value == value and abs(value) != float("inf") else None
