"""The HTTP API, one router per resource: dreams, models, and the service itself."""

from __future__ import annotations

from . import dreams, info, models

ROUTERS = (dreams.router, models.router, info.router)

__all__ = ["ROUTERS"]
