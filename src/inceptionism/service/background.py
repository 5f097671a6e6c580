"""Run the studio in a background thread of this process (notebooks, tests, benchmarks)."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from typing import Iterator

from .app import ServiceSettings, create_app

__all__ = ["free_port", "serve_in_background"]


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
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host=host, port=port, log_level="warning"))
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
        server.should_exit = True
        thread.join(30)
