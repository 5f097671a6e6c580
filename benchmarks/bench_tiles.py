"""Time of one gradient step by tile size, with and without keeping freed memory.

    .venv/bin/python benchmarks/bench_tiles.py                  # 1920x1080, default model
    .venv/bin/python benchmarks/bench_tiles.py --size 1024x1024 --tiles 256,512,1024

Each malloc mode runs in its own process (``INCEPTIONISM_KEEP_FREED_MEMORY``), since the
setting is process-wide. Prints seconds per step (median of --reps) and per megapixel.
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
import torch
from inceptionism.runtime import keep_freed_memory
kept = keep_freed_memory()
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
        times = []
        for rep in range(args["reps"] + 1):  # the first is a warm-up
            start = time.perf_counter()
            objective_gradient(run, objective, x, tile=tile, shift=(rep * 17, rep * 29))
            times.append(time.perf_counter() - start)
        rows.append({"tile": tile, "s": statistics.median(times[1:])})
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
    results = {}
    for keep in ("0", "1"):
        env = {**os.environ, "INCEPTIONISM_KEEP_FREED_MEMORY": keep}
        proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(spec)], capture_output=True, text=True, env=env)
        if proc.returncode:
            sys.exit(f"child failed: {proc.stderr.strip().splitlines()[-1]}")
        results[keep] = json.loads(proc.stdout.strip().splitlines()[-1])
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_core import machine

    mp = width * height / 1e6
    print(f"machine: {machine()}; {args.model}, one gradient step over {width}x{height}\n")
    print("| tile | freed memory returned: s/step | s/MP | kept (`keep_freed_memory`): s/step | s/MP | |")
    print("|---|---|---|---|---|---|")
    for off, on in zip(results["0"]["rows"], results["1"]["rows"]):
        print(f"| {off['tile']} | {off['s']:.2f} | {off['s'] / mp:.2f} | {on['s']:.2f} | {on['s'] / mp:.2f} "
              f"| x{off['s'] / on['s']:.2f} |")
    print(f"\npeak RSS: returned {results['0']['rss_mb']:.0f} MB, kept {results['1']['rss_mb']:.0f} MB"
          f" (kept took effect: {results['1']['kept']})")


if __name__ == "__main__":
    main()
