"""fp32 against bf16 on this machine: where bf16 is faster, and whether the dream is as strong.
The figures behind ``precision.RULES`` (docs/performance.md, "Precision").

    .venv/bin/python benchmarks/bench_precision.py steps      # one gradient step per piece size, 1 and 2 threads
    .venv/bin/python benchmarks/bench_precision.py dreams     # W1, W2, a 720p carried frame: time and gain
    .venv/bin/python benchmarks/bench_precision.py classes    # class dreams: is the class reached as often?
    .venv/bin/python benchmarks/bench_precision.py featurevis # visualize --param fft and a training step
    .venv/bin/python benchmarks/bench_precision.py networks   # every listed network: which get bf16 on this class
    .venv/bin/python benchmarks/bench_precision.py all

Everything runs in this one process with the bundled network loaded once; fp32 and bf16
alternate (A B A B ...) so a change in the machine's load falls on both, and medians are
quoted. bf16 means what ``--precision bf16`` does: the network under ``torch.autocast``,
the image, the objective and the gradient in fp32. The objective is always read in fp32,
so gains compare. Nothing here is a test: it prints figures, with the machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

from inceptionism.runtime import keep_freed_memory

keep_freed_memory()  # as the command does, before torch is imported
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
PRECISIONS = ("fp32", "bf16")


def alternate(runs: int, work: Callable[[str], float]) -> dict[str, list[float]]:
    """``work(precision)`` -> seconds, ``runs`` times each, fp32 and bf16 in turn (after one warm-up each)."""
    for precision in PRECISIONS:
        work(precision)
    times: dict[str, list[float]] = {p: [] for p in PRECISIONS}
    for _ in range(runs):
        for precision in PRECISIONS:
            times[precision].append(work(precision))
    return times


def ratio(times: dict[str, list[float]]) -> str:
    """bf16's median over fp32's, and the range of the pairwise ratios (the noise)."""
    pairs = [b / f for f, b in zip(times["fp32"], times["bf16"])]
    return f"{statistics.median(times['bf16']) / statistics.median(times['fp32']):.2f} ({min(pairs):.2f}-{max(pairs):.2f})"


def photo(name: str, width: int, height: int) -> Image.Image:
    return Image.open(EXAMPLES / name).convert("RGB").resize((width, height), Image.Resampling.LANCZOS)


def bench_steps(model, runs: int) -> None:
    """One default gradient step (the default dream's objective) on one piece of each size."""
    from inceptionism.api import resolve_config
    from inceptionism.engine.tiles import objective_gradient
    from inceptionism.steering import build_objective
    from inceptionism.taps import capture

    cfg = resolve_config(None, seed=0)
    print("\n## One gradient step on one piece (the default objective)\n")
    print("| piece | pixels | threads | fp32 | bf16 | bf16 / fp32 (pairs' range) |")
    print("|---|---|---|---|---|---|")
    for threads in (2, 1):
        torch.set_num_threads(threads)
        for width, height in ((256, 256), (384, 384), (512, 512), (640, 640), (720, 720), (640, 1024), (800, 800),
                              (1024, 1024)):
            objective = build_objective(model, cfg, (height, width))
            x = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(0))
            with capture(model, sorted(objective.layers)) as run:
                def step(precision: str) -> float:
                    start = time.perf_counter()
                    objective_gradient(run, objective, x, tile=max(width, height), shift=(0, 0), precision=precision)
                    return time.perf_counter() - start

                times = alternate(runs, step)
            print(f"| {width}x{height} | {width * height / 1e3:.0f}k | {threads} | {statistics.median(times['fp32']):.3f} s "
                  f"| {statistics.median(times['bf16']):.3f} s | {ratio(times)} |", flush=True)
    torch.set_num_threads(2)


def bench_dreams(model, runs: int) -> None:
    """Whole dreams as the command runs them (``api.render``), and a 720p carried video frame."""
    from inceptionism.api import render
    from inceptionism.motion.video import FrameDreamer
    from inceptionism.command_config import VideoConfig

    workloads = {
        "W1 default, 512x512": (photo("astronaut.jpg", 512, 512), {}),
        "W2 default, 1920x1080": (photo("coffee.jpg", 1920, 1080), {}),
    }
    print("\n## Whole dreams (api.render, seed 0): time and objective gain\n")
    print("| workload | fp32 | bf16 | bf16 / fp32 (pairs' range) | gain fp32 | gain bf16 | bf16's gain over fp32's |")
    print("|---|---|---|---|---|---|---|")
    for name, (image, params) in workloads.items():
        gains: dict[str, float] = {}

        def dream(precision: str, image=image, params=params) -> float:
            start = time.perf_counter()
            result = render(image, None, model=model, seed=0, precision=precision, **params)
            took = time.perf_counter() - start
            gains[precision] = result.score_end / result.score_start
            return took

        times = alternate(runs, dream)
        print(f"| {name} | {statistics.median(times['fp32']):.2f} s | {statistics.median(times['bf16']):.2f} s "
              f"| {ratio(times)} | x{gains['fp32']:.3f} | x{gains['bf16']:.3f} | {gains['bf16'] / gains['fp32']:.1%} |",
              flush=True)

    # A carried frame: frame 1 of the coffee photo panning 8 px, after frame 0 (as bench_motion.py).
    big = np.asarray(photo("coffee.jpg", 1280 + 8, 720))
    frames = [np.ascontiguousarray(big[:, 8 * t : 8 * t + 1280]) for t in range(2)]
    from inceptionism.api import resolve_config

    strength: dict[str, float] = {}

    def carried(precision: str) -> float:
        stepper = FrameDreamer(resolve_config(None, seed=0, precision=precision), VideoConfig(blend=0.5), model=model)
        stepper.dream(0, frames[0])
        start = time.perf_counter()
        out = stepper.dream(1, frames[1])
        took = time.perf_counter() - start
        strength[precision] = float(np.abs(out.astype(np.float32) - frames[1]).mean())
        return took

    times = alternate(runs, carried)
    print(f"| 720p carried frame | {statistics.median(times['fp32']):.2f} s | {statistics.median(times['bf16']):.2f} s "
          f"| {ratio(times)} | strength {strength['fp32']:.2f} | strength {strength['bf16']:.2f} "
          f"| {strength['bf16'] / strength['fp32']:.1%} |", flush=True)


CLASSES = ("goldfinch", "tabby", "volcano", "lemon", "banana", "jellyfish", "castle", "pizza")


def bench_classes(model, side: int) -> None:
    """Class dreams (``--class NAME``, classic preset, seed 0) of three photos: the class's top-1
    and its probability, each dream in fp32 and bf16, read by the network in fp32."""
    from inceptionism.api import render, top_classes
    from inceptionism.labels import resolve_class

    photos = ("coffee.jpg", "chelsea.jpg", "astronaut.jpg")
    print(f"\n## Class dreams at {side} px: reached (top-1) and probability, fp32 against bf16\n")
    print("| precision | reached | mean probability | mean time |")
    print("|---|---|---|---|")
    rows: dict[str, list[tuple[bool, float, float]]] = {p: [] for p in PRECISIONS}
    for name in photos:
        image = Image.open(EXAMPLES / name).convert("RGB")
        image.thumbnail((side, side))
        for cls in CLASSES:
            index = resolve_class(cls, model.spec.labels)
            for precision in PRECISIONS:
                start = time.perf_counter()
                result = render(image, None, model=model, seed=0, precision=precision, target_class=cls)
                took = time.perf_counter() - start
                top = top_classes(model, result.image, k=1000)
                p = next(v for i, _, v in top if i == index)
                rows[precision].append((top[0][0] == index, p, took))
    for precision, found in rows.items():
        reached = sum(r for r, _, _ in found)
        print(f"| {precision} | {reached} of {len(found)} | {statistics.mean(p for _, p, _ in found):.3f} "
              f"| {statistics.mean(t for _, _, t in found):.2f} s |")
    both = sum(a[0] == b[0] for a, b in zip(rows["fp32"], rows["bf16"]))
    print(f"\nthe two agree on reached or not in {both} of {len(rows['fp32'])} dreams", flush=True)


def bench_featurevis(model, runs: int) -> None:
    """``visualize --param fft`` (8 channels a batch, 224 px, its default steps) and one
    training step (a batch of 32 at 224 px, the whole network learning) under autocast."""
    from inceptionism.featurevis import FeatureVisConfig, visualize_features
    from inceptionism.objectives import LayerTerm

    print("\n## Feature visualization and training under bf16 autocast\n")
    print("| work | fp32 | bf16 | bf16 / fp32 (pairs' range) | fp32 score | bf16 score (read in fp32) |")
    print("|---|---|---|---|---|---|")
    scores: dict[str, float] = {}
    cfg = FeatureVisConfig(size=224, steps=128, seed=0)  # visualize --param fft's defaults
    channels = list(range(8))

    def fft(precision: str) -> float:
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            pictures = visualize_features(model, [LayerTerm("blocks.4.1.bn1", c) for c in channels], cfg, batch=8)
        took = time.perf_counter() - start
        from inceptionism.images import to_tensor
        from inceptionism.images import picture_from_pil
        from inceptionism.taps import capture

        with torch.no_grad(), capture(model, ["blocks.4.1.bn1"]) as run:
            acts = run(torch.cat([to_tensor(picture_from_pil(v.image), model.device) for v in pictures]))["blocks.4.1.bn1"]
        scores[precision] = float(torch.stack([acts[i, c].mean() for i, c in enumerate(channels)]).mean())
        return took

    times = alternate(max(1, runs // 2), fft)
    print(f"| visualize --param fft, 8 channels | {statistics.median(times['fp32']):.2f} s "
          f"| {statistics.median(times['bf16']):.2f} s | {ratio(times)} | {scores['fp32']:.3f} | {scores['bf16']:.3f} |",
          flush=True)

    net = model.net
    x = torch.rand(32, 3, 224, 224, generator=torch.Generator().manual_seed(0)).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 1000, (32,), generator=torch.Generator().manual_seed(1))
    weights = [p for p in net.parameters()]
    before = [w.requires_grad for w in weights]
    for w in weights:
        w.requires_grad_(True)

    def train_step(precision: str) -> float:
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            logits = net(model.spec.preprocess(x))
        loss = torch.nn.functional.cross_entropy(logits.float(), y)
        loss.backward()
        for w in weights:
            w.grad = None
        return time.perf_counter() - start

    times = alternate(runs, train_step)
    for w, flag in zip(weights, before):
        w.requires_grad_(flag)
    print(f"| a training step, batch 32 at 224 px | {statistics.median(times['fp32']):.2f} s "
          f"| {statistics.median(times['bf16']):.2f} s | {ratio(times)} | | |", flush=True)


# The networks `inceptionism models` lists, and more of the families users pick (random weights
# where none ship: speed does not depend on the weights, and the gain compares like with like).
NETWORKS = ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2", "inception5h", "timm/inception_v3",
            "timm/inception_resnet_v2", "timm/vgg16", "timm/resnet50", "timm/resnext50_32x4d", "timm/densenet121",
            "timm/convnext_tiny", "timm/regnety_016", "timm/xception41", "timm/mobilenetv3_large_100",
            "timm/efficientnet_b0", "timm/tf_efficientnetv2_s", "timm/mobilevit_s", "torchvision/googlenet",
            "torchvision/inception_v3", "torchvision/vgg16", "torchvision/vgg19", "torchvision/resnet50",
            "torchvision/resnet18")
FASTER = 0.8  # bf16 earns a network's listing when every figure of its step is at most this share of fp32's
AS_GOOD = 0.03  # ... and a short dream's gain in bf16 is within this share of fp32's
MOVES = 1.05  # ... where the dream moves at all (its fp32 gain at least this): otherwise "as good" is not shown


def bench_networks(names: list[str], runs: int) -> None:
    """Per network: one gradient step (its default dream layers) at 256 and 640 px, 2 threads,
    and at 512 px, 1 thread; and a short dream's gain (320 px, 2 octaves x 5 steps). The
    last column is whether the network earns bf16 on this hardware class (``FASTER``,
    ``AS_GOOD``, ``MOVES``): those go into its spec's ``bf16_faster``."""
    import inceptionism
    from inceptionism.api import render
    from inceptionism.engine.tiles import objective_gradient
    from inceptionism.objectives import parse
    from inceptionism.taps import auto_layers, capture

    image = photo("chelsea.jpg", 320, 320)
    print("\n## Networks: bf16 / fp32 per step, and the gain of a short dream\n")
    print("| network | layers | 256 px, 2 thr | 640 px, 2 thr | 512 px, 1 thr | gain fp32 | gain bf16 | bf16? |")
    print("|---|---|---|---|---|---|---|---|")
    for name in names:
        weights = None if name.startswith("efficientnet-lite") else "random"
        model = inceptionism.load_model(name, weights=weights)
        layers = model.spec.default_layers or auto_layers(model)
        objective = parse(layers)
        ratios = []
        with capture(model, sorted(objective.layers)) as run:
            for side, threads in ((256, 2), (640, 2), (512, 1)):
                torch.set_num_threads(threads)
                x = torch.rand(1, 3, side, side, generator=torch.Generator().manual_seed(0))

                def step(precision: str, x=x, side=side) -> float:
                    start = time.perf_counter()
                    objective_gradient(run, objective, x, tile=side, shift=(0, 0), precision=precision)
                    return time.perf_counter() - start

                times = alternate(runs, step)
                ratios.append((statistics.median(times["bf16"]) / statistics.median(times["fp32"]), ratio(times)))
        torch.set_num_threads(2)
        gains = {}
        for precision in PRECISIONS:
            result = render(image, None, model=model, seed=0, layers=layers, octaves=2, steps=5, precision=precision)
            gains[precision] = result.score_end / result.score_start
        faster = all(r <= FASTER for r, _ in ratios)
        verdict = ("no: slower" if not faster else "no: not as good" if abs(gains["bf16"] / gains["fp32"] - 1) > AS_GOOD
                   else "no: the dream does not move" if gains["fp32"] < MOVES else "yes")
        print(f"| {name} | {layers} | " + " | ".join(text for _, text in ratios)
              + f" | x{gains['fp32']:.3f} | x{gains['bf16']:.3f} | {verdict} |", flush=True)
        del model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("steps", "dreams", "classes", "featurevis", "networks", "all"))
    parser.add_argument("--networks", default=",".join(NETWORKS), help="comma list for `networks` (default: NETWORKS)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each precision (default 5)")
    parser.add_argument("--class-side", type=int, default=256, help="longest side of the class dreams (default 256)")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_core import machine

    import inceptionism
    from inceptionism.precision import hardware_class

    torch.set_num_threads(min(2, torch.get_num_threads()))
    model = inceptionism.load_model()
    print(f"machine: {machine()}; hardware class: {hardware_class(model.device)}")
    what = ("steps", "dreams", "classes", "featurevis") if args.what == "all" else (args.what,)
    if "steps" in what:
        bench_steps(model, args.runs)
    if "dreams" in what:
        bench_dreams(model, args.runs)
    if "classes" in what:
        bench_classes(model, args.class_side)
    if "featurevis" in what:
        bench_featurevis(model, args.runs)
    if args.what == "networks":  # minutes: not part of "all"
        bench_networks(args.networks.split(","), args.runs)


if __name__ == "__main__":
    main()
