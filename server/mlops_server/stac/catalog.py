"""The STAC root catalog, conformance classes and collections (one per category)."""

from __future__ import annotations

from typing import Any

from mlops_server.settings import Category, Settings
from mlops_server.stac.hrefs import absolutize_document, collection_href
from mlops_server.stac.items import STAC_VERSION

CONFORMANCE = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/collections",
    "https://api.stacspec.org/v1.0.0/ogcapi-features",
    "https://api.stacspec.org/v1.0.0/ogcapi-features#sort",
    "https://api.stacspec.org/v1.0.0-rc.1/ogcapi-features#free-text",
    "https://api.stacspec.org/v1.0.0/item-search",
    "https://api.stacspec.org/v1.0.0/item-search#sort",
    "https://api.stacspec.org/v1.0.0-rc.1/item-search#free-text",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "https://api.stacspec.org/v1.0.0-rc.2/item-search#filter",
    "https://api.stacspec.org/v1.0.0-rc.2/ogcapi-features#filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/array-functions",
]

ROOT = "/api/stac"
OPENAPI_MEDIA_TYPE = "application/vnd.oai.openapi+json;version=3.1"


def root_catalog(settings: Settings, base_url: str) -> dict[str, Any]:
    links: list[dict[str, Any]] = [
        {"rel": "self", "type": "application/json", "href": ROOT},
        {"rel": "root", "type": "application/json", "href": ROOT},
        {
            "rel": "service-desc",
            "type": OPENAPI_MEDIA_TYPE,
            "title": "OpenAPI definition",
            "href": "/openapi.json",
        },
        {"rel": "service-doc", "type": "text/html", "href": "/api/docs"},
        {"rel": "conformance", "type": "application/json", "href": f"{ROOT}/conformance"},
        {"rel": "data", "type": "application/json", "href": f"{ROOT}/collections"},
        {
            "rel": "search",
            "type": "application/geo+json",
            "href": f"{ROOT}/search",
            "method": "GET",
        },
        {
            "rel": "search",
            "type": "application/geo+json",
            "href": f"{ROOT}/search",
            "method": "POST",
        },
        {
            "rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
            "type": "application/schema+json",
            "title": "Queryables of the filter extension",
            "href": f"{ROOT}/queryables",
        },
    ]
    for category in settings.categories:
        links.append(
            {
                "rel": "child",
                "type": "application/json",
                "title": category.title,
                "href": collection_href(category.id),
            }
        )
    catalog = {
        "stac_version": STAC_VERSION,
        "type": "Catalog",
        "id": settings.root.id,
        "title": settings.root.title,
        "description": settings.root.description,
        "conformsTo": CONFORMANCE,
        "links": links,
    }
    return absolutize_document(catalog, base_url)


def collection(category: Category, base_url: str) -> dict[str, Any]:
    href = collection_href(category.id)
    document = {
        "stac_version": STAC_VERSION,
        "stac_extensions": [],
        "type": "Collection",
        "id": category.id,
        "title": category.title,
        "description": category.description
        or f"STAC {category.title} generated from this platform's projects.",
        "keywords": [category.id],
        "license": "other",
        "providers": [],
        "extent": {
            "spatial": {"bbox": [[-180.0, -90.0, 180.0, 90.0]]},
            "temporal": {"interval": [[None, None]]},
        },
        "links": [
            {"rel": "self", "type": "application/json", "href": href},
            {"rel": "parent", "type": "application/json", "href": ROOT},
            {"rel": "root", "type": "application/json", "href": ROOT},
            {"rel": "items", "type": "application/geo+json", "href": f"{href}/items"},
        ],
    }
    return absolutize_document(document, base_url)


def collections(settings: Settings, base_url: str) -> dict[str, Any]:
    documents = [collection(c, base_url) for c in settings.categories]
    count = len(documents)
    return absolutize_document(
        {
            "collections": documents,
            "links": [
                {"rel": "self", "type": "application/json", "href": f"{ROOT}/collections"},
                {"rel": "root", "type": "application/json", "href": ROOT},
            ],
            "context": {"limit": count, "matched": count, "returned": count},
            "numberMatched": count,
            "numberReturned": count,
        },
        base_url,
    )
