"""Write the ComfyUI example workflows in examples/comfyui/: each in API format (NAME.api.json,
for POST /prompt and scripts) and, with --ui URL (a running ComfyUI with the pack), in the UI
format ComfyUI's page saves and loads (NAME.json, drag it into the page), converted by that
page itself in headless Chromium. The widgets' values are the nodes' defaults (generated from
the parameter declarations) with each example's few changes, so a parameter added to the
library reaches the examples when this runs again (tests/test_comfyui_nodes.py checks they are current).

    .venv/bin/python scripts/make_comfyui_examples.py [--ui http://127.0.0.1:8188]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "examples" / "comfyui"
PHOTOS = ("chelsea.jpg", "coffee.jpg")  # what the examples load: copy them into ComfyUI's input/ (or upload)
MASK = "chelsea-mask.png"


def defaults(node: str) -> dict:
    """The widgets of one of our nodes at their defaults (sockets left out)."""
    from inceptionism.comfyui import NODE_CLASS_MAPPINGS

    required = NODE_CLASS_MAPPINGS[node].INPUT_TYPES()["required"]
    return {name: spec[1]["default"] for name, spec in required.items() if len(spec) > 1 and "default" in spec[1]}


def network() -> dict:
    return {"class_type": "InceptionismNetwork", "inputs": defaults("InceptionismNetwork"),
            "_meta": {"title": "Network (kept loaded)"}}


def dream_with_mask_and_guide() -> dict:
    """The cat dreamed where the mask is white, steered towards what a guide photo holds."""
    dream = {**defaults("InceptionismDream"), "preset": "deep", "seed": 7, "guide_weight": 2.0,
             "network": ["2", 0], "image": ["1", 0], "mask": ["3", 0], "guide": ["4", 0]}
    return {
        "1": {"class_type": "LoadImage", "inputs": {"image": "chelsea.jpg"}, "_meta": {"title": "Photo"}},
        "2": network(),
        "3": {"class_type": "LoadImageMask", "inputs": {"image": MASK, "channel": "red"},
              "_meta": {"title": "Mask: white = dream"}},
        "4": {"class_type": "LoadImage", "inputs": {"image": "coffee.jpg"}, "_meta": {"title": "Guide"}},
        "5": {"class_type": "InceptionismDream", "inputs": dream, "_meta": {"title": "Dream"}},
        "6": {"class_type": "SaveImage", "inputs": {"images": ["5", 0], "filename_prefix": "inceptionism-dream"}},
        "7": {"class_type": "PreviewAny", "inputs": {"source": ["5", 1]}, "_meta": {"title": "Recipe"}},
    }


def looping_zoom() -> dict:
    """A zoom into the cat that loops, saved as an animated WebP with ComfyUI's own node."""
    zoom = {**defaults("InceptionismZoom"), "loop": True, "frames": 36, "zoom": 1.06, "max_size": 320, "seed": 3,
            "network": ["2", 0], "image": ["1", 0]}
    return {
        "1": {"class_type": "LoadImage", "inputs": {"image": "chelsea.jpg"}, "_meta": {"title": "Photo"}},
        "2": network(),
        "3": {"class_type": "InceptionismZoom", "inputs": zoom, "_meta": {"title": "Zoom that loops"}},
        "4": {"class_type": "SaveAnimatedWEBP", "inputs": {"images": ["3", 0], "filename_prefix": "inceptionism-loop",
                                                          "fps": 12.0, "lossless": False, "quality": 90,
                                                          "method": "default"}},
        "5": {"class_type": "PreviewAny", "inputs": {"source": ["3", 1]}, "_meta": {"title": "Recipe"}},
    }


EXAMPLES = {"dream-mask-guide": dream_with_mask_and_guide, "looping-zoom": looping_zoom}
# Where each node sits on the page (x, y), so previews do not cover their neighbours.
LAYOUT = {
    "dream-mask-guide": {"1": (40, 40), "2": (40, 460), "3": (40, 620), "4": (40, 1040), "5": (400, 40),
                         "6": (740, 40), "7": (740, 420)},
    "looping-zoom": {"1": (40, 40), "2": (40, 460), "3": (400, 40), "4": (740, 40), "5": (740, 420)},
}


def make_mask(path: Path) -> None:
    """White over the cat's head, black elsewhere, soft at the edge (the size of chelsea.jpg)."""
    with Image.open(ROOT / "examples" / "chelsea.jpg") as photo:
        size = photo.size
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).ellipse((60, 10, 300, 290), fill=255)
    mask.filter(ImageFilter.GaussianBlur(12)).save(path)


@contextmanager
def comfyui_page(url: str, width: int = 1600, height: int = 1000):
    """ComfyUI's own page at ``url`` in headless Chromium (Debian's), once its graph is ready."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = shutil.which("chromium") or "/usr/bin/chromium"
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(url)
            page.wait_for_function("window.app && window.app.graph && window.app.graph.nodes !== undefined",
                                   timeout=120_000)
            yield page
        finally:
            browser.close()


def to_ui(url: str, prompts: dict[str, dict]) -> dict[str, dict]:
    """Each API-format prompt as the UI-format workflow ComfyUI's own page makes of it."""
    made = {}
    with comfyui_page(url) as page:
        for name, prompt in prompts.items():
            page.evaluate("async (p) => { await window.app.loadApiJson(p, 'example'); }", prompt)
            page.evaluate("""(layout) => {
                for (const [id, pos] of Object.entries(layout)) { window.app.graph.getNodeById(Number(id)).pos = pos; }
                for (const node of window.app.graph.nodes) {  // the example's seed stays as written
                    const control = (node.widgets || []).find((w) => w.name === "control_after_generate");
                    if (control) { control.value = "fixed"; }
                }
            }""", LAYOUT[name])
            made[name] = json.loads(page.evaluate("() => JSON.stringify(window.app.graph.serialize())"))
    return made


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ui", metavar="URL", help="a running ComfyUI with the pack: also write the UI format")
    args = parser.parse_args()
    FOLDER.mkdir(parents=True, exist_ok=True)
    make_mask(FOLDER / MASK)
    prompts = {name: build() for name, build in EXAMPLES.items()}
    for name, prompt in prompts.items():
        (FOLDER / f"{name}.api.json").write_text(json.dumps(prompt, indent=1) + "\n")
    if args.ui:
        for name, workflow in to_ui(args.ui, prompts).items():
            (FOLDER / f"{name}.json").write_text(json.dumps(workflow, indent=1) + "\n")
    print(f"wrote {', '.join(prompts)} in {FOLDER.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
