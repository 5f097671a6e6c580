"""Training on one's own motifs, as a user runs it: ``inceptionism train`` with its default
settings on the generated motif set (``examples/make_motifs.py``, COUNT pictures of each of
3 made-up motifs), timed as a whole command; then a class dream of an unrelated photo with
default settings, read back by the trained network with ``inceptionism classify``.

    .venv/bin/python benchmarks/bench_train.py [COUNT]

Prints the training's wall time and validation accuracy (goal: at least 0.9 within 3
minutes) and, per motif, the photo's probability of it before and after its dream (goal:
from below 0.5 to at least 0.9).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "inceptionism"]
PHOTO = ROOT / "examples" / "coffee.jpg"


def run(args: list[str]) -> tuple[str, float]:
    start = time.perf_counter()
    done = subprocess.run([*CLI, *args], capture_output=True, text=True)
    took = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return done.stdout, took


def probabilities(weights: Path, image: Path) -> dict[str, float]:
    text, _ = run(["classify", str(image), "--weights", str(weights), "--top", "10"])
    return {line.split("\t")[1]: float(line.split("\t")[2]) for line in text.strip().splitlines()}


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.path.insert(0, str(ROOT / "examples"))
    from bench_core import machine
    from make_motifs import MOTIFS, make_set

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        data = make_set(Path(tmp) / "motifs", count=count)
        weights = Path(tmp) / "motifs.safetensors"
        text, took = run(["train", str(data), "-o", str(weights), "-q"])
        print(f"\n## train, default settings, {count} pictures x {len(MOTIFS)} motifs: {took:.1f} s (whole command)")
        print(text.strip())
        before = probabilities(weights, PHOTO)
        print(f"\n## class dreams of {PHOTO.name}, default settings, seed 1")
        print("| motif | p before | p after | dream |")
        print("|---|---|---|---|")
        for motif in MOTIFS:
            out = Path(tmp) / f"{PHOTO.stem}-{motif}.png"
            _, dreamt = run(["dream", str(PHOTO), "-o", str(out), "--weights", str(weights), "--class", motif,
                             "--seed", "1", "-q"])
            print(f"| {motif} | {before[motif]:.3f} | {probabilities(weights, out)[motif]:.3f} | {dreamt:.1f} s |")


if __name__ == "__main__":
    main()
