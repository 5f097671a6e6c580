"""What one objective over several networks costs: seconds a class picture on Lite0 alone, on
Lite0 grown from the centre, and on the ensembles Lite0+Lite1 and Lite0+Lite1+Lite2
(docs/models.md, "Several networks at once"; docs/featurevis.md, "Blind panel").

    .venv/bin/python benchmarks/bench_ensembles.py [--classes 10] [--steps 128] [--size 224]

One batch of the first ``--classes`` classes of the feature-visualization benchmark per maker,
``fft`` with today's transforms, in one process one after another (compare the figures of one
run only; the networks are loaded and run once before the clock starts).
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from bench_featurevis import CLASSES

MAKERS = (("efficientnet-lite0", 0.0), ("efficientnet-lite0", 0.6), ("efficientnet-lite0+efficientnet-lite1", 0.0),
          ("efficientnet-lite0+efficientnet-lite1+efficientnet-lite2", 0.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--steps", type=int, default=128)
    parser.add_argument("--size", type=int, default=224)
    args = parser.parse_args()

    from inceptionism.featurevis import FeatureVisConfig, visualize_features
    from inceptionism.machine import cpu_model
    from inceptionism.models import load_model
    from inceptionism.steering import unit_terms

    torch.set_num_threads(os.cpu_count() or 1)
    classes = ",".join(CLASSES[: args.classes])
    print(f"machine: {cpu_model()}, {os.cpu_count()} CPUs, torch {torch.__version__}; {args.classes} classes, "
          f"{args.steps} steps, {args.size} px, fft")
    first = None
    for name, grow in MAKERS:
        model = load_model(name)
        terms = unit_terms(model, "class", classes)
        cfg = FeatureVisConfig(size=args.size, steps=args.steps, seed=0, grow_from_centre=grow)
        visualize_features(model, terms, FeatureVisConfig(size=args.size, steps=1, seed=0), batch=args.classes)  # warm
        started = time.perf_counter()
        visualize_features(model, terms, cfg, batch=args.classes)
        took = (time.perf_counter() - started) / args.classes
        first = first or took
        print(f"{name}{f', grown from the centre ({grow})' if grow else ''}: {took:.2f} s a picture "
              f"({took / first:.2f}x Lite0's)", flush=True)


if __name__ == "__main__":
    main()
