"""Plain-Python parts of the catalog client."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from jupyter_mlops.catalog import Catalog, relink_pages, scrub_document, scrub_href
from jupyter_mlops.errors import NotFoundError


def test_scrub_href_removes_credentials_and_keeps_the_rest() -> None:
    # Given: an upstream SharingHub download href carrying the user's token
    href = "https://sh/api/download/g/p/repository/a.csv?ref=main&gitlab_token=glpat-SECRET"

    # When
    clean = scrub_href(href)

    # Then
    assert "SECRET" not in clean
    assert clean == "https://sh/api/download/g/p/repository/a.csv?ref=main"


def test_scrub_document_walks_links_and_assets() -> None:
    # Given
    document = {
        "features": [
            {
                "links": [{"rel": "self", "href": "https://sh/x?gitlab_token=t1"}],
                "assets": {"a": {"href": "https://sh/y?private_token=t2&ref=main"}},
                "properties": {"description": "keep ?gitlab_token=text in prose"},
            }
        ]
    }

    # When
    clean = scrub_document(document)

    # Then
    feature = clean["features"][0]
    assert feature["links"][0]["href"] == "https://sh/x"
    assert feature["assets"]["a"]["href"] == "https://sh/y?ref=main"
    assert feature["properties"]["description"] == "keep ?gitlab_token=text in prose"


def test_relink_pages_only_rewrites_links_to_the_upstream_search() -> None:
    # Given
    document = {
        "links": [
            {"rel": "next", "href": "http://127.0.0.1:9/api/stac/search?limit=1&token=abc"},
            {"rel": "root", "href": "http://127.0.0.1:9/api/stac"},
            {"rel": "next", "href": "http://elsewhere/api/stac/search?token=x"},
        ]
    }

    # When
    relink_pages(document, "http://127.0.0.1:9/api/stac/search", "/user/a/jupyter-mlops/s")

    # Then
    links = document["links"]
    assert links[0]["href"] == "/user/a/jupyter-mlops/s?limit=1&token=abc"
    assert links[1]["href"] == "http://127.0.0.1:9/api/stac"
    assert links[2]["href"] == "http://elsewhere/api/stac/search?token=x"


# The notebook-facing client, against a real mlops-server over HTTP.


def test_catalog_search_follows_pages_and_filters(remote_catalog: str) -> None:
    # Given
    catalog = Catalog(remote_catalog, token="")

    # When: a page size of 1 forces pystac-client to follow "next" links
    items = catalog.search(collections=["ai-model", "dataset"], limit=1)
    bolivia = catalog.search(bbox=[-66.5, -15.5, -63.5, -12.5])

    # Then
    assert len(items) == 4
    assert "demo/sen1floods11-bolivia" in {item.id for item in bolivia}
    assert "demo/eurosat-lulc-classifier" not in {item.id for item in bolivia}
    assert catalog.multi_collection is True


def test_catalog_searches_one_collection_at_a_time_for_upstream(remote_catalog: str) -> None:
    # Given: a client told the server is upstream SharingHub (one collection per search)
    catalog = Catalog(remote_catalog, token="", multi_collection=False)

    # When: no collections means every category, one request each
    items = catalog.search(q="flood")

    # Then
    assert {item.id for item in items} == {
        "demo/sen1floods11-bolivia",
        "demo/flood-mapping-threshold",
    }
    assert {item.collection_id for item in items} == {"dataset", "ai-model"}


def test_catalog_opens_checks_and_downloads(remote_catalog: str, tmp_path: Path) -> None:
    # Given
    catalog = Catalog(remote_catalog, token="")

    # When
    item = catalog.item("demo/eurosat-lulc-classifier")
    access = catalog.check("demo/eurosat-lulc-classifier")
    asset = next(key for key in item.assets if key.endswith(".onnx"))
    path = catalog.download(item, asset, to=tmp_path / "models", progress=False)

    # Then
    assert item.properties["mlm:framework"] == "onnx"
    assert access["access_level"] == 2
    assert path.read_bytes()[:2] != b""
    assert path.stat().st_size == len(httpx.get(item.assets[asset].href).content)


def test_catalog_names_a_missing_asset(remote_catalog: str) -> None:
    # Given
    catalog = Catalog(remote_catalog, token="")

    # When
    with pytest.raises(NotFoundError) as raised:
        catalog.download("demo/eurosat-lulc-classifier", "nope.bin")

    # Then
    assert "nope.bin" in raised.value.message


def test_catalog_finds_the_platform_from_the_platform_file(
    remote_catalog: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given: what the server extension writes for its kernels
    platform_file = tmp_path / "platform.json"
    platform_file.write_text(json.dumps({"sharinghub_url": remote_catalog, "mlflow_url": None}))
    monkeypatch.delenv("MLOPS_SHARINGHUB_URL", raising=False)
    monkeypatch.setenv("MLOPS_PLATFORM_FILE", str(platform_file))

    # When
    catalog = Catalog(token="")

    # Then
    assert catalog.url == remote_catalog
    assert len(catalog.search(collections="dataset")) == 2
