"""The ComfyUI nodes: a Dream node graph run twice on the real ComfyUI server (the second run
with another seed: the network is not loaded again) against the same dream in this process,
and a looping zoom against the plain zoom of the same frames.

    .venv/bin/python benchmarks/bench_comfyui.py [--repeat 3]

Needs ComfyUI in .comfyui/ (scripts/setup_comfyui.sh). Runs one thing at a time: the server
idles while this process dreams, and the other way round. Prints JSON lines.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support import EXAMPLES, ComfyUI  # noqa: E402  (the tests' server starter)

SIZE = 320  # px, the dream's longer side


def dream_graph(seed: int) -> dict:
    from inceptionism.comfyui import NODE_CLASS_MAPPINGS

    def defaults(node: str) -> dict:
        required = NODE_CLASS_MAPPINGS[node].INPUT_TYPES()["required"]
        return {k: v[1]["default"] for k, v in required.items() if len(v) > 1 and "default" in v[1]}

    dream = {**defaults("InceptionismDream"), "max_size": SIZE, "seed": seed, "network": ["n", 0], "image": ["p", 0],
             "threads": 2}
    return {"n": {"class_type": "InceptionismNetwork", "inputs": defaults("InceptionismNetwork")},
            "p": {"class_type": "LoadImage", "inputs": {"image": "chelsea.jpg"}},
            "d": {"class_type": "InceptionismDream", "inputs": dream},
            "s": {"class_type": "PreviewImage", "inputs": {"images": ["d", 0]}}}


def server_seconds(entry: dict) -> float:
    """From the prompt's start to its end, as ComfyUI stamped them (ms)."""
    stamps = {kind: data["timestamp"] for kind, data in entry["status"]["messages"]}
    return (stamps["execution_success"] - stamps["execution_start"]) / 1000


def comfyui_runs(repeat: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        server = ComfyUI(Path(tmp) / "comfyui")
        try:
            server.upload(EXAMPLES / "chelsea.jpg")
            first = server.run(dream_graph(seed=100))
            seconds = [server_seconds(server.run(dream_graph(seed=101 + k))) for k in range(repeat)]
            cached = [d for kind, d in server.run(dream_graph(seed=200))["status"]["messages"] if kind == "execution_cached"]
        finally:
            server.close()
    return {"first_run_s": round(server_seconds(first), 2), "second_runs_s": [round(s, 2) for s in seconds],
            "network_cached": "n" in cached[0]["nodes"]}


def own_dream(repeat: int) -> list[float]:
    import inceptionism

    model = inceptionism.load_model()
    times = []
    for k in range(repeat + 1):
        began = time.perf_counter()
        inceptionism.render(EXAMPLES / "chelsea.jpg", model=model, max_size=SIZE, seed=101 + k, threads=2, score=False)
        times.append(time.perf_counter() - began)
    return [round(t, 2) for t in times[1:]]  # the first warms up


def loop_cost(repeat: int) -> dict:
    import numpy as np
    import inceptionism
    from inceptionism.motion.loop import loop_plan, measure_seam

    model = inceptionism.load_model()
    out = {}
    for loop in (False, True):
        times, seams = [], []
        for _ in range(repeat):
            began = time.perf_counter()
            frames = inceptionism.zoom(EXAMPLES / "chelsea.jpg", frames=36, zoom=1.06, loop=loop, max_size=SIZE,
                                       model=model, seed=3)
            times.append(time.perf_counter() - began)
            seam = measure_seam(np.asarray(f) for f in frames)
            list(seam)
            seams.append(round(seam.result.ratio, 2))
        out["loop" if loop else "plain"] = {"median_s": round(statistics.median(times), 2), "seam_ratio": seams[0]}
    plan = loop_plan(36, 1.06)
    out["loop"]["dreams"], out["plain"]["dreams"] = plan.dreams, 36
    out["loop_over_plain"] = round(out["loop"]["median_s"] / out["plain"]["median_s"], 2)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs = comfyui_runs(args.repeat)
    own = own_dream(args.repeat)
    second, mine = statistics.median(runs["second_runs_s"]), statistics.median(own)
    print(json.dumps({"workload": f"Dream node, chelsea at {SIZE} px, preset classic", **runs, "own_dream_s": own,
                      "second_over_own": round(second / mine, 3)}))
    print(json.dumps({"workload": f"zoom of 36 frames at 1.06, chelsea at {SIZE} px", **loop_cost(args.repeat)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
