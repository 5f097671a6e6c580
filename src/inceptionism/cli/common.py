"""What every command shares: the typer app, consoles, error mapping and progress bars.

Errors become one line on stderr and a distinct exit code (see ``errors.py``);
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import traceback
from collections import deque
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ..errors import InceptionismError

if TYPE_CHECKING:
    from ..models import LoadedModel
    from ..command_config import InspectConfig

__all__ = ["app", "err", "out", "DebugOpt", "QuietOpt", "errors", "progress_bar", "run_with_progress", "ScoreReader",
           "load_network", "GuardedStdout"]

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="DeepDream: amplify what a neural network sees in a picture.",
)
err = Console(stderr=True, highlight=False)
out = Console(highlight=False, soft_wrap=True)

DebugOpt = typer.Option(False, "--debug", help="Show the full traceback on errors.")
QuietOpt = typer.Option(False, "--quiet", "-q", help="No progress bar or notices.")


class GuardedStdout:
    """Standard output whose failure is one of ours: a listing sent to a full disk
    (``layers --json > /dev/full``) printed an OSError's traceback. A failed write or flush
    raises :class:`~inceptionism.errors.OutputError` (one line, exit 6; :func:`errors`), or,
    where the reader went away (``| head``), ends the command quietly with 141, as a shell
    reports a program stopped by SIGPIPE. Either way what is left unwritten goes to
    /dev/null, so the exit's own flush raises nothing more. ``main`` puts it in place; rich's
    consoles write through it."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as exc:
            raise self._failed(exc) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            raise self._failed(exc) from None

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def _failed(self, exc: OSError) -> BaseException:
        import os

        try:
            nowhere = os.open(os.devnull, os.O_WRONLY)
            os.dup2(nowhere, self._stream.fileno())
            os.close(nowhere)
        except (OSError, ValueError):
            pass
        if isinstance(exc, BrokenPipeError):
            return typer.Exit(141)
        from ..errors import OutputError

        return OutputError(f"cannot write to standard output: {exc.strerror or exc}")


@contextmanager
def errors(debug: bool) -> Iterator[None]:
    """Map library errors to one line and an exit code."""
    try:
        yield
    except InceptionismError as exc:
        if debug:
            traceback.print_exc()
        err.print(f"[red]error:[/red] {escape(str(exc))}", markup=True, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        err.print("interrupted; nothing was written for the unfinished output")
        raise typer.Exit(130) from None


def load_network(net: InspectConfig) -> LoadedModel:
    """The network an inspection command names (``--model``, ``--weights``, ``--device``)."""
    from ..device import resolve_device
    from ..models import load_model

    return load_model(net.model, device=resolve_device(net.device), weights=net.weights)


def progress_bar(quiet: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("step {task.fields[step]}"),
        TextColumn("score {task.fields[score]}"),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=err,
        disable=quiet,
        transient=False,
    )


class ScoreReader:
    """Shows the newest step score the device has already computed, never waiting for it.

    On a GPU, reading a step's score at once would stall the host until that step is
    done, every step; instead each score gets an event, and the bar shows the latest
    one whose event has passed (a step or two behind).
    """

    def __init__(self) -> None:
        self.pending: deque = deque()
        self.text = "-"

    def __call__(self, score: Any) -> str:
        import torch

        if score.device.type != "cuda":
            self.text = f"{float(score):.3f}"
            return self.text
        event = torch.cuda.Event()
        event.record()
        self.pending.append((event, score))
        while self.pending and self.pending[0][0].query():
            self.text = f"{float(self.pending.popleft()[1]):.3f}"
        return self.text


def run_with_progress(run, total_steps: int, quiet: bool, *, also_on_step=None, **kwargs: Any):
    """Call ``run(callbacks=..., **kwargs)`` with a progress bar over ``total_steps`` steps;
    ``also_on_step`` is called with every step too."""
    from ..engine import Callbacks

    read_score = ScoreReader()
    with progress_bar(quiet) as progress:
        task = progress.add_task("loading", total=total_steps, step="-", score="-")

        def on_step(info) -> None:
            if also_on_step is not None:
                also_on_step(info)
            progress.update(
                task,
                advance=1,
                description=f"octave {info.octave}/{info.octaves} {info.width}x{info.height}",
                step=f"{info.step}/{info.steps}",
                score=read_score(info.score),
            )

        def on_notice(message: str) -> None:
            if not quiet:
                err.print(f"notice: {message}")

        return run(callbacks=Callbacks(on_step=on_step, on_notice=on_notice), **kwargs)
