"""Draw a small training set of made-up motifs, for trying ``inceptionism train``.

    python examples/make_motifs.py motifs/ --count 40

writes ``motifs/rings``, ``motifs/stripes`` and ``motifs/triangles``, COUNT pictures
each: the motif in random colours, sizes and places over a random smooth background
with grain, so a network must learn the shape, not a colour.
"""

from __future__ import annotations

import argparse
import math
import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

MOTIFS = ("rings", "stripes", "triangles")


def _colour(rng: random.Random) -> tuple[int, int, int]:
    return tuple(rng.randrange(256) for _ in range(3))


def _background(rng: random.Random, size: int) -> Image.Image:
    small = np.array([[_colour(rng) for _ in range(3)] for _ in range(3)], dtype=np.uint8)
    return Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC)


def draw(motif: str, rng: random.Random, size: int = 160) -> Image.Image:
    """One picture of ``motif`` (one of :data:`MOTIFS`)."""
    im = _background(rng, size)
    pen = ImageDraw.Draw(im)
    if motif == "rings":
        for _ in range(rng.randint(1, 3)):
            cx, cy, colour = rng.uniform(0, size), rng.uniform(0, size), _colour(rng)
            width = rng.randint(3, 6)
            for r in range(rng.randint(8, 14), rng.randint(40, 80), width * 2 + rng.randint(1, 4)):
                pen.ellipse((cx - r, cy - r, cx + r, cy + r), outline=colour, width=width)
    elif motif == "stripes":
        angle, gap, width, colour = rng.uniform(0, math.pi), rng.randint(10, 22), rng.randint(3, 8), _colour(rng)
        dx, dy = math.cos(angle), math.sin(angle)
        for k in range(-2 * size, 2 * size, gap):
            ox, oy = size / 2 - dy * k, size / 2 + dx * k
            pen.line((ox - dx * 2 * size, oy - dy * 2 * size, ox + dx * 2 * size, oy + dy * 2 * size), fill=colour,
                     width=width)
    elif motif == "triangles":
        for _ in range(rng.randint(4, 9)):
            cx, cy, r, turn = rng.uniform(0, size), rng.uniform(0, size), rng.uniform(10, 28), rng.uniform(0, 2 * math.pi)
            points = [(cx + r * math.cos(turn + k * 2 * math.pi / 3), cy + r * math.sin(turn + k * 2 * math.pi / 3))
                      for k in range(3)]
            pen.polygon(points, fill=_colour(rng))
    else:
        raise ValueError(f"unknown motif {motif!r}; one of {', '.join(MOTIFS)}")
    grain = np.random.default_rng(rng.randrange(2**32)).normal(0, 8, (size, size, 3))
    pixels = np.asarray(im.filter(ImageFilter.GaussianBlur(0.6)), dtype=np.float32) + grain
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8))


def make_set(root: str | Path, count: int = 40, seed: int = 0, size: int = 160) -> Path:
    """Write ``count`` JPEG pictures of each motif under ``root/MOTIF/``."""
    root, rng = Path(root), random.Random(seed)
    for motif in MOTIFS:
        (root / motif).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            draw(motif, rng, size).save(root / motif / f"{motif}-{i:03d}.jpg", quality=92)
    return root


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", help="folder to write the class folders into")
    parser.add_argument("--count", type=int, default=40, help="pictures per motif (default 40)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args()
    print(f"wrote {make_set(args.root, args.count, args.seed)}")
