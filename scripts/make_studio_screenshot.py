"""The README's screenshot of the studio with a finished dream (docs/studio.jpg).

Run: .venv/bin/python scripts/make_studio_screenshot.py   (needs Debian's chromium)
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from inceptionism.service import ServiceSettings, serve_in_background

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    with tempfile.TemporaryDirectory() as data, serve_in_background(ServiceSettings(data_dir=Path(data))) as url:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 860}, bypass_csp=True)
            page.goto(url)
            page.wait_for_selector("body[data-ready]")
            page.set_input_files("#image", str(ROOT / "examples" / "chelsea.jpg"))
            page.click("#presets label:has-text('deep')")
            page.click("summary:has-text('Advanced')")
            page.fill("#seed", "7")
            page.click("summary:has-text('Advanced')")
            page.click("#start")
            page.wait_for_selector("#result:not([hidden])", timeout=300_000)
            page.wait_for_function("document.getElementById('after').naturalWidth > 0")
            page.fill("#compare-slider", "45")
            page.dispatch_event("#compare-slider", "input")
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(ROOT / "docs" / "studio.jpg"), type="jpeg", quality=88)
            browser.close()
    print("wrote docs/studio.jpg")


if __name__ == "__main__":
    main()
