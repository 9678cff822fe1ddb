"""The server extension against the real embedded platform (a child mlops-server over HTTP)."""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from tornado.httpclient import HTTPClientError

from jupyter_mlops import __version__

from .conftest import Fetch, wait_ready

BOLIVIA = "-66.5,-15.5,-63.5,-12.5"


async def search(jp_fetch: Fetch, **params: str) -> dict[str, Any]:
    response = await jp_fetch("jupyter-mlops", "catalog", "search", params=params)
    assert response.code == 200
    result: dict[str, Any] = json.loads(response.body)
    return result


async def test_info_describes_a_ready_embedded_platform(jp_fetch: Fetch) -> None:
    # When
    info = await wait_ready(jp_fetch)

    # Then
    assert info["status"] == "ready", info
    assert info["version"] == __version__
    assert info["embedded"] is True
    assert info["gitlab_url"] is None
    url = urlsplit(info["sharinghub_url"])
    # MLflow is mounted under /mlflow/ on the same loopback server.
    assert info["mlflow_url"] == f"{info['sharinghub_url']}/mlflow"
    assert url.hostname == "127.0.0.1"
    # The URL is a live mlops-server on loopback.
    async with httpx.AsyncClient() as client:
        root = (await client.get(f"{info['sharinghub_url']}/api/stac")).json()
    assert root["type"] == "Catalog"


async def test_info_flags_a_frontend_of_another_version(jp_fetch: Fetch) -> None:
    # When
    response = await jp_fetch("jupyter-mlops", "info", params={"version": "0.0.0-old"})

    # Then
    body = json.loads(response.body)
    assert "0.0.0-old" in body["version_mismatch"]
    assert "token" not in json.dumps(body).lower()


async def test_search_returns_demo_items_through_the_proxy(jp_fetch: Fetch) -> None:
    # Given
    await wait_ready(jp_fetch)

    # When
    models = await search(jp_fetch, collections="ai-model")
    datasets = await search(jp_fetch, collections="dataset")

    # Then
    model_ids = {item["id"] for item in models["features"]}
    dataset_ids = {item["id"] for item in datasets["features"]}
    assert "demo/eurosat-lulc-classifier" in model_ids
    assert "demo/sen1floods11-bolivia" in dataset_ids
    assert all(item["collection"] == "ai-model" for item in models["features"])
    assert all(item["geometry"] for item in models["features"] + datasets["features"])


async def test_bbox_search_finds_only_items_over_the_area(jp_fetch: Fetch) -> None:
    # Given
    await wait_ready(jp_fetch)

    # When
    result = await search(jp_fetch, bbox=BOLIVIA)

    # Then
    ids = {item["id"] for item in result["features"]}
    assert "demo/sen1floods11-bolivia" in ids
    assert "demo/eurosat-lulc-classifier" not in ids


async def test_paging_links_point_back_at_the_proxy(jp_fetch: Fetch, jp_base_url: str) -> None:
    # Given
    await wait_ready(jp_fetch)
    first = await search(jp_fetch, limit="1")
    next_link = next(link for link in first["links"] if link["rel"] == "next")

    # Then: the browser follows it on its own Jupyter server, never on the platform.
    assert next_link["href"].startswith(f"{jp_base_url}jupyter-mlops/catalog/search?")
    assert "127.0.0.1" not in next_link["href"]

    # When
    _, _, query = next_link["href"].partition("?")
    params = dict(parse_qsl(query))
    second = await jp_fetch("jupyter-mlops", "catalog", "search", params=params)

    # Then
    page = json.loads(second.body)
    assert page["features"][0]["id"] != first["features"][0]["id"]


async def test_unknown_search_parameter_is_a_clear_400(jp_fetch: Fetch) -> None:
    # Given
    await wait_ready(jp_fetch)

    # When
    with pytest.raises(HTTPClientError) as raised:
        await jp_fetch("jupyter-mlops", "catalog", "search", params={"url": "http://evil"})

    # Then
    assert raised.value.code == 400
    body = json.loads(raised.value.response.body)
    assert body["reason"] == "unknown_parameter"
    assert "url" in body["message"]


async def test_invalid_bbox_is_reported_from_the_catalog(jp_fetch: Fetch) -> None:
    # Given
    await wait_ready(jp_fetch)

    # When
    with pytest.raises(HTTPClientError) as raised:
        await jp_fetch("jupyter-mlops", "catalog", "search", params={"bbox": "1,2,3"})

    # Then
    assert raised.value.code == 400
    assert "bbox" in json.loads(raised.value.response.body)["message"]


@pytest.mark.parametrize("route", [("info",), ("catalog", "search")])
async def test_routes_refuse_unauthenticated_requests(
    jp_fetch: Fetch, jp_base_url: str, jp_http_port: int, route: tuple[str, ...]
) -> None:
    # Given: a request without the server token
    url = f"http://localhost:{jp_http_port}{jp_base_url}jupyter-mlops/{'/'.join(route)}"

    # When
    async with httpx.AsyncClient() as client:
        response = await client.get(url)

    # Then
    assert response.status_code == 403


async def test_jupyterlab_cache_buster_is_ignored(jp_fetch: Fetch) -> None:
    # Given: ServerConnection appends a bare "?<timestamp>" to GET requests
    await wait_ready(jp_fetch)

    # When
    response = await jp_fetch("jupyter-mlops", "catalog", "search", params={"1795806147211": ""})

    # Then
    assert response.code == 200
    assert json.loads(response.body)["features"]


async def test_item_collections_check_and_config_routes(jp_fetch: Fetch) -> None:
    # Given
    await wait_ready(jp_fetch)

    # When
    item = await jp_fetch(
        "jupyter-mlops",
        "catalog",
        "collections",
        "ai-model",
        "items",
        "demo/eurosat-lulc-classifier",
    )
    collections = await jp_fetch("jupyter-mlops", "catalog", "collections")
    check = await jp_fetch("jupyter-mlops", "catalog", "check", "demo/sen1floods11-bolivia")
    config = await jp_fetch("jupyter-mlops", "catalog", "config")

    # Then
    feature = json.loads(item.body)
    assert feature["id"] == "demo/eurosat-lulc-classifier"
    assert feature["properties"]["mlm:framework"] == "onnx"
    assert {c["id"] for c in json.loads(collections.body)["collections"]} >= {"ai-model", "dataset"}
    access = json.loads(check.body)
    assert access["path"] == "demo/sen1floods11-bolivia"
    assert access["categories"] == ["dataset"]
    assert "categories" in json.loads(config.body)


async def test_item_route_refuses_path_traversal(jp_fetch: Fetch) -> None:
    # Given
    await wait_ready(jp_fetch)

    # When
    with pytest.raises(HTTPClientError) as raised:
        await jp_fetch(
            "jupyter-mlops", "catalog", "collections", "ai-model", "items", "demo/%2E%2E/x"
        )

    # Then
    assert raised.value.code in (400, 404)


async def test_unknown_item_is_404(jp_fetch: Fetch) -> None:
    # Given
    await wait_ready(jp_fetch)

    # When
    with pytest.raises(HTTPClientError) as raised:
        await jp_fetch("jupyter-mlops", "catalog", "collections", "dataset", "items", "demo/none")

    # Then
    assert raised.value.code == 404
    assert json.loads(raised.value.response.body)["reason"] == "not_found"


async def test_the_jupyter_token_in_the_query_is_not_forwarded(
    jp_fetch: Fetch, jp_serverapp: Any
) -> None:
    # Given: a client authenticating with "?token=<Jupyter server token>"
    await wait_ready(jp_fetch)
    jupyter_token = jp_serverapp.identity_provider.token

    # When
    result = await search(jp_fetch, token=jupyter_token, collections="dataset")

    # Then: it was not taken for a STAC paging token (which would be a 400 upstream)
    assert {item["collection"] for item in result["features"]} == {"dataset"}


async def test_the_platform_file_tells_kernels_where_the_platform_is(jp_fetch: Fetch) -> None:
    # When
    info = await wait_ready(jp_fetch)

    # Then: kernels started from now on inherit MLOPS_PLATFORM_FILE; it holds URLs only
    from jupyter_mlops.platform import discover_endpoints

    endpoints = discover_endpoints({"MLOPS_PLATFORM_FILE": os.environ["MLOPS_PLATFORM_FILE"]})
    assert endpoints.sharinghub_url == info["sharinghub_url"]
    with open(os.environ["MLOPS_PLATFORM_FILE"]) as stream:  # noqa: ASYNC230 - tiny file
        written = json.load(stream)
    assert set(written) == {
        "sharinghub_url",
        "mlflow_url",
        "gitlab_url",
        "embedded_data_dir",  # where publish() writes local projects: a folder, no secret
    }
