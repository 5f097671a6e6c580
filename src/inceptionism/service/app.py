"""The web studio and HTTP API: ``create_app(ServiceSettings(...))`` gives a FastAPI app.

Dreams are jobs: ``POST /api/dreams`` queues one and answers at once with its id;
workers run it; ``GET /api/dreams/{id}`` and its server-sent ``/events`` follow it.
"""

from __future__ import annotations

import logging
import sqlite3
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..paths import __version__
from ..config import DEFAULT_MODEL, PRESETS, DreamConfig, config_schema, dream_params
from ..models import only_trained_from
from ..runners import runner_for
from ..options import ServeConfig
from ..device import resolve_device
from ..featurevis import FeatureVisConfig
from .inspector import THUMBNAIL, Inspector
from .lock import hold, release
from .security import LOOPBACK_NAMES, Access, Guard, is_loopback
from .limits import RETRY_AFTER_S, ApiError, Limits
from .store import JobStore
from .workers import WorkerPool

__all__ = ["ServiceSettings", "create_app", "settings_from", "studio_form"]

STATIC = Path(__file__).parent / "static"


@dataclass(frozen=True)
class ServiceSettings:
    """How the service runs. Everything it writes goes under ``data_dir``."""

    data_dir: Path  # the job store, uploads, results and channel pictures
    workers: int = ServeConfig.workers  # dreams run at once (each takes all CPU threads; 1 suits a CPU)
    device: str = ServeConfig.device  # where the workers dream
    limits: Limits = field(default_factory=Limits)
    result_ttl_s: float = ServeConfig.keep_hours * 3600  # finished jobs are removed this long after they end
    cleanup_every_s: float = 600.0  # how often expired jobs are looked for
    preview_side: int = 256  # longer side of the per-octave previews
    events_every_s: float = 0.25  # how often an event stream looks for news
    thumbnail: FeatureVisConfig = THUMBNAIL  # how channel-picker pictures are drawn
    access: Access = field(default_factory=Access)  # host names answered, and the token if one is needed
    cluster: str | None = ServeConfig.cluster  # dream on this Ray cluster (the API node keeps the store)


def settings_from(opts: ServeConfig, data_dir: Path, token: str | None) -> ServiceSettings:
    """The service's settings for ``inceptionism serve``'s options (``token`` as resolved)."""
    if is_loopback(opts.host):
        hosts = (*LOOPBACK_NAMES, *opts.allow_host)
    elif opts.host in ("0.0.0.0", "::") and not opts.allow_host:
        hosts = ("*",)  # every name of this machine; the token guards
    else:
        hosts = (opts.host.lower(), *LOOPBACK_NAMES, *opts.allow_host)
    return ServiceSettings(
        data_dir=data_dir,
        workers=opts.workers,
        device=opts.device,
        result_ttl_s=opts.keep_hours * 3600,
        limits=Limits(max_queued=opts.max_queued),
        access=Access(hosts=hosts, token=token),
        cluster=opts.cluster,
    )


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
        app.state.inspector = Inspector(data_dir / "thumbnails", device, settings.thumbnail)
        app.state.inspector.warm(DEFAULT_MODEL)
        pool.start()
        try:
            yield
        finally:
            pool.stop()
            app.state.inspector.close()
            store.close()


def create_app(settings: ServiceSettings) -> FastAPI:
    """The app; its lifespan opens the store, re-queues interrupted jobs and starts the workers."""
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
    app.state.settings, app.state.data_dir, app.state.device = settings, data_dir, device
    app.add_middleware(BodyLimit, limit=settings.limits.max_upload_bytes + 1_000_000)
    app.add_middleware(Guard, access=settings.access)  # added last: the outermost layer
    _error_handlers(app)

    from .routes import router

    app.include_router(router)

    @app.get("/api/settings", tags=["service"])
    def service_settings() -> dict[str, Any]:
        """Limits, presets and parameter defaults: what a client needs to build a form."""
        return {
            "version": __version__,
            "device": device,
            "workers": settings.workers,
            "cluster": settings.cluster is not None,
            "limits": settings.limits.public(),
            "presets": PRESETS,
            "defaults": DreamConfig().to_dict(),
            "parameters": studio_form(),
            "result_ttl_s": settings.result_ttl_s,
        }

    @app.get("/api/schema", tags=["service"])
    def params_schema() -> dict[str, Any]:
        """The JSON schema of a dream's ``params``: exactly the parameters this API takes."""
        return config_schema("studio")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def studio_form() -> list[dict[str, Any]]:
    """Every parameter the studio offers, as its form needs it: name, kind, default, bounds,
    choices, help and where and how to show it. Generated from the declarations."""
    rows = []
    for p in dream_params("studio"):
        widget = asdict(p.studio) if p.studio else None
        kind = {int: "integer", float: "number", str: "string", bool: "boolean", tuple: "list"}[p.kind]
        default = list(p.default) if isinstance(p.default, tuple) else p.default
        rows.append({"name": p.name, "kind": kind, "nullable": p.nullable, "default": default, "help": p.help,
                     "min": p.low, "max": p.high, "choices": list(p.choices) if p.choices else None, "widget": widget})
    return rows


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
