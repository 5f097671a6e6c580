"""Make the pictures of docs/featurevis.md (Lite0, fixed seeds; a few minutes on 2 CPUs).

    .venv/bin/python scripts/make_featurevis_gallery.py [docs/featurevis]

The class grids and the blind panel come from benchmarks/bench_featurevis.py --out.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw

from inceptionism import featurevis as fv
from inceptionism.images import load_image, to_tensor
from inceptionism.models import load_model
from inceptionism.steering import unit_terms

LAYER, CHANNEL = "blocks.4.1.bn1", 7
ROOT = Path(__file__).resolve().parents[1]


def _strip(pictures: list[Image.Image], labels: list[str], side: int = 192) -> Image.Image:
    strip = Image.new("RGB", (side * len(pictures), side + 22), (255, 255, 255))
    draw = ImageDraw.Draw(strip)
    for k, (picture, label) in enumerate(zip(pictures, labels)):
        shown = picture
        if picture.mode == "RGBA":  # transparency over a checkerboard, as image editors show it
            board = Image.new("RGB", picture.size, (255, 255, 255))
            cell = max(4, picture.width // 16)
            board_draw = ImageDraw.Draw(board)
            for y in range(0, picture.height, cell):
                for x in range((y // cell) % 2 * cell, picture.width, 2 * cell):
                    board_draw.rectangle((x, y, x + cell - 1, y + cell - 1), fill=(200, 200, 200))
            board.paste(picture, mask=picture.split()[3])
            shown = board
        strip.paste(shown.convert("RGB").resize((side, side), Image.Resampling.LANCZOS), (k * side, 0))
        draw.text((k * side + 4, side + 4), label, fill=(0, 0, 0))
    return strip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=ROOT / "docs" / "featurevis", help="folder for the pictures")
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    model = load_model("efficientnet-lite0")
    cfg = fv.FeatureVisConfig(size=224, steps=128, seed=0)
    methods = [fv.visualize_features(model, unit_terms(model, LAYER, str(CHANNEL)), dataclasses.replace(cfg, param=p))[0]
               for p in ("pixels", "fft", "alpha", "maco")]
    pictures = [m.image for m in methods] + [fv.importance_image(methods[3].importance).convert("RGB")]
    _strip(pictures, ["pixels", "fft", "alpha", "maco", "maco importance"]).save(out / "methods.jpg", quality=90)

    several = fv.visualize_features(model, unit_terms(model, LAYER, str(CHANNEL)), dataclasses.replace(cfg, pictures=4))
    _strip([v.image for v in several], [f"{LAYER}:{CHANNEL} #{v.metadata['visualize']['picture']}" for v in several]
           ).save(out / "diversity.jpg", quality=90)

    pair = fv.visualize_features(model, unit_terms(model, LAYER, "7,10,7+10,7-10"), cfg)
    _strip([v.image for v in pair], ["7", "10", "7+10", "7-10"]).save(out / "interaction.jpg", quality=90)

    photo = to_tensor(load_image(ROOT / "examples" / "chelsea.jpg"))[0]
    start = Image.fromarray((fv.photos._square(photo, 224)[0].permute(1, 2, 0) * 255).byte().numpy())
    accent = fv.accentuate(model, photo, LAYER, CHANNEL, cfg)
    caricature = fv.caricature(model, photo, "blocks.5.0.bn1", cfg)
    _strip([start, accent.image, caricature.image], ["photo", f"accentuate {LAYER}:{CHANNEL}", "caricature blocks.5.0.bn1"]
           ).save(out / "photo.jpg", quality=90)

    scan = fv.scan_photos(model, LAYER, ROOT / "examples", [CHANNEL], top=4)
    fv.examples_sheet(scan.examples[CHANNEL], 160, columns=4).save(out / "examples.jpg", quality=90)
    # The sanity table: each channel's own fft picture against the four photos, and against
    # 48 random crops of each (a larger, if correlated, natural sample)
    with tempfile.TemporaryDirectory() as folder:
        crops = fv.scan_photos(model, LAYER, _crops(ROOT / "examples", Path(folder), 48), [CHANNEL], top=1).means
    for channel in (CHANNEL, 10, 24):
        own = methods[1] if channel == CHANNEL else fv.visualize_features(model, unit_terms(model, LAYER, str(channel)), cfg)[0]
        picture = to_tensor(_pil_tensor(own.image))[0]
        for sample, means in (("4 photos", scan.means), (f"{len(crops)} crops", crops)):
            print(f"sanity of the fft picture of {LAYER}:{channel} on {sample}:", fv.sanity(model, LAYER, channel, picture, means))


def _crops(photos: Path, folder: Path, per_photo: int) -> Path:
    """``per_photo`` random crops (a third of the side to the whole) of each photo, 224 px."""
    rng = random.Random(0)
    for photo in sorted(photos.glob("*.jpg")):
        image = Image.open(photo).convert("RGB")
        for k in range(per_photo):
            scale = rng.uniform(0.3, 1.0)
            w, h = int(image.width * scale), int(image.height * scale)
            x, y = rng.randint(0, image.width - w), rng.randint(0, image.height - h)
            image.crop((x, y, x + w, y + h)).resize((224, 224)).save(folder / f"{photo.stem}-{k:02d}.png")
    return folder


def _pil_tensor(image: Image.Image):
    from inceptionism.images import picture_from_pil

    return picture_from_pil(image.convert("RGB"))


if __name__ == "__main__":
    main()
