"""Locator maps: framed on any study's country or boundary file, neighbours named in the reader's language."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

from conftest import EXAMPLE
from retour.errors import ConfigError
from retour.report.maps import WORLD_FILE, MapPoint, country_names, load_world, locator_map
from retour.report.narrative import load_communities

FOCUS_FILL = 'fill="#f7e7c6"'

# Two communities per country (the first is the focus), and neighbours whose names must be on the map.
COUNTRIES = {
    "ML": (
        [MapPoint("k", "Kayes", 14.45, -11.44, True), MapPoint("s", "Sikasso", 11.32, -5.67)],
        {"fr": ["Mauritanie", "Algérie", "Burkina Faso"], "en": ["Mauritania", "Algeria", "Burkina Faso"]},
    ),
    "SN": (
        [MapPoint("d", "Dakar", 14.69, -17.44, True), MapPoint("t", "Tambacounda", 13.77, -13.67)],
        {"fr": ["Mauritanie", "Gambie"], "en": ["Mauritania", "Gambia"]},
    ),
    "NP": (
        [MapPoint("k", "Kathmandu", 27.70, 85.32, True), MapPoint("p", "Pokhara", 28.21, 83.99)],
        {"fr": ["Chine", "Inde"], "en": ["China", "India"]},
    ),
    "PE": (
        [MapPoint("l", "Lima", -12.05, -77.04, True), MapPoint("c", "Cusco", -13.53, -71.97)],
        {"fr": ["Brésil", "Équateur", "Colombie"], "en": ["Brazil", "Ecuador", "Colombia"]},
    ),
}


def _size(svg: str) -> tuple[float, float]:
    width, height = re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', svg).groups()
    return float(width), float(height)


def _texts(svg: str) -> list[str]:
    return re.findall(r"<text[^>]*>([^<]*)</text>", svg)


def _points(path: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in re.findall(r"[ML](-?[\d.]+),(-?[\d.]+)", path)]


def _focus_box(svg: str) -> tuple[float, float, float, float]:
    """Pixel box of the outline drawn as the study's country."""
    paths = re.findall(rf'<path d="([^"]+)" {FOCUS_FILL}', svg)
    assert paths, "no outline is drawn as the study's country"
    points = [point for path in paths for point in _points(path)]
    xs, ys = [x for x, _ in points], [y for _, y in points]
    return min(xs), min(ys), max(xs), max(ys)


def _circles(svg: str) -> list[tuple[float, float]]:
    return [
        (float(x), float(y))
        for x, y in re.findall(r'<circle cx="([\d.]+)" cy="([\d.]+)" r="(?:2.2|4.2)"', svg)
    ]


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("country", sorted(COUNTRIES))
def test_the_map_frames_the_country_and_names_its_neighbours(country, language):
    points, neighbours = COUNTRIES[country]
    svg = locator_map(points, language, title="Where", country=country)
    width, height = _size(svg)
    x0, y0, x1, y1 = _focus_box(svg)
    # The country fills the map, with a margin, in one direction at least, and stays inside it.
    assert max((x1 - x0) / width, (y1 - y0) / height) > 0.75
    assert x0 > -3 and y0 > -3 and x1 < width + 3 and y1 < height + 3
    texts = _texts(svg)
    for name in neighbours[language]:
        assert name in texts, (name, texts)
    assert country_names(language)[country] in texts  # the country itself, named in the reader's language
    # Every community is a dot inside the map, and the focus one is named.
    assert len(_circles(svg)) == len(points)
    assert all(0 <= x <= width and 0 <= y <= height for x, y in _circles(svg))
    assert points[0].label in texts and points[1].label not in texts
    assert 'aria-label="Where"' in svg and len(svg) < 40_000


def test_the_same_inputs_give_the_same_svg_and_no_edge_crosses_the_sea():
    points, _ = COUNTRIES["PE"]
    svg = locator_map(points, "fr", country="PE")
    assert svg == locator_map(list(reversed(points)), "fr", country="PE")
    width, height = _size(svg)
    # Countries cut by the antimeridian (Fiji) once drew a line across the whole map (issue 15).
    for path in re.findall(r'<path d="([^"]+)"', svg):
        points_ = _points(path)
        for (xa, ya), (xb, yb) in zip(points_, points_[1:], strict=False):
            if 0 < ya < height and 0 < yb < height:
                assert abs(xb - xa) < width * 0.8, path[:80]


def test_without_a_country_the_map_frames_the_communities():
    points = [MapPoint("a", "A", 12.6, -8.0, True), MapPoint("b", "B", 12.9, -7.5)]
    svg = locator_map(points, "en", title="A")
    width, height = _size(svg)
    assert FOCUS_FILL not in svg  # no study country is highlighted
    circles = _circles(svg)
    assert len(circles) == 2
    assert all(0.05 * width < x < 0.95 * width and 0.05 * height < y < 0.95 * height for x, y in circles)
    assert "km</text>" in svg  # the scale bar, since the frame is small: 20 or 50 km rather than hundreds
    assert int(re.search(r">(\d+) km</text>", svg).group(1)) <= 50


def test_communities_beyond_the_country_widen_the_frame_and_stay_visible():
    points = [MapPoint("k", "Kayes", 14.45, -11.44, True), MapPoint("s", "Sikasso", 11.32, -5.67)]
    svg = locator_map(points, "en", country="SN")
    width, height = _size(svg)
    circles = _circles(svg)
    assert len(circles) == 2 and all(0 < x < width and 0 < y < height for x, y in circles)
    assert "Senegal" in _texts(svg) and "Mali" in _texts(svg)
    # The scale bar moves to the other corner rather than hide a community in the bottom right one.
    bar_x = float(re.search(r'<g class="scale"><rect x="([\d.]+)"', svg).group(1))
    assert bar_x < width / 2 and max(x for x, _ in circles) > width * 0.9


def test_no_community_with_coordinates_gives_no_map():
    assert locator_map([], "fr", title="x", country="ML") is None


def test_an_unknown_country_code_is_a_clear_error():
    with pytest.raises(ConfigError) as error:
        locator_map(COUNTRIES["ML"][0], "fr", country="XX")
    assert "'XX'" in str(error.value) and "[study] country" in str(error.value)
    assert "\n" not in str(error.value)


def _square(lon: float, lat: float, size: float, **properties: str) -> dict:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {
        "type": "Feature",
        "properties": properties,
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


def test_a_boundaries_file_is_drawn_instead_of_the_country_outlines(tmp_path):
    regions = tmp_path / "regions.geojson"
    features = [
        _square(-12.0, 12.0, 2.0, name="Région Ouest", name_en="West region"),
        _square(-10.0, 12.0, 2.0, name="Région Est"),
        {
            "type": "Feature",
            "properties": {"name": "A road"},
            "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
        },
    ]
    regions.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    points = [MapPoint("a", "Village", 13.0, -11.0, True)]
    for language, expected in (("fr", ["Région Ouest", "Région Est"]), ("en", ["West region", "Région Est"])):
        svg = locator_map(points, language, country="ML", boundaries=regions)
        texts = _texts(svg)
        assert all(name in texts for name in expected), texts
        assert "Mali" not in texts and "Mauritanie" not in texts  # no world outline
        width, height = _size(svg)
        x0, y0, x1, y1 = _focus_box(svg)
        assert (x1 - x0) / width > 0.75  # the frame is the file's extent (4 x 2 degrees), padded
        assert len(re.findall(rf"{FOCUS_FILL}", svg)) == 2  # the two regions; the line is not an area


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "no such file"),
        ("{not json", "not valid JSON (line 1"),
        (json.dumps({"type": "Feature"}), "not a GeoJSON FeatureCollection"),
        (json.dumps({"type": "FeatureCollection", "features": []}), "no feature has a Polygon"),
        (
            json.dumps({"type": "FeatureCollection", "features": [_square(300000.0, 1500000.0, 1000.0)]}),
            "outside longitude/latitude",
        ),
    ],
)
def test_a_bad_boundaries_file_is_a_one_line_error_naming_it(tmp_path, content, problem):
    path = tmp_path / "admin1.geojson"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        locator_map([MapPoint("a", "A", 13.0, -11.0, True)], "fr", boundaries=path)
    message = str(error.value)
    assert str(path) in message and problem in message and "[study] boundaries" in message
    assert "\n" not in message


def test_the_world_file_says_where_it_comes_from_and_every_country_has_names():
    data = json.loads(WORLD_FILE.read_text(encoding="utf-8"))
    metadata = data["metadata"]
    assert "Natural Earth" in metadata["source"] and "world-atlas" in metadata["source"]
    assert "public domain" in metadata["licence"] and metadata["script"] == "scripts/build_world_outlines.py"
    assert WORLD_FILE.stat().st_size < 1_500_000
    codes = [key for key in load_world() if len(key) == 2]
    assert len(codes) > 200 and {"ML", "SN", "NP", "PE", "FR", "BR", "CN"} <= set(codes)
    for language in ("fr", "en"):
        names = country_names(language)
        assert all(names.get(code) for code in codes)
    assert not (Path(WORLD_FILE).parent / "mali.geojson").exists()  # the world file covers every study


def _inside(lon: float, lat: float, ring) -> bool:
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:], strict=False):
        if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


@pytest.mark.parametrize(
    "example", sorted(p.name for p in EXAMPLE.parent.iterdir() if (p / "retour.toml").is_file())
)
def test_every_community_of_a_shipped_example_lies_inside_its_country_on_the_map(example):
    folder = EXAMPLE.parent / example
    country = tomllib.loads((folder / "retour.toml").read_text(encoding="utf-8"))["study"].get("country")
    if not country:
        pytest.skip(f"{example} sets no country")
    outline = load_world()[country]
    for community in load_communities(folder):
        if community.has_coordinates():
            assert any(
                _inside(community.longitude, community.latitude, polygon[0]) for polygon in outline.polygons
            ), community.id
