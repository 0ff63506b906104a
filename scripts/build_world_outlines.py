"""Build `src/retour/report/geo/world.geojson`, the country outlines of the locator maps.

Source: Natural Earth 1:50m admin-0 countries (public domain), as packed in TopoJSON by the npm package
`world-atlas` (Mike Bostock, ISC licence). The script fetches the package with `npm pack` into a
temporary folder (needs `npm` and the npm registry), decodes the TopoJSON arcs, simplifies each arc once
(Douglas-Peucker, so neighbours keep a common border), rounds to 0.01 degree and writes one GeoJSON
Feature per country with a single property, `iso_a2` (ISO 3166 alpha-2). Numeric ISO codes are turned
into alpha-2 with CLDR's territory aliases as shipped by Babel (a retour dependency); the few Natural Earth
units without a numeric code are matched by their English name, and those that have no ISO code at all
keep `iso_a2 = ""` (drawn, never labelled). Names in each language come from Babel
at run time, so the file holds codes only.

    .venv/bin/python scripts/build_world_outlines.py [--version 2.0.2] [--tolerance 0.01]
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from babel import Locale
from babel.core import get_global

OUTPUT = Path(__file__).parents[1] / "src" / "retour" / "report" / "geo" / "world.geojson"
PACKAGE = "world-atlas"
SCALE = "50m"

Point = tuple[float, float]


def fetch_topology(version: str, folder: Path) -> dict[str, Any]:
    """`countries-50m.json` of world-atlas `version`, fetched with `npm pack` into `folder`."""
    result = subprocess.run(
        ["npm", "pack", f"{PACKAGE}@{version}", "--silent"],
        cwd=folder,
        check=True,
        capture_output=True,
        text=True,
    )
    tarball = folder / result.stdout.strip().splitlines()[-1]
    with tarfile.open(tarball) as archive:
        member = archive.extractfile(f"package/countries-{SCALE}.json")
        assert member is not None, f"{tarball.name} has no countries-{SCALE}.json"
        return json.load(member)


def decode_arcs(topology: dict[str, Any]) -> list[list[Point]]:
    """Absolute longitude/latitude of every arc (TopoJSON arcs are quantised and delta-encoded)."""
    (scale_x, scale_y), (shift_x, shift_y) = (
        topology["transform"]["scale"],
        topology["transform"]["translate"],
    )
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * scale_x + shift_x, y * scale_y + shift_y))
        arcs.append(points)
    return arcs


def _distance(point: Point, start: Point, end: Point) -> float:
    (px, py), (ax, ay), (bx, by) = point, start, end
    dx, dy = bx - ax, by - ay
    length = dx * dx + dy * dy
    if length == 0:
        return ((px - ax) ** 2 + (py - ay) ** 2) ** 0.5
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length))
    return ((px - ax - t * dx) ** 2 + (py - ay - t * dy) ** 2) ** 0.5


def simplify(points: list[Point], tolerance: float) -> list[Point]:
    """Douglas-Peucker: keep the ends and every point farther than `tolerance` from the kept line."""
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        farthest, index = 0.0, 0
        for i in range(first + 1, last):
            distance = _distance(points[i], points[first], points[last])
            if distance > farthest:
                farthest, index = distance, i
        if farthest > tolerance:
            keep[index] = True
            stack.extend([(first, index), (index, last)])
    return [point for point, kept in zip(points, keep, strict=True) if kept]


def _unwrap(ring: list[Point]) -> list[Point]:
    """A ring cut by the antimeridian (e.g. Fiji) made continuous: longitudes past 180 instead of a jump.

    Without this, a map would draw an edge across the whole world between 180 and -180.
    """
    unwrapped = ring[:1]
    for lon, lat in ring[1:]:
        previous = unwrapped[-1][0]
        lon += 360 * round((previous - lon) / 360)
        unwrapped.append((lon, lat))
    if abs(unwrapped[-1][0] - unwrapped[0][0]) > 1e-9:  # goes round a pole: leave it as it was
        return ring
    if min(lon for lon, _ in unwrapped) >= 180 or max(lon for lon, _ in unwrapped) <= -180:
        unwrapped = [(lon - 360 * round(lon / 360), lat) for lon, lat in unwrapped]
    return unwrapped


def _ring(arc_ids: list[int], arcs: list[list[Point]]) -> list[list[float]]:
    ring: list[Point] = []
    for arc_id in arc_ids:
        points = arcs[arc_id] if arc_id >= 0 else arcs[~arc_id][::-1]
        ring.extend(points[1:] if ring else points)
    rounded: list[list[float]] = []
    for lon, lat in _unwrap(ring):
        point = [round(lon, 2), round(lat, 2)]
        if not rounded or point != rounded[-1]:
            rounded.append(point)
    return rounded


def _area(ring: list[list[float]]) -> float:
    return sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(ring, ring[1:], strict=False)) / 2


def polygons(geometry: dict[str, Any], arcs: list[list[Point]]) -> list[list[list[list[float]]]]:
    """The geometry's polygons as GeoJSON rings, without rings that simplification made empty."""
    raw = [geometry["arcs"]] if geometry["type"] == "Polygon" else geometry["arcs"]
    result = []
    for polygon in raw:
        outer, *holes = [_ring(ring, arcs) for ring in polygon]
        if len(outer) >= 4 and _area(outer) != 0:
            result.append([outer] + [hole for hole in holes if len(hole) >= 4 and _area(hole) != 0])
    return result


def alpha2_codes() -> tuple[dict[str, str], dict[str, str]]:
    """ISO numeric -> alpha-2 (CLDR territory aliases) and English name -> alpha-2 (CLDR names)."""
    numeric = {
        code: replacement[0]
        for code, replacement in get_global("territory_aliases").items()
        if code.isdigit() and len(replacement) == 1
    }
    names = {name: code for code, name in Locale("en").territories.items() if len(code) == 2}
    return numeric, names


def build(topology: dict[str, Any], tolerance: float, version: str) -> dict[str, Any]:
    """The FeatureCollection written to `world.geojson`, countries sorted by code."""
    arcs = [simplify(arc, tolerance) for arc in decode_arcs(topology)]
    numeric, names = alpha2_codes()
    countries: dict[str, dict[str, Any]] = {}
    for geometry in topology["objects"]["countries"]["geometries"]:
        name = geometry["properties"]["name"]
        code = numeric.get(geometry.get("id", ""), "") or names.get(name, "")
        if code == "AQ":  # no study surveys Antarctica, and its ring round the pole fits no flat frame
            continue
        key = code or name
        parts = polygons(geometry, arcs)
        if not parts:
            continue
        if key in countries:  # e.g. Ashmore and Cartier Islands share Australia's numeric code
            countries[key]["geometry"]["coordinates"].extend(parts)
            continue
        properties = {"iso_a2": code}
        countries[key] = {
            "type": "Feature",
            "properties": properties,
            "geometry": {"type": "MultiPolygon", "coordinates": parts},
        }
    features = [countries[key] for key in sorted(countries)]
    for feature in features:
        if len(feature["geometry"]["coordinates"]) == 1:
            feature["geometry"] = {"type": "Polygon", "coordinates": feature["geometry"]["coordinates"][0]}
    return {
        "type": "FeatureCollection",
        "metadata": {
            "description": "Country outlines for locator maps: one feature per country, property iso_a2 "
            "(ISO 3166 alpha-2; empty for the few units without an ISO code); "
            "Antarctica left out; rings cut by the antimeridian made continuous (longitudes past 180). "
            "Longitude/latitude, WGS 84.",
            "source": f"Natural Earth 1:{SCALE} admin-0 countries, from the npm package {PACKAGE} {version} "
            f"(countries-{SCALE}.json)",
            "licence": "Natural Earth data: public domain. world-atlas packaging: ISC licence, Mike Bostock.",
            "simplification": f"Douglas-Peucker on shared arcs, tolerance {tolerance} degree; "
            "coordinates rounded to 0.01 degree",
            "codes": "ISO numeric -> alpha-2 from CLDR territory aliases (Babel)",
            "date": datetime.date.today().isoformat(),
            "script": "scripts/build_world_outlines.py",
        },
        "features": features,
    }


def write(collection: dict[str, Any], path: Path) -> None:
    """Compact JSON, one feature per line (readable diffs when the outlines are rebuilt)."""
    head = {key: value for key, value in collection.items() if key != "features"}
    lines = [
        json.dumps(feature, separators=(",", ":"), ensure_ascii=False) for feature in collection["features"]
    ]
    text = (
        json.dumps(head, ensure_ascii=False, indent=1)[:-2]
        + ',\n "features": [\n'
        + ",\n".join(lines)
        + "\n]}\n"
    )
    json.loads(text)  # the file must stay valid JSON
    path.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", default="2.0.2", help="world-atlas version (npm)")
    parser.add_argument("--tolerance", type=float, default=0.01, help="simplification tolerance, degrees")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        topology = fetch_topology(args.version, Path(folder))
    collection = build(topology, args.tolerance, args.version)
    write(collection, args.output)
    size = args.output.stat().st_size
    print(f"{args.output}: {len(collection['features'])} countries, {size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
