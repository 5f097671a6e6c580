"""Render the steering pictures of the README into docs/gallery/ (run from the repository root).

    .venv/bin/python scripts/make_steering_gallery.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

import inceptionism
from inceptionism.command_config import VisualizeConfig
from inceptionism.unit_pictures import visualize_targets
from inceptionism.featurevis import FeatureVisConfig, visualize_features
from inceptionism.labels import resolve_classes
from inceptionism.steering import unit_terms

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "gallery"
EX = ROOT / "examples"


def save(im: Image.Image, name: str, width: int | None = 400) -> None:
    if width and im.width > width:
        im = im.resize((width, round(im.height * width / im.width)), Image.Resampling.LANCZOS)
    im.convert("RGB").save(OUT / name, quality=88)
    print("wrote", OUT / name)


def dog_probability(model, image: Image.Image) -> float:
    from inceptionism.images import picture_from_pil, to_tensor

    x = torch.nn.functional.interpolate(to_tensor(picture_from_pil(image)), size=(224, 224), mode="bilinear", antialias=True)
    with torch.no_grad():
        return float(model(x).softmax(-1)[0, resolve_classes("dog")].sum())


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    model = inceptionism.load_model()
    chelsea, coffee = EX / "chelsea.jpg", EX / "coffee.jpg"
    # Guided: the cat dreamed with the coffee cup as guide.
    save(inceptionism.dream(chelsea, model=model, seed=0, guide=[str(coffee)]), "steer-guide-coffee.jpg")
    # A class dreamed into a photo.
    save(inceptionism.dream(coffee, model=model, seed=0, target_class="goldfinch"), "steer-class-goldfinch.jpg")
    # Suppression: deep preset with and without dogs.
    plain = inceptionism.dream(chelsea, model=model, seed=0, preset="deep")
    avoided = inceptionism.dream(chelsea, model=model, seed=0, preset="deep", avoid_class="dog")
    save(plain, "steer-deep.jpg")
    save(avoided, "steer-deep-avoid-dog.jpg")
    print(f"P(dog): deep {dog_probability(model, plain):.3f}, with --avoid-class dog {dog_probability(model, avoided):.3f}")
    # Mask: dream only on the right half with a soft edge.
    w, h = Image.open(coffee).size
    ramp = np.clip((np.arange(w) - w * 0.45) / (w * 0.1), 0, 1)
    mask = Image.fromarray((np.tile(ramp, (h, 1)) * 255).astype(np.uint8), "L")
    mask_path = OUT / "mask-right-half.png"
    mask.save(mask_path)
    save(inceptionism.dream(coffee, model=model, seed=0, preset="deep", mask=str(mask_path)), "steer-mask.jpg")
    # Class visualizations from noise, Fourier parameterization.
    names = ["banana", "goldfinch", "volcano", "lemon", "tabby"]
    vis = visualize_features(model, unit_terms(model, "class", ",".join(names)), FeatureVisConfig(size=224, steps=128, seed=0))
    strip = Image.new("RGB", (224 * len(vis), 224))
    for i, v in enumerate(vis):
        strip.paste(v.image, (224 * i, 0))
    save(strip, "steer-classes-fft.jpg", None)
    # Pixel vs Fourier for one channel, same step count.
    layer, channel = "blocks.4.1.bn1", 7
    fft = visualize_features(model, unit_terms(model, layer, str(channel)), FeatureVisConfig(size=224, steps=60, seed=0))[0]
    (pixel,) = visualize_targets(model, unit_terms(model, layer, str(channel)), VisualizeConfig(size=224, octaves=3, steps=20, seed=0))
    (lap,) = visualize_targets(model, unit_terms(model, layer, str(channel)), VisualizeConfig(size=224, octaves=3, steps=20, seed=0, lapnorm=True))
    row = Image.new("RGB", (224 * 3, 224))
    for i, im in enumerate((pixel.image, lap.image, fft.image)):
        row.paste(im, (224 * i, 0))
    save(row, "steer-pixel-lapnorm-fft.jpg", None)
    print(f"channel {channel} mean activation: pixel {pixel.score:.3f}, lapnorm {lap.score:.3f}, fft {fft.score:.3f}")


if __name__ == "__main__":
    main()
