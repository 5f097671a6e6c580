"""``inceptionism serve``: the web studio and HTTP API."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .cli import DebugOpt, _errors, app, err
from .errors import ConfigError, OutputError


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0 exposes it to the network)."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(1, help="Dreams run at once; each uses every CPU thread, so 1 suits a CPU."),
    data_dir: Optional[Path] = typer.Option(
        None, help="Where jobs, uploads and results live [default: $INCEPTIONISM_DATA or ~/.local/share/inceptionism]."
    ),
    device: str = typer.Option("auto", help="Where the workers dream: auto, cpu, cuda, cuda:N, mps."),
    keep_hours: float = typer.Option(168.0, help="Finished dreams are removed this many hours after they end."),
    max_queued: int = typer.Option(32, help="Dreams that may wait in the queue; more are refused (429)."),
    debug: bool = DebugOpt,
) -> None:
    """Serve the web studio at http://HOST:PORT/ and the HTTP API under /api (docs at /docs)."""
    with _errors(debug):
        import uvicorn

        from .images import check_writable_dir
        from .service import Limits, ServiceSettings, create_app, default_data_dir

        if not 1 <= port <= 65535:
            raise ConfigError(f"port {port} is out of range: 1 to 65535")
        if not 0 <= workers <= 64:
            raise ConfigError(f"workers {workers} is out of range: 0 to 64")
        if keep_hours <= 0 or max_queued < 1:
            raise ConfigError("keep-hours must be above 0 and max-queued at least 1")
        directory = data_dir or default_data_dir()
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create the data directory {str(directory)!r}: {exc.strerror}") from None
        check_writable_dir(directory / "jobs.sqlite3")
        settings = ServiceSettings(
            data_dir=directory,
            workers=workers,
            device=device,
            result_ttl_s=keep_hours * 3600,
            limits=Limits(max_queued=max_queued),
        )
        application = create_app(settings)
        err.print(f"inceptionism studio on http://{host}:{port}/ (data in {directory}, {workers} worker(s))")
        uvicorn.run(application, host=host, port=port, log_level="warning" if not debug else "info")
