"""``inceptionism serve``: the web studio and HTTP API."""

from __future__ import annotations

from ..errors import OutputError
from ..options import ServeConfig
from .common import DebugOpt, app, err, errors
from .options import with_config


@app.command()
@with_config("opts", ServeConfig)
def serve(debug: bool = DebugOpt, *, opts: ServeConfig) -> None:
    """Serve the web studio at http://HOST:PORT/ and the HTTP API under /api (docs at /docs)."""
    with errors(debug):
        import uvicorn

        from ..images import check_writable_dir
        from ..paths import default_data_dir
        from ..service import create_app, settings_from

        directory = opts.data_dir or default_data_dir()
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create the data directory {str(directory)!r}: {exc.strerror}") from None
        check_writable_dir(directory / "jobs.sqlite3")
        application = create_app(settings_from(opts, directory))
        err.print(f"inceptionism studio on http://{opts.host}:{opts.port}/ (data in {directory}, {opts.workers} worker(s))")
        uvicorn.run(application, host=opts.host, port=opts.port, log_level="warning" if not debug else "info")
