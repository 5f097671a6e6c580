"""What a front door that takes requests from others accepts (the studio's HTTP API today):
upload checks, the parameters a request may name and their ranges, and a dream's cost bound.
Nothing here knows HTTP but the status numbers in its refusals.

Every refusal is an :class:`ApiError`: an HTTP status, one line saying what was wrong
and what is allowed, and the name of the offending field.
"""

from __future__ import annotations

import io
import json
import re
import zlib
from dataclasses import asdict, dataclass
from typing import Any, Callable

from PIL import Image, UnidentifiedImageError

from ..config import DreamConfig, dream_params, layered, parameters_named
from ..errors import ConfigError, cause
from ..formats import FORMATS, fit_longest_side
from ..command_config import ServeConfig, VisualizeConfig
from ..declare import Param, declared
from ..models import get_spec, list_models, weights_path

__all__ = ["as_given", "ApiError", "Limits", "Upload", "check_upload", "check_params", "check_served", "check_work",
           "check_picture_request", "work"]

# Formats sniffed from the bytes (never the file name) that a dream may start from, and the
# extension the upload is stored under.
IMAGE_FORMATS = {name: suffixes[0] for name, (suffixes, _) in FORMATS.items()}
# Parameters that name files or machines on the server: a request sends files instead.
SERVER_ONLY = {
    "guide": "send the guide image as the file field 'guide'",
    "mask": "send the mask image as the file field 'mask'",
    "device": "the server chooses the device (inceptionism serve --device)",
    "precision": "the server chooses its arithmetic (auto: the rule for its hardware)",
    "weights": "the server dreams with each network's own weights (files on the server are not reachable)",
    "config": "send the parameters themselves, flat",
}


RETRY_AFTER_S = 30  # what a refused client is told to wait: about ten dreams' time on a CPU


class ApiError(Exception):
    """A refused request: ``status`` (4xx), a one-line ``message`` and the ``field`` at fault."""

    def __init__(self, status: int, message: str, field: str | None = None, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field, self.headers = status, message, field, headers


@dataclass(frozen=True)
class Limits:
    """The most a single request may ask of the server."""

    max_upload_bytes: int = 25_000_000  # a whole request body
    max_pixels: int = 50_000_000  # pixels of an uploaded image (decompression bombs)
    max_side: int = 2048  # longest side a dream runs at; larger uploads are scaled down to it
    max_octave_side: int = 4096  # longest side of the largest octave (octave_range above 0 grows it)
    max_steps: int = 200  # steps per octave
    max_octaves: int = 12  # octaves in a plan
    max_jitter: int = 512  # pixels
    max_queued: int = ServeConfig.max_queued  # jobs waiting; more are refused with 429
    min_tile_size: int = 128  # smaller tiles only cost: each pass through the network has a fixed price
    max_work: float = 1000.0  # the dream's cost (work()), in million pixel-steps: about 14 min on 2 Zen 4 cores
    # pictures of units (the channel picker's "grow pictures"): drawn while the request waits
    max_picture_side: int = 512
    max_picture_steps: int = 512  # steps in all (pixel: octaves x steps)
    max_pictures: int = 8  # targets x pictures per target, in one request
    max_picture_work: float = 96.0  # million pixel-steps, passes' fixed price included: about 45 s on 2 cores
    max_picture_pass: int = 8 * 512 * 512  # pixels the network sees in one pass (memory): 8 pictures of 512 px

    def public(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Upload:
    """A checked image upload: its bytes, sniffed format and size."""

    data: bytes
    extension: str  # from the sniffed format, e.g. ".png"
    width: int
    height: int


def check_upload(data: bytes, field: str, limits: Limits) -> Upload:
    """Check that ``data`` is an image of an allowed format and size (sniffed, not trusted).

    Only the header is read and the file's structure verified (Pillow's ``verify``): no
    pixel is decoded here, so a small file that claims many pixels costs the request
    handler nothing. The worker decodes it once, under the size limits.
    """
    if not data:
        raise ApiError(422, f"the {field} file is empty; send a PNG, JPEG, WebP, GIF, BMP or TIFF image", field)
    if len(data) > limits.max_upload_bytes:
        raise ApiError(413, f"{field} is {len(data):,} bytes; at most {limits.max_upload_bytes:,} are allowed", field)
    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt, (width, height) = im.format, im.size
            if fmt not in IMAGE_FORMATS:
                raise ApiError(415, f"the {field} file is {fmt} data; allowed: {', '.join(IMAGE_FORMATS)}", field)
            if width * height > limits.max_pixels:  # checked before decoding a single pixel
                raise ApiError(
                    413,
                    f"{field} is {width}x{height} = {width * height / 1e6:.0f} MP; "
                    f"at most {limits.max_pixels / 1e6:.0f} MP are allowed",
                    field,
                )
            im.verify()
        _check_whole(data, fmt, width, height)
    except ApiError:
        raise
    except Image.DecompressionBombError as exc:  # Pillow's own guard, hit before ours for huge claims
        found = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(found.group(1)) / 1e6:.0f} MP" if found else "too many pixels"
        raise ApiError(413, f"{field} is {size}; at most {limits.max_pixels / 1e6:.0f} MP are allowed", field) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        kind = "not an image" if isinstance(exc, UnidentifiedImageError) else f"a broken image ({cause(exc)})"
        raise ApiError(415, f"the {field} file is {kind}; send a PNG, JPEG, WebP, GIF, BMP or TIFF image", field) from None
    return Upload(data, IMAGE_FORMATS[fmt], width, height)


def _check_whole(data: bytes, fmt: str, width: int, height: int) -> None:
    """Raise ValueError when ``data`` is cut short where Pillow's ``verify`` does not look: a PNG
    whose compressed pixels end early (its chunks whole), a JPEG without its end marker after
    the last scan. Costs one pass of zlib over a PNG's data, no decoding of pixels."""
    if fmt == "PNG":
        stream, at, inflated = zlib.decompressobj(), 8, 0
        try:
            while at + 8 <= len(data):
                length, kind = int.from_bytes(data[at : at + 4], "big"), data[at + 4 : at + 8]
                if kind == b"IDAT":
                    inflated += len(stream.decompress(data[at + 8 : at + 8 + length], 1 << 20))
                    while stream.unconsumed_tail and not stream.eof:
                        inflated += len(stream.decompress(stream.unconsumed_tail, 1 << 20))
                at += 12 + length
        except zlib.error as exc:
            raise ValueError(f"its pixel data is damaged ({exc})") from None
        if not stream.eof or inflated < height:  # every row has at least its filter byte
            raise ValueError(f"its pixel data ends early ({inflated:,} bytes of a {width}x{height} picture)")
    elif fmt == "JPEG":
        last_scan = data.rfind(b"\xff\xda")
        if last_scan < 0 or data.rfind(b"\xff\xd9") < last_scan:
            raise ValueError("it ends before its last scan does")


Files = frozenset[str] | Callable[[], frozenset[str]]  # the files terms may name, or what finds them


def check_params(text: str | dict[str, Any] | None, limits: Limits, *, command: dict[str, Any] | None = None,
                 files: Files = frozenset()) -> tuple[dict[str, Any], DreamConfig]:
    """Parse the ``params`` field: a flat JSON object of the parameters the studio offers
    (or that object, parsed already).

    Any other key, any nested value and any server-side setting (files, device,
    precision, weights) is refused with 422 naming the field; files come as uploads.
    ``command``: a kind of work's own defaults under the parameters (live frames' size).
    ``files``: the files on this machine that terms may name (a concept's dictionary); any
    other is refused before the text is parsed, so a request cannot make the server read,
    or say anything about, a file it chose.

    Returns:
        The parameters as given (stored with the job) and the config they make, layered
        as everywhere else (before the server fills in uploads and the device).
    """
    if isinstance(text, dict):
        params: Any = text
    elif text is None or not text.strip():
        params = {}
    else:
        try:
            params = json.loads(text)
        except (ValueError, RecursionError) as exc:
            where = f" at position {exc.pos}" if isinstance(exc, json.JSONDecodeError) else ""
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "too deeply nested or too large a number"
            raise ApiError(422, f"params is not valid JSON ({reason}{where})", "params") from None
    if not isinstance(params, dict):
        raise ApiError(422, f"params must be a JSON object, got {type(params).__name__}", "params")
    used = _offered_keys(params)
    check_file_terms(params.get(next((k for k, v in used.items() if v == "layers"), ""), ""), files, "layers")
    try:
        cfg = layered(explicit={used[key]: value for key, value in params.items()}, command=command)
    except ConfigError as exc:
        raise ApiError(422, str(exc), as_given(exc.field or "params", params)) from None
    _check_ranges(cfg, limits)
    return params, cfg


def check_file_terms(text: Any, files: Files, field: str) -> None:
    """Refuse (422) a term of ``text`` that names a file not in ``files`` (asked for only when
    a term names one).

    Raises:
        ApiError: naming the term and the files this door offers."""
    from ..objectives import file_terms

    named = file_terms(text)
    offered = (files() if callable(files) else files) if named else frozenset()
    for term, path in named:
        if path not in offered:
            where = (f"; it offers {len(offered)} here: GET /api/concepts lists them" if offered else
                     "; it offers none here (inceptionism serve --concepts FOLDER; the live view takes none)")
            raise ApiError(422, f"{field}: {term!r} names a file {path!r} this studio does not offer{where}", field)


def as_given(field: str | None, params: dict[str, Any]) -> str | None:
    """The key a request used for the parameter ``field`` (its alias, such as "class", if it used one)."""
    for p in dream_params("studio"):
        if p.name == field:
            return next((alias for alias in p.aliases if alias in params), field)
    return field


def _offered_keys(params: dict[str, Any]) -> dict[str, str]:
    """Each key of ``params`` to the parameter it names; refuses what the studio does not offer."""
    for key in params:
        if key in SERVER_ONLY:
            raise ApiError(422, f"params may not set {key!r}: {SERVER_ONLY[key]}", key)
    try:
        named = parameters_named(params, door="studio")
    except ConfigError as exc:
        raise ApiError(422, str(exc), exc.field) from None
    used = {}
    for key, value in params.items():
        _check_plain(key, value, named[key])
        used[key] = named[key].name
    return used


def _check_plain(key: str, value: Any, p: Param) -> None:
    """A request's value for ``p``: a plain JSON value, or a flat list where ``p`` takes a pair."""
    if isinstance(value, dict) or (isinstance(value, list) and p.kind is not tuple):
        raise ApiError(422, f"{key} must be a plain value, not a JSON {type(value).__name__}", key)
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        raise ApiError(422, f"{key} must be a flat list", key)


def check_served(name: str, status: int, *, weights: bool = True) -> None:
    """Refuse (with ``status``) a network this server does not offer, or, when ``weights``,
    one whose own weights are not on this machine."""
    if name not in list_models():
        raise ApiError(status, f"model {name!r} is not served; available: {', '.join(list_models())}", "model")
    if weights and weights_path(get_spec(name)) is None:
        raise ApiError(status, f"the weights of {name} are not on this server (inceptionism models fetch {name})", "model")


def _check_ranges(cfg: DreamConfig, limits: Limits) -> None:
    check_served(cfg.model, 422)
    _at_most("steps", max(cfg.steps) if isinstance(cfg.steps, tuple) else cfg.steps, limits.max_steps)
    _at_most("octaves", len(cfg.octave_indices()), limits.max_octaves)
    _at_most("jitter", max(cfg.jitter) if isinstance(cfg.jitter, tuple) else cfg.jitter, limits.max_jitter)
    if cfg.max_size is not None:
        _at_most("max_size", cfg.max_size, limits.max_side)
    if cfg.size is not None:
        _at_most("size", max(cfg.size), limits.max_side)
    if cfg.tile_size is not None:
        _at_most("tile_size", cfg.tile_size, limits.max_octave_side)
        if cfg.tile_size < limits.min_tile_size:
            raise ApiError(422, f"tile_size {cfg.tile_size} is under this server's least of {limits.min_tile_size}; "
                           "smaller tiles only make a dream slower", "tile_size")


def check_work(cfg: DreamConfig, width: int, height: int, limits: Limits) -> DreamConfig:
    """Fit the dream to the limits for a ``width`` x ``height`` start: scale big uploads down,
    refuse octaves that would grow past ``max_octave_side``."""
    if cfg.max_size is None and max(width, height) > limits.max_side:
        cfg = cfg.replace(max_size=limits.max_side)
    side = min(max(width, height), cfg.max_size or max(width, height))
    from ..engine import octave_factors

    largest = side * max(1.0, max(factor for _, factor in octave_factors(cfg.octave_indices(), cfg.octave_scale)))
    if largest > limits.max_octave_side:
        raise ApiError(
            422,
            f"the largest octave would be {largest:,.0f} px on its longer side; at most "
            f"{limits.max_octave_side} px are allowed (lower octave_range, octave_scale or max_size)",
            "octave_range",
        )
    cost = work(cfg, *fit_longest_side(width, height, side))
    if cost > limits.max_work:
        raise ApiError(
            422,
            f"this dream would cost {cost:,.0f} million pixel-steps (each octave's pixels and tiles times its steps); "
            f"this server takes at most {limits.max_work:,.0f}: lower steps, octaves or max_size, or raise tile_size",
            "steps",
        )
    return cfg


# A pass through the network costs about this many pixels' work whatever the tile's size (its
# layers' fixed costs): 33 ms a tile against 0.82 us a pixel for Lite0 on a Zen 4 (docs/security.md).
TILE_OVERHEAD_PX = 40_000
CPU_TILE = 1024  # the tile an automatic tile size comes to on a CPU, at most (engine.tiles)


def work(cfg: DreamConfig, width: int, height: int) -> float:
    """What a dream of ``width`` x ``height`` costs, in million pixel-steps: over its octaves,
    the steps times the pixels plus a fixed price per tile. Counted before any work, from the
    configuration alone (an automatic tile size is taken at its CPU cap)."""
    from ..engine import plan_octaves
    from ..engine.tiles import split_even

    tile = cfg.tile_size or CPU_TILE
    plan, _ = plan_octaves(height, width, cfg.octave_indices(), cfg.octave_scale, 1)
    total = 0.0
    for octave in plan:
        tiles = len(split_even(octave.height, tile)) * len(split_even(octave.width, tile))
        total += cfg.for_octave(octave.k).steps * (octave.height * octave.width + tiles * TILE_OVERHEAD_PX)
    return total / 1e6


def _at_most(name: str, value: int, limit: int) -> None:
    if value > limit:
        raise ApiError(422, f"{name} {value} is over this server's limit of {limit}", name)


MAX_PICTURE_BODY = 16_384  # bytes of a pictures request: targets and a handful of parameters


def check_picture_request(body: bytes, limits: Limits, *, layer: str = "",
                          files: Files = frozenset()) -> tuple[str, VisualizeConfig]:
    """A request for pictures of units (``{"targets": "7,3+7", "params": {...}}``: visualize's
    parameters the studio offers), checked before any work: 413 for a large body, 422 naming
    the field for anything else, the limits' bounds on side, steps, pictures and work included.
    The targets themselves are checked against the network when it is loaded; those that
    name a file (a concept's dictionary, with ``layer`` "concept") must name one of ``files``."""
    if len(body) > MAX_PICTURE_BODY:
        raise ApiError(413, f"a pictures request is at most {MAX_PICTURE_BODY:,} bytes", "params")
    try:
        given = json.loads(body or b"{}")
    except (ValueError, RecursionError):
        raise ApiError(422, "a pictures request is a JSON object: {\"targets\": \"7,3+7\", \"params\": {...}}",
                       "params") from None
    if not isinstance(given, dict) or set(given) - {"targets", "params"}:
        raise ApiError(422, "a pictures request is a JSON object of targets and params, nothing else", "params")
    targets, params = given.get("targets"), given.get("params", {})
    if not isinstance(targets, str) or not targets.strip() or len(targets) > 1000:
        raise ApiError(422, "targets must be text such as 7,3+7 (or class names), at most 1,000 characters",
                       "targets")
    from ..objectives import split_terms

    check_file_terms(",".join(f"{layer}:{t.strip()}" for t in split_terms(targets)), files, "targets")
    if targets.strip() == "all":
        raise ApiError(422, f"all would grow every channel; the studio grows at most {limits.max_pictures} "
                       "pictures a request: name them", "targets")
    if not isinstance(params, dict):
        raise ApiError(422, f"params must be a JSON object, got {type(params).__name__}", "params")
    offered = {p.name: p for p in declared(VisualizeConfig) if p.offered("studio")}
    for key, value in params.items():
        if key not in offered:
            raise ApiError(422, f"params may not set {key!r}; the studio offers {', '.join(offered)}", key)
        _check_plain(key, value, offered[key])
    from ..featurevis.transforms import transforms_load

    try:
        cfg = VisualizeConfig(**params)
        # auto stands for crops or noisy-crops: one load either way
        copies, padded = transforms_load(cfg.transforms) if cfg.param != "pixel" else (1, 0)
    except ConfigError as exc:
        raise ApiError(422, str(exc), exc.field or "params") from None
    steps = cfg.steps_or_default() * (cfg.octaves if cfg.param == "pixel" else 1)
    count = len([t for t in targets.split(",") if t.strip()])
    pictures = count * cfg.diversity
    _at_most("size", cfg.size, limits.max_picture_side)
    if steps > limits.max_picture_steps:
        what = (f"{steps} steps in all ({cfg.octaves} octaves x {cfg.steps_or_default()} steps)" if cfg.param == "pixel"
                else f"{steps} steps")
        raise ApiError(422, f"{what} are over this server's limit of {limits.max_picture_steps}", "steps")
    if pictures > limits.max_pictures:
        raise ApiError(422, f"{pictures} pictures ({count} targets x {cfg.diversity} each) are over this server's "
                       f"limit of {limits.max_pictures} a request", "targets")
    seen = pictures * copies * (cfg.size + 2 * padded) ** 2  # what the network sees in a pass, all pictures together
    if seen > limits.max_picture_pass:
        raise ApiError(422, f"the network would see {seen:,} pixels at once (pictures x the transforms' copies x the "
                       f"padded side squared); at most {limits.max_picture_pass:,}: fewer, smaller pictures, fewer "
                       "crops or less padding", "transforms")
    passes = steps * (pictures if cfg.param == "pixel" else 1)  # pixel ascent grows one picture at a time
    cost = (seen * steps + passes * TILE_OVERHEAD_PX) / 1e6
    if cost > limits.max_picture_work:
        raise ApiError(422, f"these pictures would cost {cost:,.0f} million pixel-steps (what the network sees times "
                       f"the steps, and each pass's fixed price); this server takes at most "
                       f"{limits.max_picture_work:,.0f}: fewer, smaller or fewer steps", "steps")
    return targets, cfg
