"""The same bytes whatever the machine is doing: one dream command run N times on a quiet
machine and N times while another process loads every core, each group with an empty
cache; then ``batch`` on 6 photos locally and with ``--cluster local``.

    .venv/bin/python benchmarks/bench_reproducible.py [--runs 5]

Two networks: the bundled Lite0 (``auto`` is fp32 on every class) and ResNet-50 with
random weights (``auto`` is bf16 where the hardware class is listed for it, so on a CPU
with AVX512-BF16 this checks the bf16 branch). Prints each output's pixel hash and the
precision it recorded, and whether all are equal. Not a test: it takes minutes and wants
the machine to itself (apart from its own load).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
CLI = [sys.executable, "-m", "inceptionism"]
NETWORKS = {
    "Lite0 (default)": [],
    "ResNet-50, random weights": ["--model", "timm/resnet50", "--weights", "random"],
}
DREAM = ["--seed", "7", "--octaves", "3", "--steps", "8", "--max-size", "384", "--quiet"]
BATCH = ["--seed", "7", "--octaves", "2", "--steps", "4", "--max-size", "256", "--quiet"]


def pixels(path: Path) -> str:
    return hashlib.sha256(np.asarray(Image.open(path).convert("RGB")).tobytes()).hexdigest()[:16]


def recorded_precision(path: Path) -> str:
    from inceptionism.images import read_metadata

    return read_metadata(path)["config"]["precision"]


def run(args: list[str], home: Path) -> None:
    done = subprocess.run([*CLI, *args], capture_output=True, text=True, env={**os.environ, "INCEPTIONISM_HOME": str(home)})
    if done.returncode:
        raise SystemExit(f"{' '.join(args[:3])} failed: {done.stdout[-800:]}{done.stderr[-800:]}")


def load() -> subprocess.Popen:
    """Another process keeping both cores busy: the default dream of coffee, over and over."""
    script = (f"import subprocess, sys\nwhile True:\n    subprocess.run({CLI!r} + ['dream', {str(EXAMPLES / 'coffee.jpg')!r}, "
              f"'-o', {tempfile.gettempdir() + '/load-dream.png'!r}, '--quiet'])")
    return subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def dreams(runs: int, tmp: Path) -> None:
    print("\n## One dream, quiet and under load, an empty cache for each group\n")
    print("| network | group | run | precision | pixels (sha256 of RGB, first 16) |")
    print("|---|---|---|---|---|")
    for network, flags in NETWORKS.items():
        seen = set()
        for group in ("quiet", "loaded"):
            home = Path(tempfile.mkdtemp(dir=tmp))  # empty: no cached weights, nothing remembered
            busy = load() if group == "loaded" else None
            try:
                for index in range(runs):
                    out = tmp / f"{network[:5]}-{group}-{index}.png"
                    run(["dream", str(EXAMPLES / "chelsea.jpg"), "-o", str(out), *flags, *DREAM], home)
                    seen.add(pixels(out))
                    print(f"| {network} | {group} | {index + 1} | {recorded_precision(out)} | {pixels(out)} |", flush=True)
            finally:
                if busy is not None:
                    busy.kill()
                    busy.wait()
        print(f"| {network} | **all {2 * runs} equal** | | | **{'yes' if len(seen) == 1 else 'NO'}** |", flush=True)


def batches(tmp: Path) -> None:
    photos = tmp / "photos"
    photos.mkdir()
    for index, name in enumerate(["chelsea", "coffee", "astronaut", "rocket", "chelsea", "coffee"]):
        image = Image.open(EXAMPLES / f"{name}.jpg").convert("RGB")
        image.resize((image.width // (index + 1), image.height // (index + 1))).save(photos / f"p{index}.png")
    print("\n## batch on 6 photos: local against --cluster local (each with an empty cache)\n")
    print("| network | photos equal | precision (local / cluster) |")
    print("|---|---|---|")
    for network, flags in NETWORKS.items():
        here, there = tmp / f"{network[:5]}-here", tmp / f"{network[:5]}-cluster"
        run(["batch", str(photos), "-o", str(here), *flags, *BATCH], Path(tempfile.mkdtemp(dir=tmp)))
        run(["batch", str(photos), "-o", str(there), "--cluster", "local", *flags, *BATCH], Path(tempfile.mkdtemp(dir=tmp)))
        names = sorted(p.name for p in here.glob("*.png"))
        equal = sum(pixels(here / n) == pixels(there / n) for n in names)
        kinds = {f"{recorded_precision(here / n)} / {recorded_precision(there / n)}" for n in names}
        print(f"| {network} | {equal} of {len(names)} | {', '.join(sorted(kinds))} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="dreams in each group (default 5)")
    parser.add_argument("--no-batch", action="store_true", help="skip the batch comparison")
    parser.add_argument("--no-dreams", action="store_true", help="skip the dreams quiet and under load")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_core import machine

    import torch

    from inceptionism.precision import hardware_class

    print(f"machine: {machine()}; hardware class: {hardware_class(torch.device('cpu'))}")
    with tempfile.TemporaryDirectory() as folder:
        if not args.no_dreams:
            dreams(args.runs, Path(folder))
        if not args.no_batch:
            batches(Path(folder))


if __name__ == "__main__":
    main()
