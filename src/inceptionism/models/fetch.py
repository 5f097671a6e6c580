"""Verified, resumable downloads of weights into the project's cache.

Nothing is downloaded unless asked (``inceptionism models fetch NAME``). A download
goes to ``NAME.part`` beside its target; an interrupted one is resumed with an HTTP
Range request, and the file is moved into place only after its SHA-256 matches the
pinned value, otherwise it is deleted.

Pinned checksums: torchvision publishes the first 8 hex digits of each file's SHA-256 in
its file name, and checks only those; so does this. Full checksums can be given with
``--sha256``. A source with no pinned checksum is refused unless one is given.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

from ..errors import ConfigError, OutputError, WeightsMissingError
from ..paths import weights_cache_dir
from .spec import ModelSpec
from .weights import sha256_file

__all__ = ["download", "fetch"]

def download(
    url: str,
    target: Path,
    sha256: str,
    *,
    on_progress: Callable[[int, int | None], None] | None = None,
    timeout: float = 30.0,
) -> Path:
    """Download ``url`` to ``target`` via ``target.part``, resuming a partial file, verified.

    Raises:
        WeightsMissingError: the server cannot be reached or the transfer broke off
            (the partial file is kept for the next try).
        OutputError: the checksum does not match (the file is deleted).
    """
    part = target.with_name(target.name + ".part")
    target.parent.mkdir(parents=True, exist_ok=True)
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            if have and response.status != 206:
                have = 0  # the server ignored the range: start over
            length = response.headers.get("Content-Length")
            total = have + int(length) if length is not None else None
            with open(part, "ab" if have else "wb") as fh:
                done = have
                while chunk := response.read(1 << 16):
                    fh.write(chunk)
                    done += len(chunk)
                    if on_progress is not None:
                        on_progress(done, total)
            if total is not None and done < total:
                raise WeightsMissingError(f"download of {url} broke off at {done:,} of {total:,} bytes; run it again to resume")
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing left to fetch: the partial file is complete
            pass
        else:
            raise WeightsMissingError(f"cannot download {url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        kept = "; the partial file is kept, run it again to resume" if part.exists() and part.stat().st_size else ""
        raise WeightsMissingError(f"cannot download {url}: {reason}{kept} (offline: copy the file to {target})") from None
    actual = sha256_file(part)
    if not actual.startswith(sha256.lower()):
        part.unlink(missing_ok=True)
        raise OutputError(f"download of {url} has SHA-256 {actual}, expected {sha256}; the file was deleted")
    os.replace(part, target)
    return target


def fetch(
    spec: ModelSpec,
    *,
    url: str | None = None,
    sha256: str | None = None,
    on_progress: Callable[[int, int | None], None] | None = None,
) -> Path:
    """Download a network's weights (``spec.download``) into the project's cache, verified;
    returns the file."""
    source = spec.download
    if source is None:
        raise ConfigError(f"model {spec.name!r} has no download source; its weights ship with a package or a file")
    checksum = sha256 or source.sha256
    if not checksum:
        raise ConfigError(
            f"no pinned checksum for {spec.name!r} ({source.url}); pass --sha256 HEX to download and verify it"
        )
    target = weights_cache_dir() / source.filename
    if target.is_file() and sha256_file(target).startswith(checksum.lower()):
        return target
    return download(url or source.url, target, checksum, on_progress=on_progress)
