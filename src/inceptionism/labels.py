"""Class names of a model's output, matched the way people type them.

ImageNet-1k names come from timm's bundled metadata (offline), read from its data files
without importing timm (timm's own reader is the fallback). A class can be given
by index, by any of its comma-separated names ("tabby", "tabby cat"), or, for
avoidance, by a group word such as "dog" that stands for many classes.
"""

from __future__ import annotations

import csv
import difflib
import importlib.util
from functools import lru_cache
from pathlib import Path

from .errors import ConfigError
from .imports import import_timm
from .written import is_whole

__all__ = ["class_names", "resolve_class", "resolve_classes", "GROUPS"]

# Standard ImageNet-1k index ranges (inclusive) of broad groups.
GROUPS: dict[str, list[tuple[int, int]]] = {
    "dog": [(151, 268)],  # Chihuahua ... Mexican hairless: every domestic dog breed
    "cat": [(281, 285)],  # tabby ... Egyptian cat
    "bird": [(7, 24), (80, 100), (127, 146)],
    "fish": [(0, 6), (389, 397)],
    "snake": [(52, 68)],
}


@lru_cache(maxsize=4)
def class_names(labels: str | tuple[str, ...] = "imagenet-1k") -> tuple[str, ...]:
    """The class descriptions of a label set, by index; a network trained on one's own
    motifs carries its names itself (a tuple), which are returned as they are."""
    if isinstance(labels, tuple):
        return labels
    if labels != "imagenet-1k":
        raise ConfigError(f"unknown label set {labels!r}; known: imagenet-1k")
    return _imagenet_from_files() or _imagenet_from_timm()


def _imagenet_from_files() -> tuple[str, ...] | None:
    """What timm's ``ImageNetInfo().index_to_description`` gives, from the two lists it reads
    (the synsets in class order, and each synset's lemmas), without importing timm (0.5 s);
    None where the files are not found as expected."""
    spec = importlib.util.find_spec("timm")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "data" / "_info"
    try:
        synsets = (folder / "imagenet_synsets.txt").read_text(encoding="utf-8").splitlines()
        lemmas = dict(csv.reader((folder / "imagenet_synset_to_lemma.txt").read_text(encoding="utf-8").splitlines(),
                                 delimiter="\t"))
        names = tuple(lemmas[synset] for synset in synsets)
    except (OSError, KeyError, ValueError, UnicodeDecodeError):
        return None
    return names if len(names) == 1000 else None


def _imagenet_from_timm() -> tuple[str, ...]:
    import_timm()  # without torch._dynamo (imports.import_timm)
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    return tuple(info.index_to_description(i) for i in range(info.num_classes()))


def _synonyms(names: tuple[str, ...]) -> dict[str, int]:
    table: dict[str, int] = {}
    for index, description in enumerate(names):
        for word in description.split(","):
            table.setdefault(word.strip().lower(), index)
    return table


def resolve_class(text: str | int, labels: str | tuple[str, ...] = "imagenet-1k") -> int:
    """Index of one class given as an index or a name (case-insensitive).

    Raises:
        ConfigError: out of range, or no such name (with the nearest names).
    """
    names = class_names(labels)
    if isinstance(text, int) or is_whole(str(text).strip()):
        index = int(text) if isinstance(text, int) else int(str(text).strip())
        if not 0 <= index < len(names):
            raise ConfigError(f"class {index} is out of range: 0 to {len(names) - 1}")
        return index
    key = str(text).strip().lower()
    table = _synonyms(names)
    if key in table:
        return table[key]
    near = difflib.get_close_matches(key, list(table), n=4, cutoff=0.6)
    hint = f"did you mean {', '.join(near)}?" if near else "see 'inceptionism classes'"
    raise ConfigError(f"unknown class {text!r}; {hint}")


def resolve_classes(text: str, labels: str | tuple[str, ...] = "imagenet-1k") -> list[int]:
    """Indices for a comma list of classes and, on ImageNet, group words ("dog", "cat", ...)."""
    indices: list[int] = []
    groups = GROUPS if labels == "imagenet-1k" else {}
    for part in (p.strip() for p in str(text).split(",")):
        if not part:
            continue
        group = groups.get(part.lower()) or groups.get(part.lower().rstrip("s"))  # "dog" or "dogs"
        if group:
            for lo, hi in group:
                indices.extend(range(lo, hi + 1))
        else:
            indices.append(resolve_class(part, labels))
    if not indices:
        kinds = f"names, indices or a group ({', '.join(GROUPS)})" if groups else "names or indices"
        raise ConfigError(f"no classes in {text!r}; give {kinds}")
    return sorted(set(indices))
