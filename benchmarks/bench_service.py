"""Load check of the studio: 20 dreams submitted at once over HTTP, on CPU.

    .venv/bin/python benchmarks/bench_service.py [--jobs 20] [--workers 1]

A real server (uvicorn, in a background thread of this process) with a fresh data
directory; 20 clients post the chelsea photo at the same moment, with the default
("classic") preset, then wait for every dream. Prints how many finished, failed or went
missing, the submit latency, each job's wait and run time, throughput, and memory
(peak RSS, and RSS after the first and the last job: a leak would grow between them).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from inceptionism.runtime import keep_freed_memory

keep_freed_memory()  # as the command does, before torch is imported
import httpx  # noqa: E402

from inceptionism.service import Limits, ServiceSettings, serve_in_background  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import rss_mb  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    photo = (ROOT / "examples" / "chelsea.jpg").read_bytes()
    settings_ = ServiceSettings(data_dir=Path(tempfile.mkdtemp(prefix="bench-service-")), workers=args.workers,
                                limits=Limits(max_queued=max(32, args.jobs)))
    with serve_in_background(settings_) as url, httpx.Client(base_url=url, timeout=60) as client:
        time.sleep(3)  # a server that has just started is still loading the network it checks requests with
        def submit(n: int) -> tuple[str, float]:
            started = time.perf_counter()
            response = client.post("/api/dreams", files={"image": ("chelsea.jpg", photo, "image/jpeg")},
                                   data={"params": json.dumps({"seed": n})})
            response.raise_for_status()
            return response.json()["id"], time.perf_counter() - started

        barrier_start = time.perf_counter()
        with ThreadPoolExecutor(args.jobs) as pool:
            submitted = list(pool.map(submit, range(args.jobs)))
        ids = [job_id for job_id, _ in submitted]
        latencies = [latency for _, latency in submitted]
        rss_first, jobs = None, {}
        while len(jobs) < len(ids):
            for job_id in ids:
                if job_id in jobs:
                    continue
                job = client.get(f"/api/dreams/{job_id}").json()
                if job["status"] in ("done", "failed", "cancelled"):
                    jobs[job_id] = job
                    if rss_first is None:
                        rss_first = rss_mb()
            time.sleep(0.2)
        wall = time.perf_counter() - barrier_start
        rss_last = rss_mb()
        results_ok = sum(client.get(f"/api/dreams/{i}/result").status_code == 200 for i in ids)

    statuses = [job["status"] for job in jobs.values()]
    waits = [job["timings"]["queued_s"] for job in jobs.values()]
    runs = [job["timings"]["running_s"] for job in jobs.values()]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.jobs} jobs, {args.workers} worker(s), chelsea 451x300, classic preset")
    print(f"  done {statuses.count('done')}, failed {statuses.count('failed')}, cancelled {statuses.count('cancelled')}, "
          f"missing {len(ids) - len(jobs)}; results readable {results_ok}")
    print(f"  submit latency: median {statistics.median(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms")
    print(f"  run per job: median {statistics.median(runs):.2f} s, max {max(runs):.2f} s; "
          f"wait in queue: max {max(waits):.1f} s")
    print(f"  all done in {wall:.1f} s ({args.jobs / wall * 60:.1f} dreams/min)")
    print(f"  RSS after the first job {rss_first:.0f} MB, after the last {rss_last:.0f} MB; peak {peak:.0f} MB")


if __name__ == "__main__":
    main()
