"""Your own motifs: ``train`` a network on a folder of photos, ``classify`` photos with one."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from ..errors import ImageError
from ..command_config import ClassifyConfig, InspectConfig, TrainConfig
from .common import DebugOpt, QuietOpt, app, err, errors, load_network, out
from .flags import with_config


def _clock(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


@app.command()
@with_config("cfg", TrainConfig)
def train(
    data: Path = typer.Argument(..., help="Folder with one subfolder of images per class (the subfolder names the class)."),
    output: Path = typer.Option(..., "--output", "-o", help="The trained network: a .safetensors file."),
    quiet: bool = QuietOpt,
    debug: bool = DebugOpt,
    *,
    cfg: TrainConfig,
) -> None:
    """Fine-tune a network on your own motifs; then --weights OUTPUT dreams them (--class NAME) everywhere."""
    from ..training import Epoch

    def on_epoch(e: Epoch) -> None:
        if not quiet:
            mark = " *" if e.best else ""
            err.print(f"epoch {e.epoch:>3}/{e.epochs}  loss {e.loss:.3f}  train {e.train_accuracy:.2f}  "
                      f"validation {e.val_accuracy:.2f}{mark}  {_clock(e.seconds)}  ~{_clock(e.left)} left")

    with errors(debug):
        from ..training import check_output, train as fine_tune
        from ..training.loop import checkpoint_path

        check_output(output)
        if not quiet:
            err.print(f"reading {escape(str(data))} ...")
        try:
            result = fine_tune(data, output, cfg, on_epoch=on_epoch)
        except KeyboardInterrupt:
            where = checkpoint_path(output)
            hint = f"; --resume continues from {escape(str(where))}" if where.is_file() else ""
            err.print(f"interrupted; nothing was written at {escape(str(output))}{hint}")
            raise typer.Exit(130) from None
        for path, why in result.skipped:
            err.print(f"skipped {escape(str(path))}: {escape(why)}")
        train_count, val_count = result.images
        out.print(f"wrote {escape(str(output))}: {len(result.classes)} classes, {train_count} training and {val_count} "
                  f"validation images; validation accuracy {result.val_accuracy:.3f} (epoch {result.best_epoch} of "
                  f"{result.epochs}{', stopped early' if result.stopped_early else ''})")
        for name, accuracy in result.per_class.items():
            out.print(f"  {escape(name)}: {accuracy:.3f}")
        out.print(f"report: {escape(str(result.report))}; dream a motif with --weights {escape(str(output))} "
                  f"--class {escape(result.classes[0])}")


@app.command()
@with_config("net", InspectConfig)
@with_config("cls", ClassifyConfig)
def classify(
    images: list[Path] = typer.Argument(..., help="Photos to classify."),
    debug: bool = DebugOpt,
    *,
    net: InspectConfig,
    cls: ClassifyConfig,
) -> None:
    """Print each photo's most likely class: PATH<TAB>CLASS<TAB>PROBABILITY (--top K lines per photo)."""
    with errors(debug):
        from ..api import top_classes
        from ..images import load_image

        model = load_network(net)
        failed = None
        for path in images:
            try:
                ranked = top_classes(model, load_image(path), cls.top)
            except ImageError as exc:
                err.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
                failed = exc
                continue
            for _, name, probability in ranked:
                typer.echo(f"{path}\t{name}\t{probability:.4f}")
        if failed is not None:
            raise typer.Exit(failed.exit_code)
