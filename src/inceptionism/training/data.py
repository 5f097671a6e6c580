"""The images of a training folder: one subfolder per class (the usual image-folder layout).

Every file is read once, through the same decoder as a dream's input (EXIF rotation,
modes, size limits), and kept in memory a little larger than the training crop, so an
epoch costs no decoding. Files that are not readable images are skipped and listed.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image

from ..written import is_whole
from ..errors import ConfigError, ImageError
from ..images import load_image, to_pil, to_tensor
from ..models.spec import CROP

__all__ = ["Folder", "scan", "split", "Pictures", "transforms"]


@dataclass
class Folder:
    """A training folder as read: class names, and the readable images of each."""

    root: Path
    classes: tuple[str, ...]
    images: dict[str, list[tuple[Path, Image.Image]]]  # class -> (file, decoded picture), in name order
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # unreadable files and why

    def count(self, name: str) -> int:
        return len(self.images[name])


def _check_names(root: Path, names: list[str]) -> None:
    if len(names) < 2:
        found = f"one class folder ({names[0]})" if names else "no class folders"
        raise ConfigError(f"{str(root)!r} has {found}; training needs at least 2, one subfolder of images per class",
                          field="data")
    lowered: dict[str, str] = {}
    for name in names:
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:  # bytes that are not UTF-8, kept by the file system's decoding
            shown = os.fsencode(name).decode("utf-8", "replace")
            raise ConfigError(f"class folder {shown!r} in {str(root)!r}: its name is not valid UTF-8, so it cannot be "
                              "a class name; rename the folder", field="data") from None
        if "," in name or is_whole(name.strip()) or name != name.strip():  # "3" or "+3" would be read as an index
            raise ConfigError(f"class folder {name!r} in {str(root)!r}: a class name may not hold a comma, be a number "
                              "or start or end with a space (--class NAME must find it); rename the folder",
                              field="data")
        if name.lower() in lowered:
            raise ConfigError(f"class folders {lowered[name.lower()]!r} and {name!r} in {str(root)!r} differ only in "
                              "case, so --class could not tell them apart; merge or rename one", field="data")
        lowered[name.lower()] = name


def scan(root: str | Path, *, keep_side: int, on_file=None) -> Folder:
    """Read the training folder ``root``; pictures are kept with their shorter side at most ``keep_side``.

    Raises:
        ConfigError: ``root`` is not a folder, has fewer than 2 class folders, a class
            folder without a readable image, or class names that clash.
    """
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"training data {str(root)!r} is not a folder; give a folder with one subfolder of images "
                          "per class", field="data")
    names = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    _check_names(root, names)
    images: dict[str, list[tuple[Path, Image.Image]]] = {}
    skipped: list[tuple[Path, str]] = []
    for name in names:
        kept = []
        for path in sorted(p for p in (root / name).rglob("*") if p.is_file() and not p.name.startswith(".")):
            try:
                kept.append((path, _thumbnail(path, keep_side)))
            except ImageError as exc:
                skipped.append((path, str(exc)))
            if on_file is not None:
                on_file(path)
        if not kept:
            raise ConfigError(f"class folder {str(root / name)!r} has no readable image; add some or remove it",
                              field="data")
        images[name] = kept
    return Folder(root, tuple(names), images, skipped)


def _thumbnail(path: Path, keep_side: int) -> Image.Image:
    im = to_pil(to_tensor(load_image(path, max_side=keep_side * 2)))
    scale = keep_side / min(im.size)
    if scale < 1:
        im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.Resampling.BICUBIC)
    return im


def split(folder: Folder, val_split: float, seed: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Train and validation sets as (class, image) index pairs: the same share of every class held out.

    Raises:
        ConfigError: a class too small to give both a training and a validation image.
    """
    rng = random.Random(seed)
    train, val = [], []
    for c, name in enumerate(folder.classes):
        n = folder.count(name)
        if n < 2:
            raise ConfigError(f"class {name!r} has {n} readable image; at least 2 are needed (one to train on, one "
                              "to validate)", field="data")
        order = list(range(n))
        rng.shuffle(order)
        held = min(n - 1, max(1, round(n * val_split)))
        val += [(c, i) for i in sorted(order[:held])]
        train += [(c, i) for i in sorted(order[held:])]
    return train, val


class Pictures(torch.utils.data.Dataset):
    """(image tensor in [0, 1], class) pairs of ``folder`` for the index pairs ``items``."""

    def __init__(self, folder: Folder, items: list[tuple[int, int]], transform) -> None:
        self.folder, self.items, self.transform = folder, items, transform

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        c, i = self.items[index]
        return self.transform(self.folder.images[self.folder.classes[c]][i][1]), c


def transforms(image_size: int, *, train: bool):
    """torchvision's transforms: random crops, flips and colour jitter to train; a centre crop to validate.

    The network's own normalisation is not here: the model applies it (``ModelSpec.preprocess``)."""
    from torchvision.transforms import v2

    tail = [v2.ToImage(), v2.ToDtype(torch.float32, scale=True)]
    if train:
        return v2.Compose([v2.RandomResizedCrop(image_size, scale=(0.35, 1.0), antialias=True),
                           v2.RandomHorizontalFlip(), v2.ColorJitter(0.2, 0.2, 0.2, 0.02), *tail])
    return v2.Compose([v2.Resize(round(image_size / CROP), antialias=True), v2.CenterCrop(image_size), *tail])


def keep_side(image_size: int) -> int:
    """The shorter side pictures are kept at: room for the validation resize and crops."""
    return round(image_size / CROP) + 1
