"""Lighter item shapes for lists: ``mode`` (upstream's preview/reference) and ``fields``.

Both apply to a fully rendered item, so every mode carries the same ids, hrefs and access
levels; they only leave things out.
"""

from __future__ import annotations

import re
from typing import Any

from mlops_server.errors import BadRequest

MODES = ("full", "preview", "reference")
_OWN_LINKS = {"self", "parent", "root", "collection"}
_ALWAYS = ("type", "stac_version", "id")
_MARKUP = re.compile(r"!\[[^\]]*\]\([^)]*\)|^#+\s.*$|\[([^\]]*)\]\([^)]*\)", re.MULTILINE)


def parse_mode(value: Any) -> str:
    if value is None or value == "":
        return "full"
    if value not in MODES:
        raise BadRequest(f"Parameter 'mode' must be one of {', '.join(MODES)}, got {value!r}")
    return str(value)


def _summary(text: str, size: int = 150) -> str:
    """Upstream's preview text: markup-free prose, cut at ``size`` characters."""
    plain = _MARKUP.sub(lambda m: m.group(1) or "", text)
    plain = " ".join(plain.split())
    return plain if len(plain) <= size else plain[:size].rstrip() + "..."


def shape_item(item: dict[str, Any], mode: str) -> dict[str, Any]:
    """Reduce a full item to upstream's ``preview`` or ``reference`` shape."""
    if mode == "full":
        return item
    properties = item.get("properties", {})
    links = [link for link in item.get("links", []) if link.get("rel") in _OWN_LINKS]
    shaped: dict[str, Any] = {
        "stac_version": item["stac_version"],
        "stac_extensions": [],
        "type": "Feature",
        "id": item["id"],
        "geometry": None,
        "collection": item.get("collection"),
    }
    if mode == "reference":
        shaped.update(
            properties={"title": properties.get("title"), "datetime": None},
            links=links,
            assets={},
        )
        return shaped
    previews = [link for link in item.get("links", []) if link.get("rel") == "preview"]
    shaped.update(
        properties={
            "title": properties.get("title"),
            "description": _summary(str(properties.get("description") or "")),
            "datetime": properties.get("datetime"),
            "keywords": properties.get("keywords", []),
            "sharinghub:stars": properties.get("sharinghub:stars", 0),
        },
        links=links + previews,
        assets={
            key: asset
            for key, asset in item.get("assets", {}).items()
            if "thumbnail" in (asset.get("roles") or [])
        },
    )
    return shaped


def parse_fields(value: Any) -> tuple[list[str], list[str]] | None:
    """``fields``: GET ``a,-b,+c`` or POST ``{"include": [...], "exclude": [...]}``."""
    if value is None or value == "" or value == {}:
        return None
    include: list[str] = []
    exclude: list[str] = []
    if isinstance(value, str):
        for part in (p.strip() for p in value.split(",")):
            if part.startswith("-"):
                exclude.append(part[1:])
            elif part:
                include.append(part.removeprefix("+"))
    elif isinstance(value, dict) and set(value) <= {"include", "exclude"}:
        for name, target in (("include", include), ("exclude", exclude)):
            entries = value.get(name) or []
            if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
                raise BadRequest(f"Parameter 'fields': '{name}' must be a list of strings")
            target.extend(entries)
    else:
        raise BadRequest("Parameter 'fields' must be 'a,-b' or {include: [...], exclude: [...]}")
    if any(not path or path.startswith(".") or path.endswith(".") for path in include + exclude):
        raise BadRequest("Parameter 'fields': empty field name")
    return include, exclude


def _copy_path(source: dict[str, Any], target: dict[str, Any], parts: list[str]) -> None:
    head = parts[0]
    if head not in source:
        return
    if len(parts) == 1:
        target[head] = source[head]
    elif isinstance(source[head], dict):
        child = target.setdefault(head, {})
        if isinstance(child, dict):
            _copy_path(source[head], child, parts[1:])


def _drop_path(target: dict[str, Any], parts: list[str]) -> None:
    if len(parts) == 1:
        target.pop(parts[0], None)
    elif isinstance(target.get(parts[0]), dict):
        _drop_path(target[parts[0]], parts[1:])


def select_fields(item: dict[str, Any], fields: tuple[list[str], list[str]]) -> dict[str, Any]:
    """Apply the STAC fields extension: keep ``include`` paths, drop ``exclude`` paths
    (an explicitly included path wins over its exclusion); id and type always stay."""
    include, exclude = fields
    if include:
        result: dict[str, Any] = {k: item[k] for k in _ALWAYS if k in item}
        for path in include:
            _copy_path(item, result, path.split("."))
    else:
        result = dict(item)
        result["properties"] = dict(item.get("properties", {}))
    for path in exclude:
        if path in include or path in _ALWAYS:
            continue
        _drop_path(result, path.split("."))
    return result
