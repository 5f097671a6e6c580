"""The speed suite: W1-W5 with wall time, counted FLOPs, achieved GFLOP/s and peak memory.

    .venv/bin/python benchmarks/suite.py                 # W1, W2, W3
    .venv/bin/python benchmarks/suite.py --all           # also W4 (4000x3000)

W5 (video frames at 1280x720) is benchmarks/bench_motion.py.
    .venv/bin/python benchmarks/suite.py --only W3

Each workload runs in its own process (its peak RSS is its own). FLOPs are PyTorch's FLOP
counter over one gradient step at each octave size (tiles included), multiplied by the
steps; the ceiling is this machine's fp32 matrix-multiply rate (on a GPU, its fp32 rate
without TF32, or its bf16 rate with --precision bf16), measured just before and after
each workload. W3 is also timed as the whole `inceptionism dream` command.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]

WORKLOADS = {
    "W1": {"what": "default dream, 512x512", "image": ("astronaut.jpg", 512, 512), "params": {}},
    "W2": {"what": "default dream, 1920x1080", "image": ("coffee.jpg", 1920, 1080), "params": {}},
    "W3": {
        "what": "TF tutorial: inception_v3 Mixed_6a+6c, 512px, octaves -2..2 x1.3, 5 steps",
        "image": ("astronaut.jpg", 512, 512),
        "params": {"model": "timm/inception_v3", "weights": "random", "layers": "Mixed_6a,Mixed_6c",
                   "octave_range": "-2:2", "octave_scale": 1.3, "steps": 5, "step_size": 0.01,
                   "tile_size": 512, "jitter": 512, "grad_norm": "std", "smooth": 0.0},
    },
    "W4": {"what": "default dream, 4000x3000", "image": ("rocket.jpg", 4000, 3000), "params": {}},
}

CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from inceptionism.runtime import keep_freed_memory
keep_freed_memory()  # as the command does
import torch
from PIL import Image
import inceptionism
from inceptionism.api import resolve_config, render
from inceptionism.device import resolve_device
from inceptionism.engine import plan_octaves, auto_tile_size
from inceptionism.engine.tiles import _pieces
from inceptionism.steering import build_objective
from inceptionism.taps import capture, auto_layers
from torch.utils.flop_counter import FlopCounterMode
spec = json.loads(sys.argv[1])
name, w, h = spec["image"]
image = Image.open(spec["root"] + "/examples/" + name).convert("RGB").resize((w, h), Image.Resampling.LANCZOS)
cfg = resolve_config(None, seed=0, **spec["params"])
model = inceptionism.load_model(cfg.model, device=resolve_device(cfg.device), weights=cfg.weights)
if cfg.layers is None:
    cfg = cfg.replace(layers=auto_layers(model))
objective = build_objective(model, cfg, (h, w))
tile = cfg.tile_size or auto_tile_size(model, objective.layers, h, w)
flops = 0
plan, _ = plan_octaves(h, w, cfg.octave_indices(), cfg.octave_scale, model.spec.min_size)
with capture(model, sorted(objective.layers)) as run:
    for octave in plan:
        x = torch.rand(1, 3, octave.height, octave.width, device=model.device)
        with FlopCounterMode(display=False) as counter:  # the counter needs backward(), not autograd.grad()
            for rows, cols in _pieces(octave.height, octave.width, tile):
                piece = x[:, :, rows, cols].detach().requires_grad_(True)
                objective(run(piece)).sum().backward()
        flops += counter.get_total_flops() * cfg.steps
start = time.perf_counter()
result = render(image, cfg, model=model)
if model.device.type == "cuda":
    torch.cuda.synchronize()
took = time.perf_counter() - start
out = {"seconds": took, "process": time.perf_counter() - t0, "flops": flops, "tile": tile,
       "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
       "gain": result.score_end / result.score_start if result.score_start else float("nan")}
if model.device.type == "cuda":
    out["cuda_max_mb"] = torch.cuda.max_memory_allocated() / 2**20
print(json.dumps(out))
"""


def matmul_rate(device: str = "cpu", dtype: torch.dtype = torch.float32, n: int = 2048, reps: int = 10) -> float:
    """The fp32 (or ``dtype``) matrix-multiply rate of ``device`` in GFLOP/s, best of a few runs."""
    if device == "cuda":
        n = 8192
    a, b = torch.rand(n, n, device=device, dtype=dtype), torch.rand(n, n, device=device, dtype=dtype)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(reps):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        torch.mm(a, b)
        if device == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def w3_command() -> tuple[float, float]:
    """W3 as the issue counts it: the whole ``inceptionism dream`` process, wall time and peak RSS."""
    p = WORKLOADS["W3"]["params"]
    flags = ["--model", p["model"], "--weights", p["weights"], "--layers", p["layers"],
             f"--octave-range={p['octave_range']}", "--octave-scale", str(p["octave_scale"]),
             "--steps", str(p["steps"]), "--step-size", str(p["step_size"]), "--tile-size", str(p["tile_size"]),
             "--jitter", str(p["jitter"]), "--grad-norm", p["grad_norm"], "--smooth", "0", "--seed", "0"]
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "inceptionism", "dream", str(ROOT / "examples" / "astronaut.jpg"),
               "-o", str(Path(tmp) / "w3.png"), "--quiet", *flags]
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak RSS
        took = time.perf_counter() - start
        if status:
            sys.exit(f"the W3 command failed: {proc.stderr.read().decode().strip().splitlines()[-1]}")
    return took, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="also W4")
    parser.add_argument("--only", help="one workload, e.g. W3")
    parser.add_argument("--command-runs", type=int, default=3, help="runs of the W3 command (default 3)")
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32", help="the network's arithmetic")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_core import machine

    names = [args.only] if args.only else ["W1", "W2", "W3"] + (["W4"] if args.all else [])
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # the plain fp32 rate
    dtype = torch.bfloat16 if args.precision == "bf16" and device == "cuda" else torch.float32
    what = f"{torch.cuda.get_device_name()} " if device == "cuda" else ""
    print(f"machine: {machine()}; network in {args.precision}. The ceiling is the "
          f"{what}{args.precision if device == 'cuda' else 'fp32'} matmul rate (2048^3 on a CPU, best of 10), "
          "measured just before and just after each workload, the higher of the two: on a shared machine "
          "it moves between runs.\n")
    print("| workload | what | dream time | process | counted TFLOP | GFLOP/s | ceiling | of ceiling | peak RSS | tile |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in names:
        spec = {**WORKLOADS[name], "root": str(ROOT)}
        spec["params"] = {**spec["params"], "precision": args.precision}
        before = matmul_rate(device, dtype)
        proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(spec)], capture_output=True, text=True)
        peak = max(before, matmul_rate(device, dtype))
        if proc.returncode:
            print(f"| {name} | failed: {proc.stderr.strip().splitlines()[-1]} |")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        rate = r["flops"] / r["seconds"] / 1e9
        print(f"| {name} | {spec['what']} | {r['seconds']:.1f} s | {r['process']:.1f} s | {r['flops'] / 1e12:.3f} "
              f"| {rate:.0f} | {peak:.0f} | {rate / peak:.0%} | {r['rss_mb']:.0f} MB | {r['tile']} |", flush=True)
    if "W3" in names:
        runs = [w3_command() for _ in range(args.command_runs)]
        print("\nW3 as a command (`python -m inceptionism dream ...`, whole process): "
              + ", ".join(f"{took:.1f} s" for took, _ in runs) + f"; peak RSS {max(r for _, r in runs):.0f} MB"
              + " (the goal: at most 0.8 x the TF tutorial's 22.5 s = 18 s)")
    if args.all:
        print("\nW5 (video frames at 1280x720): see benchmarks/bench_motion.py")


if __name__ == "__main__":
    main()
