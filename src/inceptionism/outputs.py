"""Writing outputs: checked before any work, written whole or not at all.

Every output of every command (pictures, configs, plots, videos, trained networks, gallery
pages, cache files) is written to a temporary file beside its target and renamed into
place (:func:`write_atomic`, :func:`install`), so a reader sees the old file or the whole
new one. Before that rename, and before any work (:func:`check_output_path`), the target
must be nothing, a regular file, or a link: a rename would replace a device node or a FIFO
with a regular file (as root, ``--save-config /dev/null`` replaced the system's
``/dev/null``). The new file gets the mode of the file it replaces, or what the umask
allows for a new one; temporary names are short, so a name the file system takes for the
output also works for its temporary file.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable, Iterable

from .errors import OutputError

__all__ = ["check_output_path", "check_outputs", "check_outside", "within", "check_output_folder", "check_writable_dir",
           "check_replaceable", "make_output_dir", "write_atomic", "temporary_beside", "install"]

_TEMP_PREFIX = ".inceptionism-"


def check_output_path(
    output: str | Path,
    *,
    inputs: tuple[str | Path, ...] = (),
    formats: Iterable[str] | None = None,
    noun: str = "file",
    outputs: tuple[str | Path, ...] = (),
) -> Path:
    """Fail early, before any work, if ``output`` cannot be written, would replace an input or
    something that is not a regular file, or is also one of the command's other ``outputs``.

    ``formats`` are the allowed extensions (None: any); ``noun`` names the input in the message.
    """
    output = Path(output)
    if formats is not None and output.suffix.lower() not in formats:
        raise OutputError(
            f"output {str(output)!r} has an unknown extension {output.suffix or '(none)'!r}; "
            f"use one of {', '.join(formats)}"
        )
    check_name_length(output)
    for source in inputs:
        if _same_file(output, Path(source)):
            raise OutputError(f"output {str(output)!r} is the input {noun}; choose another name so the input is kept")
    for other in outputs:
        if _same_file(output, Path(other)):
            raise OutputError(f"output {str(output)!r} is named for two outputs of this command; give each its own name")
    check_writable_dir(output)
    if output.is_dir():
        raise OutputError(f"output {str(output)!r} is a directory; give a file name such as dream.png")
    check_replaceable(output)
    return output


def check_outputs(paths: Iterable[str | Path], *, inputs: tuple[str | Path, ...] = (),
                  formats: Iterable[str] | None = None, noun: str = "file") -> list[Path]:
    """:func:`check_output_path` for every one of a command's outputs, each also against the
    ones before it (one file named for two outputs)."""
    checked: list[Path] = []
    for path in paths:
        checked.append(check_output_path(path, inputs=inputs, formats=formats, noun=noun, outputs=tuple(checked)))
    return checked


def within(path: str | Path, folder: str | Path) -> bool:
    """Whether ``path`` is ``folder`` or lies below it, links resolved."""
    where, inside = Path(path).resolve(), Path(folder).resolve()
    return where == inside or inside in where.parents


def check_outside(output: str | Path, folder: str | Path, *, noun: str = "photo folder") -> None:
    """Fail if ``output`` lies in ``folder`` or below, which the command reads whole: it could
    replace a file read there, and a later run would read the output as one of its inputs."""
    if within(output, folder):
        raise OutputError(f"output {str(output)!r} is inside the {noun} {str(folder)!r}, which is read whole; "
                          "write it elsewhere so no input is replaced and no output is read as an input")


def check_name_length(path: Path) -> None:
    """Fail if ``path``'s last part is longer than its file system allows (ENAMETOOLONG)."""
    parent = path.parent if str(path.parent) else Path(".")
    try:
        most = os.pathconf(parent, "PC_NAME_MAX")
    except (OSError, ValueError):
        most = 255
    size = len(os.fsencode(path.name))
    if size > most:
        raise OutputError(f"output name {path.name[:40]!r}... is {size} bytes long; this file system allows at most {most}")


def check_replaceable(path: str | Path) -> None:
    """Fail unless ``path`` is absent, a regular file or a link: what a rename may replace."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise OutputError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
    if stat.S_ISREG(mode) or stat.S_ISLNK(mode):
        return
    if stat.S_ISDIR(mode):
        raise OutputError(f"output {str(path)!r} is a directory; give a file name such as dream.png")
    raise OutputError(f"output {str(path)!r} is not a regular file (a device, a FIFO or a socket), and writing "
                      "would replace it; give the name of a file")


def _same_file(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))


def check_writable_dir(path: str | Path) -> Path:
    """Fail unless a new file can be created in ``path``'s directory."""
    parent = Path(path).parent if str(Path(path).parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"output directory {str(parent)!r} does not exist")
    try:  # os.access says yes to root even where writes fail (read-only mounts, /sys): really try
        fd, probe = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"output directory {str(parent)!r} is not writable: {exc.strerror or exc}") from None
    return parent


def check_output_folder(path: str | Path) -> Path:
    """Fail early, before any work, unless ``path`` is a folder or can be made one."""
    path = Path(path)
    check_name_length(path)
    check_writable_dir(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"output folder {str(path)!r} exists and is not a folder; give a new name or a folder")
    return path


def make_output_dir(path: str | Path) -> Path:
    """Create the output folder ``path`` (its parent must exist and be writable)."""
    path = check_output_folder(path)
    try:
        path.mkdir(exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder {str(path)!r}: {exc.strerror or exc}") from None
    return path


def temporary_beside(path: Path, suffix: str = ".tmp") -> str:
    """A new empty temporary file in ``path``'s folder (short name; ``suffix`` kept for tools
    that choose a format by it), for :func:`install`."""
    parent = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=_TEMP_PREFIX, suffix=suffix, dir=parent)
    except OSError as exc:
        raise OutputError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
    os.close(fd)
    return tmp


def install(tmp: str, path: Path) -> None:
    """Rename the finished ``tmp`` over ``path`` with the mode ``path`` should have.

    Raises:
        OSError: the file system refused (the caller removes ``tmp`` and says so).
        OutputError: ``path`` became something a rename must not replace.
    """
    check_replaceable(path)
    os.chmod(tmp, _mode_for(path))
    os.replace(tmp, path)


def _mode_for(path: Path) -> int:
    """The replaced file's permissions, or what the umask gives a new file."""
    try:
        found = os.stat(path)
        if stat.S_ISREG(found.st_mode):
            return stat.S_IMODE(found.st_mode)
    except OSError:
        pass
    return 0o666 & ~_umask()


def _umask() -> int:
    try:  # Linux 4.7+: read it without changing it (another thread may be creating files)
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: str | Path, write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write`` on a temporary file beside ``path``, then rename it into place.

    Readers see either the old file or the complete new one; on any failure the
    temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    check_replaceable(path)
    tmp = temporary_beside(path)
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        install(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError):
            raise OutputError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
        raise
    return path
