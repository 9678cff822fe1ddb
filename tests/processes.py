"""The real processes the tests talk to over HTTP: wait until one answers, stop it."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest


def _tail(log: Path, size: int = 4000) -> str:
    try:
        return log.read_text(errors="replace")[-size:]
    except OSError:
        return f"(no log at {log})"


def wait_http(
    url: str,
    process: subprocess.Popen[bytes],
    log: Path,
    seconds: float = 60,
    *,
    ready: Callable[[int], bool] = lambda status: status == 200,
    interval: float = 0.2,
) -> None:
    """Poll ``url`` until its status is ``ready``; fail the test with the log's end when the
    process exits first or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while True:
        if process.poll() is not None:
            pytest.fail(f"{url}: the process exited early:\n{_tail(log)}")
        try:
            if ready(httpx.get(url, timeout=2).status_code):
                return
        except httpx.TransportError:
            pass  # not listening yet, or busy starting
        if time.monotonic() > deadline:
            pytest.fail(f"{url} not ready in {seconds} s:\n{_tail(log)}")
        time.sleep(interval)


def stop(process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """Terminate, then kill what does not exit within ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
