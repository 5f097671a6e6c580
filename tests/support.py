"""Helpers the tests share: running a command in-process, a studio's test client, small
pictures, files that are not files. Fixtures live in ``conftest.py``; a test module imports
helpers from here and from no other test module."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
FAST_FLAGS = ["--octaves", "1", "--steps", "1", "--max-size", "64", "-q"]  # a dream's quickest flags
TINY = {"steps": 2, "octaves": 2, "max_size": 96, "seed": 3}  # a studio dream's quickest parameters


def in_ci() -> bool:
    """Whether this run is CI's (``CI`` set to true, 1 or yes, as CI services set it): there a test
    that cannot run is a failure, not a skip."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def invoke(*args: object):
    """``inceptionism ARGS`` in this process (typer's runner): the result's exit code and output."""
    from typer.testing import CliRunner

    from inceptionism.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


def one_line(result, code: int, words: str) -> None:
    """The command failed with exit ``code`` and one line that says ``words``, no traceback."""
    assert result.exit_code == code, result.output
    assert words in result.output and len(result.output.strip().splitlines()) == 1, result.output
    assert "Traceback" not in result.output


def plain(output: str) -> str:
    """A command's output as one line of words: rich's error box and line breaks taken out."""
    return " ".join(output.translate({ord(c): " " for c in "│╭╮╰╯─"}).split())


def nodes(folder: Path, name: str) -> list[Path]:
    """A FIFO named ``fifo-NAME``, and where this runs as root (containers, CI) a character
    device like /dev/null named ``dev-NAME``."""
    made = [folder / f"fifo-{name}"]
    os.mkfifo(made[0])
    if os.geteuid() == 0:
        made.append(folder / f"dev-{name}")
        os.mknod(made[1], 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    return made


def still_nodes(paths: list[Path]) -> bool:
    return all(stat.S_ISFIFO(p.lstat().st_mode) or stat.S_ISCHR(p.lstat().st_mode) for p in paths)


def line_within(stream, timeout: float = 60.0) -> str:
    """The next line of ``stream`` (a child process's pipe); fails after ``timeout`` s instead of
    waiting for ever on a process that never writes it."""
    import threading

    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    assert got, f"no line came in {timeout:.0f} s"
    return got[0]


# --- the studio ------------------------------------------------------------------------------------


def studio_client(data_dir: Path, *, workers: int, **settings: Any):
    """A test client of a studio on ``data_dir``. ``workers=0`` keeps accepted dreams queued
    (for tests of requests alone); events come every 0.05 s."""
    from fastapi.testclient import TestClient

    from inceptionism.service import ServiceSettings, create_app

    settings.setdefault("events_every_s", 0.05)
    return TestClient(create_app(ServiceSettings(data_dir=data_dir, workers=workers, **settings)),
                      base_url="http://127.0.0.1")


def png(width: int, height: int, colour=(128, 128, 128)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


def post(client, params: object = None, image: bytes | None = None, **form):
    """POST /api/dreams with ``params`` (JSON, or raw text) and an optional picture."""
    data = {"params": params if isinstance(params, str) else json.dumps(params or {}), **form}
    files = {"image": ("in.png", image, "image/png")} if image is not None else None
    return client.post("/api/dreams", data=data, files=files)


def submit(client, image: bytes | None = None, name: str = "photo.png", **params):
    """A dream of ``image`` (or of noise) with ``params``."""
    files = {"image": (name, image, "application/octet-stream")} if image is not None else None
    form = {"params": json.dumps(params), **({"noise": "true"} if image is None else {})}
    return client.post("/api/dreams", files=files, data=form)


def wait(client, job_id: str, timeout: float = 120.0) -> dict:
    """The job once it has ended; fails after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/dreams/{job_id}").json()
        if job["status"] in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s: {job}")


# --- measurements ---------------------------------------------------------------------------------


def hf_fraction(image: Image.Image) -> float:
    """Share of an image's variance above a Gaussian blur at sigma 1 (high frequencies)."""
    import torch

    from inceptionism.engine.filters import gaussian_blur

    x = torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.float32) / 255).permute(2, 0, 1)[None]
    high = x - gaussian_blur(x, 1.0)
    return float(high.square().mean() / (x - x.mean((2, 3), keepdim=True)).square().mean())


def modules_a_dream_imports(output: Path, *flags: str) -> set[str]:
    """Every module a 64 px, one-step ``inceptionism dream`` of the chelsea photo imports
    (``python -X importtime``), with ``flags`` added; the command must succeed."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "inceptionism", "dream", str(EXAMPLES / "chelsea.jpg"),
                           "-o", str(output), "--max-size", "64", "--steps", "1", "--quiet", *flags],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    imported = {line.rpartition("|")[2].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "torch" in imported and output.exists()  # the listing is real
    return imported


def alive_layer(model, picture) -> str:
    """A layer a third of the way into ``model``, or shallower, whose activations of ``picture``
    (a path, or a (1, 3, H, W) tensor) carry it: with random weights some layers are zero (timm
    zero-initializes each residual block's last norm), some networks' deep activations fade to
    1e-10 (Inception-v4; the default EfficientNet-Lite's dream layers reach 3e-12), too small for
    a step to move in float32, and a freshly made LayerNorm's output has a mean square of exactly
    1 at every position, so the dream's L2 cannot rise there (torchvision's ViT ``ln_1``: its
    score stayed at 0.9999993). Real weights have none of these."""
    import torch

    from inceptionism.images import load_image, to_tensor
    from inceptionism.taps import capture, list_layers

    listing = [info.name for info in list_layers(model)]
    x = picture if isinstance(picture, torch.Tensor) else to_tensor(load_image(picture))
    for fraction in (3, 4, 6, 8, 12):
        name = listing[len(listing) // fraction]
        with capture(model, [name]) as run, torch.no_grad():
            act = run(x)[name]
        power = act.square().mean(1)  # each position's L2
        pinned = power.numel() > 1 and float(power.std()) < 1e-3 * float(power.mean())  # a bare norm's output
        if float(act.abs().mean()) > 1e-3 and float(act.std()) > 1e-4 and not pinned:
            return name
    raise AssertionError(f"no live layer in the first third of {model.spec.name}")


def report_unchecked(terminal) -> None:
    """The test run's last lines: how many guarantees were not checked on this machine, and which
    (a skipped test guards nothing, so it is never left to one line among hundreds)."""
    skipped = terminal.stats.get("skipped", [])
    if not skipped:
        terminal.write_line("every test ran on this machine: no guarantee went unchecked", bold=True)
        return
    terminal.section(f"NOT CHECKED ON THIS MACHINE: {len(skipped)} test(s)", sep="!", red=True, bold=True)
    for report in skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        terminal.write_line(f"{report.nodeid}: {reason.removeprefix('Skipped: ')}", red=True)


ROOT = EXAMPLES.parent
COMFYUI = ROOT / ".comfyui"  # scripts/setup_comfyui.sh: ComfyUI/ its source, venv/ its Python with inceptionism


class ComfyUI:
    """A real ComfyUI server on 127.0.0.1, started headless from .comfyui/ with the node pack
    linked into its custom_nodes/ as a user links it; ``log`` is its output."""

    def __init__(self, base: Path, *, timeout: float = 240.0) -> None:
        import socket
        import uuid

        (base / "custom_nodes").mkdir(parents=True)
        (base / "custom_nodes" / "inceptionism").symlink_to(ROOT / "integrations" / "comfyui")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url, self.base, self.client = f"http://127.0.0.1:{self.port}", base, uuid.uuid4().hex
        self.log = base / "server.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [str(COMFYUI / "venv" / "bin" / "python"), "main.py", "--cpu", "--listen", "127.0.0.1", "--port",
                 str(self.port), "--disable-auto-launch", "--base-directory", str(base)],
                cwd=COMFYUI / "ComfyUI", stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not self._answers():  # up once its nodes are listed (about 40 s on two cores the first time)
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"ComfyUI did not start; its log ends: {self.log.read_text()[-2000:]}")
            time.sleep(0.5)

    def _answers(self) -> bool:
        import httpx

        try:
            return httpx.get(self.url + "/object_info/InceptionismDream", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def get(self, path: str) -> Any:
        import httpx

        answer = httpx.get(self.url + path, timeout=30)
        answer.raise_for_status()
        return answer.json()

    def upload(self, path: Path, name: str | None = None) -> str:
        """Put a picture in ComfyUI's input folder, as the LoadImage widget's upload does."""
        import httpx

        answer = httpx.post(self.url + "/upload/image", files={"image": (name or path.name, path.read_bytes())},
                            data={"overwrite": "true"}, timeout=30)
        answer.raise_for_status()
        return answer.json()["name"]

    def queue(self, prompt: dict) -> str:
        import httpx

        answer = httpx.post(self.url + "/prompt", json={"prompt": prompt, "client_id": self.client}, timeout=30)
        assert answer.status_code == 200, answer.text
        return answer.json()["prompt_id"]

    def messages(self):
        """ComfyUI's event stream for this client (its websocket), as (type, data) pairs."""
        from websockets.sync.client import connect

        return connect(f"ws://127.0.0.1:{self.port}/ws?clientId={self.client}", max_size=None)

    def run(self, prompt: dict, timeout: float = 300.0) -> dict:
        """Queue ``prompt`` and wait for its end (its events, bounded); its history entry."""
        with self.messages() as events:
            prompt_id = self.queue(prompt)
            wait_for(events, prompt_id, ("execution_success", "execution_error", "execution_interrupted"), timeout)
        return self.get(f"/history/{prompt_id}")[prompt_id]

    def view(self, item: dict) -> bytes:
        import httpx

        answer = httpx.get(self.url + "/view", params={"filename": item["filename"], "subfolder": item["subfolder"],
                                                       "type": item["type"]}, timeout=30)
        answer.raise_for_status()
        return answer.content

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(15)


def wait_for(events, prompt_id: str, kinds: tuple[str, ...], timeout: float) -> tuple[str, dict]:
    """The first event of one of ``kinds`` for ``prompt_id`` on ComfyUI's stream, within ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"no {' or '.join(kinds)} for prompt {prompt_id} within {timeout:g} s"
        try:
            raw = events.recv(timeout=left)
        except TimeoutError:
            continue
        if isinstance(raw, bytes):  # a preview picture
            continue
        message = json.loads(raw)
        data = message.get("data") or {}
        if message.get("type") in kinds and data.get("prompt_id") == prompt_id:
            return message["type"], data
