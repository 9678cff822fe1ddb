"""The server extension and the notebook client against an upstream-shaped SharingHub 0.4."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest

from jupyter_mlops.catalog import Catalog

from ..upstream_double import TOKEN, serve_upstream
from .conftest import Fetch, wait_ready
from .fakes import gitlab_user_api, serve


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[str, Any]]:
    with serve_upstream() as served:
        yield served


@pytest.fixture(scope="module")
def gitlab() -> Iterator[str]:
    with serve(gitlab_user_api({TOKEN: "dana"})) as (url, _):
        yield url


@pytest.fixture
def mlops_config(
    upstream: tuple[str, Any], gitlab: str, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    monkeypatch.setenv("MLOPS_TOKEN", TOKEN)
    return {"sharinghub_url": upstream[0], "gitlab_url": gitlab}


async def search(jp_fetch: Fetch, **params: str) -> dict[str, Any]:
    response = await jp_fetch("jupyter-mlops", "catalog", "search", params=params)
    result: dict[str, Any] = json.loads(response.body)
    return result


async def test_token_goes_upstream_in_x_gitlab_token_and_never_comes_back(
    jp_fetch: Fetch, upstream: tuple[str, Any]
) -> None:
    # Given
    await wait_ready(jp_fetch)
    upstream[1].state.requests.clear()

    # When
    result = await search(jp_fetch, collections="ai-model", limit="50")

    # Then: the private project is visible with the user's token...
    ids = {item["id"] for item in result["features"]}
    assert "team/secret-model" in ids
    sent = upstream[1].state.requests[-1]["headers"]
    assert sent["x-gitlab-token"] == TOKEN
    assert "authorization" not in sent
    # ... and the gitlab_token that upstream appends to download hrefs is scrubbed.
    assert TOKEN not in json.dumps(result)
    assert all("gitlab_token" not in json.dumps(item["assets"]) for item in result["features"])


async def test_several_or_no_collections_are_searched_one_by_one(jp_fetch: Fetch) -> None:
    # Given
    await wait_ready(jp_fetch)

    # When: upstream would answer 422 to two collections and nothing to none
    both = await search(jp_fetch, collections="ai-model,dataset", q="wine")
    everything = await search(jp_fetch, q="wine")

    # Then
    for result in (both, everything):
        assert {item["id"] for item in result["features"]} == {
            "team/wine-model",
            "team/wine-dataset",
        }
        assert result["numberMatched"] == 2


async def test_upstream_cursors_page_through_every_item_once(
    jp_fetch: Fetch, jp_base_url: str
) -> None:
    # Given
    await wait_ready(jp_fetch)
    page = await search(jp_fetch, collections="ai-model", limit="2")
    seen = [item["id"] for item in page["features"]]

    # When: follow the next links, which point back at our proxy with upstream's cursor
    while next_link := next((link for link in page["links"] if link["rel"] == "next"), None):
        assert next_link["href"].startswith(f"{jp_base_url}jupyter-mlops/catalog/search?")
        assert "after=" in next_link["href"]
        query = next_link["href"].partition("?")[2]
        page = await search(jp_fetch, **dict(parse_qsl(query)))
        seen += [item["id"] for item in page["features"]]

    # Then: the 6 public ai-models plus the private one, each once
    assert len(seen) == len(set(seen)) == 7


async def test_private_asset_downloads_with_the_server_side_token(
    jp_fetch: Fetch, jp_root_dir: Path
) -> None:
    # Given: the asset href as the browser sees it (scrubbed, no token)
    await wait_ready(jp_fetch)
    item = json.loads(
        (
            await jp_fetch(
                "jupyter-mlops", "catalog", "collections", "ai-model", "items", "team/secret-model"
            )
        ).body
    )
    href = item["assets"]["model.onnx"]["href"]
    assert "gitlab_token" not in href

    # When
    response = await jp_fetch(
        "jupyter-mlops",
        "downloads",
        method="POST",
        body=json.dumps({"href": href, "path": "s.onnx"}),
    )
    job = json.loads(response.body)
    for _ in range(100):
        job = json.loads((await jp_fetch("jupyter-mlops", "downloads", job["id"])).body)
        if job["status"] != "running":
            break
        await asyncio.sleep(0.05)

    # Then
    assert job["status"] == "done", job
    assert (jp_root_dir / "s.onnx").read_bytes() == b"secret"


async def test_session_names_the_gitlab_user(jp_fetch: Fetch) -> None:
    # When
    await wait_ready(jp_fetch)
    session = json.loads((await jp_fetch("jupyter-mlops", "session")).body)

    # Then
    assert session["source"] == "environment"
    assert session["username"] == "dana"
    assert session["token_required"] is True


def test_notebook_client_adapts_to_upstream(upstream: tuple[str, Any]) -> None:
    # Given
    catalog = Catalog(upstream[0], token=TOKEN)

    # When
    items = catalog.search(q="wine", limit=1)
    anonymous = Catalog(upstream[0], token="").search(collections="ai-model")

    # Then
    assert catalog.multi_collection is False
    assert {item.id for item in items} == {"team/wine-model", "team/wine-dataset"}
    assert "team/secret-model" not in {item.id for item in anonymous}
