"""Build the report's charts with altair and render them to inline SVG with vl-convert.

Builders are pure: they take rows already read from stored results, with every label and number
already formatted in the reader's language, and return a Vega-Lite spec made by altair (the chart's
structure is built once per shape and cached; the rows go into its named datasets). `to_svg` renders
a spec without a browser or network (vl-convert, `allowed_base_urls=[]`) and caches the SVG by spec,
so a chart drawn twice (a page laid out again, the same chart in HTML and PDF) is rendered once.
No statistic is computed here.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import altair as alt
import vl_convert

BETTER = "#1b7f6a"
WORSE = "#c4553b"
NEUTRAL = "#9aa5b1"
INK = "#1f2d3d"
MUTED = "#6b7785"
FONT = "Noto Sans"
FORMAT_LOCALES = {"fr": "fr-FR", "en": "en-US"}
BY_POSITION = alt.EncodingSortField(field="position", op="min")
SHARE_COLOURS = ("#1b7f6a", "#b9c2cc", "#c4553b")  # favourable, neither, unfavourable


@dataclass(frozen=True)
class GapBar:
    """A bar of the service-satisfaction chart: the community's gap to the sample mean, in points."""

    label: str
    points: float | None  # None: suppressed
    text: str
    better: bool | None = None


@dataclass(frozen=True)
class ShareSegment:
    """A segment of a 100 % bar: which bar (`row`), which answer, its share and its printed value."""

    row: str
    category: str
    share: float
    text: str
    order: int


@dataclass(frozen=True)
class ScorePoint:
    """A pillar score of one community, with its interval; `focus` marks the community of the sheet."""

    pillar: str
    community: str
    score: float
    low: float | None
    high: float | None
    focus: bool
    text: str = ""


Spec = dict[str, Any]


def _config(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    return (
        chart.configure(font=FONT, background="transparent")
        .configure_view(stroke=None)
        .configure_axis(
            labelColor=INK,
            labelFontSize=10,
            titleFontSize=10,
            domain=False,
            ticks=False,
            grid=False,
            labelPadding=4,
            title=None,
        )
        .configure_legend(disable=True)
    )


def _with_data(template: str, **datasets: list[dict[str, Any]]) -> Spec:
    """A chart spec from its cached template (altair output, as JSON) and the rows of its named datasets."""
    spec = json.loads(template)
    spec["datasets"] = datasets
    return spec


# Altair builds each chart's structure once per shape (labels, size, domain); the rows are put into
# the spec's named datasets afterwards. Building an altair chart costs ~0.1 s, filling a template ~0.


@lru_cache(maxsize=64)
def _service_gaps_template(rows: int, reach: float, width: int) -> str:
    y = alt.Y("label:N", sort=BY_POSITION, title=None, axis=alt.Axis(labelLimit=120, labelFontSize=10))
    x = alt.X("points:Q", scale=alt.Scale(domain=[-reach, reach]), axis=None)
    source = alt.Chart(alt.NamedData("bars"))
    bars = source.mark_bar(height=11, cornerRadius=1.5).encode(
        y=y,
        x=x,
        color=alt.Color(
            "tone:N", scale=alt.Scale(domain=["better", "worse", "none"], range=[BETTER, WORSE, NEUTRAL])
        ),
    )
    labels_layer = source.mark_text(
        fontSize=9.5,
        fontWeight="bold",
        color=INK,
        align=alt.ExprRef("datum.points < 0 ? 'right' : 'left'"),
        dx=alt.ExprRef("datum.points < 0 ? -3 : 3"),
    ).encode(y=y, x=x, text="text:N")
    zero = alt.Chart(alt.NamedData("zero")).mark_rule(color=MUTED, strokeWidth=1).encode(x=x)
    chart = alt.layer(bars, zero, labels_layer).properties(width=width, height=rows * 17)
    return json.dumps(_config(chart).to_dict(validate=False))


def service_gaps(bars: Sequence[GapBar], width: int = 250) -> Spec:
    """Diverging bars: each service's gap to the sample mean (points), coloured better / worse."""
    values = [
        {
            "label": b.label,
            "points": b.points if b.points is not None else 0.0,
            "text": b.text,
            "tone": "none" if b.points is None or b.better is None else ("better" if b.better else "worse"),
            "position": position,
        }
        for position, b in enumerate(bars)
    ]
    # Leave room for the value printed beyond the longest bar: the axis reaches 1.7 x the largest gap.
    reach = max([abs(v["points"]) * 1.7 for v in values] + [10.0])
    reach = float(int(reach / 5 + 1) * 5)
    template = _service_gaps_template(len(values), reach, width)
    return _with_data(template, bars=values, zero=[{"points": 0.0}])


@lru_cache(maxsize=64)
def _share_bars_template(rows: int, categories: tuple[str, ...], colours: tuple[str, ...], width: int) -> str:
    base = alt.Chart(alt.NamedData("segments")).encode(
        y=alt.Y("row:N", sort=BY_POSITION, title=None, axis=alt.Axis(labelLimit=110, labelFontSize=10)),
        x=alt.X("share:Q", stack="normalize", axis=None, scale=alt.Scale(domain=[0, 1])),
        order=alt.Order("rank:Q"),
    )
    bars = base.mark_bar(height=15).encode(
        color=alt.Color("category:N", scale=alt.Scale(domain=list(categories), range=list(colours)))
    )
    text = base.mark_text(fontSize=9, color="white", fontWeight="bold").encode(
        x=alt.X("share:Q", stack="normalize", bandPosition=0.5),
        text=alt.condition("datum.share >= 0.09", "text:N", alt.value("")),
    )
    chart = alt.layer(bars, text).properties(width=width, height=rows * 21)
    return json.dumps(_config(chart).to_dict(validate=False))


def share_bars(
    segments: Sequence[ShareSegment],
    categories: Sequence[str],
    width: int = 250,
    colours: Sequence[str] = SHARE_COLOURS,
) -> Spec:
    """100 % stacked bars (the community beside the sample), answers in `categories` order."""
    rows = list(dict.fromkeys(s.row for s in segments))
    values = [
        {
            "row": s.row,
            "category": s.category,
            "share": s.share,
            "text": s.text,
            "rank": categories.index(s.category) if s.category in categories else 99,
            "position": rows.index(s.row),
        }
        for s in segments
    ]
    palette = (
        tuple(colours)[: len(categories)]
        if len(colours) >= len(categories)
        else tuple(colours[i % len(colours)] for i in range(len(categories)))
    )
    return _with_data(_share_bars_template(len(rows), tuple(categories), palette, width), segments=values)


@lru_cache(maxsize=64)
def _pillar_strip_template(pillars: tuple[str, ...], width: int) -> str:
    y = alt.Y("pillar:N", sort=list(pillars), title=None, axis=alt.Axis(labelFontSize=9, labelLimit=90))
    x_scale = alt.Scale(domain=[0, 1], nice=False)
    track = (
        alt.Chart(alt.NamedData("track"))
        .mark_rule(color="#e3e8ee", strokeWidth=8, strokeCap="round")
        .encode(
            y=y,
            x=alt.X(
                "a:Q",
                scale=x_scale,
                axis=alt.Axis(values=[0, 0.5, 1], labelFontSize=8, labelColor=MUTED, format=".1f"),
            ),
            x2="b:Q",
        )
    )
    others = (
        alt.Chart(alt.NamedData("others"))
        .mark_tick(color=NEUTRAL, thickness=1.5, size=11)
        .encode(y=y, x=alt.X("score:Q", scale=x_scale))
    )
    focus = alt.Chart(alt.NamedData("focus"))
    chart = alt.layer(
        track,
        others,
        focus.transform_filter("isValid(datum.low) && isValid(datum.high)")
        .mark_rule(color=INK, strokeWidth=2.2)
        .encode(y=y, x=alt.X("low:Q", scale=x_scale), x2="high:Q"),
        focus.mark_point(filled=True, size=80, color="#c0392b", opacity=1).encode(
            y=y, x=alt.X("score:Q", scale=x_scale)
        ),
    ).properties(
        width=width, height=len(pillars) * 20, padding={"right": 6, "left": 2, "top": 2, "bottom": 2}
    )
    return json.dumps(_config(chart).to_dict(validate=False))


def pillar_strip(points: Sequence[ScorePoint], pillars: Sequence[str], width: int = 200) -> Spec:
    """Every community's score per pillar on a 0..1 strip (ticks); the focus one a dot with its interval."""
    values = [
        {
            "pillar": p.pillar,
            "community": p.community,
            "score": p.score,
            "low": p.low,
            "high": p.high,
            "focus": p.focus,
        }
        for p in points
    ]
    return _with_data(
        _pillar_strip_template(tuple(pillars), width),
        track=[{"pillar": p, "a": 0.0, "b": 1.0} for p in pillars],
        others=[v for v in values if not v["focus"]],
        focus=[v for v in values if v["focus"]],
    )


@lru_cache(maxsize=16)
def _ranking_template(rows: int, width: int) -> str:
    y = alt.Y("community:N", sort=BY_POSITION, title=None, axis=alt.Axis(labelFontSize=10, labelLimit=140))
    x_scale = alt.Scale(domain=[0, 1], nice=False)
    source = alt.Chart(alt.NamedData("scores"))
    chart = alt.layer(
        source.transform_filter("isValid(datum.low) && isValid(datum.high)")
        .mark_rule(color=MUTED, strokeWidth=2)
        .encode(y=y, x=alt.X("low:Q", scale=x_scale), x2="high:Q"),
        source.mark_point(filled=True, size=60, color=INK, opacity=1).encode(
            y=y,
            x=alt.X(
                "score:Q",
                scale=x_scale,
                axis=alt.Axis(
                    values=[0, 0.25, 0.5, 0.75, 1],
                    labelFontSize=9,
                    format=".2f",
                    grid=True,
                    gridColor="#eef1f4",
                ),
            ),
        ),
        source.mark_text(align="left", dx=8, fontSize=9, color=INK).encode(
            y=y, x=alt.value(width), text="text:N"
        ),
    ).properties(width=width, height=rows * 20, padding={"right": 60, "left": 2, "top": 2, "bottom": 2})
    return json.dumps(_config(chart).to_dict(validate=False))


def ranking_intervals(points: Sequence[ScorePoint], order: Sequence[str], width: int = 330) -> Spec:
    """Composite score of each community with its interval, communities in rank order (synthesis)."""
    values = [
        {
            "community": p.community,
            "score": p.score,
            "low": p.low,
            "high": p.high,
            "text": p.text,
            "position": list(order).index(p.community) if p.community in order else len(order),
        }
        for p in points
    ]
    return _with_data(_ranking_template(len(order), width), scores=values)


def to_svg(spec: Spec, language: str = "en") -> str:
    """Inline SVG of a chart spec (no XML prolog), rendered by vl-convert and cached by spec and language."""
    return _render(json.dumps(spec, sort_keys=True, default=str), FORMAT_LOCALES.get(language, "en-US"))


@lru_cache(maxsize=1024)
def _render(spec: str, locale: str) -> str:
    svg = vl_convert.vegalite_to_svg(json.loads(spec), format_locale=locale, allowed_base_urls=[])
    svg = re.sub(r"^<\?xml[^>]*>\s*", "", svg)
    return stable_ids(svg, "c" + hashlib.sha1((spec + locale).encode()).hexdigest()[:8])


_ID = re.compile(r'\bid="([^"]+)"')


def stable_ids(svg: str, prefix: str) -> str:
    """The SVG with its element ids renamed `<prefix>-1`, `<prefix>-2`, ... in order of appearance.

    vl-convert numbers clip paths across a whole process (`clip1`, `clip43`, ...), so the same chart
    would come out differently depending on what was drawn before it. Renamed from the chart's own
    spec, ids are the same in every run and process, and differ between charts inlined in one page.
    """
    names = {old: f"{prefix}-{number}" for number, old in enumerate(dict.fromkeys(_ID.findall(svg)), start=1)}
    if not names:
        return svg
    pattern = re.compile(r'(\bid="|url\(#|href="#)(' + "|".join(map(re.escape, names)) + r')(?=["\)])')
    return pattern.sub(lambda match: match.group(1) + names[match.group(2)], svg)


def cache_info() -> str:
    """How many charts were rendered and how many came from the cache (for benchmarks)."""
    info = _render.cache_info()
    return f"rendered {info.misses}, reused {info.hits}"
