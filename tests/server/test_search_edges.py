"""Search inputs at the edges: CQL2 bbox literals, and input that must be a 400, never a 500,
on both index engines."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from tests.server.test_search import BOLIVIA, FLOOD_MODEL, VISIBLE, http, ids

__all__ = ["http"]  # the module-scoped client of test_search (SQLite, then PostgreSQL)

WORLD = [-180, -90, 180, 90]
BOLIVIA_BOX = [-66, -15, -64, -13]


def post(client: httpx.Client, body: dict[str, Any]) -> httpx.Response:
    return client.post("/api/stac/search", json={"limit": 100, **body})


def test_cql2_bbox_literals_mean_minx_miny_maxx_maxy(http: httpx.Client) -> None:
    # Given: the same box as a bbox parameter, a CQL2-JSON bbox and a CQL2-text BBOX()
    by_parameter = ids(post(http, {"bbox": BOLIVIA_BOX}).json())
    as_json = {
        "filter": {
            "op": "s_intersects",
            "args": [{"property": "geometry"}, {"bbox": BOLIVIA_BOX}],
        }
    }
    as_text = {"filter": "S_INTERSECTS(geometry, BBOX(-66,-15,-64,-13))"}
    world = {"filter": {"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": WORLD}]}}

    # When / Then: all three find the same items; the whole world finds every located one
    assert by_parameter == {BOLIVIA, FLOOD_MODEL}
    assert ids(post(http, as_json).json()) == by_parameter
    assert ids(post(http, as_text).json()) == by_parameter
    located = ids(post(http, {"bbox": WORLD}).json())
    assert ids(post(http, world).json()) == located
    assert located < VISIBLE


def _cursor(offset: str) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode()


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"bbox": "1e400,0,1e400,1"}, "bbox"),
        ({"bbox": "-inf,0,1,1"}, "bbox"),
        ({"datetime": "0001-01-01T00:00:00+01:00"}, "datetime"),
        ({"datetime": "9999-12-31T23:59:59-01:00/.."}, "datetime"),
        ({"token": _cursor("99999999999999999999")}, "token"),
        ({"before": _cursor("99999999999999999999")}, "before"),
        ({"filter": "title LIKE 5"}, "filter"),
        ({"filter": " OR ".join(f"title = 't{n}'" for n in range(500))}, "filter"),
        ({"filter": f"id IN ({', '.join(repr(str(n)) for n in range(1000))})"}, "filter"),
        ({"filter": "S_INTERSECTS(geometry, BBOX(0,0,'a',1))"}, "filter"),
        ({"q": " ".join(f"w{n}" for n in range(60))}, "q"),
        ({"ids": ",".join(f"g/p{n}" for n in range(1001))}, "ids"),
    ],
)
def test_extreme_query_parameters_are_400_naming_the_parameter(
    http: httpx.Client, params: dict[str, str], parameter: str
) -> None:
    response = http.get("/api/stac/search", params=params)
    assert response.status_code == 400, response.text
    assert f"'{parameter}'" in response.json()["message"]


@pytest.mark.parametrize(
    ("body", "parameter"),
    [
        ({"bbox": [0, 0, "<huge>", 1]}, "bbox"),
        ({"fields": {"include": 5}}, "fields"),
        ({"fields": {"exclude": 5}}, "fields"),
        ({"filter": {"op": "like", "args": [{"property": "title"}, {"property": "id"}]}}, "filter"),
        ({"filter": {"op": "in", "args": [{"property": "title"}, 5]}}, "filter"),
        ({"filter": {"op": "=", "args": [{"property": 5}, "x"]}}, "filter"),
        (
            {
                "filter": {
                    "op": "s_intersects",
                    "args": [
                        {"property": "geometry"},
                        {"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]},
                    ],
                }
            },
            "filter",
        ),
        (
            {
                "filter": {
                    "op": "s_intersects",
                    "args": [{"property": "geometry"}, {"bbox": [0, 0, "a", 1]}],
                }
            },
            "filter",
        ),
        ({"q": [f"[topic{n}]" for n in range(60)]}, "q"),
    ],
)
def test_extreme_post_bodies_are_400_naming_the_parameter(
    http: httpx.Client, body: dict[str, Any], parameter: str
) -> None:
    response = http.post(
        "/api/stac/search",
        content=httpx.Request("POST", "http://x", json=body).content.replace(b"Infinity", b"1e400"),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert f"'{parameter}'" in response.json()["message"]


@pytest.mark.parametrize("key", ["%C2%B2", "99999999999999999999999"])
def test_check_with_a_numeric_looking_key_is_404_not_500(http: httpx.Client, key: str) -> None:
    assert http.get(f"/api/check/{key}").status_code == 404
