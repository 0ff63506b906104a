"""Assemble what one community's fact sheet shows, in one language, from a `ReportData` bundle.

The result is a plain dict for the `factsheet.html` template: every number is already formatted in
the language (Babel), every chart already rendered to SVG. A block whose data or narrative is missing
is left out (None or empty), never filled with a placeholder. Suppressed values become "—" and set
`has_suppressed`, which prints the footnote. The fiche compares stored values only: a tile is
"better" or "worse" than the sample mean by the indicator's direction in the catalogue, and shaded
when the sample mean lies outside the community's stored confidence interval.

What the fact sheet shows of the survey is the catalogue's: its `[[fiche_blocks]]` in order, each with
its tiles (the indicators whose `fiche_block` is the block) and its bar panels (see
`retour.indicators.FicheBlock`); every sentence about the community and the population comes from the
study's settings and registers. The identity, map, index scores, opportunities and constraints, actors
and recommendations are on every fact sheet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from retour.config import pick_text
from retour.indicators import FicheBlock, FichePanel
from retour.report import charts
from retour.report.data import PILLARS, Cell, ReportData
from retour.report.i18n import N_, Formatter
from retour.report.maps import MapPoint, locator_map

TOP_ITEMS = 3
STACK_TILES = 4  # a block's tiles stand in a column beside its panels up to this many; else in a grid
GRID_COLUMNS = 4
MAX_ACTORS = 6  # on the fact sheet, the study's own table first; 4 in the densest layouts
DENSE_ACTORS = 4
DIMENSION_MARKS = ("economic", "social", "psychosocial", "c4d")
_PILLAR_LABELS = {
    "economic": N_("Economic"),
    "social": N_("Social"),
    "psychosocial": N_("Psychosocial"),
    "composite": N_("Composite"),
}
_DIMENSION_LABELS = {"economic": N_("Economic"), "social": N_("Social"), "psychosocial": N_("Psychosocial")}
_AREA_TYPE_WORDS = {"urban": N_("Urban"), "rural": N_("Rural")}
_PANEL_NOTES = {"gap_bars": N_("Gap to the sample mean, in percentage points")}


def tone(data: ReportData, indicator_id: str, value: Cell, mean: Cell) -> tuple[str, bool]:
    """How a community value compares with the sample mean: (better|worse|same|neutral|none, distinct).

    `distinct` is True when the sample mean lies outside the community's stored confidence interval.
    """
    if not value.shown or not mean.shown:
        return "none", False
    difference = round((value.estimate - mean.estimate) * 100)
    distinct = (
        value.ci_low is not None
        and value.ci_high is not None
        and not value.ci_low <= mean.estimate <= value.ci_high
    )
    direction = data.indicator(indicator_id).higher_is_better
    if difference == 0:
        return "same", distinct
    if direction is None:
        return "neutral", distinct
    return ("better" if (difference > 0) == direction else "worse"), distinct


def _value_text(fmt: Formatter, data: ReportData, indicator_id: str, cell: Cell) -> str:
    if not cell.shown:
        return fmt.percent(None)
    if data.indicator(indicator_id).kind == "mean":
        return fmt.decimal(cell.estimate, 1)
    return fmt.percent(cell.estimate)


def tiles(data: ReportData, fmt: Formatter, community_id: str, ids: Sequence[str]) -> list[dict[str, Any]]:
    """Indicator tiles: label, community value, sample mean, tone; ids with no stored estimate are skipped."""
    found = []
    for indicator_id in ids:
        value, mean = data.cell(community_id, indicator_id), data.sample_mean(indicator_id)
        if value.estimate is None and not value.suppressed:
            continue
        kind, distinct = tone(data, indicator_id, value, mean)
        found.append(
            {
                "id": indicator_id,
                "label": data.indicator(indicator_id).label(fmt.language),
                "value": _value_text(fmt, data, indicator_id, value),
                "mean": _value_text(fmt, data, indicator_id, mean),
                "tone": kind,
                "distinct": distinct,
                "suppressed": value.suppressed,
                "interval": (
                    f"{_value_text(fmt, data, indicator_id, Cell(value.ci_low))}–"
                    f"{_value_text(fmt, data, indicator_id, Cell(value.ci_high))}"
                    if value.shown and value.ci_low is not None and value.ci_high is not None
                    else ""
                ),
            }
        )
    return found


def top_items(data: ReportData, fmt: Formatter, community_id: str,
              ids: Sequence[str]) -> list[dict[str, Any]]:
    """The most frequent answers among `ids` in the community (largest stored estimates first)."""
    shown = []
    for indicator_id in ids:
        cell = data.cell(community_id, indicator_id)
        if cell.shown and cell.estimate > 0:
            shown.append((cell.estimate, indicator_id))
    shown.sort(key=lambda item: (-item[0], item[1]))
    return [
        {
            "label": data.indicator(i).short_label(fmt.language),
            "value": fmt.percent(v),
            "mean": fmt.percent(data.sample_mean(i).estimate)
            if data.sample_mean(i).shown
            else fmt.percent(None),
            "width": round(min(max(v, 0.0), 1.0) * 100, 1),
        }
        for v, i in shown[:TOP_ITEMS]
    ]


def all_suppressed(data: ReportData, community_id: str, ids: Sequence[str], share: bool = False) -> bool:
    """Whether small numbers hide a panel's indicators in the community: all their stored cells are
    suppressed (for a 100 % bar, `share`: any of them, since a bar with a missing part would mislead)."""
    cells = [data.cell(community_id, i) for i in ids]
    stored = [c for c in cells if c.suppressed or c.estimate is not None]
    if not stored:
        return False
    flags = [c.suppressed for c in stored]
    return any(flags) if share else all(flags)


def share_chart(data: ReportData, fmt: Formatter, community_id: str, ids: Sequence[str]) -> str | None:
    """100 % bars of shares (community beside the sample mean), or None when nothing can be shown."""
    if not ids:
        return None
    categories = [data.indicator(i).short_label(fmt.language) for i in ids]
    segments = []
    rows = ((data.community_name(community_id), community_id), (fmt._("All communities"), "all"))
    for row_label, key in rows:
        cells = [data.cell(key, i) for i in ids]
        if not all(c.shown for c in cells):
            continue
        segments += [
            charts.ShareSegment(row_label, category, c.estimate, fmt.percent(c.estimate), order)
            for order, (category, c) in enumerate(zip(categories, cells, strict=True))
        ]
    if not any(s.row == rows[0][0] for s in segments):
        return None
    return charts.to_svg(charts.share_bars(segments, categories, width=215), fmt.language)


def share_legend(data: ReportData, fmt: Formatter, ids: Sequence[str]) -> list[dict[str, str]]:
    return [
        {"label": data.indicator(i).short_label(fmt.language), "colour": colour}
        for i, colour in zip(ids, charts.SHARE_COLOURS, strict=False)
    ]


def gap_chart(data: ReportData, fmt: Formatter, community_id: str, ids: Sequence[str]) -> str | None:
    """Diverging bars of the indicators' gaps to the sample mean (labelled by their short labels), or None."""
    bars = []
    for indicator_id in ids:
        value, mean = data.cell(community_id, indicator_id), data.sample_mean(indicator_id)
        if value.estimate is None and not value.suppressed:
            continue
        label = data.indicator(indicator_id).short_label(fmt.language)
        if value.shown and mean.shown:
            kind, _distinct = tone(data, indicator_id, value, mean)
            points = value.estimate - mean.estimate
            bars.append(
                charts.GapBar(
                    label,
                    round(points * 100),
                    fmt.points(points),
                    None if kind in ("same", "neutral") else kind == "better",
                )
            )
        else:
            bars.append(charts.GapBar(label, None, fmt.percent(None)))
    if not bars:
        return None
    return charts.to_svg(charts.service_gaps(bars, width=190), fmt.language)


def _panel_cell(data: ReportData, fmt: Formatter, community_id: str, block: FicheBlock,
                panel: FichePanel) -> dict[str, Any] | None:
    """What one bar panel of a block shows, or None when it has nothing to show."""
    ids = data.indicator_ids(theme=panel.theme, block=block.id)
    title, note = fmt.pick(dict(panel.title)), fmt.pick(dict(panel.note))
    hidden = all_suppressed(data, community_id, ids, share=panel.kind == "share_bars")
    cell: dict[str, Any] = {"kind": panel.kind, "title": title, "hidden": hidden,
                            "suppressed": any(data.cell(community_id, i).suppressed for i in ids)}
    if panel.kind == "gap_bars":
        cell |= {"chart": gap_chart(data, fmt, community_id, ids),
                 "note": note or fmt._(_PANEL_NOTES["gap_bars"])}
        return cell if cell["chart"] else None
    if panel.kind == "share_bars":
        cell |= {"chart": share_chart(data, fmt, community_id, ids), "legend": share_legend(data, fmt, ids),
                 "note": note}
        return cell if cell["chart"] or hidden else None
    cell |= {"shares": top_items(data, fmt, community_id, ids), "note": note}
    return cell if cell["shares"] or hidden else None


def _block_rows(data: ReportData, fmt: Formatter, community_id: str,
                block: FicheBlock) -> list[dict[str, Any]]:
    """A block's rows: `grid` rows of tiles across the page, and `panels` rows of side-by-side cells (a
    column of tiles, bar panels; consecutive top-shares panels share one cell, `lists`)."""
    panels = list(block.panels)
    if not any(panel.kind == "tiles" for panel in panels):
        panels.insert(0, FichePanel(kind="tiles"))
    block_tiles = tiles(data, fmt, community_id, [
        i for i in data.indicator_ids(block=block.id) if data.indicator(i).theme not in block.panel_themes])
    stacked = len(panels) > 1 and len(block_tiles) <= STACK_TILES
    rows: list[dict[str, Any]] = []

    def cells() -> list[dict[str, Any]]:
        if not rows or rows[-1]["kind"] != "panels":
            rows.append({"kind": "panels", "cells": [], "legend": False})
        return rows[-1]["cells"]

    for panel in panels:
        if panel.kind == "tiles":
            if not block_tiles:
                continue
            title = fmt.pick(dict(panel.title))
            if stacked:
                cells().append({"kind": "tiles", "tiles": block_tiles, "title": title})
            else:
                rows.append({"kind": "grid", "tiles": block_tiles, "title": title, "columns": GRID_COLUMNS,
                             "legend": False})
            continue
        cell = _panel_cell(data, fmt, community_id, block, panel)
        if cell is None:
            continue
        if cell["kind"] == "top_shares":
            row_cells = cells()
            if not row_cells or row_cells[-1]["kind"] != "lists":
                row_cells.append({"kind": "lists", "lists": []})
            row_cells[-1]["lists"].append(cell)
        else:
            cells().append(cell)
    return rows


def blocks(data: ReportData, fmt: Formatter, community_id: str) -> list[dict[str, Any]]:
    """The catalogue's fact-sheet blocks for the community, in order, each with its page (the last of
    two or more opens page 2) and its rows; the tile legend follows the first tiles shown."""
    found = []
    for position, block in enumerate(data.fiche_blocks):
        rows = _block_rows(data, fmt, community_id, block)
        if not rows:
            continue
        last = position == len(data.fiche_blocks) - 1
        found.append({"id": block.id, "title": block.title_in(fmt.language),
                      "note": fmt.pick(dict(block.note)), "rows": rows,
                      "page": 2 if last and position else 1})
    for block in found:
        for row in block["rows"]:
            if row["kind"] == "grid" or any(cell["kind"] == "tiles" for cell in row["cells"]):
                row["legend"] = True
                return found
    return found


def _shown_tiles(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every tile of the blocks."""
    shown = []
    for block in found:
        for row in block["rows"]:
            shown += row.get("tiles", [])
            for cell in row.get("cells", []):
                shown += cell.get("tiles", [])
    return shown


def _panels_suppressed(found: list[dict[str, Any]]) -> bool:
    """Whether a bar panel of the blocks is hidden, or a gap bar left out, by small numbers."""
    for block in found:
        for row in block["rows"]:
            for cell in row.get("cells", []):
                for panel in cell.get("lists", [cell]):
                    if panel.get("hidden") or (panel["kind"] == "gap_bars" and panel.get("suppressed")):
                        return True
    return False


def pillars(data: ReportData, fmt: Formatter, community_id: str) -> dict[str, Any] | None:
    """Scores and ranks of the community on each pillar, with intervals, and the strip chart."""
    rows, points = [], []
    count = len(data.communities)
    for pillar in PILLARS:
        own = data.score(community_id, pillar)
        if own is None or own.get("score") is None:
            continue
        label = fmt._(_PILLAR_LABELS[pillar])
        rows.append(
            {
                "pillar": label,
                "composite": pillar == "composite",
                "score": fmt.decimal(own["score"]),
                "interval": _range(fmt, own.get("score_low"), own.get("score_high"), decimals=2),
                "rank": fmt._("{rank} of {count}", rank=int(own["rank"]), count=count),
                "rank_interval": _range(fmt, own.get("rank_low"), own.get("rank_high"), decimals=0),
            }
        )
        for other in data.communities:
            found = data.score(other.id, pillar)
            if found is not None and found.get("score") is not None:
                points.append(
                    charts.ScorePoint(
                        label,
                        other.id,
                        found["score"],
                        found.get("score_low"),
                        found.get("score_high"),
                        other.id == community_id,
                    )
                )
    if not rows:
        return None
    order = [r["pillar"] for r in rows]
    return {
        "rows": rows,
        "chart": charts.to_svg(charts.pillar_strip(points, order, width=190), fmt.language),
        "level": fmt.percent(data.settings.index.interval_level),
    }


def _range(fmt: Formatter, low: float | None, high: float | None, decimals: int) -> str:
    if low is None or high is None:
        return ""
    if decimals == 0:
        return f"{fmt.integer(low)}–{fmt.integer(high)}"
    return f"{fmt.decimal(low, decimals)}–{fmt.decimal(high, decimals)}"


def dimensions(data: ReportData, fmt: Formatter, community_id: str) -> list[dict[str, Any]]:
    """Opportunities and constraints per dimension (dimensions with neither are left out)."""
    community = data.community(community_id)
    found = []
    for dimension, label in _DIMENSION_LABELS.items():
        opportunities = community.opportunities.get(dimension, {}).get(fmt.language, ())
        constraints = community.constraints.get(dimension, {}).get(fmt.language, ())
        if opportunities or constraints:
            found.append(
                {
                    "label": fmt._(label),
                    "opportunities": list(opportunities),
                    "constraints": list(constraints),
                }
            )
    return found


def actor_rows(data: ReportData, fmt: Formatter, community_id: str) -> dict[str, Any] | None:
    """The actor map: name, what it does and its dimension marks; contacts are never included."""
    actors = data.actors_in(community_id)
    if not actors:
        return None
    rows = [
        {
            "name": actor.name,
            "what": fmt.pick({"fr": actor.description_fr, "en": actor.description_en}),
            "marks": [dimension in actor.dimensions for dimension in DIMENSION_MARKS],
            "uncertain": actor.uncertain_dimensions,
        }
        for actor in actors[:MAX_ACTORS]
    ]
    return {
        "rows": rows,
        "total": len(actors),
        "dense_limit": DENSE_ACTORS,
        "uncertain": any(r["uncertain"] for r in rows),
    }


def recommendation_boxes(data: ReportData, fmt: Formatter, community_id: str) -> dict[str, Any] | None:
    """The community's recommendations with their potential partners: the study's fact-sheet boxes in
    full (`boxes`), and the priority interventions of its summary table by title only (`others`)."""
    names = data.actor_names()
    boxes, others = [], []
    for recommendation in data.recommendations_for(community_id):
        title = fmt.pick({"fr": recommendation.title_fr, "en": recommendation.title_en})
        if not title:
            continue
        if getattr(recommendation, "source", "fiche") != "fiche":
            others.append(title)
            continue
        boxes.append(
            {
                "title": title,
                "what": fmt.pick({"fr": recommendation.what_fr, "en": recommendation.what_en}),
                "partners": [names.get(p, p) for p in recommendation.partners],
            }
        )
    if not boxes and not others:
        return None
    return {"boxes": boxes, "others": others}


def identity(data: ReportData, fmt: Formatter, community_id: str) -> dict[str, Any]:
    """Name, places, type, population and languages of the community, as printed on the fiche."""
    community = data.community(community_id)
    population = ""
    if community.population is not None:
        population = fmt.integer(community.population)
        if community.census_year is not None:
            population = fmt._(
                "{population} (census {year})", population=population, year=community.census_year
            )
    places = [
        fmt._("{level}: {place}", level=pick_text(dict(level.label), fmt.language, level.id),
              place=community.places[level.id])
        for level in data.settings.places.admin_levels
        if community.places.get(level.id)
    ]
    kind = type_words(fmt, community.type, community.type_label)
    return {
        "name": community.name,
        "place": " · ".join([*places, kind] if kind else places),
        "type": kind,
        "type_note": fmt.pick(dict(community.type_note)),
        "population": population,
        "population_note": fmt.pick(dict(community.population_note)),
        "languages": ", ".join(community.languages.get(fmt.language, ())),
        "description": fmt.pick(dict(community.description)),
        "challenges": {
            kind: list(community.challenges.get(kind, {}).get(fmt.language, ()))
            for kind in ("economic", "social")
        },
    }


def type_words(fmt: Formatter, area_type: str, words: Mapping[str, str]) -> str:
    """A community type in the reader's language: the register's words, else "Urban" or "Rural", else
    its id."""
    if words:
        return pick_text(dict(words), fmt.language, area_type)
    return fmt._(_AREA_TYPE_WORDS[area_type]) if area_type in _AREA_TYPE_WORDS else area_type


def respondents(data: ReportData, fmt: Formatter, count: int | None) -> str:
    """ "86 respondents (young people aged 15 to 34)": the study's population description, if any."""
    if count is None:
        return ""
    who = pick_text(dict(data.settings.population.description), fmt.language)
    if who:
        return fmt._("{n} respondents ({who})", n=fmt.integer(count), who=who)
    return fmt._("{n} respondents", n=fmt.integer(count))


def locator(data: ReportData, fmt: Formatter, community_id: str) -> str | None:
    """The locator map, or None when the community has no coordinates."""
    focus = data.community(community_id)
    if not focus.has_coordinates():
        return None
    points = [
        MapPoint(c.id, c.name, c.latitude, c.longitude, c.id == community_id)
        for c in data.communities
        if c.has_coordinates()
    ]
    study = data.settings.study
    boundaries = data.folder / study.boundaries if study.boundaries and data.folder is not None else None
    return locator_map(points, fmt.language, title=fmt._("Location of {name}", name=focus.name),
                       country=study.country, boundaries=boundaries)


def factsheet_context(data: ReportData, community_id: str, fmt: Formatter) -> dict[str, Any]:
    """Everything `factsheet.html` prints for one community in one language."""
    found = blocks(data, fmt, community_id)
    index = pillars(data, fmt, community_id)
    if index is not None:  # the index scores stand in the last row of the last block
        rows = found[-1]["rows"] if found else []
        if rows and rows[-1]["kind"] == "panels":
            rows[-1]["cells"].append({"kind": "index"})
        elif found:
            rows.append({"kind": "panels", "cells": [{"kind": "index"}], "legend": False})
    context: dict[str, Any] = {
        "community_id": community_id,
        "identity": identity(data, fmt, community_id),
        "map": locator(data, fmt, community_id),
        "respondents": respondents(data, fmt, data.sample_size(community_id)),
        "blocks": found,
        "index_placed": bool(found) and index is not None,
        "pillars": index,
        "dimensions": dimensions(data, fmt, community_id),
        "actors": actor_rows(data, fmt, community_id),
        "recommendations": recommendation_boxes(data, fmt, community_id),
    }
    context["has_suppressed"] = any(t["suppressed"] for t in _shown_tiles(found)) or _panels_suppressed(found)
    return context
