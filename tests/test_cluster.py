"""--cluster: batch, video, gallery and the studio on a real Ray cluster of several nodes,
all on 127.0.0.1 (ray.cluster_utils.Cluster), against the local paths' outputs."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
import socket
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from inceptionism.api import resolve_config
from inceptionism.cli import app
from inceptionism.images import read_metadata
from inceptionism.motion import dream_folder, dream_video
from inceptionism.motion.videoio import probe, read_frames, write_video
from inceptionism.command_config import VideoConfig
from inceptionism.declare import param

from inceptionism.cluster import ClusterError, dreamers
from inceptionism.cluster.runner import RayRunner
from inceptionism.cluster.video import compose, dream_video_on
from inceptionism.cluster.video import plan_segments

from .support import EXAMPLES, in_ci, one_line

FAST = ["--preset", "classic", "--octaves", "2", "--steps", "3", "--seed", "5"]


@pytest.fixture(scope="module")
def ray():
    """Ray, with every node on 127.0.0.1 while this module's clusters run (Ray reads its switch
    as it starts nodes); under CI a missing Ray fails instead of skipping (the set-up installs it)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        if in_ci():
            import ray as module
        else:
            module = pytest.importorskip("ray")
        yield module


@pytest.fixture(scope="module")
def cluster(ray):
    """A head and one more node, one CPU each; tests that remove nodes add their own."""
    from ray.cluster_utils import Cluster as LocalCluster

    started = time.perf_counter()
    local = LocalCluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    local.add_node(num_cpus=1)
    ray.init(address=local.address, logging_level="ERROR", log_to_driver=False)
    local.wait_for_nodes()
    assert all(node["NodeManagerAddress"] == "127.0.0.1" for node in ray.nodes())
    print(f"cluster of 2 nodes up in {time.perf_counter() - started:.1f} s")
    yield local
    ray.shutdown()
    local.shutdown()


@pytest.fixture()
def photos(tmp_path, examples):
    folder = tmp_path / "in"
    folder.mkdir()
    for i, name in enumerate(["chelsea", "coffee", "astronaut", "rocket", "chelsea", "coffee"]):
        im = Image.open(examples / f"{name}.jpg").convert("RGB").resize((112 + 8 * i, 80))
        im.save(folder / f"p{i}.png")
    (folder / "broken.jpg").write_text("not a picture")
    return folder


def _pixels(path):
    return np.asarray(Image.open(path).convert("RGB"))


def test_batch_on_two_nodes_equals_the_local_run(cluster, photos, tmp_path):
    remote, here = tmp_path / "remote", tmp_path / "here"
    result = CliRunner().invoke(app, ["batch", str(photos), "-o", str(remote), "--cluster", cluster.address, *FAST])
    assert result.exit_code == 3, result.output  # the broken file is reported, not fatal
    assert "done 6, skipped 0 (already there), failed 1" in result.output and "broken.jpg" in result.output
    per_node = result.output.split("per node: ")[1].splitlines()[0]
    counts = [int(part.rsplit(" ", 1)[1]) for part in per_node.split(", ")]
    assert len(counts) == 2 and all(n > 0 for n in counts) and sum(counts) == 6, result.output  # both nodes worked
    threads = {read_metadata(p)["config"]["threads"] for p in remote.glob("*.png")}
    assert threads == {1}  # one CPU per node: one thread per worker, recorded
    local = CliRunner().invoke(app, ["batch", str(photos), "-o", str(here), "--threads", "1", *FAST])
    assert local.exit_code == 3, local.output
    for path in sorted(here.glob("*.png")):
        assert np.array_equal(_pixels(path), _pixels(remote / path.name)), path.name
        ours, theirs = read_metadata(path), read_metadata(remote / path.name)
        assert ours["config"] == theirs["config"] and ours["input"] == theirs["input"]
    again = CliRunner().invoke(app, ["batch", str(photos), "-o", str(remote), "--cluster", cluster.address, *FAST])
    assert "done 0, skipped 6" in again.output  # resumes as the local batch does


def test_the_drivers_precision_reaches_every_worker(cluster, photos, tmp_path, monkeypatch):
    """``auto`` is resolved once, by the driver, and shipped: here the driver sees Lite0 as a
    network measured faster in bf16 on this machine's class, while the workers' own spec says
    fp32; every worker dreams in bf16, pixel for pixel as a local bf16 batch."""
    import dataclasses

    import inceptionism.api
    from inceptionism import precision

    two = tmp_path / "two"
    two.mkdir()
    for name in ("p0.png", "p1.png"):
        (two / name).write_bytes((photos / name).read_bytes())
    real, every = inceptionism.api.spec_for, frozenset(precision.CLASSES)
    monkeypatch.setattr(inceptionism.api, "spec_for", lambda *a: dataclasses.replace(real(*a), bf16_faster=every))
    remote, here = tmp_path / "remote", tmp_path / "here"
    done = CliRunner().invoke(app, ["batch", str(two), "-o", str(remote), "--cluster", cluster.address, *FAST])
    assert done.exit_code == 0, done.output
    local = CliRunner().invoke(app, ["batch", str(two), "-o", str(here), "--threads", "1", "--precision", "bf16", *FAST])
    assert local.exit_code == 0, local.output
    for path in sorted(here.glob("*.png")):
        assert read_metadata(remote / path.name)["config"]["precision"] == "bf16"
        assert np.array_equal(_pixels(path), _pixels(remote / path.name)), path.name


def test_random_weights_travel_as_a_word_not_a_file(cluster, photos, tmp_path):
    """``--weights random`` names no file: it was read as one to ship ('random': no such file, a traceback)."""
    one = tmp_path / "one"
    one.mkdir()
    (one / "p0.png").write_bytes((photos / "p0.png").read_bytes())
    args = ["--weights", "random", *FAST]
    done = CliRunner().invoke(app, ["batch", str(one), "-o", str(tmp_path / "remote"), "--cluster", cluster.address, *args])
    assert done.exit_code == 0, done.output
    local = CliRunner().invoke(app, ["batch", str(one), "-o", str(tmp_path / "here"), "--threads", "1", *args])
    assert local.exit_code == 0, local.output
    assert read_metadata(tmp_path / "remote" / "p0.png")["weights_sha256"] == "random"
    assert np.array_equal(_pixels(tmp_path / "here" / "p0.png"), _pixels(tmp_path / "remote" / "p0.png"))


def test_a_bad_layer_on_the_cluster_is_the_local_one_line_error(cluster, photos, tmp_path, monkeypatch):
    """The workers check the configuration (the driver loads no network): same error, same exit code."""
    import inceptionism.api

    monkeypatch.setattr(inceptionism.api, "load_model_for", lambda cfg: pytest.fail("the driver loaded a network"))
    result = CliRunner().invoke(app, ["batch", str(photos), "-o", str(tmp_path / "o"), "--cluster", cluster.address,
                                      "--layers", "blocks.99", *FAST])
    one_line(result, 4, "blocks.99")
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_batch_survives_a_node_removed_midway(cluster, photos, tmp_path):
    extra = cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    cfg = resolve_config(None, preset="classic", octaves=2, steps=3, seed=2)
    removed = []

    def on_file(index, total, path, status):
        if status == "done" and not removed:  # the third worker is dreaming a file now
            cluster.remove_node(extra)
            removed.append(index)

    with dreamers(cluster.address) as pool:
        assert pool.size == 3
        summary = dream_folder(photos, tmp_path / "out", cfg, runner=RayRunner(pool), on_file=on_file)
    assert removed and len(summary.done) == 6 and [p.name for p, _ in summary.failed] == ["broken.jpg"]
    for path in (tmp_path / "out").glob("*.png"):
        assert _pixels(path).shape[0] == 80 and read_metadata(path)["score_end"] > read_metadata(path)["score_start"]
    assert not list((tmp_path / "out").glob(".*.tmp"))  # nothing half-written
    assert sum(summary.per_worker.values()) == 6


@pytest.fixture(scope="module")
def panning_clip_with_sound(tmp_path_factory):
    """30 frames, 128x80, 10 fps: the coffee photo sliding left 2 px a frame, with a tone."""
    import imageio_ffmpeg

    big = np.asarray(Image.open(EXAMPLES / "coffee.jpg").convert("RGB").resize((240, 120)))
    frames = [np.ascontiguousarray(big[20:100, 2 * t : 2 * t + 128]) for t in range(30)]
    folder = tmp_path_factory.mktemp("clip")
    silent, path = folder / "silent.mp4", folder / "pan.mp4"
    write_video(silent, iter(frames), 10.0)
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", "-i", str(silent), "-f", "lavfi",
                    "-i", "sine=frequency=440:sample_rate=16000", "-t", "3", "-c:v", "copy", "-c:a", "aac",
                    "-shortest", str(path)], check=True, timeout=300)  # fmt: skip
    return path


def _flicker(frames: list[np.ndarray]) -> list[float]:
    """Mean |difference| of consecutive frames after undoing the source's motion (2 px left)."""
    f = [frame.astype(np.float32) for frame in frames]
    return [float(np.abs(b[:, :-2] - a[:, 2:]).mean()) for a, b in zip(f, f[1:])]


def test_video_in_segments_keeps_frames_sound_and_joins_smooth(cluster, panning_clip_with_sound, tmp_path):
    cfg = resolve_config(None, preset="classic", octaves=2, steps=4, seed=7)
    out = tmp_path / "dreamed.mp4"
    with dreamers(cluster.address) as pool:
        result = dream_video_on(pool, panning_clip_with_sound, out, cfg, segment_frames=10, segment_overlap=4,
                                keep_frames=True)
    source, made = probe(panning_clip_with_sound), probe(out)
    assert result.frames == len(list(read_frames(out))) == len(list(read_frames(panning_clip_with_sound))) == 30
    assert made.fps == source.fps and made.has_audio and abs(made.duration - source.duration) <= 0.1
    segments = plan_segments(30, 10, 4)
    assert len(segments) == 3
    frames = list(compose(tmp_path / ".dreamed.mp4.frames", segments, 30))
    flicker = _flicker(frames)  # flicker[i] is between frames i and i + 1
    joins = [i for i in range(29) if any(s.first <= i + 1 <= s.keep for s in segments[1:])]
    within = [i for i in range(1, 29) if i not in joins]
    at_joins, inside = float(np.mean([flicker[i] for i in joins])), float(np.mean([flicker[i] for i in within]))
    print(f"flicker: at segment joins {at_joins:.2f}, within segments {inside:.2f} (ratio {at_joins / inside:.2f})")
    assert at_joins <= 1.5 * inside


def test_video_resumes_after_the_driver_stops_and_after_a_worker_dies(cluster, ray, panning_clip_with_sound, tmp_path):
    cfg = resolve_config(None, preset="classic", octaves=2, steps=3, seed=9)
    out = tmp_path / "v.mp4"
    with dreamers(cluster.address) as pool:

        def stop_after_four(done, total, resumed):
            if done == 4:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            dream_video_on(pool, panning_clip_with_sound, out, cfg, segment_frames=10, segment_overlap=3,
                           on_frame=stop_after_four)
        work = tmp_path / ".v.mp4.frames"
        finished = {p: p.stat().st_mtime_ns for p in work.rglob("*.png") if int(p.stem) >= int(p.parent.name[4:]) * 10}
        kept_frames = len(finished)  # each segment's frames from its own first one (its lead-in overlaps are not kept)
        assert kept_frames >= 4 and not out.exists()

        killed = []

        def kill_one(done, total, resumed):
            if not resumed and not killed and pool.busy():
                ray.kill(pool.busy()[0])  # a worker process dies mid-segment
                killed.append(done)

        result = dream_video_on(pool, panning_clip_with_sound, out, cfg, segment_frames=10, segment_overlap=3,
                                on_frame=kill_one, keep_frames=True)  # the folder stays, to be looked at
    assert killed and result.frames == 30
    assert result.dreamed == 30 - kept_frames  # nothing finished was dreamed again
    assert {p: p.stat().st_mtime_ns for p in finished} == finished  # nor written again
    assert len(list(read_frames(out))) == 30


@dataclasses.dataclass(frozen=True)
class RampedVideo(VideoConfig):
    """A video parameter added by a subclass alone: the dream grows over the first ``ramp``
    frames (their steps scaled by (t + 1) / ramp). Each frame's settings are written to
    ``trace`` by the per-frame function, wherever it runs."""

    ramp: int = param(1, "frames over which the dream grows to its full steps", low=1, high=1000)
    trace: str = param("", "a folder for each frame's settings")

    def frame_config(self, cfg, t, carried):
        frame = super().frame_config(cfg, t, carried)
        frame = frame.replace(steps=max(1, round(frame.steps * min(1.0, (t + 1) / self.ramp))))
        Path(self.trace, f"{t}.{os.getpid()}.json").write_text(json.dumps({"steps": frame.steps, "carried": carried}))
        return frame


def _traced(folder):
    seen = [(int(p.name.split(".")[0]), int(p.name.split(".")[1]), json.loads(p.read_text())) for p in folder.iterdir()]
    return sorted(seen, key=lambda s: s[0])


def test_a_video_parameter_of_a_subclass_reaches_the_frames_here_and_on_the_cluster(cluster, ray, model,
                                                                                   panning_clip_with_sound, tmp_path):
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this test file
    cfg = resolve_config(None, preset="classic", octaves=2, steps=8, seed=3)
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir(), there.mkdir()
    dream_video(panning_clip_with_sound, tmp_path / "here.mp4", cfg, RampedVideo(ramp=4, trace=str(here), end=0.6),
                model=model)
    with dreamers(cluster.address) as pool:
        dream_video_on(pool, panning_clip_with_sound, tmp_path / "there.mp4", cfg,
                       RampedVideo(ramp=4, trace=str(there), end=1.2), segment_frames=6, segment_overlap=2)
    local = _traced(here)
    assert [t for t, _, _ in local] == list(range(6)) and {pid for _, pid, _ in local} == {os.getpid()}
    # frame 0 dreamed whole: 8 * 1/4 steps; carried frames: half of 8, ramped, then the full 4
    assert [s["steps"] for _, _, s in local] == [2, 2, 3, 4, 4, 4]
    remote = _traced(there)
    assert os.getpid() not in {pid for _, pid, _ in remote}  # every frame was dreamed by a worker
    assert {t for t, _, _ in remote} == set(range(12))
    by_frame = {t: s["steps"] for t, _, s in remote if s["carried"]}
    assert by_frame[1] == 2 and by_frame[2] == 3 and all(by_frame[t] == 4 for t in by_frame if t >= 3)


def test_gallery_on_the_cluster_equals_the_local_one(cluster, tmp_path, monkeypatch):
    import torch

    monkeypatch.setenv("INCEPTIONISM_HOME", str(tmp_path / "cache-remote"))
    args = ["gallery", "blocks.1.0.conv_pwl", "--size", "32", "--steps", "4", "--batch", "8", "--seed", "3"]
    remote = CliRunner().invoke(app, [*args, "-o", str(tmp_path / "remote"), "--cluster", cluster.address])
    assert remote.exit_code == 0, remote.output
    monkeypatch.setenv("INCEPTIONISM_HOME", str(tmp_path / "cache-here"))
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # the workers' count
    try:
        here = CliRunner().invoke(app, [*args, "-o", str(tmp_path / "here")])
    finally:
        torch.set_num_threads(before)
    assert here.exit_code == 0, here.output
    pictures = sorted((tmp_path / "here").glob("ch-*.png"))
    assert len(pictures) == 24
    for path in pictures:
        assert np.array_equal(_pixels(path), _pixels(tmp_path / "remote" / path.name)), path.name


def test_studio_on_the_cluster_finishes_every_job_when_a_node_is_lost(cluster, tmp_path):
    from fastapi.testclient import TestClient

    from inceptionism.service import ServiceSettings, create_app

    extra = cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    settings = ServiceSettings(data_dir=tmp_path / "data", workers=3, device="cpu", cluster=cluster.address)
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        assert client.get("/api/settings").json()["cluster"] is True
        ids = []
        for i in range(10):
            params = {"size": "64x64", "octaves": 1, "steps": 6, "preset": "classic", "seed": i}
            answer = client.post("/api/dreams", data={"params": json.dumps(params), "noise": "true"})
            assert answer.status_code == 202, answer.text
            ids.append(answer.json()["id"])
        deadline, removed = time.monotonic() + 240, False
        while time.monotonic() < deadline:
            states = [client.get(f"/api/dreams/{i}").json()["status"] for i in ids]
            if not removed and states.count("done") >= 3:
                cluster.remove_node(extra)
                removed = True
            if all(s in ("done", "failed", "cancelled") for s in states):
                break
            time.sleep(0.5)
        assert removed and states == ["done"] * 10, states
        for i in ids:
            assert client.get(f"/api/dreams/{i}/result").headers["content-type"] == "image/png"


def test_without_ray_the_cluster_option_says_how_to_install_it(monkeypatch, photos, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails as when it is not installed
    result = CliRunner().invoke(app, ["batch", str(photos), "-o", str(tmp_path / "o"), "--cluster", "local", *FAST])
    assert result.exit_code != 0
    assert 'needs Ray, which is not installed; install it with: pip install "inceptionism[cluster]"' in result.output


def test_a_bad_cluster_address_is_refused_before_anything_runs(photos, tmp_path):
    result = CliRunner().invoke(app, ["batch", str(photos), "-o", str(tmp_path / "o"), "--cluster", "nowhere"])
    assert result.exit_code == 2 and "cluster 'nowhere' is not local, auto, HOST:PORT or ray://HOST:PORT" in result.output
    assert not (tmp_path / "o").exists()


def test_without_cluster_ray_is_never_imported(photos, tmp_path):
    code = ("import sys; from typer.testing import CliRunner; from inceptionism.cli import app; "
            f"r = CliRunner().invoke(app, ['batch', {str(photos)!r}, '-o', {str(tmp_path / 'o')!r}, '--steps', '1', "
            "'--octaves', '1']); print(r.output); assert 'ray' not in sys.modules, 'ray imported'")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_pool_reports_a_lost_cluster(cluster, ray):
    with dreamers(cluster.address) as pool:
        pool.call(lambda actor: ray.get(actor.ready.remote()))  # started
        for worker in list(pool._live):
            ray.kill(worker.actor)
        for worker in list(pool._live):  # ray.kill returns before the process is gone: wait until it answers no more
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    ray.get(worker.actor.ready.remote(), timeout=5)
                except ray.exceptions.RayActorError:
                    break
                except ray.exceptions.GetTimeoutError:
                    continue
            else:
                pytest.fail("a killed actor still answered after 60 s")
        pool.retries = 0
        with pytest.raises(ClusterError, match="lost"):
            pool.call(lambda actor: ray.get(actor.ready.remote()), what="a probe")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("scheme", ["", "ray://"])
def test_an_address_where_nothing_listens_is_one_line_in_seconds_without_rays_chatter(photos, tmp_path, scheme):
    address = f"{scheme}127.0.0.1:{_free_port()}"  # a typo in the port: nothing listens there
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "inceptionism", "batch", str(photos), "-o", str(tmp_path / "o"),
                           "--cluster", address, "-q"], capture_output=True, text=True, timeout=120)
    took = time.monotonic() - started
    assert done.returncode == 1 and took < 15, (took, done.stderr)
    assert done.stderr.strip().splitlines() == [f"error: nothing answers at {address!r} (Connection refused); check "
                                                 "the address, and that a Ray head node runs there (ray start --head "
                                                 "--port PORT)"], done.stderr
    assert not (tmp_path / "o").exists()


def test_an_address_where_something_else_listens_is_told_apart(photos, tmp_path):
    server = socket.create_server(("127.0.0.1", 0))
    address = f"127.0.0.1:{server.getsockname()[1]}"

    def answer_once() -> None:  # a web server, say: no gRPC
        with server, server.accept()[0] as conn:
            conn.recv(64)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=answer_once, daemon=True)
    thread.start()
    done = subprocess.run([sys.executable, "-m", "inceptionism", "batch", str(photos), "-o", str(tmp_path / "o"),
                           "--cluster", address, "-q"], capture_output=True, text=True, timeout=60)  # Ray waited for ever
    assert done.returncode == 1 and done.stderr.strip().splitlines() == [
        f"error: {address!r} answers, but not as a Ray cluster does (no gRPC); check the port"], done.stderr
    thread.join(30)
    assert not thread.is_alive()


def test_a_ray_head_passes_the_check(cluster):
    from inceptionism.cluster.pool import check_reachable

    check_reachable(cluster.address)  # the real GCS answers the HTTP/2 preface with its settings
