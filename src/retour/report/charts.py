"""Build the report's charts with altair and render them to inline SVG with vl-convert.

Builders are pure: they take rows already read from stored results, with every label and number
already formatted in the reader's language, and return an altair chart; `to_svg` renders one without
a browser or network (vl-convert, `allowed_base_urls=[]`) and caches the SVG by the chart's spec, so a
chart drawn twice (a page re-laid out, the same chart in HTML and PDF) is rendered once.
No statistic is computed here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import altair as alt
import vl_convert

BETTER = "#1b7f6a"
WORSE = "#c4553b"
NEUTRAL = "#9aa5b1"
INK = "#1f2d3d"
MUTED = "#6b7785"
FONT = "Noto Sans"
FORMAT_LOCALES = {"fr": "fr-FR", "en": "en-US"}
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


def _config(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    return (chart.configure(font=FONT, background="transparent")
            .configure_view(stroke=None)
            .configure_axis(labelColor=INK, labelFontSize=10, titleFontSize=10, domain=False, ticks=False,
                            grid=False, labelPadding=4)
            .configure_legend(labelFontSize=9, symbolSize=60, orient="bottom", direction="horizontal",
                              title=None, labelColor=INK, columnPadding=10))


def service_gaps(bars: Sequence[GapBar], width: int = 250) -> alt.TopLevelMixin:
    """Diverging bars: each service's gap to the sample mean (points), coloured better / worse."""
    values = [{"label": b.label, "points": b.points if b.points is not None else 0.0, "text": b.text,
               "tone": "none" if b.points is None or b.better is None else ("better" if b.better else "worse"),
               "order": i} for i, b in enumerate(bars)]
    reach = max([abs(v["points"]) for v in values] + [10.0])
    reach = float(int(reach / 10 + 1) * 10)
    base = alt.Chart(alt.InlineData(values=values)).encode(
        y=alt.Y("label:N", sort=alt.SortField("order"), title=None,
                axis=alt.Axis(labelLimit=120, labelFontSize=10)))
    bars_layer = base.mark_bar(height=11, cornerRadius=1.5).encode(
        x=alt.X("points:Q", scale=alt.Scale(domain=[-reach, reach]), axis=None),
        color=alt.Color("tone:N", scale=alt.Scale(domain=["better", "worse", "none"],
                                                   range=[BETTER, WORSE, NEUTRAL]), legend=None))
    labels = base.mark_text(fontSize=9.5, fontWeight="bold", color=INK,
                            align=alt.ExprRef("datum.points < 0 ? 'right' : 'left'"),
                            dx=alt.ExprRef("datum.points < 0 ? -3 : 3")).encode(
        x=alt.X("points:Q"), text="text:N")
    zero = alt.Chart(alt.InlineData(values=[{"x": 0}])).mark_rule(color=MUTED, strokeWidth=1).encode(x="x:Q")
    chart = alt.layer(bars_layer, zero, labels).properties(width=width, height=len(values) * 17)
    return _config(chart)


def share_bars(segments: Sequence[ShareSegment], categories: Sequence[str], width: int = 250,
               colours: Sequence[str] = SHARE_COLOURS) -> alt.TopLevelMixin:
    """100 % stacked bars (the community beside the sample), answers in `categories` order."""
    values = [{"row": s.row, "category": s.category, "share": s.share, "text": s.text, "order": s.order,
               "rank": categories.index(s.category) if s.category in categories else 99} for s in segments]
    rows = list(dict.fromkeys(s.row for s in segments))
    base = alt.Chart(alt.InlineData(values=values)).encode(
        y=alt.Y("row:N", sort=rows, title=None, axis=alt.Axis(labelLimit=110, labelFontSize=10)),
        x=alt.X("share:Q", stack="normalize", axis=None, scale=alt.Scale(domain=[0, 1])),
        order=alt.Order("rank:Q"))
    bars = base.mark_bar(height=15).encode(
        color=alt.Color("category:N", sort=list(categories),
                        scale=alt.Scale(domain=list(categories), range=list(colours)[:len(categories)])))
    text = base.mark_text(fontSize=9, color="white", fontWeight="bold").encode(
        x=alt.X("share:Q", stack="normalize", bandPosition=0.5),
        text=alt.condition("datum.share >= 0.09", "text:N", alt.value("")))
    chart = alt.layer(bars, text).properties(width=width, height=len(rows) * 21)
    return _config(chart)


def pillar_strip(points: Sequence[ScorePoint], pillars: Sequence[str], width: int = 230) -> alt.TopLevelMixin:
    """Every community's score per pillar on a 0..1 strip, the focus one with its interval and rank."""
    values = [{"pillar": p.pillar, "community": p.community, "score": p.score, "low": p.low, "high": p.high,
               "focus": p.focus, "text": p.text} for p in points]
    focus = [v for v in values if v["focus"]]
    others = [v for v in values if not v["focus"]]
    y = alt.Y("pillar:N", sort=list(pillars), title=None, axis=alt.Axis(labelFontSize=10, labelLimit=100))
    x_scale = alt.Scale(domain=[0, 1], nice=False)
    track = alt.Chart(alt.InlineData(values=[{"pillar": p, "a": 0.0, "b": 1.0} for p in pillars])).mark_rule(
        color="#e3e8ee", strokeWidth=7, strokeCap="round").encode(
        y=y, x=alt.X("a:Q", scale=x_scale, axis=alt.Axis(values=[0, 0.5, 1], labelFontSize=8,
                                                          labelColor=MUTED, format=".1f")), x2="b:Q")
    layers = [track]
    if others:
        layers.append(alt.Chart(alt.InlineData(values=others)).mark_tick(
            color=NEUTRAL, thickness=1.5, size=10).encode(y=y, x=alt.X("score:Q", scale=x_scale)))
    if focus:
        source = alt.Chart(alt.InlineData(values=focus))
        layers += [
            source.transform_filter("isValid(datum.low) && isValid(datum.high)").mark_rule(
                color=INK, strokeWidth=2).encode(y=y, x=alt.X("low:Q", scale=x_scale), x2="high:Q"),
            source.mark_point(filled=True, size=70, color="#c0392b", opacity=1).encode(
                y=y, x=alt.X("score:Q", scale=x_scale)),
            source.mark_text(align="left", dx=8, fontSize=9.5, color=INK, fontWeight="bold").encode(
                y=y, x=alt.value(width), text="text:N"),
        ]
    chart = alt.layer(*layers).properties(width=width, height=len(pillars) * 22,
                                          padding={"right": 92, "left": 2, "top": 2, "bottom": 2})
    return _config(chart)


def ranking_intervals(points: Sequence[ScorePoint], order: Sequence[str], width: int = 330) -> alt.TopLevelMixin:
    """Composite score of each community with its interval, communities in rank order (synthesis)."""
    values = [{"community": p.community, "score": p.score, "low": p.low, "high": p.high, "text": p.text}
              for p in points]
    y = alt.Y("community:N", sort=list(order), title=None, axis=alt.Axis(labelFontSize=10, labelLimit=140))
    x_scale = alt.Scale(domain=[0, 1], nice=False)
    source = alt.Chart(alt.InlineData(values=values))
    chart = alt.layer(
        source.transform_filter("isValid(datum.low) && isValid(datum.high)").mark_rule(
            color=MUTED, strokeWidth=2).encode(y=y, x=alt.X("low:Q", scale=x_scale), x2="high:Q"),
        source.mark_point(filled=True, size=60, color=INK, opacity=1).encode(
            y=y, x=alt.X("score:Q", scale=x_scale, axis=alt.Axis(values=[0, 0.25, 0.5, 0.75, 1],
                                                                 labelFontSize=9, format=".2f",
                                                                 grid=True, gridColor="#eef1f4"))),
        source.mark_text(align="left", dx=8, fontSize=9, color=INK).encode(
            y=y, x=alt.value(width), text="text:N"),
    ).properties(width=width, height=len(order) * 20, padding={"right": 60, "left": 2, "top": 2, "bottom": 2})
    return _config(chart)


def to_svg(chart: alt.TopLevelMixin, language: str = "en") -> str:
    """Inline SVG of a chart (no XML prolog), rendered by vl-convert and cached by spec and language."""
    spec = json.dumps(chart.to_dict(validate=False), sort_keys=True, default=str)
    return _render(spec, FORMAT_LOCALES.get(language, "en-US"))


@lru_cache(maxsize=1024)
def _render(spec: str, locale: str) -> str:
    svg = vl_convert.vegalite_to_svg(json.loads(spec), format_locale=locale, allowed_base_urls=[])
    svg = re.sub(r"^<\?xml[^>]*>\s*", "", svg)
    # Scale with the box it is placed in: keep the intrinsic size as the viewBox only.
    svg = re.sub(r'<svg([^>]*?) width="([\d.]+)" height="([\d.]+)"',
                 r'<svg\1 class="chart" data-width="\2" data-height="\3" width="\2" height="\3"', svg, count=1)
    return svg


def cache_info() -> str:
    """How many charts were rendered and how many came from the cache (for benchmarks)."""
    info = _render.cache_info()
    return f"rendered {info.misses}, reused {info.hits}"
