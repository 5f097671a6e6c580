"""What a route needs from the running studio, as FastAPI dependencies: the one place that
reads the app's state. A route names what it uses (``store: Store``) and never the state."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from ..doors.limits import ApiError
from .inspector import Inspector
from .live import Sessions
from .settings import ServiceSettings
from .store import Job, JobStore, valid_id
from .workers import JobFiles, WorkerPool, job_files

__all__ = ["Settings", "Store", "Workers", "Inspect", "Device", "JobsDir", "FoundJob", "FilesOf", "LiveSessions"]


def _settings(request: HTTPConnection) -> ServiceSettings:
    return request.app.state.settings


def _store(request: HTTPConnection) -> JobStore:
    return request.app.state.store


def _workers(request: HTTPConnection) -> WorkerPool:
    return request.app.state.pool


def _inspector(request: HTTPConnection) -> Inspector:
    return request.app.state.inspector


def _device(request: HTTPConnection) -> str:
    return request.app.state.device


def _jobs_dir(request: HTTPConnection) -> Path:
    return request.app.state.data_dir / "jobs"


def _live_sessions(request: HTTPConnection) -> Sessions:
    return request.app.state.live_sessions


Settings = Annotated[ServiceSettings, Depends(_settings)]
LiveSessions = Annotated[Sessions, Depends(_live_sessions)]
Store = Annotated[JobStore, Depends(_store)]
Workers = Annotated[WorkerPool, Depends(_workers)]
Inspect = Annotated[Inspector, Depends(_inspector)]
Device = Annotated[str, Depends(_device)]
JobsDir = Annotated[Path, Depends(_jobs_dir)]


def _job(job_id: str, store: Store) -> Job:
    job = store.get(job_id) if valid_id(job_id) else None
    if job is None:
        raise ApiError(404, f"no dream with id {job_id!r} (finished dreams are removed after a while)", "id")
    return job


def _files_of(job_id: str, jobs: JobsDir) -> JobFiles:
    return job_files(jobs, job_id)


FoundJob = Annotated[Job, Depends(_job)]  # the dream the path's job_id names; 404 when there is none
FilesOf = Annotated[JobFiles, Depends(_files_of)]  # where the path's job keeps its files
