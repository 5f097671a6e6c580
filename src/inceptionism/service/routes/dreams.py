"""The dreams resource: queue one, follow it, fetch its pictures, cancel or remove it."""

from __future__ import annotations

import asyncio
import base64
import errno
import json
import logging
import re
import shutil
import sqlite3
from typing import Annotated, Any, AsyncIterator

from fastapi import APIRouter, File, Form, Response, UploadFile
from fastapi.responses import FileResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from ...config import NOISE_SIZE, DreamConfig
from ...doors.limits import RETRY_AFTER_S, ApiError, Limits, as_given, check_params, check_upload, check_work
from ...errors import InceptionismError
from ...images import fit_longest_side, picture_from_bytes
from ...models import get_spec
from ...steering import check_guide_size, check_mask
from ..deps import FilesOf, FoundJob, Inspect, JobsDir, Settings, Store, Workers
from ..settings import concept_files
from ..store import FINISHED, JobStore, new_id
from ..workers import JobFiles, job_files

router = APIRouter(prefix="/api/dreams", tags=["dreams"])
log = logging.getLogger("inceptionism.service")

_UPLOADS = ("image", "guide", "mask")
MASK_CHECK_SIDE = 256  # a mask is decoded at least this large to check it has no colours
_JOB_RESPONSES: dict[int | str, dict[str, Any]] = {404: {"description": "No such dream (or it was removed)"}}


def _public(store: JobStore, job: Any) -> dict[str, Any]:
    return job.public(store.position(job.id) if job.status == "queued" else None)


def _read(parts: list[UploadFile] | None, name: str, limits: Limits) -> Any:
    """The checked upload of a file field, None when absent; two parts of one field are refused."""
    if not parts:
        return None
    if len(parts) > 1:
        raise ApiError(422, f"{len(parts)} files were sent as {name!r}; send at most one", name)
    data = parts[0].file.read(limits.max_upload_bytes + 1)
    return check_upload(data, name, limits)


def _check_steering_uploads(uploads: dict[str, Any], cfg: DreamConfig, width: int, height: int) -> None:
    """What a worker would refuse about the guide and the mask, refused now (422)."""
    try:
        if uploads["guide"] is not None:
            check_guide_size("upload", uploads["guide"].width, uploads["guide"].height, get_spec(cfg.model).min_size)
        if uploads["mask"] is not None:
            mask = uploads["mask"]
            picture = picture_from_bytes(mask.data, max_side=MASK_CHECK_SIDE, role="mask")  # small: colours only
            check_mask(picture.rgb, (mask.width, mask.height), "upload", width, height)
    except InceptionismError as exc:
        raise ApiError(422, str(exc), exc.field) from None


def _source_name(upload: UploadFile | None) -> str:
    if upload is None:
        return "noise"
    name = re.sub(r"[^\w.\- ]", "_", (upload.filename or "upload").rsplit("/", 1)[-1].rsplit("\\", 1)[-1])
    return name[:100] or "upload"


@router.post("", status_code=202, responses={413: {}, 415: {}, 422: {}, 429: {}})
def create_dream(
    response: Response,
    settings: Settings,
    store: Store,
    workers: Workers,
    inspector: Inspect,
    jobs: JobsDir,
    image: Annotated[list[UploadFile] | None, File(description="The photo to dream on (exactly one, unless noise)")] = None,
    params: Annotated[str | None, Form(description="JSON object of the parameters /api/schema lists, flat")] = None,
    noise: Annotated[bool, Form(description="Dream from noise instead of a photo (then send no image)")] = False,
    guide: Annotated[list[UploadFile] | None, File(description="A guide image (steering)")] = None,
    mask: Annotated[list[UploadFile] | None, File(description="Greyscale mask: white dreams, black stays")] = None,
) -> dict[str, Any]:
    """Queue a dream. Answers 202 with its id at once; follow it at ``/api/dreams/{id}``."""
    limits: Limits = settings.limits
    given, cfg = check_params(params, limits, files=lambda: concept_files(settings))
    uploads = {name: _read(parts, name, limits) for name, parts in zip(_UPLOADS, (image, guide, mask))}
    start = uploads["image"]
    if start is None and not noise:
        raise ApiError(422, "send one photo as the file field 'image', or noise=true for a dream from noise", "image")
    if start is not None and noise:
        raise ApiError(422, "noise=true and a photo were both sent; send one or the other", "noise")
    width, height = (start.width, start.height) if start else (cfg.size or NOISE_SIZE)
    fitted = check_work(cfg, width, height, limits)
    if fitted.max_size != cfg.max_size:
        given = {**given, "max_size": fitted.max_size}  # recorded: the job shows what it ran with
    size = fit_longest_side(width, height, fitted.max_size)
    try:
        inspector.check(fitted, *size, guide=uploads["guide"] is not None)
    except ApiError as exc:
        raise ApiError(exc.status, exc.message, as_given(exc.field, given)) from None
    _check_steering_uploads(uploads, fitted, *size)
    job_id = new_id()
    _queue(store, job_files(jobs, job_id), given, uploads, _source_name(image[0] if image else None), limits)
    workers.wake()
    response.headers["Location"] = f"/api/dreams/{job_id}"
    return {"id": job_id, "status": "queued", "url": f"/api/dreams/{job_id}"}


def _queue(store: JobStore, files: JobFiles, given: dict[str, Any], uploads: dict[str, Any], source: str,
           limits: Limits) -> None:
    """The job's uploads written and its row added; nothing of it is kept when either fails."""
    job_id = files.root.name
    try:
        files.root.mkdir(mode=0o700, parents=True)
        for name, upload in uploads.items():
            if upload is not None:
                (files.root / f"{name}{upload.extension}").write_bytes(upload.data)
        job = store.add(job_id, given, source, max_queued=limits.max_queued)
    except (OSError, sqlite3.Error) as exc:  # the server's disk, not the request: nothing of the job is kept
        shutil.rmtree(files.root, ignore_errors=True)
        full = getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or "full" in str(exc)
        log.warning("dream %s not stored: %s", job_id, exc)
        why = "has no room to store this dream (its disk is full)" if full else "cannot store this dream now"
        raise ApiError(507 if full else 503, f"the server {why}; try again later",
                       headers={"Retry-After": str(RETRY_AFTER_S)}) from None
    if job is None:
        shutil.rmtree(files.root, ignore_errors=True)
        raise ApiError(429, f"the queue is full ({limits.max_queued} dreams waiting); try again in a while",
                       headers={"Retry-After": str(RETRY_AFTER_S)})


@router.get("/{job_id}", responses=_JOB_RESPONSES)
def get_dream(job: FoundJob, store: Store) -> dict[str, Any]:
    """Status (queued, running, done, failed, cancelled), progress, timings, parameters, error."""
    return _public(store, job)


@router.get("/{job_id}/events", responses=_JOB_RESPONSES)
async def dream_events(job: FoundJob, store: Store, files: FilesOf, settings: Settings) -> StreamingResponse:
    """Server-sent events: ``progress`` while it runs, ``preview`` (a small JPEG data URL) after
    each octave, then one of ``done``, ``failed``, ``cancelled`` (or ``removed``) and the end."""
    return StreamingResponse(
        _events(store, files, job.id, settings.events_every_s),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _events(store: JobStore, files: Any, job_id: str, every_s: float) -> AsyncIterator[str]:
    last: Any = None
    previews = 0
    quiet = 0.0
    while True:
        job = await run_in_threadpool(store.get, job_id)
        if job is None:
            yield _sse("removed", {"id": job_id})
            return
        public = _public(store, job)
        if job.previews < previews:  # re-queued after a restart: previews start over
            previews = 0
        for n in range(previews + 1, job.previews + 1):
            path = files.preview(n)
            if path.is_file():
                data = base64.b64encode(await run_in_threadpool(path.read_bytes)).decode()
                yield _sse("preview", {"octave": n, "image": f"data:image/jpeg;base64,{data}"})
            previews = n
        state = (job.status, json.dumps(job.progress, sort_keys=True), public["queue_position"])
        if job.status in FINISHED:
            yield _sse(job.status, public)
            return
        if state != last:
            yield _sse("progress", public)
            last, quiet = state, 0.0
        elif quiet >= 15:
            yield ": keep-alive\n\n"
            quiet = 0.0
        await asyncio.sleep(every_s)
        quiet += every_s


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


@router.get("/{job_id}/result", response_class=FileResponse, responses={**_JOB_RESPONSES, 409: {}})
def dream_result(job: FoundJob, files: FilesOf) -> FileResponse:
    """The dreamed PNG, with its parameters embedded (``inceptionism`` iTXt chunk)."""
    job_id, path = job.id, files.result
    if job.status != "done" or not path.is_file():
        raise ApiError(409, f"dream {job_id} is {job.status}; a result exists only when it is done", "id")
    return FileResponse(path, media_type="image/png", filename=f"dream-{job_id[:8]}.png", content_disposition_type="inline")


@router.get("/{job_id}/input", response_class=FileResponse, responses=_JOB_RESPONSES)
def dream_input(job: FoundJob, files: FilesOf) -> FileResponse:
    """The uploaded photo the dream started from (404 for a dream from noise)."""
    path = files.upload("image")
    if path is None:
        raise ApiError(404, f"dream {job.id} started from noise; it has no input image", "id")
    return FileResponse(path)


@router.get("/{job_id}/previews/{octave}", response_class=FileResponse, responses=_JOB_RESPONSES)
def dream_preview(job: FoundJob, files: FilesOf, octave: int) -> FileResponse:
    """The small JPEG written after an octave (1-based), for clients that do not follow events."""
    if not 1 <= octave <= job.previews:
        raise ApiError(404, f"dream {job.id} has previews 1 to {job.previews}, not {octave}", "octave")
    return FileResponse(files.preview(octave), media_type="image/jpeg")


@router.delete("/{job_id}", status_code=204, responses={**_JOB_RESPONSES, 202: {}})
def delete_dream(job: FoundJob, store: Store, files: FilesOf) -> Response:
    """Cancel a queued or running dream (202), or remove a finished one and its files (204)."""
    if job.status not in FINISHED:
        status = store.request_cancel(job.id)
        shown = status if status in FINISHED else "cancelling"  # a running dream stops at its next step
        return Response(json.dumps({"id": job.id, "status": shown}), 202, media_type="application/json")
    store.delete(job.id)
    shutil.rmtree(files.root, ignore_errors=True)
    return Response(status_code=204)
