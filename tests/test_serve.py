"""``inceptionism serve``: refused before it serves (bad folders, no workers, a taken port, a
data directory another studio holds), stopped by Ctrl-C, and writing only where it says. Real
processes on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from inceptionism.cli import app

from .support import invoke, line_within, one_line


def test_serve_help_shows_where_data_lives():
    result = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "200"})
    assert "$INCEPTIONISM_DATA" in result.output and "local/share/inceptionism" in result.output


def test_serve_refuses_a_photo_folder_that_is_not_one_before_serving(tmp_path):
    result = CliRunner().invoke(app, ["serve", "--examples", str(tmp_path / "nowhere"), "--data-dir", str(tmp_path / "d")])
    assert result.exit_code == 2 and "is not a folder" in result.output
    assert not (tmp_path / "d").exists()  # nothing was made


def test_serve_without_workers_or_a_cluster_is_refused(tmp_path):
    one_line(invoke("serve", "--workers", "0", "--data-dir", tmp_path / "d"), 2, "workers 0 would leave every dream")


def test_serve_on_a_taken_port_is_one_line_exit_7_before_the_address_is_printed(tmp_path):
    import socket

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        done = subprocess.run([sys.executable, "-m", "inceptionism", "serve", "--port", str(taken.getsockname()[1]),
                               "--data-dir", str(tmp_path / "d")], capture_output=True, text=True, timeout=120)
    finally:
        taken.close()
    assert done.returncode == 7, done.stderr
    assert "cannot listen on 127.0.0.1" in done.stderr and "studio on" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_serve_beyond_loopback_warns_and_prints_a_token(tmp_path):
    from inceptionism.service.background import free_port

    port = free_port()
    command = [sys.executable, "-m", "inceptionism", "serve", "--host", "0.0.0.0", "--port", str(port),
               "--workers", "1", "--data-dir", str(tmp_path)]  # fmt: skip
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        lines = [line_within(process.stderr) for _ in range(2)]  # the address, then the warning
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
        assert "studio on" in line_within(process.stderr)
        process.send_signal(signal.SIGINT)  # at once: before the server has taken the signal over
        rest = process.communicate(timeout=30)[1]  # it stops: a studio that ran on fails here
    finally:
        process.kill()
    # 0 either way: uvicorn had taken the signal over and shut down, or the command had noted it and
    # the server stopped as soon as it had started
    assert process.returncode == 0 and "Traceback" not in rest, (process.returncode, rest)


def test_a_ctrl_c_noted_before_the_server_started_stops_it_once_started(tmp_path):
    import threading

    import uvicorn

    from inceptionism.service import ServiceSettings, create_app
    from inceptionism.service.background import free_port, studio_server

    interrupted = threading.Event()
    interrupted.set()
    app = create_app(ServiceSettings(data_dir=tmp_path, workers=1))
    server = studio_server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"),
                           interrupted=interrupted)
    running = threading.Thread(target=server.run, daemon=True)
    running.start()
    running.join(30)
    assert not running.is_alive() and server.started  # it started, then stopped by the usual way out


def test_a_second_studio_on_the_same_data_directory_is_refused_before_touching_the_store(tmp_path):
    from inceptionism.service.background import free_port

    data = tmp_path / "d"
    port = free_port()
    first = subprocess.Popen([sys.executable, "-m", "inceptionism", "serve", "--port", str(port), "--data-dir", str(data)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert "studio on" in line_within(first.stderr)
        store = data / "jobs.sqlite3"
        before = store.stat().st_mtime_ns
        second = subprocess.run([sys.executable, "-m", "inceptionism", "serve", "--port", str(free_port()),
                                 "--data-dir", str(data)], capture_output=True, text=True, timeout=120)
        assert second.returncode == 7 and "served by another studio" in second.stderr, second.stderr
        assert f"process {first.pid}" in second.stderr and store.stat().st_mtime_ns == before
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=60)
    again = subprocess.Popen([sys.executable, "-m", "inceptionism", "serve", "--port", str(port), "--data-dir", str(data)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert "studio on" in line_within(again.stderr)  # the lock went with the first one
    finally:
        again.send_signal(signal.SIGINT)
        again.communicate(timeout=60)


def test_a_studio_writes_only_under_its_data_dir_and_the_documented_cache(tmp_path, small_photo):
    """A real ``serve`` process and one dream, with its HOME, TMPDIR and working folder in a
    folder of its own: every file it wrote or changed there lies under the data directory or the
    weights cache ($INCEPTIONISM_HOME, by default under HOME), Python's byte-code caches apart.
    (This scans where a process writes unless told otherwise; scanning the whole file system
    failed whenever any other process on the machine wrote anything meanwhile.)"""
    import urllib.request

    from inceptionism.service.background import free_port

    home, data, scratch = tmp_path / "home", tmp_path / "data", tmp_path / "tmp"
    home.mkdir(), scratch.mkdir()

    def files() -> dict[Path, int]:
        return {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file() and "__pycache__" not in p.parts}

    before = files()
    port = free_port()
    env = {**os.environ, "HOME": str(home), "TMPDIR": str(scratch)}
    env.pop("INCEPTIONISM_HOME", None)
    env.pop("INCEPTIONISM_DATA", None)
    server = subprocess.Popen([sys.executable, "-m", "inceptionism", "serve", "--port", str(port), "--data-dir", str(data)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        assert "studio on" in line_within(server.stderr)
        boundary = "x-boundary"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"params\"\r\n\r\n"
                '{"steps": 2, "octaves": 2, "max_size": 96}\r\n'
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"p.png\"\r\n"
                "Content-Type: image/png\r\n\r\n").encode() + small_photo.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/dreams", data=body, method="POST",
                                         headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            job_id = json.load(answer)["id"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/dreams/{job_id}/events", timeout=120) as events:
            ended = next(line for line in events if line.startswith(b"event: ") and line.split()[1] in
                         (b"done", b"failed", b"cancelled", b"removed"))  # the stream's last event
        assert ended.strip() == b"event: done", ended
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=60)
    written = [p for p, t in files().items() if before.get(p) != t]
    allowed = (data, home / ".cache" / "inceptionism")
    assert written and not [p for p in written if not any(p.is_relative_to(a) for a in allowed)], written
    assert any(p.is_relative_to(data / "jobs" / job_id) for p in written)  # it did write its job


def test_serve_refuses_a_photo_folder_and_a_data_directory_that_hold_each_other(tmp_path, small_photo):
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "a.png").write_bytes(small_photo.read_bytes())
    inside = invoke("serve", "--examples", photos, "--data-dir", photos / "studio")
    one_line(inside, 2, "is inside the photo folder")
    (tmp_path / "d" / "jobs").mkdir(parents=True)
    (tmp_path / "d" / "jobs" / "a.png").write_bytes(small_photo.read_bytes())
    one_line(invoke("serve", "--examples", tmp_path / "d" / "jobs", "--data-dir", tmp_path / "d"), 2,
             "is inside the data directory")
    assert not (photos / "studio").exists()  # refused before anything was made
