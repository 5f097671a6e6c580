"""keep_freed_memory: freed large buffers are reused, not faulted in again."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

CHILD = r"""
import json, resource, sys
from inceptionism.runtime import keep_freed_memory
kept = keep_freed_memory()
import torch
def a_step():  # buffers of a few sizes, written, then freed, as a gradient step does
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    a = torch.ones(64 << 18); b = torch.ones(16 << 18); c = a + 1
    del a, b, c
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
faults = [a_step() for _ in range(15)]
print(json.dumps({"kept": kept, "again": keep_freed_memory(), "faults": faults[5:]}))
"""


def run_child(keep: str) -> dict:
    env = {**os.environ, "INCEPTIONISM_KEEP_FREED_MEMORY": keep}
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")
def test_freed_memory_is_reused_only_when_kept() -> None:
    kept, returned = run_child("1"), run_child("0")
    assert kept["kept"] and kept["again"] and not returned["kept"]
    pages = (64 << 20) // os.sysconf("SC_PAGE_SIZE")  # one of the 64 MB buffers
    # Returned: the OS hands out and zeroes the pages again, every step.
    assert min(returned["faults"]) > pages, returned["faults"]
    # Kept: once the first steps have grown the heap, it holds the buffers a step needs
    # (glibc's aligned allocation still misses now and then: it is not a hard zero).
    assert sum(kept["faults"]) < 0.2 * sum(returned["faults"]), kept["faults"]


def test_the_command_line_does_not_import_torch_before_it_must() -> None:
    # `inceptionism --help` and friends start in a fraction of a second.
    code = "import sys, inceptionism, inceptionism.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
