"""Dream every image in a folder, resumably, reporting the files that could not be read."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

from ..config import DreamConfig
from ..command_config import BatchConfig
from ..errors import ConfigError, ImageError, OutputError
from ..images import INPUT_SUFFIXES, OUTPUT_FORMATS
from ..outputs import make_output_dir, write_atomic
from ..models.loaded import LoadedModel

__all__ = ["BatchSummary", "BatchItem", "Runner", "dream_bytes", "dream_here", "dream_folder", "output_names"]


@dataclass
class BatchSummary:
    done: list[Path] = field(default_factory=list)  # dreamed by this run
    skipped: list[Path] = field(default_factory=list)  # outputs already there (resumed)
    failed: list[tuple[Path, str]] = field(default_factory=list)  # (input, one-line reason)
    per_worker: Counter = field(default_factory=Counter)  # files dreamed per worker ("here", or a cluster node)


@dataclass(frozen=True)
class BatchItem:
    """One file to dream: its bytes travel to whoever dreams it (this process or a cluster worker)."""

    path: Path  # the input
    name: str  # its path relative to the input folder, as recorded in the output
    out: Path  # where the dream goes

    def read(self) -> bytes:
        try:
            return self.path.read_bytes()
        except OSError as exc:
            raise ImageError(f"input {str(self.path)!r} cannot be read: {exc.strerror or exc}") from None


class Runner(Protocol):
    """Who dreams a batch's files (:class:`inceptionism.runners.Runner` has the whole seam)."""

    def dream_files(self, items: list[BatchItem], cfg: DreamConfig) -> Iterator[tuple[BatchItem, Any, str]]:
        """(item, output bytes or its error, who dreamed it) as each file finishes."""


def dream_bytes(data: bytes, name: str, suffix: str, cfg: DreamConfig, model: LoadedModel,
                *, recorded: Callable[[dict], dict] | None = None) -> bytes:
    """The one per-file function of a batch: the picture in ``data`` (a file named ``name``)
    dreamed, as the bytes of a ``suffix`` file with the parameters embedded (passed through
    ``recorded`` first, when given)."""
    from ..api import render
    from ..images import encode_image, picture_from_bytes

    picture = picture_from_bytes(data, name=name)
    result = render(picture, cfg, model=model, source=name)
    return encode_image(result.image, suffix, recorded(result.metadata) if recorded else result.metadata)


def dream_here(items: list[BatchItem], cfg: DreamConfig, model: LoadedModel) -> Iterator[tuple[BatchItem, Any, str]]:
    """A batch's files dreamed one after another in this process, each with :func:`dream_bytes`;
    an unreadable file is its error, and the batch goes on."""
    for item in items:
        try:
            yield item, dream_bytes(item.read(), item.name, item.out.suffix, cfg, model), "here"
        except ImageError as exc:
            yield item, exc, "here"


def _inputs(folder: Path, recursive: bool, output: Path) -> list[Path]:
    """The pictures in ``folder``, less those in ``output`` where it lies inside ``folder``
    (earlier dreams are not inputs). An output folder around the input folder (``-o .``)
    excludes nothing."""
    pattern = folder.rglob("*") if recursive else folder.glob("*")
    inside = output.resolve() if folder.resolve() in output.resolve().parents else None
    found = []
    for path in sorted(pattern):
        if path.is_file() and path.suffix.lower() in INPUT_SUFFIXES and (inside is None or inside not in path.resolve().parents):
            found.append(path)
    return found


def _finished(output: Path) -> bool:
    """Whether ``output`` is a whole picture from an earlier run; an empty or cut-short file
    (another tool's copy, an older version's crash) is dreamed again."""
    from PIL import Image

    if not output.is_file():
        return False
    try:
        with Image.open(output) as im:
            im.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return False
    return True


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
    runner: Runner | None = None,
    progress: bool = False,
) -> BatchSummary:
    """Dream each image of ``input_dir`` into the same relative path under ``output_dir``.

    Outputs keep the input's format when it is PNG, JPEG or WebP, else PNG (see
    :func:`output_names` for inputs that would share an output). Outputs that
    already exist are skipped, so re-running resumes. Unreadable inputs are recorded in
    the summary and the batch goes on. ``on_file(index, total, path, status)`` reports
    each file ("done", "skipped" or "failed: ...") as it finishes. ``runner`` dreams the
    files (:func:`inceptionism.runners.runner_for`: here or on a cluster; default: here,
    with ``model``); outputs are written here, atomically. The machine's choices
    (``precision="auto"``) are made once, here, for every file. ``progress`` shows a bar
    over the files.
    """
    from ..api import load_model_for, resolve_machine_choices
    from ..notebook import counted_progress

    source, target = Path(input_dir), Path(output_dir)
    files = _inputs_checked(source, target, recursive)
    make_output_dir(target)
    # Once, here: every file, wherever it is dreamed, gets the same arithmetic.
    cfg = resolve_machine_choices(cfg, model)
    summary, count = BatchSummary(), len(files)
    with counted_progress("batch", "file", on_file, shown=progress) as on_file:
        todo = _unfinished(source, target, files, summary, on_file)
        if runner is not None:
            outcomes = runner.dream_files(todo, cfg)
        else:
            outcomes = dream_here(todo, cfg, model or load_model_for(cfg))
        for done, (item, outcome, worker) in enumerate(outcomes, start=count - len(todo) + 1):
            if isinstance(outcome, ImageError):
                summary.failed.append((item.path, str(outcome)))
                status = f"failed: {outcome}"
            elif isinstance(outcome, BaseException):
                raise outcome  # not about this file (the network, the disk, the cluster): the batch stops
            else:
                item.out.parent.mkdir(parents=True, exist_ok=True)
                write_atomic(item.out, lambda fh, data=outcome: fh.write(data))
                summary.done.append(item.path)
                summary.per_worker[worker] += 1
                status = "done"
            if on_file is not None:
                on_file(done, count, item.path, status)
    summary.done.sort()
    summary.failed.sort()
    return summary


def _inputs_checked(source: Path, target: Path, recursive: bool) -> list[Path]:
    """The batch's input pictures, after the checks of its two folders."""
    if not source.is_dir():
        raise ImageError(f"input folder {str(source)!r} does not exist or is not a folder")
    if target.resolve() == source.resolve():
        raise OutputError(f"output folder {str(target)!r} is the input folder; choose another so inputs are kept")
    files = _inputs(source, recursive, target)
    if not files:
        raise ConfigError(f"no images ({', '.join(sorted(INPUT_SUFFIXES))}) in {str(source)!r}" + ("" if recursive else "; add -r for subfolders"))
    return files


def _unfinished(source: Path, target: Path, files: list[Path], summary: BatchSummary,
                on_file: Callable[[int, int, Path, str], None] | None) -> list[BatchItem]:
    """The files still to dream; those finished before are counted as skipped (and reported)."""
    names = output_names([path.relative_to(source) for path in files])
    todo: list[BatchItem] = []
    for path in files:
        relative = path.relative_to(source)
        item = BatchItem(path, relative.as_posix(), target / names[relative])
        if _finished(item.out):
            summary.skipped.append(path)
            if on_file is not None:
                on_file(len(summary.skipped), len(files), path, "skipped")
        else:
            todo.append(item)
    return todo
