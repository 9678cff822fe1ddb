"""``CatalogMap`` on the Python side, against the embedded platform: the map's front-end events
(draw, click) are fed to the widgets as the browser would send them."""

from __future__ import annotations

import datetime as dt

import ipyleaflet
import pystac
import pytest

from jupyter_mlops.widgets import CatalogMap

BOLIVIA_BOX = {
    "type": "Feature",
    "properties": {},
    "geometry": {
        "type": "Polygon",
        "coordinates": [[[-66.5, -15.5], [-63.5, -15.5], [-63.5, -12.5], [-66.5, -12.5],
                         [-66.5, -15.5]]],
    },
}  # fmt: skip


def draw(widget: CatalogMap, action: str, feature: dict[str, object]) -> None:
    """What ipyleaflet's front end sends when the user draws a shape."""
    widget.draw._handle_leaflet_event(None, {"event": f"draw:{action}", "geo_json": feature}, [])


@pytest.fixture
def widget(platform_env: str) -> CatalogMap:
    return CatalogMap()


def test_the_basemap_is_offline(widget: CatalogMap) -> None:
    # Then no tile layer (internet) is on the map, the shipped land outline is
    layers = list(widget.map.layers)
    assert not [layer for layer in layers if isinstance(layer, ipyleaflet.TileLayer)]
    land = next(layer for layer in layers if getattr(layer, "name", "") == "land")
    assert land.data["features"][0]["geometry"]["type"] == "MultiPolygon"
    assert {"ai-model", "dataset"} <= set(widget.collections.options)


def test_drawing_a_box_searches_and_shows_footprints(widget: CatalogMap) -> None:
    # Given the dataset collection chosen
    widget.collections.value = ("dataset",)

    # When a box is drawn over Bolivia
    draw(widget, "created", BOLIVIA_BOX)

    # Then the catalog was searched in that box: footprints and list show the flood dataset
    assert widget.bbox == [-66.5, -15.5, -63.5, -12.5]
    assert [item.id for item in widget.items] == ["demo/sen1floods11-bolivia"]
    assert [f["id"] for f in widget.footprints.data["features"]] == ["demo/sen1floods11-bolivia"]
    assert widget.results.options[0][1] == "demo/sen1floods11-bolivia"
    assert widget.status.value == "1 item(s)"

    # When the box is deleted
    draw(widget, "deleted", BOLIVIA_BOX)

    # Then the search is no longer limited to it
    assert widget.bbox is None
    assert len(widget.items) > 1


def test_text_and_date_filters(widget: CatalogMap) -> None:
    # When searching by text, then with a date range before any demo item
    widget.text.value = "eurosat"
    widget.search()
    by_text = {item.id for item in widget.items}
    widget.end.value = dt.date(1990, 1, 1)
    widget.search()

    # Then
    assert by_text == {"demo/eurosat-lulc-classifier", "demo/eurosat-rgb-samples"}
    assert widget.items == []


def test_clicking_a_footprint_selects_the_item(widget: CatalogMap) -> None:
    # Given results on the map
    widget.collections.value = ("dataset",)
    draw(widget, "created", BOLIVIA_BOX)
    feature = widget.footprints.data["features"][0]

    # When its footprint is clicked (the event ipyleaflet's front end sends)
    widget.footprints._handle_mouse_events(
        None, {"event": "click", "feature": feature, "properties": feature["properties"]}, []
    )

    # Then the item is back in Python as a pystac Item, highlighted and described
    assert isinstance(widget.selected, pystac.Item)
    assert widget.selected.id == "demo/sen1floods11-bolivia"
    assert widget.selected.assets
    styled = widget.footprints.data["features"][0]["properties"]["style"]
    assert styled["color"] == "#d29922"
    assert "widget.selected" in widget.details.value

    # When another search replaces the results, the selection goes
    widget.search()
    assert widget.selected is None


def test_outside_a_live_kernel_it_is_plain_html(widget: CatalogMap) -> None:
    # Given results and a selection
    widget.collections.value = ("dataset",)
    draw(widget, "created", BOLIVIA_BOX)
    widget.results.value = "demo/sen1floods11-bolivia"

    # When a front end without widgets asks for a representation
    data, _ = widget._repr_mimebundle_()

    # Then there is HTML with the footprint sketch and the results table, beside the widget view
    page = data["text/html"]
    assert "application/vnd.jupyter.widget-view+json" in data
    assert "<svg class='jp-mlops-footprints'" in page
    assert "<path d='M" in page  # the land outline
    assert "fill='#d29922'" in page  # the selected footprint
    assert "<code>demo/sen1floods11-bolivia</code>" in page
    assert "<tr class=selected>" in page
    assert "Box: -66.50, -15.50, -63.50, -12.50" in page
