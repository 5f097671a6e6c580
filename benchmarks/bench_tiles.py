"""Time of one gradient step by tile size, with and without keeping freed memory.

    .venv/bin/python benchmarks/bench_tiles.py                  # 1920x1080, default model
    .venv/bin/python benchmarks/bench_tiles.py --size 1024x1024 --tiles 256,512,1024

Three memory modes, each in its own process since the settings are process-wide: freed
memory returned to the OS (``INCEPTIONISM_KEEP_FREED_MEMORY=0``); kept, with PyTorch's
usual 64-byte alignment (what ``keep_freed_memory`` does); kept, with 2 MB alignment and
huge pages (``THP_MEM_ALLOC_ENABLE=1``, measured and not adopted). Prints seconds per
step (median of --reps) and page faults per step.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource, statistics, sys, time
from inceptionism.runtime import keep_freed_memory
kept = keep_freed_memory()
import torch
import inceptionism
from inceptionism.api import resolve_config
from inceptionism.engine.tiles import objective_gradient
from inceptionism.steering import build_objective
from inceptionism.taps import capture, auto_layers
args = json.loads(sys.argv[1])
cfg = resolve_config(None, seed=0, model=args["model"], weights=args["weights"])
model = inceptionism.load_model(cfg.model, weights=cfg.weights)
cfg = cfg.replace(layers=cfg.layers or auto_layers(model))
h, w = args["height"], args["width"]
objective = build_objective(model, cfg, (h, w))
x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(0), device=model.device)
rows = []
with capture(model, sorted(objective.layers)) as run:
    for tile in args["tiles"]:
        times, faults = [], []
        for rep in range(args["reps"] + 1):  # the first is a warm-up
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            start = time.perf_counter()
            objective_gradient(run, objective, x, tile=tile, shift=(rep * 17, rep * 29))
            times.append(time.perf_counter() - start)
            faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
        rows.append({"tile": tile, "s": statistics.median(times[1:]), "faults": statistics.median(faults[1:])})
print(json.dumps({"kept": kept, "rows": rows, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1920x1080", help="WxH of the image")
    parser.add_argument("--tiles", default="384,512,768,1024,1920", help="tile sides, comma-separated")
    parser.add_argument("--model", default="efficientnet-lite0")
    parser.add_argument("--weights", default=None)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    spec = {"model": args.model, "weights": args.weights, "width": width, "height": height,
            "tiles": [int(t) for t in args.tiles.split(",")], "reps": args.reps}
    modes = {
        "returned": {"INCEPTIONISM_KEEP_FREED_MEMORY": "0"},
        "kept (the default)": {"INCEPTIONISM_KEEP_FREED_MEMORY": "1", "THP_MEM_ALLOC_ENABLE": "0"},
        "kept, 2 MB aligned, huge pages": {"INCEPTIONISM_KEEP_FREED_MEMORY": "1", "THP_MEM_ALLOC_ENABLE": "1"},
    }
    results = {}
    for mode, extra in modes.items():
        env = {**os.environ, **extra}
        proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(spec)], capture_output=True, text=True, env=env)
        if proc.returncode:
            sys.exit(f"child failed: {proc.stderr.strip().splitlines()[-1]}")
        results[mode] = json.loads(proc.stdout.strip().splitlines()[-1])
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_core import machine

    print(f"machine: {machine()}; {args.model}, one gradient step over {width}x{height}: s per step, and page faults per step "
          f"(a fault maps 4 kB, or 2 MB with huge pages)\n")
    print("| tile | " + " | ".join(modes) + " |")
    print("|---|" + "---|" * len(modes))
    for i, tile in enumerate(spec["tiles"]):
        cells = (f"{results[m]['rows'][i]['s']:.2f} s, {results[m]['rows'][i]['faults']:.0f} faults" for m in modes)
        print(f"| {tile} | " + " | ".join(cells) + " |")
    print("\npeak RSS: " + ", ".join(f"{m} {results[m]['rss_mb']:.0f} MB" for m in modes))


if __name__ == "__main__":
    main()
