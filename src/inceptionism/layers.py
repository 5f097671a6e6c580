"""The package's layers, top to bottom: the one declaration of which way imports run.

A module imports only from its own layer and the layers below it, and no imports form a
circle. ``tests/test_architecture.py`` holds the code to this (every import, those inside
functions too), and the map in ``docs/architecture.md`` is generated from it
(``scripts/make_architecture_map.py``; the same test keeps the map current). A new module
gets its line here first.

Nothing imports this module at run time.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Layer", "LAYERS", "layer_of"]


@dataclass(frozen=True)
class Layer:
    name: str
    modules: tuple[str, ...]  # module or package names under inceptionism/ ("cli" is cli/ and all in it)
    lines: tuple[str, ...]  # what the map says of them


LAYERS = (
    Layer("front doors", ("cli", "service", "comfyui", "__init__", "__main__"), (
        "cli/  (typer app: common, flags (the declarations as flags), dream, inspection, concepts,",
        "      motion, training, serve)",
        "service/  (FastAPI studio: app wires; routes/ one router per resource; deps: the app's",
        "          state as dependencies; settings, security guard, job store, workers, inspector,",
        "          drawings: pictures drawn off the request threads, bounded, cancelled; lock: one",
        "          studio per data directory; live: /api/live sessions, frames in and dreams out",
        "          over a WebSocket; background, static page with its Live view)",
        "comfyui/  (ComfyUI's nodes: widgets from form(\"comfyui\"), host: ComfyUI's progress bar and",
        "          Cancel through the callbacks, nodes: network loader, dream, visualize, zoom, video,",
        "          layers; integrations/comfyui/ is the pack that imports them)",
        "__init__  (the Python door: lazy re-exports, no torch on import)",
    )),
    Layer("door kit", ("doors",), (
        "doors/  what any front door shares, no web framework: form(door) (the parameters a door",
        "        offers, for its widgets), limits (uploads, request checks, ranges, the cost bound)",
    )),
    Layer("runners", ("runners",), (
        "runners.py  runner_for(address): LocalRunner (this process) or the cluster's RayRunner,",
        "            one interface: check, dream_files, dream_video, render_channels, dream_job",
    )),
    Layer("cluster", ("cluster",), (
        "cluster/  (only with --cluster; the only place that imports Ray)",
        "pool.py (Cluster: connect or start Ray; DreamerPool: actors, lending, retries)",
        "worker.py (the Dreamer actor) · runner.py (RayRunner) · video.py (segments)",
    )),
    Layer("workflows", ("motion", "unit_pictures", "concepts", "concept_report", "activations", "plots", "training", "jobs",
                        "gallery"), (
        "motion/ (zoom and loop, video, live, batch)   unit_pictures.py (visualize: a picture of each",
        "term, a channel, a combination or a class, by pixels or Fourier, its recipe, its judge)",
        "gallery.py (channel thumbnails, cached)   jobs.py (a studio job's per-job function)",
        "activations.py (activation grids)   plots.py (--plot figure, snapshots, progress GIF)",
        "training/ (train: data.py the image folder, loop.py stages/epochs/checkpoint, report.py)",
        "concepts.py (a layer's concepts: learn a dictionary, exemplars, class importance, causal drop,",
        "sanity, pictures)   concept_report.py (concepts(): the one call; exemplar sheets, concepts.json, index.html)",
    )),
    Layer("library door", ("api", "notebook"), (
        "api.py  render · dream · resolve_config · check_config · load_model_for · resolve_machine_choices",
        "notebook.py  progress=True: a tqdm.auto bar, a live preview in Jupyter; a Dream shows itself",
    )),
    Layer("steering", ("steering",), (
        "steering.py  the objective from a config: layers, neurons, classes, guides, mask",
    )),
    Layer("engine", ("engine", "featurevis", "precision"), (
        "engine/  ascent (octaves × steps), octave plan, tiled gradients, filters",
        "featurevis/  render (parameterization x transforms x objective x optimizer x steps),",
        "             param (pixels, fft, alpha, maco), transforms, units (channels, combinations,",
        "             classes, diversity), photos (accentuate, caricature), examples, scores,",
        "             dictionary_learning (activations sampled in bounded memory; NMF, a TopK SAE)",
        "precision.py  --precision auto: a fixed rule per hardware class, never a timing",
    )),
    Layer("network", ("taps", "models"), (
        "taps.py  run to the deepest requested layer; hooks always removed; every activation a map",
        "         (B, C, H, W): token grids and channels-last layers turned round (layouts measured);",
        "         edited: the whole network with a change added to a layer's map; probe_means",
        "models/  registry and spec (ModelSpec: preprocessing, layers, download source, bf16_faster; its",
        "         Shape: input sizes, tokens, min size, measured on first use), registered (Lite0/1/2 and",
        "         inception5h by name): no torch, so listings import none; loading (load_model), loaded",
        "         (LoadedModel), efficientnet (the default Lite0/1/2, without timm), families (timm/…,",
        "         torchvision/…: any architecture; the classics' listing table), inception5h, graphdef,",
        "         weights, fetch, fold, fuse (a conv and its ReLU6 in one call), same (TF \"same\"",
        "         padding), trained (files of `train`), uninit, ensemble (`A+B`: several networks as",
        "         one, each at its own input size; their layers under net0., net1.)",
    )),
    Layer("parameters", ("command_config", "config", "values", "declare"), (
        "command_config.py  every command's parameters but the dream's: zoom, video, live, batch,",
        "                   visualize, gallery, activations, serve, train",
        "config.py  dream parameters by concern (Ascent, Steering, Run → DreamConfig), presets, layered()",
        "values.py  written forms of values: LO:HI, WxH, MODE:K, lists; their JSON schemas",
        "declare.py  the declaration machinery: param(), declared(), check_value(), the front doors",
    )),
    Layer("ground", ("objectives", "dictionaries", "pages", "images", "formats", "outputs", "labels", "device", "runtime",
                     "machine", "imports", "errors", "paths", "layers", "written"), (
        "objectives/ (terms, batch terms, the grammar and its registry of term kinds) ·",
        "dictionaries.py (a concept dictionary's file: atoms, encoder, recipe; read with every check) ·",
        "pages.py (the static HTML pages' head and look) ·",
        "images.py (read, encode, metadata) · formats.py (the codec table,",
        "fit_longest_side) · outputs.py (output checks, atomic writes) · labels.py · device.py ·",
        "runtime.py (memory kept, CPU threads, gradients on) · machine.py (the CPU's model and",
        "flags) · imports.py (timm without dynamo, torch's meta kernels deferred) · errors.py ·",
        "paths.py · written.py (numbers in text: digits 0-9 only) ·",
        "layers.py (this map's declaration)",
    )),
)


def layer_of(module: str) -> int:
    """The index in :data:`LAYERS` (0 is the top) of ``module`` ("inceptionism.cli.dream");
    raises KeyError for a module no layer names."""
    parts = module.split(".")
    name = parts[1] if len(parts) > 1 else "__init__"
    for index, layer in enumerate(LAYERS):
        if name in layer.modules:
            return index
    raise KeyError(module)


def render_map() -> str:
    """The map of docs/architecture.md: each layer's name and lines, an arrow between layers."""
    blocks = []
    for layer in LAYERS:
        lines = [f"{layer.name:<14}{layer.lines[0]}", *(" " * 14 + line for line in layer.lines[1:])]
        blocks.append("\n".join(lines))
    return ("\n" + " " * 17 + "│\n").join(blocks)
