"""Who may talk to the studio: the Host allow-list (DNS rebinding), other origins, the token,
the headers on every answer, and what other web sites can make a local studio do.
Traffic goes only to in-process apps or 127.0.0.1."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from inceptionism.service import create_app

from .support import TINY, invoke, png, post, studio_client, submit, wait


@pytest.fixture()
def client(tmp_path: Path):
    with studio_client(tmp_path / "data", workers=0) as c:
        yield c


@pytest.mark.parametrize("host", ["127.0.0.1:80@evil.example", "127.0.0.1:80/evil", "127.0.0.1 evil.example",
                                  "localhost:abc", "[::1", "127.0.0.1:", "evil.example#127.0.0.1", "127.0.0.1:123456",
                                  "[::1]:80@evil.example", ""])
def test_a_host_header_that_is_no_plain_host_and_port_is_refused(client, host):
    answer = client.get("/api/settings", headers={"host": host})
    assert answer.status_code == 400 and "does not answer to the host" in answer.json()["error"]


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.1:8000", "localhost:8000", "LOCALHOST", "[::1]:8000", "::1",
                                  "[0:0::1]:8000", "0:0::1"])
def test_the_loopback_names_with_or_without_a_port_are_answered(client, host):
    assert client.get("/api/settings", headers={"host": host}).status_code == 200


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
    from inceptionism.command_config import ServeConfig
    from inceptionism.service import settings_from

    settings_ = settings_from(ServeConfig(host="0.0.0.0", workers=0), tmp_path, "s3cret-token")
    with TestClient(create_app(settings_), base_url="http://192.0.2.1:8000") as c:
        assert c.get("/api/settings").status_code == 401
        assert c.get("/api/settings", headers={"authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/api/settings", headers={"authorization": "Bearer s3cret-token"}).status_code == 200
        page = c.get("/?token=s3cret-token")  # the page: opened once with the token, then a cookie carries it
        assert page.status_code == 200 and "HttpOnly" in page.headers["set-cookie"]
        assert c.get("/api/settings").status_code == 200  # the cookie, as the page's own requests send it


def test_cross_site_requests_cannot_make_a_local_studio_compute(tmp_path):
    with studio_client(tmp_path / "data", workers=0) as client:
        path = "/api/models/efficientnet-lite0/layers/blocks.3.0.bn1/channels/0"
        for headers in ({"origin": "http://evil.example", "sec-fetch-site": "cross-site"},
                        {"sec-fetch-site": "cross-site"}, {"sec-fetch-site": "same-site"},
                        {"origin": "http://evil.example"}):
            for url in (path, "/api/models/efficientnet-lite0/layers", "/api/settings"):
                assert client.get(url, headers=headers).status_code == 403, (url, headers)
        assert not (tmp_path / "data" / "thumbnails").exists()  # nothing was drawn
        page = client.get("/api/settings", headers={"sec-fetch-site": "same-origin"})
        assert page.status_code == 200  # the studio's own page


def test_a_studio_does_not_offer_its_users_private_networks(tmp_path, monkeypatch):
    from inceptionism.models import list_models

    private = tmp_path / "home-data" / "networks"
    private.mkdir(parents=True)
    monkeypatch.setenv("INCEPTIONISM_DATA", str(tmp_path / "home-data"))
    fake = private / "secret.safetensors"
    _train_a_tiny_network(fake)
    assert "trained/secret" in list_models()  # the user's own commands see it
    with studio_client(tmp_path / "data", workers=0) as client:
        names = [m["name"] for m in client.get("/api/models").json()]
        assert "trained/secret" not in names
        assert client.get("/api/classes", params={"model": "trained/secret"}).status_code == 404
    assert "trained/secret" in list_models()  # and again once the studio is gone


def _train_a_tiny_network(path: Path) -> None:
    """A real trained file (two classes, one epoch) written where the test wants it."""
    folder = path.parent / "motifs"
    for name, colour in (("red", (255, 0, 0)), ("blue", (0, 0, 255))):
        (folder / name).mkdir(parents=True)
        for i in range(4):
            Image.new("RGB", (48, 48), tuple(max(0, c - 20 * i) for c in colour)).save(folder / name / f"{i}.png")
    result = invoke("train", folder, "-o", path, "--epochs", "1", "--image-size", "64", "-q")
    assert result.exit_code == 0, result.output


def test_the_studios_data_is_private_to_its_user(tmp_path, small_photo):
    data = tmp_path / "data"
    with studio_client(data, workers=1) as client:
        job = wait(client, submit(client, small_photo.read_bytes(), **TINY).json()["id"])
    assert job["status"] == "done"
    for path in (data, data / "jobs", data / "jobs" / job["id"]):
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
    assert stat.S_IMODE((data / "jobs.sqlite3").stat().st_mode) == 0o600


def test_a_path_that_climbs_out_of_the_picture_cache_is_no_layer(tmp_path, small_photo):
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "a.png").write_bytes(small_photo.read_bytes())
    data = tmp_path / "data"
    for planted in (data / "thumbnails" / "examples" / "ex-0000.jpg", data / "ex-0000.jpg"):  # where ".." leads
        planted.parent.mkdir(parents=True, exist_ok=True)
        planted.write_bytes(b"not for the web")
    with studio_client(data, workers=0, examples=photos) as client:
        for name, layer in (("..", ".."), ("efficientnet-lite0", "%2e%2e"), ("%2e%2e", "%2e%2e")):
            answer = client.get(f"/api/models/{name}/layers/{layer}/channels/0/examples")
            assert answer.status_code == 404 and answer.content != b"not for the web", (name, layer, answer.text)
