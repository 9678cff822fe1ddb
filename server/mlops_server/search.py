"""Item search parameters: parsing (GET query or POST body), validation and paging cursors.

Everything a client may get wrong is checked here and reported as a 400 naming the
parameter; the index receives only valid queries.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import shapely
import shapely.geometry
from rfc3339_validator import validate_rfc3339
from shapely.geometry.base import BaseGeometry

from mlops_server.errors import BadRequest
from mlops_server.filters import Predicate, parse_filter
from mlops_server.index import SORT_COLUMNS
from mlops_server.settings import Settings
from mlops_server.stac.shaping import parse_fields, parse_mode

_TOPIC_TERM = re.compile(r"^\[(.+)\]$")
_SORT_ALIASES = {"name": "title"}


@dataclass
class SearchParams:
    """A validated search. ``echo`` is the GET form of the filters, used in paging links."""

    collections: list[str]
    limit: int
    offset: int = 0
    ids: list[str] | None = None
    bbox: tuple[float, float, float, float] | None = None
    intersects: BaseGeometry | None = None
    start: datetime | None = None
    end: datetime | None = None
    topics: list[str] = field(default_factory=list)
    words: list[str] = field(default_factory=list)
    #: ``:starred``: only the projects the caller starred.
    starred: bool = False
    sortby: list[tuple[str, bool]] = field(default_factory=list)
    echo: dict[str, str] = field(default_factory=dict)
    predicate: Predicate | None = None
    mode: str = "full"
    fields: tuple[list[str], list[str]] | None = None


def _as_list(value: Any, name: str) -> list[str]:
    """Comma-separated string (GET) or list of strings (POST) -> list of stripped strings."""
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        items = list(value)
    else:
        raise BadRequest(f"Parameter '{name}' must be a comma-separated string or a list")
    return [item.strip() for item in items if item.strip()]


def parse_collections(value: Any, settings: Settings) -> list[str]:
    known = [c.id for c in settings.categories]
    if value is None:
        return known
    wanted = _as_list(value, "collections")
    if not wanted:
        return known
    unknown = [c for c in wanted if c not in known]
    if unknown:
        raise BadRequest(
            f"Parameter 'collections': unknown collection(s) {', '.join(unknown)}; "
            f"known: {', '.join(known)}"
        )
    return list(dict.fromkeys(wanted))


def parse_limit(value: Any, settings: Settings) -> int:
    if value is None or value == "":
        return settings.page_size
    try:
        if isinstance(value, (bool, float)):
            raise ValueError
        limit = int(value)
    except (TypeError, ValueError):
        raise BadRequest(f"Parameter 'limit' must be an integer, got {value!r}") from None
    if limit < 1:
        raise BadRequest(f"Parameter 'limit' must be at least 1, got {limit}")
    # STAC API: a limit above the maximum is served as the maximum, not refused.
    return min(limit, settings.max_page_size)


def parse_bbox(value: Any, *, json_body: bool = False) -> tuple[float, float, float, float] | None:
    """``minx,miny,maxx,maxy`` in a query string; a JSON array of numbers in a POST body."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, str) and not json_body:
            numbers = [float(v) for v in value.split(",")]
        elif isinstance(value, list):
            numbers = [float(v) for v in value if not isinstance(v, bool)]
            if len(numbers) != len(value):
                raise ValueError
        else:
            raise ValueError
    except (TypeError, ValueError):
        raise BadRequest("Parameter 'bbox' must be 4 numbers: minx,miny,maxx,maxy") from None
    if len(numbers) == 6:  # 3D bbox: keep the horizontal part
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    if len(numbers) != 4 or not all(math.isfinite(n) for n in numbers):
        raise BadRequest("Parameter 'bbox' must be 4 numbers: minx,miny,maxx,maxy")
    minx, miny, maxx, maxy = numbers
    if minx > maxx or miny > maxy:
        raise BadRequest(
            "Parameter 'bbox': min must not exceed max (antimeridian crossing is not supported)"
        )
    return minx, miny, maxx, maxy


def parse_intersects(value: Any) -> BaseGeometry | None:
    if value is None or value == "":
        return None
    try:
        geojson = json.loads(value) if isinstance(value, str) else value
        geometry = shapely.geometry.shape(geojson)
    except (ValueError, TypeError, AttributeError, KeyError, shapely.errors.ShapelyError):
        raise BadRequest("Parameter 'intersects' must be a GeoJSON geometry") from None
    if geometry.is_empty:
        raise BadRequest("Parameter 'intersects' must not be an empty geometry")
    return geometry


def _parse_instant(text: str) -> datetime:
    """An RFC 3339 date-time (with time zone; ``t``/``z`` in any case), as STAC API asks."""
    text = text.upper()  # RFC 3339 §5.6 allows lower-case separators; the validator does not
    if not validate_rfc3339(text):
        raise ValueError(text)
    try:  # year 1 at +01:00 or year 9999 at -01:00 has no UTC instant
        return datetime.fromisoformat(text).astimezone(UTC)
    except OverflowError:
        raise ValueError(text) from None


def parse_datetime(value: Any) -> tuple[datetime | None, datetime | None]:
    """An RFC 3339 instant, or an interval ``start/end`` where one end may be open (``..``)."""
    if value is None or value == "":
        return None, None
    if not isinstance(value, str):
        raise BadRequest("Parameter 'datetime' must be a string")
    try:
        if "/" in value:
            first, _, second = value.partition("/")
            start = None if first in ("", "..") else _parse_instant(first)
            end = None if second in ("", "..") else _parse_instant(second)
            if start is None and end is None:
                raise ValueError(value)
        else:
            start = end = _parse_instant(value)
    except ValueError:
        raise BadRequest(
            f"Parameter 'datetime' must be an RFC 3339 date-time with a time zone, or an "
            f"interval start/end with at most one open end ('..'), got {value!r}"
        ) from None
    if start is not None and end is not None and start > end:
        raise BadRequest("Parameter 'datetime': the start is after the end")
    return start, end


#: Upstream's ``q`` flags.
QUERY_FLAGS = frozenset({"starred"})


def parse_query(value: Any) -> tuple[list[str], list[str], set[str]]:
    """The upstream ``q`` mini-language: ``[topic]`` terms, ``:flags``, and free text."""
    if value is None:
        return [], [], set()
    topics: list[str] = []
    words: list[str] = []
    flags: set[str] = set()
    for term in _as_list(value, "q"):
        match = _TOPIC_TERM.match(term)
        if match:
            topics.append(match.group(1).strip())
        elif term.startswith(":"):
            flag = term[1:].strip()
            if flag in QUERY_FLAGS:  # as upstream, other flags have no effect
                flags.add(flag)
        else:
            words.extend(term.split())
    if len(topics) + len(words) > MAX_QUERY_TERMS:
        raise BadRequest(f"Parameter 'q' has more than {MAX_QUERY_TERMS} terms")
    return topics, words, flags


def parse_sortby(value: Any) -> list[tuple[str, bool]]:
    if value is None or value == "":
        return []
    entries: list[tuple[str, str]] = []
    if isinstance(value, str):
        for part in _as_list(value, "sortby"):
            if part[0] in "+-":
                entries.append((part[1:], "desc" if part[0] == "-" else "asc"))
            else:
                entries.append((part, "asc"))
    elif isinstance(value, list) and all(isinstance(v, dict) for v in value):
        for spec in value:
            entries.append((str(spec.get("field", "")), str(spec.get("direction", "asc"))))
    else:
        raise BadRequest("Parameter 'sortby' must be '[-|+]field,...' or [{field, direction}]")
    result = []
    for name, direction in entries:
        field_name = name.strip()
        for prefix in ("properties.", "sharinghub:"):
            field_name = field_name.removeprefix(prefix)
        field_name = _SORT_ALIASES.get(field_name, field_name)
        if field_name not in SORT_COLUMNS:
            raise BadRequest(
                f"Parameter 'sortby': cannot sort on {name!r}; fields: {', '.join(SORT_COLUMNS)}"
            )
        if direction not in ("asc", "desc"):
            raise BadRequest(
                f"Parameter 'sortby': direction must be asc or desc, got {direction!r}"
            )
        result.append((field_name, direction == "asc"))
    return result


#: Paging cursors past this offset are refused (no index holds that many items).
MAX_OFFSET = 2**31 - 1
#: Most ``q`` terms (words and ``[topic]``s) and ``ids`` one search may have: each term is a
#: condition of its own, and SQL engines cap how deep a condition may nest.
MAX_QUERY_TERMS = 50
MAX_IDS = 1000


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def decode_cursor(value: str, name: str) -> int:
    text = value.removeprefix("next:").removeprefix("prev:")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        kind, _, number = raw.partition(":")
        offset = int(number)
        if kind != "o" or not 0 <= offset <= MAX_OFFSET:
            raise ValueError
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise BadRequest(f"Parameter '{name}' is not a valid paging cursor") from None
    return offset


def parse_paging(values: Mapping[str, Any], limit: int) -> int:
    """Offset of the page from ``token`` / ``after`` (next pages) or ``before`` (previous)."""
    for name in ("token", "after"):
        value = values.get(name)
        if value:
            return decode_cursor(str(value), name)
    before = values.get("before")
    if before:
        return max(0, decode_cursor(str(before), "before") - limit)
    return 0


def _echo(values: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, str]:
    echo: dict[str, str] = {}
    for name in names:
        value = values.get(name)
        if value is None or value == "" or value == []:
            continue
        if name == "fields" and isinstance(value, dict):
            include = [str(v) for v in value.get("include") or []]
            exclude = [f"-{v}" for v in value.get("exclude") or []]
            echo[name] = ",".join(include + exclude)
        elif name in ("intersects", "filter") and not isinstance(value, str):
            echo[name] = json.dumps(value)
            if name == "filter":
                echo["filter-lang"] = "cql2-json"
        elif name == "sortby" and isinstance(value, list):
            echo[name] = ",".join(
                ("-" if str(s.get("direction")) == "desc" else "") + str(s.get("field"))
                for s in value
                if isinstance(s, dict)
            )
        elif isinstance(value, list):
            echo[name] = ",".join(str(v) for v in value)
        else:
            echo[name] = str(value)
    return echo


SEARCH_PARAMS = (
    "collections",
    "ids",
    "bbox",
    "intersects",
    "datetime",
    "q",
    "sortby",
    "limit",
    "filter",
    "filter-lang",
    "mode",
    "fields",
)
ITEMS_PARAMS = ("bbox", "datetime", "limit", "filter", "filter-lang", "mode", "fields")


def parse_search(
    values: Mapping[str, Any],
    settings: Settings,
    *,
    collection: str | None = None,
    json_body: bool = False,
) -> SearchParams:
    """Validate a search; with ``collection`` it is a collection's items listing.

    ``json_body`` says the values come from a POST body, where arrays must be JSON arrays.
    """
    names = ITEMS_PARAMS if collection is not None else SEARCH_PARAMS
    limit = parse_limit(values.get("limit"), settings)
    if collection is not None:
        collections = [collection]
        ids = None
        topics: list[str] = []
        words: list[str] = []
        flags: set[str] = set()
        sortby: list[tuple[str, bool]] = []
        intersects: BaseGeometry | None = None
    else:
        collections = parse_collections(values.get("collections"), settings)
        ids = _as_list(values["ids"], "ids") if values.get("ids") else None
        if ids is not None and len(ids) > MAX_IDS:
            raise BadRequest(f"Parameter 'ids' has more than {MAX_IDS} ids")
        topics, words, flags = parse_query(values.get("q"))
        sortby = parse_sortby(values.get("sortby"))
        intersects = parse_intersects(values.get("intersects"))
    crs = values.get("filter-crs")
    if crs not in (None, "", "http://www.opengis.net/def/crs/OGC/1.3/CRS84"):
        raise BadRequest(
            "Parameter 'filter-crs' must be http://www.opengis.net/def/crs/OGC/1.3/CRS84"
        )
    predicate = parse_filter(values.get("filter"), values.get("filter-lang"))
    start, end = parse_datetime(values.get("datetime"))
    bbox = parse_bbox(values.get("bbox"), json_body=json_body)
    if bbox is not None and intersects is not None:
        raise BadRequest("Parameters 'bbox' and 'intersects' cannot be used together")
    fields = parse_fields(values.get("fields"))  # checked before it is echoed in links
    return SearchParams(
        collections=collections,
        limit=limit,
        offset=parse_paging(values, limit),
        ids=ids,
        bbox=bbox,
        intersects=intersects,
        start=start,
        end=end,
        topics=topics,
        words=words,
        starred="starred" in flags,
        sortby=sortby,
        echo=_echo(values, names),
        predicate=predicate,
        mode=parse_mode(values.get("mode")),
        fields=fields,
    )
