"""The studio's live sessions (/api/live, a WebSocket): parameters, frames, the latest-frame
policy, refusals and bad messages with the session going on, the bound on sessions, a snapshot
with its recipe, and nothing written to disk."""

from __future__ import annotations

import base64
import io
import json
import time

import numpy as np
import pytest
from PIL import Image
from starlette.websockets import WebSocketDisconnect

from inceptionism.service.live import LiveLimits

from .support import EXAMPLES, studio_client

URL = "ws://127.0.0.1/api/live"


def _jpeg(size=(128, 96), shift: int = 0) -> bytes:
    image = Image.open(EXAMPLES / "chelsea.jpg").convert("RGB").resize(size)
    if shift:
        image = image.rotate(0, translate=(shift, 0))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
    return buffer.getvalue()


def _dream(ws) -> tuple[dict, Image.Image]:
    """The next dream: its text message and its picture."""
    while "dreamed" not in (message := json.loads(ws.receive_text())):
        assert "error" not in message, message
    return message, Image.open(io.BytesIO(ws.receive_bytes()))


@pytest.fixture()
def client(tmp_path):
    with studio_client(tmp_path / "data", workers=1) as client:
        yield client


def test_frames_come_back_dreamed_with_the_parameters_given(client, tmp_path):
    with client.websocket_connect(URL) as ws:
        ws.send_text(json.dumps({"frame_steps": 2, "max_size": 96, "seed": 4}))
        assert json.loads(ws.receive_text()) == {"params": {"frame_steps": 2, "max_size": 96, "seed": 4}}
        ws.send_bytes(_jpeg())
        message, dream = _dream(ws)
        assert message["dreamed"] == 1 and dream.format == "JPEG" and dream.size == (96, 72)
        assert set(message["ms"]) == {"waited", "decode", "dream", "flow", "steps", "encode"}
        sent = Image.open(io.BytesIO(_jpeg())).resize((96, 72))
        change = np.abs(np.asarray(dream.convert("L"), np.float32) - np.asarray(sent.convert("L"), np.float32)).mean()
        assert change > 2  # dreamed, not sent back
    assert not any(p.suffix in (".jpg", ".png") for p in (tmp_path / "data").rglob("*"))  # nothing written


def test_a_dreamer_behind_takes_the_latest_frame(client):
    with client.websocket_connect(URL) as ws:
        ws.send_text(json.dumps({"frame_steps": 3}))
        ws.receive_text()
        for k in range(6):  # sent at once: the dreamer is busy with the first while the rest come
            ws.send_bytes(_jpeg(shift=k))
        seen = []
        while not seen or seen[-1] != 6:
            seen.append(_dream(ws)[0]["dreamed"])
        assert seen[0] == 1 and len(seen) < 6, seen  # some frames were replaced by later ones, never queued


def test_bad_messages_are_answered_and_the_session_goes_on(client):
    with client.websocket_connect(URL) as ws:
        ws.send_bytes(b"not a picture")
        assert json.loads(ws.receive_text()) == {"error": "frame 1 is not a JPEG or PNG picture (UnidentifiedImageError)",
                                                 "field": "frame"}
        gif = io.BytesIO()
        Image.new("RGB", (8, 8)).save(gif, "GIF")
        ws.send_bytes(gif.getvalue())
        assert json.loads(ws.receive_text())["field"] == "frame"
        for text, field in (('{"frame_steps": 0}', "frame_steps"), ('{"steps": 9999}', "steps"), ("[1]", "params"),
                            ('{"weights": "x.pt"}', "weights"), ('{"max_size": 1500}', "max_size"),
                            ('{"max_size": null}', "max_size"), ('{"frame_steps": 9}', "frame_steps")):
            ws.send_text(text)
            assert json.loads(ws.receive_text())["field"] == field, text
        ws.send_text('{"snapshot": true}')
        assert json.loads(ws.receive_text()) == {"error": "nothing dreamed yet: send frames first", "field": "snapshot"}
        ws.send_bytes(_jpeg())
        assert _dream(ws)[0]["dreamed"] == 3  # frames 1 and 2 were bad (not a picture, a GIF); this one dreams


def test_a_frame_that_fails_inside_is_answered_and_the_session_goes_on(client, monkeypatch):
    from inceptionism.motion.live import LiveDreamer

    real = LiveDreamer.dream
    calls = {"n": 0}

    def once_broken(self, frame):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("out of memory, say")
        return real(self, frame)

    monkeypatch.setattr(LiveDreamer, "dream", once_broken)
    with client.websocket_connect(URL) as ws:
        ws.send_bytes(_jpeg())
        assert json.loads(ws.receive_text())["error"].startswith("frame 1 could not be dreamed (RuntimeError)")
        ws.send_bytes(_jpeg())
        assert _dream(ws)[0]["dreamed"] == 2


def test_frames_and_parameters_too_large_are_refused(tmp_path):
    from inceptionism.service.live import LiveLimits

    with studio_client(tmp_path / "data", workers=1, live=LiveLimits(frame_bytes=2000, params_bytes=50)) as client:
        with client.websocket_connect(URL) as ws:
            ws.send_bytes(_jpeg())
            error = json.loads(ws.receive_text())
            assert error["field"] == "frame" and "at most 2,000 are allowed" in error["error"]
            ws.send_text(json.dumps({"layers": "x" * 100}))
            assert "at most 50 bytes" in json.loads(ws.receive_text())["error"]


def test_a_snapshot_is_the_last_dream_with_its_recipe(client, tmp_path):
    from inceptionism.images import read_metadata

    with client.websocket_connect(URL) as ws:
        ws.send_text(json.dumps({"seed": 9, "preset": "deep"}))
        ws.receive_text()
        ws.send_bytes(_jpeg())
        _dream(ws)
        ws.send_text('{"snapshot": true}')
        url = json.loads(ws.receive_text())["snapshot"]
    assert url.startswith("data:image/png;base64,")
    path = tmp_path / "snapshot.png"
    path.write_bytes(base64.b64decode(url.split(",", 1)[1]))
    config = read_metadata(path)["config"]
    assert config["seed"] == 9 and config["preset"] == "deep" and config["max_size"] == 320


def test_sessions_beyond_the_bound_are_refused_clearly(tmp_path):
    with studio_client(tmp_path / "data", workers=1, live=LiveLimits(sessions=1)) as client:
        with client.websocket_connect(URL) as first:
            with client.websocket_connect(URL) as second:
                refusal = json.loads(second.receive_text())
                assert "runs 1 live session(s) already" in refusal["error"]
                with pytest.raises(WebSocketDisconnect) as closed:
                    second.receive_text()
                assert closed.value.code == 1013
            first.send_bytes(_jpeg())
            assert _dream(first)[0]["dreamed"] == 1
        # The first has ended: room again once its dreaming thread has finished its frame (bounded).
        deadline = time.monotonic() + 30
        while True:
            with client.websocket_connect(URL) as again:
                again.send_bytes(_jpeg())
                first = json.loads(again.receive_text())
                if "error" not in first:
                    assert first["dreamed"] == 1
                    break
                assert "live session(s) already" in first["error"] and time.monotonic() < deadline, first
            time.sleep(0.1)


@pytest.mark.parametrize("headers, words", [
    ({"origin": "http://evil.example"}, "requests from other web sites are refused"),
    ({"host": "evil.example"}, "does not answer to the host"),
])
def test_other_sites_and_hosts_are_refused_before_the_handshake(client, headers, words):
    with pytest.raises(WebSocketDisconnect) as refused:
        with client.websocket_connect(URL, headers=headers):
            pass
    assert refused.value.code == 1008 and words in refused.value.reason


def test_a_studio_with_a_token_needs_it(tmp_path):
    from inceptionism.service.security import Access

    with studio_client(tmp_path / "data", workers=1, access=Access(token="s3cret")) as client:
        with pytest.raises(WebSocketDisconnect) as refused:
            with client.websocket_connect(URL):
                pass
        assert refused.value.code == 1008 and "needs its token" in refused.value.reason
        with client.websocket_connect(URL, headers={"authorization": "Bearer s3cret"}) as ws:
            ws.send_bytes(_jpeg())
            assert _dream(ws)[0]["dreamed"] == 1
