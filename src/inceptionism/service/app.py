"""The web studio and HTTP API: ``create_app(ServiceSettings(...))`` gives a FastAPI app.

Dreams are jobs: ``POST /api/dreams`` queues one and answers at once with its id;
workers run it; ``GET /api/dreams/{id}`` and its server-sent ``/events`` follow it.
"""

from __future__ import annotations

import logging
import sqlite3
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..config import DEFAULT_MODEL, DreamConfig
from ..device import resolve_device
from ..doors.limits import RETRY_AFTER_S, ApiError
from ..models import only_trained_from
from ..paths import __version__
from ..runners import runner_for
from .inspector import Inspector
from .lock import hold, release
from .routes import ROUTERS
from .live import Sessions
from .security import Guard
from .settings import ServiceSettings, settings_from
from .store import JobStore
from .workers import WorkerPool

__all__ = ["ServiceSettings", "create_app", "settings_from"]

STATIC = Path(__file__).parent / "static"


def _lifespan(settings: ServiceSettings, data_dir: Path, device: str) -> Any:
    """The app's lifespan: the data directory's lock, then the store, the workers and the inspector."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # new folders of the studio are its user's alone
        hold(data_dir)  # one studio per data directory, before the store is opened
        try:
            with only_trained_from(data_dir / "networks"):  # its own trained networks, not its user's private ones
                async with _serving(app, settings, data_dir, device):
                    yield
        finally:
            release(data_dir)

    return lifespan


@asynccontextmanager
async def _serving(app: FastAPI, settings: ServiceSettings, data_dir: Path, device: str) -> AsyncIterator[None]:
    """The store (interrupted jobs re-queued), the workers and the inspector, for as long as the app serves."""
    (data_dir / "jobs").mkdir(mode=0o700, exist_ok=True)
    store = JobStore(data_dir / "jobs.sqlite3")
    requeued = store.recover()
    with runner_for(settings.cluster, warm=DreamConfig(), per_thread=True) as runner:
        pool = WorkerPool(
            store,
            data_dir / "jobs",
            settings.workers,
            device=device if runner.where == "here" else settings.device,  # on a cluster, each node resolves it
            preview_side=settings.preview_side,
            ttl_s=settings.result_ttl_s,
            cleanup_every_s=settings.cleanup_every_s,
            runner=runner,
        )
        app.state.store, app.state.pool, app.state.requeued = store, pool, requeued
        app.state.inspector = Inspector(data_dir / "thumbnails", device, settings.thumbnail, examples=settings.examples)
        app.state.inspector.warm(DEFAULT_MODEL)
        pool.start()
        try:
            yield
        finally:
            pool.stop()
            app.state.inspector.close()
            store.close()


def create_app(settings: ServiceSettings) -> FastAPI:
    """The app, wired: its lifespan (the data directory's lock, the store with interrupted jobs
    re-queued, the workers), the guards, the error handlers and one router per resource."""
    data_dir = Path(settings.data_dir).resolve()
    device = str(resolve_device(settings.device))
    app = FastAPI(
        title="inceptionism",
        version=__version__,
        docs_url=None,  # Swagger UI would load its scripts from a CDN; the schema is at /openapi.json
        redoc_url=None,
        summary="DeepDream as a service: queue dreams, follow their progress, fetch the results.",
        lifespan=_lifespan(settings, data_dir, device),
    )
    app.state.settings, app.state.data_dir, app.state.device = settings, data_dir, device  # read by deps.py alone
    app.state.live_sessions = Sessions(settings.live)
    app.add_middleware(BodyLimit, limit=settings.limits.max_upload_bytes + 1_000_000)
    app.add_middleware(Guard, access=settings.access)  # added last: the outermost layer
    _error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _error_handlers(app: FastAPI) -> None:
    """Every refusal is JSON: ``{"error": one line, "field": the parameter at fault or null}``."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"error": exc.message, "field": exc.field}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        logging.getLogger("inceptionism.service").error("internal error on %s %s", request.method, request.url.path,
                                                        exc_info=exc)  # fmt: skip
        return JSONResponse({"error": f"internal error ({type(exc).__name__}); it is logged on the server", "field": None}, 500)

    @app.exception_handler(sqlite3.Error)
    async def store_error(request: Request, exc: sqlite3.Error) -> JSONResponse:
        """The job store refused (a full disk, mostly): the server's trouble, never a 500 for the request."""
        full = "full" in str(exc).lower()
        logging.getLogger("inceptionism.service").warning("job store error on %s %s: %s", request.method,
                                                          request.url.path, exc)
        why = "has no room to record this now (its disk is full)" if full else "cannot reach its job store now"
        return JSONResponse({"error": f"the server {why}; try again later", "field": None}, 507 if full else 503,
                            headers={"Retry-After": str(RETRY_AFTER_S)})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail), "field": None}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
        name = where[0] if where else None
        return JSONResponse({"error": f"{name or 'request'}: {first.get('msg', 'invalid')}", "field": name}, 422)


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413, before they are read to the end."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers", [])).get(b"content-length", b"0")
        if length.isdigit() and int(length) > self.limit:
            response = JSONResponse(
                {"error": f"request body is {int(length):,} bytes; at most {self.limit:,} are allowed", "field": None},
                status_code=413,
            )
            return await response(scope, receive, send)
        received = 0

        async def limited() -> dict:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise StarletteHTTPException(413, f"request body is over {self.limit:,} bytes")
            return message

        await self.app(scope, limited, send)
