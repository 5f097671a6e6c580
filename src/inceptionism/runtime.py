"""Process-wide settings that make dreaming on a CPU faster.

A gradient step allocates and frees the same large activation buffers over and over.
glibc's malloc serves every block above 32 MB (and, by default, many smaller ones) with
a fresh ``mmap`` and gives it back with ``munmap`` when it is freed, so each step the
kernel faults in and zeroes hundreds of megabytes anew: on a 1080p dream that is about a
quarter of a step (docs/performance.md). ``keep_freed_memory`` tells malloc to take
large blocks from the heap and not to hand freed memory back, so the next step reuses
it. The process then keeps its peak memory until it exits, which is what a dream, a
video job or a studio worker does anyway.

glibc's ``posix_memalign`` (which PyTorch uses) may not hand a freed block straight back
for the next request of the same size, so the first steps still fault some memory in;
after them the heap holds a block for every size a step asks for. Asking PyTorch for
2 MB-aligned huge pages (``THP_MEM_ALLOC_ENABLE=1``) avoids that, but measured no faster
here and raised the 4000x3000 dream's peak memory by about 0.85 GB, so it is not set.

Every thread allocates from the one (main) arena: a thread's own arena is made of 64 MB
mmapped heaps that these settings do not keep, so a dream on another thread (the
studio's workers) faulted its memory in again every step.

The ``inceptionism`` command calls it at start; a library user may call it once.
``INCEPTIONISM_KEEP_FREED_MEMORY=0`` turns it off.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import importlib
import os
import platform
import sys
import threading
import types
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

T = TypeVar("T")

__all__ = ["keep_freed_memory", "cpu_info", "cpu_flags", "cpu_model", "cpu_threads", "import_timm", "on_passing_thread"]

# mallopt parameters, from glibc's malloc.h.
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8

_applied: bool | None = None


def keep_freed_memory() -> bool:
    """Keep freed memory in the process for reuse (glibc on Linux); True if it took effect.

    Safe to call more than once and a no-op elsewhere (macOS, Windows, musl) or when
    ``INCEPTIONISM_KEEP_FREED_MEMORY=0`` is set.
    """
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    if os.environ.get("INCEPTIONISM_KEEP_FREED_MEMORY", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # noqa: B018 - glibc only: musl's mallopt does nothing
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # Never mmap a block (so freed blocks stay in the heap); -1 disables trimming (man mallopt).
    # One arena: a thread's own arena is built of 64 MB mmapped heaps, which the two settings
    # above do not keep, so a dream on a thread other than the main one (the studio's
    # workers) faulted its memory in afresh and took up to twice as long (docs/performance.md).
    _applied = bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, -1)) and bool(mallopt(_M_ARENA_MAX, 1))
    return _applied


def cpu_info() -> dict[str, str]:
    """The first processor's fields in ``/proc/cpuinfo`` ("model name", "flags", ...); empty
    where there is no such file."""
    info: dict[str, str] = {}
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return info
    for line in text.splitlines():
        key, colon, value = line.partition(":")
        if not colon:
            if info:
                break  # the blank line after the first processor
            continue
        info.setdefault(key.strip(), value.strip())
    return info


def cpu_flags() -> frozenset[str]:
    """The processor's feature flags (``avx2``, ``avx512_bf16``, ...); empty where unknown."""
    return frozenset(cpu_info().get("flags", "").split())


def cpu_model() -> str:
    """The processor's model name (``/proc/cpuinfo``), for records of where a figure was made."""
    return cpu_info().get("model name") or platform.processor() or platform.machine()


@contextmanager
def cpu_threads(count: int | None) -> Iterator[int]:
    """Compute with ``count`` CPU threads inside the block (None: as set), then restore;
    yields the count in force. Results on a CPU depend on it (the order of additions)."""
    import torch

    before = torch.get_num_threads()
    if count is None or count == before:
        yield before
        return
    torch.set_num_threads(count)
    try:
        yield count
    finally:
        torch.set_num_threads(before)


def on_passing_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` on a thread made for the call, which ends with it: for
    computing off a dream's thread (the studio's inspector).

    libgomp keeps a pool of helper threads for every thread that has computed in parallel,
    for as long as that thread lives; while it manages more threads than there are cores it
    throttles all of them to short spins, and a dream on another thread took 1.6x as long
    (docs/performance.md). A request thread lives on; this one's pool goes with it, and
    meanwhile the call computes on every core.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="passing") as pool:
        return pool.submit(fn, *args, **kwargs).result()


_TIMM_IMPORT = threading.Lock()
_DYNAMO = ("torch._dynamo", "torch._dynamo.utils")


def import_timm() -> types.ModuleType:
    """timm, imported without importing ``torch._dynamo`` on the way (about 1.1 s of timm's
    1.5 s here; docs/performance.md).

    Two module-level lines pull dynamo in, and neither needs it until code runs under
    ``torch.compile``: torchvision's ``ops/roi_align.py`` imports
    ``torch._dynamo.utils.is_compile_supported`` (called only inside ``roi_align``), and
    timm's ``naflexvit`` decorates a method with ``torch.compiler.disable``, which calls
    ``torch._dynamo.disable``. While timm imports, ``torch._dynamo`` and its ``utils`` are
    stand-ins that defer to the real modules: ``is_compile_supported`` imports them when
    it is called, ``disable`` when the function it wraps is first called, and any other
    name imports them at once (so a timm or torchvision that needs more still works, only
    without the saving). The stand-ins leave ``sys.modules`` as soon as timm is imported;
    a later ``import torch._dynamo`` gets the real module.
    """
    with _TIMM_IMPORT:
        if "timm" in sys.modules or any(name in sys.modules for name in _DYNAMO):
            import timm

            return timm
        import torch

        stand_ins = _dynamo_stand_ins()
        sys.modules.update(stand_ins)
        try:
            import timm
        finally:
            _drop(stand_ins)
            if vars(torch).get("_dynamo") is stand_ins["torch._dynamo"]:
                delattr(torch, "_dynamo")
        return timm


def _drop(stand_ins: dict[str, types.ModuleType]) -> None:
    for name, module in stand_ins.items():
        if sys.modules.get(name) is module:
            del sys.modules[name]


def _dynamo_stand_ins() -> dict[str, types.ModuleType]:
    """Stand-ins for ``torch._dynamo`` and ``torch._dynamo.utils`` (see :func:`import_timm`)."""
    stand_ins: dict[str, types.ModuleType] = {}

    def real(name: str) -> types.ModuleType:
        _drop(stand_ins)
        return importlib.import_module(name)

    class StandIn(types.ModuleType):
        def __getattr__(self, attr: str) -> Any:  # a name the stand-in lacks: the real module's
            # inspect asks every module for __file__, and ``from M import x`` asks M for
            # __path__; only the package's __path__ (a submodule's import) needs the real one
            if attr.startswith("__") and not (attr == "__path__" and self.__name__ == "torch._dynamo"):
                raise AttributeError(attr)
            return getattr(real(self.__name__), attr)

    def is_compile_supported(device_type: str) -> bool:
        return real("torch._dynamo.utils").is_compile_supported(device_type)

    def disable(fn: Callable | None = None, recursive: bool = True, *, reason: str | None = None) -> Callable:
        if fn is None:
            return functools.partial(disable, recursive=recursive, reason=reason)
        disabled: list[Callable] = []

        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Any:
            if not disabled:
                disabled.append(real("torch._dynamo").disable(fn, recursive, reason=reason))
            return disabled[0](*args, **kwargs)

        return call

    dynamo, utils = StandIn("torch._dynamo"), StandIn("torch._dynamo.utils")
    utils.is_compile_supported = is_compile_supported
    dynamo.utils, dynamo.disable = utils, disable
    stand_ins.update({"torch._dynamo": dynamo, "torch._dynamo.utils": utils})
    return stand_ins
