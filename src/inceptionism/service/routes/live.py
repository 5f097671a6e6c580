"""Live dreaming over a WebSocket: frames in, dreams out (the protocol: :mod:`..live`)."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from ..deps import Device, LiveSessions, Settings
from ..live import serve_session

router = APIRouter(tags=["live"])


@router.websocket("/api/live")
async def live(socket: WebSocket, sessions: LiveSessions, settings: Settings, device: Device) -> None:
    """Send JPEG or PNG frames (binary messages) and parameters (a JSON text message, again
    whenever they change); each dreamed frame comes back as ``{"dreamed": N, ...}`` and a JPEG."""
    await serve_session(socket, sessions, device, settings.limits)
