"""Offline JSON schemas for STAC validators (stac-validator, stac-api-validator, pystac).

Validators download the schemas an object declares. Nothing may be downloaded here, so these
helpers answer schema URLs from pystac's bundled core schemas, the extension schemas the product
ships for publishing, and the ones kept for tests in ``tests/stac_schemas``. An unknown URL is an
error naming it, never a network call.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any
from unittest import mock

from pystac.validation import JsonSchemaSTACValidator
from pystac.validation.local_validator import get_local_schema_cache

import jupyter_mlops

EXTENSION_URL = re.compile(r"https://stac-extensions\.github\.io/([^/]+)/(v[^/]+)/schema\.json")
CORE_URL = re.compile(
    r"https://schemas\.stacspec\.org/(v[^/]+)/(?:item|collection|catalog)-spec/json-schema/"
    r"([a-z-]+\.json)#?"
)
SCHEMA_ROOTS = (
    Path(jupyter_mlops.__file__).parent / "publishing" / "schemas",
    Path(__file__).parent / "stac_schemas",
)


class SchemaNotCached(LookupError):
    """A validator asked for a schema that is not available offline."""


@cache
def offline_schema(url: str) -> dict[str, Any]:
    """The JSON schema published at ``url``, read from a local copy."""
    core = get_local_schema_cache()
    if url in core:
        return core[url]
    core_match = CORE_URL.fullmatch(url)
    if core_match:  # STAC 1.0.0 core schemas (pystac bundles only the current version's)
        path = SCHEMA_ROOTS[-1] / "stac-spec" / core_match.group(1) / core_match.group(2)
        if path.is_file():
            core_schema: dict[str, Any] = json.loads(path.read_text("utf-8"))
            return core_schema
    match = EXTENSION_URL.fullmatch(url)
    if match:
        for root in SCHEMA_ROOTS:
            path = root / match.group(1) / match.group(2) / "schema.json"
            if path.is_file():
                loaded: dict[str, Any] = json.loads(path.read_text("utf-8"))
                return loaded
    raise SchemaNotCached(f"no offline copy of the schema {url}")


@contextmanager
def offline_stac_validator() -> Iterator[None]:
    """Make stac-validator (and stac-api-validator, which runs it) read schemas offline."""
    from stac_validator import utilities

    with mock.patch.object(utilities, "_schema_cache", offline_schema):
        yield


class OfflineSTACValidator(JsonSchemaSTACValidator):
    """pystac's JSON-schema validator, reading every schema from the offline copies."""

    def _get_schema(self, schema_uri: str) -> dict[str, Any]:
        if schema_uri not in self.schema_cache:
            self.schema_cache[schema_uri] = offline_schema(schema_uri)
        return self.schema_cache[schema_uri]
