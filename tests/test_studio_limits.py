"""What a request may cost the studio: channel pictures, their variants and dataset-example
scans are drawn off the request threads, at most a few at a time, with a bounded number of
requests waiting for them (503 with Retry-After beyond), cancelled when nobody waits, stopped
when the studio stops; their cache is bounded. Traffic goes only to in-process apps or 127.0.0.1."""

from __future__ import annotations

import http.client
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import pytest

import inceptionism.featurevis
from inceptionism.service import ServiceSettings
from inceptionism.service import inspector as inspection
from inceptionism.service.background import serve_in_background

from .support import studio_client, submit, wait

BASE = "/api/models/efficientnet-lite0/layers"
LAYERS = ["blocks.0.0.bn1", "blocks.1.0.bn1", "blocks.1.0.bn2", "blocks.2.0.bn1", "blocks.2.0.bn2", "blocks.3.0.bn1"]


@pytest.fixture()
def photos(small_photo: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        (folder / name).write_bytes(small_photo.read_bytes())
    return folder


class Gate:
    """Makes a drawing wait until released, as a long one does; ``on_step`` is the drawing's
    own step or photo callback, called while it waits (where a cancel takes effect)."""

    def __init__(self) -> None:
        self.started, self.release, self.stopped = threading.Event(), threading.Event(), threading.Event()
        self.calls = 0

    def __enter__(self) -> "Gate":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()  # a failed test lets its drawings end, so nothing waits on them for ever

    def hold(self, on_step) -> None:
        self.calls += 1
        self.started.set()
        try:
            while not self.release.wait(0.01):  # each turn is one more photo or step of a long drawing
                if on_step is not None:
                    on_step(0, None)
        except BaseException:
            self.stopped.set()
            raise


@pytest.fixture()
def gated_scan(monkeypatch) -> Gate:
    """The studio's scans of dataset examples held until released (a long scan of many photos)."""
    gate, real = Gate(), inceptionism.featurevis.write_layer_examples

    def slow(model, layer, folder, out, *, on_photo=None, **kwargs):
        gate.hold(on_photo)
        return real(model, layer, folder, out, on_photo=on_photo, **kwargs)

    monkeypatch.setattr(inceptionism.featurevis, "write_layer_examples", slow)
    return gate


def answered_by(asked: list, count: int, timeout: float = 60.0) -> list:
    """The answers of the first ``count`` of ``asked`` (futures) to be answered; the rest wait on."""
    done: set = set()
    deadline = time.monotonic() + timeout
    for future in as_completed(asked, timeout=timeout):
        done.add(future)
        if len(done) == count:
            break
    extra = [f for f in asked if f.done() and f not in done]
    assert not extra and time.monotonic() < deadline, f"more than {count} requests were answered while the drawing was held"
    return [f.result() for f in done]


def quick(client, path: str = "/api/settings") -> float:
    started = time.monotonic()
    assert client.get(path).status_code == 200
    return time.monotonic() - started


def test_dataset_examples_are_bounded_and_hold_no_request_thread(photos, tmp_path, gated_scan):
    gate = gated_scan
    with studio_client(tmp_path / "data", workers=0, examples=photos) as client, ThreadPoolExecutor(8) as pool, gate:
        asked = [pool.submit(client.get, f"{BASE}/{layer}/channels/0/examples") for layer in LAYERS]
        assert gate.started.wait(60)
        refused = answered_by(asked, len(LAYERS) - inspection.MAX_DRAWING)
        assert [r.status_code for r in refused] == [503] * (len(LAYERS) - inspection.MAX_DRAWING)
        assert all(int(r.headers["retry-after"]) > 0 for r in refused)
        assert quick(client) < 2  # the rest of the API stays quick while four scans wait their turn
        gate.release.set()
        answered = [f.result(120) for f in asked]
    assert sorted(r.status_code for r in answered) == [200] * inspection.MAX_DRAWING + [503] * 2
    assert gate.calls == inspection.MAX_DRAWING  # one scan per layer, one at a time


def test_requests_for_one_picture_wait_together_without_threads_and_beyond_a_bound_are_told_to_return(
        tmp_path, monkeypatch):
    gate, real = Gate(), inspection.channel_variants

    def slow(model, layer, channel, cfg, *, root=None, on_step=None):  # noqa: ANN001
        gate.hold(on_step)
        return real(model, layer, channel, cfg, root=root, on_step=on_step)

    monkeypatch.setattr(inspection, "channel_variants", slow)
    asking = inspection.MAX_WAITING + 18
    with studio_client(tmp_path / "data", workers=0) as client, ThreadPoolExecutor(asking) as pool, gate:
        asked = [pool.submit(client.get, f"{BASE}/blocks.0.0.bn1/channels/3/variants") for _ in range(asking)]
        assert gate.started.wait(60)
        # 50 requests wait for one picture: 32 wait (holding no thread), the rest are told to come back
        refused = answered_by(asked, asking - inspection.MAX_WAITING)
        assert [r.status_code for r in refused] == [503] * (asking - inspection.MAX_WAITING)
        assert quick(client) < 2  # sync routes still find a thread: the waiters hold none (40 would be all)
        gate.release.set()
        answers = [f.result(120) for f in asked]
    assert sum(a.status_code == 200 for a in answers) == inspection.MAX_WAITING
    assert len({a.content for a in answers if a.status_code == 200}) == 1 and gate.calls == 1  # drawn once


def test_a_drawing_nobody_waits_for_any_more_stops_at_its_next_step(photos, tmp_path, gated_scan):
    gate = gated_scan
    settings = ServiceSettings(data_dir=tmp_path / "data", workers=0, examples=photos)
    with serve_in_background(settings) as url, gate:
        host, port = url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        conn.request("GET", f"{BASE}/blocks.2.0.bn1/channels/0/examples")
        assert gate.started.wait(60)  # the scan is under way, its one client waiting
        conn.close()  # the client leaves
        assert gate.stopped.wait(30), "the scan went on after its only client had left"
        assert not gate.release.is_set()


def test_a_studio_asked_to_stop_ends_its_drawings_and_stops_promptly(photos, tmp_path, gated_scan):
    gate = gated_scan
    import uvicorn

    from inceptionism.service import create_app
    from inceptionism.service.background import free_port, studio_server

    port = free_port()
    server = studio_server(uvicorn.Config(create_app(ServiceSettings(data_dir=tmp_path / "data", workers=0,
                                                                      examples=photos)),
                                          host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    answers: list = []

    def ask() -> None:  # a client that waits as long as it takes
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        conn.request("GET", f"{BASE}/blocks.2.0.bn1/channels/0/examples")
        answers.append(conn.getresponse().status)

    asking = threading.Thread(target=ask, daemon=True)
    asking.start()
    with gate:
        assert gate.started.wait(60)
        stopping = time.monotonic()
        server.handle_exit(signal.SIGTERM, None)  # what uvicorn's SIGTERM handler calls
        thread.join(30)
        took = time.monotonic() - stopping
    asking.join(30)
    assert not thread.is_alive() and took < 3, f"the studio took {took:.1f} s to stop"
    assert gate.stopped.is_set() and answers == [503]


def test_the_picture_cache_counts_example_strips_and_drops_a_layers_strips_together(tmp_path):
    root = tmp_path / "thumbnails"
    for k in range(6):
        picture = root / "lite0" / "blocks.0" / f"ch-{k:04d}.png"
        picture.parent.mkdir(parents=True, exist_ok=True)
        picture.write_bytes(b"x")
        os.utime(picture, (1000 + k, 1000 + k))
    for layer, used in (("old", 500), ("new", 2000)):
        for k in range(5):
            strip = root / "examples" / "lite0" / layer / f"ex-{k:04d}.jpg"
            strip.parent.mkdir(parents=True, exist_ok=True)
            strip.write_bytes(b"x")
            os.utime(strip, (used, used))
    assert inspection.prune(root, 12) == 5  # 16 pictures: the old layer's 5 strips go together, not one of them
    assert not list((root / "examples" / "lite0" / "old").glob("*.jpg"))
    assert len(list((root / "examples" / "lite0" / "new").glob("*.jpg"))) == 5
    kept_new = root / "examples" / "lite0" / "new" / "ex-0002.jpg"
    assert inspection.prune(root, 3, keep=kept_new) == 6  # the six pictures, oldest first; the kept layer stays
    assert len([p for p in root.rglob("*") if p.is_file()]) == 5


def test_channel_pictures_are_bounded_and_their_cache_too(tmp_path, monkeypatch):
    import threading

    from inceptionism.service import inspector as inspection

    monkeypatch.setattr(inspection, "MAX_DRAWING", 1)
    monkeypatch.setattr(inspection, "MAX_THUMBNAILS", 20)
    with studio_client(tmp_path / "data", workers=0) as client:
        base = "/api/models/efficientnet-lite0/layers/blocks.3.0.bn1/channels"
        gate, release = threading.Event(), threading.Event()
        real = inspection.channel_thumbnail

        def slow(*args, **kwargs):
            gate.set()
            release.wait(30)
            return real(*args, **kwargs)

        monkeypatch.setattr(inspection, "channel_thumbnail", slow)
        first = threading.Thread(target=lambda: client.get(f"{base}/0"))
        first.start()
        assert gate.wait(30)
        busy = client.get(f"{base}/40")  # one is being drawn: the next waits nowhere
        assert busy.status_code == 503 and busy.headers["retry-after"], busy.text
        started = time.monotonic()
        assert client.get("/api/settings").status_code == 200 and time.monotonic() - started < 2
        release.set()
        first.join(60)
        monkeypatch.setattr(inspection, "channel_thumbnail", real)
        for channel in (16, 32):  # two more batches of 16 pictures each: 48 drawn, 20 kept
            assert client.get(f"{base}/{channel}").status_code == 200
    kept = list((tmp_path / "data" / "thumbnails").rglob("ch-*.png"))
    assert len(kept) == 20 and any(p.name == "ch-0032.png" for p in kept)


def test_a_studio_dream_cancelled_mid_step_stops_within_a_tile(tmp_path, monkeypatch):
    """Counted in tiles, not seconds (a loaded machine is slow either way): once the cancel is
    answered, at most the tile under way and one more are computed, and no step finishes."""
    from inceptionism.engine import tiles

    counted, third = [], threading.Event()
    real = tiles._gradient

    def gradient(*args, **kwargs):
        counted.append(1)
        if len(counted) == 3:
            third.set()  # inside the first step, of 256 tiles of 128 px
        return real(*args, **kwargs)

    monkeypatch.setattr(tiles, "_gradient", gradient)
    with studio_client(tmp_path / "data", workers=1) as client:
        job = submit(client, None, size=[2048, 2048], tile_size=128, steps=2, octaves=1, seed=1).json()
        assert third.wait(120), "the dream did not start"
        assert client.delete(f"/api/dreams/{job['id']}").status_code == 202
        asked = len(counted)
        ended = wait(client, job["id"])
    assert ended["status"] == "cancelled" and not ended["progress"].get("step")  # no step finished
    assert len(counted) - asked <= 2, f"{len(counted) - asked} tiles were computed after the cancel"


def test_a_queued_drawing_whose_client_left_gives_its_place_back():
    """Cancelled before it started, a drawing never runs: its place among the few that may be
    under way must come back, or four abandoned requests would leave the studio answering 503."""
    import asyncio

    from inceptionism.service.drawings import Drawings

    drawings, gate = Drawings(most=2, waiting=10), threading.Event()

    async def scenario() -> list:
        held = asyncio.Event()  # the first client stays; the second leaves once it is queued
        first = asyncio.ensure_future(drawings.get("a", lambda cancelled: gate.wait(30) and "a", held.wait))
        leaving = asyncio.Event()
        second = asyncio.ensure_future(drawings.get("b", lambda cancelled: "b", leaving.wait))
        await asyncio.sleep(0)  # both joined: "b" waits behind "a" on the one drawing thread
        while drawings.under_way() < 2:
            await asyncio.sleep(0.01)
        leaving.set()
        refused = await asyncio.gather(second, return_exceptions=True)
        third = asyncio.ensure_future(drawings.get("c", lambda cancelled: "c", asyncio.Event().wait))
        await asyncio.sleep(0)  # "c" joins (or is refused) at once; "a" still holds its place, "b" left its own
        assert not third.done(), third.exception()  # not refused (503) at once
        gate.set()
        return [refused[0], await first, await third]

    try:
        gone, first, third = asyncio.run(asyncio.wait_for(scenario(), 60))
    finally:
        gate.set()
        drawings.close(10)
    assert getattr(gone, "status", None) == 503 and (first, third) == ("a", "c")
    assert drawings.under_way() == 0


def test_requests_sharing_a_batch_each_get_their_own_channel_checked(tmp_path, monkeypatch):
    """blocks.1.0.bn3 has 24 channels: a batch of 16 holds 16-31. A request for 25 that shares the
    drawing of 17's batch gets 404, not 17's picture; 17 gets its own."""
    gate, real = Gate(), inspection.channel_thumbnail

    def slow(model, layer, channel, cfg, *, root=None, batch=16, on_step=None):
        gate.hold(on_step)
        return real(model, layer, channel, cfg, root=root, batch=batch, on_step=on_step)

    monkeypatch.setattr(inspection, "channel_thumbnail", slow)
    base = f"{BASE}/blocks.1.0.bn3/channels"
    with studio_client(tmp_path / "data", workers=0) as client, ThreadPoolExecutor(2) as pool, gate:
        out_of_range = pool.submit(client.get, f"{base}/25")  # asks first: its batch is drawn for it
        assert gate.started.wait(60)
        valid = pool.submit(client.get, f"{base}/17")  # joins the same drawing
        gate.release.set()
        answers = out_of_range.result(120), valid.result(120)
        assert answers[0].status_code == 404 and "channel 25 is out of range" in answers[0].json()["error"]
        assert answers[1].status_code == 200 and gate.calls == 1
        assert answers[1].content == (tmp_path / "data" / "thumbnails").rglob("ch-0017.png").__next__().read_bytes()
        assert client.get(f"{base}/1_0").status_code == 422  # digits 0-9 only, as everywhere
