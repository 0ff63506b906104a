"""Draw a community's locator map as inline SVG from the boundary file shipped with the package.

The outlines (`geo/mali.geojson`: Mali and its neighbours, simplified from Natural Earth, public
domain) are drawn in an equirectangular projection whose x axis is scaled by cos(latitude of the
frame's centre), which keeps shapes true to within a few per cent at this latitude:

    x = (lon - lon_min) * cos(phi_0) * k        y = (lat_max - lat) * k

The map needs no network and no browser. It computes nothing about the data; it only places points.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from html import escape
from pathlib import Path
from typing import Any

GEO_DIR = Path(__file__).parent / "geo"
KM_PER_DEGREE = 111.32
NEIGHBOUR_FILL = "#dde2e7"


@dataclass(frozen=True)
class MapPoint:
    """A community on the map; `focus` marks the one the fact sheet is about."""

    id: str
    label: str
    lat: float
    lon: float
    focus: bool = False


@dataclass(frozen=True)
class Frame:
    """The part of the world drawn: a longitude/latitude box, and the SVG width in pixels."""

    lon_min: float
    lon_max: float
    lat_min: float
    lat_max: float
    width: float = 300.0

    @property
    def scale(self) -> float:
        """Pixels per degree of latitude."""
        return self.width / ((self.lon_max - self.lon_min) * self.x_factor)

    @property
    def x_factor(self) -> float:
        return math.cos(math.radians((self.lat_min + self.lat_max) / 2))

    @property
    def height(self) -> float:
        return (self.lat_max - self.lat_min) * self.scale

    def project(self, lon: float, lat: float) -> tuple[float, float]:
        """SVG coordinates of a point (origin top left)."""
        return ((lon - self.lon_min) * self.x_factor * self.scale, (self.lat_max - lat) * self.scale)


@cache
def load_boundaries(name: str = "mali.geojson") -> dict[str, Any]:
    """The shipped boundary file (a GeoJSON FeatureCollection with a `metadata.frame` box)."""
    return json.loads((GEO_DIR / name).read_text(encoding="utf-8"))


def _path(frame: Frame, ring: Sequence[Sequence[float]]) -> str:
    points = [frame.project(lon, lat) for lon, lat in ring]
    head, *rest = points
    return f"M{head[0]:.1f},{head[1]:.1f}" + "".join(f"L{x:.1f},{y:.1f}" for x, y in rest) + "Z"


def _rings(geometry: dict[str, Any]) -> list[Sequence[Sequence[float]]]:
    if geometry["type"] == "Polygon":
        return list(geometry["coordinates"])
    if geometry["type"] == "MultiPolygon":
        return [ring for polygon in geometry["coordinates"] for ring in polygon]
    return []


def _scale_bar(frame: Frame, km: int, language: str) -> str:
    length = km / KM_PER_DEGREE * frame.scale
    x, y = frame.width - length - 8.0, frame.height - 8.0
    unit = f"{km} km"
    return (
        f'<g class="scale"><rect x="{x - 3:.1f}" y="{y - 12:.1f}" width="{length + 6:.1f}" height="16" '
        f'fill="#ffffff" fill-opacity="0.8"/>'
        f'<path d="M{x:.1f},{y - 3:.1f}V{y:.1f}H{x + length:.1f}V{y - 3:.1f}" fill="none" stroke="#333" '
        f'stroke-width="1"/><text x="{x + length / 2:.1f}" y="{y - 4:.1f}" font-size="7" '
        f'text-anchor="middle" fill="#333">{escape(unit)}</text></g>'
    )


def _halo_text(x: float, y: float, text: str, anchor: str) -> str:
    # WeasyPrint ignores `paint-order`, so the white halo is a second text drawn underneath.
    common = f'x="{x:.1f}" y="{y:.1f}" font-size="10" font-weight="bold" text-anchor="{anchor}"'
    return (
        f'<text {common} fill="#ffffff" stroke="#ffffff" stroke-width="3">{escape(text)}</text>'
        f'<text {common} fill="#7b241c">{escape(text)}</text>'
    )


def locator_map(
    points: Sequence[MapPoint],
    language: str = "fr",
    boundaries: dict[str, Any] | None = None,
    width: float = 300.0,
    title: str = "",
) -> str:
    """SVG of the focus country with its neighbours, every community as a dot and the focus one marked.

    `boundaries` defaults to the shipped `geo/mali.geojson`; its `metadata.frame` sets the box drawn.
    """
    data = boundaries or load_boundaries()
    box = data.get("metadata", {}).get("frame", {})
    frame = Frame(box["lon_min"], box["lon_max"], box["lat_min"], box["lat_max"], width)
    name_key = f"name_{language}" if language in ("fr", "en") else "name_en"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="locator-map" viewBox="0 0 {frame.width:.0f} '
        f'{frame.height:.0f}" width="{frame.width:.0f}" height="{frame.height:.0f}" role="img"'
        f' aria-label="{escape(title)}">',
        f'<rect width="{frame.width:.0f}" height="{frame.height:.0f}" fill="{NEIGHBOUR_FILL}"/>',
    ]
    labels = []
    for feature in sorted(data["features"], key=lambda f: f["properties"].get("role") == "focus"):
        props = feature["properties"]
        focus = props.get("role") == "focus"
        fill, stroke = ("#f7e7c6", "#8a6d3b") if focus else (NEIGHBOUR_FILL, "#ffffff")
        d = "".join(_path(frame, ring) for ring in _rings(feature["geometry"]))
        parts.append(
            f'<path d="{d}" fill="{fill}" stroke="{stroke}" stroke-width="{1.2 if focus else 0.8}" '
            f'stroke-linejoin="round"/>'
        )
        if props.get("label_lon") is not None:
            x, y = frame.project(props["label_lon"], props["label_lat"])
            size, colour = (13, "#8a6d3b") if focus else (8, "#7a838c")
            weight = ' font-weight="bold" letter-spacing="2"' if focus else ""
            labels.append(
                f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" fill="{colour}"{weight} '
                f'text-anchor="middle">{escape(str(props.get(name_key, "")))}</text>'
            )
    parts.extend(labels)
    for point in sorted(points, key=lambda p: p.focus):
        x, y = frame.project(point.lon, point.lat)
        if point.focus:
            anchor, dx = ("end", -9) if x > frame.width * 0.6 else ("start", 9)
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="9" fill="#c0392b" fill-opacity="0.18"/>'
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4.2" fill="#c0392b" stroke="#ffffff" '
                f'stroke-width="1.2"/>' + _halo_text(x + dx, y - 6, point.label, anchor)
            )
        else:
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.2" fill="#5d6d7e" stroke="#ffffff" '
                f'stroke-width="0.6"/>'
            )
    parts.append(_scale_bar(frame, 200, language))
    parts.append("</svg>")
    return "".join(parts)
