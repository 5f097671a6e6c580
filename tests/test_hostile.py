"""Every probe of the hostile-input review, as a test: the studio's request checks, access
control, 5xx from request bodies, uploads' memory, and the CLI's inputs and outputs.

Traffic goes only to in-process apps or to servers on 127.0.0.1.
"""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from typer.testing import CliRunner

from inceptionism.api import resolve_config
from inceptionism.cli import app
from inceptionism.config import dream_params
from inceptionism.motion import dream_folder, dream_video
from inceptionism.motion.videoio import read_frames, write_video
from inceptionism.service import Limits, ServiceSettings, create_app
from inceptionism.service.workers import job_files

FAST = {"preset": "classic", "octaves": 2, "steps": 2, "max_size": 64}


def make_client(data_dir: Path, **settings_) -> TestClient:
    settings_.setdefault("workers", 0)  # requests are what is tested: accepted dreams stay queued
    return TestClient(create_app(ServiceSettings(data_dir=data_dir, **settings_)), base_url="http://127.0.0.1")


@pytest.fixture()
def client(tmp_path: Path):
    with make_client(tmp_path / "data") as c:
        yield c


def png(width: int, height: int, colour=(128, 128, 128)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


def post(client: TestClient, params: object = None, image: bytes | None = None, **form):
    data = {"params": params if isinstance(params, str) else json.dumps(params or {}), **form}
    files = {"image": ("in.png", image, "image/png")} if image is not None else None
    return client.post("/api/dreams", data=data, files=files)


# --- requests carry parameters, never paths ---------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"config": {"steps": 2, "octaves": 2, "seed": 1, "mask": "/some/server/file.png"}}, "config"),
        ({"mask": "/etc/hostname"}, "mask"),
        ({"guide": ["../other-job/image.png"]}, "guide"),
        ({"weights": "/etc/hostname"}, "weights"),
        ({"device": "cuda:7"}, "device"),
        ({"max_size": 96, "tile_size": {"nested": 1}}, "tile_size"),
        ({"layers": ["blocks.3", {"x": 1}]}, "layers"),
        ({"no_such_key": 1}, "no_such_key"),
    ],
)
def test_server_paths_nesting_and_unknown_keys_are_refused(client, params, field):
    response = post(client, params, png(64, 64))
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


def test_no_oracle_for_which_server_files_exist(client):
    here, missing = (post(client, {"mask": path}, png(64, 64)) for path in ("/etc/hostname", "/no/such/file.png"))
    assert here.status_code == missing.status_code == 422
    assert here.json() == missing.json()  # the same words whether the file exists or not


def test_the_servers_limits_apply_after_layering(client):
    job_id = post(client, {"steps": 2}, png(3000, 2000)).json()["id"]
    assert client.get(f"/api/dreams/{job_id}").json()["params"]["max_size"] == 2048  # scaled to the server's limit


# --- no 5xx from any request body -------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        '{"octave_range": "10000:10000"}',
        '{"steps": ' + "9" * 5000 + "}",
        '{"steps": ' + "[" * 3000 + "]" * 3000 + "}",
        "[" * 3000 + "]" * 3000,
        '{"step_size": NaN}',
        '{"octave_scale": Infinity}',
        '{"seed": -1}',
        '{"size": [1e308, 2]}',
    ],
)
def test_hostile_bodies_get_4xx(client, params):
    response = post(client, params, png(64, 64))
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"]


def test_a_dream_needs_exactly_one_photo_or_noise(client):
    assert post(client, {}).status_code == 422  # no image part, no noise=true
    assert client.post("/api/dreams", json={"steps": 2}).status_code == 422  # a JSON body
    two = [("image", ("a.png", png(64, 64), "image/png")), ("image", ("b.png", png(32, 32), "image/png"))]
    response = client.post("/api/dreams", data={"params": "{}"}, files=two)
    assert response.status_code == 422 and response.json()["field"] == "image"
    assert post(client, {"size": [64, 64]}, noise="true").status_code == 202
    assert post(client, {}, png(64, 64), noise="true").status_code == 422


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**30), 10**30) | st.floats(allow_nan=True) | st.text(max_size=20)
    | st.sampled_from(["/etc/passwd", "../../jobs/x/image.png", "/dev/zero", "file:///etc/hostname"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
KEYS = st.sampled_from([p.name for p in dream_params()] + ["class", "config", "params", "__proto__", ""]) | st.text(max_size=12)


@pytest.fixture(scope="module")
def fuzz_client(tmp_path_factory):
    data = tmp_path_factory.mktemp("fuzz")
    with make_client(data, limits=Limits(max_queued=10_000)) as c:
        yield c, data


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.dictionaries(KEYS, JSON, max_size=6))
def test_fuzzed_params_never_5xx_and_never_name_a_file_outside_the_job(fuzz_client, params):
    client, data = fuzz_client
    try:
        text = json.dumps(params)
    except ValueError:
        return
    response = post(client, text, png(48, 48))
    assert response.status_code < 500, response.text
    if response.status_code == 202:  # what a worker would dream with: no file but the job's own
        job_id = response.json()["id"]
        job = client.app.state.store.get(job_id)
        cfg = client.app.state.pool._config(job, job_files(data / "jobs", job_id))
        for path in (*cfg.guide, *([cfg.mask] if cfg.mask else []), *([cfg.weights] if cfg.weights else [])):
            assert Path(path).resolve().is_relative_to((data / "jobs" / job_id).resolve()), path


# --- access control and headers --------------------------------------------------------------


def test_loopback_studio_refuses_other_hosts_and_other_origins(client):
    assert client.get("/api/settings", headers={"host": "attacker.example"}).status_code == 400  # DNS rebinding
    cross = client.post("/api/dreams", content=b"{}", headers={"origin": "http://attacker.example", "content-type": "text/plain"})
    assert cross.status_code == 403
    sandboxed = client.post("/api/dreams", content=b"{}", headers={"origin": "null", "content-type": "text/plain"})
    assert sandboxed.status_code == 403 and sandboxed.headers["x-content-type-options"] == "nosniff"
    same = post(client, {}, png(64, 64))
    assert same.status_code == 202


def test_every_answer_carries_the_security_headers(client):
    for path in ("/", "/api/settings", "/api/dreams/nonesuch", "/static/studio.js"):
        headers = client.get(path).headers
        assert headers["x-content-type-options"] == "nosniff", path
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
        assert headers["referrer-policy"] == "no-referrer" and headers["x-frame-options"] == "DENY"
    assert client.get("/docs").status_code == 404  # Swagger UI would load scripts from a CDN
    assert client.get("/openapi.json").status_code == 200


def test_a_studio_beyond_loopback_needs_its_token(tmp_path):
    from inceptionism.options import ServeConfig
    from inceptionism.service import settings_from

    settings_ = settings_from(ServeConfig(host="0.0.0.0", workers=0), tmp_path, "s3cret-token")
    with TestClient(create_app(settings_), base_url="http://192.0.2.1:8000") as c:
        assert c.get("/api/settings").status_code == 401
        assert c.get("/api/settings", headers={"authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/api/settings", headers={"authorization": "Bearer s3cret-token"}).status_code == 200
        page = c.get("/?token=s3cret-token")  # the page: opened once with the token, then a cookie carries it
        assert page.status_code == 200 and "HttpOnly" in page.headers["set-cookie"]
        assert c.get("/api/settings").status_code == 200  # the cookie, as the page's own requests send it


def test_serve_beyond_loopback_warns_and_prints_a_token(tmp_path):
    from inceptionism.service.background import free_port

    port = free_port()
    command = [sys.executable, "-m", "inceptionism", "serve", "--host", "0.0.0.0", "--port", str(port),
               "--workers", "1", "--data-dir", str(tmp_path)]  # fmt: skip
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        lines = [process.stderr.readline() for _ in range(2)]  # the address, then the warning
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
    assert "?token=" in lines[0] and "warning" in lines[1], lines


def test_ctrl_c_stops_a_studio_started_with_sigint_ignored(tmp_path):
    from inceptionism.service.background import free_port

    command = [sys.executable, "-m", "inceptionism", "serve", "--port", str(free_port()), "--workers", "1",
               "--data-dir", str(tmp_path)]  # fmt: skip
    ignoring = lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)  # noqa: E731  (a shell's background job)
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                               preexec_fn=ignoring)
    try:
        assert "studio on" in process.stderr.readline()
        process.send_signal(signal.SIGINT)  # at once: before the server has taken the signal over
        process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode is not None


def test_a_full_queue_says_when_to_retry(tmp_path):
    with make_client(tmp_path / "data", limits=Limits(max_queued=1)) as c:
        assert post(c, {}, png(64, 64)).status_code == 202
        full = post(c, {}, png(64, 64))
        assert full.status_code == 429 and int(full.headers["retry-after"]) > 0


# --- uploads: memory, and what results show -------------------------------------------------


def test_a_small_file_claiming_many_pixels_costs_the_request_handler_nothing(tmp_path):
    bomb = tmp_path / "big.png"
    bomb.write_bytes(png(7000, 7000))  # about 160 KB of a flat 49-megapixel picture
    code = f"""
import resource
from inceptionism.doors.limits import Limits, check_upload
data = open({str(bomb)!r}, "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for _ in range(6):
    check_upload(data, "image", Limits())
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
"""
    grown_mb = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert grown_mb < 20, f"the request handler grew by {grown_mb:.0f} MB"  # decoding it would be ~150 MB each


def test_results_and_errors_never_show_the_servers_folders(tmp_path: Path, small_photo: Path) -> None:
    photo = small_photo.read_bytes()
    with make_client(tmp_path / "data", workers=1) as c:
        files = {"image": ("p.png", photo, "image/png"), "guide": ("g.png", photo, "image/png")}
        params = {"steps": 2, "octaves": 2, "max_size": 96, "seed": 3, "layers": "blocks.3"}
        job_id = c.post("/api/dreams", files=files, data={"params": json.dumps(params)}).json()["id"]
        deadline = time.monotonic() + 120
        while (job := c.get(f"/api/dreams/{job_id}").json())["status"] not in ("done", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert job["status"] == "done", job
        result = c.get(f"/api/dreams/{job_id}/result").content
    assert str(tmp_path).encode() not in result and str(tmp_path) not in json.dumps(job)
    assert json.loads(Image.open(io.BytesIO(result)).info["inceptionism"])["config"]["guide"] == ["guide.png"]


# --- the command line never destroys an input ------------------------------------------------


def invoke(*args) -> object:
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.mark.parametrize("flag", ["--save-config", "--guide", "--mask", "--config"])
def test_no_output_may_be_an_input(small_photo, tmp_path, flag):
    victim = tmp_path / ("victim.json" if flag == "--config" else "victim.png")
    if flag == "--config":
        victim.write_text(json.dumps({"steps": 1}))
    else:
        Image.open(small_photo).convert("L").save(victim)
    before = victim.read_bytes()
    if flag == "--save-config":  # dream in.png -o out.png --save-config in.png
        args = ("dream", victim, "-o", tmp_path / "out.png", "--save-config", victim)
    elif flag == "--config":
        args = ("dream", small_photo, "-o", tmp_path / "out.png", "--config", victim, "--save-config", victim)
    else:  # dream in.png --guide g.png -o g.png
        args = ("dream", small_photo, "-o", victim, flag, victim)
    result = invoke(*args, "-q", "--steps", "1")
    assert result.exit_code == 6 and "choose another name" in result.output, result.output
    assert victim.read_bytes() == before
    link = tmp_path / "link.png"  # through a symbolic link, too
    link.symlink_to(small_photo)
    result = invoke("dream", small_photo, "-o", tmp_path / "o2.png", "--save-config", link, "-q")
    assert result.exit_code == 6


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["zoom", "noise", "-o", "z.gif", "--fps", "nan"], "fps must be a finite number"),
        (["dream", "noise", "-o", "o.png", "--step-size", "inf"], "step_size must be a finite number"),
        (["dream", "noise", "-o", "o.png", "--octave-range", "10000:10000"], "octave_range 10000:10000 is too wide"),
        (["dream", "noise", "-o", "o.png", "--config", "/dev/zero"], "is not a regular file"),
    ],
)
def test_bad_values_are_one_line_errors(tmp_path, args, words):
    result = CliRunner().invoke(app, [a.replace("z.gif", str(tmp_path / "z.gif")).replace("o.png", str(tmp_path / "o.png")) for a in args])
    assert result.exit_code == 2 and words in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


@pytest.mark.parametrize(
    "text",
    ["[" * 5000 + "]" * 5000, '{"steps": ' + "9" * 5000 + "}", json.dumps({"layers": "x" * 60_000_000})[:2_000_000]],
)
def test_hostile_config_files_are_one_line_errors(tmp_path, text):
    path = tmp_path / "cfg.json"
    path.write_text(text)
    result = invoke("dream", "noise", "-o", tmp_path / "o.png", "--config", path, "-q")
    assert result.exit_code == 2 and len(result.output) < 300 and "Traceback" not in result.output, result.output[:300]


def test_serve_help_shows_where_data_lives():
    result = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "200"})
    assert "$INCEPTIONISM_DATA" in result.output and "local/share/inceptionism" in result.output


def test_batch_inputs_that_share_a_name_get_their_own_outputs(model, examples, tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    cat = Image.open(examples / "chelsea.jpg").resize((64, 48))
    cat.save(source / "a.png")
    cat.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(source / "a.bmp")
    summary = dream_folder(source, tmp_path / "out", resolve_config(None, **{**FAST, "octaves": 1, "steps": 1}), model=model)
    assert sorted(p.name for p in summary.done) == ["a.bmp", "a.png"] and not summary.skipped
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.bmp.png", "a.png"]
    from_bmp = np.asarray(Image.open(tmp_path / "out" / "a.bmp.png"), np.float32)
    from_png = np.asarray(Image.open(tmp_path / "out" / "a.png"), np.float32)
    assert np.abs(from_bmp[:, ::-1] - from_png).mean() < np.abs(from_bmp - from_png).mean()  # each from its own input


@pytest.fixture()
def clip(tmp_path, examples) -> Path:
    cat = np.asarray(Image.open(examples / "chelsea.jpg").convert("RGB").resize((96, 64)))
    frames = [np.ascontiguousarray(np.roll(cat, 3 * t, axis=1)) for t in range(6)]
    return write_video(tmp_path / "clip.mp4", frames, 12)


def test_video_without_a_seed_resumes_with_the_seed_it_kept(model, clip, tmp_path):
    cfg = resolve_config(None, draw=False, **FAST)
    assert cfg.seed is None

    def stop_after_two(done, total, resumed):
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        dream_video(clip, tmp_path / "v.mp4", cfg, model=model, on_frame=stop_after_two)
    again = dream_video(clip, tmp_path / "v.mp4", cfg, model=model)
    assert again.dreamed == again.frames - 2  # the two finished frames were kept, not dreamed again
    dream_video(clip, tmp_path / "whole.mp4", cfg.replace(seed=again.seed), model=model)
    a, b = list(read_frames(tmp_path / "v.mp4")), list(read_frames(tmp_path / "whole.mp4"))
    assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def test_sigterm_ends_a_long_command_like_ctrl_c(tmp_path):
    out = tmp_path / "zoom.gif"
    command = [sys.executable, "-m", "inceptionism", "zoom", "noise", "-o", str(out), "--frames", "500",
               "--size", "64x64", "--steps", "1", "--octaves", "1", "-q"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".inceptionism-*.gif")):  # the temporary video exists: frames are being made
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()[0]
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=60)[0]
    assert process.returncode == 130, output
    assert "interrupted" in output and "Traceback" not in output
    assert list(tmp_path.iterdir()) == []  # no temporary video, no half-written output


def test_guides_and_masks_a_worker_would_refuse_are_refused_at_submit(client):
    photo = png(96, 64)
    colour_mask = {"image": ("p.png", photo, "image/png"), "mask": ("m.png", png(96, 64, (255, 0, 0)), "image/png")}
    wide_mask = {"image": ("p.png", photo, "image/png"), "mask": ("m.png", png(200, 40, (255, 255, 255)), "image/png")}
    tiny_guide = {"image": ("p.png", photo, "image/png"), "guide": ("g.png", png(20, 20), "image/png")}
    for files, field, words in ((colour_mask, "mask", "greyscale"), (wide_mask, "mask", "aspect ratios"),
                                (tiny_guide, "guide", "at least 32 px")):  # fmt: skip
        response = client.post("/api/dreams", data={"params": "{}"}, files=files)
        assert response.status_code == 422 and response.json()["field"] == field and words in response.json()["error"]
    grey = {"image": ("p.png", photo, "image/png"), "mask": ("m.png", png(192, 128, (200, 200, 200)), "image/png")}
    assert client.post("/api/dreams", data={"params": "{}"}, files=grey).status_code == 202


def _foreign_file(folder: Path, name: str) -> Path:
    """A file a user might pass as --weights that holds no weights."""
    import torch

    path = folder / name
    if name == "whole-module.pt":
        torch.save(torch.nn.Linear(2, 2), path)  # a pickled module, not a state dict
    else:
        path.write_bytes({"garbage.pt": b"garbage bytes here", "broken-zip.pt": b"PK\x03\x04junk",
                          "text.pth": b"hello\nworld\n", "bad.safetensors": b"xx"}[name])
    return path


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("garbage.pt", "(Unsupported operand"),
        ("broken-zip.pt", "(PytorchStreamReader failed reading zip archive: not a ZIP archive)"),
        ("text.pth", "not a state dict saved by torch.save, nor a .safetensors file"),
        ("bad.safetensors", "it is not a .safetensors file (Error while deserializing header"),
        ("whole-module.pt", "(Unsupported global: GLOBAL torch.nn.modules.linear.Linear"),
    ],
)
def test_files_that_are_not_weights_are_one_line_errors(tmp_path, name, words):
    # torch.load's own messages run over many lines and tell the user to pass weights_only=False
    # and to file an issue with PyTorch: the error keeps one short cause instead.
    path = _foreign_file(tmp_path, name)
    result = invoke("dream", "noise", "-o", tmp_path / "o.png", "--weights", path, "-q")
    assert result.exit_code == 4, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot read weights file") and repr(str(path)) in lines[0]
    assert words in lines[0], lines[0]
    assert "weights_only" not in lines[0] and "file an issue" not in lines[0] and len(lines[0]) < 400, lines[0]
    assert not (tmp_path / "o.png").exists()


def test_cause_is_one_short_line_of_another_librarys_message():
    from inceptionism.errors import cause

    unpickler = RuntimeError("Weights only load failed. In PyTorch 2.6, we changed the default.\n"
                             "Please file an issue with the following: WeightsUnpickler error: \n\n"
                             "Unsupported operand 103\n\nCheck the documentation of torch.load")
    assert cause(unpickler) == "Unsupported operand 103"
    assert cause(OSError("not a ZIP archive. This is an internal error. If you see it, report it.")) == \
        "not a ZIP archive"
    assert cause(ValueError("\n\n  first line  \nsecond line")) == "first line"
    assert cause(KeyError()) == "KeyError"
    long = cause(ValueError("x" * 500))
    assert len(long) == 160 and long.endswith("...")


def test_an_error_message_is_always_one_line():
    from inceptionism.errors import ModelError

    assert str(ModelError("cannot read 'a': first\n  second\r\nthird")) == "cannot read 'a': first second third"
    assert str(ModelError("unchanged  spacing 'a  b'")) == "unchanged  spacing 'a  b'"


@pytest.mark.parametrize("command", [["classes"], ["visualize", "blocks.4.1.bn1", "3", "-o", "OUT", "-q"], ["dream", "noise", "-o", "OUT", "-q"]])
def test_a_weights_path_that_is_no_file_is_refused_by_every_command(tmp_path, command):
    # `classes` reads only the spec; it listed ImageNet's classes for any path before.
    for path in (tmp_path / "missing.pt", tmp_path):
        result = invoke(*[str(tmp_path / "o.png") if a == "OUT" else a for a in command], "--weights", path)
        assert result.exit_code == 5, result.output
        assert result.output.strip() == f"error: weights file {str(path)!r} does not exist or is not a file"


@pytest.mark.parametrize(
    ("array", "words"),
    [
        (np.full((64, 64, 3), np.nan, np.float32), "not finite (NaN or infinity)"),
        (np.full((64, 64, 3), np.inf, np.float64), "not finite (NaN or infinity)"),
        (np.full((64, 64, 3), 200.0, np.float32), "float values from 200 to 200; floats must lie in 0..1; divide a 0..255"),
        (np.full((64, 64, 3), -0.5, np.float32), "float values from -0.5 to -0.5; floats must lie in 0..1"),
        (np.full((64, 64), 128, np.int64), "dtype int64 is not allowed: use uint8 (0..255), uint16 (0..65535) or floats"),
        (np.zeros((64, 64, 3), np.complex64), "dtype complex64 is not allowed"),
    ],
)
def test_array_images_outside_the_contract_are_refused(array, words):
    # Before, NaN dreamed on NaN, and 0..255 floats or int64 arrays were clipped to a white picture.
    from inceptionism.api import _as_picture
    from inceptionism.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        _as_picture(array, resolve_config(None))
    assert words in str(caught.value), str(caught.value)


def test_array_images_of_every_allowed_kind_mean_the_same_picture():
    from inceptionism.api import _as_picture

    grey8 = np.arange(64 * 64, dtype=np.uint32).reshape(64, 64) % 256
    kinds = [grey8.astype(np.uint8), (grey8 * 257).astype(np.uint16), (grey8 / 255).astype(np.float64),
             (grey8 / 255 + 5e-4).astype(np.float32).clip(None, 1.0005)]  # a little rounding above 1 is clipped
    pictures = [_as_picture(kind, resolve_config(None))[0].rgb for kind in kinds]
    for picture in pictures[1:]:
        assert np.abs(picture - pictures[0]).max() < 1e-3
    assert _as_picture(np.eye(64, dtype=bool), resolve_config(None))[0].rgb[0, 0].tolist() == [1.0, 1.0, 1.0]


def test_octaves_grown_past_the_pixel_limit_are_refused_before_any_work(small_photo, tmp_path, monkeypatch):
    # --octave-range=-30:30 --octave-scale 8 ran the machine out of memory (killed by the kernel).
    started = time.perf_counter()
    result = invoke("dream", small_photo, "-o", tmp_path / "o.png", "--octave-range=-30:30", "--octave-scale", "8", "-q")
    assert result.exit_code == 2, result.output
    assert result.output.strip() == (
        "error: octave 30 at octave_scale 8 would dream this 96x64 picture at over 10 million px a side; at most "
        "100 megapixels (lower the top of octave_range or octave_scale; INCEPTIONISM_MAX_PIXELS raises the limit)")
    assert time.perf_counter() - started < 10 and not (tmp_path / "o.png").exists()
    from inceptionism import images
    from inceptionism.api import check_config, resolve_config
    from inceptionism.errors import ConfigError
    from inceptionism.models import load_model

    monkeypatch.setattr(images, "MAX_PIXELS", 20_000)  # 96x64 photo: octave 1 at 1.5 is 144x96 = 13,824 px
    model = load_model()
    check_config(resolve_config(None, octave_range="-2:1", octave_scale=1.5), model, 96, 64)
    with pytest.raises(ConfigError, match=r"octave 2 at octave_scale 1.5 would dream this 96x64 picture at 216x144 px"):
        check_config(resolve_config(None, octave_range="-2:2", octave_scale=1.5), model, 96, 64)


@pytest.mark.parametrize(
    ("flags", "clash", "words"),
    [
        (["--save-config", "o.png"], "o.png", "is named for two outputs of this command; give each its own name"),
        (["--save-config", "c.json", "--plot", "c.png"], "c.json", "(--plot writes its figures beside the plot, as .json)"),
        (["--progress-gif", "p.gif", "--plot", "o.png"], "o.png", "is named for two outputs of this command"),
    ],
)
def test_one_file_named_for_two_outputs_is_refused_before_any_work(small_photo, tmp_path, flags, clash, words):
    # --save-config o.png was called "the input file"; --plot's .json beside a --save-config of
    # the same name went unnoticed, and one output overwrote the other.
    args = [str(tmp_path / a) if a.endswith((".png", ".json", ".gif")) else a for a in flags]
    result = invoke("dream", small_photo, "-o", tmp_path / "o.png", *args, "-q")
    assert result.exit_code == 6, result.output
    assert result.output.strip().startswith(f"error: output {str(tmp_path / clash)!r} ") and words in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.png"]  # nothing was written


def test_serve_refuses_a_photo_folder_that_is_not_one_before_serving(tmp_path):
    from typer.testing import CliRunner

    from inceptionism.cli import app

    result = CliRunner().invoke(app, ["serve", "--examples", str(tmp_path / "nowhere"), "--data-dir", str(tmp_path / "d")])
    assert result.exit_code == 2 and "is not a folder" in result.output
    assert not (tmp_path / "d").exists()  # nothing was made
