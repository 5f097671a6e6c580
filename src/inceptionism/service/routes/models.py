"""The models resource, for the studio's pickers: networks, their layers, a channel's
picture, and the class names a dream may steer towards."""

from __future__ import annotations

from typing import Annotated, Any, Awaitable, Callable

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, Response

from ...config import DEFAULT_MODEL
from ...doors.limits import ApiError, check_picture_request, check_served
from ...labels import GROUPS, class_names
from ...models import get_spec
from ...written import is_whole
from ..settings import concept_files
from ..deps import Inspect, Settings

router = APIRouter(prefix="/api", tags=["models"])


@router.get("/models")
def models(inspector: Inspect) -> list[dict[str, Any]]:
    """The networks, whether their weights are on this server, and each preset's layers."""
    return inspector.models()


@router.get("/models/{name:path}/layers", responses={404: {}})
def layers(inspector: Inspect, name: str) -> dict[str, Any]:
    """Every dreamable layer of a network with its channel count (for a 224 px input)."""
    return {"model": name, "layers": inspector.layers(name)}


def _channel(text: str) -> int:
    """A channel number as written in the path: the digits 0-9 alone (pydantic's int took ``1_0``)."""
    if not is_whole(text, signed=False) or len(text) > 9:
        raise ApiError(422, f"channel {text[:20]!r} is not a channel number (digits 0-9)", "channel")
    return int(text)


def _gone(request: Request) -> Callable[[], Awaitable[None]]:
    """What returns once the request's client has left (the server's ``http.disconnect``)."""

    async def gone() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    return gone


# The three pictures below are drawn off the request threads and awaited (service/drawings.py):
# these routes are async, so a request that waits for a drawing holds no thread.


@router.get("/models/{name:path}/layers/{layer}/channels/{channel}", response_class=FileResponse,
            responses={404: {}, 503: {}})
async def channel_picture(inspector: Inspect, name: str, layer: str, channel: str, request: Request) -> FileResponse:
    """A small picture of what one channel responds to, grown from noise (cached)."""
    path = await inspector.thumbnail(name, layer, _channel(channel), _gone(request))
    return FileResponse(path, media_type="image/png", headers={"Cache-Control": "public, max-age=86400"})


@router.get("/models/{name:path}/layers/{layer}/channels/{channel}/variants", response_class=FileResponse,
            responses={404: {}, 503: {}})
async def channel_variants(inspector: Inspect, name: str, layer: str, channel: str, request: Request) -> FileResponse:
    """Four different pictures of what one channel responds to, side by side: grown together
    from noise and pushed apart from each other (the diversity term), a few seconds on
    request, cached after."""
    path = await inspector.variants(name, layer, _channel(channel), _gone(request))
    return FileResponse(path, media_type="image/png", headers={"Cache-Control": "public, max-age=86400"})


@router.get("/models/{name:path}/layers/{layer}/channels/{channel}/examples", response_class=FileResponse,
            responses={404: {}, 503: {}})
async def channel_examples(inspector: Inspect, name: str, layer: str, channel: str, request: Request) -> FileResponse:
    """The three photos of the studio's photo folder (``serve --examples``) that excite one
    channel most, as one strip (dataset examples; 404 when the studio has no photo folder;
    503 with Retry-After while too many drawings are under way)."""
    path = await inspector.examples(name, layer, _channel(channel), _gone(request))
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "public, max-age=3600"})


@router.post("/models/{name:path}/layers/{layer}/pictures", response_class=Response,
             responses={200: {"content": {"image/png": {}}}, 404: {}, 413: {}, 422: {}, 503: {}})
async def pictures(inspector: Inspect, settings: Settings, name: str, layer: str, request: Request) -> Response:
    """Pictures of what channels, channel combinations or classes respond to, side by side:
    a JSON body ``{"targets": "7,3+7", "params": {...}}`` with visualize's parameters the
    studio offers (``/api/settings``' ``picture_parameters``; ``layer`` may be ``class``).
    Drawn while the request waits (counted with the other drawings, 503 with Retry-After
    beyond them), not cached; the PNG keeps its recipe."""
    targets, cfg = check_picture_request(await request.body(), settings.limits, layer=layer,
                                         files=lambda: concept_files(settings))
    return Response(await inspector.pictures(name, layer, targets, cfg, _gone(request)), media_type="image/png")


@router.get("/classes", responses={404: {}})
def classes(model: Annotated[str, Query(description="Network whose classes to list")] = DEFAULT_MODEL) -> dict[str, Any]:
    """Class names for the ``target_class``/``avoid_class`` parameters, and the groups."""
    check_served(model, 404, weights=False)
    spec = get_spec(model)
    if spec.labels is None:
        return {"model": model, "classes": [], "groups": []}
    groups = sorted(GROUPS) if spec.labels == "imagenet-1k" else []  # group words are ImageNet's
    return {"model": model, "classes": list(class_names(spec.labels)), "groups": groups}
