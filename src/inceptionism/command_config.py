"""Every command's parameters but the dream's (which are ``config.py``'s): zoom, video, live,
batch, visualize, gallery, activations, serve and train. Declared once here (see :mod:`inceptionism.declare`); the command
line's options and the library's keyword defaults both come from these fields.

Examples:
    >>> ZoomConfig().zoom
    1.05
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from .config import DEFAULT_DEVICE, DEFAULT_MODEL, DreamConfig, weights_file
from .errors import ConfigError
from .declare import Checked, Studio, declared, json_schema, param

# Frame rates a video is written at: a GIF shows a frame for at most 655 s, and the rate is
# handed to ffmpeg as a fraction over at most 1001 (0 below that), so a frame per 100 s is the
# slowest offered.
MIN_FPS, MAX_FPS = 0.01, 1000.0

__all__ = [
    "ZoomConfig",
    "LiveConfig",
    "VideoConfig",
    "BatchConfig",
    "DreamOutputs",
    "VisualizeConfig",
    "ConceptsConfig",
    "GalleryConfig",
    "ActivationsConfig",
    "ServeConfig",
    "InspectConfig",
    "TrainConfig",
    "ClassifyConfig",
    "parse_pan",
    "parse_cluster",
]


def parse_pan(text: str | tuple | list) -> tuple[float, float]:
    """``"DX,DY"`` pixels per frame (e.g. ``"2,0"``) or a pair into ``(dx, dy)``."""
    try:
        dx, dy = (float(v) for v in (text.split(",") if isinstance(text, str) else text))
    except (ValueError, TypeError):
        raise ConfigError(f"pan {text!r} is not of the form DX,DY in pixels, e.g. 2,0", field="pan") from None
    if not (math.isfinite(dx) and math.isfinite(dy)) or max(abs(dx), abs(dy)) > 10_000:
        raise ConfigError(f"pan {text!r} must be two finite numbers of at most 10000 px", field="pan")
    return dx, dy


_HOST_PORT = re.compile(r"^(ray://)?[A-Za-z0-9._\-]+:[0-9]{1,5}$|^(ray://)?\[[0-9A-Fa-f:.]+\]:[0-9]{1,5}$")


def parse_cluster(text: str) -> str:
    """``local``, ``auto``, ``HOST:PORT`` or ``ray://HOST:PORT`` (see docs/cluster.md)."""
    text = str(text).strip()
    if text in ("local", "auto") or (_HOST_PORT.match(text) and 0 < int(text.rsplit(":", 1)[1]) < 65536):
        return text
    raise ConfigError(f"cluster {text!r} is not local, auto, HOST:PORT or ray://HOST:PORT", field="cluster")


def _names(value: str | list | tuple) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(str(v).lower() for v in value)


class _Command(Checked):
    """Options of a command: offered by the command line and the library (not config files
    or the studio)."""

    DOORS = frozenset({"cli", "api"})


NOT_NODES = frozenset({"cli", "api"})  # a node command's field that is about files, not pictures


class _Node(_Command):
    """Options of a command that ComfyUI has as a node too (frames and pictures in, frames and
    pictures out): fields about files, clusters or times in a clip say ``doors=NOT_NODES``."""

    DOORS = frozenset({"cli", "api", "comfyui"})


@dataclass(frozen=True)
class _OnCluster(_Command):
    """A command whose work can be spread over a Ray cluster."""

    cluster: str | None = param(None, "run on a Ray cluster: local (a Ray runtime on this machine), auto (the cluster "
                                "this machine belongs to), HOST:PORT or ray://HOST:PORT; none = in this process, "
                                "without Ray (docs/cluster.md)", parse=parse_cluster, metavar="ADDRESS", doors=NOT_NODES)


@dataclass(frozen=True)
class InspectConfig(_Node):
    """The network and device of the inspection commands (layers, visualize, activations, ...)."""

    model: str = param(DEFAULT_MODEL, "network (see `inceptionism models`)")
    device: str = param(DEFAULT_DEVICE, "auto, cpu, cuda, cuda:N or mps")
    weights: str | None = param(None, "random, or a checkpoint file (one made by `inceptionism train` brings its own "
                                "classes); none = the model's own", metavar="FILE")

    def weights_file(self) -> str | None:
        """The weights file this names; None for the model's own weights or random ones."""
        return weights_file(self.weights)


# How deep a zoom that loops may go (see inceptionism.motion.loop): at least this much in all, or
# its centre copies would be pasted by the hundred; at most this many levels of at most this zoom.
LOOP_MIN_DEPTH = 1.2
LOOP_MAX_LEVELS = 64  # each a whole frame in memory
LOOP_MAX_RATIO = 4.0  # a view enlarges a level by at most this


def check_loop(frames: int, zoom: float) -> None:
    """Refuse a loop that cannot be laid out: one that zooms too little in all to hold itself
    at its centre, or so deep that its levels would not fit (``LOOP_MAX_LEVELS`` of at most
    ``LOOP_MAX_RATIO`` each; see :mod:`inceptionism.motion.loop`).

    Raises:
        ConfigError: naming ``frames`` or ``zoom``, with the loop's whole zoom and the fix.
    """
    depth = abs(frames * math.log(zoom))
    value = f"10**{depth / math.log(10):.0f}" if depth > 50 else f"{math.exp(depth):.4g}"
    whole = f"{'(1/zoom)' if zoom < 1 else 'zoom'}**frames = {value}"
    if depth < math.log(LOOP_MIN_DEPTH):
        raise ConfigError(f"a loop must zoom at least {LOOP_MIN_DEPTH:g}x in all to hold itself at its centre, but "
                          f"{whole}; give more frames or a stronger zoom", field="frames")
    if depth > LOOP_MAX_LEVELS * math.log(LOOP_MAX_RATIO):
        raise ConfigError(f"a loop of {whole} is deeper than {LOOP_MAX_LEVELS} levels of {LOOP_MAX_RATIO:g}x can hold; "
                          "give fewer frames or a gentler zoom", field="zoom")


@dataclass(frozen=True)
class ZoomConfig(_Node):
    """An endless zoom: dream, zoom/rotate/pan about the centre, repeat."""

    frames: int = param(48, "frames in the animation", low=1, high=100_000)
    zoom: float = param(1.05, "scale per frame (> 1 zooms in)", low=0.0, high=100.0, low_open=True)
    rotate: float = param(0.0, "degrees per frame", low=-360.0, high=360.0)
    pan: tuple[float, float] = param((0.0, 0.0), "DX,DY pixels per frame", parse=parse_pan, metavar="DX,DY",
                                     schema={"type": "string"})
    fps: float = param(12.0, "frames per second (a frame per 100 s at least: GIF and H.264 hold no slower rate)",
                       low=MIN_FPS, high=MAX_FPS, doors=NOT_NODES)
    interpolate: int = param(0, "in-between frames per dreamed frame (smooth, cheap)", low=0, high=100)
    loop: bool = param(False, "a zoom that loops: the last frame continues into the first like any frame into the "
                       "next (the dream holds itself at its centre, at the scale the loop zooms through); zooms "
                       "about the centre, so pan must be 0,0")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.loop and self.zoom == 1:
            raise ConfigError("loop needs a zoom other than 1: a loop closes by zooming into itself", field="zoom")
        if self.loop and self.pan != (0.0, 0.0):
            raise ConfigError(f"loop zooms about the centre; pan must be 0,0, got {self.pan[0]:g},{self.pan[1]:g}",
                              field="pan")
        if self.loop:
            check_loop(self.frames, self.zoom)


# Each zoom frame builds on the last, so a light touch per frame is enough.
ZOOM_DREAM_DEFAULTS = {"preset": "subtle", "octaves": 2, "steps": 5}


@dataclass(frozen=True)
class LiveConfig(_Command):
    """Live dreaming: frames dreamed as they come (a camera, a stream, a clip played in real
    time), each from the previous dream carried along the optical flow, with a few steps."""

    DOORS = frozenset({"cli", "api", "studio"})  # the studio's Live page sends them too

    frame_steps: int = param(1, "gradient steps on each frame; where the scene is still, the dream deepens frame by "
                             "frame", low=1, high=100)
    blend: float = param(0.9, "how much of the previous frame's dream to carry (0..1)", low=0.0, high=1.0)
    target_fps: float | None = param(None, "a frame rate to keep: a frame that takes longer than its share lowers the "
                                     "steps of the next ones (down to 1), a quick one raises them again (up to "
                                     "frame_steps); none = always frame_steps", low=0.1, high=1000.0)
    seconds: float | None = param(None, "stop after this long; none = at the end of the source, or Ctrl-C", low=0.0,
                                  high=1e7, low_open=True, doors=frozenset({"cli", "api"}))


# A live frame is small and dreamed at its own size only, a step or two: the carried dream brings
# the coarse structure (as a video's carried frames do), and a larger step than a still's lets a
# still scene's dream grow within a second or two (looked at: 0.008, the classic step, stays faint).
LIVE_DREAM_DEFAULTS = {"preset": "classic", "max_size": 320, "step_size": 0.03}


@dataclass(frozen=True)
class VideoConfig(_OnCluster):
    """A dreamed video, coherent over time."""

    DOORS = _Node.DOORS  # a node too: frames in, frames out

    blend: float = param(0.85, "how much of the previous frame's dream to carry (0..1)", low=0.0, high=1.0)
    coherence: str = param("on", "on: carry the dream along the optical flow; off: every frame anew",
                           choices=("on", "off"))
    carried_steps: int | None = param(None, "gradient steps of a frame carried along the flow (its coarse octaves "
                                      "came with it); none = half the finest octave's steps", low=1, high=10000,
                                      metavar="N")
    start: float = param(0.0, "start time in seconds", low=0.0, high=1e7, doors=NOT_NODES)
    end: float | None = param(None, "end time in seconds; none = the end of the clip", low=0.0, high=1e7,
                              low_open=True, doors=NOT_NODES)
    keep_frames: bool = param(False, "keep the folder of dreamed frames after writing", doors=NOT_NODES)
    segment_frames: int | None = param(None, "with --cluster: frames per segment, each dreamed by one worker; none = "
                                       "the clip shared evenly among the workers (at least 24 frames each)", low=2,
                                       high=1_000_000, metavar="N", doors=NOT_NODES)
    segment_overlap: int = param(6, "with --cluster: frames a segment is dreamed ahead of its first kept frame, so "
                                 "the carried detail has settled; the joins are cross-faded over them", low=1,
                                 high=1000, metavar="N", doors=NOT_NODES)

    # Fields that say where and how the work is done and kept, not what the frames are.
    NOT_IN_FRAMES: ClassVar[tuple[str, ...]] = ("keep_frames", "cluster", "segment_frames", "segment_overlap")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.end is not None and self.end <= self.start:
            raise ConfigError(f"time range {self.start}..{self.end} is empty or negative; give 0 <= start < end",
                              field="end")

    def shaping(self) -> dict[str, Any]:
        """The values that decide the frames (what a resumed job must share with the first run),
        a field added by a subclass included."""
        return {p.name: getattr(self, p.name) for p in declared(type(self)) if p.name not in self.NOT_IN_FRAMES}

    def carried_step_count(self, steps: int) -> int:
        """The gradient steps of a carried frame: ``carried_steps``, or by default half the finest
        octave's ``steps`` (at least 1). Its detail came along the flow, so it needs less work
        than a first frame; docs/performance.md has the measurements behind the half."""
        return self.carried_steps if self.carried_steps is not None else max(1, steps // 2)

    def frame_config(self, cfg: DreamConfig, t: int, carried: bool) -> DreamConfig:
        """Frame ``t``'s dream: ``cfg`` with seed ``seed + t``; a frame carried along the flow (its
        coarse octaves came with it) is dreamed at the finest octave only, with its schedules'
        values there and :meth:`carried_step_count` steps."""
        frame = cfg.replace(seed=cfg.seed + t)
        if not carried:
            return frame
        top = max(cfg.octave_indices())
        frame = frame.for_octave(top)
        return frame.replace(octave_range=(top, top), steps=self.carried_step_count(frame.steps))


@dataclass(frozen=True)
class DreamOutputs(_Command):
    """What ``inceptionism dream`` writes or prints besides the dream."""

    save_input: bool = param(False, "also write the prepared input (EXIF-rotated, shrunk to max_size, or the noise) "
                             "beside the output as STEM.input.png")
    classify: bool = param(False, "print the network's top-5 classes for the input and for the dream, each seen "
                           "whole at the size dreamed (`inceptionism classify` sees centre crops)")
    save_every: int | None = param(None, "also write the picture every N steps beside the output, as STEM.step-NNNN.png",
                                   low=1, high=1_000_000, metavar="N")
    progress_gif: Path | None = param(None, "write the dream's evolution as one animation: a frame every --save-every "
                                      "steps (every step without it)", metavar="FILE.gif", schema={"type": "string"})
    plot: Path | None = param(None, "write a figure of the objective and the gradient per step, and each octave's "
                              "last gradient, to this PNG (the numbers to the same name .json)", metavar="FILE.png",
                              schema={"type": "string"})


@dataclass(frozen=True)
class BatchConfig(_OnCluster):
    """A folder of photos."""

    recursive: bool = param(False, "include subfolders", flags=("--recursive", "-r"))


# Where a picture of a unit keeps its recipe (InspectConfig's and VisualizeConfig's fields, the
# seed drawn included, and the terms it was of): ``visualize LAYER TARGETS --config PICTURE``,
# given the same LAYER TARGETS, grows the same picture from it.
VISUALIZE_RECIPE = "visualize_params"


@dataclass(frozen=True)
class VisualizeConfig(_Node):
    """What channels or classes respond to, grown from noise (or from a photo)."""

    DOORS = _Node.DOORS | {"studio"}  # the studio's channel picker grows pictures with them (files aside)

    lapnorm: bool = param(False, "Laplacian-pyramid normalization of the gradient (pixel only)",
                          studio=Studio("visualize", "Laplacian normalization (pixel)", "checkbox"))
    size: int = param(224, "side of the square picture", low=16, high=4096,
                      studio=Studio("visualize", "Side (px)", "range", min=64, max=512, step=32))
    octaves: int = param(3, "octaves (pixel)", low=1, high=12,
                         studio=Studio("visualize", "Octaves (pixel)", "range", min=1, max=6, step=1))
    steps: int | None = param(None, "steps per octave (pixel; none = 20) or in all (fft, alpha, maco; none = 128)",
                              low=1, high=100_000,
                              studio=Studio("visualize", "Steps", "number", max=512, placeholder="20 pixel, 128 others"))
    step_size: float = param(0.01, "step size (pixel)", low=0.0, high=10.0, low_open=True,
                             studio=Studio("visualize", "Step size (pixel)", "number", step=0.001))
    batch: int = param(8, "pictures per forward/backward pass (fft, alpha, maco)", low=1, high=1024,
                       doors=_Node.DOORS)
    transforms: str = param("auto", "what the network sees each step (fft, alpha, maco): auto (noisy-crops for fft "
                            "and alpha pictures of classes, crops for every other picture), noisy-crops (random "
                            "crops, 50-100% of the side, through noise of 0-0.4), crops (the same without noise), "
                            "noisy-crops-fast (noisy-crops seen at 0.625 of the side: half the time), "
                            "standard (lucid's pad, jitter, scale, rotate), none, or a list such as "
                            "pad:16,crops:2x0.4,noise:0.02",
                            studio=Studio("visualize", "Transforms", "text", placeholder="auto"))
    grow_from_centre: float = param(
        0.0, "share of the steps (0 to 1) a picture grows from its centre: the network first sees a disc "
        "there, widening until the share is over, then the whole picture, so one thing grows in the middle "
        "instead of a pattern filling it (fft, alpha, maco; 0.6 for classes)", low=0.0, high=1.0,
        doors=_Node.DOORS)
    diversity: int = param(1, "pictures per target, pushed apart so each shows another facet (fft, alpha, maco)",
                           low=1, high=64, studio=Studio("visualize", "Pictures per target", "range", max=4, step=1))
    photo: str | None = param(None, "grow each channel out of this photo instead of noise (feature accentuation; "
                              "fft, maco)", picture="image", doors=_Node.DOORS)
    judge: str | None = param(None, "another network that classifies each class picture (honest score: "
                              "the network that made a picture is a lenient judge of it)", doors=_Node.DOORS)
    importance: bool = param(False, "also write each picture's importance map, where the objective's gradient "
                             "was over all steps (MACO's), as NAME-importance.png (fft, alpha, maco)", doors=NOT_NODES)
    seed: int | None = param(None, "random seed; none = one is drawn and recorded in the output", low=0,
                             high=2**63 - 1, studio=Studio("visualize", "Seed", "number", placeholder="random"))
    # last: from here on the class body's ``param`` is this field, not the function
    param: str = param("pixel", "pixel (octaves, optional --lapnorm), fft (Fourier, decorrelated colour), alpha "
                       "(fft with transparency), maco (Fourier phase only, natural photos' magnitude)",
                       choices=("pixel", "fft", "alpha", "maco"),
                       studio=Studio("visualize", "Parameterization", "select"))

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.lapnorm and self.param != "pixel":
            raise ConfigError(f"lapnorm works with param pixel only, not {self.param}", field="lapnorm")
        if self.importance and self.param == "pixel":
            raise ConfigError("importance works with param fft, alpha or maco (the pixel path dreams octave by "
                              "octave and keeps no map)", field="importance")
        if self.grow_from_centre and self.param == "pixel":
            raise ConfigError("grow_from_centre works with param fft, alpha or maco, not pixel; e.g. --param fft",
                              field="grow_from_centre")
        if self.grow_from_centre and self.photo is not None:
            raise ConfigError("grow_from_centre grows a picture from noise; with photo it grows out of the photo "
                              "instead: leave one out", field="grow_from_centre")
        if self.photo is not None and self.param not in ("fft", "maco"):
            raise ConfigError(f"photo (feature accentuation) works with param fft or maco, not {self.param}; "
                              "e.g. --param fft", field="photo")

    def steps_or_default(self) -> int:
        return self.steps if self.steps is not None else (20 if self.param == "pixel" else 128)


@dataclass(frozen=True)
class GalleryConfig(_OnCluster):
    """A thumbnail of every channel of a layer."""

    size: int = param(128, "thumbnail side", low=16, high=1024)
    steps: int = param(64, "optimizer steps per thumbnail", low=1, high=10_000)
    batch: int = param(16, "channels per forward/backward pass", low=1, high=1024)
    seed: int | None = param(None, "random seed; none = reuse a cached gallery of any seed, else one is drawn",
                             low=0, high=2**63 - 1)
    examples: str | None = param(None, "a folder of photos: beside each channel, the 3 that excite it most "
                                 "(dataset examples)")
    concepts: str | None = param(None, "a folder of inceptionism concepts outputs: the page shows this layer's "
                                 "concepts above its channels")


@dataclass(frozen=True)
class ConceptsConfig(_Command):
    """Concepts learned over a layer's activations on photos: a dictionary, and each concept's
    picture, photos, class importances, causal score and sanity rank."""

    k: int = param(16, "concepts to learn (atoms of the dictionary)", low=1, high=4096)
    method: str = param("nmf", "nmf (non-negative matrix factorization; negative activations are set to 0 first) "
                        "or sae (a TopK sparse autoencoder)", choices=("nmf", "sae"))
    topk: int | None = param(None, "sae: active concepts per position; none = K/4, at least 1 and at most 32",
                             low=1, high=4096)
    views: int = param(2, "views of each photo sampled: itself, its mirror image, then random crops", low=1, high=16)
    samples: int = param(100_000, "activation vectors kept to learn from (a uniform sample of every position of "
                         "every view: memory stays bounded however many photos)", low=64, high=1_000_000)
    top: int = param(6, "exemplar photos per concept (its strongest), with heatmaps", low=1, high=64)
    size: int = param(128, "side of each concept's picture", low=32, high=1024)
    steps: int = param(128, "optimizer steps per picture", low=1, high=100_000)
    pictures: int = param(1, "pictures per concept, pushed apart so each shows another facet (diversity)",
                          low=1, high=16)
    batch: int = param(8, "pictures per forward/backward pass", low=1, high=1024)
    seed: int | None = param(None, "random seed of the sample, the learning and the pictures; none = one is drawn "
                             "and recorded", low=0, high=2**63 - 1)
    param: str = param("fft", "how the pictures grow: fft (Fourier, decorrelated colour), maco (Fourier phase "
                       "only, with an importance map), alpha (with transparency)", choices=("fft", "maco", "alpha"))

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.topk is not None and self.method != "sae":
            raise ConfigError(f"topk is the sparse autoencoder's (method sae), not {self.method}'s", field="topk")
        if self.k > self.samples:
            raise ConfigError(f"k {self.k} concepts cannot be learned from {self.samples} samples; give more samples "
                              "or fewer concepts", field="k")
        if self.topk is not None and self.topk > self.k:
            raise ConfigError(f"topk {self.topk} is more than the {self.k} concepts (k)", field="topk")


@dataclass(frozen=True)
class ActivationsConfig(_Command):
    """A grid of a layer's feature maps for a photo."""

    channels: str | None = param(None, "comma list of channels; none = the strongest")
    top: int = param(16, "how many of the strongest channels to show", low=1, high=4096)
    max_size: int = param(512, "shrink the photo so its longer side is at most this", low=16, high=100_000)


@dataclass(frozen=True)
class ServeConfig(_OnCluster):
    """The web studio and HTTP API (``inceptionism serve``)."""

    host: str = param("127.0.0.1", "address to listen on (0.0.0.0 exposes it to the network)")
    port: int = param(8000, "port to listen on", low=1, high=65535)
    workers: int = param(1, "dreams run at once; each uses every CPU thread, so 1 suits a CPU", low=0, high=64)
    data_dir: Path | None = param(None, "where jobs, uploads and results live; none = $INCEPTIONISM_DATA, else "
                                  "~/.local/share/inceptionism", schema={"type": "string"})
    device: str = param(DEFAULT_DEVICE, "where the workers dream: auto, cpu, cuda, cuda:N or mps")
    keep_hours: float = param(168.0, "finished dreams are removed this many hours after they end", low=0.0,
                              high=1e6, low_open=True)
    max_queued: int = param(32, "dreams that may wait in the queue; more are refused (429)", low=1, high=100_000)
    examples: Path | None = param(None, "a folder of photos: the channel picker shows the 3 that excite the chosen "
                                  "channel most (dataset examples)")
    concepts: Path | None = param(None, "a folder of inceptionism concepts outputs (and its subfolders): the studio "
                                  "shows a layer's concepts and dreams towards one")
    token: str | None = param(None, "the token every API request must carry; none = $INCEPTIONISM_TOKEN, else one is "
                              "generated and printed when HOST is not loopback (on loopback none is needed)")
    allow_host: tuple[str, ...] = param((), "another host name this server answers to, e.g. a reverse proxy's "
                                        "(repeatable; on 0.0.0.0 without it any name is answered, the token guards)",
                                        parse=_names, repeat=True, metavar="NAME",
                                        schema={"type": "array", "items": {"type": "string"}})


@dataclass(frozen=True)
class TrainConfig(_Command):
    """Fine-tuning a network on a folder of one's own motifs (``inceptionism train``)."""

    model: str = param(DEFAULT_MODEL, "network to start from (see `inceptionism models`)")
    epochs: int = param(12, "passes over the training images, at most (early stop may end sooner)", low=1, high=10_000)
    val_split: float = param(0.2, "share of each class's images held out to validate on", low=0.0, high=0.9,
                             low_open=True)
    image_size: int = param(224, "side of the square crops trained on", low=32, high=1024)
    unfreeze: int | None = param(None, "how many of the network's last stages train besides the new classifier; none "
                                 "= from the stage of its default dream layers on, so plain layer dreams take on the "
                                 "motifs too", low=0, high=1000)
    batch_size: int = param(16, "images per optimizer step", low=1, high=4096)
    lr: float = param(1e-3, "learning rate of the classifier (earlier stages get less: timm's layer decay)",
                      low=0.0, high=10.0, low_open=True)
    patience: int = param(3, "stop when validation accuracy has not risen for this many epochs", low=1, high=10_000)
    seed: int = param(0, "random seed of the split, the augmentation and the new classifier", low=0, high=2**63 - 1)
    device: str = param(DEFAULT_DEVICE, "auto, cpu, cuda, cuda:N or mps")
    resume: bool = param(False, "continue from the checkpoint a stopped run left beside the output")


@dataclass(frozen=True)
class ClassifyConfig(_Command):
    """What a network sees in photos (``inceptionism classify``)."""

    top: int = param(1, "classes to print per image, most likely first", low=1, high=1000)


def visualize_schema() -> dict[str, Any]:
    """The JSON schema of ``visualize --config`` (what ``--save-config`` writes, and the
    ``visualize_params`` a picture keeps): the network's and visualize's parameters, generated
    from their declarations."""
    params = [p for group in (InspectConfig, VisualizeConfig) for p in declared(group) if p.offered("cli")]
    schema = json_schema(params, "inceptionism visualize parameters")
    schema["properties"]["terms"] = {"type": "array", "items": {"type": "string"},
                                     "description": "what the pictures were of, as terms (a record: the command "
                                                    "takes LAYER TARGETS)"}
    return schema
