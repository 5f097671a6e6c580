"""The inspection commands of the ``inceptionism`` CLI: layers, models, visualize, gallery,
classes, activations, info."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from .cli import DebugOpt, QuietOpt, _errors, _progress, _run_with_progress, app, out
from .config import DreamConfig
from .errors import ConfigError, ImageError


@app.command()
def layers(
    model: str = typer.Option("efficientnet-lite0", help="Network to list."),
    filter: Optional[str] = typer.Option(None, "--filter", help="Only layers whose name contains this."),
    debug: bool = DebugOpt,
) -> None:
    """List every layer you can dream on, in data-flow order, with channels and size at 224 px."""
    with _errors(debug):
        from .models import get_spec, load_model
        from .taps import list_layers

        spec = get_spec(model)
        loaded = load_model(model, device="cpu", pretrained=False)
        table = Table(title=f"{spec.name}: dreamable layers (224x224 input)", show_lines=False)
        for column in ("layer", "channels", "size", "kind"):
            table.add_column(column, justify="right" if column in ("channels", "size") else "left")
        defaults = set(spec.default_layers.split(","))
        for info in list_layers(loaded):
            if filter and filter not in info.name:
                continue
            name = f"{info.name} *" if info.name in defaults else info.name
            table.add_row(name, str(info.channels), f"{info.height}x{info.width}", info.kind)
        out.print(table)
        out.print(f"* default dream layers; use them as --layers {spec.default_layers}")


@app.command()
def visualize(
    layer: str = typer.Argument(..., help="Layer, e.g. blocks.4.1.bn1, or 'class' for classes."),
    targets: str = typer.Argument(..., help="Channel(s): 7, 3,7,12 or all; with 'class': names or indices."),
    output: Path = typer.Option(..., "--output", "-o", help="Output image; several targets add -N to its name."),
    model: str = typer.Option("efficientnet-lite0", help="Network."),
    param: str = typer.Option("pixel", help="pixel (octaves, optional --lapnorm) or fft (Fourier, decorrelated colour, transformation robustness)."),
    lapnorm: bool = typer.Option(False, "--lapnorm", help="Laplacian-pyramid normalization (pixel only)."),
    size: int = typer.Option(224, help="Side of the square picture."),
    octaves: int = typer.Option(3, help="Octaves (pixel)."),
    steps: Optional[int] = typer.Option(None, help="Steps per octave (pixel, default 20) or in all (fft, default 128)."),
    step_size: float = typer.Option(0.01, help="Step size (pixel)."),
    batch: int = typer.Option(8, help="Targets per forward/backward pass (fft)."),
    seed: Optional[int] = typer.Option(None, help="Random seed."),
    device: str = typer.Option("auto", help="auto, cpu, cuda, cuda:N or mps."),
    quiet: bool = QuietOpt,
    debug: bool = DebugOpt,
) -> None:
    """Show what channels (or classes) respond to, grown from noise."""
    with _errors(debug):
        from .device import resolve_device
        from .featurevis import parse_targets
        from .images import check_output_path, save_image
        from .models import load_model

        check_output_path(output)
        if param not in ("pixel", "fft"):
            raise ConfigError(f"param {param!r} is not one of pixel, fft")
        if lapnorm and param != "pixel":
            raise ConfigError("--lapnorm works with --param pixel only")
        loaded = load_model(model, device=resolve_device(device))
        chosen = parse_targets(targets, layer, loaded)
        names = [output] if len(chosen) == 1 else [output.with_name(f"{output.stem}-{t}{output.suffix}") for t in chosen]
        args = dict(size=size, octaves=octaves, steps=steps, step_size=step_size, seed=seed, batch=batch, lapnorm=lapnorm)
        for target, (image, meta, score) in zip(chosen, _visualize_all(loaded, layer, chosen, param, quiet, **args)):
            path = names[chosen.index(target)]
            save_image(image, path, meta)
            out.print(f"wrote {path}; {layer} {target}: {'logit' if layer == 'class' else 'mean activation'} {score:.3f}")


def _visualize_all(loaded, layer: str, chosen: list[int], param: str, quiet: bool, **args: Any):
    """Yield (image, metadata, score) for each target, with a progress bar."""
    from .api import render, visualize_channel
    from .featurevis import FeatureVisConfig, visualize_features

    seed = args["seed"] if args["seed"] is not None else 0
    if param == "fft":
        cfg = FeatureVisConfig(size=args["size"], steps=args["steps"] or 128, seed=seed)
        batches = -(-len(chosen) // args["batch"])
        with _progress(quiet) as progress:
            task = progress.add_task(f"{len(chosen)} target(s)", total=batches * cfg.steps, step="-", score="-")
            on_step = lambda step, values: progress.update(  # noqa: E731
                task, advance=1, step=f"{step}/{cfg.steps}", score=f"{float(values.mean()):.3f}"
            )
            results = visualize_features(loaded, layer, chosen, cfg, batch=args["batch"], on_step=on_step)
        for vis in results:
            yield vis.image, vis.metadata, vis.score
        return
    steps = args["steps"] or 20
    for target in chosen:
        probe = DreamConfig(octaves=args["octaves"], steps=steps, preset=None)
        if layer == "class":
            run = lambda callbacks: render(  # noqa: E731
                "noise", model=loaded, preset=None, target_class=str(target), size=(args["size"], args["size"]),
                octaves=args["octaves"], steps=steps, step_size=args["step_size"], seed=seed, lapnorm=args["lapnorm"],
                callbacks=callbacks,
            )
        else:
            run = lambda callbacks: visualize_channel(  # noqa: E731
                layer, target, model=loaded.spec.name, lapnorm=args["lapnorm"], size=args["size"],
                octaves=args["octaves"], steps=steps, step_size=args["step_size"], seed=seed,
                device=str(loaded.device), callbacks=callbacks,
            )
        result = _run_with_progress(run, probe, quiet)
        yield result.image, result.metadata, result.score_end


@app.command()
def gallery(
    layer: str = typer.Argument(..., help="Layer whose channels to show."),
    output: Path = typer.Option(..., "--output", "-o", help="Directory for the thumbnails and index.html."),
    model: str = typer.Option("efficientnet-lite0", help="Network."),
    size: int = typer.Option(128, help="Thumbnail side."),
    steps: int = typer.Option(64, help="Optimizer steps per thumbnail."),
    batch: int = typer.Option(16, help="Channels per forward/backward pass."),
    seed: int = typer.Option(0, help="Random seed."),
    device: str = typer.Option("auto", help="auto, cpu, cuda, cuda:N or mps."),
    quiet: bool = QuietOpt,
    debug: bool = DebugOpt,
) -> None:
    """A thumbnail of every channel of a layer and an index.html grid of them (cached)."""
    with _errors(debug):
        from .device import resolve_device
        from .featurevis import FeatureVisConfig
        from .gallery import build_gallery, cached_gallery
        from .models import get_spec, load_model
        from .models.weights import sha256_file
        from .taps import layer_info

        started = time.perf_counter()
        cfg = FeatureVisConfig(size=size, steps=steps, seed=seed)
        spec = get_spec(model)
        if spec.weights_file is not None:  # all cached: no need to load the network at all
            result = cached_gallery(spec.name, sha256_file(spec.weights_file()), layer, output, cfg)
            if result is not None:
                out.print(f"wrote {result.index} ({result.channels} channels from cache) in {time.perf_counter() - started:.1f} s")
                return
        loaded = load_model(model, device=resolve_device(device))
        channels = layer_info(loaded, layer).channels
        with _progress(quiet) as progress:
            task = progress.add_task(f"{layer}: {channels} channels", total=None, step="-", score="-")
            on_step = lambda step, values: progress.update(task, step=f"{step}/{steps}")  # noqa: E731
            result = build_gallery(loaded, layer, output, cfg, batch=batch, on_step=on_step)
        took = time.perf_counter() - started
        out.print(
            f"wrote {result.index} ({result.channels} channels, {result.rendered} rendered, "
            f"{result.channels - result.rendered} from cache) in {took:.1f} s"
        )


models_app = typer.Typer(help="List networks, or fetch their weights.", no_args_is_help=False)
app.add_typer(models_app, name="models")


@models_app.command("fetch")
def models_fetch(
    name: str = typer.Argument(..., help="Network, e.g. torchvision/googlenet or inception5h."),
    url: Optional[str] = typer.Option(None, help="Download from this address instead of the official one."),
    sha256: Optional[str] = typer.Option(None, help="Expected SHA-256 (hex, or a prefix of it)."),
    quiet: bool = QuietOpt,
    debug: bool = DebugOpt,
) -> None:
    """Download a network's weights into the cache, verified against a pinned SHA-256; resumes."""
    with _errors(debug):
        from .models import get_spec
        from .models.fetch import fetch

        get_spec(name)
        with _progress(quiet) as progress:
            tasks: list = []  # the bar appears with the first bytes, so an early error stays one line

            def on_progress(done: int, total: int | None) -> None:
                if not tasks:
                    tasks.append(progress.add_task(f"fetch {name}", total=total, step="-", score="-"))
                progress.update(tasks[0], completed=done, total=total, step=f"{done / 1e6:.1f} MB")

            path = fetch(name, url=url, sha256=sha256, on_progress=on_progress)
        out.print(f"weights for {name} are in {path}")


@models_app.callback(invoke_without_command=True)
def models(ctx: typer.Context, debug: bool = DebugOpt) -> None:
    """List the networks: source of their weights, whether the weights are here, default layers."""
    if ctx.invoked_subcommand is not None:
        return
    with _errors(debug):
        from .models import get_spec, list_models

        table = Table(title="networks (any timm/ARCH or torchvision/ARCH works too)")
        for column in ("name", "weights", "here", "size", "dream layers"):
            table.add_column(column)
        for name in list_models():
            spec = get_spec(name)
            here, size = _weights_presence(spec)
            layers = spec.default_layers or "chosen by depth"
            table.add_row(name, spec.weights_source, here, size, layers)
        out.print(table)


def _weights_presence(spec) -> tuple[str, str]:
    """('yes'/'no', file size) for a spec's weights, without loading the network."""
    from .models import weights_path

    path = weights_path(spec)
    if path is None:
        return "no", "-"
    return "yes", f"{path.stat().st_size / 1e6:.0f} MB"


@app.command()
def classes(
    search: Optional[str] = typer.Argument(None, help="Only classes whose name contains this."),
    model: str = typer.Option("efficientnet-lite0", help="Network."),
    debug: bool = DebugOpt,
) -> None:
    """List the class names a model knows (for --class and --avoid-class)."""
    with _errors(debug):
        from .labels import GROUPS, class_names
        from .models import get_spec

        spec = get_spec(model)
        if spec.labels is None:
            raise ConfigError(f"model {model} has no class labels")
        for index, name in enumerate(class_names(spec.labels)):
            if not search or search.lower() in name.lower():
                out.print(f"{index:4d}  {name}")
        if not search:
            out.print(f"groups for --avoid-class: {', '.join(GROUPS)}")


@app.command()
def activations(
    input: Path = typer.Argument(..., help="Photo."),
    layer: str = typer.Option(..., "--layer", help="Layer to show."),
    output: Path = typer.Option(..., "--output", "-o", help="Output grid image."),
    channels: Optional[str] = typer.Option(None, help="Comma list of channels (default: the strongest)."),
    top: int = typer.Option(16, help="How many of the strongest channels to show."),
    model: str = typer.Option("efficientnet-lite0", help="Network."),
    max_size: int = typer.Option(512, help="Shrink the photo so its longer side is at most this."),
    device: str = typer.Option("auto", help="auto, cpu, cuda, cuda:N or mps."),
    debug: bool = DebugOpt,
) -> None:
    """Write a grid of a layer's feature maps for a photo."""
    with _errors(debug):
        from .activations import activation_grid
        from .api import fit_max_size
        from .device import resolve_device
        from .images import check_output_path, load_image, save_image, to_tensor
        from .models import load_model

        check_output_path(output, inputs=(input,))
        chosen = _parse_channels(channels)
        picture = load_image(input)
        loaded = load_model(model, device=resolve_device(device))
        x = fit_max_size(to_tensor(picture, loaded.device), max_size)
        grid = activation_grid(loaded, x, layer, channels=chosen, top=top)
        save_image(grid, output, {"inceptionism_activations": {"layer": layer, "model": model, "input": input.name}})
        out.print(f"wrote {output}")


def _parse_channels(text: Optional[str]) -> Optional[list[int]]:
    if not text:
        return None
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"channels {text!r} must be a comma list of whole numbers, e.g. 3,7,12") from None


@app.command()
def info(file: Path = typer.Argument(..., help="An image written by inceptionism."), debug: bool = DebugOpt) -> None:
    """Print the parameters embedded in an output image."""
    with _errors(debug):
        from .images import read_metadata

        if not file.is_file():
            raise ImageError(f"{str(file)!r} does not exist or is not a file")
        data = read_metadata(file)
        if data is None:
            raise ImageError(f"{str(file)!r} holds no inceptionism parameters")
        out.print_json(json.dumps(data))
