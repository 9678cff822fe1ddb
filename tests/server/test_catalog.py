"""Root catalog, conformance, collections, config and status."""

from __future__ import annotations

import httpx

CATEGORIES = ["ai-model", "dataset", "processor", "tools"]


def test_status_is_upstream_shaped(http: httpx.Client) -> None:
    # When
    response = http.get("/status")
    # Then
    assert response.status_code == 200
    assert response.json() == [{"status": "ok", "services": {}}]


def test_root_catalog_links_every_entry_point(http: httpx.Client, base_url: str) -> None:
    # When
    for path in ("/api/stac", "/api/stac/"):
        root = http.get(path).json()
        # Then
        assert root["type"] == "Catalog"
        rels = [link["rel"] for link in root["links"]]
        for rel in ("self", "root", "service-desc", "conformance", "data"):
            assert rel in rels
        methods = {link.get("method") for link in root["links"] if link["rel"] == "search"}
        assert methods == {"GET", "POST"}
        children = [link["href"] for link in root["links"] if link["rel"] == "child"]
        assert children == [f"{base_url}/api/stac/collections/{c}" for c in CATEGORIES]
        assert all(link["href"].startswith(base_url) for link in root["links"])


def test_links_follow_the_host_the_client_used(store: object, base_url: str) -> None:
    # Given the same server reached under another host name
    port = base_url.rsplit(":", 1)[1]
    # When
    root = httpx.get(f"http://localhost:{port}/api/stac").json()
    # Then
    assert root["links"][0]["href"] == f"http://localhost:{port}/api/stac"


def test_conformance_lists_item_search(http: httpx.Client) -> None:
    conforms = http.get("/api/stac/conformance").json()["conformsTo"]
    assert "https://api.stacspec.org/v1.0.0/item-search" in conforms


def test_collections_are_the_configured_categories(http: httpx.Client) -> None:
    # When
    body = http.get("/api/stac/collections").json()
    # Then
    assert [c["id"] for c in body["collections"]] == CATEGORIES
    assert body["numberMatched"] == len(CATEGORIES)
    model = http.get("/api/stac/collections/ai-model").json()
    assert model["type"] == "Collection"
    assert model["extent"]["spatial"]["bbox"] == [[-180.0, -90.0, 180.0, 90.0]]
    assert {link["rel"] for link in model["links"]} >= {"self", "root", "parent", "items"}


def test_unknown_collection_is_a_json_404(http: httpx.Client) -> None:
    # When
    response = http.get("/api/stac/collections/no-such-thing")
    # Then
    assert response.status_code == 404
    body = response.json()
    assert body["reason"] == "not_found"
    assert "no-such-thing" in body["message"]
    assert http.get("/api/stac/collections/no-such-thing/items").status_code == 404


def test_config_api_matches_upstream_shape(http: httpx.Client) -> None:
    # When
    config = http.get("/api/config/").json()
    # Then
    assert config["auth"] == "token"
    assert config["store"] is None
    assert config["gitlab"] == {"url": None}
    assert config["mlflow"] == {"type": "mlflow-sharinghub", "url": "http://mlflow.example/mlflow"}
    assert set(config["categories"]) == set(CATEGORIES)
    model = config["categories"]["ai-model"]
    assert model["gitlab_topic"] == "sharinghub:aimodel"
    assert "features" not in model
    assert model["locales"]["en"]["title"] == "AI Models"
    assert config["root"]["locales"]["en"]["title"]
    assert config["external_urls"] == []
    assert config["wizard"] == {"url": None}


def test_config_announces_what_this_server_adds_to_upstream(base_url: str) -> None:
    # When
    config = httpx.get(f"{base_url}/api/config/").json()

    # Then: clients can tell us from upstream SharingHub and drop its limits
    assert config["mlops_server"]["multi_collection"] is True
    assert config["mlops_server"]["token_paging"] is True
