"""Motion benchmarks: dreamed video frames at 1280x720 and 1920x1080 (time per frame, memory).

    .venv/bin/python benchmarks/bench_motion.py

Each workload runs in its own process so its peak RSS is its own. The clips are made
here (the coffee photo panning), nothing is downloaded.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

WORKLOAD = """
import sys, time
from inceptionism.runtime import keep_freed_memory
keep_freed_memory()  # as the command does
import numpy as np
from PIL import Image
import inceptionism
from inceptionism.api import resolve_config
from inceptionism.motion import dream_video
from inceptionism.motion.videoio import write_video
w, h, n, tmp = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
big = np.asarray(Image.open(sys.argv[5]).convert("RGB").resize((w + 8 * n, h)))
clip = write_video(tmp + "/clip.mp4", (np.ascontiguousarray(big[:, 8 * t : 8 * t + w]) for t in range(n)), 24.0)
model = inceptionism.load_model()
times = []
last = [time.perf_counter()]
def on_frame(done, total, resumed):
    now = time.perf_counter(); times.append(now - last[0]); last[0] = now
r = dream_video(clip, tmp + "/out.mp4", resolve_config(None, seed=0), model=model, on_frame=on_frame)
print(f"first frame {times[0]:.1f} s; later frames {sum(times[1:]) / max(1, len(times) - 1):.1f} s each "
      f"({1 / (sum(times[1:]) / max(1, len(times) - 1)):.3f} fps); {r.frames} frames")
"""


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_core import machine

    print(f"machine: {machine()}")
    print("\n## Dreamed video, default settings, coherence on (clip: coffee photo panning 8 px/frame)")
    for width, height, frames in ((1280, 720, 4), (1920, 1080, 3)):
        with tempfile.TemporaryDirectory() as tmp:
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-c", WORKLOAD, str(width), str(height), str(frames), tmp,
                                   str(ROOT / "examples" / "coffee.jpg")], capture_output=True, text=True)  # fmt: skip
            wall = time.perf_counter() - start
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            if proc.returncode:
                raise SystemExit(proc.stderr[-2000:])
            note = "" if peak > before else " (peak not above an earlier workload's)"
            print(f"{width}x{height}: {proc.stdout.strip()}; process {wall:.0f} s; peak RSS {peak / 1024:.0f} MB{note}")


if __name__ == "__main__":
    main()
