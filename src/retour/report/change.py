"""The "change since baseline" section of the fact sheets and the synthesis, from a stored comparison.

`change_context` turns the stored `changes`, `score_changes` and `need_changes` of a later round
compared with the baseline (made by `retour compare`, or by `retour report` when missing or stale; see
`retour.comparison`) into plain text for the `_change.html` partial: scores
and ranks at both times, the indicators whose change is clear (`retour.comparison.clear_change`: its
p-value, adjusted by Benjamini-Hochberg over the indicators of its community, is below 1 - confidence,
the rule of the dashboard's rounds page too), and the needs that became or stopped being priorities
(needs not assessed in one of the rounds are named as not compared, never as a change). A fact sheet
gets it as a few lines (its two pages are full); the synthesis as tables of every community's composite
score and the sample's fact-sheet indicators. It formats stored values only; it computes no statistic.
Without a stored comparison the section is left out (`change` is None).
"""

from __future__ import annotations

from typing import Any

import polars as pl

from retour.comparison import clear_change
from retour.report.context import round_label
from retour.report.data import ALL, ReportData
from retour.report.i18n import N_, Formatter

MAX_INDICATORS = 4  # clearest changes shown on a fact sheet, whose two pages are full
PILLAR_NAMES = {
    "economic": N_("Economic"),
    "social": N_("Social"),
    "psychosocial": N_("Psychosocial"),
    "composite": N_("Composite score"),
}
LABELS = {  # the section's headings and lead-ins, by the name `_change.html` uses
    "scores": N_("Scores and ranks"),
    "score": N_("Score"),
    "change": N_("Change"),
    "interval": N_("{level} interval"),
    "rank": N_("Rank"),
    "indicator": N_("Indicator"),
    "community": N_("Community"),
    "clear_changes": N_("Clear changes"),
    "sample": N_("Whole sample"),
    "became": N_("Became priorities:"),
    "stopped": N_("No longer priorities:"),
    "needs": N_("Needs"),
}
# The same English words as elsewhere in the reports, worded differently here (a gettext msgctxt).
LABEL_CONTEXTS = {"interval": "change since baseline"}
PAIRINGS = {
    "panel": N_("panel: respondents linked by id"),
    "independent": N_("independent samples"),
}


def _value(fmt: Formatter, kind: str, value: float | None) -> str:
    return fmt.decimal(value, 1) if kind == "mean" else fmt.percent(value)


def _difference(fmt: Formatter, kind: str, value: float | None) -> str:
    if kind != "mean" or value is None:
        return fmt.points(value)
    return ("+" if value >= 0 else "−") + fmt.decimal(abs(value), 1)


def _interval(fmt: Formatter, kind: str, low: float | None, high: float | None, scale: str = "") -> str:
    if low is None or high is None:
        return ""
    if scale == "score":
        return f"[{fmt.decimal(low, 2)} ; {fmt.decimal(high, 2)}]"
    if kind == "mean":
        return f"[{fmt.decimal(low, 1)} ; {fmt.decimal(high, 1)}]"
    return f"[{fmt.decimal(low * 100, 0)} ; {fmt.decimal(high * 100, 0)}]"


def _excludes_zero(row: dict[str, Any]) -> bool:
    """A score change in bold: its interval excludes zero (four scores per community, not adjusted)."""
    low, high = row.get("ci_low"), row.get("ci_high")
    return low is not None and high is not None and (low > 0 or high < 0) and not row.get("suppressed")


def _indicator_rows(data: ReportData, fmt: Formatter, rows: pl.DataFrame) -> list[dict[str, Any]]:
    confidence = data.settings.estimation.confidence
    shown = []
    for row in rows.iter_rows(named=True):
        info = data.indicator(row["indicator_id"])
        direction = info.higher_is_better
        better = None if direction is None or row["change"] is None else (row["change"] > 0) == direction
        shown.append({"id": row["indicator_id"], "label": info.label(fmt.language),
                      "before": _value(fmt, info.kind, row["estimate_from"]),
                      "after": _value(fmt, info.kind, row["estimate_to"]),
                      "change": _difference(fmt, info.kind, row["change"]),
                      "interval": _interval(fmt, info.kind, row["ci_low"], row["ci_high"]),
                      "tone": "neutral" if better is None else ("better" if better else "worse"),
                      "is_clear": clear_change(row.get("p_adjusted"), row.get("suppressed"), confidence)})
    return shown


def _signed(fmt: Formatter, value: float | None) -> str:
    """A score difference with its sign: "+0.12" / "−0.05"."""
    if value is None:
        return fmt.decimal(None)
    return ("+" if value >= 0 else "−") + fmt.decimal(abs(value), 2)


def _score_rows(fmt: Formatter, scores: pl.DataFrame) -> list[dict[str, Any]]:
    order = list(PILLAR_NAMES)
    rows = scores.sort(pl.col("pillar").replace_strict(order, range(len(order)), default=len(order)))
    shown = []
    for row in rows.iter_rows(named=True):
        ranked = row["rank_from"] is not None and row["rank_to"] is not None
        name = fmt._(PILLAR_NAMES[row["pillar"]]) if row["pillar"] in PILLAR_NAMES else row["pillar"]
        shown.append({"label": name, "before": fmt.decimal(row["score_from"], 2),
                      "after": fmt.decimal(row["score_to"], 2), "change": _signed(fmt, row["change"]),
                      "interval": _interval(fmt, "", row["ci_low"], row["ci_high"], "score"),
                      "rank": f"{row['rank_from']} → {row['rank_to']}" if ranked else "",
                      "is_clear": _excludes_zero(row), "composite": row["pillar"] == "composite"})
    return shown


def _needs(data: ReportData, fmt: Formatter, needs: pl.DataFrame, by_community: bool) -> dict[str, list[str]]:
    """Issues that became (or stopped being) priorities, and those not compared (`not_comparable`: not
    assessed in one of the rounds); "Water (Kati)" when listing every community."""
    labels = {}
    if not data.needs.is_empty() and "issue_label_fr" in data.needs.columns:
        column = "issue_label_fr" if fmt.language == "fr" else "issue_label_en"
        labels = dict(zip(data.needs["issue_id"].to_list(), data.needs[column].to_list(), strict=True))
    found = {}
    for change in ("became_priority", "no_longer_priority", "not_comparable"):
        rows = needs.filter(pl.col("change") == change).iter_rows(named=True) if needs.height else []
        names = [(labels.get(r["issue_id"]) or r["issue_id"])
                 + (f" ({data.community_name(r['community_id'])})" if by_community else "") for r in rows]
        found[change] = list(dict.fromkeys(names))
    return found


def change_context(data: ReportData, fmt: Formatter, community_id: str | None = None) -> dict[str, Any]:
    """`{"change": ...}` for `_change.html`: one community's section (fact sheet), or the synthesis's
    (`community_id` None: composite scores of every community and the whole sample's indicators);
    `{"change": None}` when the round has no stored comparison."""
    changes = data.changes
    if changes.is_empty():
        return {"change": None}
    base = str(changes["from_round"][0]) if "from_round" in changes.columns else ""
    pairing = str(changes["pairing"][0]) if "pairing" in changes.columns else "independent"
    level = fmt.percent(data.settings.estimation.confidence)
    whole = changes.filter(pl.col("group_dimension") == ALL)
    target = community_id or ALL
    indicators = whole.filter(pl.col("community_id") == target)
    fiche = [i for i in data.indicator_ids() if data.indicator(i).fiche_block]
    if fiche:  # the fact sheet's indicators
        indicators = indicators.filter(pl.col("indicator_id").is_in(fiche))
    rows = _indicator_rows(data, fmt, indicators)
    clear = sorted((r for r in rows if r["is_clear"]), key=lambda r: -abs(_magnitude(indicators, r["id"])))
    scores = data.score_changes
    if community_id is not None:
        scores = scores.filter(pl.col("community_id") == community_id) if scores.height else scores
        score_rows = _score_rows(fmt, scores) if scores.height else []
    else:
        composite = scores.filter(pl.col("pillar") == "composite") if scores.height else scores
        score_rows = [{**row, "label": data.community_name(c)} for c, row in
                      zip(composite["community_id"].to_list() if composite.height else [],
                          _score_rows(fmt, composite) if composite.height else [], strict=True)]
    needs = data.need_changes
    if community_id is not None and needs.height:
        needs = needs.filter(pl.col("community_id") == community_id)
    found = _needs(data, fmt, needs, by_community=community_id is None)
    family = whole.filter((pl.col("community_id") == target) & pl.col("p_adjusted").is_not_null()).height \
        if "p_adjusted" in whole.columns else 0
    before, after = round_label(data, fmt, base), round_label(data, fmt, data.round_name)
    composite = next((row for row in score_rows if row["composite"]), None) if community_id else None
    return {"change": {
        "title": fmt._("Change since {round}", round=before),
        "before": before, "after": after, "scope": "community" if community_id else "synthesis",
        "scores": score_rows, "composite": composite,
        "pillars": [row for row in score_rows if not row["composite"]] if community_id else [],
        "indicators": clear[:MAX_INDICATORS] if community_id else rows,
        "count": fmt._("{clear} of {total} indicators changed clearly.", clear=len(clear), total=len(rows))
        if rows else "",
        "none_clear": fmt._("No indicator changed clearly.") if rows and not clear else "",
        "needs": {change: names for change, names in found.items() if change != "not_comparable"},
        "labels": {key: fmt._(message, context=LABEL_CONTEXTS.get(key), level=level)
                   for key, message in LABELS.items()},
        "note": _note(data, fmt, before, after, pairing, family, found["not_comparable"]),
    }}


def _note(data: ReportData, fmt: Formatter, before: str, after: str, pairing: str, family: int,
          not_compared: list[str]) -> str:
    """How changes are tested and picked, and the needs left out of the comparison."""
    confidence = data.settings.estimation.confidence
    note = fmt._("Change = {to} − {base}; the test accounts for both rounds' designs ({pairing}). A "
                 "change is clear when its p-value, adjusted for the {count} indicators compared "
                 "(Benjamini–Hochberg), is below {alpha}; the {level} intervals shown are not adjusted.",
                 to=after, base=before, pairing=fmt._(PAIRINGS[pairing]), count=family,
                 alpha=fmt.percent(1 - confidence), level=fmt.percent(confidence))
    if not_compared:
        note += " " + fmt._("Needs not assessed in one of the rounds, so not compared: {needs}.",
                            needs=", ".join(not_compared))
    return note


def _magnitude(indicators: pl.DataFrame, indicator_id: str) -> float:
    values = indicators.filter(pl.col("indicator_id") == indicator_id)["statistic"]
    return float(values[0]) if values.len() and values[0] is not None else 0.0
