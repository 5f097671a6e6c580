"""The ``inceptionism`` command: thin layers that parse flags and call the library.

``common`` holds the app, consoles, error mapping and progress bars; ``options``
generates every option from the parameter declarations; each other module is one
group of commands and registers itself on the app.
"""

from __future__ import annotations

import os
import signal
import sys

import typer

from . import concepts, dream, inspection, motion, serve, training  # noqa: F401  (they register their commands)
from ..errors import InceptionismError
from .common import GuardedStdout, app, err, out

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
    from ..imports import defer_torch_meta_kernels
    from ..runtime import keep_freed_memory

    keep_freed_memory()  # freed activation buffers are reused, not faulted in afresh each step
    defer_torch_meta_kernels()  # torch's meta kernels (0.3 s of its import) wait until compiling needs them
    signal.signal(signal.SIGTERM, _interrupt)
    if sys.stdout is None:  # started with its standard output closed: what it prints goes nowhere, as rich's would
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - for the life of the process
    sys.stdout = GuardedStdout(sys.stdout)  # a full disk or a closed pipe is one line, not a traceback
    try:
        app()
    except SystemExit as stop:
        _leave(stop.code)
        raise
    except InceptionismError as exc:  # outside a command's own mapping: --version's output
        err.print(f"error: {exc}", markup=False, soft_wrap=True)
        _leave(exc.exit_code)
        raise SystemExit(exc.exit_code) from None
    _leave(0)


def _leave(code: int | str | None) -> None:
    """End the process at once, without the interpreter's teardown, where nothing needs it.

    Once torch and timm are loaded, tearing their modules down takes about 1.4 s of a
    command's time on a 2-core machine (docs/performance.md, start-up). Every output is
    written and closed by now, and the consoles are flushed here. Where exit work is
    registered that must run, the normal exit is kept: a Ray connection still open (Ray
    shuts down at exit what it started) or child processes of its own.
    """
    ray = sys.modules.get("ray")
    if "torch" not in sys.modules or (ray is not None and getattr(ray, "is_initialized", lambda: True)()):
        return
    if "multiprocessing" in sys.modules and sys.modules["multiprocessing"].active_children():
        return
    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except Exception:  # noqa: BLE001 - a closed or broken stream (OutputError, Exit from GuardedStdout)
        return  # let the interpreter end as it would
    os._exit(code or 0)
