"""Concepts learned and drawn: time, peak memory and quality, NMF beside the TopK SAE.

    .venv/bin/python benchmarks/bench_concepts.py --photos /tmp/concept-photos [--build-photos 1000]
        [--networks efficientnet-lite0,efficientnet-lite1] [--ks 16,64] [--methods nmf,sae]
        [--layer blocks.5.0.bn1] [--limit 300] [--out /tmp/bench-concepts]

``--build-photos N`` first makes the photo set (see :func:`build_photos`: N pictures cut from
the real photographs this machine has) in ``--photos``. Each (network, method, K) runs
``inceptionism concepts`` whole in a child process on the first ``--limit`` photos (its peak
resident memory is that process's), and the table gives: seconds to learn (sample the
activations and fit), to find exemplars, to measure the evidence and to draw, in all; peak
memory; variance explained, active concepts per position, dead atoms; how many concepts'
causal drop is above the random directions' and how many pictures rank their own concept
first (sanity). Results go to docs/concepts.md with the machine (``lscpu``).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

# Real photographs on this machine, by name (Debian's mate-backgrounds, gnome-backgrounds and
# plasma-workspace-wallpapers packages; the example photos, public domain from scikit-image):
# the packages also hold drawn graphics, which are left out.
_PLASMA = "BytheWater ColdRipple ColorfulCups DarkestHour EveningGlow FallenLeaf Grey Kite MilkyWay OneStandsOut Path " \
          "Volna summer_1am"
_GNOME = "Bridge Dragonfly Kleiber Picture_0B Picture_1A Wine aitzgorri free friends life picosdeeuropa seeding sunset"
SOURCES = (
    "/usr/share/backgrounds/mate/nature/*.jpg",
    *(f"/usr/share/wallpapers/{name}/contents/images/1920x1080.*" for name in _PLASMA.split()),
    *(f"/usr/share/backgrounds/{name}_by_*.jpg" for name in _GNOME.split()),
)
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def sources(excluded: set[str]) -> list[Path]:
    import glob

    found = sorted({Path(p) for pattern in SOURCES for p in glob.glob(pattern)} | set(EXAMPLES.glob("*.jpg")))
    return [p for p in found if not any(word in str(p) for word in excluded)]


def build_photos(folder: Path, count: int, excluded: set[str], seed: int = 0) -> list[Path]:
    """``count`` pictures cut from the source photographs, round robin: each a random square
    crop of 30-100% of its photo's shorter side (mirrored at random), 288 px, JPEG. Crops of
    one photograph overlap: the set is as varied as its sources, not as its count."""
    import random

    from PIL import Image, ImageOps

    rng = random.Random(seed)
    found = sources(excluded)
    folder.mkdir(parents=True, exist_ok=True)
    opened = {}
    for n in range(count):
        src = found[n % len(found)]
        if src not in opened:
            im = Image.open(src).convert("RGB")
            im.thumbnail((1400, 1400))
            opened[src] = im
        im = opened[src]
        side = int(min(im.size) * rng.uniform(0.3, 1.0))
        left, top = rng.randint(0, im.width - side), rng.randint(0, im.height - side)
        crop = im.crop((left, top, left + side, top + side)).resize((288, 288), Image.Resampling.LANCZOS)
        if rng.random() < 0.5:
            crop = ImageOps.mirror(crop)
        crop.save(folder / f"{n:04d}-{src.stem[:24]}.jpg", quality=90)
    return found


def one(args: argparse.Namespace) -> None:
    """One (network, method, K) run, in this process: prints a JSON line."""
    from inceptionism.command_config import ConceptsConfig
    from inceptionism.concept_report import write_report
    from inceptionism.concepts import learn_concepts
    from inceptionism.labels import class_names
    from inceptionism.models import load_model

    model = load_model(args.network, device="cpu")
    cfg = ConceptsConfig(k=args.k, method=args.method, seed=0, steps=args.steps, size=args.size)
    out = Path(args.out) / f"{args.network}-{args.method}-{args.k}"
    started = time.perf_counter()
    found = learn_concepts(model, args.layer, args.photos, out, cfg, 0)
    write_report(out, found, out / "dictionary.safetensors", labels=class_names(model.spec.labels), metadata={})
    total = time.perf_counter() - started
    m = found.dictionary.recipe["measures"]
    causal = [c.causal for c in found.concepts if c.causal]
    print(json.dumps({
        "network": args.network, "method": args.method, "k": args.k, "photos": found.dictionary.recipe["photos"],
        "samples": found.dictionary.recipe["samples"], "seconds": total, **{f"s_{k}": v for k, v in found.seconds.items()},
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "variance_explained": m["variance_explained"], "active": m["active_per_vector"], "dead": m["dead"],
        "above_random": sum(c["logit_drop"] > c["random_logit_drop"] for c in causal),
        "mean_drop": sum(c["logit_drop"] for c in causal) / max(1, len(causal)),
        "mean_random_drop": sum(c["random_logit_drop"] for c in causal) / max(1, len(causal)),
        "explained": sum(1 for c in found.concepts if c.sanity is not None and c.sanity.explained),
    }), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", required=True)
    parser.add_argument("--build-photos", type=int, default=0)
    parser.add_argument("--exclude", default="", help="comma-separated words: sources whose path has one are left out")
    parser.add_argument("--networks", default="efficientnet-lite0,efficientnet-lite1")
    parser.add_argument("--methods", default="nmf,sae")
    parser.add_argument("--ks", default="16,64")
    parser.add_argument("--layer", default="blocks.5.0.bn1")
    parser.add_argument("--limit", type=int, default=0, help="use the first N photos (a folder of links)")
    parser.add_argument("--steps", type=int, default=128)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--out", default="/tmp/bench-concepts")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--network", help=argparse.SUPPRESS)
    parser.add_argument("--method", help=argparse.SUPPRESS)
    parser.add_argument("--k", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        return one(args)
    photos = Path(args.photos)
    excluded = {w for w in args.exclude.split(",") if w}
    if args.build_photos:
        used = build_photos(photos, args.build_photos, excluded)
        print(f"built {args.build_photos} photos in {photos} from {len(used)} photographs:")
        print("  " + ", ".join(p.name if p.parent == EXAMPLES else str(p) for p in used))
    if args.limit:
        subset = Path(args.out) / f"photos-{args.limit}"
        subset.mkdir(parents=True, exist_ok=True)
        for p in sorted(photos.iterdir())[: args.limit]:
            if not (subset / p.name).exists():
                (subset / p.name).symlink_to(p.resolve())
        photos = subset
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((line.split(":", 1)[1].strip() for line in cpu.splitlines() if line.startswith("Model name")), "?")
    print(f"# {platform.node()}: {model}; torch threads from the environment; layer {args.layer}")
    print("| network | method | K | photos | learn s | exemplars s | evidence s | pictures s | all s | peak MB |"
          " var. expl. | active | dead | causal > random | mean drop (random) | sanity 1st |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for network in args.networks.split(","):
        for k in (int(v) for v in args.ks.split(",")):
            for method in args.methods.split(","):
                run = subprocess.run([sys.executable, __file__, "--one", "--photos", str(photos), "--network", network,
                                      "--method", method, "--k", str(k), "--layer", args.layer, "--steps",
                                      str(args.steps), "--size", str(args.size), "--out", args.out],
                                     capture_output=True, text=True)
                if run.returncode:
                    print(f"| {network} | {method} | {k} | failed: {run.stderr.strip().splitlines()[-1]} |")
                    continue
                r = json.loads(run.stdout.strip().splitlines()[-1])
                print(f"| {network} | {method} | {k} | {r['photos']} | {r['s_learn']:.0f} | {r['s_exemplars']:.0f} | "
                      f"{r['s_evidence']:.0f} | {r['s_pictures']:.0f} | {r['seconds']:.0f} | {r['peak_mb']:.0f} | "
                      f"{r['variance_explained']:.2f} | {r['active']:.1f} | {r['dead']} | {r['above_random']}/{k} | "
                      f"{r['mean_drop']:.2f} ({r['mean_random_drop']:.2f}) | {r['explained']}/{k} |", flush=True)


if __name__ == "__main__":
    main()
