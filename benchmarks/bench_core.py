"""Core benchmarks: the default dream, cost by layer depth, and a 4000x3000 photo.

Run from the repository root:

    .venv/bin/python benchmarks/bench_core.py          # W1 + per-photo gains + layer depth
    .venv/bin/python benchmarks/bench_core.py --w4     # also the 4000x3000 run (minutes)

Prints figures; record them with the machine in docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from inceptionism.machine import cpu_flags, cpu_info, cpu_model
from inceptionism.runtime import keep_freed_memory

keep_freed_memory()  # as the command does, before torch is imported
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def rss_mb() -> float:
    """This process's resident memory now, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


ISA_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile")


def cpu_description() -> str:
    """The processor's family/model and which of the flags that matter here it has."""
    info = cpu_info()
    if not info:
        return "flags unknown"
    flags = cpu_flags()
    have = [f for f in ISA_FLAGS if f in flags]
    lacks = [f for f in ISA_FLAGS if f not in flags]
    return (f"family {info.get('cpu family', '?')} model {info.get('model', '?')}; flags {' '.join(have) or 'none'}"
            + (f"; no {' '.join(lacks)}" if lacks else ""))


def machine() -> str:
    return (f"{cpu_model()} ({cpu_description()}), {os.cpu_count()} logical CPUs, torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads")


def bench_default(model) -> None:
    import inceptionism

    print("\n## W1: default dream (preset classic) of astronaut.jpg, 512x512")
    inceptionism.render(EXAMPLES / "chelsea.jpg", model=model, seed=0, octaves=1, steps=1)  # warm-up
    times = []
    for seed in range(3):
        start = time.perf_counter()
        result = inceptionism.render(EXAMPLES / "astronaut.jpg", model=model, seed=seed)
        times.append(time.perf_counter() - start)
    print(f"wall time: best {min(times):.2f} s, median {sorted(times)[1]:.2f} s of 3 (model already loaded)")
    print(f"objective: {result.score_start:.3f} -> {result.score_end:.3f} (x{result.score_end / result.score_start:.2f})")

    print("\n## Objective gain with the defaults, each sample photo (seed 0)")
    print("| photo | size | start | end | gain | time |")
    print("|---|---|---|---|---|---|")
    for photo in sorted(EXAMPLES.glob("*.jpg")):
        start = time.perf_counter()
        r = inceptionism.render(photo, model=model, seed=0)
        took = time.perf_counter() - start
        print(f"| {photo.name} | {r.image.width}x{r.image.height} | {r.score_start:.3f} | {r.score_end:.3f} "
              f"| x{r.score_end / r.score_start:.2f} | {took:.1f} s |")


def bench_depth(model) -> None:
    from torch.utils.flop_counter import FlopCounterMode

    from inceptionism.taps import capture

    print("\n## Cost by depth: one forward+backward step on 512x512, truncated at the layer")
    print("| layer | GFLOP (counted) | ms per step |")
    print("|---|---|---|")
    for layer in ["blocks.1.0.bn1", "blocks.2.0.bn1", "blocks.3.1.bn1", "blocks.4.1.bn1", "blocks.5.0.bn1", "conv_head"]:
        x = torch.rand(1, 3, 512, 512, requires_grad=True)
        with capture(model, [layer]) as run:
            with FlopCounterMode(display=False) as counter:
                run(x)[layer].square().mean().backward()
            times = []
            for _ in range(5):
                x.grad = None
                start = time.perf_counter()
                run(x)[layer].square().mean().backward()
                times.append(time.perf_counter() - start)
        print(f"| {layer} | {counter.get_total_flops() / 1e9:.2f} | {1000 * sorted(times)[2]:.0f} |")


W4_SCRIPT = """
import sys, time, resource
from inceptionism.runtime import keep_freed_memory
keep_freed_memory()  # as the command does
from PIL import Image
import inceptionism
src = Image.open(sys.argv[1]).convert("RGB").resize((4000, 3000), Image.Resampling.LANCZOS)
model = inceptionism.load_model()
start = time.perf_counter()
result = inceptionism.render(src, model=model, seed=0)
took = time.perf_counter() - start
result.image.save(sys.argv[2])
print(f"time {took:.1f} s; tile {result.config.tile_size}; objective {result.score_start:.3f} -> {result.score_end:.3f}")
"""


def bench_w4() -> None:
    print("\n## W4: default dream of a 4000x3000 photo (rocket.jpg upscaled), separate process")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "w4.jpg"
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", W4_SCRIPT, str(EXAMPLES / "rocket.jpg"), str(out)],
            capture_output=True, text=True,
        )
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            print(proc.stderr[-2000:])
            raise SystemExit(f"W4 failed with exit code {proc.returncode}")
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(proc.stdout.strip())
        print(f"process wall time {wall:.1f} s; peak RSS {peak_mb:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--w4", action="store_true", help="also dream a 4000x3000 photo (minutes)")
    parser.add_argument("--only-w4", action="store_true", help="run only W4")
    args = parser.parse_args()

    import inceptionism

    print(f"# inceptionism {inceptionism.__version__} core benchmark")
    print(f"machine: {machine()}")
    if not args.only_w4:
        start = time.perf_counter()
        model = inceptionism.load_model("efficientnet-lite0", device="cpu")
        print(f"model load: {time.perf_counter() - start:.2f} s")
        bench_default(model)
        bench_depth(model)
    if args.w4 or args.only_w4:
        bench_w4()


if __name__ == "__main__":
    main()
