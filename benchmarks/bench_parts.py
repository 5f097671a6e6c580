"""Engine parts measured on and off in one process: gradient smoothing and folding.

    .venv/bin/python benchmarks/bench_parts.py                 # both
    .venv/bin/python benchmarks/bench_parts.py --only smoothing
    .venv/bin/python benchmarks/bench_parts.py --only folding

smoothing: the cascade of three Gaussian blurs as direct grouped convolutions (the
           reference) and through one FFT (what the engine does), with their largest
           difference.
folding:   one gradient step, unfolded / batch norms folded (alternating, median of 7),
           and how far the image gradient moves (relative L2).
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


def best_ms(fn, reps: int = 7) -> float:
    fn()
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1000


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["smoothing", "folding"])
    args = parser.parse_args()
    print(f"machine: {machine()}\n")
    if args.only in (None, "smoothing"):
        bench_smoothing()
    if args.only in (None, "folding"):
        bench_folding()


if __name__ == "__main__":
    main()
