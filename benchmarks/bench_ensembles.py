"""What one objective over several networks costs: seconds a class picture on Lite0 alone, on
Lite0 grown from the centre, and on the ensembles Lite0+Lite1 and Lite0+Lite1+Lite2, each with
the class pictures' default transforms (``auto``: ``noisy-crops``), and Lite0 and Lite0+Lite1
with ``noisy-crops-fast`` (the crops seen at 0.625 of their side) (docs/models.md, "Several
networks at once"; docs/featurevis.md, "Blind panel").

    .venv/bin/python benchmarks/bench_ensembles.py [--classes 10] [--steps 128] [--size 224] [--makers 1,2,3,4,5,6]

One batch of the first ``--classes`` classes of the feature-visualization benchmark per maker,
``fft`` with each maker's transforms, in one process one after another (compare the figures of one
run only; the networks are loaded and run once before the clock starts).
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from bench_featurevis import CLASSES

PAIR = "efficientnet-lite0+efficientnet-lite1"
MAKERS = (("efficientnet-lite0", 0.0, "auto"), ("efficientnet-lite0", 0.6, "auto"), (PAIR, 0.0, "auto"),
          ("efficientnet-lite0+efficientnet-lite1+efficientnet-lite2", 0.0, "auto"),
          ("efficientnet-lite0", 0.0, "noisy-crops-fast"), (PAIR, 0.0, "noisy-crops-fast"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--steps", type=int, default=128)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--makers", default=",".join(str(k + 1) for k in range(len(MAKERS))),
                        help="which makers, numbered from 1 in MAKERS' order (the first is the yardstick)")
    args = parser.parse_args()
    numbers = [k.strip() for k in args.makers.split(",")]
    if not all(k.isdigit() and 1 <= int(k) <= len(MAKERS) for k in numbers):
        parser.error(f"--makers takes numbers from 1 to {len(MAKERS)}, not {args.makers!r}")
    chosen = [MAKERS[int(k) - 1] for k in numbers]

    from inceptionism.featurevis import FeatureVisConfig, visualize_features
    from inceptionism.machine import cpu_model
    from inceptionism.models import load_model
    from inceptionism.steering import unit_terms

    torch.set_num_threads(os.cpu_count() or 1)
    classes = ",".join(CLASSES[: args.classes])
    print(f"machine: {cpu_model()}, {os.cpu_count()} CPUs, torch {torch.__version__}; {args.classes} classes, "
          f"{args.steps} steps, {args.size} px, fft")
    first = None
    for name, grow, transforms in chosen:
        model = load_model(name)
        terms = unit_terms(model, "class", classes)
        cfg = FeatureVisConfig(size=args.size, steps=args.steps, seed=0, grow_from_centre=grow,
                               transforms=transforms)
        warm = FeatureVisConfig(size=args.size, steps=1, seed=0, transforms=transforms)
        visualize_features(model, terms, warm, batch=args.classes)  # loaded and run once at these shapes
        started = time.perf_counter()
        visualize_features(model, terms, cfg, batch=args.classes)
        took = (time.perf_counter() - started) / args.classes
        first = first or took
        how = f", grown from the centre ({grow})" if grow else ""
        how += f", {transforms}" if transforms != "auto" else ""
        print(f"{name}{how}: {took:.2f} s a picture ({took / first:.2f}x the first's)", flush=True)


if __name__ == "__main__":
    main()
