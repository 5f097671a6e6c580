"""One studio per data directory: a lock on ``DATA/studio.lock``, held for the server's life.

A second ``serve`` on the same directory used to recover the first one's running jobs as
"interrupted" and dream them again beside it. The lock is ``flock``'s, so it goes with
the process that holds it, however that process ends. Within one process it is counted
(the command takes it before anything else, the app's lifespan again while it serves).
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

from ..errors import ServiceError

__all__ = ["hold", "release"]

_HELD: dict[Path, list[int]] = {}  # data directory -> [file descriptor, holds]
_GUARD = threading.Lock()


def hold(data_dir: Path) -> None:
    """Take the data directory's lock (again, if this process has it already).

    Raises:
        ServiceError: another process serves this directory.
    """
    key = Path(data_dir).resolve()
    with _GUARD:
        if key in _HELD:
            _HELD[key][1] += 1
            return
        path = key / "studio.lock"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise ServiceError(f"cannot open the studio's lock {str(path)!r}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise ServiceError(f"data directory {str(key)!r} is served by another studio (process {other}); stop it "
                               "or give another --data-dir") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        _HELD[key] = [fd, 1]


def release(data_dir: Path) -> None:
    """Give one hold back; the lock goes with the last."""
    key = Path(data_dir).resolve()
    with _GUARD:
        held = _HELD.get(key)
        if held is None:
            return
        held[1] -= 1
        if held[1] == 0:
            os.close(held[0])  # closing the descriptor releases the flock
            del _HELD[key]
