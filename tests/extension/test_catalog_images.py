"""Images of item descriptions through the proxy: ``/jupyter-mlops/catalog/image/...``.

The server runs under a JupyterHub-style prefix (``/user/alice/``) so the route is proven to be
built with the base URL, not by hand.
"""

from __future__ import annotations

import json

import httpx
import pytest
from mlops_server.demo import eurosat_legend
from tornado.httpclient import HTTPClientError

from jupyter_mlops import catalog

from .conftest import Fetch, wait_ready

SAMPLES = ("demo", "eurosat-rgb-samples")


@pytest.fixture
def jp_base_url() -> str:
    return "/user/alice/"


async def refusal(jp_fetch: Fetch, *parts: str) -> tuple[int, dict[str, str]]:
    with pytest.raises(HTTPClientError) as raised:
        await jp_fetch("jupyter-mlops", "catalog", "image", *parts)
    assert raised.value.response is not None
    return raised.value.code, json.loads(raised.value.response.body)


async def test_a_readme_image_streams_from_the_catalog(jp_fetch: Fetch) -> None:
    # Given: the embedded platform with the demo dataset whose README shows docs/classes.png
    await wait_ready(jp_fetch)

    # When
    response = await jp_fetch(
        "jupyter-mlops", "catalog", "image", *SAMPLES, "repository", "docs", "classes.png",
        params={"ref": "main"},
    )  # fmt: skip

    # Then: the exact PNG, typed, not sniffable into something else, sandboxed if opened alone
    assert response.code == 200
    assert response.body == eurosat_legend()
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]


#: Raw paths under catalog/image/ (sent as written, percent-encoding kept).
OUT_OF_BOUNDS = [
    # traversal out of the project, raw and percent-encoded
    "demo/eurosat-rgb-samples/repository/docs/%2E%2E/%2e%2e/x.png",
    "demo/%2E%2E/other/repository/a.png",
    # another host smuggled in as the project path
    "http:%2F%2Fevil.example/x/repository/a.png",
    "%2F%2Fevil.example/repository/a.png",
]


async def test_traversal_and_other_hosts_are_refused(
    jp_fetch: Fetch, jp_http_port: int, jp_base_url: str, jp_auth_header: dict[str, str]
) -> None:
    # Given
    await wait_ready(jp_fetch)
    base = f"http://localhost:{jp_http_port}{jp_base_url}jupyter-mlops/catalog/image/"

    for raw in OUT_OF_BOUNDS:
        # When
        async with httpx.AsyncClient() as client:
            response = await client.get(base + raw, headers=jp_auth_header)

        # Then
        assert response.status_code == 400, raw
        assert response.json()["reason"] == "invalid_path", raw


async def test_files_that_are_not_images_are_refused(jp_fetch: Fetch) -> None:
    # Given
    await wait_ready(jp_fetch)

    # When: the README (a real file of the project) is asked for through the image route
    code, body = await refusal(jp_fetch, *SAMPLES, "repository", "README.md")

    # Then
    assert code == 400
    assert body["reason"] == "not_an_image"
    assert "message" in body


async def test_images_over_the_size_cap_are_refused(
    jp_fetch: Fetch, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given: a cap smaller than the demo legend
    await wait_ready(jp_fetch)
    monkeypatch.setattr(catalog, "MAX_IMAGE_BYTES", len(eurosat_legend()) - 1)

    # When
    code, body = await refusal(jp_fetch, *SAMPLES, "repository", "docs", "classes.png")

    # Then
    assert code == 400
    assert body["reason"] == "too_large"


async def test_a_missing_image_is_404(jp_fetch: Fetch) -> None:
    # Given
    await wait_ready(jp_fetch)

    # When
    code, body = await refusal(jp_fetch, *SAMPLES, "repository", "docs", "missing.png")

    # Then
    assert code == 404
    assert set(body) == {"message", "reason"}
