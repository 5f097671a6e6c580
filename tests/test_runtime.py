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
kept = keep_freed_memory()  # before torch, as the command does
import torch
def faults_for_a_fresh_buffer():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    torch.ones(64 << 18)  # 64 MB, written once, then freed
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
faults_for_a_fresh_buffer()
faults = [faults_for_a_fresh_buffer() for _ in range(6)]
print(json.dumps({"kept": kept, "again": keep_freed_memory(), "faults": faults}))
"""


def run_child(keep: str) -> dict:
    env = {**os.environ, "INCEPTIONISM_KEEP_FREED_MEMORY": keep}
    env.pop("THP_MEM_ALLOC_ENABLE", None)
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")
def test_freed_memory_is_reused_only_when_kept() -> None:
    kept, returned = run_child("1"), run_child("0")
    assert kept["kept"] and kept["again"] and not returned["kept"]
    pages = (64 << 20) // os.sysconf("SC_PAGE_SIZE")
    # Returned: the OS hands out and zeroes the pages again, every time.
    assert min(returned["faults"]) > 0.5 * pages, returned["faults"]
    # Kept: the heap still holds them, every time.
    assert max(kept["faults"]) < 0.05 * pages, kept["faults"]


def test_the_command_line_does_not_import_torch_before_it_must() -> None:
    # keep_freed_memory can set PyTorch's allocation alignment only before torch is imported.
    code = "import sys, inceptionism, inceptionism.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
