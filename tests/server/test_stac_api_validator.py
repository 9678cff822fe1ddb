"""The STAC API validator (stac-api-validator) passes for every class the server declares."""

from __future__ import annotations

import logging

import httpx
import pytest
from stac_api_validator.validations import QueryConfig, validate_api

from tests.stac_offline import offline_stac_validator

# The classes stac-api-validator can check, as it names them, and the URIs that declare them.
CLASSES = {
    "core": "https://api.stacspec.org/v1.0.0/core",
    "collections": "https://api.stacspec.org/v1.0.0/collections",
    "features": "https://api.stacspec.org/v1.0.0/ogcapi-features",
    "item-search": "https://api.stacspec.org/v1.0.0/item-search",
    "item-search#sort": "https://api.stacspec.org/v1.0.0/item-search#sort",
    "features#sort": "https://api.stacspec.org/v1.0.0/ogcapi-features#sort",
    "filter": "https://api.stacspec.org/v1.0.0-rc.2/item-search#filter",
}
EUROPE = '{"type":"Polygon","coordinates":[[[-10,35],[30,35],[30,60],[-10,60],[-10,35]]]}'


def test_every_declared_conformance_class_validates(
    base_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Given: the classes this server declares that the validator knows
    declared = httpx.get(f"{base_url}/api/stac/conformance").json()["conformsTo"]
    classes = [name for name, uri in CLASSES.items() if uri in declared]
    assert {"core", "collections", "features", "item-search", "filter"} <= set(classes)

    # When
    caplog.set_level(logging.WARNING)
    with offline_stac_validator():
        _warnings, errors = validate_api(
            root_url=f"{base_url}/api/stac",
            ccs_to_validate=classes,
            collection="ai-model",
            geometry=EUROPE,
            auth_bearer_token=None,
            auth_query_parameter=None,
            fields_nested_property=None,
            validate_pagination=True,
            query_config=QueryConfig(*[None] * 13),
            transaction_collection=None,
            headers=None,
        )

    # Then
    assert list(errors) == [], "\n".join(str(e) for e in errors)
