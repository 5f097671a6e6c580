"""The studio's HTTP API through FastAPI's test client: real jobs on the bundled model, tiny sizes."""

from __future__ import annotations

import base64
import io
import json
import struct
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from inceptionism.images import read_metadata
from inceptionism.service import Limits
from inceptionism.featurevis import FeatureVisConfig

from .support import TINY, studio_client, submit, wait

@pytest.fixture()
def photo(small_photo: Path) -> bytes:
    return small_photo.read_bytes()


@pytest.fixture()
def client(tmp_path: Path):
    with studio_client(tmp_path / "data", workers=1) as c:
        yield c


def test_dream_on_an_upload_runs_to_a_result_with_its_parameters(client: TestClient, photo: bytes) -> None:
    response = submit(client, photo, **TINY)
    assert response.status_code == 202
    job_id = response.json()["id"]
    assert response.headers["location"] == f"/api/dreams/{job_id}"
    job = wait(client, job_id)
    assert job["status"] == "done", job["error"]
    assert job["progress"]["fraction"] == 1.0 and job["progress"]["octave"] == job["progress"]["octaves"] == 2
    assert job["timings"]["running_s"] > 0 and job["timings"]["queued_s"] >= 0
    assert job["score_end"] > job["score_start"]  # the dream raised the objective
    assert job["config"]["seed"] == 3 and job["params"] == TINY and job["previews"] == 2

    result = client.get(f"/api/dreams/{job_id}/result")
    assert result.status_code == 200 and result.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(result.content))
    assert image.size == (96, 64)
    meta = json.loads(image.info["inceptionism"])
    assert meta["config"]["seed"] == 3 and meta["config"]["steps"] == 2
    preview = client.get(f"/api/dreams/{job_id}/previews/2")
    assert preview.headers["content-type"] == "image/jpeg" and Image.open(io.BytesIO(preview.content)).format == "JPEG"
    assert client.get(f"/api/dreams/{job_id}/previews/3").status_code == 404
    assert client.get(f"/api/dreams/{job_id}/input").content == photo


def test_dream_from_noise_without_an_image(client: TestClient) -> None:
    job_id = submit(client, size=[80, 64], steps=2, octaves=1, seed=1).json()["id"]
    job = wait(client, job_id)
    assert job["status"] == "done" and job["source"] == "noise"
    assert Image.open(io.BytesIO(client.get(f"/api/dreams/{job_id}/result").content)).size == (80, 64)
    assert client.get(f"/api/dreams/{job_id}/input").status_code == 404


def test_events_stream_progress_previews_and_the_end(client: TestClient, photo: bytes) -> None:
    job_id = submit(client, photo, **TINY).json()["id"]
    events = []
    with client.stream("GET", f"/api/dreams/{job_id}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in stream.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[6:])))
    names = [name for name, _ in events]
    assert names[-1] == "done" and names.count("done") == 1
    previews = [data for name, data in events if name == "preview"]
    assert [p["octave"] for p in previews] == [1, 2]
    jpeg = base64.b64decode(previews[-1]["image"].split(",", 1)[1])
    assert Image.open(io.BytesIO(jpeg)).size == (96, 64)  # smaller than preview_side: kept as is
    fractions = [data["progress"]["fraction"] for name, data in events if name in ("progress", "done")]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"steps": 10_000}, "steps", "limit of 200"),
        ({"octaves": 40}, "octaves", "limit of 12"),
        ({"max_size": 50_000}, "max_size", "limit of 2048"),
        ({"size": [50_000, 400]}, "size", "limit of 2048"),
        ({"octave_range": "0:9", "max_size": 1024}, "octave_range", "largest octave"),
        ({"jitter": 5000}, "jitter", "limit of 512"),
        ({"stepz": 3}, "stepz", "did you mean steps"),
        ({"step_size": -1}, "step_size", "step_size"),
        ({"grad_norm": "l1"}, "grad_norm", "mean-abs, std"),
        ({"guide": ["/etc/passwd"]}, "guide", "file field 'guide'"),
        ({"mask": "/etc/shadow"}, "mask", "file field 'mask'"),
        ({"weights": "/root/model.pt"}, "weights", "not reachable"),
        ({"weights": "random"}, "weights", "own weights"),
        ({"config": {"mask": "/etc/shadow"}}, "config", "flat"),
        ({"lapnorm_levels": {"x": 1}}, "lapnorm_levels", "plain value"),
        ({"tile_size": 8}, "tile_size", "under this server's least of 128"),
        ({"octave_range": "-12:-11"}, "octave_range", "too small"),
        ({"target_class": "no such animal"}, "target_class", "no such animal"),
        ({"avoid_class": "wolfz"}, "avoid_class", "wolfz"),
        ({"device": "cuda"}, "device", "server chooses"),
        ({"precision": "bf16"}, "precision", "server chooses its arithmetic"),
        ({"model": "timm/resnet18"}, "model", "not served"),
        ({"layers": "blocks.99"}, "layers", "unknown layer 'blocks.99'"),
        ({"layers": "blocks.4.1.bn1:5000"}, "layers", "out of range"),
        ({"class": "no such animal"}, "class", "no such animal"),
        ({"preset": "wild"}, "preset", "subtle, classic, deep"),
    ],
)
def test_out_of_range_parameters_are_refused_with_the_field(client: TestClient, params, field, words) -> None:
    response = submit(client, **params)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["field"] == field and words in body["error"]


@pytest.mark.parametrize(("text", "words"), [("{", "not valid JSON"), ("[1, 2]", "JSON object"), ('"steps"', "JSON object")])
def test_params_must_be_a_json_object(client: TestClient, text: str, words: str) -> None:
    response = client.post("/api/dreams", data={"params": text})
    assert response.status_code == 422 and words in response.json()["error"]


def test_uploads_are_sniffed_from_their_content(client: TestClient, photo: bytes) -> None:
    not_image = submit(client, b"#!/bin/sh\necho hello\n", name="looks.png")
    assert not_image.status_code == 415 and "not an image" in not_image.json()["error"]
    assert submit(client, b"", name="empty.png").status_code == 422
    # A PNG named .jpg is a PNG: accepted, stored by what it is, not by its name.
    job_id = submit(client, photo, name="../../outside.jpg", **TINY).json()["id"]
    assert wait(client, job_id)["status"] == "done"
    assert client.get(f"/api/dreams/{job_id}/input").headers["content-type"] == "image/png"
    assert client.get(f"/api/dreams/{job_id}").json()["source"] == "outside.jpg"  # a name to show, not a path
    stored = sorted(p.name for p in (client.app.state.data_dir / "jobs" / job_id).iterdir())
    assert stored == ["image.png", "preview-1.jpg", "preview-2.jpg", "result.png"]


def bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def test_pixel_bombs_and_big_bodies_are_refused_before_decoding(tmp_path: Path, photo: bytes) -> None:
    with studio_client(tmp_path / "data", workers=1, limits=Limits(max_upload_bytes=200_000)) as client:
        bomb = submit(client, bomb_png(30_000, 30_000))
        assert bomb.status_code == 413 and "900 MP" in bomb.json()["error"]
        big = submit(client, photo + b"\0" * 1_500_000)
        assert big.status_code == 413 and "bytes" in big.json()["error"]
        # Within the body limit but over the per-file limit.
        over = submit(client, photo + b"\0" * 250_000)
        assert over.status_code == 413 and "image is" in over.json()["error"]


def test_large_uploads_are_scaled_to_the_servers_largest_side(tmp_path: Path, examples: Path) -> None:
    with studio_client(tmp_path / "data", workers=0, limits=Limits(max_side=200)) as client:
        response = submit(client, (examples / "chelsea.jpg").read_bytes(), name="chelsea.jpg", steps=1)
        job = client.get(f"/api/dreams/{response.json()['id']}").json()
        assert job["params"]["max_size"] == 200  # recorded with the job: it shows what it ran with


def test_a_full_queue_refuses_with_429(tmp_path: Path) -> None:
    with studio_client(tmp_path / "data", workers=0, limits=Limits(max_queued=2)) as client:
        first, second = submit(client, size=[64, 64], steps=1), submit(client, size=[64, 64], steps=1)
        assert first.status_code == second.status_code == 202
        assert client.get(f"/api/dreams/{second.json()['id']}").json()["queue_position"] == 2
        third = submit(client, size=[64, 64], steps=1)
        assert third.status_code == 429 and "queue is full" in third.json()["error"]
        assert len(list((tmp_path / "data" / "jobs").iterdir())) == 2  # nothing left of the refused one


def test_cancel_a_queued_dream_then_remove_it(tmp_path: Path) -> None:
    with studio_client(tmp_path / "data", workers=0) as client:
        job_id = submit(client, size=[64, 64], steps=1).json()["id"]
        cancel = client.delete(f"/api/dreams/{job_id}")
        assert cancel.status_code == 202 and cancel.json()["status"] == "cancelled"
        assert client.get(f"/api/dreams/{job_id}").json()["status"] == "cancelled"
        assert client.get(f"/api/dreams/{job_id}/result").status_code == 409
        assert client.delete(f"/api/dreams/{job_id}").status_code == 204
        assert client.get(f"/api/dreams/{job_id}").status_code == 404
        assert not (tmp_path / "data" / "jobs" / job_id).exists()


def test_cancel_a_running_dream_stops_it_at_its_next_step(client: TestClient) -> None:
    job_id = submit(client, size=[256, 256], steps=200, octaves=3).json()["id"]
    deadline = time.monotonic() + 60
    while client.get(f"/api/dreams/{job_id}").json()["progress"]["step"] < 1:
        assert time.monotonic() < deadline, "the dream never started"
        time.sleep(0.05)
    response = client.delete(f"/api/dreams/{job_id}")
    assert response.status_code == 202 and response.json()["status"] == "cancelling"
    job = wait(client, job_id, timeout=30)
    assert job["status"] == "cancelled" and job["progress"]["octave"] == 1  # stopped long before the end
    assert client.get(f"/api/dreams/{job_id}/result").status_code == 409


def test_a_restart_requeues_interrupted_dreams_and_keeps_finished_ones(tmp_path: Path, photo: bytes) -> None:
    data = tmp_path / "data"
    with studio_client(data, workers=0) as client:
        interrupted = submit(client, photo, **TINY).json()["id"]
        waiting = submit(client, size=[64, 64], steps=1, seed=2).json()["id"]
        claimed = client.app.state.store.claim()  # a worker took it; then the server died
        assert claimed.id == interrupted
    with studio_client(data, workers=1) as client:  # a new app instance on the same store
        assert client.app.state.requeued == [interrupted]
        first, second = wait(client, interrupted), wait(client, waiting)
        assert first["status"] == second["status"] == "done"
        assert "interrupted" in first["note"] and second["note"] is None
    with studio_client(data, workers=0) as client:  # results survive restarts
        result = client.get(f"/api/dreams/{interrupted}/result")
        assert result.status_code == 200 and json.loads(Image.open(io.BytesIO(result.content)).info["inceptionism"])


def test_finished_dreams_are_removed_after_their_time(tmp_path: Path) -> None:
    with studio_client(tmp_path / "data", workers=1, result_ttl_s=0.5, cleanup_every_s=0.2) as client:
        job_id = submit(client, size=[64, 64], steps=1, octaves=1).json()["id"]
        assert wait(client, job_id)["status"] == "done"
        deadline = time.monotonic() + 10
        while client.get(f"/api/dreams/{job_id}").status_code != 404:
            assert time.monotonic() < deadline, "the finished dream was never removed"
            time.sleep(0.1)
        assert not (tmp_path / "data" / "jobs" / job_id).exists()


def test_many_dreams_with_busy_workers_are_all_accounted_for(tmp_path: Path, photo: bytes) -> None:
    with studio_client(tmp_path / "data", workers=2, limits=Limits(max_queued=16)) as client:
        ids = [submit(client, photo, **{**TINY, "seed": n}).json()["id"] for n in range(6)]
        refused = submit(client, photo, **{**TINY, "tile_size": 8})  # refused before it reaches a worker
        assert refused.status_code == 422 and refused.json()["field"] == "tile_size"
        # A job the worker refuses: queued by an older server that let tile_size 8 through.
        bad = "x" * 22
        (tmp_path / "data" / "jobs" / bad).mkdir(parents=True)
        client.app.state.store.add(bad, {**TINY, "tile_size": 8}, "noise", max_queued=16)
        client.app.state.pool.wake()
        assert len(set(ids + [bad])) == 7
        jobs = {job_id: wait(client, job_id) for job_id in ids + [bad]}
        assert all(jobs[job_id]["status"] == "done" for job_id in ids)
        assert jobs[bad]["status"] == "failed" and "tile_size 8" in jobs[bad]["error"]
        seeds = {client.get(f"/api/dreams/{job_id}").json()["config"]["seed"] for job_id in ids}
        assert seeds == set(range(6))


@pytest.mark.parametrize("job_id", ["../../etc/passwd", "..%2F..%2Fjobs.sqlite3", "short", "A" * 22 + "/result/x"])
def test_ids_that_are_not_ids_touch_nothing(client: TestClient, job_id: str) -> None:
    for method in ("GET", "DELETE"):
        assert client.request(method, f"/api/dreams/{job_id}").status_code == 404


def test_job_ids_are_long_and_random(tmp_path: Path) -> None:
    with studio_client(tmp_path / "data", workers=0) as client:
        ids = [submit(client, size=[64, 64], steps=1).json()["id"] for _ in range(5)]
    assert len(set(ids)) == 5 and all(len(i) == 22 for i in ids)  # 128 random bits each


def test_models_layers_and_channel_pictures(tmp_path: Path) -> None:
    with studio_client(tmp_path / "data", workers=0, thumbnail=FeatureVisConfig(size=48, steps=4, seed=0)) as client:
        _check_models_layers_and_pictures(client)


def _check_models_layers_and_pictures(client: TestClient) -> None:
    models = client.get("/api/models").json()
    default = models[0]
    assert default["name"] == "efficientnet-lite0" and default["default"] and default["available"]
    assert default["preset_layers"]["classic"] == "blocks.4.1.bn1,blocks.5.0.bn1"
    layers = {row["name"]: row for row in client.get("/api/models/efficientnet-lite0/layers").json()["layers"]}
    assert layers["blocks.4.1.bn1"]["channels"] == 672 and layers["blocks.1"]["channels"] == 24
    assert client.get("/api/models/nonesuch/layers").status_code == 404

    picture = client.get("/api/models/efficientnet-lite0/layers/blocks.1/channels/5")
    assert picture.status_code == 200 and Image.open(io.BytesIO(picture.content)).size == (48, 48)
    assert client.get("/api/models/efficientnet-lite0/layers/blocks.1/channels/24").status_code == 404
    assert client.get("/api/models/efficientnet-lite0/layers/no.such/channels/0").status_code == 404


def test_settings_classes_and_the_page(client: TestClient) -> None:
    settings = client.get("/api/settings").json()
    assert settings["limits"]["max_steps"] == 200 and "deep" in settings["presets"]
    assert settings["defaults"]["steps"] == 12
    classes = client.get("/api/classes").json()
    assert len(classes["classes"]) == 1000 and "dog" in classes["groups"]
    assert client.get("/api/classes", params={"model": "nonesuch"}).status_code == 404
    page = client.get("/")
    assert page.status_code == 200 and "<form" in page.text and "/static/studio.js" in page.text
    assert client.get("/static/studio.js").status_code == 200
    assert client.get("/openapi.json").json()["paths"]["/api/dreams"]["post"]


def test_metadata_of_a_downloaded_result_reproduces_the_dream(client: TestClient, photo: bytes, tmp_path: Path) -> None:
    job_id = submit(client, photo, **TINY).json()["id"]
    wait(client, job_id)
    path = tmp_path / "result.png"
    path.write_bytes(client.get(f"/api/dreams/{job_id}/result").content)
    from inceptionism import DreamConfig, dream

    config = DreamConfig.from_dict(read_metadata(path)["config"])
    again = dream(Image.open(io.BytesIO(photo)), config.replace(device="cpu"))
    assert np.array_equal(np.asarray(again), np.asarray(Image.open(path).convert("RGB")))


def test_serve_command_refuses_bad_settings(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from inceptionism.cli import app

    runner = CliRunner()
    bad_port = runner.invoke(app, ["serve", "--port", "70000", "--data-dir", str(tmp_path)])
    assert bad_port.exit_code == 2 and "port = 70000" in bad_port.output
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    bad_dir = runner.invoke(app, ["serve", "--data-dir", str(blocker / "data")])
    assert bad_dir.exit_code == 6 and "data directory" in bad_dir.output
    damaged = tmp_path / "damaged"  # a job store that is not one: a line, not uvicorn's start-up traceback
    damaged.mkdir()
    (damaged / "jobs.sqlite3").write_bytes(b"garbage " * 64)
    bad_store = runner.invoke(app, ["serve", "--data-dir", str(damaged)])
    assert bad_store.exit_code == 6, bad_store.output
    assert bad_store.output.strip() == f"error: cannot open the job store {str(damaged / 'jobs.sqlite3')!r}: file is not a database"


def test_serve_command_serves_until_stopped(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import urllib.request

    from inceptionism.service.background import free_port

    port = free_port()
    command = [sys.executable, "-m", "inceptionism", "serve", "--port", str(port), "--data-dir", str(tmp_path / "d")]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/settings", timeout=2) as response:
                    assert json.load(response)["workers"] == 1
                    break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "the server did not come up"
                time.sleep(0.2)
        assert (tmp_path / "d" / "jobs.sqlite3").is_file()
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0 and f"http://127.0.0.1:{port}/" in output


def test_a_studio_stopped_at_once_ends_cleanly(tmp_path: Path) -> None:
    # The warm-up loads the default network on a thread. A process that ended while that
    # thread was still inside torch aborted (exit status 134, "terminate called without an
    # active exception"); the app's shutdown now waits for it.
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from fastapi.testclient import TestClient\n"
        "from inceptionism.service import ServiceSettings, create_app\n"
        "with TestClient(create_app(ServiceSettings(data_dir=sys.argv[1], workers=0)), base_url='http://127.0.0.1'):\n"
        "    pass\n"
    )
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "data")], capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0 and "terminate called" not in proc.stderr, (proc.returncode, proc.stderr[-500:])


def test_a_worker_outlives_a_job_store_failure(tmp_path: Path, monkeypatch) -> None:
    # A full disk makes SQLite raise inside a worker's loop; the worker thread used to end
    # there, and the studio went on accepting dreams that nothing would ever run.
    import sqlite3

    from inceptionism.service.store import JobStore

    real_claim, failures = JobStore.claim, []

    def claim(self):
        if len(failures) < 2:
            failures.append(1)
            raise sqlite3.OperationalError("database or disk is full")
        return real_claim(self)

    monkeypatch.setattr(JobStore, "claim", claim)
    with studio_client(tmp_path / "data", workers=1) as client:
        job = wait(client, submit(client, **TINY).json()["id"])
    assert len(failures) == 2 and job["status"] == "done", job


@pytest.mark.parametrize("where", ["upload", "store"])
def test_a_full_disk_at_submit_is_507_with_retry_after_and_keeps_nothing(tmp_path: Path, photo: bytes, monkeypatch,
                                                                         where: str) -> None:
    # It was a 500 "internal error (OSError)" with a traceback in the log, and a job folder left.
    import errno
    import sqlite3

    from inceptionism.service.store import JobStore

    if where == "upload":
        def full(self, data):  # noqa: ANN001
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(Path, "write_bytes", full)
    else:
        def full(self, *args, **kwargs):  # noqa: ANN001
            raise sqlite3.OperationalError("database or disk is full")

        monkeypatch.setattr(JobStore, "add", full)
    with studio_client(tmp_path / "data", workers=0) as client:
        answer = submit(client, photo, **TINY)
        assert answer.status_code == 507 and answer.headers["Retry-After"] == "30", answer.text
        assert answer.json() == {"error": "the server has no room to store this dream (its disk is full); try again later",
                                 "field": None}
        monkeypatch.undo()
        assert list((tmp_path / "data" / "jobs").iterdir()) == []
        assert submit(client, photo, **TINY).status_code == 202  # room again: accepted


def test_the_channel_picker_shows_dataset_examples_from_the_studios_photo_folder(tmp_path: Path, examples) -> None:
    tiny = FeatureVisConfig(size=32, steps=2, seed=0)
    url = "/api/models/efficientnet-lite0/layers/blocks.4.1.bn1/channels/7/examples"
    with studio_client(tmp_path / "plain", workers=0, thumbnail=tiny) as client:
        missing = client.get(url)
        assert missing.status_code == 404 and "--examples" in missing.json()["error"]
    with studio_client(tmp_path / "data", workers=0, thumbnail=tiny, examples=examples) as client:
        shown = client.get(url)
        assert shown.status_code == 200 and shown.headers["content-type"] == "image/jpeg"
        assert Image.open(io.BytesIO(shown.content)).size == (288, 96)
        other = client.get(url.replace("/7/", "/8/"))  # the whole layer was scanned at once: from the cache
        assert other.status_code == 200
        assert client.get(url.replace("/7/", "/9999/")).status_code == 404
        assert client.get(url.replace("blocks.4.1.bn1", "nope")).status_code == 404


def test_the_channel_picker_draws_several_different_pictures_of_a_channel_on_request(tmp_path: Path) -> None:
    url = "/api/models/efficientnet-lite0/layers/blocks.4.1.bn1/channels/7/variants"
    with studio_client(tmp_path / "data", workers=0, thumbnail=FeatureVisConfig(size=40, steps=12, seed=0)) as client:
        shown = client.get(url)
        assert shown.status_code == 200 and shown.headers["content-type"] == "image/png"
        strip = np.asarray(Image.open(io.BytesIO(shown.content)).convert("RGB"), np.float32)
        assert strip.shape == (40, 160, 3)  # four pictures of 40 px side by side
        pictures = [strip[:, 40 * k : 40 * (k + 1)] for k in range(4)]
        apart = min(np.abs(a - b).mean() for i, a in enumerate(pictures) for b in pictures[i + 1 :])
        assert apart > 8, apart  # different pictures, not one picture four times
        again = client.get(url)  # from the cache: the same strip
        assert again.status_code == 200 and again.content == shown.content
        assert client.get(url.replace("/7/", "/9999/")).status_code == 404
        assert client.get(url.replace("blocks.4.1.bn1", "nope")).status_code == 404


def test_a_store_that_fails_mid_dream_does_not_leave_the_job_running(tmp_path, small_photo, monkeypatch):
    """The disk fills: progress and the end cannot be written. The dream goes on, its end is
    recorded once the store works again, its event stream ends, and no request gets a 5xx."""
    import sqlite3

    from inceptionism.service.store import FINISHED, JobStore

    full = {"on": False}
    end_refused = threading.Event()  # the worker tried to record the dream's end, and the store said no
    real_update, real_cancel = JobStore.update, JobStore.request_cancel

    def update(self, job_id, **values):
        if full["on"]:
            if values.get("status") in FINISHED:
                end_refused.set()
            raise sqlite3.OperationalError("database or disk is full")
        return real_update(self, job_id, **values)

    def request_cancel(self, job_id):
        if full["on"]:
            raise sqlite3.OperationalError("database or disk is full")
        return real_cancel(self, job_id)

    monkeypatch.setattr(JobStore, "update", update)
    monkeypatch.setattr(JobStore, "request_cancel", request_cancel)
    with studio_client(tmp_path / "data", workers=1) as client:
        job_id = submit(client, small_photo.read_bytes(), **{**TINY, "steps": 6}).json()["id"]
        deadline = time.monotonic() + 60
        while client.get(f"/api/dreams/{job_id}").json()["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        full["on"] = True
        refused = client.delete(f"/api/dreams/{job_id}")
        assert refused.status_code == 507 and refused.headers["retry-after"], refused.text
        assert end_refused.wait(120), "the dream's end was never tried"  # it ends; its end cannot be recorded
        assert client.get(f"/api/dreams/{job_id}").json()["status"] == "running"
        full["on"] = False  # space again
        job = wait(client, job_id)
        assert job["status"] == "done", job
        events = client.get(f"/api/dreams/{job_id}/events").text
        assert "event: done" in events  # the stream ends


def test_the_channel_picker_grows_pictures_with_visualize_s_parameters(tmp_path: Path) -> None:
    """POST .../pictures: the terms of the one objective language, grown with the parameters the
    studio's generated form offers (visualize's declarations), side by side with their recipe;
    a bad request is one 4xx line naming the field, never a 5xx."""
    base = "/api/models/efficientnet-lite0/layers"
    with studio_client(tmp_path / "data", workers=0) as client:
        offered = [row["name"] for row in client.get("/api/settings").json()["picture_parameters"]]
        assert {"param", "size", "steps", "transforms", "diversity", "seed"} <= set(offered)
        assert not {"photo", "judge", "importance", "batch"} & set(offered)  # files and server matters stay out
        body = {"targets": "7,3+7", "params": {"param": "fft", "size": 40, "steps": 4, "seed": 1}}
        shown = client.post(f"{base}/blocks.4.1.bn1/pictures", json=body)
        assert shown.status_code == 200 and shown.headers["content-type"] == "image/png", shown.text
        row = Image.open(io.BytesIO(shown.content))
        assert row.size == (80, 40)  # two pictures of 40 px side by side
        said = read_metadata(io.BytesIO(shown.content))
        assert [p["term"] for p in said["pictures"]] == ["blocks.4.1.bn1:7", "blocks.4.1.bn1:3+7"]
        assert said["visualize_params"]["seed"] == 1 and said["visualize_params"]["size"] == 40
        classes = client.post(f"{base}/class/pictures", json={"targets": "goldfinch", "params": {
            "param": "fft", "size": 32, "steps": 2}})
        assert classes.status_code == 200, classes.text
        for path, given, status, field in [
            ("blocks.4.1.bn1", {"targets": "7", "params": {"photo": "/etc/passwd"}}, 422, "photo"),
            ("blocks.4.1.bn1", {"targets": "7", "params": {"size": 2048}}, 422, "size"),
            ("blocks.4.1.bn1", {"targets": "7", "params": {"param": "fft", "diversity": 4, "size": 64}}, 200, None),
            ("blocks.4.1.bn1", {"targets": "1,2,3", "params": {"diversity": 4}}, 422, "targets"),
            ("blocks.4.1.bn1", {"targets": "all"}, 422, "targets"),
            ("blocks.4.1.bn1", {"targets": "99999", "params": {"param": "fft", "size": 32, "steps": 1}}, 422, "targets"),
            ("nope", {"targets": "7", "params": {"param": "fft", "size": 32, "steps": 1}}, 422, "layer"),
            ("blocks.4.1.bn1", {"targets": 7}, 422, "targets"),
            ("blocks.4.1.bn1", {"targets": "7", "params": {"steps": "many"}}, 422, "steps"),
            ("blocks.4.1.bn1", {"targets": "1,2,3,4", "params": {"param": "fft", "size": 256, "steps": 128,
                                                                 "transforms": "crops:16x0.5"}}, 422, "transforms"),
            ("blocks.4.1.bn1", {"targets": "1,2,3,4,5,6,7,8", "params": {"param": "fft", "size": 256, "steps": 512,
                                                                         "transforms": "none"}}, 422, "steps"),
            ("blocks.4.1.bn1", {"targets": "1", "params": {"param": "fft", "transforms": "pad:600"}}, 422, "transforms"),
            # one step, but 16 crops of 1536 px in one pass: the memory of a pass is bounded too
            ("blocks.4.1.bn1", {"targets": "3", "params": {"param": "fft", "size": 512, "steps": 1,
                                                           "transforms": "pad:512,crops:16x0.5"}}, 422, "transforms"),
            # pixel ascent grows one picture at a time: 4,096 passes of 32 px cost their passes' fixed price
            ("blocks.4.1.bn1", {"targets": "1,2,3,4,5,6,7,8", "params": {"size": 32, "octaves": 1, "steps": 512}},
             422, "steps"),
            ("blocks.4.1.bn1", {"targets": "7", "params": {"param": "fft", "size": 16, "steps": 1}}, 422, "size"),
        ]:
            answer = client.post(f"{base}/{path}/pictures", json=given)
            assert answer.status_code == status, (given, answer.text)
            if status != 200:
                assert answer.json()["field"] == field, (given, answer.json())
        assert client.post(f"{base}/blocks.4.1.bn1/pictures", content=b"{not json").status_code == 422
        assert client.post(f"{base}/blocks.4.1.bn1/pictures", content=b"x" * 20_000).status_code == 413
        assert client.post("/api/models/no-such-net/layers/x/pictures", json={"targets": "1"}).status_code == 404
