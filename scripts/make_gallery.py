"""Render the README/docs gallery into docs/gallery/ (run from the repository root).

    .venv/bin/python scripts/make_gallery.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

import inceptionism
from inceptionism.activations import activation_grid
from inceptionism.images import load_image, to_tensor

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "gallery"


def save(im: Image.Image, name: str, width: int | None = None) -> None:
    if width and im.width > width:
        im = im.resize((width, round(im.height * width / im.width)), Image.Resampling.LANCZOS)
    im.convert("RGB").save(OUT / name, quality=88)
    print("wrote", OUT / name)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    model = inceptionism.load_model()
    for photo in ("chelsea", "coffee", "astronaut"):
        src = ROOT / "examples" / f"{photo}.jpg"
        save(Image.open(src), f"{photo}-original.jpg", 400)
        for preset in ("subtle", "classic", "deep"):
            save(inceptionism.dream(src, model=model, preset=preset, seed=0), f"{photo}-{preset}.jpg", 400)
    for layer, channel in (("blocks.4.1.bn1", 7), ("blocks.3.1.bn1", 33)):
        for lap in (False, True):
            pic = inceptionism.visualize(layer, channel, lapnorm=lap, size=224, seed=0)
            save(pic, f"channel-{layer}-{channel}{'-lapnorm' if lap else ''}.jpg")
    x = to_tensor(load_image(ROOT / "examples" / "chelsea.jpg"))
    save(activation_grid(model, x, "blocks.3.1.bn1", top=9, cell=128), "activations-chelsea-blocks.3.1.bn1.jpg")
    save(inceptionism.dream("noise", model=model, preset="deep", size=(384, 256), seed=2), "noise-deep.jpg")


if __name__ == "__main__":
    main()
