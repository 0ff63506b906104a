"""Assemble what the synthesis report shows, in one language, from a `ReportData` bundle.

Chapters: the sample and method (and what the numbers can and cannot say), the ranking of communities
(Tableau 1, with score and rank intervals), the needs matrix (Tableau 2, coloured as in the study), the
main gaps between the two levels each catalogue group compares (`compare`, with their
Benjamini-Hochberg adjusted p-values), the actor landscape, and communication for development (the
catalogue's indicators of theme `c4d`). Every sentence about the population, the groups and the places
comes from the study's settings and catalogue. Every number is a stored result, formatted here;
nothing is estimated.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from retour.config import pick_text
from retour.report import charts
from retour.report.context import round_label
from retour.report.data import ALL, PILLARS, ReportData, short_label
from retour.report.factsheet import type_words
from retour.report.i18n import N_, Formatter

SIGNIFICANCE = 0.05
MAX_GAPS = 12
EXAMPLE_ACTORS = 4  # actors named per community in the landscape table
C4D_THEME = "c4d"  # the catalogue theme of the communication-for-development chapter
PILLAR_NAMES = {
    "economic": N_("Economic"),
    "social": N_("Social"),
    "psychosocial": N_("Psychosocial"),
    "composite": N_("Composite"),
}
LEVEL_NAMES = {
    "priority": N_("Priority"),
    "important": N_("Important"),
    "outside_reach": N_("Advocacy"),
    "none": "",
}
METHOD_NAMES = {
    "minmax": N_("min-max scaling"),
    "zscore": N_("z-scores"),
    "rank": N_("ranks"),
    "distance_to_best": N_("distance to the best"),
    "goalposts": N_("fixed goalposts"),
    "arithmetic": N_("weighted arithmetic mean"),
    "geometric": N_("weighted geometric mean"),
}
DIMENSIONS = ("economic", "social", "psychosocial", "c4d")


def _value(fmt: Formatter, data: ReportData, indicator_id: str, value: float | None) -> str:
    if value is None:
        return fmt.percent(None)
    return fmt.decimal(value, 1) if data.indicator(indicator_id).kind == "mean" else fmt.percent(value)


def sample(data: ReportData, fmt: Formatter) -> dict[str, Any]:
    """Respondents per community (with its places and type) and in all, and the cover's headline figures."""
    levels = data.settings.places.admin_levels
    rows = [
        {
            "name": c.name,
            "places": [c.places.get(level.id, "") for level in levels],
            "type": type_words(fmt, c.type, c.type_label),
            "n": fmt.integer(data.sample_size(c.id)),
        }
        for c in data.communities
    ]
    composite = [data.score(c.id, "composite") for c in data.communities]
    scores = [s["score"] for s in composite if s and s.get("score") is not None]
    return {
        "levels": [pick_text(dict(level.label), fmt.language, level.id) for level in levels],
        "rows": rows,
        "total": fmt.integer(data.sample_size(ALL)),
        "communities": len(data.communities),
        "composite_range": (f"{fmt.decimal(min(scores))}–{fmt.decimal(max(scores))}" if scores else ""),
    }


def _surveyed(data: ReportData, fmt: Formatter) -> str:
    """Who was surveyed, as the method says it: the population's description, else its ages."""
    population = data.settings.population
    total = fmt.integer(data.sample_size(ALL))
    who = pick_text(dict(population.description), fmt.language)
    if who:
        return fmt._("{n} respondents ({who})", n=total, who=who)
    if population.age_min is not None and population.age_max is not None:
        return fmt._("{n} respondents aged {low} to {high}", n=total, low=population.age_min,
                     high=population.age_max)
    return fmt._("{n} respondents", n=total)


def _groups_sentence(data: ReportData, fmt: Formatter) -> str:
    """ "Results are broken down by Sex: Women, Men; ...", and who returnees are, from the catalogue and
    the settings."""
    listed = [
        fmt._("{group}: {levels}", group=group.label(fmt.language),
              levels=", ".join(group.level_label(level, fmt.language) for level in group.levels))
        for group in data.groups
    ]
    sentences = ([fmt._("Results are broken down by {groups}.", groups=fmt._("; ").join(listed))]
                 if listed else [])
    definition = pick_text(dict(data.settings.population.returnee_definition), fmt.language)
    if definition:
        sentences.append(fmt._("Return migrants are respondents who {definition}.", definition=definition))
    if data.compared_groups():
        sentences.append(fmt._(
            "Gaps between groups are tested with design-based tests, and p-values are adjusted for the "
            "number of tests with the Benjamini–Hochberg procedure (false discovery rate)."))
    return " ".join(sentences)


def method(data: ReportData, fmt: Formatter) -> dict[str, Any]:
    """Paragraphs of the method chapter, with the study's own settings filled in."""
    settings = data.settings
    design = settings.design
    population = settings.population
    spec = data.index_spec
    none = fmt._("none")
    ages = population.age_min is not None and population.age_max is not None
    return {
        "surveyed": fmt._("The survey interviewed {who} in {k} communities during the {round} round.",
                          who=_surveyed(data, fmt), k=len(data.communities), round=round_label(data, fmt)),
        "design": fmt._(
            "Every estimate is weighted by the sampling weight (field {weight}) and takes the design into "
            "account: strata ({stratum}) and clusters ({psu}). Standard errors are linearised (Taylor "
            "series); confidence intervals are at the {confidence} level, by the {ci_method} method for "
            "proportions. Design effects are given in the tables.",
            weight=design.weight or none,
            stratum=design.stratum or none,
            psu=design.psu or none,
            confidence=fmt.percent(settings.estimation.confidence),
            ci_method=settings.estimation.ci_method,
        ),
        "groups": _groups_sentence(data, fmt),
        "index": fmt._(
            "The index places each community on three pillars (economic, social, psychosocial) scored "
            "from 0 to 1, 1 being the best of the communities surveyed. Each indicator is normalised by "
            "{normalisation}, with goalposts taken from the {reference} round so that later rounds stay "
            "comparable; a pillar is the {aggregation} of its indicators, and the composite score is the "
            "unweighted mean of the three pillars. Scores and ranks carry {level} "
            "intervals from a survey bootstrap ({replicates} replicates) and from alternative methods.",
            normalisation=fmt._(
                METHOD_NAMES.get(str(spec.get("normalisation", "minmax")), "min-max scaling")
            ),
            aggregation=fmt._(
                METHOD_NAMES.get(str(spec.get("aggregation", "arithmetic")), "weighted arithmetic mean")
            ),
            reference=round_label(data, fmt, settings.index.reference_round),
            level=fmt.percent(settings.index.interval_level),
            replicates=fmt.integer(settings.index.bootstrap_replicates),
        ),
        "can": [
            fmt._("Compare communities and groups on the same indicators, each with its margin of error."),
            fmt._("Follow change between rounds measured with the same questionnaire and goalposts."),
            fmt._("Point to the needs and places where action is most likely to matter."),
        ],
        "cannot": [
            fmt._("Explain why a community differs: the survey describes, it does not establish causes."),
            fmt._("Separate communities whose intervals overlap: their order may be due to chance."),
            fmt._("Speak for people outside the ages surveyed ({low} to {high}) or outside the communities "
                  "surveyed.", low=population.age_min, high=population.age_max) if ages
            else fmt._("Speak for people outside the population or the communities surveyed."),
            fmt._("Give an absolute standard: an index score places a community among those surveyed."),
            fmt._(
                "Publish values resting on fewer than {min_cell} respondents: they are shown as —.",
                min_cell=data.min_cell,
            ),
        ],
    }


def tableau_1(data: ReportData, fmt: Formatter) -> dict[str, Any] | None:
    """Pillar and composite scores with intervals, communities by composite rank, and the chart."""
    if data.index_scores.is_empty():
        return None
    rows, points, order = [], [], []
    for community_id in data.ranked_communities():
        name = data.community_name(community_id)
        cells = []
        for pillar in PILLARS:
            found = data.score(community_id, pillar)
            if not found or found.get("score") is None:
                cells.append(None)
                continue
            cells.append(
                {
                    "score": fmt.decimal(found["score"]),
                    "interval": (
                        f"{fmt.decimal(found['score_low'])}–{fmt.decimal(found['score_high'])}"
                        if found.get("score_low") is not None and found.get("score_high") is not None
                        else ""
                    ),
                    "rank": fmt.integer(found["rank"]),
                    "rank_interval": (
                        f"{fmt.integer(found['rank_low'])}–{fmt.integer(found['rank_high'])}"
                        if found.get("rank_low") is not None and found.get("rank_high") is not None
                        else ""
                    ),
                }
            )
            if pillar == "composite":
                order.append(name)
                points.append(
                    charts.ScorePoint(
                        pillar,
                        name,
                        found["score"],
                        found.get("score_low"),
                        found.get("score_high"),
                        False,
                        fmt.decimal(found["score"]),
                    )
                )
        rows.append({"name": name, "cells": cells})
    chart = charts.to_svg(charts.ranking_intervals(points, order), fmt.language) if points else None
    return {
        "pillars": [fmt._(PILLAR_NAMES[p]) for p in PILLARS],
        "rows": rows,
        "chart": chart,
        "level": fmt.percent(data.settings.index.interval_level),
    }


def needs_matrix(data: ReportData, fmt: Formatter) -> dict[str, Any] | None:
    """Tableau 2: issues down, communities across, each cell a level (red, orange, grey)."""
    if data.needs.is_empty():
        return None
    issues = data.needs.select("issue_id", f"issue_label_{fmt.language}").unique(maintain_order=True)
    levels = {(r["community_id"], r["issue_id"]): r for r in data.needs.iter_rows(named=True)}
    rows = []
    for issue_id, label in issues.iter_rows():
        cells = []
        for community in data.communities:
            found = levels.get((community.id, issue_id))
            level = found["level"] if found else "none"
            cells.append(
                {
                    "level": level,
                    "text": fmt._(LEVEL_NAMES[level]) if LEVEL_NAMES.get(level) else "",
                    "overridden": bool(found and found.get("overridden")),
                }
            )
        rows.append({"label": label or issue_id, "cells": cells})
    return {
        "communities": [c.name for c in data.communities],
        "rows": rows,
        "overridden": any(c["overridden"] for r in rows for c in r["cells"]),
    }


def main_gaps(data: ReportData, fmt: Formatter) -> list[dict[str, Any]]:
    """For each group that compares two levels, the whole-sample gaps, smallest adjusted p-value first
    (at most MAX_GAPS); titled "A compared with B" with the levels' labels."""
    if data.gaps.is_empty():
        return []
    found = []
    for group in data.compared_groups():
        dimension, (group_a, group_b) = group.id, group.compare
        frame = data.gaps.filter(
            (pl.col("community_id") == ALL)
            & (pl.col("group_dimension") == dimension)
            & (pl.col("group_a") == group_a)
            & (pl.col("group_b") == group_b)
        )
        if frame.is_empty():
            continue
        frame = frame.sort(
            pl.col("suppressed").cast(pl.Int8), "p_adjusted", pl.col("difference").abs() * -1, nulls_last=True
        )
        rows = [_gap_row(data, fmt, row, dimension, group_a, group_b)
                for row in frame.head(MAX_GAPS).iter_rows(named=True)]
        a, b = group.level_label(group_a, fmt.language), group.level_label(group_b, fmt.language)
        found.append({"title": fmt._("{a} compared with {b}", a=a, b=b), "a": a, "b": b, "rows": rows,
                      "tested": frame.height})
    return found


def _gap_row(data: ReportData, fmt: Formatter, row: dict[str, Any], dimension: str, group_a: str,
             group_b: str) -> dict[str, Any]:
    """One line of a gap table: both groups' values, the difference with its interval, the p-value."""
    indicator_id = row["indicator_id"]
    hidden = bool(row.get("suppressed"))
    mean = data.indicator(indicator_id).kind == "mean"
    a = data.cell(ALL, indicator_id, dimension, group_a)
    b = data.cell(ALL, indicator_id, dimension, group_b)
    return {
        "label": data.indicator(indicator_id).label(fmt.language),
        "a": _value(fmt, data, indicator_id, a.estimate if a.shown else None),
        "b": _value(fmt, data, indicator_id, b.estimate if b.shown else None),
        "difference": fmt.percent(None)
        if hidden
        else (fmt.decimal(row["difference"], 2) if mean else fmt.points(row["difference"])),
        "interval": ""
        if hidden or row.get("ci_low") is None
        else (
            f"{fmt.decimal(row['ci_low'], 2)} – {fmt.decimal(row['ci_high'], 2)}"
            if mean
            else f"{fmt.points(row['ci_low'])} – {fmt.points(row['ci_high'])}"
        ),
        "p_adjusted": fmt.percent(None) if hidden else fmt.p_value(row["p_adjusted"]),
        "significant": not hidden and row["p_adjusted"] is not None and row["p_adjusted"] < SIGNIFICANCE,
    }


def actor_landscape(data: ReportData, fmt: Formatter) -> dict[str, Any] | None:
    """Actors per community and the dimensions they can support (counts from the register)."""
    if not data.actors:
        return None
    rows = []
    for community in data.communities:
        actors = data.actors_in(community.id)
        rows.append(
            {
                "name": community.name,
                "total": len(actors),
                "dimensions": [sum(d in a.dimensions for a in actors) for d in DIMENSIONS],
                "names": ", ".join(a.name for a in actors[:EXAMPLE_ACTORS])
                + (" …" if len(actors) > EXAMPLE_ACTORS else ""),
            }
        )
    national = [a for a in data.actors if a.scope == "national"]
    return {
        "rows": rows,
        "national": len(national),
        "national_dimensions": [sum(d in a.dimensions for a in national) for d in DIMENSIONS],
    }


def _shown(
    fmt: Formatter,
    data: ReportData,
    community_id: str,
    indicator_id: str,
    dimension: str = ALL,
    group: str = ALL,
) -> str:
    cell = data.cell(community_id, indicator_id, dimension, group)
    return _value(fmt, data, indicator_id, cell.estimate if cell.shown else None)


def _family_title(label: str) -> str:
    """The part of a choice-share label before its colon ("Get information from: Radio" -> "Get
    information from"); '' for a label without one."""
    found = short_label(label)
    return label[: len(label) - len(found)].rstrip(" :") if found else ""


def _c4d_families(data: ReportData, fmt: Formatter) -> list[tuple[str, list[str], bool]]:
    """(title, indicator ids by sample mean, shares of one question) of the C4D theme: shares of one
    question together, titled by their common label; indicators of their own last, together."""
    families: dict[str, list[str]] = {}
    for indicator_id in data.indicator_ids(theme=C4D_THEME):
        title = _family_title(data.indicator(indicator_id).label(fmt.language))
        families.setdefault(title, []).append(indicator_id)
    for ids in families.values():
        ids.sort(key=lambda i: -(data.sample_mean(i).estimate or 0.0) if data.sample_mean(i).shown else 0.0)
    found = [(title, ids, True) for title, ids in families.items() if title]
    if "" in families:
        found.append((fmt._("Other indicators"), families[""], False))
    return found


def _c4d_columns(data: ReportData, fmt: Formatter) -> list[tuple[str, str, str]]:
    """(header, group id, level) of the C4D tables by group: all, then both levels of each compared group."""
    columns = [(fmt._("All"), ALL, ALL)]
    for group in data.compared_groups():
        columns += [(group.level_label(level, fmt.language), group.id, level)
                    for level in group.compare or ()]
    return columns


def c4d(data: ReportData, fmt: Formatter) -> dict[str, Any] | None:
    """The catalogue's communication-for-development indicators (theme `c4d`): by group, by community."""
    families = _c4d_families(data, fmt)
    if not families:
        return None
    columns = _c4d_columns(data, fmt)
    by_group = [
        {
            "title": title,
            "rows": [
                {
                    "label": data.indicator(indicator_id).short_label(fmt.language),
                    "cells": [_shown(fmt, data, ALL, indicator_id, dimension, group)
                              for _header, dimension, group in columns],
                }
                for indicator_id in ids
            ],
        }
        for title, ids, _shares in families
    ]
    # by community: the most frequent answer of each question, and the indicators of their own
    shown = [i for _title, ids, shares in families for i in (ids[:1] if shares else ids)]
    places = [(c.name, c.id) for c in data.communities] + [(fmt._("Whole sample"), ALL)]
    by_community = {
        "columns": [data.indicator(i).short_label(fmt.language) for i in shown],
        "rows": [
            {"name": name, "cells": [_shown(fmt, data, key, i) for i in shown]} for name, key in places
        ],
    }
    return {"groups": [header for header, _d, _g in columns], "by_group": by_group,
            "by_community": by_community}


def synthesis_context(data: ReportData, fmt: Formatter) -> dict[str, Any]:
    """Everything `synthesis.html` prints, in one language."""
    gaps = main_gaps(data, fmt)
    return {
        "sample": sample(data, fmt),
        "method": method(data, fmt),
        "tableau_1": tableau_1(data, fmt),
        "needs": needs_matrix(data, fmt),
        "gaps": gaps,
        "actors": actor_landscape(data, fmt),
        "c4d": c4d(data, fmt),
        "has_suppressed": bool(data.estimates.height and data.estimates["suppressed"].any()),
        "significance": fmt.decimal(SIGNIFICANCE, 2),
    }
