"""The HTTP API, one router per resource: dreams, models, concepts, the service itself, live sessions."""

from __future__ import annotations

from . import concepts, dreams, info, live, models

ROUTERS = (dreams.router, models.router, concepts.router, info.router, live.router)

__all__ = ["ROUTERS"]
