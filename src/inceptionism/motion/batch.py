"""Dream every image in a folder, resumably, reporting the files that could not be read."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..config import DreamConfig
from ..options import BatchConfig
from ..errors import ConfigError, ImageError, OutputError
from ..images import INPUT_SUFFIXES, OUTPUT_FORMATS, make_output_dir, save_image
from ..models.spec import LoadedModel

__all__ = ["BatchSummary", "dream_folder", "output_names"]


@dataclass
class BatchSummary:
    done: list[Path] = field(default_factory=list)  # dreamed by this run
    skipped: list[Path] = field(default_factory=list)  # outputs already there (resumed)
    failed: list[tuple[Path, str]] = field(default_factory=list)  # (input, one-line reason)


def _inputs(folder: Path, recursive: bool, exclude: Path) -> list[Path]:
    pattern = folder.rglob("*") if recursive else folder.glob("*")
    found = []
    for path in sorted(pattern):
        if path.is_file() and path.suffix.lower() in INPUT_SUFFIXES and exclude not in path.resolve().parents:
            found.append(path)
    return found


def output_names(inputs: list[Path]) -> dict[Path, Path]:
    """Each input's output path: its name with the output format's extension (its own
    when PNG, JPEG or WebP, else .png). When several inputs would write the same output
    (``a.bmp`` and ``a.png``), the input whose own name it is keeps it and every other one
    keeps its whole name before the extension: ``a.bmp.png``. No two inputs share one."""
    def natural(path: Path) -> Path:
        suffix = path.suffix.lower() if path.suffix.lower() in OUTPUT_FORMATS else ".png"
        return path.with_suffix(suffix)

    claims: dict[Path, list[Path]] = {}
    for path in inputs:
        claims.setdefault(natural(path), []).append(path)
    names: dict[Path, Path] = {}
    taken = set(claims)
    for out, sources in claims.items():
        owner = next((p for p in sources if p == out), sources[0])
        names[owner] = out
        for other in (p for p in sources if p is not owner):
            name = other.with_name(other.name + out.suffix)
            while name in taken:
                name = name.with_name(name.stem + "_" + name.suffix)
            taken.add(name)
            names[other] = name
    return names


def dream_folder(
    input_dir: str | Path,
    output_dir: str | Path,
    cfg: DreamConfig,
    *,
    recursive: bool = BatchConfig.recursive,
    model: LoadedModel | None = None,
    on_file: Callable[[int, int, Path, str], None] | None = None,
) -> BatchSummary:
    """Dream each image of ``input_dir`` into the same relative path under ``output_dir``.

    Outputs keep the input's format when it is PNG, JPEG or WebP, else PNG (see
    :func:`output_names` for inputs that would share an output). Outputs that
    already exist are skipped, so re-running resumes. Unreadable inputs are recorded in
    the summary and the batch goes on. ``on_file(index, total, path, status)`` reports
    each file ("done", "skipped" or "failed: ...").
    """
    from ..api import render

    source, target = Path(input_dir), Path(output_dir)
    if not source.is_dir():
        raise ImageError(f"input folder {str(source)!r} does not exist or is not a folder")
    if target.resolve() == source.resolve():
        raise OutputError(f"output folder {str(target)!r} is the input folder; choose another so inputs are kept")
    files = _inputs(source, recursive, target.resolve())
    if not files:
        raise ConfigError(f"no images ({', '.join(sorted(INPUT_SUFFIXES))}) in {str(source)!r}" + ("" if recursive else "; add -r for subfolders"))
    make_output_dir(target)
    summary = BatchSummary()
    names = output_names([path.relative_to(source) for path in files])
    for index, path in enumerate(files, start=1):
        relative = path.relative_to(source)
        out = target / names[relative]
        if out.exists():
            summary.skipped.append(path)
            status = "skipped"
        else:
            try:
                out.parent.mkdir(parents=True, exist_ok=True)
                result = render(path, cfg, model=model, source=relative.as_posix())
                save_image(result.image, out, result.metadata)
                summary.done.append(path)
                status = "done"
            except ImageError as exc:
                summary.failed.append((path, str(exc)))
                status = f"failed: {exc}"
        if on_file is not None:
            on_file(index, len(files), path, status)
    return summary
