"""Pictures for docs/comfyui.md: each example workflow loaded into ComfyUI's own page, run from
it, and the graph with its results photographed (headless Chromium); the dream and the loop
the examples made are saved beside them.

    .venv/bin/python scripts/make_comfyui_screenshots.py http://127.0.0.1:8188

The server must have the pack (tests/support.py's ComfyUI starts one; so does a user's own).
"""

from __future__ import annotations

import io
import json
import sys
import time
from pathlib import Path

import httpx
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
IMAGES = ROOT / "docs" / "gallery"
EXAMPLES = ROOT / "examples"
# The node whose output each workflow's page keeps, and where (None: the screenshot only; the
# docs' loop comes from scripts/make_motion_gallery.py)
OUTPUTS = {"dream-mask-guide": ("6", "comfyui-dream.jpg"), "looping-zoom": ("4", None)}


def upload(url: str) -> None:
    for path in (EXAMPLES / "chelsea.jpg", EXAMPLES / "coffee.jpg", EXAMPLES / "comfyui" / "chelsea-mask.png"):
        httpx.post(url + "/upload/image", files={"image": (path.name, path.read_bytes())}, data={"overwrite": "true"},
                   timeout=30).raise_for_status()


def wait_idle(url: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while True:
        queue = httpx.get(url + "/queue", timeout=30).json()
        if not queue["queue_running"] and not queue["queue_pending"]:
            return
        if time.monotonic() > deadline:
            raise TimeoutError("ComfyUI's queue did not empty")
        time.sleep(0.5)


def main(url: str) -> int:
    from make_comfyui_examples import comfyui_page  # scripts/ beside this one

    upload(url)
    with comfyui_page(url, 1400, 1000) as page:
        for name, (node, keep) in OUTPUTS.items():
            workflow = json.loads((EXAMPLES / "comfyui" / f"{name}.json").read_text())
            page.evaluate("async (w) => { await window.app.loadGraphData(w); }", workflow)
            before = set(httpx.get(url + "/history", timeout=30).json())
            page.evaluate("async () => { await window.app.queuePrompt(0, 1); }")
            page.wait_for_timeout(500)
            wait_idle(url)
            entry = next(v for k, v in httpx.get(url + "/history", timeout=30).json().items() if k not in before)
            if keep is not None:
                item = entry["outputs"][node]["images"][0]
                picture = httpx.get(url + "/view", params={"filename": item["filename"], "subfolder": item["subfolder"],
                                                             "type": item["type"]}, timeout=30)
                Image.open(io.BytesIO(picture.content)).convert("RGB").save(IMAGES / keep, quality=88)
            page.wait_for_timeout(1500)  # the page draws the results into the nodes
            page.mouse.click(1300, 950)  # the canvas has the focus: "." fits the view to the graph
            page.keyboard.press(".")
            page.wait_for_timeout(800)
            shot = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
            shot.save(IMAGES / f"comfyui-{name}.jpg", quality=85)
            print(f"wrote docs/gallery/comfyui-{name}.jpg" + (f" and docs/gallery/{keep}" if keep else ""), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8188"))
