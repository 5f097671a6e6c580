"""``inceptionism serve``: the web studio and HTTP API."""

from __future__ import annotations

import os
import secrets

from ..errors import OutputError
from ..options import ServeConfig
from .common import DebugOpt, app, err, errors
from .options import with_config


@app.command()
@with_config("opts", ServeConfig)
def serve(debug: bool = DebugOpt, *, opts: ServeConfig) -> None:
    """Serve the web studio at http://HOST:PORT/ and the HTTP API under /api (schema at /openapi.json)."""
    with errors(debug):
        import uvicorn

        from ..images import check_writable_dir
        from ..paths import default_data_dir
        from ..service import create_app, settings_from
        from ..service.security import is_loopback
        from ..service.store import JobStore

        token = opts.token or os.environ.get("INCEPTIONISM_TOKEN") or None
        if token is None and not is_loopback(opts.host):
            token = secrets.token_urlsafe(24)  # beyond loopback, never open
        directory = opts.data_dir or default_data_dir()
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create the data directory {str(directory)!r}: {exc.strerror}") from None
        check_writable_dir(directory / "jobs.sqlite3")
        JobStore(directory / "jobs.sqlite3").close()  # a full disk or a damaged store: one line here, not at start-up
        application = create_app(settings_from(opts, directory, token))
        address = f"http://{opts.host}:{opts.port}/" + (f"?token={token}" if token else "")
        where = f" on the Ray cluster {opts.cluster}" if opts.cluster else ""
        err.print(f"inceptionism studio on {address} (data in {directory}, {opts.workers} worker(s){where})", soft_wrap=True)
        if not is_loopback(opts.host):
            err.print(f"warning: listening on {opts.host}, beyond this machine; every API request needs the token "
                      "(see docs/security.md)", soft_wrap=True)
        uvicorn.run(application, host=opts.host, port=opts.port, log_level="warning" if not debug else "info")
