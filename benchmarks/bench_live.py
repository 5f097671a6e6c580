"""Live dreaming through the studio's /api/live: a clip's frames sent at 30 fps for 20 s
(streaming: dreamed frames per second, and the delay from a frame's send to its dream's
arrival, p50 and p95), then frame by frame, each sent when the last dream came back (the pure
cost of a frame, and where it goes: decode, flow, steps, encode, the rest is transport).

    .venv/bin/python benchmarks/bench_live.py [--seconds 20] [--sizes 320x240,640x480]

The clip: a 30 fps camera move over the public-domain coffee photo (examples/), made here.
The studio runs in this process (uvicorn on a thread), one session at a time. Prints JSON lines.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def clip_frames(width: int, height: int, count: int) -> list[bytes]:
    """JPEG frames of a slow pan and zoom over a photo, at 30 fps."""
    photo = Image.open(ROOT / "examples" / "coffee.jpg").convert("RGB")
    frames = []
    for t in range(count):
        phase = t / 90
        scale = 0.75 + 0.15 * np.sin(phase)
        w = scale * min(photo.width, photo.height * width / height)  # the window fits the photo
        h = w * height / width
        left = (photo.width - w) / 2 * (1 + 0.6 * np.sin(phase * 0.7))
        top = (photo.height - h) / 2 * (1 + 0.6 * np.cos(phase * 0.5))
        crop = photo.resize((width, height), box=(left, top, left + w, top + h))
        buffer = io.BytesIO()
        crop.save(buffer, "JPEG", quality=85)
        frames.append(buffer.getvalue())
    return frames


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else float("nan")


def streaming(url: str, frames: list[bytes], size: int) -> dict:
    from websockets.sync.client import connect

    sent: dict[int, float] = {}
    delays, arrivals, parts = [], [], []
    with connect(url, max_size=None) as socket:
        socket.send(json.dumps({"max_size": size}))
        json.loads(socket.recv())

        def send() -> None:
            began = time.perf_counter()
            for index, frame in enumerate(frames, 1):
                wait = began + (index - 1) / 30 - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)  # a camera's pace: 30 fps
                sent[index] = time.perf_counter()
                socket.send(frame)

        sender = threading.Thread(target=send)
        began = time.perf_counter()
        sender.start()
        pending = None
        while sender.is_alive() or (pending is None or pending["dreamed"] < len(frames)):
            try:
                message = socket.recv(timeout=5)
            except TimeoutError:
                break
            if isinstance(message, str):
                pending = json.loads(message)
                continue
            now = time.perf_counter()
            arrivals.append(now)
            delays.append((now - sent[pending["dreamed"]]) * 1000)
            parts.append(pending["ms"])
            if pending["dreamed"] == len(frames):
                break
        sender.join()
    took = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else float("nan")
    return {"dreamed": len(arrivals), "sent": len(frames), "fps": round((len(arrivals) - 1) / took, 2),
            "delay_ms_p50": round(percentile(delays, 0.5), 1), "delay_ms_p95": round(percentile(delays, 0.95), 1),
            "parts_ms_median": {k: round(statistics.median(p[k] for p in parts), 1) for k in parts[0]}}


def one_at_a_time(url: str, frames: list[bytes], size: int) -> dict:
    from websockets.sync.client import connect

    rounds, parts = [], []
    with connect(url, max_size=None) as socket:
        socket.send(json.dumps({"max_size": size}))
        json.loads(socket.recv())
        for frame in frames:
            began = time.perf_counter()
            socket.send(frame)
            message = json.loads(socket.recv())
            socket.recv()
            rounds.append((time.perf_counter() - began) * 1000)
            parts.append(message["ms"])
    rounds, parts = rounds[3:], parts[3:]  # the first frames build the session
    median = statistics.median(rounds)
    inside = {k: round(statistics.median(p[k] for p in parts), 1) for k in parts[0]}
    server = inside["decode"] + inside["dream"] + inside["encode"]
    return {"frames": len(rounds), "ms_per_frame_p50": round(median, 1), "fps": round(1000 / median, 2),
            "parts_ms_median": inside, "transport_ms": round(median - server, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--sizes", default="320x240,640x480")
    args = parser.parse_args()
    from inceptionism.service import ServiceSettings, serve_in_background

    with serve_in_background(ServiceSettings(data_dir=Path(tempfile.mkdtemp()), workers=1)) as base:
        url = base.replace("http://", "ws://") + "/api/live"
        for text in args.sizes.split(","):
            width, height = (int(v) for v in text.split("x"))
            frames = clip_frames(width, height, int(args.seconds * 30))
            print(json.dumps({"size": text, "mode": "streaming at 30 fps", **streaming(url, frames, max(width, height))}))
            print(json.dumps({"size": text, "mode": "one at a time", **one_at_a_time(url, frames[:60], max(width, height))}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
