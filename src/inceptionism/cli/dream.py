"""``inceptionism dream``: one photo (or noise) in, one dream out."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import typer

from ..config import DreamConfig
from ..errors import ConfigError, OutputError
from ..command_config import DreamOutputs
from ..formats import output_formats_help
from .common import DebugOpt, QuietOpt, app, err, errors, out, run_with_progress
from .flags import dream_options, with_config


@app.command()
@dream_options()
@with_config("extras", DreamOutputs)
def dream(
    input: str = typer.Argument(..., help="Photo to dream on, or the word 'noise'."),
    output: Path = typer.Option(..., "--output", "-o", help="Output picture: " + output_formats_help() + "."),
    save_config: Optional[Path] = typer.Option(None, help="Write the parameters used to this JSON file."),
    quiet: bool = QuietOpt,
    debug: bool = DebugOpt,
    *,
    extras: DreamOutputs,
    cfg: DreamConfig,
    config_file: Optional[Path] = None,
) -> None:
    """Dream on a photo (or on noise) and write the result."""
    with errors(debug):
        _dream(input, output, cfg, save_config, quiet, config_file, extras)


def _dream(
    input: str, output: Path, cfg: DreamConfig, save_config: Optional[Path], quiet: bool, config_file: Optional[Path],
    extras: DreamOutputs,
) -> None:
    from ..outputs import write_atomic

    photos = () if input == "noise" else (input,)
    inputs = command_inputs(cfg, (*photos, *([config_file] if config_file else [])))
    _check_outputs(output, inputs, cfg, save_config, extras)
    written: list[Path] = []  # in order; an interruption says which are complete
    try:
        _dream_and_write(input, output, cfg, quiet, extras, written)
        if save_config is not None:  # last: a config beside no dream would describe nothing
            text = json.dumps(cfg.to_dict(), indent=2, sort_keys=True) + "\n"
            write_atomic(save_config, lambda fh: fh.write(text.encode()))
            written.append(save_config)
    except KeyboardInterrupt:
        done = f"written: {', '.join(str(p) for p in written)}; the rest was not" if written else "nothing was written"
        err.print(f"interrupted; {done}", soft_wrap=True)
        raise typer.Exit(130) from None


def _dream_and_write(input: str, output: Path, cfg: DreamConfig, quiet: bool, extras: DreamOutputs,
                     written: list[Path]) -> None:
    from ..api import render
    from ..images import load_image, save_image
    from ..plots import Snapshots, StepRecorder

    source = input if input == "noise" else load_image(input)
    started = time.perf_counter()
    record, snapshots = StepRecorder(), Snapshots(extras.save_every or 1)
    watchers = [w for w, wanted in ((record, extras.plot), (snapshots, extras.save_every or extras.progress_gif)) if wanted]
    result = run_with_progress(
        lambda callbacks: render(source, cfg, callbacks=callbacks, source=Path(input).name), cfg.total_steps(), quiet,
        also_on_step=(lambda info: [watch(info) for watch in watchers]) if watchers else None,
    )
    save_image(result.image, output, result.metadata)
    written.append(output)
    start, end = result.score_start, result.score_end
    # a ratio says nothing when the start is not above zero (a class logit may be negative)
    gain = f"x{end / start:.2f}" if start > 0 else f"{end - start:+.3f}"
    out.print(
        f"wrote {output} ({result.image.width}x{result.image.height}) in {time.perf_counter() - started:.1f} s; "
        f"objective {start:.3f} -> {end:.3f} ({gain}), seed {result.config.seed}"
    )
    _write_extras(result, extras, cfg, input, output, record, snapshots, written)


def _check_outputs(output: Path, inputs: tuple, cfg: DreamConfig, save_config: Optional[Path], extras: DreamOutputs) -> None:
    """Every file this dream will write, checked against every file it reads, before any work."""
    from ..images import OUTPUT_FORMATS
    from ..outputs import check_output_path

    check_output_path(output, inputs=inputs, formats=OUTPUT_FORMATS)
    written = [output]  # each output is checked against the inputs and the outputs before it

    def check(path: Path, formats: tuple[str, ...] | None = OUTPUT_FORMATS) -> None:
        check_output_path(path, inputs=inputs, outputs=tuple(written), formats=formats)
        written.append(path)

    if save_config is not None:
        check(save_config, None)
    if extras.save_input:
        check(_input_file(output))
    if extras.progress_gif is not None:
        check(extras.progress_gif, (".gif",))
    if extras.save_every is not None:
        for step in range(extras.save_every, cfg.total_steps() + 1, extras.save_every):
            check(_step_file(output, step))
    if extras.plot is not None:
        check(extras.plot, (".png",))
        try:
            check(extras.plot.with_suffix(".json"), None)
        except OutputError as exc:  # a file the user did not name: say where it comes from
            raise OutputError(f"{exc} (--plot writes its figures beside the plot, as .json)") from None


def _write_extras(result, extras: DreamOutputs, cfg: DreamConfig, input: str, output: Path, record, snapshots,
                  written: list[Path]) -> None:
    """What was asked for besides the dream: the prepared input, classes, the plot, snapshots."""
    from ..images import save_image
    from ..plots import write_plot

    if extras.save_input:
        save_image(result.prepared, _input_file(output), {"inceptionism_input": {"source": Path(input).name}})
        written.append(_input_file(output))
        out.print(f"wrote {_input_file(output)} (the input as dreamed on)")
    if extras.classify:
        _print_classes(cfg, result)
    if extras.plot is not None:
        figure, numbers = write_plot(record, extras.plot)
        written.extend((figure, numbers))
        out.print(f"wrote {figure} and {numbers}")
    _write_snapshots(snapshots, extras, output, result.image.size, written)


def _input_file(output: Path) -> Path:
    return output.with_name(f"{output.stem}.input.png")


def _step_file(output: Path, step: int) -> Path:
    return output.with_name(f"{output.stem}.step-{step:04d}.png")


def _write_snapshots(snapshots, extras: DreamOutputs, output: Path, size: tuple[int, int], written: list[Path]) -> None:
    from ..images import save_image
    from ..plots import write_gif

    pictures = snapshots.pictures(size) if snapshots.frames else []
    if extras.save_every is not None:
        for step, picture in pictures:
            save_image(picture, _step_file(output, step))
            written.append(_step_file(output, step))
        out.print(f"wrote {len(pictures)} snapshot(s) as {output.stem}.step-NNNN.png")
    if extras.progress_gif is not None:
        write_gif([picture for _, picture in pictures], extras.progress_gif)
        written.append(extras.progress_gif)
        out.print(f"wrote {extras.progress_gif} ({len(pictures)} frames)")


def _print_classes(cfg: DreamConfig, result) -> None:
    from ..api import load_model_for, top_classes

    model = load_model_for(cfg)
    for title, picture in (("input", result.prepared), ("dream", result.image)):
        ranked = ", ".join(f"{name} {p:.2f}" for _, name, p in top_classes(model, picture, crop=False))
        out.print(f"top-5 {title}: {ranked}")


def command_inputs(cfg: DreamConfig, photos: tuple[str | Path, ...]) -> tuple[str | Path, ...]:
    """Every file a dream reads: the photos, guides, mask and weights file; no output may be one of them."""
    files = [*photos, *cfg.guide, *([cfg.mask] if cfg.mask else []), *([cfg.weights_file()] if cfg.weights_file() else [])]
    return tuple(files)


@app.command()
def schema(
    door: str = typer.Option("file", help="file: config files (--config, --save-config); studio: the HTTP API's params."),
    command: str = typer.Option("dream", help="dream (also zoom, video, batch, live), or visualize."),
    debug: bool = DebugOpt,
) -> None:
    """Print the JSON schema of a command's parameters, generated from their declarations."""
    with errors(debug):
        from ..command_config import visualize_schema
        from ..config import config_schema

        if door not in ("file", "studio"):
            raise ConfigError(f"door {door!r} is not one of file, studio", field="door")
        if command not in ("dream", "visualize"):
            raise ConfigError(f"command {command!r} is not one of dream, visualize", field="command")
        if command == "visualize" and door != "file":
            raise ConfigError("visualize's parameters have a schema for config files only (the studio has no "
                              "visualize request)", field="door")
        out.print_json(json.dumps(config_schema(door) if command == "dream" else visualize_schema()))
