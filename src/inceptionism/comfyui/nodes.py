"""The nodes. Each takes a loaded network from the loader (kept loaded across queue runs:
ComfyUI reuses the loader's output while its widgets are unchanged, and ``load_model``
caches by name and weights besides) and its widgets from the declarations (:mod:`.widgets`).

IMAGE is (B, H, W, 3) floats in 0..1, MASK (B, H, W); every node that dreams returns the
recipe (the parameters, as the command line's ``--config`` takes them) as a STRING too.
"""

from __future__ import annotations

import logging
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from ..api import load_model_for, noise_picture, render
from ..config import DEFAULT_MODEL, NOISE_SIZE, DreamConfig, draw_seed, layered
from ..errors import ConfigError, InceptionismError
from ..images import Picture
from ..models import get_spec
from ..models.loaded import LoadedModel
from ..command_config import ZOOM_DREAM_DEFAULTS, InspectConfig, VideoConfig, VisualizeConfig, ZoomConfig
from .host import Progress
from .widgets import NETWORK, Widgets, from_images, picture_files, recipe, to_images

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]

log = logging.getLogger("inceptionism")
CATEGORY = "inceptionism"
NETWORK_FIELDS = frozenset(w["name"] for w in Widgets(InspectConfig).rows)  # the loader's widgets; no other node has them
LOADS = {"count": 0}  # networks loaded by Network nodes in this process (the log says each)
FIRST_LAYER = get_spec(DEFAULT_MODEL).default_layers.split(",")[0]  # the Visualize node's layer to start from


class _Node:
    CATEGORY = CATEGORY
    FUNCTION = "run"


@dataclass(frozen=True)
class Loaded:
    """What a network socket carries: the loaded network, and the weights that were asked for
    (so a recipe names them and repeats the dream on the same network)."""

    model: LoadedModel
    weights: str | None


def _network_config(network: Loaded, values: dict[str, Any], defaults: dict[str, Any] | None = None) -> DreamConfig:
    """A dream's parameters: the widgets' ``values`` over a node's ``defaults``, on ``network``
    (a seed drawn where none is given, as everywhere)."""
    chosen = {"model": network.model.spec.name, "device": str(network.model.device), "weights": network.weights}
    _no_files(values.get("layers"), "layers")
    cfg = layered(explicit={**values, **chosen}, command=defaults)
    return cfg if cfg.seed is not None else cfg.replace(seed=draw_seed())


def _no_files(text: Any, field: str) -> None:
    """Refuse terms that name a file (a concept's dictionary): a workflow may come from anyone
    who can reach the ComfyUI server, and the nodes open no file it names."""
    from ..objectives import file_terms

    found = file_terms(text) if text else []
    if found:
        raise ConfigError(f"{field}: {found[0][0]!r} names a file; the ComfyUI nodes open no file a workflow names "
                          "(dream concepts with inceptionism dream or the studio)", field=field)


@contextmanager
def _inputs() -> Iterator[Path]:
    """A folder for the picture sockets' files while a node runs; the library's errors leave
    it as one line for ComfyUI's error panel (:func:`_one_line`)."""
    with tempfile.TemporaryDirectory(prefix="inceptionism-") as name:
        folder = Path(name)
        try:
            yield folder
        except InceptionismError as exc:
            raise _one_line(exc, folder) from None


def _one_line(exc: InceptionismError, folder: Path | None = None) -> InceptionismError:
    """The library's error for ComfyUI's error panel: one line that starts with the widget at
    fault, the pictures' temporary files named as the sockets they came from."""
    text = str(exc)
    if folder is not None:
        text = text.replace(str(folder) + "/", "input:")
    if exc.field and not text.startswith(exc.field):
        text = f"{exc.field}: {text}"
    return type(exc)(text, field=exc.field)


class Network(_Node):
    """A network of the zoo, or any timm/ or torchvision/ architecture, with its weights."""

    DESCRIPTION = __doc__
    RETURN_TYPES = (NETWORK,)
    RETURN_NAMES = ("network",)
    WIDGETS = Widgets(InspectConfig)

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:  # noqa: N802  (ComfyUI's name)
        required, optional = cls.WIDGETS.inputs()
        return {"required": required, "optional": optional}

    def run(self, **given: Any) -> tuple[Loaded]:
        values = self.WIDGETS.values(given)
        try:
            cfg = DreamConfig(**{"model": DEFAULT_MODEL, **{k: v for k, v in values.items() if k in NETWORK_FIELDS}})
            began = time.perf_counter()
            network = load_model_for(cfg)
        except InceptionismError as exc:
            raise _one_line(exc) from None
        LOADS["count"] += 1
        log.info("inceptionism: network %s ready on %s in %.2f s (load %d in this process)", network.spec.name,
                 network.device, time.perf_counter() - began, LOADS["count"])
        return (Loaded(network, cfg.weights),)


class Layers(_Node):
    """Every layer of a network you can dream on, with its number, channels and size at 224 px
    (* marks the default layers): names for the layers widgets."""

    DESCRIPTION = __doc__
    RETURN_TYPES = ("STRING",)
    RETURN_NAMES = ("layers",)
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:  # noqa: N802
        return {"required": {"network": (NETWORK,)}}

    def run(self, network: Loaded) -> dict[str, Any]:
        from ..taps import auto_layers, list_layers

        network = network.model
        defaults = set((network.spec.default_layers or auto_layers(network)).split(","))
        lines = [f"{i:>4}  {info.name}{' *' if info.name in defaults else ''}  {info.channels} channels  "
                 f"{info.height}x{info.width}  {info.kind}" for i, info in enumerate(list_layers(network))]
        text = f"{network.spec.name}: dreamable layers (* the default ones)\n" + "\n".join(lines)
        return {"ui": {"text": [text]}, "result": (text,)}


class Dream(_Node):
    """Dream on each image of a batch (or, without one, on noise of the given size): every
    dream parameter is a widget; the mask and the guide are sockets."""

    DESCRIPTION = __doc__
    RETURN_TYPES = ("IMAGE", "STRING")
    RETURN_NAMES = ("image", "recipe")
    DEFAULTS: dict[str, Any] = {}  # a node's own defaults under the widgets (the zoom's lighter preset)

    @classmethod
    def widgets(cls) -> Widgets:
        defaults = layered(command=cls.DEFAULTS).to_dict() if cls.DEFAULTS else None
        return Widgets(leave=NETWORK_FIELDS, defaults=defaults)

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:  # noqa: N802
        required, optional = cls.widgets().inputs()
        return {"required": {"network": (NETWORK,), **required}, "optional": {"image": ("IMAGE",), **optional}}

    @classmethod
    def command_inputs(cls, command: Widgets, *, sockets: dict[str, tuple] | None = None,
                       instead_of: str | None = None) -> dict[str, Any]:
        """A command's node (zoom, video): the network, its ``sockets``, the command's widgets, then
        the dream's; ``sockets`` take the place of the optional input ``instead_of``."""
        dream, pictures = cls.widgets().inputs()
        own, _ = command.inputs()
        optional = {k: v for k, v in {"image": ("IMAGE",), **pictures}.items() if k != instead_of}
        return {"required": {"network": (NETWORK,), **(sockets or {}), **own, **dream}, "optional": optional}

    def config(self, network: Loaded, given: dict[str, Any], folder: Path, index: int = 0,
               seed: int | None = None) -> DreamConfig:
        """The dream's parameters for item ``index`` of a batch (its mask, where a batch of masks
        came), the widgets' values over this node's defaults; ``seed``: the batch's."""
        widgets = self.widgets()
        cfg = _network_config(network, widgets.values(given, picture_files(widgets, given, folder, index)),
                              self.DEFAULTS)
        return cfg if seed is None else cfg.replace(seed=seed)

    def run(self, network: Loaded, image: torch.Tensor | None = None, **given: Any) -> tuple[torch.Tensor, str]:
        starts = from_images(image) if image is not None else [None]
        with _inputs() as folder:
            dreams, recipes = [], []
            cfg = self.config(network, given, folder)
            progress = Progress(len(starts) * cfg.total_steps())
            for i, start in enumerate(starts):
                if i:  # a mask batch gives each image its own mask
                    cfg = self.config(network, given, folder, i, seed=cfg.seed)
                picture = start if start is not None else "noise"
                result = render(picture, cfg, model=network.model, callbacks=progress.callbacks, score=False)
                dreams.append(result.image.convert("RGB"))
                recipes.append(result.metadata)
            made = recipes[0] if len(recipes) == 1 else {"config": recipes[0]["config"], "images": recipes}
            return to_images([np.asarray(d) for d in dreams]), recipe(made, folder)


class Zoom(Dream):
    """An endless zoom into a dream from the first image (or noise): a batch of frames for a
    save node (an animated WebP or PNG). With loop, the last frame continues into the first
    like any frame into the next; the recipe then says how the seam measures."""

    DESCRIPTION = __doc__
    DEFAULTS = ZOOM_DREAM_DEFAULTS
    ZOOM = Widgets(ZoomConfig)

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:  # noqa: N802
        return cls.command_inputs(cls.ZOOM)

    def run(self, network: Loaded, image: torch.Tensor | None = None, **given: Any) -> tuple[torch.Tensor, str]:
        from ..motion.loop import measure_seam
        from ..motion.zoom import FRAME_FIELDS, dream_count, zoom_frames

        with _inputs() as folder:
            cfg = self.config(network, given, folder)
            motion = ZoomConfig(**self.ZOOM.values(given))
            start = Picture(from_images(image)[0]) if image is not None else noise_picture(*(cfg.size or NOISE_SIZE), cfg.seed)
            shaping = {name: getattr(motion, name) for name in FRAME_FIELDS}
            progress = Progress(dream_count(**shaping) * cfg.total_steps())
            frames = measure_seam(zoom_frames(start, cfg, model=network.model, callbacks=progress.callbacks, **shaping))
            shown = list(frames)
            made = {"config": cfg.to_dict(), "zoom": {row["name"]: getattr(motion, row["name"]) for row in self.ZOOM.rows}}
            if motion.loop and frames.result is not None:
                made["loop_seam"] = {"seam": frames.result.seam, "median_step": frames.result.median_step,
                                     "ratio": frames.result.ratio}
                log.warning("inceptionism: %s", frames.result)
            return to_images(shown), recipe(made, folder)


class Video(Dream):
    """Dream a batch of frames (a clip) frame by frame, coherent over time: the detail dreamed
    into each frame is carried to the next along the optical flow, as `inceptionism video` does."""

    DESCRIPTION = __doc__
    VIDEO = Widgets(VideoConfig)

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:  # noqa: N802
        return cls.command_inputs(cls.VIDEO, sockets={"frames": ("IMAGE",)}, instead_of="image")

    def run(self, network: Loaded, frames: torch.Tensor, **given: Any) -> tuple[torch.Tensor, str]:
        from ..motion.video import FrameDreamer, fit_frame

        with _inputs() as folder:
            cfg = self.config(network, given, folder)
            video = VideoConfig(**self.VIDEO.values(given))
            progress = Progress(len(frames) * cfg.total_steps())
            dreamer = FrameDreamer(cfg, video, model=network.model, callbacks=progress.callbacks)
            sources = [fit_frame((f * 255 + 0.5).astype(np.uint8), cfg.max_size) for f in from_images(frames)]
            per_frame = given.get("mask") is not None and len(given["mask"]) > 1  # a mask for each frame
            dreamed = []
            for t, source in enumerate(sources):
                if per_frame:
                    dreamer.cfg = self.config(network, given, folder, t, seed=cfg.seed)
                dreamed.append(dreamer.dream(t, source))
            made = {"config": cfg.to_dict(), "video": video.shaping()}
            return to_images(dreamed), recipe(made, folder)


class Visualize(_Node):
    """What a channel, a channel combination (3+7, 3-7) or a class responds to, grown from noise
    (or out of a photo): layer "class" for classes. With param alpha, the picture's
    transparency comes out as a MASK (1 = transparent, as ComfyUI's masks of alpha are)."""

    DESCRIPTION = __doc__
    RETURN_TYPES = ("IMAGE", "MASK", "STRING")
    RETURN_NAMES = ("image", "transparency", "recipe")
    WIDGETS = Widgets(VisualizeConfig, leave=NETWORK_FIELDS)

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:  # noqa: N802
        required, optional = cls.WIDGETS.inputs()
        return {"required": {
            "network": (NETWORK,),
            "layer": ("STRING", {"default": FIRST_LAYER, "tooltip": "module path (see the Layers node), or class"}),
            "target": ("STRING", {"default": "7", "tooltip": "channel(s): 7, 3,7, 3+7, 3-7 or all; with layer class: "
                                                             "class names or indices"}),
            **required}, "optional": optional}

    def run(self, network: Loaded, layer: str, target: str, **given: Any) -> tuple[torch.Tensor, torch.Tensor, str]:
        from ..steering import unit_terms
        from ..unit_pictures import visualize_targets

        network = network.model
        with _inputs() as folder:
            cfg = VisualizeConfig(**self.WIDGETS.values(given, picture_files(self.WIDGETS, given, folder)))
            _no_files(",".join(f"{layer.strip()}:{t}" for t in str(target).split(",")), "target")
            targets = unit_terms(network, layer.strip(), target, field="target")
            if cfg.param == "pixel":  # a dream per target, octave by octave
                steps = len(targets) * cfg.octaves * cfg.steps_or_default()
            else:  # passes of a batch of targets (or one photo each), each its steps
                per_pass = max(1, cfg.batch // cfg.diversity) if cfg.photo is None else 1
                steps = -(-len(targets) // per_pass) * cfg.steps_or_default()
            progress = Progress(steps)
            shown = list(visualize_targets(network, targets, cfg, callbacks=progress.callbacks))
            pictures = [np.asarray(s.image.convert("RGBA"), np.float32) / 255.0 for s in shown]
            images = to_images([p[..., :3] for p in pictures])
            transparency = torch.stack([1 - torch.from_numpy(np.ascontiguousarray(p[..., 3])) for p in pictures])
            return images, transparency, recipe([s.metadata for s in shown], folder)


NODE_CLASS_MAPPINGS = {
    "InceptionismNetwork": Network,
    "InceptionismDream": Dream,
    "InceptionismVisualize": Visualize,
    "InceptionismZoom": Zoom,
    "InceptionismVideo": Video,
    "InceptionismLayers": Layers,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "InceptionismNetwork": "Inceptionism network",
    "InceptionismDream": "Inceptionism dream",
    "InceptionismVisualize": "Inceptionism visualize",
    "InceptionismZoom": "Inceptionism zoom",
    "InceptionismVideo": "Inceptionism video",
    "InceptionismLayers": "Inceptionism layers",
}
