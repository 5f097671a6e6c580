"""Networks loaded for the service's own questions: layer lists, channel pictures and
early checks of a request's layers. Separate from the workers' copies, behind a lock,
because listing and checking run hooks on the modules. They compute on a thread of their
own that ends with the call (``runtime.on_passing_thread``): the pool of OpenMP helpers
that a request thread kept alive after computing slowed every dream on the workers by
1.6x."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any, Callable

from ..api import check_config, resolve_config
from ..config import DreamConfig
from ..errors import InceptionismError
from ..featurevis import FeatureVisConfig
from ..gallery import channel_thumbnail, channel_variants
from ..models import LoadedModel, get_spec, list_models, load_model, weights_path
from ..runtime import on_passing_thread
from ..taps import layer_info, list_layers
from ..doors.limits import ApiError, check_served

__all__ = ["Inspector", "THUMBNAIL", "VARIANTS"]

# Channel-picker pictures: small and quick, still recognisable.
THUMBNAIL = FeatureVisConfig(size=96, steps=48, seed=0)  # one fixed seed: every picker shows the same pictures
VARIANTS = 4  # different pictures of one channel, on request (about as long to draw as a batch of thumbnails)
MAX_DRAWING = 4  # batches of pictures being drawn or waiting to be; a request for another is told to come back (503)
BATCH = 16  # pictures drawn together (gallery.channel_thumbnail's neighbours)
MAX_THUMBNAILS = 3000  # pictures kept (about 10 KB each); beyond, the least recently used are removed


class Inspector:
    def __init__(self, thumbnails_dir: Path, device: str, drawing: FeatureVisConfig = THUMBNAIL, *,
                 examples: Path | None = None) -> None:
        self.thumbnails_dir, self.device, self.drawing = thumbnails_dir, device, drawing
        self.examples_dir = examples  # photos to find dataset examples in; None: the studio shows none
        # Checks and listings are quick; channel pictures take seconds. Each has its own
        # copies and lock, so a picture being drawn never holds up a new dream.
        self._lock, self._models = threading.Lock(), {}
        self._draw_lock, self._draw_models = threading.Lock(), {}
        self._pending: dict[tuple[Any, ...], threading.Event] = {}  # drawings under way, set when done
        self._pending_lock = threading.Lock()
        self._folders: dict[tuple[str, ...], Path] = {}  # where each layer's pictures (and variants) are cached
        self._warming: threading.Thread | None = None

    def warm(self, name: str) -> None:
        """Load ``name`` for checks in the background, so the first request does not wait for it.
        :meth:`close` waits for it."""

        def load() -> None:
            with self._lock:
                try:
                    self._model(name)
                except ApiError:
                    pass  # weights absent: requests get the error themselves

        self._warming = threading.Thread(target=load, name="studio-warm-up", daemon=True)  # ends when loaded
        self._warming.start()

    def close(self, timeout: float = 60.0) -> None:
        """Wait for the warm-up load. A process that exits while a thread is still inside torch
        aborts ("terminate called without an active exception", exit status 134) instead of
        ending cleanly, as a studio stopped in its first second did."""
        if self._warming is not None:
            self._warming.join(timeout)

    def models(self) -> list[dict[str, Any]]:
        rows = []
        for index, name in enumerate(list_models()):
            spec = get_spec(name)
            rows.append(
                {
                    "name": name,
                    "default": index == 0,
                    "description": spec.description,
                    "weights_source": spec.weights_source,
                    "available": weights_path(spec) is not None,
                    "min_size": spec.min_size,
                    "classes": spec.labels is not None,
                    "preset_layers": {p: spec.layers_for(p) for p in ("subtle", "classic", "deep")},
                }
            )
        return rows

    def layers(self, name: str) -> list[dict[str, Any]]:
        def listing() -> list[dict[str, Any]]:
            return [
                {"name": i.name, "channels": i.channels, "height": i.height, "width": i.width, "kind": i.kind}
                for i in list_layers(self._model(name))
            ]

        with self._lock:
            return on_passing_thread(listing)

    def thumbnail(self, name: str, layer: str, channel: int) -> Path:
        """The picture of one channel: from the cache (its time of use renewed); or drawn with its
        batch of neighbours, where fewer than ``MAX_DRAWING`` batches are being drawn (else 503
        with Retry-After); a request for a batch being drawn waits for it."""
        return self._picture((name, layer), (name, layer, channel // BATCH), channel, lambda model: channel_thumbnail(
            model, layer, channel, self.drawing, root=self.thumbnails_dir, batch=BATCH))

    def variants(self, name: str, layer: str, channel: int) -> Path:
        """``VARIANTS`` different pictures of one channel side by side (the diversity term pushes
        them apart): drawn on request, counted with the thumbnails' batches, cached after."""
        cfg = dataclasses.replace(self.drawing, pictures=VARIANTS)
        return self._picture((name, layer, "variants"), (name, layer, "variants", channel), channel,
                             lambda model: channel_variants(model, layer, channel, cfg, root=self.thumbnails_dir))

    def _picture(self, folder: tuple[str, ...], drawing: tuple[Any, ...], channel: int,
                 make: Callable[[LoadedModel], Path]) -> Path:
        """A channel's picture from the cache (``folder``: network, layer and kind), or ``make``
        with the drawing copy of the network (``drawing`` names what is drawn, for the throttle):
        on a passing thread, one drawing at a time; the cache is pruned after."""
        name, layer = folder[0], folder[1]
        known = self._folders.get(folder)
        cached = known / f"ch-{channel:04d}.png" if known is not None else None
        if cached is not None and cached.is_file():  # no drawing, no waiting, no count
            return _used(cached)

        def draw() -> Path:
            model = self._model(name, self._draw_models)
            self._checked_channels(model, name, layer, channel)
            path = make(model)
            self._folders[folder] = path.parent
            return path

        def drawn() -> Path:
            with self._draw_lock:
                path = on_passing_thread(draw)
                prune(self.thumbnails_dir, MAX_THUMBNAILS, keep=path)
                return path

        return _used(self._drawn(drawing, drawn))

    def _drawn(self, key: tuple[Any, ...], draw: Callable[[], Path]) -> Path:
        """``draw()``, where fewer than ``MAX_DRAWING`` drawings are under way (else 503 with
        Retry-After); a request for what is being drawn waits for it, then draws (from the cache)."""
        with self._pending_lock:
            drawing = self._pending.get(key)
            if drawing is None:
                if len(self._pending) >= MAX_DRAWING:
                    raise ApiError(503, f"{MAX_DRAWING} batches of channel pictures are being drawn; try again in a "
                                   "few seconds", headers={"Retry-After": "5"})
                self._pending[key] = threading.Event()
        if drawing is not None:  # being drawn: it is cached once that is done
            drawing.wait(300)
        try:
            return draw()
        finally:
            if drawing is None:
                with self._pending_lock:
                    self._pending.pop(key).set()

    def examples(self, name: str, layer: str, channel: int) -> Path:
        """The photos of the studio's photo folder that excite one channel most, as a strip
        (``gallery`` draws them the same way): every channel of the layer in one pass over the
        photos, the first time any of them is asked for; from the cache after."""
        if self.examples_dir is None:
            raise ApiError(404, "this studio has no photo folder for dataset examples; start it with "
                           "inceptionism serve --examples PHOTOS", "channel")
        folder = self.thumbnails_dir / "examples" / name.replace("/", "--") / layer
        path = folder / f"ex-{channel:04d}.jpg"
        if path.is_file():
            return _used(path)

        def scan() -> Path:
            from ..featurevis import write_layer_examples

            model = self._model(name, self._draw_models)
            self._checked_channels(model, name, layer, channel)
            write_layer_examples(model, layer, self.examples_dir, folder)  # type: ignore[arg-type]
            return path

        with self._draw_lock:
            return path if path.is_file() else on_passing_thread(scan)

    @staticmethod
    def _checked_channels(model: LoadedModel, name: str, layer: str, channel: int) -> int:
        """The layer's channel count; 404 for a layer the network lacks or a channel out of range."""
        if layer not in {info.name for info in list_layers(model)}:
            raise ApiError(404, f"no layer {layer!r} in {name}; see /api/models/{name}/layers", "layer")
        channels = layer_info(model, layer).channels
        if not 0 <= channel < channels:
            raise ApiError(404, f"channel {channel} is out of range for {layer}: 0 to {channels - 1}", "channel")
        return channels

    def check(self, cfg: DreamConfig, width: int, height: int, *, guide: bool = False) -> None:
        """The library's one validation against the network (layers, channels, classes, tile
        and picture sizes), now rather than in a failed job; ``guide``: a guide is uploaded."""
        def checking() -> None:
            model = self._model(cfg.model)
            resolved = resolve_config(cfg.replace(seed=0, guide=("upload",) if guide else ()))
            try:
                check_config(resolved, model, width, height)
            except InceptionismError as exc:
                raise ApiError(422, str(exc), exc.field) from None

        with self._lock:
            on_passing_thread(checking)

    def _model(self, name: str, models: dict[str, LoadedModel] | None = None) -> LoadedModel:
        models = self._models if models is None else models
        if name not in models:
            check_served(name, 404)
            models[name] = load_model(name, device=self.device, cache=False)
        return models[name]


def _used(path: Path) -> Path:
    """``path``, its time renewed: the cache keeps the most recently used pictures."""
    try:
        path.touch()
    except OSError:
        pass
    return path


def prune(folder: Path, most: int, *, keep: Path | None = None) -> int:
    """Remove the least recently used pictures under ``folder`` until at most ``most`` are left
    (``keep`` is never removed); returns how many went."""
    pictures = []
    for path in folder.rglob("ch-*.png"):
        try:
            pictures.append((path.stat().st_mtime, path))
        except OSError:
            pass  # removed meanwhile
    if len(pictures) <= most:
        return 0
    pictures.sort()
    gone = 0
    for _, path in pictures[: len(pictures) - most]:
        if path != keep:
            path.unlink(missing_ok=True)
            gone += 1
    return gone
