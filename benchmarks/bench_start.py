"""Start-up: the time a ``dream`` command spends outside the dream itself.

    .venv/bin/python benchmarks/bench_start.py            # 3 runs, median

Each run is the whole ``inceptionism dream`` command on the 512x512 astronaut with the
default settings, in its own process, timed from the parent (interpreter start to exit).
Inside, the dream itself is timed (``run_dream`` less its two objective readings); the
rest is start-up and finish: the interpreter, imports (torch, and timm where the command
names a timm network, are imported up front here only to time them: the command imports
them anyway; the default network is built without timm), the CLI's own modules, network
construction, checks, the two readings, the final write and the exit (the command
leaves without the interpreter's teardown where it can: ``cli._leave``). ``--help`` and an
argument error are timed too: they must stay instant.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, time
marks = {"child": time.perf_counter()}
from inceptionism.imports import defer_torch_meta_kernels
from inceptionism.runtime import keep_freed_memory
keep_freed_memory()  # as the command does, before torch loads
defer_torch_meta_kernels()
import torch
marks["torch"] = time.perf_counter()
if any(arg.startswith("timm/") for arg in sys.argv):
    from inceptionism.imports import import_timm
    import_timm()  # as the command imports it
marks["timm"] = time.perf_counter()
import inceptionism.api as api
import inceptionism.engine.ascent as ascent
import inceptionism.cli as cli
marks["cli"] = time.perf_counter()
spent = {"network": 0.0, "dream": 0.0, "readings": 0.0}
def timed(module, name, key):
    real = getattr(module, name)
    def wrapper(*a, **k):
        started = time.perf_counter()
        try:
            return real(*a, **k)
        finally:
            spent[key] += time.perf_counter() - started
    setattr(module, name, wrapper)
timed(api, "load_model", "network")
timed(api, "run_dream", "dream")
timed(ascent, "objective_value", "readings")
real_leave = cli._leave
def leave(code):  # the command's own end: report, then leave as it does
    print(json.dumps({"marks": marks, "spent": spent}), flush=True)
    real_leave(code)
cli._leave = leave
sys.argv = ["inceptionism", "dream", sys.argv[1], "-o", sys.argv[2], "--max-size", "512", "--seed", "0", "--quiet",
            *sys.argv[3:]]
cli.main()
"""


def _run(argv: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True)
    return time.perf_counter() - started, proc


def outside_the_dream(runs: int = 3, extra: list[str] | None = None) -> list[dict[str, float]]:
    """``runs`` default dream commands (plus ``extra`` options), each timed in parts (seconds)."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(runs):
            argv = [sys.executable, "-c", CHILD, str(ROOT / "examples" / "astronaut.jpg"), f"{tmp}/a.png", *(extra or [])]
            wall, proc = _run(argv)
            if proc.returncode:
                raise SystemExit(proc.stderr[-2000:])
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            m, s = r["marks"], r["spent"]
            dream = s["dream"] - s["readings"]
            rows.append({"wall": wall, "outside": wall - dream, "dream": dream, "torch": m["torch"] - m["child"],
                         "timm": m["timm"] - m["torch"], "cli": m["cli"] - m["timm"], "network": s["network"],
                         "readings": s["readings"],
                         "rest": wall - dream - (m["cli"] - m["child"]) - s["network"] - s["readings"]})
    return rows


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_core import machine

    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    print(f"machine: {machine()}\n")
    rows = outside_the_dream(runs)
    print("| run | whole command | dream | outside the dream | import torch | import timm (timm networks only) "
          "| import the CLI | network | two readings | the rest (interpreter, checks, write, exit) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    keys = ["wall", "dream", "outside", "torch", "timm", "cli", "network", "readings", "rest"]
    for i, row in enumerate(rows, 1):
        print(f"| {i} | " + " | ".join(f"{row[k]:.2f} s" for k in keys) + " |")
    print("| median | " + " | ".join(f"{statistics.median(r[k] for r in rows):.2f} s" for k in keys) + " |")
    print(f"\noutside the dream, median of {runs}: {statistics.median(r['outside'] for r in rows):.2f} s "
          "(goal: at most 1.5 s)")
    for what, argv in (("--help", ["dream", "--help"]), ("a bad argument", ["dream", "x.jpg", "--steps", "-3"])):
        took, _ = _run([sys.executable, "-m", "inceptionism", *argv])
        print(f"`inceptionism {' '.join(argv)}` ({what}): {took:.2f} s")


if __name__ == "__main__":
    main()
