"""Where users work: progress bars on request, a live preview in a notebook, results that
show themselves, and the tutorial notebook run end to end."""

from __future__ import annotations

import sys
import types

import numpy as np
from PIL import Image

from inceptionism import notebook
from inceptionism.api import dream, render


def test_library_calls_are_quiet_unless_progress_is_asked_for(small_photo, capfd):
    dream(str(small_photo), octaves=2, steps=2, seed=0)
    assert capfd.readouterr().err == ""
    dream(str(small_photo), octaves=2, steps=3, seed=0, progress=True)
    shown = capfd.readouterr().err
    assert "dream" in shown and "6/6" in shown and "octave=2/2" in shown and "score=" in shown


def test_a_notebook_sees_the_picture_replaced_after_every_octave(small_photo, monkeypatch):
    calls: list[str] = []

    class Handle:
        def update(self, picture) -> None:
            calls.append(f"update {picture.size}")

    def display(picture, display_id=False):
        calls.append(f"display {picture.size}")
        return Handle()

    fake = types.ModuleType("IPython.display")
    fake.display = display  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython.display", fake)
    monkeypatch.setattr(notebook, "in_notebook", lambda: True)
    dream(str(small_photo), octaves=3, steps=1, seed=0, progress=True)
    assert [c.split()[0] for c in calls] == ["display", "update", "update"]
    assert calls[-1] == "update (96, 64)"  # the last octave is the picture's own size


def test_outside_a_notebook_there_is_no_preview(small_photo, monkeypatch, capfd):
    monkeypatch.setitem(sys.modules, "IPython.display", None)  # a preview imports it: here that fails
    monkeypatch.setattr(notebook, "in_notebook", lambda: False)
    picture = dream(str(small_photo), octaves=2, steps=1, seed=0, progress=True)
    assert picture.size == (96, 64)
    assert "octave=2/2" in capfd.readouterr().err  # the bar was shown; no picture was


def test_a_dream_shows_itself_before_after_and_recipe(small_photo):
    made = render(str(small_photo), octaves=1, steps=1, seed=7)
    page = made._repr_html_()
    assert page.count("<img") == 2 and "before" in page and "after" in page
    assert "<td>seed</td><td><code>7</code></td>" in page and len(page) < 100_000
    assert made._repr_png_().startswith(b"\x89PNG")


def test_the_tutorial_notebook_runs_end_to_end_and_is_stored_without_outputs(tmp_path, monkeypatch):
    import shutil
    from pathlib import Path

    import nbformat
    from nbclient import NotebookClient

    examples = Path(__file__).resolve().parents[1] / "examples"
    stored = nbformat.read(examples / "tutorial.ipynb", as_version=4)
    code = [cell for cell in stored.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)  # outputs stripped
    source = "\n".join(cell.source for cell in code)
    assert "from inceptionism" not in source and "inceptionism.api" not in source  # the public API only
    assert "SIZE = 160 if FAST else 512" in source  # a reader sees the real look; the tests ask for speed
    for name in ("chelsea.jpg", "coffee.jpg"):
        shutil.copy(examples / name, tmp_path / name)
    monkeypatch.setenv("INCEPTIONISM_TUTORIAL_FAST", "1")  # small pictures, two steps (the kernel inherits it)
    NotebookClient(stored, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    shown = [o for cell in code for o in cell.outputs if o.get("output_type") in ("execute_result", "display_data")]
    assert sum("image/png" in o.get("data", {}) for o in shown) >= 6  # every picture cell drew a picture
    assert any("text/html" in o.get("data", {}) for o in shown)  # the Dream showed itself
    assert not any(o.get("output_type") == "error" for cell in code for o in cell.outputs)
    from PIL import Image

    with Image.open(tmp_path / "loop.webp") as loop:  # the zoom cell saved its loop
        assert loop.n_frames == 24 and loop.info.get("loop") == 0


def test_zoom_and_batch_show_bars_over_frames_and_files_when_asked(small_photo, tmp_path, capfd):
    import shutil

    from inceptionism.api import resolve_config
    from inceptionism.images import load_image
    from inceptionism.motion.batch import dream_folder
    from inceptionism.motion.zoom import zoom_frames

    cfg = resolve_config(octaves=1, steps=1, seed=0)
    assert len(list(zoom_frames(load_image(small_photo), cfg, frames=3, interpolate=1, progress=True))) == 3
    shown = capfd.readouterr().err
    assert "zoom" in shown and "3/3" in shown
    photos = tmp_path / "in"
    photos.mkdir()
    for name in ("a.png", "b.png"):
        shutil.copy(small_photo, photos / name)
    summary = dream_folder(photos, tmp_path / "out", cfg, progress=True)
    shown = capfd.readouterr().err
    assert len(summary.done) == 2 and "batch" in shown and "2/2" in shown


def test_a_video_shows_a_bar_over_its_frames_when_asked(examples, tmp_path, capfd):
    from inceptionism.api import resolve_config
    from inceptionism.motion.video import dream_video
    from inceptionism.motion.videoio import write_video

    cat = np.asarray(Image.open(examples / "chelsea.jpg").convert("RGB").resize((64, 48)))
    clip = write_video(tmp_path / "clip.mp4", [np.roll(cat, 4 * t, axis=1) for t in range(4)], 12)
    cfg = resolve_config(octaves=1, steps=1, seed=0, max_size=64)
    seen = []
    result = dream_video(clip, tmp_path / "out.mp4", cfg, on_frame=lambda *a: seen.append(a), progress=True)
    shown = capfd.readouterr().err
    assert result.frames == 4 and "video" in shown and "4/4" in shown
    assert seen[-1] == (4, 4, False)  # the caller's own callback still hears every frame


def test_a_progress_bar_leaves_no_thread_behind(small_photo):
    import threading

    before = {t.ident for t in threading.enumerate()}
    dream(str(small_photo), octaves=1, steps=2, seed=0, progress=True)
    assert [t.name for t in threading.enumerate() if t.ident not in before] == []
