"""A live session of the studio: frames in over a WebSocket, dreams out, the latest frame
always (:class:`~inceptionism.motion.live.Latest`), off the event loop on a thread of its own.

The protocol of ``/api/live`` (docs/live.md):

- the client may send one JSON text message of parameters first, and again whenever they
  change: the dream parameters the studio offers and the live ones (``frame_steps``,
  ``blend``, ``target_fps``); ``{"snapshot": true}`` asks for the last dream as a PNG with its
  recipe;
- every binary message is one JPEG or PNG frame;
- the server answers each dreamed frame with a text message ``{"dreamed": N, "ms": {...}}`` (N:
  the frame it came from, counting the client's binary messages from 1; where the time went)
  and then the dream as one binary JPEG message; ``{"error": ..., "field": ...}`` for a bad
  message (the session goes on), ``{"params": {...}}`` when parameters took effect,
  ``{"snapshot": "data:image/png;base64,..."}``.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from ..doors.limits import ApiError, Limits, check_params
from ..errors import InceptionismError
from ..motion.live import Latest
from ..command_config import LIVE_DREAM_DEFAULTS, LiveConfig
from ..declare import declared

__all__ = ["LiveLimits", "Sessions", "LiveSession", "message", "live_params"]


@dataclass(frozen=True)
class LiveLimits:
    """What live sessions may ask of a studio."""

    sessions: int = 2  # at once; one more is refused with a clear message
    frame_bytes: int = 4_000_000  # one frame's message
    frame_pixels: int = 4_000_000  # one frame's pixels, once decoded (a 4K frame is 8.3 M: shrink it first)
    params_bytes: int = 64_000  # one parameters message
    max_size: int = 1280  # the longest side a live frame is dreamed at
    frame_steps: int = 8  # gradient steps on one frame
    send_timeout_s: float = 30.0  # a client that reads nothing for this long is let go


@dataclass
class Sessions:
    """The live sessions running now, at most ``limits.sessions``."""

    limits: LiveLimits = field(default_factory=LiveLimits)
    running: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def enter(self) -> bool:
        with self._lock:
            if self.running >= self.limits.sessions:
                return False
            self.running += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self.running -= 1


def message(text: str, live_limits: LiveLimits) -> dict[str, Any]:
    """A text message as the JSON object it must be.

    Raises:
        ApiError: 413 for a message too large, 422 for one that is not a JSON object.
    """
    if len(text.encode()) > live_limits.params_bytes:
        raise ApiError(413, f"a parameters message is at most {live_limits.params_bytes:,} bytes", "params")
    try:
        given = json.loads(text)
    except (ValueError, RecursionError):
        raise ApiError(422, "a text message must be a JSON object of parameters", "params") from None
    if not isinstance(given, dict):
        raise ApiError(422, f"a text message must be a JSON object, got {type(given).__name__}", "params")
    return given


def live_params(given: dict[str, Any], limits: Limits, live_limits: LiveLimits) -> tuple[Any, LiveConfig]:
    """A parameters message's (the dream's config, the live config): the dream parameters
    checked as a dream request's are, the live ones by their declaration.

    Raises:
        ApiError: 422 naming the field at fault.
    """
    names = {p.name for p in declared(LiveConfig) if p.offered("studio")}
    own = {key: value for key, value in given.items() if key in names}
    dream = {key: value for key, value in given.items() if key not in names}
    try:
        live = LiveConfig(**own)
    except InceptionismError as exc:
        raise ApiError(422, str(exc), exc.field) from None
    if live.frame_steps > live_limits.frame_steps:
        raise ApiError(422, f"frame_steps = {live.frame_steps} is more than a live frame may take "
                       f"({live_limits.frame_steps})", "frame_steps")
    _, cfg = check_params(dream, limits, command=LIVE_DREAM_DEFAULTS)
    if cfg.max_size is None or cfg.max_size > live_limits.max_size:
        raise ApiError(422, f"max_size = {cfg.max_size} is not a live frame's size: at most {live_limits.max_size}",
                       "max_size")
    return cfg, live


class LiveSession:
    """One client's live dreaming: :meth:`frame` and :meth:`params` from the socket's reader;
    :meth:`run` on a thread of its own dreams the latest frame and hands each result to
    ``send`` (thread-safe: it schedules the socket's send on the event loop)."""

    def __init__(self, send: Any, device: str, limits: Limits, live_limits: LiveLimits) -> None:
        self.send, self.device, self.limits, self.live_limits = send, device, limits, live_limits
        self.latest = Latest()
        self.received = 0
        self._lock = threading.Lock()
        self._setting: tuple[Any, LiveConfig] | None = None  # (cfg, live) to take up at the next frame
        self._dreamer: Any = None
        self._last: tuple[np.ndarray, Any] | None = None  # the last dream and its config, for a snapshot

    def params(self, text: str) -> None:
        given = message(text, self.live_limits)
        if given == {"snapshot": True}:
            return self.snapshot()
        cfg, live = live_params(given, self.limits, self.live_limits)
        with self._lock:
            self._setting = (cfg, live)
        self.send({"params": given})

    def frame(self, data: bytes) -> None:
        self.received += 1
        if len(data) > self.live_limits.frame_bytes:
            raise ApiError(413, f"frame {self.received} is {len(data):,} bytes; at most "
                           f"{self.live_limits.frame_bytes:,} are allowed", "frame")
        self.latest.put((self.received, data, time.perf_counter()))

    def snapshot(self) -> None:
        """The last dream as a PNG with its recipe, as a data URL (nothing is written here)."""
        from ..images import encode_image

        if self._last is None:
            raise ApiError(409, "nothing dreamed yet: send frames first", "snapshot")
        dream, cfg = self._last
        data = encode_image(Image.fromarray(dream), ".png", {"config": cfg.to_dict(), "live": True})
        self.send({"snapshot": "data:image/png;base64," + base64.b64encode(data).decode()})

    def run(self) -> None:
        """Dream the latest frame until the session closes."""
        while (item := self.latest.take()) is not None:
            index, data, came = item
            try:
                self._dream(index, data, came)
            except ApiError as exc:
                self.send({"error": exc.message, "field": exc.field})
            except InceptionismError as exc:
                self.send({"error": str(exc), "field": exc.field})
            except Exception as exc:  # noqa: BLE001 - the session answers and goes on; the server logs it
                logging.getLogger("inceptionism.service").error("live frame %d failed", index, exc_info=exc)
                self.send({"error": f"frame {index} could not be dreamed ({type(exc).__name__}); it is logged on the "
                           "server", "field": None})

    def close(self) -> None:
        self.latest.close(drop=True)  # the client has gone: no frame of its is dreamed after this

    def _dream(self, index: int, data: bytes, came: float) -> None:
        began = time.perf_counter()
        frame = self._decode(index, data)
        decoded = time.perf_counter()
        dreamer = self._current()
        dream = dreamer.dream(frame)
        dreamt = time.perf_counter()
        buffer = io.BytesIO()
        Image.fromarray(dream).save(buffer, format="JPEG", quality=85)
        self._last = (dream, dreamer.cfg.replace(steps=dreamer.steps))
        ms = {"waited": round((began - came) * 1000, 1), "decode": round((decoded - began) * 1000, 1),
              "dream": round((dreamt - decoded) * 1000, 1), **dreamer.timings,
              "encode": round((time.perf_counter() - dreamt) * 1000, 1)}
        self.send({"dreamed": index, "ms": ms, "size": [dream.shape[1], dream.shape[0]]}, buffer.getvalue())

    def _decode(self, index: int, data: bytes) -> np.ndarray:
        try:
            with Image.open(io.BytesIO(data)) as image:
                if image.format not in ("JPEG", "PNG"):
                    raise ApiError(415, f"frame {index} is {image.format or 'not a picture'}; send JPEG or PNG", "frame")
                if image.width * image.height > self.live_limits.frame_pixels:
                    raise ApiError(413, f"frame {index} is {image.width}x{image.height}; at most "
                                   f"{self.live_limits.frame_pixels:,} pixels", "frame")
                return np.asarray(image.convert("RGB"))
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise ApiError(422, f"frame {index} is not a JPEG or PNG picture ({type(exc).__name__})", "frame") from None

    def _current(self) -> Any:
        """The dreamer for the parameters last given (made anew when they change)."""
        from ..api import resolve_config
        from ..models import load_model
        from ..motion.live import LiveDreamer

        with self._lock:
            setting, self._setting = self._setting, None
        if setting is None and self._dreamer is not None:
            return self._dreamer
        if setting is None:
            setting = live_params({}, self.limits, self.live_limits)
        cfg, live = setting
        cfg = resolve_config(cfg.replace(device=self.device))
        previous = self._dreamer
        if previous is not None and previous.cfg.model == cfg.model:
            model = previous.model
        else:  # a copy of its own: hooks and folded weights of one session must never meet another's
            model = load_model(cfg.model, device=self.device, cache=False)
        self._dreamer = LiveDreamer(cfg, live, model=model)
        if previous is not None:  # the dream goes on from where it was, in the new style
            self._dreamer._prev, self._dreamer.count = previous._prev, previous.count
        return self._dreamer


async def serve_session(socket: Any, sessions: Sessions, device: str, limits: Limits) -> None:
    """Run one client's session on ``socket`` (accepted here) until it leaves. Its slot is given
    back when its dreaming thread has ended, not before: a frame still being dreamed counts."""
    await socket.accept()
    if not sessions.enter():
        await socket.send_text(json.dumps({"error": f"the studio runs {sessions.limits.sessions} live session(s) "
                                           "already; try again when one ends", "field": None}))
        await socket.close(code=1013)
        return
    loop = asyncio.get_running_loop()
    gone = threading.Event()

    async def deliver(message: Any, picture: bytes | None) -> None:
        await socket.send_text(json.dumps(message))
        if picture is not None:
            await socket.send_bytes(picture)

    def send(message: Any, picture: bytes | None = None) -> None:  # from the dreaming thread, in order
        if gone.is_set():
            return
        sent = asyncio.run_coroutine_threadsafe(deliver(message, picture), loop)
        try:
            sent.result(timeout=sessions.limits.send_timeout_s)  # a client that does not read holds the dreamer back
        except Exception:  # noqa: BLE001 - closed, or not reading: the session ends
            gone.set()
            session.close()

    session = LiveSession(send, device, limits, sessions.limits)

    def dream_then_leave() -> None:
        try:
            session.run()
        finally:
            sessions.leave()

    dreaming = threading.Thread(target=dream_then_leave, name="live-session", daemon=True)
    dreaming.start()
    try:
        while not gone.is_set():
            message = await socket.receive()
            if message["type"] == "websocket.disconnect":
                break
            try:
                if message.get("bytes") is not None:
                    session.frame(message["bytes"])
                elif message.get("text") is not None:
                    await asyncio.to_thread(session.params, message["text"])  # a snapshot's PNG, off the event loop
            except ApiError as exc:
                await socket.send_text(json.dumps({"error": exc.message, "field": exc.field}))
    finally:
        gone.set()
        session.close()
