"""Project -> STAC item mapping, following upstream SharingHub's rules for a local store.

``build_item`` makes the collection-independent part of an item once, at indexing time, with
server-relative hrefs. ``render_item`` adds what depends on the request (the collection asked
for, its feature flags, absolute hrefs) when the item is served.
"""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import shapely
import shapely.geometry
import shapely.wkt
from shapely.geometry.base import BaseGeometry

from mlops_server.frontmatter import parse_readme
from mlops_server.settings import Category, Settings
from mlops_server.sources.base import Project
from mlops_server.stac.hrefs import (
    absolutize_document,
    absolutize_text,
    collection_href,
    download_href,
    item_href,
    resolve_href,
    rewrite_images,
)

STAC_VERSION = "1.0.0"

# Keys of the front matter that the mapping interprets; all others pass into properties.
_SPECIAL_KEYS = {
    "preview",
    "license",
    "license-url",
    "extent",
    "providers",
    "links",
    "related",
    "assets",
    "extensions",
    "sharinghub",
}

_MEDIA_TYPES = {
    "text": "text/plain",
    "json": "application/json",
    "xml": "application/xml",
    "yaml": "text/x-yaml",
    "zip": "application/zip",
    "geotiff": "image/tiff; application=geotiff",
    "cog": "image/tiff; application=geotiff; profile=cloud-optimized",
    "geojson": "application/geo+json",
    "compose": "text/x-yaml; application=compose",
    "notebook": "application/x-ipynb+json",
}

_MIME = mimetypes.MimeTypes()
for _ext, _type in {
    ".onnx": "application/onnx",
    ".geojson": "application/geo+json",
    ".ipynb": "application/x-ipynb+json",
    ".parquet": "application/vnd.apache.parquet",
    ".yaml": "text/x-yaml",
    ".yml": "text/x-yaml",
    ".md": "text/markdown",
    ".tif": "image/tiff; application=geotiff",
    ".tiff": "image/tiff; application=geotiff",
}.items():
    _MIME.add_type(_type, _ext)

_PREVIEW_IMAGE = re.compile(r"!\[\s*preview\s*\]\(\s*([^)\s]+)[^)]*\)", re.IGNORECASE)
_PREVIEW_FILES = ("preview.png", "preview.jpg", "preview.jpeg")

# DOIs cited in a README: Markdown links to doi.org first, else the first bare doi.org URL.
_DOI = r"https?://(?:dx\.)?doi\.org/(10\.\d{4,9}/[^\s<>\"'()\[\]]+(?:\([^\s()]*\))?)"
_DOI_LINK = re.compile(r"\[([^\]]*)\]\(\s*<?" + _DOI + r">?(?:\s+\"[^\"]*\")?\s*\)", re.I)
_DOI_URL = re.compile(_DOI, re.I)
_DOI_PREFIX = re.compile(r"^\s*doi\s*:\s*", re.I)
SCIENTIFIC_SCHEMA = "https://stac-extensions.github.io/scientific/v1.0.0/schema.json"


@dataclass
class BuiltItem:
    """A project's item plus the values the index searches on."""

    item: dict[str, Any]
    title: str
    text: str
    bbox: tuple[float, float, float, float] | None
    start: datetime
    end: datetime
    created: datetime
    updated: datetime
    datetime: datetime
    warnings: list[str] = field(default_factory=list)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _to_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        moment = datetime.fromisoformat(value.strip())
    else:
        raise ValueError(f"not a date-time: {value!r}")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _jsonable(value: Any) -> Any:
    """YAML may give dates and odd keys; STAC JSON wants strings."""
    if isinstance(value, datetime):
        return _iso(value if value.tzinfo else value.replace(tzinfo=UTC))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def media_type(path: str) -> str | None:
    guessed, _ = _MIME.guess_type(path, strict=False)
    return guessed


class _Builder:
    def __init__(self, project: Project, settings: Settings) -> None:
        self.project = project
        self.settings = settings
        self.categories = settings.categories_for_topics(list(project.topics))
        self.collection_ids = {c.id for c in settings.categories}
        self.warnings: list[str] = []
        if project.readme is not None:
            parsed = parse_readme(project.readme)
            self.meta = parsed.metadata
            self.body = parsed.body
            self.warnings.extend(parsed.warnings)
        else:
            self.meta, self.body = {}, ""

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def href(self, value: str) -> str:
        return resolve_href(
            value, self.project.path, self.project.default_branch, self.collection_ids
        )

    # -- geometry and time ---------------------------------------------------------------

    def extent(self) -> dict[str, Any]:
        extent = self.meta.get("extent")
        if extent is None:
            return {}
        if not isinstance(extent, dict):
            self.warn("extent: expected a mapping with 'spatial' and/or 'temporal'")
            return {}
        return extent

    def geometry(self) -> BaseGeometry | None:
        spatial = self.extent().get("spatial")
        if spatial is None:
            return None
        try:
            if isinstance(spatial, str):
                geometry = shapely.wkt.loads(spatial)
            elif isinstance(spatial, list) and len(spatial) == 4:
                minx, miny, maxx, maxy = (float(v) for v in spatial)
                if minx > maxx or miny > maxy:
                    raise ValueError("min greater than max")
                geometry = shapely.geometry.box(minx, miny, maxx, maxy)
            elif isinstance(spatial, dict):
                geometry = shapely.geometry.shape(spatial)
            else:
                raise ValueError("expected [minx, miny, maxx, maxy] or a WKT string")
        except (ValueError, TypeError, shapely.errors.ShapelyError) as error:
            self.warn(f"extent.spatial: {error}")
            return None
        if geometry.is_empty:
            self.warn("extent.spatial: empty geometry")
            return None
        return geometry

    def temporal(self) -> tuple[datetime, datetime]:
        default = (self.project.created_at, self.project.last_activity_at)
        temporal = self.extent().get("temporal")
        if temporal is None:
            return default
        if not isinstance(temporal, list) or len(temporal) != 2:
            self.warn("extent.temporal: expected [start, end]")
            return default
        try:
            start = _to_datetime(temporal[0]) if temporal[0] is not None else default[0]
            end = _to_datetime(temporal[1]) if temporal[1] is not None else default[1]
        except ValueError as error:
            self.warn(f"extent.temporal: {error}")
            return default
        if start > end:
            self.warn("extent.temporal: start is after end")
            return default
        return start, end

    # -- properties ----------------------------------------------------------------------

    def providers(self) -> list[dict[str, Any]]:
        providers: list[dict[str, Any]] = []
        extra = self.meta.get("providers")
        if isinstance(extra, list) and all(isinstance(p, dict) for p in extra):
            providers.extend(_jsonable(p) for p in extra)
        elif extra is not None:
            self.warn("providers: expected a list of provider objects")
        roles = {r for p in providers for r in (p.get("roles") or []) if isinstance(r, str)}
        if "host" not in roles:
            host: dict[str, Any] = {"name": self.settings.host_provider_name, "roles": ["host"]}
            if self.project.web_url:
                host["url"] = self.project.web_url
            providers.append(host)
        if "producer" not in roles:
            producer: dict[str, Any] = {
                "name": self.project.path.split("/", 1)[0],
                "roles": ["producer"],
            }
            if self.settings.gitlab_url:
                producer["url"] = f"{self.settings.gitlab_url}/{producer['name']}"
            providers.append(producer)
        return providers

    def extension_schemas(self) -> dict[str, str]:
        """Prefix -> schema URL of the extensions whose front matter keys are flattened.

        The project's own ``extensions`` declaration, then its categories' defaults, then the
        server-wide list (the server config wins, like upstream).
        """
        declared = self.meta.get("extensions") or {}
        if not isinstance(declared, dict):
            self.warn("extensions: expected a mapping of prefix to schema URL")
            declared = {}
        schemas = {str(k): str(v) for k, v in declared.items()}
        for category in self.categories:
            schemas.update(category.extensions)
        schemas.update(self.settings.extensions)
        return schemas

    def extensions(self) -> tuple[dict[str, Any], list[str]]:
        schemas = self.extension_schemas()
        properties: dict[str, Any] = {}
        used: list[str] = []
        for prefix, schema in schemas.items():
            if prefix not in self.meta:
                continue
            values = self.meta[prefix]
            if not isinstance(values, dict):
                self.warn(f"{prefix}: expected a mapping of extension fields")
                continue
            for key, value in values.items():
                properties[f"{prefix}:{key}"] = _jsonable(value)
            if schema not in used:
                used.append(schema)
        return properties, used

    def sharinghub(self) -> dict[str, Any]:
        project = self.project
        namespace = [part for part in project.namespace.split("/") if part]
        if project.dvc_initialized is not None:
            dvc = project.dvc_initialized
        else:
            dvc = not project.files or any(f.startswith(".dvc/") for f in project.files)
        name = project.name_with_namespace or " / ".join([*namespace, project.name])
        values: dict[str, Any] = {
            "sharinghub:id": project.id,
            "sharinghub:name": name,
            "sharinghub:path": project.path,
            "sharinghub:stars": project.star_count,
            "sharinghub:default-branch": project.default_branch,
            "sharinghub:dvc-init": "enable" if dvc else "disable",
        }
        extra = self.meta.get("sharinghub")
        if isinstance(extra, dict):
            values.update({f"sharinghub:{k}": _jsonable(v) for k, v in extra.items()})
        elif extra is not None:
            self.warn("sharinghub: expected a mapping")
        return values

    def license(self) -> tuple[str | None, dict[str, Any] | None]:
        license_id = self.meta.get("license")
        if license_id is None:
            return None, None
        if not isinstance(license_id, str):
            self.warn("license: expected an SPDX identifier string")
            return None, None
        url = self.meta.get("license-url")
        if url is not None and not isinstance(url, str):
            self.warn("license-url: expected a URL string")
            url = None
        href = self.href(url) if url else f"https://spdx.org/licenses/{license_id}.html"
        return license_id, {"rel": "license", "href": href, "title": f"License {license_id}"}

    def citations(self) -> dict[str, Any]:
        """``sci:*`` properties of the DOIs the README cites (upstream's automatic ``sci``).

        The first Markdown link to doi.org gives ``sci:doi`` and ``sci:citation`` (the link
        text without a ``DOI:`` prefix), later ones ``sci:publications``; without links, the
        first bare doi.org URL gives ``sci:doi`` and an empty citation.
        """
        cited = [
            (doi.rstrip(".,;:"), _DOI_PREFIX.sub("", text).strip())
            for text, doi in _DOI_LINK.findall(self.body)
        ]
        if not cited:
            bare = _DOI_URL.search(self.body)
            return {"sci:doi": bare.group(1).rstrip(".,;:"), "sci:citation": ""} if bare else {}
        (doi, citation), *others = cited
        properties: dict[str, Any] = {"sci:doi": doi, "sci:citation": citation}
        if others:
            properties["sci:publications"] = [{"doi": d, "citation": c} for d, c in others]
        return properties

    # -- links and assets ----------------------------------------------------------------

    def links(self) -> list[dict[str, Any]]:
        links: list[dict[str, Any]] = []
        if self.project.web_url:
            links.append(
                {
                    "rel": "bug_tracker",
                    "type": "text/html",
                    "href": f"{self.project.web_url}/issues",
                    "title": "Bug Tracker",
                }
            )
        extra = self.meta.get("links")
        if isinstance(extra, list):
            for link in extra:
                if isinstance(link, dict) and isinstance(link.get("href"), str):
                    link = _jsonable(link)
                    link["href"] = self.href(link["href"])
                    links.append(link)
                else:
                    self.warn("links: each link needs at least a string 'href'")
        elif extra is not None:
            self.warn("links: expected a list of link objects")
        links.extend(self.related())
        return links

    def related(self) -> list[dict[str, Any]]:
        related = self.meta.get("related")
        if related is None:
            return []
        if not isinstance(related, dict):
            self.warn("related: expected a mapping of collection id to project URL(s)")
            return []
        links = []
        for cid, targets in related.items():
            for target in targets if isinstance(targets, list) else [targets]:
                if not isinstance(target, str) or not target.strip():
                    self.warn(f"related.{cid}: expected a project URL or path")
                    continue
                path = urlsplit(target.strip()).path.strip("/")
                links.append(
                    {
                        "rel": "derived_from",
                        "type": "application/geo+json",
                        "title": f"{cid}: {path}",
                        "href": item_href(str(cid), path),
                    }
                )
        return links

    def asset_rules(self) -> list[Any]:
        rules: list[Any] = []
        for category in self.categories:
            rules.extend(category.assets)
        extra = self.meta.get("assets")
        if isinstance(extra, list):
            rules.extend(extra)
        elif extra is not None:
            self.warn("assets: expected a list of globs or asset rules")
        return rules

    def assets(self) -> dict[str, dict[str, Any]]:
        assets: dict[str, dict[str, Any]] = {}
        for rule in self.asset_rules():
            if isinstance(rule, str):
                rule = {"glob": rule}
            if not isinstance(rule, dict):
                self.warn("assets: each rule must be a glob string or a mapping")
                continue
            pattern = rule.get("glob", rule.get("path"))
            if pattern is None:
                self.custom_asset(rule, assets)
                continue
            if not isinstance(pattern, str) or not pattern:
                self.warn("assets: 'glob'/'path' must be a non-empty string")
                continue
            for file_path in self.project.files:
                try:
                    matched = PurePosixPath(file_path).match(pattern)
                except ValueError:
                    self.warn(f"assets: invalid glob {pattern!r}")
                    break
                if matched:
                    key, asset = self.file_asset(rule, file_path)
                    assets[key] = asset
        return assets

    def file_asset(self, rule: dict[str, Any], file_path: str) -> tuple[str, dict[str, Any]]:
        key = str(rule.get("key") or "{path}").replace("{path}", file_path)
        asset: dict[str, Any] = {
            "href": download_href(self.project.path, file_path, self.project.default_branch),
        }
        for name in ("title", "description"):
            if isinstance(rule.get(name), str):
                asset[name] = rule[name].replace("{key}", key).replace("{path}", file_path)
        type_as = rule.get("type-as")
        if isinstance(type_as, str) and type_as in _MEDIA_TYPES:
            asset["type"] = _MEDIA_TYPES[type_as]
        elif isinstance(rule.get("type"), str):
            asset["type"] = rule["type"]
        elif (guessed := media_type(file_path)) is not None:
            asset["type"] = guessed
        roles = rule.get("roles")
        asset["roles"] = _jsonable(roles) if isinstance(roles, list) else ["data"]
        for name, value in rule.items():
            if name not in ("glob", "path", "key", "title", "description", "type", "type-as"):
                asset.setdefault(str(name), _jsonable(value))
        return key, asset

    def custom_asset(self, rule: dict[str, Any], assets: dict[str, dict[str, Any]]) -> None:
        key, href = rule.get("key"), rule.get("href")
        if not isinstance(key, str) or not isinstance(href, str):
            self.warn("assets: a rule without glob/path needs string 'key' and 'href'")
            return
        asset = {str(k): _jsonable(v) for k, v in rule.items() if k not in ("key", "type-as")}
        asset["href"] = self.href(href)
        type_as = rule.get("type-as")
        if isinstance(type_as, str) and type_as in _MEDIA_TYPES:
            asset["type"] = _MEDIA_TYPES[type_as]
        assets[key] = asset

    def preview(self) -> str | None:
        found = _PREVIEW_IMAGE.findall(self.body)
        if found:
            return str(found[-1])
        value = self.meta.get("preview")
        if isinstance(value, str) and value:
            return value
        if value is not None:
            self.warn("preview: expected a URL or a repository path")
        for name in _PREVIEW_FILES:
            if name in self.project.files:
                return name
        return None

    # -- the whole item ------------------------------------------------------------------

    def build(self) -> BuiltItem:
        project = self.project
        geometry = self.geometry()
        start, end = self.temporal()
        category_topics = self.settings.category_topics
        keywords = [t for t in project.topics if t not in category_topics]
        prose = re.sub(r"\n{3,}", "\n\n", self.body).strip() or project.description
        body = rewrite_images(prose, self.href)

        properties: dict[str, Any] = {
            "title": project.name,
            "description": body,
            "datetime": _iso(project.last_activity_at),
            "start_datetime": _iso(start),
            "end_datetime": _iso(end),
            "created": _iso(start),
            "updated": _iso(end),
            "keywords": keywords,
            "providers": self.providers(),
        }
        flattened = self.extension_schemas()
        for key, value in self.meta.items():
            if key in _SPECIAL_KEYS or key in flattened:
                continue
            properties[key] = _jsonable(value)
        extension_properties, stac_extensions = self.extensions()
        properties.update(extension_properties)
        citations = self.citations()  # a README DOI wins over front matter sci.doi
        properties.update(citations)
        doi = properties.get("sci:doi")
        if citations or isinstance(doi, str):
            sci_schema = self.extension_schemas().get("sci", SCIENTIFIC_SCHEMA)
            if sci_schema not in stac_extensions:
                stac_extensions.append(sci_schema)
        properties.update(self.sharinghub())
        license_id, license_link = self.license()
        if license_id:
            properties["license"] = license_id

        links = self.links()
        assets = self.assets()
        # An extension used only in asset fields (``eo:bands`` on a model) is declared too.
        schemas = self.extension_schemas()
        for asset in assets.values():
            for key in asset:
                schema = schemas.get(key.partition(":")[0]) if ":" in key else None
                if schema and schema not in stac_extensions:
                    stac_extensions.append(schema)
        preview = self.preview()
        if preview:
            href = self.href(preview)
            links.append({"rel": "preview", "href": href})
            suffix = PurePosixPath(urlsplit(preview).path).suffix
            preview_asset: dict[str, Any] = {"href": href, "title": "Preview"}
            if guessed := media_type(preview):
                preview_asset["type"] = guessed
            preview_asset["roles"] = ["thumbnail"]
            assets[f"preview{suffix}"] = preview_asset
        if license_link:
            links.append(license_link)
        if self.settings.mlflow_url and any(c.feature_enabled("mlflow") for c in self.categories):
            links.append(
                {
                    "rel": "mlflow:tracking-uri",
                    "href": f"{self.settings.mlflow_url}/{project.path}/tracking/",
                    "title": "MLflow - Tracking URI",
                }
            )

        if isinstance(doi, str) and doi:
            links.append({"rel": "cite-as", "href": f"https://doi.org/{doi}"})

        title = properties.get("title")
        if not isinstance(title, str):
            self.warn("title: expected a string")
            title = project.name
            properties["title"] = title
        if self.warnings:
            properties["sharinghub:warnings"] = list(self.warnings)

        item: dict[str, Any] = {
            "stac_version": STAC_VERSION,
            "stac_extensions": stac_extensions,
            "type": "Feature",
            "id": project.path,
            "geometry": shapely.geometry.mapping(geometry) if geometry is not None else None,
        }
        bbox: tuple[float, float, float, float] | None = None
        if geometry is not None:
            minx, miny, maxx, maxy = geometry.bounds
            bbox = (float(minx), float(miny), float(maxx), float(maxy))
            item["bbox"] = list(bbox)
        item["properties"] = properties
        item["links"] = links
        item["assets"] = assets
        item = _jsonable(item)

        # Free text searches the README as written, not the download URLs of its images.
        description = properties.get("description")
        if description == body:
            description = prose
        text_parts = [title, str(description or ""), project.path, *keywords]
        return BuiltItem(
            item=item,
            title=title,
            text="\n".join(text_parts).lower(),
            bbox=bbox,
            start=start,
            end=end,
            created=start,
            updated=end,
            datetime=project.last_activity_at,
            warnings=list(self.warnings),
        )


def build_item(project: Project, settings: Settings) -> BuiltItem:
    """Map a project to its (collection-independent) STAC item."""
    return _Builder(project, settings).build()


def _json_copy(value: Any) -> Any:
    """A deep copy of JSON data (dicts, lists, scalars): several times faster than
    ``copy.deepcopy``, which a page of items spent most of its rendering time in."""
    if isinstance(value, dict):
        return {key: _json_copy(child) for key, child in value.items()}
    if isinstance(value, list):
        return [_json_copy(child) for child in value]
    return value


def render_item(
    stored: dict[str, Any],
    category: Category,
    base_url: str,
    access_level: int,
    *,
    fresh: bool = False,
) -> dict[str, Any]:
    """Finish a stored item for one collection and one caller, with absolute hrefs.

    ``fresh`` says ``stored`` is the caller's own copy (just parsed), to be finished in
    place rather than copied first.
    """
    item = stored if fresh else _json_copy(stored)
    item["collection"] = category.id
    properties = item["properties"]
    properties["sharinghub:access-level"] = access_level
    for feature, state in category.features.items():
        # A front matter `sharinghub:` block wins over the category's flags, as upstream.
        properties.setdefault(f"sharinghub:{feature}", state)
    description = properties.get("description")
    if isinstance(description, str):
        properties["description"] = absolutize_text(description, base_url)
    own = [
        {"rel": "self", "type": "application/geo+json", "href": item_href(category.id, item["id"])},
        {"rel": "parent", "type": "application/json", "href": collection_href(category.id)},
        {"rel": "root", "type": "application/json", "href": "/api/stac"},
        {"rel": "collection", "type": "application/json", "href": collection_href(category.id)},
    ]
    item["links"] = own + list(item.get("links") or [])
    # Keep key order close to upstream: collection right after bbox/geometry.
    ordered = {k: item[k] for k in ("stac_version", "stac_extensions", "type", "id", "geometry")}
    if "bbox" in item:
        ordered["bbox"] = item["bbox"]
    ordered["collection"] = item["collection"]
    ordered.update({k: v for k, v in item.items() if k not in ordered})
    return absolutize_document(ordered, base_url)
