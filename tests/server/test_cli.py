"""The command line: the demo store writer."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import httpx

RunCli = Callable[..., CompletedProcess[str]]


def test_demo_refuses_to_overwrite_without_force(tmp_path: Path, run_cli: RunCli) -> None:
    # Given a store that already holds something
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("keep")
    # When
    refused = run_cli("demo", str(tmp_path))
    # Then
    assert refused.returncode == 2
    assert "--force" in refused.stderr
    assert not (tmp_path / "demo").exists()

    # When forced
    forced = run_cli("demo", str(tmp_path), "--force")
    # Then the demo projects are written and the rest is kept
    assert forced.returncode == 0, forced.stderr
    assert (tmp_path / "demo" / "eurosat-lulc-classifier" / "mlops-project.yaml").is_file()
    assert (tmp_path / "mine" / "keep.txt").read_text() == "keep"


def test_serve_refuses_a_missing_store(tmp_path: Path, run_cli: RunCli) -> None:
    result = run_cli("serve", "--projects", str(tmp_path / "absent"))
    assert result.returncode == 2
    assert "not found" in result.stderr


def test_serve_exits_when_its_parent_dies(tmp_path: Path, run_cli: RunCli) -> None:
    # Given a server started with --exit-with-parent by a shell that we then kill
    assert run_cli("demo", str(tmp_path / "store")).returncode == 0
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = (
        f"'{sys.executable}' -m mlops_server serve --projects '{tmp_path / 'store'}' "
        f"--port {port} --exit-with-parent >/dev/null 2>&1 & echo $!; sleep 60"
    )
    parent = subprocess.Popen(["/bin/sh", "-c", command], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/status", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    # When
    parent.kill()
    parent.wait()
    # Then the server process goes away by itself
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.1)
    alive = _alive(child)
    if alive:
        os.kill(child, signal.SIGKILL)
    assert not alive


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by init) counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
