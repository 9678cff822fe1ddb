"""README front matter and the STAC item it will become, validated offline before any upload.

The front matter follows what SharingHub maps (reference §3.3): ``title``, ``license``,
``extent.spatial`` (bbox list or WKT) and ``extent.temporal``, ``keywords``, ``related``,
``assets`` rules, ``links``, and the ``mlm`` mapping with its schema declared under
``extensions`` so the catalog flattens it to ``mlm:*`` properties. The category is a GitLab
topic (``sharinghub:aimodel`` / ``sharinghub:dataset``), never front matter.

The predicted item mirrors the catalog's mapping closely enough for validation: it is checked
against the STAC item schema and the MLM schema with schemas shipped in this package, and
every error names the field of :func:`jupyter_mlops.publish` it comes from.
"""

from __future__ import annotations

import json
import mimetypes
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from importlib import resources
from pathlib import PurePosixPath
from typing import Any

import yaml

from ..errors import PublishValidationError
from .files import PlannedFile

MLM_SCHEMA = "https://stac-extensions.github.io/mlm/v1.5.2/schema.json"
#: Schemas shipped with the package: canonical URL -> path under ``schemas/``.
SHIPPED_SCHEMAS = {
    MLM_SCHEMA: "mlm/v1.5.2/schema.json",
    "https://stac-extensions.github.io/classification/v1.1.0/schema.json": (
        "classification/v1.1.0/schema.json"
    ),
    "https://stac-extensions.github.io/processing/v1.1.0/schema.json": (
        "processing/v1.1.0/schema.json"
    ),
    "https://stac-extensions.github.io/raster/v1.1.0/schema.json": "raster/v1.1.0/schema.json",
}


@dataclass(frozen=True)
class Category:
    kind: str
    collection: str
    topic: str


CATEGORIES = {
    "model": Category("model", "ai-model", "sharinghub:aimodel"),
    "dataset": Category("dataset", "dataset", "sharinghub:dataset"),
}
VISIBILITIES = ("private", "internal", "public")
#: MLM artifact types of well-known model files (``mlm:artifact_type``).
ARTIFACT_TYPES = {
    ".onnx": "onnx",
    ".pt": "torch.save",
    ".pth": "torch.save",
    ".safetensors": "safetensors.torch.save_file",
    ".keras": "tf.keras.Model.save",
    ".h5": "tf.keras.Model.save",
    ".pkl": "pickle.dump",
    ".joblib": "joblib.dump",
}
_PATH = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_SPDX = re.compile(r"^[A-Za-z0-9.+-]+$")
mimetypes.add_type("application/onnx", ".onnx")


def field_error(
    field_name: str, message: str, reason: str = "invalid_metadata"
) -> PublishValidationError:
    """A 400 whose message starts with the field, and that carries it."""
    return PublishValidationError.of(field_name, message, reason)


# -- inputs --------------------------------------------------------------------------------


def slug(name: str) -> str:
    """A GitLab project path from a display name (``My Model v2`` -> ``my-model-v2``)."""
    text = re.sub(r"[^A-Za-z0-9_.-]+", "-", name.strip()).strip("-._").lower()
    return re.sub(r"-{2,}", "-", text)


def check_path(value: str, field_name: str) -> str:
    parts = value.strip("/").split("/")
    if not value.strip("/") or not all(_PATH.match(part) for part in parts):
        raise field_error(field_name, f"{value!r} is not a valid GitLab path")
    if any(part.endswith((".git", ".atom")) for part in parts):
        raise field_error(field_name, f"{value!r} may not end in .git or .atom")
    return "/".join(parts)


def spatial(bbox: Sequence[float] | None, geometry: Any) -> tuple[Any, Any] | None:
    """``(front matter extent.spatial, shapely geometry)`` from a bbox or a geometry."""
    from shapely import geometry as shapes
    from shapely import wkt
    from shapely.errors import ShapelyError

    if bbox is not None and geometry is not None:
        raise field_error("bbox", "give either bbox or geometry, not both")
    if bbox is not None:
        try:
            box = [float(value) for value in bbox]
        except (TypeError, ValueError):
            raise field_error("bbox", "expected four numbers [west, south, east, north]") from None
        if len(box) != 4:
            raise field_error("bbox", "expected four numbers [west, south, east, north]")
        west, south, east, north = box
        if not (-180 <= west <= 180 and -180 <= east <= 180):
            raise field_error("bbox", "longitudes must be within [-180, 180]")
        if not (-90 <= south <= north <= 90):
            raise field_error("bbox", "latitudes must be within [-90, 90] with south <= north")
        if west >= east:
            raise field_error("bbox", "west must be less than east (no antimeridian crossing)")
        return box, shapes.box(west, south, east, north)
    if geometry is None:
        return None
    try:
        if isinstance(geometry, str):
            shape = wkt.loads(geometry)
        elif isinstance(geometry, Mapping):
            shape = shapes.shape(dict(geometry))
        elif hasattr(geometry, "__geo_interface__"):
            shape = shapes.shape(geometry.__geo_interface__)
        else:
            raise field_error("geometry", "expected a shapely geometry, GeoJSON or WKT")
    except (ShapelyError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise field_error("geometry", f"not a valid geometry ({error})") from None
    if shape.is_empty or not shape.is_valid:
        raise field_error("geometry", "the geometry is empty or invalid")
    west, south, east, north = shape.bounds
    if west < -180 or east > 180 or south < -90 or north > 90:
        raise field_error("geometry", "coordinates must be longitude/latitude (EPSG:4326)")
    return shape.wkt, shape


def _moment(value: Any, field_name: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise field_error(
                field_name, f"{value!r} is not an ISO 8601 date or date-time"
            ) from None
    else:
        raise field_error(field_name, "expected an ISO 8601 date-time")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def temporal(value: Any) -> list[str] | None:
    """``[start, end]`` ISO strings from a pair of dates (either may be open: None)."""
    if value is None:
        return None
    if isinstance(value, str | bytes) or not isinstance(value, Sequence) or len(value) != 2:
        raise field_error("temporal", "expected [start, end] (ISO dates; None for open)")
    start = _moment(value[0], "temporal[0]")
    end = _moment(value[1], "temporal[1]")
    if start is None and end is None:
        raise field_error("temporal", "at least one of start and end is needed")
    if start is not None and end is not None and start > end:
        raise field_error("temporal", "start is after end")
    return [_iso(start) if start else None, _iso(end) if end else None]  # type: ignore[list-item]


def strings(value: Any, field_name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise field_error(field_name, "expected a list of strings")
    result = []
    for number, entry in enumerate(value):
        if not isinstance(entry, str) or not entry.strip():
            raise field_error(f"{field_name}[{number}]", "expected a non-empty string")
        result.append(entry.strip())
    return list(dict.fromkeys(result))


def related_links(value: Any) -> dict[str, list[str]]:
    """``related`` as ``{collection: [project paths]}``."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise field_error("related", "expected a mapping {collection: project path or list}")
    result: dict[str, list[str]] = {}
    for collection, paths in value.items():
        entries = [paths] if isinstance(paths, str) else paths
        result[str(collection)] = [
            check_path(path, f"related[{collection!r}]")
            for path in strings(entries, f"related[{collection!r}]")
        ]
    return result


# -- front matter and item -----------------------------------------------------------------


def asset_rules(files: Sequence[PlannedFile], kind: str) -> list[dict[str, Any]]:
    """One front-matter asset rule per published file, with MLM roles on model artifacts."""
    rules: list[dict[str, Any]] = []
    for file in files:
        if file.path in ("README.md", ".gitattributes"):
            continue
        suffix = PurePosixPath(file.path).suffix.lower()
        name = PurePosixPath(file.path).name
        rule: dict[str, Any] = {"glob": file.path, "title": name}
        if kind == "model" and suffix in ARTIFACT_TYPES:
            rule["roles"] = ["mlm:model"]
            rule["mlm:artifact_type"] = ARTIFACT_TYPES[suffix]
        elif kind == "model" and name == "MLmodel":
            rule["roles"] = ["metadata"]
            rule["type"] = "text/x-yaml"
        rules.append(rule)
    return rules


def readme(front: Mapping[str, Any], body: str) -> str:
    header = yaml.safe_dump(dict(front), sort_keys=False, allow_unicode=True, width=100)
    return f"---\n{header}---\n\n{body.strip()}\n"


def predicted_item(
    path: str,
    category: Category,
    front: Mapping[str, Any],
    shape: Any,
    body: str,
    keywords: Sequence[str],
) -> dict[str, Any]:
    """The STAC item the catalog will build from this front matter (for validation/preview)."""
    now = datetime.now(UTC)
    properties: dict[str, Any] = {
        "title": front.get("title") or path.rsplit("/", 1)[-1],
        "description": body.strip(),
        "datetime": _iso(now),
        "keywords": list(keywords),
    }
    extent = front.get("extent") or {}
    start, end = (extent.get("temporal") or [None, None])[:2]
    properties["start_datetime"] = start or _iso(now)
    properties["end_datetime"] = end or _iso(now)
    if front.get("license"):
        properties["license"] = front["license"]
    extensions: list[str] = []
    for prefix, schema in (front.get("extensions") or {}).items():
        extensions.append(schema)
        for key, value in (front.get(prefix) or {}).items():
            properties[f"{prefix}:{key}"] = value
    assets: dict[str, Any] = {}
    for rule in front.get("assets") or []:
        asset = {k: v for k, v in rule.items() if k not in ("glob",)}
        asset["href"] = rule["glob"]
        asset.setdefault("roles", ["data"])
        guessed = mimetypes.guess_type(rule["glob"])[0]
        if guessed and "type" not in asset:
            asset["type"] = guessed
        assets[rule["glob"]] = asset
    links: list[dict[str, Any]] = [
        {"rel": "collection", "href": f"../{category.collection}", "type": "application/json"}
    ]
    links += [
        {
            "rel": "derived_from",
            "href": f"{collection}/{target}",
            "title": f"{collection}: {target}",
        }
        for collection, targets in (front.get("related") or {}).items()
        for target in targets
    ] + list(front.get("links") or [])
    item = {
        "type": "Feature",
        "stac_version": "1.1.0",
        "stac_extensions": extensions,
        "id": path,
        "collection": category.collection,
        "geometry": shape.__geo_interface__ if shape is not None else None,
        **({"bbox": list(shape.bounds)} if shape is not None else {}),
        "properties": properties,
        "links": links,
        "assets": assets,
    }
    normalised: dict[str, Any] = json.loads(json.dumps(item, default=str))  # tuples -> lists
    return normalised


# -- validation ----------------------------------------------------------------------------


def _shipped(relative: str) -> dict[str, Any]:
    text = resources.files(__package__).joinpath("schemas", *relative.split("/")).read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def offline_validator() -> Any:
    """pystac's JSON-schema validator with every schema we use preloaded; never downloads."""
    from pystac.validation.stac_validator import GetSchemaError, JsonSchemaSTACValidator

    class OfflineValidator(JsonSchemaSTACValidator):
        def _get_schema(self, schema_uri: str) -> dict[str, Any]:
            uri = schema_uri.split("#", 1)[0]
            if uri not in self.schema_cache:
                raise GetSchemaError(uri, LookupError("schema not available offline"))
            return self.schema_cache[uri]

    validator = OfflineValidator()
    for url, relative in SHIPPED_SCHEMAS.items():
        validator.schema_cache[url] = _shipped(relative)
    return validator


def _field(path: Sequence[Any]) -> str:
    """The publish() field an item JSON path comes from (``properties.mlm:input[0]`` ->
    ``mlm.input[0]``)."""
    parts = list(path)
    if len(parts) >= 2 and parts[0] == "properties" and isinstance(parts[1], str):
        key = parts[1]
        head = key.replace(":", ".", 1) if key.startswith("mlm:") else key
        mapping = {"start_datetime": "temporal", "end_datetime": "temporal"}
        head = mapping.get(head, head)
        rest = parts[2:]
    elif parts and parts[0] == "assets":
        head, rest = "files", parts[1:2]
    elif parts and parts[0] in ("geometry", "bbox"):
        head, rest = "geometry", []
    else:
        head, rest = ".".join(str(p) for p in parts[:1]) or "item", parts[1:]
    for part in rest:
        head += f"[{part}]" if isinstance(part, int) else f"[{part!r}]"
    return head


def validate_item(item: dict[str, Any]) -> list[dict[str, str]]:
    """Errors of the item against the STAC item schema and its extensions (empty if valid)."""
    from jsonschema import Draft7Validator
    from jsonschema.exceptions import best_match

    validator = offline_validator()
    core = "https://schemas.stacspec.org/v1.1.0/item-spec/json-schema/item.json"
    errors: list[dict[str, str]] = []
    for uri in [core, *item.get("stac_extensions", [])]:
        try:
            schema = validator._get_schema(uri)
        except Exception:  # an extension we cannot check offline: say so, do not guess
            errors.append({"field": "extensions", "message": f"no offline schema for {uri}"})
            continue
        checker = Draft7Validator(schema, registry=validator.registry)
        found = list(checker.iter_errors(item))
        if not found:
            continue
        best = best_match(found)
        deepest = best
        while deepest.context:
            deepest = best_match(deepest.context)
        errors.append(
            {"field": _field(deepest.absolute_path), "message": deepest.message, "schema": uri}
        )
    if any("/mlm/" in uri for uri in item.get("stac_extensions", [])):
        reported = {error["field"] for error in errors}
        errors += [e for e in stac_model_errors(item) if e["field"] not in reported]
    return errors


def stac_model_errors(item: dict[str, Any]) -> list[dict[str, str]]:
    """The item's ``mlm:`` properties checked with stac-model's own model of them.

    A second opinion next to the JSON schema: stac-model (the MLM extension's Python library)
    describes the fields as typed pydantic models, so its errors name the exact nested field.
    """
    from pydantic import ValidationError
    from stac_model.schema import MLModelProperties

    try:
        MLModelProperties.model_validate(item.get("properties", {}))
    except ValidationError as error:
        return [
            {
                "field": _field(["properties", *found["loc"]]),
                "message": found["msg"],
                "schema": "stac-model",
            }
            for found in error.errors()
        ]
    return []
