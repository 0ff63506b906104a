"""Assemble what one community's fact sheet shows, in one language, from a `ReportData` bundle.

The result is a plain dict for the `factsheet.html` template: every number is already formatted in
the language (Babel), every chart already rendered to SVG. A block whose data or narrative is missing
is left out (None or empty), never filled with a placeholder. Suppressed values become "—" and set
`has_suppressed`, which prints the footnote. The fiche compares stored values only: a tile is
"better" or "worse" than the sample mean by the indicator's direction in the catalogue, and shaded
when the sample mean lies outside the community's stored confidence interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from retour.report import charts
from retour.report.data import PILLARS, Cell, ReportData
from retour.report.i18n import N_, Formatter
from retour.report.maps import MapPoint, locator_map

SOCIO_ECONOMIC_TILES = (
    "paid_job_or_iga",
    "can_borrow_money",
    "reduced_food_consumption",
    "has_friends_group",
    "reached_high_school_or_more",
    "left_school_early",
    "seeking_job",
    "has_support_network",
    "interested_in_own_business",
    "illness_or_accident_last_year",
    "wants_psych_services",
)
MIGRATION_TILES = ("born_in_other_community", "receives_remittances", "family_or_friends_abroad")
REINTEGRATION_TILES = ("return_migrants_share", "access_psychosocial_services", "feels_discriminated")
SERVICES = (
    "satisfied_education",
    "satisfied_id_papers",
    "satisfied_housing",
    "satisfied_healthcare",
    "satisfied_drinking_water",
    "satisfied_justice_police",
)
# Shares of answers, found in the catalogue by theme (falling back on the id prefix).
FAMILIES = {
    "activity_domains": ("activity_domains", "activity_domain_"),
    "business_obstacles": ("business_obstacles", "business_obstacle_"),
    "reasons_left": ("reasons_left", "reason_left_"),
    "desire_to_leave": ("desire_to_leave", "desire_to_leave_"),
    "perception_returnees": ("perception_returnees", "perception_returnees_"),
}
SHARE_FAMILIES = ("desire_to_leave", "perception_returnees")  # drawn as 100 % bars
TOP_ITEMS = 3
MAX_ACTORS = 6  # on the fact sheet, the study's own table first; 4 in the densest layouts
DENSE_ACTORS = 4
DIMENSION_MARKS = ("economic", "social", "psychosocial", "c4d")
_SERVICE_LABELS = {
    "satisfied_education": N_("Education"),
    "satisfied_id_papers": N_("Identity papers"),
    "satisfied_housing": N_("Housing"),
    "satisfied_healthcare": N_("Health care"),
    "satisfied_drinking_water": N_("Drinking water"),
    "satisfied_justice_police": N_("Justice and police"),
}
_PILLAR_LABELS = {
    "economic": N_("Economic"),
    "social": N_("Social"),
    "psychosocial": N_("Psychosocial"),
    "composite": N_("Composite"),
}
_DIMENSION_LABELS = {"economic": N_("Economic"), "social": N_("Social"), "psychosocial": N_("Psychosocial")}


def family_ids(data: ReportData, family: str) -> tuple[str, ...]:
    """Indicator ids of a share-of-answers family (catalogue theme, else id prefix)."""
    theme, prefix = FAMILIES[family]
    return data.indicator_ids(theme=theme) or data.indicator_ids(prefix=prefix)


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


def top_items(data: ReportData, fmt: Formatter, community_id: str, family: str) -> list[dict[str, Any]]:
    """The family's most frequent answers in the community (largest stored estimates first)."""
    shown = []
    for indicator_id in family_ids(data, family):
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


def family_suppressed(data: ReportData, community_id: str, family: str, share: bool = False) -> bool:
    """Whether small numbers hide the family in the community: all its stored cells are suppressed
    (for a 100 % bar, `share`: any of them, since a bar with a missing part would mislead)."""
    cells = [data.cell(community_id, i) for i in family_ids(data, family)]
    stored = [c for c in cells if c.suppressed or c.estimate is not None]
    if not stored:
        return False
    flags = [c.suppressed for c in stored]
    return any(flags) if share else all(flags)


def share_chart(data: ReportData, fmt: Formatter, community_id: str, family: str) -> str | None:
    """100 % bars of a family (community beside the sample mean), or None when nothing can be shown."""
    ids = family_ids(data, family)
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


def share_legend(data: ReportData, fmt: Formatter, family: str) -> list[dict[str, str]]:
    ids = family_ids(data, family)
    return [
        {"label": data.indicator(i).short_label(fmt.language), "colour": colour}
        for i, colour in zip(ids, charts.SHARE_COLOURS, strict=False)
    ]


def service_chart(data: ReportData, fmt: Formatter, community_id: str) -> str | None:
    """Diverging bars of the six services' satisfaction gaps to the sample mean, or None."""
    bars = []
    for indicator_id in SERVICES:
        value, mean = data.cell(community_id, indicator_id), data.sample_mean(indicator_id)
        if value.estimate is None and not value.suppressed:
            continue
        label = fmt._(_SERVICE_LABELS[indicator_id])
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
            "what": actor.description_fr if fmt.language == "fr" else actor.description_en,
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
        title = recommendation.title_fr if fmt.language == "fr" else recommendation.title_en
        if not title:
            continue
        if getattr(recommendation, "source", "fiche") != "fiche":
            others.append(title)
            continue
        boxes.append(
            {
                "title": title,
                "what": recommendation.what_fr if fmt.language == "fr" else recommendation.what_en,
                "partners": [names.get(p, p) for p in recommendation.partners],
            }
        )
    if not boxes and not others:
        return None
    return {"boxes": boxes, "others": others}


def identity(data: ReportData, fmt: Formatter, community_id: str) -> dict[str, Any]:
    """Name, place, type, population and languages of the community, as printed on the fiche."""
    community = data.community(community_id)
    population = ""
    if community.population is not None:
        population = fmt.integer(community.population)
        if community.census_year is not None:
            population = fmt._(
                "{population} (census {year})", population=population, year=community.census_year
            )
    return {
        "name": community.name,
        "cercle": community.cercle,
        "region": community.region,
        "type": fmt._("Urban commune") if community.type == "urban" else fmt._("Rural commune"),
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
    return locator_map(points, fmt.language, title=fmt._("Location of {name}", name=focus.name))


def factsheet_context(data: ReportData, community_id: str, fmt: Formatter) -> dict[str, Any]:
    """Everything `factsheet.html` prints for one community in one language."""
    socio = tiles(data, fmt, community_id, SOCIO_ECONOMIC_TILES)
    migration = tiles(data, fmt, community_id, MIGRATION_TILES)
    reintegration = tiles(data, fmt, community_id, REINTEGRATION_TILES)
    context: dict[str, Any] = {
        "community_id": community_id,
        "identity": identity(data, fmt, community_id),
        "map": locator(data, fmt, community_id),
        "sample_size": data.sample_size(community_id),
        "socio_tiles": socio,
        "migration_tiles": migration,
        "reintegration_tiles": reintegration,
        "services": service_chart(data, fmt, community_id),
        "domains": top_items(data, fmt, community_id, "activity_domains"),
        "obstacles": top_items(data, fmt, community_id, "business_obstacles"),
        "reasons_left": top_items(data, fmt, community_id, "reasons_left"),
        "hidden": {
            family: family_suppressed(data, community_id, family, share=family in SHARE_FAMILIES)
            for family in FAMILIES
        },
        "desire": share_chart(data, fmt, community_id, "desire_to_leave"),
        "desire_legend": share_legend(data, fmt, "desire_to_leave"),
        "perception": share_chart(data, fmt, community_id, "perception_returnees"),
        "perception_legend": share_legend(data, fmt, "perception_returnees"),
        "pillars": pillars(data, fmt, community_id),
        "dimensions": dimensions(data, fmt, community_id),
        "actors": actor_rows(data, fmt, community_id),
        "recommendations": recommendation_boxes(data, fmt, community_id),
    }
    context["has_suppressed"] = (
        any(t["suppressed"] for t in socio + migration + reintegration)
        or any(data.cell(community_id, i).suppressed for i in SERVICES)
        or any(context["hidden"].values())
    )
    return context
