"""The HTTP API, one router per resource: dreams, models, the service itself, live sessions."""

from __future__ import annotations

from . import dreams, info, live, models

ROUTERS = (dreams.router, models.router, info.router, live.router)

__all__ = ["ROUTERS"]
