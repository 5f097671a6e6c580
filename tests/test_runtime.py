"""keep_freed_memory: a freed large buffer is reused, not faulted in again."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

CHILD = r"""
import json, resource, sys
import torch
from inceptionism.runtime import keep_freed_memory
kept = keep_freed_memory()
def faults_for_a_fresh_buffer():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    torch.ones(64 << 18)  # 64 MB, written once, then freed
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
faults_for_a_fresh_buffer()
print(json.dumps({"kept": kept, "again": keep_freed_memory(), "faults": faults_for_a_fresh_buffer()}))
"""


def run_child(keep: str) -> dict:
    env = {**os.environ, "INCEPTIONISM_KEEP_FREED_MEMORY": keep}
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")
def test_freed_memory_is_reused_only_when_kept() -> None:
    kept, returned = run_child("1"), run_child("0")
    assert kept["kept"] and kept["again"] and not returned["kept"]
    pages = (64 << 20) // os.sysconf("SC_PAGE_SIZE")
    assert returned["faults"] > 0.5 * pages  # the OS hands out and zeroes the pages again
    assert kept["faults"] < 0.05 * pages  # the heap still holds them
