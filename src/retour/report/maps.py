"""Draw a community's locator map as inline SVG, framed on the study's country or boundary file.

Outlines come from `geo/world.geojson` (Natural Earth 1:50m admin-0 countries, public domain, one
feature per country keyed by ISO 3166 alpha-2; built by `scripts/build_world_outlines.py`), or from a
GeoJSON boundary file of the study folder (`[study] boundaries`, e.g. an admin-1 layer) drawn instead.
Country names come from Babel (CLDR) in the map's language, so the shipped file holds codes only.

The projection is equirectangular with the x axis scaled by cos(latitude of the frame's centre), which
keeps shapes true to within a few per cent over the extent of one country:

    x = (lon - lon_min) * cos(phi_0) * k        y = (lat_max - lat) * k

Labels sit at the point of each visible outline farthest from its edges (a grid search for the pole of
inaccessibility), and are left out where they would not fit. Outlines are clipped to the frame and thinned
to about one pixel, so the SVG stays light; the same inputs always give the same SVG.
The map needs no network and no browser. It computes nothing about the data; it only places points.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
from babel import Locale, UnknownLocaleError

from retour.errors import ConfigError

GEO_DIR = Path(__file__).parent / "geo"
WORLD_FILE = GEO_DIR / "world.geojson"
WIDTH = 300.0
KM_PER_DEGREE = 111.32
PAD = 0.08  # share of the frame's extent added on each side of the country or boundary file
MIN_SPAN = 1.0  # degrees: the smallest frame (a single community without a country)
ASPECT = (0.55, 1.25)  # the frame's height / width stays within these, whatever the country's shape
SEA_FILL, LAND_FILL, LAND_STROKE = "#e3edf5", "#e6e7e3", "#ffffff"
FOCUS_FILL, FOCUS_STROKE, FOCUS_TEXT, LAND_TEXT = "#f7e7c6", "#8a6d3b", "#8a6d3b", "#737b83"

Ring = tuple[tuple[float, float], ...]
Polygon = tuple[Ring, ...]  # outer ring, then holes


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
    width: float = WIDTH

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

    def overlaps(self, box: Box) -> bool:
        return not (
            box[0] > self.lon_max or box[2] < self.lon_min or box[1] > self.lat_max or box[3] < self.lat_min
        )


Box = tuple[float, float, float, float]  # lon_min, lat_min, lon_max, lat_max


@dataclass(frozen=True)
class Area:
    """One outline to draw: a country or a feature of a boundary file, with its key and label."""

    key: str
    polygons: tuple[Polygon, ...]
    names: tuple[tuple[str, str], ...] = ()  # a boundary file's `name*` properties

    @property
    def box(self) -> Box:
        return _box(point for polygon in self.polygons for point in polygon[0])

    def name(self, language: str) -> str:
        """The feature's `name_<language>`, else its `name`, else ''."""
        names = dict(self.names)
        return names.get(f"name_{language}") or names.get("name") or ""


# --- outlines ----------------------------------------------------------------------------------------


def _box(points: Any) -> Box:
    lons, lats = zip(*points, strict=True)
    return min(lons), min(lats), max(lons), max(lats)


def _polygons(geometry: dict[str, Any] | None) -> list[Polygon]:
    """The polygons of a GeoJSON geometry (other geometry types have none)."""
    kind = (geometry or {}).get("type")
    if kind == "Polygon":
        parts = [geometry["coordinates"]]
    elif kind == "MultiPolygon":
        parts = geometry["coordinates"]
    elif kind == "GeometryCollection":
        return [polygon for part in geometry.get("geometries", []) for polygon in _polygons(part)]
    else:
        return []
    return [
        tuple(
            tuple((float(point[0]), float(point[1])) for point in ring) for ring in polygon if len(ring) >= 3
        )
        for polygon in parts
        if polygon and len(polygon[0]) >= 3
    ]


@cache
def load_world() -> dict[str, Area]:
    """Every country of `geo/world.geojson` by ISO alpha-2 code (the few units without one: `unit-<n>`)."""
    data = json.loads(WORLD_FILE.read_text(encoding="utf-8"))
    areas = {}
    for number, feature in enumerate(data["features"]):
        key = feature["properties"]["iso_a2"] or f"unit-{number}"
        areas[key] = Area(key, tuple(_polygons(feature["geometry"])))
    return areas


def country_names(language: str) -> dict[str, str]:
    """Country names by ISO alpha-2 code in `language` (CLDR, through Babel); English if Babel lacks it."""
    try:
        locale = Locale.parse(language)
    except (ValueError, TypeError, UnknownLocaleError):
        locale = Locale("en")
    return dict(locale.territories)


def _bad_file(path: Path, problem: str) -> ConfigError:
    return ConfigError(
        f"Boundaries file {path}: {problem}.",
        hint="Set [study] boundaries to a GeoJSON FeatureCollection of polygons in longitude/latitude "
        "(WGS 84), or leave it empty to draw the country outlines.",
    )


@cache
def _read_boundary_file(path: Path, modified: int) -> tuple[Area, ...]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise _bad_file(path, f"not valid JSON (line {error.lineno}: {error.msg})") from None
    except (OSError, UnicodeDecodeError) as error:
        raise _bad_file(path, f"cannot be read ({error})") from None
    if (
        not isinstance(data, dict)
        or data.get("type") != "FeatureCollection"
        or not isinstance(data.get("features"), list)
    ):
        raise _bad_file(path, "not a GeoJSON FeatureCollection")
    areas = []
    for number, feature in enumerate(data["features"], start=1):
        try:
            polygons = _polygons(feature.get("geometry"))
        except (TypeError, ValueError, IndexError, KeyError, AttributeError):
            raise _bad_file(path, f"feature {number} has malformed coordinates") from None
        if not polygons:
            continue
        points = [point for polygon in polygons for ring in polygon for point in ring]
        if any(not (-180 <= lon <= 180 and -90 <= lat <= 90) for lon, lat in points):
            raise _bad_file(
                path, f"feature {number} has coordinates outside longitude/latitude (a projected file?)"
            )
        properties = feature.get("properties") or {}
        names = tuple(
            sorted((key, str(value)) for key, value in properties.items() if key.startswith("name") and value)
        )
        areas.append(Area(f"{number:05d}", tuple(polygons), names))
    if not areas:
        raise _bad_file(path, "no feature has a Polygon or MultiPolygon geometry")
    return tuple(areas)


def load_boundary_file(path: str | Path) -> tuple[Area, ...]:
    """The polygon features of a study's GeoJSON boundary file (read once per file version).

    Raises ConfigError, naming the file, when it is missing, not GeoJSON, or not in longitude/latitude.
    """
    path = Path(path)
    if not path.is_file():
        raise _bad_file(path, "no such file")
    return _read_boundary_file(path.resolve(), path.stat().st_mtime_ns)


# --- frame -------------------------------------------------------------------------------------------


def _main_box(area: Area) -> Box:
    """The box of a country's main land: its largest polygon and the parts near it (not overseas ones)."""
    boxes = sorted(
        (_box(polygon[0]) for polygon in area.polygons),
        key=lambda b: (b[2] - b[0]) * (b[3] - b[1]) * math.cos(math.radians((b[1] + b[3]) / 2)),
        reverse=True,
    )
    box, rest = boxes[0], boxes[1:]
    grown = True
    while grown:
        grown = False
        margin = max(1.0, 0.25 * max(box[2] - box[0], box[3] - box[1]))
        for other in list(rest):
            if (
                other[0] < box[2] + margin
                and other[2] > box[0] - margin
                and other[1] < box[3] + margin
                and other[3] > box[1] - margin
            ):
                box = (
                    min(box[0], other[0]),
                    min(box[1], other[1]),
                    max(box[2], other[2]),
                    max(box[3], other[3]),
                )
                rest.remove(other)
                grown = True
    return box


def frame_for(box: Box | None, points: Sequence[MapPoint], width: float = WIDTH) -> Frame:
    """The frame drawn: `box` (a country or boundary file) and every point, padded, not too flat or tall."""
    boxes = [box] if box else []
    if points:
        boxes.append(_box((p.lon, p.lat) for p in points))
    lon_min, lat_min = min(b[0] for b in boxes), min(b[1] for b in boxes)
    lon_max, lat_max = max(b[2] for b in boxes), max(b[3] for b in boxes)
    lon_mid, lat_mid = (lon_min + lon_max) / 2, (lat_min + lat_max) / 2
    factor = math.cos(math.radians(lat_mid))
    span_lon = max(lon_max - lon_min, MIN_SPAN) * (1 + 2 * PAD)
    span_lat = max(lat_max - lat_min, MIN_SPAN) * (1 + 2 * PAD)
    span_lat = min(max(span_lat, ASPECT[0] * span_lon * factor), 170.0)
    span_lon = min(max(span_lon, span_lat / (ASPECT[1] * factor)), 360.0)
    lat_mid = min(max(lat_mid, -85 + span_lat / 2), 85 - span_lat / 2)
    return Frame(
        round(lon_mid - span_lon / 2, 4),
        round(lon_mid + span_lon / 2, 4),
        round(lat_mid - span_lat / 2, 4),
        round(lat_mid + span_lat / 2, 4),
        width,
    )


# --- geometry in pixels ------------------------------------------------------------------------------


def _clip(
    ring: list[tuple[float, float]], x0: float, y0: float, x1: float, y1: float
) -> list[tuple[float, float]]:
    """Sutherland-Hodgman: the part of a ring inside the rectangle (x0, y0)-(x1, y1)."""
    edges = (
        (lambda p: p[0] >= x0, lambda a, b: (x0, a[1] + (b[1] - a[1]) * (x0 - a[0]) / (b[0] - a[0]))),
        (lambda p: p[0] <= x1, lambda a, b: (x1, a[1] + (b[1] - a[1]) * (x1 - a[0]) / (b[0] - a[0]))),
        (lambda p: p[1] >= y0, lambda a, b: (a[0] + (b[0] - a[0]) * (y0 - a[1]) / (b[1] - a[1]), y0)),
        (lambda p: p[1] <= y1, lambda a, b: (a[0] + (b[0] - a[0]) * (y1 - a[1]) / (b[1] - a[1]), y1)),
    )
    for inside, cross in edges:
        if not ring:
            break
        result = []
        previous = ring[-1]
        for point in ring:
            if inside(point):
                if not inside(previous):
                    result.append(cross(previous, point))
                result.append(point)
            elif inside(previous):
                result.append(cross(previous, point))
            previous = point
        ring = result
    return ring


def _thin(ring: list[tuple[float, float]], step: float = 0.8) -> list[tuple[float, float]]:
    """Drop points closer than `step` pixels to the last one kept."""
    kept = ring[:1]
    for x, y in ring[1:]:
        if abs(x - kept[-1][0]) + abs(y - kept[-1][1]) >= step:
            kept.append((x, y))
    return kept


def _pixel_rings(area: Area, frame: Frame, margin: float) -> list[list[tuple[float, float]]]:
    """The area's rings in pixels, clipped to the frame plus `margin` and thinned; empty ones dropped."""
    rings = []
    for polygon in area.polygons:
        if not frame.overlaps(_box(polygon[0])):
            continue
        for ring in polygon:
            pixels = _clip(
                [frame.project(lon, lat) for lon, lat in ring],
                -margin,
                -margin,
                frame.width + margin,
                frame.height + margin,
            )
            pixels = _thin(pixels)
            if len(pixels) >= 3:
                rings.append(pixels)
    return rings


def _path(rings: list[list[tuple[float, float]]]) -> str:
    return "".join(
        f"M{ring[0][0]:.1f},{ring[0][1]:.1f}" + "".join(f"L{x:.1f},{y:.1f}" for x, y in ring[1:]) + "Z"
        for ring in rings
    )


def _signed_distance(rings: list[list[tuple[float, float]]], points: np.ndarray) -> np.ndarray:
    """Distance from each point to the nearest edge: positive inside the rings (even-odd), else negative."""
    segments = np.array([(*a, *b) for ring in rings for a, b in zip(ring, ring[1:] + ring[:1], strict=True)])
    ax, ay, bx, by = (segments[:, i][None, :] for i in range(4))
    px, py = points[:, 0:1], points[:, 1:2]
    dx, dy = bx - ax, by - ay
    length = np.where(dx * dx + dy * dy == 0, 1.0, dx * dx + dy * dy)
    t = np.clip(((px - ax) * dx + (py - ay) * dy) / length, 0.0, 1.0)
    distance = np.hypot(px - ax - t * dx, py - ay - t * dy).min(axis=1)
    crosses = ((ay > py) != (by > py)) & (px < ax + (py - ay) * dx / np.where(dy == 0, 1.0, dy))
    inside = crosses.sum(axis=1) % 2 == 1
    return np.where(inside, distance, -distance)


def _label_spot(
    rings: list[list[tuple[float, float]]], text_width: float, size: float, obstacles: np.ndarray
) -> tuple[float, float] | None:
    """Centre of the label: the spot where a `text_width`-wide line fits deepest inside the rings, or None."""
    xs = [x for ring in rings for x, _ in ring]
    ys = [y for ring in rings for _, y in ring]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    step = max((x1 - x0) / 40, (y1 - y0) / 40, 2.0)
    grid = np.array(
        [(x, y) for y in np.arange(y0 + step / 2, y1, step) for x in np.arange(x0 + step / 2, x1, step)]
    )
    if not len(grid):
        return None
    half = max(text_width / 2 - size / 2, 0.0)
    score = np.minimum.reduce(
        [_signed_distance(rings, grid + offset) for offset in ((-half, 0.0), (0.0, 0.0), (half, 0.0))]
    )
    if len(obstacles):
        near = np.hypot(grid[:, None, 0] - obstacles[None, :, 0], grid[:, None, 1] - obstacles[None, :, 1])
        score = np.minimum(score, near.min(axis=1) - size)
    best = int(np.argmax(score))
    if score[best] < size * 0.45:
        return None
    return float(grid[best, 0]), float(grid[best, 1])


def _text_width(text: str, size: float, spacing: float = 0.0) -> float:
    return len(text) * (size * 0.56 + spacing)


def _label(
    rings: list[list[tuple[float, float]]],
    text: str,
    sizes: Sequence[float],
    obstacles: np.ndarray,
    focus: bool,
) -> str:
    """An SVG text placed inside `rings` at the largest size in `sizes` that fits; '' if none fits."""
    if not rings:  # the outline only touches the frame's edge
        return ""
    for size in sizes:
        spacing = 1.5 if focus and size >= 11 else 0.0
        spot = _label_spot(rings, _text_width(text, size, spacing), size, obstacles)
        if spot:
            colour = FOCUS_TEXT if focus else LAND_TEXT
            style = f' font-weight="bold" letter-spacing="{spacing:g}"' if focus else ""
            return (
                f'<text x="{spot[0]:.1f}" y="{spot[1] + size * 0.35:.1f}" font-size="{size:g}" '
                f'fill="{colour}"{style} text-anchor="middle">{escape(text)}</text>'
            )
    return ""


# --- the map -----------------------------------------------------------------------------------------


def _scale_bar(frame: Frame, dots: Sequence[tuple[float, float]]) -> str:
    """A scale bar of a round length (1, 2 or 5 x 10^n km) near a fifth of the frame's width.

    It stands in the bottom right corner, or the bottom left one when a community's dot is there.
    """
    target = (frame.lon_max - frame.lon_min) * frame.x_factor * KM_PER_DEGREE / 5
    magnitude = 10 ** math.floor(math.log10(target))
    km = max(m * magnitude for m in (1, 2, 5) if m * magnitude <= target)
    length = km / KM_PER_DEGREE * frame.scale
    y = frame.height - 8.0
    x = frame.width - length - 8.0
    if any(x - 12 < dot_x < x + length + 12 and dot_y > y - 24 for dot_x, dot_y in dots):
        x = 8.0
    return (
        f'<g class="scale"><rect x="{x - 3:.1f}" y="{y - 12:.1f}" width="{length + 6:.1f}" height="16" '
        f'fill="#ffffff" fill-opacity="0.8"/>'
        f'<path d="M{x:.1f},{y - 3:.1f}V{y:.1f}H{x + length:.1f}V{y - 3:.1f}" fill="none" stroke="#333" '
        f'stroke-width="1"/><text x="{x + length / 2:.1f}" y="{y - 4:.1f}" font-size="7" '
        f'text-anchor="middle" fill="#333">{km:g} km</text></g>'
    )


def _halo_text(x: float, y: float, text: str, anchor: str) -> str:
    # WeasyPrint ignores `paint-order`, so the white halo is a second text drawn underneath.
    common = f'x="{x:.1f}" y="{y:.1f}" font-size="10" font-weight="bold" text-anchor="{anchor}"'
    return (
        f'<text {common} fill="#ffffff" stroke="#ffffff" stroke-width="3">{escape(text)}</text>'
        f'<text {common} fill="#7b241c">{escape(text)}</text>'
    )


@lru_cache(maxsize=64)  # a study's maps share one base per language and set of communities
def _base_layer(
    frame: Frame,
    country: str,
    boundaries: Path | None,
    language: str,
    places: tuple[tuple[float, float], ...],
    version: int = 0,
) -> str:
    """Background, outlines and their labels: the same for every community of a study, so drawn once.

    `version` (the boundaries file's modification time) makes an edited file drawn anew.
    """
    if boundaries is not None:
        areas = [(area, area.name(language)) for area in load_boundary_file(boundaries)]
        focus_keys = {area.key for area, _ in areas}
        sizes: dict[bool, tuple[float, ...]] = {True: (8, 7, 6), False: (8, 7, 6)}
    else:
        names = country_names(language)
        areas = [
            (area, names.get(key, "") if len(key) == 2 else "")  # units without an ISO code stay unnamed
            for key, area in sorted(load_world().items())
            if any(frame.overlaps(_box(polygon[0])) for polygon in area.polygons)
        ]
        focus_keys = {country} if country else set()
        sizes = {True: (13, 11, 9, 8), False: (8, 7)}
    obstacles = np.array([frame.project(lon, lat) for lon, lat in places]).reshape(-1, 2)
    parts = [f'<rect width="{frame.width:.0f}" height="{frame.height:.0f}" fill="{SEA_FILL}"/>']
    labels = []
    # The focus country is drawn last so that its border lies over its neighbours'.
    for area, label in sorted(areas, key=lambda pair: (pair[0].key in focus_keys, pair[0].key)):
        focus = area.key in focus_keys
        rings = _pixel_rings(area, frame, margin=2.0)
        if not rings:
            continue
        fill, stroke, stroke_width = (
            (FOCUS_FILL, FOCUS_STROKE, 1.2) if focus else (LAND_FILL, LAND_STROKE, 0.8)
        )
        if boundaries is not None:
            stroke, stroke_width = FOCUS_STROKE, 0.6
        parts.append(
            f'<path d="{_path(rings)}" fill="{fill}" stroke="{stroke}" stroke-width="{stroke_width}" '
            f'stroke-linejoin="round" fill-rule="evenodd"/>'
        )
        if label:
            labels.append(
                _label(
                    _pixel_rings(area, frame, margin=0.0),
                    label,
                    sizes[focus],
                    obstacles,
                    focus and boundaries is None,
                )
            )
    return "".join(parts) + "".join(label for label in labels if label)


def locator_map(
    points: Sequence[MapPoint],
    language: str,
    title: str = "",
    country: str = "",
    boundaries: str | Path | None = None,
) -> str | None:
    """SVG of the study's country and its neighbours (names in `language`), with every community as a dot.

    The frame is the country's main land (`country`: ISO alpha-2), or the extent of `boundaries` (a GeoJSON
    file drawn instead of the country outlines, its features labelled by `name_<language>` or `name`), or,
    with neither, the communities themselves; it always holds every point. Returns None when no community
    has coordinates. Raises ConfigError for a country code not in the outlines or a bad boundaries file.
    """
    if not points:
        return None
    country = country.upper()
    boundary_path = Path(boundaries).resolve() if boundaries else None
    version = 0
    if boundary_path is not None:
        version = boundary_path.stat().st_mtime_ns if boundary_path.is_file() else 0
        boxes = [area.box for area in load_boundary_file(boundary_path)]
        box: Box | None = (
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        )
    elif country:
        world = load_world()
        if country not in world:
            raise ConfigError(
                f"Country '{country}' has no outline in the world map.",
                hint="Set [study] country to an ISO 3166 alpha-2 code (e.g. FR, BR), or leave it empty.",
            )
        box = _main_box(world[country])
    else:
        box = None
    frame = frame_for(box, points)
    places = tuple(sorted((round(p.lon, 4), round(p.lat, 4)) for p in points))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="locator-map" viewBox="0 0 {frame.width:.0f} '
        f'{frame.height:.0f}" width="{frame.width:.0f}" height="{frame.height:.0f}" role="img"'
        f' aria-label="{escape(title)}">',
        _base_layer(frame, country, boundary_path, language, places, version),
    ]
    parts.append(_scale_bar(frame, [frame.project(point.lon, point.lat) for point in points]))
    for point in sorted(points, key=lambda p: (p.focus, p.id)):
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
    parts.append("</svg>")
    return "".join(parts)
