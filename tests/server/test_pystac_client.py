"""pystac-client, the reference STAC client, works against the server."""

from __future__ import annotations

from pystac_client import Client


def test_pystac_client_searches_and_pages(base_url: str) -> None:
    # Given
    client = Client.open(f"{base_url}/api/stac")
    # When
    search = client.search(collections=["dataset"], bbox=[-66, -15, -64, -13], max_items=10)
    found = {item.id for item in search.items()}
    # Then
    assert found == {"demo/sen1floods11-bolivia"}

    # When paging with a small page size over all collections
    everything = client.search(limit=2)
    items = list(everything.items())
    assert len(items) == len({item.id for item in items}) == everything.matched()


def test_pystac_client_lists_collections_and_items(base_url: str) -> None:
    client = Client.open(f"{base_url}/api/stac")
    assert {c.id for c in client.get_collections()} >= {"ai-model", "dataset"}
    models = {item.id for item in client.get_collection("ai-model").get_items()}
    assert models == {"demo/eurosat-lulc-classifier", "demo/flood-mapping-threshold"}
