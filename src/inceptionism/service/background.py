"""Run the studio in a background thread of this process (notebooks, tests, benchmarks)."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator

from .app import ServiceSettings, create_app

if TYPE_CHECKING:
    import uvicorn

__all__ = ["free_port", "serve_in_background", "studio_server", "GRACE_S"]

GRACE_S = 5  # after being asked to stop, requests still open (event streams, say) get this long to end


def studio_server(config: "uvicorn.Config", *, interrupted: threading.Event | None = None) -> "uvicorn.Server":
    """uvicorn's server for the studio ``config.app``: asked to exit (SIGTERM, Ctrl-C, or
    ``should_exit``), it first stops the studio's drawings, so requests waiting for a picture
    or a scan of dataset examples end at once (503) instead of holding the shutdown for as long
    as the scan takes (over 30 s seen); whatever is still open after :data:`GRACE_S` s is closed.
    ``interrupted``: set by a Ctrl-C that came before the server took the signal over; the
    server then stops as soon as it has started."""
    import uvicorn

    class StudioServer(uvicorn.Server):
        async def on_tick(self, counter: int) -> bool:
            # Checked on the main loop's every tick, so the stop takes uvicorn's usual way out
            # (shutdown included) on every version.
            return (interrupted is not None and interrupted.is_set()) or await super().on_tick(counter)

        def handle_exit(self, sig: int, frame: Any) -> None:
            # A signal handler runs on the event loop's thread, maybe inside a section that holds
            # the drawings' lock: the stop takes that lock on a thread of its own.
            threading.Thread(target=self.stop_drawings, name="studio-stop-drawings", daemon=True).start()
            super().handle_exit(sig, frame)

        def stop_drawings(self) -> None:
            state = getattr(self.config.app, "state", None)  # the app itself (not an import string)
            inspector = getattr(state, "inspector", None)
            if inspector is not None:
                inspector.stop_drawings()

    config.timeout_graceful_shutdown = GRACE_S
    return StudioServer(config)


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


@contextmanager
def serve_in_background(settings: ServiceSettings, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve on ``host:port`` (0 = a free port) while the block runs; yields the base URL.

    Examples:
        >>> with serve_in_background(ServiceSettings(data_dir=Path("/tmp/d"))) as url:  # doctest: +SKIP
        ...     print(url)
        http://127.0.0.1:40123
    """
    import uvicorn

    port = port or free_port(host)
    server = studio_server(uvicorn.Config(create_app(settings), host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="studio-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the studio did not start on {host}:{port}")
        time.sleep(0.05)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop_drawings()
        server.should_exit = True
        thread.join(30)
