"""Engine parts measured on and off in one process: gradient smoothing, folding, W3's steps.

    .venv/bin/python benchmarks/bench_parts.py                 # all three
    .venv/bin/python benchmarks/bench_parts.py --only smoothing
    .venv/bin/python benchmarks/bench_parts.py --only folding
    .venv/bin/python benchmarks/bench_parts.py --only w3

smoothing: the cascade of three Gaussian blurs as direct grouped convolutions (the
           reference) and through one FFT (what the engine does), with their largest
           difference.
folding:   one gradient step, unfolded / batch norms folded (alternating, median of 7),
           and how far the image gradient moves (relative L2).
w3:        where the suite's W3 dream spends its time: for each octave's tile shape, one
           gradient step (median of 5), its convolutions alone (each at its own input,
           forward and input gradient, channels_last, median of 5) and the counted
           GFLOP; then the dream's network time (steps x tiles x octaves) and its floor
           at the best GEMM rate.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from inceptionism.runtime import keep_freed_memory

keep_freed_memory()  # as the command does, before torch is imported
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import machine  # noqa: E402


def times_ms(fn, reps: int) -> list[float]:
    """``reps`` timed calls of ``fn`` after a warm-up, in milliseconds."""
    fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def best_ms(fn, reps: int = 7) -> float:
    return min(times_ms(fn, reps))


def median_ms(fn, reps: int = 5) -> float:
    import statistics

    return statistics.median(times_ms(fn, reps))


def bench_smoothing() -> None:
    from inceptionism.engine.filters import _spatial_blur, cascade_smooth

    def direct(g: torch.Tensor, sigma: float) -> torch.Tensor:
        return sum(_spatial_blur(g, s) for s in (0.5 * sigma, sigma, 2 * sigma)) / 3

    print("## Gradient smoothing (cascade at sigma/2, sigma, 2 sigma; 3 channels)\n")
    print("| image | sigma | direct convolution | one FFT | largest difference |")
    print("|---|---|---|---|---|")
    for width, height in ((512, 512), (1920, 1080), (4000, 3000)):
        g = torch.randn(1, 3, height, width, generator=torch.Generator().manual_seed(0))
        for sigma in (0.5, 2.5, 5.0):
            diff = (direct(g, sigma) - cascade_smooth(g, sigma)).abs().max().item()
            print(f"| {width}x{height} | {sigma} | {best_ms(lambda: direct(g, sigma)):.0f} ms "
                  f"| {best_ms(lambda: cascade_smooth(g, sigma)):.0f} ms | {diff:.1e} |", flush=True)


def bench_folding() -> None:
    import statistics

    import inceptionism
    from inceptionism.taps import capture

    print("\n## One gradient step: batch norms folded or not (median of 7, alternating)\n")
    print("| network (layers) | side | unfolded | folded | gradient moved by folding |")
    print("|---|---|---|---|---|")
    cases = (("efficientnet-lite0", None, "blocks.4.1.bn1,blocks.5.0.bn1", (512, 1024)),
             ("timm/inception_v3", "random", "Mixed_6a,Mixed_6c", (432, 512)))
    for name, weights, layers, sides in cases:
        model = inceptionism.load_model(name, weights=weights)
        folds = model.folds
        for side in sides:
            x0 = torch.rand(1, 3, side, side, generator=torch.Generator().manual_seed(0))
            times: dict[bool, list[float]] = {False: [], True: []}
            grads = {}
            for rep in range(8):
                for fold in (False, True):
                    model.folds = folds if fold else []
                    with capture(model, layers.split(",")) as run:  # folds apply inside capture
                        x = x0.clone().requires_grad_(True)
                        start = time.perf_counter()
                        value = sum(a.square().mean() for a in run(x).values())
                        grads[fold] = torch.autograd.grad(value, x)[0]
                        if rep:  # the first round is a warm-up
                            times[fold].append(time.perf_counter() - start)
            model.folds = folds
            moved = ((grads[True] - grads[False]).norm() / grads[False].norm()).item()
            print(f"| {name} ({layers}) | {side} | {statistics.median(times[False]) * 1000:.0f} ms "
                  f"| {statistics.median(times[True]) * 1000:.0f} ms | {moved:.1e} |", flush=True)


def bench_w3() -> None:
    from collections import Counter

    from torch.utils.flop_counter import FlopCounterMode

    import inceptionism
    from inceptionism.engine.octaves import plan_octaves
    from inceptionism.engine.tiles import _pieces
    from suite import WORKLOADS, matmul_rate

    p = WORKLOADS["W3"]["params"]
    model = inceptionism.load_model(p["model"], weights=p["weights"])
    layers = p["layers"].split(",")
    low, high = (int(k) for k in p["octave_range"].split(":"))
    octaves, _ = plan_octaves(512, 512, list(range(low, high + 1)), p["octave_scale"], model.spec.min_size)
    convs = {n: m for n, m in model.net.named_modules() if isinstance(m, torch.nn.Conv2d)}

    def step(x0: torch.Tensor, shapes: dict | None = None) -> None:
        hooks = [m.register_forward_hook(lambda m, i, o, n=n: shapes.__setitem__(n, i[0].shape))
                 for n, m in convs.items()] if shapes is not None else []
        try:
            with inceptionism.taps.capture(model, layers) as run:  # folds apply inside capture
                x = x0.detach().requires_grad_(True)
                value = sum(a.mean() for a in run(x).values())
                value.backward()
        finally:
            for hook in hooks:
                hook.remove()

    def convs_alone(shapes: dict) -> float:
        total = 0.0
        with inceptionism.taps.capture(model, layers):  # the folded weights, as the step uses them
            for name, shape in shapes.items():
                conv = convs[name]
                x = torch.rand(shape).contiguous(memory_format=torch.channels_last).requires_grad_(True)
                out = conv(x)
                grad = torch.ones_like(out)
                total += median_ms(lambda: torch.autograd.grad(conv(x), x, grad))
        return total

    print(f"\n## W3's gradient steps ({p['model']}, {p['layers']}, tile {p['tile_size']})\n")
    print("| octave | tiles | one step on a tile | its convolutions alone | the rest | GFLOP | convolutions' GFLOP/s |")
    print("|---|---|---|---|---|---|---|")
    total = conv_total = flops_total = 0.0
    for octave in octaves:
        for (h, w), count in Counter((r.stop - r.start, c.stop - c.start)
                                     for r, c in _pieces(octave.height, octave.width, p["tile_size"])).items():
            x0 = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(0))
            shapes: dict = {}
            step(x0, shapes)
            with FlopCounterMode(display=False) as counter:
                step(x0)
            flops = counter.get_total_flops() / 1e9
            ms, conv_ms = median_ms(lambda: step(x0)), convs_alone(shapes)
            total += ms * count * p["steps"]
            conv_total += conv_ms * count * p["steps"]
            flops_total += flops * count * p["steps"]
            print(f"| {octave.height} | {count} x {h}x{w} | {ms:.1f} ms | {conv_ms:.1f} ms | {ms - conv_ms:.1f} ms "
                  f"| {flops:.1f} | {flops / conv_ms * 1000:.0f} |", flush=True)
    best = matmul_rate("cpu")
    print(f"\nW3's network time, {p['steps']} steps per octave: {total / 1000:.2f} s, of which the convolutions "
          f"alone {conv_total / 1000:.2f} s ({conv_total / total:.0%}) and the rest (activations, pools, concatenation, "
          f"the autograd engine) {(total - conv_total) / 1000:.2f} s. Counted: {flops_total / 1000:.3f} TFLOP; at the "
          f"best GEMM rate now ({best:.0f} GFLOP/s) that is {flops_total / best:.2f} s.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["smoothing", "folding", "w3"])
    args = parser.parse_args()
    print(f"machine: {machine()}\n")
    if args.only in (None, "smoothing"):
        bench_smoothing()
    if args.only in (None, "folding"):
        bench_folding()
    if args.only in (None, "w3"):
        bench_w3()


if __name__ == "__main__":
    main()
