"""Class visualizations scored honestly: each method's pictures of 20 ImageNet classes,
judged by the *other* bundled network (Lite0 -> Lite2 and Lite2 -> Lite0).

    .venv/bin/python benchmarks/bench_featurevis.py [--steps 128] [--methods pixels,fft,maco]
        [--lucent-python /tmp/lucent-env/bin/python] [--out docs/featurevis]

A method may name its transforms after a slash (``fft/crops``: the default transforms are ``auto``).

Prints per (source, method): seconds per picture, the source's own probability of the
target, the judge's top-1 / top-5 and mean probability of the target, and the mean chroma
(YCbCr distance from grey, 8-bit units). Writes each method's grid of the 20 pictures to
``--out``. With ``--lucent-python``, lucent 0.1.8 (benchmarks/lucent_classes.py, run in
that separate environment) makes the same 20 pictures on the same networks and steps.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

CLASSES = ("banana,goldfinch,volcano,lemon,tabby,pizza,castle,jellyfish,strawberry,daisy,monarch,flamingo,zebra,"
           "pineapple,broccoli,school bus,lighthouse,ladybug,peacock,orange").split(",")
PAIRS = (("efficientnet-lite0", "efficientnet-lite2"), ("efficientnet-lite2", "efficientnet-lite0"))


def _ours(model, method: str, targets: list[int], steps: int) -> tuple[torch.Tensor, float]:
    from torchvision.transforms.v2 import functional as tv

    from inceptionism.featurevis import FeatureVisConfig, visualize_features
    from inceptionism.objectives import LayerTerm

    param, _, transforms = method.partition("/")  # "fft/crops": fft with the crops transforms
    cfg = FeatureVisConfig(size=224, steps=steps, seed=0, param=param, **({"transforms": transforms} if transforms else {}))
    started = time.perf_counter()
    shown = visualize_features(model, [LayerTerm("class", t, kind="class") for t in targets], cfg, batch=10)
    took = (time.perf_counter() - started) / len(targets)
    return torch.stack([tv.to_dtype(tv.pil_to_tensor(v.image.convert("RGB")), scale=True) for v in shown]), took


def _lucent(python: str, name: str, steps: int) -> tuple[torch.Tensor, float]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "lucent.pt"
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
        script = Path(__file__).with_name("lucent_classes.py")
        subprocess.run([python, str(script), name, str(steps), str(out), *CLASSES], check=True, env=env)
        made = torch.load(out)
    return made["images"].float(), sum(made["seconds"]) / len(made["seconds"])


@torch.no_grad()
def _own(model, images: torch.Tensor, targets: list[int]) -> float:
    probabilities = model(images.to(model.device)).float().softmax(-1)
    return float(probabilities[torch.arange(len(targets)), torch.tensor(targets)].mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=128)
    parser.add_argument("--methods", default="pixels,fft,maco")
    parser.add_argument("--lucent-python", default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    import torch.nn.functional as F
    from torchvision.transforms.functional import to_pil_image
    from torchvision.utils import make_grid

    from inceptionism.featurevis import chroma, transferability
    from inceptionism.labels import resolve_class
    from inceptionism.models import load_model

    torch.set_num_threads(os.cpu_count() or 1)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}; "
          f"{len(CLASSES)} classes, {args.steps} steps, 224 px")
    targets = [resolve_class(c) for c in CLASSES]
    methods = args.methods.split(",") + (["lucent"] if args.lucent_python else [])
    print(f"{'source -> judge':<40} {'method':<10} {'s/pic':>6} {'own p':>6} {'top1':>5} {'top5':>5} {'p':>5} {'chroma':>6}")
    for source_name, judge_name in PAIRS:
        source, judge = load_model(source_name), load_model(judge_name)
        for method in methods:
            if method == "lucent":
                images, took = _lucent(args.lucent_python, source_name, args.steps)
            else:
                images, took = _ours(source, method, targets, args.steps)
            verdict = transferability(images, targets, judge, source=source)
            print(f"{source_name + ' -> ' + judge_name:<40} {method:<10} {took:6.2f} {_own(source, images, targets):6.2f} "
                  f"{float(verdict.top1.float().mean()):5.2f} {float(verdict.top5.float().mean()):5.2f} "
                  f"{float(verdict.probability.mean()):5.2f} {float(chroma(images).mean()):6.1f}", flush=True)
            if args.out is not None:
                args.out.mkdir(parents=True, exist_ok=True)
                grid = make_grid(images, nrow=5, padding=0)  # 157 px a picture: the docs' size
                shrunk = F.interpolate(grid[None], scale_factor=0.7, mode="area")[0].clamp(0, 1)
                to_pil_image(shrunk).save(args.out / f"classes-{source_name.split('-')[-1]}-{method.replace('/', '-')}.jpg", quality=85)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
