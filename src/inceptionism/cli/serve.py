"""``inceptionism serve``: the web studio and HTTP API."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import threading
from pathlib import Path

from ..errors import ConfigError, OutputError, ServiceError
from ..command_config import ServeConfig
from .common import DebugOpt, app, err, errors
from .flags import with_config


@app.command()
@with_config("opts", ServeConfig)
def serve(debug: bool = DebugOpt, *, opts: ServeConfig) -> None:
    """Serve the web studio at http://HOST:PORT/ and the HTTP API under /api (schema at /openapi.json)."""
    with errors(debug):
        # Ctrl-C stops the studio even where it was started with SIGINT ignored (a background
        # job of a non-interactive shell, a test runner): a SIGINT that came before the
        # server took the signal over was lost, and the studio ran on. Until then it is noted,
        # not raised: a KeyboardInterrupt raised anywhere (inside logging's lock, once) ended
        # the command with a traceback; the server stops as soon as it has started.
        interrupted = threading.Event()
        before = signal.signal(signal.SIGINT, lambda signum, frame: interrupted.set())
        try:
            _serve(opts, debug, interrupted)
        finally:
            signal.signal(signal.SIGINT, before)  # a program that called this command gets its Ctrl-C back


def _serve(opts: ServeConfig, debug: bool, interrupted: threading.Event) -> None:
    """The studio's checks, then the server until it is asked to stop (``interrupted``: a Ctrl-C
    that came before the server took the signal over)."""
    import uvicorn

    from ..outputs import check_writable_dir
    from ..paths import default_data_dir
    from ..service import create_app, settings_from
    from ..service.background import studio_server
    from ..service.lock import hold
    from ..service.security import is_loopback
    from ..service.store import JobStore

    if opts.examples is not None:  # a bad folder is one line now, not a 404 in the picker later
        from ..featurevis import photo_files

        photo_files(opts.examples)
    if opts.concepts is not None:  # a folder with no concepts is one line now, not an empty panel later
        from ..concept_report import concept_sets

        if any(c in str(opts.concepts.resolve()) for c in ",*@") or any(c.isspace() for c in str(opts.concepts.resolve())):
            raise ConfigError(f"concepts {str(opts.concepts)!r}: a term names a dictionary by its path, and a path "
                              "with a comma, *, @ or a space cannot be written in one; move the folder", field="concepts")
        if not opts.concepts.is_dir() or not concept_sets(opts.concepts):
            raise ConfigError(f"concepts {str(opts.concepts)!r} holds no output of inceptionism concepts "
                              "(dictionary.safetensors beside concepts.json, in it or two folders below)",
                              field="concepts")
    if opts.workers == 0 and opts.cluster is None:
        raise ConfigError("workers 0 would leave every dream queued: give at least 1, or --cluster", field="workers")
    token = opts.token or os.environ.get("INCEPTIONISM_TOKEN") or None
    if token is None and not is_loopback(opts.host):
        token = secrets.token_urlsafe(24)  # beyond loopback, never open
    directory = opts.data_dir or default_data_dir()
    if opts.examples is not None:
        _check_apart(directory, opts.examples)
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)  # the studio's data is its user's alone
    except OSError as exc:
        raise OutputError(f"cannot create the data directory {str(directory)!r}: {exc.strerror}") from None
    check_writable_dir(directory / "jobs.sqlite3")
    hold(directory)  # before the store is touched: another studio on it would re-run its running jobs
    listening = _listen(opts.host, opts.port)  # before the address is printed: a taken port is one line, exit 7
    JobStore(directory / "jobs.sqlite3").close()  # a full disk or a damaged store: one line here, not at start-up
    application = create_app(settings_from(opts, directory, token))
    address = f"http://{opts.host}:{opts.port}/" + (f"?token={token}" if token else "")
    where = f" on the Ray cluster {opts.cluster}" if opts.cluster else ""
    err.print(f"inceptionism studio on {address} (data in {directory}, {opts.workers} worker(s){where})", soft_wrap=True)
    if not is_loopback(opts.host):
        err.print(f"warning: listening on {opts.host}, beyond this machine; every API request needs the token "
                  "(see docs/security.md)", soft_wrap=True)
    config = uvicorn.Config(application, host=opts.host, port=opts.port, log_level="warning" if not debug else "info")
    try:
        studio_server(config, interrupted=interrupted).run(sockets=[listening])
    except KeyboardInterrupt:  # uvicorn raises the stopping signal again once it has shut down
        pass


def _check_apart(data: Path, photos: Path) -> None:
    """The photo folder (scanned whole, below too) and the data directory must not hold each other:
    the studio would show its own pictures, or other people's uploads, as dataset examples."""
    from ..outputs import within

    if within(data, photos):
        raise ConfigError(f"the data directory {str(data)!r} is inside the photo folder {str(photos)!r}, which is "
                          "scanned whole: the studio would show its own pictures and uploads as dataset examples; "
                          "give --examples a folder without it", field="examples")
    if within(photos, data):
        raise ConfigError(f"the photo folder {str(photos)!r} is inside the data directory {str(data)!r}, where the "
                          "studio keeps uploads and results; give a folder outside it", field="examples")


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host``:``port``, for the server to serve on.

    Raises:
        ServiceError: the name does not resolve, or the address cannot be bound (taken, not ours).
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise ServiceError(f"cannot listen on {host}:{port}: the host does not resolve ({exc})") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ServiceError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock
