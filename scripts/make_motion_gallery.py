"""Render the motion examples of the README into docs/gallery/ (run from the repository root).

    .venv/bin/python scripts/make_motion_gallery.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

import inceptionism
from inceptionism.api import resolve_config
from inceptionism.images import picture_from_pil
from inceptionism.motion import dream_video, zoom_frames
from inceptionism.motion.loop import measure_seam
from inceptionism.motion.videoio import write_video

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "gallery"


def main() -> None:
    model = inceptionism.load_model()
    start = picture_from_pil(Image.open(ROOT / "examples" / "chelsea.jpg").convert("RGB").resize((180, 120)))
    cfg = resolve_config(None, preset="subtle", octaves=2, steps=5, seed=1)
    frames = list(zoom_frames(start, cfg, frames=30, zoom=1.04, rotate=0.5, interpolate=1, model=model))
    write_video(OUT / "zoom-chelsea.gif", iter(frames), 12.0)
    print("wrote", OUT / "zoom-chelsea.gif")

    start = picture_from_pil(Image.open(ROOT / "examples" / "chelsea.jpg").convert("RGB").resize((240, 160)))
    looped = measure_seam(zoom_frames(start, cfg, frames=36, zoom=1.06, rotate=1.0, loop=True, model=model))
    write_video(OUT / "loop-chelsea.webp", iter(looped), 12.0)
    print("wrote", OUT / "loop-chelsea.webp", "-", looped.result)

    big = np.asarray(Image.open(ROOT / "examples" / "coffee.jpg").convert("RGB").resize((300, 200)))
    clip_frames = [np.ascontiguousarray(big[20:180, 4 * t : 4 * t + 240]) for t in range(12)]
    with tempfile.TemporaryDirectory() as tmp:
        clip = write_video(Path(tmp) / "pan.mp4", iter(clip_frames), 12.0)
        strips = []
        for coherence in (True, False):
            out = Path(tmp) / f"d-{coherence}.mp4"
            dream_video(clip, out, resolve_config(None, preset="classic", seed=1), coherence="on" if coherence else "off",
                        keep_frames=True, model=model)  # fmt: skip
            picked = [Image.open(Path(tmp) / f".{out.name}.frames" / f"{t:06d}.png") for t in (3, 4, 5, 6)]
            strip = Image.new("RGB", (240 * 4, 160))
            for i, im in enumerate(picked):
                strip.paste(im, (240 * i, 0))
            strips.append(strip)
        strips[0].save(OUT / "video-strip-coherent.jpg", quality=88)
        strips[1].save(OUT / "video-strip-frame-by-frame.jpg", quality=88)
    print("wrote video strips")


if __name__ == "__main__":
    main()
