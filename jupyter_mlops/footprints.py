"""Footprints for static outputs: a small SVG world map with item boxes, no JavaScript.

Used where a live map cannot run: ``%mlops search`` results, and the HTML a
:class:`jupyter_mlops.widgets.CatalogMap` leaves in a saved notebook. The land outline is Natural
Earth's 1:110m land shipped in the package (world-atlas, the sidebar's basemap), simplified to a
degree so one map weighs about 6 kB.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from functools import cache
from importlib.resources import files
from typing import Any


@cache
def land_outline() -> dict[str, Any]:
    """Natural Earth 1:110m land as a GeoJSON FeatureCollection (public domain)."""
    text = files("jupyter_mlops").joinpath("basemaps", "land-110m.geojson").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def land_path() -> str:
    """The land outline as an SVG path in an equirectangular 360 x 180 frame."""
    from shapely.geometry import shape

    simplified = shape(land_outline()["features"][0]["geometry"]).simplify(1.0)
    parts = []
    for polygon in getattr(simplified, "geoms", [simplified]):
        if polygon.area < 4:  # islands smaller than 2 x 2 degrees
            continue
        points: list[tuple[int, int]] = []
        for x, y in polygon.exterior.coords:
            point = (round(x + 180), round(90 - y))
            if not points or points[-1] != point:
                points.append(point)
        if len(points) >= 4:
            parts.append("M" + " ".join(f"{x} {y}" for x, y in points) + "Z")
    return "".join(parts)


def _rect(bbox: Sequence[float], style: str) -> str:
    west, south, east, north = bbox[0], bbox[1], bbox[-2], bbox[-1]
    return (
        f"<rect x='{west + 180:.2f}' y='{90 - north:.2f}' width='{max(east - west, 0.5):.2f}'"
        f" height='{max(north - south, 0.5):.2f}' {style}/>"
    )


def sketch(
    bboxes: Iterable[Sequence[float] | None],
    box: Sequence[float] | None = None,
    highlighted: Sequence[float] | None = None,
    width: int = 360,
) -> str:
    """An SVG map: land, one rectangle per footprint bbox, the search ``box`` outlined."""
    shapes = [
        _rect(b, "fill='#1f6feb' fill-opacity='0.3' stroke='#1f6feb' stroke-width='0.3'")
        for b in bboxes
        if b
    ]
    if highlighted:
        shapes.append(_rect(highlighted, "fill='#d29922' fill-opacity='0.5' stroke='#d29922'"))
    if box:
        shapes.append(_rect(box, "fill='none' stroke='#cf222e' stroke-width='0.6'"))
    return (
        f"<svg class='jp-mlops-footprints' viewBox='0 0 360 180' width='{width}'"
        f" height='{width // 2}' role='img' aria-label='footprints on a world map'"
        " style='background:#eef2f6;border:1px solid #d0d7de'>"
        f"<path d='{land_path()}' fill='#d0d7de' stroke='#8b949e' stroke-width='0.3'/>"
        f"{''.join(shapes)}</svg>"
    )
