"""Dream parameters: one dataclass, presets, validation and JSON round-trip.

Every field has one name across the library, the command line (``--step-size`` is
``step_size``), config files and the HTTP API.

Precedence when parameters come from several places, lowest first:
field defaults < preset < config file < explicit arguments (flags).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from .errors import ConfigError

__all__ = ["DreamConfig", "PRESETS", "OBJECTIVES", "GRAD_NORMS", "PRECISIONS", "parse_octave_range", "parse_size"]

OBJECTIVES = ("l2", "mean")
GRAD_NORMS = ("mean-abs", "std")
PRECISIONS = ("fp32", "bf16")

# Presets set engine parameters only; which layers each preset dreams on is a fact of
# the model (ModelSpec.preset_layers), because layer names differ between networks.
PRESETS: dict[str, dict[str, Any]] = {
    # Gentle texture: earlier layers, few steps, a light touch.
    "subtle": {"octaves": 3, "octave_scale": 1.4, "steps": 8, "step_size": 0.006, "smooth": 1.5},
    # The look people know: eyes, fur and arches on mid-level layers.
    "classic": {"octaves": 4, "octave_scale": 1.4, "steps": 12, "step_size": 0.008, "smooth": 2.5},
    # Strong: eyes and dog faces everywhere.
    "deep": {"octaves": 4, "octave_scale": 1.4, "steps": 14, "step_size": 0.012, "smooth": 2.5},
}


@dataclass(frozen=True)
class DreamConfig:
    """Parameters of one dream. Defaults are the ``classic`` preset on the default model.

    Example:
        >>> cfg = DreamConfig.from_preset("deep", steps=6)
        >>> cfg.steps, cfg.octaves
        (6, 4)
    """

    model: str = "efficientnet-lite0"  # network name (see `inceptionism models`)
    weights: str | None = None  # None = the model's own weights; "random"; or a checkpoint file
    layers: str | None = None  # "LAYER[:CHANNEL][*WEIGHT],..."; None = the model's layers for the preset
    objective: str = "l2"  # per layer: "l2" = mean of squared activations, "mean" = plain mean
    octaves: int = 4  # number of octaves, the smallest first; ignored when octave_range is set
    octave_scale: float = 1.4  # size ratio between neighbouring octaves (> 1)
    octave_range: tuple[int, int] | None = None  # inclusive (LO, HI); octave k is scaled by octave_scale**k
    steps: int = 12  # gradient-ascent steps per octave
    step_size: float = 0.008  # step in pixel units (0..1) of the normalized gradient
    jitter: int = 32  # random roll of up to this many pixels each step (0 = off)
    grad_norm: str = "mean-abs"  # divide the gradient by its mean |g| ("mean-abs") or its std ("std")
    smooth: float = 2.5  # final sigma of the gradient smoothing (rises from smooth/5 over an octave); 0 = off
    lapnorm: bool = False  # Laplacian-pyramid normalization of the gradient (classic lap_normalize)
    lapnorm_levels: int = 4  # levels of that pyramid
    tile_size: int | None = None  # gradient tile side in pixels; None = chosen from image size and memory
    max_size: int | None = None  # shrink the input so its longer side is at most this; None = keep
    size: tuple[int, int] | None = None  # (width, height) of a dream from noise; None = 512x512
    target_class: str | None = None  # class to dream into the picture (name or index); CLI --class
    avoid_class: str | None = None  # classes to suppress: names, indices or a group such as "dog"
    avoid_weight: float = 1.0  # strength of that suppression
    guide: tuple[str, ...] = ()  # guide image paths: grow what each region best matches in them
    guide_weight: float = 1.0  # weight of the guide objective
    mask: str | None = None  # greyscale image: white = dream fully, black = leave untouched
    seed: int | None = None  # random seed (jitter, tiles, noise); None = a fresh one, recorded in the output
    device: str = "auto"  # "auto", "cpu", "cuda", "cuda:N" or "mps"
    precision: str = "fp32"  # the network's arithmetic: "fp32", or "bf16" (autocast; image and gradient stay fp32)
    preset: str | None = "classic"  # name of the preset these values started from (informational)

    def __post_init__(self) -> None:
        # Accept the string forms the CLI and JSON use, and store one canonical form.
        if isinstance(self.octave_range, (str, list)):
            object.__setattr__(self, "octave_range", parse_octave_range(self.octave_range))
        if isinstance(self.size, (str, list)):
            object.__setattr__(self, "size", parse_size(self.size))
        if isinstance(self.guide, str):
            object.__setattr__(self, "guide", (self.guide,))
        elif isinstance(self.guide, list):
            object.__setattr__(self, "guide", tuple(self.guide))
        if isinstance(self.target_class, int) and not isinstance(self.target_class, bool):
            object.__setattr__(self, "target_class", str(self.target_class))
        if isinstance(self.layers, (list, tuple)):
            object.__setattr__(self, "layers", ",".join(str(t) for t in self.layers))
        for name in ("octave_scale", "step_size", "smooth", "avoid_weight", "guide_weight"):
            value = getattr(self, name)
            if isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, name, float(value))
        self._validate()

    # --- construction ---------------------------------------------------------------

    @classmethod
    def from_preset(cls, preset: str = "classic", **overrides: Any) -> "DreamConfig":
        """Build a config from a preset, with explicit overrides on top."""
        return cls.from_dict({**_preset_values(preset), "preset": preset, **overrides})

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "DreamConfig":
        """Build a config from a mapping; unknown keys are an error naming the nearest field.

        A mapping that holds a ``"config"`` key (an output's embedded metadata) is
        read from that key.
        """
        if "config" in values and isinstance(values["config"], Mapping):
            values = values["config"]
        if "class" in values:  # the CLI flag's name; the field cannot be called "class"
            values = {("target_class" if k == "class" else k): v for k, v in values.items()}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = [k for k in values if k not in known]
        if unknown:
            key = unknown[0]
            near = difflib.get_close_matches(key, sorted(known), n=3)
            hint = f"; did you mean {', '.join(near)}?" if near else f"; valid keys: {', '.join(sorted(known))}"
            raise ConfigError(f"unknown parameter {key!r}{hint}")
        return cls(**dict(values))

    @classmethod
    def from_params(cls, values: Mapping[str, Any]) -> "DreamConfig":
        """Build a config from parameters that may name a ``preset`` (default "classic";
        None = no preset, field defaults only), the way API requests give them."""
        params = dict(values)
        preset = params.pop("preset", "classic")
        return cls.from_dict({**params, "preset": None}) if preset is None else cls.from_preset(preset, **params)

    @classmethod
    def from_file(cls, path: str | Path) -> "DreamConfig":
        """Read a JSON config, or the parameters embedded in an image this tool wrote."""
        return cls.from_dict(load_config_mapping(path))

    def replace(self, **changes: Any) -> "DreamConfig":
        """A copy with some fields changed (validated)."""
        return dataclasses.replace(self, **changes)

    def with_preset(self, preset: str) -> "DreamConfig":
        """A copy with a preset's values applied over this config."""
        return self.replace(**_preset_values(preset), preset=preset)

    # --- serialization ----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        for key in ("octave_range", "size", "guide"):
            if out[key] is not None:
                out[key] = list(out[key])
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    # --- derived values -----------------------------------------------------------------

    def octave_indices(self) -> list[int]:
        """Octave exponents, smallest image first: octave k is scaled by ``octave_scale**k``."""
        if self.octave_range is not None:
            lo, hi = self.octave_range
            return list(range(lo, hi + 1))
        return list(range(-(self.octaves - 1), 1))

    # --- validation -------------------------------------------------------------------

    def _validate(self) -> None:
        _check_int(self, "octaves", 1, 64)
        _check_int(self, "steps", 1, 100_000)
        _check_int(self, "jitter", 0, 100_000)
        _check_int(self, "lapnorm_levels", 1, 12)
        _check_float(self, "octave_scale", 1.0, 8.0, low_open=True)
        _check_float(self, "step_size", 0.0, 10.0, low_open=True)
        _check_float(self, "smooth", 0.0, 64.0)
        if self.tile_size is not None:
            _check_int(self, "tile_size", 1, 1_000_000)
        if self.max_size is not None:
            _check_int(self, "max_size", 1, 1_000_000)
        if self.seed is not None:
            _check_int(self, "seed", 0, 2**63 - 1)
        if self.objective not in OBJECTIVES:
            raise ConfigError(f"objective {self.objective!r} is not one of {', '.join(OBJECTIVES)}")
        if self.grad_norm not in GRAD_NORMS:
            raise ConfigError(f"grad_norm {self.grad_norm!r} is not one of {', '.join(GRAD_NORMS)}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision {self.precision!r} is not one of {', '.join(PRECISIONS)}")
        if not isinstance(self.lapnorm, bool):
            raise ConfigError(f"lapnorm must be true or false, got {self.lapnorm!r}")
        if not isinstance(self.model, str) or not self.model:
            raise ConfigError(f"model must be a model name, got {self.model!r}")
        if self.layers is not None and (not isinstance(self.layers, str) or not self.layers.strip()):
            raise ConfigError(f"layers must be a non-empty 'LAYER[:CHANNEL][*WEIGHT],...' list, got {self.layers!r}")
        if self.weights is not None and (not isinstance(self.weights, str) or not self.weights):
            raise ConfigError(f"weights must be 'random' or a checkpoint path, got {self.weights!r}")
        if not isinstance(self.device, str):
            raise ConfigError(f"device must be a string such as 'auto' or 'cpu', got {self.device!r}")
        if self.preset is not None and self.preset not in PRESETS:
            raise ConfigError(f"preset {self.preset!r} is not one of {', '.join(PRESETS)}")
        self._validate_steering()
        if self.octave_range is not None:
            lo, hi = self.octave_range
            if hi - lo >= 64:
                raise ConfigError(f"octave_range {lo}:{hi} spans {hi - lo + 1} octaves; at most 64 are allowed")
        if self.size is not None:
            w, h = self.size
            if w < 1 or h < 1 or w * h > 100_000_000:
                raise ConfigError(f"size {w}x{h} is not allowed: both sides >= 1 and at most 100 megapixels")


    def _validate_steering(self) -> None:
        _check_float(self, "avoid_weight", 0.0, 1000.0)
        _check_float(self, "guide_weight", 0.0, 1000.0)
        for name in ("target_class", "avoid_class", "mask"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ConfigError(f"{name} must be a non-empty string, got {value!r}")
        if not all(isinstance(path, str) and path for path in self.guide):
            raise ConfigError(f"guide must be a list of image paths, got {self.guide!r}")

def _preset_values(preset: str) -> dict[str, Any]:
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    return dict(PRESETS[preset])


def _check_int(cfg: DreamConfig, name: str, low: int, high: int) -> None:
    value = getattr(cfg, name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise ConfigError(f"{name} = {value} is out of range; allowed: {low} to {high}")


def _check_float(cfg: DreamConfig, name: str, low: float, high: float, *, low_open: bool = False) -> None:
    value = getattr(cfg, name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    too_low = value <= low if low_open else value < low
    if too_low or value > high:
        bound = f"greater than {low}" if low_open else f"at least {low}"
        raise ConfigError(f"{name} = {value} is out of range; it must be {bound} and at most {high}")


def parse_octave_range(text: str | list | tuple) -> tuple[int, int]:
    """Parse ``"LO:HI"`` (inclusive, e.g. ``"-4:2"``) or a pair into ``(lo, hi)``."""
    try:
        if isinstance(text, str):
            lo_text, hi_text = text.split(":")
            lo, hi = int(lo_text), int(hi_text)
        else:
            lo, hi = (int(v) for v in text)
    except (ValueError, TypeError):
        raise ConfigError(f"octave_range {text!r} is not of the form LO:HI with whole numbers, e.g. -4:2") from None
    if lo > hi:
        raise ConfigError(f"octave_range {lo}:{hi} is empty: LO must not exceed HI")
    return lo, hi


def parse_size(text: str | list | tuple) -> tuple[int, int]:
    """Parse ``"WxH"`` (e.g. ``"640x480"``) or a pair into ``(width, height)``."""
    try:
        if isinstance(text, str):
            w_text, h_text = text.lower().split("x")
            w, h = int(w_text), int(h_text)
        else:
            w, h = (int(v) for v in text)
    except (ValueError, TypeError):
        raise ConfigError(f"size {text!r} is not of the form WxH, e.g. 640x480") from None
    if w < 1 or h < 1:
        raise ConfigError(f"size {text!r} must have both sides of at least 1 pixel")
    return w, h


def load_config_mapping(path: str | Path) -> dict[str, Any]:
    """Read a config mapping from a JSON file or from an image's embedded parameters."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {str(path)!r}: {exc.strerror or exc}") from None
    if raw[:1] in (b"{", b" ", b"\n", b"\t", b"\r"):
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"config file {str(path)!r} is not valid JSON: {exc}") from None
    else:
        from .images import read_metadata  # images imports nothing from here at module level

        data = read_metadata(path)
        if data is None:
            raise ConfigError(f"{str(path)!r} is neither a JSON config nor an image with inceptionism parameters")
    if not isinstance(data, dict):
        raise ConfigError(f"config file {str(path)!r} must hold a JSON object, not {type(data).__name__}")
    return data
