"""Write the layer map of docs/architecture.md from ``inceptionism.layers.LAYERS`` (the
block after the line naming this script). tests/test_architecture.py checks it is current."""

from __future__ import annotations

import re
from pathlib import Path

from inceptionism.layers import render_map

DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"
MARK = "<!-- generated from src/inceptionism/layers.py by scripts/make_architecture_map.py -->"

if __name__ == "__main__":
    text = DOC.read_text()
    block = MARK + "\n```\n" + render_map() + "\n```"
    if MARK in text:
        text = re.sub(re.escape(MARK) + r"\n```\n.*?\n```", lambda _: block, text, count=1, flags=re.S)
    else:  # the first code block of the page is the map
        text = re.sub(r"```\n.*?\n```", lambda _: block, text, count=1, flags=re.S)
    DOC.write_text(text)
    print(f"wrote the map into {DOC}")
