"""Item search: collections, bbox, text, topics, ids, datetime, sorting and paging.

Every test runs twice: on a server indexing into SQLite and on one indexing into PostgreSQL,
the same index code path over both engines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

EUROSAT_MODEL = "demo/eurosat-lulc-classifier"
EUROSAT_DATA = "demo/eurosat-rgb-samples"
BOLIVIA = "demo/sen1floods11-bolivia"
FLOOD_MODEL = "demo/flood-mapping-threshold"
MALFORMED = "team/broken-front-matter"
PRIVATE = "team/secret-model"
UNCATEGORISED = "team/notes"
WRONG_TYPES = "team/wrong-types"
VISIBLE = {EUROSAT_MODEL, EUROSAT_DATA, BOLIVIA, FLOOD_MODEL, MALFORMED, WRONG_TYPES}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def http(
    request: pytest.FixtureRequest, store: Path, serve: Callable[..., str]
) -> Iterator[httpx.Client]:
    """A client of a server whose index lives in SQLite, then in PostgreSQL."""
    if request.param == "sqlite":
        url = request.getfixturevalue("base_url")
    else:
        database = request.getfixturevalue("postgres_url")
        url = serve("--projects", str(store), "--db", database)
    with httpx.Client(base_url=url, timeout=10) as client:
        yield client


def ids(body: dict[str, Any]) -> set[str]:
    return {feature["id"] for feature in body["features"]}


def search(http: httpx.Client, **params: Any) -> dict[str, Any]:
    response = http.get("/api/stac/search", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/geo+json")
    return response.json()  # type: ignore[no-any-return]


def test_search_without_collections_covers_all_visible_items(http: httpx.Client) -> None:
    # When
    body = search(http, limit=100)
    # Then: everything public with a category, nothing private, nothing uncategorised
    assert ids(body) == VISIBLE
    assert body["numberMatched"] == len(VISIBLE)
    assert body["context"] == {"limit": 100, "matched": len(VISIBLE), "returned": len(VISIBLE)}
    assert PRIVATE not in ids(body)
    assert UNCATEGORISED not in ids(body)


def test_search_by_collection(http: httpx.Client) -> None:
    # When
    models = search(http, collections="ai-model")
    both = search(http, collections="ai-model,dataset")
    # Then
    assert ids(models) == {EUROSAT_MODEL, FLOOD_MODEL}
    assert all(f["collection"] == "ai-model" for f in models["features"])
    assert ids(both) == VISIBLE


def test_collection_items_route_lists_one_collection(http: httpx.Client) -> None:
    body = http.get("/api/stac/collections/dataset/items").json()
    assert ids(body) == {BOLIVIA, EUROSAT_DATA, MALFORMED, WRONG_TYPES}
    assert "collection" in {link["rel"] for link in body["links"]}


def test_bbox_over_bolivia_finds_the_flood_items_only(http: httpx.Client) -> None:
    # When
    body = search(http, bbox="-65.5,-14.5,-64.5,-13.5")
    # Then
    assert ids(body) == {BOLIVIA, FLOOD_MODEL}
    assert body["numberMatched"] == 2


def test_bbox_over_europe_finds_the_eurosat_items_only(http: httpx.Client) -> None:
    body = search(http, bbox="2,45,10,50")
    assert ids(body) == {EUROSAT_MODEL, EUROSAT_DATA}


def test_bbox_uses_the_exact_geometry_not_only_its_bounds(http: httpx.Client) -> None:
    # Given a box inside the bounds of the EuroSAT samples polygon but outside the polygon
    body = search(http, bbox="27,57.5,29,58.5")
    # Then only the rectangular EuroSAT model extent intersects it
    assert ids(body) == {EUROSAT_MODEL}


def test_post_search_with_intersects(http: httpx.Client) -> None:
    # Given a GeoJSON point in Bolivia
    point = {"type": "Point", "coordinates": [-65.0, -14.0]}
    # When
    response = http.post("/api/stac/search", json={"intersects": point, "limit": 10})
    # Then
    assert response.status_code == 200
    assert ids(response.json()) == {BOLIVIA, FLOOD_MODEL}


def test_free_text_search(http: httpx.Client) -> None:
    assert ids(search(http, q="backscatter")) == {FLOOD_MODEL}
    assert ids(search(http, q="EUROSAT")) == {EUROSAT_MODEL, EUROSAT_DATA}
    assert ids(search(http, q="eurosat perceptron")) == {EUROSAT_MODEL}
    assert ids(search(http, q="no-such-word-anywhere")) == set()


def test_topic_terms_filter_by_topic(http: httpx.Client) -> None:
    assert ids(search(http, q="[flood]")) == {BOLIVIA, FLOOD_MODEL}
    assert ids(search(http, q="[flood],[sentinel-1],threshold")) == {FLOOD_MODEL}


def test_ids_filter(http: httpx.Client) -> None:
    body = search(http, ids=f"{BOLIVIA},{EUROSAT_DATA},{PRIVATE}")
    assert ids(body) == {BOLIVIA, EUROSAT_DATA}


def test_datetime_filters_on_the_temporal_extent(http: httpx.Client) -> None:
    # The flood items cover 15 February 2018; the EuroSAT items 2017-2018.
    assert ids(search(http, datetime="2018-02-15T12:00:00Z", collections="ai-model")) == {
        EUROSAT_MODEL,
        FLOOD_MODEL,
    }
    assert ids(search(http, datetime="2018-03-01T00:00:00Z/..", collections="dataset")) == {
        EUROSAT_DATA,
        MALFORMED,
        WRONG_TYPES,
    }
    assert ids(search(http, datetime="../2016-12-31T00:00:00Z")) == set()


def test_an_instant_matches_the_datetime_read_off_an_item(http: httpx.Client) -> None:
    # Given: an item's `datetime` (last activity, outside its declared extent)
    first = search(http, ids=FLOOD_MODEL)["features"][0]
    moment = first["properties"]["datetime"]
    assert not (
        first["properties"]["start_datetime"] <= moment <= first["properties"]["end_datetime"]
    )

    # When: searching that exact instant, and the open interval that starts just after it
    exact = ids(search(http, datetime=moment))
    lower_case = ids(search(http, datetime=moment.replace("T", "t").replace("Z", "z")))

    # Then: the instant finds it; intervals still look at the declared extent only
    assert FLOOD_MODEL in exact
    assert FLOOD_MODEL in lower_case
    assert ids(search(http, datetime="../2016-12-31T00:00:00Z")) == set()


def test_a_limit_above_the_maximum_is_served_as_the_maximum(http: httpx.Client) -> None:
    # When
    body = search(http, limit=100000)
    # Then
    assert body["context"]["limit"] == 100


def test_post_search_wants_json_arrays(http: httpx.Client) -> None:
    # When: a bbox as a CSV string in a JSON body
    response = http.post("/api/stac/search", json={"bbox": "-66,-15,-64,-13"})
    # Then
    assert response.status_code == 400
    assert "bbox" in response.json()["message"]
    assert http.post("/api/stac/search", json={"bbox": [-66, -15, -64, -13]}).status_code == 200


def test_sortby(http: httpx.Client) -> None:
    body = search(http, sortby="-id", collections="ai-model")
    assert [f["id"] for f in body["features"]] == [FLOOD_MODEL, EUROSAT_MODEL]
    body = search(http, sortby="+properties.title", collections="dataset")
    titles = [f["properties"]["title"] for f in body["features"]]
    assert titles == sorted(titles)


@pytest.mark.parametrize("paging", ["after", "token"])
def test_paging_visits_every_item_exactly_once(http: httpx.Client, paging: str) -> None:
    # Given
    url = "/api/stac/search?limit=1&sortby=id"
    seen: list[str] = []
    matched = set()
    # When following next links
    while url:
        body = http.get(url).json()
        matched.add(body["numberMatched"])
        seen.extend(f["id"] for f in body["features"])
        nexts = [link["href"] for link in body["links"] if link["rel"] == "next"]
        if nexts and paging == "token":
            nexts = [nexts[0].replace("after=", "token=")]
        url = nexts[0] if nexts else ""
        assert len(seen) <= len(VISIBLE)
    # Then
    assert sorted(seen) == sorted(VISIBLE)
    assert matched == {len(VISIBLE)}


def link(body: dict[str, Any], rel: str) -> str | None:
    return next((x["href"] for x in body["links"] if x["rel"] == rel), None)


def test_prev_link_goes_back(http: httpx.Client) -> None:
    first = search(http, limit=2, sortby="id")
    second = http.get(str(link(first, "next"))).json()
    back = http.get(str(link(second, "prev"))).json()
    assert [f["id"] for f in back["features"]] == [f["id"] for f in first["features"]]


def test_bbox_search_pages_too(http: httpx.Client) -> None:
    first = search(http, bbox="-66,-15,-64,-13", limit=1)
    assert first["numberMatched"] == 2
    second = http.get(str(link(first, "next"))).json()
    assert ids(first) | ids(second) == {BOLIVIA, FLOOD_MODEL}
    assert link(second, "next") is None


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"bbox": "1,2,3"}, "bbox"),
        ({"bbox": "a,b,c,d"}, "bbox"),
        ({"bbox": "10,0,0,10"}, "bbox"),
        ({"limit": "0"}, "limit"),
        ({"limit": "-5"}, "limit"),
        ({"bbox": "-66,-15,-64,-13", "intersects": '{"type":"Point","coordinates":[0,0]}'}, "bbox"),
        ({"datetime": "1985-04-12"}, "datetime"),
        ({"datetime": "1985-12-12T23:20:50.52"}, "datetime"),
        ({"datetime": "1937-01-01T12:00:27.87+0100"}, "datetime"),
        ({"datetime": "../.."}, "datetime"),
        ({"datetime": "/"}, "datetime"),
        ({"limit": "ten"}, "limit"),
        ({"datetime": "yesterday"}, "datetime"),
        ({"datetime": "2020-01-01T00:00:00Z/2019-01-01T00:00:00Z"}, "datetime"),
        ({"collections": "nope"}, "collections"),
        ({"sortby": "-colour"}, "sortby"),
        ({"intersects": "{not json"}, "intersects"),
        ({"after": "garbage!"}, "after"),
        ({"filter": "title ==== 'x'"}, "filter"),
        ({"filter": "title = 'x'", "filter-lang": "sql"}, "filter-lang"),
        ({"filter": "{not json", "filter-lang": "cql2-json"}, "filter"),
        ({"filter": "title = 'x'", "filter-crs": "EPSG:4326"}, "filter-crs"),
        ({"mode": "thumbnail"}, "mode"),
        ({"fields": "properties.,id"}, "fields"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(
    http: httpx.Client, params: dict[str, str], parameter: str
) -> None:
    # When
    response = http.get("/api/stac/search", params=params)
    # Then
    assert response.status_code == 400
    body = response.json()
    assert body["reason"] == "bad_request"
    assert f"'{parameter}'" in body["message"]
    assert body["detail"] == body["message"]


def test_bad_post_body_is_400(http: httpx.Client) -> None:
    response = http.post(
        "/api/stac/search", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert http.post("/api/stac/search", json={"bbox": [1, 2]}).status_code == 400


def test_cql2_text_filter_on_an_extension_property(http: httpx.Client) -> None:
    # Given every visible item, and those whose MLM framework is ONNX
    everything = search(http, limit=100)["features"]
    onnx = {f["id"] for f in everything if f["properties"].get("mlm:framework") == "onnx"}
    assert onnx == {EUROSAT_MODEL, FLOOD_MODEL}
    # When
    body = search(http, filter="mlm:framework = 'onnx'", limit=100)
    # Then
    assert ids(body) == onnx
    assert body["numberMatched"] == len(onnx)
    assert ids(search(http, filter="mlm:framework <> 'onnx' OR mlm:framework IS NULL")) == (
        VISIBLE - onnx
    )


def test_cql2_text_like_in_and_dates(http: httpx.Client) -> None:
    assert ids(search(http, filter="title LIKE 'EuroSAT%'")) == {EUROSAT_MODEL, EUROSAT_DATA}
    assert ids(search(http, filter=f"id IN ('{BOLIVIA}', '{PRIVATE}', 'x/y')")) == {BOLIVIA}
    late = "start_datetime >= TIMESTAMP('2018-02-01T00:00:00Z') AND collection = 'ai-model'"
    assert ids(search(http, filter=late)) == {FLOOD_MODEL}


def test_cql2_json_filter_in_a_post_search_pages_with_its_filter(http: httpx.Client) -> None:
    # Given a CQL2 JSON filter: datasets whose geometry contains a point in Bolivia
    cql2 = {
        "op": "and",
        "args": [
            {"op": "=", "args": [{"property": "collection"}, "dataset"]},
            {
                "op": "s_intersects",
                "args": [
                    {"property": "geometry"},
                    {"type": "Point", "coordinates": [-65.0, -14.0]},
                ],
            },
        ],
    }
    # When
    first = http.post("/api/stac/search", json={"filter": cql2, "limit": 10}).json()
    # Then
    assert ids(first) == {BOLIVIA}
    # And a filter on ai-model items pages through POST links whose body keeps the filter
    models = {"op": "=", "args": [{"property": "collection"}, "ai-model"]}
    page = http.post("/api/stac/search", json={"filter": models, "limit": 1}).json()
    seen = ids(page)
    while following := next((x for x in page["links"] if x["rel"] == "next"), None):
        assert following["method"] == "POST"
        assert following["body"]["filter"] == models
        page = http.post(following["href"], json=following["body"]).json()
        seen |= ids(page)
    assert seen == {EUROSAT_MODEL, FLOOD_MODEL}


def test_queryables_describe_the_filterable_fields(http: httpx.Client) -> None:
    body = http.get("/api/stac/queryables").json()
    assert {"id", "collection", "geometry", "datetime"} <= set(body["properties"])
    assert body["additionalProperties"] is True
    assert http.get("/api/stac/collections/ai-model/queryables").status_code == 200
    assert http.get("/api/stac/collections/nope/queryables").status_code == 404
    conforms = http.get("/api/stac/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json" in conforms


def test_reference_and_preview_modes_are_lighter_items(http: httpx.Client) -> None:
    # Given the full item
    full = search(http, ids=EUROSAT_MODEL)["features"][0]
    # When
    reference = search(http, ids=EUROSAT_MODEL, mode="reference")["features"][0]
    preview = search(http, ids=EUROSAT_MODEL, mode="preview")["features"][0]
    # Then reference keeps the identity only, preview adds list-card fields
    assert reference["id"] == full["id"]
    assert reference["geometry"] is None
    assert reference["properties"] == {"title": full["properties"]["title"], "datetime": None}
    assert reference["assets"] == {}
    assert {link["rel"] for link in reference["links"]} == {"self", "parent", "root", "collection"}
    assert preview["geometry"] is None
    assert preview["properties"]["title"] == full["properties"]["title"]
    assert preview["properties"]["keywords"] == full["properties"]["keywords"]
    assert len(preview["properties"]["description"]) <= 153
    assert "#" not in preview["properties"]["description"]
    assert all("thumbnail" in a["roles"] for a in preview["assets"].values())
    assert set(preview["assets"]) < set(full["assets"])


def test_fields_include_and_exclude(http: httpx.Client) -> None:
    # When
    slim = search(http, ids=EUROSAT_MODEL, fields="properties.title,-assets")["features"][0]
    posted = http.post(
        "/api/stac/search",
        json={"ids": [EUROSAT_MODEL], "fields": {"exclude": ["assets", "properties.description"]}},
    ).json()["features"][0]
    # Then
    assert set(slim) == {"type", "stac_version", "id", "properties"}
    assert slim["properties"] == {"title": "EuroSAT land-use classifier"}
    assert "assets" not in posted
    assert "description" not in posted["properties"]
    assert posted["properties"]["mlm:framework"] == "onnx"
    assert posted["links"]


def test_number_matched_is_left_out_past_the_count_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In process (the limit is lowered for the test): above ``COUNT_LIMIT`` matches the page
    has no numberMatched (STAC API allows leaving it out) and its next links still reach
    every item."""
    from mlops_server.app import create_app
    from mlops_server.index import Index
    from mlops_server.settings import load_settings
    from starlette.testclient import TestClient

    from tests.server.test_index import Source, project

    # Given five public datasets and an index that counts at most three matches
    settings = load_settings()
    source = Source([project(n, f"g/p{n}", "public") for n in range(1, 6)])
    index = Index("sqlite://")
    index.rebuild(source, settings)
    monkeypatch.setattr("mlops_server.index.COUNT_LIMIT", 3)
    seen: list[str] = []
    with TestClient(create_app(settings, source, index)) as client:
        url = "/api/stac/search?limit=2"
        while url:
            # When following the next links
            body = client.get(url).json()
            # Then no page claims a count, and the pages hold every item once
            assert "numberMatched" not in body
            assert body["context"] == {"limit": 2, "returned": len(body["features"])}
            seen += [feature["id"] for feature in body["features"]]
            url = link(body, "next") or ""
    assert seen == [f"g/p{n}" for n in range(1, 6)]
    index.dispose()
