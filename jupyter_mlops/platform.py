"""Which platform this Jupyter server talks to, and whether it is ready.

Either a configured remote platform (SharingHub, MLflow, GitLab URLs; missing ones discovered
through SharingHub's ``/api/config/``) or the embedded local platform. Callers await
:meth:`Platform.endpoints` and get URLs or a :class:`PlatformUnavailableError` that says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import httpx
from jupyter_core.paths import jupyter_runtime_dir

from .config import JupyterMLOps
from .embedded import EmbeddedPlatform
from .errors import MLOpsError, PlatformUnavailableError

log = logging.getLogger(__name__)

Status = Literal["starting", "ready", "failed", "unconfigured"]


@dataclass(frozen=True)
class Endpoints:
    """Base URLs of the platform services; ``None`` for a service that does not exist."""

    sharinghub_url: str | None
    mlflow_url: str | None
    gitlab_url: str | None


def _strip(url: str | None) -> str | None:
    return url.rstrip("/") if url else None


#: Environment variable naming the platform file of the Jupyter server that started a kernel.
PLATFORM_FILE_ENV = "MLOPS_PLATFORM_FILE"


def discover_endpoints(environ: dict[str, str] | None = None) -> Endpoints:
    """The platform URLs as seen from a kernel (or any process).

    ``MLOPS_SHARINGHUB_URL`` / ``MLOPS_MLFLOW_URL`` / ``MLOPS_GITLAB_URL`` win; otherwise the
    platform file written by the Jupyter server extension (named by ``MLOPS_PLATFORM_FILE``,
    which kernels inherit) tells where the platform, embedded or not, is. It holds no secret.
    """
    env = environ if environ is not None else dict(os.environ)
    known: dict[str, Any] = {}
    path = env.get(PLATFORM_FILE_ENV)
    if path:
        with contextlib.suppress(OSError, ValueError):
            known = json.loads(Path(path).read_text())
    return Endpoints(
        _strip(env.get("MLOPS_SHARINGHUB_URL") or known.get("sharinghub_url")),
        _strip(env.get("MLOPS_MLFLOW_URL") or known.get("mlflow_url")),
        _strip(env.get("MLOPS_GITLAB_URL") or known.get("gitlab_url")),
    )


class Platform:
    """The platform behind this Jupyter server (configured or embedded)."""

    def __init__(self, config: JupyterMLOps) -> None:
        self.config = config
        self.embedded = not config.sharinghub_url and bool(config.embedded)
        self.status: Status = "starting"
        self.error: MLOpsError | None = None
        self._endpoints: Endpoints | None = None
        self._task: asyncio.Task[Endpoints] | None = None
        self._embedded: EmbeddedPlatform | None = None
        self._platform_file: Path | None = None
        self._http: httpx.AsyncClient | None = None
        self.catalog_config: dict[str, Any] = {}
        if not config.sharinghub_url and not config.embedded:
            self.status = "unconfigured"
            self.error = PlatformUnavailableError(
                "No platform is configured: set c.JupyterMLOps.sharinghub_url"
                " (or MLOPS_SHARINGHUB_URL), or enable the embedded platform.",
                reason="unconfigured",
            )

    def start(self) -> asyncio.Task[Endpoints] | None:
        """Begin connecting (idempotent). Must be called with a running event loop."""
        if self.status == "unconfigured":
            return None
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._connect())
        return self._task

    async def _connect(self) -> Endpoints:
        try:
            if self.embedded:
                self._embedded = EmbeddedPlatform(
                    Path(self.config.embedded_data_dir),
                    start_timeout=self.config.embedded_start_timeout,
                )
                endpoints = await self._discover(await self._embedded.start())
            else:
                endpoints = await self._discover(_strip(self.config.sharinghub_url))
        except MLOpsError as error:
            self.status, self.error = "failed", error
            log.error("MLOps platform unavailable: %s", error.message)
            raise
        self._endpoints, self.status = endpoints, "ready"
        self._publish(endpoints)
        return endpoints

    def _publish(self, endpoints: Endpoints) -> None:
        """Write the platform file and point kernels started from now on at it."""
        runtime = Path(jupyter_runtime_dir())
        runtime.mkdir(parents=True, exist_ok=True)
        self._platform_file = runtime / f"jupyter-mlops-{os.getpid()}.json"
        known: dict[str, Any] = asdict(endpoints)
        if self._embedded is not None:  # publish() writes local projects here (no secret)
            known["embedded_data_dir"] = str(self._embedded.data_dir)
        self._platform_file.write_text(json.dumps(known))
        os.environ[PLATFORM_FILE_ENV] = str(self._platform_file)

    async def _discover(self, sharinghub_url: str | None) -> Endpoints:
        """Complete the configured URLs with the catalog's ``/api/config/`` (no token needed)."""
        mlflow_url = _strip(self.config.mlflow_url)
        gitlab_url = _strip(self.config.gitlab_url)
        if sharinghub_url:
            # A failure only means less is known: the catalog itself is checked on first use.
            with contextlib.suppress(httpx.HTTPError, ValueError):
                async with httpx.AsyncClient(timeout=self.config.request_timeout) as client:
                    response = await client.get(f"{sharinghub_url}/api/config/")
                    response.raise_for_status()
                    remote: dict[str, Any] = response.json()
                self.catalog_config = remote
                mlflow_url = mlflow_url or _strip((remote.get("mlflow") or {}).get("url"))
                gitlab_url = gitlab_url or _strip((remote.get("gitlab") or {}).get("url"))
        return Endpoints(sharinghub_url, mlflow_url, gitlab_url)

    @property
    def multi_collection(self) -> bool:
        """Whether the catalog searches several collections at once (ours; not upstream 0.4)."""
        return bool((self.catalog_config.get("mlops_server") or {}).get("multi_collection"))

    @property
    def categories(self) -> list[str]:
        """Collection ids the catalog announced in ``/api/config/``."""
        return list(self.catalog_config.get("categories") or {})

    async def endpoints(self, wait_seconds: float | None = None) -> Endpoints:
        """Wait until the platform is ready and return its URLs."""
        if self._endpoints is not None:
            return self._endpoints
        task = self.start()
        if task is None:
            assert self.error is not None
            raise self.error
        wait = wait_seconds if wait_seconds is not None else self.config.embedded_start_timeout + 5
        try:
            return await asyncio.wait_for(asyncio.shield(task), timeout=wait)
        except TimeoutError:
            raise PlatformUnavailableError(
                "The platform is still starting; try again in a moment.", reason="starting"
            ) from None

    @property
    def known(self) -> Endpoints | None:
        """The endpoints if the platform is ready, without waiting."""
        return self._endpoints

    @property
    def http(self) -> httpx.AsyncClient:
        """The pooled HTTP client for calls to the platform (created in the running loop)."""
        if self._http is None:
            self._http = httpx.AsyncClient(
                timeout=self.config.request_timeout, follow_redirects=False
            )
        return self._http

    def describe(self) -> dict[str, Any]:
        """A JSON-able summary for ``/jupyter-mlops/info`` (no secrets)."""
        endpoints = self._endpoints or Endpoints(None, None, None)
        summary: dict[str, Any] = {
            "embedded": self.embedded,
            "status": self.status,
            "sharinghub_url": endpoints.sharinghub_url,
            "mlflow_url": endpoints.mlflow_url,
            "gitlab_url": endpoints.gitlab_url,
        }
        if self.error is not None:
            summary["message"] = self.error.message
            summary["reason"] = self.error.reason
        return summary

    async def stop(self) -> None:
        """Stop the embedded platform, if any."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, MLOpsError):
                await self._task
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        if self._embedded is not None:
            await self._embedded.stop()
        if self._platform_file is not None:
            self._platform_file.unlink(missing_ok=True)
            if os.environ.get(PLATFORM_FILE_ENV) == str(self._platform_file):
                del os.environ[PLATFORM_FILE_ENV]
