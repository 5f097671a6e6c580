"""How the process computes: its memory kept for reuse, its CPU threads, gradients on.

Where the machine's facts are: ``machine.py``; how heavy packages are imported: ``imports.py``.

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
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Callable, Iterator, TypeVar

T = TypeVar("T")

__all__ = ["keep_freed_memory", "cpu_threads", "on_passing_thread", "with_gradients"]

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


def with_gradients(fn: Callable[..., T]) -> Callable[..., T]:
    """``fn`` (a generator function too) run with autograd on and outside inference mode,
    whatever its caller has set: for every library entry that climbs a gradient.

    Host programs and notebooks often call with autograd off (``torch.no_grad()``) or under
    ``torch.inference_mode()`` (ComfyUI runs every node so); a dream there failed as if its
    network were not differentiable. Applied where ``fn`` is defined (its module has torch).
    """
    import torch

    return torch.enable_grad()(torch.inference_mode(False)(fn))
