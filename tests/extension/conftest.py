"""Fixtures for the server extension tests: a real Jupyter server (pytest-jupyter) with
jupyter-mlops enabled and authentication enforced, on an embedded platform whose data folder is
shared by the whole session (the demo store is written once)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

Fetch = Callable[..., Awaitable[Any]]


@pytest.fixture(scope="session")
def embedded_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embedded-platform")


@pytest.fixture
def mlops_config(embedded_data_dir: Path) -> dict[str, Any]:
    """The JupyterMLOps section of the server config; tests override it to change platforms."""
    return {"embedded_data_dir": str(embedded_data_dir), "embedded_start_timeout": 60.0}


@pytest.fixture
def jp_server_config(mlops_config: dict[str, Any]) -> dict[str, Any]:
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_mlops": True},
            "allow_unauthenticated_access": False,
        },
        "JupyterMLOps": mlops_config,
    }


async def wait_ready(jp_fetch: Fetch, wait_seconds: float = 60.0) -> dict[str, Any]:
    """Poll /jupyter-mlops/info until the platform left the 'starting' state."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_seconds
    while True:
        response = await jp_fetch("jupyter-mlops", "info")
        info: dict[str, Any] = json.loads(response.body)
        if info["status"] != "starting" or loop.time() > deadline:
            return info
        await asyncio.sleep(0.25)
