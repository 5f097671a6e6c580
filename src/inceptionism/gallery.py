"""A channel gallery: a thumbnail of every channel of a layer and an HTML grid of them.

Thumbnails are cached per model weights, layer and parameters under the cache
directory (``$INCEPTIONISM_HOME``, else ``$XDG_CACHE_HOME/inceptionism``, else
``~/.cache/inceptionism``), so a second gallery of the same layer is instant.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Protocol

from .errors import ConfigError
from .featurevis import FeatureVisConfig, chosen, visualize_features
from .objectives import LayerTerm
from .images import encode_image, side_by_side
from .outputs import make_output_dir, write_atomic
from .models.loaded import LoadedModel
from .pages import static_page
from .paths import gallery_cache_dir
from .taps import layer_info

__all__ = ["add_concepts", "concepts_of", "add_examples", "cached_seed", "build_gallery", "cached_gallery", "channel_pictures", "channel_thumbnail", "GalleryResult"]

_ALGORITHM = "render-v2"  # bump when the rendering changes, so old thumbnails are not reused


@dataclass
class GalleryResult:
    index: Path  # the index.html written
    channels: int  # thumbnails in the gallery
    rendered: int  # of them rendered now (the rest came from the cache)


def _written(cfg: FeatureVisConfig) -> dict:
    """A channel picture's settings as a cache is kept under: the transforms that run, not
    ``auto`` (should ``auto`` ever stand for another set, old pictures are not served for it)."""
    return {**asdict(cfg), "transforms": chosen(cfg.transforms, param=cfg.param)}


def _cache_dir(
    model_name: str, weights_sha256: str, layer: str, cfg: FeatureVisConfig, root: Path | None = None
) -> Path:
    key = json.dumps({"algorithm": _ALGORITHM, "weights": weights_sha256, "cfg": _written(cfg)}, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return (root or gallery_cache_dir()) / model_name / layer / digest


@dataclass(frozen=True)
class GalleryPlan:
    """What a gallery is made with, decided before any network is loaded."""

    model: str  # the network's registry name
    weights_sha256: str | None  # the weights the cache is kept under; None: random weights, never cached
    cfg: FeatureVisConfig  # the pictures' settings, the seed decided


def plan_gallery(model: str, weights: str | None, layer: str, *, size: int, steps: int, seed: int | None) -> GalleryPlan:
    """A gallery's plan: the seed given, or that of a cached gallery made with the same other
    settings, or a drawn one; the weights' hash read from their file (a door that offers
    galleries calls this, then :func:`cached_gallery`, and loads the network only when that is None)."""
    from .config import RANDOM_WEIGHTS, draw_seed
    from .models import spec_for
    from .models.weights import sha256_file

    spec = spec_for(model, weights)
    if seed is None:
        seed = cached_seed(spec.name, layer, FeatureVisConfig(size=size, steps=steps, seed=0))
    cfg = FeatureVisConfig(size=size, steps=steps, seed=seed if seed is not None else draw_seed())
    if weights is None:
        file = spec.weights_file() if spec.weights_file is not None else None
    else:  # random weights are never cached
        file = Path(weights) if weights != RANDOM_WEIGHTS else None
    return GalleryPlan(spec.name, sha256_file(file) if file is not None else None, cfg)


def cached_gallery(
    model_name: str, weights_sha256: str, layer: str, out_dir: str | Path, cfg: FeatureVisConfig
) -> GalleryResult | None:
    """Write a gallery from the cache alone, without loading the model; None if not all cached."""
    cache = _cache_dir(model_name, weights_sha256, layer, cfg)
    try:
        channels = int(json.loads((cache / "manifest.json").read_text())["channels"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not all((cache / f"ch-{c:04d}.png").is_file() for c in range(channels)):
        return None
    return _write_gallery(cache, model_name, layer, channels, out_dir, cfg, rendered=0)


def cached_seed(model_name: str, layer: str, cfg: FeatureVisConfig) -> int | None:
    """The seed of a cached gallery made with ``cfg``'s other parameters, if there is one:
    a gallery asked for without a seed reuses it rather than drawing a new one."""
    for manifest in sorted((gallery_cache_dir() / model_name / layer).glob("*/manifest.json")):
        try:
            made = json.loads(manifest.read_text())["cfg"]
            if {**made, "seed": 0} == {**_written(cfg), "seed": 0}:
                return int(made["seed"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return None


def add_examples(model: LoadedModel, layer: str, out_dir: str | Path, photos: str | Path, cfg: FeatureVisConfig, *,
                 top: int = 3, on_photo: Callable[[int, int], None] | None = None) -> int:
    """Put beside each channel of a written gallery the ``top`` photos of ``photos`` that excite
    it most (dataset examples, ``ex-NNNN.jpg``), and rewrite its page to show them; returns
    how many photos were read."""
    from .featurevis import write_layer_examples

    out_dir = Path(out_dir)
    scan = write_layer_examples(model, layer, photos, out_dir, top=top, on_photo=on_photo)
    page = _page(model.spec.name, layer, len(scan.examples), cfg, examples=True)
    write_atomic(out_dir / "index.html", lambda fh: fh.write(page.encode()))
    return len(scan.paths)


def add_concepts(out_dir: str | Path, model: str, weights_sha256: str | None, layer: str, folder: str | Path,
                 channels: int, cfg: FeatureVisConfig, *, examples: bool = False) -> int:
    """Copy the pictures of ``layer``'s concepts from ``folder`` (``inceptionism concepts``
    outputs of this network and weights) into a written gallery's ``concepts/`` and rewrite
    its page to show them above the channels; returns how many concepts it shows.

    Raises:
        ConfigError: ``folder`` holds no concepts of this network, weights and layer.
    """
    from .concept_report import FILE_NAME

    out_dir = Path(out_dir)
    shown = []
    for found in concepts_of(folder, model, weights_sha256, layer):
        target = out_dir / "concepts" / re.sub(r"[^\w.-]+", "-", found.name)
        target.mkdir(parents=True, exist_ok=True)
        for record in found.concepts:
            picture = (record.get("pictures") or [None])[0]
            if not isinstance(picture, str) or not FILE_NAME.fullmatch(picture) or not (found.folder / picture).is_file():
                continue  # only the names a report writes: a JSON edited by hand names no file elsewhere
            with open(found.folder / picture, "rb") as source:
                write_atomic(target / picture, lambda fh, source=source: shutil.copyfileobj(source, fh))
            classes = ", ".join(str(c.get("name") or c.get("class")).split(",")[0] for c in record.get("classes", [])[:2])
            shown.append((f"{target.relative_to(out_dir).as_posix()}/{picture}", record.get("index"), classes,
                          found.recipe.get("method")))
    page = _page(model, layer, channels, cfg, examples=examples, concepts=shown)
    write_atomic(out_dir / "index.html", lambda fh: fh.write(page.encode()))
    return len(shown)


def concepts_of(folder: str | Path, model: str, weights_sha256: str | None, layer: str) -> list[Any]:
    """The concept outputs in ``folder`` learned on ``model`` (these weights) at ``layer``.

    Raises:
        ConfigError: there are none, naming what the folder holds instead."""
    from .concept_report import concept_sets

    every = concept_sets(folder)
    mine = [s for s in every if (s.recipe.get("network"), s.recipe.get("weights_sha256"), s.recipe.get("layer"))
            == (model, weights_sha256, layer)]
    if not mine:
        held = ", ".join(sorted({f"{s.recipe.get('network')} {s.recipe.get('layer')}" for s in every})) or "nothing"
        raise ConfigError(f"concepts {str(folder)!r} holds no concepts of {model} layer {layer!r} (it holds {held}); "
                          f"learn them with inceptionism concepts {layer} PHOTOS -o FOLDER", field="concepts")
    return mine


def _write_gallery(
    cache: Path, model_name: str, layer: str, channels: int, out_dir: str | Path, cfg: FeatureVisConfig, rendered: int
) -> GalleryResult:
    out_dir = Path(out_dir)
    make_output_dir(out_dir)
    for c in range(channels):  # each picture whole or not at all, and a full disk is a one-line error
        name = f"ch-{c:04d}.png"
        with open(cache / name, "rb") as source:
            write_atomic(out_dir / name, lambda fh, source=source: shutil.copyfileobj(source, fh))
    index = out_dir / "index.html"
    page = _page(model_name, layer, channels, cfg)
    write_atomic(index, lambda fh: fh.write(page.encode()))
    return GalleryResult(index, channels, rendered)


def build_gallery(
    model: LoadedModel,
    layer: str,
    out_dir: str | Path,
    cfg: FeatureVisConfig,
    *,
    batch: int = 16,
    on_step: Callable[[int, object], None] | None = None,
    runner: ChannelRunner | None = None,
    network: Any = None,
) -> GalleryResult:
    """Render (or fetch from the cache) every channel of ``layer`` and write ``out_dir/index.html``;
    ``runner`` (:func:`inceptionism.runners.runner_for`: here or on a cluster) renders the
    missing ones with ``network`` (the DreamConfig naming ``model``); default: here, with ``model``."""
    channels = layer_info(model, layer).channels
    make_output_dir(Path(out_dir))
    cache = _cache_dir(model.spec.name, model.weights_sha256, layer, cfg)
    missing = _render_missing(model, layer, range(channels), cfg, cache, batch=batch, on_step=on_step, runner=runner,
                              network=network)
    if missing:
        manifest = json.dumps({"channels": channels, "layer": layer, "model": model.spec.name, "cfg": _written(cfg)})
        write_atomic(cache / "manifest.json", lambda fh: fh.write(manifest.encode()))
    return _write_gallery(cache, model.spec.name, layer, channels, out_dir, cfg, rendered=len(missing))


def channel_thumbnail(
    model: LoadedModel, layer: str, channel: int, cfg: FeatureVisConfig, *, root: Path | None = None, batch: int = 16,
    on_step: Callable[[int, object], None] | None = None,
) -> Path:
    """The cached picture of one channel, rendering it (with its ``batch`` neighbours) when missing.

    ``layer`` and ``channel`` must be valid (see :func:`~inceptionism.taps.layer_info`);
    pictures go under ``root`` (default: the gallery cache), so a gallery and a
    channel picker share them. ``on_step`` hears every step (and may stop the render by raising).
    """
    cache = _cache_dir(model.spec.name, model.weights_sha256, layer, cfg, root)
    path = cache / f"ch-{channel:04d}.png"
    if not path.is_file():
        start = channel - channel % batch
        neighbours = range(start, min(start + batch, layer_info(model, layer).channels))
        _render_missing(model, layer, neighbours, cfg, cache, batch=batch, on_step=on_step)
    return path


def channel_variants(model: LoadedModel, layer: str, channel: int, cfg: FeatureVisConfig, *,
                     root: Path | None = None, on_step: Callable[[int, object], None] | None = None) -> Path:
    """The cached strip of ``cfg.pictures`` different pictures of one channel, side by side,
    rendered together and pushed apart by the diversity term when missing (``layer`` and
    ``channel`` must be valid; the cache is :func:`channel_thumbnail`'s; ``on_step`` as there)."""
    cache = _cache_dir(model.spec.name, model.weights_sha256, layer, cfg, root)
    path = cache / f"ch-{channel:04d}.png"
    if not path.is_file():
        found = list(visualize_features(model, [LayerTerm(layer, channel)], cfg, batch=cfg.pictures, on_step=on_step))
        strip = side_by_side([vis.image for vis in found], "RGB")
        cache.mkdir(parents=True, exist_ok=True)
        write_atomic(path, lambda fh: strip.save(fh, format="PNG"))
    return path


def channel_pictures(
    model: LoadedModel,
    layer: str,
    channels: list[int],
    cfg: FeatureVisConfig,
    *,
    batch: int,
    on_step: Callable[[int, object], None] | None = None,
) -> Iterator[tuple[int, bytes]]:
    """The one per-chunk function of a gallery: each channel's picture as PNG bytes, rendered
    ``batch`` channels per pass (here, or by a cluster worker)."""
    for vis in visualize_features(model, [LayerTerm(layer, c) for c in channels], cfg, batch=batch, on_step=on_step):
        yield vis.target, encode_image(vis.image, ".png", vis.metadata)


class ChannelRunner(Protocol):
    """Who renders a gallery's channels (:class:`inceptionism.runners.Runner` has the whole seam)."""

    def render_channels(self, network: Any, layer: str, chunks: list[list[int]], vis: FeatureVisConfig, batch: int,
                        *, on_step: Callable[[int, object], None] | None = None) -> Iterator[list[tuple[int, bytes]]]:
        """Each chunk's pictures, (channel, PNG bytes), as the chunk is done."""


def _render_missing(
    model: LoadedModel,
    layer: str,
    channels: Iterable[int],
    cfg: FeatureVisConfig,
    cache: Path,
    *,
    batch: int,
    on_step: Callable[[int, object], None] | None = None,
    runner: ChannelRunner | None = None,
    network: Any = None,
) -> list[int]:
    """Render the pictures of ``channels`` not yet in ``cache``; returns the channels rendered.
    With ``runner``, chunks of ``batch`` channels (the passes a local render makes) are
    rendered by it, with ``network``; each picture is the same as here."""
    missing = [c for c in channels if not (cache / f"ch-{c:04d}.png").is_file()]
    if missing:
        cache.mkdir(parents=True, exist_ok=True)
        if runner is None:
            done: Iterable[list[tuple[int, bytes]]] = [channel_pictures(model, layer, missing, cfg, batch=batch,
                                                                        on_step=on_step)]  # fmt: skip
        else:
            chunks = [missing[i : i + batch] for i in range(0, len(missing), batch)]
            done = runner.render_channels(network, layer, chunks, cfg, batch, on_step=on_step)
        for pictures in done:
            for channel, data in pictures:
                write_atomic(cache / f"ch-{channel:04d}.png", lambda fh, data=data: fh.write(data))
    return missing


def _concepts_section(concepts: list[tuple[str, Any, str, Any]]) -> str:
    if not concepts:
        return ""
    cells = "".join(f'<figure class="concept"><img src="{html.escape(path)}" alt="concept {int(index)}" loading="lazy">'
                    f"<figcaption>concept {int(index)} ({html.escape(str(method))}) · {html.escape(classes)}</figcaption>"
                    "</figure>" for path, index, classes, method in concepts)
    return (f"<h2>Concepts</h2><p>Directions learned over this layer's activations on photos (inceptionism "
            f"concepts), by importance, each with the classes it pushes most.</p><div class=\"grid concepts\">{cells}"
            "</div><h2>Channels</h2>")


def _page(model: str, layer: str, channels: int, cfg: FeatureVisConfig, *, examples: bool = False,
          concepts: list[tuple[str, Any, str, Any]] | None = None) -> str:
    title = html.escape(f"{model} · {layer} · {channels} channels")
    cells, boxes = [], []
    for c in range(channels):
        name, shown = f"ch-{c:04d}.png", f"ex-{c:04d}.jpg"
        strip = f'<img class="ex" src="{shown}" alt="photos that excite channel {c}" loading="lazy">' if examples else ""
        cells.append(
            f'<a class="cell" href="#c{c}" aria-label="channel {c}, enlarge">'
            f'<img src="{name}" alt="channel {c}" loading="lazy">{strip}<span>{c}</span></a>'
        )
        boxes.append(
            f'<div class="box" id="c{c}"><a href="#" aria-label="close"><img src="{name}" alt="channel {c}, enlarged">'
            f"{strip}<span>{html.escape(layer)}:{c}</span></a></div>"
        )
    style = """
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(100px, 1fr)); gap: 8px; }
.cell { color: inherit; text-decoration: none; text-align: center; }
.cell img { width: 100%; image-rendering: auto; border-radius: 4px; display: block; }
.cell:focus-visible { outline: 2px solid #fc6; }
.box { display: none; position: fixed; inset: 0; background: #000d; align-items: center; justify-content: center; }
.box:target { display: flex; }
.box a { color: inherit; text-align: center; text-decoration: none; }
.box img { width: min(80vw, HEIGHT); display: block; }
.cell img.ex { margin-top: 2px; border-radius: 2px; }
.box img.ex { margin-top: 6px; }
.concepts { grid-template-columns: repeat(auto-fill, minmax(140px, 1fr)); }
.concept { margin: 0; } .concept img { width: 100%; border-radius: 4px; display: block; }
.concept figcaption { font-size: 12px; color: #aaa; }
""".replace("HEIGHT", "56vh" if examples else "80vh")
    body = f"""{_concepts_section(concepts or [])}
<p>Each picture is grown from noise to excite one channel ({cfg.steps} steps, {cfg.size} px, {html.escape(cfg.param)}
parameterization{", with the three photos that excite it most beneath" if examples else ""}).
Use as <code>--layers {html.escape(layer)}:N</code>. Click to enlarge.</p>
<div class="grid">
{chr(10).join(cells)}
</div>
{chr(10).join(boxes)}"""
    return static_page(title, style, body)
