"""Motion benchmarks: dreamed video frames at 1280x720 and 1920x1080: time per frame,
flicker and memory.

    .venv/bin/python benchmarks/bench_motion.py

Each workload runs in its own process so its peak RSS is its own. The clips are made
here (the coffee photo panning 8 px a frame), nothing is downloaded. Flicker is the
motion issue's measure: the mean absolute difference (0-255) between consecutive
dreamed frames after undoing the camera's motion (the known 8 px pan). Strength is the
mean absolute difference between the last dreamed frame and its source: how much dream
the video keeps. At 720p the defaults run beside the carried-frame settings of before
(all 12 steps at the finest octave, blend 0.7).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHIFT = 8

WORKLOAD = """
import json, sys, time
from inceptionism.runtime import keep_freed_memory
keep_freed_memory()  # as the command does
import numpy as np
from PIL import Image
import inceptionism
from inceptionism.api import resolve_config
from inceptionism.motion import dream_video
from inceptionism.motion.videoio import write_video
w, h, n, shift, tmp = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
video = json.loads(sys.argv[7])
big = np.asarray(Image.open(sys.argv[6]).convert("RGB").resize((w + shift * n, h)))
sources = [np.ascontiguousarray(big[:, shift * t : shift * t + w]) for t in range(n)]
clip = write_video(tmp + "/clip.mp4", iter(sources), 24.0)
model = inceptionism.load_model()
times = []
last = [time.perf_counter()]
def on_frame(done, total, resumed):
    now = time.perf_counter(); times.append(now - last[0]); last[0] = now
dream_video(clip, tmp + "/out.mp4", resolve_config(None, seed=0), model=model, on_frame=on_frame, keep_frames=True,
            **video)
frames = [np.asarray(Image.open(p), np.float32) for p in sorted(Path(tmp, ".out.mp4.frames").glob("*.png"))]
flicker = [float(np.abs(b[:, :-shift] - a[:, shift:]).mean()) for a, b in zip(frames, frames[1:])]
print(json.dumps({"first": times[0], "carried": sum(times[1:]) / max(1, len(times) - 1), "frames": len(frames),
                  "flicker": sum(flicker) / len(flicker), "strength": float(np.abs(frames[-1] - sources[-1]).mean())}))
""".replace("import json, sys, time", "import json, sys, time\nfrom pathlib import Path")

RUNS = [
    (1280, 720, 7, "defaults", {}),
    (1280, 720, 7, "before: --carried-steps 12 --blend 0.7", {"carried_steps": 12, "blend": 0.7}),
    (1920, 1080, 3, "defaults", {}),
]


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_core import machine

    print(f"machine: {machine()}")
    print(f"\n## Dreamed video, coherence on (clip: the coffee photo panning {SHIFT} px a frame)\n")
    print("| size | settings | first frame | carried frame | fps (carried) | flicker | strength | process | peak RSS |")
    print("|---|---|---|---|---|---|---|---|---|")
    for width, height, frames, label, video in RUNS:
        with tempfile.TemporaryDirectory() as tmp:
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-c", WORKLOAD, str(width), str(height), str(frames), str(SHIFT), tmp,
                                   str(ROOT / "examples" / "coffee.jpg"), json.dumps(video)],
                                  capture_output=True, text=True)  # fmt: skip
            wall = time.perf_counter() - start
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            if proc.returncode:
                raise SystemExit(proc.stderr[-2000:])
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            note = "" if peak > before else " (not above an earlier run's)"
            print(f"| {width}x{height} | {label} | {r['first']:.1f} s | {r['carried']:.2f} s | {1 / r['carried']:.3f} "
                  f"| {r['flicker']:.2f} | {r['strength']:.1f} | {wall:.0f} s | {peak / 1024:.0f} MB{note} |", flush=True)


if __name__ == "__main__":
    main()
