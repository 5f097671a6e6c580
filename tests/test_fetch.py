"""Verified, resumable downloads, against a server on 127.0.0.1 only."""

from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from typer.testing import CliRunner

from inceptionism.cli import app
from inceptionism.errors import ConfigError, OutputError, WeightsMissingError
from inceptionism.models import get_spec
from inceptionism.models.fetch import download, fetch

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class Handler(BaseHTTPRequestHandler):
    mode = "ok"  # ok | corrupt | cut | no-range
    served: list = []

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):  # noqa: N802
        body = PAYLOAD if self.mode != "corrupt" else PAYLOAD[:-1] + b"X"
        start = 0
        header = self.headers.get("Range")
        if header and self.mode != "no-range":
            start = int(header.split("=")[1].rstrip("-"))
            self.send_response(206)
        else:
            self.send_response(200)
        rest = body[start:]
        self.send_header("Content-Length", str(len(rest)))
        self.end_headers()
        Handler.served.append(start)
        self.wfile.write(rest[: len(rest) // 2] if self.mode == "cut" else rest)


@pytest.fixture()
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    Handler.mode, Handler.served = "ok", []
    yield f"http://127.0.0.1:{httpd.server_address[1]}/weights.pth"
    httpd.shutdown()


def test_download_verifies_and_reports_progress(server, tmp_path):
    seen = []
    path = download(server, tmp_path / "w.pth", SHA, on_progress=lambda done, total: seen.append((done, total)))
    assert path.read_bytes() == PAYLOAD and seen[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert not (tmp_path / "w.pth.part").exists()


def test_wrong_checksum_deletes_the_file(server, tmp_path):
    Handler.mode = "corrupt"
    with pytest.raises(OutputError, match=f"expected {SHA[:8]}; the file was deleted"):
        download(server, tmp_path / "w.pth", SHA[:8])
    assert list(tmp_path.iterdir()) == []


def test_interrupted_transfer_resumes_with_a_range_request(server, tmp_path):
    Handler.mode = "cut"
    with pytest.raises(WeightsMissingError, match="broke off at 524,288 of 1,048,576 bytes; run it again to resume"):
        download(server, tmp_path / "w.pth", SHA)
    assert (tmp_path / "w.pth.part").stat().st_size == len(PAYLOAD) // 2
    Handler.mode = "ok"
    download(server, tmp_path / "w.pth", SHA)
    assert Handler.served == [0, len(PAYLOAD) // 2]  # the second request asked only for the rest
    assert (tmp_path / "w.pth").read_bytes() == PAYLOAD


def test_server_without_ranges_restarts_cleanly(server, tmp_path):
    (tmp_path / "w.pth.part").write_bytes(b"stale bytes")
    Handler.mode = "no-range"
    download(server, tmp_path / "w.pth", SHA)
    assert (tmp_path / "w.pth").read_bytes() == PAYLOAD


def test_unreachable_server_is_one_clear_error(tmp_path):
    with pytest.raises(WeightsMissingError, match=r"cannot download http://127.0.0.1:9/w.pth: .*offline: copy the file to"):
        download("http://127.0.0.1:9/w.pth", tmp_path / "w.pth", SHA, timeout=2)


def test_fetch_into_the_cache_then_found_without_network(server, tmp_path, monkeypatch):
    monkeypatch.setenv("INCEPTIONISM_HOME", str(tmp_path))
    spec = get_spec("torchvision/googlenet")
    source = spec.download
    assert source.sha256 == "1378be20" and source.url.endswith("googlenet-1378be20.pth")
    with pytest.raises(OutputError, match="expected 1378be20"):  # the test payload is not GoogLeNet
        fetch(spec, url=server)
    path = fetch(spec, url=server, sha256=SHA)
    assert path == tmp_path / "weights" / "torchvision--googlenet.pth"
    assert fetch(spec, url="http://127.0.0.1:9/never", sha256=SHA) == path  # already there


def test_unpinned_source_needs_a_checksum():
    with pytest.raises(ConfigError, match="no pinned checksum for 'timm/inception_v3'"):
        fetch(get_spec("timm/inception_v3"))
    with pytest.raises(ConfigError, match="has no download source"):
        fetch(get_spec("efficientnet-lite0"))


def test_fetch_command(server, tmp_path, monkeypatch):
    monkeypatch.setenv("INCEPTIONISM_HOME", str(tmp_path))
    result = CliRunner().invoke(app, ["models", "fetch", "inception5h", "--url", server, "--sha256", SHA, "-q"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "weights" / "inception5h.zip").read_bytes() == PAYLOAD
    listing = CliRunner().invoke(app, ["models"])
    assert listing.exit_code == 0 and "inception5h" in listing.output


@pytest.mark.parametrize(("name", "fetch_words"), [
    ("torchvision/googlenet", "get them with 'inceptionism models fetch torchvision/googlenet' (a download verified"),
    ("timm/vit_small_patch16_224", "download them with 'inceptionism models fetch timm/vit_small_patch16_224 --sha256 HEX'"),
    ("inception5h", "download them with 'inceptionism models fetch inception5h --sha256 HEX'"),
])  # fmt: skip
def test_missing_weights_name_the_fetch_command_first(tmp_path, monkeypatch, name, fetch_words):
    import inceptionism.models.loading

    for variable in ("INCEPTIONISM_HOME", "TORCH_HOME", "HF_HOME"):  # nothing cached anywhere
        monkeypatch.setenv(variable, str(tmp_path / variable))
    monkeypatch.setattr(inceptionism.models.loading, "_CACHE", {})  # nor loaded by an earlier test
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["dream", "noise", "-o", str(tmp_path / "d.png"), "--model", name, "-q"])
    assert result.exit_code == 5, result.output
    said = result.output.split("are missing: ", 1)[1]
    assert said.startswith(fetch_words) and said.index("models fetch") < said.index("put "), said
    assert "--weights random" in said
