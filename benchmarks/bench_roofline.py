"""The default network against this machine's roofline: one gradient step of
EfficientNet-Lite0 (the default dream's layers) at 512x512 and 1920x1080.

    .venv/bin/python benchmarks/bench_roofline.py

- Memory bandwidth: the best of a few copies and triads (c = a + s*b) of 256 MB arrays
  with torch on every thread (bytes read plus bytes written, per second).
- Compute ceiling: suite.py's best fp32 GEMM rate.
- The step's FLOPs: PyTorch's FLOP counter. The step's bytes: every ATen operator's
  tensor inputs read once and outputs written once (a lower bound: no operator reads
  its input twice, no cache reuse between operators), counted by a dispatch mode, with
  the share of the padding copies (``constant_pad_nd``, and its gradient's slices)
  that timm's ``Conv2dSame`` makes for TensorFlow's "same" padding.
- The step's time: the best of 5 (the network's fused convolutions, as the dream runs).

Achieved/possible is printed for both: FLOP/s against the GEMM rate, and bytes/s against
the bandwidth. The larger share is the bound the step is nearer to.

Then the padding, A/B: the same step with timm's ``Conv2dSame`` (a padded copy of the
input) and with ``models.same.Conv2dSameByTaps`` (what the network runs), alternating,
the median of 7 steps each, 3 rounds, with their bytes.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Callable

from inceptionism.runtime import keep_freed_memory

keep_freed_memory()  # as the command does, before torch is imported
import torch  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import machine  # noqa: E402
from suite import matmul_rate  # noqa: E402


def bandwidth(mb: int = 256, reps: int = 5) -> float:
    """GB/s moved by torch's copy and triad over ``mb`` MB arrays, the best of both."""
    n = mb * 2**20 // 4
    a, b, c = torch.rand(n), torch.rand(n), torch.empty(n)
    best = 0.0
    for _ in range(reps):
        start = time.perf_counter()
        c.copy_(a)
        best = max(best, 2 * n * 4 / (time.perf_counter() - start))
        start = time.perf_counter()
        torch.add(a, b, alpha=3.0, out=c)
        best = max(best, 3 * n * 4 / (time.perf_counter() - start))
    return best / 1e9


class ByteCounter(TorchDispatchMode):
    """Bytes each ATen operator reads (tensor inputs) and writes (tensor outputs)."""

    def __init__(self) -> None:
        super().__init__()
        self.bytes: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        out = func(*args, **(kwargs or {}))
        moved = 0
        for value in [*args, *(kwargs or {}).values(), *(out if isinstance(out, (tuple, list)) else [out])]:
            for t in value if isinstance(value, (tuple, list)) else [value]:
                if isinstance(t, torch.Tensor):
                    moved += t.numel() * t.element_size()
        self.bytes[func.overloadpacket.__name__] += moved
        return out


def profile(step: Callable[[], object], reps: int) -> tuple[list[float], Counter[str]]:
    """``reps`` timed runs of ``step`` after a warm-up, and one more counting its bytes."""
    step()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    counter = ByteCounter()
    with counter:
        step()
    return times, counter.bytes


def main() -> None:
    import inceptionism
    from timm.layers.conv2d_same import Conv2dSame

    from inceptionism.api import resolve_config
    from inceptionism.models.same import Conv2dSameByTaps
    from inceptionism.engine.tiles import objective_gradient
    from inceptionism.steering import build_objective
    from inceptionism.taps import auto_layers, capture

    print(f"machine: {machine()}")
    bw, gemm = bandwidth(), matmul_rate()
    print(f"memory bandwidth (copy/triad, 256 MB): {bw:.1f} GB/s; fp32 GEMM ceiling: {gemm:.0f} GFLOP/s; "
          f"ridge point {gemm / bw:.1f} FLOP/byte\n")
    model = inceptionism.load_model()
    cfg = resolve_config(None, seed=0)
    cfg = cfg.replace(layers=auto_layers(model))
    pictures = []
    for width, height in ((512, 512), (1920, 1080)):
        objective = build_objective(model, cfg, (height, width))
        pictures.append((width, height, objective, torch.rand(1, 3, height, width)))

    def stepping(run, objective, x: torch.Tensor) -> Callable[[], object]:  # noqa: ANN001
        return partial(objective_gradient, run, objective, x, tile=max(x.shape[-2:]), shift=(0, 0), precision="fp32")

    print("| picture | step | GFLOP | GB moved (lower bound) | FLOP/byte | GFLOP/s (of GEMM ceiling) "
          "| GB/s (of bandwidth) | padding copies' share of bytes |")
    print("|---|---|---|---|---|---|---|---|")
    for width, height, objective, x in pictures:
        with capture(model, sorted(objective.layers)) as run:
            times, moved = profile(stepping(run, objective, x), 5)
            piece = x.detach().requires_grad_(True)
            with FlopCounterMode(display=False) as flops:  # the counter needs backward(), not autograd.grad()
                objective(run(piece)).sum().backward()
        best, total = min(times), sum(moved.values())
        padding = moved["constant_pad_nd"] + moved["slice_backward"]
        f = flops.get_total_flops()
        print(f"| {width}x{height} | {best:.3f} s | {f / 1e9:.1f} | {total / 1e9:.2f} | {f / total:.1f} "
              f"| {f / best / 1e9:.0f} ({f / best / 1e9 / gemm:.0%}) | {total / best / 1e9:.1f} "
              f"({total / best / 1e9 / bw:.0%}) | {padding / total:.1%} |", flush=True)
        top = ", ".join(f"{name} {b / total:.0%}" for name, b in moved.most_common(6))
        print(f"|  | bytes by operator: {top} | | | | | | |")
    print("\n| picture | round | padded copies (timm) | taps (ours) | ratio | GB moved, copies / taps |")
    print("|---|---|---|---|---|---|")
    # The network's "same" convolutions: ours, since the default network is built without timm (the A/B
    # makes them timm's and back; both keep padding=0 and the same parameters).
    convs = [m for m in model.net.modules() if isinstance(m, (Conv2dSame, Conv2dSameByTaps))]
    if not convs:
        raise SystemExit("the default network has no 'same' convolutions: the padding A/B would compare nothing")
    for width, height, objective, x in pictures:
        with capture(model, sorted(objective.layers)) as run:
            step = stepping(run, objective, x)

            def timed(kind: type) -> tuple[float, float]:
                for conv in convs:
                    conv.__class__ = kind
                times, moved = profile(step, 7)
                return statistics.median(times), sum(moved.values()) / 1e9

            for round_ in range(1, 4):
                (copies, copied), (taps, tapped) = timed(Conv2dSame), timed(Conv2dSameByTaps)
                print(f"| {width}x{height} | {round_} | {copies:.3f} s | {taps:.3f} s | {taps / copies:.2f} "
                      f"| {copied:.2f} / {tapped:.2f} |", flush=True)


if __name__ == "__main__":
    main()
