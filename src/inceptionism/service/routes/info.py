"""The service itself: what a client needs to build a form, the parameters' schema, and the
studio's page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse

from ...command_config import VisualizeConfig
from ...config import PRESETS, DreamConfig, config_schema
from ...doors.form import form
from ...paths import __version__
from ..deps import Device, Settings

STATIC = Path(__file__).parent.parent / "static"

router = APIRouter(tags=["service"])


@router.get("/api/settings")
def service_settings(settings: Settings, device: Device) -> dict[str, Any]:
    """Limits, presets and parameter defaults: what a client needs to build a form."""
    return {
        "version": __version__,
        "device": device,
        "workers": settings.workers,
        "cluster": settings.cluster is not None,
        "limits": settings.limits.public(),
        "presets": PRESETS,
        "defaults": DreamConfig().to_dict(),
        "parameters": form("studio"),
        "picture_parameters": form("studio", of=VisualizeConfig),  # the channel picker's "grow pictures"
        "result_ttl_s": settings.result_ttl_s,
    }


@router.get("/api/schema")
def params_schema() -> dict[str, Any]:
    """The JSON schema of a dream's ``params``: exactly the parameters this API takes."""
    return config_schema("studio")


@router.get("/", include_in_schema=False)
def index() -> FileResponse:
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})
