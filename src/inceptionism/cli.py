"""The ``inceptionism`` command: a thin layer that parses flags and calls the library.

Errors become one line on stderr and a distinct exit code (see ``errors.py``);
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import functools
import inspect
import json
import time
import traceback
from collections import deque
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from .config import DreamConfig, load_config_mapping
from .errors import InceptionismError

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


@contextmanager
def _errors(debug: bool) -> Iterator[None]:
    """Map library errors to one line and an exit code."""
    try:
        yield
    except InceptionismError as exc:
        if debug:
            traceback.print_exc()
        err.print(f"[red]error:[/red] {exc}", markup=True, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        err.print("interrupted; nothing was written for the unfinished output")
        raise typer.Exit(130) from None


def _progress(quiet: bool) -> Progress:
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


class _ScoreReader:
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


def _run_with_progress(run, cfg: DreamConfig, quiet: bool, **kwargs: Any):
    """Call ``run(callbacks=..., **kwargs)`` with a progress bar over every step."""
    from .engine import Callbacks

    octaves = len(cfg.octave_indices())
    read_score = _ScoreReader()
    with _progress(quiet) as progress:
        task = progress.add_task("loading", total=octaves * cfg.steps, step="-", score="-")

        def on_step(info) -> None:
            progress.update(
                task,
                advance=1,
                total=info.octaves * info.steps,
                description=f"octave {info.octave}/{info.octaves} {info.width}x{info.height}",
                step=f"{info.step}/{info.steps}",
                score=read_score(info.score),
            )

        def on_notice(message: str) -> None:
            if not quiet:
                err.print(f"notice: {message}")

        return run(callbacks=Callbacks(on_step=on_step, on_notice=on_notice), **kwargs)


def _flag_values(**flags: Any) -> dict[str, Any]:
    return {key: value for key, value in flags.items() if value is not None}


def build_config(
    config_file: Optional[Path], preset: Optional[str], flags: dict[str, Any], defaults: Optional[dict[str, Any]] = None
) -> DreamConfig:
    """Precedence, lowest first: field defaults < preset < the command's defaults < config file < flags."""
    from .api import resolve_config

    raw = load_config_mapping(config_file) if config_file else {}
    if isinstance(raw.get("config"), dict):  # an output's embedded metadata
        raw = raw["config"]
    normalized = DreamConfig.from_dict(raw).to_dict()  # validates; keep only the keys the file sets
    file_values = {key: normalized[key] for key in raw}
    chosen = preset or file_values.get("preset") or "classic"
    merged = {**DreamConfig.from_preset(chosen).to_dict(), **(defaults or {}), **file_values, **flags}
    merged["preset"] = preset or file_values.get("preset", chosen)
    return resolve_config(DreamConfig.from_dict(merged))


# Every dream parameter as a flag; shared by dream, zoom, video and batch.
_DREAM_FLAGS: dict[str, tuple[Any, Any]] = {
    "model": (Optional[str], typer.Option(None, help="Network (see 'inceptionism models').")),
    "weights": (Optional[str], typer.Option(None, help="'random' or a checkpoint file (default: the model's own).")),
    "layers": (Optional[str], typer.Option(None, help="LAYER[:CHANNEL[@Y,X]][*WEIGHT] or class:CLASS, comma list.")),
    "objective": (Optional[str], typer.Option(None, help="l2 (mean of squares) or mean.")),
    "octaves": (Optional[int], typer.Option(None, help="Number of octaves.")),
    "octave_scale": (Optional[float], typer.Option(None, help="Size ratio between octaves (> 1).")),
    "octave_range": (Optional[str], typer.Option(None, help="LO:HI octave exponents, e.g. -4:2 (0 = input size).")),
    "grad_norm": (Optional[str], typer.Option(None, help="mean-abs or std.")),
    "steps": (Optional[int], typer.Option(None, help="Steps per octave.")),
    "step_size": (Optional[float], typer.Option(None, help="Step size in pixel units (0..1).")),
    "jitter": (Optional[int], typer.Option(None, help="Random roll in pixels each step.")),
    "smooth": (Optional[float], typer.Option(None, help="Gradient smoothing sigma (0 = off).")),
    "lapnorm": (Optional[bool], typer.Option(None, "--lapnorm/--no-lapnorm", help="Laplacian-pyramid gradient normalization.")),
    "lapnorm_levels": (Optional[int], typer.Option(None, help="Levels of the Laplacian pyramid.")),
    "tile_size": (Optional[int], typer.Option(None, help="Gradient tile side in px (default: automatic).")),
    "max_size": (Optional[int], typer.Option(None, help="Shrink so the longer side is at most this.")),
    "size": (Optional[str], typer.Option(None, help="WxH of a dream from noise (default 512x512).")),
    "target_class": (Optional[str], typer.Option(None, "--class", "--target-class", help="Dream this class (name or index) into the picture.")),
    "avoid_class": (Optional[str], typer.Option(None, help="Suppress classes: names, indices or a group (dog, cat, bird, ...).")),
    "avoid_weight": (Optional[float], typer.Option(None, help="Strength of --avoid-class.")),
    "guide": (Optional[list[str]], typer.Option(None, "--guide", help="Guide image (repeatable): grow what each region best matches in it.")),
    "guide_weight": (Optional[float], typer.Option(None, help="Weight of the guide objective.")),
    "mask": (Optional[str], typer.Option(None, help="Greyscale mask: white = dream, black = keep.")),
    "preset": (Optional[str], typer.Option(None, help="subtle, classic or deep.")),
    "seed": (Optional[int], typer.Option(None, help="Random seed for a reproducible result.")),
    "device": (Optional[str], typer.Option(None, help="auto, cpu, cuda, cuda:N or mps.")),
    "precision": (Optional[str], typer.Option(None, help="fp32, or bf16: the network in bfloat16 (for GPUs).")),
    "config": (Optional[Path], typer.Option(None, help="JSON config, or an image made by this tool.")),
}


def dream_options(command):
    """Add every dream flag to ``command``; it receives them as ``cfg`` (a resolved DreamConfig).

    The command's own ``defaults`` (a dict, optional keyword) are applied before the
    config file and flags, e.g. a lighter preset for zoom animations.
    """
    own = [p for p in inspect.signature(command).parameters.values() if p.name != "cfg"]
    extra = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=annotation)
        for name, (annotation, option) in _DREAM_FLAGS.items()
    ]

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> None:
        flags = {name: kwargs.pop(name) for name in _DREAM_FLAGS}
        config_file, preset = flags.pop("config"), flags.pop("preset")
        if flags.get("guide"):
            flags["guide"] = tuple(flags["guide"])
        with _errors(kwargs.get("debug", False)):
            defaults = dict(getattr(wrapper, "dream_defaults", {}))
            default_preset = defaults.pop("preset", None)
            cfg = build_config(config_file, preset or default_preset, _flag_values(**flags), defaults if not preset else {})
        return command(cfg=cfg, **kwargs)

    wrapper.__signature__ = inspect.Signature(own + extra)  # type: ignore[attr-defined]
    return wrapper


@app.command()
@dream_options
def dream(
    input: str = typer.Argument(..., help="Photo to dream on, or the word 'noise'."),
    output: Path = typer.Option(..., "--output", "-o", help="Output file: .png, .jpg or .webp."),
    save_config: Optional[Path] = typer.Option(None, help="Write the parameters used to this JSON file."),
    quiet: bool = QuietOpt,
    debug: bool = DebugOpt,
    *,
    cfg: DreamConfig,
) -> None:
    """Dream on a photo (or on noise) and write the result."""
    with _errors(debug):
        _dream_command(input, output, cfg, save_config, quiet)


def _dream_command(input: str, output: Path, cfg: DreamConfig, save_config: Optional[Path], quiet: bool) -> None:
    from .api import render
    from .images import check_output_path, check_writable_dir, load_image, save_image, write_atomic

    inputs = () if input == "noise" else (input,)
    check_output_path(output, inputs=inputs)
    if save_config is not None:
        check_writable_dir(save_config)
        text = json.dumps(cfg.to_dict(), indent=2, sort_keys=True) + "\n"
        write_atomic(save_config, lambda fh: fh.write(text.encode()))
    source = input if input == "noise" else load_image(input)
    started = time.perf_counter()
    result = _run_with_progress(
        lambda callbacks: render(source, cfg, callbacks=callbacks, source=Path(input).name), cfg, quiet
    )
    save_image(result.image, output, result.metadata)
    gain = result.score_end / result.score_start if result.score_start else float("nan")
    out.print(
        f"wrote {output} ({result.image.width}x{result.image.height}) in {time.perf_counter() - started:.1f} s; "
        f"objective {result.score_start:.3f} -> {result.score_end:.3f} (x{gain:.2f}), seed {result.config.seed}"
    )


def version_callback(value: bool) -> None:
    if value:
        from . import __version__

        out.print(f"inceptionism {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: bool = typer.Option(False, "--version", callback=version_callback, is_eager=True, help="Show the version."),
) -> None:
    """DeepDream: amplify what a neural network sees in a picture."""


def main() -> None:
    from .runtime import keep_freed_memory

    keep_freed_memory()  # freed activation buffers are reused, not faulted in afresh each step
    app()


# The other commands live in their own modules and register themselves on ``app``.
from . import cli_inspect, cli_motion, cli_serve  # noqa: E402,F401


if __name__ == "__main__":
    main()
