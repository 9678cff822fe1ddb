"""Notebook widgets: :class:`CatalogMap`, map search of the catalog on leafmap/ipyleaflet.

Draw a box on the map (or type filters) and the catalog is searched; footprints appear on the
map and items in a list; selecting one (in the list or by clicking its footprint) makes it
available in Python as ``widget.selected`` (a :class:`pystac.Item`).

The basemap is offline: Natural Earth's 1:110m land outline (from world-atlas, the same data
the JupyterLab sidebar ships), drawn as a GeoJSON layer; no tile is fetched from the internet
unless ``basemap=`` names a tile provider. Outside a live kernel (a saved notebook, nbconvert,
GitHub) the widget shows as plain HTML: footprints as an SVG sketch and the results as a table.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

import ipyleaflet  # type: ignore[import-untyped]
import ipywidgets as widgets  # type: ignore[import-untyped]
import leafmap.leafmap as leafmap  # type: ignore[import-untyped]
import traitlets

from .footprints import land_outline, sketch

#: Style of footprints, and of the selected one.
FOOTPRINT = {"color": "#1f6feb", "weight": 1, "fillOpacity": 0.15}
SELECTED = {"color": "#d29922", "weight": 3, "fillOpacity": 0.35}


def _bbox_of(geo_json: dict[str, Any]) -> list[float]:
    """minx, miny, maxx, maxy of a drawn GeoJSON feature (clamped to WGS84)."""
    from shapely.geometry import shape

    minx, miny, maxx, maxy = shape(geo_json["geometry"]).bounds
    return [max(minx, -180.0), max(miny, -90.0), min(maxx, 180.0), min(maxy, 90.0)]


class CatalogMap(widgets.VBox):  # type: ignore[misc]
    """Search the catalog on a map; the chosen item is ``widget.selected``.

    Parameters
    ----------
    catalog
        A :class:`jupyter_mlops.catalog.Catalog`; default: this kernel's platform.
    collections
        Collections offered in the filter; default: those the catalog lists.
    limit
        Most items per search.
    basemap
        A leafmap basemap name to add tiles (fetched from the internet); default: none, the
        offline land outline only.

    Examples
    --------
    >>> widget = CatalogMap()
    >>> widget                      # draw a box, pick an item
    >>> widget.selected.assets
    """

    selected = traitlets.Any(None, allow_none=True)

    def __init__(
        self,
        catalog: Any | None = None,
        collections: Sequence[str] | None = None,
        limit: int = 100,
        basemap: str | None = None,
    ) -> None:
        from .catalog import Catalog

        self.catalog = catalog or Catalog()
        self.limit = limit
        self.bbox: list[float] | None = None
        self.items: list[Any] = []
        if collections is None:
            collections = [c.id for c in self.catalog._client().get_collections()]

        self.map = leafmap.Map(
            center=[20, 0], zoom=2, height="420px", draw_control=False, toolbar_control=False,
            fullscreen_control=False, measure_control=False, scale_control=False,
            attribution_control=False, layers_control=False,
        )  # fmt: skip
        for layer in list(self.map.layers):
            if isinstance(layer, ipyleaflet.TileLayer):
                self.map.remove(layer)
        if basemap:
            self.map.add_basemap(basemap)
        self.map.add(
            ipyleaflet.GeoJSON(
                data=land_outline(),
                name="land",
                style={"color": "#8b949e", "weight": 0.6, "fillColor": "#d0d7de", "fillOpacity": 1},
            )
        )
        self.draw = ipyleaflet.DrawControl(
            rectangle={"shapeOptions": {"color": "#cf222e", "fillOpacity": 0.05}},
            polygon={}, polyline={}, circlemarker={}, marker={}, circle={},
        )  # fmt: skip
        self.draw.on_draw(self._on_draw)
        self.map.add(self.draw)
        self.footprints = ipyleaflet.GeoJSON(
            data={"type": "FeatureCollection", "features": []},
            name="footprints",
            style=FOOTPRINT,
            hover_style={"weight": 2},
        )
        self.footprints.on_click(self._on_footprint_click)
        self.map.add(self.footprints)

        self.text = widgets.Text(placeholder="free text", description="Text")
        self.collections = widgets.SelectMultiple(
            options=list(collections), rows=min(4, max(1, len(collections))),
            description="Collections",
        )  # fmt: skip
        self.start = widgets.DatePicker(description="From")
        self.end = widgets.DatePicker(description="To")
        self.search_button = widgets.Button(description="Search", icon="search")
        self.search_button.on_click(lambda _: self.search())
        self.clear_button = widgets.Button(description="Clear box")
        self.clear_button.on_click(lambda _: self.clear_box())
        self.status = widgets.HTML()
        self.results = widgets.Select(options=[], rows=8, layout={"width": "100%"})
        self.results.observe(self._on_result_chosen, names="value")
        self.details = widgets.HTML()
        filters = widgets.VBox(
            [self.text, self.collections, self.start, self.end,
             widgets.HBox([self.search_button, self.clear_button]), self.status],
        )  # fmt: skip
        super().__init__(
            [widgets.HBox([self.map, filters]), self.results, self.details],
            layout={"width": "100%"},
        )
        self.add_class("jp-mlops-catalog-map")

    # -- searching ---------------------------------------------------------------------------

    def _datetime(self) -> str | None:
        start, end = self.start.value, self.end.value
        if start is None and end is None:
            return None
        return f"{start.isoformat() if start else '..'}/{end.isoformat() if end else '..'}"

    def search(self) -> list[Any]:
        """Search with the box and filters now set; returns (and shows) the items."""
        from .errors import MLOpsError

        self.status.value = "Searching…"
        try:
            found = self.catalog.search(
                collections=list(self.collections.value) or None,
                bbox=self.bbox,
                datetime=self._datetime(),
                q=self.text.value.strip() or None,
                max_items=self.limit,
            )
        except MLOpsError as error:
            self.status.value = f"<span class='jp-mlops-error'>{html.escape(error.message)}</span>"
            return self.items
        self.show(list(found))
        return self.items

    def show(self, items: list[Any]) -> None:
        """Display ``items``: footprints on the map, titles in the list."""
        self.items = items
        self.selected = None
        self.footprints.data = {
            "type": "FeatureCollection",
            "features": [
                {"type": "Feature", "id": item.id, "geometry": item.geometry,
                 "properties": {"id": item.id, "title": _title(item)}}
                for item in items if item.geometry
            ],
        }  # fmt: skip
        self.results.options = [
            (f"{_title(item)} ({item.collection_id})", item.id) for item in items
        ]
        self.results.value = None
        self.status.value = f"{len(items)} item(s)"
        self.details.value = ""

    def clear_box(self) -> None:
        """Forget the drawn box (and remove it from the map)."""
        self.bbox = None
        self.draw.clear()

    def _on_draw(self, control: Any, action: str, geo_json: dict[str, Any]) -> None:
        if action == "deleted":
            self.bbox = None
        elif action in ("created", "edited"):
            self.bbox = _bbox_of(geo_json)
        else:
            return
        self.search()

    # -- choosing ----------------------------------------------------------------------------

    def _on_footprint_click(self, feature: dict[str, Any] | None = None, **_: Any) -> None:
        if feature is not None:
            self.results.value = feature.get("properties", {}).get("id")

    def _on_result_chosen(self, change: dict[str, Any]) -> None:
        chosen = next((item for item in self.items if item.id == change["new"]), None)
        self.selected = chosen
        self.footprints.style_callback = _highlight(chosen.id if chosen else None)
        self.details.value = _details(chosen) if chosen else ""

    # -- outside a live kernel ---------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)
        if isinstance(bundle, tuple):
            data, metadata = bundle
        else:
            data, metadata = dict(bundle or {}), {}
        data["text/html"] = self.to_html()
        return data, metadata

    def to_html(self) -> str:
        """Plain HTML of the current state: a footprint sketch and the results table."""
        rows = "".join(
            f"<tr{' class=selected' if self.selected is item else ''}>"
            f"<td>{html.escape(_title(item))}</td><td>{html.escape(str(item.collection_id))}</td>"
            f"<td><code>{html.escape(item.id)}</code></td></tr>"
            for item in self.items
        )
        chosen = self.selected.bbox if self.selected is not None else None
        box = f"<p>Box: {', '.join(f'{v:.2f}' for v in self.bbox)}</p>" if self.bbox else ""
        return (
            "<div class='jp-mlops-catalog-map-static'>"
            f"{sketch((i.bbox for i in self.items), self.bbox, chosen)}{box}"
            f"<p>{len(self.items)} item(s)</p>"
            "<table><thead><tr><th>Title</th><th>Collection</th><th>Id</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div>"
        )


def _title(item: Any) -> str:
    return str(item.properties.get("title") or item.id)


def _highlight(selected_id: str | None) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def style(feature: dict[str, Any]) -> dict[str, Any]:
        return SELECTED if feature.get("id") == selected_id else FOOTPRINT

    return style


def _details(item: Any) -> str:
    assets = ", ".join(f"<code>{html.escape(key)}</code>" for key in item.assets)
    description = html.escape(str(item.properties.get("description") or ""))[:400]
    return (
        f"<b>{html.escape(_title(item))}</b> <code>{html.escape(item.id)}</code><br>"
        f"{description}<br>Assets: {assets or 'none'}<br>"
        "In Python: <code>widget.selected</code>"
    )
