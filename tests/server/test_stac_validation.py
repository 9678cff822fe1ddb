"""Every item and collection the server serves validates with pystac, schemas read offline."""

from __future__ import annotations

import httpx
import pystac

from tests.stac_offline import OfflineSTACValidator


def test_every_item_and_collection_validates_with_pystac(http: httpx.Client) -> None:
    # Given: every visible item (full mode), and every collection
    items = http.get("/api/stac/search", params={"limit": 100}).json()["features"]
    collections = http.get("/api/stac/collections").json()["collections"]
    assert len(items) >= 4
    assert {"ai-model", "dataset"} <= {c["id"] for c in collections}
    validator = OfflineSTACValidator()

    # When / Then: validate() raises STACValidationError naming the failing schema
    checked: set[str] = set()
    for document in items:
        item = pystac.Item.from_dict(document)
        checked.update(item.validate(validator=validator))
    for document in collections:
        pystac.Collection.from_dict(document).validate(validator=validator)

    # And the extension schemas were really applied, not only the core one
    assert "https://stac-extensions.github.io/mlm/v1.5.2/schema.json" in checked
    assert "https://stac-extensions.github.io/scientific/v1.0.0/schema.json" in checked
