"""Networks loaded for the service's own questions: layer lists, channel pictures, dataset
examples and early checks of a request's layers. Separate from the workers' copies, behind a
lock, because listing and checking run hooks on the modules. They compute on a thread of their
own that ends with the call (``runtime.on_passing_thread``): the pool of OpenMP helpers that a
request thread kept alive after computing slowed every dream on the workers by 1.6x. Pictures
and example scans are :class:`~inceptionism.service.drawings.Drawings`: awaited, not waited
for on a request thread, bounded, and cancelled when nobody waits for them."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any, Awaitable, Callable

from ..api import check_config, resolve_config
from ..command_config import VISUALIZE_RECIPE, VisualizeConfig
from ..config import DreamConfig
from ..errors import InceptionismError
from ..featurevis import FeatureVisConfig
from ..gallery import channel_thumbnail, channel_variants
from ..models import LoadedModel, get_spec, list_models, load_model, weights_path
from ..runtime import on_passing_thread
from ..taps import layer_info, list_layers
from ..doors.limits import ApiError, check_served
from ..engine import Callbacks
from ..objectives import term_text
from ..steering import unit_terms
from ..unit_pictures import visualize_targets
from .drawings import DrawingCancelled, Drawings

__all__ = ["Inspector", "THUMBNAIL", "VARIANTS"]

# Channel-picker pictures: small and quick, still recognisable.
THUMBNAIL = FeatureVisConfig(size=96, steps=48, seed=0)  # one fixed seed: every picker shows the same pictures
VARIANTS = 4  # different pictures of one channel, on request (about as long to draw as a batch of thumbnails)
MAX_DRAWING = 4  # drawings (a batch of pictures, a layer's example scan) under way or queued; beyond, 503
MAX_WAITING = 32  # requests waiting for drawings, all together; beyond, 503
BATCH = 16  # pictures drawn together (gallery.channel_thumbnail's neighbours)
# Pictures kept, thumbnails, variants and example strips together (10-15 KB each); beyond, the
# least recently used go: a picture alone, or a layer's strips all together (they are made in one scan).
MAX_THUMBNAILS = 3000

Gone = Callable[[], Awaitable[Any]]  # returns when the request's client has left


class Inspector:
    def __init__(self, thumbnails_dir: Path, device: str, drawing: FeatureVisConfig = THUMBNAIL, *,
                 examples: Path | None = None) -> None:
        self.thumbnails_dir, self.device, self.drawing = thumbnails_dir, device, drawing
        self.examples_dir = examples  # photos to find dataset examples in; None: the studio shows none
        # Checks and listings are quick; channel pictures take seconds. Each has its own
        # copies and lock, so a picture being drawn never holds up a new dream.
        self._lock, self._models = threading.Lock(), {}
        self._draw_models: dict[str, LoadedModel] = {}  # used by the drawings' one thread alone
        self._drawings = Drawings(MAX_DRAWING, MAX_WAITING)
        self._folders: dict[tuple[str, ...], Path] = {}  # where each layer's pictures (and variants) are cached
        self._channels: dict[tuple[str, str], int] = {}  # (network, layer) -> its channel count, once drawn
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

    def stop_drawings(self) -> None:
        """Cancel every drawing now, and refuse new ones (503): the studio is stopping."""
        self._drawings.close(timeout=0)

    def close(self, timeout: float = 60.0) -> None:
        """Cancel the drawings (the one under way stops at its next step or photo) and wait for
        it and the warm-up load. A process that exits while a thread is still inside torch
        aborts ("terminate called without an active exception", exit status 134) instead of
        ending cleanly, as a studio stopped in its first second did."""
        self._drawings.close(timeout)
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

    async def thumbnail(self, name: str, layer: str, channel: int, gone: Gone) -> Path:
        """The picture of one channel: from the cache (its time of use renewed), or drawn with its
        batch of neighbours (:class:`~inceptionism.service.drawings.Drawings`: off the request
        threads, bounded, 503 with Retry-After beyond); ``gone()`` returns when the client leaves.
        Requests for channels of one batch share its drawing."""
        folder = (name, layer)
        return await self._channel_picture(
            name, layer, channel, gone, key=(name, layer, channel // BATCH), shared=True,
            find=lambda: self._cached(folder, channel),
            make=lambda model, on_step: self._remember(folder, channel_thumbnail(
                model, layer, channel, self.drawing, root=self.thumbnails_dir, batch=BATCH, on_step=on_step)))

    async def variants(self, name: str, layer: str, channel: int, gone: Gone) -> Path:
        """``VARIANTS`` different pictures of one channel side by side (the diversity term pushes
        them apart): drawn on request, counted with the other drawings, cached after."""
        cfg = dataclasses.replace(self.drawing, pictures=VARIANTS)
        folder = (name, layer, "variants")
        return await self._channel_picture(
            name, layer, channel, gone, key=(name, layer, "variants", channel), shared=False,
            find=lambda: self._cached(folder, channel),
            make=lambda model, on_step: self._remember(folder, channel_variants(
                model, layer, channel, cfg, root=self.thumbnails_dir, on_step=on_step)))

    async def examples(self, name: str, layer: str, channel: int, gone: Gone) -> Path:
        """The photos of the studio's photo folder that excite one channel most, as a strip
        (``gallery`` draws them the same way): every channel of the layer in one pass over the
        photos, the first time any of them is asked for, counted with the drawings (and
        stopped at the next photo when nobody waits for it any more); from the cache after."""
        if self.examples_dir is None:
            raise ApiError(404, "this studio has no photo folder for dataset examples; start it with "
                           "inceptionism serve --examples PHOTOS", "channel")
        if any(part in (".", "..") or "\\" in part for part in (name, layer)) or "/" in layer:
            raise ApiError(404, f"no layer {layer!r} in {name}; see /api/models/{name}/layers", "layer")
        folder = self.thumbnails_dir / "examples" / name.replace("/", "--") / layer
        path = folder / f"ex-{channel:04d}.jpg"

        def scan(model: LoadedModel, on_photo: Callable[[int, int], None]) -> Path:
            from ..featurevis import write_layer_examples

            write_layer_examples(model, layer, self.examples_dir, folder, on_photo=on_photo)  # type: ignore[arg-type]
            return folder  # the layer's strips, kept together by the prune after

        return await self._channel_picture(name, layer, channel, gone, key=(name, layer, "examples"), shared=True,
                                           find=lambda: path if path.is_file() else None, make=scan)

    async def pictures(self, name: str, layer: str, targets: str, cfg: VisualizeConfig, gone: Gone) -> bytes:
        """Pictures of ``targets`` (terms ``LAYER:T`` of the objective language, ``layer`` may be a
        kind such as class) grown with visualize's parameters ``cfg``, side by side, as a PNG that
        keeps their recipe: drawn on request with the other drawings (off the request threads,
        bounded, stopped when the client leaves), not cached. 404 for a network this server lacks,
        422 for a target the network does not have."""
        check_served(name, 404)

        def draw(cancelled: threading.Event) -> bytes:
            model = self._model(name, self._draw_models)
            try:
                terms = unit_terms(model, layer, targets)
                shown = list(visualize_targets(model, terms, cfg, callbacks=Callbacks(on_step=lambda _: _check(cancelled))))
            except InceptionismError as exc:
                raise ApiError(422, str(exc), exc.field or "targets") from None  # a layer's field is "layer"
            return _side_by_side(shown)

        key = ("pictures", name, layer, targets, repr(dataclasses.astuple(cfg)))
        return await self._drawings.get(key, draw, gone)

    async def _channel_picture(self, name: str, layer: str, channel: int, gone: Gone, *, key: tuple[Any, ...],
                               shared: bool, find: Callable[[], Path | None],
                               make: Callable[[LoadedModel, Callable[..., None]], Path]) -> Path:
        """A channel's picture: ``find()`` in the cache, or ``make`` it with the drawing copy of the
        network (``key`` names the drawing: requests for the same one wait for it together;
        ``shared``: requests for other channels too, a batch of neighbours or a whole layer, so
        each request's own channel is checked once it is drawn, not the first one's). ``make``
        returns what the prune after must keep; it is handed a callback for each step or photo,
        where a drawing nobody waits for any more stops."""
        self._known_channel(name, layer, channel)
        found = find()
        if found is not None:  # no drawing, no waiting, no count
            return _used(found)

        def draw(cancelled: threading.Event) -> None:
            model = self._model(name, self._draw_models)
            self._channels_of(model, name, layer)
            if not shared:
                self._known_channel(name, layer, channel)
            kept = make(model, lambda *step: _check(cancelled))
            prune(self.thumbnails_dir, MAX_THUMBNAILS, keep=kept)

        await self._drawings.get(key, draw, gone)
        self._known_channel(name, layer, channel)  # a shared drawing may have been asked for by another channel
        found = find()
        if found is None:  # drawn, and pruned at once: the cache is full of newer pictures
            raise ApiError(503, "the picture cache is full; try again", headers={"Retry-After": "5"})
        return _used(found)

    def _remember(self, folder: tuple[str, ...], path: Path) -> Path:
        """Where ``folder``'s pictures (network, layer and kind) are cached, learnt from one drawn."""
        self._folders[folder] = path.parent
        return path

    def _cached(self, folder: tuple[str, ...], channel: int) -> Path | None:
        known = self._folders.get(folder)
        path = known / f"ch-{channel:04d}.png" if known is not None else None
        return path if path is not None and path.is_file() else None

    def _known_channel(self, name: str, layer: str, channel: int) -> None:
        """404 for a channel out of range, where the layer's channel count is known (drawn before)."""
        channels = self._channels.get((name, layer))
        if channels is not None and not 0 <= channel < channels:
            raise ApiError(404, f"channel {channel} is out of range for {layer}: 0 to {channels - 1}", "channel")

    def _channels_of(self, model: LoadedModel, name: str, layer: str) -> int:
        """The layer's channel count, kept for later requests; 404 for a layer the network lacks."""
        if layer not in {info.name for info in list_layers(model)}:
            raise ApiError(404, f"no layer {layer!r} in {name}; see /api/models/{name}/layers", "layer")
        channels = self._channels[(name, layer)] = layer_info(model, layer).channels
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


def _side_by_side(shown: list) -> bytes:
    """Pictures of units in a row, as PNG bytes holding their recipe and each one's term and score."""
    from ..images import encode_image, side_by_side

    said = {VISUALIZE_RECIPE: shown[0].metadata.get(VISUALIZE_RECIPE),
            "pictures": [{"term": term_text(s.term), "score": round(s.score, 4)} for s in shown]}
    return encode_image(side_by_side([s.image for s in shown]), ".png", said)


def _used(path: Path) -> Path:
    """``path``, its time renewed: the cache keeps the most recently used pictures."""
    try:
        path.touch()
    except OSError:
        pass
    return path


def _check(cancelled: threading.Event) -> None:
    """A drawing's step or photo: stop here when nobody waits for it any more."""
    if cancelled.is_set():
        raise DrawingCancelled


def prune(folder: Path, most: int, *, keep: Path | None = None) -> int:
    """Remove the least recently used pictures under ``folder`` until at most ``most`` are left;
    returns how many went. Channel pictures (``ch-*.png``) go one by one, a layer's example
    strips (``ex-*.jpg``, made together by one scan) all together, by their latest use: a layer
    missing some strips would be scanned again for them. ``keep``, and the strips beside it, stay."""
    units: dict[Path, list] = {}  # a picture, or a folder of strips -> [latest use, files]
    for pattern in ("ch-*.png", "ex-*.jpg"):
        for path in folder.rglob(pattern):
            try:
                used = path.stat().st_mtime
            except OSError:
                continue  # removed meanwhile
            unit = units.setdefault(path if pattern.startswith("ch") else path.parent, [used, []])
            unit[0] = max(unit[0], used)
            unit[1].append(path)
    count = sum(len(files) for _, files in units.values())
    gone = 0
    for key, (_, files) in sorted(units.items(), key=lambda item: item[1][0]):
        if count <= most:
            break
        if keep is not None and (key == keep or keep in files):
            continue
        for path in files:
            path.unlink(missing_ok=True)
        count -= len(files)
        gone += len(files)
    return gone
