"""Server memory under a burst of uploads that claim many pixels in few bytes.

Six clients at once each upload a 7000x7000 PNG of about 160 KB to a real server
(uvicorn in a background thread, on 127.0.0.1, no workers, so only the request handling
is measured). Prints the server process's RSS before, at the peak and after the burst.

    .venv/bin/python benchmarks/bench_uploads.py [--clients 6]
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import machine, rss_mb  # noqa: E402

from inceptionism.service import Limits, ServiceSettings, serve_in_background  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=6)
    args = parser.parse_args()
    buffer = io.BytesIO()
    Image.new("RGB", (7000, 7000), (120, 130, 140)).save(buffer, "PNG")
    data = buffer.getvalue()
    settings = ServiceSettings(data_dir=Path(tempfile.mkdtemp(prefix="bench-uploads-")), workers=0,
                               limits=Limits(max_queued=1000))  # fmt: skip
    with serve_in_background(settings) as url, httpx.Client(base_url=url, timeout=120) as client:
        time.sleep(3)  # the server loads the network it checks requests with
        idle = rss_mb()
        peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        def upload(n: int) -> int:
            files = {"image": ("big.png", data, "image/png")}
            return client.post("/api/dreams", files=files, data={"params": json.dumps({"seed": n})}).status_code

        started = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            statuses = list(pool.map(upload, range(args.clients)))
        took = time.perf_counter() - started
        time.sleep(1)
        after = rss_mb()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(machine())
    print(f"{args.clients} uploads of a 7000x7000 PNG ({len(data) / 1e3:.0f} KB) at once: statuses {sorted(set(statuses))}, "
          f"{took:.2f} s")
    print(f"RSS idle {idle:.0f} MB, after the burst {after:.0f} MB (+{after - idle:.0f} MB); "
          f"process peak {peak_before:.0f} -> {peak:.0f} MB")


if __name__ == "__main__":
    main()
