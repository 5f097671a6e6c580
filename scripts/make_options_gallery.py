"""Pictures for the README's options section: octave modes, smoothness, channels chosen by
the picture, and a --plot figure (docs/gallery/options-*.jpg).

    .venv/bin/python scripts/make_options_gallery.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw

import inceptionism

ROOT = Path(__file__).resolve().parents[1]
GALLERY = ROOT / "docs" / "gallery"


def labelled(image: Image.Image, text: str) -> Image.Image:
    out = image.convert("RGB").copy()
    draw = ImageDraw.Draw(out)
    draw.rectangle((0, 0, 8 + 6 * len(text), 16), fill=(0, 0, 0))
    draw.text((4, 3), text, fill=(255, 255, 255))
    return out


def main() -> None:
    model = inceptionism.load_model()
    photo = ROOT / "examples" / "chelsea.jpg"
    args = dict(model=model, preset="deep", seed=7)
    variants = [
        ("--octave-mode detail", {}),
        ("--octave-mode recursive", {"octave_mode": "recursive", "octave_blend": 0.6}),
        ("--tv-weight 0.3", {"tv_weight": 0.3}),
        ("--channels strong:8", {"layers": "blocks.4.1.bn1", "channels": "strong:8"}),
        ("--step-size 0.02:0.004", {"step_size": "0.02:0.004"}),
    ]
    pictures = [labelled(inceptionism.dream(photo, **args, **extra), name) for name, extra in variants]
    width, height = pictures[0].size
    strip = Image.new("RGB", (width * len(pictures), height))
    for i, picture in enumerate(pictures):
        strip.paste(picture, (i * width, 0))
    strip.resize((strip.width * 2 // 3, height * 2 // 3), Image.Resampling.LANCZOS).save(GALLERY / "options-strip.jpg", quality=82)
    with tempfile.TemporaryDirectory() as folder:
        figure = Path(folder) / "plot.png"
        subprocess.run([sys.executable, "-m", "inceptionism", "dream", str(photo), "-o", str(Path(folder) / "d.png"),
                        "--seed", "7", "--plot", str(figure), "-q"], check=True)  # fmt: skip
        Image.open(figure).convert("RGB").save(GALLERY / "options-plot.jpg", quality=85)
    print(f"wrote {GALLERY / 'options-strip.jpg'} and {GALLERY / 'options-plot.jpg'}")


if __name__ == "__main__":
    main()
