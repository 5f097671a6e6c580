"""The speed suite: W1-W4 in fp32 and with the default precision (auto) side by side,
the start-up, and W3 as a whole command against TensorFlow's.

    .venv/bin/python benchmarks/suite.py                          # W1, W2, W3, start-up
    .venv/bin/python benchmarks/suite.py --all                    # also W4 (4000x3000)
    .venv/bin/python benchmarks/suite.py --only W3
    .venv/bin/python benchmarks/suite.py --runs 3 --no-start       # each workload 3 times, fp32 and auto alternating
    .venv/bin/python benchmarks/suite.py --tensorflow /tmp/tf/bin/python   # W3 beside TF's

W5 (video frames at 1280x720) is benchmarks/bench_motion.py.

Each workload runs in its own process (its peak RSS is its own), once with
``--precision fp32`` and once with ``auto`` (the default), which records what it resolved
to; with ``--runs N`` each workload runs N times, the precisions alternating, and a last
table gives each precision's median dream time and its ratio to fp32's. FLOPs are PyTorch's FLOP counter over one gradient step at each octave size (tiles
included), multiplied by the steps. The ceiling is this machine's best matrix-multiply
rate over a few GEMM shapes (fp32; on a GPU without TF32, or its bf16 rate where the
network ran in bf16), measured just before and after
each workload, or, where higher, the forward rate of W3's network's own largest
convolutions alone; beside it the ISA's peak from the clock, vector width and two FMA
units per core. W3 is also timed as the whole ``inceptionism dream`` command, alternating with
``benchmarks/w3_tensorflow.py`` under ``--tensorflow`` (a Python that has TensorFlow), both as
the tutorial tiles and with ``--whole`` (every pixel, the work ours does).
The start-up is ``benchmarks/bench_start.py``'s: a default dream command's time outside
the dream.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
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
       "gain": result.score_end / result.score_start if result.score_start else float("nan"),
       "precision": result.config.precision}
if model.device.type == "cuda":
    out["cuda_max_mb"] = torch.cuda.max_memory_allocated() / 2**20
print(json.dumps(out))
"""


GEMM_SHAPES = ((2048, 2048, 2048), (4096, 1024, 4096), (1024, 4096, 1024), (3072, 3072, 3072))


def matmul_rate(device: str = "cpu", dtype: torch.dtype = torch.float32, reps: int = 6) -> float:
    """The best fp32 (or ``dtype``) matrix-multiply rate of ``device`` over a few GEMM
    shapes (M x K times K x N), in GFLOP/s, each the best of ``reps`` runs."""
    shapes = ((8192, 8192, 8192),) if device == "cuda" else GEMM_SHAPES
    rate = 0.0
    for m, k, n in shapes:
        a, b = torch.rand(m, k, device=device, dtype=dtype), torch.rand(k, n, device=device, dtype=dtype)
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
        rate = max(rate, 2 * m * k * n / best / 1e9)
    return rate


def conv_rate(model_name: str = "timm/inception_v3", side: int = 512, top: int = 3) -> tuple[float, str]:
    """The best forward rate (GFLOP/s) of the network's own largest convolutions: run it
    once at ``side`` x ``side`` to find the ``top`` convolutions with the most FLOPs, then
    time each alone on its real input (channels_last, best of 5). W3's network by default."""
    import inceptionism

    model = inceptionism.load_model(model_name, weights="random")
    found: list[tuple[float, str, torch.nn.Conv2d, torch.Tensor]] = []
    hooks = []
    for name, module in model.net.named_modules():
        if isinstance(module, torch.nn.Conv2d):
            def record(m, inputs, output, name=name):
                kh, kw = m.kernel_size
                flops = 2 * output.numel() * (m.in_channels // m.groups) * kh * kw
                found.append((flops, name, m, inputs[0].detach()))
            hooks.append(module.register_forward_hook(record))
    with torch.no_grad():
        model(torch.rand(1, 3, side, side).to(memory_format=torch.channels_last))
    for hook in hooks:
        hook.remove()
    best, where = 0.0, ""
    with torch.no_grad():
        for flops, name, conv, x in sorted(found, key=lambda f: -f[0])[:top]:
            conv(x)
            seconds = float("inf")
            for _ in range(5):
                start = time.perf_counter()
                conv(x)
                seconds = min(seconds, time.perf_counter() - start)
            if flops / seconds / 1e9 > best:
                best, where = flops / seconds / 1e9, f"{name}, input {tuple(x.shape)}"
    return best, where


def isa_peak() -> tuple[float, float, int]:
    """The CPU's fp32 peak in GFLOP/s from /proc/cpuinfo: cores x clock x fp32 lanes (16
    with AVX-512, 8 with AVX2) x 2 FMA units x 2 FLOPs; and the clock (GHz) and lanes used.
    The clock is the one the kernel reports: a virtual machine may report the nominal one."""
    from inceptionism.machine import cpu_flags

    text = Path("/proc/cpuinfo").read_text()  # every processor's clock: the highest counts
    ghz = max(float(line.split(":")[1]) for line in text.splitlines() if line.startswith("cpu MHz")) / 1000
    flags = cpu_flags()
    lanes = 16 if "avx512f" in flags else 8 if "avx2" in flags else 4
    return (os.cpu_count() or 1) * ghz * lanes * 2 * 2, ghz, lanes


def _timed(cmd: list[str]) -> tuple[float, float]:
    """Wall time and peak RSS (MB) of ``cmd`` as a whole process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak RSS
    took = time.perf_counter() - start
    if status:
        sys.exit(f"{' '.join(cmd[:4])} failed: {proc.stderr.read().decode().strip().splitlines()[-1]}")
    return took, usage.ru_maxrss / 1024


def w3_command(tmp: str) -> tuple[float, float]:
    """W3 as the issue counts it: the whole ``inceptionism dream`` process, wall time and peak RSS."""
    p = WORKLOADS["W3"]["params"]
    flags = ["--model", p["model"], "--weights", p["weights"], "--layers", p["layers"],
             f"--octave-range={p['octave_range']}", "--octave-scale", str(p["octave_scale"]),
             "--steps", str(p["steps"]), "--step-size", str(p["step_size"]), "--tile-size", str(p["tile_size"]),
             "--jitter", str(p["jitter"]), "--grad-norm", p["grad_norm"], "--smooth", "0", "--seed", "0"]
    return _timed([sys.executable, "-m", "inceptionism", "dream", str(ROOT / "examples" / "astronaut.jpg"),
                   "-o", str(Path(tmp) / "w3.png"), "--quiet", *flags])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="also W4")
    parser.add_argument("--only", help="one workload, e.g. W3")
    parser.add_argument("--command-runs", type=int, default=3, help="runs of the W3 command (default 3)")
    parser.add_argument("--precisions", default="fp32,auto", help="the network's arithmetic, side by side "
                        "(default fp32,auto; bf16 may be named)")
    parser.add_argument("--tensorflow", metavar="PYTHON", help="a Python with TensorFlow: time W3 beside "
                        "benchmarks/w3_tensorflow.py, alternating, --command-runs each")
    parser.add_argument("--no-start", action="store_true", help="skip the start-up measurement")
    parser.add_argument("--runs", type=int, default=1, help="runs of each workload and precision, alternating "
                        "(default 1); with more, a table of medians and ratios to fp32 follows")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_core import machine

    names = [args.only] if args.only else ["W1", "W2", "W3"] + (["W4"] if args.all else [])
    precisions = args.precisions.split(",")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # the plain fp32 rate
    what = f"{torch.cuda.get_device_name()} " if device == "cuda" else ""
    dtypes = (torch.float32, torch.bfloat16) if device == "cuda" else (torch.float32,)  # a GPU's bf16 rate for bf16
    print(f"machine: {machine()}")
    if device == "cpu":
        peak, ghz, lanes = isa_peak()
        print(f"ISA peak (fp32): {peak:.0f} GFLOP/s ({os.cpu_count()} cores x {ghz:.2f} GHz as reported x {lanes} "
              "fp32 lanes x 2 FMA units x 2)")
    convs, where = conv_rate() if device == "cpu" else (0.0, "")
    if device == "cpu":
        print(f"W3's network's largest convolutions, alone: best {convs:.0f} GFLOP/s ({where})")
    print(f"The ceiling is the {what}fp32 matmul rate (on a GPU, its bf16 rate where the network ran in bf16), the best "
          f"of {len(GEMM_SHAPES)} GEMM shapes, measured just "
          "before and just after each workload, or the convolutions' rate above where that is higher: on a shared "
          "machine it moves between runs.\n")
    print("| workload | what | precision (resolved) | dream time | process | counted TFLOP | GFLOP/s | ceiling "
          "| of ceiling | peak RSS | tile | objective gain |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    seconds: dict[tuple[str, str], list[float]] = {}
    runs = [(name, precision) for name in names for _ in range(args.runs) for precision in precisions]
    for name, precision in runs:  # one row per run and precision, the precisions alternating
        spec = {**WORKLOADS[name], "root": str(ROOT)}
        spec["params"] = {**spec["params"], "precision": precision}
        before = {dtype: matmul_rate(device, dtype) for dtype in dtypes}
        proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(spec)], capture_output=True, text=True)
        if proc.returncode:
            print(f"| {name} | failed: {proc.stderr.strip().splitlines()[-1]} |")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        seconds.setdefault((name, precision), []).append(r["seconds"])
        dtype = torch.bfloat16 if device == "cuda" and r["precision"] == "bf16" else torch.float32  # as it ran
        ceiling = max(before[dtype], matmul_rate(device, dtype), convs)
        rate = r["flops"] / r["seconds"] / 1e9
        print(f"| {name} | {spec['what']} | {precision} ({r['precision']}) | {r['seconds']:.1f} s "
              f"| {r['process']:.1f} s | {r['flops'] / 1e12:.3f} | {rate:.0f} | {ceiling:.0f} | {rate / ceiling:.0%} "
              f"| {r['rss_mb']:.0f} MB | {r['tile']} | x{r['gain']:.2f} |", flush=True)
    if args.runs > 1:
        print(f"\nMedians of {args.runs} runs (dream time), and each precision's ratio to fp32's:\n")
        print("| workload | " + " | ".join(precisions) + " | " + " | ".join(f"{p} / fp32" for p in precisions if p != "fp32") + " |")
        print("|---|" + "---|" * (2 * len(precisions) - (1 if "fp32" in precisions else 0)))
        for name in names:
            medians = {p: statistics.median(seconds.get((name, p), [float("nan")])) for p in precisions}
            ratios = [f"{medians[p] / medians['fp32']:.2f}" for p in precisions if p != "fp32" and "fp32" in medians]
            print(f"| {name} | " + " | ".join(f"{medians[p]:.2f} s" for p in precisions) + " | " + " | ".join(ratios) + " |")
    if device == "cpu":
        best, (peak, ghz, _) = matmul_rate(device), isa_peak()
        clock = ghz * best / peak
        print(f"\nThe best GEMM rate now, {best:.0f} GFLOP/s, is {best / peak:.0%} of the ISA peak at the reported "
              f"{ghz:.2f} GHz" + (f"; it would be the peak at {clock:.2f} GHz, so the cores run faster than reported"
                                  if best > peak else "") + ".")
    if not args.no_start:
        from bench_start import outside_the_dream

        for precision in precisions:
            rows = outside_the_dream(args.command_runs, ["--precision", precision])
            print(f"\nstart-up, --precision {precision}: a default dream command's time outside the dream, "
                  f"median of {len(rows)}: {statistics.median(r['outside'] for r in rows):.2f} s (whole command "
                  f"{statistics.median(r['wall'] for r in rows):.2f} s; the goal: at most 1.5 s)", flush=True)
    if "W3" in names:
        ours, theirs, whole = [], [], []
        tf_script = str(ROOT / "benchmarks" / "w3_tensorflow.py")
        with tempfile.TemporaryDirectory() as tmp:
            for _ in range(args.command_runs):
                ours.append(w3_command(tmp))
                if args.tensorflow:
                    theirs.append(_timed([args.tensorflow, tf_script]))
                    whole.append(_timed([args.tensorflow, tf_script, "--whole"]))
        line = (f"\nW3 as a command (`python -m inceptionism dream ...`, whole process): "
                + ", ".join(f"{took:.1f} s" for took, _ in ours) + f"; peak RSS {max(r for _, r in ours):.0f} MB")
        mine = statistics.median(t for t, _ in ours)
        for runs, what in ((theirs, "the tutorial's tiling"), (whole, "--whole: every pixel, the same work as ours")):
            if runs:
                tf = statistics.median(t for t, _ in runs)
                line += (f"\nW3 in TensorFlow, {what} (benchmarks/w3_tensorflow.py, whole process, alternating): "
                         + ", ".join(f"{took:.1f} s" for took, _ in runs) + f"; peak RSS {max(r for _, r in runs):.0f} MB"
                         + f"\n  medians {mine:.1f} s against {tf:.1f} s: ours is {mine / tf:.2f}x TensorFlow's")
        if theirs:
            line += "\n(the goal: at most 0.8x the tutorial's)"
        print(line)
    if args.all:
        print("\nW5 (video frames at 1280x720): see benchmarks/bench_motion.py")


if __name__ == "__main__":
    main()
