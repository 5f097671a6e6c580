"""The job store: every dream the service knows of, in SQLite in the data directory.

One row per job. The store is the queue: workers claim the oldest queued job in one
transaction, so a job is never run twice and never lost; a server that restarts
finds the jobs that were running and puts them back in the queue. Progress is
written here too, so any process reading the store sees it.

The store is safe to share between threads (one connection, one lock). A shared
queue (a database server, a broker) can replace it behind the same methods.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import OutputError, cause

__all__ = ["Job", "JobStore", "FINISHED", "valid_id", "new_id"]

FINISHED = ("done", "failed", "cancelled")
_ID = re.compile(r"[A-Za-z0-9_-]{22}")
MAX_ATTEMPTS = 3  # a job interrupted by this many restarts fails instead of looping

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    params TEXT NOT NULL,          -- the request's parameters (JSON), as the client gave them
    config TEXT,                   -- the resolved DreamConfig (JSON), once the job ran
    source TEXT,                   -- what the dream started from: an upload's name or "noise"
    progress TEXT NOT NULL,        -- JSON: octave, octaves, step, steps, fraction
    error TEXT,
    note TEXT,                     -- e.g. "interrupted by a restart; queued again"
    attempts INTEGER NOT NULL DEFAULT 0,
    cancel INTEGER NOT NULL DEFAULT 0,
    previews INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    score_start REAL,
    score_end REAL
);
CREATE INDEX IF NOT EXISTS jobs_status_created ON jobs (status, created);
"""


def new_id() -> str:
    """An unguessable job id: 128 random bits, URL-safe."""
    return secrets.token_urlsafe(16)


def valid_id(job_id: str) -> bool:
    """True for strings shaped like :func:`new_id`'s; nothing else may name a job directory."""
    return bool(_ID.fullmatch(job_id))


@dataclass
class Job:
    """One dream request and everything known of its run."""

    id: str
    status: str  # queued, running, done, failed, cancelled
    params: dict[str, Any]
    created: float
    source: str = "noise"
    config: dict[str, Any] | None = None
    progress: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    note: str | None = None
    attempts: int = 0
    cancel: bool = False
    previews: int = 0  # octave previews written so far
    started: float | None = None
    finished: float | None = None
    score_start: float | None = None
    score_end: float | None = None

    def public(self, position: int | None = None) -> dict[str, Any]:
        """The job as the API shows it."""
        now = time.time()
        end = self.finished or now
        elapsed = end - self.started if self.started else None
        fraction = float(self.progress.get("fraction", 0.0))
        eta = elapsed * (1 - fraction) / fraction if self.status == "running" and elapsed and fraction > 0.01 else None
        return {
            "id": self.id,
            "status": self.status,
            "params": self.params,
            "config": self.config,
            "source": self.source,
            "progress": {"octave": 0, "octaves": 0, "step": 0, "steps": 0, "fraction": 0.0, **self.progress},
            "queue_position": position,
            "timings": {
                "created": self.created,
                "started": self.started,
                "finished": self.finished,
                "queued_s": (self.started or end) - self.created,
                "running_s": elapsed,
                "eta_s": eta,
            },
            "score_start": self.score_start,
            "score_end": self.score_end,
            "previews": self.previews,
            "error": self.error,
            "note": self.note,
        }


class JobStore:
    """Jobs in an SQLite file. Every method is one short transaction."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            os.chmod(self.path, 0o600)  # before the journal files, which take its mode: the jobs are private
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:  # a full disk, or a file that is not a job store
            raise OutputError(f"cannot open the job store {str(self.path)!r}: {cause(exc)}") from None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- queue ---------------------------------------------------------------------

    def add(self, job_id: str, params: dict[str, Any], source: str, *, max_queued: int) -> Job | None:
        """Queue a new job; None when ``max_queued`` jobs are already waiting."""
        now = time.time()
        with self._lock, self._transaction():
            (queued,) = self._db.execute("SELECT COUNT(*) FROM jobs WHERE status = 'queued'").fetchone()
            if queued >= max_queued:
                return None
            self._db.execute(
                "INSERT INTO jobs (id, status, params, source, progress, created) VALUES (?, 'queued', ?, ?, '{}', ?)",
                (job_id, json.dumps(params), source, now),
            )
        return Job(job_id, "queued", params, now, source)

    def claim(self) -> Job | None:
        """Mark the oldest queued job running and return it (None when the queue is empty)."""
        with self._lock, self._transaction():
            row = self._db.execute(
                "SELECT id FROM jobs WHERE status = 'queued' ORDER BY created LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            self._db.execute(
                "UPDATE jobs SET status = 'running', started = ?, attempts = attempts + 1, progress = '{}' "
                "WHERE id = ?",
                (time.time(), row["id"]),
            )
            return self._get(row["id"])

    def position(self, job_id: str) -> int | None:
        """1-based place of a queued job in the queue."""
        with self._lock:
            row = self._db.execute("SELECT created, status FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None or row["status"] != "queued":
                return None
            (ahead,) = self._db.execute(
                "SELECT COUNT(*) FROM jobs WHERE status = 'queued' AND created < ?", (row["created"],)
            ).fetchone()
            return ahead + 1

    def recover(self) -> list[str]:
        """After a restart: jobs left running go back to the queue (or fail after too many tries)."""
        with self._lock, self._transaction():
            rows = self._db.execute("SELECT id, attempts FROM jobs WHERE status = 'running'").fetchall()
            for row in rows:
                if row["attempts"] >= MAX_ATTEMPTS:
                    self._db.execute(
                        "UPDATE jobs SET status = 'failed', finished = ?, error = ? WHERE id = ?",
                        (time.time(), f"interrupted by {row['attempts']} server restarts; not retried", row["id"]),
                    )
                else:
                    self._db.execute(
                        "UPDATE jobs SET status = 'queued', started = NULL, progress = '{}', previews = 0, "
                        "note = 'interrupted by a server restart; queued again' WHERE id = ?",
                        (row["id"],),
                    )
            return [row["id"] for row in rows]

    # --- one job -------------------------------------------------------------------

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._get(job_id)

    def update(self, job_id: str, **values: Any) -> None:
        """Set columns of a job (dicts are stored as JSON)."""
        columns = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in values.items()}
        assignments = ", ".join(f"{name} = ?" for name in columns)
        with self._lock:
            self._db.execute(f"UPDATE jobs SET {assignments} WHERE id = ?", (*columns.values(), job_id))

    def finish(self, job_id: str, status: str, **values: Any) -> None:
        """End a running job: done, failed or cancelled."""
        self.update(job_id, status=status, finished=time.time(), **values)

    def request_cancel(self, job_id: str) -> str | None:
        """Cancel a job: a queued one at once, a running one at its next step. Returns its status now."""
        with self._lock, self._transaction():
            row = self._db.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                return None
            if row["status"] == "queued":
                self._db.execute(
                    "UPDATE jobs SET status = 'cancelled', finished = ?, cancel = 1 WHERE id = ?", (time.time(), job_id)
                )
                return "cancelled"
            if row["status"] == "running":
                self._db.execute("UPDATE jobs SET cancel = 1 WHERE id = ?", (job_id,))
            return row["status"]

    def cancel_requested(self, job_id: str) -> bool:
        with self._lock:
            row = self._db.execute("SELECT cancel FROM jobs WHERE id = ?", (job_id,)).fetchone()
            return row is None or bool(row["cancel"])  # a job removed meanwhile is cancelled too

    def delete(self, job_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))

    def expired(self, older_than: float) -> list[str]:
        """Ids of finished jobs that ended before ``older_than`` (a time.time() value)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id FROM jobs WHERE status IN ('done', 'failed', 'cancelled') AND finished < ?", (older_than,)
            ).fetchall()
        return [row["id"] for row in rows]

    # --- internals -----------------------------------------------------------------

    def _get(self, job_id: str) -> Job | None:
        row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            return None
        return Job(
            id=row["id"],
            status=row["status"],
            params=json.loads(row["params"]),
            created=row["created"],
            source=row["source"],
            config=json.loads(row["config"]) if row["config"] else None,
            progress=json.loads(row["progress"]),
            error=row["error"],
            note=row["note"],
            attempts=row["attempts"],
            cancel=bool(row["cancel"]),
            previews=row["previews"],
            started=row["started"],
            finished=row["finished"],
            score_start=row["score_start"],
            score_end=row["score_end"],
        )

    def _transaction(self) -> "_Transaction":
        return _Transaction(self._db)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error): other processes wait, none interleave."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
