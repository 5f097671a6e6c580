"""The ``inceptionism`` command: thin layers that parse flags and call the library.

``common`` holds the app, consoles, error mapping and progress bars; ``options``
generates every option from the parameter declarations; each other module is one
group of commands and registers itself on the app.
"""

from __future__ import annotations

import signal

import typer

from . import dream, inspection, motion, serve, training  # noqa: F401  (they register their commands)
from .common import app, out

__all__ = ["app", "main"]


def version_callback(value: bool) -> None:
    if value:
        from ..paths import __version__

        out.print(f"inceptionism {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: bool = typer.Option(False, "--version", callback=version_callback, is_eager=True, help="Show the version."),
) -> None:
    """DeepDream: amplify what a neural network sees in a picture."""


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM ends a command as Ctrl-C does: temporary files go, finished work stays


def main() -> None:
    from ..runtime import keep_freed_memory

    keep_freed_memory()  # freed activation buffers are reused, not faulted in afresh each step
    signal.signal(signal.SIGTERM, _interrupt)
    app()
