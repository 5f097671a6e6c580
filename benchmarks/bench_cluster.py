"""The cluster path's overhead: ``inceptionism batch`` of N photos (default 20 at 512x512)
as a whole command, in this process's way (no Ray) and with ``--cluster local`` (a Ray
runtime on this machine, one dreamer actor with all its cores), alternately, several times.

    .venv/bin/python benchmarks/bench_cluster.py [N] [SIDE] [ROUNDS]

Both commands dream the same files with the same seed and thread count, so they do the
same work; the difference is Ray's: starting the runtime and the actor (which imports
torch and loads the network in its own process), and carrying each photo and dream
through the object store. The outputs are compared pixel for pixel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "inceptionism"]


def photos(folder: Path, count: int, side: int) -> None:
    """``count`` different square photos: the examples, cropped, mirrored and rotated."""
    sources = sorted((ROOT / "examples").glob("*.jpg"))
    for i in range(count):
        im = ImageOps.fit(Image.open(sources[i % len(sources)]).convert("RGB"), (side, side))
        im = im.rotate(90 * (i // len(sources) % 4))
        (ImageOps.mirror(im) if i // (4 * len(sources)) % 2 else im).save(folder / f"p{i:03d}.png")


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})
    took = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return took


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_core import machine

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    side = int(sys.argv[2]) if len(sys.argv) > 2 else 512
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    threads = os.cpu_count() or 1
    print(f"machine: {machine()}")
    print(f"\n## batch of {count} photos of {side}x{side}, default dream, seed 1, {threads} threads; whole commands")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        photos(folder, count, side)
        base = [*CLI, "batch", str(folder), "--seed", "1", "--threads", str(threads), "-q"]
        local, cluster = [], []
        for _ in range(rounds):
            for out in ("here", "ray"):
                shutil.rmtree(Path(tmp) / out, ignore_errors=True)
            local.append(timed([*base, "-o", str(Path(tmp) / "here")]))
            cluster.append(timed([*base, "-o", str(Path(tmp) / "ray"), "--cluster", "local"]))
            print(f"  round: here {local[-1]:.1f} s, --cluster local {cluster[-1]:.1f} s", flush=True)
        same = all(np.array_equal(np.asarray(Image.open(p)), np.asarray(Image.open(Path(tmp) / "ray" / p.name)))
                   for p in (Path(tmp) / "here").glob("*.png"))  # fmt: skip
    here, there = min(local), min(cluster)
    print(f"| | this process (no Ray) | --cluster local |")
    print(f"|---|---|---|")
    print(f"| whole command, best of {rounds} | {here:.1f} s | {there:.1f} s |")
    print(f"| per photo | {here / count:.2f} s | {there / count:.2f} s |")
    print(f"| overhead per photo | | {(there - here) / count:+.2f} s ({there / here - 1:+.1%}) |")
    print(f"outputs equal pixel for pixel: {same}")


if __name__ == "__main__":
    main()
