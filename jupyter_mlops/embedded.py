"""The embedded local platform: ``mlops-server`` as a child process on loopback.

With no platform configured, JupyterLab still gets every feature: this module seeds a local
project store with the demo projects (once), starts ``mlops-server`` on a free loopback port,
waits until it answers, and stops it with the Jupyter server. The server is a separate
distribution and is only ever reached over HTTP, never imported.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import os
import secrets
import socket
import sys
import time
from pathlib import Path

import httpx

from .errors import PlatformUnavailableError

log = logging.getLogger(__name__)

SERVER_MODULE = "mlops_server"
#: File of the data folder holding the secret of the server's re-index webhook (mode 0600).
WEBHOOK_SECRET_FILE = "webhook-secret"  # noqa: S105 - a file name, not a secret


def server_installed() -> bool:
    """Whether the ``mlops-server`` distribution is importable in this environment."""
    return importlib.util.find_spec(SERVER_MODULE) is not None


def mlflow_installed() -> bool:
    """Whether MLflow is importable, so the embedded server can mount tracking under /mlflow/."""
    return importlib.util.find_spec("mlflow") is not None


def free_loopback_port() -> int:
    """Ask the OS for a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedPlatform:
    """Start, watch and stop a local ``mlops-server``.

    Parameters
    ----------
    data_dir
        Folder holding ``projects/`` (the local project store), ``index.sqlite`` and
        ``mlops-server.log``. The demo projects are written into an empty store.
    start_timeout
        Seconds to wait for the server to answer its health check.
    python
        Interpreter that runs the server; defaults to the one running Jupyter.
    """

    def __init__(
        self, data_dir: Path, start_timeout: float = 60.0, python: str = sys.executable
    ) -> None:
        self.data_dir = Path(data_dir)
        self.start_timeout = start_timeout
        self.python = python
        self.url: str | None = None
        self._process: asyncio.subprocess.Process | None = None

    @property
    def projects_dir(self) -> Path:
        return self.data_dir / "projects"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "mlops-server.log"

    @property
    def webhook_secret_file(self) -> Path:
        """The 0600 file holding the secret of the server's re-index webhook (for publish)."""
        return self.data_dir / WEBHOOK_SECRET_FILE

    def _webhook_secret(self) -> str:
        """A fresh secret for this run, readable only by the user (publishers re-index with it)."""
        secret = secrets.token_urlsafe(32)
        path = self.webhook_secret_file
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as stream:
            stream.write(secret)
        return secret

    async def start(self) -> str:
        """Seed the demo store if needed, start the server and return its base URL."""
        if not server_installed():
            raise PlatformUnavailableError(
                "No platform is configured and the embedded platform is not installed: "
                "pip install 'jupyter-mlops[embedded]', or set c.JupyterMLOps.sharinghub_url.",
                reason="embedded_not_installed",
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.projects_dir.exists() or not any(self.projects_dir.iterdir()):
            await self._seed_demo()
        port = free_loopback_port()
        url = f"http://127.0.0.1:{port}"
        db_url = f"sqlite:///{self.data_dir / 'index.sqlite'}"
        # Tracking and registry under /mlflow/ on the same port (SQLite + local artifacts).
        tracking = ["--mlflow", "--mlflow-data", str(self.data_dir / "mlflow")]
        # Publishing writes into the store, then re-indexes through the webhook route.
        env = {**os.environ, "MLOPS_WEBHOOK_SECRET": self._webhook_secret()}
        with self.log_file.open("ab") as log_stream:
            self._process = await asyncio.create_subprocess_exec(
                self.python,
                "-m",
                SERVER_MODULE,
                "serve",
                "--projects",
                str(self.projects_dir),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--db",
                db_url,
                "--exit-with-parent",
                *(tracking if mlflow_installed() else []),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_stream,
                stderr=asyncio.subprocess.STDOUT,
                env=env,
            )
        await self._wait_healthy(url)
        self.url = url
        log.info("Embedded MLOps platform ready at %s (log: %s)", url, self.log_file)
        return url

    async def _seed_demo(self) -> None:
        process = await asyncio.create_subprocess_exec(
            self.python,
            "-m",
            SERVER_MODULE,
            "demo",
            str(self.projects_dir),
            "--force",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await process.communicate()
        if process.returncode != 0:
            raise PlatformUnavailableError(
                "Could not write the demo projects of the embedded platform: "
                + output.decode(errors="replace")[-500:],
                reason="embedded_seed_failed",
            )

    async def _wait_healthy(self, url: str) -> None:
        deadline = time.monotonic() + self.start_timeout
        async with httpx.AsyncClient(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self._process is not None and self._process.returncode is not None:
                    raise PlatformUnavailableError(
                        f"The embedded platform exited with code {self._process.returncode}"
                        f" while starting; see {self.log_file}.",
                        reason="embedded_start_failed",
                    )
                with contextlib.suppress(httpx.HTTPError):
                    response = await client.get(f"{url}/status")
                    if response.status_code == 200:
                        return
                await asyncio.sleep(0.2)
        await self.stop()
        raise PlatformUnavailableError(
            f"The embedded platform did not answer within {self.start_timeout:.0f} s;"
            f" see {self.log_file}.",
            reason="embedded_start_timeout",
        )

    async def stop(self) -> None:
        """Terminate the server, killing it if it does not exit within 10 s."""
        process, self._process = self._process, None
        self.url = None
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout=10)
        except TimeoutError:
            process.kill()
            await process.wait()
