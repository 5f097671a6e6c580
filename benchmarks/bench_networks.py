"""A default 512x512 dream on a vision transformer, a ConvNeXt and the bundled Lite0, each
as a whole command: its wall time, the dream's own time (the command's "in X s") and the
time outside the dream (start-up, network construction, the layer probe, writing).

    .venv/bin/python benchmarks/bench_networks.py [--runs 3]

ViT-S/16 and ConvNeXt-T run with random weights (their checkpoints cannot be fetched here;
the arithmetic is the same), Lite0 with its bundled weights. The commands alternate
(A B C A B C ...) so a change in the machine's load falls on all; medians are quoted. It
prints figures with the machine; it is not a test.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
NETWORKS = {
    "efficientnet-lite0": [],
    "timm/vit_small_patch16_224": ["--weights", "random"],
    "timm/convnext_tiny": ["--weights", "random"],
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    from inceptionism.machine import cpu_model

    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "chelsea-512.png"
        Image.open(ROOT / "examples" / "chelsea.jpg").convert("RGB").resize((512, 512)).save(photo)
        figures: dict[str, list[tuple[float, float]]] = {name: [] for name in NETWORKS}
        for run in range(runs + 1):  # the first round warms the caches and is not counted
            for name, extra in NETWORKS.items():
                command = [sys.executable, "-m", "inceptionism", "dream", str(photo), "-o", str(Path(tmp) / "d.png"),
                           "--model", name, "--seed", "1", *extra]
                began = time.perf_counter()
                done = subprocess.run(command, capture_output=True, text=True, check=True)
                wall = time.perf_counter() - began
                dream = float(re.search(r" in ([\d.]+) s;", done.stdout).group(1))
                if run:
                    figures[name].append((wall, dream))
    print(f"machine: {cpu_model()}, torch threads as the command sets them; {runs} runs each, medians")
    print("| network | command | dream | outside the dream | dream vs Lite0 |")
    print("|---|---|---|---|---|")
    lite = statistics.median(d for _, d in figures["efficientnet-lite0"])
    for name, values in figures.items():
        wall, dream = statistics.median(w for w, _ in values), statistics.median(d for _, d in values)
        print(f"| {name} | {wall:.1f} s | {dream:.1f} s | {wall - dream:.1f} s | x{dream / lite:.2f} |")


if __name__ == "__main__":
    main()
