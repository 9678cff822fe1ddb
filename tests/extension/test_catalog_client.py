"""Plain-Python parts of the catalog client."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from jupyter_mlops.catalog import (
    Catalog,
    dumps,
    loads_scrubbed,
    relink_pages,
    scrub_document,
    scrub_href,
)
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


def test_urls_inside_descriptions_lose_their_credentials_too() -> None:
    # Given: upstream's full-mode description, whose README images carry the token
    body = (
        '{"properties": {"description": "# M\\n![Logo](https://sh/api/download/g/p/repository/'
        'logo.png?ref=main&cache=300&gitlab_token=glpat-SECRET) <img src=\\"https://sh/x.png?'
        'GITLAB_TOKEN=glpat-SECRET&ref=main\\"> mention ?gitlab_token=text"},'
        ' "keywords": ["https://sh/k?private_token=glpat-SECRET"]}'
    )

    # When parsed by the proxy's fast path and walked by the client's
    for clean in (loads_scrubbed(body.encode()), scrub_document(json.loads(body))):
        # Then no secret is left, the rest of each URL and the prose are
        text = json.dumps(clean)
        assert "SECRET" not in text
        description = clean["properties"]["description"]
        assert "repository/logo.png?ref=main&cache=300)" in description
        assert '<img src="https://sh/x.png?ref=main">' in description
        assert description.endswith("mention ?gitlab_token=text")
        assert clean["keywords"] == ["https://sh/k"]


@pytest.mark.parametrize(
    "query",
    [
        "gitlab_token=SECRET",
        "GITLAB_TOKEN=SECRET",  # keys are matched in any case
        "gitlab%5Ftoken=SECRET",  # percent-escaped key
        "%70rivate_token=SECRET",
        "gitlab_to\u212aen=SECRET",  # Kelvin sign: lowercases to an ASCII k
    ],
)
def test_scrub_href_removes_escaped_forms_of_credential_keys(query: str) -> None:
    # Given: a key that only decodes (and lowercases) to a credential parameter
    href = f"https://sh/api/download/g/p/repository/a.csv?ref=main&{query}"

    # When
    clean = scrub_href(href)

    # Then
    assert "SECRET" not in clean
    assert clean == "https://sh/api/download/g/p/repository/a.csv?ref=main"


@pytest.mark.parametrize(
    "href",
    [
        "https://sh/x?gitlab_token=SECRET&ref=main",
        "https://sh/x?ref=main&Access_Token=SECRET",
        "https://sh/x?gitlab%5ftoken=SECRET&ref=main",
        "https://sh/x?token_secret=SECRET&ref=main",
        "https://sh/x?gitlab_to\u212aen=SECRET&ref=main",
    ],
)
def test_loads_scrubbed_scrubs_every_href_at_any_depth(href: str) -> None:
    # Given: a catalog body with a credential in hrefs deep in lists and objects, once written
    # plainly and once with JSON \\u escapes for every character of the href
    plain = json.dumps(
        {"features": [[1, {"assets": {"a": {"href": href}}}]], "links": [{"href": href}]},
        ensure_ascii=False,
    ).encode()
    escaped = plain.replace(
        json.dumps(href, ensure_ascii=False).encode(),
        ('"' + "".join(f"\\u{ord(ch):04x}" for ch in href) + '"').encode(),
    )
    assert b"SECRET" in plain
    assert b"\\u" in escaped

    for body in (plain, escaped):
        # When
        document = loads_scrubbed(body)

        # Then: no credential left, the rest kept, the same as the reference scrubber
        assert b"SECRET" not in dumps(document)
        assert document["links"][0]["href"] == "https://sh/x?ref=main"
        assert document["features"][0][1]["assets"]["a"]["href"] == "https://sh/x?ref=main"
        assert document == scrub_document(json.loads(body))


def test_loads_scrubbed_keeps_a_clean_body_as_it_is() -> None:
    # Given: an ordinary search page (a harmless query, escapes, non-ASCII prose)
    document = {
        "type": "FeatureCollection",
        "features": [
            {
                "id": "demo/caf\u00e9",
                "properties": {"title": "Inondations \u00e0 Trinidad", "n": 1.5},
                "assets": {"a": {"href": "https://sh/api/download/demo%2Fx/a.csv?ref=main"}},
            }
        ],
        "numberMatched": 1,
    }

    # When
    parsed = loads_scrubbed(json.dumps(document, ensure_ascii=False).encode())

    # Then
    assert parsed == document
    assert json.loads(dumps(parsed)) == document


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
