"""Steering benchmarks: channel galleries (first run and cached) and batched class pictures.

    .venv/bin/python benchmarks/bench_steering.py

Each gallery run is a whole `inceptionism gallery` process, as a user would time it,
with a fresh cache directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).with_name("inceptionism")


def timed(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run([str(BIN), *args], capture_output=True, text=True, env=env, check=True)
    return time.perf_counter() - start, proc.stdout.strip()


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_core import machine

    print(f"machine: {machine()}")
    print("\n## Channel galleries (whole process, 128 px, 64 steps, batch 16)")
    print("| layer | channels | first run | second run (cache) |")
    print("|---|---|---|---|")
    for layer, channels in (("blocks.0.0.bn1", 32), ("blocks.2.1.conv_pwl", 40)):
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "INCEPTIONISM_HOME": str(Path(tmp) / "home")}
            first, _ = timed(["gallery", layer, "-o", str(Path(tmp) / "g1"), "-q"], env)
            second, text = timed(["gallery", layer, "-o", str(Path(tmp) / "g2"), "-q"], env)
            assert "from cache" in text, text
        print(f"| {layer} | {channels} | {first:.1f} s | {second:.1f} s |")

    import torch

    import inceptionism
    from inceptionism.featurevis import FeatureVisConfig, visualize_features
    from inceptionism.steering import unit_terms
    from inceptionism.labels import resolve_class

    model = inceptionism.load_model()
    names = ["banana", "goldfinch", "volcano", "lemon", "tabby"]
    print("\n## Class pictures from noise, Fourier, one batch of 5")
    print("| size | steps | time | p(class) by the same model |")
    print("|---|---|---|---|")
    for size, steps in ((160, 96), (224, 128)):
        start = time.perf_counter()
        results = visualize_features(model, unit_terms(model, "class", ",".join(names)), FeatureVisConfig(size=size, steps=steps, seed=0), batch=5)
        took = time.perf_counter() - start
        probs = []
        for r, name in zip(results, names):
            x = torch.nn.functional.interpolate(
                torch.from_numpy(__import__("numpy").asarray(r.image, "float32") / 255).permute(2, 0, 1)[None],
                size=(224, 224), mode="bilinear", antialias=True,
            )
            with torch.no_grad():
                probs.append(float(model(x).softmax(-1)[0, resolve_class(name)]))
        print(f"| {size} | {steps} | {took:.1f} s | {', '.join(f'{n} {p:.3f}' for n, p in zip(names, probs))} |")


if __name__ == "__main__":
    main()
