"""Dataset examples: the photos, and the places in them, that excite a unit most.

One streaming pass over a folder of photos (any size, any number: one photo in memory at
a time) keeps, per channel, the ``top`` photos by the channel's strongest position, and
every photo's channel means (what the sanity check measures a unit against).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

import torch

from ..errors import ConfigError, ImageError
from ..formats import INPUT_SUFFIXES
from ..models.loaded import LoadedModel

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["Example", "PhotoScan", "photo_files", "read_photos", "example_at", "scan_photos", "examples_sheet",
           "write_layer_examples"]


@dataclass(order=True)
class Example:
    """One photo that excites a channel, and where."""

    score: float  # the channel's largest activation in the photo
    path: Path = field(compare=False)
    box: tuple[float, float, float, float] = field(compare=False)  # (left, top, right, bottom) around it, 0-1 of the photo


@dataclass
class PhotoScan:
    """What one pass over the photos found."""

    examples: dict[int, list[Example]]  # channel -> its strongest photos, best first
    means: torch.Tensor  # (N, C) every photo's channel means
    paths: list[Path]  # the N photos read
    skipped: list[str]  # "path: why" for files that are not readable pictures


def photo_files(folder: str | Path) -> list[Path]:
    """The pictures in ``folder`` and below, sorted.

    Raises:
        ConfigError: not a folder, or no pictures in it.
    """
    root = Path(folder)
    if not root.is_dir():
        raise ConfigError(f"photos {str(root)!r} is not a folder; give a folder of pictures", field="photos")
    found = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in INPUT_SUFFIXES)
    if not found:
        raise ConfigError(f"photos {str(root)!r} holds no pictures ({', '.join(sorted(INPUT_SUFFIXES))})",
                          field="photos")
    return found


def read_photos(paths: list[Path], side: int, device: torch.device) -> Iterator[tuple[Path, torch.Tensor | str]]:
    """Each of ``paths`` as a picture (1, 3, H, W) with its shorter side ``side``, one at a time,
    or the one line saying why it is none."""
    from torchvision.transforms.v2 import functional as tv

    from ..images import load_image, to_tensor

    for path in paths:
        try:
            picture = load_image(path, role="photo", max_side=side)
        except ImageError as exc:
            yield path, str(exc)
            continue
        x = to_tensor(picture, device)
        yield path, tv.resize(x, side, antialias=True).clamp(0, 1)  # the shorter side to ``side``


@torch.no_grad()
def scan_photos(model: LoadedModel, layer: str, folder: str | Path, channels: list[int], *, top: int = 9,
                on_photo: Callable[[int, int], None] | None = None) -> PhotoScan:
    """Stream the photos of ``folder`` through ``model`` to ``layer``.

    Each photo is seen with its shorter side at the network's input size. A channel's
    example box is a square, a third of the photo's shorter side, around its strongest position.
    """
    from ..taps import capture

    paths = photo_files(folder)
    heaps: dict[int, list[Example]] = {c: [] for c in channels}
    means, read, skipped = [], [], []
    with capture(model, [layer]) as run:
        for done, (path, x) in enumerate(read_photos(paths, model.spec.input_size, model.device), 1):
            if isinstance(x, str):
                skipped.append(f"{path}: {x}")
                continue
            a = run(x)[layer][0].float()  # (C, h, w)
            means.append(a.mean((1, 2)).cpu())
            read.append(path)
            peaks, where = a[channels].flatten(1).max(1)  # every chosen channel's strongest place at once
            for c, score, flat in zip(channels, peaks.tolist(), where.tolist()):
                _keep(heaps[c], top, example_at(score, flat, a.shape[-2:], path, x.shape[-2:]))
            if on_photo is not None:
                on_photo(done, len(paths))
    if not read:
        raise ConfigError(f"photos {str(folder)!r}: none of its {len(paths)} files could be read", field="photos")
    examples = {c: sorted(h, reverse=True) for c, h in heaps.items()}
    return PhotoScan(examples, torch.stack(means), read, skipped)


def example_at(score: float, flat: int, grid: torch.Size, path: Path, size: torch.Size) -> Example:
    """The example of a channel whose strongest activation ``score`` is at ``flat`` in its
    ``grid`` (h, w) map, for a photo seen at ``size`` (H, W)."""
    height, width = int(size[0]), int(size[1])
    y = (flat // grid[1] + 0.5) * height / grid[0]
    x = (flat % grid[1] + 0.5) * width / grid[1]
    half = min(height, width) / 6
    left, top = min(max(0.0, x - half), width - 2 * half), min(max(0.0, y - half), height - 2 * half)
    box = (left / width, top / height, (left + 2 * half) / width, (top + 2 * half) / height)
    return Example(score, path, box)


def _keep(heap: list[Example], top: int, example: Example) -> None:
    if len(heap) < top:
        heapq.heappush(heap, example)
    elif example.score > heap[0].score:
        heapq.heapreplace(heap, example)


def examples_sheet(examples: list[Example], side: int, *, crops: bool = True, columns: int = 3) -> "Image.Image":
    """A grid picture of ``examples`` (the crops around the strongest place, or the whole
    photos), each ``side`` px, best first."""
    from PIL import Image, ImageOps

    from ..images import load_image, to_pil

    columns = max(1, min(columns, len(examples)))
    rows = -(-len(examples) // columns)
    sheet = Image.new("RGB", (columns * side, max(1, rows) * side), (255, 255, 255))
    for k, example in enumerate(examples):
        picture = load_image(example.path, role="photo", max_side=3 * side)
        photo = to_pil(torch.from_numpy(picture.rgb.copy()).permute(2, 0, 1))
        if crops:
            left, top, right, bottom = example.box
            photo = photo.crop((round(left * photo.width), round(top * photo.height),
                                round(right * photo.width), round(bottom * photo.height)))
        sheet.paste(ImageOps.fit(photo, (side, side)), ((k % columns) * side, (k // columns) * side))
    return sheet


def write_layer_examples(model: LoadedModel, layer: str, photos: str | Path, folder: Path, *, top: int = 3,
                         side: int = 96, on_photo: Callable[[int, int], None] | None = None) -> PhotoScan:
    """One pass over ``photos`` for every channel of ``layer``, and each channel's strip of
    its ``top`` photos written to ``folder/ex-NNNN.jpg`` (``side`` px a photo, atomically):
    the gallery's and the studio's dataset examples."""
    from ..outputs import write_atomic
    from ..taps import layer_info

    scan = scan_photos(model, layer, photos, list(range(layer_info(model, layer).channels)), top=top,
                       on_photo=on_photo)
    folder.mkdir(parents=True, exist_ok=True)
    for channel, found in scan.examples.items():
        sheet = examples_sheet(found, side, columns=top)
        write_atomic(folder / f"ex-{channel:04d}.jpg", lambda fh, sheet=sheet: sheet.save(fh, format="JPEG", quality=88))
    return scan
