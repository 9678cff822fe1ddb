"""CQL2 filters (``filter``, ``filter-lang``): parsed by pygeofilter, evaluated on items.

Text (``cql2-text``) and JSON (``cql2-json``) filters become a predicate over a stored item
(its JSON plus its categories). Attributes name item properties (``mlm:framework``,
``properties.title``) or the top-level ``id``, ``collection`` and ``geometry``. A comparison
whose operand is missing or of another type is false, never an error; a filter that does not
parse is a 400 naming the parameter.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import shapely
import shapely.geometry
from pygeofilter import ast, values  # type: ignore[import-untyped]
from pygeofilter.parsers.cql2_json import (  # type: ignore[import-untyped]
    parse as parse_json,
)
from pygeofilter.parsers.cql2_text import (  # type: ignore[import-untyped]
    parse as parse_text,
)
from shapely.geometry.base import BaseGeometry

from mlops_server.errors import BadRequest

Predicate = Callable[[dict[str, Any], Sequence[str]], bool]

# The index keeps the string properties of items up to this length (``item_properties``) so
# that equality filters on them run in SQL, except these (long or date-time valued) ones.
PROPERTY_VALUE_MAX = 255
UNINDEXED_PROPERTIES = frozenset(
    {"description", "datetime", "start_datetime", "end_datetime", "created", "updated"}
)

QUERYABLES: dict[str, dict[str, Any]] = {
    "id": {"description": "Item id: the project's full path", "type": "string"},
    "collection": {"description": "Collection (category) id", "type": "string"},
    "geometry": {"$ref": "https://geojson.org/schema/Geometry.json"},
    "datetime": {"description": "Last activity", "type": "string", "format": "date-time"},
    "start_datetime": {"type": "string", "format": "date-time"},
    "end_datetime": {"type": "string", "format": "date-time"},
    "created": {"type": "string", "format": "date-time"},
    "updated": {"type": "string", "format": "date-time"},
    "title": {"type": "string"},
    "description": {"type": "string"},
    "keywords": {"type": "array", "items": {"type": "string"}},
    "license": {"type": "string"},
    "sharinghub:id": {"type": "integer"},
    "sharinghub:path": {"type": "string"},
    "sharinghub:stars": {"type": "integer"},
}

_SPATIAL = {
    ast.SpatialComparisonOp.INTERSECTS: lambda a, b: a.intersects(b),
    ast.SpatialComparisonOp.DISJOINT: lambda a, b: a.disjoint(b),
    ast.SpatialComparisonOp.CONTAINS: lambda a, b: a.contains(b),
    ast.SpatialComparisonOp.WITHIN: lambda a, b: a.within(b),
    ast.SpatialComparisonOp.TOUCHES: lambda a, b: a.touches(b),
    ast.SpatialComparisonOp.CROSSES: lambda a, b: a.crosses(b),
    ast.SpatialComparisonOp.OVERLAPS: lambda a, b: a.overlaps(b),
    ast.SpatialComparisonOp.EQUALS: lambda a, b: a.equals(b),
}
_COMPARE = {
    ast.ComparisonOp.EQ: lambda a, b: a == b,
    ast.ComparisonOp.NE: lambda a, b: a != b,
    ast.ComparisonOp.LT: lambda a, b: a < b,
    ast.ComparisonOp.LE: lambda a, b: a <= b,
    ast.ComparisonOp.GT: lambda a, b: a > b,
    ast.ComparisonOp.GE: lambda a, b: a >= b,
}


class _Missing:
    """An absent attribute: every comparison with it is false."""


MISSING = _Missing()


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        try:
            return _as_datetime(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


def _coerce(left: Any, right: Any) -> tuple[Any, Any]:
    """Make ISO strings comparable with datetimes, ints with floats."""
    if isinstance(left, datetime | date) or isinstance(right, datetime | date):
        return _as_datetime(left), _as_datetime(right)
    return left, right


def _like(pattern: str, node: ast.Like) -> re.Pattern[str]:
    out = []
    escaped = False
    for char in pattern:
        if escaped:
            out.append(re.escape(char))
            escaped = False
        elif char == node.escapechar:
            escaped = True
        elif char == node.wildcard:
            out.append(".*")
        elif char == node.singlechar:
            out.append(".")
        else:
            out.append(re.escape(char))
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL if node.nocase else re.DOTALL)


class _Evaluator:
    def __init__(self, item: dict[str, Any], categories: Sequence[str]) -> None:
        self.item = item
        self.categories = categories

    def attribute(self, name: str) -> Any:
        if name == "id":
            return self.item.get("id")
        if name == "collection":
            return list(self.categories)
        if name == "geometry":
            geometry = self.item.get("geometry")
            return shapely.geometry.shape(geometry) if geometry else MISSING
        key = name.removeprefix("properties.")
        return self.item.get("properties", {}).get(key, MISSING)

    def value(self, node: Any) -> Any:
        if isinstance(node, ast.Attribute):
            return self.attribute(node.name)
        if isinstance(node, values.Geometry):
            return shapely.geometry.shape(node.geometry)
        if isinstance(node, values.Envelope):
            # pygeofilter fills x1, x2, y1, y2 from CQL2's [minx, miny, maxx, maxy] in order.
            return shapely.geometry.box(node.x1, node.x2, node.y1, node.y2)
        if isinstance(node, ast.Function) and node.name.lower() == "bbox":  # cql2-text BBOX()
            numbers = list(node.arguments)
            if len(numbers) == 6:
                numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
            return shapely.geometry.box(*numbers)
        if isinstance(node, ast.Node):
            return self.test(node)
        return node

    def compare(self, op: ast.ComparisonOp, lhs: Any, rhs: Any) -> bool:
        left, right = self.value(lhs), self.value(rhs)
        if isinstance(lhs, ast.Attribute) and lhs.name == "collection":
            matched = right in left
            return matched if op == ast.ComparisonOp.EQ else not matched
        if left is MISSING or right is MISSING or left is None or right is None:
            return False
        left, right = _coerce(left, right)
        try:
            return bool(_COMPARE[op](left, right))
        except TypeError:
            return False

    def test(self, node: Any) -> bool:
        if isinstance(node, ast.Include):
            return not bool(node.not_)
        if isinstance(node, ast.And):
            return self.test(node.lhs) and self.test(node.rhs)
        if isinstance(node, ast.Or):
            return self.test(node.lhs) or self.test(node.rhs)
        if isinstance(node, ast.Not):
            return not self.test(node.sub_node)
        if isinstance(node, ast.Comparison):
            return self.compare(node.op, node.lhs, node.rhs)
        if isinstance(node, ast.Between):
            inside = self.compare(ast.ComparisonOp.GE, node.lhs, node.low) and self.compare(
                ast.ComparisonOp.LE, node.lhs, node.high
            )
            return bool(inside != node.not_)
        if isinstance(node, ast.In):
            found = any(self.compare(ast.ComparisonOp.EQ, node.lhs, v) for v in node.sub_nodes)
            return bool(found != node.not_)
        if isinstance(node, ast.IsNull):
            value = self.value(node.lhs)
            return bool((value is None or value is MISSING) != node.not_)
        if isinstance(node, ast.Like):
            value = self.value(node.lhs)
            if not isinstance(value, str):
                return False
            return bool(_like(node.pattern, node).fullmatch(value)) is not bool(node.not_)
        if isinstance(node, ast.SpatialComparisonPredicate):
            left, right = self.value(node.lhs), self.value(node.rhs)
            if not all(isinstance(g, BaseGeometry) for g in (left, right)):
                return False
            return bool(_SPATIAL[node.op](left, right))
        if isinstance(node, ast.BBox):
            left = self.value(node.lhs)
            box = shapely.geometry.box(node.minx, node.miny, node.maxx, node.maxy)
            return isinstance(left, BaseGeometry) and bool(left.intersects(box))
        if isinstance(node, ast.ArrayPredicate):
            left, right = self.value(node.lhs), self.value(node.rhs)
            if not isinstance(left, list) or not isinstance(right, list):
                return False
            a, b = set(map(str, left)), set(map(str, right))
            return {
                ast.ArrayComparisonOp.AEQUALS: a == b,
                ast.ArrayComparisonOp.ACONTAINS: a >= b,
                ast.ArrayComparisonOp.ACONTAINEDBY: a <= b,
                ast.ArrayComparisonOp.AOVERLAPS: bool(a & b),
            }[node.op]
        raise BadRequest(f"Parameter 'filter': unsupported operation {type(node).__name__}")


@dataclass(frozen=True)
class Clause:
    """A part of a filter that the index runs in SQL with exactly the predicate's meaning.

    ``kind`` is ``and``/``or``/``not`` (``args``: clauses), ``id`` or ``collection``
    (``args``: the string compared), or ``property`` (``args``: name, string value): the
    item's property is that string (a missing, null or non-string property never is).
    """

    kind: str
    args: tuple[Any, ...]


def _equality(attribute: str, value: Any) -> Clause | None:
    if not isinstance(value, str) or attribute == "geometry":
        return None
    if attribute in ("id", "collection"):
        return Clause(attribute, (value,))
    name = attribute.removeprefix("properties.")
    if name in UNINDEXED_PROPERTIES or len(value) > PROPERTY_VALUE_MAX:
        return None
    return Clause("property", (name, value))


def _clause(node: Any) -> Clause | None:
    """The SQL clause meaning exactly what ``_Evaluator.test(node)`` means, or None."""
    if isinstance(node, ast.And | ast.Or):
        parts = (_clause(node.lhs), _clause(node.rhs))
        if parts[0] is None or parts[1] is None:
            return None
        return Clause("and" if isinstance(node, ast.And) else "or", parts)
    if isinstance(node, ast.Not):
        inner = _clause(node.sub_node)
        return None if inner is None else Clause("not", (inner,))
    if isinstance(node, ast.Comparison) and node.op == ast.ComparisonOp.EQ:
        if isinstance(node.lhs, ast.Attribute):
            return _equality(node.lhs.name, node.rhs)
        return None
    if isinstance(node, ast.In) and isinstance(node.lhs, ast.Attribute) and node.sub_nodes:
        options = [_equality(node.lhs.name, value) for value in node.sub_nodes]
        if any(option is None for option in options):
            return None
        either = Clause("or", tuple(options))
        return Clause("not", (either,)) if node.not_ else either
    return None


def _conjuncts(node: Any) -> list[Any]:
    if isinstance(node, ast.And):
        return _conjuncts(node.lhs) + _conjuncts(node.rhs)
    return [node]


class CqlFilter:
    """A parsed CQL2 filter: a predicate ``(item, categories) -> bool``, plus the SQL part.

    ``prefilter`` is a clause every kept item satisfies (None: no SQL part); when ``exact``
    it is the whole filter and the predicate need not run at all.
    """

    def __init__(self, tree: Any) -> None:
        self.tree = tree
        whole = _clause(tree)
        self.exact = whole is not None
        if whole is None:
            parts = [c for c in (_clause(n) for n in _conjuncts(tree)) if c is not None]
            whole = parts[0] if len(parts) == 1 else Clause("and", tuple(parts)) if parts else None
        self.prefilter = whole

    def __call__(self, item: dict[str, Any], categories: Sequence[str]) -> bool:
        return _Evaluator(item, categories).test(self.tree)


def parse_filter(value: Any, language: Any = None) -> CqlFilter | None:
    """Parse a CQL2 filter into a predicate ``(item, categories) -> bool``."""
    if value is None or value == "" or value == {}:
        return None
    if language not in (None, "", "cql2-text", "cql2-json"):
        raise BadRequest("Parameter 'filter-lang' must be cql2-text or cql2-json")
    try:
        if isinstance(value, dict) or language == "cql2-json":
            tree = parse_json(value if isinstance(value, dict) else json.loads(value))
        elif isinstance(value, str):
            tree = parse_text(value)
        else:
            raise ValueError("expected a string or a JSON object")
    except Exception as error:  # the parsers raise lark, JSON and value errors alike
        summary = str(error).strip().splitlines()[0] if str(error).strip() else "invalid"
        raise BadRequest(f"Parameter 'filter' is not valid CQL2: {summary[:200]}") from None
    # Unsupported operators and ill-typed operands must fail now (400), not in a search.
    _check(tree)
    return CqlFilter(tree)


#: Most predicates and list values a filter may hold (its SQL and evaluation recurse).
MAX_FILTER_TERMS = 250

_SCALARS = (str, int, float, bool, date, datetime)
_PREDICATES = (
    ast.Include,
    ast.And,
    ast.Or,
    ast.Not,
    ast.Comparison,
    ast.Between,
    ast.In,
    ast.IsNull,
    ast.Like,
    ast.SpatialComparisonPredicate,
    ast.BBox,
    ast.ArrayPredicate,
)


def _bad(message: str) -> BadRequest:
    return BadRequest(f"Parameter 'filter': {message}")


def _check_operand(node: Any, spatial: bool = False) -> None:
    """An attribute, a literal of a supported type, or (for spatial ones) a geometry."""
    if isinstance(node, ast.Attribute):
        if not isinstance(node.name, str) or not node.name:
            raise _bad("a property name must be a non-empty string")
        return
    if spatial:
        try:
            geometry: Any = _Evaluator({}, []).value(node)
        except Exception:  # shapely and pygeofilter raise many kinds for a bad geometry
            raise _bad("a spatial operand is not a valid geometry or bbox") from None
        if not isinstance(geometry, BaseGeometry) or not all(
            math.isfinite(n) for n in geometry.bounds if not geometry.is_empty
        ):
            raise _bad("a spatial operand is not a valid geometry or bbox")
        return
    if isinstance(node, list):
        if not all(isinstance(v, _SCALARS) for v in node):
            raise _bad("an array may only hold strings, numbers, booleans and timestamps")
        return
    if isinstance(node, _PREDICATES):
        return  # a nested predicate, checked on its own
    if node is not None and not isinstance(node, _SCALARS):
        raise _bad(f"unsupported operand {type(node).__name__}")


def _check(tree: Any) -> None:
    """Walk the filter (without recursion) and refuse what evaluation cannot handle."""
    pending = [tree]
    terms = 0
    while pending:
        node = pending.pop()
        terms += 1
        if terms > MAX_FILTER_TERMS:
            raise _bad(f"more than {MAX_FILTER_TERMS} terms")
        if isinstance(node, ast.And | ast.Or):
            pending.extend((node.lhs, node.rhs))
        elif isinstance(node, ast.Not):
            pending.append(node.sub_node)
        elif isinstance(node, ast.Include):
            continue
        elif isinstance(node, ast.Comparison | ast.ArrayPredicate):
            _check_operand(node.lhs)
            _check_operand(node.rhs)
        elif isinstance(node, ast.Between):
            for operand in (node.lhs, node.low, node.high):
                _check_operand(operand)
        elif isinstance(node, ast.In):
            _check_operand(node.lhs)
            if not isinstance(node.sub_nodes, list):
                raise _bad("IN needs a list of values")
            terms += len(node.sub_nodes)
            if terms > MAX_FILTER_TERMS:
                raise _bad(f"more than {MAX_FILTER_TERMS} terms")
            for value in node.sub_nodes:
                if isinstance(value, list):
                    raise _bad("IN values must be strings, numbers, booleans or timestamps")
                _check_operand(value)
        elif isinstance(node, ast.IsNull):
            _check_operand(node.lhs)
        elif isinstance(node, ast.Like):
            _check_operand(node.lhs)
            if not isinstance(node.pattern, str):
                raise _bad("the pattern of LIKE must be a string")
        elif isinstance(node, ast.SpatialComparisonPredicate):
            _check_operand(node.lhs, spatial=not isinstance(node.lhs, ast.Attribute))
            _check_operand(node.rhs, spatial=not isinstance(node.rhs, ast.Attribute))
        elif isinstance(node, ast.BBox):
            _check_operand(node.lhs)
            bounds = (node.minx, node.miny, node.maxx, node.maxy)
            if not all(isinstance(n, int | float) and math.isfinite(n) for n in bounds):
                raise _bad("BBOX needs four finite numbers")
        else:
            raise _bad(f"unsupported operation {type(node).__name__}")


def queryables(base_url: str, collection_id: str | None = None) -> dict[str, Any]:
    """The JSON Schema of what filters may name (item properties are open-ended)."""
    path = f"/api/stac/collections/{collection_id}/queryables" if collection_id else ""
    return {
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": f"{base_url}{path or '/api/stac/queryables'}",
        "type": "object",
        "title": "Queryables",
        "properties": QUERYABLES,
        "additionalProperties": True,
    }
