"""The listing commands: how long ``inceptionism models`` (and ``layers``, ``classes``) take and
how much memory they peak at, each in its own process, beside what importing torch alone costs.

    .venv/bin/python benchmarks/bench_listings.py            # 5 runs each, median time, largest peak

``models`` lists 12 networks and whether their weights are here. Until it read the any-network
facts lazily (``models.spec.Shape``) it built eight architectures to list them (issue 36,
finding 16); the goal is at most 1.5 s and 300 MB on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    "models": [sys.executable, "-m", "inceptionism", "models"],
    "layers": [sys.executable, "-m", "inceptionism", "layers"],
    "classes": [sys.executable, "-m", "inceptionism", "classes"],
    "import torch (floor)": [sys.executable, "-c", "import torch"],
    "python (floor)": [sys.executable, "-c", "pass"],
}


def run_once(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident memory (MB) of one run of ``command``."""
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed")
    return seconds, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from inceptionism.machine import cpu_model

    print(f"{cpu_model()} ({platform.machine()}), {os.cpu_count()} CPUs; {args.runs} runs each after one warm-up")
    print(f"{'command':<24}{'median s':>10}{'min s':>8}{'max s':>8}{'peak MB':>10}")
    for name, command in COMMANDS.items():
        run_once(command)  # warm the page cache
        runs = [run_once(command) for _ in range(args.runs)]
        times = [t for t, _ in runs]
        print(f"{name:<24}{statistics.median(times):>10.2f}{min(times):>8.2f}{max(times):>8.2f}"
              f"{max(m for _, m in runs):>10.0f}")


if __name__ == "__main__":
    main()
