"""Who may talk to the studio: the Host allow-list (DNS rebinding), other origins, the token,
the headers on every answer, and what other web sites can make a local studio do.
Traffic goes only to in-process apps or 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest

from .support import studio_client


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


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.1:8000", "localhost:8000", "LOCALHOST", "[::1]:8000", "::1"])
def test_the_loopback_names_with_or_without_a_port_are_answered(client, host):
    assert client.get("/api/settings", headers={"host": host}).status_code == 200
