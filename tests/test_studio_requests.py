"""What a request to the studio may carry and cost: parameters, never paths; one flat object of
the declared parameters, checked before it is queued; no request body gets a 5xx (a Hypothesis
fuzz too); a dream's real cost bounded. Traffic goes only to in-process apps."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from inceptionism.config import dream_params
from inceptionism.service import Limits
from inceptionism.service.workers import job_files

from .support import png, post, studio_client, wait


@pytest.fixture()
def client(tmp_path: Path):
    with studio_client(tmp_path / "data", workers=0) as c:  # accepted dreams stay queued: requests are what is tested
        yield c


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
    with studio_client(data, workers=0, limits=Limits(max_queued=10_000)) as c:
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


def test_the_studio_refuses_them_with_422(tmp_path, small_photo):
    with studio_client(tmp_path / "data", workers=0) as client:
        for params in ({"layers": "blocks.4.1.bn1*nan"}, {"layers": "class:99999"},
                       {"layers": "blocks.5.1.bn1", "channels": "strong:400"}):
            response = post(client, params, small_photo.read_bytes())
            assert response.status_code == 422, response.text


def test_the_studio_bounds_a_requests_real_cost(tmp_path):
    with studio_client(tmp_path / "data", workers=0) as client:
        tiny_tiles = post(client, {"tile_size": 32, "size": [2048, 2048], "steps": 1, "octaves": 1}, noise="true")
        assert tiny_tiles.status_code == 422 and tiny_tiles.json()["field"] == "tile_size", tiny_tiles.text
        heavy = post(client, {"size": [2048, 2048], "steps": 200, "octaves": 12}, noise="true")
        assert heavy.status_code == 422 and "million pixel-steps" in heavy.json()["error"], heavy.text
        assert heavy.json()["field"] == "steps"
        fine = post(client, {"size": [2048, 2048], "steps": 60}, noise="true")  # the form's most, at the largest size
        assert fine.status_code == 202, fine.text


def test_the_cost_counts_each_tiles_fixed_price():
    from inceptionism.config import DreamConfig
    from inceptionism.doors.limits import work

    one_pass = DreamConfig(steps=1, octaves=1)
    assert work(one_pass.replace(tile_size=32), 2048, 2048) > 10 * work(one_pass.replace(tile_size=1024), 2048, 2048)
    assert work(one_pass.replace(steps=10), 512, 512) == pytest.approx(10 * work(one_pass, 512, 512))


def test_a_full_queue_says_when_to_retry(tmp_path):
    with studio_client(tmp_path / "data", workers=0, limits=Limits(max_queued=1)) as c:
        assert post(c, {}, png(64, 64)).status_code == 202
        full = post(c, {}, png(64, 64))
        assert full.status_code == 429 and int(full.headers["retry-after"]) > 0


def test_results_and_errors_never_show_the_servers_folders(tmp_path: Path, small_photo: Path) -> None:
    photo = small_photo.read_bytes()
    with studio_client(tmp_path / "data", workers=1) as c:
        files = {"image": ("p.png", photo, "image/png"), "guide": ("g.png", photo, "image/png")}
        params = {"steps": 2, "octaves": 2, "max_size": 96, "seed": 3, "layers": "blocks.3"}
        job_id = c.post("/api/dreams", files=files, data={"params": json.dumps(params)}).json()["id"]
        job = wait(c, job_id)
        assert job["status"] == "done", job
        result = c.get(f"/api/dreams/{job_id}/result").content
    assert str(tmp_path).encode() not in result and str(tmp_path) not in json.dumps(job)
    assert json.loads(Image.open(io.BytesIO(result)).info["inceptionism"])["config"]["guide"] == ["guide.png"]
