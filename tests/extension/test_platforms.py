"""Other platform set-ups: a configured remote catalog, nothing at all, and the lifecycle of the
embedded child process."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
from tornado.httpclient import HTTPClientError

from jupyter_mlops.embedded import EmbeddedPlatform, free_loopback_port

from .conftest import Fetch, wait_ready


class TestConfiguredPlatform:
    @pytest.fixture
    def mlops_config(self, remote_catalog: str) -> dict[str, Any]:
        return {"sharinghub_url": remote_catalog + "/"}

    async def test_info_shows_the_configured_and_discovered_urls(
        self, jp_fetch: Fetch, remote_catalog: str
    ) -> None:
        # When
        info = await wait_ready(jp_fetch)

        # Then: mlflow_url was discovered through the catalog's /api/config/
        assert info["embedded"] is False
        assert info["sharinghub_url"] == remote_catalog
        assert info["mlflow_url"] == "http://mlflow.invalid/mlflow"

    async def test_search_goes_to_the_configured_catalog(self, jp_fetch: Fetch) -> None:
        # When
        response = await jp_fetch(
            "jupyter-mlops", "catalog", "search", params={"q": "eurosat", "limit": "50"}
        )

        # Then
        ids = {item["id"] for item in json.loads(response.body)["features"]}
        assert "demo/eurosat-lulc-classifier" in ids
        assert "demo/sen1floods11-bolivia" not in ids


class TestNoPlatform:
    @pytest.fixture
    def mlops_config(self) -> dict[str, Any]:
        return {"embedded": False}

    async def test_info_says_unconfigured(self, jp_fetch: Fetch) -> None:
        # When
        info = await wait_ready(jp_fetch)

        # Then
        assert info["status"] == "unconfigured"
        assert "sharinghub_url" in info["message"]

    async def test_search_is_503_with_the_reason(self, jp_fetch: Fetch) -> None:
        # When
        with pytest.raises(HTTPClientError) as raised:
            await jp_fetch("jupyter-mlops", "catalog", "search")

        # Then
        assert raised.value.code == 503
        assert json.loads(raised.value.response.body)["reason"] == "unconfigured"


class TestUnreachablePlatform:
    @pytest.fixture
    def mlops_config(self) -> dict[str, Any]:
        return {"sharinghub_url": f"http://127.0.0.1:{free_loopback_port()}"}

    async def test_search_is_502_naming_the_catalog(self, jp_fetch: Fetch) -> None:
        # When
        with pytest.raises(HTTPClientError) as raised:
            await jp_fetch("jupyter-mlops", "catalog", "search")

        # Then
        assert raised.value.code == 502
        body = json.loads(raised.value.response.body)
        assert body["reason"] == "unreachable"
        assert "Could not reach the catalog" in body["message"]


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


async def test_embedded_platform_starts_seeds_and_stops(tmp_path: Path) -> None:
    # Given
    platform = EmbeddedPlatform(tmp_path / "data", start_timeout=60)

    # When
    url = await platform.start()

    # Then: the demo store was written and the server answers on loopback
    assert (tmp_path / "data" / "projects" / "demo").is_dir()
    port = int(url.rsplit(":", 1)[1])
    assert _port_open(port)
    async with httpx.AsyncClient() as client:
        collections = (await client.get(f"{url}/api/stac/collections")).json()
    assert {"ai-model", "dataset"} <= {c["id"] for c in collections["collections"]}

    # When
    await platform.stop()

    # Then
    assert not _port_open(port)
    assert platform.url is None


async def test_embedded_platform_reports_a_server_that_cannot_start(tmp_path: Path) -> None:
    # Given: an interpreter that exits at once instead of serving
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\nexit 3\n")
    fake.chmod(0o755)
    (tmp_path / "data" / "projects" / "x").mkdir(parents=True)
    platform = EmbeddedPlatform(tmp_path / "data", start_timeout=10, python=str(fake))

    # When
    from jupyter_mlops.errors import PlatformUnavailableError

    with pytest.raises(PlatformUnavailableError) as raised:
        await platform.start()

    # Then
    assert raised.value.reason == "embedded_start_failed"
    assert "mlops-server.log" in raised.value.message
