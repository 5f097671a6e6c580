"""The inspection commands: layers, models, visualize, gallery, classes, activations, info."""

from __future__ import annotations

import dataclasses
import json
import re
import time
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from ..errors import ConfigError, ImageError
from ..command_config import VISUALIZE_RECIPE as RECIPE_KEY
from ..command_config import ActivationsConfig, GalleryConfig, InspectConfig, VisualizeConfig
from .common import DebugOpt, QuietOpt, app, errors, load_network, out, progress_bar, run_with_progress
from .flags import with_config, written_number
from .tables import JsonOpt, folding_table, show_records


@app.command()
@with_config("net", InspectConfig, only=("model",))
def layers(
    filter: Optional[str] = typer.Option(None, "--filter", help="Only layers whose name contains this."),
    as_json: bool = JsonOpt,
    debug: bool = DebugOpt,
    *,
    net: InspectConfig,
) -> None:
    """List every layer you can dream on, in data-flow order, with channels and size at 224 px.

    In a pipe: tab-separated lines with a header; --json for programs."""
    with errors(debug):
        from ..models import get_spec, load_model
        from ..taps import auto_layers, list_layers

        spec = get_spec(net.model)
        loaded = load_model(net.model, device="cpu", pretrained=False)
        chosen = spec.default_layers or auto_layers(loaded)
        defaults = set(chosen.split(","))
        records = [{"index": index, "layer": info.name, "channels": info.channels, "height": info.height,
                    "width": info.width, "kind": info.kind, "default": info.name in defaults}
                   for index, info in enumerate(list_layers(loaded)) if not filter or filter in info.name]

        def table() -> Table:
            shown = folding_table(f"{spec.name}: dreamable layers (224x224 input)", [
                ("#", "right"), ("layer", "left"), ("channels", "right"), ("size", "right"), ("kind", "left")])
            for r in records:
                name = f"{r['layer']} *" if r["default"] else r["layer"]
                shown.add_row(str(r["index"]), name, str(r["channels"]), f"{r['height']}x{r['width']}", r["kind"])
            return shown

        show_records(_LAYER_KEYS, records, as_json=as_json, table=table, notes=[
            f"* default dream layers; use them as --layers {chosen}; --layers also takes the numbers, e.g. 12 or 40-44"])


_LAYER_KEYS = ("index", "layer", "channels", "height", "width", "kind", "default")


@app.command()
@with_config("net", InspectConfig, file_key=RECIPE_KEY)
@with_config("vis", VisualizeConfig, file_key=RECIPE_KEY)
def visualize(
    layer: str = typer.Argument(..., help="Layer, e.g. blocks.4.1.bn1, or 'class' for classes."),
    targets: str = typer.Argument(..., help="What to show, each the term LAYER:TARGET of the --layers grammar: "
                                  "channel(s) 7, 3,7,12 or all, combinations 3+7 or 3-7; with 'class': names or indices."),
    output: Path = typer.Option(..., "--output", "-o", help="Output image; several targets add -N to its name."),
    config: Optional[Path] = typer.Option(None, "--config", help="JSON parameters (as --save-config writes them), "
                                          "or a picture visualize wrote; flags override it."),
    save_config: Optional[Path] = typer.Option(None, "--save-config", help="Write the parameters used to this "
                                               "JSON file."),
    quiet: bool = QuietOpt,
    debug: bool = DebugOpt,
    *,
    net: InspectConfig,
    vis: VisualizeConfig,
) -> None:
    """Show what channels, combinations or classes respond to, grown from noise."""
    with errors(debug):
        from ..config import draw_seed, load_config_mapping
        from ..featurevis import parse_transforms, target_text
        from ..images import OUTPUT_FORMATS, save_image
        from ..objectives import kind_of, term_text
        from ..outputs import check_output_path, check_outputs, write_atomic
        from ..steering import unit_terms
        from ..unit_pictures import visualize_targets as grow

        if config is not None:  # what the groups did not take is no parameter of this command
            known = {f.name for group in (InspectConfig, VisualizeConfig) for f in dataclasses.fields(group)} | {"terms"}
            unknown = sorted(set(load_config_mapping(config, key=RECIPE_KEY)) - known)
            if unknown:
                raise ConfigError(f"config {str(config)!r} holds {', '.join(unknown)}: not parameters of visualize "
                                  f"(they are {', '.join(sorted(known))})", field="config")
        inputs = tuple(f for f in (vis.photo, net.weights_file(), config) if f is not None)
        check_output_path(output, inputs=inputs, formats=OUTPUT_FORMATS)
        parse_transforms(vis.transforms)  # a bad list is an error before the network loads
        loaded = load_network(net)
        chosen = unit_terms(loaded, layer, targets)
        vis = vis if vis.seed is not None else dataclasses.replace(vis, seed=draw_seed())
        names = _visualize_names(output, [target_text(t) for t in chosen], vis.diversity)
        # every file it will write (the -N names, the importance maps, the config), checked before any picture grows
        check_outputs([p for name in names for p in (name, *([_importance_name(name)] if vis.importance else []))],
                      inputs=inputs, formats=OUTPUT_FORMATS)
        if save_config is not None:
            check_outputs([save_config], inputs=(*inputs, *names), formats=(".json",))
        if vis.photo is not None:  # one picture per target, grown from the photo
            total = vis.steps_or_default() * len(chosen)
        elif vis.param == "pixel":  # one dream per target
            total = vis.octaves * vis.steps_or_default() * len(chosen)
        else:  # the targets go through the network in batches
            total = -(-len(chosen) // max(1, vis.batch // vis.diversity)) * vis.steps_or_default()
        shown = run_with_progress(lambda callbacks: list(grow(loaded, chosen, vis, callbacks=callbacks)), total, quiet)
        for path, result in zip(names, shown):
            # the library's recipe (visualize's parameters, the seed, the terms) with the network as named here
            result.metadata[RECIPE_KEY] = {**result.metadata[RECIPE_KEY], **dataclasses.asdict(net)}
            save_image(result.image, path, result.metadata)
            out.print(f"wrote {path}; {term_text(result.term)}: {kind_of(result.term).score} {result.score:.3f}, "
                      f"seed {vis.seed}" + _judged(result))
            if vis.importance and result.importance is not None:
                from ..featurevis import importance_image

                beside = _importance_name(path)
                save_image(importance_image(result.importance), beside, result.metadata)
                out.print(f"wrote {beside}: where the objective looked (brighter: more)")
        if save_config is not None:
            recipe = shown[0].metadata[RECIPE_KEY]  # --config PICTURE or this file grows them again
            write_atomic(save_config, lambda fh: fh.write((json.dumps(recipe, indent=2) + "\n").encode()))
            out.print(f"wrote {save_config}: the parameters (--config {save_config} with the same LAYER TARGETS "
                      "grows the same pictures)")


def _visualize_names(output: Path, targets: list, pictures: int) -> list[Path]:
    """One output name per picture: OUTPUT for one, else OUTPUT-TARGET[-K] (K: the picture of
    its target, with several pictures per target)."""
    if len(targets) == 1 and pictures == 1:
        return [output]
    # a target's text in a file name: what no file system takes (a term's colons, a class's spaces) as -
    safe = [re.sub(r"[^\w+.-]+", "-", str(t)).strip("-") or "target" for t in targets]
    return [output.with_name(f"{output.stem}-{t}{f'-{k}' if pictures > 1 else ''}{output.suffix}")
            for t in safe for k in range(pictures)]


def _importance_name(picture: Path) -> Path:
    return picture.with_name(f"{picture.stem}-importance.png")


def _judged(result) -> str:
    """The judge's verdict on a picture (``visualize --judge``), as the command line says it."""
    verdict = result.metadata.get("judged")
    if verdict is None:
        return ""
    return (f"; {verdict['network']} sees {verdict['first']!r} first, p({result.target}) "
            f"{verdict['probability']:.2f}, top-5 {'yes' if verdict['top5'] else 'no'}")


@app.command()
@with_config("net", InspectConfig)
def examples(
    layer: str = typer.Argument(..., help="Layer, e.g. blocks.4.1.bn1."),
    channels: str = typer.Argument(..., help="Channel(s): 7 or 3,7,12."),
    photos: Path = typer.Argument(..., help="Folder of photos (searched below too)."),
    output: Path = typer.Option(..., "--output", "-o", help="Output sheet; several channels add -N to its name."),
    top: int = typer.Option(9, "--top", parser=written_number(int), metavar="INTEGER",
                            help="Photos per channel, 1 to 100."),
    whole: bool = typer.Option(False, "--whole", help="Show whole photos, not the crop around the strongest place."),
    quiet: bool = QuietOpt,
    debug: bool = DebugOpt,
    *,
    net: InspectConfig,
) -> None:
    """The photos of a folder that excite channels most (dataset examples), as a sheet each."""
    with errors(debug):
        from ..featurevis import examples_sheet, photo_files, scan_photos
        from ..images import OUTPUT_FORMATS, save_image
        from ..outputs import check_output_path, check_outputs, check_outside

        inputs = tuple(f for f in (net.weights_file(),) if f is not None)
        if not 1 <= top <= 100:
            raise ConfigError(f"top must be from 1 to 100, not {top}", field="top")
        check_output_path(output, inputs=inputs, formats=OUTPUT_FORMATS)
        photo_files(photos)  # a folder of pictures, before the network loads
        check_outside(output, photos)
        loaded = load_network(net)
        chosen = parse_channel_list(channels, layer, loaded)
        names = check_outputs(_visualize_names(output, chosen, 1), inputs=inputs, formats=OUTPUT_FORMATS)
        for name in names:  # the -N names of several channels too
            check_outside(name, photos)
        with progress_bar(quiet) as progress:
            task = progress.add_task("photos", total=None, step="-", score="-")
            scan = scan_photos(loaded, layer, photos, chosen, top=top, on_photo=lambda done, total: progress.update(
                task, completed=done, total=total, step=f"{done}/{total}"))
        for line in scan.skipped:
            out.print(f"skipped {line}")
        for channel, path in zip(chosen, names):
            found = scan.examples[channel]
            save_image(examples_sheet(found, 160, crops=not whole), path,
                       {"examples": {"layer": layer, "channel": channel, "photos": [str(e.path) for e in found],
                                     "scores": [round(e.score, 4) for e in found]}})
            best = ", ".join(f"{e.path.name} {e.score:.2f}" for e in found[:3])
            out.print(f"wrote {path}; {layer}:{channel} over {len(scan.paths)} photos, strongest: {best}")


def parse_channel_list(text: str, layer: str, model) -> list[int]:
    """Plain channel numbers of ``layer`` (no combinations, no classes)."""
    from ..objectives import kind_of, term_text
    from ..steering import unit_terms

    chosen = unit_terms(model, layer, text, field="channels")
    refused = next((t for t in chosen if not kind_of(t).reads_layer or t.channel is None), None)
    if refused is not None:
        raise ConfigError(f"examples takes plain channel numbers of a layer, not {term_text(refused)}",
                          field="channels")
    return [int(t.channel) for t in chosen]  # type: ignore[arg-type]


@app.command()
@with_config("net", InspectConfig)
@with_config("gal", GalleryConfig)
def gallery(
    layer: str = typer.Argument(..., help="Layer whose channels to show."),
    output: Path = typer.Option(..., "--output", "-o", help="Directory for the thumbnails and index.html."),
    quiet: bool = QuietOpt,
    debug: bool = DebugOpt,
    *,
    net: InspectConfig,
    gal: GalleryConfig,
) -> None:
    """A thumbnail of every channel of a layer and an index.html grid of them (cached)."""
    with errors(debug):
        from ..config import DreamConfig
        from ..gallery import build_gallery, cached_gallery, plan_gallery
        from ..outputs import check_output_folder
        from ..runners import runner_for
        from ..taps import layer_info

        started = time.perf_counter()
        check_output_folder(output)  # before any work
        if gal.examples is not None:
            from ..featurevis import photo_files
            from ..outputs import check_outside

            photo_files(gal.examples)
            check_outside(output, gal.examples)  # its pictures would be read as photos next time
        plan = plan_gallery(net.model, net.weights, layer, size=gal.size, steps=gal.steps, seed=gal.seed)
        cfg = plan.cfg
        if gal.concepts is not None:  # a folder without them: one line, no work
            from ..gallery import concepts_of
            from ..outputs import check_outside

            check_outside(output, gal.concepts, noun="concepts folder")  # its pages are inputs here
            if plan.weights_sha256 is not None:  # random weights: checked once the network is loaded
                concepts_of(gal.concepts, plan.model, plan.weights_sha256, layer)
        if plan.weights_sha256 is not None and gal.examples is None:  # all cached: no need to load the network
            result = cached_gallery(plan.model, plan.weights_sha256, layer, output, cfg)
            if result is not None:
                took = time.perf_counter() - started
                shown = _with_concepts(gal, output, plan.model, plan.weights_sha256, layer, result.channels, cfg)
                out.print(f"wrote {result.index} ({result.channels} channels from cache{shown}, seed {cfg.seed}) "
                          f"in {took:.1f} s")
                return
        loaded = load_network(net)
        channels = layer_info(loaded, layer).channels
        if gal.concepts is not None:
            concepts_of(gal.concepts, loaded.spec.name, loaded.weights_sha256, layer)
        network = DreamConfig(model=net.model, device=net.device, weights=net.weights)
        with runner_for(gal.cluster, warm=network) as runner:  # connected before the progress bar starts
            with progress_bar(quiet) as progress:
                task = progress.add_task(f"{layer}: {channels} channels", total=None, step="-", score="-")
                on_step = lambda step, values: progress.update(task, step=f"{step}/{gal.steps}")  # noqa: E731
                result = build_gallery(loaded, layer, output, cfg, batch=gal.batch, on_step=on_step, runner=runner,
                                       network=network)
                if gal.examples is not None:
                    from ..gallery import add_examples

                    progress.update(task, description=f"{layer}: dataset examples")
                    photos = add_examples(loaded, layer, output, gal.examples, cfg, on_photo=lambda done, total:
                                          progress.update(task, step=f"photo {done}/{total}"))
                    out.print(f"dataset examples from {photos} photos in {gal.examples}")
        shown = _with_concepts(gal, output, loaded.spec.name, loaded.weights_sha256, layer, result.channels, cfg)
        took = time.perf_counter() - started
        out.print(
            f"wrote {result.index} ({result.channels} channels, {result.rendered} rendered, "
            f"{result.channels - result.rendered} from cache{shown}, seed {cfg.seed}) in {took:.1f} s"
        )


def _with_concepts(gal: GalleryConfig, output: Path, model: str, weights: str | None, layer: str, channels: int,
                   cfg) -> str:
    """The layer's concepts added to a written gallery (``--concepts``), as the summary says it."""
    if gal.concepts is None:
        return ""
    from ..gallery import add_concepts

    count = add_concepts(output, model, weights, layer, gal.concepts, channels, cfg, examples=gal.examples is not None)
    return f", {count} concepts"


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
    with errors(debug):
        from ..models import get_spec
        from ..models.fetch import fetch

        spec = get_spec(name)
        with progress_bar(quiet) as progress:
            tasks: list = []  # the bar appears with the first bytes, so an early error stays one line

            def on_progress(done: int, total: int | None) -> None:
                if not tasks:
                    tasks.append(progress.add_task(f"fetch {name}", total=total, step="-", score="-"))
                progress.update(tasks[0], completed=done, total=total, step=f"{done / 1e6:.1f} MB")

            path = fetch(spec, url=url, sha256=sha256, on_progress=on_progress)
        out.print(f"weights for {name} are in {path}")


@models_app.callback(invoke_without_command=True)
def models(ctx: typer.Context, as_json: bool = JsonOpt, debug: bool = DebugOpt) -> None:
    """List the networks: source of their weights, whether the weights are here, default layers.

    In a pipe: tab-separated lines with a header; --json for programs."""
    if ctx.invoked_subcommand is not None:
        return
    with errors(debug):
        from ..models import describe, list_models

        records = []
        for name in list_models():  # described without building a network or importing torch
            listed = describe(name)
            path = listed.weights
            records.append({"name": name, "weights": listed.weights_source, "here": path is not None,
                            "megabytes": round(path.stat().st_size / 1e6) if path is not None else None,
                            "dream_layers": listed.dream_layers or None})

        def table() -> Table:
            shown = folding_table("networks (any timm/ARCH or torchvision/ARCH works too)", [
                ("name", "left"), ("weights", "left"), ("here", "left"), ("size", "right"), ("dream layers", "left")])
            for r in records:
                size = f"{r['megabytes']} MB" if r["here"] else "-"
                shown.add_row(r["name"], r["weights"], "yes" if r["here"] else "no", size,
                              r["dream_layers"] or "chosen by depth")
            return shown

        show_records(("name", "weights", "here", "megabytes", "dream_layers"), records, as_json=as_json, table=table)


@app.command()
@with_config("net", InspectConfig, only=("model", "weights"))
def classes(
    search: Optional[str] = typer.Argument(None, help="Only classes whose name contains this."),
    as_json: bool = JsonOpt,
    debug: bool = DebugOpt,
    *,
    net: InspectConfig,
) -> None:
    """List the class names a model knows (for --class and --avoid-class).

    In a pipe: tab-separated lines with a header; --json for programs."""
    with errors(debug):
        from ..labels import GROUPS, class_names
        from ..models import spec_for

        spec = spec_for(net.model, net.weights)
        if spec.labels is None:
            raise ConfigError(f"model {net.model} has no class labels", field="model")
        records = [{"index": index, "name": name} for index, name in enumerate(class_names(spec.labels))
                   if not search or search.lower() in name.lower()]

        def table() -> Table:
            shown = folding_table(f"{spec.name}: classes", [("#", "right"), ("name", "left")])
            for r in records:
                shown.add_row(str(r["index"]), r["name"])
            return shown

        groups = [f"groups for --avoid-class: {', '.join(GROUPS)}"] if not search and spec.labels == "imagenet-1k" else []
        show_records(("index", "name"), records, as_json=as_json, table=table, notes=groups)


@app.command()
@with_config("net", InspectConfig)
@with_config("act", ActivationsConfig)
def activations(
    input: Path = typer.Argument(..., help="Photo."),
    layer: str = typer.Option(..., "--layer", help="Layer to show."),
    output: Path = typer.Option(..., "--output", "-o", help="Output grid image."),
    debug: bool = DebugOpt,
    *,
    net: InspectConfig,
    act: ActivationsConfig,
) -> None:
    """Write a grid of a layer's feature maps for a photo."""
    with errors(debug):
        from ..activations import activation_grid
        from ..api import fit_max_size
        from ..images import OUTPUT_FORMATS, load_image, save_image, to_tensor
        from ..outputs import check_output_path

        check_output_path(output, inputs=(input,), formats=OUTPUT_FORMATS)
        chosen = _parse_channels(act.channels)
        picture = load_image(input)
        loaded = load_network(net)
        x = fit_max_size(to_tensor(picture, loaded.device), act.max_size)
        grid = activation_grid(loaded, x, layer, channels=chosen, top=act.top)
        save_image(grid, output, {"inceptionism_activations": {"layer": layer, "model": net.model, "input": input.name}})
        out.print(f"wrote {output}")


def _parse_channels(text: Optional[str]) -> Optional[list[int]]:
    if not text:
        return None
    from ..written import whole

    try:
        return [whole(part.strip()) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"channels {text!r} must be a comma list of whole numbers, e.g. 3,7,12", field="channels") from None


@app.command()
def info(file: Path = typer.Argument(..., help="An image or animation written by inceptionism."),
         debug: bool = DebugOpt) -> None:
    """Print the parameters embedded in an output image or animation."""
    with errors(debug):
        from ..images import read_metadata
        from ..motion.videoio import VIDEO_FORMATS, read_recipe

        if not file.is_file():
            raise ImageError(f"{str(file)!r} does not exist or is not a file")
        video = file.suffix.lower() in VIDEO_FORMATS
        data = read_metadata(file) if file.suffix.lower() not in (".mp4", ".webm") else None
        if data is None and video:
            data = read_recipe(file)
        if data is None:
            raise ImageError(f"{str(file)!r} holds no inceptionism parameters")
        out.print_json(json.dumps(data))
